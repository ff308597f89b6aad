/*
 * test_cursor.c - directed tests of page tables and the cursor: map, huge
 * leaves, split, protect, replace, query and find, address edges, cursor
 * ranges, reclaim.  Every body runs on every encoder (the five paging
 * modes, fake48, fake57) and, where it matters, in both halves.
 *
 * Each test states the expected view explicitly (runs of leaves with their
 * VA, size and PA) and checks it through a snapshot, which itself holds
 * ptmm_cursor_find_next against an independent raw walk of the tree.  ptmm_check
 * runs after every operation (harness helpers).  Shared helpers:
 * cursor_expect.h.
 */
#define _GNU_SOURCE
#include "cursor_expect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Map ---- */

static void test_map_4k(void **state)
{
	struct harness *h = *state;
	uint64_t fd = h_free_data(h), fp = h_free_pool(h);
	ptmm_vaddr_t va = hv(h, 0x400000);
	struct h_snapshot s;
	struct ptmm_mapping m;
	uint64_t removed = 0;

	H_OK(h_map(h, va, SZ_4K, 0x5000, rw(h), 0));
	snap(h, &s);
	expect_count(&s, 1);
	expect_run(&s, 0, va, SZ_4K, 0x5000, 1, rw(h), false);
	expect_stats(&s, base_nodes(h) + path_nodes(h, SZ_4K), SZ_4K, 1);
	assert_int_equal(s.free_data, fd - 1);
	assert_int_equal(s.free_pool, fp - path_nodes(h, SZ_4K));
	h_snapshot_free(&s);
	H_OK(h_query(h, va, &m));
	assert_true(m.present);
	assert_int_equal(m.va, va);
	assert_int_equal(m.size, SZ_4K);
	assert_int_equal(m.pa, 0x5000);
	assert_false(m.mmio);
	H_OK(h_unmap(h, va, SZ_4K, &removed));
	assert_int_equal(removed, SZ_4K);
	unmap_all_and_expect_empty(h, fd, fp);
}

/* Without PTMM_MAP_HUGE every leaf is 4K, even for an aligned 2M range. */
static void test_map_without_huge_is_4k(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t va = hv(h, 0x40000000);
	struct h_snapshot s;

	H_OK(h_map(h, va, SZ_2M + SZ_4K, 0x200000, rw(h), 0));
	snap(h, &s);
	expect_count(&s, 513);
	expect_run(&s, 0, va, SZ_4K, 0x200000, 513, rw(h), false);
	expect_stats(&s, base_nodes(h) + path_nodes(h, SZ_4K) + 1, SZ_2M + SZ_4K, 513);
	h_snapshot_free(&s);
}

/* One leaf of each size, alone, where alignment and length allow exactly it. */
static void test_map_huge_each_level(void **state)
{
	struct harness *h = *state;
	uint64_t fd = h_free_data(h), fp = h_free_pool(h);
	struct h_snapshot s;

	/*
	 * A range of each level size: one leaf where the mode has that leaf,
	 * else 512 leaves of the largest below.  2M and 1G of RAM; 512G and
	 * 256T of device memory where the half holds two of them.
	 */
	for (uint64_t size = SZ_2M; size <= SZ_256T; size <<= 9) {
		bool ram = size <= SZ_1G;
		uint64_t leaf = min_size(size, h_max_leaf_size(h));
		ptmm_vaddr_t va = hv(h, ram ? 8 * size : size);
		ptmm_paddr_t pa = ram ? 2 * size : H_MMIO_BASE;
		if (!ram && 2 * size > h_space_size(h))
			continue; /* the half is too small (e.g. 512G in Sv39's 256G) */
		if (size / leaf > 512)
			continue; /* 256T of 1G leaves (LA57): covered by 512G */
		H_OK(h_map(h, va, size, pa, rw(h), PTMM_MAP_HUGE | (ram ? 0 : PTMM_MAP_MMIO)));
		snap(h, &s);
		expect_count(&s, size / leaf);
		expect_run(&s, 0, va, leaf, pa, size / leaf, rw(h), !ram);
		expect_stats(&s, base_nodes(h) + path_nodes(h, leaf), size, ram ? size / SZ_4K : 0);
		assert_int_equal(s.free_data, fd - (ram ? size / SZ_4K : 0));
		h_snapshot_free(&s);
		unmap_all_and_expect_empty(h, fd, fp);
	}
}

/*
 * Greedy choice: VA 1G-2M-4K, PA congruent, length 1G+4M+8K gives
 * 4K, 2M, 1G, 2M, 4K; with PA only 4K-congruent everything is 4K.
 */
static void test_map_huge_greedy(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t va = hv(h, 4 * SZ_1G - SZ_2M - SZ_4K);
	ptmm_paddr_t pa = 2 * SZ_1G - SZ_2M - SZ_4K;
	uint64_t len = SZ_1G + 2 * SZ_2M + 2 * SZ_4K;
	struct h_snapshot s;
	size_t i = 0;

	/* Sv39's kernel half has no 1G leaf: 512 x 2M there. */
	uint64_t big = min_size(SZ_1G, h_max_leaf_size(h));

	H_OK(h_map(h, va, len, pa, rw(h), PTMM_MAP_HUGE));
	snap(h, &s);
	expect_count(&s, 4 + SZ_1G / big);
	i = expect_run(&s, i, va, SZ_4K, pa, 1, rw(h), false);
	i = expect_run(&s, i, va + SZ_4K, SZ_2M, pa + SZ_4K, 1, rw(h), false);
	i = expect_run(&s, i, va + SZ_4K + SZ_2M, big, pa + SZ_4K + SZ_2M, SZ_1G / big, rw(h),
		       false);
	i = expect_run(&s, i, va + SZ_4K + SZ_2M + SZ_1G, SZ_2M, pa + SZ_4K + SZ_2M + SZ_1G, 1,
		       rw(h), false);
	expect_run(&s, i, va + SZ_4K + 2 * SZ_2M + SZ_1G, SZ_4K, pa + SZ_4K + 2 * SZ_2M + SZ_1G, 1,
		   rw(h), false);
	expect_stats(&s, s.stats.nodes, len, len / SZ_4K);
	h_snapshot_free(&s);
	H_OK(h_unmap(h, va, len, NULL));

	/* PA not 2M-congruent to VA: no huge page possible. */
	H_OK(h_map(h, hv(h, SZ_1G), SZ_2M, 0x1000, rw(h), PTMM_MAP_HUGE));
	snap(h, &s);
	expect_count(&s, 512);
	expect_run(&s, 0, hv(h, SZ_1G), SZ_4K, 0x1000, 512, rw(h), false);
	h_snapshot_free(&s);
}

