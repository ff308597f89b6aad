/*
 * explore.c - bounded-exhaustive exploration of the mm in a small world.
 *
 * Every sequence of up to `depth` steps, over a fixed list of steps (map,
 * map huge, map replace, mmio, unmap, protect, query, find, and batches of
 * two operations through one cursor with or without a flush between them),
 * runs on the real mm/ code over the ptsim machine (world.h), and after
 * every step:
 *   - ptmm_check (ptmm_check_cursor after each operation of a batch and
 *     ptmm_check_open after its flush),
 *   - the view (ptmm_cursor_find_next over the whole half), the stats and the
 *     free node memory against the interval-map model (model.h), the return
 *     code and the byte counts against the contract,
 *   - no data block holds a reference nothing accounts for (this world has
 *     no handles: refcount == map_count),
 *   - the TLB model (tools/tlbmodel/tlbm.h, complete mode: everything the
 *     tree held since the last flush that covered it): no cached
 *     translation reaches a released frame or node (checked at every
 *     flush, before it, and after every operation), and after a close none
 *     grants more than the tree (O8, O10);
 * and the step runs again with the n-th allocation failing, for every n up
 * to the allocations it made: the failing operation must answer ENOMEM and
 * change nothing (view, counts, slot metadata, free memory).
 *
 * States are identified by a canonical form (the leaves, the node count,
 * the data blocks' metadata and the free node count; which pool frame
 * holds which node is abstracted away), so equivalent states are expanded
 * once; the search is breadth-first, so the first failure found has a
 * shortest sequence, printed as a ptsim script.  See docs/VERIFY.md.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arch/modes.h"
#include "fake_arch.h"
#include "model.h"
#include "walk.h"
#include "world.h"

#define KIB ((uint64_t)1 << 10)
#define MIB ((uint64_t)1 << 20)
#define GIB ((uint64_t)1 << 30)
#define SZ_4K (4 * KIB)
#define SZ_2M (2 * MIB)
#define SZ_1G GIB
#define SZ_512G (512 * GIB)

/* A step that runs longer than this (seconds) has hung: a violation. */
#define STEP_TIMEOUT 10

/* ---- encoders ---- */

/*
 * Every paging mode of the registry (arch/modes.h) is a world, with its
 * features and (RISC-V) its optional Svpbmt, under the mode's own name so
 * that the replay line's `ptsim --arch` is the same name; two more worlds
 * have no ptsim counterpart: x86_64 without 1G pages, and the fake
 * encoder of the tests.  `init` NULL: taken from the registry.
 */
static struct encoder_cfg encoders[] = {
	{ "x86_64", "x86_64", "", NULL, 0 },
	{ "x86_64-la57", "x86_64-la57", "", NULL, 0 },
	{ "sv39", "sv39", " --svpbmt", NULL, 0 },
	{ "sv48", "sv48", " --svpbmt", NULL, 0 },
	{ "sv57", "sv57", " --svpbmt", NULL, 0 },
	{ "x86_64-2m", NULL, "", ptmm_arch_x86_64_init, PTMM_FEAT_X86_NX },
	{ "fake48", NULL, "", mm_arch_fake48_init, 0 },
};
#define NR_ENCODERS (sizeof(encoders) / sizeof(encoders[0]))

/* ---- steps ---- */

enum op_kind { K_MAP, K_MMIO, K_UNMAP, K_PROTECT, K_QUERY, K_FIND };

struct op {
	enum op_kind kind;
	ptmm_vaddr_t va;
	uint64_t len;
	ptmm_paddr_t pa;
	struct ptmm_prop prop;
	unsigned flags; /* PTMM_MAP_HUGE, PTMM_MAP_REPLACE */
};

#define MAX_SUB 2
struct step {
	struct op sub[MAX_SUB];
	unsigned nsub;
	bool batch;      /* the operations run through one cursor on [bva, bva+blen) */
	bool flush_mid;  /* ptmm_cursor_flush between them */
	ptmm_vaddr_t bva;
	uint64_t blen;
};

#define MAX_STEPS 64
static struct step steps[MAX_STEPS];
static unsigned nr_steps;

static struct step *new_step(void)
{
	if (nr_steps == MAX_STEPS) {
		fprintf(stderr, "explore: too many steps\n");
		exit(1);
	}
	return memset(&steps[nr_steps++], 0, sizeof(struct step));
}

static void add_op(struct op o)
{
	struct step *s = new_step();
	s->sub[0] = o;
	s->nsub = 1;
}

static void add_batch(ptmm_vaddr_t bva, uint64_t blen, struct op a, struct op b, bool flush_mid)
{
	struct step *s = new_step();
	s->sub[0] = a;
	s->sub[1] = b;
	s->nsub = 2;
	s->batch = true;
	s->flush_mid = flush_mid;
	s->bva = bva;
	s->blen = blen;
}

static struct op mk(enum op_kind k, ptmm_vaddr_t va, uint64_t len, ptmm_paddr_t pa, struct ptmm_prop p,
		    unsigned flags)
{
	return (struct op){ k, va, len, pa, p, flags };
}

/*
 * The world's steps: in each of two 1 GiB regions, at the bottom and at
 * the top of the half (so every 4K/2M/1G boundary near VA 0 and near the
 * end of the half is met), and 512 GiB ones where the table has 512G
 * leaves.  RAM: P0 = a 2 MiB block, P0M a frame inside it, P1/P1B frames
 * of the other 2 MiB block; POOL a node-pool frame (EPERM); MMIO at 1 GiB
 * and 512 GiB (huge leaves without slots).
 */
