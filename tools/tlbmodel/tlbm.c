/*
 * tlbm.c - translation caches of simulated CPUs (see tlbm.h).
 */
#include "tlbm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ptmm/page_table.h>
#include <ptmm/pte.h>

void tlbm_reset(struct tlbm *m, const struct ptmm_frame_table *ft, const struct ptmm_page_table *pt)
{
	memset(m, 0, sizeof(*m));
	m->ft = ft;
	for (unsigned c = 0; c < TLBM_CPUS; c++)
		m->cpu[c].active = pt;
}

void tlbm_reset_complete(struct tlbm *m, const struct ptmm_frame_table *ft,
			 const struct ptmm_page_table *pt)
{
	tlbm_reset(m, ft, pt);
	m->complete = true;
}

void tlbm_free(struct tlbm *m)
{
	for (unsigned c = 0; c < TLBM_CPUS; c++) {
		free(m->cpu[c].all_leaf);
		free(m->cpu[c].all_walk);
	}
	memset(m, 0, sizeof(*m));
}

/* The entries a CPU holds: the ring (bounded: `valid` tells) or the held array (complete). */
static struct tlbm_leaf *leaves_of(const struct tlbm *m, const struct tlbm_cpu *cpu, size_t *n)
{
	*n = m->complete ? cpu->nr_all_leaf : TLBM_LEAVES;
	return m->complete ? cpu->all_leaf : (struct tlbm_leaf *)cpu->leaf;
}

static struct tlbm_walk *walks_of(const struct tlbm *m, const struct tlbm_cpu *cpu, size_t *n)
{
	*n = m->complete ? cpu->nr_all_walk : TLBM_WALKS;
	return m->complete ? cpu->all_walk : (struct tlbm_walk *)cpu->walk;
}

/* Room for one more element in a growable array (exits on a host allocation failure). */
static void *grow(void *v, size_t n, size_t *cap, size_t elem)
{
	if (n < *cap)
		return v;
	*cap = *cap ? 2 * *cap : 64;
	v = realloc(v, *cap * elem);
	if (v == NULL) {
		fprintf(stderr, "tlbm: out of memory\n");
		exit(1);
	}
	return v;
}

/* Cache a leaf or invalid entry: the oldest is replaced (bounded), or it is added (complete). */
static void store_leaf(const struct tlbm *m, struct tlbm_cpu *cpu, const struct tlbm_leaf *l)
{
	if (!m->complete) {
		cpu->leaf[cpu->next_leaf++ % TLBM_LEAVES] = *l;
		return;
	}
	cpu->all_leaf = grow(cpu->all_leaf, cpu->nr_all_leaf, &cpu->cap_all_leaf, sizeof(*l));
	cpu->all_leaf[cpu->nr_all_leaf++] = *l;
}

