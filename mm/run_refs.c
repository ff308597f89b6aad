/*
 * run_refs.c - committing a change's runs of leaf references to the frame
 * table (the rule is in run_refs.h).
 */
#include "run_refs.h"

#include "frame_internal.h"

void ptmm__run_refs_commit(struct change *ch)
{
	if (ch->ref_n)
		ptmm__frame_map_leaves(ch->ft, ch->ref_pa, ch->ref_size, ch->ref_n, &ch->c->block_hint);
	ch->ref_n = 0;
}

void ptmm__run_unrefs_commit(struct change *ch)
{
	if (ch->unref_n)
		ptmm__frame_unmap_leaves(ch->ft, ch->unref_pa, ch->unref_size, ch->unref_n, &ch->c->batch.rel,
					 &ch->c->block_hint);
	ch->unref_n = 0;
}

void ptmm__run_unrefs_start(struct change *ch, ptmm_paddr_t pa, uint64_t size)
{
	ptmm_paddr_t ram_end = ptmm__frame_ram_range_end(ch->ft, pa);
	if (ram_end == 0)
		return; /* MMIO */
	ptmm__run_unrefs_commit(ch);
	ch->unref_pa = pa;
	ch->unref_size = size;
	ch->unref_n = 1;
	ch->unref_ram_end = ram_end;
}
