/*
 * cursor_internal.h - what cursor.c (open/close/locking/reads) shares with
 * cursor_ops.c (map/unmap/protect).  Not part of the API.
 */
#ifndef MM_CURSOR_INTERNAL_H
#define MM_CURSOR_INTERNAL_H

#include "cursor.h"
#include "frame.h"

/* One node during a walk: where it is and which offsets it spans. */
struct walk_node {
	pte_t *tbl;
	struct frame_slot *slot;
	paddr_t pa;
	unsigned level;
	uint64_t base; /* first tree offset the node spans */
};

uint64_t cursor_tree_mask(const struct mm_arch *a);
vaddr_t cursor_canonical(const struct mm_arch *a, uint64_t off);
uint64_t cursor_node_base(unsigned level, uint64_t t);

/* MM_OK if [va, va+len) is a valid, non-empty part of the cursor's range. */
int cursor_check_len(const struct cursor *c, uint64_t len);

/* The deepest node the cursor holds that spans [lo, hi). */
void cursor_start_node(struct cursor *c, uint64_t lo, uint64_t hi, struct walk_node *out);
/* The child node of entry `e` (a table) of `parent`, spanning from e_start. */
void cursor_child(struct cursor *c, const struct walk_node *parent, pte_t e, uint64_t e_start,
		  struct walk_node *out);
/* Remember `child` (reached for offset t) as the deepest cached node. */
void cursor_cache_descend(struct cursor *c, const struct walk_node *child, uint64_t t);

/* Clear entry i of the parent and put the child node on the release list. */
void cursor_detach_node(struct cursor *c, pte_t *ptbl, struct frame_slot *ps, unsigned i,
			unsigned plevel, paddr_t child);
/* Mark a node cut from the tree (its parent entry already gone or going). */
void cursor_retire_node(struct cursor *c, paddr_t pa, unsigned level);
/*
 * After an unmap that started at cached level `level` (offset t inside it):
 * detach the nodes on the cached path it left empty, up to the guard.
 */
void cursor_reclaim_path(struct cursor *c, unsigned level, uint64_t t);
bool cursor_node_reclaimable(const struct page_table *pt, unsigned level);

void cursor_record_flush(struct cursor *c, uint64_t lo, uint64_t hi);
void cursor_leaf_mapping(const struct cursor *c, pte_t e, unsigned level, uint64_t t,
			 struct mm_mapping *out);

#endif /* MM_CURSOR_INTERNAL_H */
