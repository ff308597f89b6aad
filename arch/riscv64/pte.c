/*
 * riscv64/pte.c - the PTE encoder for RISC-V in its three paging modes:
 * Sv39 (3 levels, 39-bit VA), Sv48 (4 levels, 48-bit VA) and Sv57
 * (5 levels, 57-bit VA).  The entry format is the same in all three and at
 * every level; only the depth differs.
 *
 * One entry, as the hardware reads it (RISC-V privileged spec, "Sv39",
 * "Sv48", "Sv57", and the Svpbmt extension):
 *
 *   63 62 61 60      54 53                          10  9  8  7  6  5  4  3  2  1  0
 *  +--+-----+----------+------------------------------+-----+--+--+--+--+--+--+--+--+
 *  |N |PBMT |   zero   |       PPN (PA >> 12)         | RSW |D |A |G |U |X |W |R |V |
 *  +--+-----+----------+------------------------------+-----+--+--+--+--+--+--+--+--+
 *                                                      9  8
 *                                                      UT NA (software: untracked, no-access)
 *
 *  bits   name  meaning here                          leaf            table entry
 *  -----  ----  -----------------------------------   --------------  -----------
 *   0     V     valid (clear for no-access)           yes             always
 *   1..3  R W X access; any set => leaf                r, w, x         0
 *   4     U     user accessible                       u               0 (reserved)
 *   5     G     global                                g               0
 *   6     A     accessed, preset                      always          0 (reserved)
 *   7     D     dirty, preset                         always          0 (reserved)
 *   8     NA    software: no-access marker            no-access       0
 *   9     UT    software: untracked tag (set by the    untracked       0
 *               mm core, not by this encoder)
 *  10..53 PPN   4K frame number; a leaf at level L    PA              child PA
 *               is aligned to its size
 *  54..60       reserved, zero                        0               0
 *  61..62 PBMT  Svpbmt memory type                    cache           0
 *  63     N     Svnapot, unused                       0               0
 *
 * Levels: 3, 4 or 5; a leaf may sit at any level (4K, 2M, 1G, and 512G in
 * Sv48 and Sv57, 256T in Sv57).  Physical addresses are 56 bits wide in
 * every mode (a 44-bit PPN).  Above level 1,
 * an entry is a leaf iff any of R, W, X is set, or (our software rule) the
 * no-access marker is set.
 *
 * Memory types: without Svpbmt the PBMT field must stay zero and only the
 * platform's PMA applies (WB for RAM).  With Svpbmt: WB = PMA (0),
 * WC = NC (1), UC = IO (2).  Svpbmt has no write-through type, so WT is
 * never supported.
 *
 * A no-access mapping (no r, w, x) is an entry with V, R, W, X clear and
 * the software bit 8 set: the hardware sees an invalid entry, the mm still
 * sees a mapping.  U, G, A, D and PBMT are kept, so the property (u, g,
 * cache) survives a protect to no-access and back.
 *
 * A and D are preset in leaves: without Svadu a CPU may fault instead of
 * setting them, and the mm does not track accessed/dirty state.
 */
#include <ptmm/arch.h>
#include <ptmm/pte.h>

#define RV_BIT(n) ((ptmm_pte_t)1 << (n))

#define RV_PTE_V RV_BIT(0)
#define RV_PTE_R RV_BIT(1)
#define RV_PTE_W RV_BIT(2)
#define RV_PTE_X RV_BIT(3)
#define RV_PTE_U RV_BIT(4)
#define RV_PTE_G RV_BIT(5)
#define RV_PTE_A RV_BIT(6)
#define RV_PTE_D RV_BIT(7)
#define RV_PTE_NOACCESS RV_BIT(8) /* RSW: reserved for supervisor software */
#define RV_PTE_UNTRACKED RV_BIT(9) /* RSW: leaf of an untracked mapping (mm) */
#define RV_PTE_RWX (RV_PTE_R | RV_PTE_W | RV_PTE_X)

#define RV_PPN_LOW 10
#define RV_PPN_HIGH 53 /* 44-bit PPN: 56-bit physical addresses */
#define RV_PTE_PPN_MASK \
	((RV_BIT(RV_PPN_HIGH + 1) - 1) & ~(RV_BIT(RV_PPN_LOW) - 1))

#define RV_PBMT_SHIFT 61
#define RV_PTE_PBMT_MASK ((ptmm_pte_t)3 << RV_PBMT_SHIFT)
#define RV_PBMT_PMA 0u /* the platform's memory attributes (WB for RAM) */
#define RV_PBMT_NC 1u  /* non-cacheable, idempotent, weakly ordered */
#define RV_PBMT_IO 2u  /* non-cacheable, non-idempotent, strongly ordered */

