/*
 * rmap.c - the reverse map of debug builds (include/ptmm/rmap.h, MODEL.md
 * M8): one record per leaf, in a fixed pool inside the frame table,
 * hashed by (table, tree offset).  Built only with the meson option
 * `rmap` (PTMM_RMAP).
 *
 * Keys.  Two leaves of one table never share a tree offset (T10: one
 * entry per aligned VA slot), so (table, offset) names a leaf; its level
 * and PA are the record's payload, which the checker and the removal
 * hooks compare with the entry.
 *
 * Indices are stored plus one, so that the all-zero pool that
 * ptmm_frame_table_init leaves is the empty map (no set-up pass over it).
 */
#include "rmap_internal.h"

#include <ptmm/arch.h>
#include <ptmm/frame.h>
#include <ptmm/pte.h>
#include <ptmm/mm_assert.h>
#include "spinlock.h"

_Static_assert((PTMM_RMAP_RECORDS & (PTMM_RMAP_RECORDS - 1u)) == 0 && PTMM_RMAP_BUCKETS > 0,
	       "PTMM_RMAP_RECORDS is a power of two, at least 4");
_Static_assert(PTMM_RMAP_RECORDS < 0xffffffffu, "record indices fit in 32 bits plus one");

/* Bucket of (pt, off): a multiplicative hash of both (off's low 12 bits are zero). */
static uint32_t bucket_of(const struct ptmm_page_table *pt, uint64_t off)
{
	uint64_t h = ((off >> PTMM_PAGE_SHIFT) ^ ((uint64_t)(uintptr_t)pt >> 4)) * 0x9e3779b97f4a7c15ull;
	return (uint32_t)(h >> 32) & (PTMM_RMAP_BUCKETS - 1u);
}

/*
 * Where the link to the record of (pt, off) is: the bucket head or the
 * `next` of the record before it; *link is 0 if there is none.
 */
static uint32_t *find_link(struct ptmm_rmap *m, const struct ptmm_page_table *pt, uint64_t off)
{
	uint32_t *link = &m->bucket[bucket_of(pt, off)];
	while (*link) {
		struct ptmm_rmap_record *r = &m->rec[*link - 1u];
		if (r->pt == pt && r->off == off)
			break;
		link = &r->next;
	}
	return link;
}

/* Record the leaf (pt, off, level, pa), or count it unrecorded if the pool is full.  Map lock held. */
static void add_one(struct ptmm_rmap *m, const struct ptmm_page_table *pt, uint64_t off, unsigned level,
		    ptmm_paddr_t pa)
{
	uint32_t i;
	if (m->free) {
		i = m->free - 1u;
		m->free = m->rec[i].next;
	} else if (m->top < PTMM_RMAP_RECORDS) {
		i = m->top++;
	} else {
		m->unrecorded++;
		return;
	}
	/* A leaf is written only into an absent entry: no record may exist yet. */
	PTMM_ASSERT(*find_link(m, pt, off) == 0);
	uint32_t *head = &m->bucket[bucket_of(pt, off)];
	m->rec[i] = (struct ptmm_rmap_record){ .pt = pt, .off = off, .pa = pa, .next = *head,
					       .level = (uint8_t)level };
	*head = i + 1u;
	m->used++;
}

/*
 * Forget the leaf (pt, off), which was `level`, `pa` in the tree.  Map
 * lock held.  A missing record is one of the unrecorded leaves if there
 * are any, else a stray; so is a record that disagrees with the entry.
 */
static void del_one(struct ptmm_rmap *m, const struct ptmm_page_table *pt, uint64_t off, unsigned level,
		    ptmm_paddr_t pa)
{
	uint32_t *link = find_link(m, pt, off);
	if (*link == 0) {
		if (m->unrecorded)
			m->unrecorded--;
		else
			m->strays++;
		return;
	}
	uint32_t i = *link - 1u;
	struct ptmm_rmap_record *r = &m->rec[i];
	if (r->level != level || r->pa != pa)
		m->strays++;
	*link = r->next;
	*r = (struct ptmm_rmap_record){ .next = m->free };
	m->free = i + 1u;
	m->used--;
}

void ptmm__rmap_add(const struct ptmm_page_table *pt, uint64_t off, unsigned level, ptmm_paddr_t pa,
		    uint64_t n)
{
	struct ptmm_rmap *m = &pt->ft->rmap;
	uint64_t size = ptmm_level_size(level);
	mm_spin_lock(&m->lock);
	for (uint64_t k = 0; k < n; k++)
		add_one(m, pt, off + k * size, level, pa + k * size);
	mm_spin_unlock(&m->lock);
}

void ptmm__rmap_del(const struct ptmm_page_table *pt, uint64_t off, unsigned level, ptmm_pte_t e)
{
	struct ptmm_rmap *m = &pt->ft->rmap;
	ptmm_paddr_t pa = ptmm_pte_addr(&pt->arch->fmt, e, level);
	mm_spin_lock(&m->lock);
	del_one(m, pt, off, level, pa);
	mm_spin_unlock(&m->lock);
}

void ptmm__rmap_split(const struct ptmm_page_table *pt, uint64_t off, unsigned level, ptmm_pte_t e)
{
	struct ptmm_rmap *m = &pt->ft->rmap;
	uint64_t step = ptmm_level_size(level - 1u);
	ptmm_paddr_t pa = ptmm_pte_addr(&pt->arch->fmt, e, level);
	mm_spin_lock(&m->lock);
	/* The huge path goes first, so that its record is free for a child. */
	del_one(m, pt, off, level, pa);
	for (unsigned j = 0; j < PTMM_PTES_PER_NODE; j++)
		add_one(m, pt, off + j * step, level - 1u, pa + j * step);
	mm_spin_unlock(&m->lock);
}

struct ptmm_rmap_record *ptmm__rmap_find(struct ptmm_frame_table *ft, const struct ptmm_page_table *pt,
					 uint64_t off)
{
	uint32_t i = *find_link(&ft->rmap, pt, off);
	return i ? &ft->rmap.rec[i - 1u] : (struct ptmm_rmap_record *)0;
}
