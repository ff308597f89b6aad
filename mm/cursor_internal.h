/*
 * cursor_internal.h - what cursor.c (open/close/locking/reads) shares with
 * cursor_ops.c (map/unmap/protect).  Not part of the API.
 */
#ifndef MM_CURSOR_INTERNAL_H
#define MM_CURSOR_INTERNAL_H

#include <ptmm/cursor.h>
#include <ptmm/frame.h>
#include <ptmm/mm_assert.h>
#include <ptmm/pte.h>

#include "frame_internal.h"

/* One node during a walk: where it is and which offsets it spans. */
struct walk_node {
	ptmm_pte_t *tbl;
	struct ptmm_frame_slot *slot;
	ptmm_paddr_t pa;
	unsigned level;
	uint64_t base; /* first tree offset the node spans */
};

uint64_t ptmm__cursor_tree_mask(const struct ptmm_arch *a);
ptmm_vaddr_t ptmm__cursor_canonical(const struct ptmm_arch *a, uint64_t off);
uint64_t ptmm__cursor_node_base(unsigned level, uint64_t t);

/* PTMM_OK if [va, va+len) is a valid, non-empty part of the cursor's range. */
static inline int cursor_check_len(const struct ptmm_cursor *c, uint64_t len)
{
	if (!ptmm_cursor_is_open(c))
		return PTMM_EINVAL;
	if (len == 0)
		return PTMM_EINVAL;
	if (!ptmm_is_aligned(len, PTMM_PAGE_SIZE))
		return PTMM_EALIGN;
	if (len > c->end - c->va)
		return PTMM_ERANGE;
	return PTMM_OK;
}

/*
 * The ptmm__cursor_start_node answer for the 4 KiB page at `t` when the cached
 * path already ends in the level-1 node holding it: true and `out` filled,
 * else false (ask ptmm__cursor_start_node).
 */
static inline bool cursor_cached_leaf_node(const struct ptmm_cursor *c, uint64_t t,
					   struct walk_node *out)
{
	uint64_t span = ptmm_level_size(2);
	if (c->level != 1 || (t & ~(span - 1)) != (c->cache_va & ~(span - 1)))
		return false;
	out->level = 1;
	out->pa = c->node[1];
	out->tbl = c->table[1];
	out->slot = c->slot[1];
	out->base = t & ~(span - 1);
	return true;
}

/*
 * The frame slot of the node at `pa`.  Assumes `pa` is a node of the
 * cursor's table (so it lies in the frame table): no range test.
 */
static inline struct ptmm_frame_slot *cursor_node_slot(const struct ptmm_cursor *c, ptmm_paddr_t pa)
{
	const struct ptmm_frame_table *ft = c->pt->ft;
	uint64_t i = (pa >> PTMM_PAGE_SHIFT) - ft->base_pfn;
	PTMM_ASSERT(i < ft->nr_slots);
	return &ft->slots[i];
}

/*
 * The deepest node of the cached path that holds the 4 KiB page at
 * offset `t` (the guard if no deeper one does): ptmm__cursor_start_node's
 * answer for [t, t + 4 KiB), without its range tests.  A page lies
 * strictly inside the span of every node, so the node at level l holds
 * it exactly when t and cache_va agree on every bit above that span
 * (2^(12 + 9l) bytes).
 */
static inline void cursor_page_start_node(const struct ptmm_cursor *c, uint64_t t, struct walk_node *out)
{
	uint64_t diff = t ^ c->cache_va;
	unsigned l = c->level;
	while (l < c->guard_level && (diff >> (PTMM_PAGE_SHIFT + PTMM_PTE_BITS * l)) != 0)
		l++;
	out->level = l;
	out->pa = c->node[l];
	out->tbl = c->table[l];
	out->slot = c->slot[l];
	out->base = t & ~(ptmm_level_size(l + 1) - 1);
}

/*
 * The one-page walk (query, and map and unmap of 4 KiB): from the deepest
 * cached node holding offset `t` down through existing tables, caching
 * every node it enters.  Stops at level 1, at an absent entry or at a
 * leaf, and returns that entry: entry ptmm_level_index(t, n->level) of
 * `n`.  Reads only; every node below the guard is the cursor's (locked).
 */
