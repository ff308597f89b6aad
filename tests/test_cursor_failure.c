/*
 * test_cursor_failure.c - directed tests of page tables and the cursor:
 * allocation failure at every point, with all-or-nothing checked.  Every
 * body runs on every encoder (the five paging modes, fake48, fake57) and,
 * where it matters, in both halves.
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

/* ---- Allocation failure at each point ---- */

typedef int (*h_op)(struct harness *h);

/*
 * Fail the 1st, 2nd, ... allocation of `op` until it succeeds; after each
 * failure the view, stats and free memory are unchanged (and ptmm_check is
 * OK: the helpers run it).  Returns the number of failures injected.
 */
static unsigned fail_each_point(struct harness *h, const char *name, h_op op)
{
	for (unsigned n = 1; n < 10000; n++) {
		struct h_snapshot before, after;
		int rc;
		unsigned fired;

		snap(h, &before);
		h_fail_nth(h, n);
		rc = op(h);
		fired = h->failed_allocs;
		h_fail_nth(h, 0);
		if (rc == PTMM_OK) {
			if (fired)
				fail_msg("%s: allocation %u failed but the op succeeded", name, n);
			h_snapshot_free(&before);
			return n - 1;
		}
		if (rc != PTMM_ENOMEM || fired != 1)
			fail_msg("%s: with allocation %u failing: %s (hook fired %u)", name, n,
				 ptmm_strerror(rc), fired);
		snap(h, &after);
		h_assert_same(&before, &after, name);
		h_snapshot_free(&before);
		h_snapshot_free(&after);
	}
	fail_msg("%s: never succeeded", name);
	return 0;
}

/* A huge map with leaves at three levels. */
static int op_big_huge_map(struct harness *h)
{
	return h_map(h, hv(h, 4 * SZ_1G - SZ_2M - SZ_4K), SZ_1G + 2 * SZ_2M + 2 * SZ_4K,
		     2 * SZ_1G - SZ_2M - SZ_4K, rw(h), PTMM_MAP_HUGE);
}

/* 4K pages across 2M and 1G boundaries. */
static int op_scattered_map(struct harness *h)
{
	/* 4K pages across two 2M and two 1G boundaries: four new level-1 nodes. */
	return h_map(h, hv(h, 7 * SZ_1G - SZ_2M - SZ_4K), SZ_1G + SZ_2M + 2 * SZ_4K, 0x100000,
		     rw(h), 0);
}

/* A replace inside the 1G leaf at 10G (two splits). */
static int op_replace_with_splits(struct harness *h)
{
	return h_map(h, hv(h, 10 * SZ_1G + 300 * SZ_2M + 5 * SZ_4K), 2 * SZ_4K, 0x3000, ro(h),
		     PTMM_MAP_REPLACE);
}

/* An unmap of one page inside the 1G leaf at 10G. */
static int op_unmap_with_splits(struct harness *h)
{
	return h_unmap(h, hv(h, 10 * SZ_1G + 100 * SZ_2M + 9 * SZ_4K), SZ_4K, NULL);
}

/* An unmap straddling 2M leaves at both ends. */
static int op_unmap_both_ends(struct harness *h)
{
	return h_unmap(h, hv(h, 10 * SZ_1G + 200 * SZ_2M + 9 * SZ_4K), 3 * SZ_2M, NULL);
}

/* A protect of one page inside the 1G leaf at 10G. */
static int op_protect_with_splits(struct harness *h)
{
	return h_protect(h, hv(h, 10 * SZ_1G + 400 * SZ_2M + 9 * SZ_4K), SZ_4K, ro(h), NULL);
}

