/*
 * test_release.c - the release protocol and the node lifecycle under
 * interleavings forced deterministically (issue 11, cases 1-3):
 *
 *  1. a handle dropped while the flush of the cursor that unmapped the
 *     frame is still pending must not free the frame before that flush;
 *  2. a frame unmapped by cursor A, then mapped and unmapped again by a
 *     cursor B on a disjoint range, must wait for B's flush too, even if A
 *     flushes first (cross-cursor release ABA);
 *  3. a lockless walker that meets a node freed and reused under it must
 *     never unlock (or hold) the lock of the node's new owner.
 *
 * Cases 1 and 2 need no threads: two cursors on disjoint subtrees can be
 * open at once in one thread.  Case 3 runs the other cursors inside the
 * page table's walk hook, at the two points of the walk where a racing
 * CPU could act (before the lock is taken, and after it is taken but
 * before the walk has validated what it locked).
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

/* VA at tree offset `off` of the harness's space. */
static ptmm_vaddr_t hv(const struct harness *h, uint64_t off)
{
	return h_space_base(h) + off;
}

static struct ptmm_prop rw(const struct harness *h)
{
	return h_prop(h, PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_WB);
}

static bool block_is_free(struct harness *h, ptmm_paddr_t pa)
{
	const struct ptmm_frame_slot *s = ptmm_frame_block_head(&h->ft, pa);
	return s && s->usage == PTMM_FRAME_UNUSED;
}

/* Free data frames recorded with the first flush logged since the last reset. */
static uint64_t free_at_first_flush(const struct harness *h)
{
	for (unsigned i = 0; i < h->nr_tlb; i++)
		if (h->tlb_log[i].kind != TLB_ACTIVATE)
			return h->tlb_log[i].free_data;
	fail_msg("no TLB flush was logged");
	return 0;
}

/*
 * Case 1: map a frame held by a handle with a multi-page map, unmap it
 * (the mappings' references go), then drop the handle with the cursor
 * still open.  The block must stay allocated until the cursor flushed.
 */
static void test_handle_dropped_before_flush(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = hv(h, 0x0800400000ull);
	ptmm_paddr_t pa;
	struct ptmm_cursor c;

	H_OK(ptmm_frame_alloc(&h->ft, H_ZONE_DATA, 1, PTMM_FRAME_DATA, &pa)); /* 8 KiB, one handle */
	uint64_t fd = h_free_data(h);
	H_OK(ptmm_cursor_open(&c, &h->pt, v, 2 * SZ_4K));
	H_OK(ptmm_cursor_map(&c, pa, 2 * SZ_4K, rw(h), 0));
	H_OK(ptmm_cursor_jump(&c, v));
	H_OK(ptmm_cursor_unmap(&c, 2 * SZ_4K, NULL));
	h_tlb_reset(h);
	ptmm_frame_put(&h->ft, pa); /* the last reference, while the flush is pending */
	assert_false(block_is_free(h, pa));
	assert_int_equal(h_free_data(h), fd);
	ptmm_paddr_t other;
	H_OK(ptmm_frame_alloc(&h->ft, H_ZONE_DATA, 1, PTMM_FRAME_DATA, &other));
	assert_int_not_equal(other, pa); /* not handed out again */
	ptmm_frame_put(&h->ft, other);
	ptmm_cursor_close(&c);
	assert_true(block_is_free(h, pa));
	assert_int_equal(h_free_data(h), fd + 2);
	assert_int_equal(free_at_first_flush(h), fd); /* freed after the flush, not before */
	assert_true(h_tlb_covers(h, 0, v, 2 * SZ_4K));
	h_assert_check(h, "after the close");
}

/* The same with the handle dropped between two flushes of one cursor. */
static void test_handle_dropped_after_flush_is_immediate(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = hv(h, 0x0800400000ull);
	ptmm_paddr_t pa;
	struct ptmm_cursor c;

	H_OK(ptmm_frame_alloc(&h->ft, H_ZONE_DATA, 1, PTMM_FRAME_DATA, &pa));
	H_OK(ptmm_cursor_open(&c, &h->pt, v, 2 * SZ_4K));
	H_OK(ptmm_cursor_map(&c, pa, 2 * SZ_4K, rw(h), 0));
	H_OK(ptmm_cursor_jump(&c, v));
	H_OK(ptmm_cursor_unmap(&c, 2 * SZ_4K, NULL));
	ptmm_cursor_flush(&c);
	/* Flushed: nothing pending any more, the drop frees at once. */
	ptmm_frame_put(&h->ft, pa);
	assert_true(block_is_free(h, pa));
	ptmm_cursor_close(&c);
	h_assert_check(h, "after the close");
}

