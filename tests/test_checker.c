/*
 * test_checker.c - the checker can fail: every check of ptmm_check and
 * ptmm_check_cursor is met by a deliberate corruption it must report (with
 * text), and the state it accepts is the one the mm leaves behind.
 *
 * (test_cursor.c holds the first corruption tests: counts, entries,
 * levels.  These cover the user half's shared kernel entries, node locks,
 * zero blocks, holes, the tables' node counts and the open cursor of
 * MODEL.md section 4; test_rmap.c those only the reverse map can see.)
 */
#include <string.h>

#include "harness.h"

/* VA at offset `off` of h's space. */
static ptmm_vaddr_t hv(const struct harness *h, uint64_t off)
{
	return h_space_base(h) + off;
}

static struct ptmm_prop rw(const struct harness *h)
{
	return h_prop(h, PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_WB);
}

/* ptmm_check_cursor on `c` must be OK. */
static void assert_cursor_ok(const struct ptmm_cursor *c, const char *where)
{
	char buf[512];
	if (ptmm_check_cursor(c, buf, sizeof(buf)) != PTMM_OK)
		fail_msg("ptmm_check_cursor %s: %s", where, buf);
}

/* ptmm_check_cursor on `c` must report something, with a description. */
static void expect_cursor_violation(const struct ptmm_cursor *c, const char *what)
{
	char buf[512];
	if (ptmm_check_cursor(c, buf, sizeof(buf)) == PTMM_OK)
		fail_msg("ptmm_check_cursor did not notice: %s", what);
	if (buf[0] == '\0')
		fail_msg("ptmm_check_cursor noticed %s but gave no description", what);
	print_message("  (%s) -> %s\n", what, buf);
}

/*
 * Kernel harness: a user table sharing the kernel half.  Its upper-half
 * root entries must be exactly the kernel root's; a user table made
 * without a kernel table must have none.
 */
static void test_user_upper_half_is_the_kernel_roots(void **state)
{
	struct harness *h = *state;
	struct ptmm_page_table user, lone;
	H_OK(ptmm_page_table_init_user(&user, &h->arch, &h->ft, H_ZONE_POOL, &h->pt));
	harness_add_pt(h, &user);
	h_assert_check(h, "user table sharing the kernel half");

	ptmm_pte_t *uroot = ptmm_frame_to_virt(&h->ft, user.root);
	const ptmm_pte_t *kroot = ptmm_frame_to_virt(&h->ft, h->pt.root);
	unsigned i = PTMM_PTES_PER_NODE / 2 + 44;
	ptmm_pte_t saved = uroot[i];
	uroot[i] = kroot[i + 1];
	h_expect_violation(h, "user root entry pointing at another kernel node");
	uroot[i] = saved;
	h_assert_check(h, "entry restored");

	H_OK(ptmm_page_table_init_user(&lone, &h->arch, &h->ft, H_ZONE_POOL, NULL));
	harness_add_pt(h, &lone);
	h_assert_check(h, "user table without the kernel half");
	ptmm_pte_t *lroot = ptmm_frame_to_virt(&h->ft, lone.root);
	lroot[i] = kroot[i];
	h_expect_violation(h, "kernel entry in a user table made without one");
	lroot[i] = 0;
	h_assert_check(h, "entry removed");

	harness_remove_pt(h, &lone);
	ptmm_page_table_destroy(&lone);
	harness_remove_pt(h, &user);
	ptmm_page_table_destroy(&user);
	h_assert_check(h, "user tables destroyed");
}

/* A node left locked with no cursor open is reported. */
static void test_node_left_locked(void **state)
{
	struct harness *h = *state;
	H_OK(h_map(h, hv(h, 0x40000000), SZ_4K, 0x3000, rw(h), 0));
	struct ptmm_frame_slot *root = ptmm_frame_slot_of(&h->ft, h->pt.root);
	atomic_store(&root->lock, 1);
	h_expect_violation(h, "root locked with no cursor open");
	atomic_store(&root->lock, 0);
	h_assert_check(h, "lock released");
}

/*
 * nr_tables (the entries of a node that are tables, which lets the lock
 * walk skip nodes of leaves) must match the entries, after huge maps and
 * splits too.
 */
