/*
 * fake_arch.c - the fake48 and fake57 PTE encoders of the host tests (see
 * fake_arch.h): one entry format, two depths.
 *
 * One entry:
 *
 *   63 62   60 59                              16 15   12 11 10  9     5  4   2  1  0
 *  +--+-------+----------------------------------+-------+--+--+--------+-----+--+--+
 *  |0 | CACHE |        PPN (PA >> 12)            |   0   |UT|NA| 5 perm | LVL |LF|V |
 *  +--+-------+----------------------------------+-------+--+--+--------+-----+--+--+
 *                                                                 slots
 *
 *  bits    name   meaning                                 leaf at level L      table at L
 *  ------  -----  --------------------------------------  -------------------  ----------
 *   0      V      hardware valid (clear for no-access)    yes                  always
 *   1      LF     leaf bit (fmt.leaf_bits)                always               0
 *   2..4   LVL    level tag: L - 1                        L - 1                L - 1
 *   5..9   perm   five slots; property flag k (R=0, W=1,  rotated by L - 1     0
 *                 X=2, U=3, G=4) sits in slot (k+L-1)%5
 *  10      NA     software: no-access marker              no-access            0
 *  11      UT     software: untracked tag (mm core only)  untracked            0
 *  12..15  -      reserved, zero                          0                    0
 *  16..59  PPN    4K frame number (56-bit PAs)            PA                   child PA
 *  60..62  CACHE  (policy + L - 1) mod 8                  cache                0
 *  63      -      reserved, zero                          0                    0
 *
 * The address field starts at bit 16 (x86: 12, RISC-V: 10) and attributes
 * lie on both sides of it.  Leaves may sit at every level (4K .. 512G in
 * fake48, 4K .. 256T in fake57).  A no-access leaf (no r, w, x) has V
 * clear and NA set; its u, g and cache are kept, so the property survives
 * a protect to no-access and back.  Every leaf has LF set, so even a
 * no-access leaf at PA 0 is non-zero.
 *
 * Per level, on purpose: the permission slots rotate (five rotations for
 * up to five levels) and the cache codes shift with the level (for any
 * policy, the five levels use five different codes; a code minus the
 * level's shift that is not a policy decodes as none), so a level-L leaf
 * read at level M != L decodes to another property even without the tag;
 * with the tag, leaf_prop reports a leaf whose tag is not its level as
 * cache PTMM_CACHE_COUNT, which prop_check (and so the checker) refuses.  A
 * table entry's tag makes the entries of different levels differ, so the
 * checker's re-encoding of an entry catches one written for another level.
 *
 * Rules: w without r is malformed (PTMM_EINVAL); x without r (execute-only)
 * is valid; all four cache policies are valid.  U and G are the table's
 * business (the mm refuses g in user tables and u in kernel tables).
 */
#include "fake_arch.h"

#include <ptmm/pte.h>

#define FAKE_BIT(n) ((ptmm_pte_t)1 << (n))

#define FAKE_PTE_V FAKE_BIT(0)
#define FAKE_PTE_LEAF FAKE_BIT(1)
#define FAKE_LEVEL_SHIFT 2
#define FAKE_PTE_LEVEL_MASK ((ptmm_pte_t)7 << FAKE_LEVEL_SHIFT)
#define FAKE_PERM_SHIFT 5
#define FAKE_PERM_SLOTS 5
#define FAKE_PTE_PERM_MASK ((ptmm_pte_t)0x1f << FAKE_PERM_SHIFT)
#define FAKE_PTE_NOACCESS FAKE_BIT(10)  /* software: a mapping the hardware sees as invalid */
#define FAKE_PTE_UNTRACKED FAKE_BIT(11) /* software: leaf of an untracked mapping (mm) */
#define FAKE_PPN_LOW 16
#define FAKE_PPN_HIGH 59
#define FAKE_PTE_PPN_MASK ((FAKE_BIT(FAKE_PPN_HIGH + 1) - 1) & ~(FAKE_BIT(FAKE_PPN_LOW) - 1))
#define FAKE_CACHE_SHIFT 60
#define FAKE_CACHE_CODES 8u
#define FAKE_PTE_CACHE_MASK ((ptmm_pte_t)(FAKE_CACHE_CODES - 1) << FAKE_CACHE_SHIFT)
#define FAKE_PA_BITS (PTMM_PAGE_SHIFT + FAKE_PPN_HIGH + 1 - FAKE_PPN_LOW)

