/*
 * tlb.c - Sv48 TLB maintenance and address-space switch for the mm
 * (struct mm_tlb_ops).  Single hart: local sfence.vma suffices.
 */
#include <stdint.h>

#include "../../mm/arch.h"
#include "riscv.h"

#define PAGE_SIZE 4096ull
#define SATP_MODE_SV48 (9ull << 60)
/* Above this many pages one global fence is cheaper than a loop. */
#define FLUSH_RANGE_MAX_PAGES 64ull

/* Drops any translation of va (all ASIDs). */
static void sv48_flush_page(void *ctx, vaddr_t va)
{
	(void)ctx;
	__asm__ volatile("sfence.vma %0, zero" : : "r"(va) : "memory");
}

/* Drops every translation. */
static void sv48_flush_all(void *ctx)
{
	(void)ctx;
	__asm__ volatile("sfence.vma" : : : "memory");
}

/*
 * Drops the translations of [va, va+len): page by page for small ranges,
 * everything for large ones (or if the range wraps).
 */
static void sv48_flush_range(void *ctx, vaddr_t va, uint64_t len)
{
	uint64_t pages = (len + PAGE_SIZE - 1) / PAGE_SIZE;

	if (pages > FLUSH_RANGE_MAX_PAGES || va + len < va) {
		sv48_flush_all(ctx);
		return;
	}
	for (uint64_t i = 0; i < pages; i++)
		sv48_flush_page(ctx, va + i * PAGE_SIZE);
}

/*
 * Makes the table rooted at physical `root` current: satp = Sv48 | PPN
 * (ASID 0), fenced so no translation from the old table survives.
 */
static void sv48_activate(void *ctx, paddr_t root)
{
	uint64_t satp = SATP_MODE_SV48 | (root / PAGE_SIZE);

	(void)ctx;
	__asm__ volatile("sfence.vma\n\tcsrw satp, %0\n\tsfence.vma" : : "r"(satp) : "memory");
}

const struct mm_tlb_ops riscv_tlb_ops = {
	.flush_page = sv48_flush_page,
	.flush_range = sv48_flush_range,
	.flush_all = sv48_flush_all,
	.activate = sv48_activate,
	.ctx = 0,
};
