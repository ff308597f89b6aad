/*
 * main.c - a complete hosted program over ptmm (docs/EMBEDDING.md).
 *
 * Physical memory is a malloc'ed block that the program calls PA
 * [RAM_PA, RAM_PA + RAM_SIZE); the frame table describes it, and the mm
 * reaches page-table nodes through the offset host address - PA.  On it:
 * a kernel table with a direct map, two user spaces that share the kernel
 * half, a 2 MiB leaf, a split by protect, the same frames mapped in both
 * spaces, queries, and the invariant checker after every step.  Then the
 * user spaces are torn down and every frame must be back in the allocator.
 *
 * Exit status 0 when every step did what docs say, 1 otherwise (the first
 * failed step is printed).  Run with an argument "sv48" to drive the
 * RISC-V encoder instead of x86-64.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ptmm/mm.h>

#include "arch.h"  /* the program's own (include/arch.h), not ptmm's */
#include "frame.h" /* likewise */

#define RAM_PA 0x40000000ull  /* 1 GiB: where the block sits in "physical" memory */
#define RAM_SIZE (64ull << 20)
#define DMAP_BASE 0xffff800000000000ull /* kernel direct map: VA = DMAP_BASE + PA */
#define ZONE 0

static const char *arch_name = "x86_64";

const char *example_arch_name(void)
{
	return arch_name;
}

/* PTMM_DEBUG builds of the mm call this when an internal assertion fails. */
void ptmm_assert_failed(const char *file, int line, const char *cond)
{
	fprintf(stderr, "ptmm assertion failed: %s:%d: %s\n", file, line, cond);
	abort();
}

/*
 * PTMM_DEBUG builds also ask which thread calls them (a cursor that would
 * wait for its own thread's cursor is stopped): one thread here.
 */
const void *ptmm_debug_context(void)
{
	static const char main_thread;
	return &main_thread;
}

/* TLB hooks: a hosted program has no TLB; count the calls to show them. */
struct tlb_log {
	unsigned pages, ranges, alls, activations;
	ptmm_paddr_t active_root;
};

static void tlb_page(void *ctx, ptmm_vaddr_t va)
{
	(void)va;
	((struct tlb_log *)ctx)->pages++;
}

static void tlb_range(void *ctx, ptmm_vaddr_t va, uint64_t len)
{
	(void)va;
	(void)len;
	((struct tlb_log *)ctx)->ranges++;
}

static void tlb_all(void *ctx)
{
	((struct tlb_log *)ctx)->alls++;
}

static void tlb_activate(void *ctx, ptmm_paddr_t root)
{
	struct tlb_log *log = ctx;

	log->activations++;
	log->active_root = root;
}

static struct tlb_log tlb_log;
static const struct ptmm_tlb_ops tlb_ops = {
	.flush_page = tlb_page,
	.flush_range = tlb_range,
	.flush_all = tlb_all,
	.activate = tlb_activate,
	.ctx = &tlb_log,
};

static struct ptmm_frame_table ft;
static struct ptmm_arch arch;
static struct ptmm_page_table kpt, upt_a, upt_b;
static int failures;

