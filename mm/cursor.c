/*
 * cursor.c - the range-locking cursor: open/close, locking, query, find.
 * The changing operations (map, unmap, protect) are in cursor_ops.c.
 *
 * Addresses.  Inside the mm a VA is a *tree offset*: the VA modulo
 * 2^va_bits.  The user half is [0, 2^(va_bits-1)), the kernel half
 * [2^(va_bits-1), 2^va_bits); as va_bits is at most 57, an end offset of
 * 2^va_bits (the top of the address space) cannot overflow.
 *
 * Locking (MODEL.md section 4).
 *  1. Find the guard: the deepest existing node whose range covers
 *     [start, end).  The walk down to it takes no locks:
 *     each entry is read between two checks that its node is still attached
 *     and of the same generation (a seqlock on the slot), and the child's
 *     generation is read before the entry is re-read, so a node freed and
 *     reused meanwhile is noticed.  Then the guard is locked and checked
 *     again; a walker that meets a detached node retries from the root.
 *  2. Lock every node below the guard that meets the range, top-down.
 *     A cursor whose range overlaps ours either holds one of those nodes
 *     (we wait for it) or must pass our guard (it waits for us): overlapping
 *     cursors are serialised, disjoint ones run at once.  Nodes the cursor
 *     creates are born locked; nodes it detaches stay locked until freed.
 *  3. At close: flush, release, unlock top-down.  If the guard itself was
 *     left empty it is reclaimed by a fresh walk that locks its parent
 *     first (parent before child, never the other way).
 * Every wait is for a descendant of what the waiter holds, or by a walker
 * holding nothing, so there is no deadlock.
 */
#include <ptmm/cursor.h>

#include "cursor_internal.h"
#include "frame_internal.h"
#include <ptmm/mm_assert.h>
#include <ptmm/pte.h>
#include "spinlock.h"

/* ---- addresses ---- */

uint64_t ptmm__cursor_tree_mask(const struct ptmm_arch *a)
{
	return ((uint64_t)1 << a->va_bits) - 1;
}

ptmm_vaddr_t ptmm__cursor_canonical(const struct ptmm_arch *a, uint64_t off)
{
	uint64_t sign = (uint64_t)1 << (a->va_bits - 1);
	return (off & sign) ? off | ~ptmm__cursor_tree_mask(a) : off;
}

ptmm_vaddr_t ptmm_cursor_va(const struct ptmm_cursor *c)
{
	if (!ptmm_cursor_is_open(c))
		return 0;
	/*
	 * Relative to the half, not sign-extended: the end of the user half
	 * is 2^(va_bits-1) and the end of the kernel half wraps to 0, like va + len.
	 */
	uint64_t half_off = c->pt->space == PTMM_PT_KERNEL ? ptmm_page_table_space_size(c->pt) : 0;
	return ptmm_page_table_space_base(c->pt) + (c->va - half_off);
}

/* Tree offset of `va`, or PTMM_ERANGE if va is not in the table's half. */
static int tree_offset(const struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t *off)
{
	uint64_t rel = va - ptmm_page_table_space_base(pt);
	if (rel >= ptmm_page_table_space_size(pt))
		return PTMM_ERANGE;
	*off = va & ptmm__cursor_tree_mask(pt->arch);
	return PTMM_OK;
}

/* ---- self-deadlock detection (PTMM_DEBUG) ---- */

#ifdef PTMM_DEBUG
unsigned ptmm_mutation; /* mm_assert.h */

/* Does the open cursor `o` hold the node `pa` at `level` spanning from `base`? */
static bool dbg_holds(const struct ptmm_cursor *o, ptmm_paddr_t pa, unsigned level, uint64_t base)
{
	if (level > o->guard_level)
		return false;
	if (level == o->guard_level)
		return pa == o->node[level];
	uint64_t span = ptmm_level_size(level + 1);
	return base < o->end && o->start < base + span;
}

/*
 * Called when `c` (NULL: a walk of no cursor's own) finds the node locked:
 * stop if a cursor of the calling thread holds it (it would never let go).
 */
