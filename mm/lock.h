/*
 * lock.h - the lock protocol of the trees (lock.c; MODEL.md section 4):
 * how a cursor finds and locks its guard, locks what lies under it, and
 * how the nodes it holds are told from those it must wait for.  Not part
 * of the API.
 */
#ifndef MM_LOCK_H
#define MM_LOCK_H

#include <ptmm/cursor.h>

/*
 * Walk without locks from the root towards [lo, hi) and lock the deepest
 * node at or above `min_level` whose range covers it (a *covering* node:
 * for a cursor, its guard).  Returns its PA and stores its level; the
 * node is locked and attached.  Retries by itself when the tree changes
 * under the walk; cannot fail.  Assumes lo < hi, both inside pt's tree.
 */
ptmm_paddr_t ptmm__lock_covering_node(struct ptmm_page_table *pt, uint64_t lo, uint64_t hi,
				      unsigned min_level, unsigned *level_out);

/*
 * Take the lock of the node `s` (at `pa`, `level`, spanning from `base`),
 * waiting for it.  Assumes the node is in the tree and under a node the
 * caller holds (so it cannot be freed meanwhile), and that no cursor of
 * the calling thread holds it (reported by PTMM_DEBUG builds).
 */
void ptmm__lock_node(struct ptmm_cursor *c, struct ptmm_frame_slot *s, ptmm_paddr_t pa, unsigned level,
		     uint64_t base);

/*
 * Lock, top-down, every node below the node `tbl` (slot `s`, at `level`,
 * spanning from `base`) whose range meets [lo, hi), which lies inside the
 * node's span: step 2 of the protocol.  The caller holds `s`.
 */
void ptmm__lock_range(struct ptmm_cursor *c, const ptmm_pte_t *tbl, const struct ptmm_frame_slot *s,
		      unsigned level, uint64_t base, uint64_t lo, uint64_t hi);

/* Unlock what ptmm__lock_range locked for the same arguments (the tree may have changed under it). */
void ptmm__unlock_range(struct ptmm_cursor *c, const ptmm_pte_t *tbl, const struct ptmm_frame_slot *s,
			unsigned level, uint64_t base, uint64_t lo, uint64_t hi);

/*
 * Register the cursor `c` as a holder of locks of its table (before its
 * first lock) and unregister it (after its last unlock): what lets
 * PTMM_DEBUG builds report a thread that would wait for itself.  Nothing
 * in other builds.
 */
#ifdef PTMM_DEBUG
void ptmm__lock_holder_register(struct ptmm_cursor *c);
void ptmm__lock_holder_unregister(struct ptmm_cursor *c);
#else
static inline void ptmm__lock_holder_register(struct ptmm_cursor *c) { (void)c; }
static inline void ptmm__lock_holder_unregister(struct ptmm_cursor *c) { (void)c; }
#endif

#endif /* MM_LOCK_H */
