/*
 * check.c - the invariant checker (MODEL.md sections 2-4) and statistics.
 *
 * Three passes, using each block head's scratch field as a tally:
 *   1. clear the tallies of every block;
 *   2. walk every table: check each node and entry (section 2), count on
 *      each node the parent entries that reach it, and on each data block
 *      the leaves that cover it (section 3, forward direction);
 *   3. walk every block: the tallies must equal what the slots claim
 *      (section 3, reverse direction), free lists must hold exactly the
 *      free blocks.
 * With the reverse map (PTMM_RMAP, MODEL.md M8), pass 2 also finds each
 * leaf's record and compares it, and after it every record must have been
 * found: the recorded paths and the tree's leaves are the same set.
 * The first violation found is described in `buf`.
 */
#include <ptmm/check.h>

#include <ptmm/cursor.h>
#include "addr.h"
#include "reclaim.h"
#include "frame_internal.h"
#include "rmap_internal.h"
#include <ptmm/pte.h>

struct checker {
	struct ptmm_frame_table *ft;
	const struct ptmm_page_table *pt; /* the table being walked */
	const struct ptmm_arch *a;
	const struct ptmm_cursor *open;   /* ptmm_check_open: the cursor that may hold locks */
	char *buf;
	size_t len;
	bool failed;
	uint64_t nodes;                   /* nodes reached in the table being walked */
#ifdef PTMM_RMAP
	uint64_t recorded;                /* leaves found in the reverse map (M8) */
#endif
};

/* ---- a tiny formatter (freestanding: no snprintf) ---- */

struct out {
	char *buf;
	size_t len, pos;
};

static void put_char(struct out *o, char ch)
{
	if (o->pos + 1 < o->len)
		o->buf[o->pos++] = ch;
}

static void put_str(struct out *o, const char *s)
{
	while (*s)
		put_char(o, *s++);
}

static void put_hex(struct out *o, uint64_t v)
{
	put_str(o, "0x");
	int shift = 60;
	while (shift > 0 && !((v >> shift) & 0xf))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		put_char(o, "0123456789abcdef"[(v >> shift) & 0xf]);
}

/*
 * Record the first violation: `what`, then up to two labelled values.
 * Returns false so callers can `return fail(...)`.
 */
static bool fail(struct checker *k, const char *what, const char *l1, uint64_t v1,
		 const char *l2, uint64_t v2)
{
	if (k->failed)
		return false;
	k->failed = true;
	struct out o = { k->buf, k->len, 0 };
	put_str(&o, what);
	if (l1) {
		put_str(&o, " ");
		put_str(&o, l1);
		put_str(&o, "=");
		put_hex(&o, v1);
	}
	if (l2) {
		put_str(&o, " ");
		put_str(&o, l2);
		put_str(&o, "=");
		put_hex(&o, v2);
	}
	if (o.len)
		o.buf[o.pos] = 0;
	return false;
}

/* ---- iteration over blocks ---- */

/* Call fn on each block head of the window, in PA order; stop on false. */
static bool for_each_block(struct checker *k, bool (*fn)(struct checker *, struct ptmm_frame_slot *))
{
	struct ptmm_frame_table *ft = k->ft;
	for (uint64_t i = 0; i < ft->nr_slots;) {
		struct ptmm_frame_slot *s = &ft->slots[i];
		if (!(atomic_load(&s->flags) & PTMM_FRAME_F_HEAD))
			return fail(k, "F2: slot is inside no block", "pa", ptmm_frame_slot_pa(ft, s), 0, 0);
		if (!fn(k, s))
			return false;
		i += (uint64_t)1 << s->order;
	}
	return true;
}

static bool clear_tally(struct checker *k, struct ptmm_frame_slot *s)
{
	(void)k;
	s->scratch = 0;
	return true;
}

/* ---- pass 2: the trees ---- */