/* Allocation failure at each allocation point of map, replace, unmap, protect. */
static void test_alloc_failure_each_point(void **state)
{
	struct harness *h = *state;
	uint64_t fd = h_free_data(h), fp = h_free_pool(h);

	/* The 4K map over boundaries makes more leaves than the reverse map holds. */
	h->rmap_overflow_ok = true;
	assert_true(fail_each_point(h, "big huge map", op_big_huge_map) >= 1);
	assert_true(fail_each_point(h, "4K map over boundaries", op_scattered_map) >= 4);
	H_OK(h_map(h, hv(h, 10 * SZ_1G), SZ_1G, SZ_1G, rw(h), PTMM_MAP_HUGE));
	/* Two splits (1G, 2M) where the 1G range is one leaf; Sv39 kernel: one (2M). */
	assert_true(fail_each_point(h, "map replace with splits", op_replace_with_splits) >=
		    (h_max_leaf_size(h) >= SZ_1G ? 2u : 1u));
	assert_true(fail_each_point(h, "unmap with splits", op_unmap_with_splits) >= 1);
	assert_true(fail_each_point(h, "unmap splitting both ends", op_unmap_both_ends) >= 2);
	assert_true(fail_each_point(h, "protect with splits", op_protect_with_splits) >= 1);
	unmap_all_and_expect_empty(h, fd, fp);
}

/* The one 4K page that op_map_one_page maps (set by the test). */
static ptmm_vaddr_t one_page_va;

/* Map one 4K page, no flags: ptmm_cursor_map's one-page path (map_page). */
static int op_map_one_page(struct harness *h)
{
	return h_map(h, one_page_va, SZ_4K, 0x7000, rw(h), 0);
}

/* Unmap one 4K page: inside a huge leaf, ptmm_cursor_unmap hands it to the general path. */
static int op_unmap_one_page(struct harness *h)
{
	return h_unmap(h, one_page_va, SZ_4K, NULL);
}

/*
 * Map one page at `va`, which needs exactly `want_nodes` new nodes: each of
 * its allocations fails in turn (ENOMEM, nothing changed: fail_each_point),
 * then it succeeds with exactly that many nodes more; then unmap it, which
 * gives them all back.
 */
static void expect_one_page_map_nodes(struct harness *h, ptmm_vaddr_t va, unsigned want_nodes,
				      const char *name)
{
	struct h_snapshot before, after;
	struct ptmm_mapping m;
	unsigned points;

	one_page_va = va;
	snap(h, &before);
	points = fail_each_point(h, name, op_map_one_page);
	if (points != want_nodes)
		fail_msg("%s: %u allocation points, expected %u new nodes", name, points, want_nodes);
	H_OK(h_query(h, va, &m));
	assert_true(m.present && m.va == va && m.size == SZ_4K && m.pa == 0x7000);
	snap(h, &after);
	assert_int_equal(after.stats.nodes, before.stats.nodes + want_nodes);
	assert_int_equal(after.free_pool, before.free_pool - want_nodes);
	h_snapshot_free(&after);
	H_OK(h_unmap(h, va, SZ_4K, NULL));
	snap(h, &after);
	h_assert_same(&before, &after, name);
	h_snapshot_free(&after);
	h_snapshot_free(&before);
}

/*
 * The one-page map (MODEL.md 5, cursor_ops.c map_page) allocates the chain
 * of nodes below the deepest existing table itself: fail each of those
 * allocations for a page needing 1, 2 and (user tables: the kernel's
 * level-3 nodes always exist) 3 new nodes.
 */
