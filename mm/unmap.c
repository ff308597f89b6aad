/*
 * unmap.c - ptmm_cursor_unmap: removing leaves and reclaiming the nodes
 * left empty, with the frames and nodes released only after the
 * cursor's flush (tlb_batch.h).
 *
 * The roads, as for map (map.c):
 *
 *   ptmm_cursor_unmap
 *     unmap_page_cached  one tracked 4 KiB leaf of the cached level-1 node,
 *                        of the deferred block, whose node keeps other
 *                        children: no call, no stack frame
 *     unmap_checked      the checks, then
 *       unmap_one_page   one 4 KiB page not under a huge leaf
 *       unmap_range      anything else: dry pass, reserve, real pass
 */
#include <ptmm/cursor.h>

#include "addr.h"
#include "change.h"
#include "cursor_path.h"
#include "deferred_refs.h"
#include "frame_internal.h"
#include "node_reserve.h"
#include "reclaim.h"
#include "rmap_internal.h"
#include "run_refs.h"
#include "tlb_batch.h"

/* ---- unmap_range: the two passes ---- */

/* Entries of the kernel root are shared tables: emptied, never removed. */
static bool entry_pinned(const struct change *ch, unsigned level)
{
	return ch->c->pt->space == PTMM_PT_KERNEL && level == ch->a->levels;
}

static void unmap_dry(struct change *ch, enum node_kind kind, const ptmm_pte_t *tbl, unsigned level,
		      uint64_t base, uint64_t lo, uint64_t hi);

/* unmap_dry for the one entry of the node that holds offset t, clipped to [t, hi). */
static void unmap_dry_entry(struct change *ch, enum node_kind kind, const ptmm_pte_t *tbl, unsigned level,
			    uint64_t base, uint64_t t, uint64_t hi)
{
	struct entry_span sp = entry_span(level, base, t, hi);
	ptmm_pte_t e = kind == NODE_EXISTING ? ptmm_pte_read(&tbl[sp.i]) : 0;
	if (!kind_entry_present(kind, e) || sp.full)
		return;
	if (kind_entry_leaf(ch, kind, e, level)) {
		ch->nodes++;
		unmap_dry(ch, NODE_SPLIT, 0, level - 1, sp.start, t, sp.stop);
	} else {
		unmap_dry(ch, NODE_EXISTING, node_entries(ch->ft, ptmm_pte_table_addr(ch->f, e)), level - 1,
			  sp.start, t, sp.stop);
	}
}

/*
 * The dry pass: ch->nodes increased by the nodes unmap_real will take
 * (one per split).  An unmap has no error of its own past its checks.
 * Only an entry cut by a boundary of [lo, hi) can need a node (for the
 * split of a leaf straddling it), and only the first and the last entry
 * the range meets can be cut: the dry pass of an unmap (and of a
 * protect's splits) looks at those two per level, whatever the length.
 */
static void unmap_dry(struct change *ch, enum node_kind kind, const ptmm_pte_t *tbl, unsigned level,
		      uint64_t base, uint64_t lo, uint64_t hi)
{
	uint64_t size = ptmm_level_size(level);
	uint64_t last = (hi - 1) & ~(size - 1);
	unmap_dry_entry(ch, kind, tbl, level, base, lo, hi);
	if (last > lo)
		unmap_dry_entry(ch, kind, tbl, level, base, last, hi);
}

/*
 * The real pass over node `n` for [lo, hi): whole leaves and subtrees are
 * removed, cut leaves split, and every node below `n` it empties is
 * detached.  Cannot fail.
 */
static void unmap_real(struct change *ch, struct walk_node *n, uint64_t lo, uint64_t hi)
{
	PTMM_ASSERT(node_is_locked(n->slot));
	for (uint64_t t = lo; t < hi;) {
		struct entry_span sp = entry_span(n->level, n->base, t, hi);
		if (sp.full) {
			/* Whole entries: leaves go in one loop, up to a table. */
			unsigned k = ptmm__remove_leaf_run(ch, n, sp.i, whole_entries(n->level, sp.i, t, hi));
			if (k) {
				t += (uint64_t)k * ptmm_level_size(n->level);
				continue;
			}
		}
		ptmm_pte_t e = ptmm_pte_read(&n->tbl[sp.i]);
		if (!ptmm_pte_is_present(e)) {
			t = sp.stop;
			continue;
		}
		bool leaf = ptmm_pte_is_leaf(ch->f, e, n->level);
		if (sp.full && (leaf || !entry_pinned(ch, n->level))) {
			ptmm__remove_entry(ch, n, &sp);
		} else {
			struct walk_node child;
			if (leaf)
				ptmm__split_leaf(ch, n, &sp, &child);
			else
				walk_child(ch->ft, ch->f, n, e, sp.start, &child);
			path_descend(ch->c, &child, t);
			unmap_real(ch, &child, t, sp.stop);
			if (child.slot->nr_children == 0 && node_reclaimable(ch->c->pt, child.level))
				cursor_detach_node(ch->c, n->tbl, n->slot, sp.i, n->level, child.pa);
		}
		t = sp.stop;
	}
}