static inline ptmm_pte_t cursor_walk_page(struct ptmm_cursor *c, uint64_t t, struct walk_node *n)
{
	const struct ptmm_pte_format *f = &c->arch->fmt;
	const struct ptmm_frame_table *ft = c->pt->ft;
	cursor_page_start_node(c, t, n);
	for (;;) {
		unsigned i = ptmm_level_index(t, n->level);
		ptmm_pte_t e = ptmm_pte_read(&n->tbl[i]);
		if (!ptmm_pte_is_present(e) || ptmm_pte_is_leaf(f, e, n->level))
			return e;
		/* A table entry: enter the child and make it the cached path's end. */
		n->base += (uint64_t)i * ptmm_level_size(n->level);
		n->level--;
		n->pa = ptmm_pte_table_addr(f, e);
		n->tbl = ptmm_frame_to_virt(ft, n->pa);
		n->slot = cursor_node_slot(c, n->pa);
		c->node[n->level] = n->pa;
		c->table[n->level] = n->tbl;
		c->slot[n->level] = n->slot;
		c->level = n->level;
		c->cache_va = t;
	}
}

/* The deepest node the cursor holds that spans [lo, hi). */
void ptmm__cursor_start_node(struct ptmm_cursor *c, uint64_t lo, uint64_t hi, struct walk_node *out);
/* The child node of entry `e` (a table) of `parent`, spanning from e_start. */
void ptmm__cursor_child(struct ptmm_cursor *c, const struct walk_node *parent, ptmm_pte_t e, uint64_t e_start,
		  struct walk_node *out);
/* Remember `child` (reached for offset t) as the deepest cached node. */
void ptmm__cursor_cache_descend(struct ptmm_cursor *c, const struct walk_node *child, uint64_t t);

/*
 * Mark the node `pa` at `level`, cut from the tree (its parent entry
 * already gone or going), detached and put it on the release list; it
 * stays locked until freed.  Every TLB entry may cache a path through
 * it: the next flush flushes everything.
 */
static inline void cursor_retire_node(struct ptmm_cursor *c, ptmm_paddr_t pa, unsigned level)
{
	struct ptmm_frame_slot *s = cursor_node_slot(c, pa);
	/* Detached before it can be freed: racing walkers see it and retry. */
	frame_release_push_node(c->pt->ft, &c->rel, s);
	c->nodes_delta--;
	c->flush_tables = !PTMM_MUTANT(PTMM_MUT_TABLES) || c->flush_tables;
	/* Cut the cached path above a retired node. */
	if (c->level <= level && c->node[level] == pa)
		c->level = level + 1;
}

/* Clear entry i of the parent (table ptbl, slot ps, at plevel) and retire its child node. */
static inline void cursor_detach_node(struct ptmm_cursor *c, ptmm_pte_t *ptbl, struct ptmm_frame_slot *ps,
				      unsigned i, unsigned plevel, ptmm_paddr_t child)
{
	ptmm_pte_clear(&ptbl[i]);
	ps->nr_children--;
	ps->nr_tables--;
	cursor_retire_node(c, child, plevel - 1u);
}

/*
 * After an unmap that started at cached level `level` (offset t inside it):
 * detach the nodes on the cached path it left empty, up to the guard.
 */
void ptmm__cursor_reclaim_path(struct ptmm_cursor *c, unsigned level, uint64_t t);
bool ptmm__cursor_node_reclaimable(const struct ptmm_page_table *pt, unsigned level);

/* Add [lo, hi) to the cursor's pending TLB flush. */
static inline void cursor_record_flush(struct ptmm_cursor *c, uint64_t lo, uint64_t hi)
{
	/*
	 * The common case first: [lo, hi) extends the range upwards (runs of
	 * one-page calls): only the top moves.  Also right for an empty range
	 * flush_lo == flush_hi == lo (a fresh flush is 0, 0).
	 */
	if (lo == c->flush_hi && c->flush_lo <= lo) {
		c->flush_hi = hi;
	} else if (c->flush_lo >= c->flush_hi) {
		c->flush_lo = lo;
		c->flush_hi = hi;
	} else {
		c->flush_lo = lo < c->flush_lo ? lo : c->flush_lo;
		c->flush_hi = hi > c->flush_hi ? hi : c->flush_hi;
	}
	c->flush_pages += (hi - lo) >> PTMM_PAGE_SHIFT;
}
/* Apply the deferred one-page references (cursor_ops.c) and forget the block. */
void ptmm__cursor_settle_refs(struct ptmm_cursor *c);

void ptmm__cursor_leaf_mapping(const struct ptmm_cursor *c, ptmm_pte_t e, unsigned level, uint64_t t,
			 struct ptmm_mapping *out);

#endif /* MM_CURSOR_INTERNAL_H */
