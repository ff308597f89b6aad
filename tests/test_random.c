/*
 * test_random.c - seeded randomized differential test of the cursor
 * against a small reference model of the contract (docs/SCRIPT.md "Semantics").
 *
 * The model is a sorted list of leaves {offset, size, pa, prop, mmio}
 * (offsets from the start of the table's half) with the contract's rules
 * and nothing else: greedy huge-page choice, splits that step the PA by the
 * child's size, protect that splits only where the property changes,
 * replace as unmap + map, exist, unmap, no implicit merge.  After every
 * operation the mm's view must equal the model leaf for leaf, stats.nodes
 * must equal the root plus the distinct nodes on paths to leaves, the
 * frame counts and free memory must follow, and ptmm_check must pass.
 * Occasionally an allocation is made to fail: the operation must then fail
 * as a whole.
 *
 * Batches run several operations through one cursor.  In half of them
 * (chosen per batch) the cursor is flushed and ptmm_check_open (ptmm_check
 * with that cursor's locks allowed, and MODEL.md section 4 on the cursor)
 * runs after every operation; in the other half releases stay pending
 * until the close, as an embedder's batch would leave them, and the
 * checker runs at the close only: while a cursor is open its deferred
 * reference counts and pending releases are not yet in the slots (a flush
 * puts them there).  The view is compared with the
 * model at the close (a snapshot needs its own cursor on the whole space,
 * which the batch's would block).
 *
 * Seed: MM_TEST_SEED (default below); operations per run: MM_TEST_OPS.
 * The seed and the last operation are printed when a run fails.
 */
#define _GNU_SOURCE
#include "harness.h"
#include "tlb_model.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_SEED 0x5eed2026u
#define DEFAULT_OPS 2000
#define MAX_MODEL_LEAVES 12000 /* beyond this the window is cleared */
#define MAX_NEW_LEAVES 2048    /* a single map never creates more */

/* ---- Random numbers (splitmix64: tiny, seedable, good enough) ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
	return rnd() % n;
}

static bool chance(unsigned percent)
{
	return below(100) < percent;
}

/* ---- The reference model ---- */

struct leaf {
	uint64_t off; /* offset from the space base */
	uint64_t size;
	ptmm_paddr_t pa;
	struct ptmm_prop prop;
	bool mmio;
};

struct model {
	struct leaf *v;
	size_t n, cap;
	unsigned max_level; /* highest leaf level */
	unsigned levels;    /* the tree's depth (root level) */
	bool kernel;
};

static void model_reserve(struct model *m, size_t extra)
{
	if (m->n + extra <= m->cap)
		return;
	while (m->cap < m->n + extra)
		m->cap = m->cap ? 2 * m->cap : 1024;
	m->v = realloc(m->v, m->cap * sizeof(*m->v));
	assert_non_null(m->v);
}

static uint64_t leaf_end(const struct leaf *l)
{
	return l->off + l->size;
}

