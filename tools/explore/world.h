/*
 * world.h - the explorer's small machine: the ptsim layout (so a failing
 * sequence replays in ptsim), a TLB model behind the TLB hooks, snapshots
 * of the whole mm state, and the failure-injection hook.
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

/* One translation the TLB model may hold: a leaf, or a paging-structure entry. */
struct tlb_entry {
	uint64_t va;   /* canonical VA of the leaf / tree offset of the node's span */
	uint64_t size; /* leaf size; 0 for a node entry */
	ptmm_paddr_t pa;    /* leaf PA / node PA */
	uint8_t flags, cache; /* leaf property */
	uint8_t level;  /* node level (node entries) */
	bool ram;       /* leaf over RAM */
	uint32_t gen;   /* node generation when cached */
};

struct tlb_model {
	struct tlb_entry *e;
	size_t n, cap;
	/* Scratch for a fill: the current tree, sorted. */
	struct tlb_entry *cur;
	size_t ncur, capcur;
	unsigned flushes;
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

	struct tlb_model tlb;
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

/* ---- TLB model ---- */

/*
 * The TLB may cache any translation present at an observation point:
 * add every leaf and table entry of the current tree.  A flush hook
 * removes the entries it covers (page, range: leaf entries meeting it;
 * all: everything).
 */
void tlb_fill(struct world *w);
void tlb_clear(struct world *w);
/*
 * No cached translation reaches a released frame: every cached RAM leaf
 * covers in-use data blocks only, every cached node entry is still that
 * node (page-table node, same generation).  Records a violation.
 */
bool tlb_check_released(struct world *w, const char *where);
/* Nothing stale after a close: every cached entry agrees with the tree. */
bool tlb_check_consistent(struct world *w, const char *where);

#endif /* EXPLORE_WORLD_H */
