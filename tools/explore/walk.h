/*
 * walk.h - a raw walk of the world's page table, independent of the
 * cursor: every leaf (decoded by the encoder) and every table entry.
 */
#ifndef EXPLORE_WALK_H
#define EXPLORE_WALK_H

#include "world.h"

struct walk_leaf {
	ptmm_vaddr_t va;    /* canonical */
	uint64_t size;
	unsigned level;
	ptmm_paddr_t pa;
	ptmm_pte_t pte;
	struct ptmm_prop prop;
	bool mmio;      /* not RAM */
	bool untracked; /* the encoder's untracked tag is set */
};

/* Leaves in ascending VA order; node_fn(ctx, span start offset, level, pa) per table entry. */
void walk_tree(struct world *w, void (*leaf_fn)(void *, const struct walk_leaf *),
	       void (*node_fn)(void *, uint64_t, unsigned, ptmm_paddr_t), void *ctx);

#endif /* EXPLORE_WALK_H */
