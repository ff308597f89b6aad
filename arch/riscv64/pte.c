/*
 * riscv64/pte.c - the PTE encoder for RISC-V Sv48 (4 levels, 48-bit VA).
 *
 * One entry, as the hardware reads it (RISC-V privileged spec, "Sv39"/"Sv48",
 * and the Svpbmt extension):
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
 * Levels: 4; a leaf may sit at any level (4K, 2M, 1G, 512G).  Above level 1,
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
#include "arch.h"
#include "pte.h"

#define SV48_BIT(n) ((pte_t)1 << (n))

#define SV48_PTE_V SV48_BIT(0)
#define SV48_PTE_R SV48_BIT(1)
#define SV48_PTE_W SV48_BIT(2)
#define SV48_PTE_X SV48_BIT(3)
#define SV48_PTE_U SV48_BIT(4)
#define SV48_PTE_G SV48_BIT(5)
#define SV48_PTE_A SV48_BIT(6)
#define SV48_PTE_D SV48_BIT(7)
#define SV48_PTE_NOACCESS SV48_BIT(8) /* RSW: reserved for supervisor software */
#define SV48_PTE_UNTRACKED SV48_BIT(9) /* RSW: leaf of an untracked mapping (mm) */
#define SV48_PTE_RWX (SV48_PTE_R | SV48_PTE_W | SV48_PTE_X)

#define SV48_PPN_LOW 10
#define SV48_PPN_HIGH 53 /* 44-bit PPN: 56-bit physical addresses */
#define SV48_PTE_PPN_MASK \
	((SV48_BIT(SV48_PPN_HIGH + 1) - 1) & ~(SV48_BIT(SV48_PPN_LOW) - 1))

#define SV48_PBMT_SHIFT 61
#define SV48_PTE_PBMT_MASK ((pte_t)3 << SV48_PBMT_SHIFT)
#define SV48_PBMT_PMA 0u /* the platform's memory attributes (WB for RAM) */
#define SV48_PBMT_NC 1u  /* non-cacheable, idempotent, weakly ordered */
#define SV48_PBMT_IO 2u  /* non-cacheable, non-idempotent, strongly ordered */

#define SV48_LEVELS 4
#define SV48_VA_BITS 48
#define SV48_MAX_LEAF_LEVEL 4

/* The geometry matches the generic one of mm_types.h. */
_Static_assert(SV48_LEVELS <= MM_MAX_LEVELS, "more levels than the mm supports");
_Static_assert(MM_PAGE_SHIFT + SV48_LEVELS * MM_PTE_BITS == SV48_VA_BITS,
	       "4 levels of 9 index bits over 4K pages make a 48-bit VA");
_Static_assert(SV48_MAX_LEAF_LEVEL == SV48_LEVELS, "Sv48 allows a leaf at every level");
/* Bit positions. */
_Static_assert(SV48_PTE_PPN_MASK == 0x003ffffffffffc00ull, "PPN is bits 10..53");
_Static_assert(((SV48_PTE_V | SV48_PTE_RWX | SV48_PTE_U | SV48_PTE_G | SV48_PTE_A | SV48_PTE_D |
		 SV48_PTE_NOACCESS | SV48_PTE_UNTRACKED) & ~(SV48_BIT(SV48_PPN_LOW) - 1)) == 0,
	       "flag and software bits lie below the PPN");
_Static_assert((SV48_PTE_PBMT_MASK & SV48_PTE_PPN_MASK) == 0, "PBMT lies above the PPN");
_Static_assert(SV48_PTE_PBMT_MASK == (SV48_BIT(61) | SV48_BIT(62)), "PBMT is bits 61..62");

static bool sv48_has_svpbmt(const struct mm_arch *a)
{
	return (a->features & MM_FEAT_RV_SVPBMT) != 0;
}

/*
 * The PBMT field for `cache`.  Assumes prop_check accepted it, so cache is
 * WB, or WC/UC with Svpbmt (WT never reaches here).
 */
static pte_t sv48_pbmt_bits(enum mm_cache cache)
{
	pte_t type = SV48_PBMT_PMA;

	if (cache == MM_CACHE_WC)
		type = SV48_PBMT_NC;
	else if (cache == MM_CACHE_UC)
		type = SV48_PBMT_IO;
	return type << SV48_PBMT_SHIFT;
}

/*
 * The cache policy of `pte`.  PBMT value 3 is reserved by Svpbmt and never
 * produced here; it yields MM_CACHE_COUNT, which prop_check refuses, so such
 * an entry is reported as inexpressible instead of being read as another type.
 */
static uint8_t sv48_cache_of(pte_t pte)
{
	switch ((pte & SV48_PTE_PBMT_MASK) >> SV48_PBMT_SHIFT) {
	case SV48_PBMT_PMA: return MM_CACHE_WB;
	case SV48_PBMT_NC: return MM_CACHE_WC;
	case SV48_PBMT_IO: return MM_CACHE_UC;
	}
	return MM_CACHE_COUNT;
}

