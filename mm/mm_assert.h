/*
 * mm_assert.h - invariant assertions inside the mm, through an embedder hook.
 *
 * MM_ASSERT(cond) states a fact the code relies on at that point: a
 * precondition the caller guarantees, a pass that "cannot fail", a count
 * that must balance.  It is not error handling: bad input from an API
 * caller is answered with an error code, never with an assertion.
 *
 * With MM_DEBUG defined (host tests, ptsim, the demo kernels: meson option
 * `mm_debug`, on by default) a false condition calls the embedder's hook
 * mm_assert_failed(), which must not return (print and stop the CPU, abort
 * the process, or longjmp out of a test that expects it).  Without
 * MM_DEBUG the condition is not evaluated and costs nothing.
 */
#ifndef MM_ASSERT_H
#define MM_ASSERT_H

/*
 * Provided by the embedder in MM_DEBUG builds.  `file`, `line` and `cond`
 * (the condition's source text) say which assertion failed.
 */
__attribute__((__noreturn__)) void mm_assert_failed(const char *file, int line, const char *cond);

/*
 * Provided by the embedder in MM_DEBUG builds: a token that identifies the
 * thread of execution calling into the mm (a thread, or a CPU while it
 * runs with interrupts disabled), the same for every call from it.  The
 * mm compares tokens only for equality: with it, a cursor that would wait
 * for a lock its own thread holds is reported (mm_assert_failed) instead
 * of spinning forever.
 */
const void *mm_debug_context(void);

/*
 * Mutation switches for the tests that prove every TLB flush of the mm is
 * needed (tests/test_tlb.c): in MM_DEBUG builds, flush site n is skipped
 * while mm_mutation == n.  Without MM_DEBUG the switch is the constant 0
 * and costs nothing.
 */
enum mm_flush_site {
	MM_MUT_NONE = 0,
	MM_MUT_FLUSH_ALL,     /* cursor_flush: the flush_all hook call */
	MM_MUT_FLUSH_PAGE,    /* cursor_flush: the flush_page hook call */
	MM_MUT_FLUSH_RANGE,   /* cursor_flush: the flush_range hook call */
	MM_MUT_TABLES,        /* cursor_retire_node: "a table was removed: flush all" */
	MM_MUT_MAP_PAGE,      /* install_page_leaf: record the new 4K leaf */
	MM_MUT_UNMAP_PAGE,    /* unmap_page: record the removed 4K leaf */
	MM_MUT_UNMAP_FAST,    /* unmap_page_fast: record the removed 4K leaf */
	MM_MUT_MAP_GENERAL,   /* map_general: record the mapped range */
	MM_MUT_UNMAP_GENERAL, /* unmap_general: record the unmapped range */
	MM_MUT_PROTECT,       /* protect_real: record a whole leaf re-protected */
	MM_MUT_COUNT
};

#ifdef MM_DEBUG
extern unsigned mm_mutation;
#define MM_MUTANT(site) (mm_mutation == (site))
#else
#define MM_MUTANT(site) 0
#endif

#ifdef MM_DEBUG
#define MM_ASSERT(cond) \
	((cond) ? (void)0 : mm_assert_failed(__FILE__, __LINE__, #cond))
#else
#define MM_ASSERT(cond) ((void)0)
#endif

#endif /* MM_ASSERT_H */