/* A leaf over tracked RAM: every block it covers is a mapped data block. */
static bool check_tracked_leaf(struct checker *k, ptmm_paddr_t pa, uint64_t size, uint64_t va)
{
	for (ptmm_paddr_t cur = pa; cur < pa + size;) {
		struct ptmm_frame_slot *h = ptmm_frame_block_head(k->ft, cur);
		if (!h)
			return fail(k, "M2: leaf covers a hole in RAM", "va", va, "pa", cur);
		uint32_t rc = atomic_load(&h->refcount);
		if (h->usage == PTMM_FRAME_UNUSED)
			return fail(k, "M2: leaf maps a free frame", "va", va, "pa", cur);
		if (h->usage == PTMM_FRAME_PT_NODE)
			return fail(k, "M1: leaf maps a page-table node", "va", va, "pa", cur);
		if (h->usage != PTMM_FRAME_DATA || rc == PTMM_FRAME_REF_UNIQUE)
			return fail(k, "M2: leaf maps a frame that is not a data frame", "va", va, "pa", cur);
		h->scratch++;
		cur = ptmm_frame_slot_pa(k->ft, h) + ((uint64_t)PTMM_PAGE_SIZE << h->order);
	}
	return true;
}

static bool check_leaf(struct checker *k, ptmm_pte_t e, unsigned level, uint64_t va)
{
	const struct ptmm_arch *a = k->a;
	uint64_t size = ptmm_level_size(level);
	ptmm_paddr_t pa = ptmm_pte_addr(&a->fmt, e, level);
	struct ptmm_prop p = a->leaf_prop(a, e, level);

	if (level > ptmm_page_table_max_leaf_level(k->pt))
		return fail(k, "T5: leaf at a level that may not hold one", "va", va, "level", level);
	if (a->prop_check(a, p) != PTMM_OK)
		return fail(k, "T6: leaf property not expressible", "va", va, "pte", e);
	if (p.flags & (k->pt->space == PTMM_PT_USER ? PTMM_PROP_G : PTMM_PROP_U))
		return fail(k, "T6: leaf property not allowed in this half", "va", va, "pte", e);
	/* The entry must be exactly the encoding of what it decodes to (plus the tag). */
	ptmm_pte_t tag = e & a->fmt.untracked;
	if (ptmm_pte_make(&a->fmt, a->leaf_template(a, p, level) | tag, pa) != e)
		return fail(k, "T4: leaf entry is not canonical (stray bits or misaligned PA)", "va",
			    va, "pte", e);
	if (tag) {
		/* Untracked RAM: kernel tables only, all RAM, counted nowhere. */
		if (k->pt->space != PTMM_PT_KERNEL)
			return fail(k, "M6: untracked leaf in a user table", "va", va, "pte", e);
		if (!ptmm_frame_range_is_ram(k->ft, pa, size))
			return fail(k, "M6: untracked leaf maps memory that is not RAM", "va", va, "pa",
				    pa);
		return true;
	}
	if (ptmm_frame_is_ram(k->ft, pa) || ptmm_frame_range_touches_ram(k->ft, pa, size))
		return check_tracked_leaf(k, pa, size, va);
	if (!ptmm_frame_range_is_mmio(k->ft, pa, size))
		return fail(k, "M5: leaf maps neither RAM nor a registered MMIO window", "va", va,
			    "pa", pa);
	return true;
}

#ifdef PTMM_RMAP
/*
 * M8, from the tree: the leaf `e` at tree offset `off` is recorded, at its
 * level, with exactly its PA (so at its offset inside its block).  Marks
 * the record found in this pass.
 */
static bool check_recorded(struct checker *k, ptmm_pte_t e, unsigned level, uint64_t off)
{
	struct ptmm_rmap_record *r = ptmm__rmap_find(k->ft, k->pt, off);
	ptmm_vaddr_t va = tree_canonical(k->a, off);
	ptmm_paddr_t pa = ptmm_pte_addr(&k->a->fmt, e, level);
	if (!r) {
		/* While leaves are unrecorded (pool full) the map is only a subset. */
		if (k->ft->rmap.unrecorded)
			return true;
		return fail(k, "M8: leaf missing from the reverse map", "va", va, "level", level);
	}
	if (r->level != level)
		return fail(k, "M8: leaf level differs from its reverse-map record", "va", va,
			    "recorded_level", r->level);
	if (r->pa != pa)
		return fail(k, "M8: leaf PA differs from its reverse-map record", "va", va,
			    "recorded_pa", r->pa);
	r->seen = k->ft->rmap.pass;
	k->recorded++;
	return true;
}

/*
 * M8, from the map: every record was found in a given tree (then the two
 * sets are equal: keys are unique on both sides), and no removal ever
 * disagreed with its record.
 */