/* A step that must hold: print it, count a failure otherwise. */
#define EXPECT(cond)                                                          \
	do {                                                                  \
		if (!(cond)) {                                                \
			printf("FAILED %s:%d: %s\n", __FILE__, __LINE__, #cond); \
			failures++;                                           \
		}                                                             \
	} while (0)

/* The invariant checker over all three tables (they share frames). */
static void check_all(const char *after)
{
	struct ptmm_page_table *pts[] = { &kpt, &upt_a, &upt_b };
	char why[160];

	if (ptmm_check(pts, 3, &ft, why, sizeof(why)) != PTMM_OK) {
		printf("FAILED check after %s: %s\n", after, why);
		failures++;
	} else {
		printf("check after %s: ok\n", after);
	}
}

/* One cursor call: open on [va, va+len), run `op`, close (flush + release). */
enum op { OP_MAP, OP_UNMAP, OP_PROTECT, OP_QUERY };

static int run(struct ptmm_page_table *pt, enum op op, ptmm_vaddr_t va, uint64_t len, ptmm_paddr_t pa,
	       struct ptmm_prop prop, unsigned flags, struct ptmm_mapping *out)
{
	struct ptmm_cursor c;
	uint64_t bytes;
	int err = ptmm_cursor_open(&c, pt, va, len);

	if (err != PTMM_OK)
		return err;
	switch (op) {
	case OP_MAP: err = ptmm_cursor_map(&c, pa, len, prop, flags); break;
	case OP_UNMAP: err = ptmm_cursor_unmap(&c, len, &bytes); break;
	case OP_PROTECT: err = ptmm_cursor_protect(&c, len, prop, &bytes); break;
	case OP_QUERY: err = ptmm_cursor_query(&c, out); break;
	}
	ptmm_cursor_close(&c);
	return err;
}

static struct ptmm_mapping query(struct ptmm_page_table *pt, ptmm_vaddr_t va)
{
	struct ptmm_mapping m = { 0 };

	EXPECT(run(pt, OP_QUERY, va & ~(PTMM_PAGE_SIZE - 1), PTMM_PAGE_SIZE, 0, m.prop, 0, &m) ==
	       PTMM_OK);
	return m;
}

static void print_leaf(const char *what, struct ptmm_mapping m)
{
	if (!m.present) {
		printf("%-22s none\n", what);
		return;
	}
	printf("%-22s va 0x%016llx size 0x%llx pa 0x%llx flags 0x%x\n", what,
	       (unsigned long long)m.va, (unsigned long long)m.size, (unsigned long long)m.pa,
	       m.prop.flags);
}

/* Describe the malloc'ed block as RAM; reserve the slot array's own frames. */
static void *slots;

static void *setup_frames(void)
{
	uint64_t meta = ptmm_frame_table_meta_bytes(RAM_PA, RAM_PA + RAM_SIZE);
	void *ram = aligned_alloc(PTMM_PAGE_SIZE, RAM_SIZE); /* nodes must be 4 KiB aligned */

	slots = malloc(meta);

	if (slots == NULL || ram == NULL) {
		printf("out of host memory\n");
		exit(1);
	}
	memset(ram, 0, RAM_SIZE);
	EXPECT(ptmm_frame_table_init(&ft, slots, RAM_PA, RAM_PA + RAM_SIZE,
				(uintptr_t)ram - RAM_PA) == PTMM_OK);
	EXPECT(ptmm_frame_table_add_ram(&ft, RAM_PA, RAM_SIZE, ZONE) == PTMM_OK);
	/* As a kernel reserves its image: the first 1 MiB is "firmware". */
	EXPECT(ptmm_frame_table_reserve(&ft, RAM_PA, 1ull << 20, PTMM_FRAME_RESERVED) == PTMM_OK);
	printf("frame table: %llu slots (%llu bytes of metadata), %llu frames free\n",
	       (unsigned long long)ft.nr_slots, (unsigned long long)meta,
	       (unsigned long long)ptmm_frame_zone_free_frames(&ft, ZONE));
	return ram;
}

int main(int argc, char **argv)
{
	const struct ptmm_prop rw_g = ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_W | PTMM_PROP_G, PTMM_CACHE_WB);
	const struct ptmm_prop rwu = ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_W | PTMM_PROP_U, PTMM_CACHE_WB);
	const struct ptmm_prop ru = ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_U, PTMM_CACHE_WB);
	const ptmm_vaddr_t uva = 0x400000; /* user VA of the 2 MiB mapping */
	struct example_frame data;    /* the program's own frame type */
	struct ptmm_mapping m;
	uint64_t free_before;
	ptmm_paddr_t pa;
	void *ram;

	if (argc > 1)
		arch_name = argv[1];
	if (strcmp(arch_name, "x86_64") == 0)
		ptmm_arch_x86_64_init(&arch, PTMM_FEAT_X86_NX | PTMM_FEAT_X86_1G, &tlb_ops);
	else if (strcmp(arch_name, "sv48") == 0)
		ptmm_arch_sv48_init(&arch, 0, &tlb_ops);
	else {
		printf("usage: hosted [x86_64|sv48]\n");
		return 2;
	}
	printf("encoder %s (%s): %u levels, %u-bit VAs\n", arch.name, example_arch_name(),
	       arch.levels, arch.va_bits);
	ram = setup_frames();

	/* 1. The kernel table and its direct map of all RAM (untracked, huge). */
	EXPECT(ptmm_page_table_init_kernel(&kpt, &arch, &ft, ZONE) == PTMM_OK);
	EXPECT(run(&kpt, OP_MAP, DMAP_BASE + RAM_PA, RAM_SIZE, RAM_PA, rw_g,
		   PTMM_MAP_HUGE | PTMM_MAP_UNTRACKED, NULL) == PTMM_OK);
	m = query(&kpt, DMAP_BASE + RAM_PA + 0x123000);
	print_leaf("kernel direct map", m);
	EXPECT(m.present && m.untracked && m.size == (2ull << 20));

	/* 2. Two user spaces sharing the kernel half. */
	EXPECT(ptmm_page_table_init_user(&upt_a, &arch, &ft, ZONE, &kpt) == PTMM_OK);
	EXPECT(ptmm_page_table_init_user(&upt_b, &arch, &ft, ZONE, &kpt) == PTMM_OK);
	ptmm_page_table_activate(&upt_a);
	EXPECT(tlb_log.activations == 1 && tlb_log.active_root == upt_a.root);
	check_all("set-up");
	free_before = ptmm_frame_zone_free_frames(&ft, ZONE);

	/* 3. A 2 MiB data block mapped as one huge leaf in A. */
	EXPECT(ptmm_frame_alloc(&ft, ZONE, 9, PTMM_FRAME_DATA, &pa) == PTMM_OK); /* 2^9 frames, one handle */
	data.pa = (unsigned long)pa;
	EXPECT(run(&upt_a, OP_MAP, uva, 2ull << 20, pa, rwu, PTMM_MAP_HUGE, NULL) == PTMM_OK);
	ptmm_frame_put(&ft, pa); /* the mapping holds the block now */
	m = query(&upt_a, uva + 0x5000);
	print_leaf("A: huge map", m);
	EXPECT(m.present && m.size == (2ull << 20) && m.pa == pa && !m.untracked);
	EXPECT(run(&upt_a, OP_MAP, uva, PTMM_PAGE_SIZE, pa, rwu, 0, NULL) == PTMM_EEXIST);
	check_all("huge map");

	/* 4. Protect one page in the middle: the leaf splits, only that page changes. */
	EXPECT(run(&upt_a, OP_PROTECT, uva + 0x5000, PTMM_PAGE_SIZE, 0, ru, 0, NULL) == PTMM_OK);
	m = query(&upt_a, uva + 0x5000);
	print_leaf("A: protected page", m);
	EXPECT(m.present && m.size == PTMM_PAGE_SIZE && m.pa == pa + 0x5000 &&
	       ptmm_prop_eq(m.prop, ru));
	m = query(&upt_a, uva + 0x6000);
	print_leaf("A: its neighbour", m);
	EXPECT(m.present && m.size == PTMM_PAGE_SIZE && m.pa == pa + 0x6000 &&
	       ptmm_prop_eq(m.prop, rwu));
	check_all("split by protect");

	/* 5. The same frames read-only in B (a second reference), huge again. */
	EXPECT(run(&upt_b, OP_MAP, 0x40000000, 2ull << 20, data.pa, ru, PTMM_MAP_HUGE, NULL) ==
	       PTMM_OK);
	print_leaf("B: shared block", query(&upt_b, 0x40000000));
	m = query(&upt_b, uva);
	EXPECT(!m.present); /* B's lower half is its own */
	check_all("shared map");

	/* 6. The kernel half is the same in every space; user halves differ. */
	m = query(&kpt, DMAP_BASE + pa);
	EXPECT(m.present && m.untracked);
	EXPECT(ptmm_page_table_space_base(&upt_a) == 0 && ptmm_page_table_space_base(&kpt) != 0);

	/* 7. Unmap in A: B still holds the block; then tear both down. */
	EXPECT(run(&upt_a, OP_UNMAP, uva, 2ull << 20, 0, rwu, 0, NULL) == PTMM_OK);
	EXPECT(!query(&upt_a, uva + 0x5000).present);
	EXPECT(ptmm_frame_zone_free_frames(&ft, ZONE) < free_before);
	check_all("unmap in A");
	/* A table active on the CPU is not torn down (PTMM_EBUSY): switch first. */
	EXPECT(ptmm_page_table_destroy(&upt_a) == PTMM_EBUSY);
	EXPECT(ptmm_page_table_activate(&kpt) == PTMM_OK);
	EXPECT(ptmm_page_table_destroy(&upt_b) == PTMM_OK);
	EXPECT(ptmm_page_table_destroy(&upt_a) == PTMM_OK);
	{
		struct ptmm_page_table *pts[] = { &kpt };
		char why[160];

		EXPECT(ptmm_check(pts, 1, &ft, why, sizeof(why)) == PTMM_OK);
	}
	/* Both roots went back too: two frames more than after set-up. */
	EXPECT(ptmm_frame_zone_free_frames(&ft, ZONE) == free_before + 2);
	printf("TLB hooks: %u page, %u range, %u full flushes, %u activations\n", tlb_log.pages,
	       tlb_log.ranges, tlb_log.alls, tlb_log.activations);
	EXPECT(tlb_log.pages + tlb_log.ranges + tlb_log.alls > 0);

	free(ram);
	free(slots);
	printf("%s\n", failures ? "FAILED" : "hosted example: all steps ok");
	return failures ? 1 : 0;
}