/* MODEL.md L1: a range exactly covering one huge entry maps as that page. */
static void test_exact_cover_is_one_huge_leaf(void **state)
{
	struct harness *h = *state;
	/* Last entry of a level-3 node, last entry of a level-2 node, top of the half. */
	const uint64_t offs_1g[] = { min_size(SZ_512G, h_user_top(h)) - SZ_1G,
				     h_user_top(h) - SZ_1G, 0 };
	const uint64_t offs_2m[] = { SZ_1G - SZ_2M, h_user_top(h) - SZ_2M, 0 };
	struct h_snapshot s;

	for (unsigned i = 0; i < 3; i++) {
		H_OK(h_map(h, hv(h, offs_1g[i]), SZ_1G, SZ_1G, rw(h), PTMM_MAP_HUGE));
		snap(h, &s);
		expect_count(&s, 1);
		expect_run(&s, 0, hv(h, offs_1g[i]), SZ_1G, SZ_1G, 1, rw(h), false);
		h_snapshot_free(&s);
		H_OK(h_unmap(h, hv(h, offs_1g[i]), SZ_1G, NULL));
		H_OK(h_map(h, hv(h, offs_2m[i]), SZ_2M, 3 * SZ_2M, rw(h), PTMM_MAP_HUGE));
		snap(h, &s);
		expect_count(&s, 1);
		expect_run(&s, 0, hv(h, offs_2m[i]), SZ_2M, 3 * SZ_2M, 1, rw(h), false);
		h_snapshot_free(&s);
		H_OK(h_unmap(h, hv(h, offs_2m[i]), SZ_2M, NULL));
	}
	/* The largest leaf (512G, 256T) at the top of the half. */
	if (h_max_leaf_size(h) >= SZ_512G) {
		uint64_t big = h_max_leaf_size(h);
		ptmm_vaddr_t top = hv(h, h_user_top(h) - big);
		H_OK(h_map(h, top, big, H_MMIO_BASE, rw(h), PTMM_MAP_HUGE | PTMM_MAP_MMIO));
		snap(h, &s);
		expect_count(&s, 1);
		expect_run(&s, 0, top, big, H_MMIO_BASE, 1, rw(h), true);
		h_snapshot_free(&s);
	}
}

/* ---- Split ---- */

/*
 * Unmap one 4K page in the middle of a 1G leaf: the 1G leaf becomes 511 2M
 * leaves and 511 4K leaves, each child's PA stepping by its own size.
 */
static void test_split_1g_every_child(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t va = hv(h, 5 * SZ_1G);
	ptmm_paddr_t pa = 3 * SZ_1G;
	const unsigned k = 300, j = 77; /* the 2M child, and the 4K page inside it */
	ptmm_vaddr_t hole = va + k * SZ_2M + j * SZ_4K;
	uint64_t removed = 0, fd;
	struct h_snapshot s;
	size_t i = 0;

	H_OK(h_map(h, va, SZ_1G, pa, ro(h), PTMM_MAP_HUGE));
	fd = h_free_data(h);
	H_OK(h_unmap(h, hole, SZ_4K, &removed));
	assert_int_equal(removed, SZ_4K);
	snap(h, &s);
	expect_count(&s, 511 + 511);
	i = expect_run(&s, i, va, SZ_2M, pa, k, ro(h), false);
	i = expect_run(&s, i, va + k * SZ_2M, SZ_4K, pa + k * SZ_2M, j, ro(h), false);
	i = expect_run(&s, i, hole + SZ_4K, SZ_4K, pa + k * SZ_2M + (j + 1) * SZ_4K, 511 - j, ro(h),
		       false);
	expect_run(&s, i, va + (k + 1) * SZ_2M, SZ_2M, pa + (k + 1) * SZ_2M, 511 - k, ro(h), false);
	expect_stats(&s, base_nodes(h) + path_nodes(h, SZ_4K), SZ_1G - SZ_4K, SZ_1G / SZ_4K - 1);
	/*
	 * frame.h: references are counted per allocated block, so the frame
	 * under the hole stays in its (still mapped) 1G block until the
	 * block's last leaf goes; then the whole block is free again.
	 */
	assert_int_equal(s.free_data, fd);
	h_snapshot_free(&s);
	H_OK(h_unmap(h, va, SZ_1G, &removed));
	assert_int_equal(removed, SZ_1G - SZ_4K);
	assert_int_equal(h_free_data(h), fd + SZ_1G / SZ_4K);
}

/*
 * The same from a 512G leaf (sv48 user) or 512 1G leaves (elsewhere):
 * 1G, 2M and 4K children all checked.
 */
static void test_split_512g_every_child(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t va = hv(h, SZ_512G);
	ptmm_paddr_t pa = H_MMIO_BASE;
	const unsigned a = 7, b = 500, c = 3;
	ptmm_vaddr_t hole = va + a * SZ_1G + b * SZ_2M + c * SZ_4K;
	ptmm_paddr_t pa1 = pa + a * SZ_1G, pa2 = pa1 + b * SZ_2M;
	struct ptmm_prop p = h_prop(h, PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_UC);
	struct h_snapshot s;
	size_t i = 0;

	H_OK(h_map(h, va, SZ_512G, pa, p, PTMM_MAP_HUGE | PTMM_MAP_MMIO));
	H_OK(h_unmap(h, hole, SZ_4K, NULL));
	snap(h, &s);
	expect_count(&s, 511 * 3);
	i = expect_run(&s, i, va, SZ_1G, pa, a, p, true);
	i = expect_run(&s, i, va + a * SZ_1G, SZ_2M, pa1, b, p, true);
	i = expect_run(&s, i, va + a * SZ_1G + b * SZ_2M, SZ_4K, pa2, c, p, true);
	i = expect_run(&s, i, hole + SZ_4K, SZ_4K, pa2 + (c + 1) * SZ_4K, 511 - c, p, true);
	i = expect_run(&s, i, va + a * SZ_1G + (b + 1) * SZ_2M, SZ_2M, pa1 + (b + 1) * SZ_2M,
		       511 - b, p, true);
	expect_run(&s, i, va + (a + 1) * SZ_1G, SZ_1G, pa + (a + 1) * SZ_1G, 511 - a, p, true);
	expect_stats(&s, s.stats.nodes, SZ_512G - SZ_4K, 0);
	h_snapshot_free(&s);
}

