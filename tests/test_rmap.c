/*
 * test_rmap.c - the reverse map (meson option `rmap`, MODEL.md M8): the
 * checker compares every leaf with its record, so the corruptions that
 * keep every count right are caught too.  Built only with the option.
 *
 * Each test changes the tree behind the mm's back in a way the counting
 * checks cannot see (the block's map_count and reference count still
 * match its leaves), expects the specific M8 violation, then puts the
 * tree back and expects the checker to accept it again.  Every encoder,
 * both halves.
 */
#include <string.h>

#include "harness.h"

#ifndef PTMM_RMAP
#error "test_rmap needs the reverse map (meson option rmap)"
#endif

/* VA at offset `off` of h's space. */
static ptmm_vaddr_t hv(const struct harness *h, uint64_t off)
{
	return h_space_base(h) + off;
}

static struct ptmm_prop rw(const struct harness *h)
{
	return h_prop(h, PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_WB);
}

/* A DATA block of 2^order frames from the data zone, with one handle. */
static ptmm_paddr_t alloc_block(struct harness *h, unsigned order)
{
	ptmm_paddr_t pa;
	H_OK(ptmm_frame_alloc(&h->ft, H_ZONE_DATA, order, PTMM_FRAME_DATA, &pa));
	return pa;
}

/* The leaf `e` at `level`, pointing at `pa` instead (same property bits). */
static ptmm_pte_t with_pa(const struct harness *h, ptmm_pte_t e, unsigned level, ptmm_paddr_t pa)
{
	const struct ptmm_pte_format *f = &h->arch.fmt;
	ptmm_pte_t tmpl = (e ^ ptmm_pte_inversion(f, e)) & ~f->addr_mask;
	ptmm_pte_t out = ptmm_pte_make(f, tmpl, pa);
	assert_true(ptmm_pte_addr(f, out, level) == pa);
	return out;
}

/*
 * A leaf re-pointed at another frame of its own block: 4 KiB inside an
 * order-1 block, 2 MiB inside a 4 MiB block.  The block keeps one mapping
 * and its count, so only the recorded PA (its offset in the block) differs.
 */
static void test_leaf_repointed_inside_its_block(void **state)
{
	struct harness *h = *state;
	static const struct { unsigned level, order; } cases[] = { { 1, 1 }, { 2, 10 } };
	for (unsigned n = 0; n < sizeof(cases) / sizeof(cases[0]); n++) {
		unsigned level = cases[n].level;
		uint64_t size = ptmm_level_size(level);
		ptmm_vaddr_t va = hv(h, SZ_1G + n * SZ_2M * 4);
		ptmm_paddr_t pa = alloc_block(h, cases[n].order);
		H_OK(h_map(h, va, size, pa, rw(h), PTMM_MAP_HUGE));
		ptmm_pte_t *p = h_entry(h, &h->pt, va, level), saved = *p;
		*p = with_pa(h, saved, level, pa + size);
		h_expect_violation_of(h, level == 1 ? "4K leaf re-pointed inside its block"
						    : "2M leaf re-pointed inside its block",
				      "M8: leaf PA differs from its reverse-map record");
		*p = saved;
		h_assert_check(h, "leaf put back");
		H_OK(h_unmap(h, va, size, NULL));
		H_OK(ptmm_frame_put(&h->ft, pa));
	}
}

/*
 * Two leaves with their PAs swapped: of two blocks (each still mapped
 * once), and of two frames of one block (mapped twice).
 */
static void test_leaves_with_swapped_pas(void **state)
{
	struct harness *h = *state;
	for (unsigned same_block = 0; same_block < 2; same_block++) {
		ptmm_vaddr_t va = hv(h, SZ_1G + same_block * SZ_2M);
		ptmm_paddr_t a = alloc_block(h, same_block ? 1 : 0);
		ptmm_paddr_t b = same_block ? a + SZ_4K : alloc_block(h, 0);
		H_OK(h_map(h, va, SZ_4K, a, rw(h), 0));
		H_OK(h_map(h, va + SZ_4K, SZ_4K, b, rw(h), 0));
		ptmm_pte_t *p = h_entry(h, &h->pt, va, 1), *q = h_entry(h, &h->pt, va + SZ_4K, 1);
		ptmm_pte_t e = *p;
		*p = *q;
		*q = e;
		h_expect_violation_of(h, same_block ? "PAs swapped inside one block" : "PAs of two blocks swapped",
				      "M8: leaf PA differs from its reverse-map record");
		*q = *p;
		*p = e;
		h_assert_check(h, "PAs swapped back");
		H_OK(h_unmap(h, va, 2 * SZ_4K, NULL));
		H_OK(ptmm_frame_put(&h->ft, a));
		if (!same_block)
			H_OK(ptmm_frame_put(&h->ft, b));
	}
}

