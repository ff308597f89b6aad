/*
 * tlb_model.c - the harness's binding of the translation-cache model (see
 * tlb_model.h).
 */
#include "tlb_model.h"

#include <stdlib.h>

void h_tlb_model_on(struct harness *h, const struct ptmm_page_table *pt)
{
	if (!h->tlb_model)
		h->tlb_model = calloc(1, sizeof(*h->tlb_model));
	assert_non_null(h->tlb_model);
	tlbm_reset(h->tlb_model, &h->ft, pt);
}

void h_tlb_model_off(struct harness *h)
{
	free(h->tlb_model);
	h->tlb_model = NULL;
}

/* The model's name for a hook's flush. */
static enum tlbm_flush model_kind(enum tlb_kind kind)
{
	switch (kind) {
	case TLB_PAGE: return TLBM_PAGE;
	case TLB_RANGE: return TLBM_RANGE;
	case TLB_ALL: return TLBM_ALL;
	case TLB_ACTIVATE: return TLBM_ACTIVATE;
	}
	fail_msg("unknown TLB event kind %d", (int)kind);
	return TLBM_ALL;
}

void h_tlb_model_flush(struct harness *h, enum tlb_kind kind, ptmm_vaddr_t va, uint64_t len)
{
	if (h->tlb_model)
		tlbm_flush(h->tlb_model, model_kind(kind), va, len);
}

void h_tlb_touch(struct harness *h, unsigned cpu, ptmm_vaddr_t va)
{
	assert_non_null(h->tlb_model);
	tlbm_touch(h->tlb_model, cpu, va);
}

int h_tlb_check(struct harness *h, bool closed, char *buf, size_t len)
{
	return h->tlb_model ? tlbm_check(h->tlb_model, closed, buf, len) : PTMM_OK;
}

void h_tlb_assert(struct harness *h, bool closed, const char *where)
{
	char buf[256];
	if (h_tlb_check(h, closed, buf, sizeof(buf)) != PTMM_OK)
		fail_msg("TLB model %s: %s", where, buf);
}