static bool check_rmap_complete(struct checker *k)
{
	const struct ptmm_rmap *m = &k->ft->rmap;
	if (m->strays)
		return fail(k, "M8: leaves were removed that differed from their reverse-map records",
			    "strays", m->strays, 0, 0);
	if (k->recorded == m->used)
		return true;
	for (uint32_t i = 0; i < m->top; i++) {
		const struct ptmm_rmap_record *r = &m->rec[i];
		if (r->pt && r->seen != m->pass)
			return fail(k, "M8: reverse-map record of a leaf that is in no given tree", "va",
				    tree_canonical(r->pt->arch, r->off), "pa", r->pa);
	}
	return fail(k, "M8: reverse map holds more records than the trees have leaves", "records",
		    m->used, "found", k->recorded);
}

/* Start a pass: a new mark for the records found (never 0, the mark of a new record). */
static void rmap_pass_begin(struct checker *k)
{
	struct ptmm_rmap *m = &k->ft->rmap;
	if (++m->pass == 0)
		m->pass = 1;
	k->recorded = 0;
}

/*
 * PTMM_CHECK_UNVERIFIED, described, if leaves found the pool full: then
 * the trees were checked against a part of their paths only.
 */
static int rmap_verdict(struct checker *k)
{
	if (!k->ft->rmap.unrecorded)
		return PTMM_OK;
	struct out o = { k->buf, k->len, 0 };
	put_str(&o, "M8 unverified: the reverse map's pool is full; unrecorded=");
	put_hex(&o, k->ft->rmap.unrecorded);
	if (o.len)
		o.buf[o.pos] = 0;
	return PTMM_CHECK_UNVERIFIED;
}
#else
static inline bool check_recorded(struct checker *k, ptmm_pte_t e, unsigned level, uint64_t off)
{
	(void)k, (void)e, (void)level, (void)off;
	return true;
}

static inline bool check_rmap_complete(struct checker *k)
{
	(void)k;
	return true;
}

static inline void rmap_pass_begin(struct checker *k)
{
	(void)k;
}

static inline int rmap_verdict(struct checker *k)
{
	(void)k;
	return PTMM_OK;
}
#endif /* PTMM_RMAP */

static bool check_node(struct checker *k, ptmm_paddr_t pa, unsigned level, uint64_t base);

/*
 * May the node at `pa` (level, first offset `base`) be locked?  Only by
 * the open cursor of ptmm_check_open, if it is that cursor's guard or a
 * node below it that meets the cursor's range.
 */
static bool held_by_open_cursor(const struct checker *k, ptmm_paddr_t pa, unsigned level, uint64_t base)
{
	const struct ptmm_cursor *c = k->open;
	if (!c || c->pt != k->pt || level > c->guard_level)
		return false;
	if (level == c->guard_level)
		return pa == c->node[level];
	uint64_t span = ptmm_level_size(level + 1);
	return base < c->end && c->start < base + span;
}

/* Is the node at `pa` the guard of ptmm_check_open's cursor? */
static bool is_open_guard(const struct checker *k, ptmm_paddr_t pa, unsigned level)
{
	const struct ptmm_cursor *c = k->open;
	return c && c->pt == k->pt && level == c->guard_level && pa == c->node[level];
}

static bool check_table_entry(struct checker *k, ptmm_pte_t e, unsigned level, uint64_t va)
{
	const struct ptmm_arch *a = k->a;
	ptmm_paddr_t child = ptmm_pte_table_addr(&a->fmt, e);
	if (ptmm_pte_make(&a->fmt, a->table_template(a, level), child) != e)
		return fail(k, "T4: table entry is not canonical", "va", va, "pte", e);
	return check_node(k, child, level - 1, va);
}

