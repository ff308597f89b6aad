/*
 * addr.h - addresses inside the mm: tree offsets, the two halves, and the
 * range tests every cursor operation starts with.  Not part of the API.
 *
 * Inside the mm a VA is a *tree offset*: the VA modulo 2^va_bits.  The
 * user half is [0, 2^(va_bits-1)), the kernel half [2^(va_bits-1),
 * 2^va_bits); as va_bits is at most 57, an end offset of 2^va_bits (the
 * top of the address space) cannot overflow.  At the API every VA is
 * canonical (sign-extended from bit va_bits-1).
 */
#ifndef MM_ADDR_H
#define MM_ADDR_H

#include <ptmm/cursor.h>
#include <ptmm/pte.h>

/* The bits of a VA that are a tree offset: 2^va_bits - 1. */
static inline uint64_t tree_mask(const struct ptmm_arch *a)
{
	return ((uint64_t)1 << a->va_bits) - 1;
}

/* The canonical VA of tree offset `off` (sign-extended from bit va_bits-1). */
static inline ptmm_vaddr_t tree_canonical(const struct ptmm_arch *a, uint64_t off)
{
	uint64_t sign = (uint64_t)1 << (a->va_bits - 1);
	return (off & sign) ? off | ~tree_mask(a) : off;
}

/* Tree offset of the canonical `va`, or PTMM_ERANGE if va is not in pt's half. */
static inline int tree_offset(const struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t *off)
{
	uint64_t rel = va - ptmm_page_table_space_base(pt);
	if (rel >= ptmm_page_table_space_size(pt))
		return PTMM_ERANGE;
	*off = va & tree_mask(pt->arch);
	return PTMM_OK;
}

/*
 * First offset spanned by the node at `level` that spans offset `t`: a
 * node at level l spans one entry of level l+1 (the root: 2^va_bits).
 */
static inline uint64_t node_base(unsigned level, uint64_t t)
{
	uint64_t span = ptmm_level_size(level + 1);
	return t & ~(span - 1);
}

/*
 * PTMM_OK if [c->va, c->va + len) is a valid, non-empty part of the open
 * cursor's range; else the error every operation gives for it.
 */
static inline int cursor_check_len(const struct ptmm_cursor *c, uint64_t len)
{
	if (!ptmm_cursor_is_open(c))
		return PTMM_EINVAL;
	if (len == 0)
		return PTMM_EINVAL;
	if (!ptmm_is_aligned(len, PTMM_PAGE_SIZE))
		return PTMM_EALIGN;
	if (len > c->end - c->va)
		return PTMM_ERANGE;
	return PTMM_OK;
}

#endif /* MM_ADDR_H */
