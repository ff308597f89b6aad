/*
 * mm_assert.h - invariant assertions inside the mm, through an embedder hook.
 *
 * PTMM_ASSERT(cond) states a fact the code relies on at that point: a
 * precondition the caller guarantees, a pass that "cannot fail", a count
 * that must balance.  It is not error handling: bad input from an API
 * caller is answered with an error code, never with an assertion.
 *
 * With PTMM_DEBUG defined (host tests, ptsim, the demo kernels: meson option
 * `mm_debug`, on by default) a false condition calls the embedder's hook
 * ptmm_assert_failed(), which must not return (print and stop the CPU, abort
 * the process, or longjmp out of a test that expects it).  Without
 * PTMM_DEBUG the condition is not evaluated and costs nothing.
 */
#ifndef PTMM_ASSERT_H
#define PTMM_ASSERT_H

/*
 * Provided by the embedder in PTMM_DEBUG builds.  `file`, `line` and `cond`
 * (the condition's source text) say which assertion failed.
 */
__attribute__((__noreturn__)) void ptmm_assert_failed(const char *file, int line, const char *cond);

/*
 * Provided by the embedder in PTMM_DEBUG builds: a token that identifies the
 * thread of execution calling into the mm (a thread, or a CPU while it
 * runs with interrupts disabled), the same for every call from it.  The
 * mm compares tokens only for equality: with it, a cursor that would wait
 * for a lock its own thread holds is reported (ptmm_assert_failed) instead
 * of spinning forever.
 */
const void *ptmm_debug_context(void);

/*
 * Mutation switches for the tests that prove every TLB flush of the mm is
 * needed (tests/test_tlb.c): in PTMM_DEBUG builds, flush site n is skipped
 * while ptmm_mutation == n.  Without PTMM_DEBUG the switch is the constant 0
 * and costs nothing.
 */
enum ptmm_flush_site {
	PTMM_MUT_NONE = 0,
	PTMM_MUT_FLUSH_ALL,     /* ptmm_cursor_flush (mm/tlb_batch.c): the flush_all hook call */
	PTMM_MUT_FLUSH_PAGE,    /* ptmm_cursor_flush: the flush_page hook call */
	PTMM_MUT_FLUSH_RANGE,   /* ptmm_cursor_flush: the flush_range hook call */
	PTMM_MUT_TABLES,        /* tlb_batch_table_removed: "a table was removed: flush all" */
	PTMM_MUT_MAP_PAGE,      /* install_page_leaf: record the new 4K leaf */
	PTMM_MUT_UNMAP_PAGE,    /* unmap_one_page: record the removed 4K leaf */
	PTMM_MUT_UNMAP_FAST,    /* unmap_page_cached: record the removed 4K leaf */
	PTMM_MUT_MAP_GENERAL,   /* map_range: record the mapped range */
	PTMM_MUT_UNMAP_GENERAL, /* unmap_range: record the unmapped range */
	PTMM_MUT_PROTECT,       /* protect_real: record a whole leaf re-protected */
	PTMM_MUT_COUNT
};

/* The same switches for the ASID scheme (tests/test_asid.c): not TLB flush calls of a cursor. */
enum ptmm_asid_mutation {
	PTMM_MUT_ASID_FLUSH = PTMM_MUT_COUNT, /* asid.c rollover: mark every CPU to flush at its next switch */
	PTMM_MUT_ASID_RESERVE,                /* asid.c rollover: keep the ASID each CPU runs */
	PTMM_MUT_ASID_END
};

#ifdef PTMM_DEBUG
extern unsigned ptmm_mutation;
#define PTMM_MUTANT(site) (ptmm_mutation == (site))
#else
#define PTMM_MUTANT(site) 0
#endif

#ifdef PTMM_DEBUG
#define PTMM_ASSERT(cond) \
	((cond) ? (void)0 : ptmm_assert_failed(__FILE__, __LINE__, #cond))
#else
#define PTMM_ASSERT(cond) ((void)0)
#endif

#endif /* PTMM_ASSERT_H */
