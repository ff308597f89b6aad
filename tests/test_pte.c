/*
 * test_pte.c - host tests of the PTE encoders (arch/x86_64/pte.c,
 * arch/riscv64/pte.c, and the host tests' fake48 in tests/fake_arch.c)
 * through the mm_arch ops table and the pte.h helpers.
 *
 * Every test body runs over each encoder configuration it applies to (x86-64
 * with NX and 1G pages, with NX only, with neither; Sv48 with and without
 * Svpbmt; fake48).  The expectations come from an independent model written
 * here from the hardware manuals (fake48: from the layout table in
 * fake_arch.c): the bit positions, which properties each CPU can express
 * and the exact error codes.  The model never calls the encoder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>

#include <ptmm/arch.h>
#include "fake_arch.h"
#include <ptmm/pte.h>

#define BIT(n) ((uint64_t)1 << (n))

/* ---- The independent model: hardware bit positions ---- */

/* x86-64 (Intel SDM vol. 3A, 4-level paging), plus our software bit. */
#define X86_P BIT(0)
#define X86_RW BIT(1)
#define X86_US BIT(2)
#define X86_PWT BIT(3)
#define X86_PCD BIT(4)
#define X86_A BIT(5)
#define X86_D BIT(6)
#define X86_PS BIT(7)       /* levels 2, 3 */
#define X86_PAT_4K BIT(7)   /* level 1 */
#define X86_G BIT(8)
#define X86_NOACCESS BIT(9) /* our marker, in the CPU-ignored bits 9..11 */
#define X86_PAT_HUGE BIT(12)
#define X86_NX BIT(63)
#define X86_PHYS_BITS 52

/* RISC-V Sv48 (privileged spec; Svpbmt), plus our software bit. */
#define SV_V BIT(0)
#define SV_R BIT(1)
#define SV_W BIT(2)
#define SV_X BIT(3)
#define SV_U BIT(4)
#define SV_G BIT(5)
#define SV_A BIT(6)
#define SV_D BIT(7)
#define SV_NOACCESS BIT(8) /* our marker, RSW bit 8 */
#define SV_RSW9 BIT(9)
#define SV_PBMT_SHIFT 61
#define SV_PBMT_MASK ((uint64_t)3 << SV_PBMT_SHIFT)
#define SV_PBMT_PMA 0u
#define SV_PBMT_NC 1u
#define SV_PBMT_IO 2u
#define SV_RESERVED_54_60 (((uint64_t)0x7f) << 54)
#define SV_N BIT(63)
#define SV_PHYS_BITS 56

/* fake48 and fake57 (the layout table of tests/fake_arch.c). */
#define FK_V BIT(0)
#define FK_LEAF BIT(1)
#define FK_LEVEL_SHIFT 2
#define FK_LEVEL_MASK ((uint64_t)7 << FK_LEVEL_SHIFT)
#define FK_NOACCESS BIT(10)
#define FK_UNTRACKED BIT(11)
#define FK_RESERVED (((uint64_t)0xf << 12) | BIT(63)) /* bits 12..15, 63 */
#define FK_CACHE_SHIFT 60
#define FK_CACHE_MASK ((uint64_t)7 << FK_CACHE_SHIFT)
#define FK_ADDR_MASK 0x0fffffffffff0000ull /* bits 16..59 */
#define FK_PHYS_BITS 56
/* Bit of flag R, W, X, U, G (in that order) in a leaf at level 1..5. */
static const unsigned fk_perm_bit[6][5] = {
	[1] = { 5, 6, 7, 8, 9 },
	[2] = { 6, 7, 8, 9, 5 },
	[3] = { 7, 8, 9, 5, 6 },
	[4] = { 8, 9, 5, 6, 7 },
	[5] = { 9, 5, 6, 7, 8 },
};
/* CACHE code of WB, WT, UC, WC in a leaf at level 1..5: each column differs per level. */
static const unsigned fk_cache_code[6][PTMM_CACHE_COUNT] = {
	[1] = { 0, 1, 2, 3 },
	[2] = { 1, 2, 3, 4 },
	[3] = { 2, 3, 4, 5 },
	[4] = { 3, 4, 5, 6 },
	[5] = { 4, 5, 6, 7 },
};
static const unsigned fk_flag[5] = { PTMM_PROP_R, PTMM_PROP_W, PTMM_PROP_X, PTMM_PROP_U, PTMM_PROP_G };

/* ---- Configurations ---- */

enum enc_kind { ENC_X86 = 1, ENC_SV48 = 2, ENC_FAKE = 4 };

struct enc_config {
	const char *name;
	enum enc_kind kind;
	void (*init)(struct ptmm_arch *a, uint32_t features, const struct ptmm_tlb_ops *tlb);
	const char *mode; /* the mode's name (mm_arch.name) */
	uint32_t features;
	unsigned levels;  /* from the manuals: 3 Sv39, 4 x86-64/Sv48, 5 LA57/Sv57 */
	unsigned want_max_leaf_level;
};

#define X86_NX_1G (PTMM_FEAT_X86_NX | PTMM_FEAT_X86_1G)
static const struct enc_config configs[] = {
	{ "x86_64+nx+1g", ENC_X86, ptmm_arch_x86_64_init, "x86_64", X86_NX_1G, 4, 3 },
	{ "x86_64+nx", ENC_X86, ptmm_arch_x86_64_init, "x86_64", PTMM_FEAT_X86_NX, 4, 2 },
	{ "x86_64-bare", ENC_X86, ptmm_arch_x86_64_init, "x86_64", 0, 4, 2 },
	{ "x86_64-la57+nx+1g", ENC_X86, ptmm_arch_x86_64_la57_init, "x86_64-la57", X86_NX_1G, 5, 3 },
	{ "x86_64-la57+nx", ENC_X86, ptmm_arch_x86_64_la57_init, "x86_64-la57", PTMM_FEAT_X86_NX, 5, 2 },
	{ "x86_64-la57-bare", ENC_X86, ptmm_arch_x86_64_la57_init, "x86_64-la57", 0, 5, 2 },
	{ "sv39", ENC_SV48, ptmm_arch_sv39_init, "sv39", 0, 3, 3 },
	{ "sv39+svpbmt", ENC_SV48, ptmm_arch_sv39_init, "sv39", PTMM_FEAT_RV_SVPBMT, 3, 3 },
	{ "sv48", ENC_SV48, ptmm_arch_sv48_init, "sv48", 0, 4, 4 },
	{ "sv48+svpbmt", ENC_SV48, ptmm_arch_sv48_init, "sv48", PTMM_FEAT_RV_SVPBMT, 4, 4 },
	{ "sv57", ENC_SV48, ptmm_arch_sv57_init, "sv57", 0, 5, 5 },
	{ "sv57+svpbmt", ENC_SV48, ptmm_arch_sv57_init, "sv57", PTMM_FEAT_RV_SVPBMT, 5, 5 },
	{ "fake48", ENC_FAKE, mm_arch_fake48_init, "fake48", 0, 4, 4 },
	{ "fake57", ENC_FAKE, mm_arch_fake57_init, "fake57", 0, 5, 5 },
};
#define NR_CONFIGS (sizeof(configs) / sizeof(configs[0]))