static void build_steps(const struct world *w, bool batches)
{
	ptmm_vaddr_t base = world_base(w);
	uint64_t half = world_half(w);
	unsigned space_bit = w->kernel ? PTMM_PROP_G : PTMM_PROP_U;
	struct ptmm_prop rw = ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_W | space_bit, PTMM_CACHE_WB);
	struct ptmm_prop ro = ptmm_prop_make(PTMM_PROP_R | space_bit, PTMM_CACHE_WB);
	struct ptmm_prop na = ptmm_prop_make(0, PTMM_CACHE_WB);
	struct ptmm_prop bad = ptmm_prop_make(PTMM_PROP_W | space_bit, PTMM_CACHE_WB); /* w without r */
	ptmm_paddr_t P0 = 0, P0M = MIB, P1 = SZ_2M + SZ_4K, P1B = SZ_2M + 2 * SZ_4K, POOL = w->mem;
	ptmm_paddr_t PA_G = SZ_1G, PA_T = SZ_512G;
	unsigned max_leaf = ptmm_page_table_max_leaf_level(&w->pt);

	for (int r = 0; r < 2; r++) {
		bool high = r == 1;
		ptmm_vaddr_t R = high ? base + half - SZ_1G : base;
		ptmm_vaddr_t T = R + SZ_1G; /* wraps to 0 at the top of the kernel half */
		add_op(mk(K_MMIO, R, SZ_1G, PA_G, rw, PTMM_MAP_HUGE));
		add_op(mk(K_MAP, T - SZ_2M, SZ_2M, P0, rw, PTMM_MAP_HUGE));
		add_op(mk(K_MAP, T - SZ_4K, SZ_4K, P0M, rw, 0));
		add_op(mk(K_MAP, T - SZ_2M, SZ_2M, P0, ro, PTMM_MAP_HUGE | PTMM_MAP_REPLACE));
		add_op(mk(K_MMIO, T - SZ_4K, SZ_4K, PA_G + SZ_4K, rw, PTMM_MAP_REPLACE));
		add_op(mk(K_UNMAP, T - SZ_4K, SZ_4K, 0, na, 0));
		add_op(mk(K_UNMAP, R, SZ_4K, 0, na, 0));
		add_op(mk(K_UNMAP, R, SZ_1G, 0, na, 0));
		/* Two pages across the 2M boundary below T - 2M: two level-1 nodes, general path. */
		add_op(mk(K_MAP, T - SZ_2M - SZ_4K, 2 * SZ_4K, P1, ro, 0));
		add_op(mk(K_UNMAP, T - SZ_2M - SZ_4K, 2 * SZ_4K, 0, na, 0));
		add_op(mk(K_PROTECT, T - SZ_2M, SZ_2M, 0, na, 0));
		add_op(mk(K_PROTECT, T - SZ_4K, SZ_4K, 0, ro, 0));
		add_op(mk(K_QUERY, T - SZ_4K, SZ_4K, 0, na, 0));
		add_op(mk(K_FIND, R, SZ_1G, 0, na, 0));
		add_op(mk(K_MAP, T - SZ_4K, SZ_4K, POOL, rw, 0));  /* EPERM */
		add_op(mk(K_PROTECT, R, SZ_2M, 0, bad, 0));        /* EINVAL */
		if (high)
			add_op(mk(K_UNMAP, T - SZ_4K, 2 * SZ_4K, 0, na, 0)); /* past the half: ERANGE */
		if (max_leaf >= 4) {
			ptmm_vaddr_t R5 = high ? base + half - SZ_512G : base;
			add_op(mk(K_MMIO, R5, SZ_512G, PA_T, rw, PTMM_MAP_HUGE));
		}
		/*
		 * Two pages across each boundary above 2M that the table has
		 * (1G; 512G with 4+ levels; 256T with 5): the map and unmap
		 * meet two subtrees below a node of that level, the lowest such
		 * boundary in the low half and the highest in the high one.
		 */
		for (unsigned l = 3; l <= w->arch.levels; l++) {
			uint64_t B = (uint64_t)1 << (12 + 9 * (l - 1));
			if (B >= half)
				break;
			ptmm_vaddr_t X = (high ? base + half - B : base + B) - SZ_4K;
			add_op(mk(K_MAP, X, 2 * SZ_4K, P1, ro, 0));
			add_op(mk(K_UNMAP, X, 2 * SZ_4K, 0, na, 0));
		}
		if (!batches)
			continue;
		struct op un_top = mk(K_UNMAP, T - SZ_4K, SZ_4K, 0, na, 0);
		struct op un_top2 = mk(K_UNMAP, T - 2 * SZ_4K, SZ_4K, 0, na, 0);
		struct op map_top = mk(K_MAP, T - SZ_4K, SZ_4K, P1, rw, 0);
		struct op map_top2 = mk(K_MAP, T - 2 * SZ_4K, SZ_4K, P1B, rw, 0);
		add_batch(R, SZ_1G, un_top, map_top, false);
		add_batch(R, SZ_1G, un_top, map_top, true);
		add_batch(R, SZ_1G, map_top2, map_top, false);
		add_batch(R, SZ_1G, un_top2, un_top, true);
		add_batch(R, SZ_1G, mk(K_PROTECT, T - SZ_2M, SZ_2M, 0, na, 0), un_top, false);
		add_batch(R, SZ_1G, mk(K_UNMAP, R, SZ_1G, 0, na, 0),
			  mk(K_MMIO, R, SZ_1G, PA_G, rw, PTMM_MAP_HUGE), false);
	}
}

/* ---- printing ---- */

static const char *prop_str(struct ptmm_prop p, char buf[16])
{
	static const char letters[] = "rwxug";
	size_t n = 0;
	for (unsigned k = 0; k < 5; k++)
		if (p.flags & (1u << k))
			buf[n++] = letters[k];
	if (n == 0)
		buf[n++] = '-';
	buf[n] = 0;
	return buf;
}

