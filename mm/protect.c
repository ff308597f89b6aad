/*
 * protect.c - ptmm_cursor_protect: giving the leaves of a range a new
 * property in place (same PA, same software tag), splitting a leaf only
 * where the range cuts it and the property really changes.
 */
#include <ptmm/cursor.h>

#include "addr.h"
#include "change.h"
#include "cursor_path.h"
#include "deferred_refs.h"
#include "node_reserve.h"
#include "prop_rules.h"
#include "tlb_batch.h"

/* The leaf `e` at `level` with the new property (same PA, same software tag). */
static ptmm_pte_t leaf_protected(struct change *ch, ptmm_pte_t e, unsigned level)
{
	return ptmm_pte_make(ch->f, change_leaf_template(ch, level) | (e & ch->f->untracked),
			     ptmm_pte_addr(ch->f, e, level));
}

/* Would the leaf `e` at `level` change under the new property? */
static bool leaf_changes(struct change *ch, ptmm_pte_t e, unsigned level)
{
	return leaf_protected(ch, e, level) != e;
}

/*
 * The dry pass: ch->nodes increased by the splits protect_real will make
 * (a leaf the range cuts whose property changes).  Protect has no error
 * of its own past its checks.
 */
static void protect_dry(struct change *ch, enum node_kind kind, const ptmm_pte_t *tbl, unsigned level,
			uint64_t base, uint64_t lo, uint64_t hi)
{
	for (uint64_t t = lo; t < hi;) {
		struct entry_span sp = entry_span(level, base, t, hi);
		ptmm_pte_t e = kind == NODE_EXISTING ? ptmm_pte_read(&tbl[sp.i]) : 0;
		uint64_t from = t;
		t = sp.stop;
		if (!kind_entry_present(kind, e) || sp.full)
			continue;
		if (kind_entry_leaf(ch, kind, e, level)) {
			/* Split only where the property really changes (the leaves of a split do). */
			if (kind == NODE_EXISTING && !leaf_changes(ch, e, level))
				continue;
			ch->nodes++;
			protect_dry(ch, NODE_SPLIT, 0, level - 1, sp.start, from, sp.stop);
		} else {
			protect_dry(ch, NODE_EXISTING, node_entries(ch->ft, ptmm_pte_table_addr(ch->f, e)),
				    level - 1, sp.start, from, sp.stop);
		}
	}
}

/* The real pass over node `n` for [lo, hi): rewrite, or split and descend.  Cannot fail. */
static void protect_real(struct change *ch, struct walk_node *n, uint64_t lo, uint64_t hi)
{
	PTMM_ASSERT(node_is_locked(n->slot));
	for (uint64_t t = lo; t < hi;) {
		struct entry_span sp = entry_span(n->level, n->base, t, hi);
		ptmm_pte_t e = ptmm_pte_read(&n->tbl[sp.i]);
		uint64_t from = t;
		t = sp.stop;
		if (!ptmm_pte_is_present(e))
			continue;
		struct walk_node child;
		if (ptmm_pte_is_leaf(ch->f, e, n->level)) {
			if (!leaf_changes(ch, e, n->level)) {
				ch->bytes += sp.stop - from;
				continue;
			}
			if (sp.full) {
				ptmm_pte_write(&n->tbl[sp.i], leaf_protected(ch, e, n->level));
				ch->bytes += sp.stop - from;
				if (!PTMM_MUTANT(PTMM_MUT_PROTECT))
					tlb_batch_add(&ch->c->batch, sp.start, sp.end);
				continue;
			}
			ptmm__split_leaf(ch, n, &sp, &child);
		} else {
			walk_child(ch->ft, ch->f, n, e, sp.start, &child);
		}
		path_descend(ch->c, &child, from);
		protect_real(ch, &child, from, sp.stop);
	}
}

int ptmm_cursor_protect(struct ptmm_cursor *c, uint64_t len, struct ptmm_prop prop, uint64_t *mapped)
{
	int err = cursor_check_len(c, len);
	if (err)
		return err;
	err = ptmm__prop_check(c, prop);
	if (!err)
		err = ptmm__prop_check_cache_protect(c, len, prop.cache);
	if (err)
		return err;
	ptmm__deferred_settle(c); /* splits count references too */
	struct change ch;
	change_init(&ch, c);
	ch.prop = prop;
	uint64_t lo = c->va, hi = c->va + len;
	struct walk_node n;
	path_start_node(c, lo, hi, &n);
	protect_dry(&ch, NODE_EXISTING, n.tbl, n.level, n.base, lo, hi);
	err = ptmm__reserve_nodes(c, ch.nodes);
	if (err)
		return err;
	protect_real(&ch, &n, lo, hi);
	reserve_check_spent(c);
	if (mapped)
		*mapped = ch.bytes;
	c->va = hi;
	return PTMM_OK;
}
