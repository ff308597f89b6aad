/*
 * encoder_laws.c - the encoder laws (docs/VERIFY.md, part 3), checked
 * exhaustively: every property value (all 256 flag bytes x all 256 cache
 * bytes for prop_check, the 128 well-formed ones for the encodings) x every
 * level x every feature set of every encoder, with boundary addresses (0,
 * the largest PA the address field holds, every single address bit, and
 * alternating bit patterns), each aligned to the level's page size.
 *
 *   L1 round trip: prop_check(p) == OK => for every leaf level and address,
 *      leaf_prop(leaf_template(p, l) | field(pa), l) == p and the entry's
 *      address reads back as pa.
 *   L2 disjoint: no template bit lands on the address field of a
 *      level-aligned PA (x86's huge PAT bit lies below the 2M alignment).
 *   L3 distinguishable: above level 1 every leaf has a leaf bit, no table
 *      entry has one, whatever the address.
 *   L4 software bits: no leaf template holds the untracked tag, and setting
 *      it changes no decoded property.
 *   L5 zero is absent: every leaf template (no-access ones included) and
 *      every table template is non-zero.
 *   L6 prop_check refuses exactly what cannot be expressed: a refused
 *      property is decoded from no accepted property's leaf, at any level;
 *      and its code is the contract's (PTSIM.md "Properties"), from an
 *      independent table of rules here.
 *
 * Plain C, no framework: prints one line per configuration and exits 1 on
 * the first broken law with the values that break it.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_arch.h"
#include <ptmm/mm.h>
#include <ptmm/mm_assert.h>

struct config {
	const char *name;
	void (*init)(struct ptmm_arch *a, uint32_t features, const struct ptmm_tlb_ops *tlb);
	uint32_t features;
	/* The contract's rule for a well-formed property (flags <= 31, cache < 4). */
	int (*rule)(const struct config *c, struct ptmm_prop p);
};

static int rule_x86(const struct config *c, struct ptmm_prop p)
{
	bool r = p.flags & PTMM_PROP_R, w = p.flags & PTMM_PROP_W, x = p.flags & PTMM_PROP_X;
	if ((w || x) && !r)
		return PTMM_EINVAL;
	if (r && !x && !(c->features & PTMM_FEAT_X86_NX))
		return PTMM_ENOTSUP; /* without NX every readable page is executable */
	return PTMM_OK;
}

static int rule_riscv(const struct config *c, struct ptmm_prop p)
{
	if ((p.flags & PTMM_PROP_W) && !(p.flags & PTMM_PROP_R))
		return PTMM_EINVAL;
	if (p.cache == PTMM_CACHE_WT)
		return PTMM_ENOTSUP;
	if (p.cache != PTMM_CACHE_WB && !(c->features & PTMM_FEAT_RV_SVPBMT))
		return PTMM_ENOTSUP;
	return PTMM_OK;
}

static int rule_fake(const struct config *c, struct ptmm_prop p)
{
	(void)c;
	if ((p.flags & PTMM_PROP_W) && !(p.flags & PTMM_PROP_R))
		return PTMM_EINVAL;
	return PTMM_OK;
}

static const struct config configs[] = {
	{ "x86_64", ptmm_arch_x86_64_init, 0, rule_x86 },
	{ "x86_64+nx", ptmm_arch_x86_64_init, PTMM_FEAT_X86_NX, rule_x86 },
	{ "x86_64+1g", ptmm_arch_x86_64_init, PTMM_FEAT_X86_1G, rule_x86 },
	{ "x86_64+nx+1g", ptmm_arch_x86_64_init, PTMM_FEAT_X86_NX | PTMM_FEAT_X86_1G, rule_x86 },
	{ "sv48", ptmm_arch_sv48_init, 0, rule_riscv },
	{ "sv48+svpbmt", ptmm_arch_sv48_init, PTMM_FEAT_RV_SVPBMT, rule_riscv },
	{ "fake48", mm_arch_fake48_init, 0, rule_fake },
};

