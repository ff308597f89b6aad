/*
 * test_misuse.c - every public call of the mm with bad arguments, in the
 * wrong state and in the wrong order, as a careless embedder (or an
 * attacker driving one) would make them.
 *
 * Each case must get the answer its header states (an error code, or a
 * documented no-op), change nothing (the harness snapshot: view, stats,
 * free memory, every slot's metadata) and leave the checker happy; none
 * may crash, hang, corrupt memory or silently succeed.  The cases run on
 * every encoder in both spaces (small machines: 64 MiB of data RAM) and
 * the run prints how many it tried.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

/* Small machines: a snapshot walks every slot, and there are hundreds of cases. */
static const struct harness_param misuse_user_x86 = { H_X86_64, PTMM_PT_USER, 64 * MiB, 16 * MiB };
static const struct harness_param misuse_user_sv48 = { H_SV48, PTMM_PT_USER, 64 * MiB, 16 * MiB };
static const struct harness_param misuse_user_fake48 = { H_FAKE48, PTMM_PT_USER, 64 * MiB, 16 * MiB };
static const struct harness_param misuse_kernel_x86 = { H_X86_64, PTMM_PT_KERNEL, 64 * MiB, 16 * MiB };
static const struct harness_param misuse_kernel_sv48 = { H_SV48, PTMM_PT_KERNEL, 64 * MiB, 16 * MiB };
static const struct harness_param misuse_kernel_fake48 = { H_FAKE48, PTMM_PT_KERNEL, 64 * MiB,
							   16 * MiB };

#define M_TEST_ALL(f)                                                                     \
	H_TEST_ONE(f, misuse_user_x86), H_TEST_ONE(f, misuse_user_sv48),                 \
		H_TEST_ONE(f, misuse_user_fake48), H_TEST_ONE(f, misuse_kernel_x86),      \
		H_TEST_ONE(f, misuse_kernel_sv48), H_TEST_ONE(f, misuse_kernel_fake48)

/* Cases tried over the whole run (printed at the end). */
static unsigned cases;

/*
 * `expr` must return `code` and change nothing observable in h (snapshots
 * before and after), and the checker must still pass.
 */