static void dbg_check_wait(struct ptmm_page_table *pt, const struct ptmm_cursor *c, ptmm_paddr_t pa,
			   unsigned level, uint64_t base)
{
	const void *me = ptmm_debug_context();
	bool self = false;
	mm_spin_lock(&pt->dbg_lock);
	for (const struct ptmm_cursor *o = pt->dbg_open; o && !self; o = o->dbg_next)
		self = o != c && o->dbg_ctx == me && dbg_holds(o, pa, level, base);
	mm_spin_unlock(&pt->dbg_lock);
	if (self)
		ptmm_assert_failed(__FILE__, __LINE__,
				 "cursor: would wait for a node this thread's open cursor holds "
				 "(overlapping range or same guard node): deadlock");
}

static void dbg_register(struct ptmm_cursor *c)
{
	struct ptmm_page_table *pt = c->pt;
	c->dbg_ctx = ptmm_debug_context();
	mm_spin_lock(&pt->dbg_lock);
	c->dbg_next = pt->dbg_open;
	pt->dbg_open = c;
	mm_spin_unlock(&pt->dbg_lock);
}

static void dbg_unregister(struct ptmm_cursor *c)
{
	struct ptmm_page_table *pt = c->pt;
	mm_spin_lock(&pt->dbg_lock);
	struct ptmm_cursor **link = &pt->dbg_open;
	while (*link && *link != c)
		link = &(*link)->dbg_next;
	PTMM_ASSERT(*link == c);
	*link = c->dbg_next;
	mm_spin_unlock(&pt->dbg_lock);
}
#else
static inline void dbg_check_wait(struct ptmm_page_table *pt, const struct ptmm_cursor *c, ptmm_paddr_t pa,
				  unsigned level, uint64_t base)
{
	(void)pt, (void)c, (void)pa, (void)level, (void)base;
}
static inline void dbg_register(struct ptmm_cursor *c) { (void)c; }
static inline void dbg_unregister(struct ptmm_cursor *c) { (void)c; }
#endif

/* Take the lock of a node the cursor `c` must wait for (it is in the tree: see lock_subtree). */
static void lock_node(struct ptmm_cursor *c, struct ptmm_frame_slot *s, ptmm_paddr_t pa, unsigned level,
		      uint64_t base)
{
	if (atomic_exchange_explicit(&s->lock, 1, memory_order_acquire)) {
		dbg_check_wait(c->pt, c, pa, level, base);
		mm_spin_lock(&s->lock);
	}
}

/* ---- node access ---- */

static inline struct ptmm_frame_slot *node_slot(const struct ptmm_cursor *c, ptmm_paddr_t pa)
{
	return ptmm_frame_slot_of(c->pt->ft, pa);
}

static inline ptmm_pte_t *node_entries(const struct ptmm_frame_table *ft, ptmm_paddr_t pa)
{
	return ptmm_frame_to_virt(ft, pa);
}

static inline ptmm_pte_t read_entry_racy(const ptmm_pte_t *tbl, unsigned i)
{
	return ptmm_pte_read_acquire(&tbl[i]);
}

/*
 * Is the slot still the attached live node of generation `gen`?  A
 * generation is odd exactly while the frame is a live node, and changes
 * when it is freed and again when it becomes a node again, so an equal odd
 * generation means the same node (its level and usage fixed for its life:
 * they need not be read).  The flags are read before the generation: a
 * free clears DETACHED only after its bump (frame.c), so a walker that
 * sees the flag clear on a freed node also sees the new generation.
 */
static bool node_still_valid(const struct ptmm_frame_slot *s, uint32_t gen)
{
	if (atomic_load_explicit(&s->flags, memory_order_acquire) & PTMM_FRAME_F_DETACHED)
		return false;
	return (gen & 1u) && atomic_load_explicit(&s->gen, memory_order_acquire) == gen;
}