static unsigned long long checks;

#define LAW(cond, ...)                                                                   \
	do {                                                                             \
		checks++;                                                                \
		if (!(cond)) {                                                           \
			printf("%s: law broken: ", c->name);                              \
			printf(__VA_ARGS__);                                              \
			printf("\n");                                                     \
			exit(1);                                                          \
		}                                                                        \
	} while (0)

/* Boundary PAs of the address field aligned to `align`: returns how many (<= 80). */
static unsigned boundary_pas(const struct ptmm_arch *a, uint64_t align, ptmm_paddr_t *out)
{
	uint64_t frames = (a->fmt.addr_mask >> a->fmt.addr_shift) + 1;
	ptmm_paddr_t limit = frames << PTMM_PAGE_SHIFT, top = limit - align;
	unsigned n = 0;
	out[n++] = 0;
	out[n++] = top;
	for (ptmm_paddr_t bit = align; bit < limit; bit <<= 1)
		out[n++] = bit;
	out[n++] = 0x5555555555555555ull & top;
	out[n++] = 0xaaaaaaaaaaaaaaaaull & top;
	out[n++] = align;
	out[n++] = top - align;
	return n;
}

static bool prop_eq(struct ptmm_prop a, struct ptmm_prop b)
{
	return a.flags == b.flags && a.cache == b.cache;
}

