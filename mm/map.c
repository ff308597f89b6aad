/*
 * map.c - ptmm_cursor_map: writing leaves.
 *
 * Three roads to the same result (same entries, same node and frame
 * accounting, same release list and TLB batch), chosen by how much of
 * the general machinery a call needs:
 *
 *   ptmm_cursor_map
 *     map_page_cached  one 4 KiB page, the cached path already ends in its
 *                      level-1 node, the property and the frame's block are
 *                      the ones the cursor cached: no call, no stack frame
 *     map_checked      every argument check, then
 *       map_one_page   one 4 KiB page of tracked RAM, nothing to replace:
 *                      the one-page walk is the dry pass (change.h)
 *       map_range      anything else: dry pass, reserve, real pass
 */
#include <ptmm/cursor.h>

#include "addr.h"
#include "change.h"
#include "cursor_path.h"
#include "deferred_refs.h"
#include "frame_internal.h"
#include "node_reserve.h"
#include "prop_rules.h"
#include "rmap_internal.h"
#include "run_refs.h"
#include "tlb_batch.h"

/* ---- map_range: the two passes ---- */

/*
 * Level of the leaf that map places at offset t: 1 without PTMM_MAP_HUGE;
 * with it, the largest level whose page size both VA and PA are aligned to
 * and that fits in what remains (MODEL.md section 5, PTSIM greedy rule).
 */
static unsigned choose_level(const struct change *ch, uint64_t t)
{
	if (!(ch->flags & PTMM_MAP_HUGE))
		return 1;
	ptmm_paddr_t pa = ch->pa0 + (t - ch->va0);
	for (unsigned l = ch->max_level; l > 1; l--) {
		uint64_t size = ptmm_level_size(l);
		if (ptmm_is_aligned(t, size) && ptmm_is_aligned(pa, size) && ch->end - t >= size)
			return l;
	}
	return 1;
}

/*
 * The dry pass: PTMM_EEXIST if a leaf is in the way (without
 * PTMM_MAP_REPLACE), else PTMM_OK with ch->nodes increased by the nodes
 * map_real will take.  Changes nothing else.
 *
 * Where choose_level gives `level` at entry i, it gives the same answer
 * for every following entry wholly inside the range (VA and PA stay
 * aligned to the size): the run is one step.
 */
static int map_dry(struct change *ch, enum node_kind kind, const ptmm_pte_t *tbl, unsigned level,
		   uint64_t base, uint64_t lo, uint64_t hi)
{
	bool replace = ch->flags & PTMM_MAP_REPLACE;
	for (uint64_t t = lo; t < hi;) {
		struct entry_span sp = entry_span(level, base, t, hi);
		ptmm_pte_t e = kind == NODE_EXISTING ? ptmm_pte_read(&tbl[sp.i]) : 0;
		bool present = kind_entry_present(kind, e);
		unsigned want = choose_level(ch, t);
		int err = PTMM_OK;

		if (present && !replace && (want == level || kind_entry_leaf(ch, kind, e, level)))
			return PTMM_EEXIST; /* a leaf would be overwritten */
		if (want == level && !replace) {
			/* A run of leaves of this level: only an entry in the way matters. */
			unsigned cnt = whole_entries(level, sp.i, t, hi);
			if (kind == NODE_EXISTING)
				for (unsigned k = 1; k < cnt; k++)
					if (ptmm_pte_is_present(ptmm_pte_read(&tbl[sp.i + k])))
						return PTMM_EEXIST;
			t += (uint64_t)cnt * ptmm_level_size(level);
			continue;
		}
		if (want < level) {
			/* A child table is needed: new, split off a leaf, or existing. */
			if (!present) {
				ch->nodes++;
				if (level - 1 > 1)
					err = map_dry(ch, NODE_NEW, 0, level - 1, sp.start, t, sp.stop);
			} else if (kind_entry_leaf(ch, kind, e, level)) {
				ch->nodes++;
				if (level - 1 > 1)
					err = map_dry(ch, NODE_SPLIT, 0, level - 1, sp.start, t, sp.stop);
			} else {
				const ptmm_pte_t *ctbl = node_entries(ch->ft, ptmm_pte_table_addr(ch->f, e));
				err = map_dry(ch, NODE_EXISTING, ctbl, level - 1, sp.start, t, sp.stop);
			}
			if (err)
				return err;
		}
		t = sp.stop;
	}
	return PTMM_OK;
}

/*
 * Write `cnt` leaves of the node's level into the absent entries from
 * entry i on, mapping VA offset t onwards; one reference run for them all.
 */
