/*
 * test_frame.c - the frame table and the buddy allocator (include/ptmm/frame.h).
 *
 * The machine here is its own (no page table): a PA window starting above
 * 0 so that base_pfn is not zero, with RAM ranges in several zones and
 * holes between them:
 *
 *   [16M, 20M) + [24M, 28M)   zone 1   (a 4M hole between: no 8M block)
 *   [64M, 66M)                zone 2   (512 frames, adjacent to zone 3)
 *   [66M, 68M)                zone 3   (buddies across zones never merge)
 *   [1G, 2G)                  zone 0   (one 1 GiB block)
 *   MMIO window               [4G, 4G+16M)
 *
 * The frames themselves are a PROT_NONE mapping: the allocator must never
 * touch the memory it manages.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define W_LO (16 * MiB)
#define W_HI (2 * GiB)
#define MMIO_LO (4 * GiB)
#define MMIO_LEN (16 * MiB)

struct ftx {
	struct ptmm_frame_table ft;
	void *slots;
	size_t slots_bytes;
	void *phys;
	size_t phys_bytes;
	/* Fail-hook record. */
	unsigned hook_calls, hook_zone, hook_order, hook_fail_at;
};

/* Frame table over [W_LO, W_HI) with no RAM yet. */
static struct ftx *ftx_new_empty(void)
{
	struct ftx *x = calloc(1, sizeof(*x));
	assert_non_null(x);
	x->slots_bytes = ptmm_frame_table_meta_bytes(W_LO, W_HI);
	assert_true(x->slots_bytes >= (W_HI - W_LO) / SZ_4K * sizeof(struct ptmm_frame_slot));
	x->slots = mmap(NULL, x->slots_bytes, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(x->slots != MAP_FAILED);
	x->phys_bytes = W_HI - W_LO;
	x->phys = mmap(NULL, x->phys_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	assert_true(x->phys != MAP_FAILED);
	H_OK(ptmm_frame_table_init(&x->ft, x->slots, W_LO, W_HI, (uintptr_t)x->phys - W_LO));
	return x;
}

/* The standard layout of this file (see the header comment). */
static struct ftx *ftx_new(void)
{
	struct ftx *x = ftx_new_empty();
	H_OK(ptmm_frame_table_add_ram(&x->ft, 16 * MiB, 4 * MiB, 1));
	H_OK(ptmm_frame_table_add_ram(&x->ft, 24 * MiB, 4 * MiB, 1));
	H_OK(ptmm_frame_table_add_ram(&x->ft, 64 * MiB, 2 * MiB, 2));
	H_OK(ptmm_frame_table_add_ram(&x->ft, 66 * MiB, 2 * MiB, 3));
	H_OK(ptmm_frame_table_add_ram(&x->ft, 1 * GiB, 1 * GiB, 0));
	H_OK(ptmm_frame_table_add_mmio(&x->ft, MMIO_LO, MMIO_LEN));
	return x;
}

/* Release a machine made by ftx_new/ftx_new_empty. */
static void ftx_free(struct ftx *x)
{
	munmap(x->slots, x->slots_bytes);
	munmap(x->phys, x->phys_bytes);
	free(x);
}

/* cmocka setup: the standard layout. */
static int ftx_setup(void **state)
{
	*state = ftx_new();
	return 0;
}

/* cmocka teardown. */
static int ftx_teardown(void **state)
{
	ftx_free(*state);
	return 0;
}

/* Free frames of `zone`. */
static uint64_t free_of(struct ftx *x, unsigned zone)
{
	return ptmm_frame_zone_free_frames(&x->ft, zone);
}

/* Free counts of all zones, to prove a failed call changed nothing. */
struct free_counts {
	uint64_t z[PTMM_FRAME_MAX_ZONES];
};

/* Free frames of every zone. */
static struct free_counts counts_of(struct ftx *x)
{
	struct free_counts c;
	for (unsigned z = 0; z < PTMM_FRAME_MAX_ZONES; z++)
		c.z[z] = free_of(x, z);
	return c;
}

/* Assert no zone's free count changed since `before`. */
static void assert_counts(struct ftx *x, struct free_counts before, const char *what)
{
	for (unsigned z = 0; z < PTMM_FRAME_MAX_ZONES; z++)
		if (free_of(x, z) != before.z[z])
			fail_msg("%s: zone %u free frames %llu, expected %llu", what, z,
				 (unsigned long long)free_of(x, z), (unsigned long long)before.z[z]);
}

/*
 * Walk the free lists of `zone` and check every block: a head of the
 * list's order, refcount UNUSED, PA aligned to its size, every frame RAM
 * of this zone.  Returns a fingerprint of the (pa, order) set and the
 * number of blocks, so two states can be compared.
 */
struct free_shape {
	uint64_t frames, blocks, hash;
};

static struct free_shape free_lists_check(struct ftx *x, unsigned zone)
{
	struct free_shape sh = { 0, 0, 0 };
	const struct ptmm_frame_zone *z = &x->ft.zones[zone];

	for (unsigned order = 0; order <= PTMM_FRAME_MAX_ORDER; order++) {
		uint64_t guard = 0;
		for (uint32_t i = z->free_head[order]; i != PTMM_FRAME_NIL; i = x->ft.slots[i].next) {
			const struct ptmm_frame_slot *s = &x->ft.slots[i];
			ptmm_paddr_t pa = ptmm_frame_slot_pa(&x->ft, s);
			uint64_t bytes = SZ_4K << order;
			assert_true(i < x->ft.nr_slots);
			if (s->order != order)
				fail_msg("free block 0x%llx on list %u has order %u",
					 (unsigned long long)pa, order, s->order);
			if (atomic_load(&s->refcount) != PTMM_FRAME_REF_UNUSED)
				fail_msg("free block 0x%llx has refcount 0x%x",
					 (unsigned long long)pa, atomic_load(&s->refcount));
			if (!(atomic_load(&s->flags) & PTMM_FRAME_F_HEAD))
				fail_msg("free block 0x%llx is not flagged as a head",
					 (unsigned long long)pa);
			if (!ptmm_is_aligned(pa, bytes))
				fail_msg("free block 0x%llx of order %u is misaligned",
					 (unsigned long long)pa, order);
			for (ptmm_paddr_t f = pa; f < pa + bytes; f += SZ_4K)
				if (ptmm_frame_slot_of(&x->ft, f)->zone != zone)
					fail_msg("free block 0x%llx (zone %u) holds frame 0x%llx of zone %u",
						 (unsigned long long)pa, zone, (unsigned long long)f,
						 ptmm_frame_slot_of(&x->ft, f)->zone);
			sh.frames += (uint64_t)1 << order;
			sh.blocks++;
			sh.hash = sh.hash * 1000003u ^ (pa + order);
			assert_true(++guard <= x->ft.nr_slots); /* no cycle */
		}
	}
	if (sh.frames != free_of(x, zone))
		fail_msg("zone %u: free lists hold %llu frames, free_frames says %llu", zone,
			 (unsigned long long)sh.frames, (unsigned long long)free_of(x, zone));
	return sh;
}

/* Assert two free-list shapes are the same set of blocks. */
static void assert_shape_eq(struct free_shape a, struct free_shape b, const char *what)
{
	if (a.frames != b.frames || a.blocks != b.blocks || a.hash != b.hash)
		fail_msg("%s: free lists differ (frames %llu/%llu, blocks %llu/%llu)", what,
			 (unsigned long long)a.frames, (unsigned long long)b.frames,
			 (unsigned long long)a.blocks, (unsigned long long)b.blocks);
}

/* ---- Tests ---- */

static void test_slot_size(void **state)
{
	(void)state;
	assert_true(sizeof(struct ptmm_frame_slot) <= 32);
	/* Metadata for a window is one slot per frame (and not much more). */
	assert_true(ptmm_frame_table_meta_bytes(0, 1 * GiB) >= (GiB / SZ_4K) * sizeof(struct ptmm_frame_slot));
	assert_true(ptmm_frame_table_meta_bytes(0, 1 * GiB) <= (GiB / SZ_4K) * 32 + SZ_4K);
}

/* Bad windows are refused; a new table is all holes. */
static void test_init_errors(void **state)
{
	struct ptmm_frame_table ft;
	void *slots = calloc(1, ptmm_frame_table_meta_bytes(0x10000, 0x10000 + 64 * SZ_4K));
	(void)state;
	assert_non_null(slots);
	H_ERR(ptmm_frame_table_init(&ft, slots, 0x1000 + 8, 0x10000, 0), PTMM_EALIGN);
	H_ERR(ptmm_frame_table_init(&ft, slots, 0x1000, 0x10000 + 1, 0), PTMM_EALIGN);
	H_ERR(ptmm_frame_table_init(&ft, slots, 0x10000, 0x10000, 0), PTMM_EINVAL);
	H_ERR(ptmm_frame_table_init(&ft, slots, 0x20000, 0x10000, 0), PTMM_EINVAL);
	H_OK(ptmm_frame_table_init(&ft, slots, 0x10000, 0x10000 + 64 * SZ_4K, 0));
	/* Every frame starts as a hole. */
	for (unsigned i = 0; i < 64; i++) {
		ptmm_paddr_t pa = 0x10000 + (ptmm_paddr_t)i * SZ_4K;
		assert_false(ptmm_frame_is_ram(&ft, pa));
		assert_int_equal(ptmm_frame_slot_of(&ft, pa)->zone, PTMM_FRAME_NO_ZONE);
		assert_null(ptmm_frame_block_head(&ft, pa));
	}
	for (unsigned z = 0; z < PTMM_FRAME_MAX_ZONES; z++)
		assert_int_equal(ptmm_frame_zone_free_frames(&ft, z), 0);
	free(slots);
}

/* RAM ranges in several zones with holes: counts, lookups, block shapes. */
static void test_add_ram_with_holes(void **state)
{
	struct ftx *x = *state;

	assert_int_equal(free_of(x, 0), GiB / SZ_4K);
	assert_int_equal(free_of(x, 1), 2 * 1024);
	assert_int_equal(free_of(x, 2), 512);
	assert_int_equal(free_of(x, 3), 512);
	/* RAM, holes and zones frame by frame at the range edges. */
	assert_false(ptmm_frame_is_ram(&x->ft, 16 * MiB - SZ_4K)); /* below the window */
	assert_true(ptmm_frame_is_ram(&x->ft, 16 * MiB));
	assert_true(ptmm_frame_is_ram(&x->ft, 20 * MiB - SZ_4K));
	assert_false(ptmm_frame_is_ram(&x->ft, 20 * MiB));
	assert_false(ptmm_frame_is_ram(&x->ft, 24 * MiB - SZ_4K));
	assert_true(ptmm_frame_is_ram(&x->ft, 24 * MiB));
	assert_false(ptmm_frame_is_ram(&x->ft, 1 * GiB - SZ_4K));
	assert_true(ptmm_frame_is_ram(&x->ft, 2 * GiB - SZ_4K));
	assert_false(ptmm_frame_is_ram(&x->ft, 2 * GiB));
	assert_int_equal(ptmm_frame_slot_of(&x->ft, 20 * MiB)->zone, PTMM_FRAME_NO_ZONE);
	assert_int_equal(ptmm_frame_slot_of(&x->ft, 64 * MiB)->zone, 2);
	assert_int_equal(ptmm_frame_slot_of(&x->ft, 66 * MiB)->zone, 3);
	assert_null(ptmm_frame_block_head(&x->ft, 20 * MiB));
	assert_null(ptmm_frame_block_head(&x->ft, 3 * GiB));
	assert_true(ptmm_frame_range_touches_ram(&x->ft, 20 * MiB, 4 * MiB + SZ_4K));
	assert_false(ptmm_frame_range_touches_ram(&x->ft, 20 * MiB, 4 * MiB));
	/* The free lists: largest aligned blocks, zone 1 has no 8M block. */
	for (unsigned z = 0; z < 4; z++)
		free_lists_check(x, z);
	assert_int_equal(x->ft.zones[0].free_head[PTMM_FRAME_MAX_ORDER] != PTMM_FRAME_NIL, 1);
	for (unsigned o = 11; o <= PTMM_FRAME_MAX_ORDER; o++)
		assert_int_equal(x->ft.zones[1].free_head[o], PTMM_FRAME_NIL);
	/* Zones 2 and 3 are buddies at order 10 but never merge. */
	assert_int_equal(x->ft.zones[2].free_head[10], PTMM_FRAME_NIL);
	assert_int_equal(x->ft.zones[3].free_head[10], PTMM_FRAME_NIL);
}

/* PA -> slot is one subtraction and one index, for every frame; NULL outside. */
static void test_slot_lookup(void **state)
{
	struct ftx *x = *state;
	uint64_t nr = (W_HI - W_LO) / SZ_4K;

	assert_int_equal(x->ft.base_pfn, W_LO / SZ_4K);
	assert_true(x->ft.nr_slots >= nr);
	for (uint64_t i = 0; i < nr; i++) {
		ptmm_paddr_t pa = W_LO + i * SZ_4K;
		struct ptmm_frame_slot *s = ptmm_frame_slot_of(&x->ft, pa + 123); /* any byte of the frame */
		assert_ptr_equal(s, &x->ft.slots[i]);
		assert_int_equal(ptmm_frame_slot_pa(&x->ft, s), pa);
	}
	assert_null(ptmm_frame_slot_of(&x->ft, W_LO - SZ_4K));
	assert_null(ptmm_frame_slot_of(&x->ft, 0));
	assert_null(ptmm_frame_slot_of(&x->ft, W_HI + x->ft.nr_slots * SZ_4K));
	assert_null(ptmm_frame_slot_of(&x->ft, UINT64_MAX & ~(SZ_4K - 1)));
}

/* Every bad add_ram is refused with its code and changes nothing. */
static void test_add_ram_errors(void **state)
{
	struct ftx *x = ftx_new_empty();
	struct free_counts none;
	(void)state;

	H_OK(ptmm_frame_table_add_ram(&x->ft, 32 * MiB, 4 * MiB, 1));
	none = counts_of(x);
	H_ERR(ptmm_frame_table_add_ram(&x->ft, 40 * MiB + 8, SZ_4K, 1), PTMM_EALIGN);
	H_ERR(ptmm_frame_table_add_ram(&x->ft, 40 * MiB, SZ_4K + 8, 1), PTMM_EALIGN);
	H_ERR(ptmm_frame_table_add_ram(&x->ft, 40 * MiB, 0, 1), PTMM_EINVAL);
	H_ERR(ptmm_frame_table_add_ram(&x->ft, 40 * MiB, SZ_4K, PTMM_FRAME_MAX_ZONES), PTMM_EINVAL);
	H_ERR(ptmm_frame_table_add_ram(&x->ft, 0, 4 * MiB, 1), PTMM_ERANGE);          /* below */
	H_ERR(ptmm_frame_table_add_ram(&x->ft, W_LO - SZ_4K, 8 * KiB, 1), PTMM_ERANGE); /* straddles lo */
	H_ERR(ptmm_frame_table_add_ram(&x->ft, W_HI - SZ_4K, 8 * KiB, 1), PTMM_ERANGE); /* straddles hi */
	H_ERR(ptmm_frame_table_add_ram(&x->ft, W_HI, SZ_4K, 1), PTMM_ERANGE);
	H_ERR(ptmm_frame_table_add_ram(&x->ft, W_HI - SZ_4K, UINT64_MAX & ~(SZ_4K - 1), 1),
	      PTMM_ERANGE); /* pa + len wraps */
	H_ERR(ptmm_frame_table_add_ram(&x->ft, 34 * MiB, 4 * MiB, 1), PTMM_ERANGE);   /* overlaps RAM */
	H_ERR(ptmm_frame_table_add_ram(&x->ft, 30 * MiB, 4 * MiB, 2), PTMM_ERANGE);   /* overlaps RAM */
	H_ERR(ptmm_frame_table_add_ram(&x->ft, 32 * MiB, SZ_4K, 1), PTMM_ERANGE);     /* inside RAM */
	/* A device window inside the slot window is never RAM. */
	H_OK(ptmm_frame_table_add_mmio(&x->ft, 48 * MiB, 2 * MiB));
	H_ERR(ptmm_frame_table_add_ram(&x->ft, 47 * MiB, 2 * MiB, 1), PTMM_ERANGE);   /* straddles it */
	H_ERR(ptmm_frame_table_add_ram(&x->ft, 49 * MiB, SZ_4K, 1), PTMM_ERANGE);     /* inside it */
	assert_counts(x, none, "failed add_ram");
	assert_false(ptmm_frame_is_ram(&x->ft, 38 * MiB));
	assert_false(ptmm_frame_is_ram(&x->ft, 30 * MiB));
	free_lists_check(x, 1);
	/* Odd boundaries: 4K-aligned but not block-aligned ranges. */
	H_OK(ptmm_frame_table_add_ram(&x->ft, 40 * MiB + SZ_4K, 3 * MiB - 2 * SZ_4K, 2));
	assert_int_equal(free_of(x, 2), (3 * MiB - 2 * SZ_4K) / SZ_4K);
	free_lists_check(x, 2);
	ftx_free(x);
}

/* RAM ranges merge whatever the order they were added in; too many is ENOMEM. */
static void test_ram_ranges(void **state)
{
	struct ftx *x = ftx_new_empty();
	struct free_counts before;
	(void)state;

	/* B, then A just below it, then C just above: one range A..C. */
	H_OK(ptmm_frame_table_add_ram(&x->ft, 36 * MiB, 4 * MiB, 1));
	H_OK(ptmm_frame_table_add_ram(&x->ft, 32 * MiB, 4 * MiB, 2));
	H_OK(ptmm_frame_table_add_ram(&x->ft, 44 * MiB, 4 * MiB, 1)); /* a separate range E */
	H_OK(ptmm_frame_table_add_ram(&x->ft, 40 * MiB, 4 * MiB, 1)); /* joins A..C and E */
	assert_int_equal(x->ft.nr_ram, 1);
	assert_true(ptmm_frame_range_is_ram(&x->ft, 32 * MiB, 16 * MiB));
	assert_true(ptmm_frame_range_is_ram(&x->ft, 47 * MiB, MiB));
	assert_false(ptmm_frame_range_is_ram(&x->ft, 31 * MiB, 2 * MiB));
	assert_false(ptmm_frame_range_is_ram(&x->ft, 47 * MiB, 2 * MiB));
	assert_false(ptmm_frame_range_is_ram(&x->ft, 64 * MiB, SZ_4K));
	/* Discontiguous ranges until the table is full. */
	for (unsigned i = 1; i < PTMM_FRAME_MAX_RAM; i++)
		H_OK(ptmm_frame_table_add_ram(&x->ft, 64 * MiB + i * 2 * MiB, MiB, 1));
	assert_int_equal(x->ft.nr_ram, PTMM_FRAME_MAX_RAM);
	before = counts_of(x);
	H_ERR(ptmm_frame_table_add_ram(&x->ft, 512 * MiB, MiB, 1), PTMM_ENOMEM);
	assert_counts(x, before, "add_ram past PTMM_FRAME_MAX_RAM");
	assert_false(ptmm_frame_is_ram(&x->ft, 512 * MiB));
	/* A range adjacent to a known one still fits: it merges. */
	H_OK(ptmm_frame_table_add_ram(&x->ft, 64 * MiB + 2 * MiB + MiB, MiB, 1));
	assert_true(ptmm_frame_range_is_ram(&x->ft, 66 * MiB, 2 * MiB));
	ftx_free(x);
}

/* Allocate one block of each order (in turn) and check it completely. */
static void test_alloc_every_order(void **state)
{
	struct ftx *x = *state;
	struct free_shape initial = free_lists_check(x, 0);
	uint64_t free0 = free_of(x, 0);

	for (unsigned order = 0; order <= PTMM_FRAME_MAX_ORDER; order++) {
		uint64_t bytes = SZ_4K << order;
		struct ptmm_frame_slot *head;
		ptmm_paddr_t pa = 0;

		H_OK(ptmm_frame_alloc(&x->ft, 0, order, PTMM_FRAME_DATA, &pa));
		if (!ptmm_is_aligned(pa, bytes) || pa < 1 * GiB || pa + bytes > 2 * GiB)
			fail_msg("order %u: block 0x%llx misaligned or outside the zone", order,
				 (unsigned long long)pa);
		head = ptmm_frame_slot_of(&x->ft, pa);
		assert_int_equal(atomic_load(&head->refcount), 1);
		assert_int_equal(head->usage, PTMM_FRAME_DATA);
		assert_int_equal(head->order, order);
		assert_true(atomic_load(&head->flags) & PTMM_FRAME_F_HEAD);
		assert_int_equal(free_of(x, 0), free0 - ((uint64_t)1 << order));
		for (ptmm_paddr_t f = pa; f < pa + bytes; f += SZ_4K)
			if (ptmm_frame_block_head(&x->ft, f) != head)
				fail_msg("order %u: ptmm_frame_block_head(0x%llx) is not the head 0x%llx",
					 order, (unsigned long long)f, (unsigned long long)pa);
		/* The neighbours are outside the block. */
		if (pa > 1 * GiB)
			assert_ptr_not_equal(ptmm_frame_block_head(&x->ft, pa - SZ_4K), head);
		if (pa + bytes < 2 * GiB)
			assert_ptr_not_equal(ptmm_frame_block_head(&x->ft, pa + bytes), head);
		free_lists_check(x, 0);
		ptmm_frame_put(&x->ft, pa);
		assert_int_equal(free_of(x, 0), free0);
		assert_int_equal(atomic_load(&ptmm_frame_block_head(&x->ft, pa)->refcount),
				 PTMM_FRAME_REF_UNUSED);
	}
	assert_shape_eq(initial, free_lists_check(x, 0), "after each order once");
}

/* All orders below the maximum at once, then free in a scrambled order. */
static void test_alloc_all_orders_then_coalesce(void **state)
{
	struct ftx *x = *state;
	struct free_shape initial = free_lists_check(x, 0);
	ptmm_paddr_t pa[PTMM_FRAME_MAX_ORDER];
	uint64_t used = 0;

	for (unsigned order = 0; order < PTMM_FRAME_MAX_ORDER; order++) {
		H_OK(ptmm_frame_alloc(&x->ft, 0, order, PTMM_FRAME_DATA, &pa[order]));
		assert_true(ptmm_is_aligned(pa[order], SZ_4K << order));
		used += (uint64_t)1 << order;
		for (unsigned j = 0; j < order; j++) /* disjoint */
			assert_true(pa[j] + (SZ_4K << j) <= pa[order] ||
				    pa[order] + (SZ_4K << order) <= pa[j]);
	}
	assert_int_equal(free_of(x, 0), GiB / SZ_4K - used);
	H_ERR(ptmm_frame_alloc(&x->ft, 0, PTMM_FRAME_MAX_ORDER, PTMM_FRAME_DATA, &pa[0]), PTMM_ENOMEM);
	free_lists_check(x, 0);
	for (unsigned k = 0; k < PTMM_FRAME_MAX_ORDER; k++)
		ptmm_frame_put(&x->ft, pa[(k * 7) % PTMM_FRAME_MAX_ORDER]);
	assert_int_equal(free_of(x, 0), GiB / SZ_4K);
	assert_shape_eq(initial, free_lists_check(x, 0), "after freeing all orders");
	H_OK(ptmm_frame_alloc(&x->ft, 0, PTMM_FRAME_MAX_ORDER, PTMM_FRAME_DATA, &pa[0]));
	assert_int_equal(pa[0], 1 * GiB);
	ptmm_frame_put(&x->ft, pa[0]);
}

/* Exhaust a zone, free in a scrambled order: everything coalesces back. */
static void test_exhaustion_and_coalescing(void **state)
{
	struct ftx *x = *state;
	struct free_shape initial = free_lists_check(x, 2);
	struct free_counts others;
	ptmm_paddr_t pa[512], extra = 0;

	for (unsigned i = 0; i < 512; i++) {
		H_OK(ptmm_frame_alloc(&x->ft, 2, 0, PTMM_FRAME_DATA, &pa[i]));
		assert_true(pa[i] >= 64 * MiB && pa[i] < 66 * MiB);
	}
	others = counts_of(x);
	assert_int_equal(free_of(x, 2), 0);
	H_ERR(ptmm_frame_alloc(&x->ft, 2, 0, PTMM_FRAME_DATA, &extra), PTMM_ENOMEM);
	H_ERR(ptmm_frame_alloc(&x->ft, 2, 3, PTMM_FRAME_DATA, &extra), PTMM_ENOMEM);
	assert_counts(x, others, "allocation from an exhausted zone");
	/* Distinct frames. */
	for (unsigned i = 1; i < 512; i++)
		for (unsigned j = 0; j < i; j++)
			assert_true(pa[i] != pa[j]);
	/* Free odd ones first, then even: everything must coalesce back. */
	for (unsigned i = 1; i < 512; i += 2)
		ptmm_frame_put(&x->ft, pa[i]);
	assert_int_equal(free_of(x, 2), 256);
	H_ERR(ptmm_frame_alloc(&x->ft, 2, 1, PTMM_FRAME_DATA, &extra), PTMM_ENOMEM); /* fragmented */
	for (unsigned i = 0; i < 512; i += 2)
		ptmm_frame_put(&x->ft, pa[i]);
	assert_int_equal(free_of(x, 2), 512);
	assert_shape_eq(initial, free_lists_check(x, 2), "after freeing every frame");
	/* Zones 2 and 3 are buddies but different zones: no 4M block. */
	H_ERR(ptmm_frame_alloc(&x->ft, 2, 10, PTMM_FRAME_DATA, &extra), PTMM_ENOMEM);
	H_OK(ptmm_frame_alloc(&x->ft, 2, 9, PTMM_FRAME_DATA, &extra));
	assert_int_equal(extra, 64 * MiB);
	ptmm_frame_put(&x->ft, extra);
	/* Zone 1: 2048 free frames but its largest block is 4M (a hole between). */
	H_ERR(ptmm_frame_alloc(&x->ft, 1, 11, PTMM_FRAME_DATA, &extra), PTMM_ENOMEM);
	H_OK(ptmm_frame_alloc(&x->ft, 1, 10, PTMM_FRAME_DATA, &extra));
	ptmm_frame_put(&x->ft, extra);
}

/* Reserved frames are UNIQUE, never allocated; bad reserves change nothing. */
static void test_reserve(void **state)
{
	struct ftx *x = *state;
	struct free_counts before = counts_of(x);
	struct ptmm_frame_slot *h1, *h2;
	ptmm_paddr_t pa;
	uint64_t n = 0;

	/* Two frames that do not form one aligned block. */
	H_OK(ptmm_frame_table_reserve(&x->ft, 1 * GiB + SZ_4K, 2 * SZ_4K, PTMM_FRAME_KERNEL));
	assert_int_equal(free_of(x, 0), before.z[0] - 2);
	h1 = ptmm_frame_block_head(&x->ft, 1 * GiB + SZ_4K);
	h2 = ptmm_frame_block_head(&x->ft, 1 * GiB + 2 * SZ_4K);
	assert_non_null(h1);
	assert_non_null(h2);
	assert_int_equal(atomic_load(&h1->refcount), PTMM_FRAME_REF_UNIQUE);
	assert_int_equal(atomic_load(&h2->refcount), PTMM_FRAME_REF_UNIQUE);
	assert_int_equal(h1->usage, PTMM_FRAME_KERNEL);
	assert_int_equal(h2->usage, PTMM_FRAME_KERNEL);
	/* Neighbours stay free. */
	assert_int_equal(atomic_load(&ptmm_frame_block_head(&x->ft, 1 * GiB)->refcount),
			 PTMM_FRAME_REF_UNUSED);
	assert_int_equal(atomic_load(&ptmm_frame_block_head(&x->ft, 1 * GiB + 3 * SZ_4K)->refcount),
			 PTMM_FRAME_REF_UNUSED);
	free_lists_check(x, 0);
	H_OK(ptmm_frame_table_reserve(&x->ft, 16 * MiB, 1 * MiB, PTMM_FRAME_METADATA));
	assert_int_equal(ptmm_frame_block_head(&x->ft, 16 * MiB + 512 * KiB)->usage, PTMM_FRAME_METADATA);
	H_OK(ptmm_frame_table_reserve(&x->ft, 24 * MiB, SZ_4K, PTMM_FRAME_RESERVED));
	assert_int_equal(ptmm_frame_block_head(&x->ft, 24 * MiB)->usage, PTMM_FRAME_RESERVED);

	/* Errors change nothing. */
	before = counts_of(x);
	H_ERR(ptmm_frame_table_reserve(&x->ft, 1 * GiB, 2 * SZ_4K, PTMM_FRAME_KERNEL), PTMM_EEXIST);
	H_ERR(ptmm_frame_table_reserve(&x->ft, 20 * MiB, SZ_4K, PTMM_FRAME_KERNEL), PTMM_ERANGE);
	H_ERR(ptmm_frame_table_reserve(&x->ft, 20 * MiB - SZ_4K, 2 * SZ_4K, PTMM_FRAME_KERNEL), PTMM_ERANGE);
	H_ERR(ptmm_frame_table_reserve(&x->ft, 1 * GiB + 8, SZ_4K, PTMM_FRAME_KERNEL), PTMM_EALIGN);
	H_ERR(ptmm_frame_table_reserve(&x->ft, 1 * GiB + 64 * SZ_4K, SZ_4K, PTMM_FRAME_DATA), PTMM_EINVAL);
	H_ERR(ptmm_frame_table_reserve(&x->ft, 1 * GiB + 64 * SZ_4K, SZ_4K, PTMM_FRAME_PT_NODE), PTMM_EINVAL);
	assert_counts(x, before, "failed reserve");
	assert_int_equal(atomic_load(&ptmm_frame_block_head(&x->ft, 1 * GiB)->refcount),
			 PTMM_FRAME_REF_UNUSED);

	/* Everything left is allocatable, and never a reserved frame. */
	while (ptmm_frame_alloc(&x->ft, 0, 0, PTMM_FRAME_DATA, &pa) == PTMM_OK) {
		assert_true(pa != 1 * GiB + SZ_4K && pa != 1 * GiB + 2 * SZ_4K);
		n++;
	}
	assert_int_equal(n, GiB / SZ_4K - 2);
}

/* Handles: get/put on any frame of a block; the last put frees it. */
static void test_get_put(void **state)
{
	struct ftx *x = *state;
	uint64_t free1 = free_of(x, 1);
	struct ptmm_frame_slot *s;
	ptmm_paddr_t pa;

	H_OK(ptmm_frame_alloc(&x->ft, 1, 2, PTMM_FRAME_DATA, &pa));
	s = ptmm_frame_slot_of(&x->ft, pa);
	assert_int_equal(atomic_load(&s->refcount), 1);
	ptmm_frame_get(&x->ft, pa + SZ_4K); /* any frame of the block names the block */
	assert_int_equal(atomic_load(&s->refcount), 2);
	ptmm_frame_get(&x->ft, pa);
	assert_int_equal(atomic_load(&s->refcount), 3);
	ptmm_frame_put(&x->ft, pa + 3 * SZ_4K);
	ptmm_frame_put(&x->ft, pa);
	assert_int_equal(atomic_load(&s->refcount), 1);
	assert_int_equal(free_of(x, 1), free1 - 4);
	ptmm_frame_put(&x->ft, pa);
	assert_int_equal(free_of(x, 1), free1);
	assert_int_equal(atomic_load(&ptmm_frame_block_head(&x->ft, pa)->refcount), PTMM_FRAME_REF_UNUSED);
	free_lists_check(x, 1);
}

/* KERNEL/METADATA allocations are UNIQUE and come back with ptmm_frame_free_unique. */
static void test_unique_alloc(void **state)
{
	struct ftx *x = *state;
	uint64_t free1 = free_of(x, 1);
	ptmm_paddr_t k, m;

	H_OK(ptmm_frame_alloc(&x->ft, 1, 3, PTMM_FRAME_KERNEL, &k));
	H_OK(ptmm_frame_alloc(&x->ft, 1, 0, PTMM_FRAME_METADATA, &m));
	assert_int_equal(atomic_load(&ptmm_frame_slot_of(&x->ft, k)->refcount), PTMM_FRAME_REF_UNIQUE);
	assert_int_equal(ptmm_frame_slot_of(&x->ft, k)->usage, PTMM_FRAME_KERNEL);
	assert_int_equal(atomic_load(&ptmm_frame_slot_of(&x->ft, m)->refcount), PTMM_FRAME_REF_UNIQUE);
	assert_int_equal(ptmm_frame_slot_of(&x->ft, m)->usage, PTMM_FRAME_METADATA);
	assert_ptr_equal(ptmm_frame_block_head(&x->ft, k + 7 * SZ_4K), ptmm_frame_slot_of(&x->ft, k));
	assert_int_equal(free_of(x, 1), free1 - 9);
	ptmm_frame_free_unique(&x->ft, k);
	ptmm_frame_free_unique(&x->ft, m);
	assert_int_equal(free_of(x, 1), free1);
	free_lists_check(x, 1);
}

/* Fail hook: record the request, fail the hook_fail_at-th one. */
static bool ftx_hook(void *ctx, unsigned zone, unsigned order)
{
	struct ftx *x = ctx;
	x->hook_calls++;
	x->hook_zone = zone;
	x->hook_order = order;
	return x->hook_calls == x->hook_fail_at;
}

/* The hook sees zone and order, and an injected failure changes nothing. */
static void test_fail_hook(void **state)
{
	struct ftx *x = *state;
	struct free_counts before = counts_of(x);
	ptmm_paddr_t pa = 0, pb = 0;

	ptmm_frame_table_set_fail_hook(&x->ft, ftx_hook, x);
	x->hook_fail_at = 2;
	H_OK(ptmm_frame_alloc(&x->ft, 3, 1, PTMM_FRAME_DATA, &pa));
	assert_int_equal(x->hook_calls, 1);
	assert_int_equal(x->hook_zone, 3);
	assert_int_equal(x->hook_order, 1);
	before = counts_of(x);
	H_ERR(ptmm_frame_alloc(&x->ft, 0, 5, PTMM_FRAME_DATA, &pb), PTMM_ENOMEM);
	assert_int_equal(x->hook_calls, 2);
	assert_int_equal(x->hook_zone, 0);
	assert_int_equal(x->hook_order, 5);
	assert_counts(x, before, "injected failure");
	free_lists_check(x, 0);
	H_OK(ptmm_frame_alloc(&x->ft, 0, 5, PTMM_FRAME_DATA, &pb));
	ptmm_frame_table_set_fail_hook(&x->ft, NULL, NULL);
	x->hook_fail_at = 1;
	x->hook_calls = 0;
	ptmm_frame_put(&x->ft, pb);
	H_OK(ptmm_frame_alloc(&x->ft, 0, 5, PTMM_FRAME_DATA, &pb));
	assert_int_equal(x->hook_calls, 0);
	ptmm_frame_put(&x->ft, pb);
	ptmm_frame_put(&x->ft, pa);
}

/* Bad orders, zones and usages are refused; an empty zone is ENOMEM. */
static void test_alloc_errors(void **state)
{
	struct ftx *x = *state;
	struct free_counts before = counts_of(x);
	struct ftx *empty = ftx_new_empty();
	ptmm_paddr_t pa;

	H_ERR(ptmm_frame_alloc(&x->ft, 0, PTMM_FRAME_MAX_ORDER + 1, PTMM_FRAME_DATA, &pa), PTMM_EINVAL);
	H_ERR(ptmm_frame_alloc(&x->ft, PTMM_FRAME_MAX_ZONES, 0, PTMM_FRAME_DATA, &pa), PTMM_EINVAL);
	H_ERR(ptmm_frame_alloc(&x->ft, 0, 0, PTMM_FRAME_UNUSED, &pa), PTMM_EINVAL);
	H_ERR(ptmm_frame_alloc(&x->ft, 0, 0, PTMM_FRAME_MMIO, &pa), PTMM_EINVAL);
	H_ERR(ptmm_frame_alloc(&x->ft, 0, 0, PTMM_FRAME_PT_NODE, &pa), PTMM_EINVAL);
	assert_counts(x, before, "failed ptmm_frame_alloc");
	/* A zone without RAM is simply empty. */
	H_ERR(ptmm_frame_alloc(&empty->ft, 2, 0, PTMM_FRAME_DATA, &pa), PTMM_ENOMEM);
	ftx_free(empty);
}

/* MMIO windows: inside/straddling queries, never over RAM. */
static void test_mmio_windows(void **state)
{
	struct ftx *x = *state;
	struct free_counts before = counts_of(x);

	assert_true(ptmm_frame_range_is_mmio(&x->ft, MMIO_LO, SZ_4K));
	assert_true(ptmm_frame_range_is_mmio(&x->ft, MMIO_LO, MMIO_LEN));
	assert_true(ptmm_frame_range_is_mmio(&x->ft, MMIO_LO + MMIO_LEN - SZ_4K, SZ_4K));
	assert_false(ptmm_frame_range_is_mmio(&x->ft, MMIO_LO - SZ_4K, 2 * SZ_4K));
	assert_false(ptmm_frame_range_is_mmio(&x->ft, MMIO_LO + MMIO_LEN - SZ_4K, 2 * SZ_4K));
	assert_false(ptmm_frame_range_is_mmio(&x->ft, MMIO_LO + MMIO_LEN, SZ_4K));
	assert_false(ptmm_frame_range_is_mmio(&x->ft, 1 * GiB, SZ_4K));
	assert_false(ptmm_frame_is_ram(&x->ft, MMIO_LO));
	assert_false(ptmm_frame_range_touches_ram(&x->ft, MMIO_LO, MMIO_LEN));
	/* A window in a hole of the RAM window is fine; touching RAM is not. */
	H_OK(ptmm_frame_table_add_mmio(&x->ft, 20 * MiB, 4 * MiB));
	assert_true(ptmm_frame_range_is_mmio(&x->ft, 21 * MiB, SZ_4K));
	assert_null(ptmm_frame_block_head(&x->ft, 21 * MiB));
	H_ERR(ptmm_frame_table_add_mmio(&x->ft, 28 * MiB - SZ_4K, 2 * SZ_4K), PTMM_ERANGE);
	H_ERR(ptmm_frame_table_add_mmio(&x->ft, 1 * GiB, SZ_2M), PTMM_ERANGE);
	assert_false(ptmm_frame_range_is_mmio(&x->ft, 28 * MiB, SZ_4K));
	assert_false(ptmm_frame_range_is_mmio(&x->ft, 1 * GiB, SZ_4K));
	assert_counts(x, before, "mmio windows");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slot_size),
		cmocka_unit_test(test_init_errors),
		cmocka_unit_test_setup_teardown(test_add_ram_with_holes, ftx_setup, ftx_teardown),
		cmocka_unit_test_setup_teardown(test_slot_lookup, ftx_setup, ftx_teardown),
		cmocka_unit_test(test_add_ram_errors),
		cmocka_unit_test(test_ram_ranges),
		cmocka_unit_test_setup_teardown(test_alloc_every_order, ftx_setup, ftx_teardown),
		cmocka_unit_test_setup_teardown(test_alloc_all_orders_then_coalesce, ftx_setup,
						ftx_teardown),
		cmocka_unit_test_setup_teardown(test_exhaustion_and_coalescing, ftx_setup,
						ftx_teardown),
		cmocka_unit_test_setup_teardown(test_reserve, ftx_setup, ftx_teardown),
		cmocka_unit_test_setup_teardown(test_get_put, ftx_setup, ftx_teardown),
		cmocka_unit_test_setup_teardown(test_unique_alloc, ftx_setup, ftx_teardown),
		cmocka_unit_test_setup_teardown(test_fail_hook, ftx_setup, ftx_teardown),
		cmocka_unit_test_setup_teardown(test_alloc_errors, ftx_setup, ftx_teardown),
		cmocka_unit_test_setup_teardown(test_mmio_windows, ftx_setup, ftx_teardown),
	};
	return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
