/*
 * model.c - the explorer's reference model (model.h).
 */
#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ptmm/mm_types.h>

#define PAGE ((uint64_t)4096)
#define FANOUT 512u

static uint64_t level_size(unsigned level)
{
	return PAGE << (9 * (level - 1));
}

static void *xrealloc(void *p, size_t bytes)
{
	void *q = realloc(p, bytes);
	if (q == NULL) {
		fprintf(stderr, "explore: out of memory\n");
		exit(1);
	}
	return q;
}

static void reserve(struct model *m, size_t extra);

void model_init(struct model *m, const struct model_geom *g)
{
	*m = (struct model){ .g = g };
	reserve(m, 0); /* an array from the start (see reserve) */
}

void model_free(struct model *m)
{
	free(m->v);
	*m = (struct model){ 0 };
}

static void reserve(struct model *m, size_t extra)
{
	/*
	 * Always an array, even for no intervals: memmove/memcpy of 0 bytes
	 * still require valid pointers (UBSan checks it).
	 */
	if (m->v != NULL && m->n + extra <= m->cap)
		return;
	while (m->cap < m->n + extra || m->cap == 0)
		m->cap = m->cap ? 2 * m->cap : 64;
	m->v = xrealloc(m->v, m->cap * sizeof(*m->v));
}

void model_copy(struct model *dst, const struct model *src)
{
	dst->g = src->g;
	dst->n = 0;
	reserve(dst, src->n);
	memcpy(dst->v, src->v, src->n * sizeof(*src->v));
	dst->n = src->n;
}

static uint64_t leaf_end(const struct model_leaf *l)
{
	return l->off + l->size;
}