static void fill_leaves(struct change *ch, struct walk_node *n, unsigned i, unsigned cnt, uint64_t t)
{
	uint64_t size = ptmm_level_size(n->level);
	ptmm_paddr_t pa = ch->pa0 + (t - ch->va0);
	ptmm_pte_t tmpl = change_leaf_template(ch, n->level);
	ptmm_pte_t *tbl = n->tbl;
	/*
	 * Entry k is entry 0 plus k steps (ptmm_pte_addr_step): the template has
	 * no bit where the additions carry (x86's PAT bit 12 of a huge leaf
	 * lies below the leaf's alignment).
	 */
	ptmm_pte_t e = ptmm_pte_make(ch->f, tmpl, pa), step = ptmm_pte_addr_step(ch->f, tmpl, size);
	ptmm__rmap_add(ch->c->pt, t, n->level, pa, cnt);
	for (unsigned k = 0; k < cnt; k++, e += step)
		ptmm_pte_write(&tbl[i + k], e);
	n->slot->nr_children += cnt;
	if (ch->flags & (PTMM_MAP_MMIO | PTMM_MAP_UNTRACKED))
		return; /* no references */
	run_ref_leaf(ch, pa, size);
	ch->ref_n += cnt - 1u; /* the run run_ref_leaf started or extended */
}

/* The real pass over node `n` for [lo, hi): what map_dry checked and counted.  Cannot fail. */
static void map_real(struct change *ch, struct walk_node *n, uint64_t lo, uint64_t hi)
{
	PTMM_ASSERT(node_is_locked(n->slot));
	for (uint64_t t = lo; t < hi;) {
		struct entry_span sp = entry_span(n->level, n->base, t, hi);
		ptmm_pte_t e = ptmm_pte_read(&n->tbl[sp.i]);
		unsigned want = choose_level(ch, t);

		if (want == n->level && !(ch->flags & PTMM_MAP_REPLACE)) {
			/* The dry pass found every entry of the run absent. */
			unsigned cnt = whole_entries(n->level, sp.i, t, hi);
			fill_leaves(ch, n, sp.i, cnt, t);
			t += (uint64_t)cnt * ptmm_level_size(n->level);
			continue;
		}
		if (want == n->level) {
			ptmm_paddr_t pa = ch->pa0 + (t - ch->va0);
			if (ptmm_pte_is_present(e))
				ptmm__remove_entry(ch, n, &sp); /* replace */
			ptmm_pte_write(&n->tbl[sp.i], ptmm_pte_make(ch->f, change_leaf_template(ch, n->level), pa));
			ptmm__rmap_add(ch->c->pt, t, n->level, pa, 1);
			n->slot->nr_children++;
			run_ref_leaf(ch, pa, ptmm_level_size(n->level));
		} else {
			struct walk_node child;
			if (!ptmm_pte_is_present(e)) {
				reserve_take(ch->c, n->level - 1, sp.start, &child);
				link_child(ch->c, n, sp.i, &child);
				n->slot->nr_children++;
			} else if (ptmm_pte_is_leaf(ch->f, e, n->level)) {
				ptmm__split_leaf(ch, n, &sp, &child);
			} else {
				walk_child(ch->ft, ch->f, n, e, sp.start, &child);
			}
			path_descend(ch->c, &child, t);
			map_real(ch, &child, t, sp.stop);
		}
		t = sp.stop;
	}
}

/*
 * ptmm_cursor_map past its argument checks: the frame check, the dry
 * pass, the reserve and the real pass.  Out of line so that the one-page
 * road does not set up this road's stack frame.
 */
static __attribute__((noinline)) int map_range(struct ptmm_cursor *c, ptmm_paddr_t pa, uint64_t len,
					       struct ptmm_prop prop, unsigned flags)
{
	int err;
	if (flags & PTMM_MAP_MMIO)
		err = ptmm_frame_range_is_mmio(c->pt->ft, pa, len) ? PTMM_OK : PTMM_ERANGE;
	else if (flags & PTMM_MAP_UNTRACKED)
		err = ptmm_frame_range_is_ram(c->pt->ft, pa, len) ? PTMM_OK : PTMM_ERANGE;
	else
		err = ptmm__frame_map_check(c->pt->ft, pa, len, &c->block_hint);
	if (err)
		return err;

