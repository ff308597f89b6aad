/*
 * deferred_refs.c - settling the references one-page calls deferred
 * (the protocol is in deferred_refs.h).
 */
#include "deferred_refs.h"

#include "frame_internal.h"

/* Start deferring the references of the block whose head is slot `head`. */
static void deferred_begin(struct ptmm_cursor *c, uint32_t head, int32_t delta, bool held)
{
	const struct ptmm_frame_table *ft = c->pt->ft;
	struct ptmm_deferred_refs *d = &c->deferred;
	PTMM_ASSERT(d->block == PTMM_FRAME_NIL); /* the previous block was settled */
	d->block = head;
	d->pa = ptmm_frame_slot_pa(ft, &ft->slots[head]);
	d->size = PTMM_PAGE_SIZE << ft->slots[head].order;
	d->refcount = &ft->slots[head].refcount;
	d->delta = delta;
	d->held = held;
}

void ptmm__deferred_settle(struct ptmm_cursor *c)
{
	struct ptmm_deferred_refs *d = &c->deferred;
	if (d->block == PTMM_FRAME_NIL)
		return;
	if (d->delta)
		ptmm__frame_settle_refs(c->pt->ft, d->block, d->delta, &c->batch.rel);
	deferred_init(d);
}

int ptmm__deferred_take_other(struct ptmm_cursor *c, ptmm_paddr_t pa)
{
	ptmm__deferred_settle(c);
	int err = ptmm__frame_map_page(c->pt->ft, pa, &c->block_hint);
	if (!err)
		deferred_begin(c, c->block_hint, 0, true);
	return err;
}

void ptmm__deferred_drop_other(struct ptmm_cursor *c, ptmm_paddr_t pa)
{
	/*
	 * Start deferring for the block of pa.  Once settled, the leaf's
	 * reference is real, so its block cannot change under the lookup,
	 * and with delta < 0 it cannot until the next settle.
	 */
	ptmm__deferred_settle(c);
	deferred_begin(c, ptmm__frame_mapped_block(c->pt->ft, pa, &c->block_hint), -1, false);
}
