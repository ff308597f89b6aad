/*
 * tlb_batch.c - ptmm_cursor_flush: the one point where a cursor's changes
 * become final.  Deferred counts are applied, the TLB hooks invalidate
 * what the batch recorded, and only then is what left the tree released
 * (the protocol is in tlb_batch.h).
 */
#include <ptmm/cursor.h>

#include "addr.h"
#include "deferred_refs.h"
#include "frame_internal.h"
#include "tlb_batch.h"

#ifdef PTMM_DEBUG
unsigned ptmm_mutation; /* mm_assert.h */
#endif

/* Invalidate what the batch recorded, with one call of the table's TLB hooks. */
static void tlb_batch_invalidate(const struct ptmm_arch *a, const struct ptmm_tlb_batch *b)
{
	const struct ptmm_tlb_ops *tlb = a->tlb;
	/* The paging-structure caches may hold a removed table: flush all. */
	if (b->tables) {
		if (!PTMM_MUTANT(PTMM_MUT_FLUSH_ALL))
			tlb->flush_all(tlb->ctx);
	} else if (b->pages == 1) {
		if (!PTMM_MUTANT(PTMM_MUT_FLUSH_PAGE))
			tlb->flush_page(tlb->ctx, tree_canonical(a, b->lo));
	} else if (b->lo < b->hi) {
		if (!PTMM_MUTANT(PTMM_MUT_FLUSH_RANGE))
			tlb->flush_range(tlb->ctx, tree_canonical(a, b->lo), b->hi - b->lo);
	}
}

void ptmm_cursor_flush(struct ptmm_cursor *c)
{
	if (!ptmm_cursor_is_open(c))
		return;
	/* Deferred counts first: a block they bring to zero is released below. */
	ptmm__deferred_settle(c);
	if (c->nodes_delta) {
		atomic_fetch_add(&c->pt->nr_nodes, (uint64_t)c->nodes_delta);
		c->nodes_delta = 0;
	}
	tlb_batch_invalidate(c->arch, &c->batch);
	c->batch.lo = c->batch.hi = 0;
	c->batch.pages = 0;
	c->batch.tables = false;
	/* Only now may what left the tree be reused. */
	ptmm__frame_release_all(c->pt->ft, &c->batch.rel);
}
