/*
 * change.h - one map, unmap or protect in progress (struct change), and
 * the steps they share: references per run of leaves (run_refs.h),
 * splitting a leaf (split.c) and removing entries (remove.c).  Not part
 * of the API.
 *
 * Every change of more than one 4 KiB page runs in two passes over the
 * same recursion:
 *
 *   1. a dry pass that changes nothing: it finds every error (a mapping in
 *      the way, ...) and counts the nodes the real pass will need (new
 *      tables, and one per split of a leaf straddling a boundary);
 *   2. the nodes are reserved up front (node_reserve.h: any failure gives
 *      them back, PTMM_ENOMEM, nothing changed), then the real pass runs
 *      and cannot fail: it takes exactly the reserved nodes.
 *
 * That is what makes every operation all-or-nothing.  The dry pass
 * descends only where the answer can differ: into existing nodes, and
 * into nodes that do not exist yet: NODE_NEW (a table about to be
 * created: every entry absent) and NODE_SPLIT (what a split would create:
 * 512 present leaves).
 *
 * Per-entry loops use only the inline helpers of pte.h and templates
 * computed once per level per change: no ops-table call per PTE.
 */
#ifndef MM_CHANGE_H
#define MM_CHANGE_H

#include <ptmm/cursor.h>

#include "walk.h"

/* What a node walked by a dry pass is. */
enum node_kind {
	NODE_EXISTING, /* a node of the tree: read its entries */
	NODE_NEW,      /* a node the real pass will create: every entry absent */
	NODE_SPLIT,    /* a node a split will create: every entry a present leaf */
};

/* One map, unmap or protect in progress. */
struct change {
	struct ptmm_cursor *c;
	struct ptmm_frame_table *ft;
	const struct ptmm_arch *a;
	const struct ptmm_pte_format *f;
	/* map: VA offset va0 maps to pa0; protect: the new property */
	uint64_t va0, end;
	ptmm_paddr_t pa0;
	unsigned flags;
	unsigned max_level;
	struct ptmm_prop prop;
	ptmm_pte_t tag;                       /* map: software bits of every new leaf */
	ptmm_pte_t tmpl[PTMM_MAX_LEVELS + 1]; /* leaf templates per level, 0 = not yet */
	unsigned nodes;                       /* dry pass: nodes needed */
	uint64_t bytes;                       /* bytes removed / mapped */
	/* Runs of contiguous leaves whose references are taken / dropped together (run_refs.h). */
	ptmm_paddr_t ref_pa, unref_pa;
	uint64_t ref_size, ref_n, unref_size, unref_n;
	ptmm_paddr_t unref_ram_end; /* end of the RAM range holding the unref run */
};

/* A change on the cursor `c`, nothing counted yet. */
static inline void change_init(struct change *ch, struct ptmm_cursor *c)
{
	*ch = (struct change){ .c = c, .ft = c->pt->ft, .a = c->arch, .f = &c->arch->fmt,
			       .max_level = ptmm_page_table_max_leaf_level(c->pt) };
}

/* Leaf template of the change's property (and tag) at `level`, computed once. */
static inline ptmm_pte_t change_leaf_template(struct change *ch, unsigned level)
{
	if (!ch->tmpl[level])
		ch->tmpl[level] = ch->a->leaf_template(ch->a, ch->prop, level) | ch->tag;
	return ch->tmpl[level];
}

/* Is the leaf `e` untracked (mapped without frame references)? */
static inline bool leaf_untracked(const struct change *ch, ptmm_pte_t e)
{
	return (e & ch->f->untracked) != 0;
}

/* Is entry `e` of a node of kind `k` present?  (NODE_NEW and NODE_SPLIT are not read: e is 0.) */
static inline bool kind_entry_present(enum node_kind k, ptmm_pte_t e)
{
	return k == NODE_SPLIT || (k == NODE_EXISTING && ptmm_pte_is_present(e));
}

/* Is entry `e` of a node of kind `k` at `level` a present leaf? */
static inline bool kind_entry_leaf(const struct change *ch, enum node_kind k, ptmm_pte_t e, unsigned level)
{
	return k == NODE_SPLIT || (k == NODE_EXISTING && ptmm_pte_is_leaf(ch->f, e, level));
}

/*
 * Number of consecutive entries from entry i of a node at `level`, the
 * first at offset t, that lie wholly inside [t, hi): up to the end of the
 * range or of the node.
 */
static inline unsigned whole_entries(unsigned level, unsigned i, uint64_t t, uint64_t hi)
{
	PTMM_ASSERT(t < hi && i < PTMM_PTES_PER_NODE);
	uint64_t fit = (hi - t) / ptmm_level_size(level);
	unsigned left = PTMM_PTES_PER_NODE - i;
	return fit < left ? (unsigned)fit : left;
}

/* ---- split.c ---- */

/*
 * Replace the leaf in entry `sp->i` of `n` by a reserved node of 512
 * leaves of the next size down (same property and software tag, PA
 * stepping by the child size), which becomes `child`.  The view does not
 * change; frame accounting moves to the smaller leaves.  Cannot fail.
 */
void ptmm__split_leaf(struct change *ch, struct walk_node *n, const struct entry_span *sp,
		      struct walk_node *child);

/* ---- remove.c ---- */

/*
 * Remove the leaves among the `cnt` entries from entry i of `n`, each
 * wholly inside the range, up to the first table entry; returns the
 * entries it went past.  References are dropped per run (run_refs.h).
 */
unsigned ptmm__remove_leaf_run(struct change *ch, const struct walk_node *n, unsigned i, unsigned cnt);

/*
 * Remove whatever entry `sp->i` of `n` holds: a leaf, or a table and its
 * whole subtree (every node of it retired).  Assumes the entry is present
 * and wholly inside the change.  Cannot fail.
 */
void ptmm__remove_entry(struct change *ch, struct walk_node *n, const struct entry_span *sp);

#endif /* MM_CHANGE_H */
