/*
 * test_cursor_frames.c - directed tests of page tables and the cursor:
 * frames (several mappings, MMIO, untracked, references), properties, TLB
 * and release order, the checker, kernel tables and destroy.  Every body
 * runs on every encoder (the five paging modes, fake48, fake57) and, where
 * it matters, in both halves.
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

/* ---- Frames ---- */

/* One frame at several VAs (and inside a huge leaf), plus a live handle. */
static void test_multi_mapping(void **state)
{
	struct harness *h = *state;
	const ptmm_paddr_t p = 0x7000;
	ptmm_vaddr_t v1 = hv(h, 0x10000000), v2 = hv(h, 0x20000000), v3 = hv(h, 0x40000000);
	uint64_t fd = h_free_data(h);
	struct h_snapshot s;
	ptmm_paddr_t q;

	H_OK(h_map(h, v1, SZ_4K, p, rw(h), 0));
	H_OK(h_map(h, v2, SZ_4K, p, ro(h), 0));
	snap(h, &s);
	expect_stats(&s, s.stats.nodes, 2 * SZ_4K, 1);
	assert_int_equal(s.free_data, fd - 1);
	h_snapshot_free(&s);
	H_OK(h_map(h, v3, SZ_2M, 0, rw(h), PTMM_MAP_HUGE)); /* covers p too */
	snap(h, &s);
	expect_stats(&s, s.stats.nodes, 2 * SZ_4K + SZ_2M, 512);
	assert_int_equal(s.free_data, fd - 512);
	h_snapshot_free(&s);
	ptmm_frame_get(&h->ft, p); /* a handle outlives the mappings */
	H_OK(h_unmap(h, v3, SZ_2M, NULL));
	snap(h, &s);
	expect_stats(&s, s.stats.nodes, 2 * SZ_4K, 1);
	assert_int_equal(s.free_data, fd - 1);
	h_snapshot_free(&s);
	H_OK(h_unmap(h, v1, SZ_4K, NULL));
	H_OK(h_unmap(h, v2, SZ_4K, NULL));
	assert_int_equal(h_free_data(h), fd - 1);
	assert_true(atomic_load(&ptmm_frame_block_head(&h->ft, p)->refcount) != PTMM_FRAME_REF_UNUSED);
	h_assert_check(h, "handle without mappings");
	ptmm_frame_put(&h->ft, p);
	assert_int_equal(h_free_data(h), fd);
	assert_int_equal(atomic_load(&ptmm_frame_block_head(&h->ft, p)->refcount), PTMM_FRAME_REF_UNUSED);
	h_assert_check(h, "after the last put");

	/* A frame the embedder allocated (one handle) can be mapped too. */
	H_OK(ptmm_frame_alloc(&h->ft, H_ZONE_DATA, 0, PTMM_FRAME_DATA, &q));
	H_OK(h_map(h, v1, SZ_4K, q, rw(h), 0));
	assert_int_equal(atomic_load(&ptmm_frame_block_head(&h->ft, q)->refcount), 2);
	H_OK(h_unmap(h, v1, SZ_4K, NULL));
	assert_int_equal(atomic_load(&ptmm_frame_block_head(&h->ft, q)->refcount), 1);
	ptmm_frame_put(&h->ft, q);
	assert_int_equal(h_free_data(h), fd);
}

/* Device memory is untracked (no frames counted) and never overlaps RAM. */
static void test_mmio(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = hv(h, 0x30000000);
	uint64_t fd = h_free_data(h), fp;
	struct ptmm_mapping m;
	struct h_snapshot s;
	struct ptmm_prop dev = h_prop(h, PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_UC);

	H_OK(h_map(h, v, 2 * SZ_4K, H_MMIO_BASE + SZ_4K, dev, PTMM_MAP_MMIO));
	fp = h_free_pool(h);
	snap(h, &s);
	expect_run(&s, 0, v, SZ_4K, H_MMIO_BASE + SZ_4K, 2, dev, true);
	expect_stats(&s, s.stats.nodes, 2 * SZ_4K, 0);
	assert_int_equal(s.free_data, fd);
	h_snapshot_free(&s);
	H_OK(h_query(h, v, &m));
	assert_true(m.mmio);
	/* Device memory is never RAM, and RAM is never device memory. */
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_map(h, v + SZ_2M, SZ_4K, 0x1000, dev, PTMM_MAP_MMIO));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE,
			     h_map(h, v + SZ_2M, SZ_4K, h->pool_base, dev, PTMM_MAP_MMIO));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE,
			     h_map(h, v + SZ_2M, 2 * SZ_4K, H_MMIO_BASE + H_MMIO_SIZE - SZ_4K, dev,
				   PTMM_MAP_MMIO));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE,
			     h_map(h, v + SZ_2M, SZ_4K, H_MMIO_BASE - SZ_4K, dev, PTMM_MAP_MMIO));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_map(h, v + SZ_2M, SZ_4K, H_MMIO_BASE, rw(h), 0));
	H_OK(h_unmap(h, v, 2 * SZ_4K, NULL));
	assert_int_equal(h_free_data(h), fd);
	assert_true(h_free_pool(h) > fp); /* the nodes were reclaimed */

	/* Device memory inside the frame window: its slots are never touched. */
	{
		struct ptmm_frame_slot before = *ptmm_frame_slot_of(&h->ft, h->mmio_hole);
		struct ptmm_frame_slot *slot = ptmm_frame_slot_of(&h->ft, h->mmio_hole);
		H_OK(h_map(h, v, SZ_2M, h->mmio_hole, dev, PTMM_MAP_MMIO | PTMM_MAP_HUGE));
		snap(h, &s);
		expect_count(&s, 1);
		expect_run(&s, 0, v, SZ_2M, h->mmio_hole, 1, dev, true);
		expect_stats(&s, s.stats.nodes, SZ_2M, 0);
		h_snapshot_free(&s);
		assert_int_equal(atomic_load(&slot->refcount), atomic_load(&before.refcount));
		assert_int_equal(atomic_load(&slot->map_count), atomic_load(&before.map_count));
		assert_int_equal(slot->usage, before.usage);
		assert_null(ptmm_frame_block_head(&h->ft, h->mmio_hole)); /* not RAM */
		EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE,
				     h_map(h, v + SZ_2M, SZ_4K, h->mmio_hole, rw(h), 0));
		H_OK(h_unmap(h, v, SZ_2M, NULL));
		assert_int_equal(atomic_load(&slot->refcount), atomic_load(&before.refcount));
	}
}

