/*
 * modes.h - the registry of paging modes for host programs (ptsim, the
 * bench, the host tests): one table, so that no program keeps its own list
 * of names, init functions and features.
 *
 * A mode is one init function of an encoder (include/ptmm/arch.h): the x86 encoder
 * has two modes, the RISC-V encoder three.  The kernels do not use this
 * table: each links only its own architecture's encoder and chooses the
 * mode at boot.
 */
#ifndef ARCH_MODES_H
#define ARCH_MODES_H

#include <ptmm/arch.h>

typedef void (*mm_arch_init_fn)(struct ptmm_arch *a, uint32_t features, const struct ptmm_tlb_ops *tlb);

struct mm_mode {
	const char *name;     /* the --arch name, equal to mm_arch.name */
	const char *family;   /* the kernel architecture: "x86_64" or "riscv64" */
	mm_arch_init_fn init;
	uint32_t features;    /* always on in host programs (x86: NX and 1G pages) */
	uint32_t optional;    /* may be added on request (RISC-V: Svpbmt) */
};

#define MM_NR_MODES 5

/* Every mode, in a fixed order: x86_64, x86_64-la57, sv39, sv48, sv57. */
extern const struct mm_mode mm_modes[MM_NR_MODES];

/* The mode called `name`, or NULL. */
const struct mm_mode *mm_mode_find(const char *name);

/*
 * Initialise `a` as `m` with m->features, plus m->optional if
 * `with_optional`.  `tlb` is kept by reference.
 */
void mm_mode_init(const struct mm_mode *m, struct ptmm_arch *a, bool with_optional,
		  const struct ptmm_tlb_ops *tlb);

#endif /* ARCH_MODES_H */