/*
 * Take the lock of the node `s` found by a lockless walk as generation
 * `gen`, unless it stops being that attached node first.  True: locked and
 * valid.  False: not locked, the walk must retry.  A node detached while
 * we wait is given up at once (its lock is held by the cursor that cut it
 * until the node is freed, maybe much later): waiting only ever happens
 * for a node that is in the tree.
 */
static bool lock_if_valid(struct ptmm_page_table *pt, struct ptmm_frame_slot *s, ptmm_paddr_t pa, uint32_t gen,
			  unsigned level, uint64_t base)
{
	bool checked = false;
	for (;;) {
		if (!node_still_valid(s, gen))
			return false;
		if (!atomic_exchange_explicit(&s->lock, 1, memory_order_acquire))
			break;
		if (!checked)
			dbg_check_wait(pt, (const struct ptmm_cursor *)0, pa, level, base);
		checked = true;
		while (atomic_load_explicit(&s->lock, memory_order_relaxed)) {
			if (!node_still_valid(s, gen))
				return false;
			mm_cpu_relax();
		}
	}
	if (pt->walk_hook)
		pt->walk_hook(pt->walk_hook_ctx, pa, level, PTMM_WALK_LOCKED);
	/*
	 * The lock may be that of the frame's next life (freed between the
	 * check and the exchange): then the generation says so and we let
	 * go of a lock that really was ours, before its new owner takes it.
	 */
	if (!node_still_valid(s, gen)) {
		mm_spin_unlock(&s->lock);
		return false;
	}
	return true;
}

/*
 * Walk without locks from the root towards [lo, hi) and lock the deepest
 * node at or above `min_level` whose range covers it (step 1 above).
 * Returns its PA and level; the node is locked and attached.
 */
static ptmm_paddr_t lock_covering_node(struct ptmm_page_table *pt, uint64_t lo, uint64_t hi,
				  unsigned min_level, unsigned *level_out)
{
	const struct ptmm_arch *a = pt->arch;
	struct ptmm_frame_table *ft = pt->ft;
	bool again = false;
retry:
	if (again)
		atomic_fetch_add_explicit(&pt->walk_retries, 1, memory_order_relaxed);
	again = true;
	ptmm_paddr_t pa = pt->root;
	unsigned level = a->levels;
	struct ptmm_frame_slot *s = ptmm_frame_slot_of(ft, pa);
	uint32_t gen = atomic_load_explicit(&s->gen, memory_order_acquire);

	while (level > min_level) {
		unsigned i = ptmm_level_index(lo, level);
		/*
		 * Stop where the range needs more than one entry, or a whole
		 * one: its leaf or its removal is this node's business.
		 */
		if (i != ptmm_level_index(hi - 1, level) || hi - lo >= ptmm_level_size(level))
			break;
		const ptmm_pte_t *tbl = node_entries(ft, pa);
		ptmm_pte_t e = read_entry_racy(tbl, i);
		if (!ptmm_pte_is_present(e) || ptmm_pte_is_leaf(&a->fmt, e, level)) {
			if (!node_still_valid(s, gen))
				goto retry;
			break;
		}
		ptmm_paddr_t child = ptmm_pte_table_addr(&a->fmt, e);
		struct ptmm_frame_slot *cs = ptmm_frame_slot_of(ft, child);
		if (!cs || !node_still_valid(s, gen))
			goto retry;
		uint32_t cgen = atomic_load_explicit(&cs->gen, memory_order_acquire);
		/* The entry must still point to that child after its gen was read. */
		if (read_entry_racy(tbl, i) != e || !node_still_valid(s, gen))
			goto retry;
		pa = child;
		s = cs;
		gen = cgen;
		level--;
	}
	if (pt->walk_hook)
		pt->walk_hook(pt->walk_hook_ctx, pa, level, PTMM_WALK_BEFORE_LOCK);
	if (!lock_if_valid(pt, s, pa, gen, level, ptmm__cursor_node_base(level, lo)))
		goto retry;
	*level_out = level;
	return pa;
}