static void store_walk(const struct tlbm *m, struct tlbm_cpu *cpu, const struct tlbm_walk *w)
{
	if (!m->complete) {
		cpu->walk[cpu->next_walk++ % TLBM_WALKS] = *w;
		return;
	}
	cpu->all_walk = grow(cpu->all_walk, cpu->nr_all_walk, &cpu->cap_all_walk, sizeof(*w));
	cpu->all_walk[cpu->nr_all_walk++] = *w;
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

/* Does flush `kind` of [va, va + len) drop the leaf translation l (CPU `c`)? */
static bool flush_drops(const struct tlbm *m, unsigned c, const struct tlbm_leaf *l,
			enum tlbm_flush kind, ptmm_vaddr_t va, uint64_t len)
{
	switch (kind) {
	case TLBM_ALL: return true;
	case TLBM_ACTIVATE: return c == m->current && !l->global;
	case TLBM_PAGE: return leaf_meets(l, va, 1);
	case TLBM_RANGE: return leaf_meets(l, va, len);
	}
	return true;
}

/*
 * Complete mode: what remains of the cpu's held leaf entries after the
 * flush.  An invalid entry is a set of pages: the flushed pages leave it,
 * the pages before and after them stay (two entries at most).
 */
static void flush_held(struct tlbm *m, unsigned c, enum tlbm_flush kind, ptmm_vaddr_t va,
		       uint64_t len)
{
	struct tlbm_cpu *cpu = &m->cpu[c];
	size_t n = cpu->nr_all_leaf, k = 0, extra = 0;
	/* The flushed pages, [lo, hi) (128-bit: a range may end at 2^64). */
	unsigned __int128 lo = va & ~(PTMM_PAGE_SIZE - 1);
	unsigned __int128 hi = kind == TLBM_PAGE ? lo + PTMM_PAGE_SIZE : (unsigned __int128)va + len;
	hi = (hi + PTMM_PAGE_SIZE - 1) & ~(unsigned __int128)(PTMM_PAGE_SIZE - 1);
	for (size_t i = 0; i < n; i++) {
		struct tlbm_leaf l = cpu->all_leaf[i];
		if (!flush_drops(m, c, &l, kind, va, len)) {
			cpu->all_leaf[k++] = l;
			continue;
		}
		if (!l.invalid || kind == TLBM_ALL || kind == TLBM_ACTIVATE)
			continue;
		unsigned __int128 llo = l.va, lhi = (unsigned __int128)l.va + l.size;
		if (llo < lo) { /* the pages below the flush: in place */
			struct tlbm_leaf below = l;
			below.size = (uint64_t)(lo - llo);
			cpu->all_leaf[k++] = below;
		}
		if (hi < lhi) { /* the pages above it: after the held entries, moved down below */
			struct tlbm_leaf above = l;
			above.va = (ptmm_vaddr_t)hi;
			above.size = (uint64_t)(lhi - hi);
			cpu->all_leaf = grow(cpu->all_leaf, n + extra, &cpu->cap_all_leaf, sizeof(l));
			cpu->all_leaf[n + extra++] = above;
		}
	}
	if (extra)
		memmove(&cpu->all_leaf[k], &cpu->all_leaf[n], extra * sizeof(*cpu->all_leaf));
	cpu->nr_all_leaf = k + extra;
	if (kind == TLBM_ALL || (kind == TLBM_ACTIVATE && c == m->current))
		cpu->nr_all_walk = 0;
}

void tlbm_flush(struct tlbm *m, enum tlbm_flush kind, ptmm_vaddr_t va, uint64_t len)
{
	for (unsigned c = 0; c < TLBM_CPUS; c++) {
		struct tlbm_cpu *cpu = &m->cpu[c];
		if (kind == TLBM_ACTIVATE && c != m->current)
			continue; /* a root switch is local */
		if (m->complete) {
			flush_held(m, c, kind, va, len);
			continue;
		}
		for (unsigned i = 0; i < TLBM_LEAVES; i++) {
			struct tlbm_leaf *l = &cpu->leaf[i];
			if (l->valid && flush_drops(m, c, l, kind, va, len))
				l->valid = false;
		}
		if (kind == TLBM_ALL || kind == TLBM_ACTIVATE)
			for (unsigned i = 0; i < TLBM_WALKS; i++)
				cpu->walk[i].valid = false;
	}
}

/* The generation of the node at `node` (0 outside the frame table: never a live node's). */
static uint32_t gen_of(const struct tlbm *m, ptmm_paddr_t node)
{
	const struct ptmm_frame_slot *s = ptmm_frame_slot_of(m->ft, node);
	return s ? atomic_load(&s->gen) : 0;
}

static void cache_walk(const struct tlbm *m, struct tlbm_cpu *cpu, ptmm_vaddr_t region, unsigned level,
		       ptmm_paddr_t child)
{
	size_t n;
	const struct tlbm_walk *held = walks_of(m, cpu, &n);
	for (size_t i = 0; i < n; i++)
		if (held[i].valid && held[i].pt == cpu->active && held[i].va == region &&
		    held[i].level == level)
			return; /* a cached entry is used, not re-read (that is the point) */
	struct tlbm_walk w = { true, cpu->active, region, level, child, gen_of(m, child) };
	store_walk(m, cpu, &w);
}

/* Fill l (its walk's path already in it) with the translation of leaf entry e at `level`, VA va. */
static void leaf_translation(const struct tlbm *m, struct tlbm_leaf *l, ptmm_pte_t e, unsigned level,
			     ptmm_vaddr_t va)
{
	const struct ptmm_arch *a = l->pt->arch;
	struct ptmm_prop p = a->leaf_prop(a, e, level);
	l->valid = true;
	l->global = (p.flags & PTMM_PROP_G) != 0;
	l->va = va;
	l->size = ptmm_level_size(level);
	l->pa = ptmm_pte_addr(&a->fmt, e, level);
	l->perm = p.flags & (PTMM_PROP_RWX | PTMM_PROP_U | PTMM_PROP_G);
	l->cache = p.cache;
	l->tracked = !(e & a->fmt.untracked) && ptmm_frame_is_ram(m->ft, l->pa);
}

void tlbm_touch(struct tlbm *m, unsigned cpu_nr, ptmm_vaddr_t va)
{
	struct tlbm_cpu *cpu = &m->cpu[cpu_nr % TLBM_CPUS];
	const struct ptmm_page_table *pt = cpu->active;
	const struct ptmm_arch *a = pt->arch;
	va &= ~(PTMM_PAGE_SIZE - 1);
	/* A cached translation is used as it is (maybe stale: that is what is checked). */
	size_t n;
	const struct tlbm_leaf *held = leaves_of(m, cpu, &n);
	for (size_t i = 0; i < n; i++)
		if (held[i].valid && held[i].pt == pt && leaf_meets(&held[i], va, 1))
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
			store_leaf(m, cpu, &inv);
			return;
		}
		uint64_t size = ptmm_level_size(level);
		if (ptmm_pte_is_leaf(&a->fmt, e, level)) {
			struct ptmm_prop p = a->leaf_prop(a, e, level);
			if (ptmm_prop_is_noaccess(p)) { /* the hardware valid bit is clear */
				store_leaf(m, cpu, &inv);
				return;
			}
			leaf_translation(m, &l, e, level, canonical(a->va_bits, off & ~(size - 1)));
			store_leaf(m, cpu, &l);
			m->fills++;
			return;
		}
		node = ptmm_pte_table_addr(&a->fmt, e);
		cache_walk(m, cpu, canonical(a->va_bits, off & ~(size - 1)), level, node);
	}
}