/*
 * The mode's largest leaf (docs/SCRIPT.md: 1G on x86, 2M in Sv39's kernel half,
 * 512G, 256T in Sv57's user half ...), device memory, split down to 4K by
 * a one-page unmap: every level's children with the PA stepping by the
 * child's size (MODEL.md 6), then a protect that splits again, and the
 * unmap of the rest.
 */
static void test_split_largest_leaf(void **state)
{
	struct harness *h = *state;
	const uint64_t big = h_max_leaf_size(h);
	const unsigned top = leaf_level(big);
	static const unsigned idx[PTMM_MAX_LEVELS + 1] = { 0, 3, 500, 7, 200, 9 };
	const ptmm_vaddr_t va = hv(h, big);
	const ptmm_paddr_t pa = H_MMIO_BASE;
	struct ptmm_prop p = h_prop(h, PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_UC);
	ptmm_vaddr_t hole = va, v;
	ptmm_paddr_t q;
	struct h_snapshot s;
	struct ptmm_mapping m;
	size_t i = 0;

	assert_true(top >= 2);
	for (unsigned l = top - 1; l >= 1; l--)
		hole += idx[l] * ptmm_level_size(l);
	H_OK(h_map(h, va, big, pa, p, PTMM_MAP_HUGE | PTMM_MAP_MMIO));
	snap(h, &s);
	expect_count(&s, 1);
	expect_run(&s, 0, va, big, pa, 1, p, true);
	expect_stats(&s, base_nodes(h) + path_nodes(h, big), big, 0);
	h_snapshot_free(&s);

	H_OK(h_unmap(h, hole, SZ_4K, NULL));
	snap(h, &s);
	expect_count(&s, (top - 1) * 511);
	v = va;
	q = pa;
	for (unsigned l = top - 1; l >= 1; l--) {
		i = expect_run(&s, i, v, ptmm_level_size(l), q, idx[l], p, true);
		v += idx[l] * ptmm_level_size(l);
		q += idx[l] * ptmm_level_size(l);
	}
	assert_int_equal(v, hole);
	v += SZ_4K;
	q += SZ_4K;
	for (unsigned l = 1; l < top; l++) {
		uint64_t after = 511 - idx[l];
		i = expect_run(&s, i, v, ptmm_level_size(l), q, after, p, true);
		v += after * ptmm_level_size(l);
		q += after * ptmm_level_size(l);
	}
	assert_int_equal(v, va + big);
	expect_stats(&s, base_nodes(h) + path_nodes(h, SZ_4K), big - SZ_4K, 0);
	h_snapshot_free(&s);

	/* The first child of the top split keeps its PA; protect splits it once more. */
	if (top >= 3) {
		uint64_t child = ptmm_level_size(top - 1);
		H_OK(h_protect(h, va + child / 2, SZ_4K, h_prop(h, PTMM_PROP_R, PTMM_CACHE_UC), NULL));
		H_OK(h_query(h, va + child / 2 + SZ_4K, &m));
		assert_true(m.present && m.size == SZ_4K && m.pa == pa + child / 2 + SZ_4K);
		H_OK(h_query(h, va + child - ptmm_level_size(top - 2), &m));
		assert_true(m.size == ptmm_level_size(top - 2) &&
			    m.pa == pa + child - ptmm_level_size(top - 2));
	}
	H_OK(h_unmap(h, va, big, NULL));
	snap(h, &s);
	expect_count(&s, 0);
	expect_stats(&s, base_nodes(h), 0, 0);
	h_snapshot_free(&s);
}

/*
 * Issue 18 item 1: a PA the PTE cannot hold (at or above 2^pa_bits: 2^52
 * on x86, 2^56 on RISC-V and the fakes) is refused, never truncated: the
 * frame table's device windows (registration) and ptmm_cursor_map (MMIO and
 * RAM, a range crossing the limit too).
 */
static void test_pa_width_refused(void **state)
{
	struct harness *h = *state;
	const unsigned bits = h_is_x86(h) ? 52 : 56;
	const ptmm_paddr_t limit = (ptmm_paddr_t)1 << bits;
	ptmm_vaddr_t v = hv(h, 7 * SZ_1G);
	unsigned nr_mmio = h->ft.nr_mmio;

	assert_int_equal(h->arch.pa_bits, bits);
	/* The table's creation limited the frame table to the encoder's width. */
	assert_int_equal(h->ft.pa_bits, bits);
	H_ERR(ptmm_frame_table_add_mmio(&h->ft, limit, SZ_2M), PTMM_ERANGE);
	H_ERR(ptmm_frame_table_add_mmio(&h->ft, limit - SZ_4K, 2 * SZ_4K), PTMM_ERANGE);
	H_ERR(ptmm_frame_table_add_mmio(&h->ft, limit << 1, SZ_4K), PTMM_ERANGE);
	assert_int_equal(h->ft.nr_mmio, nr_mmio);
	/* Just below the limit is fine; the limit only shrinks; a wider one is a no-op. */
	H_OK(ptmm_frame_table_add_mmio(&h->ft, limit - SZ_2M, SZ_2M));
	H_OK(ptmm_frame_table_limit_pa(&h->ft, 64));
	assert_int_equal(h->ft.pa_bits, bits);
	H_ERR(ptmm_frame_table_limit_pa(&h->ft, bits - 1), PTMM_ERANGE); /* the new window is above */
	H_ERR(ptmm_frame_table_limit_pa(&h->ft, 0), PTMM_EINVAL);
	H_ERR(ptmm_frame_table_limit_pa(&h->ft, 65), PTMM_EINVAL);
	assert_int_equal(h->ft.pa_bits, bits);
	/* Map: the top page maps; at, past and across the limit is PTMM_ERANGE. */
	H_OK(h_map(h, v, SZ_4K, limit - SZ_4K, rw(h), PTMM_MAP_MMIO));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE,
			     h_map(h, v + SZ_2M, SZ_4K, limit, rw(h), PTMM_MAP_MMIO));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE,
			     h_map(h, v + SZ_2M, 2 * SZ_4K, limit - SZ_4K, rw(h),
				   PTMM_MAP_MMIO | PTMM_MAP_REPLACE));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_map(h, v + SZ_2M, SZ_4K, limit, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_map(h, v + SZ_2M, SZ_2M, limit, rw(h), PTMM_MAP_HUGE));
	/*
	 * ptmm_cursor_map does not rely on the registration: with a window past the
	 * limit written into the frame table behind the API's back (white-box;
	 * the API cannot make one), the map is still refused, not truncated.
	 */
	h->ft.mmio[h->ft.nr_mmio].base = limit;
	h->ft.mmio[h->ft.nr_mmio].size = SZ_2M;
	h->ft.nr_mmio++;
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE,
			     h_map(h, v + SZ_2M, SZ_4K, limit, rw(h), PTMM_MAP_MMIO));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE,
			     h_map(h, v + SZ_2M, SZ_2M, limit, rw(h), PTMM_MAP_MMIO | PTMM_MAP_HUGE));
	h->ft.nr_mmio--;
	H_OK(h_unmap(h, v, SZ_4K, NULL));
}

