/*
 * walk.c - the raw walk (walk.h).
 */
#include "walk.h"

#include "mm/pte.h"

struct walker {
	struct world *w;
	void (*leaf_fn)(void *, const struct walk_leaf *);
	void (*node_fn)(void *, uint64_t, unsigned, paddr_t);
	void *ctx;
};

static vaddr_t canonical(const struct mm_arch *a, uint64_t off)
{
	uint64_t sign = (uint64_t)1 << (a->va_bits - 1);
	return (off & sign) ? off | ~(((uint64_t)1 << a->va_bits) - 1) : off;
}

static void walk_node(struct walker *k, paddr_t pa, unsigned level, uint64_t base,
		      unsigned first, unsigned last)
{
	const struct mm_arch *a = &k->w->arch;
	const pte_t *tbl = frame_to_virt(&k->w->ft, pa);
	uint64_t size = mm_level_size(level);
	for (unsigned i = first; i <= last; i++) {
		pte_t e = tbl[i];
		uint64_t off = base + (uint64_t)i * size;
		if (!pte_is_present(e))
			continue;
		if (pte_is_leaf(&a->fmt, e, level)) {
			struct walk_leaf l = {
				.va = canonical(a, off), .size = size, .level = level,
				.pa = pte_addr(&a->fmt, e, level), .pte = e,
				.prop = a->leaf_prop(a, e, level),
				.untracked = (e & a->fmt.untracked) != 0,
			};
			l.mmio = !frame_is_ram(&k->w->ft, l.pa);
			if (k->leaf_fn)
				k->leaf_fn(k->ctx, &l);
			continue;
		}
		paddr_t child = pte_table_addr(&a->fmt, e);
		if (k->node_fn)
			k->node_fn(k->ctx, off, level - 1, child);
		walk_node(k, child, level - 1, off, 0, MM_PTES_PER_NODE - 1);
	}
}

void walk_tree(struct world *w, void (*leaf_fn)(void *, const struct walk_leaf *),
	       void (*node_fn)(void *, uint64_t, unsigned, paddr_t), void *ctx)
{
	struct walker k = { w, leaf_fn, node_fn, ctx };
	unsigned half = MM_PTES_PER_NODE / 2;
	bool kernel = w->pt.space == PT_KERNEL;
	walk_node(&k, w->pt.root, w->arch.levels, 0, kernel ? half : 0,
		  kernel ? MM_PTES_PER_NODE - 1 : half - 1);
}
