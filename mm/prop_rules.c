/*
 * prop_rules.c - the property checks of map and protect (prop_rules.h).
 */
#include "prop_rules.h"

#include "addr.h"

int ptmm__prop_check(const struct ptmm_cursor *c, struct ptmm_prop p)
{
	if ((p.flags & ~PTMM_PROP_ALL) || p.cache >= PTMM_CACHE_COUNT)
		return PTMM_EINVAL;
	/* Global pages belong to the kernel half, user pages to the user half. */
	if (p.flags & (c->pt->space == PTMM_PT_USER ? PTMM_PROP_G : PTMM_PROP_U))
		return PTMM_EINVAL;
	return c->arch->prop_check(c->arch, p);
}

int ptmm__prop_check_cache_map(const struct ptmm_cursor *c, ptmm_paddr_t pa, uint64_t len, unsigned cache,
			       unsigned flags)
{
	if (cache == PTMM_CACHE_WB || (flags & PTMM_MAP_MMIO))
		return PTMM_OK;
	return ptmm_frame_range_wb_only(c->pt->ft, pa, len) ? PTMM_EPERM : PTMM_OK;
}

int ptmm__prop_check_cache_protect(struct ptmm_cursor *c, uint64_t len, unsigned cache)
{
	if (cache == PTMM_CACHE_WB)
		return PTMM_OK;
	uint64_t va = c->va, hi = c->va + len, mask = tree_mask(c->arch);
	int err = PTMM_OK;
	struct ptmm_mapping m;
	while (!err && c->va < hi && ptmm_cursor_find_next(c, hi - c->va, &m) == PTMM_FOUND) {
		uint64_t lo = m.va & mask, end = lo + m.size;
		uint64_t from = lo > c->va ? lo : c->va, to = end < hi ? end : hi;
		if (!m.mmio && ptmm_frame_range_wb_only(c->pt->ft, m.pa + (from - lo), to - from))
			err = PTMM_EPERM;
		c->va = to;
	}
	c->va = va;
	return err;
}