/* A TLB ops table the encoders must keep by reference and never call. */
static const struct ptmm_tlb_ops no_tlb;

static const struct enc_config *cfg_of(void **state)
{
	return *state;
}

/* The encoder of kind `c`, initialised with `features`. */
static struct ptmm_arch arch_with(const struct enc_config *c, uint32_t features)
{
	struct ptmm_arch a;
	c->init(&a, features, &no_tlb);
	return a;
}

/* The encoder of `c`, freshly initialised. */
static struct ptmm_arch arch_of(const struct enc_config *c)
{
	return arch_with(c, c->features);
}

static bool is_x86(const struct enc_config *c)
{
	return c->kind == ENC_X86;
}

static bool is_fake(const struct enc_config *c)
{
	return c->kind == ENC_FAKE;
}

static bool has(const struct enc_config *c, uint32_t feature)
{
	return (c->features & feature) != 0;
}

static const char *prop_str(struct ptmm_prop p, char buf[24])
{
	static const char *const cache[] = { "wb", "wt", "uc", "wc" };
	snprintf(buf, 24, "%c%c%c%c%c%s:%s", p.flags & PTMM_PROP_R ? 'r' : '-',
		 p.flags & PTMM_PROP_W ? 'w' : '-', p.flags & PTMM_PROP_X ? 'x' : '-',
		 p.flags & PTMM_PROP_U ? 'u' : '-', p.flags & PTMM_PROP_G ? 'g' : '-',
		 (p.flags & ~PTMM_PROP_ALL) ? "+junk" : "",
		 p.cache < PTMM_CACHE_COUNT ? cache[p.cache] : "??");
	return buf;
}

/* ---- The independent model: what each CPU can express, and how ---- */

/* The code prop_check must return for `p` under configuration `c`. */
static int expected_check(const struct enc_config *c, struct ptmm_prop p)
{
	bool r = p.flags & PTMM_PROP_R, w = p.flags & PTMM_PROP_W, x = p.flags & PTMM_PROP_X;

	if ((p.flags & ~PTMM_PROP_ALL) != 0 || p.cache >= PTMM_CACHE_COUNT)
		return PTMM_EINVAL;
	if (w && !r)
		return PTMM_EINVAL;
	if (is_fake(c))
		return PTMM_OK; /* execute-only and every cache policy */
	if (is_x86(c)) {
		if (x && !r)
			return PTMM_EINVAL; /* no execute-only on x86 */
		if (r && !x && !has(c, PTMM_FEAT_X86_NX))
			return PTMM_ENOTSUP; /* would be executable anyway */
		return PTMM_OK;
	}
	if (p.cache == PTMM_CACHE_WT)
		return PTMM_ENOTSUP; /* Svpbmt has no write-through */
	if (p.cache != PTMM_CACHE_WB && !has(c, PTMM_FEAT_RV_SVPBMT))
		return PTMM_ENOTSUP;
	return PTMM_OK;
}

/* x86 PAT index (PAT:PCD:PWT) of each policy: WB 0, WT 1, UC 3, WC 4. */
static unsigned x86_expected_pat_index(unsigned cache)
{
	switch (cache) {
	case PTMM_CACHE_WB: return 0;
	case PTMM_CACHE_WT: return 1;
	case PTMM_CACHE_UC: return 3;
	default: return 4; /* PTMM_CACHE_WC */
	}
}

static uint64_t x86_expected_leaf(const struct enc_config *c, struct ptmm_prop p, unsigned level)
{
	unsigned pat = x86_expected_pat_index(p.cache);
	uint64_t e = X86_A | X86_D;

	e |= ptmm_prop_is_noaccess(p) ? X86_NOACCESS : X86_P;
	e |= (p.flags & PTMM_PROP_W) ? X86_RW : 0;
	e |= (p.flags & PTMM_PROP_U) ? X86_US : 0;
	e |= (p.flags & PTMM_PROP_G) ? X86_G : 0;
	e |= (has(c, PTMM_FEAT_X86_NX) && !(p.flags & PTMM_PROP_X)) ? X86_NX : 0;
	e |= (pat & 1) ? X86_PWT : 0;
	e |= (pat & 2) ? X86_PCD : 0;
	if (level == 1)
		e |= (pat & 4) ? X86_PAT_4K : 0;
	else
		e |= X86_PS | ((pat & 4) ? X86_PAT_HUGE : 0);
	return e;
}

static uint64_t sv48_expected_pbmt(unsigned cache)
{
	unsigned type = cache == PTMM_CACHE_WC ? SV_PBMT_NC :
			cache == PTMM_CACHE_UC ? SV_PBMT_IO : SV_PBMT_PMA;
	return (uint64_t)type << SV_PBMT_SHIFT;
}

static uint64_t sv48_expected_leaf(struct ptmm_prop p)
{
	uint64_t e = SV_A | SV_D | sv48_expected_pbmt(p.cache);

	e |= ptmm_prop_is_noaccess(p) ? SV_NOACCESS : SV_V;
	e |= (p.flags & PTMM_PROP_R) ? SV_R : 0;
	e |= (p.flags & PTMM_PROP_W) ? SV_W : 0;
	e |= (p.flags & PTMM_PROP_X) ? SV_X : 0;
	e |= (p.flags & PTMM_PROP_U) ? SV_U : 0;
	e |= (p.flags & PTMM_PROP_G) ? SV_G : 0;
	return e;
}

/* fake48: LEAF, the level tag, the rotated slots, the level's cache code, V or NA. */
static uint64_t fake_expected_leaf(struct ptmm_prop p, unsigned level)
{
	uint64_t e = FK_LEAF | (uint64_t)(level - 1) << FK_LEVEL_SHIFT |
		     (uint64_t)fk_cache_code[level][p.cache] << FK_CACHE_SHIFT;

	e |= ptmm_prop_is_noaccess(p) ? FK_NOACCESS : FK_V;
	for (unsigned k = 0; k < 5; k++)
		e |= (p.flags & fk_flag[k]) ? BIT(fk_perm_bit[level][k]) : 0;
	return e;
}

/* The exact non-address bits of a leaf; `p` must be accepted. */
static uint64_t expected_leaf(const struct enc_config *c, struct ptmm_prop p, unsigned level)
{
	if (is_fake(c))
		return fake_expected_leaf(p, level);
	return is_x86(c) ? x86_expected_leaf(c, p, level) : sv48_expected_leaf(p);
}