static void print_op(FILE *f, const char *indent, const struct op *o)
{
	char pb[16];
	unsigned long long va = o->va, len = o->len, pa = o->pa;
	switch (o->kind) {
	case K_MAP:
	case K_MMIO:
		fprintf(f, "%s%s 0x%llx 0x%llx 0x%llx %s%s%s\n", indent,
			o->kind == K_MAP ? "map" : "mmio", va, len, pa, prop_str(o->prop, pb),
			(o->flags & PTMM_MAP_HUGE) ? " huge" : "",
			(o->flags & PTMM_MAP_REPLACE) ? " replace" : "");
		break;
	case K_UNMAP:
		fprintf(f, "%sunmap 0x%llx 0x%llx\n", indent, va, len);
		break;
	case K_PROTECT:
		fprintf(f, "%sprotect 0x%llx 0x%llx %s\n", indent, va, len, prop_str(o->prop, pb));
		break;
	case K_QUERY:
		fprintf(f, "%squery 0x%llx\n", indent, va);
		break;
	case K_FIND:
		fprintf(f, "%sfind 0x%llx 0x%llx\n", indent, va, len);
		break;
	}
}

/*
 * A step as script lines.  A batch is marked by `#@` comment lines (the
 * explorer's own directives; ptsim runs its operations as separate
 * commands), an injected failure by `#@ fail N`.
 */
static void print_step(FILE *f, const struct step *s, unsigned fail_at)
{
	if (fail_at)
		fprintf(f, "#@ fail %u (the %u-th allocation of the next step fails)\n", fail_at,
			fail_at);
	if (!s->batch) {
		print_op(f, "", &s->sub[0]);
		return;
	}
	fprintf(f, "#@ batch 0x%llx 0x%llx (one cursor on this range for the lines up to #@ end)\n",
		(unsigned long long)s->bva, (unsigned long long)s->blen);
	for (unsigned i = 0; i < s->nsub; i++) {
		if (i > 0 && s->flush_mid)
			fprintf(f, "#@ flush\n");
		print_op(f, "", &s->sub[i]);
	}
	fprintf(f, "#@ end\n");
}

/* ---- the contract's answer for a property (PTSIM.md "Properties") ---- */

static int prop_rule(const struct world *w, struct ptmm_prop p)
{
	if ((p.flags & ~PTMM_PROP_ALL) || p.cache >= PTMM_CACHE_COUNT)
		return PTMM_EINVAL;
	if (p.flags & (w->kernel ? PTMM_PROP_U : PTMM_PROP_G))
		return PTMM_EINVAL;
	if ((p.flags & PTMM_PROP_W) && !(p.flags & PTMM_PROP_R))
		return PTMM_EINVAL;
	/* The steps use wb only and x86 has NX: nothing else is refused. */
	return PTMM_OK;
}

/* ---- canonical state ---- */

struct words {
	uint64_t *v;
	size_t n, cap;
};

static void wput(struct words *b, uint64_t x)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 1024;
		b->v = realloc(b->v, b->cap * sizeof(*b->v));
		if (b->v == NULL)
			exit(1);
	}
	b->v[b->n++] = x;
}

static void canon_leaf(void *ctx, const struct walk_leaf *l)
{
	struct words *b = ctx;
	wput(b, l->va);
	wput(b, l->size);
	wput(b, l->pte);
}

/*
 * The state's canonical form: every leaf (VA, size, entry), then the node
 * count and free node frames (which pool frame holds which node is left
 * out: nodes are interchangeable), then every data-zone block's metadata.
 * With `slots_too` false (a cursor is open: deferred counts may be settled
 * by a failing operation without any change of state) only the leaves and
 * the free node frames.
 */
static void canon(struct world *w, struct words *b, bool slots_too)
{
	b->n = 0;
	walk_tree(w, canon_leaf, NULL, b);
	wput(b, UINT64_MAX);
	wput(b, ptmm_frame_zone_free_frames(&w->ft, ZONE_POOL));
	if (!slots_too)
		return;
	wput(b, atomic_load(&w->pt.nr_nodes));
	uint64_t nr = w->mem >> PTMM_PAGE_SHIFT;
	for (uint64_t i = 0; i < nr;) {
		const struct ptmm_frame_slot *s = &w->ft.slots[i];
		wput(b, i | (uint64_t)s->order << 32 | (uint64_t)s->usage << 40 |
				(uint64_t)(atomic_load(&s->flags) & (PTMM_FRAME_F_HEAD | PTMM_FRAME_F_PENDING)) << 48);
		wput(b, (uint64_t)atomic_load(&s->refcount) << 32 | s->map_count);
		i += (uint64_t)1 << s->order;
	}
}

static bool words_eq(const struct words *a, const struct words *b)
{
	return a->n == b->n && (a->n == 0 || memcmp(a->v, b->v, a->n * sizeof(*a->v)) == 0);
}

static uint64_t words_hash(const struct words *b)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ b->n;
	for (size_t i = 0; i < b->n; i++) {
		uint64_t z = h + b->v[i] + 0x9e3779b97f4a7c15ull;
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		h = z ^ (z >> 31);
	}
	return h ? h : 1;
}

/* ---- checks ---- */

static uint64_t off_of(const struct world *w, ptmm_vaddr_t va)
{
	return va - world_base(w);
}

