/*
 * tlb_x86_64.c - the x86-64 part of the embedding: the TLB hooks, the
 * encoder's features, stopping the CPU.  Single CPU: local flushes suffice.
 */
#include <ptmm/mm.h>

#include "embed.h"

static uint64_t read_cr4(void)
{
	uint64_t v;

	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static void write_cr4(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

/* invlpg drops the translation of va, of whatever page size. */
static void flush_page(void *ctx, ptmm_vaddr_t va)
{
	(void)ctx;
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

/* Everything, global (kernel) entries too: toggling CR4.PGE (bit 7) does that. */
static void flush_all(void *ctx)
{
	uint64_t cr4 = read_cr4();

	(void)ctx;
	write_cr4(cr4 ^ (1u << 7));
	write_cr4(cr4);
}

/* A few pages one by one, more at once (the mm hands whole ranges here). */
static void flush_range(void *ctx, ptmm_vaddr_t va, uint64_t len)
{
	if (len > 32 * PTMM_PAGE_SIZE) {
		flush_all(ctx);
		return;
	}
	for (uint64_t off = 0; off < len; off += PTMM_PAGE_SIZE)
		flush_page(ctx, va + off);
}

static void activate(void *ctx, ptmm_paddr_t root)
{
	(void)ctx;
	__asm__ volatile("mov %0, %%cr3" : : "r"(root) : "memory");
}

static const struct ptmm_tlb_ops tlb = {
	.flush_page = flush_page,
	.flush_range = flush_range,
	.flush_all = flush_all,
	.activate = activate,
	.ctx = 0,
};

/* A real kernel reads CPUID (NX: 0x80000001 EDX bit 20, 1G: bit 26) first. */
void embed_arch_init(struct ptmm_arch *a)
{
	ptmm_arch_x86_64_init(a, PTMM_FEAT_X86_NX | PTMM_FEAT_X86_1G, &tlb);
}

void embed_halt(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}