/* Are the eight entries from `e` (one cache line) all absent? */
static inline bool absent8(const ptmm_pte_t *e)
{
	return (ptmm_pte_read(&e[0]) | ptmm_pte_read(&e[1]) | ptmm_pte_read(&e[2]) | ptmm_pte_read(&e[3]) |
		ptmm_pte_read(&e[4]) | ptmm_pte_read(&e[5]) | ptmm_pte_read(&e[6]) | ptmm_pte_read(&e[7])) == 0;
}

/*
 * Lock (or unlock) every node below the node `tbl` (slot `s`) at `level`
 * whose range meets [lo, hi), top-down (step 2 above).  `base` is the
 * node's first offset; [lo, hi) lies inside the node's span.
 */
static void lock_subtree(struct ptmm_cursor *c, const ptmm_pte_t *tbl, const struct ptmm_frame_slot *s,
			 unsigned level, uint64_t base, uint64_t lo, uint64_t hi, bool lock)
{
	const struct ptmm_pte_format fmt = c->arch->fmt, *f = &fmt; /* kept in registers */
	uint64_t size = ptmm_level_size(level);
	/* A node with no child nodes (all of level 1, most of huge leaves): nothing below. */
	if (level == 1 || s->nr_tables == 0)
		return;
	/*
	 * A plain scan of the entries: most are absent or leaves.  In a
	 * sparse node most are absent: eight absent entries (one cache line)
	 * are passed with one test.
	 */
	unsigned last = ptmm_level_index(hi - 1, level);
	unsigned tables_left = s->nr_tables; /* none left: nothing more below */
	for (unsigned i = ptmm_level_index(lo, level); i <= last && tables_left; i++) {
		if ((i & 7u) == 0 && i + 7u <= last && absent8(&tbl[i])) {
			i += 7u;
			continue;
		}
		ptmm_pte_t e = ptmm_pte_read(&tbl[i]);
		if (!ptmm_pte_is_present(e) || ptmm_pte_is_leaf(f, e, level))
			continue;
		tables_left--;
		uint64_t e_start = base + (uint64_t)i * size, e_end = e_start + size;
		ptmm_paddr_t child = ptmm_pte_table_addr(f, e);
		struct ptmm_frame_slot *cs = node_slot(c, child);
		if (lock)
			lock_node(c, cs, child, level - 1, e_start);
		if (level > 2) /* a level-1 node has no child nodes: no call */
			lock_subtree(c, node_entries(c->pt->ft, child), cs, level - 1, e_start,
				     lo > e_start ? lo : e_start, hi < e_end ? hi : e_end, lock);
		if (!lock)
			mm_spin_unlock(&cs->lock);
	}
}

/* First offset covered by the node at `level` that covers offset `t`. */
uint64_t ptmm__cursor_node_base(unsigned level, uint64_t t)
{
	/* A node at level l spans one entry of level l+1 (the root: 2^va_bits). */
	uint64_t span = ptmm_level_size(level + 1);
	return t & ~(span - 1);
}

/* ---- open / close ---- */

/*
 * The closed state: no table, an empty range, no cached path, nothing
 * deferred.  Every operation then refuses (PTMM_EINVAL) and the one-page
 * fast paths fail their range test, so none reads a stale field.
 */
static int cursor_make_closed(struct ptmm_cursor *c, int err)
{
	*c = (struct ptmm_cursor){ .pt = (struct ptmm_page_table *)0, .reserve = PTMM_FRAME_NIL,
			      .block_hint = PTMM_FRAME_NIL, .pend_block = PTMM_FRAME_NIL };
	frame_release_init(&c->rel);
	return err;
}