/*
 * Untracked RAM (the kernel's direct map): any RAM frame whatever its usage,
 * no reference taken or dropped by map, split, protect or unmap; the
 * software tag survives splits and property changes.  Kernel tables only.
 */
static void test_untracked_direct_map(void **state)
{
	struct harness *h = *state; /* h->pt is the kernel table */
	const uint64_t ram = h->mem + h->pool_size; /* data RAM + node pool, one range */
	/* 512G-aligned (Sv39: 32G, within its 256G half): greedy huge leaves. */
	ptmm_vaddr_t dm = hv(h, 4 * min_size(SZ_512G, h_space_size(h) / 8));
	ptmm_vaddr_t v = hv(h, 0x90000000);
	const ptmm_paddr_t p = 0x5000;
	uint64_t fd = h_free_data(h), fp = h_free_pool(h);
	struct ptmm_frame_slot *data;
	struct ptmm_mapping m;
	struct h_snapshot s;
	uint32_t rc0, mc0;

	/* A tracked mapping of p first: the direct map must not disturb its counts. */
	H_OK(h_map(h, v, SZ_4K, p, rw(h), 0));
	data = ptmm_frame_block_head(&h->ft, p);
	rc0 = atomic_load(&data->refcount);
	mc0 = atomic_load(&data->map_count);
	fd = h_free_data(h);

	/* All RAM, free frames and page-table nodes included. */
	H_OK(h_map(h, dm, ram, 0, rw(h), PTMM_MAP_UNTRACKED | PTMM_MAP_HUGE));
	assert_int_equal(h_free_data(h), fd);
	snap(h, &s);
	expect_stats(&s, s.stats.nodes, ram + SZ_4K, 1); /* only p counts as a mapped frame */
	h_snapshot_free(&s);
	H_OK(h_query(h, dm + p, &m));
	assert_true(m.untracked);
	assert_false(m.mmio);
	assert_int_equal(m.size, h_max_leaf_size(h) >= SZ_1G ? SZ_1G : SZ_2M);
	assert_int_equal(atomic_load(&data->refcount), rc0);
	assert_int_equal(atomic_load(&data->map_count), mc0);
	H_OK(h_query(h, v, &m));
	assert_false(m.untracked);

	/* Protect one 4K page: splits down to 4K, keeps the tag, touches no count. */
	H_OK(h_protect(h, dm + p, SZ_4K, ro(h), NULL));
	H_OK(h_query(h, dm + p, &m));
	assert_true(m.untracked);
	assert_int_equal(m.size, SZ_4K);
	assert_int_equal(m.pa, p);
	assert_true(ptmm_prop_eq(m.prop, ro(h)));
	H_OK(h_query(h, dm + p + SZ_4K, &m));
	assert_true(m.untracked);
	assert_int_equal(m.pa, p + SZ_4K);
	assert_true(ptmm_prop_eq(m.prop, rw(h)));
	assert_int_equal(atomic_load(&data->refcount), rc0);
	assert_int_equal(atomic_load(&data->map_count), mc0);

	/* Unmap a page of it: nothing is released. */
	H_OK(h_unmap(h, dm + p, SZ_4K, NULL));
	assert_int_equal(atomic_load(&data->refcount), rc0);
	assert_int_equal(atomic_load(&data->map_count), mc0);
	assert_int_equal(h_free_data(h), fd);

	/* Replace an untracked page by a tracked one and back. */
	H_OK(h_map(h, dm + p, SZ_4K, p, rw(h), 0));
	assert_int_equal(atomic_load(&data->map_count), mc0 + 1);
	H_OK(h_map(h, dm + p, SZ_4K, p, rw(h), PTMM_MAP_UNTRACKED | PTMM_MAP_REPLACE));
	assert_int_equal(atomic_load(&data->map_count), mc0);

	/* Errors, each with nothing changed. */
	EXPECT_ERR_UNCHANGED(h, PTMM_EINVAL,
			     h_map(h, v + SZ_2M, SZ_4K, p, rw(h), PTMM_MAP_UNTRACKED | PTMM_MAP_MMIO));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE,
			     h_map(h, v + SZ_2M, SZ_4K, H_MMIO_BASE, rw(h), PTMM_MAP_UNTRACKED));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE,
			     h_map(h, v + SZ_2M, 2 * SZ_4K, ram - SZ_4K, rw(h), PTMM_MAP_UNTRACKED));
	EXPECT_ERR_UNCHANGED(h, PTMM_EEXIST,
			     h_map(h, dm, SZ_4K, 0, rw(h), PTMM_MAP_UNTRACKED));

	/* Everything back: no frame, no node lost. */
	H_OK(h_unmap(h, dm, ram, NULL));
	H_OK(h_unmap(h, v, SZ_4K, NULL));
	assert_int_equal(h_free_pool(h), fp);
	assert_int_equal(atomic_load(&data->map_count), 0);
}

