/*
 * page_table.c - creating, sharing, activating and destroying page tables.
 */
#include "page_table.h"

#include "cursor.h"
#include "frame_internal.h"
#include "pte.h"

/* Half of the address space: 2^(va_bits-1) bytes. */
static uint64_t half_size(const struct mm_arch *a)
{
	return (uint64_t)1 << (a->va_bits - 1);
}

vaddr_t page_table_space_base(const struct page_table *pt)
{
	return pt->space == PT_USER ? 0 : (vaddr_t)0 - half_size(pt->arch);
}

uint64_t page_table_space_size(const struct page_table *pt)
{
	return half_size(pt->arch);
}

unsigned page_table_max_leaf_level(const struct page_table *pt)
{
	/* The kernel root's upper-half entries are preallocated tables. */
	unsigned top = pt->space == PT_KERNEL ? pt->arch->levels - 1u : pt->arch->levels;
	return pt->arch->max_leaf_level < top ? pt->arch->max_leaf_level : top;
}

static pte_t *node_table(const struct page_table *pt, paddr_t pa)
{
	return frame_to_virt(pt->ft, pa);
}

/*
 * A table whose creation failed owns nothing and is left destroyed, so
 * that a call on it is refused rather than walking a root it never had.
 */
static int init_failed(struct page_table *pt, int err)
{
	pt->root = 0;
	pt->destroyed = true;
	return err;
}

/* First root index of the upper half. */
#define UPPER_HALF_INDEX (MM_PTES_PER_NODE / 2)

int page_table_init_kernel(struct page_table *pt, const struct mm_arch *arch,
			   struct frame_table *ft, unsigned node_zone)
{
	*pt = (struct page_table){ .arch = arch, .ft = ft, .node_zone = node_zone,
				   .space = PT_KERNEL };
	int err = frame_table_limit_pa(ft, arch->pa_bits);
	if (err)
		return init_failed(pt, err);
	err = frame_node_alloc(ft, node_zone, arch->levels, &pt->root);
	if (err)
		return init_failed(pt, err);
	pte_t *root = node_table(pt, pt->root);
	struct frame_slot *rs = frame_slot_of(ft, pt->root);
	pte_t tmpl = arch->table_template(arch, arch->levels);

	/* Preallocate every upper-half child so user roots can share them. */
	for (unsigned i = UPPER_HALF_INDEX; i < MM_PTES_PER_NODE; i++) {
		paddr_t child;
		err = frame_node_alloc(ft, node_zone, arch->levels - 1u, &child);
		if (err) {
			for (unsigned j = UPPER_HALF_INDEX; j < i; j++)
				frame_node_free(ft, pte_table_addr(&arch->fmt, pte_read(&root[j])));
			frame_node_free(ft, pt->root);
			return init_failed(pt, err);
		}
		pte_link(&root[i], pte_make(&arch->fmt, tmpl, child));
		rs->nr_children++;
		rs->nr_tables++;
	}
	atomic_store(&pt->nr_nodes, 1 + MM_PTES_PER_NODE / 2);
	return MM_OK;
}

int page_table_init_user(struct page_table *pt, const struct mm_arch *arch,
			 struct frame_table *ft, unsigned node_zone,
			 const struct page_table *kernel)
{
	*pt = (struct page_table){ .arch = arch, .ft = ft, .node_zone = node_zone,
				   .space = PT_USER, .kernel = kernel };
	/* Share only a live kernel table of the same format and frames. */
	if (kernel && (kernel->destroyed || kernel->space != PT_KERNEL || kernel->arch != arch ||
		       kernel->ft != ft))
		return init_failed(pt, MM_EINVAL);
	int err = frame_table_limit_pa(ft, arch->pa_bits);
	if (err)
		return init_failed(pt, err);
	err = frame_node_alloc(ft, node_zone, arch->levels, &pt->root);
	if (err)
		return init_failed(pt, err);
	if (kernel) {
		pte_t *root = node_table(pt, pt->root);
		const pte_t *kroot = node_table(kernel, kernel->root);
		struct frame_slot *rs = frame_slot_of(ft, pt->root);
		/* Shared, not owned: the kernel table keeps these nodes alive. */
		for (unsigned i = UPPER_HALF_INDEX; i < MM_PTES_PER_NODE; i++) {
			pte_t e = pte_read(&kroot[i]);
			pte_write(&root[i], e); /* the table is not reachable yet */
			rs->nr_children += e != 0;
			rs->nr_tables += e != 0; /* all tables */
		}
	}
	atomic_store(&pt->nr_nodes, 1);
	return MM_OK;
}

int page_table_destroy(struct page_table *pt)
{
	if (pt->space != PT_USER || pt->destroyed)
		return MM_EINVAL;
	if (pt->ft->active == pt)
		return MM_EBUSY;
	struct cursor c;
	if (cursor_open(&c, pt, page_table_space_base(pt), page_table_space_size(pt)) == MM_OK) {
		/* Unmapping the whole half needs no split, so it cannot fail. */
		(void)cursor_unmap(&c, page_table_space_size(pt), (uint64_t *)0);
		cursor_close(&c);
	}
	frame_node_free(pt->ft, pt->root);
	pt->root = 0;
	pt->destroyed = true;
	atomic_store(&pt->nr_nodes, 0);
	return MM_OK;
}

int page_table_activate(const struct page_table *pt)
{
	if (pt->destroyed)
		return MM_EINVAL;
	pt->arch->tlb->activate(pt->arch->tlb->ctx, pt->root);
	pt->ft->active = pt;
	return MM_OK;
}