/* A node and everything below it; `base` is its first tree offset. */
static bool check_node(struct checker *k, ptmm_paddr_t pa, unsigned level, uint64_t base)
{
	const struct ptmm_arch *a = k->a;
	struct ptmm_frame_slot *s = ptmm_frame_slot_of(k->ft, pa);
	ptmm_vaddr_t va = tree_canonical(a, base);

	if (!s || ptmm_frame_block_head(k->ft, pa) != s)
		return fail(k, "T1: table entry points outside the frame table", "va", va, "pa", pa);
	if (s->usage != PTMM_FRAME_PT_NODE)
		return fail(k, "T1: table entry points to a frame that is not a node", "va", va, "pa",
			    pa);
	if (s->level != level)
		return fail(k, "T1: node level differs from its depth", "pa", pa, "level", s->level);
	if (atomic_load(&s->flags) & PTMM_FRAME_F_DETACHED)
		return fail(k, "T9: node in the tree is marked detached", "pa", pa, 0, 0);
	if (atomic_load(&s->refcount) != 1)
		return fail(k, "T2: node reference count is not 1", "pa", pa, "count",
			    atomic_load(&s->refcount));
	if (atomic_load(&s->lock) != 0 && !held_by_open_cursor(k, pa, level, base))
		return fail(k, "T9: node locked by no open cursor", "pa", pa, "level", level);
	if (++s->scratch != 1)
		return fail(k, "T2: node reached by more than one path", "pa", pa, 0, 0);
	k->nodes++;

	const ptmm_pte_t *tbl = ptmm_frame_to_virt(k->ft, pa);
	bool root = level == a->levels;
	unsigned present = 0, tables = 0;
	for (unsigned i = 0; i < PTMM_PTES_PER_NODE; i++) {
		ptmm_pte_t e = ptmm_pte_read(&tbl[i]);
		uint64_t eva = base + (uint64_t)i * ptmm_level_size(level);
		if (!ptmm_pte_is_present(e))
			continue;
		present++;
		tables += !ptmm_pte_is_leaf(&a->fmt, e, level);
		bool upper = root && i >= PTMM_PTES_PER_NODE / 2;
		/* Each half belongs to its own kind of table. */
		if (root && upper != (k->pt->space == PTMM_PT_KERNEL)) {
			if (k->pt->space == PTMM_PT_USER)
				continue; /* shared kernel entries: check_user_upper_half */
			return fail(k, "T7: kernel table maps the lower half", "va",
				    tree_canonical(a, eva), 0, 0);
		}
		bool leaf = ptmm_pte_is_leaf(&a->fmt, e, level);
		bool ok = leaf ? check_leaf(k, e, level, tree_canonical(a, eva))
			       : check_table_entry(k, e, level, eva);
		if (!ok || (leaf && !check_recorded(k, e, level, eva)))
			return false;
	}
	if (present != s->nr_children)
		return fail(k, "T3: nr_children differs from the present entries", "pa", pa,
			    "nr_children", s->nr_children);
	if (tables != s->nr_tables)
		return fail(k, "T3: nr_tables differs from the table entries", "pa", pa, "nr_tables",
			    s->nr_tables);
	/* An open cursor's guard is reclaimed at its close, not before. */
	if (present == 0 && node_reclaimable(k->pt, level) && !is_open_guard(k, pa, level))
		return fail(k, "T8: empty node left in the tree", "pa", pa, "level", level);
	if (root && k->pt->space == PTMM_PT_KERNEL) {
		for (unsigned i = PTMM_PTES_PER_NODE / 2; i < PTMM_PTES_PER_NODE; i++)
			if (!ptmm_pte_is_present(ptmm_pte_read(&tbl[i])) || ptmm_pte_is_leaf(&a->fmt, ptmm_pte_read(&tbl[i]), level))
				return fail(k, "T7: kernel root entry is not a preallocated table", "index",
					    i, 0, 0);
	}
	return true;
}

/*
 * The upper half of a user root: exactly the kernel root's entries (the
 * shared kernel nodes) if the table was made with one, else empty.
 */
static bool check_user_upper_half(struct checker *k)
{
	const ptmm_pte_t *tbl = ptmm_frame_to_virt(k->ft, k->pt->root);
	const ptmm_pte_t *ktbl = k->pt->kernel ? ptmm_frame_to_virt(k->ft, k->pt->kernel->root) : 0;
	for (unsigned i = PTMM_PTES_PER_NODE / 2; i < PTMM_PTES_PER_NODE; i++) {
		ptmm_pte_t want = ktbl ? ptmm_pte_read(&ktbl[i]) : 0, e = ptmm_pte_read(&tbl[i]);
		if (e != want)
			return fail(k, "T7: user root upper-half entry differs from the kernel root's",
				    "index", i, "pte", e);
	}
	return true;
}

