/*
 * tlbm.c - translation caches of simulated CPUs (see tlbm.h).
 */
#include "tlbm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ptmm/pte.h>

void tlbm_reset(struct tlbm *m, const struct ptmm_frame_table *ft, const struct ptmm_page_table *pt)
{
	memset(m, 0, sizeof(*m));
	m->ft = ft;
	for (unsigned c = 0; c < TLBM_CPUS; c++)
		m->cpu[c].active = pt;
}

/* The canonical VA of tree offset `off` in a table of `va_bits` (sign-extended). */
static ptmm_vaddr_t canonical(unsigned va_bits, uint64_t off)
{
	off &= ((uint64_t)1 << va_bits) - 1;
	if (off & ((uint64_t)1 << (va_bits - 1)))
		off |= ~(((uint64_t)1 << va_bits) - 1);
	return off;
}

/* Does the leaf translation meet [va, va + len)?  (128-bit: no wrap at 2^64.) */
static bool leaf_meets(const struct tlbm_leaf *l, ptmm_vaddr_t va, uint64_t len)
{
	unsigned __int128 lo = va, hi = (unsigned __int128)va + len;
	unsigned __int128 llo = l->va, lhi = (unsigned __int128)l->va + l->size;
	return lo < lhi && llo < hi;
}

void tlbm_flush(struct tlbm *m, enum tlbm_flush kind, ptmm_vaddr_t va, uint64_t len)
{
	for (unsigned c = 0; c < TLBM_CPUS; c++) {
		struct tlbm_cpu *cpu = &m->cpu[c];
		if (kind == TLBM_ACTIVATE && c != m->current)
			continue; /* a root switch is local */
		for (unsigned i = 0; i < TLBM_LEAVES; i++) {
			struct tlbm_leaf *l = &cpu->leaf[i];
			if (!l->valid)
				continue;
			if (kind == TLBM_ALL || (kind == TLBM_ACTIVATE && !l->global) ||
			    (kind == TLBM_PAGE && leaf_meets(l, va, 1)) ||
			    (kind == TLBM_RANGE && leaf_meets(l, va, len)))
				l->valid = false;
		}
		if (kind == TLBM_ALL || kind == TLBM_ACTIVATE)
			for (unsigned i = 0; i < TLBM_WALKS; i++)
				cpu->walk[i].valid = false;
	}
}

static uint32_t gen_of(const struct tlbm *m, ptmm_paddr_t node)
{
	return atomic_load(&ptmm_frame_slot_of(m->ft, node)->gen);
}

static void cache_walk(const struct tlbm *m, struct tlbm_cpu *cpu, ptmm_vaddr_t region, unsigned level,
		       ptmm_paddr_t child)
{
	for (unsigned i = 0; i < TLBM_WALKS; i++)
		if (cpu->walk[i].valid && cpu->walk[i].pt == cpu->active &&
		    cpu->walk[i].va == region && cpu->walk[i].level == level)
			return; /* a cached entry is used, not re-read (that is the point) */
	struct tlbm_walk *w = &cpu->walk[cpu->next_walk++ % TLBM_WALKS];
	*w = (struct tlbm_walk){ true, cpu->active, region, level, child, gen_of(m, child) };
}

void tlbm_touch(struct tlbm *m, unsigned cpu_nr, ptmm_vaddr_t va)
{
	struct tlbm_cpu *cpu = &m->cpu[cpu_nr % TLBM_CPUS];
	const struct ptmm_page_table *pt = cpu->active;
	const struct ptmm_arch *a = pt->arch;
	va &= ~(PTMM_PAGE_SIZE - 1);
	/* A cached translation is used as it is (maybe stale: that is what is checked). */
	for (unsigned i = 0; i < TLBM_LEAVES; i++)
		if (cpu->leaf[i].valid && cpu->leaf[i].pt == pt && leaf_meets(&cpu->leaf[i], va, 1))
			return;
	uint64_t off = va & (((uint64_t)1 << a->va_bits) - 1);
	ptmm_paddr_t node = pt->root;
	struct tlbm_leaf l = { .pt = pt };
	/* What an absent or no-access entry leaves in the cache: an invalid 4K page. */
	struct tlbm_leaf inv = { .valid = true, .invalid = true, .pt = pt, .va = va,
				  .size = PTMM_PAGE_SIZE };
	for (unsigned level = a->levels; level >= 1; level--) {
		l.path[l.nr_path] = node;
		l.gen[l.nr_path++] = gen_of(m, node);
		const ptmm_pte_t *tbl = ptmm_frame_to_virt(m->ft, node);
		ptmm_pte_t e = ptmm_pte_read_acquire(&tbl[ptmm_level_index(off, level)]);
		if (!ptmm_pte_is_present(e)) {
			cpu->leaf[cpu->next_leaf++ % TLBM_LEAVES] = inv;
			return;
		}
		uint64_t size = ptmm_level_size(level);
		if (ptmm_pte_is_leaf(&a->fmt, e, level)) {
			struct ptmm_prop p = a->leaf_prop(a, e, level);
			if (ptmm_prop_is_noaccess(p)) { /* the hardware valid bit is clear */
				cpu->leaf[cpu->next_leaf++ % TLBM_LEAVES] = inv;
				return;
			}
			l.valid = true;
			l.global = (p.flags & PTMM_PROP_G) != 0;
			l.va = canonical(a->va_bits, off & ~(size - 1));
			l.size = size;
			l.pa = ptmm_pte_addr(&a->fmt, e, level);
			l.perm = p.flags & (PTMM_PROP_RWX | PTMM_PROP_U);
			l.tracked = !(e & a->fmt.untracked) && ptmm_frame_is_ram(m->ft, l.pa);
			cpu->leaf[cpu->next_leaf++ % TLBM_LEAVES] = l;
			m->fills++;
			return;
		}
		node = ptmm_pte_table_addr(&a->fmt, e);
		cache_walk(m, cpu, canonical(a->va_bits, off & ~(size - 1)), level, node);
	}
}