#define FAKE48_LEVELS 4
#define FAKE57_LEVELS 5

_Static_assert(FAKE57_LEVELS <= PTMM_MAX_LEVELS, "more levels than the mm supports");
_Static_assert(PTMM_PAGE_SHIFT + FAKE48_LEVELS * PTMM_PTE_BITS == 48, "fake48: a 48-bit VA");
_Static_assert(PTMM_PAGE_SHIFT + FAKE57_LEVELS * PTMM_PTE_BITS == 57, "fake57: a 57-bit VA");
_Static_assert(FAKE_PTE_PPN_MASK == 0x0fffffffffff0000ull, "PPN is bits 16..59");
_Static_assert(FAKE_PA_BITS == 56, "a 44-bit PPN: 56-bit physical addresses");
_Static_assert(((FAKE_PTE_V | FAKE_PTE_LEAF | FAKE_PTE_LEVEL_MASK | FAKE_PTE_PERM_MASK |
		 FAKE_PTE_NOACCESS | FAKE_PTE_UNTRACKED) & ~(FAKE_BIT(12) - 1)) == 0,
	       "flag and software bits lie in bits 0..11, below the PPN");
_Static_assert((FAKE_PTE_CACHE_MASK & FAKE_PTE_PPN_MASK) == 0, "the cache field is above the PPN");
_Static_assert(FAKE57_LEVELS - 1 + PTMM_CACHE_COUNT <= FAKE_CACHE_CODES,
	       "shifting the four policies by up to levels-1 stays inside the cache field");
_Static_assert(FAKE57_LEVELS - 1 <= (FAKE_PTE_LEVEL_MASK >> FAKE_LEVEL_SHIFT),
	       "the level tag holds every level");
_Static_assert(FAKE57_LEVELS <= FAKE_PERM_SLOTS, "each level has its own rotation of the slots");
_Static_assert(PTMM_PROP_R == 1u << 0 && PTMM_PROP_W == 1u << 1 && PTMM_PROP_X == 1u << 2 &&
		       PTMM_PROP_U == 1u << 3 && PTMM_PROP_G == 1u << 4,
	       "property flag k is bit k: the five slots hold R, W, X, U, G");

/* Level tag of an entry at `level` (1..5). */
static ptmm_pte_t fake_level_tag(unsigned level)
{
	return ((ptmm_pte_t)(level - 1u) << FAKE_LEVEL_SHIFT) & FAKE_PTE_LEVEL_MASK;
}

/* The slot bit of property flag number `k` (0 = R .. 4 = G) at `level`. */
static ptmm_pte_t fake_perm_bit(unsigned k, unsigned level)
{
	return FAKE_BIT(FAKE_PERM_SHIFT + (k + level - 1u) % FAKE_PERM_SLOTS);
}

/* The CACHE field of policy `cache` (0..3) at `level`. */
static ptmm_pte_t fake_cache_bits(unsigned cache, unsigned level)
{
	return ((ptmm_pte_t)((cache + level - 1u) % FAKE_CACHE_CODES)) << FAKE_CACHE_SHIFT;
}

/*
 * The policy encoded in the CACHE field of `pte`, read at `level`; a code
 * that is no policy at this level yields PTMM_CACHE_COUNT.
 */
static uint8_t fake_cache_of(ptmm_pte_t pte, unsigned level)
{
	unsigned code = (unsigned)((pte & FAKE_PTE_CACHE_MASK) >> FAKE_CACHE_SHIFT);
	unsigned cache = (code + FAKE_CACHE_CODES - (level - 1u)) % FAKE_CACHE_CODES;
	return (uint8_t)(cache < PTMM_CACHE_COUNT ? cache : PTMM_CACHE_COUNT);
}

/*
 * PTMM_OK if `p` can be encoded.  Malformed (PTMM_EINVAL): unknown flag or
 * cache values, w without r.  Nothing is unsupported.
 */