#define MISUSE(h, code, expr)                                                    \
	do {                                                                     \
		struct h_snapshot before_, after_;                               \
		h_snapshot((h), &before_);                                       \
		H_ERR((expr), (code));                                           \
		h_snapshot((h), &after_);                                        \
		h_assert_same(&before_, &after_, #expr);                         \
		h_snapshot_free(&before_);                                       \
		h_snapshot_free(&after_);                                        \
		h_assert_check((h), #expr);                                      \
		cases++;                                                         \
	} while (0)

/*
 * With cursor `c` open (a snapshot would wait for its locks): `expr` must
 * return `code` and leave the cursor consistent (ptmm_check_cursor); the
 * caller compares snapshots taken before the open and after the close.
 */
#define MISUSE_OPEN(h, c, code, expr)                                            \
	do {                                                                     \
		char buf_[256];                                                  \
		ptmm_vaddr_t va_ = ptmm_cursor_va(c);                                      \
		H_ERR((expr), (code));                                           \
		if (ptmm_check_cursor((c), buf_, sizeof(buf_)) != PTMM_OK)           \
			fail_msg("%s: cursor: %s", #expr, buf_);                 \
		assert_true(ptmm_cursor_va(c) == va_);                                \
		cases++;                                                         \
	} while (0)

/* A void call (a documented no-op in this state): nothing may change. */
#define MISUSE_VOID(h, stmt)                                                     \
	do {                                                                     \
		struct h_snapshot before_, after_;                               \
		h_snapshot((h), &before_);                                       \
		stmt;                                                            \
		h_snapshot((h), &after_);                                        \
		h_assert_same(&before_, &after_, #stmt);                         \
		h_snapshot_free(&before_);                                       \
		h_snapshot_free(&after_);                                        \
		h_assert_check((h), #stmt);                                      \
		cases++;                                                         \
	} while (0)

static struct ptmm_prop rw(const struct harness *h)
{
	return h_prop(h, PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_WB);
}

/* A VA of h's space, `off` bytes in (the kernel half starts at H_KERNEL_BASE). */
static ptmm_vaddr_t va_at(const struct harness *h, uint64_t off)
{
	return h_space_base(h) + off;
}

/* ---- frame table set-up ---- */

static void test_frame_table_setup(void **state)
{
	struct harness *h = *state;
	struct ptmm_frame_table ft;
	uint64_t slots[4];

	/* ptmm_frame_table_init writes only `ft` (a scratch one): the machine must not change. */
	MISUSE(h, PTMM_EALIGN, ptmm_frame_table_init(&ft, slots, 1, SZ_4K * 2, 0));
	MISUSE(h, PTMM_EALIGN, ptmm_frame_table_init(&ft, slots, 0, SZ_4K + 1, 0));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_table_init(&ft, slots, SZ_4K, SZ_4K, 0));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_table_init(&ft, slots, 2 * SZ_4K, SZ_4K, 0));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_table_init(&ft, NULL, 0, SZ_4K, 0));

	/* add_ram on the live table: misaligned, empty, bad zone, outside, RAM already, MMIO. */
	MISUSE(h, PTMM_EALIGN, ptmm_frame_table_add_ram(&h->ft, 0x800, SZ_4K, H_ZONE_DATA));
	MISUSE(h, PTMM_EALIGN, ptmm_frame_table_add_ram(&h->ft, 0, 0x800, H_ZONE_DATA));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_table_add_ram(&h->ft, 0, 0, H_ZONE_DATA));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_table_add_ram(&h->ft, h->mmio_hole, SZ_4K, PTMM_FRAME_MAX_ZONES));
	MISUSE(h, PTMM_ERANGE, ptmm_frame_table_add_ram(&h->ft, 1 * TiB, SZ_4K, H_ZONE_DATA));
	MISUSE(h, PTMM_ERANGE, ptmm_frame_table_add_ram(&h->ft, 0, SZ_4K, H_ZONE_DATA));
	MISUSE(h, PTMM_ERANGE, ptmm_frame_table_add_ram(&h->ft, h->mmio_hole, SZ_4K, H_ZONE_DATA));
	MISUSE(h, PTMM_ERANGE,
	       ptmm_frame_table_add_ram(&h->ft, h->pool_base + h->pool_size - SZ_4K, 2 * SZ_4K,
				   H_ZONE_POOL));

	/* reserve: misaligned, empty, not RAM, a usage that is not owned memory, not free. */
	MISUSE(h, PTMM_EALIGN, ptmm_frame_table_reserve(&h->ft, 0x10, SZ_4K, PTMM_FRAME_RESERVED));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_table_reserve(&h->ft, 0, 0, PTMM_FRAME_RESERVED));
	MISUSE(h, PTMM_ERANGE, ptmm_frame_table_reserve(&h->ft, h->mmio_hole, SZ_4K, PTMM_FRAME_RESERVED));
	MISUSE(h, PTMM_ERANGE, ptmm_frame_table_reserve(&h->ft, 1 * TiB, SZ_4K, PTMM_FRAME_RESERVED));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_table_reserve(&h->ft, 0, SZ_4K, PTMM_FRAME_DATA));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_table_reserve(&h->ft, 0, SZ_4K, PTMM_FRAME_PT_NODE));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_table_reserve(&h->ft, 0, SZ_4K, PTMM_FRAME_UNUSED));
	MISUSE(h, PTMM_EEXIST, ptmm_frame_table_reserve(&h->ft, h->pt.root, SZ_4K, PTMM_FRAME_RESERVED));

	/* MMIO windows: misaligned, empty, wrapping, over RAM. */
	MISUSE(h, PTMM_EALIGN, ptmm_frame_table_add_mmio(&h->ft, H_MMIO_BASE + 1, SZ_4K));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_table_add_mmio(&h->ft, H_MMIO_BASE, 0));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_table_add_mmio(&h->ft, (ptmm_paddr_t)0 - SZ_4K, 2 * SZ_4K));
	MISUSE(h, PTMM_ERANGE, ptmm_frame_table_add_mmio(&h->ft, 0, SZ_4K));
	MISUSE(h, PTMM_ERANGE, ptmm_frame_table_add_mmio(&h->ft, h->pool_base, SZ_4K));

	/* Zone settings with a bad zone: refused or ignored, never written out of bounds. */
	MISUSE(h, PTMM_EINVAL, ptmm_frame_zone_set_wb_only(&h->ft, PTMM_FRAME_MAX_ZONES, true));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_zone_set_wb_only(&h->ft, 0xffffffffu, true));
	MISUSE_VOID(h, ptmm_frame_zone_set_claimable(&h->ft, PTMM_FRAME_MAX_ZONES, true));
	MISUSE_VOID(h, ptmm_frame_zone_set_claimable(&h->ft, 0xffffffffu, false));
	assert_int_equal(ptmm_frame_zone_free_frames(&h->ft, PTMM_FRAME_MAX_ZONES), 0);
	cases++;
}

