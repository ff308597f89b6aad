/*
 * tlb_model.h - the translation-cache model (tools/tlbmodel/tlbm.h) bound
 * to a harness: the harness's TLB hooks drive it, a test touches VAs and
 * asserts on it (issue 11).  What the model caches, how each flush empties
 * it and what h_tlb_check verifies: tlbm.h.
 */
#ifndef TESTS_TLB_MODEL_H
#define TESTS_TLB_MODEL_H

#include "harness.h"
#include "tlbm.h"

#define H_TLB_CPUS TLBM_CPUS

/* Start (or reset) the model of h: every CPU empty, with `pt` active (bounded mode). */
void h_tlb_model_on(struct harness *h, const struct ptmm_page_table *pt);
/* The same in the complete mode (the explorer's: h_tlb_fill_all caches everything). */
void h_tlb_model_on_complete(struct harness *h, const struct ptmm_page_table *pt);
void h_tlb_model_off(struct harness *h);
/* Called by the harness's hooks (nothing while the model is off). */
void h_tlb_model_flush(struct harness *h, enum tlb_kind kind, ptmm_vaddr_t va, uint64_t len);
/* A hardware access by `cpu` at va of the table active on it: fill its caches. */
void h_tlb_touch(struct harness *h, unsigned cpu, ptmm_vaddr_t va);
/* Complete mode: `cpu` may now cache everything its active table holds (tlbm_fill_all). */
void h_tlb_fill_all(struct harness *h, unsigned cpu);
/* PTMM_OK (also while off), or 1 with the first violation in buf. */
int h_tlb_check(struct harness *h, bool closed, char *buf, size_t len);
/* Fail the test on a violation. */
void h_tlb_assert(struct harness *h, bool closed, const char *where);

#endif /* TESTS_TLB_MODEL_H */