/*
 * A leaf cleared behind the mm's back, its counts adjusted as the mm
 * would: its record is left over.  And a leaf written behind its back,
 * counts adjusted: it has no record.  (Both directions of the equality.)
 */
static void test_leaf_and_record_without_the_other(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t va = hv(h, SZ_1G);
	ptmm_paddr_t pa = alloc_block(h, 0);
	struct ptmm_frame_slot *s = ptmm_frame_block_head(&h->ft, pa);
	H_OK(h_map(h, va, 2 * SZ_4K, 0x5000, rw(h), 0)); /* keeps the level-1 node non-empty */
	H_OK(h_map(h, va + 2 * SZ_4K, SZ_4K, pa, rw(h), 0));
	ptmm_pte_t *p = h_entry(h, &h->pt, va + 2 * SZ_4K, 1), saved = *p;
	struct ptmm_frame_slot *node = ptmm_frame_slot_of(
		&h->ft, ptmm_pte_table_addr(&h->arch.fmt, *h_entry(h, &h->pt, va, 2)));

	*p = 0;
	node->nr_children--;
	s->map_count--;
	atomic_fetch_sub(&s->refcount, 1);
	h_expect_violation_of(h, "leaf cleared behind the mm's back",
			      "M8: reverse-map record of a leaf that is in no given tree");
	*p = saved;
	node->nr_children++;
	s->map_count++;
	atomic_fetch_add(&s->refcount, 1);
	h_assert_check(h, "leaf put back");

	ptmm_pte_t *r = p + 1; /* va + 3 pages: absent */
	assert_true(*r == 0);
	*r = saved;
	node->nr_children++;
	s->map_count++;
	atomic_fetch_add(&s->refcount, 1);
	h_expect_violation_of(h, "leaf written behind the mm's back", "M8: leaf missing from the reverse map");
	*r = 0;
	node->nr_children--;
	s->map_count--;
	atomic_fetch_sub(&s->refcount, 1);
	h_assert_check(h, "extra leaf gone");
	H_OK(h_unmap(h, va, 3 * SZ_4K, NULL));
	H_OK(ptmm_frame_put(&h->ft, pa));
}

/*
 * The removal side: the mm unmaps a leaf that was re-pointed inside its
 * block.  Afterwards tree and counts agree, but the removed entry
 * disagreed with its record, which the checker reports from then on.
 */
static void test_removed_leaf_differed_from_its_record(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t va = hv(h, SZ_1G);
	ptmm_paddr_t pa = alloc_block(h, 1);
	H_OK(h_map(h, va, SZ_4K, pa, rw(h), 0));
	ptmm_pte_t *p = h_entry(h, &h->pt, va, 1);
	*p = with_pa(h, *p, 1, pa + SZ_4K);
	h->check_each_op = false;
	H_OK(h_unmap(h, va, SZ_4K, NULL));
	h_expect_violation_of(h, "unmapped a leaf that differed from its record",
			      "M8: leaves were removed that differed from their reverse-map records");
	H_OK(ptmm_frame_put(&h->ft, pa));
}

/* Map `n` 4 KiB leaves of the frame `pa` from `va` on, in one cursor. */
static void map_many(struct harness *h, ptmm_vaddr_t va, uint64_t n, ptmm_paddr_t pa)
{
	struct ptmm_cursor c;
	H_OK(ptmm_cursor_open(&c, &h->pt, va, n * SZ_4K));
	for (uint64_t k = 0; k < n; k++)
		H_OK(ptmm_cursor_map(&c, pa, SZ_4K, rw(h), 0));
	ptmm_cursor_close(&c);
}