int ptmm_cursor_open(struct ptmm_cursor *c, struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t len)
{
	uint64_t start;
	if (pt->destroyed)
		return cursor_make_closed(c, PTMM_EINVAL);
	if (len == 0)
		return cursor_make_closed(c, PTMM_EINVAL);
	if (!ptmm_is_aligned(va, PTMM_PAGE_SIZE) || !ptmm_is_aligned(len, PTMM_PAGE_SIZE))
		return cursor_make_closed(c, PTMM_EALIGN);
	if (tree_offset(pt, va, &start))
		return cursor_make_closed(c, PTMM_ERANGE);
	uint64_t space_end = (pt->space == PTMM_PT_USER ? 0 : ptmm_page_table_space_size(pt)) +
			     ptmm_page_table_space_size(pt);
	if (len > space_end - start)
		return cursor_make_closed(c, PTMM_ERANGE);

	*c = (struct ptmm_cursor){ .pt = pt, .arch = pt->arch, .start = start,
			      .end = start + len, .va = start,
			      .reserve = PTMM_FRAME_NIL,
			      .block_hint = PTMM_FRAME_NIL, .pend_block = PTMM_FRAME_NIL };
	frame_release_init(&c->rel);
	dbg_register(c);
	unsigned level;
	ptmm_paddr_t guard = lock_covering_node(pt, c->start, c->end, 1, &level);
	c->guard_level = level;
	c->level = level;
	c->cache_va = c->start;
	c->node[level] = guard;
	c->table[level] = node_entries(pt->ft, guard);
	c->slot[level] = ptmm_frame_slot_of(pt->ft, guard);
	lock_subtree(c, c->table[level], c->slot[level], level, ptmm__cursor_node_base(level, c->start),
		     c->start, c->end, true);
	return PTMM_OK;
}

void ptmm_cursor_flush(struct ptmm_cursor *c)
{
	if (!ptmm_cursor_is_open(c))
		return;
	const struct ptmm_tlb_ops *tlb = c->arch->tlb;
	/* Deferred counts first: a block they bring to zero is released below. */
	ptmm__cursor_settle_refs(c);
	if (c->nodes_delta) {
		atomic_fetch_add(&c->pt->nr_nodes, (uint64_t)c->nodes_delta);
		c->nodes_delta = 0;
	}
	/* The paging-structure caches may hold a removed table: flush all. */
	if (c->flush_tables) {
		if (!PTMM_MUTANT(PTMM_MUT_FLUSH_ALL))
			tlb->flush_all(tlb->ctx);
	} else if (c->flush_pages == 1) {
		if (!PTMM_MUTANT(PTMM_MUT_FLUSH_PAGE))
			tlb->flush_page(tlb->ctx, ptmm__cursor_canonical(c->arch, c->flush_lo));
	} else if (c->flush_lo < c->flush_hi) {
		if (!PTMM_MUTANT(PTMM_MUT_FLUSH_RANGE))
			tlb->flush_range(tlb->ctx, ptmm__cursor_canonical(c->arch, c->flush_lo),
					 c->flush_hi - c->flush_lo);
	}
	c->flush_lo = c->flush_hi = 0;
	c->flush_pages = 0;
	c->flush_tables = false;
	/* Only now may what left the tree be reused. */
	ptmm__frame_release_all(c->pt->ft, &c->rel);
}

/* May the node at `level` be reclaimed when empty? Not the root, not shared kernel nodes. */
bool ptmm__cursor_node_reclaimable(const struct ptmm_page_table *pt, unsigned level)
{
	if (level >= pt->arch->levels)
		return false;
	return !(pt->space == PTMM_PT_KERNEL && level == pt->arch->levels - 1u);
}

/*
 * Free the empty node at `level` covering offset `t`, and then each
 * ancestor it leaves empty (step 3 above).  Takes its own locks, parent
 * first; everything it detaches goes on the cursor's release list.
 */