/* ---- allocation and handles ---- */

static void test_frame_alloc_and_handles(void **state)
{
	struct harness *h = *state;
	ptmm_paddr_t pa = 0x5a5a000;

	MISUSE(h, PTMM_EINVAL, ptmm_frame_alloc(&h->ft, PTMM_FRAME_MAX_ZONES, 0, PTMM_FRAME_DATA, &pa));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_alloc(&h->ft, H_ZONE_DATA, PTMM_FRAME_MAX_ORDER + 1, PTMM_FRAME_DATA, &pa));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_alloc(&h->ft, H_ZONE_DATA, 0, PTMM_FRAME_PT_NODE, &pa));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_alloc(&h->ft, H_ZONE_DATA, 0, PTMM_FRAME_RESERVED, &pa));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_alloc(&h->ft, H_ZONE_DATA, 0, PTMM_FRAME_UNUSED, &pa));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_alloc(&h->ft, H_ZONE_DATA, 0, PTMM_FRAME_MMIO, &pa));
	/* 64 MiB of data RAM has no 1 GiB block. */
	MISUSE(h, PTMM_ENOMEM, ptmm_frame_alloc(&h->ft, H_ZONE_DATA, PTMM_FRAME_MAX_ORDER, PTMM_FRAME_DATA, &pa));
	assert_true(pa == 0x5a5a000); /* untouched on error */

	/* Handles on what is not an allocated data block. */
	MISUSE(h, PTMM_ERANGE, ptmm_frame_get(&h->ft, h->mmio_hole));
	MISUSE(h, PTMM_ERANGE, ptmm_frame_put(&h->ft, 1 * TiB));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_get(&h->ft, 0));       /* free data RAM */
	MISUSE(h, PTMM_EINVAL, ptmm_frame_put(&h->ft, 0));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_get(&h->ft, h->pt.root)); /* a page-table node */
	MISUSE(h, PTMM_EINVAL, ptmm_frame_put(&h->ft, h->pt.root));
	MISUSE(h, PTMM_ERANGE, ptmm_frame_free_unique(&h->ft, 1 * TiB));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_free_unique(&h->ft, 0));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_free_unique(&h->ft, h->pt.root));

	/* One ptmm_frame_put too many while the block is mapped: refused, the mapping stays. */
	ptmm_paddr_t d;
	H_OK(ptmm_frame_alloc(&h->ft, H_ZONE_DATA, 1, PTMM_FRAME_DATA, &d));
	H_OK(h_map(h, va_at(h, SZ_2M), SZ_4K, d + SZ_4K, rw(h), 0));
	H_OK(ptmm_frame_put(&h->ft, d)); /* the handle from ptmm_frame_alloc */
	MISUSE(h, PTMM_EINVAL, ptmm_frame_put(&h->ft, d));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_put(&h->ft, d + SZ_4K));
	struct ptmm_mapping m;
	H_OK(h_query(h, va_at(h, SZ_2M), &m));
	assert_true(m.present && m.pa == d + SZ_4K);
	/* Once unmapped (and flushed) the block is free: its handles are gone too. */
	H_OK(h_unmap(h, va_at(h, SZ_2M), SZ_4K, NULL));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_put(&h->ft, d));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_get(&h->ft, d));

	/* A unique block given back twice, or as the wrong kind. */
	ptmm_paddr_t k;
	H_OK(ptmm_frame_alloc(&h->ft, H_ZONE_DATA, 0, PTMM_FRAME_KERNEL, &k));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_get(&h->ft, k));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_put(&h->ft, k));
	H_OK(ptmm_frame_free_unique(&h->ft, k));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_free_unique(&h->ft, k));
	H_OK(ptmm_frame_alloc(&h->ft, H_ZONE_DATA, 0, PTMM_FRAME_DATA, &d));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_free_unique(&h->ft, d));
	H_OK(ptmm_frame_put(&h->ft, d));
	MISUSE(h, PTMM_EINVAL, ptmm_frame_put(&h->ft, d));
}