#define RV_PA_BITS (PTMM_PAGE_SHIFT + RV_PPN_HIGH + 1 - RV_PPN_LOW)

#define RV_LEVELS_SV39 3
#define RV_LEVELS_SV48 4
#define RV_LEVELS_SV57 5

/* The geometry matches the generic one of mm_types.h. */
_Static_assert(RV_LEVELS_SV57 <= PTMM_MAX_LEVELS, "more levels than the mm supports");
_Static_assert(PTMM_PAGE_SHIFT + RV_LEVELS_SV39 * PTMM_PTE_BITS == 39, "Sv39: 3 levels of 9 bits");
_Static_assert(PTMM_PAGE_SHIFT + RV_LEVELS_SV48 * PTMM_PTE_BITS == 48, "Sv48: 4 levels of 9 bits");
_Static_assert(PTMM_PAGE_SHIFT + RV_LEVELS_SV57 * PTMM_PTE_BITS == 57, "Sv57: 5 levels of 9 bits");
_Static_assert(RV_PA_BITS == 56, "a 44-bit PPN over 4K frames: 56-bit physical addresses");
/* Bit positions. */
_Static_assert(RV_PTE_PPN_MASK == 0x003ffffffffffc00ull, "PPN is bits 10..53");
_Static_assert(((RV_PTE_V | RV_PTE_RWX | RV_PTE_U | RV_PTE_G | RV_PTE_A | RV_PTE_D |
		 RV_PTE_NOACCESS | RV_PTE_UNTRACKED) & ~(RV_BIT(RV_PPN_LOW) - 1)) == 0,
	       "flag and software bits lie below the PPN");
_Static_assert((RV_PTE_PBMT_MASK & RV_PTE_PPN_MASK) == 0, "PBMT lies above the PPN");
_Static_assert(RV_PTE_PBMT_MASK == (RV_BIT(61) | RV_BIT(62)), "PBMT is bits 61..62");

static bool rv_has_svpbmt(const struct ptmm_arch *a)
{
	return (a->features & PTMM_FEAT_RV_SVPBMT) != 0;
}

/*
 * The PBMT field for `cache`.  Assumes prop_check accepted it, so cache is
 * WB, or WC/UC with Svpbmt (WT never reaches here).
 */
static ptmm_pte_t rv_pbmt_bits(enum ptmm_cache cache)
{
	ptmm_pte_t type = RV_PBMT_PMA;

	if (cache == PTMM_CACHE_WC)
		type = RV_PBMT_NC;
	else if (cache == PTMM_CACHE_UC)
		type = RV_PBMT_IO;
	return type << RV_PBMT_SHIFT;
}

/*
 * The cache policy of `pte`.  PBMT value 3 is reserved by Svpbmt and never
 * produced here; it yields PTMM_CACHE_COUNT, which prop_check refuses, so such
 * an entry is reported as inexpressible instead of being read as another type.
 */
static uint8_t rv_cache_of(ptmm_pte_t pte)
{
	switch ((pte & RV_PTE_PBMT_MASK) >> RV_PBMT_SHIFT) {
	case RV_PBMT_PMA: return PTMM_CACHE_WB;
	case RV_PBMT_NC: return PTMM_CACHE_WC;
	case RV_PBMT_IO: return PTMM_CACHE_UC;
	}
	return PTMM_CACHE_COUNT;
}

/*
 * PTMM_OK if `p` can be encoded on this CPU.  Malformed (PTMM_EINVAL): unknown
 * flag or cache values, w without r (reserved encoding, wx included).
 * Unsupported (PTMM_ENOTSUP): WT always, WC/UC without Svpbmt.  Execute-only
 * is valid on RISC-V.
 */
static int rv_prop_check(const struct ptmm_arch *a, struct ptmm_prop p)
{
	if ((p.flags & ~PTMM_PROP_ALL) != 0 || p.cache >= PTMM_CACHE_COUNT)
		return PTMM_EINVAL;
	if ((p.flags & PTMM_PROP_W) && !(p.flags & PTMM_PROP_R))
		return PTMM_EINVAL;
	/* Svpbmt has PMA, NC and IO only: nothing is write-through. */
	if (p.cache == PTMM_CACHE_WT)
		return PTMM_ENOTSUP;
	/* Without Svpbmt the PBMT bits are reserved: only the PMA (WB) applies. */
	if (p.cache != PTMM_CACHE_WB && !rv_has_svpbmt(a))
		return PTMM_ENOTSUP;
	return PTMM_OK;
}

/*
 * Non-address bits of a leaf with property `p` at `level` (1..levels; the
 * encoding does not depend on the level).  Assumes prop_check(p) == PTMM_OK.
 */
