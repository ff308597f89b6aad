/*
 * pte.h - inline PTE helpers over the declarative `struct ptmm_pte_format`.
 *
 * These are what the per-entry loops of the cursor use: no function
 * pointers, just masks and shifts read from the format.  A PTE is
 * `template | address field`; all-zero means absent.
 */
#ifndef PTMM_PTE_H
#define PTMM_PTE_H

#include "arch.h"

/*
 * The PTE access layer: every read and write of a page-table entry in mm/
 * goes through these five, and nothing else touches an entry.
 *
 * Why atomics.  A cursor changes entries only under the lock of their node,
 * but the lockless walk of ptmm_cursor_open (mm/lock.c) reads entries of nodes it
 * does not hold, and may even read a frame that was freed and became a
 * node of someone else meanwhile (it notices from the slot's generation
 * and retries).  Hardware page walkers read entries at any time too.  So
 * every access is a single, untorn 64-bit atomic access; C11 gives no
 * meaning to a plain access racing with another, and a compiler may tear
 * or repeat it.  Entries of tables are plain ptmm_pte_t (the hardware's format),
 * accessed with the __atomic builtins.
 *
 * Which order.  The walk is a seqlock reader: it reads an entry, then the
 * generation and flags of the slots involved, and trusts the entry only
 * if they did not change (mm/lock.c, node_still_valid).  For that, reading
 * an entry written in a node's *next* life must imply seeing that life's
 * generation.  So:
 *  - every store is a release store (ptmm_pte_write, ptmm_pte_clear, ptmm_pte_link): a
 *    walker that reads it (ptmm_pte_read_acquire) sees everything its writer
 *    had seen, in particular the generation bump that began the node's
 *    life (made before the first store, by the allocating cursor, or seen
 *    by every later one through the node lock);
 *  - ptmm_pte_link publishes a child table: the child's entries and slot
 *    (level, counts, generation) are visible to whoever reads the link;
 *  - ptmm_pte_read_acquire is the walker's read: it also keeps the validation
 *    reads after the entry read;
 *  - ptmm_pte_read is the read of the node's lock holder (or of the checker,
 *    which runs alone): nobody else writes the entry meanwhile (only a
 *    lock holder writes a live node, and a node is not freed while
 *    locked), and reads never race with reads, so it is a plain load,
 *    which lets the compiler vectorise the scans of 512 entries.
 * No fences: ThreadSanitizer (tools/test's build-tsan) does not model them,
 * and per access the orders cost nothing on x86 (every store of TSO is a
 * release store); on RISC-V a release store is a `fence rw,w` and a store,
 * the price of a walk that takes no lock.
 */
static inline ptmm_pte_t ptmm_pte_read(const ptmm_pte_t *p)
{
	return *p;
}

static inline ptmm_pte_t ptmm_pte_read_acquire(const ptmm_pte_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void ptmm_pte_write(ptmm_pte_t *p, ptmm_pte_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

/* Point an entry at a child table that is filled in (see above). */
static inline void ptmm_pte_link(ptmm_pte_t *p, ptmm_pte_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline void ptmm_pte_clear(ptmm_pte_t *p)
{
	__atomic_store_n(p, 0, __ATOMIC_RELEASE);
}

static inline bool ptmm_pte_is_present(ptmm_pte_t pte)
{
	return pte != 0;
}

/* A present entry at level 1 is always a leaf; above, leaf_bits decide. */
static inline bool ptmm_pte_is_leaf(const struct ptmm_pte_format *f, ptmm_pte_t pte, unsigned level)
{
	return level == 1 || (pte & f->leaf_bits) != 0;
}

/*
 * Physical address of the child node a present table entry points to
 * (table entries are never inverted: see fmt.addr_invert).
 */
static inline ptmm_paddr_t ptmm_pte_table_addr(const struct ptmm_pte_format *f, ptmm_pte_t pte)
{
	return ((pte & f->addr_mask) >> f->addr_shift) << PTMM_PAGE_SHIFT;
}

/*
 * The bits an entry made from `tmpl` (or an entry itself: the trigger
 * bits are outside the address field) holds inverted: addr_mask for a
 * template carrying fmt.addr_invert, else 0.  Branch-free.
 */
static inline ptmm_pte_t ptmm_pte_inversion(const struct ptmm_pte_format *f, ptmm_pte_t tmpl)
{
	return f->addr_mask & ((ptmm_pte_t)0 - (ptmm_pte_t)((tmpl & f->addr_invert) != 0));
}

/* Physical address of a present leaf at `level`. */
static inline ptmm_paddr_t ptmm_pte_addr(const struct ptmm_pte_format *f, ptmm_pte_t pte, unsigned level)
{
	pte ^= ptmm_pte_inversion(f, pte);
	ptmm_paddr_t pa = ((pte & f->addr_mask) >> f->addr_shift) << PTMM_PAGE_SHIFT;
	/* Low address-field bits of a huge leaf may hold attributes (x86 PAT). */
	return pa & ~(ptmm_level_size(level) - 1);
}

/* Address field for `pa` (4 KiB aligned). */
static inline ptmm_pte_t ptmm_pte_addr_field(const struct ptmm_pte_format *f, ptmm_paddr_t pa)
{
	return ((pa >> PTMM_PAGE_SHIFT) << f->addr_shift) & f->addr_mask;
}

/*
 * ptmm_pte_make with the template's inversion `inv` (ptmm_pte_inversion of
 * `tmpl`) already known: for a caller that makes many entries from one
 * template (the cursor caches it with its one-page template).
 */
static inline ptmm_pte_t ptmm_pte_make_inv(const struct ptmm_pte_format *f, ptmm_pte_t tmpl,
					   ptmm_pte_t inv, ptmm_paddr_t pa)
{
	return (tmpl | ptmm_pte_addr_field(f, pa)) ^ inv;
}

/*
 * An entry made from a template (from the encoder) and an address; a
 * no-access template (fmt.addr_invert) gets the whole field inverted.
 */
static inline ptmm_pte_t ptmm_pte_make(const struct ptmm_pte_format *f, ptmm_pte_t tmpl, ptmm_paddr_t pa)
{
	return ptmm_pte_make_inv(f, tmpl, ptmm_pte_inversion(f, tmpl), pa);
}

/*
 * What to add to an entry made from `tmpl` to get the entry of the next
 * `size` bytes of PA (runs of leaves, the children of a split).  The field
 * is the PFN shifted into place, so the step is the field of `size`; an
 * inverted field (fmt.addr_invert) holds addr_mask - field, so it steps
 * down.  Neither carries nor borrows out of the field while the PAs of the
 * run stay inside it.
 */
static inline ptmm_pte_t ptmm_pte_addr_step(const struct ptmm_pte_format *f, ptmm_pte_t tmpl, uint64_t size)
{
	ptmm_pte_t step = ptmm_pte_addr_field(f, size);
	return ptmm_pte_inversion(f, tmpl) ? (ptmm_pte_t)0 - step : step;
}

/* Same address as `pte` (a present entry at `level`), new template. */
static inline ptmm_pte_t ptmm_pte_retemplate(const struct ptmm_pte_format *f, ptmm_pte_t pte, ptmm_pte_t tmpl, unsigned level)
{
	return ptmm_pte_make(f, tmpl, ptmm_pte_addr(f, pte, level));
}

#endif /* PTMM_PTE_H */