/* Index of the first leaf ending after `off` (n if none). */
static size_t model_first_after(const struct model *m, uint64_t off)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (leaf_end(&m->v[mid]) <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The leaf containing `off`, or NULL. */
static struct leaf *model_leaf_at(struct model *m, uint64_t off)
{
	size_t i = model_first_after(m, off);
	return i < m->n && m->v[i].off <= off ? &m->v[i] : NULL;
}

static bool model_intersects(const struct model *m, uint64_t lo, uint64_t hi)
{
	size_t i = model_first_after(m, lo);
	return i < m->n && m->v[i].off < hi;
}

/* Replace leaf i by its 512 children (same prop, PA stepping by the child size). */
static void model_split_leaf(struct model *m, size_t i)
{
	struct leaf parent = m->v[i];
	uint64_t child = parent.size / PTMM_PTES_PER_NODE;

	model_reserve(m, PTMM_PTES_PER_NODE - 1);
	memmove(&m->v[i + PTMM_PTES_PER_NODE], &m->v[i + 1], (m->n - i - 1) * sizeof(*m->v));
	for (unsigned k = 0; k < PTMM_PTES_PER_NODE; k++) {
		struct leaf *c = &m->v[i + k];
		*c = parent;
		c->off = parent.off + k * child;
		c->pa = parent.pa + k * child;
		c->size = child;
	}
	m->n += PTMM_PTES_PER_NODE - 1;
}

/* Split until `b` is a leaf boundary (or lies in no leaf). */
static void model_split_at(struct model *m, uint64_t b)
{
	for (;;) {
		size_t i = model_first_after(m, b);
		if (i == m->n || m->v[i].off >= b)
			return; /* b is a boundary, or in no leaf */
		model_split_leaf(m, i);
	}
}

/* Bytes of leaves inside [lo, hi). */
static uint64_t model_bytes_in(const struct model *m, uint64_t lo, uint64_t hi)
{
	uint64_t sum = 0;
	for (size_t i = model_first_after(m, lo); i < m->n && m->v[i].off < hi; i++) {
		uint64_t a = m->v[i].off > lo ? m->v[i].off : lo;
		uint64_t b = leaf_end(&m->v[i]) < hi ? leaf_end(&m->v[i]) : hi;
		sum += b - a;
	}
	return sum;
}

static uint64_t model_unmap(struct model *m, uint64_t lo, uint64_t hi)
{
	size_t first, last;
	uint64_t removed = 0;

	if (m->n == 0)
		return 0;
	model_split_at(m, lo);
	model_split_at(m, hi);
	first = model_first_after(m, lo);
	for (last = first; last < m->n && m->v[last].off < hi; last++)
		removed += m->v[last].size;
	memmove(&m->v[first], &m->v[last], (m->n - last) * sizeof(*m->v));
	m->n -= last - first;
	return removed;
}

/* Split at b only if the leaf straddling b would change property. */
static void model_split_if_changes(struct model *m, uint64_t b, struct ptmm_prop p)
{
	struct leaf *l = model_leaf_at(m, b);
	if (l != NULL && l->off != b && !ptmm_prop_eq(l->prop, p))
		model_split_at(m, b);
}

static uint64_t model_protect(struct model *m, uint64_t lo, uint64_t hi, struct ptmm_prop p)
{
	uint64_t mapped = model_bytes_in(m, lo, hi);

	model_split_if_changes(m, lo, p);
	model_split_if_changes(m, hi, p);
	for (size_t i = model_first_after(m, lo); i < m->n && m->v[i].off < hi; i++) {
		/* A leaf still straddling an end has the property already. */
		if (m->v[i].off >= lo && leaf_end(&m->v[i]) <= hi)
			m->v[i].prop = p;
	}
	return mapped;
}

/* The greedy page size at (off, pa) with `left` bytes to go. */
static uint64_t greedy_size(const struct model *m, uint64_t off, ptmm_paddr_t pa, uint64_t left,
			    bool huge)
{
	for (unsigned level = huge ? m->max_level : 1; level > 1; level--) {
		uint64_t s = ptmm_level_size(level);
		if (ptmm_is_aligned(off, s) && ptmm_is_aligned(pa, s) && left >= s)
			return s;
	}
	return SZ_4K;
}

static uint64_t model_count_new_leaves(const struct model *m, uint64_t off, ptmm_paddr_t pa,
				       uint64_t len, bool huge)
{
	uint64_t n = 0;
	while (len > 0 && n <= MAX_NEW_LEAVES) {
		uint64_t s = greedy_size(m, off, pa, len, huge);
		off += s;
		pa += s;
		len -= s;
		n++;
	}
	return n;
}

/* Install the leaves of a map into a range known to be empty. */
static void model_install(struct model *m, uint64_t off, ptmm_paddr_t pa, uint64_t len,
			  struct ptmm_prop p, bool huge, bool mmio)
{
	size_t i = model_first_after(m, off);
	uint64_t count = model_count_new_leaves(m, off, pa, len, huge);

	model_reserve(m, count);
	memmove(&m->v[i + count], &m->v[i], (m->n - i) * sizeof(*m->v));
	for (uint64_t k = 0; k < count; k++) {
		uint64_t s = greedy_size(m, off, pa, len, huge);
		m->v[i + k] = (struct leaf){ off, s, pa, p, mmio };
		off += s;
		pa += s;
		len -= s;
	}
	m->n += count;
}

static unsigned size_level(uint64_t size)
{
	unsigned level = 1;
	while (ptmm_level_size(level) < size)
		level++;
	return level;
}

/*
 * Nodes: the root, plus for each level L below it the distinct level-L
 * nodes on paths to leaves (a leaf of level l lies below nodes of levels
 * l..levels-1); the kernel's level-(levels-1) nodes are all preallocated.
 * Leaves are sorted, so each level's node ids come in order.
 */
static uint64_t model_nodes(const struct model *m)
{
	uint64_t nodes = 1;
	for (unsigned level = 1; level < m->levels; level++) {
		uint64_t last = UINT64_MAX, count = 0;
		if (m->kernel && level == m->levels - 1) {
			nodes += PTMM_PTES_PER_NODE / 2;
			continue;
		}
		for (size_t i = 0; i < m->n; i++) {
			uint64_t id;
			if (size_level(m->v[i].size) > level)
				continue;
			id = m->v[i].off / ptmm_level_size(level + 1);
			if (id != last) {
				count++;
				last = id;
			}
		}
		nodes += count;
	}
	return nodes;
}

static int pa_cmp(const void *a, const void *b)
{
	const struct leaf *x = a, *y = b;
	return x->pa < y->pa ? -1 : x->pa > y->pa;
}

/* The RAM the model maps, as sorted disjoint PA intervals. */
struct pa_ranges {
	struct { ptmm_paddr_t lo, hi; } *r;
	size_t n;
	uint64_t frames; /* distinct RAM frames mapped at least once */
};

static void model_ram_ranges(const struct model *m, struct pa_ranges *out)
{
	struct leaf *ram = malloc((m->n + 1) * sizeof(*ram));
	size_t n = 0;

	assert_non_null(ram);
	out->r = malloc((m->n + 1) * sizeof(*out->r));
	assert_non_null(out->r);
	out->n = 0;
	out->frames = 0;
	for (size_t i = 0; i < m->n; i++)
		if (!m->v[i].mmio)
			ram[n++] = m->v[i];
	qsort(ram, n, sizeof(*ram), pa_cmp);
	for (size_t i = 0; i < n; i++) {
		ptmm_paddr_t lo = ram[i].pa, hi = ram[i].pa + ram[i].size;
		if (out->n > 0 && lo <= out->r[out->n - 1].hi) {
			if (hi > out->r[out->n - 1].hi)
				out->r[out->n - 1].hi = hi;
		} else {
			out->r[out->n].lo = lo;
			out->r[out->n].hi = hi;
			out->n++;
		}
	}
	for (size_t i = 0; i < out->n; i++)
		out->frames += (out->r[i].hi - out->r[i].lo) / SZ_4K;
	free(ram);
}

static bool ranges_intersect(const struct pa_ranges *pr, ptmm_paddr_t lo, ptmm_paddr_t hi)
{
	size_t a = 0, b = pr->n;
	while (a < b) { /* first range ending after lo */
		size_t mid = (a + b) / 2;
		if (pr->r[mid].hi <= lo)
			a = mid + 1;
		else
			b = mid;
	}
	return a < pr->n && pr->r[a].lo < hi;
}

static uint64_t model_mapped(const struct model *m)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < m->n; i++)
		sum += m->v[i].size;
	return sum;
}

/* The absent entry around `off` (not in any leaf): size of its level. */
static uint64_t model_absent_size(const struct model *m, uint64_t off, unsigned levels)
{
	for (unsigned level = 1; level < levels; level++) {
		uint64_t region = ptmm_level_size(level + 1);
		uint64_t lo = off & ~(region - 1);
		if ((m->kernel && level == levels - 1) || model_intersects(m, lo, lo + region))
			return ptmm_level_size(level);
	}
	return ptmm_level_size(levels);
}