/*
 * T11: the table's node count (page_table.h nr_nodes, which the cursor
 * keeps at each flush) is the number of nodes the walk reached from its
 * root, shared kernel nodes of a user table not included; an open cursor
 * of ptmm_check_open may still hold its own change.
 */
static bool check_nr_nodes(struct checker *k)
{
	uint64_t claimed = atomic_load(&k->pt->nr_nodes);
	if (k->open && k->open->pt == k->pt)
		claimed += (uint64_t)k->open->nodes_delta;
	if (claimed != k->nodes)
		return fail(k, "T11: nr_nodes differs from the nodes in the table", "nr_nodes",
			    claimed, "nodes", k->nodes);
	return true;
}

/* ---- pass 3: the metadata against the tallies ---- */

/*
 * A free block flagged PTMM_FRAME_F_ZERO must really be all zero: node
 * allocation hands it out without clearing.
 */
static bool check_zero_block(struct checker *k, struct ptmm_frame_slot *s)
{
	ptmm_paddr_t pa = ptmm_frame_slot_pa(k->ft, s);
	const uint64_t *w = ptmm_frame_to_virt(k->ft, pa);
	uint64_t n = ((uint64_t)PTMM_PAGE_SIZE << s->order) / sizeof(*w), acc = 0;
	for (uint64_t i = 0; i < n; i++)
		acc |= w[i];
	if (acc)
		return fail(k, "F7: zero block holds non-zero data", "pa", pa, "order", s->order);
	return true;
}

static bool check_block(struct checker *k, struct ptmm_frame_slot *s)
{
	ptmm_paddr_t pa = ptmm_frame_slot_pa(k->ft, s);
	uint32_t rc = atomic_load(&s->refcount);
	uint8_t flags = atomic_load(&s->flags);

	if (s->zone == PTMM_FRAME_NO_ZONE) {
		if (s->order != 0 || s->usage != PTMM_FRAME_RESERVED || rc != PTMM_FRAME_REF_UNIQUE)
			return fail(k, "F5: hole slot is not a reserved, owned single frame", "pa", pa,
				    0, 0);
		return true;
	}
	if ((uint64_t)(s - k->ft->slots) + ((uint64_t)1 << s->order) > k->ft->nr_slots ||
	    !ptmm_is_aligned(pa >> PTMM_PAGE_SHIFT, (uint64_t)1 << s->order))
		return fail(k, "F2: block misaligned or past the window", "pa", pa, "order", s->order);
	if (flags & PTMM_FRAME_F_LIMBO)
		return fail(k, "F8: block still waiting for a flush with no cursor open", "pa", pa, 0, 0);
	switch (s->usage) {
	case PTMM_FRAME_UNUSED:
		if (rc != PTMM_FRAME_REF_UNUSED)
			return fail(k, "F3: free block has a reference count", "pa", pa, "count", rc);
		if ((flags & PTMM_FRAME_F_ZERO) && !check_zero_block(k, s))
			return false;
		break;
	case PTMM_FRAME_DATA:
		if (rc == 0 || rc > PTMM_FRAME_REF_MAX)
			return fail(k, "F3: data block reference count out of range", "pa", pa, "count",
				    rc);
		if (s->map_count != s->scratch)
			return fail(k, "M3: data block map_count differs from the leaves covering it",
				    "pa", pa, "map_count", s->map_count);
		if (rc < s->map_count)
			return fail(k, "M4: data block has fewer references than mappings", "pa", pa,
				    "count", rc);
		break;
	case PTMM_FRAME_PT_NODE:
		if (s->scratch != 1)
			return fail(k, "M7: node not reachable from any given table", "pa", pa, 0, 0);
		break;
	case PTMM_FRAME_KERNEL:
	case PTMM_FRAME_METADATA:
	case PTMM_FRAME_RESERVED:
		if (rc != PTMM_FRAME_REF_UNIQUE)
			return fail(k, "F3: owned block is not UNIQUE", "pa", pa, "count", rc);
		break;
	default:
		return fail(k, "F5: block has an unknown usage", "pa", pa, "usage", s->usage);
	}
	return true;
}