/* The view through the API (ptmm_cursor_find_next over the whole half) against the model. */
static bool check_view(struct world *w, const struct model *m)
{
	struct ptmm_cursor c;
	ptmm_vaddr_t base = world_base(w);
	uint64_t half = world_half(w), pos = 0;
	size_t i = 0;
	if (ptmm_cursor_open(&c, &w->pt, base, half) != PTMM_OK) {
		world_violation(w, "cannot open a cursor on the whole half");
		return false;
	}
	while (pos < half) {
		struct ptmm_mapping mp;
		ptmm_cursor_jump(&c, base + pos);
		int found = ptmm_cursor_find_next(&c, half - pos, &mp);
		if (found != PTMM_FOUND)
			break;
		if (i >= m->n) {
			world_violation(w, "view has an extra leaf at va 0x%llx (size 0x%llx)",
					(unsigned long long)mp.va, (unsigned long long)mp.size);
			break;
		}
		const struct model_leaf *l = &m->v[i];
		char p1[16], p2[16];
		if (mp.va != base + l->off || mp.size != l->size || mp.pa != l->pa ||
		    !ptmm_prop_eq(mp.prop, l->prop) || mp.mmio != l->mmio || mp.untracked) {
			world_violation(w, "view differs from the model at leaf %zu: mm va 0x%llx size "
					   "0x%llx pa 0x%llx %s:%u%s%s, model va 0x%llx size 0x%llx pa "
					   "0x%llx %s:%u%s",
					i, (unsigned long long)mp.va, (unsigned long long)mp.size,
					(unsigned long long)mp.pa, prop_str(mp.prop, p1), mp.prop.cache,
					mp.mmio ? " mmio" : "", mp.untracked ? " untracked" : "",
					(unsigned long long)(base + l->off), (unsigned long long)l->size,
					(unsigned long long)l->pa, prop_str(l->prop, p2), l->prop.cache,
					l->mmio ? " mmio" : "");
			break;
		}
		i++;
		pos = mp.va - base + mp.size;
	}
	ptmm_cursor_close(&c);
	if (!world_failed(w) && i != m->n)
		world_violation(w, "view lacks the model's leaf %zu (va 0x%llx size 0x%llx)", i,
				(unsigned long long)(base + m->v[i].off),
				(unsigned long long)m->v[i].size);
	return !world_failed(w);
}

/* Every check of a state with no cursor open. */
static bool check_state(struct world *w, const struct model *m, const char *where)
{
	char buf[256];
	struct ptmm_page_table *pts[1] = { &w->pt };
	if (world_failed(w))
		return false;
	if (ptmm_check(pts, 1, &w->ft, buf, sizeof(buf)) != PTMM_OK) {
		world_violation(w, "ptmm_check %s: %s", where, buf);
		return false;
	}
	if (!check_view(w, m))
		return false;
	struct ptmm_stats st;
	ptmm_stats(&w->pt, &st);
	uint64_t nodes = model_nodes(m), mapped = model_mapped(m), frames = model_frames(m);
	if (st.nodes != nodes || st.mapped != mapped || st.frames != frames) {
		world_violation(w, "stats %s: nodes=%llu mapped=0x%llx frames=%llu, the model says "
				   "nodes=%llu mapped=0x%llx frames=%llu",
				where, (unsigned long long)st.nodes, (unsigned long long)st.mapped,
				(unsigned long long)st.frames, (unsigned long long)nodes,
				(unsigned long long)mapped, (unsigned long long)frames);
		return false;
	}
	uint64_t pool_frames = w->pool >> PTMM_PAGE_SHIFT;
	uint64_t free_pool = ptmm_frame_zone_free_frames(&w->ft, ZONE_POOL);
	if (free_pool != pool_frames - nodes) {
		world_violation(w, "node memory %s: %llu pool frames free, %llu nodes in a pool of "
				   "%llu: a node leaked or was freed twice",
				where, (unsigned long long)free_pool, (unsigned long long)nodes,
				(unsigned long long)pool_frames);
		return false;
	}
	/* No handles exist here: a data block's references are exactly its mappings. */
	for (uint64_t i = 0; i < w->mem >> PTMM_PAGE_SHIFT;) {
		const struct ptmm_frame_slot *s = &w->ft.slots[i];
		if (s->usage == PTMM_FRAME_DATA && atomic_load(&s->refcount) != s->map_count) {
			world_violation(w, "data block 0x%llx %s: refcount %u, map_count %u: a "
					   "reference leaked",
					(unsigned long long)(i << PTMM_PAGE_SHIFT), where,
					atomic_load(&s->refcount), s->map_count);
			return false;
		}
		i += (uint64_t)1 << s->order;
	}
	tlb_fill(w);
	return tlb_check_released(w, where) && tlb_check_consistent(w, where);
}

/* ---- running a step ---- */

static bool code_allowed(model_codes codes, int rc)
{
	return (codes & MODEL_CODE(rc)) != 0;
}

