/*
 * tlb.c - the x86 TLB hooks of struct ptmm_tlb_ops: invlpg, CR3 reload, and a
 * CR4.PGE toggle for a full flush (a CR3 write keeps global entries, and the
 * kernel's pages are global).  Every flush is a shootdown: the local flush,
 * then the same on every other online CPU by IPI (smp.c), returning only
 * after all of them acknowledged, so the mm's release after the hook is
 * after every CPU flushed.  Every online CPU runs on the kernel table; user
 * tables are live on the boot CPU only, but are flushed everywhere (no CPU
 * set per table yet: a superset, so correct).
 */
#include "kernel/arch.h"
#include "tlb_policy.h"
#include "x86.h"

/* Drop every translation of this CPU, global ones included. */
static void local_flush_all(void)
{
	uint64_t cr4 = x86_read_cr4();
	if (cr4 & X86_CR4_PGE) {
		x86_write_cr4(cr4 & ~X86_CR4_PGE); /* clearing PGE flushes everything */
		x86_write_cr4(cr4);
	} else {
		x86_write_cr3(x86_read_cr3());
	}
}

/*
 * This CPU drops [va, va+len) (len X86_FLUSH_EVERYTHING: everything):
 * invlpg per 4 KiB page, or one full flush when large (kernel/tlb_policy.h).
 * The shootdown IPI's handler runs the same on each target.
 */
void x86_local_flush(uint64_t va, uint64_t len)
{
	if (len == X86_FLUSH_EVERYTHING || tlb_range_wants_flush_all(va, len)) {
		local_flush_all();
		return;
	}
	for (uint64_t i = 0; i < tlb_range_pages(len); i++)
		x86_invlpg(va + i * 4096);
}

/* Every CPU drops every translation. */
static void x86_flush_all(void *ctx)
{
	(void)ctx;
	local_flush_all();
	x86_smp_shootdown(0, X86_FLUSH_EVERYTHING);
}

/* Every CPU drops the translation of the 4 KiB page (or the huge page) holding va. */
static void x86_flush_page(void *ctx, ptmm_vaddr_t va)
{
	(void)ctx;
	x86_invlpg(va);
	x86_smp_shootdown(va, 4096);
}

/* Every CPU drops [va, va+len), page by page or whole (x86_local_flush). */
static void x86_flush_range(void *ctx, ptmm_vaddr_t va, uint64_t len)
{
	(void)ctx;
	x86_local_flush(va, len);
	x86_smp_shootdown(va, len);
}

/* Switch this CPU to the root at PA `root` (CR3 write; PCID is not used). */
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