/*
 * Table entries: x86 allows everything (A preset), Sv48 is V alone, fake48
 * is V and the level tag.
 */
static uint64_t expected_table(const struct enc_config *c, unsigned level)
{
	if (is_fake(c))
		return FK_V | (uint64_t)(level - 1) << FK_LEVEL_SHIFT;
	return is_x86(c) ? (X86_P | X86_RW | X86_US | X86_A) : SV_V;
}

static unsigned phys_bits(const struct enc_config *c)
{
	if (is_fake(c))
		return FK_PHYS_BITS;
	return is_x86(c) ? X86_PHYS_BITS : SV_PHYS_BITS;
}

/*
 * PAs aligned to `align` that the address field can hold: 0, the first
 * aligned one, the highest one, and two alternating bit patterns.
 */
#define NR_TEST_PAS 6
static void test_pas(const struct enc_config *c, uint64_t align, uint64_t pas[NR_TEST_PAS])
{
	uint64_t limit = BIT(phys_bits(c)) - 1;
	uint64_t down = ~(align - 1);

	pas[0] = 0;
	pas[1] = align;
	pas[2] = limit & down; /* the highest PA the field can hold */
	pas[3] = 0x5555555555555555ull & limit & down;
	pas[4] = 0xaaaaaaaaaaaaaaaaull & limit & down;
	pas[5] = 0x0000123456789abcull & limit & down;
}

/* ---- Tests ---- */

/* Geometry and format are exactly what the hardware has. */
static void test_geometry(void **state)
{
	const struct enc_config *c = cfg_of(state);
	struct ptmm_arch a = arch_of(c);

	assert_string_equal(a.name, c->mode);
	assert_int_equal(a.levels, c->levels);
	assert_int_equal(a.va_bits, c->levels == 3 ? 39 : c->levels == 4 ? 48 : 57);
	assert_int_equal(a.pa_bits, phys_bits(c));
	assert_int_equal(a.max_leaf_level, c->want_max_leaf_level);
	assert_int_equal(a.features, c->features);
	assert_ptr_equal(a.tlb, &no_tlb);
	assert_non_null(a.prop_check);
	assert_non_null(a.leaf_template);
	assert_non_null(a.table_template);
	assert_non_null(a.leaf_prop);
	if (is_x86(c)) {
		assert_true(a.fmt.addr_mask == 0x000ffffffffff000ull);
		assert_int_equal(a.fmt.addr_shift, 12);
		assert_true(a.fmt.leaf_bits == X86_PS);
	} else if (is_fake(c)) {
		assert_true(a.fmt.addr_mask == FK_ADDR_MASK);
		assert_int_equal(a.fmt.addr_shift, 16);
		assert_true(a.fmt.leaf_bits == FK_LEAF);
		assert_true(a.fmt.untracked == FK_UNTRACKED);
	} else {
		assert_true(a.fmt.addr_mask == 0x003ffffffffffc00ull);
		assert_int_equal(a.fmt.addr_shift, 10);
		assert_true(a.fmt.leaf_bits == (SV_R | SV_W | SV_X | SV_NOACCESS));
	}
}

/* Feature bits of the other architecture are not "in force". */
static void test_foreign_features_dropped(void **state)
{
	const struct enc_config *c = cfg_of(state);
	uint32_t every = PTMM_FEAT_X86_NX | PTMM_FEAT_X86_1G | PTMM_FEAT_RV_SVPBMT;
	uint32_t foreign = is_x86(c) ? PTMM_FEAT_RV_SVPBMT :
			   is_fake(c) ? every : (PTMM_FEAT_X86_NX | PTMM_FEAT_X86_1G);
	struct ptmm_arch a = arch_with(c, c->features | foreign);

	assert_int_equal(a.features, c->features);
	assert_int_equal(a.max_leaf_level, c->want_max_leaf_level);
}

/* prop_check returns exactly the model's code, malformed values included. */
static void test_prop_check_codes(void **state)
{
	const struct enc_config *c = cfg_of(state);
	struct ptmm_arch a = arch_of(c);
	unsigned ok = 0, inval = 0, notsup = 0;
	char pb[24];

	for (unsigned flags = 0; flags <= 0xff; flags++) {
		for (unsigned cache = 0; cache <= 0xff; cache++) {
			struct ptmm_prop p = ptmm_prop_make(flags, (enum ptmm_cache)cache);
			int want = expected_check(c, p), got = a.prop_check(&a, p);
			if (got != want)
				fail_msg("%s: prop_check(%s, flags 0x%x cache %u) = %s, expected %s",
					 c->name, prop_str(p, pb), flags, cache, ptmm_strerror(got),
					 ptmm_strerror(want));
			ok += got == PTMM_OK;
			inval += got == PTMM_EINVAL;
			notsup += got == PTMM_ENOTSUP;
		}
	}
	assert_int_equal(ok + inval + notsup, 256 * 256);
	assert_true(ok > 0 && inval > 0);
	/* Only these configurations lack something that is otherwise valid. */
	if ((c->kind == ENC_X86 && has(c, PTMM_FEAT_X86_NX)) || is_fake(c))
		assert_int_equal(notsup, 0);
	else
		assert_true(notsup > 0);
}

