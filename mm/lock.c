/*
 * lock.c - the lock protocol of the trees (MODEL.md section 4).
 *
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
 *     first (parent before child, never the other way: reclaim.c).
 * Every wait is for a descendant of what the waiter holds, or by a walker
 * holding nothing, so there is no deadlock.
 *
 * PTMM_DEBUG builds keep the open cursors of each table on a list, so a
 * thread about to wait for a node one of its own cursors holds (it would
 * wait forever) is reported instead.
 */
#include "lock.h"

#include "addr.h"
#include "spinlock.h"
#include "walk.h"

/* ---- self-deadlock detection (PTMM_DEBUG) ---- */

#ifdef PTMM_DEBUG
/* Does the open cursor `o` hold the node `pa` at `level` spanning from `base`? */
static bool holder_holds(const struct ptmm_cursor *o, ptmm_paddr_t pa, unsigned level, uint64_t base)
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
static void check_wait(struct ptmm_page_table *pt, const struct ptmm_cursor *c, ptmm_paddr_t pa,
		       unsigned level, uint64_t base)
{
	const void *me = ptmm_debug_context();
	bool self = false;
	mm_spin_lock(&pt->dbg_lock);
	for (const struct ptmm_cursor *o = pt->dbg_open; o && !self; o = o->dbg_next)
		self = o != c && o->dbg_ctx == me && holder_holds(o, pa, level, base);
	mm_spin_unlock(&pt->dbg_lock);
	if (self)
		ptmm_assert_failed(__FILE__, __LINE__,
				   "cursor: would wait for a node this thread's open cursor holds "
				   "(overlapping range or same guard node): deadlock");
}

void ptmm__lock_holder_register(struct ptmm_cursor *c)
{
	struct ptmm_page_table *pt = c->pt;
	c->dbg_ctx = ptmm_debug_context();
	mm_spin_lock(&pt->dbg_lock);
	c->dbg_next = pt->dbg_open;
	pt->dbg_open = c;
	mm_spin_unlock(&pt->dbg_lock);
}

void ptmm__lock_holder_unregister(struct ptmm_cursor *c)
{
	struct ptmm_page_table *pt = c->pt;
	mm_spin_lock(&pt->dbg_lock);
	struct ptmm_cursor **link = &pt->dbg_open;
	while (*link && *link != c)
		link = &(*link)->dbg_next;
	PTMM_ASSERT(*link == c); /* registered at open, once */
	*link = c->dbg_next;
	mm_spin_unlock(&pt->dbg_lock);
}
#else
static inline void check_wait(struct ptmm_page_table *pt, const struct ptmm_cursor *c, ptmm_paddr_t pa,
			      unsigned level, uint64_t base)
{
	(void)pt, (void)c, (void)pa, (void)level, (void)base;
}
#endif

void ptmm__lock_node(struct ptmm_cursor *c, struct ptmm_frame_slot *s, ptmm_paddr_t pa, unsigned level,
		     uint64_t base)
{
	if (atomic_exchange_explicit(&s->lock, 1, memory_order_acquire)) {
		check_wait(c->pt, c, pa, level, base);
		mm_spin_lock(&s->lock);
	}
}

/* ---- step 1: the lockless walk to the covering node ---- */

/* An entry of a node that may change under the reader (no lock held). */
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
			check_wait(pt, (const struct ptmm_cursor *)0, pa, level, base);
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

ptmm_paddr_t ptmm__lock_covering_node(struct ptmm_page_table *pt, uint64_t lo, uint64_t hi,
				      unsigned min_level, unsigned *level_out)
{
	const struct ptmm_arch *a = pt->arch;
	struct ptmm_frame_table *ft = pt->ft;
	PTMM_ASSERT(lo < hi && min_level >= 1 && min_level <= a->levels);
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
		/*
		 * The entry may be stale: its child is looked up with a range
		 * test (a garbage PA must not index past the slots), and
		 * checked before it is trusted.
		 */
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
	if (!lock_if_valid(pt, s, pa, gen, level, node_base(level, lo)))
		goto retry;
	PTMM_ASSERT(node_is_locked(s) && level >= min_level);
	*level_out = level;
	return pa;
}

/* ---- step 2: everything below the guard that meets the range ---- */

/* Are the eight entries from `e` (one cache line) all absent? */
static inline bool absent8(const ptmm_pte_t *e)
{
	return (ptmm_pte_read(&e[0]) | ptmm_pte_read(&e[1]) | ptmm_pte_read(&e[2]) | ptmm_pte_read(&e[3]) |
		ptmm_pte_read(&e[4]) | ptmm_pte_read(&e[5]) | ptmm_pte_read(&e[6]) | ptmm_pte_read(&e[7])) == 0;
}

/*
 * Lock (or unlock) every node below the node `tbl` (slot `s`) at `level`
 * whose range meets [lo, hi), top-down.  `base` is the node's first
 * offset; [lo, hi) lies inside the node's span.
 */
static void lock_subtree(struct ptmm_cursor *c, const ptmm_pte_t *tbl, const struct ptmm_frame_slot *s,
			 unsigned level, uint64_t base, uint64_t lo, uint64_t hi, bool lock)
{
	const struct ptmm_pte_format fmt = c->arch->fmt, *f = &fmt; /* kept in registers */
	const struct ptmm_frame_table *ft = c->pt->ft;
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
		uint64_t e_start = entry_start(level, base, i), e_end = e_start + ptmm_level_size(level);
		ptmm_paddr_t child = ptmm_pte_table_addr(f, e);
		struct ptmm_frame_slot *cs = node_slot(ft, child);
		if (lock)
			ptmm__lock_node(c, cs, child, level - 1, e_start);
		if (level > 2) /* a level-1 node has no child nodes: no call */
			lock_subtree(c, node_entries(ft, child), cs, level - 1, e_start,
				     lo > e_start ? lo : e_start, hi < e_end ? hi : e_end, lock);
		if (!lock)
			mm_spin_unlock(&cs->lock);
	}
}

void ptmm__lock_range(struct ptmm_cursor *c, const ptmm_pte_t *tbl, const struct ptmm_frame_slot *s,
		      unsigned level, uint64_t base, uint64_t lo, uint64_t hi)
{
	lock_subtree(c, tbl, s, level, base, lo, hi, true);
}

void ptmm__unlock_range(struct ptmm_cursor *c, const ptmm_pte_t *tbl, const struct ptmm_frame_slot *s,
			unsigned level, uint64_t base, uint64_t lo, uint64_t hi)
{
	lock_subtree(c, tbl, s, level, base, lo, hi, false);
}