	ptmm__deferred_settle(c); /* this road counts on exact references */
	struct change ch;
	change_init(&ch, c);
	ch.va0 = c->va;
	ch.end = c->va + len;
	ch.pa0 = pa;
	ch.flags = flags;
	ch.prop = prop;
	ch.tag = (flags & PTMM_MAP_UNTRACKED) ? c->arch->fmt.untracked : 0;
	struct walk_node n;
	path_start_node(c, ch.va0, ch.end, &n);
	err = map_dry(&ch, NODE_EXISTING, n.tbl, n.level, n.base, ch.va0, ch.end);
	if (!err)
		err = ptmm__reserve_nodes(c, ch.nodes);
	if (err)
		return err;
	map_real(&ch, &n, ch.va0, ch.end);
	ptmm__run_refs_commit(&ch);
	ptmm__run_unrefs_commit(&ch);
	reserve_check_spent(c);
	if (!PTMM_MUTANT(PTMM_MUT_MAP_GENERAL))
		tlb_batch_add(&c->batch, ch.va0, ch.end);
	c->va = ch.end;
	return PTMM_OK;
}

/* ---- one 4 KiB page ---- */

/*
 * A 4 KiB map touches one entry of one level-1 node, so the dry pass's
 * questions have direct answers: walking down from the cached path
 * through existing tables is the dry pass (an absent entry means "create
 * the nodes below", a huge leaf on the way is in the way), and the only
 * allocation is the chain of new nodes, made before anything is written.
 */

/*
 * Create the chain of nodes from the absent entry of `n` (level > 1) down
 * to level 1 for offset t, from the cursor's reserve; `n` ends at level 1.
 */
static void build_chain(struct ptmm_cursor *c, uint64_t t, struct walk_node *n)
{
	while (n->level > 1) {
		unsigned i = ptmm_level_index(t, n->level);
		struct walk_node child;
		reserve_take(c, n->level - 1, entry_start(n->level, n->base, i), &child);
		link_child(c, n, i, &child);
		n->slot->nr_children++;
		path_descend(c, &child, t);
		*n = child;
	}
}

/*
 * Install the 4 KiB leaf `pte` in the absent entry i of the level-1 node
 * `n` for offset t (its reference already taken) and move past it.
 */
static inline void install_page_leaf(struct ptmm_cursor *c, const struct walk_node *n, unsigned i,
				     ptmm_pte_t pte, uint64_t t)
{
	PTMM_ASSERT(n->level == 1 && !ptmm_pte_is_present(ptmm_pte_read(&n->tbl[i])) && node_is_locked(n->slot));
	ptmm_pte_write(&n->tbl[i], pte);
	ptmm__rmap_add(c->pt, t, 1, ptmm_pte_addr(&c->arch->fmt, pte, 1), 1);
	n->slot->nr_children++;
	if (!PTMM_MUTANT(PTMM_MUT_MAP_PAGE))
		tlb_batch_add(&c->batch, t, t + PTMM_PAGE_SIZE);
	c->va = t + PTMM_PAGE_SIZE;
}

/*
 * Map the page at the current VA to the tracked RAM frame `pa` with the
 * level-1 template `tmpl`, no replace.  Errors, in map_range's order:
 * those of ptmm__frame_map_check, PTMM_EEXIST (a leaf in the way),
 * PTMM_ENOMEM (no node); on any of them nothing changed.
 */
static int map_one_page(struct ptmm_cursor *c, ptmm_paddr_t pa, ptmm_pte_t tmpl)
{
	struct ptmm_frame_table *ft = c->pt->ft;
	uint64_t t = c->va;
	struct walk_node n;
	int err;
	if (ptmm_pte_is_present(path_walk_page(c, t, &n))) {
		err = ptmm__frame_map_check(ft, pa, PTMM_PAGE_SIZE, &c->block_hint);
		return err ? err : PTMM_EEXIST;
	}
	if (n.level > 1) {
		/* The frame is checked before the nodes are asked for, then taken. */
		err = ptmm__frame_map_check(ft, pa, PTMM_PAGE_SIZE, &c->block_hint);
		if (!err)
			err = ptmm__reserve_nodes(c, n.level - 1u);
		if (err)
			return err;
		err = deferred_take(c, pa);
		if (err) {
			ptmm__reserve_give_back(c);
			return err;
		}
		build_chain(c, t, &n);
		reserve_check_spent(c);
	} else {
		err = deferred_take(c, pa);
		if (err)
			return err;
	}
	install_page_leaf(c, &n, ptmm_level_index(t, 1), ptmm_pte_make(&c->arch->fmt, tmpl, pa), t);
	return PTMM_OK;
}

/* ---- the entry points ---- */

/* Is `p` the property whose check and level-1 template the cursor cached? */
static inline bool prop_cached(const struct ptmm_cursor *c, struct ptmm_prop p)
{
	return c->leaf_tmpl && ptmm_prop_eq(p, c->leaf_prop);
}