/*
 * Keep a node of level 1 around offset `off` (a page mapped 1 MiB away in
 * the same 2 MiB), so that a cursor on [off, off + 8K) has that node as
 * its guard and cursors in other subtrees do not wait for it.
 */
static void pin_leaf_node(struct harness *h, uint64_t off, ptmm_paddr_t pa)
{
	H_OK(h_map(h, hv(h, off + SZ_2M / 2), SZ_4K, pa, rw(h), 0));
}

/*
 * Case 2: A unmaps a block (count 0, pending A's flush); B, on a disjoint
 * range, maps and unmaps the same block (count 0 again, pending B's flush
 * too).  A closes first: the block must still not be freed; B closes:
 * now it is.
 */
static void test_cross_cursor_release(void **state)
{
	struct harness *h = *state;
	uint64_t offa = 0x0800400000ull, offb = 0x1000400000ull;
	ptmm_paddr_t pa = 0x40000; /* a free frame of the claimable zone, 8K aligned */
	struct ptmm_cursor a, b;

	pin_leaf_node(h, offa, 0x10000);
	pin_leaf_node(h, offb, 0x11000);
	uint64_t fd = h_free_data(h);
	H_OK(ptmm_cursor_open(&a, &h->pt, hv(h, offa), 2 * SZ_4K));
	H_OK(ptmm_cursor_open(&b, &h->pt, hv(h, offb), 2 * SZ_4K));
	assert_int_not_equal(a.node[a.guard_level], b.node[b.guard_level]);

	H_OK(ptmm_cursor_map(&a, pa, 2 * SZ_4K, rw(h), 0));
	H_OK(ptmm_cursor_jump(&a, hv(h, offa)));
	H_OK(ptmm_cursor_unmap(&a, 2 * SZ_4K, NULL)); /* count 0: waits for A's flush */
	H_OK(ptmm_cursor_map(&b, pa, 2 * SZ_4K, rw(h), 0));
	H_OK(ptmm_cursor_jump(&b, hv(h, offb)));
	H_OK(ptmm_cursor_unmap(&b, 2 * SZ_4K, NULL)); /* count 0 again: waits for B's too */

	h_tlb_reset(h);
	ptmm_cursor_close(&a);
	assert_false(block_is_free(h, pa)); /* B has not flushed its VAs yet */
	assert_int_equal(h_free_data(h), fd - 2);
	unsigned b_first = h->nr_tlb;
	ptmm_cursor_close(&b);
	assert_true(block_is_free(h, pa));
	assert_int_equal(h_free_data(h), fd);
	assert_true(h_tlb_covers(h, b_first, hv(h, offb), 2 * SZ_4K));
	assert_int_equal(h->tlb_log[b_first].free_data, fd - 2); /* B's flush came first */
	h_assert_check(h, "after both closes");
}

/* The same when the second cursor flushes first: still freed only by the last flush. */
static void test_cross_cursor_release_other_order(void **state)
{
	struct harness *h = *state;
	uint64_t offa = 0x0800400000ull, offb = 0x1000400000ull;
	ptmm_paddr_t pa = 0x40000;
	struct ptmm_cursor a, b;

	pin_leaf_node(h, offa, 0x10000);
	pin_leaf_node(h, offb, 0x11000);
	uint64_t fd = h_free_data(h);
	H_OK(ptmm_cursor_open(&a, &h->pt, hv(h, offa), 2 * SZ_4K));
	H_OK(ptmm_cursor_open(&b, &h->pt, hv(h, offb), 2 * SZ_4K));
	H_OK(ptmm_cursor_map(&a, pa, 2 * SZ_4K, rw(h), 0));
	H_OK(ptmm_cursor_jump(&a, hv(h, offa)));
	H_OK(ptmm_cursor_unmap(&a, 2 * SZ_4K, NULL));
	H_OK(ptmm_cursor_map(&b, pa, 2 * SZ_4K, rw(h), 0));
	H_OK(ptmm_cursor_jump(&b, hv(h, offb)));
	H_OK(ptmm_cursor_unmap(&b, 2 * SZ_4K, NULL));
	ptmm_cursor_close(&b);
	assert_false(block_is_free(h, pa)); /* A has not flushed */
	ptmm_cursor_close(&a);
	assert_true(block_is_free(h, pa));
	assert_int_equal(h_free_data(h), fd);
	h_assert_check(h, "after both closes");
}

/* ---- case 3: the lock of a node freed and reused under a walker ---- */

struct reuse_race {
	struct harness *h;
	uint64_t off_w;  /* the walker's page (its level-1 node is freed under it) */
	uint64_t off_o;  /* where the new owner builds nodes */
	ptmm_paddr_t victim;  /* the level-1 node the walk stopped at first */
	struct ptmm_cursor owner; /* the new owner, open after the hook */
	bool owner_open;
	bool busy;
};

