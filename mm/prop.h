/*
 * prop.h - the architecture-neutral property of a mapping.
 *
 * A property is a set of access flags plus a cache policy.  A property with
 * none of R, W, X is a *no-access* mapping: still a mapping (its frame stays
 * referenced, protect can restore it) but the hardware sees "not present".
 * Whether an architecture can express a property is decided by its encoder
 * (mm_arch.prop_check); the mm never weakens a property silently.
 */
#ifndef MM_PROP_H
#define MM_PROP_H

#include "mm_types.h"

enum mm_prop_flag {
	MM_PROP_R = 1u << 0, /* readable */
	MM_PROP_W = 1u << 1, /* writable */
	MM_PROP_X = 1u << 2, /* executable */
	MM_PROP_U = 1u << 3, /* user accessible (user page tables only) */
	MM_PROP_G = 1u << 4, /* global (kernel page tables only) */
};
#define MM_PROP_RWX (MM_PROP_R | MM_PROP_W | MM_PROP_X)
#define MM_PROP_ALL (MM_PROP_RWX | MM_PROP_U | MM_PROP_G)

enum mm_cache {
	MM_CACHE_WB = 0, /* write-back (normal memory) */
	MM_CACHE_WT = 1, /* write-through */
	MM_CACHE_UC = 2, /* uncached, strongly ordered (device) */
	MM_CACHE_WC = 3, /* write-combining (uncached, weakly ordered) */
};
#define MM_CACHE_COUNT 4

struct mm_prop {
	uint8_t flags; /* mm_prop_flag bits */
	uint8_t cache; /* enum mm_cache */
};

static inline struct mm_prop mm_prop_make(unsigned flags, enum mm_cache cache)
{
	struct mm_prop p = { (uint8_t)flags, (uint8_t)cache };
	return p;
}

static inline bool mm_prop_eq(struct mm_prop a, struct mm_prop b)
{
	return a.flags == b.flags && a.cache == b.cache;
}

static inline bool mm_prop_is_noaccess(struct mm_prop p)
{
	return (p.flags & MM_PROP_RWX) == 0;
}

#endif /* MM_PROP_H */
