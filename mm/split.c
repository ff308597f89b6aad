/*
 * split.c - splitting a huge leaf into a node of 512 smaller leaves, the
 * step map, unmap and protect take where a change cuts a leaf (the
 * contract is in change.h).
 */
#include "change.h"

#include "cursor_path.h"
#include "frame_internal.h"
#include "node_reserve.h"
#include "rmap_internal.h"

void ptmm__split_leaf(struct change *ch, struct walk_node *n, const struct entry_span *sp,
		      struct walk_node *child)
{
	ptmm_pte_t e = ptmm_pte_read(&n->tbl[sp->i]);
	PTMM_ASSERT(n->level > 1 && ptmm_pte_is_leaf(ch->f, e, n->level) && node_is_locked(n->slot));
	ptmm_paddr_t pa = ptmm_pte_addr(ch->f, e, n->level);
	uint64_t step = ptmm_level_size(n->level - 1);
	struct ptmm_prop prop = ch->a->leaf_prop(ch->a, e, n->level);
	/* The children keep the parent's software tag (untracked stays untracked). */
	ptmm_pte_t tmpl = ch->a->leaf_template(ch->a, prop, n->level - 1) | (e & ch->f->untracked);

	reserve_take(ch->c, n->level - 1, sp->start, child);
	ptmm_pte_t *ctbl = child->tbl;
	/* As in map's fill_leaves: each child's entry is the previous one plus the step's field. */
	ptmm_pte_t ce = ptmm_pte_make(ch->f, tmpl, pa), cstep = ptmm_pte_addr_step(ch->f, tmpl, step);
	for (unsigned j = 0; j < PTMM_PTES_PER_NODE; j++, ce += cstep)
		ptmm_pte_write(&ctbl[j], ce);
	ptmm__rmap_split(ch->c->pt, sp->start, n->level, e);
	child->slot->nr_children = PTMM_PTES_PER_NODE;
	if (!leaf_untracked(ch, e) && ptmm_frame_is_ram(ch->ft, pa))
		ptmm__frame_split_leaf(ch->ft, pa, ptmm_level_size(n->level), &ch->c->block_hint);
	link_child(ch->c, n, sp->i, child);
}
