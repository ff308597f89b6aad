/*
 * eva_frame.c - the Frama-C Eva driver for the frame allocator
 * (docs/VERIFY.md, part 2): a small frame table (two RAM zones with a
 * hole, a reserved range, an MMIO window), then every public and internal
 * frame operation called with nondeterministic arguments, any number of
 * times in any order.  Eva computes a superset of every execution; an
 * alarm is a possible undefined behaviour (overflow, invalid shift,
 * out-of-bounds or invalid pointer, uninitialised read).
 */
#include "__fc_builtin.h"

#include <ptmm/frame.h>
#include "mm/frame_internal.h"
#include <ptmm/mm_assert.h>

/* The GCC builtins come from eva_builtins.h, force-included by the command line. */

#ifndef EVA_STEPS
#define EVA_STEPS 3
#endif
#define NFRAMES 64u
#define PAGE 4096u

static struct ptmm_frame_slot slots[NFRAMES];
static unsigned char phys[NFRAMES * PAGE];
static struct ptmm_frame_table ft;

void ptmm_assert_failed(const char *file, int line, const char *cond)
{
	(void)file;
	(void)line;
	(void)cond;
	Frama_C_show_each_assert_failed();
	for (;;) {
	}
}

/*
 * The address and length arguments: any frame of the window and a little
 * beyond, page aligned or not (pfn, half), 0 to 8 pages.  The cases that
 * take them split on each value (one Eva state per value): merged, an
 * imprecise frame number makes every slot a possible block head, and the
 * lists of that head imprecise (false alarms).
 */
#define PA_OF(pfn, half) ((ptmm_paddr_t)(pfn) * PAGE + (ptmm_paddr_t)(half) * (PAGE / 2))

int main(void)
{
	uint32_t hint = PTMM_FRAME_NIL;
	struct ptmm_frame_release release;
	frame_release_init(&release);
	if (ptmm_frame_table_init(&ft, slots, 0, NFRAMES * PAGE, (uintptr_t)phys - 0) != PTMM_OK)
		return 1;
	/* Zone 0: frames [0, 24); a hole [24, 28); zone 1: [28, 64). */
	if (ptmm_frame_table_add_ram(&ft, 0, 24 * PAGE, 0) != PTMM_OK ||
	    ptmm_frame_table_add_ram(&ft, 28 * PAGE, 36 * PAGE, 1) != PTMM_OK)
		return 1;
	ptmm_frame_table_add_mmio(&ft, NFRAMES * PAGE, 16 * PAGE);
	ptmm_frame_table_reserve(&ft, 20 * PAGE, 2 * PAGE, PTMM_FRAME_KERNEL);
	ptmm_frame_zone_set_claimable(&ft, 0, true);

	/*
	 * EVA_STEPS operations (unrolled: every step keeps its own states, so
	 * the slots stay precise); each one any operation with any arguments.
	 */
	//@ loop unroll EVA_STEPS;
	for (int k = 0; k < EVA_STEPS; k++) {
		unsigned pfn = Frama_C_unsigned_int_interval(0, NFRAMES + 4);
		unsigned half = Frama_C_unsigned_int_interval(0, 1);
		unsigned pages = Frama_C_unsigned_int_interval(0, 8);
		unsigned zone = Frama_C_unsigned_int_interval(0, PTMM_FRAME_MAX_ZONES);
		unsigned order = Frama_C_unsigned_int_interval(0, PTMM_FRAME_MAX_ORDER + 1);
		switch (Frama_C_interval(0, 9)) {
		case 0: {
			ptmm_paddr_t got;
			int usage = Frama_C_interval(0, 7);
			/*
			 * One state per argument value: merged, the free-list head an
			 * imprecise order indexes could be NIL for Eva although the
			 * search loop stopped at a non-NIL one (a false alarm).
			 */
			//@ split zone;
			//@ split order;
			//@ split usage;
			ptmm_frame_alloc(&ft, zone, order, (enum ptmm_frame_usage)usage, &got);
			break;
		}
		case 1:
			//@ split pfn;
			//@ split half;
			//@ split pages;
			ptmm_frame_is_ram(&ft, PA_OF(pfn, half));
			ptmm_frame_range_is_ram(&ft, PA_OF(pfn, half), (uint64_t)pages * PAGE);
			ptmm_frame_range_is_mmio(&ft, PA_OF(pfn, half), (uint64_t)pages * PAGE);
			ptmm_frame_range_touches_ram(&ft, PA_OF(pfn, half), (uint64_t)pages * PAGE);
			ptmm_frame_block_head(&ft, PA_OF(pfn, half));
			ptmm__frame_ram_range_end(&ft, PA_OF(pfn, half));
			break;
		case 2:
			ptmm_frame_zone_free_frames(&ft, zone < PTMM_FRAME_MAX_ZONES ? zone : 0);
			break;
		case 3: {
			ptmm_paddr_t node;
			if (ptmm__frame_node_alloc(&ft, 1, Frama_C_unsigned_int_interval(1, 4), &node) == PTMM_OK)
				ptmm__frame_node_free(&ft, node);
			break;
		}
		case 4:
			/* Page-aligned: these functions' contract (frame_internal.h), as the cursor calls them. */
			//@ split pfn;
			//@ split pages;
			if (ptmm__frame_map_check(&ft, PA_OF(pfn, 0), (uint64_t)pages * PAGE, &hint) == PTMM_OK &&
			    pages)
				ptmm__frame_map_leaves(&ft, PA_OF(pfn, 0), PAGE, pages, &hint);
			break;
		case 5:
			//@ split pfn;
			ptmm__frame_map_page(&ft, PA_OF(pfn, 0), &hint);
			break;
		case 6:
			ptmm__frame_release_all(&ft, &release);
			break;
		default:
			break;
		}
	}
	return 0;
}