/* Apply op `o` to the model, given the mm's answer; false (and a violation) if they disagree. */
static bool model_step(struct world *w, struct model *m, const struct op *o, int rc,
		       uint64_t bytes, const struct ptmm_mapping *got, int found)
{
	uint64_t off = off_of(w, o->va), mbytes = 0;
	model_codes codes = 0;
	const struct model_leaf *l = NULL;
	switch (o->kind) {
	case K_MAP:
	case K_MMIO:
		codes = model_map(m, off, o->len, o->pa, o->prop, prop_rule(w, o->prop),
				  o->flags & PTMM_MAP_HUGE, o->flags & PTMM_MAP_REPLACE, o->kind == K_MMIO);
		break;
	case K_UNMAP:
		codes = model_unmap(m, off, o->len, &mbytes);
		break;
	case K_PROTECT:
		codes = model_protect(m, off, o->len, o->prop, prop_rule(w, o->prop), &mbytes);
		break;
	case K_QUERY:
		codes = model_range(m, off, SZ_4K);
		if (!codes) {
			codes = MODEL_CODE(PTMM_OK);
			l = model_leaf_at(m, off);
		}
		break;
	case K_FIND:
		codes = model_range(m, off, o->len);
		if (!codes) {
			codes = MODEL_CODE(PTMM_OK);
			l = model_find(m, off, o->len);
		}
		break;
	}
	if (!code_allowed(codes, rc)) {
		world_violation(w, "answer %s (%d), the contract allows the set 0x%x (bit k: -k)",
				ptmm_strerror(rc), rc, codes);
		return false;
	}
	if (rc != PTMM_OK)
		return true;
	if ((o->kind == K_UNMAP || o->kind == K_PROTECT) && bytes != mbytes) {
		world_violation(w, "answer ok 0x%llx, the model says ok 0x%llx",
				(unsigned long long)bytes, (unsigned long long)mbytes);
		return false;
	}
	if (o->kind == K_QUERY || o->kind == K_FIND) {
		bool present = o->kind == K_QUERY ? got->present : found == 1;
		if (present != (l != NULL) ||
		    (l && (got->va != world_base(w) + l->off || got->size != l->size ||
			   got->pa != l->pa || !ptmm_prop_eq(got->prop, l->prop)))) {
			world_violation(w, "%s answered %s va 0x%llx size 0x%llx, the model %s",
					o->kind == K_QUERY ? "query" : "find",
					present ? "a leaf" : "none", (unsigned long long)got->va,
					(unsigned long long)got->size, l ? "a leaf" : "none");
			return false;
		}
	}
	return true;
}

/* Run one operation through the open cursor c (at o->va). */
static int run_in_cursor(struct ptmm_cursor *c, const struct op *o, uint64_t *bytes,
			 struct ptmm_mapping *got, int *found)
{
	int rc = ptmm_cursor_jump(c, o->va);
	if (rc)
		return rc;
	switch (o->kind) {
	case K_MAP:
		return ptmm_cursor_map(c, o->pa, o->len, o->prop, o->flags);
	case K_MMIO:
		return ptmm_cursor_map(c, o->pa, o->len, o->prop, o->flags | PTMM_MAP_MMIO);
	case K_UNMAP:
		return ptmm_cursor_unmap(c, o->len, bytes);
	case K_PROTECT:
		return ptmm_cursor_protect(c, o->len, o->prop, bytes);
	case K_QUERY:
		return ptmm_cursor_query(c, got);
	case K_FIND:
		*found = ptmm_cursor_find_next(c, o->len, got);
		return *found < 0 ? *found : PTMM_OK;
	}
	return PTMM_EINVAL;
}

/* One operation as ptsim runs a command: its own cursor on exactly its range. */
static int run_alone(struct world *w, const struct op *o, uint64_t *bytes, struct ptmm_mapping *got,
		     int *found)
{
	struct ptmm_cursor c;
	uint64_t len = o->kind == K_QUERY ? SZ_4K : o->len;
	/* ptsim refuses mmio over RAM before opening a cursor. */
	if (o->kind == K_MMIO &&
	    (o->pa + o->len < o->pa || ptmm_frame_range_touches_ram(&w->ft, o->pa, o->len)))
		return PTMM_ERANGE;
	int rc = ptmm_cursor_open(&c, &w->pt, o->va, len);
	if (rc)
		return rc;
	rc = run_in_cursor(&c, o, bytes, got, found);
	ptmm_cursor_close(&c);
	return rc;
}

struct stats {
	uint64_t states, executions, injected, max_allocs;
	unsigned depth_done;
};

/*
 * Run step s on the world (at the state the model m describes), fail the
 * fail_at-th allocation if fail_at != 0.  With `check`, every check of the
 * header comment; returns false on a violation (in w->violation).
 * *allocs gets the allocations the step made.
 */
static bool run_step(struct world *w, struct model *m, const struct step *s, unsigned fail_at,
		     bool check, unsigned *allocs)
{
	static struct words before, after;
	sigjmp_buf jb;
	w->assert_jmp = &jb;
	if (sigsetjmp(jb, 1)) {
		w->assert_jmp = NULL;
		alarm(0);
		return false; /* an PTMM_ASSERT fired or the step hung: the violation is recorded */
	}
	alarm(STEP_TIMEOUT);
	w->fail_at = fail_at;
	w->alloc_calls = 0;
	w->injected = false;
	if (check)
		tlb_fill(w); /* the TLB may hold anything mapped now */

	if (!s->batch) {
		const struct op *o = &s->sub[0];
		uint64_t bytes = 0;
		struct ptmm_mapping got = { 0 };
		int found = 0;
		if (check && fail_at)
			canon(w, &before, true);
		int rc = run_alone(w, o, &bytes, &got, &found);
		*allocs = w->alloc_calls;
		w->assert_jmp = NULL;
		alarm(0);
		if (!check)
			return true;
		if (w->injected) {
			if (rc != PTMM_ENOMEM) {
				world_violation(w, "injected allocation failure %u answered %s, not nomem",
						fail_at, ptmm_strerror(rc));
				return false;
			}
			canon(w, &after, true);
			if (!words_eq(&before, &after)) {
				world_violation(w, "all-or-nothing: the step failed (nomem, injected) but "
						   "changed the state (leaves, counts, slots or free memory)");
				return false;
			}
			return check_state(w, m, "after an injected failure");
		}
		if (world_failed(w))
			return false;
		return model_step(w, m, o, rc, bytes, &got, found) && check_state(w, m, "after the step");
	}

	struct ptmm_cursor c;
	char buf[256];
	struct ptmm_page_table *pts[1] = { &w->pt };
	int rc = ptmm_cursor_open(&c, &w->pt, s->bva, s->blen);
	if (rc) {
		world_violation(w, "batch cursor refused: %s", ptmm_strerror(rc));
		return false;
	}
	for (unsigned i = 0; i < s->nsub; i++) {
		const struct op *o = &s->sub[i];
		uint64_t bytes = 0;
		struct ptmm_mapping got = { 0 };
		int found = 0;
		bool was_injected = w->injected;
		if (i > 0 && s->flush_mid) {
			ptmm_cursor_flush(&c);
			if (check && ptmm_check_open(pts, 1, &w->ft, &c, buf, sizeof(buf)) != PTMM_OK)
				world_violation(w, "ptmm_check_open after the batch's flush: %s", buf);
		}
		if (check && fail_at)
			canon(w, &before, false);
		rc = run_in_cursor(&c, o, &bytes, &got, &found);
		if (!check)
			continue;
		if (w->injected && !was_injected) {
			/* This operation met the injected failure: it must change nothing. */
			canon(w, &after, false);
			if (rc != PTMM_ENOMEM)
				world_violation(w, "injected allocation failure %u answered %s, not nomem",
						fail_at, ptmm_strerror(rc));
			else if (!words_eq(&before, &after))
				world_violation(w, "all-or-nothing: operation %u of the batch failed "
						   "(nomem, injected) but changed the tree",
						i + 1);
		} else if (!world_failed(w)) {
			model_step(w, m, o, rc, bytes, &got, found);
		}
		if (!world_failed(w) && ptmm_check_cursor(&c, buf, sizeof(buf)) != PTMM_OK)
			world_violation(w, "ptmm_check_cursor after operation %u of the batch: %s", i + 1,
					buf);
		if (!world_failed(w)) {
			tlb_fill(w);
			tlb_check_released(w, "inside the batch");
		}
	}
	ptmm_cursor_close(&c);
	*allocs = w->alloc_calls;
	w->assert_jmp = NULL;
	alarm(0);
	if (!check)
		return true;
	return check_state(w, m, "after the batch's close");
}

