/*
 * world.h - the explorer's small machine: the ptsim layout (so a failing
 * sequence replays in ptsim), the project's TLB model (tools/tlbmodel/tlbm.h,
 * complete mode) behind the TLB hooks, snapshots of the whole mm state, and
 * the failure-injection hook.
 *
 *   [0, mem)              data RAM, zone 0, claimable by map
 *   [mem, mem + pool)     node pool, zone 1 (map of a pool frame: EPERM)
 *   [mem + pool, limit)   one MMIO window up to the PTEs' PA limit
 */
#ifndef EXPLORE_WORLD_H
#define EXPLORE_WORLD_H

#include <setjmp.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ptmm/mm.h>

#include "tlbm.h"

#define ZONE_DATA 0
#define ZONE_POOL 1

/* An encoder configuration the explorer runs over. */
struct encoder_cfg {
	const char *name;       /* --arch value */
	const char *ptsim_arch; /* ptsim's --arch for the replay line, NULL if ptsim has none */
	const char *ptsim_opts; /* extra ptsim options ("--svpbmt"), "" if none */
	void (*init)(struct ptmm_arch *a, uint32_t features, const struct ptmm_tlb_ops *tlb);
	uint32_t features;
};

struct world {
	const struct encoder_cfg *enc;
	bool kernel;
	struct ptmm_arch arch;
	struct ptmm_tlb_ops tlb_ops;
	struct ptmm_frame_table ft;
	struct ptmm_page_table pt;
	uint64_t mem, pool;
	ptmm_paddr_t pa_limit;
	unsigned char *phys;
	void *slots;
	size_t slot_bytes;

	struct tlbm tlb; /* complete mode, one CPU used (0) */
	/* Failure injection: fail the fail_at-th allocation (1-based, 0 off). */
	unsigned fail_at, alloc_calls;
	bool injected;

	/* The first violation seen (by a hook or a check); empty if none. */
	char violation[512];
	/* PTMM_ASSERT lands here (set while an operation runs). */
	sigjmp_buf *assert_jmp;
};

struct world_snap {
	struct ptmm_frame_table ft;
	struct ptmm_page_table pt;
	void *slots;
	void *pool;
};

/* Build the machine (exits on a host error); installs the SIGALRM watchdog. */
void world_init(struct world *w, const struct encoder_cfg *enc, bool kernel, uint64_t mem,
		uint64_t pool);
/* Give back everything world_init / world_snap_init took (so LSan sees no leak at exit). */
void world_free(struct world *w);
void world_snap_free(struct world_snap *s);
void world_snap_init(struct world *w, struct world_snap *s);
void world_save(struct world *w, struct world_snap *s);
void world_restore(struct world *w, const struct world_snap *s);

/* Record a violation (first one wins); printf-style. */
void world_violation(struct world *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
bool world_failed(const struct world *w);

/* Base and size of the half. */
ptmm_vaddr_t world_base(const struct world *w);
uint64_t world_half(const struct world *w);

/* ---- TLB model (tlbm.h, complete mode: every entry a CPU may have cached) ---- */

/*
 * An observation point: the TLB may now cache any translation of the
 * current tree (tlbm_fill_all), on top of what it held and no flush
 * removed.  A flush hook checks (tlb_check_released) and then removes the
 * entries it covers (tlbm.h).
 */
void tlb_fill(struct world *w);
/* Forget every cached entry (a state restored from a snapshot starts with an empty TLB). */
void tlb_clear(struct world *w);
/*
 * No cached translation reaches a released frame: every cached tracked RAM
 * leaf covers in-use data blocks only, every walk's nodes and every cached
 * paging-structure entry are still those nodes (page-table node, same
 * generation); tlbm_check, O8.  Records a violation.
 */
bool tlb_check_released(struct world *w, const char *where);
/*
 * Nothing stale after a close: the released check, and no cached entry
 * grants more than the tree (tlbm_check with `closed`, O10).
 */
bool tlb_check_consistent(struct world *w, const char *where);

#endif /* EXPLORE_WORLD_H */