/* ---- The run ---- */

struct run {
	struct harness *h;
	struct model m;
	uint64_t seed;
	unsigned op_index;
	char op[256];
	bool in_progress;
	uint64_t free_data0, free_pool0, nodes0;
	/*
	 * Two windows the operations touch (offsets from the space base): the
	 * bottom of the half (VA 0) and its top (the end of the lower half, or
	 * 2^64 in kernel space, where va + len wraps).
	 */
	uint64_t win_lo[2], win_hi[2];
	/*
	 * The "big" step of the offsets and windows: 512G, or a root entry
	 * where that is smaller (Sv39: 1G).  The 256T level of 5-level modes
	 * is left to the directed tests (a 256T range is too much for a model
	 * of 4K leaves).
	 */
	uint64_t big;
	unsigned win; /* window of the op being built */
	/*
	 * Batch mode: several operations through one cursor opened on
	 * [blo, bhi) (releases stay pending between them); the mm is compared
	 * with the model when the batch's cursor is closed.
	 */
	bool batch;
	bool batch_checked; /* flush and ptmm_check after every op of this batch */
	unsigned batch_left;
	struct ptmm_cursor bc;
	uint64_t blo, bhi;
	/* A small node pool: nomem may happen without injection. */
	bool tight_pool;
	/* Tallies, to show the run exercised what it should. */
	unsigned n_ok, n_err, n_nomem, n_split_ops, n_batches, n_batch_checks;
};

static struct run *current_run;

