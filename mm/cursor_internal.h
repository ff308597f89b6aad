/*
 * cursor_internal.h - what cursor.c (open/close/locking/reads) shares with
 * cursor_ops.c (map/unmap/protect).  Not part of the API.
 */
#ifndef MM_CURSOR_INTERNAL_H
#define MM_CURSOR_INTERNAL_H

#include "cursor.h"
#include "frame.h"

/* One node during a walk: where it is and which offsets it spans. */
struct walk_node {
	pte_t *tbl;
	struct frame_slot *slot;
	paddr_t pa;
	unsigned level;
	uint64_t base; /* first tree offset the node spans */
};

uint64_t cursor_tree_mask(const struct mm_arch *a);
vaddr_t cursor_canonical(const struct mm_arch *a, uint64_t off);
uint64_t cursor_node_base(unsigned level, uint64_t t);

/* MM_OK if [va, va+len) is a valid, non-empty part of the cursor's range. */
static inline int cursor_check_len(const struct cursor *c, uint64_t len)
{
	if (!cursor_is_open(c))
		return MM_EINVAL;
	if (len == 0)
		return MM_EINVAL;
	if (!mm_is_aligned(len, MM_PAGE_SIZE))
		return MM_EALIGN;
	if (len > c->end - c->va)
		return MM_ERANGE;
	return MM_OK;
}

/*
 * The cursor_start_node answer for the 4 KiB page at `t` when the cached
 * path already ends in the level-1 node holding it: true and `out` filled,
 * else false (ask cursor_start_node).
 */
static inline bool cursor_cached_leaf_node(const struct cursor *c, uint64_t t,
					   struct walk_node *out)
{
	uint64_t span = mm_level_size(2);
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
void cursor_start_node(struct cursor *c, uint64_t lo, uint64_t hi, struct walk_node *out);
/* The child node of entry `e` (a table) of `parent`, spanning from e_start. */
void cursor_child(struct cursor *c, const struct walk_node *parent, pte_t e, uint64_t e_start,
		  struct walk_node *out);
/* Remember `child` (reached for offset t) as the deepest cached node. */
void cursor_cache_descend(struct cursor *c, const struct walk_node *child, uint64_t t);

/* Clear entry i of the parent and put the child node on the release list. */
void cursor_detach_node(struct cursor *c, pte_t *ptbl, struct frame_slot *ps, unsigned i,
			unsigned plevel, paddr_t child);
/* Mark a node cut from the tree (its parent entry already gone or going). */
void cursor_retire_node(struct cursor *c, paddr_t pa, unsigned level);
/*
 * After an unmap that started at cached level `level` (offset t inside it):
 * detach the nodes on the cached path it left empty, up to the guard.
 */
void cursor_reclaim_path(struct cursor *c, unsigned level, uint64_t t);
bool cursor_node_reclaimable(const struct page_table *pt, unsigned level);

/* Add [lo, hi) to the cursor's pending TLB flush. */
static inline void cursor_record_flush(struct cursor *c, uint64_t lo, uint64_t hi)
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
	c->flush_pages += (hi - lo) >> MM_PAGE_SHIFT;
}
/* Apply the deferred one-page references (cursor_ops.c) and forget the block. */
void cursor_settle_refs(struct cursor *c);

void cursor_leaf_mapping(const struct cursor *c, pte_t e, unsigned level, uint64_t t,
			 struct mm_mapping *out);

#endif /* MM_CURSOR_INTERNAL_H */
