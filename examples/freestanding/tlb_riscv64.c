/*
 * tlb_riscv64.c - the RISC-V (Sv48) part of the embedding: the TLB hooks,
 * the encoder's features, stopping the hart.  One hart: local fences
 * suffice (with several, flush_* must also reach the others, e.g. SBI
 * RFENCE, before returning).
 */
#include <ptmm/mm.h>

#include "embed.h"

static void flush_page(void *ctx, ptmm_vaddr_t va)
{
	(void)ctx;
	__asm__ volatile("sfence.vma %0, zero" : : "r"(va) : "memory");
}

static void flush_all(void *ctx)
{
	(void)ctx;
	__asm__ volatile("sfence.vma" : : : "memory");
}

static void flush_range(void *ctx, ptmm_vaddr_t va, uint64_t len)
{
	if (len > 32 * PTMM_PAGE_SIZE) {
		flush_all(ctx);
		return;
	}
	for (uint64_t off = 0; off < len; off += PTMM_PAGE_SIZE)
		flush_page(ctx, va + off);
}

/* satp = MODE 9 (Sv48) | root PPN, ASID 0; fenced on both sides. */
static void activate(void *ctx, ptmm_paddr_t root)
{
	uint64_t satp = (9ull << 60) | (root >> PTMM_PAGE_SHIFT);

	(void)ctx;
	__asm__ volatile("sfence.vma\n\tcsrw satp, %0\n\tsfence.vma" : : "r"(satp) : "memory");
}

static const struct ptmm_tlb_ops tlb = {
	.flush_page = flush_page,
	.flush_range = flush_range,
	.flush_all = flush_all,
	.activate = activate,
	.ctx = 0,
};

/* A real kernel sets PTMM_FEAT_RV_SVPBMT when the device tree's riscv,isa has _svpbmt. */
void embed_arch_init(struct ptmm_arch *a)
{
	ptmm_arch_sv48_init(a, 0, &tlb);
}

void embed_halt(void)
{
	for (;;)
		__asm__ volatile("wfi");
}