static ptmm_pte_t rv_leaf_template(const struct ptmm_arch *a, struct ptmm_prop p, unsigned level)
{
	ptmm_pte_t t = RV_PTE_A | RV_PTE_D | rv_pbmt_bits((enum ptmm_cache)p.cache);

	(void)a;
	(void)level;
	/* No-access: invalid to the hardware, the marker makes it a leaf to the mm. */
	if (ptmm_prop_is_noaccess(p))
		t |= RV_PTE_NOACCESS;
	else
		t |= RV_PTE_V;
	if (p.flags & PTMM_PROP_R)
		t |= RV_PTE_R;
	if (p.flags & PTMM_PROP_W)
		t |= RV_PTE_W;
	if (p.flags & PTMM_PROP_X)
		t |= RV_PTE_X;
	if (p.flags & PTMM_PROP_U)
		t |= RV_PTE_U;
	if (p.flags & PTMM_PROP_G)
		t |= RV_PTE_G;
	return t;
}

/*
 * Non-address bits of a table entry at `level`: V alone.  R=W=X=0 is what
 * makes it a pointer; A, D and U are reserved in non-leaf entries, and
 * permissions are enforced at the leaf.
 */
static ptmm_pte_t rv_table_template(const struct ptmm_arch *a, unsigned level)
{
	(void)a;
	(void)level;
	return RV_PTE_V;
}

/*
 * Property of the leaf `pte` (present, i.e. non-zero).  R, W, X are read
 * only from a valid entry; the no-access marker, A and D are not part of the
 * result.
 */
static struct ptmm_prop rv_leaf_prop(const struct ptmm_arch *a, ptmm_pte_t pte, unsigned level)
{
	unsigned flags = 0;

	(void)a;
	(void)level;
	if (pte & RV_PTE_V) {
		if (pte & RV_PTE_R)
			flags |= PTMM_PROP_R;
		if (pte & RV_PTE_W)
			flags |= PTMM_PROP_W;
		if (pte & RV_PTE_X)
			flags |= PTMM_PROP_X;
	}
	if (pte & RV_PTE_U)
		flags |= PTMM_PROP_U;
	if (pte & RV_PTE_G)
		flags |= PTMM_PROP_G;
	return ptmm_prop_make(flags, (enum ptmm_cache)rv_cache_of(pte));
}

/*
 * Fill `a` for the RISC-V mode `name` with `levels` (3, 4 or 5).  A leaf
 * may sit at every level, the root included.  `features` may hold
 * PTMM_FEAT_RV_SVPBMT (the CPU has Svpbmt); other bits are not RISC-V
 * features and are dropped.  `tlb` is kept by reference.
 */
static void rv_init(struct ptmm_arch *a, const char *name, unsigned levels, uint32_t features,
		    const struct ptmm_tlb_ops *tlb)
{
	*a = (struct ptmm_arch){
		.name = name,
		.levels = (uint8_t)levels,
		.va_bits = (uint8_t)(PTMM_PAGE_SHIFT + levels * PTMM_PTE_BITS),
		.max_leaf_level = (uint8_t)levels,
		.pa_bits = RV_PA_BITS,
		.features = features & PTMM_FEAT_RV_SVPBMT,
		.fmt = {
			.addr_mask = RV_PTE_PPN_MASK,
			.addr_shift = RV_PPN_LOW,
			/* A no-access leaf has R=W=X=0: the marker keeps it a leaf. */
			.leaf_bits = RV_PTE_RWX | RV_PTE_NOACCESS,
			.untracked = RV_PTE_UNTRACKED,
		},
		.prop_check = rv_prop_check,
		.leaf_template = rv_leaf_template,
		.table_template = rv_table_template,
		.leaf_prop = rv_leaf_prop,
		.tlb = tlb,
	};
}

/* Sv39: 3 levels, 39-bit VA, leaves up to 1G; see rv_init. */
void ptmm_arch_sv39_init(struct ptmm_arch *a, uint32_t features, const struct ptmm_tlb_ops *tlb)
{
	rv_init(a, "sv39", RV_LEVELS_SV39, features, tlb);
}

/* Sv48: 4 levels, 48-bit VA, leaves up to 512G; see rv_init. */
void ptmm_arch_sv48_init(struct ptmm_arch *a, uint32_t features, const struct ptmm_tlb_ops *tlb)
{
	rv_init(a, "sv48", RV_LEVELS_SV48, features, tlb);
}

/* Sv57: 5 levels, 57-bit VA, leaves up to 256T; see rv_init. */
void ptmm_arch_sv57_init(struct ptmm_arch *a, uint32_t features, const struct ptmm_tlb_ops *tlb)
{
	rv_init(a, "sv57", RV_LEVELS_SV57, features, tlb);
}
