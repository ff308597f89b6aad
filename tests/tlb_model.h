/*
 * tlb_model.h - a model of the translation caches of simulated CPUs, driven
 * by the mm's TLB hooks, to check the release order and the flushes
 * (issue 11).
 *
 * Each CPU keeps
 *  - leaf translations, filled by h_tlb_touch (a hardware walk of the
 *    table active on it at one VA: the leaf's VA range, PA, permissions,
 *    global bit, and the nodes of the walk with their generations), and
 *    invalid entries for a page the walk found absent or no-access (RISC-V
 *    may cache those: a new mapping must be flushed too, or the next
 *    access takes a spurious fault);
 *  - paging-structure entries (a node at a level for a VA region -> its
 *    child node), filled by the same walk.
 * They are emptied only by the hooks, with these semantics (the strictest
 * of x86 and RISC-V):
 *  - flush_page(va): the leaf translations containing va, global or not;
 *  - flush_range(va, len): the leaf translations meeting [va, va+len);
 *  - flush_all: everything, global included, paging-structure entries too;
 *  - activate(root) on a CPU: its non-global leaf translations and all its
 *    paging-structure entries (a root switch);
 * a va-based flush keeps paging-structure entries (RISC-V: sfence.vma
 * with an address need not drop non-leaf entries), so removing a table
 * must flush everything.  Until the mm is SMP (issue 13), a hook reaches
 * every simulated CPU (what an embedder's shootdown does).
 *
 * h_tlb_check: no cached translation or paging-structure entry reaches a
 * frame or node that has been released (free, or a node of another
 * generation); and with `closed` (no cursor open), none grants more than
 * the tree: every cached leaf's range is mapped by the tree to the same
 * PAs with at least its permissions, every paging-structure entry is
 * still the tree's, and no cached invalid entry hides a mapping.
 */
#ifndef TESTS_TLB_MODEL_H
#define TESTS_TLB_MODEL_H

#include "harness.h"

#define H_TLB_CPUS 2
#define H_TLB_LEAVES 64
#define H_TLB_WALKS 64

struct h_tlb_leaf {
	bool valid, global;
	bool invalid;  /* a cached *invalid* entry (RISC-V may keep those): a 4K page */
	const struct page_table *pt;
	vaddr_t va; /* canonical start of the leaf */
	uint64_t size;
	paddr_t pa;
	unsigned perm; /* MM_PROP_R/W/X/U */
	bool tracked;  /* tracked RAM: its blocks must stay allocated */
	unsigned nr_path;
	paddr_t path[MM_MAX_LEVELS];
	uint32_t gen[MM_MAX_LEVELS];
};

struct h_tlb_walk {
	bool valid;
	const struct page_table *pt;
	vaddr_t va;     /* start of the region the parent entry covers */
	unsigned level; /* level of the parent node */
	paddr_t child;
	uint32_t gen;   /* the child's generation when cached */
};

struct h_tlb_cpu {
	const struct page_table *active;
	struct h_tlb_leaf leaf[H_TLB_LEAVES];
	struct h_tlb_walk walk[H_TLB_WALKS];
	unsigned next_leaf, next_walk;
};

struct h_tlb_model {
	struct h_tlb_cpu cpu[H_TLB_CPUS];
	unsigned current; /* the CPU activate() applies to */
	uint64_t fills;
};

/* Start (or reset) the model of h: every CPU empty, with `pt` active. */
void h_tlb_model_on(struct harness *h, const struct page_table *pt);
void h_tlb_model_off(struct harness *h);
/* Called by the harness's hooks. */
void h_tlb_model_flush(struct harness *h, enum tlb_kind kind, vaddr_t va, uint64_t len);
/* A hardware access by `cpu` at va of the table active on it: fill its caches. */
void h_tlb_touch(struct harness *h, unsigned cpu, vaddr_t va);
/* MM_OK, or 1 with the first violation in buf. */
int h_tlb_check(struct harness *h, bool closed, char *buf, size_t len);
/* Fail the test on a violation. */
void h_tlb_assert(struct harness *h, bool closed, const char *where);

#endif /* TESTS_TLB_MODEL_H */