/* User tables refuse untracked RAM; the checker refuses a tagged user leaf. */
static void test_untracked_user_refused(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = hv(h, 0x90000000);
	char buf[512];
	ptmm_pte_t *leaf, saved;

	EXPECT_ERR_UNCHANGED(h, PTMM_EINVAL, h_map(h, v, SZ_4K, 0x5000, rw(h), PTMM_MAP_UNTRACKED));
	H_OK(h_map(h, v, SZ_4K, 0x5000, rw(h), 0));
	leaf = pte_at(h, v, 1);
	saved = *leaf;
	*leaf |= h->arch.fmt.untracked;
	assert_int_not_equal(h_check(h, buf, sizeof(buf)), PTMM_OK);
	print_message("  (tagged user leaf) -> %s\n", buf);
	*leaf = saved;
	h_assert_check(h, "tag removed");
}

/* Node-pool, UNIQUE and reserved frames are EPERM; past the pool is ERANGE. */
static void test_map_node_frame_is_perm(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = hv(h, 0x50000000);
	const ptmm_paddr_t pool_end = h->pool_base + h->pool_size;
	int rc;

	EXPECT_ERR_UNCHANGED(h, PTMM_EPERM, h_map(h, v, SZ_4K, h->pt.root, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_EPERM, h_map(h, v, SZ_4K, pool_end - SZ_4K, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_EPERM, h_map(h, v, SZ_2M, h->pool_base, rw(h), PTMM_MAP_HUGE));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_map(h, v, SZ_4K, pool_end, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE, h_map(h, v, SZ_4K, 64 * TiB, rw(h), 0));
	/* A range from data RAM into the pool: either code is right. */
	rc = h_map(h, v, 2 * SZ_4K, h->mem - SZ_4K, rw(h), 0);
	if (rc != PTMM_EPERM && rc != PTMM_ERANGE)
		fail_msg("map across data RAM and the pool -> %s", ptmm_strerror(rc));
	/* Frames owned outright (UNIQUE) are never mappable. */
	{
		ptmm_paddr_t k;
		H_OK(ptmm_frame_alloc(&h->ft, H_ZONE_DATA, 0, PTMM_FRAME_KERNEL, &k));
		EXPECT_ERR_UNCHANGED(h, PTMM_EPERM, h_map(h, v, SZ_4K, k, rw(h), 0));
		ptmm_frame_free_unique(&h->ft, k);
		H_OK(ptmm_frame_table_reserve(&h->ft, 0x3000000, 2 * SZ_4K, PTMM_FRAME_RESERVED));
		EXPECT_ERR_UNCHANGED(h, PTMM_EPERM, h_map(h, v, 4 * SZ_4K, 0x2ffe000, rw(h), 0));
	}
	/* A node in use right now (the level-1 node of a mapping). */
	H_OK(h_map(h, v, SZ_4K, 0x1000, rw(h), 0));
	{
		ptmm_pte_t *e = pte_at(h, v, 2);
		ptmm_paddr_t l1 = ptmm_pte_table_addr(&h->arch.fmt, *e);
		EXPECT_ERR_UNCHANGED(h, PTMM_EPERM, h_map(h, v + SZ_4K, SZ_4K, l1, rw(h), 0));
	}
}

/* PAs near 2^64 and reference counts at their limit. */
static void test_pa_wrap_and_refcount_limit(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = hv(h, 0x51000000);
	const ptmm_paddr_t p = 0x6000;
	struct ptmm_frame_slot *s;
	uint32_t saved;

	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE,
			     h_map(h, v, 2 * SZ_4K, 0xfffffffffffff000ull, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE,
			     h_map(h, v, 2 * SZ_4K, 0xfffffffffffff000ull, rw(h), PTMM_MAP_MMIO));
	EXPECT_ERR_UNCHANGED(h, PTMM_ERANGE,
			     h_map(h, v, SZ_2M, 0xffffffffffe00000ull, rw(h), PTMM_MAP_HUGE));
	/* A frame whose count is at the maximum cannot take another mapping. */
	H_OK(h_map(h, v, SZ_4K, p, rw(h), 0));
	s = ptmm_frame_block_head(&h->ft, p);
	saved = atomic_load(&s->refcount);
	atomic_store(&s->refcount, PTMM_FRAME_REF_MAX); /* as if held by many handles */
	EXPECT_ERR_UNCHANGED(h, PTMM_ENOMEM, h_map(h, v + SZ_4K, SZ_4K, p, rw(h), 0));
	atomic_store(&s->refcount, saved);
	H_OK(h_map(h, v + SZ_4K, SZ_4K, p, rw(h), 0));
}

/* ---- Properties ---- */

/* Every flag set x every cache: refused as the contract says, or read back exactly. */
static void test_prop_round_trip_and_errors(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = hv(h, 0x60000000);
	struct ptmm_mapping m;
	char pb[16];
	unsigned ok = 0;

	for (unsigned flags = 0; flags <= PTMM_PROP_ALL; flags++) {
		for (unsigned cache = 0; cache < PTMM_CACHE_COUNT; cache++) {
			struct ptmm_prop p = ptmm_prop_make(flags, cache);
			int want = h_expected_prop_result(h, p, true);
			struct h_snapshot before, after;
			int got;

			snap(h, &before);
			got = h_map(h, v, SZ_4K, 0x1000, p, 0);
			if (got != want)
				fail_msg("map with %s -> %s, expected %s", h_prop_str(p, pb),
					 ptmm_strerror(got), ptmm_strerror(want));
			if (got != PTMM_OK) {
				snap(h, &after);
				h_assert_same(&before, &after, "map with a refused property");
				h_snapshot_free(&after);
			}
			h_snapshot_free(&before);
			if (got != PTMM_OK)
				continue;
			H_OK(h_query(h, v, &m));
			if (!ptmm_prop_eq(m.prop, p))
				fail_msg("mapped %s, read back %s", h_prop_str(p, pb),
					 h_prop_str(m.prop, pb + 0));
			/* Huge leaves carry the same property. */
			H_OK(h_map(h, v + SZ_2M, SZ_2M, SZ_2M, p, PTMM_MAP_HUGE));
			H_OK(h_query(h, v + SZ_2M, &m));
			assert_int_equal(m.size, SZ_2M);
			if (!ptmm_prop_eq(m.prop, p))
				fail_msg("mapped 2M %s, read back another", h_prop_str(p, pb));
			H_OK(h_unmap(h, v, 2 * SZ_2M, NULL));
			ok++;
		}
	}
	assert_true(ok >= 8);
	/* Malformed values, and the same checks in protect (nothing changes). */
	H_OK(h_map(h, v, SZ_4K, 0x1000, rw(h), 0));
	EXPECT_ERR_UNCHANGED(h, PTMM_EINVAL,
			     h_protect(h, v, SZ_4K, h_prop(h, PTMM_PROP_W, PTMM_CACHE_WB), NULL));
	EXPECT_ERR_UNCHANGED(h, PTMM_EINVAL,
			     h_protect(h, v, SZ_4K, ptmm_prop_make(PTMM_PROP_R | 0x40, 0), NULL));
	EXPECT_ERR_UNCHANGED(h, PTMM_EINVAL,
			     h_protect(h, v, SZ_4K, ptmm_prop_make(PTMM_PROP_R, 9), NULL));
	EXPECT_ERR_UNCHANGED(h, PTMM_EINVAL,
			     h_protect(h, v, SZ_4K,
				       ptmm_prop_make(PTMM_PROP_R | (h_is_kernel(h) ? PTMM_PROP_U :
								 PTMM_PROP_G), 0), NULL));
	EXPECT_ERR_UNCHANGED(h, PTMM_EINVAL,
			     h_map(h, v + SZ_4K, SZ_4K, 0x2000, ptmm_prop_make(PTMM_PROP_R, 200), 0));
	/* What only some encoders refuse, through protect. */
	if (h_is_riscv(h)) {
		EXPECT_ERR_UNCHANGED(h, PTMM_ENOTSUP,
				     h_protect(h, v, SZ_4K, h_prop(h, PTMM_PROP_R, PTMM_CACHE_WT),
					       NULL));
	} else if (h_is_x86(h)) {
		EXPECT_ERR_UNCHANGED(h, PTMM_EINVAL,
				     h_protect(h, v, SZ_4K, h_prop(h, PTMM_PROP_X, PTMM_CACHE_WB),
					       NULL));
	} else {
		assert_true(h_is_fake(h));
		/* fake48 has execute-only and write-through: protect applies them. */
		struct ptmm_prop xo_wt = h_prop(h, PTMM_PROP_X, PTMM_CACHE_WT);
		H_OK(h_protect(h, v, SZ_4K, xo_wt, NULL));
		H_OK(h_query(h, v, &m));
		assert_true(ptmm_prop_eq(m.prop, xo_wt));
	}
}

/* Sv48 without Svpbmt: only write-back is expressible. */
static void test_sv48_without_svpbmt(void **state)
{
	struct harness *h = *state;
	struct ptmm_arch plain;
	struct ptmm_page_table pt;
	struct ptmm_cursor c;
	char pb[16];

	assert_true(h_is_riscv(h)); /* registered for sv48 only */
	harness_arch_init(h, &plain, H_SV48, 0);
	H_OK(ptmm_page_table_init_user(&pt, &plain, &h->ft, H_ZONE_POOL, NULL));
	harness_add_pt(h, &pt);
	for (unsigned cache = 0; cache < PTMM_CACHE_COUNT; cache++) {
		struct ptmm_prop p = ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_W | PTMM_PROP_U, cache);
		int want = cache == PTMM_CACHE_WB ? PTMM_OK : PTMM_ENOTSUP;
		int got;
		H_OK(ptmm_cursor_open(&c, &pt, 0x1000000, SZ_4K));
		got = ptmm_cursor_map(&c, H_MMIO_BASE, SZ_4K, p, PTMM_MAP_MMIO);
		ptmm_cursor_close(&c);
		if (got != want)
			fail_msg("sv48 without svpbmt: %s -> %s, expected %s", h_prop_str(p, pb),
				 ptmm_strerror(got), ptmm_strerror(want));
		h_assert_check(h, "sv48 without svpbmt");
	}
	harness_remove_pt(h, &pt);
	ptmm_page_table_destroy(&pt);
	h_assert_check(h, "after destroying the plain sv48 table");
}

/* ---- TLB and release order ---- */

/*
 * Release order, from the recorded flushes: the first flush after the
 * removal still saw the free counts from before it (nothing was released
 * early), and if nodes were released in the end, the last flush came
 * before the last of them (nodes above the cursor's guard are reclaimed at
 * close, after their own flush).
 */
static void expect_release_after_flush(const struct harness *h, uint64_t fd, uint64_t fp,
				       const char *what)
{
	const struct tlb_event *first = NULL, *last = NULL;
	for (unsigned i = 0; i < h->nr_tlb; i++) {
		if (h->tlb_log[i].kind == TLB_ACTIVATE)
			continue;
		if (first == NULL)
			first = &h->tlb_log[i];
		last = &h->tlb_log[i];
	}
	if (first == NULL)
		fail_msg("%s: no TLB flush at all", what);
	if (first->free_data != fd || first->free_pool != fp)
		fail_msg("%s: frames were freed before the first flush (data %llu -> %llu,"
			 " pool %llu -> %llu)", what, (unsigned long long)fd,
			 (unsigned long long)first->free_data, (unsigned long long)fp,
			 (unsigned long long)first->free_pool);
	if (h_free_pool(h) > fp && last->free_pool >= h_free_pool(h))
		fail_msg("%s: nodes were freed before the last flush", what);
	assert_int_equal(h->tlb_overflow, 0);
}

/* Removed frames and nodes are released only after the flush that covers them. */
static void test_tlb_release_after_flush(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = hv(h, 0x70000000);
	uint64_t fd, fp;
	struct ptmm_cursor c;

	/* Unmap 2M of 4K pages: nothing freed until ptmm_cursor_flush. */
	H_OK(h_map(h, v, SZ_2M, 0x200000, rw(h), 0));
	fd = h_free_data(h);
	fp = h_free_pool(h);
	h_tlb_reset(h);
	H_OK(ptmm_cursor_open(&c, &h->pt, v, SZ_2M));
	H_OK(ptmm_cursor_unmap(&c, SZ_2M, NULL));
	assert_int_equal(h_free_data(h), fd);
	assert_int_equal(h_free_pool(h), fp);
	ptmm_cursor_flush(&c);
	assert_int_equal(h_free_data(h), fd + 512);
	assert_true(h_tlb_covers(h, 0, v, SZ_2M));
	ptmm_cursor_close(&c);
	assert_int_equal(h_free_pool(h), fp + path_nodes(h, SZ_4K));
	expect_release_after_flush(h, fd, fp, "unmap + flush");
	h_assert_check(h, "after unmap + flush");

	/* Same with ptmm_cursor_close only, for a huge leaf. */
	H_OK(h_map(h, v, SZ_2M, 0x200000, rw(h), PTMM_MAP_HUGE));
	fd = h_free_data(h);
	fp = h_free_pool(h);
	h_tlb_reset(h);
	H_OK(ptmm_cursor_open(&c, &h->pt, v, SZ_2M));
	H_OK(ptmm_cursor_unmap(&c, SZ_2M, NULL));
	assert_int_equal(h_free_data(h), fd);
	assert_int_equal(h_free_pool(h), fp);
	ptmm_cursor_close(&c);
	assert_int_equal(h_free_data(h), fd + 512);
	assert_int_equal(h_free_pool(h), fp + path_nodes(h, SZ_2M));
	assert_true(h_tlb_covers(h, 0, v, SZ_2M));
	expect_release_after_flush(h, fd, fp, "unmap + close");
	h_assert_check(h, "after unmap + close");

	/* Replace: the old frame is released only after the flush. */
	H_OK(h_map(h, v, SZ_4K, 0x11000, rw(h), 0));
	fd = h_free_data(h);
	fp = h_free_pool(h);
	h_tlb_reset(h);
	H_OK(ptmm_cursor_open(&c, &h->pt, v, SZ_4K));
	H_OK(ptmm_cursor_map(&c, 0x12000, SZ_4K, rw(h), PTMM_MAP_REPLACE));
	assert_int_equal(h_free_data(h), fd - 1); /* new frame claimed, old one still held */
	ptmm_cursor_close(&c);
	assert_int_equal(h_free_data(h), fd);
	assert_true(h_tlb_covers(h, 0, v, SZ_4K));
	expect_release_after_flush(h, fd - 1, fp, "replace");

	/* Protect that removes a permission must be flushed. */
	h_tlb_reset(h);
	H_OK(h_protect(h, v, SZ_4K, ro(h), NULL));
	assert_true(h_tlb_covers(h, 0, v, SZ_4K));
	h_tlb_reset(h);
	H_OK(h_protect(h, v, SZ_4K, h_prop(h, 0, PTMM_CACHE_WB), NULL));
	assert_true(h_tlb_covers(h, 0, v, SZ_4K));
}

/* ---- The checker can fail ---- */

/* The checker can fail: each deliberate corruption is reported, with text. */
static void test_checker_detects_corruption(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = hv(h, 0x90000000);
	const ptmm_paddr_t p = 0x5000;
	struct ptmm_frame_slot *data, *root, *l1slot;
	ptmm_pte_t *leaf, saved, *l2e;
	uint32_t saved32;
	uint8_t saved8;

	H_OK(h_map(h, v, SZ_4K, p, rw(h), 0));
	data = ptmm_frame_block_head(&h->ft, p);
	root = ptmm_frame_slot_of(&h->ft, h->pt.root);
	leaf = pte_at(h, v, 1);
	l2e = pte_at(h, v, 2);
	assert_non_null(data);
	assert_non_null(leaf);
	l1slot = ptmm_frame_slot_of(&h->ft, ptmm_pte_table_addr(&h->arch.fmt, *l2e));

	atomic_fetch_add(&data->map_count, 1);
	h_expect_violation(h, "map_count one too high");
	atomic_fetch_sub(&data->map_count, 1);
	h_assert_check(h, "map_count restored");

	root->nr_children++;
	h_expect_violation(h, "root nr_children one too high");
	root->nr_children--;
	h_assert_check(h, "nr_children restored");

	saved = *leaf;
	*leaf = 0;
	h_expect_violation(h, "leaf PTE cleared behind the mm's back");
	*leaf = saved;
	h_assert_check(h, "PTE restored");

	*leaf = ptmm_pte_make(&h->arch.fmt, saved & ~h->arch.fmt.addr_mask, h->pt.root);
	h_expect_violation(h, "leaf pointing at the root node");
	*leaf = saved;

	saved32 = atomic_load(&data->refcount);
	atomic_store(&data->refcount, PTMM_FRAME_REF_UNUSED);
	h_expect_violation(h, "mapped frame marked free");
	atomic_store(&data->refcount, saved32);
	h_assert_check(h, "refcount restored");

	saved8 = l1slot->level;
	l1slot->level = 2;
	h_expect_violation(h, "level-1 node labelled level 2");
	l1slot->level = saved8;

	saved8 = l1slot->usage;
	l1slot->usage = PTMM_FRAME_DATA;
	h_expect_violation(h, "node slot labelled as data");
	l1slot->usage = saved8;
	h_assert_check(h, "everything restored");
}

/* ---- Kernel tables: preallocated nodes, sharing, destroy ---- */

static void test_kernel_shared_into_user(void **state)
{
	struct harness *h = *state; /* h->pt is the kernel table */
	struct ptmm_page_table u;
	struct ptmm_stats st;
	const ptmm_pte_t *kroot, *uroot;
	uint64_t fd, fp;

	ptmm_stats(&h->pt, &st);
	assert_int_equal(st.nodes, base_nodes(h));
	H_OK(h_map(h, h_kernel_base(h) + SZ_1G, SZ_4K, 0x1000, rw(h), 0));
	fd = h_free_data(h);
	fp = h_free_pool(h);
	H_OK(ptmm_page_table_init_user(&u, &h->arch, &h->ft, H_ZONE_POOL, &h->pt));
	harness_add_pt(h, &u);
	assert_int_equal(h_free_pool(h), fp - 1);
	kroot = ptmm_frame_to_virt(&h->ft, h->pt.root);
	uroot = ptmm_frame_to_virt(&h->ft, u.root);
	for (unsigned i = 0; i < PTMM_PTES_PER_NODE; i++)
		assert_true(i < 256 ? uroot[i] == 0 : uroot[i] == kroot[i]);
	ptmm_stats(&u, &st);
	assert_int_equal(st.nodes, 1);
	assert_int_equal(ptmm_page_table_space_base(&u), 0);
	assert_int_equal(ptmm_page_table_space_size(&u), h_user_top(h));
	assert_int_equal(ptmm_page_table_space_base(&h->pt), h_kernel_base(h));
	/* Both map the same frame; the checker sees both tables. */
	H_OK(h_map_pt(h, &u, 0x400000, SZ_4K, 0x1000, ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_U, 0), 0));
	H_OK(h_map_pt(h, &u, SZ_1G, SZ_1G, SZ_1G, ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_U, 0),
		      PTMM_MAP_HUGE));
	ptmm_stats(&u, &st);
	{
		/* 4-level: 1 + 3 (the 1G leaf shares the level-3 node). */
		const ptmm_vaddr_t vas[] = { 0x400000, SZ_1G };
		const uint64_t sizes[] = { SZ_4K, SZ_1G };
		assert_int_equal(st.nodes, 1 + nodes_for(h, false, vas, sizes, 2));
	}
	assert_int_equal(st.frames, 1 + SZ_1G / SZ_4K);
	h_assert_check(h, "kernel + user");
	/* A user cursor never reaches the kernel half. */
	{
		struct ptmm_cursor c;
		H_ERR(ptmm_cursor_open(&c, &u, h_kernel_base(h) + SZ_1G, SZ_4K), PTMM_ERANGE);
	}
	ptmm_page_table_activate(&u);
	assert_int_equal(h->tlb_log[h->nr_tlb - 1].kind, TLB_ACTIVATE);
	assert_int_equal(h->tlb_log[h->nr_tlb - 1].va, u.root);
	harness_remove_pt(h, &u);
	/* The active table is not torn down under the CPU: switch first. */
	H_ERR(ptmm_page_table_destroy(&u), PTMM_EBUSY);
	H_OK(ptmm_page_table_activate(&h->pt));
	H_OK(ptmm_page_table_destroy(&u));
	h_assert_check(h, "after destroying the user table");
	assert_int_equal(h_free_data(h), fd);
	assert_int_equal(h_free_pool(h), fp);
	ptmm_stats(&h->pt, &st);
	assert_int_equal(st.nodes, base_nodes(h) + path_nodes(h, SZ_4K));
	assert_int_equal(st.frames, 1);
	assert_int_equal(ptmm_page_table_max_leaf_level(&h->pt), leaf_level(h_max_leaf_size(h)));
}