static void reclaim_upwards(struct ptmm_cursor *c, uint64_t t, unsigned level)
{
	const struct ptmm_pte_format *f = &c->arch->fmt;
	struct ptmm_frame_table *ft = c->pt->ft;

	while (ptmm__cursor_node_reclaimable(c->pt, level)) {
		unsigned plevel;
		ptmm_paddr_t parent = lock_covering_node(c->pt, t, t + PTMM_PAGE_SIZE, level + 1, &plevel);
		struct ptmm_frame_slot *ps = ptmm_frame_slot_of(ft, parent);
		ptmm_pte_t *ptbl = node_entries(ft, parent);
		unsigned i = ptmm_level_index(t, plevel);
		ptmm_pte_t e = ptmm_pte_read(&ptbl[i]);
		bool emptied = false;
		/* Re-read under the lock: the node may be gone or refilled meanwhile. */
		if (plevel == level + 1 && ptmm_pte_is_present(e) && !ptmm_pte_is_leaf(f, e, plevel)) {
			ptmm_paddr_t child = ptmm_pte_table_addr(f, e);
			struct ptmm_frame_slot *cs = ptmm_frame_slot_of(ft, child);
			lock_node(c, cs, child, level, ptmm__cursor_node_base(level, t));
			if (cs->nr_children == 0) {
				cursor_detach_node(c, ptbl, ps, i, plevel, child);
				emptied = ps->nr_children == 0;
			} else {
				mm_spin_unlock(&cs->lock);
			}
		}
		mm_spin_unlock(&ps->lock);
		if (!emptied)
			return;
		level = plevel;
	}
}

void ptmm_cursor_close(struct ptmm_cursor *c)
{
	if (!ptmm_cursor_is_open(c))
		return;
	struct ptmm_frame_slot *gs = c->slot[c->guard_level];
	uint64_t gbase = ptmm__cursor_node_base(c->guard_level, c->start);

	ptmm_cursor_flush(c);
	lock_subtree(c, c->table[c->guard_level], gs, c->guard_level, gbase, c->start, c->end,
		     false);
	bool empty = gs->nr_children == 0;
	mm_spin_unlock(&gs->lock);
	dbg_unregister(c); /* holds nothing from here on */
	if (empty && ptmm__cursor_node_reclaimable(c->pt, c->guard_level)) {
		reclaim_upwards(c, c->start, c->guard_level);
		ptmm_cursor_flush(c);
	}
	(void)cursor_make_closed(c, PTMM_OK);
}

int ptmm_cursor_jump(struct ptmm_cursor *c, ptmm_vaddr_t va)
{
	uint64_t off;
	if (!ptmm_cursor_is_open(c))
		return PTMM_EINVAL;
	if (!ptmm_is_aligned(va, PTMM_PAGE_SIZE))
		return PTMM_EALIGN;
	if (tree_offset(c->pt, va, &off) || off < c->start || off > c->end)
		return PTMM_ERANGE;
	c->va = off;
	return PTMM_OK;
}

/* ---- walking helpers shared with cursor_ops.c ---- */

void ptmm__cursor_start_node(struct ptmm_cursor *c, uint64_t lo, uint64_t hi, struct walk_node *out)
{
	unsigned l = c->level;
	/* The deepest cached node whose span holds [lo, hi). */
	while (l < c->guard_level) {
		uint64_t span = ptmm_level_size(l + 1);
		/*
		 * Strictly inside: an operation on a node's whole span may need
		 * the parent's entry (one huge leaf, or removing the node).
		 */
		if (hi - lo < span && (lo & ~(span - 1)) == (c->cache_va & ~(span - 1)) &&
		    ((hi - 1) & ~(span - 1)) == (c->cache_va & ~(span - 1)))
			break;
		l++;
	}
	out->level = l;
	out->pa = c->node[l];
	out->tbl = c->table[l];
	out->slot = c->slot[l];
	out->base = ptmm__cursor_node_base(l, lo);
}

void ptmm__cursor_cache_descend(struct ptmm_cursor *c, const struct walk_node *child, uint64_t t)
{
	c->node[child->level] = child->pa;
	c->table[child->level] = child->tbl;
	c->slot[child->level] = child->slot;
	c->level = child->level;
	c->cache_va = t;
}

void ptmm__cursor_child(struct ptmm_cursor *c, const struct walk_node *parent, ptmm_pte_t e, uint64_t e_start,
		  struct walk_node *out)
{
	out->level = parent->level - 1;
	out->pa = ptmm_pte_table_addr(&c->arch->fmt, e);
	out->tbl = node_entries(c->pt->ft, out->pa);
	out->slot = node_slot(c, out->pa);
	out->base = e_start;
}

