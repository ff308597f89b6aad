/*
 * eva_cursor.c - the Frama-C Eva driver for the cursor (docs/VERIFY.md,
 * part 2): one small x86-64 user page table (4 levels, NX and 1G pages) over
 * a small frame table, a fixed prefix of maps that gives the tree leaves
 * of two sizes in two level-1 nodes, then EVA_STEPS operations through the
 * public API (map, map replace, map huge, MMIO map, unmap, protect, query,
 * find), each with its VA, length, PA, property and flags chosen
 * nondeterministically within the bounds below.  Eva computes a superset of
 * every execution; an alarm is a possible undefined behaviour (overflow,
 * invalid shift, out-of-bounds or invalid pointer, uninitialised read).
 *
 * The world (PAs):
 *   [0, 16 frames)     data RAM, zone 0, claimable by map
 *   [16, 24 frames)    node pool, zone 1 (a map of it: EPERM)
 *   [24, 32 frames)    outside RAM, inside the slot table (a hole: ERANGE)
 *   [4M, 8M)           an MMIO window (2M-aligned: a 2M MMIO leaf fits)
 * The VAs: three pages on either side of the 2M boundary at 0x200000 (two
 * level-1 nodes), and the 2M leaf [4M, 6M); lengths of 1 to 3 pages.
 *
 * Every choice is split (one Eva state per value, //@ split): merged, an
 * imprecise VA or length would make every entry of a node a possible
 * target, and the tree imprecise for the rest of the step (false alarms).
 * The GCC builtins and atomics: eva_builtins.h, force-included.
 */
#include "__fc_builtin.h"

#include <ptmm/arch.h>
#include <ptmm/cursor.h>
#include <ptmm/frame.h>
#include <ptmm/mm_assert.h>
#include <ptmm/page_table.h>

#ifndef EVA_STEPS
#define EVA_STEPS 1
#endif
#define PAGE 4096u
#define NFRAMES 32u   /* the slot table: [0, 32 frames) */
#define NODE_FIRST 16u /* the node pool: frames [16, 24) */
#define NODE_FRAMES 8u
#define MMIO_BASE 0x400000u
#define MMIO_LEN 0x400000u
#define BOUNDARY 0x200000u /* a 2M boundary: the VAs around it meet two level-1 nodes */

static struct ptmm_frame_slot slots[NFRAMES];
/* Only node frames are read or written by the mm: the array holds the pool (frames 16..23). */
static uint64_t pool[NODE_FRAMES * PAGE / 8];
static struct ptmm_frame_table ft;
static struct ptmm_arch arch;
static struct ptmm_page_table pt;

void ptmm_assert_failed(const char *file, int line, const char *cond)
{
	(void)file;
	(void)line;
	(void)cond;
	Frama_C_show_each_assert_failed();
	for (;;) {
	}
}

/* The cursor's self-deadlock check (PTMM_DEBUG builds): one context. */
const void *ptmm_debug_context(void)
{
	static const char only;
	return &only;
}

/* The TLB hooks: no TLB here (tools/tlbmodel and the explorer check the flushes). */
static void flush_page(void *ctx, ptmm_vaddr_t va)
{
	(void)ctx;
	(void)va;
}

static void flush_range(void *ctx, ptmm_vaddr_t va, uint64_t len)
{
	(void)ctx;
	(void)va;
	(void)len;
}

static void flush_all(void *ctx)
{
	(void)ctx;
}

static void activate(void *ctx, ptmm_paddr_t root)
{
	(void)ctx;
	(void)root;
}

static const struct ptmm_tlb_ops tlb = { flush_page, flush_range, flush_all, activate, 0 };

/*
 * The properties a step may ask for: rw, r, no-access (all user), one the
 * encoder refuses (w without r).  The bounds of the choices below keep the
 * run near a minute of CPU (docs/VERIFY.md has the figures).
 */
static const uint8_t prop_flags[] = {
	PTMM_PROP_R | PTMM_PROP_W | PTMM_PROP_U,
	PTMM_PROP_R | PTMM_PROP_U,
	PTMM_PROP_U,
	PTMM_PROP_W | PTMM_PROP_U,
};

/* The PAs a map may name: a data frame, the last one, a pool frame (EPERM), MMIO. */
static const ptmm_paddr_t map_pa[] = {
	0, 15 * PAGE, NODE_FIRST * PAGE, MMIO_BASE,
};