/* The rules named in the contract, spelled out one by one. */
static void test_prop_check_named_cases(void **state)
{
	const struct enc_config *c = cfg_of(state);
	struct ptmm_arch a = arch_of(c);
	bool svpbmt = has(c, PTMM_FEAT_RV_SVPBMT);
	bool nx = has(c, PTMM_FEAT_X86_NX);

	/* Write without read is malformed everywhere, with or without x. */
	assert_int_equal(a.prop_check(&a, ptmm_prop_make(PTMM_PROP_W, PTMM_CACHE_WB)), PTMM_EINVAL);
	assert_int_equal(a.prop_check(&a, ptmm_prop_make(PTMM_PROP_W | PTMM_PROP_X, PTMM_CACHE_WB)),
			 PTMM_EINVAL);
	/* Out-of-range values. */
	assert_int_equal(a.prop_check(&a, ptmm_prop_make(PTMM_PROP_R | 0x20, PTMM_CACHE_WB)), PTMM_EINVAL);
	assert_int_equal(a.prop_check(&a, ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_X, PTMM_CACHE_COUNT)),
			 PTMM_EINVAL);
	/* No-access is always expressible (with a cache policy this CPU has). */
	assert_int_equal(a.prop_check(&a, ptmm_prop_make(0, PTMM_CACHE_WB)), PTMM_OK);
	assert_int_equal(a.prop_check(&a, ptmm_prop_make(PTMM_PROP_U | PTMM_PROP_G, PTMM_CACHE_WB)), PTMM_OK);
	/* Readable and executable is the most basic mapping. */
	assert_int_equal(a.prop_check(&a, ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_X, PTMM_CACHE_WB)), PTMM_OK);
	if (is_x86(c)) {
		assert_int_equal(a.prop_check(&a, ptmm_prop_make(PTMM_PROP_X, PTMM_CACHE_WB)), PTMM_EINVAL);
		assert_int_equal(a.prop_check(&a, ptmm_prop_make(PTMM_PROP_R, PTMM_CACHE_WB)),
				 nx ? PTMM_OK : PTMM_ENOTSUP);
		assert_int_equal(a.prop_check(&a, ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_UC)),
				 nx ? PTMM_OK : PTMM_ENOTSUP);
		for (unsigned cache = 0; cache < PTMM_CACHE_COUNT; cache++)
			assert_int_equal(a.prop_check(&a, ptmm_prop_make(PTMM_PROP_RWX, cache)), PTMM_OK);
		assert_int_equal(a.prop_check(&a, ptmm_prop_make(0, PTMM_CACHE_WC)), PTMM_OK);
	} else if (is_fake(c)) {
		/* Execute-only, read-only and every cache policy. */
		assert_int_equal(a.prop_check(&a, ptmm_prop_make(PTMM_PROP_X, PTMM_CACHE_WB)), PTMM_OK);
		assert_int_equal(a.prop_check(&a, ptmm_prop_make(PTMM_PROP_R, PTMM_CACHE_WB)), PTMM_OK);
		for (unsigned cache = 0; cache < PTMM_CACHE_COUNT; cache++) {
			assert_int_equal(a.prop_check(&a, ptmm_prop_make(PTMM_PROP_RWX, cache)), PTMM_OK);
			assert_int_equal(a.prop_check(&a, ptmm_prop_make(PTMM_PROP_X, cache)), PTMM_OK);
			assert_int_equal(a.prop_check(&a, ptmm_prop_make(0, cache)), PTMM_OK);
		}
	} else {
		assert_int_equal(a.prop_check(&a, ptmm_prop_make(PTMM_PROP_X, PTMM_CACHE_WB)), PTMM_OK);
		assert_int_equal(a.prop_check(&a, ptmm_prop_make(PTMM_PROP_R, PTMM_CACHE_WB)), PTMM_OK);
		assert_int_equal(a.prop_check(&a, ptmm_prop_make(PTMM_PROP_R, PTMM_CACHE_WT)), PTMM_ENOTSUP);
		assert_int_equal(a.prop_check(&a, ptmm_prop_make(PTMM_PROP_R, PTMM_CACHE_UC)),
				 svpbmt ? PTMM_OK : PTMM_ENOTSUP);
		assert_int_equal(a.prop_check(&a, ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_WC)),
				 svpbmt ? PTMM_OK : PTMM_ENOTSUP);
		assert_int_equal(a.prop_check(&a, ptmm_prop_make(0, PTMM_CACHE_UC)),
				 svpbmt ? PTMM_OK : PTMM_ENOTSUP);
	}
}

/*
 * Every flags value, cache policy and leaf level: an accepted property
 * encodes to a present leaf that decodes to the same PA and property, for
 * PAs up to the highest the field holds; and re-encoding what was decoded
 * gives back the identical entry (what the checker relies on).
 */
static void test_leaf_round_trip(void **state)
{
	const struct enc_config *c = cfg_of(state);
	struct ptmm_arch a = arch_of(c);
	unsigned accepted = 0;
	char pb[24], qb[24];

	for (unsigned level = 1; level <= a.max_leaf_level; level++) {
		uint64_t pas[NR_TEST_PAS];
		test_pas(c, ptmm_level_size(level), pas);
		for (unsigned flags = 0; flags <= PTMM_PROP_ALL; flags++) {
			for (unsigned cache = 0; cache < PTMM_CACHE_COUNT; cache++) {
				struct ptmm_prop p = ptmm_prop_make(flags, (enum ptmm_cache)cache);
				int want = expected_check(c, p);
				int got = a.prop_check(&a, p);
				if (got != want)
					fail_msg("%s L%u: prop_check(%s) = %s, expected %s", c->name,
						 level, prop_str(p, pb), ptmm_strerror(got),
						 ptmm_strerror(want));
				if (got != PTMM_OK)
					continue;
				accepted++;
				ptmm_pte_t t = a.leaf_template(&a, p, level);
				for (unsigned i = 0; i < NR_TEST_PAS; i++) {
					ptmm_pte_t e = ptmm_pte_make(&a.fmt, t, pas[i]);
					struct ptmm_prop q = a.leaf_prop(&a, e, level);
					if (!ptmm_pte_is_present(e) || !ptmm_pte_is_leaf(&a.fmt, e, level))
						fail_msg("%s L%u %s pa 0x%llx: entry 0x%llx is not a "
							 "present leaf", c->name, level,
							 prop_str(p, pb),
							 (unsigned long long)pas[i],
							 (unsigned long long)e);
					if (ptmm_pte_addr(&a.fmt, e, level) != pas[i])
						fail_msg("%s L%u %s: pa 0x%llx read back as 0x%llx",
							 c->name, level, prop_str(p, pb),
							 (unsigned long long)pas[i],
							 (unsigned long long)ptmm_pte_addr(&a.fmt, e,
										      level));
					if (!ptmm_prop_eq(q, p))
						fail_msg("%s L%u pa 0x%llx: %s read back as %s",
							 c->name, level, (unsigned long long)pas[i],
							 prop_str(p, pb), prop_str(q, qb));
					if (ptmm_pte_make(&a.fmt, a.leaf_template(&a, q, level),
						     ptmm_pte_addr(&a.fmt, e, level)) != e)
						fail_msg("%s L%u %s: re-encoding 0x%llx differs",
							 c->name, level, prop_str(p, pb),
							 (unsigned long long)e);
				}
			}
		}
	}
	assert_true(accepted > 0);
}

/* Leaf templates are bit-exact against the model, at every level. */
static void test_leaf_template_bits(void **state)
{
	const struct enc_config *c = cfg_of(state);
	struct ptmm_arch a = arch_of(c);
	char pb[24];

	for (unsigned level = 1; level <= a.max_leaf_level; level++) {
		for (unsigned flags = 0; flags <= PTMM_PROP_ALL; flags++) {
			for (unsigned cache = 0; cache < PTMM_CACHE_COUNT; cache++) {
				struct ptmm_prop p = ptmm_prop_make(flags, (enum ptmm_cache)cache);
				if (expected_check(c, p) != PTMM_OK)
					continue;
				ptmm_pte_t got = a.leaf_template(&a, p, level);
				ptmm_pte_t want = expected_leaf(c, p, level);
				if (got != want)
					fail_msg("%s L%u %s: template 0x%016llx, expected 0x%016llx",
						 c->name, level, prop_str(p, pb),
						 (unsigned long long)got, (unsigned long long)want);
			}
		}
	}
}