static void test_nr_tables(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = hv(h, 0x40000000);
	H_OK(h_map(h, v, 2 * SZ_2M, 0x200000, rw(h), PTMM_MAP_HUGE)); /* two 2M leaves */
	H_OK(h_protect(h, v + SZ_4K, SZ_4K, h_prop(h, PTMM_PROP_R, PTMM_CACHE_WB), NULL));
	h_assert_check(h, "a 2M leaf split into a table");
	ptmm_paddr_t node = h->pt.root;
	for (unsigned l = h->arch.levels; l > 2; l--) {
		const ptmm_pte_t *tbl = ptmm_frame_to_virt(&h->ft, node);
		node = ptmm_pte_table_addr(&h->arch.fmt, tbl[ptmm_level_index(v, l)]);
	}
	struct ptmm_frame_slot *l2 = ptmm_frame_slot_of(&h->ft, node);
	assert_int_equal(l2->nr_children, 2);
	assert_int_equal(l2->nr_tables, 1);
	l2->nr_tables = 0;
	h_expect_violation(h, "level-2 node counting no table entry");
	l2->nr_tables = 2;
	h_expect_violation(h, "level-2 node counting its leaf as a table");
	l2->nr_tables = 1;
	h_assert_check(h, "nr_tables restored");
	H_OK(h_unmap(h, v, 2 * SZ_2M, NULL));
	h_assert_check(h, "after the unmap");
}

/* The first free block flagged zero in the node pool, or NULL. */
static struct ptmm_frame_slot *first_zero_block(struct harness *h)
{
	for (uint64_t i = h->pool_base >> PTMM_PAGE_SHIFT;
	     i < (h->pool_base + h->pool_size) >> PTMM_PAGE_SHIFT;) {
		struct ptmm_frame_slot *s = &h->ft.slots[i];
		if (s->usage == PTMM_FRAME_UNUSED && (atomic_load(&s->flags) & PTMM_FRAME_F_ZERO))
			return s;
		i += (uint64_t)1 << s->order;
	}
	return NULL;
}

/*
 * Nodes freed empty become zero blocks, handed out later without clearing:
 * a zero block with data, or a wrong count of them, is reported.
 */
static void test_zero_blocks(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = hv(h, 3 * h_root_entry_size(h)); /* a root entry of its own */
	H_OK(h_map(h, v, SZ_4K, 0x5000, rw(h), 0));
	H_OK(h_unmap(h, v, SZ_4K, NULL));
	struct ptmm_frame_slot *z = first_zero_block(h);
	assert_non_null(z);
	uint64_t *w = ptmm_frame_to_virt(&h->ft, ptmm_frame_slot_pa(&h->ft, z));
	uint64_t last = (((uint64_t)PTMM_PAGE_SIZE << z->order) / sizeof(*w)) - 1;
	w[last] = 0x100;
	h_expect_violation(h, "zero block with a word set in its last frame");
	w[last] = 0;
	h_assert_check(h, "zero block cleared again");

	h->ft.zones[H_ZONE_POOL].zero_blocks++;
	h_expect_violation(h, "zone counts one zero block too many");
	h->ft.zones[H_ZONE_POOL].zero_blocks--;
	h_assert_check(h, "zero-block count restored");
}

/* A hole in the window (the MMIO hole) must stay a reserved, owned frame. */
static void test_hole_slot(void **state)
{
	struct harness *h = *state;
	struct ptmm_frame_slot *s = ptmm_frame_slot_of(&h->ft, h->mmio_hole);
	assert_non_null(s);
	assert_int_equal(s->zone, PTMM_FRAME_NO_ZONE);
	uint32_t saved = atomic_load(&s->refcount);
	atomic_store(&s->refcount, 1);
	h_expect_violation(h, "hole slot with a reference count");
	atomic_store(&s->refcount, saved);
	h_assert_check(h, "hole restored");
}

/*
 * MODEL.md section 4 on an open cursor: after open, after maps that build
 * and reclaim nodes and after a jump the cursor is consistent; each kind
 * of breakage of its state or of its locks is reported.
 */
