/*
 * prop.h - the architecture-neutral property of a mapping.
 *
 * A property is a set of access flags plus a cache policy.  A property with
 * none of R, W, X is a *no-access* mapping: still a mapping (its frame stays
 * referenced, protect can restore it) but the hardware sees "not present".
 * Whether an architecture can express a property is decided by its encoder
 * (mm_arch.prop_check); the mm never weakens a property silently.
 */
#ifndef PTMM_PROP_H
#define PTMM_PROP_H

#include "mm_types.h"

enum ptmm_prop_flag {
	PTMM_PROP_R = 1u << 0, /* readable */
	PTMM_PROP_W = 1u << 1, /* writable */
	PTMM_PROP_X = 1u << 2, /* executable */
	PTMM_PROP_U = 1u << 3, /* user accessible (user page tables only) */
	PTMM_PROP_G = 1u << 4, /* global (kernel page tables only) */
};
#define PTMM_PROP_RWX (PTMM_PROP_R | PTMM_PROP_W | PTMM_PROP_X)
#define PTMM_PROP_ALL (PTMM_PROP_RWX | PTMM_PROP_U | PTMM_PROP_G)

enum ptmm_cache {
	PTMM_CACHE_WB = 0, /* write-back (normal memory) */
	PTMM_CACHE_WT = 1, /* write-through */
	PTMM_CACHE_UC = 2, /* uncached, strongly ordered (device) */
	PTMM_CACHE_WC = 3, /* write-combining (uncached, weakly ordered) */
};
#define PTMM_CACHE_COUNT 4

struct ptmm_prop {
	uint8_t flags; /* mm_prop_flag bits */
	uint8_t cache; /* enum ptmm_cache */
};

static inline struct ptmm_prop ptmm_prop_make(unsigned flags, enum ptmm_cache cache)
{
	struct ptmm_prop p = { (uint8_t)flags, (uint8_t)cache };
	return p;
}

static inline bool ptmm_prop_eq(struct ptmm_prop a, struct ptmm_prop b)
{
	return a.flags == b.flags && a.cache == b.cache;
}

static inline bool ptmm_prop_is_noaccess(struct ptmm_prop p)
{
	return (p.flags & PTMM_PROP_RWX) == 0;
}

#endif /* PTMM_PROP_H */