/* ---- page tables ---- */

static void test_page_table_lifecycle(void **state)
{
	struct harness *h = *state;
	struct ptmm_page_table u, bad;
	struct ptmm_cursor c;

	/* A bad node zone: refused, and the table is left destroyed (all refused, no walk). */
	MISUSE(h, PTMM_EINVAL, ptmm_page_table_init_user(&bad, &h->arch, &h->ft, PTMM_FRAME_MAX_ZONES, NULL));
	MISUSE(h, PTMM_EINVAL, ptmm_cursor_open(&c, &bad, 0, SZ_4K));
	assert_false(ptmm_cursor_is_open(&c));
	MISUSE(h, PTMM_EINVAL, ptmm_page_table_destroy(&bad));
	MISUSE(h, PTMM_EINVAL, ptmm_page_table_activate(&bad));
	MISUSE(h, PTMM_EINVAL, ptmm_page_table_init_kernel(&bad, &h->arch, &h->ft, PTMM_FRAME_MAX_ZONES));
	MISUSE(h, PTMM_EINVAL, ptmm_page_table_destroy(&bad));
	/* Sharing a dead kernel table, a user table, or one of another format. */
	MISUSE(h, PTMM_EINVAL, ptmm_page_table_init_user(&u, &h->arch, &h->ft, H_ZONE_POOL, &bad));
	if (h_is_kernel(h)) {
		struct ptmm_arch other;
		harness_arch_init(h, &other, h_is_x86(h) ? H_SV48 : H_X86_64, 0);
		MISUSE(h, PTMM_EINVAL, ptmm_page_table_init_user(&u, &other, &h->ft, H_ZONE_POOL, &h->pt));
		/* The kernel table is never destroyed. */
		MISUSE(h, PTMM_EINVAL, ptmm_page_table_destroy(&h->pt));
	} else {
		MISUSE(h, PTMM_EINVAL, ptmm_page_table_init_user(&u, &h->arch, &h->ft, H_ZONE_POOL, &h->pt));
	}

	/* Destroy while active: refused; after switching: done; twice: refused, no hang. */
	H_OK(ptmm_page_table_init_user(&u, &h->arch, &h->ft, H_ZONE_POOL, NULL));
	harness_add_pt(h, &u);
	H_OK(h_map_pt(h, &u, 0x400000, SZ_4K, 0x1000, ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_U, PTMM_CACHE_WB), 0));
	H_OK(ptmm_page_table_activate(&u));
	MISUSE(h, PTMM_EBUSY, ptmm_page_table_destroy(&u));
	harness_remove_pt(h, &u);
	H_OK(ptmm_page_table_activate(&h->pt));
	H_OK(ptmm_page_table_destroy(&u));
	h_assert_check(h, "destroyed");
	MISUSE(h, PTMM_EINVAL, ptmm_page_table_destroy(&u));
	MISUSE(h, PTMM_EINVAL, ptmm_page_table_activate(&u));
	MISUSE(h, PTMM_EINVAL, ptmm_cursor_open(&c, &u, 0x400000, SZ_4K));
	MISUSE(h, PTMM_EINVAL, ptmm_cursor_map(&c, 0x1000, SZ_4K, rw(h), 0));
	/* The frame it mapped went back: nothing leaked by the misuse either. */
	MISUSE(h, PTMM_EINVAL, ptmm_frame_put(&h->ft, 0x1000));
}

