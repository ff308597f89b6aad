/*
 * test_retry.c - the lockless walk of ptmm_cursor_open meets a node that another
 * cursor detaches under it, and retries from the root (MODEL.md section 4:
 * "a reader that reaches a node marked detached must retry").
 *
 * Threads cannot hit that window on demand, so the test uses the page
 * table's walk hook: it runs in the walk between reading the path and
 * locking the node the walk stopped at, and there it runs a whole second
 * cursor that empties that node, so that it is reclaimed and freed.
 */
#include "harness.h"

/* What the hook does, once: unmap [va, va+len), which reclaims the node. */
struct race {
	struct harness *h;
	ptmm_vaddr_t va;
	uint64_t len;
	unsigned level;   /* the walk must stop at a node of this level */
	ptmm_paddr_t node;     /* which it saw (0: the hook has not run) */
	bool busy;        /* inside the hook: walks of the inner cursor */
};

static void race_hook(void *ctx, ptmm_paddr_t node, unsigned level, enum ptmm_walk_stage stage)
{
	struct race *r = ctx;
	if (stage != PTMM_WALK_BEFORE_LOCK)
		return;
	if (r->busy || r->node)
		return; /* the inner cursor's own walks, and the outer walk's retry */
	if (level != r->level)
		return;
	r->busy = true;
	r->node = node;
	struct ptmm_cursor c;
	H_OK(ptmm_cursor_open(&c, &r->h->pt, r->va, r->len));
	H_OK(ptmm_cursor_unmap(&c, r->len, NULL));
	ptmm_cursor_close(&c); /* reclaims the emptied node(s), frees them after the flush */
	r->busy = false;
}

/*
 * Open a cursor on one mapped page while, inside the walk, another cursor
 * unmaps it: the node the walk stopped at is gone by the time it is
 * locked.  The walk must retry once, stop at a node still in the tree,
 * and the cursor then works on the range as it now is.
 */
static void test_walk_retries_on_detached_node(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = h_space_base(h) + 0x2000400000ull;
	struct ptmm_prop p = h_prop(h, PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_WB);
	struct race r = { .h = h, .va = v, .len = SZ_4K, .level = 1 };
	struct ptmm_mapping m;
	struct ptmm_cursor c;

	H_OK(h_map(h, v, SZ_4K, 0x7000, p, 0));
	uint64_t retries = atomic_load(&h->pt.walk_retries);
	h->pt.walk_hook = race_hook;
	h->pt.walk_hook_ctx = &r;

	H_OK(ptmm_cursor_open(&c, &h->pt, v, SZ_4K));
	h->pt.walk_hook = NULL;
	assert_true(r.node != 0); /* the hook ran, on the level-1 node */
	assert_int_equal(atomic_load(&h->pt.walk_retries), retries + 1);
	/* The node it stopped at first is free now; the cursor holds another. */
	assert_int_not_equal(c.node[c.guard_level], r.node);
	assert_true(c.guard_level > 1);
	struct ptmm_frame_slot *old = ptmm_frame_slot_of(&h->ft, r.node);
	assert_int_not_equal(old->usage, PTMM_FRAME_PT_NODE);

	char buf[256];
	if (ptmm_check_cursor(&c, buf, sizeof(buf)) != PTMM_OK)
		fail_msg("cursor after the retry: %s", buf);
	H_OK(ptmm_cursor_query(&c, &m));
	assert_false(m.present); /* the inner cursor's unmap is what it sees */
	H_OK(ptmm_cursor_map(&c, 0x8000, SZ_4K, p, 0));
	ptmm_cursor_close(&c);
	h_assert_check(h, "after the raced open");
	H_OK(h_query(h, v, &m));
	assert_true(m.present);
	assert_int_equal(m.pa, 0x8000);
}

/* Without a race the walk never retries (the counter is not noise). */
static void test_walk_without_race_does_not_retry(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = h_space_base(h) + 0x2000400000ull;
	struct ptmm_prop p = h_prop(h, PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_WB);
	uint64_t retries = atomic_load(&h->pt.walk_retries);
	for (unsigned i = 0; i < 64; i++) {
		H_OK(h_map(h, v + i * SZ_2M, SZ_4K, 0x7000, p, 0));
		H_OK(h_unmap(h, v + i * SZ_2M, SZ_4K, NULL));
	}
	assert_int_equal(atomic_load(&h->pt.walk_retries), retries);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST_ARCHS(test_walk_retries_on_detached_node),
		H_TEST_ARCHS_KERNEL(test_walk_retries_on_detached_node),
		H_TEST_ARCHS(test_walk_without_race_does_not_retry),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