static void check_config(const struct config *c)
{
	struct ptmm_arch a;
	c->init(&a, c->features, NULL);
	const struct ptmm_pte_format *f = &a.fmt;
	unsigned long long before = checks;
	ptmm_paddr_t pas[80];

	/* L5 and L3 for table entries, at every level that has them. */
	for (unsigned l = 2; l <= a.levels; l++) {
		ptmm_pte_t t = a.table_template(&a, l);
		LAW(t != 0, "table template at level %u is zero", l);
		LAW((t & f->addr_mask) == 0, "table template 0x%" PRIx64 " at level %u meets the "
		    "address field", t, l);
		unsigned n = boundary_pas(&a, PTMM_PAGE_SIZE, pas);
		for (unsigned k = 0; k < n; k++) {
			ptmm_pte_t e = ptmm_pte_make(f, t, pas[k]);
			LAW(!ptmm_pte_is_leaf(f, e, l), "table entry 0x%" PRIx64 " at level %u reads as a "
			    "leaf", e, l);
			LAW(ptmm_pte_table_addr(f, e) == pas[k], "table entry at level %u loses PA 0x%"
			    PRIx64, l, pas[k]);
		}
	}

	/* Every flags x cache byte: prop_check against the rules (L6, codes). */
	for (unsigned flags = 0; flags < 256; flags++) {
		for (unsigned cache = 0; cache < 256; cache++) {
			struct ptmm_prop p = ptmm_prop_make(flags, (enum ptmm_cache)cache);
			int got = a.prop_check(&a, p);
			int want = (flags & ~PTMM_PROP_ALL) || cache >= PTMM_CACHE_COUNT ? PTMM_EINVAL
										 : c->rule(c, p);
			LAW(got == want, "prop_check(flags 0x%x, cache %u) = %d, the contract says %d",
			    flags, cache, got, want);
		}
	}

	/* The image: every property decoded from an accepted one's leaf, per level. */
	static bool image[PTMM_MAX_LEVELS + 1][32][PTMM_CACHE_COUNT + 1];
	memset(image, 0, sizeof(image));
	for (unsigned flags = 0; flags < 32; flags++) {
		for (unsigned cache = 0; cache < PTMM_CACHE_COUNT; cache++) {
			struct ptmm_prop p = ptmm_prop_make(flags, (enum ptmm_cache)cache);
			if (a.prop_check(&a, p) != PTMM_OK)
				continue;
			for (unsigned l = 1; l <= a.max_leaf_level; l++) {
				ptmm_pte_t t = a.leaf_template(&a, p, l);
				uint64_t size = ptmm_level_size(l);
				/* L5, L4 */
				LAW(t != 0, "leaf template of flags 0x%x cache %u at level %u is zero",
				    flags, cache, l);
				LAW((t & f->untracked) == 0, "leaf template of flags 0x%x cache %u at "
				    "level %u holds the untracked tag", flags, cache, l);
				/* L2: template bits in the field lie below the level's alignment. */
				LAW((t & f->addr_mask & ptmm_pte_addr_field(f, ~(size - 1) & ~0xfffull)) == 0,
				    "leaf template 0x%" PRIx64 " at level %u meets the address of a "
				    "%" PRIu64 "-byte page", t, l, size);
				unsigned n = boundary_pas(&a, size, pas);
				for (unsigned k = 0; k < n; k++) {
					ptmm_pte_t e = ptmm_pte_make(f, t, pas[k]);
					struct ptmm_prop q = a.leaf_prop(&a, e, l);
					/* L1 */
					LAW(prop_eq(q, p), "level %u, PA 0x%" PRIx64 ": flags 0x%x cache %u "
					    "reads back as flags 0x%x cache %u", l, pas[k], flags, cache,
					    q.flags, q.cache);
					LAW(ptmm_pte_addr(f, e, l) == pas[k], "level %u: PA 0x%" PRIx64 " reads "
					    "back as 0x%" PRIx64, l, pas[k], ptmm_pte_addr(f, e, l));
					/* L3 */
					LAW(ptmm_pte_is_leaf(f, e, l), "leaf 0x%" PRIx64 " at level %u is not a "
					    "leaf", e, l);
					/* L4 */
					struct ptmm_prop u = a.leaf_prop(&a, e | f->untracked, l);
					LAW(prop_eq(u, p), "the untracked tag changes the property at level "
					    "%u (flags 0x%x cache %u)", l, flags, cache);
					LAW(ptmm_pte_addr(f, e | f->untracked, l) == pas[k], "the untracked tag "
					    "changes the PA at level %u", l);
				}
				struct ptmm_prop q = a.leaf_prop(&a, t, l);
				if (q.flags < 32 && q.cache <= PTMM_CACHE_COUNT)
					image[l][q.flags][q.cache] = true;
			}
		}
	}
	/* L6: a refused property is in no level's image. */
	for (unsigned flags = 0; flags < 32; flags++)
		for (unsigned cache = 0; cache < PTMM_CACHE_COUNT; cache++) {
			struct ptmm_prop p = ptmm_prop_make(flags, (enum ptmm_cache)cache);
			if (a.prop_check(&a, p) == PTMM_OK)
				continue;
			for (unsigned l = 1; l <= a.max_leaf_level; l++)
				LAW(!image[l][flags][cache], "refused flags 0x%x cache %u is what an "
				    "accepted property's level-%u leaf decodes to", flags, cache, l);
		}
	printf("%-14s levels %u, leaves up to level %u: %llu checks, every law holds\n", c->name,
	       a.levels, a.max_leaf_level, checks - before);
}

int main(void)
{
	for (size_t i = 0; i < sizeof(configs) / sizeof(configs[0]); i++)
		check_config(&configs[i]);
	printf("encoder laws: %llu checks over %zu configurations, all hold\n", checks,
	       sizeof(configs) / sizeof(configs[0]));
	return 0;
}

/* The mm's PTMM_ASSERT hook (nothing here runs the mm's operations). */
void ptmm_assert_failed(const char *file, int line, const char *cond)
{
	fprintf(stderr, "mm assertion failed: %s:%d: %s\n", file, line, cond);
	abort();
}

/* The mm's self-deadlock detection hook: one context (single-threaded). */
const void *ptmm_debug_context(void)
{
	static const char only;
	return &only;
}
