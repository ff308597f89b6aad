/*
 * mm_boot.h - the kernel's memory manager instance and its bring-up.
 *
 * mm_boot() turns the arch's boot_info into a running mm:
 *
 *   1. frame slots over the PA window [lowest RAM, highest RAM end), the
 *      slot array itself placed in free RAM (first fit, below 4 GiB so the
 *      boot table's direct map reaches it);
 *   2. RAM handed to zones: KZONE_SANDBOX, one 1 GiB-aligned stretch of up
 *      to 1 GiB (at least 64 MiB) that `script=` reads PAs relative to and
 *      the self-test uses for its 1 GiB leaf; KZONE_KERNEL, the rest below
 *      4 GiB (page-table nodes and every kernel allocation); KZONE_HIGH,
 *      the rest above 4 GiB (the boot table maps only 0-4 GiB, and nodes
 *      are written before the kernel table is active);
 *   3. the image (KERNEL), the slot array (METADATA) and firmware ranges
 *      (RESERVED) taken out of the free memory;
 *   4. the kernel page table, built only through the cursor:
 *        DIRECT_MAP_BASE + PA  all RAM, rw- g, untracked, huge leaves; W^X per
 *                              frame: the image's text and rodata r-- there,
 *                              firmware memory (boot_info.nomap) not mapped
 *        image sections        text r-x, rodata r--, data+bss rw-, g, untracked
 *        MMIO_MAP_BASE + PA    device windows, rw- g, uncached where the
 *                              arch can say so, untracked device memory
 *      checked with ptmm_check, then activated (the boot table is dropped);
 *   5. one memory type per frame: KZONE_KERNEL and KZONE_HIGH are wb_only
 *      (the direct map has them write-back; other policies are PTMM_EPERM).
 *
 * Everything here runs once, single-threaded, before anything else uses
 * the mm.  Any failure is fatal (RESULT FAIL, failing exit).
 */
#ifndef KERNEL_MM_BOOT_H
#define KERNEL_MM_BOOT_H

#include "arch.h"

enum kernel_zone {
	KZONE_KERNEL = 0,  /* RAM below 4 GiB: nodes, kernel allocations, self-test frames */
	KZONE_SANDBOX = 1, /* script= RAM window; claimable by map */
	KZONE_HIGH = 2,    /* RAM above 4 GiB: out of the boot table's reach, so never
			    * used for nodes (which are written before activation) */
};

#define SANDBOX_ALIGN (1ull << 30)
#define SANDBOX_MIN (64ull << 20)
#define SANDBOX_MAX (1ull << 30)

struct kernel_mm {
	struct ptmm_arch arch;
	struct ptmm_frame_table ft;
	struct ptmm_page_table kpt;        /* the kernel table, active after mm_boot */
	struct phys_range sandbox;    /* KZONE_SANDBOX (size 0: none found) */
	struct phys_range slots;      /* where the slot array lives */
	struct ptmm_page_table *user;      /* a user table ptmm_check must see, or NULL */
};

extern struct kernel_mm kmm;

/* Bring the mm up from `bi` and switch to the kernel table (see above). */
void mm_boot(const struct boot_info *bi);

/* Kernel VA of physical `pa` through the direct map. */
static inline void *phys_to_virt(ptmm_paddr_t pa)
{
	return (void *)(uintptr_t)(DIRECT_MAP_BASE + pa);
}

/*
 * One-shot cursor operations on `pt`: open a cursor exactly on the range,
 * run the operation, close (which flushes the TLB and releases what was
 * removed).  They return the mm's error code.
 */
int kmm_map(struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t len, ptmm_paddr_t pa, struct ptmm_prop p,
	    unsigned flags);
int kmm_unmap(struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t len);
int kmm_protect(struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t len, struct ptmm_prop p);
int kmm_query(struct ptmm_page_table *pt, ptmm_vaddr_t va, struct ptmm_mapping *out);

/*
 * ptmm_check over the kernel table and kmm.user (if set).  Returns true if
 * every invariant holds; otherwise prints `where` and the violation.
 */
bool kmm_check(const char *where);

#endif /* KERNEL_MM_BOOT_H */
