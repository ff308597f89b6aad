/*
 * prop_rules.h - which properties a cursor may write: valid for its
 * table's half, expressible by its encoder, and the one-memory-type rule
 * for RAM (frame.h, ptmm_frame_zone_set_wb_only).  Used by map and
 * protect before they change anything.  Not part of the API.
 */
#ifndef MM_PROP_RULES_H
#define MM_PROP_RULES_H

#include <ptmm/cursor.h>

/*
 * PTMM_OK if `p` is valid for the cursor's table and expressible by its
 * encoder; PTMM_EINVAL (unknown flags or cache type, a global page in the
 * user half, a user page in the kernel half) or the encoder's answer
 * (PTMM_EINVAL, PTMM_ENOTSUP).
 */
int ptmm__prop_check(const struct ptmm_cursor *c, struct ptmm_prop p);

/*
 * The one-memory-type rule for a map of [pa, pa+len) with `cache`:
 * PTMM_EPERM if cache is not write-back and the range touches a wb-only
 * zone.  Device memory (PTMM_MAP_MMIO in `flags`) has no write-back alias.
 */
int ptmm__prop_check_cache_map(const struct ptmm_cursor *c, ptmm_paddr_t pa, uint64_t len, unsigned cache,
			       unsigned flags);

/*
 * The same rule for a protect to `cache` over [c->va, c->va+len): every
 * RAM leaf there (no-access ones too: protect can make them accessible).
 * Reads only; the cursor's VA is left as it was.
 */
int ptmm__prop_check_cache_protect(struct ptmm_cursor *c, uint64_t len, unsigned cache);

#endif /* MM_PROP_RULES_H */