void ptmm__cursor_reclaim_path(struct ptmm_cursor *c, unsigned level, uint64_t t)
{
	/*
	 * Up to the guard (its removal is the close's business) and below
	 * the first level never reclaimed (ptmm__cursor_node_reclaimable:
	 * the root; in a kernel table the nodes under the root, shared).
	 */
	unsigned levels = c->arch->levels;
	unsigned stop = c->pt->space == PTMM_PT_KERNEL ? levels - 1u : levels;
	if (stop > c->guard_level)
		stop = c->guard_level;
	/* Nodes below the start node were reclaimed by the walk itself. */
	for (unsigned l = level; l < stop && c->level <= l && c->slot[l]->nr_children == 0; l++) {
		PTMM_ASSERT(ptmm__cursor_node_reclaimable(c->pt, l));
		cursor_detach_node(c, c->table[l + 1], c->slot[l + 1], ptmm_level_index(t, l + 1),
					 l + 1, c->node[l]);
	}
}

/* ---- read-only operations ---- */

/* Fill `out` from the present leaf `e` at `level` that covers offset `t`. */
void ptmm__cursor_leaf_mapping(const struct ptmm_cursor *c, ptmm_pte_t e, unsigned level, uint64_t t,
			 struct ptmm_mapping *out)
{
	uint64_t size = ptmm_level_size(level);
	out->va = ptmm__cursor_canonical(c->arch, t & ~(size - 1));
	out->size = size;
	out->pa = ptmm_pte_addr(&c->arch->fmt, e, level);
	out->prop = c->arch->leaf_prop(c->arch, e, level);
	out->present = true;
	out->mmio = !ptmm_frame_is_ram(c->pt->ft, out->pa);
	out->untracked = (e & c->arch->fmt.untracked) != 0;
}

int ptmm_cursor_query(struct ptmm_cursor *c, struct ptmm_mapping *out)
{
	if (!ptmm_cursor_is_open(c))
		return PTMM_EINVAL;
	uint64_t t = c->va;
	if (t >= c->end)
		return PTMM_ERANGE;

	struct walk_node n;
	ptmm_pte_t e = cursor_walk_page(c, t, &n);
	if (ptmm_pte_is_present(e)) {
		ptmm__cursor_leaf_mapping(c, e, n.level, t, out);
		return PTMM_OK;
	}
	uint64_t size = ptmm_level_size(n.level);
	*out = (struct ptmm_mapping){ .va = ptmm__cursor_canonical(c->arch, t & ~(size - 1)), .size = size };
	return PTMM_OK;
}

/* First leaf meeting [lo, hi) below node `n`; 1 if found. */
static int find_in_node(struct ptmm_cursor *c, const struct walk_node *n, uint64_t lo, uint64_t hi,
			struct ptmm_mapping *out)
{
	const struct ptmm_pte_format *f = &c->arch->fmt;
	uint64_t size = ptmm_level_size(n->level);
	for (uint64_t t = lo; t < hi;) {
		unsigned i = ptmm_level_index(t, n->level);
		uint64_t e_start = n->base + (uint64_t)i * size, e_end = e_start + size;
		uint64_t stop = hi < e_end ? hi : e_end;
		ptmm_pte_t e = ptmm_pte_read(&n->tbl[i]);
		if (ptmm_pte_is_present(e)) {
			if (ptmm_pte_is_leaf(f, e, n->level)) {
				ptmm__cursor_leaf_mapping(c, e, n->level, t, out);
				return 1;
			}
			struct walk_node child;
			ptmm__cursor_child(c, n, e, e_start, &child);
			if (find_in_node(c, &child, t, stop, out))
				return 1;
		}
		t = stop;
	}
	return 0;
}

int ptmm_cursor_find_next(struct ptmm_cursor *c, uint64_t len, struct ptmm_mapping *out)
{
	int err = cursor_check_len(c, len);
	if (err)
		return err;
	struct walk_node n;
	ptmm__cursor_start_node(c, c->va, c->va + len, &n);
	return find_in_node(c, &n, c->va, c->va + len, out);
}