/*
 * Level-1 leaf template of the (checked) property `p`, cached per cursor.
 * Only write-back properties are cached: the one-page road trusts a
 * cached property for any frame of the deferred block, and the
 * one-memory-type rule was checked only for other frames.
 */
static ptmm_pte_t leaf_template_cached(struct ptmm_cursor *c, struct ptmm_prop p, bool cached)
{
	if (p.cache != PTMM_CACHE_WB)
		return c->arch->leaf_template(c->arch, p, 1);
	if (!cached) {
		c->leaf_tmpl = c->arch->leaf_template(c->arch, p, 1);
		c->leaf_inv = ptmm_pte_inversion(&c->arch->fmt, c->leaf_tmpl);
		c->leaf_prop = p;
	}
	return c->leaf_tmpl;
}

/*
 * The commonest one-page map, done with no call and no stack frame (the
 * entry point then costs nothing to enter or leave): the cursor's cached
 * path ends in the level-1 node of the current VA, the entry is absent,
 * the property is the cached one and the frame lies in the block whose
 * references the cursor defers.  False, with nothing changed, whenever
 * any of that does not hold; map_checked then gives the same answer,
 * errors included.
 */
static inline bool map_page_cached(struct ptmm_cursor *c, ptmm_paddr_t pa, uint64_t len, struct ptmm_prop prop,
				   unsigned flags)
{
	uint64_t t = c->va;
	if (len != PTMM_PAGE_SIZE || (flags & ~(unsigned)PTMM_MAP_HUGE) || c->end - t < len ||
	    !ptmm_is_aligned(pa, PTMM_PAGE_SIZE) || !prop_cached(c, prop) || !deferred_covers(c, pa))
		return false;
	struct walk_node n;
	if (!path_leaf_node(c, t, &n))
		return false;
	unsigned i = ptmm_level_index(t, 1);
	if (ptmm_pte_read(&n.tbl[i]) || !deferred_has_room(c))
		return false;
	c->deferred.delta++;
	/* The template's inversion is cached with it (leaf_template_cached). */
	PTMM_ASSERT(c->leaf_inv == ptmm_pte_inversion(&c->arch->fmt, c->leaf_tmpl));
	install_page_leaf(c, &n, i, ptmm_pte_make_inv(&c->arch->fmt, c->leaf_tmpl, c->leaf_inv, pa), t);
	return true;
}

/* ptmm_cursor_map in full: every check, then the one-page or the range road. */
static __attribute__((noinline)) int map_checked(struct ptmm_cursor *c, ptmm_paddr_t pa, uint64_t len,
						 struct ptmm_prop prop, unsigned flags)
{
	int err = cursor_check_len(c, len);
	if (err)
		return err;
	if (!ptmm_is_aligned(pa, PTMM_PAGE_SIZE))
		return PTMM_EALIGN;
	if (flags & ~(unsigned)(PTMM_MAP_HUGE | PTMM_MAP_REPLACE | PTMM_MAP_MMIO | PTMM_MAP_UNTRACKED))
		return PTMM_EINVAL;
	/* Untracked RAM is a kernel-table facility (direct map, image), and not MMIO. */
	if ((flags & PTMM_MAP_UNTRACKED) && ((flags & PTMM_MAP_MMIO) || c->pt->space != PTMM_PT_KERNEL))
		return PTMM_EINVAL;
	bool cached = prop_cached(c, prop); /* checked before */
	err = cached ? PTMM_OK : ptmm__prop_check(c, prop);
	if (err)
		return err;
	/*
	 * A PA the PTE cannot hold would be silently truncated.  (The cached
	 * road needs no such check: it maps only frames of a RAM block the
	 * cursor already references, inside the slot window, which
	 * ptmm_page_table_init_* keeps below 2^pa_bits.)
	 */
	if (!ptmm_arch_pa_fits(c->arch, pa, len))
		return PTMM_ERANGE;
	err = ptmm__prop_check_cache_map(c, pa, len, prop.cache, flags);
	if (err)
		return err;
	/* One page of tracked RAM, nothing to replace: no dry pass needed. */
	if (len == PTMM_PAGE_SIZE && !(flags & ~(unsigned)PTMM_MAP_HUGE))
		return map_one_page(c, pa, leaf_template_cached(c, prop, cached));
	return map_range(c, pa, len, prop, flags);
}

int ptmm_cursor_map(struct ptmm_cursor *c, ptmm_paddr_t pa, uint64_t len, struct ptmm_prop prop, unsigned flags)
{
	if (map_page_cached(c, pa, len, prop, flags))
		return PTMM_OK;
	return map_checked(c, pa, len, prop, flags);
}
