/*
 * tlb.c - the x86 TLB hooks of struct ptmm_tlb_ops: invlpg, CR3 reload, and a
 * CR4.PGE toggle for a full flush (a CR3 write keeps global entries, and the
 * kernel's pages are global).
 */
#include "../../kernel/arch.h"
#include "tlb_policy.h"
#include "x86.h"

/* Drop every translation, global ones included. */
static void x86_flush_all(void *ctx)
{
	(void)ctx;
	uint64_t cr4 = x86_read_cr4();
	if (cr4 & X86_CR4_PGE) {
		x86_write_cr4(cr4 & ~X86_CR4_PGE); /* clearing PGE flushes everything */
		x86_write_cr4(cr4);
	} else {
		x86_write_cr3(x86_read_cr3());
	}
}

/* Drop the translation of the 4 KiB page (or the huge page) holding va. */
static void x86_flush_page(void *ctx, ptmm_vaddr_t va)
{
	(void)ctx;
	x86_invlpg(va);
}

/* Drop [va, va+len): invlpg per 4 KiB page, or one full flush when large
 * (kernel/tlb_policy.h). */
static void x86_flush_range(void *ctx, ptmm_vaddr_t va, uint64_t len)
{
	if (tlb_range_wants_flush_all(va, len)) {
		x86_flush_all(ctx);
		return;
	}
	for (uint64_t i = 0; i < tlb_range_pages(len); i++)
		x86_invlpg(va + i * 4096);
}

/* Switch to the root at PA `root` (CR3 write; PCID is not used). */
static void x86_activate(void *ctx, ptmm_paddr_t root)
{
	(void)ctx;
	x86_write_cr3(root);
}

const struct ptmm_tlb_ops x86_tlb_ops = {
	.flush_page = x86_flush_page,
	.flush_range = x86_flush_range,
	.flush_all = x86_flush_all,
	.activate = x86_activate,
	.ctx = 0,
};