static void run_fail(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void run_fail(struct run *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fail_msg("seed 0x%" PRIx64 " op #%u [%s]: %s", r->seed, r->op_index, r->op, msg);
}

static ptmm_vaddr_t va_of(const struct run *r, uint64_t off)
{
	return h_space_base(r->h) + off;
}

/*
 * Data RAM against the model.  frame.h counts references per allocated
 * block (a 1G block mapped as one leaf is one block), so an unmapped frame
 * whose block still has mapped frames stays allocated.  What must hold:
 * every allocated data block still holds a mapped frame (nothing leaked),
 * and the free count is exactly the RAM outside allocated blocks.
 */
static void compare_data_blocks(struct run *r, const struct pa_ranges *pr)
{
	struct ptmm_frame_table *ft = &r->h->ft;
	uint64_t allocated = 0;
	ptmm_paddr_t pa = 0;

	while (pa < r->h->mem) {
		const struct ptmm_frame_slot *s = ptmm_frame_block_head(ft, pa);
		ptmm_paddr_t head = ptmm_frame_slot_pa(ft, s);
		uint64_t size = SZ_4K << s->order;
		if (atomic_load(&s->refcount) != PTMM_FRAME_REF_UNUSED) {
			if (!ranges_intersect(pr, head, head + size))
				run_fail(r, "data block 0x%" PRIx64 " (order %u, refcount 0x%x) is"
					 " allocated but none of its frames is mapped", head, s->order,
					 atomic_load(&s->refcount));
			allocated += size / SZ_4K;
		}
		pa = head + size;
	}
	if (allocated < pr->frames)
		run_fail(r, "%" PRIu64 " frames allocated, fewer than the %" PRIu64 " mapped",
			 allocated, pr->frames);
	if (h_free_data(r->h) != r->free_data0 - allocated)
		run_fail(r, "free data frames %" PRIu64 ", but %" PRIu64 " of %" PRIu64
			 " are in allocated blocks", h_free_data(r->h), allocated, r->free_data0);
}

/* Compare the mm with the model: view, stats, free memory. */
static void compare(struct run *r)
{
	struct h_snapshot s;
	const struct model *m = &r->m;
	struct pa_ranges pr;
	uint64_t nodes;
	char b1[16], b2[16];

	h_snapshot(r->h, &s);
	for (size_t i = 0; i < s.nr && i < m->n; i++) {
		const struct ptmm_mapping *g = &s.leaves[i];
		const struct leaf *w = &m->v[i];
		if (g->va != va_of(r, w->off) || g->size != w->size || g->pa != w->pa ||
		    !ptmm_prop_eq(g->prop, w->prop) || g->mmio != w->mmio)
			run_fail(r, "leaf %zu: mm va=0x%" PRIx64 " size=0x%" PRIx64 " pa=0x%" PRIx64
				 " %s mmio=%d; model va=0x%" PRIx64 " size=0x%" PRIx64
				 " pa=0x%" PRIx64 " %s mmio=%d", i, g->va, g->size, g->pa,
				 h_prop_str(g->prop, b1), g->mmio, va_of(r, w->off), w->size, w->pa,
				 h_prop_str(w->prop, b2), w->mmio);
	}
	if (s.nr != m->n)
		run_fail(r, "mm has %zu leaves, the model %zu", s.nr, m->n);
	nodes = model_nodes(m);
	model_ram_ranges(m, &pr);
	if (s.stats.nodes != nodes)
		run_fail(r, "stats.nodes=%" PRIu64 ", model %" PRIu64, s.stats.nodes, nodes);
	if (s.stats.mapped != model_mapped(m))
		run_fail(r, "stats.mapped=0x%" PRIx64 ", model 0x%" PRIx64, s.stats.mapped,
			 model_mapped(m));
	if (s.stats.frames != pr.frames)
		run_fail(r, "stats.frames=%" PRIu64 ", model %" PRIu64, s.stats.frames, pr.frames);
	compare_data_blocks(r, &pr);
	if (s.free_pool != r->free_pool0 - (nodes - r->nodes0))
		run_fail(r, "free pool frames %" PRIu64 ", expected %" PRIu64, s.free_pool,
			 r->free_pool0 - (nodes - r->nodes0));
	free(pr.r);
	h_snapshot_free(&s);
}

/* ---- Random operation parameters ---- */

/* A boundary-heavy offset inside the window. */
static uint64_t pick_off(struct run *r)
{
	static const uint64_t idx[] = { 0, 1, 2, 255, 256, 510, 511 };
	uint64_t off;
	if (!r->batch) /* a batch stays in the window it was opened in */
		r->win = chance(60) ? 0 : 1;
	off = r->win_lo[r->win];
	if (chance(30))
		off += r->big;
	off += idx[below(7)] * SZ_1G * (chance(60) ? 0 : 1);
	off += idx[below(7)] * SZ_2M * (chance(40) ? 0 : 1);
	off += idx[below(7)] * SZ_4K * (chance(50) ? 0 : 1);
	if (chance(20)) {
		uint64_t back = SZ_4K * (1 + below(3)); /* just below a boundary */
		if (off - r->win_lo[r->win] >= back)
			off -= back;
	}
	if (chance(8)) {
		/* Right below the end of the window (the end of the half for window 1). */
		const uint64_t sizes[] = { SZ_4K, SZ_2M, SZ_1G, r->big };
		off = r->win_hi[r->win] - sizes[below(4)] * (1 + below(2));
	}
	/* Windows smaller than 512 x 1G (Sv39): fold back in, keeping the pattern. */
	if (off >= r->win_hi[r->win])
		off = r->win_lo[r->win] + (off - r->win_lo[r->win]) %
						  (r->win_hi[r->win] - r->win_lo[r->win]);
	if (r->batch) /* fold into the batch's range, keeping the alignment pattern */
		off = r->blo + (off - r->win_lo[r->win]) % (r->bhi - r->blo);
	return off;
}

/* A length biased to page sizes and their neighbours, inside the window. */
static uint64_t pick_len(struct run *r, uint64_t off, bool small_only)
{
	uint64_t len;
	unsigned kind = below(small_only ? 2 : 4);

	if (kind == 0)
		len = SZ_4K * (1 + below(8));
	else if (kind == 1)
		len = SZ_2M * (1 + below(2));
	else if (kind == 2)
		len = SZ_1G * (1 + below(2));
	else
		len = r->big;
	if (chance(30))
		len += SZ_4K * (1 + below(2));
	else if (chance(20) && len > SZ_4K)
		len -= SZ_4K;
	if (off + len > r->win_hi[r->win])
		len = r->win_hi[r->win] - off;
	if (r->batch && off + len > r->bhi)
		len = r->bhi - off;
	return len;
}

static struct ptmm_prop pick_prop(struct run *r)
{
	static const unsigned flags[] = {
		PTMM_PROP_R, PTMM_PROP_R | PTMM_PROP_W, PTMM_PROP_R | PTMM_PROP_X,
		PTMM_PROP_R | PTMM_PROP_W | PTMM_PROP_X, 0, PTMM_PROP_X,
	};
	struct harness *h = r->h;
	unsigned f = flags[below(6)];
	unsigned cache = chance(80) ? PTMM_CACHE_WB : (unsigned)below(PTMM_CACHE_COUNT);
	if (chance(3))
		f = PTMM_PROP_W; /* malformed */
	if (chance(85))
		f |= h_is_kernel(h) ? PTMM_PROP_G : PTMM_PROP_U;
	else if (chance(20))
		f |= h_is_kernel(h) ? PTMM_PROP_U : PTMM_PROP_G; /* wrong half */
	return ptmm_prop_make(f, cache);
}

/* ---- Operations ---- */

/* ENOMEM is a correct answer when a failure was injected, or the pool is small. */
static bool nomem_ok(const struct run *r, int rc)
{
	return rc == PTMM_ENOMEM && (r->h->failed_allocs || r->tight_pool);
}

/* Accept `rc` if it is expected, or an acceptable ENOMEM. */
static bool rc_acceptable(struct run *r, int rc, const int *codes, unsigned ncodes)
{
	if (nomem_ok(r, rc))
		return true;
	for (unsigned i = 0; i < ncodes; i++)
		if (codes[i] == rc)
			return true;
	return false;
}

/*
 * The cursor for an op on [off, off+len): the batch's cursor moved there,
 * or a new one on the op's range or on a larger one (jumping to off).
 */
static struct ptmm_cursor *open_for(struct run *r, struct ptmm_cursor *c, uint64_t off, uint64_t len)
{
	uint64_t lo = off, hi = off + len;
	int rc;
	if (r->batch) {
		rc = ptmm_cursor_jump(&r->bc, va_of(r, off));
		if (rc != PTMM_OK)
			run_fail(r, "ptmm_cursor_jump in the batch -> %s", ptmm_strerror(rc));
		return &r->bc;
	}
	if (chance(30)) {
		uint64_t before = SZ_4K * below(4), after = SZ_4K * below(4);
		lo = off >= before ? off - before : 0;
		hi = hi + after <= h_space_size(r->h) ? hi + after : hi;
	}
	rc = ptmm_cursor_open(c, &r->h->pt, va_of(r, lo), hi - lo);
	if (rc != PTMM_OK)
		run_fail(r, "ptmm_cursor_open -> %s", ptmm_strerror(rc));
	if (lo != off) {
		rc = ptmm_cursor_jump(c, va_of(r, off));
		if (rc != PTMM_OK)
			run_fail(r, "ptmm_cursor_jump -> %s", ptmm_strerror(rc));
	}
	return c;
}

static void close_for(struct run *r, struct ptmm_cursor *c)
{
	if (c != &r->bc)
		ptmm_cursor_close(c);
}

/* Maybe arm a failure of one of the op's allocations (mostly the first few). */
static void maybe_inject(struct run *r)
{
	unsigned n = chance(60) ? 1 + (unsigned)below(4) : 1 + (unsigned)below(40);
	h_fail_nth(r->h, chance(12) ? n : 0);
}

static void batch_end(struct run *r);

/*
 * In a checked batch, after an op: flush (settles the deferred counts,
 * releases what was removed) and run ptmm_check.  A guard node the op left
 * empty is reclaimed only at the close (cursor.h), and the checker would
 * rightly call it an empty node left in the tree: the batch then ends
 * here, and batch_end checks and compares.
 */
static void batch_check(struct run *r)
{
	struct ptmm_cursor *c = &r->bc;
	ptmm_cursor_flush(c);
	if (c->slot[c->guard_level]->nr_children == 0) {
		batch_end(r);
		return;
	}
	h_assert_check_open(r->h, c, r->op);
	r->n_batch_checks++;
}

static void finish_op(struct run *r, int rc)
{
	struct harness *h = r->h;
	unsigned fired = h->failed_allocs;
	h_fail_nth(h, 0);
	if (rc == PTMM_OK && fired)
		run_fail(r, "an allocation failed but the op succeeded");
	if (rc == PTMM_ENOMEM) {
		if (!fired && !r->tight_pool)
			run_fail(r, "nomem without an injected failure");
		r->n_nomem++;
	} else if (rc == PTMM_OK) {
		r->n_ok++;
	} else {
		r->n_err++;
	}
	if (r->batch) {
		if (r->batch_checked) {
			batch_check(r);
		} else {
			/* Section 4 needs no flush: the open cursor itself, after every op. */
			char buf[256];
			if (ptmm_check_cursor(&r->bc, buf, sizeof(buf)) != PTMM_OK)
				run_fail(r, "cursor: %s", buf);
		}
		/* The cursor is open: nothing released may be cached, stale rights may be. */
		h_tlb_assert(h, false, r->op);
		return; /* compared when the batch's cursor closes */
	}
	h_assert_check(h, r->op);
	h_tlb_assert(h, true, r->op);
	compare(r);
}

/*
 * Before an op: a few hardware accesses on random CPUs to pages of random
 * mappings, so that the op's changes meet cached translations.
 */
static void touch_some(struct run *r)
{
	for (unsigned k = 0; k < 4 && r->m.n; k++) {
		const struct leaf *l = &r->m.v[below(r->m.n)];
		uint64_t page = below(l->size / SZ_4K);
		h_tlb_touch(r->h, (unsigned)below(H_TLB_CPUS), va_of(r, l->off + page * SZ_4K));
	}
}

static void do_map(struct run *r, bool mmio)
{
	struct harness *h = r->h;
	bool huge = chance(65), replace = chance(40);
	uint64_t off = pick_off(r);
	uint64_t len = pick_len(r, off, !(huge || mmio));
	struct ptmm_prop p = pick_prop(r);
	unsigned flags = (huge ? PTMM_MAP_HUGE : 0) | (replace ? PTMM_MAP_REPLACE : 0) |
			 (mmio ? PTMM_MAP_MMIO : 0);
	int codes[4], prc, rc;
	unsigned nc = 0;
	ptmm_paddr_t pa;
	struct ptmm_cursor c, *cur;

	/* A PA congruent to the VA modulo big pages most of the time. */
	if (mmio) {
		pa = H_MMIO_BASE + (chance(80) ? off % SZ_512G : SZ_4K * below(1024));
		if (chance(3))
			pa = SZ_4K * below(16); /* RAM: refused */
	} else {
		uint64_t span = h->mem > len ? h->mem - len : 0;
		pa = chance(75) ? (off % SZ_1G) + SZ_1G * below(h->mem / SZ_1G)
				: SZ_4K * below(span / SZ_4K + 1);
		if (chance(3))
			pa = h->pool_base + SZ_4K * below(16); /* node pool: refused */
	}
	if (model_count_new_leaves(&r->m, off, pa, len, huge) > MAX_NEW_LEAVES)
		return; /* too many leaves to be interesting; pick another op */
	snprintf(r->op, sizeof(r->op), "%s va=0x%" PRIx64 " len=0x%" PRIx64 " pa=0x%" PRIx64
		 " flags=%c%c prop=0x%x:%u", mmio ? "mmio" : "map", va_of(r, off), len, pa,
		 huge ? 'h' : '-', replace ? 'r' : '-', p.flags, p.cache);

	/* What the contract allows as an answer. */
	prc = h_expected_prop_result(h, p, true);
	if (prc != PTMM_OK)
		codes[nc++] = prc;
	if (mmio && !ptmm_frame_range_is_mmio(&h->ft, pa, len))
		codes[nc++] = PTMM_ERANGE;
	if (!mmio && pa + len > h->mem) {
		codes[nc++] = PTMM_EPERM;
		codes[nc++] = PTMM_ERANGE;
	}
	if (!replace && model_intersects(&r->m, off, off + len))
		codes[nc++] = PTMM_EEXIST;

	maybe_inject(r);
	cur = open_for(r, &c, off, len);
	rc = ptmm_cursor_map(cur, pa, len, p, flags);
	close_for(r, cur);
	if (nc == 0 && rc != PTMM_OK && !nomem_ok(r, rc))
		run_fail(r, "-> %s, the model says ok", ptmm_strerror(rc));
	if (nc != 0 && (rc == PTMM_OK || !rc_acceptable(r, rc, codes, nc)))
		run_fail(r, "-> %s, the model says %s", ptmm_strerror(rc), ptmm_strerror(codes[0]));
	if (rc == PTMM_OK) {
		if (replace) {
			if (model_intersects(&r->m, off, off + len))
				r->n_split_ops++;
			model_unmap(&r->m, off, off + len);
		}
		model_install(&r->m, off, pa, len, p, huge, mmio);
	}
	finish_op(r, rc);
}

/*
 * The leaves of [lo, hi) that the op changes (all, or those whose property
 * differs from `p`), clipped to the range, as the VA ranges a TLB flush
 * must cover.  Taken from the model before the op.
 */
struct va_ranges {
	uint64_t lo[64], hi[64];
	unsigned n;
	bool overflow;
};

static void changed_ranges(const struct model *m, uint64_t lo, uint64_t hi, bool only_changed,
			   struct ptmm_prop p, struct va_ranges *out)
{
	out->n = 0;
	out->overflow = false;
	for (size_t i = model_first_after(m, lo); i < m->n && m->v[i].off < hi; i++) {
		if (only_changed && ptmm_prop_eq(m->v[i].prop, p))
			continue;
		if (out->n == 64) {
			out->overflow = true;
			return;
		}
		out->lo[out->n] = m->v[i].off > lo ? m->v[i].off : lo;
		out->hi[out->n] = leaf_end(&m->v[i]) < hi ? leaf_end(&m->v[i]) : hi;
		out->n++;
	}
}

/* Every changed range was flushed, and nothing was freed before the first flush. */
static void expect_flushed(struct run *r, const struct va_ranges *vr, uint64_t fd, uint64_t fp)
{
	const struct harness *h = r->h;
	for (unsigned i = 0; i < vr->n; i++)
		if (!h_tlb_covers(h, 0, va_of(r, vr->lo[i]), vr->hi[i] - vr->lo[i]))
			run_fail(r, "no TLB flush covers 0x%" PRIx64 "+0x%" PRIx64,
				 va_of(r, vr->lo[i]), vr->hi[i] - vr->lo[i]);
	for (unsigned i = 0; i < h->nr_tlb; i++) {
		if (h->tlb_log[i].kind == TLB_ACTIVATE)
			continue;
		if (h->tlb_log[i].free_data < fd || h->tlb_log[i].free_pool < fp)
			break; /* the op allocated before flushing: fine */
		if (h->tlb_log[i].free_data != fd || h->tlb_log[i].free_pool != fp)
			run_fail(r, "memory was freed before the first TLB flush");
		break;
	}
}

static void do_unmap(struct run *r)
{
	uint64_t off = pick_off(r), len = pick_len(r, off, false), removed = ~0ull, want;
	struct ptmm_cursor c, *cur;
	int rc;

	struct va_ranges vr;
	uint64_t fd = h_free_data(r->h), fp = h_free_pool(r->h);

	snprintf(r->op, sizeof(r->op), "unmap va=0x%" PRIx64 " len=0x%" PRIx64, va_of(r, off), len);
	changed_ranges(&r->m, off, off + len, false, ptmm_prop_make(0, 0), &vr);
	maybe_inject(r);
	h_tlb_reset(r->h);
	cur = open_for(r, &c, off, len);
	rc = ptmm_cursor_unmap(cur, len, &removed);
	close_for(r, cur);
	if (rc == PTMM_OK && !r->batch)
		expect_flushed(r, &vr, fd, fp);
	if (rc != PTMM_OK && !nomem_ok(r, rc))
		run_fail(r, "-> %s", ptmm_strerror(rc));
	if (rc == PTMM_OK) {
		want = model_unmap(&r->m, off, off + len);
		if (removed != want)
			run_fail(r, "removed 0x%" PRIx64 ", model 0x%" PRIx64, removed, want);
	}
	finish_op(r, rc);
}

static void do_protect(struct run *r)
{
	uint64_t off = pick_off(r), len = pick_len(r, off, false), mapped = ~0ull, want;
	struct ptmm_prop p = pick_prop(r);
	int prc = h_expected_prop_result(r->h, p, true);
	size_t n_before = r->m.n;
	struct ptmm_cursor c, *cur;
	int rc;

	struct va_ranges vr;
	uint64_t fd = h_free_data(r->h), fp = h_free_pool(r->h);

	snprintf(r->op, sizeof(r->op), "protect va=0x%" PRIx64 " len=0x%" PRIx64 " prop=0x%x:%u",
		 va_of(r, off), len, p.flags, p.cache);
	changed_ranges(&r->m, off, off + len, true, p, &vr);
	maybe_inject(r);
	h_tlb_reset(r->h);
	cur = open_for(r, &c, off, len);
	rc = ptmm_cursor_protect(cur, len, p, &mapped);
	close_for(r, cur);
	if (rc == PTMM_OK && !r->batch)
		expect_flushed(r, &vr, fd, fp);
	if (prc != PTMM_OK && rc != prc && !nomem_ok(r, rc))
		run_fail(r, "-> %s, the model says %s", ptmm_strerror(rc), ptmm_strerror(prc));
	if (prc == PTMM_OK && rc != PTMM_OK && !nomem_ok(r, rc))
		run_fail(r, "-> %s, the model says ok", ptmm_strerror(rc));
	if (rc == PTMM_OK) {
		want = model_protect(&r->m, off, off + len, p);
		if (mapped != want)
			run_fail(r, "mapped 0x%" PRIx64 ", model 0x%" PRIx64, mapped, want);
		if (r->m.n != n_before)
			r->n_split_ops++;
	}
	finish_op(r, rc);
}

static void do_query(struct run *r)
{
	uint64_t off = pick_off(r);
	struct leaf *l = model_leaf_at(&r->m, off);
	struct ptmm_mapping g;
	int rc;

	snprintf(r->op, sizeof(r->op), "query va=0x%" PRIx64, va_of(r, off));
	if (r->batch) {
		H_OK(ptmm_cursor_jump(&r->bc, va_of(r, off)));
		rc = ptmm_cursor_query(&r->bc, &g);
	} else {
		rc = h_query(r->h, va_of(r, off), &g);
	}
	if (rc != PTMM_OK)
		run_fail(r, "-> %s", ptmm_strerror(rc));
	if (l != NULL) {
		if (!g.present || g.va != va_of(r, l->off) || g.size != l->size || g.pa != l->pa ||
		    !ptmm_prop_eq(g.prop, l->prop) || g.mmio != l->mmio)
			run_fail(r, "got present=%d va=0x%" PRIx64 " size=0x%" PRIx64
				 " pa=0x%" PRIx64 "; model leaf va=0x%" PRIx64 " size=0x%" PRIx64
				 " pa=0x%" PRIx64, g.present, g.va, g.size, g.pa,
				 va_of(r, l->off), l->size, l->pa);
	} else if (r->batch) {
		/*
		 * Inside a batch, nodes emptied by earlier ops may still wait for
		 * the close: the absent range is only known to hold off and no leaf.
		 */
		uint64_t goff = g.va - h_space_base(r->h);
		if (g.present || goff > off || goff + g.size <= off ||
		    model_intersects(&r->m, goff, goff + g.size))
			run_fail(r, "got present=%d va=0x%" PRIx64 " size=0x%" PRIx64
				 " for an absent VA", g.present, g.va, g.size);
	} else {
		uint64_t size = model_absent_size(&r->m, off, r->h->arch.levels);
		uint64_t start = off & ~(size - 1);
		if (g.present || g.va != va_of(r, start) || g.size != size)
			run_fail(r, "got present=%d va=0x%" PRIx64 " size=0x%" PRIx64
				 "; model: absent va=0x%" PRIx64 " size=0x%" PRIx64, g.present,
				 g.va, g.size, va_of(r, start), size);
	}
}

static void do_find(struct run *r)
{
	uint64_t off = pick_off(r), len = pick_len(r, off, false);
	size_t i = model_first_after(&r->m, off);
	bool want = i < r->m.n && r->m.v[i].off < off + len;
	struct ptmm_mapping g;
	int rc;

	snprintf(r->op, sizeof(r->op), "find va=0x%" PRIx64 " len=0x%" PRIx64, va_of(r, off), len);
	if (r->batch) {
		H_OK(ptmm_cursor_jump(&r->bc, va_of(r, off)));
		rc = ptmm_cursor_find_next(&r->bc, len, &g);
	} else {
		rc = h_find(r->h, va_of(r, off), len, &g);
	}
	if (rc < 0)
		run_fail(r, "-> %s", ptmm_strerror(rc));
	if (rc != (want ? 1 : 0))
		run_fail(r, "found=%d, model %d", rc, want);
	if (want && (g.va != va_of(r, r->m.v[i].off) || g.size != r->m.v[i].size ||
		     g.pa != r->m.v[i].pa))
		run_fail(r, "found va=0x%" PRIx64 " size=0x%" PRIx64 ", model va=0x%" PRIx64
			 " size=0x%" PRIx64, g.va, g.size, va_of(r, r->m.v[i].off),
			 r->m.v[i].size);
}

/* Open a batch on two 1G regions near a boundary of a window. */
static void batch_begin(struct run *r)
{
	static const uint64_t idx[] = { 0, 1, 255, 510 };
	uint64_t lo;
	int rc;

	r->win = chance(60) ? 0 : 1;
	lo = r->win_lo[r->win] + (chance(50) ? 0 : r->big) + idx[below(4)] * SZ_1G;
	if (lo + 2 * SZ_1G > r->win_hi[r->win])
		lo = r->win_hi[r->win] - 2 * SZ_1G; /* Sv39: windows of 2G */
	r->blo = lo;
	r->bhi = lo + 2 * SZ_1G;
	snprintf(r->op, sizeof(r->op), "batch open va=0x%" PRIx64 " len=0x%" PRIx64,
		 va_of(r, r->blo), r->bhi - r->blo);
	rc = ptmm_cursor_open(&r->bc, &r->h->pt, va_of(r, r->blo), r->bhi - r->blo);
	if (rc != PTMM_OK)
		run_fail(r, "-> %s", ptmm_strerror(rc));
	r->batch = true;
	r->batch_checked = chance(50);
	r->n_batches++;
	r->batch_left = 2 + (unsigned)below(8);
}

static void batch_end(struct run *r)
{
	char op[sizeof(r->op)];
	/* The op that ended a checked batch early stays named (cut to fit). */
	snprintf(op, sizeof(op), "batch close after %.200s", r->op);
	memcpy(r->op, op, sizeof(op));
	ptmm_cursor_close(&r->bc);
	r->batch = false;
	h_assert_check(r->h, r->op);
	h_tlb_assert(r->h, true, r->op);
	compare(r);
}

static void clear_window(struct run *r)
{
	uint64_t removed = 0;
	snprintf(r->op, sizeof(r->op), "unmap the window");
	for (unsigned w = 0; w < 2; w++) {
		uint64_t part = 0;
		H_OK(h_unmap(r->h, va_of(r, r->win_lo[w]), r->win_hi[w] - r->win_lo[w], &part));
		removed += part;
	}
	if (removed != model_mapped(&r->m))
		run_fail(r, "removed 0x%" PRIx64 ", model 0x%" PRIx64, removed,
			 model_mapped(&r->m));
	r->m.n = 0;
	compare(r);
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);
	return s && *s ? strtoull(s, NULL, 0) : dflt;
}

