/*
 * tlbm.h - a model of the translation caches of simulated CPUs, driven by
 * an embedder's TLB hooks, to check the release order and the flushes
 * (issue 11).  Host only (libc); the one TLB model of the project: the host
 * tests (tests/tlb_model.h wraps it for the harness), ptsim (--tlb) and the
 * explorer (tools/explore, complete mode).
 *
 * Each CPU keeps
 *  - leaf translations, filled by tlbm_touch (a hardware walk of the
 *    table active on it at one VA: the leaf's VA range, PA, permissions,
 *    global bit, cache attribute, and the nodes of the walk with their
 *    generations), and invalid entries for a page the walk found absent or
 *    no-access (RISC-V may cache those: a new mapping must be flushed too,
 *    or the next access takes a spurious fault);
 *  - paging-structure entries (a node at a level for a VA region -> its
 *    child node), filled by the same walk.
 * Two modes, chosen by the reset:
 *  - bounded (tlbm_reset): a CPU holds at most TLBM_LEAVES translations and
 *    TLBM_WALKS paging-structure entries, a fill replacing the oldest; the
 *    tests and ptsim touch the pages they use;
 *  - complete (tlbm_reset_complete): nothing is evicted, and tlbm_fill_all
 *    caches everything a walk at any VA of the active table's half could
 *    cache now: every accessible leaf, every absent or no-access page (as
 *    invalid entries over ranges of pages), every table entry.  Filled at
 *    every observation point, the caches hold every entry a CPU may have
 *    cached since the last flush that covered it (their union: a stale
 *    entry and the tree's new one for the same VA both stay), so a check
 *    fails if any possible TLB content would (the explorer's model).
 * They are emptied only by the hooks, with these semantics (the strictest
 * of x86 and RISC-V):
 *  - flush_page(va): the leaf translations containing va, global or not;
 *  - flush_range(va, len): the leaf translations meeting [va, va+len);
 *  - flush_all: everything, global included, paging-structure entries too;
 *  - activate(root) on a CPU: its non-global leaf translations and all its
 *    paging-structure entries (a root switch);
 * a va-based flush keeps paging-structure entries (RISC-V: sfence.vma
 * with an address need not drop non-leaf entries), so removing a table
 * must flush everything.  An invalid entry is a set of pages, each cached
 * on its own: a flush removes the pages it covers and keeps the others (in
 * the bounded mode every invalid entry is one page).  Until the mm is SMP
 * (issue 13), a hook reaches every simulated CPU (what an embedder's
 * shootdown does).
 *
 * tlbm_check: no cached translation or paging-structure entry reaches a
 * frame or node that has been released (free, or a node of another
 * generation); and with `closed` (no cursor open), none grants more than
 * the tree: every cached leaf's range is mapped by the tree to the same
 * PAs with the same cache attribute and at least its permissions (global
 * included), every paging-structure entry is still the tree's, and no
 * cached invalid entry hides a mapping.  (A permission upgrade need not be
 * flushed: MODEL.md O10.)
 */
#ifndef TLBMODEL_TLBM_H
#define TLBMODEL_TLBM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ptmm/mm.h>

#define TLBM_CPUS 2
#define TLBM_LEAVES 64
#define TLBM_WALKS 64

/* The flush a TLB hook asked for. */
enum tlbm_flush { TLBM_PAGE, TLBM_RANGE, TLBM_ALL, TLBM_ACTIVATE };

struct tlbm_leaf {
	bool valid, global;
	bool invalid;  /* cached *invalid* pages (RISC-V may keep those): [va, va + size), 4K in the bounded mode */
	const struct ptmm_page_table *pt;
	ptmm_vaddr_t va; /* canonical start of the leaf */
	uint64_t size;
	ptmm_paddr_t pa;
	unsigned perm; /* PTMM_PROP_R/W/X/U/G */
	uint8_t cache; /* enum ptmm_cache */
	bool tracked;  /* tracked RAM: its blocks must stay allocated */
	unsigned nr_path;
	ptmm_paddr_t path[PTMM_MAX_LEVELS];
	uint32_t gen[PTMM_MAX_LEVELS];
};

struct tlbm_walk {
	bool valid;
	const struct ptmm_page_table *pt;
	ptmm_vaddr_t va;     /* start of the region the parent entry covers */
	unsigned level; /* level of the parent node */
	ptmm_paddr_t child;
	uint32_t gen;   /* the child's generation when cached */
};

struct tlbm_cpu {
	const struct ptmm_page_table *active;
	/* Bounded mode: rings, `valid` marks the entries held. */
	struct tlbm_leaf leaf[TLBM_LEAVES];
	struct tlbm_walk walk[TLBM_WALKS];
	unsigned next_leaf, next_walk;
	/* Complete mode: every entry held, all valid (allocated; tlbm_free). */
	struct tlbm_leaf *all_leaf;
	struct tlbm_walk *all_walk;
	size_t nr_all_leaf, cap_all_leaf, nr_all_walk, cap_all_walk;
};

struct tlbm {
	const struct ptmm_frame_table *ft; /* frames behind every modelled table */
	bool complete;                     /* the mode (tlbm_reset_complete) */
	struct tlbm_cpu cpu[TLBM_CPUS];
	unsigned current; /* the CPU activate() applies to */
	uint64_t fills;   /* leaf translations cached so far */
};

/*
 * Start (or reset) m in the bounded mode over the frames ft: every CPU
 * empty, with `pt` active.  m holds nothing allocated (a complete model is
 * given back with tlbm_free first).
 */
void tlbm_reset(struct tlbm *m, const struct ptmm_frame_table *ft, const struct ptmm_page_table *pt);
/*
 * Start m in the complete mode (every CPU empty, `pt` active): the caches
 * grow without bound and evict nothing.  Exits on a host allocation failure.
 * Give back with tlbm_free.
 */
void tlbm_reset_complete(struct tlbm *m, const struct ptmm_frame_table *ft,
			 const struct ptmm_page_table *pt);
/* Give back what the complete mode allocated; m is then empty (reset it before use). */
void tlbm_free(struct tlbm *m);
/*
 * Complete mode only: fill `cpu`'s caches (mod TLBM_CPUS) with everything
 * a walk of its active table at any VA of the table's half could cache now
 * (tlbm_touch at every page, no eviction): each accessible leaf, the pages
 * the tree leaves absent or no-access as invalid entries, each table entry.
 * Entries already held stay; an identical one is held once.
 */
void tlbm_fill_all(struct tlbm *m, unsigned cpu);
/* What a TLB hook does to the caches (an activate applies to m->current only). */
void tlbm_flush(struct tlbm *m, enum tlbm_flush kind, ptmm_vaddr_t va, uint64_t len);
/*
 * A hardware access by `cpu` (mod TLBM_CPUS) at va of the table active on
 * it: fill its caches (unless a cached translation covers va: it is used
 * as it is).  Bounded mode: each new entry replaces the oldest.
 */
void tlbm_touch(struct tlbm *m, unsigned cpu, ptmm_vaddr_t va);
/*
 * PTMM_OK, or 1 with the first violation in buf ("ID: WHAT (cpu N, va 0x..,
 * pa 0x..)", ID the docs/MODEL.md invariant: O8 a released frame or node
 * still reachable, O10 more granted than the tree).  `closed`: no cursor is open, so the caches must not grant more
 * than the tree.
 */
int tlbm_check(const struct tlbm *m, bool closed, char *buf, size_t len);

#endif /* TLBMODEL_TLBM_H */