static int violation(char *buf, size_t len, const char *what, unsigned cpu, ptmm_vaddr_t va,
		     ptmm_paddr_t pa)
{
	snprintf(buf, len, "%s (cpu %u, va 0x%llx, pa 0x%llx)", what, cpu, (unsigned long long)va,
		 (unsigned long long)pa);
	return 1;
}

/* Is the node at `pa` still the live node of generation `gen`? */
static bool node_alive(const struct tlbm *m, ptmm_paddr_t pa, uint32_t gen)
{
	const struct ptmm_frame_slot *s = ptmm_frame_slot_of(m->ft, pa);
	return s->usage == PTMM_FRAME_PT_NODE && atomic_load(&s->gen) == gen;
}

/* Are the blocks of a tracked leaf's frames all allocated? */
static bool frames_alive(const struct tlbm *m, ptmm_paddr_t pa, uint64_t size)
{
	for (ptmm_paddr_t cur = pa; cur < pa + size;) {
		const struct ptmm_frame_slot *b = ptmm_frame_block_head(m->ft, cur);
		if (!b || b->usage != PTMM_FRAME_DATA)
			return false;
		cur = ptmm_frame_slot_pa(m->ft, b) + ((uint64_t)PTMM_PAGE_SIZE << b->order);
	}
	return true;
}

/* Does the tree map every page of the cached leaf `l` as l does, with at least its rights? */
struct cover {
	const struct tlbm *m;
	const struct tlbm_leaf *l;
	uint64_t covered;
	bool bad;
};

static void cover_leaf(void *ctx, const struct ptmm_mapping *mp, unsigned level)
{
	struct cover *c = ctx;
	(void)level;
	unsigned __int128 lo = mp->va > c->l->va ? mp->va : c->l->va;
	unsigned __int128 mhi = (unsigned __int128)mp->va + mp->size;
	unsigned __int128 lhi = (unsigned __int128)c->l->va + c->l->size;
	unsigned __int128 hi = mhi < lhi ? mhi : lhi;
	if (lo >= hi)
		return;
	/* Same PA at the same VA, and no right the tree does not give. */
	if (mp->pa + ((uint64_t)lo - mp->va) != c->l->pa + ((uint64_t)lo - c->l->va) ||
	    (c->l->perm & ~mp->prop.flags) != 0 || ptmm_prop_is_noaccess(mp->prop))
		c->bad = true;
	c->covered += (uint64_t)(hi - lo);
}

/* An invalid entry: the tree must not map its page (with any access) now. */
static void hidden_leaf(void *ctx, const struct ptmm_mapping *mp, unsigned level)
{
	struct cover *c = ctx;
	(void)level;
	if (!ptmm_prop_is_noaccess(mp->prop))
		c->bad = true;
}

/* A leaf of the tree met by walk_range (VA canonical, PA, properties). */
typedef void (*leaf_fn)(void *ctx, const struct ptmm_mapping *mp, unsigned level);

