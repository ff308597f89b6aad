/*
 * walk.c - the raw walk (walk.h).
 */
#include "walk.h"

#include <ptmm/pte.h>

struct walker {
	struct world *w;
	void (*leaf_fn)(void *, const struct walk_leaf *);
	void (*node_fn)(void *, uint64_t, unsigned, ptmm_paddr_t);
	void *ctx;
};

static ptmm_vaddr_t canonical(const struct ptmm_arch *a, uint64_t off)
{
	uint64_t sign = (uint64_t)1 << (a->va_bits - 1);
	return (off & sign) ? off | ~(((uint64_t)1 << a->va_bits) - 1) : off;
}

static void walk_node(struct walker *k, ptmm_paddr_t pa, unsigned level, uint64_t base,
		      unsigned first, unsigned last)
{
	const struct ptmm_arch *a = &k->w->arch;
	const ptmm_pte_t *tbl = ptmm_frame_to_virt(&k->w->ft, pa);
	uint64_t size = ptmm_level_size(level);
	for (unsigned i = first; i <= last; i++) {
		ptmm_pte_t e = tbl[i];
		uint64_t off = base + (uint64_t)i * size;
		if (!ptmm_pte_is_present(e))
			continue;
		if (ptmm_pte_is_leaf(&a->fmt, e, level)) {
			struct walk_leaf l = {
				.va = canonical(a, off), .size = size, .level = level,
				.pa = ptmm_pte_addr(&a->fmt, e, level), .pte = e,
				.prop = a->leaf_prop(a, e, level),
				.untracked = (e & a->fmt.untracked) != 0,
			};
			l.mmio = !ptmm_frame_is_ram(&k->w->ft, l.pa);
			if (k->leaf_fn)
				k->leaf_fn(k->ctx, &l);
			continue;
		}
		ptmm_paddr_t child = ptmm_pte_table_addr(&a->fmt, e);
		if (k->node_fn)
			k->node_fn(k->ctx, off, level - 1, child);
		walk_node(k, child, level - 1, off, 0, PTMM_PTES_PER_NODE - 1);
	}
}

void walk_tree(struct world *w, void (*leaf_fn)(void *, const struct walk_leaf *),
	       void (*node_fn)(void *, uint64_t, unsigned, ptmm_paddr_t), void *ctx)
{
	struct walker k = { w, leaf_fn, node_fn, ctx };
	unsigned half = PTMM_PTES_PER_NODE / 2;
	bool kernel = w->pt.space == PTMM_PT_KERNEL;
	walk_node(&k, w->pt.root, w->arch.levels, 0, kernel ? half : 0,
		  kernel ? PTMM_PTES_PER_NODE - 1 : half - 1);
}