/* ---- cursors ---- */

static void test_cursor_open_args(void **state)
{
	struct harness *h = *state;
	struct ptmm_cursor c;
	uint64_t half = h_space_size(h);

	MISUSE(h, PTMM_EINVAL, ptmm_cursor_open(&c, &h->pt, va_at(h, 0), 0));
	MISUSE(h, PTMM_EALIGN, ptmm_cursor_open(&c, &h->pt, va_at(h, 0x10), SZ_4K));
	MISUSE(h, PTMM_EALIGN, ptmm_cursor_open(&c, &h->pt, va_at(h, 0), SZ_4K + 8));
	MISUSE(h, PTMM_ERANGE, ptmm_cursor_open(&c, &h->pt, va_at(h, 0) ^ (1ull << 63), SZ_4K));
	MISUSE(h, PTMM_ERANGE, ptmm_cursor_open(&c, &h->pt, va_at(h, half - SZ_4K), 2 * SZ_4K));
	MISUSE(h, PTMM_ERANGE, ptmm_cursor_open(&c, &h->pt, va_at(h, 0), UINT64_MAX & ~(SZ_4K - 1)));
	/* Non-canonical: between the halves. */
	MISUSE(h, PTMM_ERANGE, ptmm_cursor_open(&c, &h->pt, 0x0000900000000000ull, SZ_4K));
	/* Every failed open leaves a closed cursor: its operations are refused. */
	MISUSE(h, PTMM_EINVAL, ptmm_cursor_map(&c, 0x1000, SZ_4K, rw(h), 0));
	MISUSE(h, PTMM_EINVAL, ptmm_cursor_unmap(&c, SZ_4K, NULL));
	MISUSE_VOID(h, ptmm_cursor_close(&c));
}