/*
 * Without a page table, an embedder's frame table takes any window; once a
 * table of an encoder exists over it, windows past the encoder's width are
 * refused, and a table cannot be created over memory it could not map.
 * (On the code before issue 18 the window at 2^52 on x86 was accepted and
 * mapped as truncated PA 0.)
 */
static void test_pa_width_table_creation(void **state)
{
	struct harness *h = *state;
	const unsigned bits = h->arch.pa_bits;
	struct ptmm_frame_table ft;
	struct ptmm_page_table pt;
	static struct ptmm_frame_slot slots[16];

	H_OK(ptmm_frame_table_init(&ft, slots, 0, 16 * SZ_4K, (uintptr_t)h->phys));
	H_OK(ptmm_frame_table_add_mmio(&ft, (ptmm_paddr_t)1 << bits, SZ_4K));
	assert_int_equal(ft.pa_bits, 64);
	H_ERR(ptmm_page_table_init_user(&pt, &h->arch, &ft, H_ZONE_POOL, NULL), PTMM_ERANGE);
	H_ERR(ptmm_page_table_init_kernel(&pt, &h->arch, &ft, H_ZONE_POOL), PTMM_ERANGE);
	assert_int_equal(ft.pa_bits, 64); /* refused: nothing changed */
	H_ERR(ptmm_frame_table_limit_pa(&ft, bits), PTMM_ERANGE);
}

/* Unmap straddling both ends of a run of 2M leaves. */
static void test_unmap_straddling_both_ends(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t va = hv(h, 3 * SZ_1G);
	ptmm_paddr_t pa = 6 * SZ_2M;
	uint64_t removed = 0;
	struct h_snapshot s;
	size_t i;

	H_OK(h_map(h, va, 3 * SZ_2M, pa, rw(h), PTMM_MAP_HUGE));
	EXPECT_ERR_UNCHANGED(h, PTMM_EINVAL, h_unmap(h, va, 0, NULL));
	H_OK(h_unmap(h, va + 256 * SZ_4K, 2 * SZ_2M, &removed));
	assert_int_equal(removed, 2 * SZ_2M);
	snap(h, &s);
	expect_count(&s, 512);
	i = expect_run(&s, 0, va, SZ_4K, pa, 256, rw(h), false);
	expect_run(&s, i, va + 2 * SZ_2M + 256 * SZ_4K, SZ_4K, pa + 2 * SZ_2M + 256 * SZ_4K, 256,
		   rw(h), false);
	expect_stats(&s, s.stats.nodes, SZ_2M, 512);
	h_snapshot_free(&s);
	/* An unmap over nothing succeeds and removes nothing. */
	H_OK(h_unmap(h, hv(h, 77 * SZ_1G), SZ_2M, &removed));
	assert_int_equal(removed, 0);
}

/* ---- Protect ---- */

static void test_protect_splits_only_where_changed(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t a = hv(h, 6 * SZ_1G), big = hv(h, 8 * SZ_1G);
	ptmm_paddr_t pa = 4 * SZ_2M, pbig = 2 * SZ_1G;
	uint64_t mapped = 0;
	struct h_snapshot s;
	size_t i;

	/* Same property: nothing splits, the bytes are still reported. */
	H_OK(h_map(h, a, SZ_2M, pa, rw(h), PTMM_MAP_HUGE));
	H_OK(h_protect(h, a + SZ_4K, SZ_4K, rw(h), &mapped));
	assert_int_equal(mapped, SZ_4K);
	snap(h, &s);
	expect_count(&s, 1);
	expect_run(&s, 0, a, SZ_2M, pa, 1, rw(h), false);
	h_snapshot_free(&s);
	/* A change inside: split to 4K, only one page changes. */
	H_OK(h_protect(h, a + SZ_4K, SZ_4K, ro(h), &mapped));
	assert_int_equal(mapped, SZ_4K);
	snap(h, &s);
	expect_count(&s, 512);
	i = expect_run(&s, 0, a, SZ_4K, pa, 1, rw(h), false);
	i = expect_run(&s, i, a + SZ_4K, SZ_4K, pa + SZ_4K, 1, ro(h), false);
	expect_run(&s, i, a + 2 * SZ_4K, SZ_4K, pa + 2 * SZ_4K, 510, rw(h), false);
	h_snapshot_free(&s);
	/* Changing it back never merges. */
	H_OK(h_protect(h, a, SZ_2M, rw(h), &mapped));
	assert_int_equal(mapped, SZ_2M);
	snap(h, &s);
	expect_count(&s, 512);
	expect_run(&s, 0, a, SZ_4K, pa, 512, rw(h), false);
	h_snapshot_free(&s);
	H_OK(h_unmap(h, a, SZ_2M, NULL));

	/* A 2M-aligned change inside a 1G leaf splits to 2M only. */
	H_OK(h_map(h, big, SZ_1G, pbig, rw(h), PTMM_MAP_HUGE));
	H_OK(h_protect(h, big + 5 * SZ_2M, SZ_2M, ro(h), &mapped));
	assert_int_equal(mapped, SZ_2M);
	snap(h, &s);
	expect_count(&s, 512);
	i = expect_run(&s, 0, big, SZ_2M, pbig, 5, rw(h), false);
	i = expect_run(&s, i, big + 5 * SZ_2M, SZ_2M, pbig + 5 * SZ_2M, 1, ro(h), false);
	expect_run(&s, i, big + 6 * SZ_2M, SZ_2M, pbig + 6 * SZ_2M, 506, rw(h), false);
	h_snapshot_free(&s);
	H_OK(h_unmap(h, big, SZ_1G, NULL));

	/*
	 * Two 2M leaves A (ro) and B (rw); protect [A+1M, B+1M) ro: A straddles
	 * with the same property (no split), B straddles with a change (split).
	 */
	H_OK(h_map(h, a, SZ_2M, pa, ro(h), PTMM_MAP_HUGE));
	H_OK(h_map(h, a + SZ_2M, SZ_2M, pa + SZ_2M, rw(h), PTMM_MAP_HUGE));
	H_OK(h_protect(h, a + 256 * SZ_4K, SZ_2M, ro(h), &mapped));
	assert_int_equal(mapped, SZ_2M);
	snap(h, &s);
	expect_count(&s, 1 + 512);
	i = expect_run(&s, 0, a, SZ_2M, pa, 1, ro(h), false);
	i = expect_run(&s, i, a + SZ_2M, SZ_4K, pa + SZ_2M, 256, ro(h), false);
	expect_run(&s, i, a + SZ_2M + 256 * SZ_4K, SZ_4K, pa + SZ_2M + 256 * SZ_4K, 256, rw(h),
		   false);
	h_snapshot_free(&s);
	/* Protect over nothing. */
	H_OK(h_protect(h, hv(h, 100 * SZ_1G), SZ_1G, ro(h), &mapped));
	assert_int_equal(mapped, 0);
}

