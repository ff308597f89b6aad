/*
 * node_reserve.h - the nodes an operation allocates before it changes
 * anything.  Not part of the API.
 *
 * Every changing operation counts, in a dry pass that changes nothing,
 * the nodes its real pass will create (new tables, and one per split),
 * reserves exactly that many (ptmm__reserve_nodes: all or none), and only
 * then runs the real pass, which takes them one by one (reserve_take) and
 * therefore cannot fail.  The dry pass is exact: the real pass takes every
 * reserved node (ptmm__reserve_check_spent asserts it).
 */
#ifndef MM_NODE_RESERVE_H
#define MM_NODE_RESERVE_H

#include <ptmm/cursor.h>

#include "spinlock.h"
#include "walk.h"

/* Reserve `n` zeroed nodes for the operation in progress.  PTMM_ENOMEM: none kept, nothing changed. */
int ptmm__reserve_nodes(struct ptmm_cursor *c, unsigned n);

/* Free the nodes still in the reserve (never part of any tree): after a failed step. */
void ptmm__reserve_give_back(struct ptmm_cursor *c);

/*
 * After a real pass: the reserve must be empty (its dry pass counted
 * exactly).  Asserted in PTMM_DEBUG builds; other builds free what is
 * left, so that a miscount costs no memory.
 */
static inline void reserve_check_spent(struct ptmm_cursor *c)
{
	PTMM_ASSERT(c->reserve == PTMM_FRAME_NIL);
	if (c->reserve != PTMM_FRAME_NIL)
		ptmm__reserve_give_back(c);
}

/*
 * A reserved node becomes a node of the tree at `level` spanning from
 * `base`: locked and owned by the cursor, all entries absent, not linked
 * yet.  Assumes the dry pass reserved it.
 */
static inline void reserve_take(struct ptmm_cursor *c, unsigned level, uint64_t base, struct walk_node *out)
{
	struct ptmm_frame_table *ft = c->pt->ft;
	PTMM_ASSERT(c->reserve != PTMM_FRAME_NIL); /* the dry pass reserved every node the real one takes */
	struct ptmm_frame_slot *s = &ft->slots[c->reserve];
	c->reserve = s->next;
	s->level = (uint8_t)level;
	/*
	 * Born locked, by taking the lock (never by storing it): a walker
	 * that still holds the lock of this frame's previous life lets go
	 * of it as soon as it sees the new generation.
	 */
	mm_spin_lock(&s->lock);
	c->nodes_delta++;
	out->slot = s;
	out->pa = ptmm_frame_slot_pa(ft, s);
	out->tbl = node_entries(ft, out->pa);
	out->level = level;
	out->base = base;
}

/* Entry i of `parent` (absent, or a leaf being split) becomes a table pointing to `child`. */
static inline void link_child(struct ptmm_cursor *c, struct walk_node *parent, unsigned i,
			      const struct walk_node *child)
{
	PTMM_ASSERT(child->level + 1 == parent->level);
	ptmm_pte_t tmpl = c->arch->table_template(c->arch, parent->level);
	ptmm_pte_link(&parent->tbl[i], ptmm_pte_make(&c->arch->fmt, tmpl, child->pa));
	parent->slot->nr_tables++;
}

#endif /* MM_NODE_RESERVE_H */
