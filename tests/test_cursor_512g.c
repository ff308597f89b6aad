/*
 * test_cursor_512g.c - directed tests of page tables and the cursor: a
 * 512 GiB leaf over 512 GiB of RAM, protected and unmapped page by page, on
 * the two encoders whose user half holds it with 512G leaves (sv48,
 * fake48).  Its own program because it is the slowest: the checker visits
 * 2^27 frame slots after every operation (minutes on a loaded machine),
 * and meson runs it next to the other cursor tests.
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

/*
 * A 512G leaf over tracked RAM (a machine with exactly 512 GiB of data
 * RAM, all of it mapped by one leaf): query, split by a 4K protect, split
 * by a 4K unmap, unmap; every child's PA, the stats, and the reference
 * count and map_count of every block after each step (the checker runs
 * after each operation).  A leaf holds one reference on each block it
 * intersects (frame.h); blocks are at most 2^PTMM_FRAME_MAX_ORDER frames.
 */
static void expect_block_counts(struct harness *h, ptmm_paddr_t pa, uint64_t len, ptmm_paddr_t special,
				uint32_t special_count, uint32_t other_count)
{
	const uint64_t block = SZ_4K << PTMM_FRAME_MAX_ORDER;
	for (ptmm_paddr_t b = pa; b < pa + len; b += block) {
		const struct ptmm_frame_slot *s = ptmm_frame_block_head(&h->ft, b);
		uint32_t want = b == special ? special_count : other_count;
		if (ptmm_frame_slot_pa(&h->ft, s) != b || s->order != PTMM_FRAME_MAX_ORDER ||
		    s->usage != PTMM_FRAME_DATA || atomic_load(&s->refcount) != want ||
		    atomic_load(&s->map_count) != want)
			fail_msg("block 0x%llx: head 0x%llx order %u usage %u refcount %u map_count"
				 " %u; expected a data block of order %u with %u and %u",
				 (unsigned long long)b, (unsigned long long)ptmm_frame_slot_pa(&h->ft, s),
				 s->order, s->usage, atomic_load(&s->refcount),
				 atomic_load(&s->map_count), PTMM_FRAME_MAX_ORDER, want, want);
	}
}

