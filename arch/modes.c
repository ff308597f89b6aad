/*
 * modes.c - the registry of paging modes for host programs (modes.h).
 */
#include "arch/modes.h"

#include <string.h>

#define X86_FEATURES (PTMM_FEAT_X86_NX | PTMM_FEAT_X86_1G)

const struct mm_mode mm_modes[MM_NR_MODES] = {
	{ "x86_64", "x86_64", ptmm_arch_x86_64_init, X86_FEATURES, 0 },
	{ "x86_64-la57", "x86_64", ptmm_arch_x86_64_la57_init, X86_FEATURES, 0 },
	{ "sv39", "riscv64", ptmm_arch_sv39_init, 0, PTMM_FEAT_RV_SVPBMT },
	{ "sv48", "riscv64", ptmm_arch_sv48_init, 0, PTMM_FEAT_RV_SVPBMT },
	{ "sv57", "riscv64", ptmm_arch_sv57_init, 0, PTMM_FEAT_RV_SVPBMT },
};

const struct mm_mode *mm_mode_find(const char *name)
{
	for (unsigned i = 0; i < MM_NR_MODES; i++)
		if (strcmp(mm_modes[i].name, name) == 0)
			return &mm_modes[i];
	return NULL;
}

void mm_mode_init(const struct mm_mode *m, struct ptmm_arch *a, bool with_optional,
		  const struct ptmm_tlb_ops *tlb)
{
	m->init(a, m->features | (with_optional ? m->optional : 0), tlb);
}
