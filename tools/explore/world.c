/*
 * world.c - the explorer's machine, snapshots and TLB model (world.h).
 */
#define _GNU_SOURCE
#include "world.h"

#include <signal.h>
#include <stdarg.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <ptmm/mm_assert.h>
#include "walk.h"

static struct world *assert_world; /* the world whose operation is running */

/* An PTMM_ASSERT inside the mm is a violation of the step that ran it. */
void ptmm_assert_failed(const char *file, int line, const char *cond)
{
	struct world *w = assert_world;
	if (w == NULL || w->assert_jmp == NULL) {
		fprintf(stderr, "mm assertion failed: %s:%d: %s\n", file, line, cond);
		abort();
	}
	world_violation(w, "mm assertion failed: %s:%d: %s", file, line, cond);
	siglongjmp(*w->assert_jmp, 1);
}

/* The explorer is single-threaded: one context (the mm's self-deadlock detection). */
const void *ptmm_debug_context(void)
{
	static const char only;
	return &only;
}

/*
 * SIGALRM while a step runs: the mm did not terminate (an infinite loop is
 * a violation like any other).  Leaving the mm from a signal handler is
 * fine here: the world is restored from a snapshot or the run ends.
 */
static void watchdog(int sig)
{
	struct world *w = assert_world;
	(void)sig;
	if (w == NULL || w->assert_jmp == NULL)
		_exit(4);
	world_violation(w, "the step did not finish within its time limit (an endless loop?)");
	siglongjmp(*w->assert_jmp, 1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (p == NULL) {
		fprintf(stderr, "explore: out of memory\n");
		exit(1);
	}
	return p;
}

void world_violation(struct world *w, const char *fmt, ...)
{
	va_list ap;
	if (w->violation[0])
		return;
	va_start(ap, fmt);
	vsnprintf(w->violation, sizeof(w->violation), fmt, ap);
	va_end(ap);
	if (!w->violation[0])
		strcpy(w->violation, "violation");
}

bool world_failed(const struct world *w)
{
	return w->violation[0] != 0;
}

ptmm_vaddr_t world_base(const struct world *w)
{
	return ptmm_page_table_space_base(&w->pt);
}

uint64_t world_half(const struct world *w)
{
	return ptmm_page_table_space_size(&w->pt);
}

/* ---- TLB hooks ---- */

static void tlb_drop(struct world *w, ptmm_vaddr_t va, uint64_t len)
{
	struct tlb_model *t = &w->tlb;
	size_t k = 0;
	for (size_t i = 0; i < t->n; i++) {
		const struct tlb_entry *e = &t->e[i];
		/* Compared by last bytes: a range at the top of the kernel half ends at 2^64. */
		bool hit = e->size != 0 && e->va <= va + (len - 1) && va <= e->va + (e->size - 1);
		if (!hit)
			t->e[k++] = *e;
	}
	t->n = k;
}

static void hook_page(void *ctx, ptmm_vaddr_t va)
{
	struct world *w = ctx;
	tlb_check_released(w, "at a page flush (before it)");
	w->tlb.flushes++;
	tlb_drop(w, va, PTMM_PAGE_SIZE);
}

static void hook_range(void *ctx, ptmm_vaddr_t va, uint64_t len)
{
	struct world *w = ctx;
	tlb_check_released(w, "at a range flush (before it)");
	w->tlb.flushes++;
	tlb_drop(w, va, len);
}

static void hook_all(void *ctx)
{
	struct world *w = ctx;
	tlb_check_released(w, "at a full flush (before it)");
	w->tlb.flushes++;
	w->tlb.n = 0;
}

static void hook_activate(void *ctx, ptmm_paddr_t root)
{
	(void)ctx;
	(void)root;
}

static bool fail_hook(void *ctx, unsigned zone, unsigned order)
{
	struct world *w = ctx;
	(void)zone;
	(void)order;
	w->alloc_calls++;
	if (w->fail_at != 0 && w->alloc_calls == w->fail_at) {
		w->injected = true;
		return true;
	}
	return false;
}

/* ---- the machine ---- */

void world_init(struct world *w, const struct encoder_cfg *enc, bool kernel, uint64_t mem,
		uint64_t pool)
{
	int err;
	memset(w, 0, sizeof(*w));
	w->enc = enc;
	w->kernel = kernel;
	w->mem = mem;
	w->pool = pool;
	w->tlb_ops = (struct ptmm_tlb_ops){ hook_page, hook_range, hook_all, hook_activate, w };
	enc->init(&w->arch, enc->features, &w->tlb_ops);
	w->pa_limit = ((w->arch.fmt.addr_mask >> w->arch.fmt.addr_shift) + 1) << PTMM_PAGE_SHIFT;
	uint64_t top = mem + pool;
	w->phys = mmap(NULL, top, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (w->phys == MAP_FAILED) {
		perror("explore: mmap");
		exit(1);
	}
	/* The mm may touch node frames only: data RAM is inaccessible. */
	if (mprotect(w->phys, mem, PROT_NONE) != 0) {
		perror("explore: mprotect");
		exit(1);
	}
	w->slot_bytes = ptmm_frame_table_meta_bytes(0, top);
	w->slots = xmalloc(w->slot_bytes);
	err = ptmm_frame_table_init(&w->ft, w->slots, 0, top, (uintptr_t)w->phys);
	if (!err)
		err = ptmm_frame_table_add_ram(&w->ft, 0, mem, ZONE_DATA);
	if (!err)
		err = ptmm_frame_table_add_ram(&w->ft, mem, pool, ZONE_POOL);
	if (!err)
		err = ptmm_frame_table_add_mmio(&w->ft, top, w->pa_limit - top);
	if (err) {
		fprintf(stderr, "explore: frame table: %s\n", ptmm_strerror(err));
		exit(1);
	}
	ptmm_frame_zone_set_claimable(&w->ft, ZONE_DATA, true);
	ptmm_frame_table_set_fail_hook(&w->ft, fail_hook, w);
	err = kernel ? ptmm_page_table_init_kernel(&w->pt, &w->arch, &w->ft, ZONE_POOL)
		     : ptmm_page_table_init_user(&w->pt, &w->arch, &w->ft, ZONE_POOL, NULL);
	if (err) {
		fprintf(stderr, "explore: page table: %s\n", ptmm_strerror(err));
		exit(1);
	}
	assert_world = w;
	signal(SIGALRM, watchdog);
}

void world_free(struct world *w)
{
	free(w->tlb.e);
	free(w->tlb.cur);
	free(w->slots);
	munmap(w->phys, w->mem + w->pool);
	memset(w, 0, sizeof(*w));
}

void world_snap_free(struct world_snap *s)
{
	free(s->slots);
	free(s->pool);
	s->slots = s->pool = NULL;
}

void world_snap_init(struct world *w, struct world_snap *s)
{
	s->slots = xmalloc(w->slot_bytes);
	s->pool = xmalloc(w->pool);
}

void world_save(struct world *w, struct world_snap *s)
{
	s->ft = w->ft;
	s->pt = w->pt;
	memcpy(s->slots, w->slots, w->slot_bytes);
	memcpy(s->pool, w->phys + w->mem, w->pool);
}

void world_restore(struct world *w, const struct world_snap *s)
{
	w->ft = s->ft;
	w->pt = s->pt;
	memcpy(w->slots, s->slots, w->slot_bytes);
	memcpy(w->phys + w->mem, s->pool, w->pool);
	w->tlb.n = 0;
	w->fail_at = 0;
	w->alloc_calls = 0;
	w->injected = false;
	w->violation[0] = 0;
}

/* ---- TLB model ---- */

static int entry_cmp(const struct tlb_entry *a, const struct tlb_entry *b)
{
#define CMP(f) if ((a->f) != (b->f)) return (a->f) < (b->f) ? -1 : 1
	bool an = a->size == 0, bn = b->size == 0; /* leaves first, then nodes */
	if (an != bn)
		return an ? 1 : -1;
	CMP(va);
	CMP(size);
	CMP(level);
	CMP(pa);
	CMP(flags);
	CMP(cache);
	CMP(gen);
#undef CMP
	return 0;
}

static void push(struct tlb_entry **v, size_t *n, size_t *cap, const struct tlb_entry *e)
{
	if (*n == *cap) {
		*cap = *cap ? 2 * *cap : 256;
		*v = realloc(*v, *cap * sizeof(**v));
		if (*v == NULL)
			exit(1);
	}
	(*v)[(*n)++] = *e;
}

static void cur_leaf(void *ctx, const struct walk_leaf *l)
{
	struct world *w = ctx;
	struct tlb_entry e = { .va = l->va, .size = l->size, .pa = l->pa, .flags = l->prop.flags,
			       .cache = l->prop.cache, .ram = !l->mmio };
	push(&w->tlb.cur, &w->tlb.ncur, &w->tlb.capcur, &e);
}

static void cur_node(void *ctx, uint64_t base, unsigned level, ptmm_paddr_t pa)
{
	struct world *w = ctx;
	const struct ptmm_frame_slot *s = ptmm_frame_slot_of(&w->ft, pa);
	struct tlb_entry e = { .va = base, .size = 0, .pa = pa, .level = (uint8_t)level,
			       .gen = s ? atomic_load(&s->gen) : 0 };
	push(&w->tlb.cur, &w->tlb.ncur, &w->tlb.capcur, &e);
}

static int qcmp(const void *a, const void *b)
{
	return entry_cmp(a, b);
}

/* The current tree as sorted entries in w->tlb.cur. */
static void tlb_current(struct world *w)
{
	w->tlb.ncur = 0;
	walk_tree(w, cur_leaf, cur_node, w);
	if (w->tlb.ncur > 1) /* qsort's base may not be NULL, even for no entries */
		qsort(w->tlb.cur, w->tlb.ncur, sizeof(*w->tlb.cur), qcmp);
}

void tlb_clear(struct world *w)
{
	w->tlb.n = 0;
}

void tlb_fill(struct world *w)
{
	struct tlb_model *t = &w->tlb;
	tlb_current(w);
	/* Merge the sorted cached entries with the sorted current tree. */
	struct tlb_entry *out = NULL;
	size_t n = 0, cap = 0, i = 0, j = 0;
	if (t->n > 1)
		qsort(t->e, t->n, sizeof(*t->e), qcmp);
	while (i < t->n || j < t->ncur) {
		int c = i == t->n ? 1 : j == t->ncur ? -1 : entry_cmp(&t->e[i], &t->cur[j]);
		if (c <= 0)
			push(&out, &n, &cap, &t->e[i++]);
		else
			push(&out, &n, &cap, &t->cur[j++]);
		if (c == 0)
			j++;
	}
	free(t->e);
	t->e = out;
	t->n = n;
	t->cap = cap;
}

bool tlb_check_released(struct world *w, const char *where)
{
	const struct tlb_model *t = &w->tlb;
	for (size_t i = 0; i < t->n; i++) {
		const struct tlb_entry *e = &t->e[i];
		if (e->size == 0) {
			const struct ptmm_frame_slot *s = ptmm_frame_slot_of(&w->ft, e->pa);
			if (!s || s->usage != PTMM_FRAME_PT_NODE || atomic_load(&s->gen) != e->gen) {
				world_violation(w, "TLB %s: a cached paging-structure entry (level %u, "
						   "offset 0x%llx) reaches node frame 0x%llx, which was "
						   "released",
						where, e->level, (unsigned long long)e->va,
						(unsigned long long)e->pa);
				return false;
			}
			continue;
		}
		if (!e->ram)
			continue;
		for (ptmm_paddr_t cur = e->pa; cur < e->pa + e->size;) { /* PAs never wrap */
			const struct ptmm_frame_slot *h = ptmm_frame_block_head(&w->ft, cur);
			if (!h || h->usage != PTMM_FRAME_DATA ||
			    atomic_load(&h->refcount) == PTMM_FRAME_REF_UNUSED) {
				world_violation(w, "TLB %s: cached translation va 0x%llx (size 0x%llx) "
						   "reaches frame 0x%llx, which was released",
						where, (unsigned long long)e->va,
						(unsigned long long)e->size, (unsigned long long)cur);
				return false;
			}
			cur = ptmm_frame_slot_pa(&w->ft, h) + (PTMM_PAGE_SIZE << h->order);
		}
	}
	return true;
}

/* Index of the first current leaf ending after va. */
static size_t cur_first_after(const struct tlb_model *t, uint64_t va)
{
	size_t lo = 0, hi = t->ncur;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct tlb_entry *c = &t->cur[mid];
		bool before = c->size != 0 && c->va + (c->size - 1) < va;
		if (before)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Does the current tree translate [e->va, +size) exactly as the cached leaf e? */
static bool leaf_consistent(const struct tlb_model *t, const struct tlb_entry *e)
{
	/* [va, last] still to cover; last bytes, as a leaf may end at 2^64. */
	uint64_t va = e->va, last = e->va + (e->size - 1);
	for (size_t j = cur_first_after(t, va);; j++) {
		if (j >= t->ncur || t->cur[j].size == 0)
			return false;
		const struct tlb_entry *c = &t->cur[j];
		uint64_t c_last = c->va + (c->size - 1);
		if (c->va > va || c->flags != e->flags || c->cache != e->cache ||
		    c->pa - c->va != e->pa - e->va)
			return false;
		if (c_last >= last)
			return true;
		va = c_last + 1;
	}
}

bool tlb_check_consistent(struct world *w, const char *where)
{
	struct tlb_model *t = &w->tlb;
	tlb_current(w);
	for (size_t i = 0; i < t->n; i++) {
		const struct tlb_entry *e = &t->e[i];
		bool ok = e->size ? leaf_consistent(t, e)
				  : t->ncur && bsearch(e, t->cur, t->ncur, sizeof(*e), qcmp) != NULL;
		if (!ok) {
			world_violation(w, "TLB %s: a stale %s survives (va/offset 0x%llx, size 0x%llx, "
					   "pa 0x%llx): a change was not flushed",
					where, e->size ? "translation" : "paging-structure entry",
					(unsigned long long)e->va, (unsigned long long)e->size,
					(unsigned long long)e->pa);
			return false;
		}
	}
	return true;
}