static int fake_prop_check(const struct ptmm_arch *a, struct ptmm_prop p)
{
	(void)a;
	if ((p.flags & ~PTMM_PROP_ALL) != 0 || p.cache >= PTMM_CACHE_COUNT)
		return PTMM_EINVAL;
	if ((p.flags & PTMM_PROP_W) && !(p.flags & PTMM_PROP_R))
		return PTMM_EINVAL;
	return PTMM_OK;
}

/*
 * Non-address bits of a leaf with property `p` at `level` (1..levels), laid out
 * for that level.  Assumes prop_check(p) == PTMM_OK.
 */
static ptmm_pte_t fake_leaf_template(const struct ptmm_arch *a, struct ptmm_prop p, unsigned level)
{
	ptmm_pte_t t = FAKE_PTE_LEAF | fake_level_tag(level) | fake_cache_bits(p.cache, level);

	(void)a;
	t |= ptmm_prop_is_noaccess(p) ? FAKE_PTE_NOACCESS : FAKE_PTE_V;
	for (unsigned k = 0; k < FAKE_PERM_SLOTS; k++)
		if (p.flags & (1u << k))
			t |= fake_perm_bit(k, level);
	return t;
}

/* Non-address bits of a table entry at `level`: V and the level tag. */
static ptmm_pte_t fake_table_template(const struct ptmm_arch *a, unsigned level)
{
	(void)a;
	return FAKE_PTE_V | fake_level_tag(level);
}

/*
 * Property of the present leaf `pte` read as a leaf at `level`.  R, W, X
 * count only in a valid entry; NA, UT, LF and the tag are not part of the
 * result, except that a tag other than `level` yields cache PTMM_CACHE_COUNT
 * (refused by prop_check): the entry was not made for this level.
 */
static struct ptmm_prop fake_leaf_prop(const struct ptmm_arch *a, ptmm_pte_t pte, unsigned level)
{
	unsigned flags = 0;
	uint8_t cache = fake_cache_of(pte, level);

	(void)a;
	for (unsigned k = 0; k < FAKE_PERM_SLOTS; k++) {
		bool access = (1u << k) & PTMM_PROP_RWX;
		if ((pte & fake_perm_bit(k, level)) && (!access || (pte & FAKE_PTE_V)))
			flags |= 1u << k;
	}
	if ((pte & FAKE_PTE_LEVEL_MASK) != fake_level_tag(level))
		cache = PTMM_CACHE_COUNT;
	return ptmm_prop_make(flags, (enum ptmm_cache)cache);
}

/* Fill `a` for the fake format with `levels` under `name`. */
static void fake_init(struct ptmm_arch *a, const char *name, unsigned levels,
		      const struct ptmm_tlb_ops *tlb)
{
	*a = (struct ptmm_arch){
		.name = name,
		.levels = (uint8_t)levels,
		.va_bits = (uint8_t)(PTMM_PAGE_SHIFT + levels * PTMM_PTE_BITS),
		.max_leaf_level = (uint8_t)levels,
		.pa_bits = FAKE_PA_BITS,
		.features = 0,
		.fmt = {
			.addr_mask = FAKE_PTE_PPN_MASK,
			.addr_shift = FAKE_PPN_LOW,
			.leaf_bits = FAKE_PTE_LEAF,
			.untracked = FAKE_PTE_UNTRACKED,
			/* Inverted like x86's (L1TF), at another field position. */
			.addr_invert = FAKE_PTE_NOACCESS,
		},
		.prop_check = fake_prop_check,
		.leaf_template = fake_leaf_template,
		.table_template = fake_table_template,
		.leaf_prop = fake_leaf_prop,
		.tlb = tlb,
	};
}

/* fake48: 4 levels; `features` are all dropped, `tlb` is kept by reference. */
void mm_arch_fake48_init(struct ptmm_arch *a, uint32_t features, const struct ptmm_tlb_ops *tlb)
{
	(void)features;
	fake_init(a, "fake48", FAKE48_LEVELS, tlb);
}

/* fake57: 5 levels; `features` are all dropped, `tlb` is kept by reference. */
void mm_arch_fake57_init(struct ptmm_arch *a, uint32_t features, const struct ptmm_tlb_ops *tlb)
{
	(void)features;
	fake_init(a, "fake57", FAKE57_LEVELS, tlb);
}
