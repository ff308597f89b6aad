/*
 * reclaim.h - cutting nodes out of a tree: retiring a node, detaching an
 * emptied one from its parent, and reclaiming the nodes an unmap left
 * empty (MODEL.md: no reachable node below the root is empty once its
 * cursor closes, the *reclaim invariant*).  Not part of the API.
 *
 * A node cut from the tree is marked detached, put on the cursor's
 * release interval and stays locked until its flush frees it (racing
 * walkers see the flag and retry); every TLB may cache a path through it,
 * so the flush invalidates everything.
 */
#ifndef MM_RECLAIM_H
#define MM_RECLAIM_H

#include <ptmm/cursor.h>

#include "frame_internal.h"
#include "tlb_batch.h"
#include "walk.h"

/* May the node at `level` be reclaimed when empty?  Not the root, not the shared kernel nodes under it. */
static inline bool node_reclaimable(const struct ptmm_page_table *pt, unsigned level)
{
	if (level >= pt->arch->levels)
		return false;
	return !(pt->space == PTMM_PT_KERNEL && level == pt->arch->levels - 1u);
}

/*
 * Retire the node `pa` at `level`, just cut from the tree (its parent
 * entry gone or going): detached, on the release interval, one node less
 * in the count, a full flush due, and cut off the cached path.  The
 * cursor holds its lock and keeps it until the node is freed.
 */
static inline void cursor_retire_node(struct ptmm_cursor *c, ptmm_paddr_t pa, unsigned level)
{
	struct ptmm_frame_slot *s = node_slot(c->pt->ft, pa);
	PTMM_ASSERT(node_is_locked(s) && s->nr_children == 0);
	frame_release_push_node(c->pt->ft, &c->batch.rel, s);
	c->nodes_delta--;
	tlb_batch_table_removed(&c->batch);
	/* Cut the cached path above a retired node. */
	if (c->level <= level && c->node[level] == pa)
		c->level = level + 1;
}

/*
 * Clear entry i of the parent (table ptbl, slot ps, at plevel), a table
 * pointing to `child`, and retire the child.  Assumes the cursor holds
 * both and that the child's subtree was emptied (or dropped) first.
 */
static inline void cursor_detach_node(struct ptmm_cursor *c, ptmm_pte_t *ptbl, struct ptmm_frame_slot *ps,
				      unsigned i, unsigned plevel, ptmm_paddr_t child)
{
	PTMM_ASSERT(node_is_locked(ps) && ps->nr_children > 0 && ps->nr_tables > 0);
	ptmm_pte_clear(&ptbl[i]);
	ps->nr_children--;
	ps->nr_tables--;
	cursor_retire_node(c, child, plevel - 1u);
}

/*
 * After an unmap that started at cached level `level` (offset t inside
 * it): detach the nodes on the cached path it left empty, bottom-up, up
 * to the guard (whose own removal is the close's business).
 */
void ptmm__reclaim_path(struct ptmm_cursor *c, unsigned level, uint64_t t);

/*
 * After the close unlocked everything: reclaim the empty node at `level`
 * that spans offset `t` (the cursor's former guard), then each ancestor
 * it leaves empty.  Takes its own locks, parent first (lock.c step 3);
 * a node refilled or removed meanwhile by another cursor is left alone.
 * What it detaches goes on the cursor's release interval.
 */
void ptmm__reclaim_upwards(struct ptmm_cursor *c, uint64_t t, unsigned level);

#endif /* MM_RECLAIM_H */