/* Table entries at levels 2..levels: present, never a leaf, exact child address. */
static void test_table_entries(void **state)
{
	const struct enc_config *c = cfg_of(state);
	struct ptmm_arch a = arch_of(c);
	uint64_t pas[NR_TEST_PAS];

	test_pas(c, PTMM_PAGE_SIZE, pas);
	for (unsigned level = 2; level <= a.levels; level++) {
		ptmm_pte_t t = a.table_template(&a, level);
		if (t != expected_table(c, level))
			fail_msg("%s L%u: table template 0x%llx, expected 0x%llx", c->name, level,
				 (unsigned long long)t, (unsigned long long)expected_table(c, level));
		assert_true((t & a.fmt.addr_mask) == 0);
		for (unsigned i = 0; i < NR_TEST_PAS; i++) {
			ptmm_pte_t e = ptmm_pte_make(&a.fmt, t, pas[i]);
			assert_true(ptmm_pte_is_present(e));
			assert_false(ptmm_pte_is_leaf(&a.fmt, e, level));
			if (ptmm_pte_table_addr(&a.fmt, e) != pas[i])
				fail_msg("%s L%u: child 0x%llx read back as 0x%llx", c->name, level,
					 (unsigned long long)pas[i],
					 (unsigned long long)ptmm_pte_table_addr(&a.fmt, e));
		}
	}
}

/*
 * No-access leaves: the hardware sees "not present" (x86 P clear; Sv48 V,
 * R, W, X clear), the software marker is set, the entry is non-zero even at
 * PA 0, and the mm still sees a leaf at every level.
 */
static void test_noaccess_hardware_bits(void **state)
{
	const struct enc_config *c = cfg_of(state);
	struct ptmm_arch a = arch_of(c);
	unsigned seen = 0;

	for (unsigned level = 1; level <= a.max_leaf_level; level++) {
		for (unsigned ug = 0; ug <= (PTMM_PROP_U | PTMM_PROP_G); ug += PTMM_PROP_U) {
			for (unsigned cache = 0; cache < PTMM_CACHE_COUNT; cache++) {
				struct ptmm_prop p = ptmm_prop_make(ug, (enum ptmm_cache)cache);
				if (a.prop_check(&a, p) != PTMM_OK)
					continue;
				seen++;
				ptmm_pte_t e = ptmm_pte_make(&a.fmt, a.leaf_template(&a, p, level), 0);
				assert_true(e != 0);
				assert_true(ptmm_pte_is_leaf(&a.fmt, e, level));
				if (is_x86(c)) {
					assert_true((e & X86_P) == 0);
					assert_true((e & X86_NOACCESS) != 0);
					assert_true(((e & X86_US) != 0) == ((ug & PTMM_PROP_U) != 0));
					assert_true(((e & X86_G) != 0) == ((ug & PTMM_PROP_G) != 0));
					assert_true((e & X86_RW) == 0);
				} else if (is_fake(c)) {
					assert_true((e & (FK_V | BIT(fk_perm_bit[level][0]) |
							  BIT(fk_perm_bit[level][1]) |
							  BIT(fk_perm_bit[level][2]))) == 0);
					assert_true((e & (FK_NOACCESS | FK_LEAF)) == (FK_NOACCESS | FK_LEAF));
					assert_true(((e & BIT(fk_perm_bit[level][3])) != 0) ==
						    ((ug & PTMM_PROP_U) != 0));
					assert_true(((e & BIT(fk_perm_bit[level][4])) != 0) ==
						    ((ug & PTMM_PROP_G) != 0));
					assert_true((e & FK_CACHE_MASK) ==
						    (uint64_t)fk_cache_code[level][cache] << FK_CACHE_SHIFT);
				} else {
					assert_true((e & (SV_V | SV_R | SV_W | SV_X)) == 0);
					assert_true((e & SV_NOACCESS) != 0);
					assert_true((e & SV_PBMT_MASK) == sv48_expected_pbmt(cache));
				}
				/* Decoding never turns the marker into an access right. */
				assert_int_equal(a.leaf_prop(&a, e, level).flags & PTMM_PROP_RWX, 0);
			}
		}
	}
	/* u/g combinations x levels, times the cache policies this CPU has. */
	assert_true(seen >= 4 * a.max_leaf_level);
}

/* The address bits of the model's format (x86: 12..51; Sv48: PPN 10..53; fake48: 16..59). */
static uint64_t model_addr_mask(const struct enc_config *c)
{
	if (is_fake(c))
		return FK_ADDR_MASK;
	return is_x86(c) ? 0x000ffffffffff000ull : 0x003ffffffffffc00ull;
}

/* The model's address field of a 4 KiB aligned pa. */
static uint64_t model_addr_field(const struct enc_config *c, uint64_t pa)
{
	unsigned shift = is_fake(c) ? 16 : is_x86(c) ? 12 : 10;
	return ((pa >> 12) << shift) & model_addr_mask(c);
}

/*
 * The no-access encoding against L1TF (x86, and fake48 at its own field
 * position): the whole address field of a no-access leaf is stored
 * inverted, bit-exact against the model, so the frame number a speculative
 * walk would read is the top of the physical space, never the frame; the
 * mm still reads the PA back, and accessible leaves are not inverted.
 * Sv48 keeps the plain field (docs/DESIGN.md: where the inversion applies).
 */
static void test_noaccess_address_inverted(void **state)
{
	const struct enc_config *c = cfg_of(state);
	struct ptmm_arch a = arch_of(c);
	bool inverts = is_x86(c) || is_fake(c);
	uint64_t mask = model_addr_mask(c);
	unsigned seen = 0;

	assert_true(a.fmt.addr_mask == mask);
	for (unsigned level = 1; level <= a.max_leaf_level; level++) {
		uint64_t pas[NR_TEST_PAS];
		test_pas(c, ptmm_level_size(level), pas);
		for (unsigned flags = 0; flags <= PTMM_PROP_ALL; flags++) {
			for (unsigned cache = 0; cache < PTMM_CACHE_COUNT; cache++) {
				struct ptmm_prop p = ptmm_prop_make(flags, (enum ptmm_cache)cache);
				if (expected_check(c, p) != PTMM_OK)
					continue;
				bool na = ptmm_prop_is_noaccess(p);
				ptmm_pte_t t = a.leaf_template(&a, p, level);
				for (unsigned i = 0; i < NR_TEST_PAS; i++) {
					uint64_t plain = expected_leaf(c, p, level) |
							 model_addr_field(c, pas[i]);
					uint64_t want = na && inverts ? plain ^ mask : plain;
					ptmm_pte_t e = ptmm_pte_make(&a.fmt, t, pas[i]);
					if (e != want)
						fail_msg("%s L%u flags %u cache %u pa 0x%llx: entry "
							 "0x%016llx, expected 0x%016llx", c->name, level,
							 flags, cache, (unsigned long long)pas[i],
							 (unsigned long long)e, (unsigned long long)want);
					assert_true(ptmm_pte_addr(&a.fmt, e, level) == pas[i]);
					assert_true(ptmm_prop_eq(a.leaf_prop(&a, e, level), p));
					if (na && inverts) {
						/* What a walk would take for the frame: the top half of the space. */
						uint64_t seen_pa = ((e & mask) >> __builtin_ctzll(mask)) << 12;
						assert_true(seen_pa >= (BIT(phys_bits(c)) >> 1) ||
							    pas[i] >= (BIT(phys_bits(c)) >> 1));
						seen++;
					}
				}
			}
		}
	}
	assert_true(inverts ? seen > 0 : seen == 0);
}

