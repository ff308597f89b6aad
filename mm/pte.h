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

/*
 * The PTE access layer: every read and write of a page-table entry in mm/
 * goes through these five, and nothing else touches an entry.
 *
 * Why atomics.  A cursor changes entries only under the lock of their node,
 * but the lockless walk of cursor_open (cursor.c) reads entries of nodes it
 * does not hold, and may even read a frame that was freed and became a
 * node of someone else meanwhile (it notices from the slot's generation
 * and retries).  Hardware page walkers read entries at any time too.  So
 * every access is a single, untorn 64-bit atomic access; C11 gives no
 * meaning to a plain access racing with another, and a compiler may tear
 * or repeat it.  Entries of tables are plain pte_t (the hardware's format),
 * accessed with the __atomic builtins.
 *
 * Which order.
 *  - pte_link (release) publishes a child table: everything written to the
 *    child before (its entries, its slot: level, counts, generation) is
 *    visible to a walker that reads the entry with pte_read_acquire.  On
 *    x86 and RISC-V the hardware walker needs no more than that ordering
 *    of plain stores before the linking store.
 *  - pte_read_acquire is the walker's read: pairs with pte_link, and keeps
 *    the walker's later validation reads (the slot's generation and flags)
 *    after the entry read (the seqlock read side).
 *  - pte_write and pte_clear (relaxed) store leaves and clear entries: a
 *    walker never follows a leaf, and a cleared entry is either seen (the
 *    walk stops there) or not (the walk reaches a node that is detached
 *    and validates it; the node is freed only after the TLB flush, so
 *    whatever it reads is a node, live or with a bumped generation).
 *  - pte_read (relaxed) is the read of a lock holder or of the checker:
 *    nobody else writes the entry meanwhile, it only must not tear.
 * Relaxed accesses compile to plain moves: the per-entry loops cost the
 * same as before.  The generation's own ordering (bump, then a release
 * fence, then the node's stores) is in frame.c, frame_node_alloc.
 */
static inline pte_t pte_read(const pte_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline pte_t pte_read_acquire(const pte_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void pte_write(pte_t *p, pte_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/* Point an entry at a child table that is filled in (see above). */
static inline void pte_link(pte_t *p, pte_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline void pte_clear(pte_t *p)
{
	__atomic_store_n(p, 0, __ATOMIC_RELAXED);
}

static inline bool pte_is_present(pte_t pte)
{
	return pte != 0;
}

/* A present entry at level 1 is always a leaf; above, leaf_bits decide. */
static inline bool pte_is_leaf(const struct pte_format *f, pte_t pte, unsigned level)
{
	return level == 1 || (pte & f->leaf_bits) != 0;
}

/* Physical address of the child node a present table entry points to. */
static inline paddr_t pte_table_addr(const struct pte_format *f, pte_t pte)
{
	return ((pte & f->addr_mask) >> f->addr_shift) << MM_PAGE_SHIFT;
}

/* Physical address of a present leaf at `level`. */
static inline paddr_t pte_addr(const struct pte_format *f, pte_t pte, unsigned level)
{
	paddr_t pa = ((pte & f->addr_mask) >> f->addr_shift) << MM_PAGE_SHIFT;
	/* Low address-field bits of a huge leaf may hold attributes (x86 PAT). */
	return pa & ~(mm_level_size(level) - 1);
}

/* Address field for `pa` (4 KiB aligned). */
static inline pte_t pte_addr_field(const struct pte_format *f, paddr_t pa)
{
	return ((pa >> MM_PAGE_SHIFT) << f->addr_shift) & f->addr_mask;
}

/* An entry made from a template (from the encoder) and an address. */
static inline pte_t pte_make(const struct pte_format *f, pte_t tmpl, paddr_t pa)
{
	return tmpl | pte_addr_field(f, pa);
}

/* Same address as `pte` (a present entry at `level`), new template. */
static inline pte_t pte_retemplate(const struct pte_format *f, pte_t pte, pte_t tmpl, unsigned level)
{
	return pte_make(f, tmpl, pte_addr(f, pte, level));
}

#endif /* MM_PTE_H */