/* Every operation on a closed cursor is refused; flush and close do nothing. */
static void test_cursor_closed(void **state)
{
	struct harness *h = *state;
	struct ptmm_cursor c;
	struct ptmm_mapping m;
	uint64_t n = 77;
	ptmm_vaddr_t va = va_at(h, SZ_1G);

	H_OK(ptmm_cursor_open(&c, &h->pt, va, 4 * SZ_4K));
	H_OK(ptmm_cursor_map(&c, 0x2000, SZ_4K, rw(h), 0)); /* warms the one-page fast path */
	ptmm_cursor_close(&c);
	assert_false(ptmm_cursor_is_open(&c));
	h_assert_check(h, "closed");
	/* The fast-path case exactly (same property, next page of the same block). */
	MISUSE(h, PTMM_EINVAL, ptmm_cursor_map(&c, 0x3000, SZ_4K, rw(h), 0));
	MISUSE(h, PTMM_EINVAL, ptmm_cursor_map(&c, 0x3000, SZ_2M, rw(h), PTMM_MAP_HUGE));
	MISUSE(h, PTMM_EINVAL, ptmm_cursor_unmap(&c, SZ_4K, &n));
	MISUSE(h, PTMM_EINVAL, ptmm_cursor_unmap(&c, 4 * SZ_4K, &n));
	MISUSE(h, PTMM_EINVAL, ptmm_cursor_protect(&c, SZ_4K, rw(h), &n));
	MISUSE(h, PTMM_EINVAL, ptmm_cursor_query(&c, &m));
	MISUSE(h, PTMM_EINVAL, ptmm_cursor_find_next(&c, SZ_4K, &m));
	MISUSE(h, PTMM_EINVAL, ptmm_cursor_jump(&c, va));
	assert_true(n == 77);
	assert_true(ptmm_cursor_va(&c) == 0);
	cases++;
	MISUSE_VOID(h, ptmm_cursor_flush(&c));
	MISUSE_VOID(h, ptmm_cursor_close(&c)); /* twice */
	/* Reopened, it works again; the mapping made before is there. */
	H_OK(ptmm_cursor_open(&c, &h->pt, va, 4 * SZ_4K));
	H_OK(ptmm_cursor_query(&c, &m));
	assert_true(m.present && m.pa == 0x2000);
	H_OK(ptmm_cursor_unmap(&c, 4 * SZ_4K, &n));
	assert_true(n == SZ_4K);
	ptmm_cursor_close(&c);
	h_assert_check(h, "after");
}