/*
 * MM_OK if `p` can be encoded on this CPU.  Malformed (MM_EINVAL): unknown
 * flag or cache values, w without r (reserved encoding, wx included).
 * Unsupported (MM_ENOTSUP): WT always, WC/UC without Svpbmt.  Execute-only
 * is valid on RISC-V.
 */
static int sv48_prop_check(const struct mm_arch *a, struct mm_prop p)
{
	if ((p.flags & ~MM_PROP_ALL) != 0 || p.cache >= MM_CACHE_COUNT)
		return MM_EINVAL;
	if ((p.flags & MM_PROP_W) && !(p.flags & MM_PROP_R))
		return MM_EINVAL;
	/* Svpbmt has PMA, NC and IO only: nothing is write-through. */
	if (p.cache == MM_CACHE_WT)
		return MM_ENOTSUP;
	/* Without Svpbmt the PBMT bits are reserved: only the PMA (WB) applies. */
	if (p.cache != MM_CACHE_WB && !sv48_has_svpbmt(a))
		return MM_ENOTSUP;
	return MM_OK;
}

/*
 * Non-address bits of a leaf with property `p` at `level` (1..4; the
 * encoding does not depend on the level).  Assumes prop_check(p) == MM_OK.
 */
static pte_t sv48_leaf_template(const struct mm_arch *a, struct mm_prop p, unsigned level)
{
	pte_t t = SV48_PTE_A | SV48_PTE_D | sv48_pbmt_bits((enum mm_cache)p.cache);

	(void)a;
	(void)level;
	/* No-access: invalid to the hardware, the marker makes it a leaf to the mm. */
	if (mm_prop_is_noaccess(p))
		t |= SV48_PTE_NOACCESS;
	else
		t |= SV48_PTE_V;
	if (p.flags & MM_PROP_R)
		t |= SV48_PTE_R;
	if (p.flags & MM_PROP_W)
		t |= SV48_PTE_W;
	if (p.flags & MM_PROP_X)
		t |= SV48_PTE_X;
	if (p.flags & MM_PROP_U)
		t |= SV48_PTE_U;
	if (p.flags & MM_PROP_G)
		t |= SV48_PTE_G;
	return t;
}

/*
 * Non-address bits of a table entry at `level`: V alone.  R=W=X=0 is what
 * makes it a pointer; A, D and U are reserved in non-leaf entries, and
 * permissions are enforced at the leaf.
 */
static pte_t sv48_table_template(const struct mm_arch *a, unsigned level)
{
	(void)a;
	(void)level;
	return SV48_PTE_V;
}

/*
 * Property of the leaf `pte` (present, i.e. non-zero).  R, W, X are read
 * only from a valid entry; the no-access marker, A and D are not part of the
 * result.
 */
static struct mm_prop sv48_leaf_prop(const struct mm_arch *a, pte_t pte, unsigned level)
{
	unsigned flags = 0;

	(void)a;
	(void)level;
	if (pte & SV48_PTE_V) {
		if (pte & SV48_PTE_R)
			flags |= MM_PROP_R;
		if (pte & SV48_PTE_W)
			flags |= MM_PROP_W;
		if (pte & SV48_PTE_X)
			flags |= MM_PROP_X;
	}
	if (pte & SV48_PTE_U)
		flags |= MM_PROP_U;
	if (pte & SV48_PTE_G)
		flags |= MM_PROP_G;
	return mm_prop_make(flags, (enum mm_cache)sv48_cache_of(pte));
}

/*
 * Fill `a` for Sv48.  `features` may hold MM_FEAT_RV_SVPBMT (the CPU has
 * Svpbmt); other bits are not RISC-V features and are dropped.  `tlb` is
 * kept by reference.
 */
void mm_arch_sv48_init(struct mm_arch *a, uint32_t features, const struct mm_tlb_ops *tlb)
{
	*a = (struct mm_arch){
		.name = "sv48",
		.levels = SV48_LEVELS,
		.va_bits = SV48_VA_BITS,
		.max_leaf_level = SV48_MAX_LEAF_LEVEL,
		.features = features & MM_FEAT_RV_SVPBMT,
		.fmt = {
			.addr_mask = SV48_PTE_PPN_MASK,
			.addr_shift = SV48_PPN_LOW,
			/* A no-access leaf has R=W=X=0: the marker keeps it a leaf. */
			.leaf_bits = SV48_PTE_RWX | SV48_PTE_NOACCESS,
			.untracked = SV48_PTE_UNTRACKED,
		},
		.prop_check = sv48_prop_check,
		.leaf_template = sv48_leaf_template,
		.table_template = sv48_table_template,
		.leaf_prop = sv48_leaf_prop,
		.tlb = tlb,
	};
}