/* Unmap the walker's page with a cursor of its own: the walker's node is freed. */
static void free_walkers_node(struct reuse_race *r, ptmm_paddr_t node)
{
	struct ptmm_cursor f;
	r->victim = node;
	H_OK(ptmm_cursor_open(&f, &r->h->pt, hv(r->h, r->off_w), SZ_4K));
	H_OK(ptmm_cursor_unmap(&f, SZ_4K, NULL));
	ptmm_cursor_close(&f);
	assert_int_not_equal(ptmm_frame_slot_of(&r->h->ft, node)->usage, PTMM_FRAME_PT_NODE);
}

/*
 * Open the owner's cursor and make it create level-1 nodes until one of
 * them is the victim's frame: the victim is then a live node again, whose
 * lock the owner holds.
 */
static void reuse_victim(struct reuse_race *r)
{
	struct harness *h = r->h;
	struct ptmm_cursor *o = &r->owner;
	H_OK(ptmm_cursor_open(o, &h->pt, hv(h, r->off_o), 256 * SZ_2M));
	r->owner_open = true;
	for (unsigned k = 1; k < 256; k++) {
		H_OK(ptmm_cursor_jump(o, hv(h, r->off_o + k * SZ_2M)));
		H_OK(ptmm_cursor_map(o, 0x100000 + k * SZ_4K, SZ_4K, rw(h), 0));
		if (o->node[1] == r->victim)
			return;
	}
	fail_msg("the victim node %#llx was never reused", (unsigned long long)r->victim);
}

static void reuse_hook(void *ctx, ptmm_paddr_t node, unsigned level, enum ptmm_walk_stage stage)
{
	struct reuse_race *r = ctx;
	if (r->busy)
		return; /* the walks of the hook's own cursors */
	r->busy = true;
	if (stage == PTMM_WALK_BEFORE_LOCK && level == 1 && !r->victim)
		free_walkers_node(r, node);
	else if (stage == PTMM_WALK_LOCKED && r->victim && !r->owner_open)
		reuse_victim(r);
	r->busy = false;
}

/*
 * The walker stops at its level-1 node; before it locks it, another
 * cursor frees that node; once the walker is past its lock attempt (it
 * may have taken the lock of the free frame), a third cursor makes the
 * frame a node again and holds it.  Whatever the walker does next, the
 * new owner must still hold its node, and the walker must end on a node
 * in the tree.
 */
static void test_walker_never_touches_new_owners_lock(void **state)
{
	struct harness *h = *state;
	struct reuse_race r = { .h = h, .off_w = 0x0800400000ull, .off_o = 0x2000000000ull };
	char buf[512];
	struct ptmm_cursor w;

	if (h_is_kernel(h))
		(void)0; /* kernel: the same offset is another preallocated L3 */
	/* The owner's level-2 node exists already (its guard), the walker's page is mapped. */
	H_OK(h_map(h, hv(h, r.off_o), SZ_4K, 0x20000, rw(h), 0));
	H_OK(h_map(h, hv(h, r.off_w), SZ_4K, 0x21000, rw(h), 0));

	h->pt.walk_hook = reuse_hook;
	h->pt.walk_hook_ctx = &r;
	H_OK(ptmm_cursor_open(&w, &h->pt, hv(h, r.off_w), SZ_4K));
	h->pt.walk_hook = NULL;
	assert_true(r.victim != 0);
	assert_true(r.owner_open);
	assert_int_equal(r.owner.node[1], r.victim);

	if (ptmm_check_cursor(&r.owner, buf, sizeof(buf)) != PTMM_OK)
		fail_msg("the new owner lost its node to the walker: %s", buf);
	if (ptmm_check_cursor(&w, buf, sizeof(buf)) != PTMM_OK)
		fail_msg("the walker: %s", buf);
	assert_int_not_equal(w.node[w.guard_level], r.victim);
	ptmm_cursor_close(&w);
	/* Still held by the owner after the walker is gone. */
	if (ptmm_check_cursor(&r.owner, buf, sizeof(buf)) != PTMM_OK)
		fail_msg("the new owner after the walker's close: %s", buf);
	H_OK(ptmm_cursor_jump(&r.owner, hv(h, r.off_o)));
	H_OK(ptmm_cursor_unmap(&r.owner, 256 * SZ_2M, NULL));
	ptmm_cursor_close(&r.owner);
	h_assert_check(h, "after the race");
}

/* ---- a thread opening a cursor its own cursor blocks (PTMM_DEBUG) ---- */

/*
 * Run `body` in a child process whose stderr is captured; returns its
 * wait status and the text it printed (at most len - 1 bytes).
 */