/* ---- the search ---- */

struct node {
	uint32_t parent; /* index in nodes[], UINT32_MAX for the root */
	uint16_t step;
	uint16_t depth;
};

static struct node *nodes;
static size_t nr_nodes, cap_nodes;

static uint64_t *table;
static size_t table_mask;
static size_t table_used;

static bool table_insert(uint64_t h)
{
	if (2 * (table_used + 1) > table_mask + 1) {
		size_t old = table_mask + 1;
		uint64_t *t = table;
		table_mask = old * 2 - 1;
		table = calloc(table_mask + 1, sizeof(*table));
		if (table == NULL)
			exit(1);
		for (size_t i = 0; i < old; i++)
			if (t[i]) {
				size_t j = t[i] & table_mask;
				while (table[j])
					j = (j + 1) & table_mask;
				table[j] = t[i];
			}
		free(t);
	}
	size_t j = h & table_mask;
	while (table[j]) {
		if (table[j] == h)
			return false;
		j = (j + 1) & table_mask;
	}
	table[j] = h;
	table_used++;
	return true;
}

static uint32_t add_node(uint32_t parent, unsigned step, unsigned depth)
{
	if (nr_nodes == cap_nodes) {
		cap_nodes = cap_nodes ? 2 * cap_nodes : 4096;
		nodes = realloc(nodes, cap_nodes * sizeof(*nodes));
		if (nodes == NULL)
			exit(1);
	}
	nodes[nr_nodes] = (struct node){ parent, (uint16_t)step, (uint16_t)depth };
	return (uint32_t)nr_nodes++;
}

