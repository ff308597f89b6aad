/*
 * test_tlb.c - every TLB flush of the mm is needed, and the TLB model
 * (tlb_model.h) catches the loss of any one of them.
 *
 * For each flush site of the mm (enum ptmm_flush_site, mm_assert.h) a
 * directed scenario fills the simulated translation caches, runs the
 * operation that needs that flush through a cursor, closes it and asks the
 * model.  Unmutated, the model must be satisfied; with the site switched
 * off (ptmm_mutation, PTMM_DEBUG builds), it must report a violation.  The
 * same scenarios run with the model in its complete mode (the explorer's:
 * everything the tree holds cached where a scenario touches).  The random
 * differential test (test_random.c) runs with the model on too.
 */
#include "harness.h"
#include <ptmm/mm_assert.h>
#include "tlb_model.h"

static struct ptmm_prop rw(const struct harness *h)
{
	return h_prop(h, PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_WB);
}

static struct ptmm_prop ro(const struct harness *h)
{
	return h_prop(h, PTMM_PROP_R, PTMM_CACHE_WB);
}

/* One scenario at VA v (a fresh 1 GiB region), PA base pa: leaves the cursor closed. */
typedef void (*scenario_fn)(struct harness *h, ptmm_vaddr_t v, ptmm_paddr_t pa);

/* The scenarios run with the complete model: a touch caches everything the tree holds. */
static bool complete_mode;

static void touch(struct harness *h, ptmm_vaddr_t va)
{
	if (complete_mode) {
		h_tlb_fill_all(h, 0);
		h_tlb_fill_all(h, 1);
		return;
	}
	h_tlb_touch(h, 0, va);
	h_tlb_touch(h, 1, va);
}

/* The model of the mode the scenarios run in. */
static void model_on(struct harness *h)
{
	if (complete_mode)
		h_tlb_model_on_complete(h, &h->pt);
	else
		h_tlb_model_on(h, &h->pt);
}

/* Unmap the only page of a level-1 node: the node goes, so everything is flushed. */
static void s_unmap_last_page(struct harness *h, ptmm_vaddr_t v, ptmm_paddr_t pa)
{
	struct ptmm_cursor c;
	H_OK(h_map(h, v, SZ_4K, pa, rw(h), 0));
	touch(h, v);
	H_OK(ptmm_cursor_open(&c, &h->pt, v, SZ_4K));
	H_OK(ptmm_cursor_unmap(&c, SZ_4K, NULL));
	ptmm_cursor_close(&c);
}

/* Unmap one page of two (the node stays): one flush_page, by the one-page slow path. */
static void s_unmap_one_page(struct harness *h, ptmm_vaddr_t v, ptmm_paddr_t pa)
{
	struct ptmm_cursor c;
	H_OK(h_map(h, v, 2 * SZ_4K, pa, rw(h), 0));
	touch(h, v);
	H_OK(ptmm_cursor_open(&c, &h->pt, v, SZ_4K));
	H_OK(ptmm_cursor_unmap(&c, SZ_4K, NULL));
	ptmm_cursor_close(&c);
}

/* Unmap two pages of three: the general path, one flush_range. */
static void s_unmap_range(struct harness *h, ptmm_vaddr_t v, ptmm_paddr_t pa)
{
	struct ptmm_cursor c;
	H_OK(h_map(h, v, 3 * SZ_4K, pa, rw(h), 0));
	touch(h, v);
	touch(h, v + SZ_4K);
	H_OK(ptmm_cursor_open(&c, &h->pt, v, 2 * SZ_4K));
	H_OK(ptmm_cursor_unmap(&c, 2 * SZ_4K, NULL));
	ptmm_cursor_close(&c);
}

/* Map a page where the walk had found none (an invalid entry may be cached). */
static void s_map_page(struct harness *h, ptmm_vaddr_t v, ptmm_paddr_t pa)
{
	struct ptmm_cursor c;
	H_OK(h_map(h, v + SZ_4K, SZ_4K, pa + SZ_4K, rw(h), 0)); /* the level-1 node exists */
	touch(h, v);
	H_OK(ptmm_cursor_open(&c, &h->pt, v, SZ_4K));
	H_OK(ptmm_cursor_map(&c, pa, SZ_4K, rw(h), 0));
	ptmm_cursor_close(&c);
}

/*
 * Unmap a page by the fast path (its frame's block is the one the cursor
 * defers references for): map the frame, flush, map it again at the next
 * page (that map's own record covers only that page), touch the first
 * page, unmap it.
 */