static void test_random_differential(void **state)
{
	struct harness *h = *state;
	static struct run r; /* static: the teardown reads it after a failure */
	unsigned ops = (unsigned)env_u64("MM_TEST_OPS", DEFAULT_OPS);

	memset(&r, 0, sizeof(r));
	r.h = h;
	r.seed = env_u64("MM_TEST_SEED", DEFAULT_SEED);
	rng_state = r.seed ^ ((uint64_t)h->param.arch << 32) ^ ((uint64_t)h->param.space << 40);
	r.m.max_level = (unsigned)size_level(h_max_leaf_size(h));
	r.m.levels = h->arch.levels;
	r.m.kernel = h_is_kernel(h);
	r.tight_pool = h->pool_size < 4 * MiB;
	/* Operations on the harness go through cursors here; the harness
	 * helpers used by query/find/clear check after each op already. */
	r.free_data0 = h_free_data(h);
	r.free_pool0 = h_free_pool(h);
	r.nodes0 = model_nodes(&r.m);
	r.big = h_root_entry_size(h) < SZ_512G ? h_root_entry_size(h) : SZ_512G;
	r.win_lo[0] = 0; /* root entries 0..1 of the half (4 levels) */
	r.win_hi[0] = 2 * r.big;
	r.win_lo[1] = h_space_size(h) - 2 * r.big; /* root entries 254..255 (4 levels) */
	r.win_hi[1] = h_space_size(h);
	r.in_progress = true;
	current_run = &r;
	h_tlb_model_on(h, &h->pt);
	compare(&r);

	for (r.op_index = 0; r.op_index < ops; r.op_index++) {
		unsigned k = (unsigned)below(100);
		if (r.batch && r.batch_left-- == 0)
			batch_end(&r);
		else if (!r.batch && chance(3))
			batch_begin(&r);
		touch_some(&r);
		if (!r.batch && (r.m.n > MAX_MODEL_LEAVES || k < 1))
			clear_window(&r);
		else if (k < 30)
			do_map(&r, false);
		else if (k < 40)
			do_map(&r, true);
		else if (k < 58)
			do_unmap(&r);
		else if (k < 80)
			do_protect(&r);
		else if (k < 90)
			do_query(&r);
		else
			do_find(&r);
	}
	if (r.batch)
		batch_end(&r);
	clear_window(&r);
	print_message("  seed 0x%" PRIx64 ": %u ok, %u refused, %u nomem, %u splitting ops,"
		      " %u batches, %u checks inside batches, %llu TLB fills\n", r.seed, r.n_ok,
		      r.n_err, r.n_nomem, r.n_split_ops, r.n_batches, r.n_batch_checks,
		      (unsigned long long)h->tlb_model->fills);
	assert_true(h->tlb_model->fills > ops / 2);
	/* The run must have exercised every kind of outcome. */
	assert_true(r.n_ok > ops / 4);
	assert_true(r.n_err > 0);
	assert_true(r.n_nomem > 0);
	assert_true(r.n_split_ops > 0);
	assert_true(r.n_batches > 0);
	assert_true(r.n_batch_checks > 0);
	r.in_progress = false;
	current_run = NULL;
	free(r.m.v);
	r.m.v = NULL;
}

