/*
 * tlb_batch.h - the cursor's TLB batch (struct ptmm_tlb_batch, in
 * cursor.h): which translations its next flush must invalidate, and what
 * that flush then releases.  The two live in one object because they are
 * one rule: what an operation removes (frames, detached nodes) may be
 * reused only after the flush that covers every way a TLB could still
 * reach it (MODEL.md, the release rule).  Not part of the API.
 *
 * An operation records each range it changed (tlb_batch_add) and each
 * table it cut from the tree (tlb_batch_table_removed: then everything
 * is invalidated, the paging-structure caches may hold the table);
 * ptmm_cursor_flush (tlb_batch.c) invalidates with one TLB hook call and
 * then ends the release interval `rel`.
 */
#ifndef MM_TLB_BATCH_H
#define MM_TLB_BATCH_H

#include <ptmm/cursor.h>
#include <ptmm/mm_assert.h>

/* An empty batch with an unopened release interval (for a new or closed cursor). */
static inline void tlb_batch_init(struct ptmm_tlb_batch *b)
{
	*b = (struct ptmm_tlb_batch){ .rel = { .nodes = PTMM_FRAME_NIL } };
}

/* Add [lo, hi) (tree offsets, page-aligned, lo < hi) to what the next flush invalidates. */
static inline void tlb_batch_add(struct ptmm_tlb_batch *b, uint64_t lo, uint64_t hi)
{
	/*
	 * The common case first: [lo, hi) extends the range upwards (runs of
	 * one-page calls): only the top moves.  Also right for an empty range
	 * lo == hi == the batch's (a fresh batch is 0, 0).
	 */
	if (lo == b->hi && b->lo <= lo) {
		b->hi = hi;
	} else if (b->lo >= b->hi) {
		b->lo = lo;
		b->hi = hi;
	} else {
		b->lo = lo < b->lo ? lo : b->lo;
		b->hi = hi > b->hi ? hi : b->hi;
	}
	b->pages += (hi - lo) >> PTMM_PAGE_SHIFT;
}

/*
 * A table entry was removed: the next flush invalidates everything
 * (unless the mutation test of that flush site is running).
 */
static inline void tlb_batch_table_removed(struct ptmm_tlb_batch *b)
{
	b->tables = !PTMM_MUTANT(PTMM_MUT_TABLES) || b->tables;
}

#endif /* MM_TLB_BATCH_H */