/*
 * The pool overflows: one 4 KiB frame mapped at PTMM_RMAP_RECORDS + 1
 * VAs.  The checker then answers "unverified" (neither OK nor a
 * violation), still reports a violation of a recorded leaf, cannot see
 * one of the unrecorded leaf; once that leaf is unmapped the map is exact
 * again and the checker answers OK.
 */
static void test_pool_overflow_is_unverified(void **state)
{
	struct harness *h = *state;
	const uint64_t n = PTMM_RMAP_RECORDS + 1u;
	ptmm_vaddr_t va = hv(h, SZ_1G);
	ptmm_paddr_t pa = alloc_block(h, 1);
	char buf[512];
	h->check_each_op = false;
	map_many(h, va, n, pa);
	assert_int_equal(h->ft.rmap.used, PTMM_RMAP_RECORDS);
	assert_int_equal(h->ft.rmap.unrecorded, 1);
	assert_int_equal(h_check(h, buf, sizeof(buf)), PTMM_CHECK_UNVERIFIED);
	static const char unverified[] = "M8 unverified: the reverse map's pool is full";
	assert_true(strncmp(buf, unverified, strlen(unverified)) == 0);
	print_message("  (pool overflowed) -> %s\n", buf);

	/* The first leaf is recorded: re-pointing it is still seen. */
	ptmm_pte_t *first = h_entry(h, &h->pt, va, 1), saved = *first;
	*first = with_pa(h, saved, 1, pa + SZ_4K);
	h_expect_violation_of(h, "recorded leaf re-pointed while the pool is full",
			      "M8: leaf PA differs from its reverse-map record");
	*first = saved;

	/* The last one is not: the answer stays "unverified", never OK. */
	ptmm_vaddr_t last_va = va + (n - 1u) * SZ_4K;
	ptmm_pte_t *last = h_entry(h, &h->pt, last_va, 1);
	saved = *last;
	*last = with_pa(h, saved, 1, pa + SZ_4K);
	assert_int_equal(h_check(h, buf, sizeof(buf)), PTMM_CHECK_UNVERIFIED);
	*last = saved;

	/* Unmapping the unrecorded leaf makes the map exact again. */
	H_OK(h_unmap(h, last_va, SZ_4K, NULL));
	assert_int_equal(h->ft.rmap.unrecorded, 0);
	h_assert_check(h, "unrecorded leaf unmapped");
	H_OK(h_unmap(h, va, (n - 1u) * SZ_4K, NULL));
	assert_int_equal(h->ft.rmap.used, 0);
	h_assert_check(h, "all unmapped");
	H_OK(ptmm_frame_put(&h->ft, pa));
}

/*
 * The records follow what the mm does: a huge map split by a partial
 * unmap, a replace over it, protect (no change of paths): after each,
 * as many records as leaves (the checker compares them one by one).
 */
static void test_records_follow_split_replace_protect(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t va = hv(h, SZ_1G);
	H_OK(h_map(h, va, SZ_2M, SZ_2M, rw(h), PTMM_MAP_HUGE));
	assert_int_equal(h->ft.rmap.used, 1);
	H_OK(h_unmap(h, va + SZ_4K, SZ_4K, NULL)); /* split: 512 children, one removed */
	assert_int_equal(h->ft.rmap.used, 511);
	H_OK(h_map(h, va, SZ_2M, 2 * SZ_2M, rw(h), PTMM_MAP_HUGE | PTMM_MAP_REPLACE));
	assert_int_equal(h->ft.rmap.used, 1);
	H_OK(h_protect(h, va + SZ_4K, SZ_4K, h_prop(h, PTMM_PROP_R, PTMM_CACHE_WB), NULL));
	assert_int_equal(h->ft.rmap.used, 512);
	H_OK(h_unmap(h, va, SZ_2M, NULL));
	assert_int_equal(h->ft.rmap.used, 0);
	assert_int_equal(h->ft.rmap.strays, 0);
}

#define BOTH(f) H_TEST_ARCHS(f), H_TEST_ARCHS_KERNEL(f)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_leaf_repointed_inside_its_block),
		BOTH(test_leaves_with_swapped_pas),
		BOTH(test_leaf_and_record_without_the_other),
		BOTH(test_removed_leaf_differed_from_its_record),
		BOTH(test_pool_overflow_is_unverified),
		BOTH(test_records_follow_split_replace_protect),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
