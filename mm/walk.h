/*
 * walk.h - the walk vocabulary every traversal of a tree uses: a node
 * during a walk, the one rule for the offsets an entry spans, and the
 * step from a table entry to its child.  Not part of the API.
 *
 *   node at level l, base b            entry i spans [b + i*S(l), b + (i+1)*S(l))
 *   +------+------+-- ... --+------+   S(l) = ptmm_level_size(l) = 2^(12 + 9(l-1))
 *   |  0   |  1   |         | 511  |   a node spans 512 * S(l) = S(l+1)
 *   +------+------+-- ... --+------+
 *             |  table entry: walk_child() gives the node at l-1, base b + i*S(l)
 *
 * The lock protocol (lock.c), the cursor's path (cursor_path.h), find
 * (query.c) and every changing pass (map.c, unmap.c, protect.c, split.c,
 * remove.c) walk with these.  The checker (check.c) re-walks the tree on
 * its own on purpose: it is the independent judge of what these produce.
 */
#ifndef MM_WALK_H
#define MM_WALK_H

#include <ptmm/frame.h>
#include <ptmm/mm_assert.h>
#include <ptmm/pte.h>

/* One node during a walk: where it is and which offsets it spans. */
struct walk_node {
	ptmm_pte_t *tbl;
	struct ptmm_frame_slot *slot;
	ptmm_paddr_t pa;
	unsigned level;
	uint64_t base; /* first tree offset the node spans */
};

/* First offset of entry i of a node at `level` spanning from `base`: the entry-span rule. */
static inline uint64_t entry_start(unsigned level, uint64_t base, unsigned i)
{
	return base + (uint64_t)i * ptmm_level_size(level);
}

/* The entry of a node that holds offset t, clipped to [t, hi). */
struct entry_span {
	unsigned i;
	uint64_t start, end; /* the whole entry */
	uint64_t stop;       /* min(end, hi): where the next entry's walk starts */
	bool full;           /* [t, stop) is the whole entry */
};

/* The entry_span of offset t in a node at `level` spanning from `base`; t < hi, t inside the node. */
static inline struct entry_span entry_span(unsigned level, uint64_t base, uint64_t t, uint64_t hi)
{
	struct entry_span s;
	PTMM_ASSERT(t < hi && t >= base && t - base < ptmm_level_size(level + 1));
	s.i = ptmm_level_index(t, level);
	s.start = entry_start(level, base, s.i);
	s.end = s.start + ptmm_level_size(level);
	s.stop = hi < s.end ? hi : s.end;
	s.full = t == s.start && s.stop == s.end;
	return s;
}

/* The entries of the node at `pa` (through the frame table's direct map). */
static inline ptmm_pte_t *node_entries(const struct ptmm_frame_table *ft, ptmm_paddr_t pa)
{
	return ptmm_frame_to_virt(ft, pa);
}

/*
 * The frame slot of the node at `pa`.  Assumes `pa` is a node of a tree
 * over `ft` (so it lies in the slot window): asserted, not tested.
 */
static inline struct ptmm_frame_slot *node_slot(const struct ptmm_frame_table *ft, ptmm_paddr_t pa)
{
	uint64_t i = (pa >> PTMM_PAGE_SHIFT) - ft->base_pfn;
	PTMM_ASSERT(i < ft->nr_slots);
	return &ft->slots[i];
}

/*
 * Is the node of slot `s` locked (by someone)?  For assertions that the
 * caller holds a node it writes: the lock word has no owner.
 */
static inline bool node_is_locked(const struct ptmm_frame_slot *s)
{
	return atomic_load_explicit(&s->lock, memory_order_relaxed) != 0;
}

/*
 * The child node of the table entry `e` of `parent`, the entry starting
 * at offset e_start.  Assumes `e` is a present table entry (not a leaf).
 */
static inline void walk_child(const struct ptmm_frame_table *ft, const struct ptmm_pte_format *f,
			      const struct walk_node *parent, ptmm_pte_t e, uint64_t e_start,
			      struct walk_node *out)
{
	PTMM_ASSERT(parent->level > 1 && ptmm_pte_is_present(e) && !ptmm_pte_is_leaf(f, e, parent->level));
	out->level = parent->level - 1;
	out->pa = ptmm_pte_table_addr(f, e);
	out->tbl = node_entries(ft, out->pa);
	out->slot = node_slot(ft, out->pa);
	out->base = e_start;
}

#endif /* MM_WALK_H */