/* Teardown that names the seed when the run stopped in the middle. */
static int random_teardown(void **state)
{
	if (current_run != NULL && current_run->in_progress) {
		fprintf(stderr, "test_random: failed with MM_TEST_SEED=0x%" PRIx64
			" at op #%u: %s\n", current_run->seed, current_run->op_index,
			current_run->op);
		free(current_run->m.v);
		current_run = NULL;
	}
	return harness_teardown(state);
}

#define RANDOM_PARAMS(name, arch)                                                      \
	static const struct harness_param random_user_##name = { arch, PTMM_PT_USER, 2 * GiB,  \
								  32 * MiB };              \
	static const struct harness_param random_kernel_##name = { arch, PTMM_PT_KERNEL, 2 * GiB, \
								    32 * MiB }
RANDOM_PARAMS(la57, H_X86_64_LA57);
RANDOM_PARAMS(sv39, H_SV39);
RANDOM_PARAMS(sv57, H_SV57);
RANDOM_PARAMS(fake57, H_FAKE57);
static const struct harness_param random_user_x86 = { H_X86_64, PTMM_PT_USER, 2 * GiB, 32 * MiB };
static const struct harness_param random_user_sv48 = { H_SV48, PTMM_PT_USER, 2 * GiB, 32 * MiB };
static const struct harness_param random_kernel_x86 = { H_X86_64, PTMM_PT_KERNEL, 2 * GiB, 32 * MiB };
static const struct harness_param random_kernel_sv48 = { H_SV48, PTMM_PT_KERNEL, 2 * GiB, 32 * MiB };
static const struct harness_param random_user_fake48 = { H_FAKE48, PTMM_PT_USER, 2 * GiB, 32 * MiB };
static const struct harness_param random_kernel_fake48 = { H_FAKE48, PTMM_PT_KERNEL, 2 * GiB,
							   32 * MiB };