/* An open cursor: arguments outside its range or malformed, each refused. */
static void test_cursor_op_args(void **state)
{
	struct harness *h = *state;
	struct ptmm_cursor c;
	struct ptmm_mapping m;
	ptmm_vaddr_t va = va_at(h, SZ_1G);
	struct ptmm_prop p = rw(h);
	struct ptmm_prop wrong_half = h_is_kernel(h) ? ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_U, 0)
						   : ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_G, 0);

	struct h_snapshot before, after;
	H_OK(h_map(h, va + SZ_4K, SZ_4K, 0x1000, p, 0));
	h_snapshot(h, &before);
	H_OK(ptmm_cursor_open(&c, &h->pt, va, 4 * SZ_4K));
	MISUSE_OPEN(h, &c, PTMM_EINVAL, ptmm_cursor_map(&c, 0x2000, 0, p, 0));
	MISUSE_OPEN(h, &c, PTMM_EALIGN, ptmm_cursor_map(&c, 0x2000, 0x800, p, 0));
	MISUSE_OPEN(h, &c, PTMM_EALIGN, ptmm_cursor_map(&c, 0x2001, SZ_4K, p, 0));
	MISUSE_OPEN(h, &c, PTMM_ERANGE, ptmm_cursor_map(&c, 0x2000, 8 * SZ_4K, p, 0));
	MISUSE_OPEN(h, &c, PTMM_EINVAL, ptmm_cursor_map(&c, 0x2000, SZ_4K, p, 1u << 7));
	MISUSE_OPEN(h, &c, PTMM_EINVAL, ptmm_cursor_map(&c, 0x2000, SZ_4K, p, PTMM_MAP_UNTRACKED | PTMM_MAP_MMIO));
	if (!h_is_kernel(h))
		MISUSE_OPEN(h, &c, PTMM_EINVAL, ptmm_cursor_map(&c, 0x2000, SZ_4K, p, PTMM_MAP_UNTRACKED));
	MISUSE_OPEN(h, &c, PTMM_EINVAL, ptmm_cursor_map(&c, 0x2000, SZ_4K, ptmm_prop_make(0x80, 0), 0));
	MISUSE_OPEN(h, &c, PTMM_EINVAL, ptmm_cursor_map(&c, 0x2000, SZ_4K, ptmm_prop_make(PTMM_PROP_R, 9), 0));
	MISUSE_OPEN(h, &c, PTMM_EINVAL, ptmm_cursor_map(&c, 0x2000, SZ_4K, wrong_half, 0));
	MISUSE_OPEN(h, &c, PTMM_EINVAL, ptmm_cursor_map(&c, 0x2000, SZ_4K, ptmm_prop_make(PTMM_PROP_W, 0), 0));
	MISUSE_OPEN(h, &c, PTMM_ERANGE, ptmm_cursor_map(&c, (ptmm_paddr_t)0 - SZ_4K, 2 * SZ_4K, p, 0));
	MISUSE_OPEN(h, &c, PTMM_ERANGE, ptmm_cursor_map(&c, 1 * TiB, SZ_4K, p, 0));
	MISUSE_OPEN(h, &c, PTMM_ERANGE, ptmm_cursor_map(&c, 0x2000, SZ_4K, p, PTMM_MAP_MMIO));
	MISUSE_OPEN(h, &c, PTMM_EPERM, ptmm_cursor_map(&c, h->pt.root, SZ_4K, p, 0));
	MISUSE_OPEN(h, &c, PTMM_EPERM, ptmm_cursor_map(&c, h->pool_base, SZ_4K, p, 0));
	MISUSE_OPEN(h, &c, PTMM_EEXIST, ptmm_cursor_map(&c, 0x2000, 2 * SZ_4K, p, 0));
	MISUSE_OPEN(h, &c, PTMM_EINVAL, ptmm_cursor_unmap(&c, 0, NULL));
	MISUSE_OPEN(h, &c, PTMM_EALIGN, ptmm_cursor_unmap(&c, 0x10, NULL));
	MISUSE_OPEN(h, &c, PTMM_ERANGE, ptmm_cursor_unmap(&c, 5 * SZ_4K, NULL));
	MISUSE_OPEN(h, &c, PTMM_EINVAL, ptmm_cursor_protect(&c, 0, p, NULL));
	MISUSE_OPEN(h, &c, PTMM_EALIGN, ptmm_cursor_protect(&c, 0x10, p, NULL));
	MISUSE_OPEN(h, &c, PTMM_ERANGE, ptmm_cursor_protect(&c, 5 * SZ_4K, p, NULL));
	MISUSE_OPEN(h, &c, PTMM_EINVAL, ptmm_cursor_protect(&c, 2 * SZ_4K, wrong_half, NULL));
	MISUSE_OPEN(h, &c, PTMM_EINVAL, ptmm_cursor_find_next(&c, 0, &m));
	MISUSE_OPEN(h, &c, PTMM_EALIGN, ptmm_cursor_find_next(&c, 0x10, &m));
	MISUSE_OPEN(h, &c, PTMM_ERANGE, ptmm_cursor_find_next(&c, 5 * SZ_4K, &m));
	MISUSE_OPEN(h, &c, PTMM_EALIGN, ptmm_cursor_jump(&c, va + 8));
	MISUSE_OPEN(h, &c, PTMM_ERANGE, ptmm_cursor_jump(&c, va - SZ_4K));
	MISUSE_OPEN(h, &c, PTMM_ERANGE, ptmm_cursor_jump(&c, va + 5 * SZ_4K));
	/* Wrong order: at the end of the range there is nothing left to do. */
	H_OK(ptmm_cursor_jump(&c, va + 4 * SZ_4K));
	MISUSE_OPEN(h, &c, PTMM_ERANGE, ptmm_cursor_query(&c, &m));
	MISUSE_OPEN(h, &c, PTMM_ERANGE, ptmm_cursor_map(&c, 0x2000, SZ_4K, p, 0));
	MISUSE_OPEN(h, &c, PTMM_ERANGE, ptmm_cursor_unmap(&c, SZ_4K, NULL));
	ptmm_cursor_close(&c);
	h_snapshot(h, &after);
	h_assert_same(&before, &after, "the refused operations of one cursor");
	h_snapshot_free(&before);
	h_snapshot_free(&after);
	h_assert_check(h, "after the refused operations");
	H_OK(h_unmap(h, va, 4 * SZ_4K, NULL));
	assert_true(strcmp(ptmm_strerror(-100), "unknown") == 0);
	assert_true(strcmp(ptmm_strerror(PTMM_EBUSY), "busy") == 0);
	cases += 2;
}

