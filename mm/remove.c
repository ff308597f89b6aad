/*
 * remove.c - removing entries wholly inside a change: runs of leaves, and
 * tables with their whole subtree (the contracts are in change.h).  Used
 * by unmap and by a replacing map.
 */
#include "change.h"

#include "reclaim.h"
#include "rmap_internal.h"
#include "run_refs.h"

unsigned ptmm__remove_leaf_run(struct change *ch, const struct walk_node *n, unsigned i, unsigned cnt)
{
	/*
	 * The change's run of contiguous RAM frames is followed in locals
	 * (the entry stores could alias the change's fields) and handed back
	 * when it breaks and at the end.  A copy of the format the stores
	 * cannot alias either: its fields stay in registers.
	 */
	const struct ptmm_pte_format fmt = *ch->f, *f = &fmt;
	unsigned level = n->level, k, removed = 0;
	uint64_t size = ptmm_level_size(level);
	ptmm_pte_t *tbl = n->tbl;
	uint64_t extend = 0;    /* leaves added to the change's run, not yet counted */
	ptmm_paddr_t next = 1;  /* frame that would extend the run (1: no run) */
	ptmm_paddr_t limit = 0; /* end of the run's RAM range */
	PTMM_ASSERT(i + cnt <= PTMM_PTES_PER_NODE && node_is_locked(n->slot));
	if (ch->unref_n && ch->unref_size == size) {
		next = ch->unref_pa + ch->unref_n * size;
		limit = ch->unref_ram_end;
	}
	for (k = 0; k < cnt; k++) {
		ptmm_pte_t e = ptmm_pte_read(&tbl[i + k]);
		if (!ptmm_pte_is_present(e))
			continue;
		if (!ptmm_pte_is_leaf(f, e, level))
			break;
		ptmm_pte_clear(&tbl[i + k]);
		ptmm__rmap_del(ch->c->pt, entry_start(level, n->base, i + k), level, e);
		removed++;
		if (e & f->untracked)
			continue;
		ptmm_paddr_t pa = ptmm_pte_addr(f, e, level);
		if (pa == next && pa + size <= limit) {
			extend++;
			next += size;
			continue;
		}
		ch->unref_n += extend;
		extend = 0;
		run_unref_tracked(ch, pa, size);
		bool run = ch->unref_n && ch->unref_size == size && ch->unref_pa + (ch->unref_n - 1u) * size == pa;
		next = run ? pa + size : 1;
		limit = ch->unref_ram_end;
	}
	ch->unref_n += extend;
	PTMM_ASSERT(n->slot->nr_children >= removed);
	n->slot->nr_children -= removed;
	ch->bytes += (uint64_t)removed * size;
	return k;
}

/*
 * Retire every node and leaf below `n` (a node being cut from the tree),
 * clearing its entries as it goes: the node is then all zero when freed
 * (a zero block, reused without clearing).  Its lock is held and racing
 * walkers validate what they read, so the early clearing is not seen as
 * a state of the tree.
 */
static void drop_subtree(struct change *ch, const struct walk_node *n)
{
	if (n->level == 1 || n->slot->nr_tables == 0) {
		/* Only leaves: one loop, which cannot stop early (no table to meet). */
		unsigned k = ptmm__remove_leaf_run(ch, n, 0, PTMM_PTES_PER_NODE);
		PTMM_ASSERT(k == PTMM_PTES_PER_NODE && n->slot->nr_children == 0);
		(void)k;
		return;
	}
	for (unsigned i = 0; i < PTMM_PTES_PER_NODE; i++) {
		ptmm_pte_t e = ptmm_pte_read(&n->tbl[i]);
		if (!ptmm_pte_is_present(e))
			continue;
		ptmm_pte_clear(&n->tbl[i]);
		uint64_t e_start = entry_start(n->level, n->base, i);
		if (ptmm_pte_is_leaf(ch->f, e, n->level)) {
			ptmm__rmap_del(ch->c->pt, e_start, n->level, e);
			run_unref_leaf(ch, e, n->level);
			continue;
		}
		struct walk_node child;
		walk_child(ch->ft, ch->f, n, e, e_start, &child);
		drop_subtree(ch, &child);
		cursor_retire_node(ch->c, child.pa, child.level);
	}
	n->slot->nr_children = 0;
	n->slot->nr_tables = 0;
}

void ptmm__remove_entry(struct change *ch, struct walk_node *n, const struct entry_span *sp)
{
	ptmm_pte_t e = ptmm_pte_read(&n->tbl[sp->i]);
	PTMM_ASSERT(ptmm_pte_is_present(e) && sp->full && node_is_locked(n->slot));
	if (ptmm_pte_is_leaf(ch->f, e, n->level)) {
		run_unref_leaf(ch, e, n->level);
		ptmm_pte_clear(&n->tbl[sp->i]);
		ptmm__rmap_del(ch->c->pt, sp->start, n->level, e);
		n->slot->nr_children--;
		return;
	}
	struct walk_node child;
	walk_child(ch->ft, ch->f, n, e, sp->start, &child);
	drop_subtree(ch, &child);
	cursor_detach_node(ch->c, n->tbl, n->slot, sp->i, n->level, child.pa);
}