static void test_destroy_user_releases_everything(void **state)
{
	struct harness *h = *state;
	struct ptmm_page_table u;
	uint64_t fd = h_free_data(h), fp = h_free_pool(h), fd1, fp1;
	struct ptmm_prop p = ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_W | PTMM_PROP_U, 0);

	H_OK(ptmm_page_table_init_user(&u, &h->arch, &h->ft, H_ZONE_POOL, NULL));
	harness_add_pt(h, &u);
	H_OK(h_map_pt(h, &u, SZ_1G, SZ_1G, SZ_1G, p, PTMM_MAP_HUGE));
	H_OK(h_map_pt(h, &u, 3 * SZ_1G, SZ_2M + SZ_4K, 0x7000, p, 0));
	H_OK(h_map_pt(h, &u, h_root_entry_size(h) * 8, SZ_2M, H_MMIO_BASE, p,
		      PTMM_MAP_MMIO | PTMM_MAP_HUGE));
	H_OK(h_unmap_pt(h, &u, SZ_1G + 3 * SZ_4K, SZ_4K, NULL)); /* splits */
	assert_true(h_free_pool(h) < fp);
	harness_remove_pt(h, &u);
	fd1 = h_free_data(h);
	fp1 = h_free_pool(h);
	h_tlb_reset(h);
	ptmm_page_table_destroy(&u);
	h_assert_check(h, "after destroy");
	assert_int_equal(h_free_data(h), fd);
	assert_int_equal(h_free_pool(h), fp);
	/* It flushed, and nothing was freed before the flush. */
	assert_true(h_tlb_covers(h, 0, SZ_1G, SZ_1G) &&
		    h_tlb_covers(h, 0, h_root_entry_size(h) * 8, SZ_2M));
	expect_release_after_flush(h, fd1, fp1, "destroy");
}

