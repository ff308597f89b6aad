/*
 * cursor_path.h - the cursor's cached path: the nodes from its guard down
 * to the last position visited (ptmm_cursor.node/table/slot for levels
 * level .. guard_level, each spanning cache_va), and the walks that start
 * from it instead of from the root.  Not part of the API.
 *
 * Every node below the guard that meets the cursor's range is locked by
 * the cursor from open to close (lock.c), so the path needs no locking of
 * its own and every read below is of a node the cursor holds.  A node
 * that leaves the tree is cut off the path (reclaim.h).
 */
#ifndef MM_CURSOR_PATH_H
#define MM_CURSOR_PATH_H

#include <ptmm/cursor.h>

#include "addr.h"
#include "walk.h"

/* Node `l` of the cached path as a walk node spanning from `base`. */
static inline void path_node(const struct ptmm_cursor *c, unsigned l, uint64_t base, struct walk_node *out)
{
	PTMM_ASSERT(l >= c->level && l <= c->guard_level && node_is_locked(c->slot[l]));
	out->level = l;
	out->pa = c->node[l];
	out->tbl = c->table[l];
	out->slot = c->slot[l];
	out->base = base;
}

/* Make `child` (entered for offset t) the deepest node of the cached path. */
static inline void path_descend(struct ptmm_cursor *c, const struct walk_node *child, uint64_t t)
{
	c->node[child->level] = child->pa;
	c->table[child->level] = child->tbl;
	c->slot[child->level] = child->slot;
	c->level = child->level;
	c->cache_va = t;
}

/*
 * The deepest node of the cached path whose span holds [lo, hi) strictly
 * inside (the guard if no deeper one does): where an operation on
 * [lo, hi) starts.  Strictly: an operation on a node's whole span may
 * need the parent's entry (one huge leaf, or removing the node).
 * Assumes [lo, hi) is inside the cursor's range.
 */
static inline void path_start_node(const struct ptmm_cursor *c, uint64_t lo, uint64_t hi, struct walk_node *out)
{
	PTMM_ASSERT(c->start <= lo && lo < hi && hi <= c->end);
	unsigned l = c->level;
	while (l < c->guard_level) {
		uint64_t span = ptmm_level_size(l + 1);
		if (hi - lo < span && (lo & ~(span - 1)) == (c->cache_va & ~(span - 1)) &&
		    ((hi - 1) & ~(span - 1)) == (c->cache_va & ~(span - 1)))
			break;
		l++;
	}
	path_node(c, l, node_base(l, lo), out);
}

/*
 * path_start_node for the 4 KiB page at `t` when the cached path already
 * ends in the level-1 node holding it: true and `out` filled, else false.
 */
static inline bool path_leaf_node(const struct ptmm_cursor *c, uint64_t t, struct walk_node *out)
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
 * path_start_node for the 4 KiB page at offset `t`, without its range
 * tests.  A page lies strictly inside the span of every node, so the node
 * at level l holds it exactly when t and cache_va agree on every bit above
 * that span (2^(12 + 9l) bytes): one xor.
 */
static inline void path_page_start_node(const struct ptmm_cursor *c, uint64_t t, struct walk_node *out)
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
 * `n`.  Reads only.  Assumes t is inside the cursor's range.
 */
static inline ptmm_pte_t path_walk_page(struct ptmm_cursor *c, uint64_t t, struct walk_node *n)
{
	const struct ptmm_pte_format *f = &c->arch->fmt;
	const struct ptmm_frame_table *ft = c->pt->ft;
	path_page_start_node(c, t, n);
	for (;;) {
		unsigned i = ptmm_level_index(t, n->level);
		ptmm_pte_t e = ptmm_pte_read(&n->tbl[i]);
		if (!ptmm_pte_is_present(e) || ptmm_pte_is_leaf(f, e, n->level))
			return e;
		/* A table entry: enter the child and make it the cached path's end. */
		n->base = entry_start(n->level, n->base, i);
		n->level--;
		n->pa = ptmm_pte_table_addr(f, e);
		n->tbl = node_entries(ft, n->pa);
		n->slot = node_slot(ft, n->pa);
		path_descend(c, n, t);
	}
}

#endif /* MM_CURSOR_PATH_H */