static void test_one_page_map_alloc_failure(void **state)
{
	struct harness *h = *state;
	uint64_t fd = h_free_data(h), fp = h_free_pool(h);
	uint64_t root = h_root_entry_size(h);
	ptmm_vaddr_t r3 = hv(h, 3 * root), r6 = hv(h, 6 * root), r7 = hv(h, 7 * root);
	unsigned chain = (unsigned)path_nodes(h, SZ_4K); /* 1 (Sv39 kernel) .. 4 (5-level user) */

	/* An empty root entry (user) or preallocated node (kernel): the whole chain. */
	expect_one_page_map_nodes(h, r3 + 5 * SZ_1G + 7 * SZ_2M + 9 * SZ_4K, chain,
				  "one page, a whole chain of new nodes");
	/* A level-3 node (made by a 1G leaf) but no level-2 node. */
	if (h_max_leaf_size(h) >= SZ_1G) {
		H_OK(h_map(h, r6, SZ_1G, SZ_1G, rw(h), PTMM_MAP_HUGE));
		expect_one_page_map_nodes(h, r6 + 4 * SZ_1G + 11 * SZ_2M + 13 * SZ_4K, 2,
					  "one page, 2 new nodes");
	}
	/* A level-2 node (made by a 2M leaf) but no level-1 node. */
	H_OK(h_map(h, r7 + 2 * SZ_1G, SZ_2M, SZ_2M, rw(h), PTMM_MAP_HUGE));
	expect_one_page_map_nodes(h, r7 + 2 * SZ_1G + 5 * SZ_2M + 511 * SZ_4K, 1,
				  "one page, 1 new node");
	/* No new node: nothing can fail. */
	H_OK(h_map(h, r7 + 2 * SZ_1G + 5 * SZ_2M, SZ_4K, 0x8000, rw(h), 0));
	expect_one_page_map_nodes(h, r7 + 2 * SZ_1G + 5 * SZ_2M + SZ_4K, 0, "one page, no node");
	unmap_all_and_expect_empty(h, fd, fp);
}

/*
 * A one-page unmap inside a huge leaf needs one node per split: 1 in a 2M
 * leaf, 2 in a 1G leaf, 3 in a 512G leaf (where the space has them).
 */
static void test_one_page_unmap_alloc_failure(void **state)
{
	struct harness *h = *state;
	uint64_t fd = h_free_data(h), fp = h_free_pool(h);
	unsigned points, tried = 0;

	/* 2M at 4M, 1G at 2G (RAM), 512G at 1T, 256T at 512T (device memory). */
	for (uint64_t size = SZ_2M; size <= h_max_leaf_size(h); size <<= 9) {
		bool ram = size <= SZ_1G;
		ptmm_vaddr_t va = hv(h, 2 * size);
		char name[64];
		H_OK(h_map(h, va, size, ram ? size : H_MMIO_BASE, rw(h),
			   PTMM_MAP_HUGE | (ram ? 0 : PTMM_MAP_MMIO)));
		/* One page inside, off every boundary: entry 9 (or 3) of each level. */
		one_page_va = va + 17 * SZ_4K;
		for (uint64_t s = SZ_2M; s < size; s <<= 9)
			one_page_va += (s == SZ_2M ? 9 : 3) * s;
		snprintf(name, sizeof(name), "one-page unmap in a 0x%llx leaf",
			 (unsigned long long)size);
		points = fail_each_point(h, name, op_unmap_one_page);
		assert_int_equal(points, leaf_level(size) - 1);
		tried++;
	}
	assert_true(tried >= 1);
	unmap_all_and_expect_empty(h, fd, fp);
}

/*
 * The one-page map's other error after its nodes are reserved: the frame's
 * count, with the references the cursor defers, would overflow.  The
 * reserve goes back; the earlier maps of the cursor stay.
 */
