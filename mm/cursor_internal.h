/*
 * cursor_internal.h - what cursor.c (open/close/locking/reads) shares with
 * cursor_ops.c (map/unmap/protect).  Not part of the API.
 */
#ifndef MM_CURSOR_INTERNAL_H
#define MM_CURSOR_INTERNAL_H

#include <ptmm/cursor.h>
#include <ptmm/frame.h>

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

/* The deepest node the cursor holds that spans [lo, hi). */
void ptmm__cursor_start_node(struct ptmm_cursor *c, uint64_t lo, uint64_t hi, struct walk_node *out);
/* The child node of entry `e` (a table) of `parent`, spanning from e_start. */
void ptmm__cursor_child(struct ptmm_cursor *c, const struct walk_node *parent, ptmm_pte_t e, uint64_t e_start,
		  struct walk_node *out);
/* Remember `child` (reached for offset t) as the deepest cached node. */
void ptmm__cursor_cache_descend(struct ptmm_cursor *c, const struct walk_node *child, uint64_t t);

/* Clear entry i of the parent and put the child node on the release list. */
void ptmm__cursor_detach_node(struct ptmm_cursor *c, ptmm_pte_t *ptbl, struct ptmm_frame_slot *ps, unsigned i,
			unsigned plevel, ptmm_paddr_t child);
/* Mark a node cut from the tree (its parent entry already gone or going). */
void ptmm__cursor_retire_node(struct ptmm_cursor *c, ptmm_paddr_t pa, unsigned level);
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
