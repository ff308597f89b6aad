/*
 * test_stress.c - many more threads than CPUs on one page table, for a
 * bounded time, with seeded random interleavings (issue 11, cases 4 and 5:
 * the deadlock under contention, and the races TSan sees).
 *
 * Modes (each a test of its own, on a few encoder/space pairs):
 *  - shared: every thread hammers one 2 MiB window in a tight loop with
 *    huge map-replace, a protect that splits it, queries that must see
 *    exactly what the thread did inside its own cursor, and unmaps;
 *  - private: each thread maps, checks and unmaps random pages of its own
 *    window, all windows under the same upper nodes (so lockless walks race
 *    with node allocation and reclaim), mapping frames every thread maps,
 *    and now and then a frame of its own that it drops (ptmm_frame_put) while
 *    its cursor is still open;
 *  - mixed: half the threads of each.
 * A random yield between operations varies the interleavings; the seed
 * (MM_TEST_SEED, printed) makes a run repeatable as far as the scheduler
 * allows.  MM_STRESS_MS bounds each test (default 2500 ms), MM_STRESS_THREADS
 * overrides the thread count.  A watchdog
 * fails the test if no operation completes for 20 s (a deadlock), printing
 * what each thread was doing.  At the end: the checker, then everything is
 * unmapped and every frame must be free again and only the root (and the
 * kernel's shared nodes) left.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define MAX_THREADS 64
#define SHARED_FRAMES 64
#define WATCHDOG_S 20

enum mode { MODE_SHARED, MODE_PRIVATE, MODE_MIXED };

struct stress;

struct worker {
	struct stress *st;
	unsigned id;
	bool shared; /* works on the shared window, else on its own */
	uint64_t seed;
	uint64_t ops;
	_Atomic int where; /* what it is doing (for the watchdog's report) */
	int err;
	const char *what;
};

struct stress {
	struct harness *h;
	unsigned nr;
	_Atomic bool stop;
	_Atomic uint64_t progress;
	struct worker w[MAX_THREADS];
};

enum { W_IDLE, W_OPEN, W_OP, W_CLOSE, W_DONE };

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

static void maybe_yield(struct worker *w)
{
	if ((next_rand(&w->seed) & 7) == 0)
		sched_yield();
}

static ptmm_vaddr_t shared_base(const struct harness *h)
{
	return h_space_base(h) + 64 * SZ_1G;
}

/* 64 MiB windows, 128 MiB apart, all under one level-3 node. */
static ptmm_vaddr_t private_base(const struct worker *w)
{
	return h_space_base(w->st->h) + 4 * SZ_1G + (uint64_t)w->id * 128 * MiB;
}

static bool open_cursor(struct worker *w, struct ptmm_cursor *c, ptmm_vaddr_t va, uint64_t len)
{
	atomic_store(&w->where, W_OPEN);
	note(w, ptmm_cursor_open(c, &w->st->h->pt, va, len), "open");
	atomic_store(&w->where, W_OP);
	return !w->err;
}

static void close_cursor(struct worker *w, struct ptmm_cursor *c)
{
	atomic_store(&w->where, W_CLOSE);
	ptmm_cursor_close(c);
	atomic_store(&w->where, W_IDLE);
	w->ops++;
	atomic_fetch_add_explicit(&w->st->progress, 1, memory_order_relaxed);
}