static void s_unmap_fast(struct harness *h, ptmm_vaddr_t v, ptmm_paddr_t pa)
{
	struct ptmm_cursor c;
	H_OK(h_map(h, v + 2 * SZ_4K, SZ_4K, pa + 2 * SZ_4K, rw(h), 0)); /* the node keeps 2 */
	H_OK(ptmm_cursor_open(&c, &h->pt, v, 2 * SZ_4K));
	H_OK(ptmm_cursor_map(&c, pa, SZ_4K, rw(h), 0));
	ptmm_cursor_flush(&c);
	H_OK(ptmm_cursor_map(&c, pa, SZ_4K, rw(h), 0)); /* at v + 4K, same frame */
	touch(h, v);
	H_OK(ptmm_cursor_jump(&c, v));
	H_OK(ptmm_cursor_unmap(&c, SZ_4K, NULL));
	ptmm_cursor_close(&c);
}

/* Replace two pages by other frames: the map records the range. */
static void s_replace(struct harness *h, ptmm_vaddr_t v, ptmm_paddr_t pa)
{
	struct ptmm_cursor c;
	H_OK(h_map(h, v, 2 * SZ_4K, pa, rw(h), 0));
	touch(h, v);
	H_OK(ptmm_cursor_open(&c, &h->pt, v, 2 * SZ_4K));
	H_OK(ptmm_cursor_map(&c, pa + 0x100000, 2 * SZ_4K, rw(h), PTMM_MAP_REPLACE));
	ptmm_cursor_close(&c);
}

/* Write-protect a whole leaf. */
static void s_protect(struct harness *h, ptmm_vaddr_t v, ptmm_paddr_t pa)
{
	struct ptmm_cursor c;
	H_OK(h_map(h, v, 2 * SZ_4K, pa, rw(h), 0));
	touch(h, v);
	H_OK(ptmm_cursor_open(&c, &h->pt, v, SZ_4K));
	H_OK(ptmm_cursor_protect(&c, SZ_4K, ro(h), NULL));
	ptmm_cursor_close(&c);
}

struct site_case {
	unsigned site;
	const char *name;
	scenario_fn run;
};

static const struct site_case cases[] = {
	{ PTMM_MUT_FLUSH_ALL, "flush_all call", s_unmap_last_page },
	{ PTMM_MUT_FLUSH_PAGE, "flush_page call", s_unmap_one_page },
	{ PTMM_MUT_FLUSH_RANGE, "flush_range call", s_unmap_range },
	{ PTMM_MUT_TABLES, "flush everything when a table goes", s_unmap_last_page },
	{ PTMM_MUT_MAP_PAGE, "record of a new 4K leaf", s_map_page },
	{ PTMM_MUT_UNMAP_PAGE, "record of the one-page unmap", s_unmap_one_page },
	{ PTMM_MUT_UNMAP_FAST, "record of the fast one-page unmap", s_unmap_fast },
	{ PTMM_MUT_MAP_GENERAL, "record of the general map", s_replace },
	{ PTMM_MUT_UNMAP_GENERAL, "record of the general unmap", s_unmap_range },
	{ PTMM_MUT_PROTECT, "record of a re-protected leaf", s_protect },
};

static void every_flush_is_needed(struct harness *h)
{
	char buf[256];
	_Static_assert(sizeof(cases) / sizeof(cases[0]) == PTMM_MUT_COUNT - 1,
		       "a scenario for every flush site");
	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct site_case *k = &cases[i];
		ptmm_vaddr_t v = h_space_base(h) + (uint64_t)(4 + 2 * i) * SZ_1G + 0x200000;
		ptmm_paddr_t pa = 0x1000000 + (uint64_t)i * 0x400000;

		model_on(h);
		k->run(h, v, pa);
		if (h_tlb_check(h, true, buf, sizeof(buf)) != PTMM_OK)
			fail_msg("%s, unmutated: %s", k->name, buf);

		model_on(h);
		ptmm_mutation = k->site;
		k->run(h, v + SZ_1G, pa + 0x200000);
		ptmm_mutation = PTMM_MUT_NONE;
		if (h_tlb_check(h, true, buf, sizeof(buf)) == PTMM_OK)
			fail_msg("without the %s the TLB model saw nothing wrong", k->name);
		print_message("  without the %s%s: %s\n", k->name, complete_mode ? " (complete)" : "",
			      buf);
		h_tlb_model_off(h);
		h_assert_check(h, k->name);
	}
}

static void test_every_flush_is_needed(void **state)
{
	complete_mode = false;
	every_flush_is_needed(*state);
}

/* The complete mode (the explorer's) catches the loss of every flush as well. */
static void test_every_flush_is_needed_complete(void **state)
{
	complete_mode = true;
	every_flush_is_needed(*state);
	complete_mode = false;
}