/* The half a table maps and its largest leaf, as page_table.h states them. */
static void test_space_geometry(void **state)
{
	struct harness *h = *state;
	unsigned want_leaf = leaf_level(h_max_leaf_size(h));
	unsigned b = h_va_bits(h);

	assert_int_equal(ptmm_page_table_space_base(&h->pt), h_space_base(h));
	assert_int_equal(ptmm_page_table_space_size(&h->pt), h_user_top(h));
	assert_int_equal(ptmm_page_table_max_leaf_level(&h->pt), want_leaf);
	assert_int_equal(h->arch.levels, h_levels(h));
	assert_int_equal(h->arch.va_bits, b);
	/* The halves, spelled out per width: [0, 2^(B-1)) and [2^64 - 2^(B-1), 2^64). */
	assert_int_equal(h_user_top(h), (uint64_t)1 << (b - 1));
	assert_int_equal(h_kernel_base(h), b == 39 ? 0xffffffc000000000ull :
					   b == 48 ? 0xffff800000000000ull : 0xff00000000000000ull);
	assert_true(ptmm_arch_va_canonical(&h->arch, h_space_base(h)));
	assert_true(ptmm_arch_va_canonical(&h->arch, h_space_base(h) + h_user_top(h) - SZ_4K));
	assert_true(ptmm_arch_va_canonical(&h->arch, h_user_top(h) - SZ_4K));
	assert_true(ptmm_arch_va_canonical(&h->arch, h_kernel_base(h)));
	assert_true(ptmm_arch_va_canonical(&h->arch, 0xfffffffffffff000ull));
	assert_false(ptmm_arch_va_canonical(&h->arch, h_user_top(h)));
	assert_false(ptmm_arch_va_canonical(&h->arch, h_kernel_base(h) - SZ_4K));
	/* One bit above the width: canonical only for the wider modes. */
	assert_int_equal(ptmm_arch_va_canonical(&h->arch, (uint64_t)1 << 38), b > 39);
	assert_int_equal(ptmm_arch_va_canonical(&h->arch, (uint64_t)1 << 47), b > 48);
	assert_int_equal(ptmm_arch_va_canonical(&h->arch, (uint64_t)1 << 56), false);
}