/* Present leaves: the software marker is clear, A and D (where the format has them) preset. */
static void test_present_leaf_bits(void **state)
{
	const struct enc_config *c = cfg_of(state);
	struct ptmm_arch a = arch_of(c);
	ptmm_pte_t valid = is_x86(c) ? X86_P : is_fake(c) ? FK_V : SV_V;
	ptmm_pte_t marker = is_x86(c) ? X86_NOACCESS : is_fake(c) ? FK_NOACCESS : SV_NOACCESS;
	ptmm_pte_t ad = is_x86(c) ? (X86_A | X86_D) : is_fake(c) ? 0 : (SV_A | SV_D); /* fake48: none */

	for (unsigned level = 1; level <= a.max_leaf_level; level++) {
		for (unsigned flags = 1; flags <= PTMM_PROP_ALL; flags++) {
			for (unsigned cache = 0; cache < PTMM_CACHE_COUNT; cache++) {
				struct ptmm_prop p = ptmm_prop_make(flags, (enum ptmm_cache)cache);
				if (ptmm_prop_is_noaccess(p) || a.prop_check(&a, p) != PTMM_OK)
					continue;
				ptmm_pte_t t = a.leaf_template(&a, p, level);
				assert_true((t & valid) != 0);
				assert_true((t & marker) == 0);
				assert_true((t & ad) == ad);
				/* Accessed/dirty state is not part of the property. */
				ptmm_pte_t e = ptmm_pte_make(&a.fmt, t, ptmm_level_size(level));
				assert_true(ptmm_prop_eq(a.leaf_prop(&a, e & ~ad, level), p));
			}
		}
	}
}

/* x86: NX is set exactly when x is absent, and only when the CPU has NX. */
static void test_x86_nx(void **state)
{
	const struct enc_config *c = cfg_of(state);
	struct ptmm_arch a = arch_of(c);
	bool nx = has(c, PTMM_FEAT_X86_NX);

	for (unsigned level = 1; level <= a.max_leaf_level; level++) {
		for (unsigned flags = 0; flags <= PTMM_PROP_ALL; flags++) {
			struct ptmm_prop p = ptmm_prop_make(flags, PTMM_CACHE_WB);
			if (a.prop_check(&a, p) != PTMM_OK)
				continue;
			ptmm_pte_t t = a.leaf_template(&a, p, level);
			bool want_nx = nx && !(flags & PTMM_PROP_X);
			if (((t & X86_NX) != 0) != want_nx)
				fail_msg("%s L%u flags 0x%x: NX %s", c->name, level, flags,
					 want_nx ? "missing" : "set");
		}
		/* Table entries never restrict execution. */
		assert_true((a.table_template(&a, level + 1) & X86_NX) == 0);
	}
	/* Without NX every present page is executable: r-only is refused. */
	if (!nx)
		assert_int_equal(a.prop_check(&a, ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_WB)),
				 PTMM_ENOTSUP);
}

/*
 * x86: the PAT bit is bit 7 in a 4K leaf and bit 12 (next to PS in bit 7)
 * in a 2M/1G leaf; it never changes the decoded PA, and a leaf decoded at
 * the wrong level would read another cache policy.
 */
static void test_x86_pat_position(void **state)
{
	const struct enc_config *c = cfg_of(state);
	struct ptmm_arch a = arch_of(c);
	struct ptmm_prop wc = ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_W | PTMM_PROP_X, PTMM_CACHE_WC);
	struct ptmm_prop wb = ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_W | PTMM_PROP_X, PTMM_CACHE_WB);
	ptmm_pte_t l1 = a.leaf_template(&a, wc, 1);

	assert_true((l1 & X86_PAT_4K) != 0);
	assert_true((l1 & X86_PAT_HUGE) == 0);
	assert_true((l1 & (X86_PWT | X86_PCD)) == 0);
	assert_true((a.leaf_template(&a, wb, 1) & X86_PAT_4K) == 0);
	for (unsigned level = 2; level <= a.max_leaf_level; level++) {
		uint64_t size = ptmm_level_size(level);
		ptmm_pte_t huge = a.leaf_template(&a, wc, level);
		assert_true((huge & X86_PS) != 0);
		assert_true((huge & X86_PAT_HUGE) != 0);
		assert_true((huge & (X86_PWT | X86_PCD)) == 0);
		assert_true((a.leaf_template(&a, wb, level) & (X86_PS | X86_PAT_HUGE)) == X86_PS);
		/* PA decode at this level drops the PAT bit, at any PA. */
		for (uint64_t pa = 0; pa < BIT(X86_PHYS_BITS); pa += BIT(X86_PHYS_BITS) / 8) {
			ptmm_pte_t e = ptmm_pte_make(&a.fmt, huge, pa);
			assert_true(ptmm_pte_addr(&a.fmt, e, level) == pa);
			assert_true(ptmm_prop_eq(a.leaf_prop(&a, e, level), wc));
			/* Read as a 4K leaf, bit 7 (PS) would look like the PAT bit. */
			ptmm_pte_t wb_e = ptmm_pte_make(&a.fmt, a.leaf_template(&a, wb, level), pa + size);
			assert_false(ptmm_prop_eq(a.leaf_prop(&a, wb_e, 1), wb));
		}
	}
	/* WT and UC use PWT/PCD only, the same at every level. */
	for (unsigned level = 1; level <= a.max_leaf_level; level++) {
		ptmm_pte_t wt = a.leaf_template(&a, ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_X, PTMM_CACHE_WT), level);
		ptmm_pte_t uc = a.leaf_template(&a, ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_X, PTMM_CACHE_UC), level);
		assert_true((wt & (X86_PWT | X86_PCD | X86_PAT_HUGE)) == X86_PWT);
		assert_true((uc & (X86_PWT | X86_PCD | X86_PAT_HUGE)) == (X86_PWT | X86_PCD));
		if (level == 1)
			assert_true(((wt | uc) & X86_PAT_4K) == 0);
	}
}

/*
 * x86: a PAT index the encoder never produces (2 = PCD alone, 5..7) is not
 * read as one of the four policies; prop_check refuses what it decodes to.
 */