/*
 * Complete mode: an invalid entry is a set of pages; a page flush takes
 * only its page out of it.  Everything cached over an empty region, a page
 * mapped (and flushed), then the next page mapped without its flush: the
 * model must still hold that page's invalid entry and report it.
 */
static void test_complete_invalid_pages_stay(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = h_space_base(h) + 0x3000400000ull;
	char buf[256];
	H_OK(h_map(h, v + 8 * SZ_4K, SZ_4K, 0x9000, rw(h), 0)); /* the level-1 node exists */
	h_tlb_model_on_complete(h, &h->pt);
	h_tlb_fill_all(h, 0);
	assert_int_equal(h_tlb_check(h, true, buf, sizeof(buf)), PTMM_OK);
	H_OK(h_map(h, v, SZ_4K, 0x5000, rw(h), 0)); /* flushes v's page */
	assert_int_equal(h_tlb_check(h, true, buf, sizeof(buf)), PTMM_OK);
	struct ptmm_cursor c; /* not h_map: it would fail the test on the model's report */
	H_OK(ptmm_cursor_open(&c, &h->pt, v + SZ_4K, SZ_4K));
	ptmm_mutation = PTMM_MUT_MAP_PAGE; /* this map records no flush */
	H_OK(ptmm_cursor_map(&c, 0x6000, SZ_4K, rw(h), 0));
	ptmm_mutation = PTMM_MUT_NONE;
	ptmm_cursor_close(&c);
	assert_int_equal(h_tlb_check(h, true, buf, sizeof(buf)), 1);
	print_message("  unflushed map over a cached invalid page: %s\n", buf);
	h_tlb_model_off(h);
}

/* The model itself: a stale translation after a close is caught, a flushed one is not. */
static void test_model_sees_stale_entries(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = h_space_base(h) + 0x2000400000ull;
	char buf[256];
	h_tlb_model_on(h, &h->pt);
	H_OK(h_map(h, v, SZ_4K, 0x5000, rw(h), 0));
	touch(h, v);
	assert_int_equal(h_tlb_check(h, true, buf, sizeof(buf)), PTMM_OK);
	struct ptmm_cursor c;
	H_OK(ptmm_cursor_open(&c, &h->pt, v, SZ_4K));
	H_OK(ptmm_cursor_protect(&c, SZ_4K, ro(h), NULL));
	/* Open: stale rights are allowed, released frames are not (none yet). */
	assert_int_equal(h_tlb_check(h, false, buf, sizeof(buf)), PTMM_OK);
	ptmm_cursor_close(&c);
	assert_int_equal(h_tlb_check(h, true, buf, sizeof(buf)), PTMM_OK); /* flushed */
	/* A global entry survives a root switch, a non-global one does not. */
	touch(h, v);
	h_tlb_model_flush(h, TLB_ACTIVATE, h->pt.root, 0);
	assert_int_equal(h_tlb_check(h, true, buf, sizeof(buf)), PTMM_OK);
	h_tlb_model_off(h);
}

/*
 * The model itself: a cached translation whose cache attribute the tree no
 * longer has is stale, even with the same rights (a memory-type change
 * needs its flush).  The protect's flush record is switched off.
 */
static void test_model_sees_cache_change(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = h_space_base(h) + 0x2800400000ull;
	char buf[256];
	struct ptmm_cursor c;
	h_tlb_model_on(h, &h->pt);
	H_OK(h_map(h, v, 2 * SZ_4K, 0x7000, rw(h), 0));
	touch(h, v);
	H_OK(ptmm_cursor_open(&c, &h->pt, v, SZ_4K));
	ptmm_mutation = PTMM_MUT_PROTECT;
	H_OK(ptmm_cursor_protect(&c, SZ_4K, h_prop(h, PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_UC), NULL));
	ptmm_mutation = PTMM_MUT_NONE;
	ptmm_cursor_close(&c);
	assert_int_equal(h_tlb_check(h, true, buf, sizeof(buf)), 1);
	print_message("  unflushed cache-attribute change: %s\n", buf);
	h_tlb_model_off(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST_ARCHS(test_every_flush_is_needed),
		H_TEST_ARCHS_KERNEL(test_every_flush_is_needed),
		H_TEST_ARCHS(test_model_sees_stale_entries),
		H_TEST_ARCHS(test_every_flush_is_needed_complete),
		H_TEST_ARCHS_KERNEL(test_every_flush_is_needed_complete),
		H_TEST_ARCHS(test_complete_invalid_pages_stay),
		H_TEST_ARCHS(test_model_sees_cache_change),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