/* The one-memory-type rule as a misuse: RAM of a wb-only zone mapped uncached. */
static void test_cache_type_misuse(void **state)
{
	struct harness *h = *state;
	struct ptmm_cursor c;
	ptmm_vaddr_t va = va_at(h, SZ_1G);
	struct ptmm_prop uc = h_prop(h, PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_UC);

	if (h->arch.prop_check(&h->arch, uc) != PTMM_OK)
		uc = h_prop(h, PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_WC);
	H_OK(h->arch.prop_check(&h->arch, uc)); /* every harness encoder has uc or wc */
	H_OK(ptmm_frame_zone_set_wb_only(&h->ft, H_ZONE_DATA, true));
	struct h_snapshot before, after;
	H_OK(h_map(h, va, SZ_4K, 0x1000, rw(h), 0));
	h_snapshot(h, &before);
	H_OK(ptmm_cursor_open(&c, &h->pt, va, SZ_2M));
	H_OK(ptmm_cursor_jump(&c, va + SZ_4K));
	MISUSE_OPEN(h, &c, PTMM_EPERM, ptmm_cursor_map(&c, 0x2000, SZ_4K, uc, 0));
	MISUSE_OPEN(h, &c, PTMM_EPERM, ptmm_cursor_map(&c, 0x1000, SZ_4K, uc, 0)); /* an alias of a mapped frame */
	MISUSE_OPEN(h, &c, PTMM_EPERM, ptmm_cursor_map(&c, 0x10000, 4 * SZ_4K, uc, PTMM_MAP_HUGE)); /* general path */
	MISUSE_OPEN(h, &c, PTMM_EPERM, ptmm_cursor_map(&c, 0x2000, SZ_4K, h_prop(h, 0, PTMM_CACHE_UC), 0));
	if (h_is_kernel(h))
		MISUSE_OPEN(h, &c, PTMM_EPERM, ptmm_cursor_map(&c, 0x2000, SZ_4K, uc, PTMM_MAP_UNTRACKED));
	H_OK(ptmm_cursor_jump(&c, va));
	MISUSE_OPEN(h, &c, PTMM_EPERM, ptmm_cursor_protect(&c, SZ_4K, uc, NULL));
	MISUSE_OPEN(h, &c, PTMM_EPERM, ptmm_cursor_protect(&c, SZ_2M, uc, NULL));
	ptmm_cursor_close(&c);
	h_snapshot(h, &after);
	h_assert_same(&before, &after, "refused uncached maps and protects");
	h_snapshot_free(&before);
	h_snapshot_free(&after);
	h_assert_check(h, "after the refused uncached maps");
	/* Device memory has no write-back alias: uncached stays allowed there. */
	H_OK(h_map(h, va + SZ_4K, SZ_4K, H_MMIO_BASE, uc, PTMM_MAP_MMIO));
	H_OK(h_unmap(h, va, SZ_2M, NULL));
	H_OK(ptmm_frame_zone_set_wb_only(&h->ft, H_ZONE_DATA, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		M_TEST_ALL(test_frame_table_setup),
		M_TEST_ALL(test_frame_alloc_and_handles),
		M_TEST_ALL(test_page_table_lifecycle),
		M_TEST_ALL(test_cursor_open_args),
		M_TEST_ALL(test_cursor_closed),
		M_TEST_ALL(test_cursor_op_args),
		M_TEST_ALL(test_cache_type_misuse),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	printf("misuse: %u cases tried over %zu test bodies, %d failed\n", cases,
	       sizeof(tests) / sizeof(tests[0]), failed);
	return failed;
}
