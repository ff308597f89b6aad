/*
 * cursor_expect.c - the cursor tests' shared helpers (cursor_expect.h).
 */
#define _GNU_SOURCE
#include "cursor_expect.h"


/* A VA at offset `off` inside the space of h->pt. */
ptmm_vaddr_t hv(const struct harness *h, uint64_t off)
{
	return h_space_base(h) + off;
}

/* Read-write, write-back, with U or G for the space. */
struct ptmm_prop rw(const struct harness *h)
{
	return h_prop(h, PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_WB);
}

/* Read-only, write-back, with U or G for the space. */
struct ptmm_prop ro(const struct harness *h)
{
	return h_prop(h, PTMM_PROP_R, PTMM_CACHE_WB);
}

/* Nodes of an empty table: the root, plus the kernel's preallocated ones. */
uint64_t base_nodes(const struct harness *h)
{
	return h_is_kernel(h) ? 1 + PTMM_PTES_PER_NODE / 2 : 1;
}

/* The level of a leaf of `size` (a level size). */
unsigned leaf_level(uint64_t size)
{
	unsigned level = 1;
	while (ptmm_level_size(level) < size)
		level++;
	return level;
}

/* Nodes a lone leaf of `size` adds to an empty table. */
uint64_t path_nodes(const struct harness *h, uint64_t size)
{
	unsigned level = leaf_level(size);
	return (h_is_kernel(h) ? h_levels(h) - 1u : h_levels(h)) - level;
}

/*
 * Nodes below the root that `n` leaves (VA and leaf size each) need in a
 * table of h's mode, not counting a kernel table's preallocated
 * level-(levels-1) nodes: the distinct nodes on their paths.
 */
uint64_t nodes_for(const struct harness *h, bool kernel, const ptmm_vaddr_t *va,
			  const uint64_t *size, size_t n)
{
	uint64_t ids[64][2];
	size_t nr = 0;
	unsigned top = kernel ? h_levels(h) - 1u : h_levels(h);
	uint64_t mask = ((uint64_t)1 << h_va_bits(h)) - 1;

	for (size_t i = 0; i < n; i++) {
		for (unsigned l = leaf_level(size[i]); l < top; l++) {
			uint64_t id = (va[i] & mask) / ptmm_level_size(l + 1);
			size_t j = 0;
			while (j < nr && !(ids[j][0] == l && ids[j][1] == id))
				j++;
			if (j == nr) {
				assert_true(nr < 64);
				ids[nr][0] = l;
				ids[nr][1] = id;
				nr++;
			}
		}
	}
	return nr;
}

/* The smaller of two sizes. */
uint64_t min_size(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* Snapshot h->pt (view, stats, free frames). */
void snap(struct harness *h, struct h_snapshot *s)
{
	h_snapshot(h, s);
}

/*
 * Assert leaves [idx, idx+count) of s are the run va + i*size -> pa + i*size
 * with property p; returns idx + count.
 */
size_t expect_run(const struct h_snapshot *s, size_t idx, ptmm_vaddr_t va, uint64_t size,
			 ptmm_paddr_t pa, uint64_t count, struct ptmm_prop p, bool mmio)
{
	char b1[16], b2[16];
	for (uint64_t i = 0; i < count; i++, idx++) {
		const struct ptmm_mapping *m;
		if (idx >= s->nr)
			fail_msg("expected leaf %zu (va 0x%llx) but the view has %zu leaves", idx,
				 (unsigned long long)(va + i * size), s->nr);
		m = &s->leaves[idx];
		if (m->va != va + i * size || m->size != size || m->pa != pa + i * size ||
		    !ptmm_prop_eq(m->prop, p) || m->mmio != mmio || !m->present)
			fail_msg("leaf %zu: got va=0x%llx size=0x%llx pa=0x%llx %s mmio=%d;"
				 " expected va=0x%llx size=0x%llx pa=0x%llx %s mmio=%d",
				 idx, (unsigned long long)m->va, (unsigned long long)m->size,
				 (unsigned long long)m->pa, h_prop_str(m->prop, b1), m->mmio,
				 (unsigned long long)(va + i * size), (unsigned long long)size,
				 (unsigned long long)(pa + i * size), h_prop_str(p, b2), mmio);
	}
	return idx;
}

/* Assert the view has exactly n leaves. */
void expect_count(const struct h_snapshot *s, size_t n)
{
	if (s->nr != n) {
		h_print_leaves(s, 8);
		fail_msg("view has %zu leaves, expected %zu", s->nr, n);
	}
}

/* Assert the stats of a snapshot. */
void expect_stats(const struct h_snapshot *s, uint64_t nodes, uint64_t mapped,
			 uint64_t frames)
{
	if (s->stats.nodes != nodes || s->stats.mapped != mapped || s->stats.frames != frames)
		fail_msg("stats nodes=%llu mapped=0x%llx frames=%llu; expected %llu 0x%llx %llu",
			 (unsigned long long)s->stats.nodes, (unsigned long long)s->stats.mapped,
			 (unsigned long long)s->stats.frames, (unsigned long long)nodes,
			 (unsigned long long)mapped, (unsigned long long)frames);
}


/* Unmap the whole space and expect the empty table's resources back. */
void unmap_all_and_expect_empty(struct harness *h, uint64_t free_data, uint64_t free_pool)
{
	struct h_snapshot s;
	H_OK(h_unmap(h, h_space_base(h), h_space_size(h), NULL));
	snap(h, &s);
	expect_count(&s, 0);
	expect_stats(&s, base_nodes(h), 0, 0);
	assert_int_equal(s.free_data, free_data);
	assert_int_equal(s.free_pool, free_pool);
	h_snapshot_free(&s);
}

/* The PTE at `level` on the path to va, or NULL if the walk stops above. */
ptmm_pte_t *pte_at(struct harness *h, ptmm_vaddr_t va, unsigned want_level)
{
	const struct ptmm_pte_format *f = &h->arch.fmt;
	ptmm_paddr_t node = h->pt.root;
	for (unsigned level = h->arch.levels;; level--) {
		ptmm_pte_t *table = ptmm_frame_to_virt(&h->ft, node);
		ptmm_pte_t *e = &table[ptmm_level_index(va, level)];
		if (level == want_level)
			return e;
		if (!ptmm_pte_is_present(*e) || ptmm_pte_is_leaf(f, *e, level))
			return NULL;
		node = ptmm_pte_table_addr(f, *e);
	}
}