/* The map flags: none, replace, huge; MMIO is the op kind's. */
static const unsigned map_flags[] = {
	0, PTMM_MAP_REPLACE, PTMM_MAP_HUGE,
};

/* One operation on its own cursor over [va, va + len), as an embedder's call. */
static void one_op(int kind, ptmm_vaddr_t va, uint64_t len, ptmm_paddr_t pa, struct ptmm_prop prop,
		   unsigned flags)
{
	struct ptmm_cursor c;
	struct ptmm_mapping m;
	uint64_t bytes;
	if (ptmm_cursor_open(&c, &pt, va, len) != PTMM_OK)
		return;
	switch (kind) {
	case 0:
		ptmm_cursor_map(&c, pa, len, prop, flags);
		break;
	case 1:
		ptmm_cursor_map(&c, pa, len, prop, flags | PTMM_MAP_MMIO);
		break;
	case 2:
		ptmm_cursor_unmap(&c, len, &bytes);
		break;
	case 3:
		ptmm_cursor_protect(&c, len, prop, &bytes);
		break;
	case 4:
		ptmm_cursor_query(&c, &m);
		break;
	default:
		ptmm_cursor_find_next(&c, len, &m);
		break;
	}
	ptmm_cursor_close(&c);
}

static struct ptmm_prop prop_of(unsigned i)
{
	return ptmm_prop_make(prop_flags[i], PTMM_CACHE_WB);
}

int main(void)
{
	if (ptmm_frame_table_init(&ft, slots, 0, NFRAMES * PAGE, (uintptr_t)pool - NODE_FIRST * PAGE) !=
		    PTMM_OK ||
	    ptmm_frame_table_add_ram(&ft, 0, NODE_FIRST * PAGE, 0) != PTMM_OK ||
	    ptmm_frame_table_add_ram(&ft, NODE_FIRST * PAGE, NODE_FRAMES * PAGE, 1) != PTMM_OK ||
	    ptmm_frame_table_add_mmio(&ft, MMIO_BASE, MMIO_LEN) != PTMM_OK)
		return 1;
	ptmm_frame_zone_set_claimable(&ft, 0, true);
	ptmm_arch_x86_64_init(&arch, PTMM_FEAT_X86_NX | PTMM_FEAT_X86_1G, &tlb);
	if (ptmm_page_table_init_user(&pt, &arch, &ft, 1, 0) != PTMM_OK)
		return 1;

	/* The prefix: two pages across the 2M boundary (two level-1 nodes), a 2M MMIO leaf. */
	one_op(0, BOUNDARY - PAGE, 2 * PAGE, 2 * PAGE, prop_of(0), 0);
	one_op(1, MMIO_BASE, 0x200000, MMIO_BASE, ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_W | PTMM_PROP_U,
								  PTMM_CACHE_UC),
	       PTMM_MAP_HUGE);

	//@ loop unroll EVA_STEPS;
	for (int k = 0; k < EVA_STEPS; k++) {
		int kind = Frama_C_interval(0, 5);
		/* A page in [BOUNDARY - 3 pages, BOUNDARY + 3 pages), or the 2M leaf's start. */
		int slot = Frama_C_interval(0, 6);
		unsigned pages = Frama_C_unsigned_int_interval(1, 3);
		unsigned pi = Frama_C_unsigned_int_interval(0, sizeof(map_pa) / sizeof(map_pa[0]) - 1);
		unsigned fi = Frama_C_unsigned_int_interval(0, sizeof(map_flags) / sizeof(map_flags[0]) - 1);
		unsigned qi = Frama_C_unsigned_int_interval(0, sizeof(prop_flags) / sizeof(prop_flags[0]) - 1);
		ptmm_vaddr_t va;
		uint64_t len;
		//@ split kind;
		//@ split slot;
		//@ split pages;
		va = slot < 6 ? BOUNDARY - 3 * PAGE + (ptmm_vaddr_t)slot * PAGE : MMIO_BASE;
		len = (uint64_t)pages * PAGE;
		if (kind <= 1) {
			//@ split pi;
			//@ split fi;
			//@ split qi;
			one_op(kind, va, len, map_pa[pi], prop_of(qi), map_flags[fi]);
		} else if (kind == 3) {
			//@ split qi;
			one_op(kind, va, len, 0, prop_of(qi), 0);
		} else {
			one_op(kind, va, len, 0, prop_of(0), 0);
		}
	}
	return 0;
}