static void test_cursor_invariants(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = hv(h, 0x40000000);
	struct ptmm_cursor c;
	H_OK(h_map(h, v + 5 * SZ_2M, SZ_4K, 0x9000, rw(h), 0)); /* a node under the range */

	H_OK(ptmm_cursor_open(&c, &h->pt, v, 8 * SZ_2M));
	assert_cursor_ok(&c, "after open");
	H_OK(ptmm_cursor_map(&c, 0x1000, SZ_4K, rw(h), 0));
	assert_cursor_ok(&c, "after a map that built a path");
	H_OK(ptmm_cursor_jump(&c, v + 3 * SZ_2M));
	H_OK(ptmm_cursor_map(&c, 0x2000, 2 * SZ_4K, rw(h), 0));
	assert_cursor_ok(&c, "after a jump and a map");
	H_OK(ptmm_cursor_jump(&c, v + 3 * SZ_2M));
	H_OK(ptmm_cursor_unmap(&c, 2 * SZ_4K, NULL));
	assert_cursor_ok(&c, "after an unmap that reclaimed a node");

	uint64_t saved_va = c.va;
	c.va = c.end + PTMM_PAGE_SIZE;
	expect_cursor_violation(&c, "current VA past the end");
	c.va = c.start + 1;
	expect_cursor_violation(&c, "current VA not page aligned");
	c.va = saved_va;

	unsigned saved_level = c.level;
	c.level = c.guard_level + 1;
	expect_cursor_violation(&c, "level above the guard");
	c.level = saved_level;

	/* Walk the cached path down to level 1 (the first page's node). */
	H_OK(ptmm_cursor_jump(&c, v));
	H_OK(ptmm_cursor_unmap(&c, SZ_4K, NULL));
	H_OK(ptmm_cursor_jump(&c, v));
	H_OK(ptmm_cursor_map(&c, 0x1000, SZ_4K, rw(h), 0));
	assert_cursor_ok(&c, "after unmap and map of the first page");
	assert_int_equal(c.level, 1);
	struct ptmm_frame_slot *l1 = c.slot[1];
	atomic_store(&l1->lock, 0);
	expect_cursor_violation(&c, "level-1 node on the path unlocked");
	atomic_store(&l1->lock, 1);
	assert_cursor_ok(&c, "lock restored");

	/* The level-1 node under the range that the cursor never visited, by a raw walk. */
	ptmm_paddr_t far = h->pt.root;
	for (unsigned l = h->arch.levels; l > 1; l--) {
		const ptmm_pte_t *tbl = ptmm_frame_to_virt(&h->ft, far);
		far = ptmm_pte_table_addr(&h->arch.fmt, tbl[ptmm_level_index(v + 5 * SZ_2M, l)]);
	}
	struct ptmm_frame_slot *fs = ptmm_frame_slot_of(&h->ft, far);

	ptmm_paddr_t saved_node = c.node[1];
	ptmm_pte_t *saved_table = c.table[1];
	c.node[1] = h->pt.root;
	expect_cursor_violation(&c, "cached node whose table and slot are another's");
	c.node[1] = far;
	c.table[1] = ptmm_frame_to_virt(&h->ft, far);
	c.slot[1] = fs;
	expect_cursor_violation(&c, "cached node that is not the child of the one above");
	c.node[1] = saved_node;
	c.table[1] = saved_table;
	c.slot[1] = l1;
	assert_cursor_ok(&c, "path restored");

	struct ptmm_mapping m;
	H_OK(ptmm_cursor_jump(&c, v + 5 * SZ_2M));
	H_OK(ptmm_cursor_query(&c, &m));
	assert_true(m.present);
	assert_cursor_ok(&c, "after a query");
	atomic_store(&fs->lock, 0);
	expect_cursor_violation(&c, "node under the range left unlocked");
	atomic_store(&fs->lock, 1);
	assert_cursor_ok(&c, "lock restored");

	atomic_fetch_or(&fs->flags, (uint8_t)PTMM_FRAME_F_DETACHED);
	expect_cursor_violation(&c, "node under the range marked detached");
	atomic_fetch_and(&fs->flags, (uint8_t)~PTMM_FRAME_F_DETACHED);
	assert_cursor_ok(&c, "flag cleared");

	ptmm_cursor_close(&c);
	h_assert_check(h, "after close");
}

/*
 * ptmm_check_open: with a cursor open and flushed, its own locks are fine,
 * a lock on a node outside its range is not.
 */
static void test_check_with_cursor_open(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = hv(h, 0x40000000), far = hv(h, 0x3000000000ull);
	struct ptmm_cursor c;
	H_OK(h_map(h, far, SZ_4K, 0x4000, rw(h), 0));
	H_OK(ptmm_cursor_open(&c, &h->pt, v, 4 * SZ_2M));
	H_OK(ptmm_cursor_map(&c, 0x1000, 3 * SZ_2M, rw(h), 0));
	ptmm_cursor_flush(&c);
	h_assert_check_open(h, &c, "cursor open, just flushed");

	ptmm_paddr_t node = h->pt.root; /* the level-1 node of `far`, outside the range */
	for (unsigned l = h->arch.levels; l > 1; l--) {
		const ptmm_pte_t *tbl = ptmm_frame_to_virt(&h->ft, node);
		node = ptmm_pte_table_addr(&h->arch.fmt, tbl[ptmm_level_index(far, l)]);
	}
	struct ptmm_frame_slot *s = ptmm_frame_slot_of(&h->ft, node);
	atomic_store(&s->lock, 1);
	char buf[512];
	if (ptmm_check_open(h->pts, h->nr_pts, &h->ft, &c, buf, sizeof(buf)) == PTMM_OK)
		fail_msg("ptmm_check_open did not notice a lock outside the cursor's range");
	print_message("  (lock outside the open cursor's range) -> %s\n", buf);
	atomic_store(&s->lock, 0);
	h_assert_check_open(h, &c, "lock released");
	ptmm_cursor_close(&c);
	h_assert_check(h, "after close");
}