static void test_x86_foreign_pat_index(void **state)
{
	const struct enc_config *c = cfg_of(state);
	struct ptmm_arch a = arch_of(c);
	struct ptmm_prop rwx = ptmm_prop_make(PTMM_PROP_RWX, PTMM_CACHE_WB);

	for (unsigned level = 1; level <= a.max_leaf_level; level++) {
		ptmm_pte_t pat = level == 1 ? X86_PAT_4K : X86_PAT_HUGE;
		ptmm_pte_t base = a.leaf_template(&a, rwx, level);
		ptmm_pte_t foreign[] = { X86_PCD, pat | X86_PWT, pat | X86_PCD, pat | X86_PCD | X86_PWT };
		for (unsigned i = 0; i < sizeof(foreign) / sizeof(foreign[0]); i++) {
			struct ptmm_prop q = a.leaf_prop(&a, base | foreign[i], level);
			assert_int_equal(q.flags, PTMM_PROP_RWX);
			assert_int_not_equal(a.prop_check(&a, q), PTMM_OK);
		}
	}
}

/* x86: 1G leaves exist only with pdpe1gb; level 4 never holds a leaf. */
static void test_x86_1g_geometry(void **state)
{
	const struct enc_config *c = cfg_of(state);
	struct ptmm_arch with_1g, without_1g;

	ptmm_arch_x86_64_init(&with_1g, c->features | PTMM_FEAT_X86_1G, &no_tlb);
	ptmm_arch_x86_64_init(&without_1g, c->features & ~(uint32_t)PTMM_FEAT_X86_1G, &no_tlb);
	assert_int_equal(with_1g.max_leaf_level, 3);
	assert_int_equal(without_1g.max_leaf_level, 2);
	/* A level-3 table entry is not a leaf; a level-3 leaf has PS. */
	assert_false(ptmm_pte_is_leaf(&with_1g.fmt, with_1g.table_template(&with_1g, 3) | BIT(30), 3));
	assert_true((with_1g.leaf_template(&with_1g, ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_X, 0), 3) &
		     X86_PS) != 0);
}

/* Sv48: the PBMT field per policy; reserved bits 54..60, N and RSW bit 9 stay zero. */
static void test_sv48_pbmt(void **state)
{
	const struct enc_config *c = cfg_of(state);
	struct ptmm_arch a = arch_of(c);
	bool svpbmt = has(c, PTMM_FEAT_RV_SVPBMT);
	const unsigned want_type[PTMM_CACHE_COUNT] = {
		[PTMM_CACHE_WB] = SV_PBMT_PMA, [PTMM_CACHE_WT] = 0,
		[PTMM_CACHE_UC] = SV_PBMT_IO, [PTMM_CACHE_WC] = SV_PBMT_NC,
	};
	unsigned accepted_caches = 0;

	for (unsigned cache = 0; cache < PTMM_CACHE_COUNT; cache++) {
		struct ptmm_prop p = ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_W, (enum ptmm_cache)cache);
		if (a.prop_check(&a, p) != PTMM_OK)
			continue;
		accepted_caches++;
		for (unsigned level = 1; level <= a.max_leaf_level; level++) {
			uint64_t pas[NR_TEST_PAS];
			test_pas(c, ptmm_level_size(level), pas);
			ptmm_pte_t e = ptmm_pte_make(&a.fmt, a.leaf_template(&a, p, level), pas[2]);
			unsigned type = (unsigned)((e & SV_PBMT_MASK) >> SV_PBMT_SHIFT);
			assert_int_equal(type, svpbmt ? want_type[cache] : 0);
			assert_true((e & (SV_RESERVED_54_60 | SV_N | SV_RSW9)) == 0);
		}
	}
	/* wb alone without Svpbmt; wb, uc, wc with it (never wt). */
	assert_int_equal(accepted_caches, svpbmt ? 3 : 1);
	for (unsigned level = 2; level <= a.levels; level++)
		assert_true((a.table_template(&a, level) & SV_PBMT_MASK) == 0);
}

/* Sv48: PBMT value 3 (reserved) is not read as one of the four policies. */
static void test_sv48_reserved_pbmt(void **state)
{
	const struct enc_config *c = cfg_of(state);
	struct ptmm_arch a = arch_of(c);
	ptmm_pte_t e = a.leaf_template(&a, ptmm_prop_make(PTMM_PROP_R, PTMM_CACHE_WB), 1) |
		  ((uint64_t)3 << SV_PBMT_SHIFT);
	struct ptmm_prop q = a.leaf_prop(&a, e, 1);

	assert_int_equal(q.flags, PTMM_PROP_R);
	assert_int_not_equal(a.prop_check(&a, q), PTMM_OK);
}

/* Sv48: execute-only and leaves at every level, up to 512G. */
static void test_sv48_execute_only_every_level(void **state)
{
	const struct enc_config *c = cfg_of(state);
	struct ptmm_arch a = arch_of(c);
	struct ptmm_prop xo = ptmm_prop_make(PTMM_PROP_X | PTMM_PROP_U, PTMM_CACHE_WB);

	assert_int_equal(a.prop_check(&a, xo), PTMM_OK);
	for (unsigned level = 1; level <= a.levels; level++) {
		ptmm_pte_t e = ptmm_pte_make(&a.fmt, a.leaf_template(&a, xo, level), ptmm_level_size(level));
		assert_true((e & (SV_V | SV_R | SV_W | SV_X)) == (SV_V | SV_X));
		assert_true(ptmm_pte_is_leaf(&a.fmt, e, level));
		assert_true(ptmm_prop_eq(a.leaf_prop(&a, e, level), xo));
	}
}

/* Every property fake48 accepts (all of them but the malformed ones). */
#define FK_MAX_PROPS ((PTMM_PROP_ALL + 1) * PTMM_CACHE_COUNT)
static unsigned fake_props(const struct ptmm_arch *a, struct ptmm_prop out[FK_MAX_PROPS])
{
	unsigned n = 0;
	for (unsigned flags = 0; flags <= PTMM_PROP_ALL; flags++)
		for (unsigned cache = 0; cache < PTMM_CACHE_COUNT; cache++)
			if (a->prop_check(a, ptmm_prop_make(flags, cache)) == PTMM_OK)
				out[n++] = ptmm_prop_make(flags, cache);
	return n;
}

/*
 * fake48's per-level design, for every accepted property and every pair of
 * levels L != M: the level-L leaf differs from the level-M leaf; decoded at
 * level M it reads as another property, one prop_check refuses (the tag);
 * and even with its tag rewritten to M's (as if an encoder had no tag) it
 * reads as another property (the slots and cache codes alone differ).
 */