static void test_one_page_map_overflow_after_reserve(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = hv(h, 9 * SZ_1G);
	uint64_t fd = h_free_data(h), fp = h_free_pool(h), fp_before, nodes_before;
	struct ptmm_frame_slot *head;
	struct h_snapshot s;
	struct ptmm_cursor c;
	ptmm_paddr_t q;

	H_OK(ptmm_frame_alloc(&h->ft, H_ZONE_DATA, 2, PTMM_FRAME_DATA, &q)); /* 4 frames, one handle */
	head = ptmm_frame_block_head(&h->ft, q);
	atomic_store(&head->refcount, PTMM_FRAME_REF_MAX - 2); /* as if held by many handles */
	H_OK(ptmm_cursor_open(&c, &h->pt, v, 2 * SZ_1G));
	H_OK(ptmm_cursor_map(&c, q, SZ_4K, rw(h), 0));         /* count MAX - 1 */
	H_OK(ptmm_cursor_map(&c, q + SZ_4K, SZ_4K, rw(h), 0)); /* one more, deferred */
	H_OK(ptmm_cursor_jump(&c, v + SZ_1G));                 /* a 1G region without nodes */
	fp_before = h_free_pool(h);
	nodes_before = atomic_load(&h->pt.nr_nodes);
	H_ERR(ptmm_cursor_map(&c, q + 2 * SZ_4K, SZ_4K, rw(h), 0), PTMM_ENOMEM);
	assert_int_equal(h_free_pool(h), fp_before);
	assert_int_equal(atomic_load(&h->pt.nr_nodes), nodes_before);
	assert_int_equal(ptmm_cursor_va(&c), v + SZ_1G);
	ptmm_cursor_close(&c);
	h_assert_check(h, "after the refused map");
	assert_int_equal(atomic_load(&head->refcount), PTMM_FRAME_REF_MAX);
	snap(h, &s);
	expect_count(&s, 2);
	expect_run(&s, 0, v, SZ_4K, q, 2, rw(h), false);
	expect_stats(&s, base_nodes(h) + path_nodes(h, SZ_4K), 2 * SZ_4K, 2);
	h_snapshot_free(&s);
	H_OK(h_unmap(h, v, 2 * SZ_4K, NULL));
	assert_int_equal(atomic_load(&head->refcount), PTMM_FRAME_REF_MAX - 2);
	atomic_store(&head->refcount, 1);
	ptmm_frame_put(&h->ft, q);
	assert_int_equal(h_free_data(h), fd);
	assert_int_equal(h_free_pool(h), fp);
}

/* Take a snapshot and require its slot metadata to differ from `before`. */
static void expect_blocks_differ(struct harness *h, const struct h_snapshot *before,
				 const char *what)
{
	struct h_snapshot now;
	size_t at;
	snap(h, &now);
	if (h_same_blocks(before, &now, &at))
		fail_msg("the snapshot did not see: %s", what);
	h_snapshot_free(&now);
}

/*
 * h_assert_same compares the slot metadata: a change to the refcount,
 * map_count, usage, order or flags of a block's head or of any other of
 * its slots is seen; a node allocated and given back on an error path
 * (free runs cut differently) is not a change.
 */