/* The steps from the root to node i, in order; returns how many. */
static unsigned path_of(uint32_t i, unsigned *out, unsigned max)
{
	unsigned n = 0;
	for (uint32_t k = i; k != UINT32_MAX && nodes[k].parent != UINT32_MAX; k = nodes[k].parent)
		n++;
	if (n > max)
		exit(2);
	unsigned d = n;
	for (uint32_t k = i; k != UINT32_MAX && nodes[k].parent != UINT32_MAX; k = nodes[k].parent)
		out[--d] = nodes[k].step;
	return n;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void report_failure(const struct world *w, const unsigned *path, unsigned n,
			   unsigned last, unsigned fail_at, double secs, const struct stats *st)
{
	printf("explore %s/%s: VIOLATION at depth %u after %.2f s (%llu states, %llu executions): %s\n",
	       w->enc->name, w->kernel ? "kernel" : "user", n + 1, secs,
	       (unsigned long long)st->states, (unsigned long long)st->executions, w->violation);
	printf("# shortest failing sequence (%u steps), as a ptsim script:\n", n + 1);
	if (w->enc->ptsim_arch)
		printf("# ptsim --arch %s%s --space %s --mem 0x%llx --pt-pool 0x%llx --check FILE\n",
		       w->enc->ptsim_arch, w->enc->ptsim_opts, w->kernel ? "kernel" : "user",
		       (unsigned long long)w->mem, (unsigned long long)w->pool);
	else
		printf("# (encoder %s is not in ptsim: replay with tools/explore --replay)\n",
		       w->enc->name);
	printf("# the explorer's own directives are '#@' comments (a batch cursor, a flush,\n"
	       "# an injected allocation failure); ptsim runs their operations one by one\n");
	for (unsigned i = 0; i < n; i++)
		print_step(stdout, &steps[path[i]], 0);
	print_step(stdout, &steps[last], fail_at);
	printf("# expected: the check after the last step fails\n");
}

struct options {
	const char *arch;
	bool kernel;
	unsigned depth;
	bool batches, inject;
	const char *replay;
};

/* --replay FILE: run a script of the explorer's steps with every check (see print_step). */
static int replay(struct world *w, struct model *m, const char *file);

static int explore(const struct options *o)
{
	static struct world w;
	struct encoder_cfg *enc = NULL;
	for (size_t i = 0; i < NR_ENCODERS; i++)
		if (strcmp(encoders[i].name, o->arch) == 0)
			enc = &encoders[i];
	if (enc == NULL) {
		fprintf(stderr, "explore: unknown --arch %s\n", o->arch);
		return 2;
	}
	if (enc->init == NULL) { /* a registry mode: its init, features and optional ones */
		const struct mm_mode *m = mm_mode_find(enc->name);
		if (m == NULL) {
			fprintf(stderr, "explore: %s is not in the mode registry\n", enc->name);
			return 2;
		}
		enc->init = m->init;
		enc->features = m->features | m->optional;
	}
	/* Kernel tables preallocate 256 nodes below the root. */
	uint64_t pool = (o->kernel ? 256 + 1 + 63 : 64) * SZ_4K;
	world_init(&w, enc, o->kernel, 4 * MIB, pool);
	struct model_geom g = {
		.levels = w.arch.levels,
		.max_level = ptmm_page_table_max_leaf_level(&w.pt),
		.half_size = world_half(&w),
		.kernel = o->kernel,
		.mem = w.mem,
		.pool_end = w.mem + w.pool,
		.pa_limit = w.pa_limit,
	};
	struct model m, m_at;
	model_init(&m, &g);
	model_init(&m_at, &g);
	int rc = 0;
	struct world_snap init = { 0 }, at = { 0 };
	struct words cw = { 0 };
	if (o->replay) {
		rc = replay(&w, &m, o->replay);
		goto out;
	}
	build_steps(&w, o->batches);

	world_snap_init(&w, &init);
	world_snap_init(&w, &at);
	world_save(&w, &init);

	struct stats st = { 0 };
	double t0 = now();
	table_mask = 4095;
	table = calloc(table_mask + 1, sizeof(*table));
	if (!check_state(&w, &m, "in the initial state")) {
		printf("explore: the initial state fails: %s\n", w.violation);
		rc = 1;
		goto out;
	}
	canon(&w, &cw, true);
	table_insert(words_hash(&cw));
	add_node(UINT32_MAX, 0, 0);
	st.states = 1;

	unsigned path[256];
	for (size_t cur = 0; cur < nr_nodes; cur++) {
		unsigned depth = nodes[cur].depth;
		if (depth >= o->depth)
			break; /* breadth-first: every later node is as deep */
		/* Rebuild the state of node cur: replay its path from the initial state. */
		unsigned n = path_of((uint32_t)cur, path, 256), allocs;
		world_restore(&w, &init);
		model_free(&m_at);
		model_init(&m_at, &g);
		for (unsigned i = 0; i < n; i++) {
			run_step(&w, &m_at, &steps[path[i]], 0, false, &allocs);
			uint64_t bytes = 0;
			/* The model follows the same path (its answers were checked before). */
			for (unsigned k = 0; k < steps[path[i]].nsub; k++) {
				const struct op *op = &steps[path[i]].sub[k];
				uint64_t off = off_of(&w, op->va);
				if (op->kind == K_MAP || op->kind == K_MMIO)
					model_map(&m_at, off, op->len, op->pa, op->prop,
						  prop_rule(&w, op->prop), op->flags & PTMM_MAP_HUGE,
						  op->flags & PTMM_MAP_REPLACE, op->kind == K_MMIO);
				else if (op->kind == K_UNMAP)
					model_unmap(&m_at, off, op->len, &bytes);
				else if (op->kind == K_PROTECT)
					model_protect(&m_at, off, op->len, op->prop,
						      prop_rule(&w, op->prop), &bytes);
			}
		}
		world_save(&w, &at);
		for (unsigned s = 0; s < nr_steps; s++) {
			world_restore(&w, &at);
			model_copy(&m, &m_at);
			st.executions++;
			if (!run_step(&w, &m, &steps[s], 0, true, &allocs)) {
				report_failure(&w, path, n, s, 0, now() - t0, &st);
				rc = 1;
				goto out;
			}
			canon(&w, &cw, true);
			if (table_insert(words_hash(&cw))) {
				add_node((uint32_t)cur, s, depth + 1);
				st.states++;
			}
			if (allocs > st.max_allocs)
				st.max_allocs = allocs;
			if (!o->inject)
				continue;
			for (unsigned k = 1; k <= allocs; k++) {
				unsigned dummy;
				world_restore(&w, &at);
				model_copy(&m, &m_at);
				st.executions++;
				st.injected++;
				if (!run_step(&w, &m, &steps[s], k, true, &dummy)) {
					report_failure(&w, path, n, s, k, now() - t0, &st);
					rc = 1;
					goto out;
				}
			}
		}
		st.depth_done = depth + 1;
	}
	double secs = now() - t0;
	long double seqs = 0, p = 1;
	for (unsigned d = 1; d <= o->depth; d++) {
		p *= nr_steps;
		seqs += p;
	}
	printf("explore %s/%s: ok: depth %u, %u steps, %llu states, %.3Lg sequences (every one of "
	       "length <= %u), %llu executions (%llu with an injected failure, up to %llu "
	       "allocations per step), %.2f s\n",
	       enc->name, o->kernel ? "kernel" : "user", st.depth_done, nr_steps,
	       (unsigned long long)st.states, seqs, o->depth, (unsigned long long)st.executions,
	       (unsigned long long)st.injected, (unsigned long long)st.max_allocs, secs);
out:
	/* Everything back, so that the explorer runs clean under LeakSanitizer. */
	free(cw.v);
	world_snap_free(&init);
	world_snap_free(&at);
	model_free(&m);
	model_free(&m_at);
	world_free(&w);
	free(table);
	free(nodes);
	table = NULL;
	nodes = NULL;
	return rc;
}

/* ---- replay ---- */

static bool parse_prop(const char *s, struct ptmm_prop *p)
{
	unsigned flags = 0;
	if (strcmp(s, "-") == 0) {
		*p = ptmm_prop_make(0, PTMM_CACHE_WB);
		return true;
	}
	for (; *s; s++) {
		const char *k = strchr("rwxug", *s);
		if (k == NULL)
			return false;
		flags |= 1u << (k - "rwxug");
	}
	*p = ptmm_prop_make(flags, PTMM_CACHE_WB);
	return true;
}

static bool parse_op(char *line, struct op *o)
{
	char cmd[16], a4[16], a5[16], a6[16];
	unsigned long long a1 = 0, a2 = 0, a3 = 0;
	int n = sscanf(line, "%15s %llx %llx %llx %15s %15s %15s", cmd, &a1, &a2, &a3, a4, a5, a6);
	memset(o, 0, sizeof(*o));
	o->va = a1;
	o->len = a2;
	if ((strcmp(cmd, "map") == 0 || strcmp(cmd, "mmio") == 0) && n >= 5) {
		o->kind = cmd[1] == 'a' ? K_MAP : K_MMIO;
		o->pa = a3;
		if (!parse_prop(a4, &o->prop))
			return false;
		for (int i = 5; i < n; i++) {
			const char *f = i == 5 ? a5 : a6;
			o->flags |= strcmp(f, "huge") == 0 ? PTMM_MAP_HUGE : PTMM_MAP_REPLACE;
		}
		return true;
	}
	if (strcmp(cmd, "unmap") == 0 && n == 3) {
		o->kind = K_UNMAP;
		return true;
	}
	if (strcmp(cmd, "protect") == 0) {
		sscanf(line, "%15s %llx %llx %15s", cmd, &a1, &a2, a4);
		o->kind = K_PROTECT;
		return parse_prop(a4, &o->prop);
	}
	if (strcmp(cmd, "query") == 0 && n == 2) {
		o->kind = K_QUERY;
		o->len = SZ_4K;
		return true;
	}
	if (strcmp(cmd, "find") == 0 && n == 3) {
		o->kind = K_FIND;
		return true;
	}
	return false;
}

static int replay(struct world *w, struct model *m, const char *file)
{
	FILE *f = fopen(file, "r");
	char line[512];
	unsigned fail_at = 0, lineno = 0, nstep = 0, allocs;
	struct step s;
	bool in_batch = false;
	if (f == NULL) {
		perror(file);
		return 2;
	}
	if (!check_state(w, m, "in the initial state"))
		goto failed;
	while (fgets(line, sizeof(line), f)) {
		lineno++;
		line[strcspn(line, "\n")] = 0;
		if (strncmp(line, "#@ fail ", 8) == 0) {
			fail_at = (unsigned)strtoul(line + 8, NULL, 0);
			continue;
		}
		if (strncmp(line, "#@ batch ", 9) == 0) {
			memset(&s, 0, sizeof(s));
			s.batch = true;
			in_batch = true;
			unsigned long long bva = 0, blen = 0;
			sscanf(line + 9, "%llx %llx", &bva, &blen);
			s.bva = bva;
			s.blen = blen;
			continue;
		}
		if (strncmp(line, "#@ flush", 8) == 0) {
			s.flush_mid = true;
			continue;
		}
		bool end = strncmp(line, "#@ end", 6) == 0;
		if (!end && (line[0] == '#' || line[0] == 0))
			continue;
		if (!end) {
			struct op o;
			if (!parse_op(line, &o)) {
				fprintf(stderr, "%s:%u: not an explorer step\n", file, lineno);
				return 2;
			}
			if (in_batch) {
				if (s.nsub == MAX_SUB)
					return 2;
				s.sub[s.nsub++] = o;
				continue;
			}
			memset(&s, 0, sizeof(s));
			s.sub[0] = o;
			s.nsub = 1;
		}
		in_batch = false;
		nstep++;
		if (!run_step(w, m, &s, fail_at, true, &allocs))
			goto failed;
		fail_at = 0;
	}
	fclose(f);
	printf("replay %s: %u steps, every check passed\n", file, nstep);
	return 0;
failed:
	printf("replay %s: VIOLATION at step %u: %s\n", file, nstep, w->violation);
	return 1;
}

static void usage(void)
{
	fprintf(stderr, "usage: explore [--arch NAME] [--space user|kernel] [--depth K] "
			"[--no-batch] [--no-inject] [--replay FILE]\n  NAME:");
	for (size_t i = 0; i < NR_ENCODERS; i++)
		fprintf(stderr, " %s", encoders[i].name);
	fprintf(stderr, "\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct options o = { .arch = "x86_64", .depth = 2, .batches = true, .inject = true };
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--arch") == 0 && v) {
			o.arch = v;
			i++;
		} else if (strcmp(a, "--space") == 0 && v) {
			if (strcmp(v, "user") && strcmp(v, "kernel"))
				usage();
			o.kernel = strcmp(v, "kernel") == 0;
			i++;
		} else if (strcmp(a, "--depth") == 0 && v) {
			o.depth = (unsigned)strtoul(v, NULL, 10);
			i++;
		} else if (strcmp(a, "--no-batch") == 0) {
			o.batches = false;
		} else if (strcmp(a, "--no-inject") == 0) {
			o.inject = false;
		} else if (strcmp(a, "--replay") == 0 && v) {
			o.replay = v;
			i++;
		} else {
			usage();
		}
	}
	if (o.depth == 0 || o.depth > 16)
		usage();
	return explore(&o);
}
