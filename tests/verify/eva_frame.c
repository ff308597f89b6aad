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

/*
 * The GCC builtins frame.c and spinlock.h use, for Eva (its libc has
 * neither code nor specification for them).  The C11 atomics come with
 * Frama-C's libc/stdatomic.c, which the command line adds.
 */
/*@ assigns \nothing; */
void __builtin_ia32_pause(void);

void *__builtin_memset(void *s, int c, size_t n)
{
	unsigned char *p = s;
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)c;
	return s;
}

/*@ requires x != 0;
    assigns \result \from x;
    ensures 0 <= \result < 64;
    ensures (x >> \result) % 2 == 1; */
int __builtin_ctzll(unsigned long long x);

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

static ptmm_paddr_t any_pa(void)
{
	/* Any frame of the window and a little beyond, page aligned or not. */
	return (ptmm_paddr_t)Frama_C_unsigned_int_interval(0, (NFRAMES + 4) * PAGE);
}

int main(void)
{
	uint32_t hint = PTMM_FRAME_NIL, release = PTMM_FRAME_NIL;
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
		ptmm_paddr_t pa = any_pa();
		unsigned zone = Frama_C_unsigned_int_interval(0, PTMM_FRAME_MAX_ZONES);
		unsigned order = Frama_C_unsigned_int_interval(0, PTMM_FRAME_MAX_ORDER + 1);
		uint64_t len = (uint64_t)Frama_C_unsigned_int_interval(0, 8) * PAGE;
		switch (Frama_C_interval(0, 9)) {
		case 0: {
			ptmm_paddr_t got;
			ptmm_frame_alloc(&ft, zone, order, (enum ptmm_frame_usage)Frama_C_interval(0, 7), &got);
			break;
		}
		case 1:
			ptmm_frame_is_ram(&ft, pa);
			ptmm_frame_range_is_ram(&ft, pa, len);
			ptmm_frame_range_is_mmio(&ft, pa, len);
			ptmm_frame_range_touches_ram(&ft, pa, len);
			ptmm_frame_block_head(&ft, pa);
			ptmm__frame_ram_range_end(&ft, pa);
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
			if (ptmm__frame_map_check(&ft, pa, len, &hint) == PTMM_OK && len)
				ptmm__frame_map_leaves(&ft, pa, PAGE, len / PAGE, &hint);
			break;
		case 5:
			ptmm__frame_map_page(&ft, pa, &hint);
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
