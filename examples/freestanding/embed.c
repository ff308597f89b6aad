/*
 * embed.c - the arch-neutral part of a freestanding ptmm embedding: the
 * mm's bring-up in a kernel, in the order docs/EMBEDDING.md gives.
 *
 * The image is linked, not booted: the entry below sets a stack and runs
 * embed_main with a fixed memory map where a boot loader would pass one
 * (Limine's memmap, multiboot2's mmap tag, the device tree's /memory).
 * What the image needs from outside the mm is exactly what this directory
 * provides (string.c, atomic_riscv64.c, tlb_<arch>.c, ptmm_assert_failed
 * and ptmm_debug_context below, and libgcc on RISC-V); tools/test checks that.
 */
#include <ptmm/mm.h>

#include "embed.h"

/* The machine this image assumes (a boot loader would say). */
#if defined(__riscv)
#define RAM_BASE 0x80000000ull     /* QEMU virt, -m 128M */
#define IMAGE_VA 0xffffffff80200000ull
#else
#define RAM_BASE 0x0ull            /* PC: RAM from 0 (holes left out for brevity) */
#define IMAGE_VA 0xffffffff80200000ull
#endif
#define RAM_SIZE (128ull << 20)
#define IMAGE_PA (RAM_BASE + 0x200000) /* where the loader put us */
#define IMAGE_SIZE (2ull << 20)
#define DMAP_VA 0xffff800000000000ull  /* direct map: VA = DMAP_VA + PA */
#define ZONE 0

static struct ptmm_frame_table ft;
static struct ptmm_arch arch;
static struct ptmm_page_table kpt;

/*
 * PTMM_DEBUG builds of the mm call this on a broken internal assertion.  It
 * must not return; a kernel prints file:line and cond first.
 */
void ptmm_assert_failed(const char *file, int line, const char *cond)
{
	(void)file;
	(void)line;
	(void)cond;
	embed_halt();
}

/*
 * PTMM_DEBUG builds also ask which thread of execution calls them (to stop a
 * cursor that would wait for its own thread's cursor): one CPU, one context.
 */
const void *ptmm_debug_context(void)
{
	static const char cpu0;
	return &cpu0;
}

/* One cursor call on the kernel table: map [va, va+len) -> pa. */
static int kmap(ptmm_vaddr_t va, ptmm_paddr_t pa, uint64_t len, unsigned prop_flags, unsigned flags)
{
	struct ptmm_cursor c;
	int err = ptmm_cursor_open(&c, &kpt, va, len);

	if (err != PTMM_OK)
		return err;
	err = ptmm_cursor_map(&c, pa, len, ptmm_prop_make(prop_flags, PTMM_CACHE_WB), flags);
	ptmm_cursor_close(&c);
	return err;
}

/*
 * Bring the mm up over RAM [RAM_BASE, +RAM_SIZE) holding this image, with
 * page-table nodes reached through `pa_to_va` (the mapping the boot code
 * runs on: 0 with paging off, the direct map's offset later).  Returns
 * PTMM_OK with the kernel table active, or the first error.
 */
static int embed_mm_init(uintptr_t pa_to_va)
{
	ptmm_paddr_t slots_pa = IMAGE_PA + IMAGE_SIZE; /* the slot array follows the image */
	uint64_t meta = ptmm_frame_table_meta_bytes(RAM_BASE, RAM_BASE + RAM_SIZE);
	uint64_t meta_pages = (meta + PTMM_PAGE_SIZE - 1) & ~(PTMM_PAGE_SIZE - 1);
	struct ptmm_page_table *pts[1] = { &kpt };
	char why[96];
	int err;

	/* 1. Frames: the window, its RAM, what is already in use. */
	if ((err = ptmm_frame_table_init(&ft, (void *)(uintptr_t)(slots_pa + pa_to_va), RAM_BASE,
				    RAM_BASE + RAM_SIZE, pa_to_va)) != PTMM_OK ||
	    (err = ptmm_frame_table_add_ram(&ft, RAM_BASE, RAM_SIZE, ZONE)) != PTMM_OK ||
	    (err = ptmm_frame_table_reserve(&ft, RAM_BASE, IMAGE_PA - RAM_BASE, PTMM_FRAME_RESERVED)) != PTMM_OK ||
	    (err = ptmm_frame_table_reserve(&ft, IMAGE_PA, IMAGE_SIZE, PTMM_FRAME_KERNEL)) != PTMM_OK ||
	    (err = ptmm_frame_table_reserve(&ft, slots_pa, meta_pages, PTMM_FRAME_METADATA)) != PTMM_OK)
		return err;

	/* 2. The encoder and the kernel table (upper half, shared by every user table). */
	embed_arch_init(&arch);
	if ((err = ptmm_page_table_init_kernel(&kpt, &arch, &ft, ZONE)) != PTMM_OK)
		return err;

	/* 3. The direct map and the image, untracked (no frame references). */
	if ((err = kmap(DMAP_VA + RAM_BASE, RAM_BASE, RAM_SIZE, PTMM_PROP_R | PTMM_PROP_W | PTMM_PROP_G,
			PTMM_MAP_HUGE | PTMM_MAP_UNTRACKED)) != PTMM_OK ||
	    (err = kmap(IMAGE_VA, IMAGE_PA, IMAGE_SIZE, PTMM_PROP_R | PTMM_PROP_X | PTMM_PROP_G,
			PTMM_MAP_HUGE | PTMM_MAP_UNTRACKED)) != PTMM_OK)
		return err;

	/* 4. The invariants hold before the switch. */
	if (ptmm_check(pts, 1, &ft, why, sizeof(why)) != PTMM_OK)
		return 1;
	ptmm_page_table_activate(&kpt);
	return PTMM_OK;
}

/* Called by the entry with a stack; never returns. */
__attribute__((__noreturn__, __used__)) void embed_main(void)
{
	(void)embed_mm_init(0);
	embed_halt();
}

/* The entry: a stack, then embed_main. */
static unsigned char stack[16384] __attribute__((__aligned__(16), __used__));
#if defined(__riscv)
__asm__(".section .text\n.globl _start\n_start:\n"
	"\tla sp, stack + 16384\n\tcall embed_main\n");
#else
__asm__(".section .text\n.globl _start\n_start:\n"
	"\tlea stack+16384(%rip), %rsp\n\tcall embed_main\n");
#endif