/* The shared window: replace it with ours, split it, check it, maybe unmap. */
static void shared_round(struct worker *w)
{
	struct harness *h = w->st->h;
	ptmm_vaddr_t va = shared_base(h);
	ptmm_paddr_t pa = SZ_1G + (uint64_t)(w->id % 16) * SZ_2M;
	struct ptmm_cursor c;
	if (!open_cursor(w, &c, va, SZ_2M))
		return;
	note(w, ptmm_cursor_map(&c, pa, SZ_2M, h_prop(h, PTMM_PROP_R, PTMM_CACHE_WB),
			   PTMM_MAP_HUGE | PTMM_MAP_REPLACE), "map shared");
	maybe_yield(w);
	uint64_t page = next_rand(&w->seed) % 512;
	note(w, ptmm_cursor_jump(&c, va + page * SZ_4K), "jump");
	note(w, ptmm_cursor_protect(&c, SZ_4K, h_prop(h, PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_WB), NULL),
	     "protect shared");
	for (uint64_t off = 0; off < SZ_2M && !w->err; off += 128 * SZ_4K) {
		struct ptmm_mapping m;
		note(w, ptmm_cursor_jump(&c, va + off), "jump");
		note(w, ptmm_cursor_query(&c, &m), "query shared");
		if (!w->err && (!m.present || m.pa != pa + (m.va - va)))
			note(w, -102, "another cursor changed the shared window under us");
	}
	switch (next_rand(&w->seed) % 3) {
	case 0:
		note(w, ptmm_cursor_jump(&c, va), "jump");
		note(w, ptmm_cursor_unmap(&c, SZ_2M, NULL), "unmap shared");
		break;
	case 1: /* unmap a part: splits, and maybe reclaims */
		note(w, ptmm_cursor_jump(&c, va + page * SZ_4K), "jump");
		note(w, ptmm_cursor_unmap(&c, SZ_4K, NULL), "unmap a page");
		break;
	default:
		break;
	}
	maybe_yield(w);
	close_cursor(w, &c);
}

/* Our window: random pages of the common frames; sometimes a frame of our own. */
static void private_round(struct worker *w)
{
	struct harness *h = w->st->h;
	struct ptmm_prop p = h_prop(h, PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_WB);
	unsigned pages = 1 + (unsigned)(next_rand(&w->seed) % 8);
	ptmm_vaddr_t va = private_base(w) + (next_rand(&w->seed) % (64 * MiB / SZ_4K - 8)) * SZ_4K;
	ptmm_paddr_t pa = (next_rand(&w->seed) % (SHARED_FRAMES - 8)) * SZ_4K;
	bool own = (next_rand(&w->seed) & 3) == 0;
	struct ptmm_cursor c;

	if (own)
		note(w, ptmm_frame_alloc(&h->ft, H_ZONE_DATA, 3, PTMM_FRAME_DATA, &pa), "ptmm_frame_alloc");
	if (w->err || !open_cursor(w, &c, va, pages * SZ_4K))
		return;
	note(w, ptmm_cursor_map(&c, pa, pages * SZ_4K, p, 0), "map private");
	maybe_yield(w);
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
	if (own)
		ptmm_frame_put(&h->ft, pa); /* while the flush is still pending */
	maybe_yield(w);
	close_cursor(w, &c);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	while (!atomic_load(&w->st->stop) && !w->err) {
		if (w->shared)
			shared_round(w);
		else
			private_round(w);
	}
	atomic_store(&w->where, W_DONE);
	return NULL;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *v = getenv(name);
	return v && *v ? strtoull(v, NULL, 0) : dflt;
}

/* More threads than CPUs: twice the online CPUs plus one, at least 5 (MM_STRESS_THREADS). */
static unsigned thread_count(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned n = cpus > 0 ? (unsigned)cpus * 2 + 1 : 5;
	if (n < 5)
		n = 5;
	n = (unsigned)env_u64("MM_STRESS_THREADS", n);
	return n > MAX_THREADS ? MAX_THREADS : n < 1 ? 1 : n;
}

static bool all_done(struct stress *st)
{
	for (unsigned i = 0; i < st->nr; i++)
		if (atomic_load(&st->w[i].where) != W_DONE)
			return false;
	return true;
}

/*
 * Let the threads run until the deadline, then stop them and wait until
 * they are all done; fail (with every thread's state) if no cursor round
 * completes for WATCHDOG_S seconds meanwhile: a deadlock.
 */