/* ---- the complete mode's fill ---- */

/* A total order on leaf entries: invalid ones last, by table and VA (so a pass can merge them). */
static int leaf_cmp(const void *pa, const void *pb)
{
	const struct tlbm_leaf *a = pa, *b = pb;
#define CMP(x, y) if ((x) != (y)) return (x) < (y) ? -1 : 1
	CMP(a->invalid, b->invalid);
	CMP((uintptr_t)a->pt, (uintptr_t)b->pt);
	CMP(a->va, b->va);
	CMP(a->size, b->size);
	CMP(a->pa, b->pa);
	CMP(a->perm, b->perm);
	CMP(a->cache, b->cache);
	CMP(a->global, b->global);
	CMP(a->tracked, b->tracked);
	CMP(a->nr_path, b->nr_path);
	for (unsigned k = 0; k < a->nr_path; k++) {
		CMP(a->path[k], b->path[k]);
		CMP(a->gen[k], b->gen[k]);
	}
	return 0;
}

static int walk_cmp(const void *pa, const void *pb)
{
	const struct tlbm_walk *a = pa, *b = pb;
	CMP((uintptr_t)a->pt, (uintptr_t)b->pt);
	CMP(a->va, b->va);
	CMP(a->level, b->level);
	CMP(a->child, b->child);
	CMP(a->gen, b->gen);
#undef CMP
	return 0;
}

/*
 * The held leaf entries sorted, each once, and the invalid pages of each
 * table as disjoint ranges (overlapping or adjacent ones merged: an
 * invalid entry is a set of pages, so the union is exact).
 */
static void normalize_leaves(struct tlbm_cpu *cpu)
{
	size_t n = cpu->nr_all_leaf, k = 0;
	if (n < 2)
		return;
	qsort(cpu->all_leaf, n, sizeof(*cpu->all_leaf), leaf_cmp);
	for (size_t i = 1; i < n; i++) {
		struct tlbm_leaf *prev = &cpu->all_leaf[k], *l = &cpu->all_leaf[i];
		if (leaf_cmp(prev, l) == 0)
			continue;
		if (prev->invalid && l->invalid && prev->pt == l->pt &&
		    (unsigned __int128)prev->va + prev->size >= l->va) {
			unsigned __int128 end = (unsigned __int128)l->va + l->size;
			if (end > (unsigned __int128)prev->va + prev->size)
				prev->size = (uint64_t)(end - prev->va);
			continue;
		}
		cpu->all_leaf[++k] = *l;
	}
	cpu->nr_all_leaf = k + 1;
}

static void normalize_walks(struct tlbm_cpu *cpu)
{
	size_t n = cpu->nr_all_walk, k = 0;
	if (n < 2)
		return;
	qsort(cpu->all_walk, n, sizeof(*cpu->all_walk), walk_cmp);
	for (size_t i = 1; i < n; i++)
		if (walk_cmp(&cpu->all_walk[k], &cpu->all_walk[i]) != 0)
			cpu->all_walk[++k] = cpu->all_walk[i];
	cpu->nr_all_walk = k + 1;
}

/* A fill in progress: the walk's path, and the run of invalid pages not yet stored. */
struct filler {
	struct tlbm *m;
	struct tlbm_cpu *cpu;
	const struct ptmm_page_table *pt;
	struct tlbm_leaf path; /* nr_path, path[], gen[] of the node being read */
	uint64_t run_lo, run_hi; /* tree offsets of the pending invalid run; empty if equal */
};

/* Store the pending run of invalid pages as one invalid entry. */
static void flush_run(struct filler *f)
{
	if (f->run_lo == f->run_hi)
		return;
	struct tlbm_leaf inv = { .valid = true, .invalid = true, .pt = f->pt,
				  .va = canonical(f->pt->arch->va_bits, f->run_lo),
				  .size = f->run_hi - f->run_lo };
	store_leaf(f->m, f->cpu, &inv);
	f->run_lo = f->run_hi = 0;
}