/* Two user tables map the same frames; destroying one leaves the other intact. */
static void test_two_tables_share_frames(void **state)
{
	struct harness *h = *state;
	struct ptmm_page_table u1, u2;
	struct ptmm_prop p = ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_U, PTMM_CACHE_WB);
	uint64_t fd = h_free_data(h), fp = h_free_pool(h);
	struct ptmm_stats st;

	H_OK(ptmm_page_table_init_user(&u1, &h->arch, &h->ft, H_ZONE_POOL, NULL));
	H_OK(ptmm_page_table_init_user(&u2, &h->arch, &h->ft, H_ZONE_POOL, NULL));
	harness_add_pt(h, &u1);
	harness_add_pt(h, &u2);
	H_OK(h_map_pt(h, &u1, 0x400000, SZ_2M, SZ_2M, p, PTMM_MAP_HUGE));
	H_OK(h_map_pt(h, &u2, 0x800000, SZ_4K, SZ_2M + 5 * SZ_4K, p, 0));
	H_OK(h_map_pt(h, &u2, 0x801000, SZ_4K, 0x7000, p, 0));
	assert_int_equal(h_free_data(h), fd - 512 - 1);
	harness_remove_pt(h, &u1);
	ptmm_page_table_destroy(&u1);
	h_assert_check(h, "after destroying the first table");
	/* The shared frame is still mapped by u2 (its block stays allocated). */
	assert_true(atomic_load(&ptmm_frame_block_head(&h->ft, SZ_2M + 5 * SZ_4K)->refcount) !=
		    PTMM_FRAME_REF_UNUSED);
	ptmm_stats(&u2, &st);
	assert_int_equal(st.frames, 2);
	assert_int_equal(st.mapped, 2 * SZ_4K);
	harness_remove_pt(h, &u2);
	ptmm_page_table_destroy(&u2);
	h_assert_check(h, "after destroying both");
	assert_int_equal(h_free_data(h), fd);
	assert_int_equal(h_free_pool(h), fp);
}