/* Small node pools: real exhaustion in the middle of operations. */
static const struct harness_param random_user_x86_tight = { H_X86_64, PTMM_PT_USER, 2 * GiB,
							   40 * SZ_4K };
static const struct harness_param random_kernel_sv48_tight = { H_SV48, PTMM_PT_KERNEL, 2 * GiB,
							      (257 + 40) * SZ_4K };
static const struct harness_param random_user_fake48_tight = { H_FAKE48, PTMM_PT_USER, 2 * GiB,
							      40 * SZ_4K };
static const struct harness_param random_kernel_sv39_tight = { H_SV39, PTMM_PT_KERNEL, 2 * GiB,
							      (257 + 40) * SZ_4K };
static const struct harness_param random_user_fake57_tight = { H_FAKE57, PTMM_PT_USER, 2 * GiB,
							      40 * SZ_4K };

#define RANDOM_TEST(param_) \
	{ "test_random_differential/" #param_, test_random_differential, harness_setup, \
	  random_teardown, (void *)&(param_) }

int main(void)
{
	const struct CMUnitTest tests[] = {
		RANDOM_TEST(random_user_x86),
		RANDOM_TEST(random_user_sv48),
		RANDOM_TEST(random_kernel_x86),
		RANDOM_TEST(random_kernel_sv48),
		RANDOM_TEST(random_user_x86_tight),
		RANDOM_TEST(random_kernel_sv48_tight),
		RANDOM_TEST(random_user_fake48),
		RANDOM_TEST(random_kernel_fake48),
		RANDOM_TEST(random_user_fake48_tight),
		RANDOM_TEST(random_user_la57),
		RANDOM_TEST(random_kernel_la57),
		RANDOM_TEST(random_user_sv39),
		RANDOM_TEST(random_kernel_sv39),
		RANDOM_TEST(random_user_sv57),
		RANDOM_TEST(random_kernel_sv57),
		RANDOM_TEST(random_user_fake57),
		RANDOM_TEST(random_kernel_fake57),
		RANDOM_TEST(random_kernel_sv39_tight),
		RANDOM_TEST(random_user_fake57_tight),
	};
	return cmocka_run_group_tests_name("random", tests, NULL, NULL);
}