/* Every free list holds free heads of its order and zone, and adds up. */
static bool check_free_lists(struct checker *k)
{
	struct ptmm_frame_table *ft = k->ft;
	for (unsigned z = 0; z < PTMM_FRAME_MAX_ZONES; z++) {
		uint64_t frames = 0, zero_blocks = 0;
		for (unsigned o = 0; o <= PTMM_FRAME_MAX_ORDER; o++) {
			uint64_t steps = 0, zero_blocks_here = 0;
			for (uint32_t i = ft->zones[z].free_head[o]; i != PTMM_FRAME_NIL;
			     i = ft->slots[i].next) {
				struct ptmm_frame_slot *s = &ft->slots[i];
				if (i >= ft->nr_slots || ++steps > ft->nr_slots)
					return fail(k, "F7: free list corrupt", "zone", z, "order", o);
				if (s->usage != PTMM_FRAME_UNUSED || s->order != o || s->zone != z ||
				    !(atomic_load(&s->flags) & PTMM_FRAME_F_HEAD))
					return fail(k, "F7: free list holds a block that is not free",
						    "pa", ptmm_frame_slot_pa(ft, s), "order", o);
				frames += (uint64_t)1 << o;
				bool zero = (atomic_load(&s->flags) & PTMM_FRAME_F_ZERO) != 0;
				if (zero && steps != zero_blocks_here + 1)
					return fail(k, "F7: zero block behind an ordinary one on a free list",
						    "pa", ptmm_frame_slot_pa(ft, s), "order", o);
				zero_blocks_here += zero;
				if (s->next == PTMM_FRAME_NIL && ft->zones[z].free_tail[o] != i)
					return fail(k, "F7: free list tail is not its last block", "zone", z,
						    "order", o);
			}
			if (ft->zones[z].free_head[o] == PTMM_FRAME_NIL &&
			    ft->zones[z].free_tail[o] != PTMM_FRAME_NIL)
				return fail(k, "F7: empty free list has a tail", "zone", z, "order", o);
			zero_blocks += zero_blocks_here;
		}
		if (frames != ft->zones[z].free_frames)
			return fail(k, "F7: zone free count differs from its lists", "zone", z,
				    "frames", frames);
		if (zero_blocks != ft->zones[z].zero_blocks)
			return fail(k, "F7: zone zero-block count differs from its lists", "zone", z,
				    "zero_blocks", zero_blocks);
	}
	return true;
}

int ptmm_check(struct ptmm_page_table *const *pts, unsigned nr_pts, struct ptmm_frame_table *ft,
	     char *buf, size_t buflen)
{
	return ptmm_check_open(pts, nr_pts, ft, (const struct ptmm_cursor *)0, buf, buflen);
}

int ptmm_check_open(struct ptmm_page_table *const *pts, unsigned nr_pts, struct ptmm_frame_table *ft,
		  const struct ptmm_cursor *open, char *buf, size_t buflen)
{
	struct checker k = { .ft = ft, .open = open, .buf = buf, .len = buflen };
	if (buflen)
		buf[0] = 0;
	if (open && ptmm_check_cursor(open, buf, buflen) != PTMM_OK)
		return 1;
	if (!for_each_block(&k, clear_tally))
		return 1;
	rmap_pass_begin(&k);
	for (unsigned i = 0; i < nr_pts; i++) {
		k.pt = pts[i];
		k.a = pts[i]->arch;
		k.nodes = 0;
		if (!check_node(&k, pts[i]->root, k.a->levels, 0))
			return 1;
		if (k.pt->space == PTMM_PT_USER && !check_user_upper_half(&k))
			return 1;
		if (!check_nr_nodes(&k))
			return 1;
	}
	if (!check_rmap_complete(&k))
		return 1;
	if (!for_each_block(&k, check_block) || !check_free_lists(&k))
		return 1;
	/* Every interval closed at its flush; nothing waits for one. */
	if (ft->rel_oldest || ft->limbo != PTMM_FRAME_NIL) {
		fail(&k, "F8: release interval open or limbo not empty with no cursor open", "limbo",
		     ft->limbo, 0, 0);
		return 1;
	}
	return rmap_verdict(&k);
}

/* ---- the cursor (section 4) ---- */