static void watch(struct stress *st, uint64_t ms)
{
	static const char *const where[] = { "idle", "ptmm_cursor_open", "an operation",
					     "ptmm_cursor_close", "done" };
	uint64_t end = now_ms() + ms, last = 0, last_change = now_ms();
	while (!all_done(st)) {
		usleep(20000);
		if (now_ms() >= end)
			atomic_store(&st->stop, true);
		uint64_t p = atomic_load(&st->progress);
		if (p != last) {
			last = p;
			last_change = now_ms();
		} else if (now_ms() - last_change > WATCHDOG_S * 1000) {
			for (unsigned i = 0; i < st->nr; i++)
				fprintf(stderr, "thread %u (%s): %llu ops, stuck in %s\n", i,
					st->w[i].shared ? "shared" : "private",
					(unsigned long long)st->w[i].ops, where[atomic_load(&st->w[i].where)]);
			fprintf(stderr, "no cursor operation completed for %d s: deadlock\n", WATCHDOG_S);
			abort(); /* the threads cannot be joined */
		}
	}
}

static void run_stress(struct harness *h, enum mode mode)
{
	h->arch.tlb = &h_quiet_tlb; /* the recording TLB and the fail hook are single-threaded */
	ptmm_frame_table_set_fail_hook(&h->ft, NULL, NULL);
	uint64_t free_data = h_free_data(h), free_pool = h_free_pool(h);
	uint64_t seed = env_u64("MM_TEST_SEED", 0x5eed5eedull);
	uint64_t ms = env_u64("MM_STRESS_MS", 2500);
	struct stress *st = calloc(1, sizeof(*st));
	pthread_t t[MAX_THREADS];
	assert_non_null(st);
	st->h = h;
	st->nr = thread_count();
	print_message("  %u threads, seed %#llx, %llu ms\n", st->nr, (unsigned long long)seed,
		      (unsigned long long)ms);
	for (unsigned i = 0; i < st->nr; i++) {
		struct worker *w = &st->w[i];
		w->st = st;
		w->id = i;
		w->shared = mode == MODE_SHARED || (mode == MODE_MIXED && (i & 1));
		w->seed = (seed + 1) * 0x9e3779b97f4a7c15ull * (i + 1) | 1;
		assert_int_equal(pthread_create(&t[i], NULL, worker_main, w), 0);
	}
	watch(st, ms);
	uint64_t ops = 0;
	for (unsigned i = 0; i < st->nr; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		ops += st->w[i].ops;
	}
	for (unsigned i = 0; i < st->nr; i++)
		if (st->w[i].err)
			fail_msg("thread %u: %s (%d: %s)", i, st->w[i].what, st->w[i].err,
				 ptmm_strerror(st->w[i].err));
	print_message("  %llu cursor rounds\n", (unsigned long long)ops);
	assert_true(ops > st->nr);
	free(st);

	h_assert_check(h, "after the threads");
	H_OK(h_unmap(h, h_space_base(h), h_space_size(h), NULL));
	h_assert_check(h, "after unmapping everything");
	struct ptmm_stats s;
	ptmm_stats(&h->pt, &s);
	assert_int_equal(s.mapped, 0);
	assert_int_equal(s.nodes, h_is_kernel(h) ? 1 + PTMM_PTES_PER_NODE / 2 : 1);
	assert_int_equal(h_free_data(h), free_data);
	assert_int_equal(h_free_pool(h), free_pool);
}

static void test_stress_shared(void **state)
{
	run_stress(*state, MODE_SHARED);
}

static void test_stress_private(void **state)
{
	run_stress(*state, MODE_PRIVATE);
}

static void test_stress_mixed(void **state)
{
	run_stress(*state, MODE_MIXED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST_ONE(test_stress_shared, harness_user_x86),
		H_TEST_ONE(test_stress_shared, harness_kernel_sv48),
		H_TEST_ONE(test_stress_private, harness_user_fake48),
		H_TEST_ONE(test_stress_private, harness_kernel_x86),
		H_TEST_ONE(test_stress_mixed, harness_user_sv48),
		H_TEST_ONE(test_stress_mixed, harness_kernel_fake48),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
