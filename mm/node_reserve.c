/*
 * node_reserve.c - allocating and giving back an operation's nodes (the
 * rule is in node_reserve.h).
 */
#include "node_reserve.h"

#include "frame_internal.h"

void ptmm__reserve_give_back(struct ptmm_cursor *c)
{
	struct ptmm_frame_table *ft = c->pt->ft;
	while (c->reserve != PTMM_FRAME_NIL) {
		struct ptmm_frame_slot *s = &ft->slots[c->reserve];
		c->reserve = s->next;
		ptmm__frame_node_free(ft, ptmm_frame_slot_pa(ft, s));
	}
}

int ptmm__reserve_nodes(struct ptmm_cursor *c, unsigned n)
{
	struct ptmm_frame_table *ft = c->pt->ft;
	PTMM_ASSERT(c->reserve == PTMM_FRAME_NIL); /* one operation at a time */
	for (unsigned k = 0; k < n; k++) {
		ptmm_paddr_t pa;
		int err = ptmm__frame_node_alloc(ft, c->pt->node_zone, 0, &pa);
		if (err) {
			ptmm__reserve_give_back(c);
			return err;
		}
		struct ptmm_frame_slot *s = node_slot(ft, pa);
		s->next = c->reserve;
		c->reserve = frame_slot_index(ft, s);
	}
	return PTMM_OK;
}