/* Is the slot of `pa` an attached, locked node of `level`? Else describe why not. */
static bool check_held_node(struct checker *k, ptmm_paddr_t pa, unsigned level, const char *what)
{
	const struct ptmm_frame_slot *s = ptmm_frame_slot_of(k->ft, pa);
	if (!s || s->usage != PTMM_FRAME_PT_NODE || s->level != level)
		return fail(k, what, "pa", pa, "level", level);
	if (atomic_load(&s->flags) & PTMM_FRAME_F_DETACHED)
		return fail(k, "C4: cursor holds a detached node", "pa", pa, "level", level);
	if (atomic_load(&s->lock) == 0)
		return fail(k, "C4: node under the cursor's range is not locked", "pa", pa, "level",
			    level);
	return true;
}

/* Every node below the node `tbl` at `level` meeting [lo, hi) is held. */
static bool check_held_subtree(struct checker *k, const ptmm_pte_t *tbl, unsigned level, uint64_t base,
			       uint64_t lo, uint64_t hi)
{
	const struct ptmm_pte_format *f = &k->a->fmt;
	uint64_t size = ptmm_level_size(level);
	if (level == 1)
		return true;
	unsigned last = ptmm_level_index(hi - 1, level);
	for (unsigned i = ptmm_level_index(lo, level); i <= last; i++) {
		ptmm_pte_t e = ptmm_pte_read(&tbl[i]);
		if (!ptmm_pte_is_present(e) || ptmm_pte_is_leaf(f, e, level))
			continue;
		uint64_t e_start = base + (uint64_t)i * size, e_end = e_start + size;
		ptmm_paddr_t child = ptmm_pte_table_addr(f, e);
		if (!check_held_node(k, child, level - 1, "C4: table entry under the cursor is not a node"))
			return false;
		if (!check_held_subtree(k, ptmm_frame_to_virt(k->ft, child), level - 1, e_start,
					lo > e_start ? lo : e_start, hi < e_end ? hi : e_end))
			return false;
	}
	return true;
}

/* The cursor's stack: node[l], table[l] and slot[l] agree for l = level..guard. */
static bool check_cursor_path(struct checker *k, const struct ptmm_cursor *c)
{
	const struct ptmm_pte_format *f = &k->a->fmt;
	for (unsigned l = c->level; l <= c->guard_level; l++) {
		if (c->table[l] != ptmm_frame_to_virt(k->ft, c->node[l]) ||
		    c->slot[l] != ptmm_frame_slot_of(k->ft, c->node[l]))
			return fail(k, "C4: cursor path: table or slot does not match its node", "level",
				    l, "pa", c->node[l]);
		if (!check_held_node(k, c->node[l], l, "C4: cursor path entry is not a node of its level"))
			return false;
		if (l == c->guard_level)
			break;
		ptmm_pte_t e = ptmm_pte_read(&c->table[l + 1][ptmm_level_index(c->cache_va, l + 1)]);
		if (!ptmm_pte_is_present(e) || ptmm_pte_is_leaf(f, e, l + 1) || ptmm_pte_table_addr(f, e) != c->node[l])
			return fail(k, "C4: cursor path: node is not the child of the one above", "level",
				    l, "va", tree_canonical(k->a, c->cache_va));
	}
	return true;
}

/* ptmm_check_cursor's checks, in the style of the other passes: false on the first violation. */
static bool check_cursor(struct checker *k, const struct ptmm_cursor *c)
{
	const struct ptmm_pte_format *f = &k->a->fmt;
	if (!ptmm_is_aligned(c->va, PTMM_PAGE_SIZE) || c->va < c->start || c->va > c->end)
		return fail(k, "C1: cursor VA unaligned or outside its range", "va", c->va, "end",
			    c->end);
	if (c->guard_level < 1 || c->guard_level > k->a->levels || c->level < 1 ||
	    c->level > c->guard_level)
		return fail(k, "C2: cursor level outside 1..guard", "level", c->level, "guard",
			    c->guard_level);
	uint64_t gspan = c->guard_level == k->a->levels ? 0 : ptmm_level_size(c->guard_level + 1);
	uint64_t gbase = node_base(c->guard_level, c->start);
	if (gspan && (c->end - 1 - gbase >= gspan || c->cache_va - gbase >= gspan))
		return fail(k, "C3: guard node does not cover the cursor's range", "start", c->start,
			    "end", c->end);
	/* The guard is the node reached from the root along `start`. */
	ptmm_paddr_t pa = c->pt->root;
	for (unsigned l = k->a->levels; l > c->guard_level; l--) {
		ptmm_pte_t e = ptmm_pte_read(&((const ptmm_pte_t *)ptmm_frame_to_virt(k->ft, pa))[ptmm_level_index(c->start, l)]);
		if (!ptmm_pte_is_present(e) || ptmm_pte_is_leaf(f, e, l))
			return fail(k, "C3: no table on the path from the root to the guard", "level", l,
				    0, 0);
		pa = ptmm_pte_table_addr(f, e);
	}
	if (pa != c->node[c->guard_level])
		return fail(k, "C3: guard node is not on the path of the range", "pa", pa, 0, 0);
	return check_cursor_path(k, c) &&
	       check_held_subtree(k, c->table[c->guard_level], c->guard_level, gbase, c->start,
				  c->end);
}