static void test_snapshot_sees_slot_changes(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = hv(h, 0x90000000);
	struct ptmm_frame_slot *head, *tail, *node;
	struct h_snapshot before, after;
	uint8_t saved8;
	size_t at;

	H_OK(h_map(h, v, SZ_2M, 0x200000, rw(h), PTMM_MAP_HUGE)); /* claims one 2M block */
	head = ptmm_frame_block_head(&h->ft, 0x200000);
	assert_ptr_equal(head, ptmm_frame_slot_of(&h->ft, 0x200000));
	assert_int_equal(head->order, 9);
	tail = ptmm_frame_slot_of(&h->ft, 0x200000 + 7 * SZ_4K);
	node = ptmm_frame_slot_of(&h->ft, h->pt.root);
	snap(h, &before);

	atomic_fetch_add(&head->refcount, 1);
	expect_blocks_differ(h, &before, "head refcount");
	atomic_fetch_sub(&head->refcount, 1);
	atomic_fetch_add(&head->map_count, 1);
	expect_blocks_differ(h, &before, "head map_count");
	atomic_fetch_sub(&head->map_count, 1);
	saved8 = head->usage;
	head->usage = PTMM_FRAME_KERNEL;
	expect_blocks_differ(h, &before, "head usage");
	head->usage = saved8;
	atomic_fetch_or(&head->flags, PTMM_FRAME_F_PENDING);
	expect_blocks_differ(h, &before, "head flags");
	atomic_fetch_and(&head->flags, (uint8_t)~PTMM_FRAME_F_PENDING);
	atomic_fetch_add(&tail->refcount, 1);
	expect_blocks_differ(h, &before, "refcount of a slot inside the block");
	atomic_fetch_sub(&tail->refcount, 1);
	atomic_fetch_add(&tail->map_count, 1);
	expect_blocks_differ(h, &before, "map_count of a slot inside the block");
	atomic_fetch_sub(&tail->map_count, 1);
	saved8 = tail->usage;
	tail->usage = PTMM_FRAME_DATA + 1;
	expect_blocks_differ(h, &before, "usage of a slot inside the block");
	tail->usage = saved8;
	tail->order++;
	expect_blocks_differ(h, &before, "order of a slot inside the block");
	tail->order--;
	atomic_fetch_xor(&tail->flags, PTMM_FRAME_F_ZERO);
	expect_blocks_differ(h, &before, "flags of a slot inside the block");
	atomic_fetch_xor(&tail->flags, PTMM_FRAME_F_ZERO);
	/* (A node's level is compared too, but a walk would retry forever on a wrong one.) */
	node->nr_children++;
	expect_blocks_differ(h, &before, "a node's nr_children");
	node->nr_children--;

	/* Everything restored; a map whose last node allocation fails (the second, or Sv39 kernel: the only one). */
	h_fail_nth(h, path_nodes(h, SZ_4K) >= 2 ? 2 : 1);
	H_ERR(h_map(h, hv(h, 5 * h_root_entry_size(h)), SZ_4K, 0x1000, rw(h), 0), PTMM_ENOMEM);
	assert_int_equal(h->failed_allocs, 1);
	h_fail_nth(h, 0);
	snap(h, &after);
	if (!h_same_blocks(&before, &after, &at))
		fail_msg("slot metadata differs after restoring it, at record %zu", at);
	h_assert_same(&before, &after, "after a failed map");
	h_snapshot_free(&after);
	h_snapshot_free(&before);
}

/*
 * A failure after an earlier op of the same cursor: the earlier op stays
 * done (its release still pending), the failed one changes nothing.
 */
static void test_failure_with_pending_release(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = hv(h, 12 * SZ_1G);
	uint64_t fd, fp;
	struct h_snapshot s;
	struct ptmm_cursor c;
	size_t i;

	H_OK(h_map(h, v, 2 * SZ_2M, 0x400000, rw(h), PTMM_MAP_HUGE));
	fd = h_free_data(h);
	fp = h_free_pool(h);
	H_OK(ptmm_cursor_open(&c, &h->pt, v, 2 * SZ_2M));
	H_OK(ptmm_cursor_unmap(&c, SZ_2M, NULL)); /* pending release */
	h_fail_nth(h, 1);
	H_ERR(ptmm_cursor_map(&c, 0x9000, SZ_4K, ro(h), PTMM_MAP_REPLACE), PTMM_ENOMEM); /* needs a split */
	assert_int_equal(h->failed_allocs, 1);
	h_fail_nth(h, 0);
	assert_int_equal(ptmm_cursor_va(&c), v + SZ_2M);
	H_OK(ptmm_cursor_jump(&c, v + SZ_2M + SZ_4K));
	H_OK(ptmm_cursor_map(&c, 0x9000, SZ_4K, ro(h), PTMM_MAP_REPLACE));
	ptmm_cursor_close(&c);
	h_assert_check(h, "after the cursor");
	snap(h, &s);
	expect_count(&s, 512);
	i = expect_run(&s, 0, v + SZ_2M, SZ_4K, 0x600000, 1, rw(h), false);
	i = expect_run(&s, i, v + SZ_2M + SZ_4K, SZ_4K, 0x9000, 1, ro(h), false);
	expect_run(&s, i, v + SZ_2M + 2 * SZ_4K, SZ_4K, 0x600000 + 2 * SZ_4K, 510, rw(h), false);
	/*
	 * [0x400000, 0x800000) was claimed as one 4M block, still mapped in
	 * part: nothing of it is free yet (frame.h); 0x9000 was claimed.
	 */
	assert_int_equal(s.free_data, fd - 1);
	assert_int_equal(s.free_pool, fp - 1);
	h_snapshot_free(&s);
}