/* Leaves of the node at `pa` (level, first offset base) meeting tree offsets [lo, hi). */
static void walk_node(const struct tlbm *m, const struct ptmm_page_table *pt, ptmm_paddr_t pa,
		      unsigned level, uint64_t base, uint64_t lo, uint64_t hi, leaf_fn fn, void *ctx)
{
	const struct ptmm_arch *a = pt->arch;
	const ptmm_pte_t *table = ptmm_frame_to_virt(m->ft, pa);
	uint64_t size = ptmm_level_size(level);
	for (unsigned i = ptmm_level_index(lo, level); i < PTMM_PTES_PER_NODE; i++) {
		uint64_t start = base + (uint64_t)i * size;
		if (start >= hi)
			break;
		ptmm_pte_t pte = ptmm_pte_read(&table[i]);
		if (!ptmm_pte_is_present(pte))
			continue;
		if (ptmm_pte_is_leaf(&a->fmt, pte, level)) {
			struct ptmm_mapping mp = { .va = canonical(a->va_bits, start), .size = size,
						 .pa = ptmm_pte_addr(&a->fmt, pte, level),
						 .prop = a->leaf_prop(a, pte, level), .present = true };
			fn(ctx, &mp, level);
		} else {
			walk_node(m, pt, ptmm_pte_table_addr(&a->fmt, pte), level - 1, start,
				  lo > start ? lo : start, hi < start + size ? hi : start + size, fn, ctx);
		}
	}
}

/* The tree's leaves meeting [va, va + len) of pt, read without a cursor. */
static void walk_range(const struct tlbm *m, const struct ptmm_page_table *pt, ptmm_vaddr_t va,
		       uint64_t len, leaf_fn fn, void *ctx)
{
	uint64_t lo = va & (((uint64_t)1 << pt->arch->va_bits) - 1);
	walk_node(m, pt, pt->root, pt->arch->levels, 0, lo, lo + len, fn, ctx);
}

static bool tree_grants(const struct tlbm *m, const struct tlbm_leaf *l)
{
	if (l->invalid) {
		struct cover c = { m, l, 0, false };
		walk_range(m, l->pt, l->va, l->size, hidden_leaf, &c);
		return !c.bad;
	}
	struct cover c = { m, l, 0, false };
	walk_range(m, l->pt, l->va, l->size, cover_leaf, &c);
	return !c.bad && c.covered == l->size;
}

/* The tree's entry for the region of a cached paging-structure entry. */
static bool walk_current(const struct tlbm *m, const struct tlbm_walk *w)
{
	const struct ptmm_arch *a = w->pt->arch;
	uint64_t off = w->va & (((uint64_t)1 << a->va_bits) - 1);
	ptmm_paddr_t node = w->pt->root;
	for (unsigned level = a->levels; level >= w->level; level--) {
		const ptmm_pte_t *tbl = ptmm_frame_to_virt(m->ft, node);
		ptmm_pte_t e = ptmm_pte_read(&tbl[ptmm_level_index(off, level)]);
		if (!ptmm_pte_is_present(e) || ptmm_pte_is_leaf(&a->fmt, e, level))
			return false;
		node = ptmm_pte_table_addr(&a->fmt, e);
		if (level == w->level)
			return node == w->child;
	}
	return false;
}

int tlbm_check(const struct tlbm *m, bool closed, char *buf, size_t len)
{
	for (unsigned c = 0; c < TLBM_CPUS; c++) {
		const struct tlbm_cpu *cpu = &m->cpu[c];
		for (unsigned i = 0; i < TLBM_LEAVES; i++) {
			const struct tlbm_leaf *l = &cpu->leaf[i];
			if (!l->valid)
				continue;
			if (l->invalid) {
				if (closed && !tree_grants(m, l))
					return violation(buf, len,
							 "O10: cached invalid entry hides a mapping (spurious fault)",
							 c, l->va, 0);
				continue;
			}
			for (unsigned k = 0; k < l->nr_path; k++)
				if (!node_alive(m, l->path[k], l->gen[k]))
					return violation(buf, len, "O8: cached translation walks a released node",
							 c, l->va, l->path[k]);
			if (l->tracked && !frames_alive(m, l->pa, l->size))
				return violation(buf, len, "O8: cached translation reaches a released frame",
						 c, l->va, l->pa);
			if (closed && !tree_grants(m, l))
				return violation(buf, len,
						 "O10: cached translation grants more than the tree (stale)",
						 c, l->va, l->pa);
		}
		for (unsigned i = 0; i < TLBM_WALKS; i++) {
			const struct tlbm_walk *w = &cpu->walk[i];
			if (!w->valid)
				continue;
			if (!node_alive(m, w->child, w->gen))
				return violation(buf, len, "O8: cached table entry reaches a released node", c,
						 w->va, w->child);
			if (closed && !walk_current(m, w))
				return violation(buf, len, "O10: cached table entry is no longer the tree's", c,
						 w->va, w->child);
		}
	}
	return PTMM_OK;
}
