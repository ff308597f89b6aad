/*
 * tlb_model.c - the harness's binding of the translation-cache model (see
 * tlb_model.h).
 */
#include "tlb_model.h"

#include <stdlib.h>

/* The model of h, allocated on first use, holding nothing (a complete one given back). */
static struct tlbm *model_of(struct harness *h)
{
	if (!h->tlb_model)
		h->tlb_model = calloc(1, sizeof(*h->tlb_model));
	assert_non_null(h->tlb_model);
	tlbm_free(h->tlb_model);
	return h->tlb_model;
}

void h_tlb_model_on(struct harness *h, const struct ptmm_page_table *pt)
{
	tlbm_reset(model_of(h), &h->ft, pt);
}

void h_tlb_model_on_complete(struct harness *h, const struct ptmm_page_table *pt)
{
	tlbm_reset_complete(model_of(h), &h->ft, pt);
}

void h_tlb_model_off(struct harness *h)
{
	if (h->tlb_model)
		tlbm_free(h->tlb_model);
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

void h_tlb_fill_all(struct harness *h, unsigned cpu)
{
	assert_non_null(h->tlb_model);
	tlbm_fill_all(h->tlb_model, cpu);
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