/* Bit 0 is the hardware valid/present bit of every encoder (fake48 too). */
static void expect_hw_not_present(struct harness *h, ptmm_vaddr_t va, unsigned level)
{
	ptmm_pte_t *e = pte_at(h, va, level);
	assert_non_null(e);
	if (*e == 0)
		fail_msg("no-access leaf at 0x%llx (level %u) is an absent PTE",
			 (unsigned long long)va, level);
	if (*e & 1)
		fail_msg("no-access leaf at 0x%llx (level %u): hardware valid bit set (pte 0x%llx)",
			 (unsigned long long)va, level, (unsigned long long)*e);
}

/* MODEL.md L4: a no-access mapping stays a mapping, and protect restores it. */
static void test_noaccess_stays_mapped(void **state)
{
	struct harness *h = *state;
	struct ptmm_prop none = h_prop(h, 0, PTMM_CACHE_WB);
	ptmm_vaddr_t va = hv(h, 0x12345000);
	uint64_t fd = h_free_data(h), mapped = 0;
	struct ptmm_mapping m;
	struct h_snapshot s;

	H_OK(h_map(h, va, SZ_4K, 0x9000, rw(h), 0));
	H_OK(h_protect(h, va, SZ_4K, none, &mapped));
	assert_int_equal(mapped, SZ_4K);
	H_OK(h_query(h, va, &m));
	assert_true(m.present);
	assert_true(ptmm_prop_eq(m.prop, none));
	assert_int_equal(m.pa, 0x9000);
	expect_hw_not_present(h, va, 1);
	snap(h, &s);
	expect_stats(&s, s.stats.nodes, SZ_4K, 1);
	assert_int_equal(s.free_data, fd - 1);
	h_snapshot_free(&s);
	H_OK(h_protect(h, va, SZ_4K, rw(h), &mapped));
	assert_int_equal(mapped, SZ_4K);
	H_OK(h_query(h, va, &m));
	assert_true(ptmm_prop_eq(m.prop, rw(h)));
	assert_int_equal(m.pa, 0x9000);
	H_OK(h_unmap(h, va, SZ_4K, NULL));
	assert_int_equal(h_free_data(h), fd);

	/* No-access huge leaves at 2M and 1G, mapped directly. */
	for (uint64_t size = SZ_2M; size <= min_size(SZ_1G, h_max_leaf_size(h)); size <<= 9) {
		ptmm_vaddr_t hva = hv(h, 16 * SZ_1G);
		unsigned level = leaf_level(size);
		H_OK(h_map(h, hva, size, size, none, PTMM_MAP_HUGE));
		snap(h, &s);
		expect_count(&s, 1);
		expect_run(&s, 0, hva, size, size, 1, none, false);
		expect_stats(&s, s.stats.nodes, size, size / SZ_4K);
		h_snapshot_free(&s);
		expect_hw_not_present(h, hva, level);
		/* A split of a no-access leaf keeps its children no-access. */
		H_OK(h_protect(h, hva + size / 2, size / 512, ro(h), &mapped));
		H_OK(h_query(h, hva, &m));
		assert_true(ptmm_prop_eq(m.prop, none));
		assert_int_equal(m.size, size / 512);
		H_OK(h_query(h, hva + size / 2, &m));
		assert_true(ptmm_prop_eq(m.prop, ro(h)));
		H_OK(h_unmap(h, hva, size, NULL));
		assert_int_equal(h_free_data(h), fd);
	}
}

/* ---- Replace ---- */