/* Index of the first leaf ending after `off` (n if none). */
static size_t first_after(const struct model *m, uint64_t off)
{
	size_t lo = 0, hi = m->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (leaf_end(&m->v[mid]) <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

const struct model_leaf *model_leaf_at(const struct model *m, uint64_t off)
{
	size_t i = first_after(m, off);
	return i < m->n && m->v[i].off <= off ? &m->v[i] : NULL;
}

const struct model_leaf *model_find(const struct model *m, uint64_t off, uint64_t len)
{
	size_t i = first_after(m, off);
	return i < m->n && m->v[i].off < off + len ? &m->v[i] : NULL;
}

static bool intersects(const struct model *m, uint64_t lo, uint64_t hi)
{
	return model_find(m, lo, hi - lo) != NULL;
}

/* Replace leaf i by its 512 children: same property, PA stepping by the child size. */
static void split_leaf(struct model *m, size_t i)
{
	struct model_leaf parent = m->v[i];
	uint64_t child = parent.size / FANOUT;

	reserve(m, FANOUT - 1);
	memmove(&m->v[i + FANOUT], &m->v[i + 1], (m->n - i - 1) * sizeof(*m->v));
	for (unsigned k = 0; k < FANOUT; k++) {
		m->v[i + k] = parent;
		m->v[i + k].off = parent.off + k * child;
		m->v[i + k].pa = parent.pa + k * child;
		m->v[i + k].size = child;
	}
	m->n += FANOUT - 1;
}

/* Split until `b` is a leaf boundary (or lies in no leaf). */
static void split_at(struct model *m, uint64_t b)
{
	for (;;) {
		size_t i = first_after(m, b);
		if (i == m->n || m->v[i].off >= b)
			return;
		split_leaf(m, i);
	}
}

model_codes model_range(const struct model *m, uint64_t off, uint64_t len)
{
	model_codes codes = 0;
	if (len == 0)
		codes |= MODEL_CODE(PTMM_EINVAL);
	if (off % PAGE || len % PAGE)
		codes |= MODEL_CODE(PTMM_EALIGN);
	if (off >= m->g->half_size || len > m->g->half_size - off)
		codes |= MODEL_CODE(PTMM_ERANGE);
	return codes;
}

/* Remove every leaf in [lo, hi) (splitting at both ends); bytes removed. */
static uint64_t remove_range(struct model *m, uint64_t lo, uint64_t hi)
{
	size_t first, last;
	uint64_t removed = 0;
	split_at(m, lo);
	split_at(m, hi);
	first = first_after(m, lo);
	for (last = first; last < m->n && m->v[last].off < hi; last++)
		removed += m->v[last].size;
	memmove(&m->v[first], &m->v[last], (m->n - last) * sizeof(*m->v));
	m->n -= last - first;
	return removed;
}

/* The greedy page size at (off, pa) with `left` bytes to go (PTSIM.md "Page sizes"). */
static uint64_t greedy_size(const struct model *m, uint64_t off, uint64_t pa, uint64_t left,
			    bool huge)
{
	for (unsigned level = huge ? m->g->max_level : 1; level > 1; level--) {
		uint64_t s = level_size(level);
		if (off % s == 0 && pa % s == 0 && left >= s)
			return s;
	}
	return PAGE;
}

/* Install the leaves of a map into [off, off+len), known to be empty. */
static void install(struct model *m, uint64_t off, uint64_t pa, uint64_t len,
		    struct ptmm_prop prop, bool huge, bool mmio)
{
	size_t i = first_after(m, off);
	size_t count = 0;
	for (uint64_t o = off, p = pa, left = len; left > 0; count++) {
		uint64_t s = greedy_size(m, o, p, left, huge);
		o += s;
		p += s;
		left -= s;
	}
	reserve(m, count);
	memmove(&m->v[i + count], &m->v[i], (m->n - i) * sizeof(*m->v));
	for (size_t k = 0; k < count; k++) {
		uint64_t s = greedy_size(m, off, pa, len, huge);
		m->v[i + k] = (struct model_leaf){ off, s, pa, prop, mmio };
		off += s;
		pa += s;
		len -= s;
	}
	m->n += count;
}

/* Codes of the frames of a map: RAM inside data RAM, MMIO outside all RAM. */
static model_codes frame_codes(const struct model *m, uint64_t pa, uint64_t len, bool mmio)
{
	const struct model_geom *g = m->g;
	uint64_t end = pa + len;
	model_codes codes = 0;
	if (pa % PAGE)
		codes |= MODEL_CODE(PTMM_EALIGN);
	if (end < pa)
		return codes | MODEL_CODE(PTMM_ERANGE);
	if (mmio) {
		if (pa < g->pool_end || end > g->pa_limit)
			codes |= MODEL_CODE(PTMM_ERANGE);
		return codes;
	}
	if (end <= g->mem)
		return codes;
	if (pa < g->pool_end && end > g->mem)
		codes |= MODEL_CODE(PTMM_EPERM); /* node pool frames */
	if (end > g->pool_end)
		codes |= MODEL_CODE(PTMM_ERANGE);
	return codes;
}

static model_codes prop_codes(int prop_ok)
{
	return prop_ok == PTMM_OK ? 0 : MODEL_CODE(prop_ok);
}

model_codes model_map(struct model *m, uint64_t off, uint64_t len, uint64_t pa,
		      struct ptmm_prop prop, int prop_ok, bool huge, bool replace, bool mmio)
{
	model_codes codes = model_range(m, off, len) | prop_codes(prop_ok);
	if (codes & MODEL_CODE(PTMM_ERANGE))
		return codes; /* the range is meaningless past the half */
	codes |= frame_codes(m, pa, len, mmio);
	if (!replace && len && intersects(m, off, off + len))
		codes |= MODEL_CODE(PTMM_EEXIST);
	if (codes)
		return codes;
	if (replace)
		remove_range(m, off, off + len);
	install(m, off, pa, len, prop, huge, mmio);
	return MODEL_CODE(PTMM_OK);
}

model_codes model_unmap(struct model *m, uint64_t off, uint64_t len, uint64_t *bytes)
{
	model_codes codes = model_range(m, off, len);
	if (codes)
		return codes;
	*bytes = remove_range(m, off, off + len);
	return MODEL_CODE(PTMM_OK);
}

/* Split at b only if the leaf straddling b would change property. */
static void split_if_changes(struct model *m, uint64_t b, struct ptmm_prop p)
{
	const struct model_leaf *l = model_leaf_at(m, b);
	if (l != NULL && l->off != b && !ptmm_prop_eq(l->prop, p))
		split_at(m, b);
}

model_codes model_protect(struct model *m, uint64_t off, uint64_t len, struct ptmm_prop prop,
			  int prop_ok, uint64_t *bytes)
{
	model_codes codes = model_range(m, off, len) | prop_codes(prop_ok);
	if (codes)
		return codes;
	uint64_t hi = off + len, mapped = 0;
	for (size_t i = first_after(m, off); i < m->n && m->v[i].off < hi; i++) {
		uint64_t a = m->v[i].off > off ? m->v[i].off : off;
		uint64_t b = leaf_end(&m->v[i]) < hi ? leaf_end(&m->v[i]) : hi;
		mapped += b - a;
	}
	split_if_changes(m, off, prop);
	split_if_changes(m, hi, prop);
	for (size_t i = first_after(m, off); i < m->n && m->v[i].off < hi; i++) {
		/* A leaf still straddling an end has the property already. */
		if (m->v[i].off >= off && leaf_end(&m->v[i]) <= hi)
			m->v[i].prop = prop;
	}
	*bytes = mapped;
	return MODEL_CODE(PTMM_OK);
}

static unsigned size_level(uint64_t size)
{
	unsigned level = 1;
	while (level_size(level) < size)
		level++;
	return level;
}

uint64_t model_nodes(const struct model *m)
{
	const struct model_geom *g = m->g;
	uint64_t nodes = 1; /* the root */
	for (unsigned level = 1; level < g->levels; level++) {
		uint64_t last = UINT64_MAX, count = 0;
		if (g->kernel && level == g->levels - 1) {
			nodes += FANOUT / 2; /* preallocated, never freed */
			continue;
		}
		for (size_t i = 0; i < m->n; i++) {
			if (size_level(m->v[i].size) > level)
				continue;
			uint64_t id = m->v[i].off / level_size(level + 1);
			if (id != last) {
				count++;
				last = id;
			}
		}
		nodes += count;
	}
	return nodes;
}

uint64_t model_mapped(const struct model *m)
{
	uint64_t sum = 0;
	for (size_t i = 0; i < m->n; i++)
		sum += m->v[i].size;
	return sum;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

uint64_t model_frames(const struct model *m)
{
	/* Intervals of RAM mapped, merged after sorting by PA. */
	uint64_t *iv = malloc(2 * (m->n + 1) * sizeof(*iv));
	size_t n = 0;
	uint64_t frames = 0, cur_lo = 0, cur_hi = 0;
	bool open = false;
	if (iv == NULL)
		exit(1);
	for (size_t i = 0; i < m->n; i++) {
		if (m->v[i].mmio)
			continue;
		iv[2 * n] = m->v[i].pa;
		iv[2 * n + 1] = m->v[i].pa + m->v[i].size;
		n++;
	}
	if (n > 1)
		qsort(iv, n, 2 * sizeof(*iv), cmp_u64);
	for (size_t i = 0; i < n; i++) {
		uint64_t lo = iv[2 * i], hi = iv[2 * i + 1];
		if (open && lo <= cur_hi) {
			if (hi > cur_hi)
				cur_hi = hi;
			continue;
		}
		if (open)
			frames += (cur_hi - cur_lo) / PAGE;
		cur_lo = lo;
		cur_hi = hi;
		open = true;
	}
	if (open)
		frames += (cur_hi - cur_lo) / PAGE;
	free(iv);
	return frames;
}
