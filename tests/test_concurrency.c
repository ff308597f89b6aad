/*
 * test_concurrency.c - cursors from several threads at once (MODEL.md §4).
 *
 * Four threads share one page table and one frame table:
 *  - each owns a private 1 GiB window under the same upper-level nodes, so
 *    their lock-free walks to the guard race with each other's node
 *    allocations and reclaims (disjoint cursors run at once);
 *  - all of them also work on one shared 2 MiB window with map-replace /
 *    protect / unmap, each time checking inside its own cursor that it sees
 *    exactly what it just did (overlapping cursors are serialised);
 *  - all of them map the same small set of data frames, so frame reference
 *    counts are updated from every thread.
 * At the end everything is unmapped: the checker must pass, only the root
 * may remain, and every data frame must be free again.
 */
#include <pthread.h>
#include <stdlib.h>

#include "harness.h"

#define THREADS 4
#define ROUNDS 400
#define SHARED_FRAMES 64 /* data frames every thread maps */

struct worker {
	struct harness *h;
	unsigned id;
	uint64_t seed;
	int err; /* first failure, 0 if none */
	const char *what;
};

static uint64_t next_rand(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static void note(struct worker *w, int err, const char *what)
{
	if (!w->err && err) {
		w->err = err;
		w->what = what;
	}
}

/* Base of the private window of thread `id` (1 GiB each, 2 GiB apart). */
static ptmm_vaddr_t private_base(const struct worker *w)
{
	return h_space_base(w->h) + 4 * SZ_1G + (uint64_t)w->id * 2 * SZ_1G;
}

static ptmm_vaddr_t shared_base(const struct worker *w)
{
	return h_space_base(w->h) + 64 * SZ_1G;
}

/* Map a few pages of the shared frames in the private window, check, unmap. */
static void private_round(struct worker *w)
{
	struct harness *h = w->h;
	struct ptmm_cursor c;
	unsigned pages = 1 + (unsigned)(next_rand(&w->seed) % 16);
	ptmm_vaddr_t va = private_base(w) + (next_rand(&w->seed) % (SZ_1G / SZ_4K - 16)) * SZ_4K;
	ptmm_paddr_t pa = (next_rand(&w->seed) % (SHARED_FRAMES - 16)) * SZ_4K;
	struct ptmm_prop p = h_prop(h, PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_WB);

	note(w, ptmm_cursor_open(&c, &h->pt, va, pages * SZ_4K), "open private");
	if (w->err)
		return;
	note(w, ptmm_cursor_map(&c, pa, pages * SZ_4K, p, 0), "map private");
	struct ptmm_mapping m;
	note(w, ptmm_cursor_jump(&c, va + (pages - 1) * SZ_4K), "jump");
	note(w, ptmm_cursor_query(&c, &m), "query private");
	if (!w->err && (!m.present || m.pa != pa + (pages - 1) * SZ_4K))
		note(w, -100, "private mapping not what was mapped");
	note(w, ptmm_cursor_jump(&c, va), "jump back");
	uint64_t removed = 0;
	note(w, ptmm_cursor_unmap(&c, pages * SZ_4K, &removed), "unmap private");
	if (!w->err && removed != pages * SZ_4K)
		note(w, -101, "private unmap removed the wrong amount");
	ptmm_cursor_close(&c);
}

/* Replace-map the shared window with this thread's property, verify, maybe unmap. */
static void shared_round(struct worker *w)
{
	struct harness *h = w->h;
	struct ptmm_cursor c;
	ptmm_vaddr_t va = shared_base(w);
	/* Each thread uses its own PA offset so the view names the writer. */
	ptmm_paddr_t pa = SZ_1G + (uint64_t)w->id * SZ_2M;
	struct ptmm_prop p = h_prop(h, PTMM_PROP_R, PTMM_CACHE_WB);

	note(w, ptmm_cursor_open(&c, &h->pt, va, SZ_2M), "open shared");
	if (w->err)
		return;
	note(w, ptmm_cursor_map(&c, pa, SZ_2M, p, PTMM_MAP_HUGE | PTMM_MAP_REPLACE), "map shared");
	/* Split it by a protect of one page, then check the whole window is ours. */
	note(w, ptmm_cursor_jump(&c, va + SZ_4K * (w->id + 1)), "jump");
	note(w, ptmm_cursor_protect(&c, SZ_4K, h_prop(h, PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_WB), 0),
	     "protect shared");
	for (uint64_t off = 0; off < SZ_2M && !w->err; off += 64 * SZ_4K) {
		struct ptmm_mapping m;
		note(w, ptmm_cursor_jump(&c, va + off), "jump");
		note(w, ptmm_cursor_query(&c, &m), "query shared");
		if (!w->err && (!m.present || m.pa != pa + (m.va - va)))
			note(w, -102, "another cursor changed the shared window under us");
	}
	if (next_rand(&w->seed) & 1) {
		note(w, ptmm_cursor_jump(&c, va), "jump");
		note(w, ptmm_cursor_unmap(&c, SZ_2M, 0), "unmap shared");
	}
	ptmm_cursor_close(&c);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	for (unsigned r = 0; r < ROUNDS && !w->err; r++) {
		private_round(w);
		if (r % 4 == 0)
			shared_round(w);
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct harness *h = *state;
	/* The harness's recording TLB and failure hook are single-threaded. */
	h->arch.tlb = &h_quiet_tlb;
	ptmm_frame_table_set_fail_hook(&h->ft, NULL, NULL);
	uint64_t free_data = h_free_data(h);

	struct worker w[THREADS];
	pthread_t t[THREADS];
	for (unsigned i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .h = h, .id = i, .seed = 0x9e3779b97f4a7c15ull * (i + 1) };
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
	}
	for (unsigned i = 0; i < THREADS; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	for (unsigned i = 0; i < THREADS; i++)
		if (w[i].err)
			fail_msg("thread %u: %s (%d: %s)", i, w[i].what, w[i].err,
				 ptmm_strerror(w[i].err));

	h_assert_check(h, "after the threads");
	uint64_t removed;
	H_OK(h_unmap(h, h_space_base(h), h_space_size(h), &removed));
	h_assert_check(h, "after unmapping everything");
	struct ptmm_stats st;
	ptmm_stats(&h->pt, &st);
	assert_int_equal(st.mapped, 0);
	/* User tables keep only the root; kernel tables also their shared nodes. */
	assert_int_equal(st.nodes, h_is_kernel(h) ? 1 + PTMM_PTES_PER_NODE / 2 : 1);
	assert_int_equal(h_free_data(h), free_data);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST_ARCHS(test_threads),
		H_TEST_ARCHS_KERNEL(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
