/*
 * machine.h - the simulated machine behind ptsim and its fuzz target (host
 * only: uses mmap).
 *
 * Physical memory [0, mem + pool) is one reserved, never-committed host
 * mapping; only page-table nodes (in the pool) are ever touched.  Zone 0 =
 * data RAM [0, mem), claimable by `map`; zone 1 = the node pool
 * [mem, mem + pool); everything above, up to the first PA the
 * architecture's PTEs cannot hold, is one MMIO window.
 */
#ifndef PTSIM_MACHINE_H
#define PTSIM_MACHINE_H

#include <ptmm/mm.h>
#include "tlbm.h"

#define PTSIM_ZONE_DATA 0
#define PTSIM_ZONE_POOL 1

/*
 * Largest mem + pool: ptmm_frame_table_init refuses a window of PTMM_FRAME_NIL or
 * more frames (slot indices are 32 bits), so 2^32 - 2 frames = 16T - 8K.
 */
#define PTSIM_MAX_TOP ((uint64_t)(PTMM_FRAME_NIL - 1) << PTMM_PAGE_SHIFT)

struct ptsim_machine {
	struct ptmm_arch arch;
	struct ptmm_frame_table ft;
	struct ptmm_page_table pt;
	uint64_t mem, pool;    /* data RAM and node pool sizes */
	void *phys, *slots;    /* host memory behind PA 0 and the frame slots */
	uint64_t phys_bytes, slot_bytes;
	struct ptmm_tlb_ops tlb_ops; /* the hooks once ptsim_machine_model_tlb ran */
};

/*
 * Initialise `a` as the paging mode `name` (arch/modes.h: x86_64 and
 * x86_64-la57 with NX and 1G pages always on; sv39, sv48, sv57 with
 * Svpbmt if `svpbmt`).  False for an unknown name or `svpbmt` with an x86
 * mode.
 */
bool ptsim_arch_init(struct ptmm_arch *a, const char *name, bool svpbmt);

/* First PA that `a`'s PTEs cannot hold: 2^pa_bits (x86: 2^52, RISC-V: 2^56). */
ptmm_paddr_t ptsim_pa_limit(const struct ptmm_arch *a);

/*
 * Build the machine over m->arch (already set by ptsim_arch_init): reserve
 * host memory (reused when m->phys/m->slots already hold enough, so a
 * zero-initialised machine can be rebuilt cheaply), the frame table, the
 * MMIO window and an empty page table of the chosen half.  `mem` and
 * `pool` are non-zero, 4 KiB aligned, mem + pool <= PTSIM_MAX_TOP and
 * below ptsim_pa_limit.  Returns PTMM_OK, or an mm error with *what naming
 * the step that failed (PTMM_ENOMEM and "mmap" if the host refused memory).
 */
int ptsim_machine_build(struct ptsim_machine *m, uint64_t mem, uint64_t pool,
			bool kernel_space, const char **what);

/*
 * --tlb: from now on the machine's TLB hooks drive the translation-cache
 * model `tlb` (tools/tlbmodel/tlbm.h), reset here to empty caches over the
 * built machine (m->ft, m->pt active on every CPU).  Without it the hooks
 * do nothing (the host has no TLB).
 */
void ptsim_machine_model_tlb(struct ptsim_machine *m, struct tlbm *tlb);

/* The interpreter's --tlb hooks (script_env.touch, .tlb_check; ctx: the struct tlbm). */
void ptsim_tlb_touch(void *tlb, ptmm_vaddr_t va);    /* CPU 0 accesses va */
int ptsim_tlb_check(void *tlb, char *buf, size_t len); /* tlbm_check, every cursor closed */

#endif /* PTSIM_MACHINE_H */