/* ptmm_cursor_unmap past its checks; out of line for the reason of map_range. */
static __attribute__((noinline)) int unmap_range(struct ptmm_cursor *c, uint64_t len, uint64_t *removed)
{
	ptmm__deferred_settle(c); /* this road counts on exact references */
	struct change ch;
	change_init(&ch, c);
	uint64_t lo = c->va, hi = c->va + len;
	struct walk_node n;
	path_start_node(c, lo, hi, &n);
	unmap_dry(&ch, NODE_EXISTING, n.tbl, n.level, n.base, lo, hi);
	int err = ptmm__reserve_nodes(c, ch.nodes);
	if (err)
		return err;
	unmap_real(&ch, &n, lo, hi);
	ptmm__reclaim_path(c, n.level, lo);
	ptmm__run_unrefs_commit(&ch);
	reserve_check_spent(c);
	if (ch.bytes && !PTMM_MUTANT(PTMM_MUT_UNMAP_GENERAL))
		tlb_batch_add(&c->batch, lo, hi);
	if (removed)
		*removed = ch.bytes;
	c->va = hi;
	return PTMM_OK;
}

/* ---- one 4 KiB page ---- */

/*
 * ptmm__reclaim_path after a one-page unmap that left the node at `level`
 * (the end of the cached path, holding offset t) empty.  The common case,
 * an emptied level-1 node under a node that keeps other children, is done
 * here: its parent's entry and slot are the ones the walk just came
 * through, and a call would cost more than the detach.
 */
static inline void reclaim_page_path(struct ptmm_cursor *c, unsigned level, uint64_t t)
{
	if (level == 1 && c->guard_level > 1) {
		PTMM_ASSERT(c->level == 1 && node_reclaimable(c->pt, 1));
		cursor_detach_node(c, c->table[2], c->slot[2], ptmm_level_index(t, 2), 2, c->node[1]);
		if (c->slot[2]->nr_children != 0)
			return;
		level = 2;
	}
	ptmm__reclaim_path(c, level, t);
}

/*
 * Unmap the page at the current VA, reclaiming the nodes it leaves empty:
 * true.  False, with nothing changed, if a huge leaf covers the page (that
 * needs a split: unmap_range).  Cannot fail otherwise.
 */
static bool unmap_one_page(struct ptmm_cursor *c, uint64_t *removed)
{
	uint64_t t = c->va;
	struct walk_node n;
	ptmm_pte_t e = path_walk_page(c, t, &n);
	uint64_t bytes = 0;
	if (ptmm_pte_is_present(e) && n.level > 1)
		return false;
	if (ptmm_pte_is_present(e)) {
		ptmm_pte_clear(&n.tbl[ptmm_level_index(t, 1)]);
		ptmm__rmap_del(c->pt, t, 1, e);
		n.slot->nr_children--;
		bytes = PTMM_PAGE_SIZE;
	}
	/*
	 * As unmap_range: empty nodes detached bottom-up (the walk cached the
	 * path, so n is the deepest cached node), then the frame.
	 */
	if (n.slot->nr_children == 0)
		reclaim_page_path(c, n.level, t);
	if (bytes) {
		ptmm_paddr_t pa = ptmm_pte_addr(&c->arch->fmt, e, 1);
		bool tracked = !(e & c->arch->fmt.untracked);
		/* A frame of the deferred block is RAM: no need to look. */
		if (tracked && deferred_covers(c, pa))
			c->deferred.delta--;
		else if (tracked && frame_pa_is_ram(c->pt->ft, pa))
			ptmm__deferred_drop_other(c, pa);
		/* A removed table already makes the flush a full one (sparse unmaps). */
		if (!c->batch.tables && !PTMM_MUTANT(PTMM_MUT_UNMAP_PAGE))
			tlb_batch_add(&c->batch, t, t + PTMM_PAGE_SIZE);
	}
	if (removed)
		*removed = bytes;
	c->va = t + PTMM_PAGE_SIZE;
	return true;
}

/* ---- the entry points ---- */

/*
 * The commonest one-page unmap, with no call and no stack frame: a
 * tracked leaf of the cached level-1 node, of the deferred block, whose
 * node does not become empty.  False, with nothing changed, otherwise.
 */
static inline bool unmap_page_cached(struct ptmm_cursor *c, uint64_t len, uint64_t *removed)
{
	uint64_t t = c->va;
	struct walk_node n;
	if (len != PTMM_PAGE_SIZE || c->end - t < len || !path_leaf_node(c, t, &n))
		return false;
	unsigned i = ptmm_level_index(t, 1);
	ptmm_pte_t e = ptmm_pte_read(&n.tbl[i]);
	if (!e || (e & c->arch->fmt.untracked) || n.slot->nr_children < 2 ||
	    !deferred_covers(c, ptmm_pte_addr(&c->arch->fmt, e, 1)))
		return false;
	ptmm_pte_clear(&n.tbl[i]);
	ptmm__rmap_del(c->pt, t, 1, e);
	n.slot->nr_children--;
	c->deferred.delta--;
	if (!PTMM_MUTANT(PTMM_MUT_UNMAP_FAST))
		tlb_batch_add(&c->batch, t, t + PTMM_PAGE_SIZE);
	if (removed)
		*removed = PTMM_PAGE_SIZE;
	c->va = t + PTMM_PAGE_SIZE;
	return true;
}

/* ptmm_cursor_unmap in full: the checks, then the one-page or the range road. */
static __attribute__((noinline)) int unmap_checked(struct ptmm_cursor *c, uint64_t len, uint64_t *removed)
{
	int err = cursor_check_len(c, len);
	if (err)
		return err;
	if (len == PTMM_PAGE_SIZE && unmap_one_page(c, removed))
		return PTMM_OK;
	return unmap_range(c, len, removed);
}

int ptmm_cursor_unmap(struct ptmm_cursor *c, uint64_t len, uint64_t *removed)
{
	if (unmap_page_cached(c, len, removed))
		return PTMM_OK;
	return unmap_checked(c, len, removed);
}
