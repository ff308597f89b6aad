/*
 * tlb.c - RISC-V TLB maintenance and address-space switch for the mm
 * (struct ptmm_tlb_ops), in the paging mode early.c chose (satp.MODE 8, 9
 * or 10).  Every flush is a shootdown: the local sfence.vma, then the same
 * on every other online hart through SBI RFENCE, returning after all of
 * them fenced (smp.c), so the mm's release after the hook is after every
 * CPU flushed.  The secondaries all run on the kernel table; user tables
 * are live on this hart only, but are fenced everywhere (no CPU set yet).
 */
#include <stdint.h>

#include <ptmm/arch.h>
#include "riscv.h"
#include "tlb_policy.h"

#define PAGE_SIZE 4096ull
#define SATP_MODE_MASK (0xfull << 60)

/* Drops any translation of va (all ASIDs) on every hart. */
static void sv_flush_page(void *ctx, ptmm_vaddr_t va)
{
	(void)ctx;
	__asm__ volatile("sfence.vma %0, zero" : : "r"(va) : "memory");
	riscv_smp_remote_sfence(va, PAGE_SIZE);
}

/* Drops every translation on every hart. */
static void sv_flush_all(void *ctx)
{
	(void)ctx;
	__asm__ volatile("sfence.vma" : : : "memory");
	riscv_smp_remote_sfence(0, ~0ull);
}

/*
 * Drops the translations of [va, va+len): page by page for small ranges,
 * everything for large ones or a wrapping range (kernel/tlb_policy.h).
 */
static void sv_flush_range(void *ctx, ptmm_vaddr_t va, uint64_t len)
{
	uint64_t pages = tlb_range_pages(len);

	if (tlb_range_wants_flush_all(va, len)) {
		sv_flush_all(ctx);
		return;
	}
	for (uint64_t i = 0; i < pages; i++)
		__asm__ volatile("sfence.vma %0, zero" : : "r"(va + i * PAGE_SIZE) : "memory");
	riscv_smp_remote_sfence(va, pages * PAGE_SIZE);
}

/*
 * Makes the table rooted at physical `root` current: satp = the mode in
 * force | PPN (ASID 0), fenced so no translation from the old table survives.
 */
static void sv_activate(void *ctx, ptmm_paddr_t root)
{
	uint64_t satp = (riscv_paging.satp & SATP_MODE_MASK) | (root / PAGE_SIZE);

	(void)ctx;
	__asm__ volatile("sfence.vma\n\tcsrw satp, %0\n\tsfence.vma" : : "r"(satp) : "memory");
}

const struct ptmm_tlb_ops riscv_tlb_ops = {
	.flush_page = sv_flush_page,
	.flush_range = sv_flush_range,
	.flush_all = sv_flush_all,
	.activate = sv_activate,
	.ctx = 0,
};