/*
 * ptmm_check_open with the cursor's guard left empty by its own unmap: the
 * guard is reclaimed at the close, so that state is legal while the cursor
 * is open (tools/explore's batches reach it); any other empty node is not.
 */
static void test_check_open_empty_guard(void **state)
{
	struct harness *h = *state;
	ptmm_vaddr_t v = hv(h, 0x40000000);
	struct ptmm_cursor c;
	uint64_t removed;
	H_OK(h_map(h, v, SZ_4K, 0x4000, rw(h), 0));
	H_OK(h_map(h, v + SZ_1G, SZ_4K, 0x5000, rw(h), 0));
	/* Guard: the level-2 node of v (the range is four of its entries). */
	H_OK(ptmm_cursor_open(&c, &h->pt, v, 4 * SZ_2M));
	assert_int_equal(c.guard_level, 2);
	H_OK(ptmm_cursor_unmap(&c, SZ_4K, &removed));
	assert_int_equal(removed, SZ_4K);
	ptmm_cursor_flush(&c);
	assert_int_equal(c.slot[2]->nr_children, 0);
	h_assert_check_open(h, &c, "the guard left empty by the cursor's unmap");

	/* An empty node that is not the guard is still a violation. */
	ptmm_paddr_t node = h->pt.root; /* the level-1 node of v + 1G, outside the range */
	for (unsigned l = h->arch.levels; l > 1; l--) {
		const ptmm_pte_t *tbl = ptmm_frame_to_virt(&h->ft, node);
		node = ptmm_pte_table_addr(&h->arch.fmt, tbl[ptmm_level_index(v + SZ_1G, l)]);
	}
	ptmm_pte_t *tbl = ptmm_frame_to_virt(&h->ft, node);
	unsigned i = ptmm_level_index(v + SZ_1G, 1);
	ptmm_pte_t saved = tbl[i];
	struct ptmm_frame_slot *s = ptmm_frame_slot_of(&h->ft, node);
	tbl[i] = 0;
	s->nr_children--;
	char buf[512];
	if (ptmm_check_open(h->pts, h->nr_pts, &h->ft, &c, buf, sizeof(buf)) == PTMM_OK)
		fail_msg("ptmm_check_open did not notice an empty node outside the cursor");
	print_message("  (empty node that is not the guard) -> %s\n", buf);
	tbl[i] = saved;
	s->nr_children++;
	ptmm_cursor_close(&c);
	h_assert_check(h, "after close (guard reclaimed)");
}

/*
 * T11: a table's nr_nodes (kept by the cursor at each flush) is the
 * number of nodes in it.  The checker compared nothing of it before: one
 * node too many or too few must each be reported, as T11.
 */
static void test_nr_nodes(void **state)
{
	struct harness *h = *state;
	H_OK(h_map(h, hv(h, 0x40000000), SZ_4K, 0x4000, rw(h), 0));
	h_assert_check(h, "one page mapped");
	atomic_fetch_add(&h->pt.nr_nodes, 1);
	h_expect_violation_of(h, "nr_nodes one too high", "T11: ");
	atomic_fetch_sub(&h->pt.nr_nodes, 2);
	h_expect_violation_of(h, "nr_nodes one too low", "T11: ");
	atomic_fetch_add(&h->pt.nr_nodes, 1);
	h_assert_check(h, "nr_nodes restored");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		H_TEST_ARCHS_KERNEL(test_user_upper_half_is_the_kernel_roots),
		H_TEST_ARCHS(test_node_left_locked),
		H_TEST_ARCHS_KERNEL(test_node_left_locked),
		H_TEST_ARCHS(test_nr_tables),
		H_TEST_ARCHS_KERNEL(test_nr_tables),
		H_TEST_ARCHS(test_zero_blocks),
		H_TEST_ARCHS_KERNEL(test_zero_blocks),
		H_TEST_ARCHS(test_hole_slot),
		H_TEST_ARCHS(test_cursor_invariants),
		H_TEST_ARCHS_KERNEL(test_cursor_invariants),
		H_TEST_ARCHS(test_check_with_cursor_open),
		H_TEST_ARCHS_KERNEL(test_check_with_cursor_open),
		H_TEST_ARCHS(test_check_open_empty_guard),
		H_TEST_ARCHS_KERNEL(test_check_open_empty_guard),
		H_TEST_ARCHS(test_nr_nodes),
		H_TEST_ARCHS_KERNEL(test_nr_nodes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
