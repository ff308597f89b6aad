/*
 * query.c - the read-only operations of a cursor: what is mapped at the
 * current VA, and the first mapping of a range.  They read nodes the
 * cursor holds and change nothing but the cached path.
 */
#include <ptmm/cursor.h>

#include "addr.h"
#include "cursor_path.h"
#include "walk.h"

/* Fill `out` from the present leaf `e` at `level` that covers offset `t`. */
static void leaf_mapping(const struct ptmm_cursor *c, ptmm_pte_t e, unsigned level, uint64_t t,
			 struct ptmm_mapping *out)
{
	uint64_t size = ptmm_level_size(level);
	out->va = tree_canonical(c->arch, t & ~(size - 1));
	out->size = size;
	out->pa = ptmm_pte_addr(&c->arch->fmt, e, level);
	out->prop = c->arch->leaf_prop(c->arch, e, level);
	out->present = true;
	out->mmio = !ptmm_frame_is_ram(c->pt->ft, out->pa);
	out->untracked = (e & c->arch->fmt.untracked) != 0;
}

int ptmm_cursor_query(struct ptmm_cursor *c, struct ptmm_mapping *out)
{
	if (!ptmm_cursor_is_open(c))
		return PTMM_EINVAL;
	uint64_t t = c->va;
	if (t >= c->end)
		return PTMM_ERANGE;

	struct walk_node n;
	ptmm_pte_t e = path_walk_page(c, t, &n);
	if (ptmm_pte_is_present(e)) {
		leaf_mapping(c, e, n.level, t, out);
		return PTMM_OK;
	}
	uint64_t size = ptmm_level_size(n.level);
	*out = (struct ptmm_mapping){ .va = tree_canonical(c->arch, t & ~(size - 1)), .size = size };
	return PTMM_OK;
}

/* The first leaf meeting [lo, hi) at or below node `n`: true and `out` filled, or false. */
static bool find_in_node(struct ptmm_cursor *c, const struct walk_node *n, uint64_t lo, uint64_t hi,
			 struct ptmm_mapping *out)
{
	const struct ptmm_pte_format *f = &c->arch->fmt;
	for (uint64_t t = lo; t < hi;) {
		struct entry_span sp = entry_span(n->level, n->base, t, hi);
		ptmm_pte_t e = ptmm_pte_read(&n->tbl[sp.i]);
		if (ptmm_pte_is_present(e)) {
			if (ptmm_pte_is_leaf(f, e, n->level)) {
				leaf_mapping(c, e, n->level, t, out);
				return true;
			}
			struct walk_node child;
			walk_child(c->pt->ft, f, n, e, sp.start, &child);
			if (find_in_node(c, &child, t, sp.stop, out))
				return true;
		}
		t = sp.stop;
	}
	return false;
}

int ptmm_cursor_find_next(struct ptmm_cursor *c, uint64_t len, struct ptmm_mapping *out)
{
	int err = cursor_check_len(c, len);
	if (err)
		return err;
	struct walk_node n;
	path_start_node(c, c->va, c->va + len, &n);
	return find_in_node(c, &n, c->va, c->va + len, out) ? PTMM_FOUND : PTMM_NOT_FOUND;
}
