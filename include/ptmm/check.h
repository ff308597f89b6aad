/*
 * check.h - the executable form of MODEL.md sections 2-4.
 *
 * ptmm_check() walks every given page table and the frame metadata and
 * returns PTMM_OK, or 1 with a precise description of the first violation in
 * `buf`.  It needs exclusive access (no cursor open on these tables) and
 * uses the slots' scratch field.  All page tables that map frames of `ft`
 * must be passed, or the reverse checks (mapping counts) will fail.
 *
 * With the reverse map (PTMM_RMAP, rmap.h; MODEL.md M8) every leaf must
 * also match its record (level, exact PA) and every record a leaf, so all
 * tables with any leaf (MMIO and untracked ones too) must be passed.  If
 * the record pool overflowed, the answer is PTMM_CHECK_UNVERIFIED when no
 * violation is found: the paths were checked only in part (a violation
 * still wins, and is PTMM_CHECK_VIOLATION).
 */
#ifndef PTMM_CHECK_H
#define PTMM_CHECK_H

#include "page_table.h"

/* ptmm_check's answers besides PTMM_OK. */
#define PTMM_CHECK_VIOLATION 1  /* the first violation is in buf */
#define PTMM_CHECK_UNVERIFIED 2 /* no violation, but the reverse map overflowed: paths checked in part */

int ptmm_check(struct ptmm_page_table *const *pts, unsigned nr_pts, struct ptmm_frame_table *ft,
	     char *buf, size_t buflen);

struct ptmm_cursor;

/*
 * ptmm_check while one cursor `open` is open on one of the tables, just
 * after ptmm_cursor_flush(open) (so that its deferred counts and releases are
 * in the slots): ptmm_check_cursor(open), then everything ptmm_check checks,
 * the node locks excepted that the cursor holds (its guard and the nodes
 * below it that meet its range), and its guard may be empty (an empty
 * guard is reclaimed at the close).  Single-threaded use only.
 */
int ptmm_check_open(struct ptmm_page_table *const *pts, unsigned nr_pts, struct ptmm_frame_table *ft,
		  const struct ptmm_cursor *open, char *buf, size_t buflen);

/*
 * MODEL.md section 4 for the open cursor `c`, between its operations: its
 * current VA is page aligned and inside [start, end]; its guard node is an
 * attached, locked node of guard_level on the path of `start`, whose span
 * covers the range; the cached path node[level..guard_level] is a chain
 * of attached nodes, each the child of the one above at cache_va, with the
 * right tables and slots; and every node below the guard that meets the
 * range is locked and attached.  Returns PTMM_OK, or 1 with the first
 * violation in `buf`.  Reads only; no other cursor may change the path
 * from the root to the guard meanwhile.
 */
int ptmm_check_cursor(const struct ptmm_cursor *c, char *buf, size_t buflen);

/* Resource counts of one page table (ptsim `stats`). */
struct ptmm_stats {
	uint64_t nodes;  /* nodes owned, root included */
	uint64_t mapped; /* sum of leaf sizes */
	uint64_t frames; /* distinct RAM frames mapped at least once (untracked leaves not counted) */
};

/* Exclusive access required (uses the slots' scratch field). */
void ptmm_stats(struct ptmm_page_table *pt, struct ptmm_stats *out);

#endif /* PTMM_CHECK_H */