int ptmm_check_cursor(const struct ptmm_cursor *c, char *buf, size_t buflen)
{
	struct checker k = { .ft = c->pt->ft, .pt = c->pt, .a = c->arch, .buf = buf, .len = buflen };
	if (buflen)
		buf[0] = 0;
	return check_cursor(&k, c) ? PTMM_OK : 1;
}

/* ---- statistics ---- */

/* Visit every leaf below a node: fn(k, leaf entry, its level, acc). */
static void for_each_leaf(struct checker *k, ptmm_paddr_t node, unsigned level,
			  void (*fn)(struct checker *, ptmm_pte_t, unsigned, uint64_t *), uint64_t *acc)
{
	const struct ptmm_arch *a = k->a;
	const ptmm_pte_t *tbl = ptmm_frame_to_virt(k->ft, node);
	/* A user table's upper half belongs to the kernel table. */
	unsigned n = (level == a->levels && k->pt->space == PTMM_PT_USER) ? PTMM_PTES_PER_NODE / 2
								     : PTMM_PTES_PER_NODE;
	for (unsigned i = 0; i < n; i++) {
		ptmm_pte_t e = ptmm_pte_read(&tbl[i]);
		if (!ptmm_pte_is_present(e))
			continue;
		if (ptmm_pte_is_leaf(&a->fmt, e, level))
			fn(k, e, level, acc);
		else
			for_each_leaf(k, ptmm_pte_table_addr(&a->fmt, e), level - 1, fn, acc);
	}
}

static void add_size(struct checker *k, ptmm_pte_t e, unsigned level, uint64_t *acc)
{
	(void)k;
	(void)e;
	*acc += ptmm_level_size(level);
}

/* Per-frame marks of a tracked RAM leaf: clear, or count first visits. */
static void mark_frames(struct checker *k, ptmm_pte_t e, unsigned level, uint64_t *acc, bool count)
{
	ptmm_paddr_t pa = ptmm_pte_addr(&k->a->fmt, e, level);
	uint64_t size = ptmm_level_size(level);
	if ((e & k->a->fmt.untracked) || !ptmm_frame_is_ram(k->ft, pa))
		return;
	for (ptmm_paddr_t f = pa; f < pa + size; f += PTMM_PAGE_SIZE) {
		struct ptmm_frame_slot *s = ptmm_frame_slot_of(k->ft, f);
		if (!count)
			s->scratch = 0;
		else if (s->scratch == 0) {
			s->scratch = 1;
			(*acc)++;
		}
	}
}

static void clear_marks(struct checker *k, ptmm_pte_t e, unsigned level, uint64_t *acc)
{
	mark_frames(k, e, level, acc, false);
}

static void count_marks(struct checker *k, ptmm_pte_t e, unsigned level, uint64_t *acc)
{
	mark_frames(k, e, level, acc, true);
}

void ptmm_stats(struct ptmm_page_table *pt, struct ptmm_stats *out)
{
	struct checker k = { .ft = pt->ft, .pt = pt, .a = pt->arch };
	uint64_t unused = 0;
	out->nodes = atomic_load(&pt->nr_nodes);
	out->mapped = 0;
	out->frames = 0;
	for_each_leaf(&k, pt->root, pt->arch->levels, add_size, &out->mapped);
	for_each_leaf(&k, pt->root, pt->arch->levels, clear_marks, &unused);
	for_each_leaf(&k, pt->root, pt->arch->levels, count_marks, &out->frames);
}