static void test_replace_vs_exist(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t va = hv(h, 0x40000000);
	ptmm_vaddr_t w = hv(h, 0x80000000);
	uint64_t fd = h_free_data(h);
	struct h_snapshot s;
	size_t i;

	H_OK(h_map(h, va, SZ_4K, 0x11000, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_EEXIST, h_map(h, va - SZ_4K, 2 * SZ_4K, 0x21000, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_EEXIST,
			     h_map(h, va, SZ_4K, H_MMIO_BASE, rw(h), PTMM_MAP_MMIO));
	H_OK(h_map(h, va - SZ_4K, 2 * SZ_4K, 0x21000, ro(h), PTMM_MAP_REPLACE));
	snap(h, &s);
	expect_count(&s, 2);
	expect_run(&s, 0, va - SZ_4K, SZ_4K, 0x21000, 2, ro(h), false);
	assert_int_equal(s.free_data, fd - 2); /* the replaced frame was released */
	h_snapshot_free(&s);

	/* Replace a 4K page in the middle of a 2M leaf. */
	H_OK(h_map(h, w, SZ_2M, 0x400000, rw(h), PTMM_MAP_HUGE));
	EXPECT_ERR_UNCHANGED(h, PTMM_EEXIST, h_map(h, w + 2 * SZ_4K, SZ_4K, 0x31000, ro(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_EEXIST,
			     h_map(h, w + 2 * SZ_4K, SZ_4K, 0x31000, ro(h), PTMM_MAP_HUGE));
	H_OK(h_map(h, w + 2 * SZ_4K, SZ_4K, 0x31000, ro(h), PTMM_MAP_REPLACE));
	snap(h, &s);
	expect_count(&s, 2 + 512);
	i = expect_run(&s, 2, w, SZ_4K, 0x400000, 2, rw(h), false);
	i = expect_run(&s, i, w + 2 * SZ_4K, SZ_4K, 0x31000, 1, ro(h), false);
	expect_run(&s, i, w + 3 * SZ_4K, SZ_4K, 0x400000 + 3 * SZ_4K, 509, rw(h), false);
	expect_stats(&s, s.stats.nodes, 2 * SZ_4K + SZ_2M, 2 + 512);
	h_snapshot_free(&s);

	/* Replace RAM with device memory, huge over the split run. */
	H_OK(h_map(h, w, SZ_2M, H_MMIO_BASE, rw(h), PTMM_MAP_MMIO | PTMM_MAP_HUGE | PTMM_MAP_REPLACE));
	snap(h, &s);
	expect_count(&s, 3);
	expect_run(&s, 2, w, SZ_2M, H_MMIO_BASE, 1, rw(h), true);
	expect_stats(&s, s.stats.nodes, 2 * SZ_4K + SZ_2M, 2);
	assert_int_equal(s.free_data, fd - 2);
	h_snapshot_free(&s);
}

/* ---- Query and find ---- */

static void expect_absent(struct harness *h, ptmm_vaddr_t va, ptmm_vaddr_t start, uint64_t size)
{
	struct ptmm_mapping m;
	H_OK(h_query(h, va, &m));
	if (m.present || m.va != start || m.size != size)
		fail_msg("query 0x%llx: present=%d va=0x%llx size=0x%llx; expected absent"
			 " 0x%llx size 0x%llx", (unsigned long long)va, m.present,
			 (unsigned long long)m.va, (unsigned long long)m.size,
			 (unsigned long long)start, (unsigned long long)size);
}

/* query: leaves and absent ranges at every level; find: first intersecting leaf. */
static void test_query_and_find(void **state)
{
	struct harness *h = *state;
	/* Below the root, the kernel has preallocated level-(levels-1) nodes. */
	uint64_t root = h_root_entry_size(h);
	uint64_t top_absent = h_is_kernel(h) ? root / 512 : root;
	ptmm_vaddr_t v = hv(h, root + 5 * SZ_1G + 7 * SZ_2M + 3 * SZ_4K);
	ptmm_vaddr_t w = hv(h, root + 9 * SZ_1G);
	ptmm_vaddr_t far = hv(h, 9 * root + 3 * SZ_1G + SZ_4K);
	uint64_t g = min_size(SZ_1G, top_absent);
	struct ptmm_mapping m;
	struct ptmm_cursor c;

	expect_absent(h, v, v & ~(top_absent - 1), top_absent);
	H_OK(h_map(h, v, SZ_4K, 0x8000, rw(h), 0));
	H_OK(h_map(h, w, SZ_2M, 0x600000, ro(h), PTMM_MAP_HUGE));
	/* Absent neighbours at every level. */
	expect_absent(h, v + SZ_4K, v + SZ_4K, SZ_4K);
	expect_absent(h, v + SZ_2M, (v + SZ_2M) & ~(SZ_2M - 1), SZ_2M);
	expect_absent(h, v + SZ_1G, (v + SZ_1G) & ~(g - 1), g);
	expect_absent(h, far, far & ~(top_absent - 1), top_absent);
	/* Query inside a huge leaf returns the whole leaf. */
	H_OK(h_query(h, w + 0x155000, &m));
	assert_true(m.present);
	assert_int_equal(m.va, w);
	assert_int_equal(m.size, SZ_2M);
	assert_int_equal(m.pa, 0x600000);
	assert_true(ptmm_prop_eq(m.prop, ro(h)));

	/* find: intersecting, around, none, range ending at the leaf. */
	assert_int_equal(h_find(h, v - 2 * SZ_4K, 4 * SZ_4K, &m), 1);
	assert_int_equal(m.va, v);
	assert_int_equal(m.pa, 0x8000);
	assert_int_equal(h_find(h, v - SZ_1M, SZ_1M + SZ_4K, &m), 1);
	assert_int_equal(h_find(h, v - SZ_1M, SZ_1M, &m), 0);
	assert_int_equal(h_find(h, v + SZ_4K, w - v - SZ_4K, &m), 0);
	assert_int_equal(h_find(h, v + SZ_4K, w - v, &m), 1);
	assert_int_equal(m.va, w);
	assert_int_equal(h_find(h, w + 5 * SZ_4K, SZ_4K, &m), 1);
	assert_int_equal(m.va, w);
	assert_int_equal(m.size, SZ_2M);
	assert_int_equal(h_find(h, hv(h, 0), h_space_size(h), &m), 1);
	assert_int_equal(m.va, v);
	assert_int_equal(h_find(h, w + SZ_2M, SZ_1G, &m), 0);

	/* Errors of find_next inside a cursor. */
	H_OK(ptmm_cursor_open(&c, &h->pt, v, 2 * SZ_4K));
	H_ERR(ptmm_cursor_find_next(&c, 0, &m), PTMM_EINVAL);
	H_ERR(ptmm_cursor_find_next(&c, 100, &m), PTMM_EALIGN);
	H_ERR(ptmm_cursor_find_next(&c, 3 * SZ_4K, &m), PTMM_ERANGE);
	assert_int_equal(ptmm_cursor_find_next(&c, 2 * SZ_4K, &m), 1);
	assert_int_equal(ptmm_cursor_va(&c), v); /* find does not move the cursor */
	H_OK(ptmm_cursor_query(&c, &m));
	assert_int_equal(m.va, v);
	ptmm_cursor_close(&c);
}

/* ---- Address edges ---- */

static void test_va_edges_user(void **state)
{
	struct harness *h = *state;
	const ptmm_vaddr_t top = h_user_top(h) - SZ_4K; /* 0x00007ffffffff000 */
	struct ptmm_mapping m;
	uint64_t removed = 0;

	/* VA 0. */
	H_OK(h_map(h, 0, SZ_4K, 0x3000, rw(h), 0));
	H_OK(h_query(h, 0, &m));
	assert_true(m.present);
	assert_int_equal(m.va, 0);
	assert_int_equal(h_find(h, 0, SZ_4K, &m), 1);
	/* The top page of the lower half, and the top 1G. */
	H_OK(h_map(h, top, SZ_4K, 0x4000, rw(h), 0));
	H_OK(h_query(h, top, &m));
	assert_true(m.present);
	assert_int_equal(m.va, top);
	assert_int_equal(h_find(h, top, SZ_4K, &m), 1);
	H_OK(h_protect(h, top, SZ_4K, ro(h), NULL));
	H_OK(h_unmap(h, top, SZ_4K, &removed));
	assert_int_equal(removed, SZ_4K);
	H_OK(h_map(h, h_user_top(h) - SZ_1G, SZ_1G, SZ_1G, rw(h), PTMM_MAP_HUGE));
	H_OK(h_query(h, top, &m));
	assert_int_equal(m.size, SZ_1G);
	H_OK(h_unmap(h, h_user_top(h) - SZ_2M, SZ_2M, &removed));
	assert_int_equal(removed, SZ_2M);
	/* Past the end, wrap-around, other half, non-canonical. */
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_map(h, top, 2 * SZ_4K, 0x5000, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_unmap(h, top, 2 * SZ_4K, NULL));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_map(h, top, UINT64_MAX - SZ_4K + 1, 0, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_unmap(h, SZ_4K, UINT64_MAX - SZ_4K + 1, NULL));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_map(h, h_user_top(h), SZ_4K, 0x5000, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_map(h, h_kernel_base(h), SZ_4K, 0x5000, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE,
			     h_map(h, 0xfffffffffffff000ull, SZ_4K, 0x5000, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_query(h, 0xfffffffffffff000ull, &m));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_query(h, h_user_top(h), &m));
	/* Bad alignment and length. */
	EXPECT_ERR_UNCHANGED(h, PTMM_EALIGN, h_map(h, 0x1800, SZ_4K, 0x5000, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_EALIGN, h_map(h, 0x10000, 0x1800, 0x5000, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_EALIGN, h_map(h, 0x10000, SZ_4K, 0x5800, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_EINVAL, h_map(h, 0x10000, 0, 0x5000, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_EALIGN, h_query(h, 0x1800, &m));
	EXPECT_ERR_UNCHANGED(h, PTMM_EALIGN, h_find(h, 0x1800, SZ_4K, &m));
	EXPECT_ERR_UNCHANGED(h, PTMM_EALIGN, h_protect(h, 0x1800, SZ_4K, ro(h), NULL));
	EXPECT_ERR_UNCHANGED(h, PTMM_EALIGN, h_unmap(h, 0x2000, 0x800, NULL));
}

/* The top page of the address space, the base of the upper half, wrap-around. */
static void test_va_edges_kernel(void **state)
{
	struct harness *h = *state;
	const ptmm_vaddr_t top = 0xfffffffffffff000ull;
	struct ptmm_mapping m;
	uint64_t removed = 0, mapped = 0;
	struct h_snapshot s;

	H_OK(h_map(h, top, SZ_4K, 0x3000, rw(h), 0));
	H_OK(h_query(h, top, &m));
	assert_true(m.present);
	assert_int_equal(m.va, top);
	assert_int_equal(m.size, SZ_4K);
	assert_int_equal(h_find(h, top, SZ_4K, &m), 1);
	assert_int_equal(m.va, top);
	H_OK(h_protect(h, top, SZ_4K, ro(h), &mapped));
	assert_int_equal(mapped, SZ_4K);
	H_OK(h_map(h, h_kernel_base(h), SZ_4K, 0x4000, rw(h), 0));
	snap(h, &s);
	expect_count(&s, 2);
	expect_run(&s, 0, h_kernel_base(h), SZ_4K, 0x4000, 1, rw(h), false);
	expect_run(&s, 1, top, SZ_4K, 0x3000, 1, ro(h), false);
	h_snapshot_free(&s);
	H_OK(h_unmap(h, top, SZ_4K, &removed));
	assert_int_equal(removed, SZ_4K);
	/* The top 1G as one leaf, then a split at the very top. */
	H_OK(h_map(h, top - SZ_1G + SZ_4K, SZ_1G, SZ_1G, rw(h), PTMM_MAP_HUGE));
	H_OK(h_unmap(h, top, SZ_4K, &removed));
	assert_int_equal(removed, SZ_4K);
	H_OK(h_query(h, top - SZ_4K, &m));
	assert_int_equal(m.size, SZ_4K);
	assert_int_equal(m.pa, 2 * SZ_1G - 2 * SZ_4K);
	/* Wrap-around and the other half. */
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_map(h, top, 2 * SZ_4K, 0x5000, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_unmap(h, top, 2 * SZ_4K, NULL));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_protect(h, top - SZ_4K, 3 * SZ_4K, rw(h), NULL));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_find(h, top, 2 * SZ_4K, &m));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_map(h, 0, SZ_4K, 0x5000, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_map(h, h_user_top(h) - SZ_4K, SZ_4K, 0x5000, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_map(h, h_kernel_base(h) - SZ_4K, SZ_4K, 0x5000, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_query(h, 0x1000, &m));
}

/* ---- Cursor ranges ---- */

static void test_cursor_range_checks(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = hv(h, 0x7000000);
	struct h_snapshot before, after;
	struct ptmm_mapping m;
	struct ptmm_cursor c;

	H_ERR(ptmm_cursor_open(&c, &h->pt, v, 0), PTMM_EINVAL);
	H_ERR(ptmm_cursor_open(&c, &h->pt, v + 8, SZ_4K), PTMM_EALIGN);
	H_ERR(ptmm_cursor_open(&c, &h->pt, v, SZ_4K + 8), PTMM_EALIGN);
	snap(h, &before);
	H_OK(ptmm_cursor_open(&c, &h->pt, v, 2 * SZ_4K));
	assert_int_equal(ptmm_cursor_va(&c), v);
	H_ERR(ptmm_cursor_map(&c, 0x1000, 3 * SZ_4K, rw(h), 0), PTMM_ERANGE);
	H_ERR(ptmm_cursor_unmap(&c, 3 * SZ_4K, NULL), PTMM_ERANGE);
	H_ERR(ptmm_cursor_protect(&c, 3 * SZ_4K, ro(h), NULL), PTMM_ERANGE);
	H_ERR(ptmm_cursor_jump(&c, v + 3 * SZ_4K), PTMM_ERANGE);
	H_ERR(ptmm_cursor_jump(&c, v - SZ_4K), PTMM_ERANGE);
	H_ERR(ptmm_cursor_jump(&c, v + 8), PTMM_EALIGN);
	assert_int_equal(ptmm_cursor_va(&c), v);
	H_OK(ptmm_cursor_jump(&c, v + SZ_4K));
	H_ERR(ptmm_cursor_map(&c, 0x1000, 2 * SZ_4K, rw(h), 0), PTMM_ERANGE);
	H_OK(ptmm_cursor_jump(&c, v));
	ptmm_cursor_close(&c);
	snap(h, &after);
	h_assert_same(&before, &after, "failed cursor ops");
	h_snapshot_free(&after);

	H_OK(ptmm_cursor_open(&c, &h->pt, v, 2 * SZ_4K));
	H_OK(ptmm_cursor_map(&c, 0x1000, SZ_4K, rw(h), 0));
	assert_int_equal(ptmm_cursor_va(&c), v + SZ_4K);
	H_OK(ptmm_cursor_map(&c, 0x9000, SZ_4K, rw(h), 0));
	assert_int_equal(ptmm_cursor_va(&c), v + 2 * SZ_4K);
	H_ERR(ptmm_cursor_map(&c, 0x1000, SZ_4K, rw(h), 0), PTMM_ERANGE);
	H_OK(ptmm_cursor_jump(&c, v + SZ_4K));
	H_OK(ptmm_cursor_query(&c, &m));
	assert_true(m.present);
	assert_int_equal(m.pa, 0x9000);
	H_OK(ptmm_cursor_protect(&c, SZ_4K, ro(h), NULL));
	assert_int_equal(ptmm_cursor_va(&c), v + 2 * SZ_4K);
	ptmm_cursor_close(&c);
	h_assert_check(h, "after cursor ops");
	snap(h, &after);
	expect_count(&after, 2);
	expect_run(&after, 0, v, SZ_4K, 0x1000, 1, rw(h), false);
	expect_run(&after, 1, v + SZ_4K, SZ_4K, 0x9000, 1, ro(h), false);
	h_snapshot_free(&after);
	h_snapshot_free(&before);
}

/* ---- Reclaim ---- */

static void test_reclaim(void **state)
{
	struct harness *h = *state;
	uint64_t fp = h_free_pool(h), fd = h_free_data(h);
	uint64_t root = h_root_entry_size(h);
	ptmm_vaddr_t a = hv(h, root + SZ_4K), d = a + 9 * SZ_4K;
	ptmm_vaddr_t b = hv(h, root + 5 * SZ_1G), c = hv(h, root + 9 * SZ_1G);
	uint64_t big = min_size(SZ_1G, h_max_leaf_size(h)); /* Sv39 kernel: 2M leaves */
	const ptmm_vaddr_t vas[] = { a, d, b, c };
	const uint64_t sizes[] = { SZ_4K, SZ_4K, SZ_2M, big };
	uint64_t all = nodes_for(h, h_is_kernel(h), vas, sizes, 4);
	uint64_t without_a = nodes_for(h, h_is_kernel(h), vas + 1, sizes + 1, 3);
	uint64_t without_ad = nodes_for(h, h_is_kernel(h), vas + 2, sizes + 2, 2);
	struct h_snapshot s;

	H_OK(h_map(h, a, SZ_4K, 0x1000, rw(h), 0));
	H_OK(h_map(h, d, SZ_4K, 0x2000, rw(h), 0));
	H_OK(h_map(h, b, SZ_2M, 0x200000, rw(h), PTMM_MAP_HUGE));
	H_OK(h_map(h, c, SZ_1G, SZ_1G, rw(h), PTMM_MAP_HUGE));
	snap(h, &s);
	expect_stats(&s, base_nodes(h) + all, 2 * SZ_4K + SZ_2M + SZ_1G,
		     2 + 512 + SZ_1G / SZ_4K);
	assert_int_equal(s.free_pool, fp - all);
	h_snapshot_free(&s);
	H_OK(h_unmap(h, a, SZ_4K, NULL)); /* d keeps the level-1 node */
	assert_int_equal(without_a, all);
	snap(h, &s);
	assert_int_equal(s.stats.nodes, base_nodes(h) + all);
	h_snapshot_free(&s);
	H_OK(h_unmap(h, d, SZ_4K, NULL)); /* frees the nodes only a and d used */
	assert_true(without_ad < all);
	snap(h, &s);
	assert_int_equal(s.stats.nodes, base_nodes(h) + without_ad);
	assert_int_equal(s.free_pool, fp - without_ad);
	h_snapshot_free(&s);
	H_OK(h_unmap(h, b, SZ_2M, NULL));
	H_OK(h_unmap(h, c, SZ_1G, NULL));
	snap(h, &s);
	expect_stats(&s, base_nodes(h), 0, 0);
	assert_int_equal(s.free_pool, fp);
	assert_int_equal(s.free_data, fd);
	h_snapshot_free(&s);
	/* A split that leaves nothing: map 2M, unmap it in two halves. */
	H_OK(h_map(h, b, SZ_2M, 0x200000, rw(h), PTMM_MAP_HUGE));
	H_OK(h_unmap(h, b, SZ_1M, NULL));
	H_OK(h_unmap(h, b + SZ_1M, SZ_1M, NULL));
	unmap_all_and_expect_empty(h, fd, fp);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST_ARCHS(test_map_4k),
		H_TEST_ARCHS_KERNEL(test_map_4k),
		H_TEST_ARCHS(test_map_without_huge_is_4k),
		H_TEST_ARCHS(test_map_huge_each_level),
		H_TEST_ARCHS_KERNEL(test_map_huge_each_level),
		H_TEST_ARCHS(test_map_huge_greedy),
		H_TEST_ARCHS_KERNEL(test_map_huge_greedy),
		H_TEST_ARCHS(test_exact_cover_is_one_huge_leaf),
		H_TEST_ARCHS(test_split_1g_every_child),
		H_TEST_ARCHS_KERNEL(test_split_1g_every_child),
		/* Not Sv39: its halves (256G) hold no 512G range; test_split_largest_leaf does. */
		H_TEST_WIDE(test_split_512g_every_child, user),
		H_TEST_ARCHS(test_split_largest_leaf),
		H_TEST_ARCHS_KERNEL(test_split_largest_leaf),
		H_TEST_ARCHS(test_pa_width_refused),
		H_TEST_ARCHS_KERNEL(test_pa_width_refused),
		H_TEST_ARCHS(test_pa_width_table_creation),
		H_TEST_WIDE(test_split_512g_every_child, kernel),
		H_TEST_ARCHS(test_unmap_straddling_both_ends),
		H_TEST_ARCHS(test_protect_splits_only_where_changed),
		H_TEST_ARCHS_KERNEL(test_protect_splits_only_where_changed),
		H_TEST_ARCHS(test_noaccess_stays_mapped),
		H_TEST_ARCHS_KERNEL(test_noaccess_stays_mapped),
		H_TEST_ARCHS(test_replace_vs_exist),
		H_TEST_ARCHS(test_query_and_find),
		H_TEST_ARCHS_KERNEL(test_query_and_find),
		H_TEST_ARCHS(test_va_edges_user),
		H_TEST_ARCHS_KERNEL(test_va_edges_kernel),
		H_TEST_ARCHS(test_cursor_range_checks),
		H_TEST_ARCHS_KERNEL(test_cursor_range_checks),
		H_TEST_ARCHS(test_reclaim),
		H_TEST_ARCHS_KERNEL(test_reclaim),
	};
	return cmocka_run_group_tests_name("cursor", tests, NULL, NULL);
}