/* Node pool exhaustion without injection: a small pool runs out. */
static void test_pool_exhaustion(void **state)
{
	struct harness_param p = ((struct harness *)*state)->param;
	struct harness *h;
	struct h_snapshot before, after;
	int rc = PTMM_OK;
	unsigned i;

	p.pool = (p.space == PTMM_PT_KERNEL ? 257 + 8 : 8) * SZ_4K;
	h = harness_create(&p);
	/* Each 4K page in its own 1G region needs new nodes (two, one in Sv39's kernel half). */
	for (i = 0; i < 64 && rc == PTMM_OK; i++) {
		snap(h, &before);
		rc = h_map(h, hv(h, min_size(SZ_512G, h_space_size(h) / 2) + (uint64_t)i * SZ_1G),
			   SZ_4K, 0x1000, rw(h), 0);
		if (rc != PTMM_OK) {
			snap(h, &after);
			h_assert_same(&before, &after, "map with the pool exhausted");
			h_snapshot_free(&after);
		}
		h_snapshot_free(&before);
	}
	assert_int_equal(rc, PTMM_ENOMEM);
	assert_true(i > 1);
	harness_destroy(h);
}

/* Creating a table fails as a whole when any of its allocations fails. */
static void test_page_table_init_failure(void **state)
{
	struct harness *h = *state;
	uint64_t fp = h_free_pool(h);
	struct ptmm_page_table t;
	unsigned n;
	int rc = PTMM_ENOMEM;

	for (n = 1; rc == PTMM_ENOMEM && n < 1000; n++) {
		h_fail_nth(h, n);
		if (h_is_kernel(h))
			rc = ptmm_page_table_init_kernel(&t, &h->arch, &h->ft, H_ZONE_POOL);
		else
			rc = ptmm_page_table_init_user(&t, &h->arch, &h->ft, H_ZONE_POOL, NULL);
		if (rc == PTMM_ENOMEM) {
			assert_int_equal(h->failed_allocs, 1);
			assert_int_equal(h_free_pool(h), fp);
			h_assert_check(h, "after a failed page_table_init");
		}
	}
	h_fail_nth(h, 0);
	H_OK(rc);
	assert_true(n - 2 >= 1); /* at least the root's allocation was made to fail */
	harness_add_pt(h, &t);
	h_assert_check(h, "after page_table_init");
	assert_int_equal(h_free_pool(h), fp - base_nodes(h));
	if (!h_is_kernel(h)) {
		harness_remove_pt(h, &t);
		ptmm_page_table_destroy(&t);
		assert_int_equal(h_free_pool(h), fp);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST_ARCHS(test_alloc_failure_each_point),
		H_TEST_ARCHS_KERNEL(test_alloc_failure_each_point),
		H_TEST_ARCHS(test_one_page_map_alloc_failure),
		H_TEST_ARCHS_KERNEL(test_one_page_map_alloc_failure),
		H_TEST_ARCHS(test_one_page_unmap_alloc_failure),
		H_TEST_ARCHS_KERNEL(test_one_page_unmap_alloc_failure),
		H_TEST_ARCHS(test_one_page_map_overflow_after_reserve),
		H_TEST_ARCHS_KERNEL(test_one_page_map_overflow_after_reserve),
		H_TEST_ARCHS(test_snapshot_sees_slot_changes),
		H_TEST_ARCHS_KERNEL(test_snapshot_sees_slot_changes),
		H_TEST_ARCHS(test_failure_with_pending_release),
		H_TEST_ARCHS_KERNEL(test_failure_with_pending_release),
		H_TEST_ARCHS(test_pool_exhaustion),
		H_TEST_ARCHS_KERNEL(test_pool_exhaustion),
		H_TEST_ARCHS(test_page_table_init_failure),
		H_TEST_ARCHS_KERNEL(test_page_table_init_failure),
	};
	return cmocka_run_group_tests_name("cursor_failure", tests, NULL, NULL);
}
