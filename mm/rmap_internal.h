/*
 * rmap_internal.h - the hooks that keep the reverse map (include/ptmm/rmap.h,
 * MODEL.md M8) in step with the trees.  Each site of mm/ that writes a
 * leaf into a tree or clears one calls one of them, once, with the leaf's
 * table, tree offset and level: a one-line call next to the entry store.
 * Without PTMM_RMAP they expand to nothing that is evaluated, and the
 * mm's code is the same instruction for instruction (see below).
 *
 * The sites (every insert and every removal of a leaf; none can fail
 * after its entry store, so there is no rollback to mirror: every
 * operation's fallible part, the dry run and the node reserve, comes
 * before its first store):
 *   insert  map.c fill_leaves (runs of map, huge or not), map_real (one
 *           leaf of a replacing map), install_page_leaf (the one-page
 *           roads); split.c ptmm__split_leaf (512 children for one leaf);
 *   remove  remove.c ptmm__remove_leaf_run (runs of unmap, drop_subtree
 *           of a leaf-only node), drop_subtree, ptmm__remove_entry (unmap,
 *           replace); unmap.c unmap_one_page, unmap_page_cached; split.c
 *           (the split leaf).
 * Protect rewrites a leaf in place (same path, same PA): no change.
 * ptmm_page_table_destroy unmaps through a cursor; the kernel table is
 * never destroyed.  Table entries (link, detach) are not leaves.
 *
 * Callers hold the lock of the leaf's node; the map has its own lock,
 * taken innermost.
 */
#ifndef MM_RMAP_INTERNAL_H
#define MM_RMAP_INTERNAL_H

#include <ptmm/page_table.h>
#include <ptmm/rmap.h>

#ifdef PTMM_RMAP

/*
 * `n` leaves were written at level `level` of `pt`, at tree offsets off +
 * k * size, mapping PAs pa + k * size.  A leaf that finds the pool full is
 * counted as unrecorded instead.
 */
void ptmm__rmap_add(const struct ptmm_page_table *pt, uint64_t off, unsigned level, ptmm_paddr_t pa,
		    uint64_t n);

/*
 * The leaf `e` at tree offset `off`, level `level` of `pt` was cleared.  Its
 * record goes; a record that disagrees with `e` (another level or PA), or
 * a missing one while no leaf is unrecorded, is counted as a stray: the
 * mm changed a leaf behind the map's back (ptmm_check reports it).
 */
void ptmm__rmap_del(const struct ptmm_page_table *pt, uint64_t off, unsigned level, ptmm_pte_t e);

/* The leaf `e` at (off, level) was split into 512 leaves of level - 1, same PAs. */
void ptmm__rmap_split(const struct ptmm_page_table *pt, uint64_t off, unsigned level, ptmm_pte_t e);

/* The record of the leaf at tree offset `off` of `pt`, or NULL.  Exclusive access (the checker). */
struct ptmm_rmap_record *ptmm__rmap_find(struct ptmm_frame_table *ft, const struct ptmm_page_table *pt,
					 uint64_t off);

#else

/*
 * No reverse map: each hook is a sizeof over a call of its signature's
 * twin, so the arguments are type-checked (and count as used) but never
 * evaluated: not even dead computations reach the compiler's middle end,
 * and the object code is the same as with no hook at all (an empty inline
 * function was not: its dead arguments still moved registers around).
 */
static inline int rmap_off_add(const struct ptmm_page_table *pt, uint64_t off, unsigned level,
			       ptmm_paddr_t pa, uint64_t n)
{
	(void)pt, (void)off, (void)level, (void)pa, (void)n;
	return 0;
}

static inline int rmap_off_del(const struct ptmm_page_table *pt, uint64_t off, unsigned level,
			       ptmm_pte_t e)
{
	(void)pt, (void)off, (void)level, (void)e;
	return 0;
}

#define ptmm__rmap_add(pt, off, level, pa, n) ((void)sizeof(rmap_off_add((pt), (off), (level), (pa), (n))))
#define ptmm__rmap_del(pt, off, level, e) ((void)sizeof(rmap_off_del((pt), (off), (level), (e))))
#define ptmm__rmap_split(pt, off, level, e) ((void)sizeof(rmap_off_del((pt), (off), (level), (e))))

#endif /* PTMM_RMAP */
#endif /* MM_RMAP_INTERNAL_H */
