/*
 * pte.h - inline PTE helpers over the declarative `struct pte_format`.
 *
 * These are what the per-entry loops of the cursor use: no function
 * pointers, just masks and shifts read from the format.  A PTE is
 * `template | address field`; all-zero means absent.
 */
#ifndef MM_PTE_H
#define MM_PTE_H

#include "arch.h"

static inline bool pte_is_present(pte_t pte)
{
	return pte != 0;
}

/* A present entry at level 1 is always a leaf; above, leaf_bits decide. */
static inline bool pte_is_leaf(const struct pte_format *f, pte_t pte, unsigned level)
{
	return level == 1 || (pte & f->leaf_bits) != 0;
}

/*
 * Physical address of the child node a present table entry points to
 * (table entries are never inverted: see fmt.addr_invert).
 */
static inline paddr_t pte_table_addr(const struct pte_format *f, pte_t pte)
{
	return ((pte & f->addr_mask) >> f->addr_shift) << MM_PAGE_SHIFT;
}

/*
 * The bits an entry made from `tmpl` (or an entry itself: the trigger
 * bits are outside the address field) holds inverted: addr_mask for a
 * template carrying fmt.addr_invert, else 0.  Branch-free.
 */
static inline pte_t pte_inversion(const struct pte_format *f, pte_t tmpl)
{
	return f->addr_mask & ((pte_t)0 - (pte_t)((tmpl & f->addr_invert) != 0));
}

/* Physical address of a present leaf at `level`. */
static inline paddr_t pte_addr(const struct pte_format *f, pte_t pte, unsigned level)
{
	pte ^= pte_inversion(f, pte);
	paddr_t pa = ((pte & f->addr_mask) >> f->addr_shift) << MM_PAGE_SHIFT;
	/* Low address-field bits of a huge leaf may hold attributes (x86 PAT). */
	return pa & ~(mm_level_size(level) - 1);
}

/* Address field for `pa` (4 KiB aligned). */
static inline pte_t pte_addr_field(const struct pte_format *f, paddr_t pa)
{
	return ((pa >> MM_PAGE_SHIFT) << f->addr_shift) & f->addr_mask;
}

/*
 * An entry made from a template (from the encoder) and an address; a
 * no-access template (fmt.addr_invert) gets the whole field inverted.
 */
static inline pte_t pte_make(const struct pte_format *f, pte_t tmpl, paddr_t pa)
{
	return (tmpl | pte_addr_field(f, pa)) ^ pte_inversion(f, tmpl);
}

/* Same address as `pte` (a present entry at `level`), new template. */
static inline pte_t pte_retemplate(const struct pte_format *f, pte_t pte, pte_t tmpl, unsigned level)
{
	return pte_make(f, tmpl, pte_addr(f, pte, level));
}

#endif /* MM_PTE_H */