static int run_child(void (*body)(struct harness *), struct harness *h, char *out, size_t len)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(fds[1], 2);
		close(fds[0]);
		alarm(20); /* without the detection it would spin: fail by SIGALRM */
		body(h);
		_exit(0);
	}
	close(fds[1]);
	size_t n = 0;
	ssize_t r;
	while (n + 1 < len && (r = read(fds[0], out + n, len - 1 - n)) > 0)
		n += (size_t)r;
	out[n] = 0;
	close(fds[0]);
	int st;
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return st;
}

static void open_overlapping(struct harness *h)
{
	struct ptmm_cursor a, b;
	ptmm_vaddr_t v = hv(h, 0x0800400000ull);
	H_OK(ptmm_cursor_open(&a, &h->pt, v, 4 * SZ_4K));
	(void)ptmm_cursor_open(&b, &h->pt, v + SZ_4K, SZ_4K); /* inside a's range */
}

static void open_same_guard(struct harness *h)
{
	struct ptmm_cursor a, b;
	uint64_t off = 0x0800400000ull;
	pin_leaf_node(h, off, 0x10000);
	H_OK(ptmm_cursor_open(&a, &h->pt, hv(h, off), SZ_4K));
	/* Disjoint, but its guard is a's guard (the same level-1 node). */
	(void)ptmm_cursor_open(&b, &h->pt, hv(h, off + 16 * SZ_4K), SZ_4K);
}

static void open_around(struct harness *h)
{
	struct ptmm_cursor a, b;
	uint64_t off = 0x0800400000ull;
	pin_leaf_node(h, off, 0x10000);
	H_OK(ptmm_cursor_open(&a, &h->pt, hv(h, off), SZ_4K));
	/* A wider range whose guard is above a's: it must lock a's guard below it. */
	(void)ptmm_cursor_open(&b, &h->pt, hv(h, off - SZ_2M), 4 * SZ_2M);
}

static void expect_self_deadlock_reported(struct harness *h, void (*body)(struct harness *),
					  const char *what)
{
	char out[1024];
	int st = run_child(body, h, out, sizeof(out));
	if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGABRT)
		fail_msg("%s: the child did not stop with the assertion (status %#x): %s", what, st,
			 out);
	if (!strstr(out, "would wait for a node this thread's open cursor holds"))
		fail_msg("%s: unclear message: %s", what, out);
	print_message("  (%s) -> %s", what, out);
}

static void test_self_deadlock_detected(void **state)
{
	struct harness *h = *state;
	expect_self_deadlock_reported(h, open_overlapping, "overlapping range");
	expect_self_deadlock_reported(h, open_same_guard, "same guard node");
	expect_self_deadlock_reported(h, open_around, "range around the held one");
}

struct waiter {
	struct harness *h;
	ptmm_vaddr_t va;
	_Atomic bool started, opened;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	struct ptmm_cursor b;
	atomic_store(&w->started, true);
	H_OK(ptmm_cursor_open(&b, &w->h->pt, w->va, SZ_4K));
	atomic_store(&w->opened, true);
	ptmm_cursor_close(&b);
	return NULL;
}

/* Another thread opening an overlapping cursor is no error: it waits. */
static void test_other_thread_waits(void **state)
{
	struct harness *h = *state;
	struct ptmm_cursor a;
	struct waiter w = { .h = h, .va = hv(h, 0x0800400000ull) };
	pthread_t t;
	H_OK(ptmm_cursor_open(&a, &h->pt, w.va, 4 * SZ_4K));
	assert_int_equal(pthread_create(&t, NULL, waiter_main, &w), 0);
	while (!atomic_load(&w.started))
		sched_yield();
	usleep(100000);
	assert_false(atomic_load(&w.opened)); /* still waiting for a */
	ptmm_cursor_close(&a);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_true(atomic_load(&w.opened));
	h_assert_check(h, "after the wait");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST_ARCHS(test_handle_dropped_before_flush),
		H_TEST_ARCHS_KERNEL(test_handle_dropped_before_flush),
		H_TEST_ARCHS(test_handle_dropped_after_flush_is_immediate),
		H_TEST_ARCHS(test_cross_cursor_release),
		H_TEST_ARCHS_KERNEL(test_cross_cursor_release),
		H_TEST_ARCHS(test_cross_cursor_release_other_order),
		H_TEST_ARCHS(test_walker_never_touches_new_owners_lock),
		H_TEST_ARCHS_KERNEL(test_walker_never_touches_new_owners_lock),
		H_TEST_ARCHS(test_self_deadlock_detected),
		H_TEST_ARCHS_KERNEL(test_self_deadlock_detected),
		H_TEST_ARCHS(test_other_thread_waits),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
