/*
 * cursor_expect.h - what the cursor tests (tests/test_cursor*.c) share: VAs
 * and properties of the harness's space, node counts of a path, and
 * assertions on a snapshot of the view (runs of leaves, counts, stats).
 */
#ifndef TESTS_CURSOR_EXPECT_H
#define TESTS_CURSOR_EXPECT_H

#include "harness.h"

#define SZ_1M MiB

/* A VA at offset `off` inside the space of h->pt. */
ptmm_vaddr_t hv(const struct harness *h, uint64_t off);

/* Read-write, write-back, with U or G for the space. */
struct ptmm_prop rw(const struct harness *h);

/* Read-only, write-back, with U or G for the space. */
struct ptmm_prop ro(const struct harness *h);

/* Nodes of an empty table: the root, plus the kernel's preallocated ones. */
uint64_t base_nodes(const struct harness *h);

/* The level of a leaf of `size` (a level size). */
unsigned leaf_level(uint64_t size);

/* Nodes a lone leaf of `size` adds to an empty table. */
uint64_t path_nodes(const struct harness *h, uint64_t size);

/*
 * Nodes below the root that `n` leaves (VA and leaf size each) need in a
 * table of h's mode, not counting a kernel table's preallocated
 * level-(levels-1) nodes: the distinct nodes on their paths.
 */
uint64_t nodes_for(const struct harness *h, bool kernel, const ptmm_vaddr_t *va,
			  const uint64_t *size, size_t n);

/* The smaller of two sizes. */
uint64_t min_size(uint64_t a, uint64_t b);

/* Snapshot h->pt (view, stats, free frames). */
void snap(struct harness *h, struct h_snapshot *s);

/*
 * Assert leaves [idx, idx+count) of s are the run va + i*size -> pa + i*size
 * with property p; returns idx + count.
 */
size_t expect_run(const struct h_snapshot *s, size_t idx, ptmm_vaddr_t va, uint64_t size,
			 ptmm_paddr_t pa, uint64_t count, struct ptmm_prop p, bool mmio);

/* Assert the view has exactly n leaves. */
void expect_count(const struct h_snapshot *s, size_t n);

/* Assert the stats of a snapshot. */
void expect_stats(const struct h_snapshot *s, uint64_t nodes, uint64_t mapped,
			 uint64_t frames);

/* Unmap the whole space and expect the empty table's resources back. */
void unmap_all_and_expect_empty(struct harness *h, uint64_t free_data, uint64_t free_pool);

/* The PTE at `level` on the path to va, or NULL if the walk stops above. */
ptmm_pte_t *pte_at(struct harness *h, ptmm_vaddr_t va, unsigned want_level);

/* Run `expr`, expect `code`, and prove view, stats and free memory unchanged. */
#define EXPECT_ERR_UNCHANGED(h, code, expr)                                     \
	do {                                                                    \
		struct h_snapshot before_, after_;                              \
		snap((h), &before_);                                            \
		H_ERR((expr), (code));                                          \
		snap((h), &after_);                                             \
		h_assert_same(&before_, &after_, #expr);                        \
		h_snapshot_free(&before_);                                      \
		h_snapshot_free(&after_);                                       \
	} while (0)

#endif /* TESTS_CURSOR_EXPECT_H */