static void test_fake48_per_level_leaves(void **state)
{
	const struct enc_config *c = cfg_of(state);
	struct ptmm_arch a = arch_of(c);
	struct ptmm_prop props[FK_MAX_PROPS];
	unsigned n = fake_props(&a, props), pairs = 0;
	char pb[24], qb[24];

	assert_true(n > 0);
	for (unsigned i = 0; i < n; i++) {
		for (unsigned l = 1; l <= a.max_leaf_level; l++) {
			ptmm_pte_t tl = a.leaf_template(&a, props[i], l);
			ptmm_pte_t e = ptmm_pte_make(&a.fmt, tl, ptmm_level_size(a.max_leaf_level));
			for (unsigned m = 1; m <= a.max_leaf_level; m++) {
				if (m == l)
					continue;
				ptmm_pte_t retagged = (e & ~FK_LEVEL_MASK) |
						 (uint64_t)(m - 1) << FK_LEVEL_SHIFT;
				struct ptmm_prop q = a.leaf_prop(&a, e, m);
				struct ptmm_prop r = a.leaf_prop(&a, retagged, m);
				if (tl == a.leaf_template(&a, props[i], m))
					fail_msg("%s: the L%u and L%u leaves are the same",
						 prop_str(props[i], pb), l, m);
				if (ptmm_prop_eq(q, props[i]) || a.prop_check(&a, q) == PTMM_OK)
					fail_msg("%s: the L%u leaf read at L%u gives %s", prop_str(props[i], pb),
						 l, m, prop_str(q, qb));
				if (ptmm_prop_eq(r, props[i]))
					fail_msg("%s: the L%u leaf retagged and read at L%u gives it back",
						 prop_str(props[i], pb), l, m);
				if (r.cache == props[i].cache)
					fail_msg("%s: the L%u leaf retagged for L%u keeps its cache code",
						 prop_str(props[i], pb), l, m);
				pairs++;
			}
		}
	}
	assert_int_equal(pairs, n * a.max_leaf_level * (a.max_leaf_level - 1));
}

/*
 * fake48 table entries differ per level (so an entry written for another
 * level fails the checker's re-encoding), and none is a leaf.
 */
static void test_fake48_per_level_tables(void **state)
{
	const struct enc_config *c = cfg_of(state);
	struct ptmm_arch a = arch_of(c);

	for (unsigned l = 2; l <= a.levels; l++) {
		ptmm_pte_t tl = a.table_template(&a, l);
		assert_false(ptmm_pte_is_leaf(&a.fmt, tl | FK_ADDR_MASK, l));
		for (unsigned m = 2; m <= a.levels; m++)
			if (m != l && a.table_template(&a, m) == tl)
				fail_msg("table templates of L%u and L%u are the same", l, m);
	}
}

/*
 * fake48 software bits and reserved bits: the untracked tag never changes
 * the decoded property at any level, the no-access marker is set exactly in
 * no-access leaves, the reserved bits stay zero and table entries have
 * neither LEAF nor the software bits.
 */
static void test_fake48_software_bits(void **state)
{
	const struct enc_config *c = cfg_of(state);
	struct ptmm_arch a = arch_of(c);
	struct ptmm_prop props[FK_MAX_PROPS];
	unsigned n = fake_props(&a, props);

	for (unsigned i = 0; i < n; i++) {
		for (unsigned level = 1; level <= a.max_leaf_level; level++) {
			ptmm_pte_t t = a.leaf_template(&a, props[i], level);
			ptmm_pte_t e = ptmm_pte_make(&a.fmt, t, ptmm_level_size(level));
			assert_true((t & (FK_RESERVED | FK_UNTRACKED | FK_ADDR_MASK)) == 0);
			assert_true(((t & FK_NOACCESS) != 0) == ptmm_prop_is_noaccess(props[i]));
			assert_true(((t & FK_V) != 0) == !ptmm_prop_is_noaccess(props[i]));
			assert_true(ptmm_prop_eq(a.leaf_prop(&a, e | FK_UNTRACKED, level), props[i]));
		}
	}
	for (unsigned level = 2; level <= a.levels; level++)
		assert_true((a.table_template(&a, level) &
			     (FK_LEAF | FK_NOACCESS | FK_UNTRACKED | FK_RESERVED | FK_CACHE_MASK)) == 0);
}

/* ---- Registration: each body over every configuration it applies to ---- */

struct test_def {
	const char *name;
	CMUnitTestFunction fn;
	unsigned kinds; /* enc_kind bits */
};

#define ALL (ENC_X86 | ENC_SV48 | ENC_FAKE)
static const struct test_def defs[] = {
	{ "geometry", test_geometry, ALL },
	{ "foreign_features_dropped", test_foreign_features_dropped, ALL },
	{ "prop_check_codes", test_prop_check_codes, ALL },
	{ "prop_check_named_cases", test_prop_check_named_cases, ALL },
	{ "leaf_round_trip", test_leaf_round_trip, ALL },
	{ "leaf_template_bits", test_leaf_template_bits, ALL },
	{ "table_entries", test_table_entries, ALL },
	{ "noaccess_hardware_bits", test_noaccess_hardware_bits, ALL },
	{ "present_leaf_bits", test_present_leaf_bits, ALL },
	{ "noaccess_address_inverted", test_noaccess_address_inverted, ALL },
	{ "fake48_per_level_leaves", test_fake48_per_level_leaves, ENC_FAKE },
	{ "fake48_per_level_tables", test_fake48_per_level_tables, ENC_FAKE },
	{ "fake48_software_bits", test_fake48_software_bits, ENC_FAKE },
	{ "x86_nx", test_x86_nx, ENC_X86 },
	{ "x86_pat_position", test_x86_pat_position, ENC_X86 },
	{ "x86_foreign_pat_index", test_x86_foreign_pat_index, ENC_X86 },
	{ "x86_1g_geometry", test_x86_1g_geometry, ENC_X86 },
	{ "sv48_pbmt", test_sv48_pbmt, ENC_SV48 },
	{ "sv48_reserved_pbmt", test_sv48_reserved_pbmt, ENC_SV48 },
	{ "sv48_execute_only_every_level", test_sv48_execute_only_every_level, ENC_SV48 },
};
#define NR_DEFS (sizeof(defs) / sizeof(defs[0]))

int main(void)
{
	static struct CMUnitTest tests[NR_DEFS * NR_CONFIGS];
	static char names[NR_DEFS * NR_CONFIGS][80];
	size_t n = 0;

	for (size_t d = 0; d < NR_DEFS; d++) {
		for (size_t k = 0; k < NR_CONFIGS; k++) {
			if (!(defs[d].kinds & configs[k].kind))
				continue;
			snprintf(names[n], sizeof(names[n]), "%s/%s", defs[d].name,
				 configs[k].name);
			tests[n] = (struct CMUnitTest){
				.name = names[n],
				.test_func = defs[d].fn,
				.initial_state = (void *)&configs[k],
			};
			n++;
		}
	}
	return _cmocka_run_group_tests("pte", tests, n, NULL, NULL);
}
