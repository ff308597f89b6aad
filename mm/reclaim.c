/*
 * reclaim.c - reclaiming the nodes an unmap leaves empty: along the
 * cursor's path while it is open, and above its guard at close (the rule
 * is in reclaim.h).
 */
#include "reclaim.h"

#include "addr.h"
#include "lock.h"
#include "spinlock.h"

void ptmm__reclaim_path(struct ptmm_cursor *c, unsigned level, uint64_t t)
{
	/*
	 * Up to the guard (its removal is the close's business) and below
	 * the first level never reclaimed (node_reclaimable: the root; in a
	 * kernel table the nodes under the root, shared).
	 */
	unsigned levels = c->arch->levels;
	unsigned stop = c->pt->space == PTMM_PT_KERNEL ? levels - 1u : levels;
	if (stop > c->guard_level)
		stop = c->guard_level;
	/* Nodes below the start node were reclaimed by the walk itself. */
	for (unsigned l = level; l < stop && c->level <= l && c->slot[l]->nr_children == 0; l++) {
		PTMM_ASSERT(node_reclaimable(c->pt, l));
		cursor_detach_node(c, c->table[l + 1], c->slot[l + 1], ptmm_level_index(t, l + 1), l + 1,
				   c->node[l]);
	}
}

void ptmm__reclaim_upwards(struct ptmm_cursor *c, uint64_t t, unsigned level)
{
	const struct ptmm_pte_format *f = &c->arch->fmt;
	struct ptmm_frame_table *ft = c->pt->ft;

	while (node_reclaimable(c->pt, level)) {
		unsigned plevel;
		ptmm_paddr_t parent = ptmm__lock_covering_node(c->pt, t, t + PTMM_PAGE_SIZE, level + 1, &plevel);
		struct ptmm_frame_slot *ps = node_slot(ft, parent);
		ptmm_pte_t *ptbl = node_entries(ft, parent);
		unsigned i = ptmm_level_index(t, plevel);
		ptmm_pte_t e = ptmm_pte_read(&ptbl[i]);
		bool emptied = false;
		/* Re-read under the lock: the node may be gone or refilled meanwhile. */
		if (plevel == level + 1 && ptmm_pte_is_present(e) && !ptmm_pte_is_leaf(f, e, plevel)) {
			ptmm_paddr_t child = ptmm_pte_table_addr(f, e);
			struct ptmm_frame_slot *cs = node_slot(ft, child);
			ptmm__lock_node(c, cs, child, level, node_base(level, t));
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
