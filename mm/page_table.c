/*
 * page_table.c - creating, sharing and activating page tables (their
 * destruction, which needs a cursor, is in teardown.c).
 */
#include <ptmm/page_table.h>

#include "frame_internal.h"
#include <ptmm/pte.h>

unsigned ptmm_page_table_max_leaf_level(const struct ptmm_page_table *pt)
{
	/* The kernel root's upper-half entries are preallocated tables. */
	unsigned top = pt->space == PTMM_PT_KERNEL ? pt->arch->levels - 1u : pt->arch->levels;
	return pt->arch->max_leaf_level < top ? pt->arch->max_leaf_level : top;
}

static ptmm_pte_t *node_table(const struct ptmm_page_table *pt, ptmm_paddr_t pa)
{
	return ptmm_frame_to_virt(pt->ft, pa);
}

/*
 * A table whose creation failed owns nothing and is left destroyed, so
 * that a call on it is refused rather than walking a root it never had.
 */
static int init_failed(struct ptmm_page_table *pt, int err)
{
	pt->root = 0;
	pt->destroyed = true;
	return err;
}

/* First root index of the upper half. */
#define UPPER_HALF_INDEX (PTMM_PTES_PER_NODE / 2)

int ptmm_page_table_init_kernel(struct ptmm_page_table *pt, const struct ptmm_arch *arch,
			   struct ptmm_frame_table *ft, unsigned node_zone)
{
	*pt = (struct ptmm_page_table){ .arch = arch, .ft = ft, .node_zone = node_zone,
				   .space = PTMM_PT_KERNEL };
	int err = ptmm_frame_table_limit_pa(ft, arch->pa_bits);
	if (err)
		return init_failed(pt, err);
	err = ptmm__frame_node_alloc(ft, node_zone, arch->levels, &pt->root);
	if (err)
		return init_failed(pt, err);
	ptmm_pte_t *root = node_table(pt, pt->root);
	struct ptmm_frame_slot *rs = ptmm_frame_slot_of(ft, pt->root);
	ptmm_pte_t tmpl = arch->table_template(arch, arch->levels);

	/* Preallocate every upper-half child so user roots can share them. */
	for (unsigned i = UPPER_HALF_INDEX; i < PTMM_PTES_PER_NODE; i++) {
		ptmm_paddr_t child;
		err = ptmm__frame_node_alloc(ft, node_zone, arch->levels - 1u, &child);
		if (err) {
			for (unsigned j = UPPER_HALF_INDEX; j < i; j++)
				ptmm__frame_node_free(ft, ptmm_pte_table_addr(&arch->fmt, ptmm_pte_read(&root[j])));
			ptmm__frame_node_free(ft, pt->root);
			return init_failed(pt, err);
		}
		ptmm_pte_link(&root[i], ptmm_pte_make(&arch->fmt, tmpl, child));
		rs->nr_children++;
		rs->nr_tables++;
	}
	atomic_store(&pt->nr_nodes, 1 + PTMM_PTES_PER_NODE / 2);
	return PTMM_OK;
}

int ptmm_page_table_init_user(struct ptmm_page_table *pt, const struct ptmm_arch *arch,
			 struct ptmm_frame_table *ft, unsigned node_zone,
			 const struct ptmm_page_table *kernel)
{
	*pt = (struct ptmm_page_table){ .arch = arch, .ft = ft, .node_zone = node_zone,
				   .space = PTMM_PT_USER, .kernel = kernel };
	/* Share only a live kernel table of the same format and frames. */
	if (kernel && (kernel->destroyed || kernel->space != PTMM_PT_KERNEL || kernel->arch != arch ||
		       kernel->ft != ft))
		return init_failed(pt, PTMM_EINVAL);
	int err = ptmm_frame_table_limit_pa(ft, arch->pa_bits);
	if (err)
		return init_failed(pt, err);
	err = ptmm__frame_node_alloc(ft, node_zone, arch->levels, &pt->root);
	if (err)
		return init_failed(pt, err);
	if (kernel) {
		ptmm_pte_t *root = node_table(pt, pt->root);
		const ptmm_pte_t *kroot = node_table(kernel, kernel->root);
		struct ptmm_frame_slot *rs = ptmm_frame_slot_of(ft, pt->root);
		/* Shared, not owned: the kernel table keeps these nodes alive. */
		for (unsigned i = UPPER_HALF_INDEX; i < PTMM_PTES_PER_NODE; i++) {
			ptmm_pte_t e = ptmm_pte_read(&kroot[i]);
			ptmm_pte_write(&root[i], e); /* the table is not reachable yet */
			rs->nr_children += e != 0;
			rs->nr_tables += e != 0; /* all tables */
		}
	}
	atomic_store(&pt->nr_nodes, 1);
	return PTMM_OK;
}

int ptmm_page_table_activate(const struct ptmm_page_table *pt)
{
	if (pt->destroyed)
		return PTMM_EINVAL;
	pt->arch->tlb->activate(pt->arch->tlb->ctx, pt->root);
	pt->ft->active = pt;
	return PTMM_OK;
}
