/*
 * run_refs.h - frame references of the leaves a change writes or removes,
 * taken and dropped per run of contiguous leaves (so mapping 1 GiB of
 * 4 KiB leaves inside one block costs one update: frame_internal.h).
 * Not part of the API.
 *
 * A change keeps one run of new leaves (ref_*) and one of removed ones
 * (unref_*); a leaf that does not extend its run commits the run and
 * starts a new one, and the change commits both at its end
 * (run_refs_commit, run_unrefs_commit).  Untracked and MMIO leaves have
 * no references.  Removed frames are stamped with the cursor's release
 * interval, so none is reused before the cursor's flush.
 */
#ifndef MM_RUN_REFS_H
#define MM_RUN_REFS_H

#include "change.h"

/* Take the references of the run of new leaves, if any, and forget it. */
void ptmm__run_refs_commit(struct change *ch);

/* Drop the references of the run of removed leaves, if any, and forget it. */
void ptmm__run_unrefs_commit(struct change *ch);

/*
 * Start a new run of removed leaves at the leaf [pa, pa+size) of tracked
 * RAM or MMIO (MMIO: nothing to count, no run), committing the old one.
 */
void ptmm__run_unrefs_start(struct change *ch, ptmm_paddr_t pa, uint64_t size);

/* Count the references of a new leaf [pa, pa+size) (nothing for MMIO or untracked RAM). */
static inline void run_ref_leaf(struct change *ch, ptmm_paddr_t pa, uint64_t size)
{
	if (ch->flags & (PTMM_MAP_MMIO | PTMM_MAP_UNTRACKED))
		return;
	if (ch->ref_n && ch->ref_size == size && ch->ref_pa + ch->ref_n * size == pa) {
		ch->ref_n++;
		return;
	}
	ptmm__run_refs_commit(ch);
	ch->ref_pa = pa;
	ch->ref_size = size;
	ch->ref_n = 1;
}

/* Count the references of a removed leaf [pa, pa+size) of tracked RAM or MMIO (not untracked). */
static inline void run_unref_tracked(struct change *ch, ptmm_paddr_t pa, uint64_t size)
{
	/*
	 * A leaf that extends the run inside the run's RAM range is RAM: no
	 * look at its own slot (for 2 MiB leaves a cache and TLB miss each).
	 */
	if (ch->unref_n && ch->unref_size == size && ch->unref_pa + ch->unref_n * size == pa &&
	    pa + size <= ch->unref_ram_end) {
		ch->unref_n++;
		return;
	}
	ptmm__run_unrefs_start(ch, pa, size);
}

/* Count the removal of the leaf `e` at `level` (its bytes, and its references if it has any). */
static inline void run_unref_leaf(struct change *ch, ptmm_pte_t e, unsigned level)
{
	uint64_t size = ptmm_level_size(level);
	ch->bytes += size;
	if (!leaf_untracked(ch, e))
		run_unref_tracked(ch, ptmm_pte_addr(ch->f, e, level), size);
}

#endif /* MM_RUN_REFS_H */