/* Machines with 512 GiB of data RAM, for a 512G leaf of RAM (user space, leaves up to 512G). */

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST_ARCHS(test_space_geometry),
		H_TEST_ARCHS_KERNEL(test_space_geometry),
		H_TEST_ARCHS(test_multi_mapping),
		H_TEST_ARCHS(test_mmio),
		H_TEST_ARCHS(test_map_node_frame_is_perm),
		H_TEST_ARCHS_KERNEL(test_untracked_direct_map),
		H_TEST_ARCHS(test_untracked_user_refused),
		H_TEST_ARCHS(test_prop_round_trip_and_errors),
		H_TEST_ARCHS_KERNEL(test_prop_round_trip_and_errors),
		H_TEST_ONE(test_sv48_without_svpbmt, harness_user_sv48),
		H_TEST_ARCHS(test_pa_wrap_and_refcount_limit),
		H_TEST_ARCHS(test_tlb_release_after_flush),
		H_TEST_ARCHS_KERNEL(test_tlb_release_after_flush),
		H_TEST_ARCHS(test_checker_detects_corruption),
		H_TEST_ARCHS_KERNEL(test_checker_detects_corruption),
		H_TEST_ARCHS_KERNEL(test_kernel_shared_into_user),
		H_TEST_ARCHS(test_destroy_user_releases_everything),
		H_TEST_ARCHS(test_two_tables_share_frames),
	};
	return cmocka_run_group_tests_name("cursor_frames", tests, NULL, NULL);
}