static void test_512g_leaf_over_ram(void **state)
{
	struct harness *h = *state;
	const ptmm_vaddr_t va = hv(h, 2 * SZ_512G);
	const ptmm_paddr_t pa = 0; /* all of data RAM */
	const uint64_t block = SZ_4K << PTMM_FRAME_MAX_ORDER;
	/* The protected page: 1G child a, its 2M child b, its 4K child c. */
	const unsigned a = 5, b = 300, c = 77;
	/* The unmapped page, in another 1G child. */
	const unsigned a2 = 400, b2 = 10, c2 = 511;
	const ptmm_vaddr_t page = va + a * SZ_1G + b * SZ_2M + c * SZ_4K;
	const ptmm_vaddr_t hole = va + a2 * SZ_1G + b2 * SZ_2M + c2 * SZ_4K;
	uint64_t fd = h_free_data(h), fp = h_free_pool(h), mapped = 0, removed = 0;
	struct ptmm_mapping m;
	struct h_snapshot s;
	size_t i = 0;

	assert_int_equal(h->mem, SZ_512G);
	assert_int_equal(fd, SZ_512G / SZ_4K);
	assert_int_equal(h_max_leaf_size(h), SZ_512G);

	H_OK(h_map(h, va, SZ_512G, pa, rw(h), PTMM_MAP_HUGE));
	snap(h, &s);
	expect_count(&s, 1);
	expect_run(&s, 0, va, SZ_512G, pa, 1, rw(h), false);
	expect_stats(&s, base_nodes(h), SZ_512G, SZ_512G / SZ_4K);
	assert_int_equal(s.free_data, 0);
	h_snapshot_free(&s);
	expect_block_counts(h, pa, SZ_512G, pa, 1, 1);
	H_OK(h_query(h, page, &m));
	assert_true(m.present && !m.mmio && !m.untracked);
	assert_true(m.va == va && m.size == SZ_512G && m.pa == pa);
	assert_true(ptmm_prop_eq(m.prop, rw(h)));

	/* Protect one page: 511 1G + 511 2M + 512 4K leaves, one of them read-only. */
	H_OK(h_protect(h, page, SZ_4K, ro(h), &mapped));
	assert_int_equal(mapped, SZ_4K);
	snap(h, &s);
	expect_count(&s, 511 + 511 + 512);
	i = expect_run(&s, 0, va, SZ_1G, pa, a, rw(h), false);
	i = expect_run(&s, i, va + a * SZ_1G, SZ_2M, pa + a * SZ_1G, b, rw(h), false);
	i = expect_run(&s, i, va + a * SZ_1G + b * SZ_2M, SZ_4K, pa + a * SZ_1G + b * SZ_2M, c,
		       rw(h), false);
	i = expect_run(&s, i, page, SZ_4K, page - va + pa, 1, ro(h), false);
	i = expect_run(&s, i, page + SZ_4K, SZ_4K, page - va + pa + SZ_4K, 511 - c, rw(h), false);
	i = expect_run(&s, i, va + a * SZ_1G + (b + 1) * SZ_2M, SZ_2M,
		       pa + a * SZ_1G + (b + 1) * SZ_2M, 511 - b, rw(h), false);
	expect_run(&s, i, va + (a + 1) * SZ_1G, SZ_1G, pa + (a + 1) * SZ_1G, 511 - a, rw(h), false);
	expect_stats(&s, base_nodes(h) + 3, SZ_512G, SZ_512G / SZ_4K);
	assert_int_equal(s.free_data, 0);
	h_snapshot_free(&s);
	/* The 1G block under child a is covered by 511 2M and 512 4K leaves. */
	expect_block_counts(h, pa, SZ_512G, pa + a * block, 511 + 512, 1);
	H_OK(h_query(h, page, &m));
	assert_true(m.va == page && m.size == SZ_4K && m.pa == page - va + pa);
	assert_true(ptmm_prop_eq(m.prop, ro(h)));

	/* Unmap a page of another 1G child: 511 2M + 511 4K leaves cover its block. */
	H_OK(h_unmap(h, hole, SZ_4K, &removed));
	assert_int_equal(removed, SZ_4K);
	snap(h, &s);
	expect_count(&s, 511 + 511 + 512 + 511 + 511 - 1);
	i = expect_run(&s, 0, va, SZ_1G, pa, a, rw(h), false);
	i += 511 + 512; /* the children of a, checked above (and by the checker's re-encoding) */
	i = expect_run(&s, i, va + (a + 1) * SZ_1G, SZ_1G, pa + (a + 1) * SZ_1G, a2 - a - 1, rw(h),
		       false);
	i = expect_run(&s, i, va + a2 * SZ_1G, SZ_2M, pa + a2 * SZ_1G, b2, rw(h), false);
	i = expect_run(&s, i, va + a2 * SZ_1G + b2 * SZ_2M, SZ_4K, pa + a2 * SZ_1G + b2 * SZ_2M, c2,
		       rw(h), false);
	i = expect_run(&s, i, va + a2 * SZ_1G + (b2 + 1) * SZ_2M, SZ_2M,
		       pa + a2 * SZ_1G + (b2 + 1) * SZ_2M, 511 - b2, rw(h), false);
	expect_run(&s, i, va + (a2 + 1) * SZ_1G, SZ_1G, pa + (a2 + 1) * SZ_1G, 511 - a2, rw(h),
		   false);
	expect_stats(&s, base_nodes(h) + 5, SZ_512G - SZ_4K, SZ_512G / SZ_4K - 1);
	/* The page's frame stays in its block, which is still mapped (frame.h). */
	assert_int_equal(s.free_data, 0);
	h_snapshot_free(&s);
	{
		const struct ptmm_frame_slot *ba = ptmm_frame_block_head(&h->ft, pa + a * block);
		const struct ptmm_frame_slot *b2s = ptmm_frame_block_head(&h->ft, pa + a2 * block);
		assert_int_equal(atomic_load(&ba->map_count), 511 + 512);
		assert_int_equal(atomic_load(&b2s->map_count), 511 + 511);
		assert_int_equal(atomic_load(&b2s->refcount), 511 + 511);
	}

	/* Unmap it all: every frame and node comes back. */
	H_OK(h_unmap(h, va, SZ_512G, &removed));
	assert_int_equal(removed, SZ_512G - SZ_4K);
	snap(h, &s);
	expect_count(&s, 0);
	expect_stats(&s, base_nodes(h), 0, 0);
	assert_int_equal(s.free_data, fd);
	assert_int_equal(s.free_pool, fp);
	h_snapshot_free(&s);
	for (ptmm_paddr_t blk = pa; blk < pa + SZ_512G; blk += block)
		assert_int_equal(atomic_load(&ptmm_frame_block_head(&h->ft, blk)->refcount),
				 PTMM_FRAME_REF_UNUSED);
}

/* A machine with exactly 512 GiB of data RAM (sv48, fake48: halves of 128 TiB). */
static const struct harness_param ram512g_user_sv48 = { H_SV48, PTMM_PT_USER, SZ_512G, 0 };
static const struct harness_param ram512g_user_fake48 = { H_FAKE48, PTMM_PT_USER, SZ_512G, 0 };

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST_ONE(test_512g_leaf_over_ram, ram512g_user_sv48),
		H_TEST_ONE(test_512g_leaf_over_ram, ram512g_user_fake48),
	};
	return cmocka_run_group_tests_name("cursor_512g", tests, NULL, NULL);
}