/* Tree offsets [lo, hi) are absent or no-access: extend the run, or start a new one. */
static void add_invalid(struct filler *f, uint64_t lo, uint64_t hi)
{
	if (f->run_lo != f->run_hi && f->run_hi == lo) {
		f->run_hi = hi;
		return;
	}
	flush_run(f);
	f->run_lo = lo;
	f->run_hi = hi;
}

/* Everything the node at `pa` (level, first offset base) holds for tree offsets [lo, hi). */
static void fill_node(struct filler *f, ptmm_paddr_t pa, unsigned level, uint64_t base, uint64_t lo,
		      uint64_t hi)
{
	const struct ptmm_arch *a = f->pt->arch;
	const ptmm_pte_t *table = ptmm_frame_to_virt(f->m->ft, pa);
	uint64_t size = ptmm_level_size(level);
	unsigned depth = f->path.nr_path, i = ptmm_level_index(lo, level);
	/* Entries [i, last) meet [lo, hi). */
	uint64_t span = (hi - base + size - 1) / size;
	unsigned last = span < PTMM_PTES_PER_NODE ? (unsigned)span : PTMM_PTES_PER_NODE;
	f->path.path[depth] = pa;
	f->path.gen[depth] = gen_of(f->m, pa);
	f->path.nr_path = depth + 1;
	/* Plain reads: the model observes between operations (tlbm_touch is the concurrent walk). */
	while (i < last) {
		uint64_t start = base + (uint64_t)i * size;
		uint64_t s_lo = start > lo ? start : lo;
		ptmm_pte_t e = ptmm_pte_read(&table[i]);
		if (!ptmm_pte_is_present(e)) {
			/* A run of absent entries is one range of invalid pages. */
			unsigned j = i + 1;
			while (j < last && !ptmm_pte_is_present(ptmm_pte_read(&table[j])))
				j++;
			uint64_t end = base + (uint64_t)j * size;
			add_invalid(f, s_lo, end < hi ? end : hi);
			i = j;
			continue;
		}
		uint64_t s_hi = start + size < hi ? start + size : hi;
		if (ptmm_pte_is_leaf(&a->fmt, e, level)) {
			if (ptmm_prop_is_noaccess(a->leaf_prop(a, e, level))) {
				add_invalid(f, s_lo, s_hi);
			} else {
				struct tlbm_leaf l = f->path;
				leaf_translation(f->m, &l, e, level, canonical(a->va_bits, start));
				store_leaf(f->m, f->cpu, &l);
				f->m->fills++;
			}
		} else {
			ptmm_paddr_t child = ptmm_pte_table_addr(&a->fmt, e);
			struct tlbm_walk w = { true, f->pt, canonical(a->va_bits, start), level, child,
					       gen_of(f->m, child) };
			store_walk(f->m, f->cpu, &w);
			fill_node(f, child, level - 1, start, s_lo, s_hi);
		}
		i++;
	}
	f->path.nr_path = depth;
}

void tlbm_fill_all(struct tlbm *m, unsigned cpu_nr)
{
	if (!m->complete) {
		fprintf(stderr, "tlbm: tlbm_fill_all needs the complete mode (it would evict)\n");
		abort();
	}
	struct tlbm_cpu *cpu = &m->cpu[cpu_nr % TLBM_CPUS];
	const struct ptmm_page_table *pt = cpu->active;
	const struct ptmm_arch *a = pt->arch;
	struct filler f = { .m = m, .cpu = cpu, .pt = pt, .path = { .valid = true, .pt = pt } };
	uint64_t lo = ptmm_page_table_space_base(pt) & (((uint64_t)1 << a->va_bits) - 1);
	fill_node(&f, pt->root, a->levels, 0, lo, lo + ptmm_page_table_space_size(pt));
	flush_run(&f);
	normalize_leaves(cpu);
	normalize_walks(cpu);
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
	return s && s->usage == PTMM_FRAME_PT_NODE && atomic_load(&s->gen) == gen;
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

/* Does the tree map every page of the cached leaf `l` as l does (cache attribute too), with at least its rights? */
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
	    (c->l->perm & ~mp->prop.flags) != 0 || c->l->cache != mp->prop.cache ||
	    ptmm_prop_is_noaccess(mp->prop))
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
		size_t nl, nw;
		const struct tlbm_leaf *leaves = leaves_of(m, cpu, &nl);
		const struct tlbm_walk *walks = walks_of(m, cpu, &nw);
		for (size_t i = 0; i < nl; i++) {
			const struct tlbm_leaf *l = &leaves[i];
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
		for (size_t i = 0; i < nw; i++) {
			const struct tlbm_walk *w = &walks[i];
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
