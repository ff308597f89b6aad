/*
 * machine.c - the simulated machine of ptsim and its fuzz target
 * (machine.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "machine.h"
#include "arch/modes.h"
#include <ptmm/mm_assert.h>

/* A broken mm invariant (PTMM_ASSERT) stops the program loudly. */
void ptmm_assert_failed(const char *file, int line, const char *cond)
{
	fprintf(stderr, "mm assertion failed: %s:%d: %s\n", file, line, cond);
	abort();
}

/* ptsim is single-threaded: one context (the mm's self-deadlock detection). */
const void *ptmm_debug_context(void)
{
	static const char only;
	return &only;
}

/* Host TLB: there is none, every hook is a no-op. */
static void tlb_page(void *ctx, ptmm_vaddr_t va) { (void)ctx; (void)va; }
static void tlb_range(void *ctx, ptmm_vaddr_t va, uint64_t len) { (void)ctx; (void)va; (void)len; }
static void tlb_all(void *ctx) { (void)ctx; }
static void tlb_activate(void *ctx, ptmm_paddr_t root) { (void)ctx; (void)root; }

static const struct ptmm_tlb_ops host_tlb = {
	.flush_page = tlb_page,
	.flush_range = tlb_range,
	.flush_all = tlb_all,
	.activate = tlb_activate,
	.ctx = NULL,
};

/* --tlb: each hook empties the modelled caches as the hardware flush would. */
static void model_page(void *ctx, ptmm_vaddr_t va) { tlbm_flush(ctx, TLBM_PAGE, va, 0); }
static void model_range(void *ctx, ptmm_vaddr_t va, uint64_t len) { tlbm_flush(ctx, TLBM_RANGE, va, len); }
static void model_all(void *ctx) { tlbm_flush(ctx, TLBM_ALL, 0, 0); }
static void model_activate(void *ctx, ptmm_paddr_t root) { tlbm_flush(ctx, TLBM_ACTIVATE, root, 0); }

void ptsim_machine_model_tlb(struct ptsim_machine *m, struct tlbm *tlb)
{
	tlbm_reset(tlb, &m->ft, &m->pt);
	m->tlb_ops = (struct ptmm_tlb_ops){
		.flush_page = model_page,
		.flush_range = model_range,
		.flush_all = model_all,
		.activate = model_activate,
		.ctx = tlb,
	};
	/* The arch keeps its hooks by reference; the table reaches them through m->arch. */
	m->arch.tlb = &m->tlb_ops;
}

void ptsim_tlb_touch(void *tlb, ptmm_vaddr_t va)
{
	tlbm_touch(tlb, 0, va);
}

int ptsim_tlb_check(void *tlb, char *buf, size_t len)
{
	/* The interpreter checks between commands: each closed its cursor. */
	return tlbm_check(tlb, true, buf, len);
}

bool ptsim_arch_init(struct ptmm_arch *a, const char *name, bool svpbmt)
{
	const struct mm_mode *m = mm_mode_find(name);

	/* --svpbmt names the mode's optional feature; only RISC-V has one. */
	if (!m || (svpbmt && !(m->optional & PTMM_FEAT_RV_SVPBMT)))
		return false;
	mm_mode_init(m, a, svpbmt, &host_tlb);
	return true;
}

ptmm_paddr_t ptsim_pa_limit(const struct ptmm_arch *a)
{
	return (ptmm_paddr_t)1 << a->pa_bits;
}

/* Host memory of at least `bytes` at *p (reserved once, then reused). */
static bool reserve(void **p, uint64_t *have, uint64_t bytes)
{
	void *q;

	if (*p != NULL && *have >= bytes)
		return true;
	if (*p != NULL)
		munmap(*p, *have);
	*p = NULL;
	q = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (q == MAP_FAILED)
		return false;
	*p = q;
	*have = bytes;
	return true;
}

int ptsim_machine_build(struct ptsim_machine *m, uint64_t mem, uint64_t pool,
			bool kernel_space, const char **what)
{
	uint64_t top = mem + pool;
	int err;

	m->mem = mem;
	m->pool = pool;
	*what = "machine size";
	if (top < mem || top >= ptsim_pa_limit(&m->arch))
		return PTMM_ERANGE; /* no room for the MMIO window */
	*what = "mmap";
	if (!reserve(&m->phys, &m->phys_bytes, top) ||
	    !reserve(&m->slots, &m->slot_bytes, ptmm_frame_table_meta_bytes(0, top)))
		return PTMM_ENOMEM;
	/* Frame PA p lives at host address phys + p. */
	*what = "frame table";
	err = ptmm_frame_table_init(&m->ft, m->slots, 0, top, (uintptr_t)m->phys);
	if (err == PTMM_OK)
		err = ptmm_frame_table_add_ram(&m->ft, 0, mem, PTSIM_ZONE_DATA);
	if (err == PTMM_OK)
		err = ptmm_frame_table_add_ram(&m->ft, mem, pool, PTSIM_ZONE_POOL);
	if (err == PTMM_OK)
		err = ptmm_frame_table_add_mmio(&m->ft, top, ptsim_pa_limit(&m->arch) - top);
	if (err != PTMM_OK)
		return err;
	ptmm_frame_zone_set_claimable(&m->ft, PTSIM_ZONE_DATA, true);
	*what = "page table";
	if (kernel_space)
		return ptmm_page_table_init_kernel(&m->pt, &m->arch, &m->ft, PTSIM_ZONE_POOL);
	return ptmm_page_table_init_user(&m->pt, &m->arch, &m->ft, PTSIM_ZONE_POOL, NULL);
}
