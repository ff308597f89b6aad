/*
 * x86_64/pte.c - the PTE encoder for x86-64 paging (IA-32e) in its two
 * modes: 4-level (48-bit VA, "x86_64") and 5-level (57-bit VA, CR4.LA57,
 * "x86_64-la57").  Both use the same entry format at every level.
 *
 * One entry, as the hardware reads it (Intel SDM vol. 3A, "4-level paging and
 * 5-level paging"):
 *
 *   63  62     52 51                                12 11 10  9  8  7  6  5  4  3  2  1  0
 *  +--+---------+------------------------------------+-----+--+--+--+--+--+--+--+--+--+--+
 *  |NX|  zero   |     physical address (PA >> 12)    | 0 UT|NA|G |PS|D |A |CD|WT|US|RW|P |
 *  +--+---------+------------------------------------+-----+--+--+--+--+--+--+--+--+--+--+
 *                  bit 12 = PAT in a 2M/1G leaf            sw     PAT in a 4K leaf
 *
 *  bit  name      meaning here                        4K leaf  2M/1G leaf  table entry
 *  ---  --------  ----------------------------------  -------  ----------  -----------
 *   0   P         present (clear for no-access)         yes      yes         always
 *   1   RW        writable                              w        w           always
 *   2   US        user accessible                       u        u           always
 *   3   PWT       PAT index bit 0                       cache    cache       0
 *   4   PCD       PAT index bit 1                       cache    cache       0
 *   5   A         accessed, preset                      always   always      always
 *   6   D         dirty, preset                         always   always      0 (ignored)
 *   7   PS / PAT  4K leaf: PAT index bit 2;             cache    always (PS) 0
 *                 above: page size (leaf)
 *   8   G         global                                g        g           0
 *   9   NA        software: no-access marker            no-acc.  no-acc.     0
 *  10   UT        software: untracked tag (set by the   untr.    untr.       0
 *                 mm core, not by this encoder)
 *  12   PAT       PAT index bit 2 of a huge leaf        (addr)   cache       (addr)
 *  12-51 address  4K frame number; a huge leaf's PA is aligned to its size
 *  63   NX        not executable (only with EFER.NXE)   !x       !x          0
 *
 * Levels: 4 (PML4 = 4, PDPT = 3, PD = 2, PT = 1), or 5 with LA57 (PML5 = 5
 * above the PML4).  In both modes leaves are 4K at level 1, 2M at level 2
 * and, with CPUID pdpe1gb, 1G at level 3; PML4 and PML5 entries are always
 * tables (PS is reserved there).  Physical addresses are 52 bits wide in
 * both modes (the architectural MAXPHYADDR limit).
 *
 * Memory types go through the PAT: the index is (PAT, PCD, PWT).  We use
 *
 *     WB = index 0 (000)   WT = index 1 (PWT)   UC = index 3 (PCD|PWT)   WC = index 4 (PAT)
 *
 * Indices 0, 1 and 3 hold WB, WT and UC in the power-on IA32_PAT value and in
 * every sane one.  Index 4 holds WB at power-on; the x86 kernel programs
 * IA32_PAT entry 4 = WC (memory type 01h) before it maps anything WC.  An
 * embedder that skips that step gets WB where it asked for WC.
 *
 * A no-access mapping (no r, w, x) is an entry with P clear and the
 * software bit 9 set: the CPU faults on it, the mm still sees a mapping.
 * Every other bit is encoded exactly as for an accessible leaf, so the
 * property (u, g, cache) survives a protect to no-access and back, except
 * that bits 12..51 (the address field, with a huge leaf's PAT bit) are
 * stored inverted (fmt.addr_invert): on a not-present entry a CPU affected
 * by L1TF may still use the frame number speculatively against the L1D,
 * and the inverted one lies at the top of the 52-bit physical space, above
 * any RAM (Linux's PTE inversion does the same).  ptmm_pte_make / ptmm_pte_addr
 * apply and undo it; x86_leaf_prop undoes it before it reads the PAT bit.
 *
 * A and D are preset in leaves (and A in table entries) so the CPU never
 * writes to the tables: the mm does not track accessed/dirty state, and an
 * entry must stay exactly the encoding of its property for the checker.
 */
#include <ptmm/arch.h>
#include <ptmm/pte.h>

#define X86_BIT(n) ((ptmm_pte_t)1 << (n))

#define X86_PTE_P X86_BIT(0)
#define X86_PTE_RW X86_BIT(1)
#define X86_PTE_US X86_BIT(2)
#define X86_PTE_PWT X86_BIT(3)
#define X86_PTE_PCD X86_BIT(4)
#define X86_PTE_A X86_BIT(5)
#define X86_PTE_D X86_BIT(6)
#define X86_PTE_PS X86_BIT(7)       /* levels 2, 3: this entry is a leaf */
#define X86_PTE_PAT_4K X86_BIT(7)   /* level 1: PAT index bit 2 */
#define X86_PTE_G X86_BIT(8)
#define X86_PTE_NOACCESS X86_BIT(9) /* software (bits 9..11 are ignored by the CPU) */
#define X86_PTE_UNTRACKED X86_BIT(10) /* software: leaf of an untracked mapping (mm) */
#define X86_PTE_PAT_HUGE X86_BIT(12) /* levels 2, 3: PAT index bit 2 */
#define X86_PTE_NX X86_BIT(63)

#define X86_ADDR_LOW 12
#define X86_ADDR_HIGH 51 /* architectural MAXPHYADDR limit: 52 bits */
#define X86_PTE_ADDR_MASK \
	((X86_BIT(X86_ADDR_HIGH + 1) - 1) & ~(X86_BIT(X86_ADDR_LOW) - 1))

#define X86_PA_BITS (X86_ADDR_HIGH + 1)

#define X86_LEVELS_4 4 /* 4-level paging: 48-bit VA */
#define X86_LEVELS_5 5 /* 5-level paging (LA57): 57-bit VA */
#define X86_MAX_LEAF_LEVEL_1G 3
#define X86_MAX_LEAF_LEVEL_2M 2

/* The geometry matches the generic one of mm_types.h. */
_Static_assert(X86_LEVELS_5 <= PTMM_MAX_LEVELS, "more levels than the mm supports");
_Static_assert(PTMM_PAGE_SHIFT + X86_LEVELS_4 * PTMM_PTE_BITS == 48,
	       "4 levels of 9 index bits over 4K pages make a 48-bit VA");
_Static_assert(PTMM_PAGE_SHIFT + X86_LEVELS_5 * PTMM_PTE_BITS == 57,
	       "5 levels of 9 index bits over 4K pages make a 57-bit VA");
_Static_assert(X86_ADDR_LOW == PTMM_PAGE_SHIFT, "the address field starts at the 4K frame number");
/* Bit positions. */
_Static_assert(X86_PTE_PS == X86_PTE_PAT_4K, "PS and the 4K PAT bit share bit 7");
_Static_assert(X86_PTE_PAT_HUGE == X86_BIT(X86_ADDR_LOW),
	       "a huge leaf's PAT bit is the lowest address bit");
_Static_assert(X86_PTE_PAT_HUGE < X86_BIT(PTMM_PAGE_SHIFT + PTMM_PTE_BITS),
	       "the huge PAT bit is below the 2M alignment, so a huge PA never uses it");
_Static_assert((X86_PTE_NOACCESS & (X86_BIT(9) | X86_BIT(10) | X86_BIT(11))) == X86_PTE_NOACCESS,
	       "the no-access marker is in the CPU-ignored software bits 9..11");
_Static_assert((X86_PTE_UNTRACKED & (X86_BIT(9) | X86_BIT(10) | X86_BIT(11))) == X86_PTE_UNTRACKED &&
		       X86_PTE_UNTRACKED != X86_PTE_NOACCESS,
	       "the untracked tag is another CPU-ignored software bit");
_Static_assert(((X86_PTE_P | X86_PTE_RW | X86_PTE_US | X86_PTE_PWT | X86_PTE_PCD | X86_PTE_A |
		 X86_PTE_D | X86_PTE_PS | X86_PTE_G | X86_PTE_NOACCESS | X86_PTE_UNTRACKED | X86_PTE_NX) &
		X86_PTE_ADDR_MASK) == 0,
	       "attribute bits other than the huge PAT bit lie outside the address field");
_Static_assert(X86_PTE_ADDR_MASK == 0x000ffffffffff000ull, "address field is bits 12..51");

/*
 * PAT index (PAT:PCD:PWT) of each cache policy; see the header comment for
 * why WC is index 4.
 */
static const uint8_t x86_pat_index[PTMM_CACHE_COUNT] = {
	[PTMM_CACHE_WB] = 0,
	[PTMM_CACHE_WT] = 1,
	[PTMM_CACHE_UC] = 3,
	[PTMM_CACHE_WC] = 4,
};

#define X86_PAT_INDEX_PWT 1u
#define X86_PAT_INDEX_PCD 2u
#define X86_PAT_INDEX_PAT 4u

/* The PAT bit of a leaf at `level`: bit 7 at level 1, bit 12 above (bit 7 is PS there). */
static ptmm_pte_t x86_pat_bit(unsigned level)
{
	return level == 1 ? X86_PTE_PAT_4K : X86_PTE_PAT_HUGE;
}

/*
 * The PWT/PCD/PAT bits selecting `cache` in a leaf at `level`.
 * Assumes cache < PTMM_CACHE_COUNT.
 */
static ptmm_pte_t x86_cache_bits(enum ptmm_cache cache, unsigned level)
{
	unsigned index = x86_pat_index[cache];
	ptmm_pte_t bits = 0;

	if (index & X86_PAT_INDEX_PWT)
		bits |= X86_PTE_PWT;
	if (index & X86_PAT_INDEX_PCD)
		bits |= X86_PTE_PCD;
	if (index & X86_PAT_INDEX_PAT)
		bits |= x86_pat_bit(level);
	return bits;
}

/*
 * The cache policy of leaf `pte` at `level`.  A PAT index this encoder never
 * produces (2, 5, 6, 7) yields PTMM_CACHE_COUNT, which prop_check refuses:
 * such an entry is reported as inexpressible rather than read as a policy it
 * does not have.
 */
static uint8_t x86_cache_of(ptmm_pte_t pte, unsigned level)
{
	unsigned index = 0;

	if (pte & X86_PTE_PWT)
		index |= X86_PAT_INDEX_PWT;
	if (pte & X86_PTE_PCD)
		index |= X86_PAT_INDEX_PCD;
	if (pte & x86_pat_bit(level))
		index |= X86_PAT_INDEX_PAT;
	for (uint8_t cache = 0; cache < PTMM_CACHE_COUNT; cache++) {
		if (x86_pat_index[cache] == index)
			return cache;
	}
	return PTMM_CACHE_COUNT;
}

static bool x86_has_nx(const struct ptmm_arch *a)
{
	return (a->features & PTMM_FEAT_X86_NX) != 0;
}

/*
 * PTMM_OK if `p` can be encoded on this CPU.  Malformed (PTMM_EINVAL): unknown
 * flag or cache values, w without r, x without r.  Unsupported (PTMM_ENOTSUP):
 * a readable, non-executable page without NX.
 */
static int x86_prop_check(const struct ptmm_arch *a, struct ptmm_prop p)
{
	bool r = (p.flags & PTMM_PROP_R) != 0;
	bool w = (p.flags & PTMM_PROP_W) != 0;
	bool x = (p.flags & PTMM_PROP_X) != 0;

	if ((p.flags & ~PTMM_PROP_ALL) != 0 || p.cache >= PTMM_CACHE_COUNT)
		return PTMM_EINVAL;
	/* A present x86 page is always readable: w or x alone cannot be expressed. */
	if (w && !r)
		return PTMM_EINVAL;
	if (x && !r)
		return PTMM_EINVAL;
	/* Without NX every present page is executable; never grant x silently. */
	if (r && !x && !x86_has_nx(a))
		return PTMM_ENOTSUP;
	return PTMM_OK;
}

/*
 * Non-address bits of a leaf with property `p` at `level` (1..max_leaf_level).
 * Assumes prop_check(p) == PTMM_OK.
 */
static ptmm_pte_t x86_leaf_template(const struct ptmm_arch *a, struct ptmm_prop p, unsigned level)
{
	ptmm_pte_t t = X86_PTE_A | X86_PTE_D | x86_cache_bits((enum ptmm_cache)p.cache, level);

	/* No-access: hardware sees "not present", the marker says "still mapped". */
	t |= ptmm_prop_is_noaccess(p) ? X86_PTE_NOACCESS : X86_PTE_P;
	if (p.flags & PTMM_PROP_W)
		t |= X86_PTE_RW;
	if (p.flags & PTMM_PROP_U)
		t |= X86_PTE_US;
	if (p.flags & PTMM_PROP_G)
		t |= X86_PTE_G;
	/* Bit 63 is reserved (a fault) unless EFER.NXE is set. */
	if (x86_has_nx(a) && !(p.flags & PTMM_PROP_X))
		t |= X86_PTE_NX;
	if (level > 1)
		t |= X86_PTE_PS;
	return t;
}

/*
 * Non-address bits of a table entry at `level`.  Permissions are enforced at
 * the leaf, so the entry allows everything (the CPU ANDs RW and US down the
 * walk and ORs NX); A is preset because the CPU sets it in every entry it walks.
 */
static ptmm_pte_t x86_table_template(const struct ptmm_arch *a, unsigned level)
{
	(void)a;
	(void)level;
	return X86_PTE_P | X86_PTE_RW | X86_PTE_US | X86_PTE_A;
}

/*
 * Property of the leaf `pte` at `level` (present, i.e. non-zero).  R is
 * implied by P; without NX every present page is executable.  The
 * no-access marker, A, D and PS only select the encoding and are not part of
 * the result.
 */
static struct ptmm_prop x86_leaf_prop(const struct ptmm_arch *a, ptmm_pte_t pte, unsigned level)
{
	unsigned flags = 0;

	/* A no-access leaf's field is inverted, a huge leaf's PAT bit with it. */
	if (pte & X86_PTE_NOACCESS)
		pte ^= X86_PTE_ADDR_MASK;

	if (pte & X86_PTE_P) {
		flags |= PTMM_PROP_R;
		if (pte & X86_PTE_RW)
			flags |= PTMM_PROP_W;
		if (!x86_has_nx(a) || !(pte & X86_PTE_NX))
			flags |= PTMM_PROP_X;
	}
	if (pte & X86_PTE_US)
		flags |= PTMM_PROP_U;
	if (pte & X86_PTE_G)
		flags |= PTMM_PROP_G;
	return ptmm_prop_make(flags, (enum ptmm_cache)x86_cache_of(pte, level));
}

/*
 * Fill `a` for x86-64 paging with `levels` (4 or 5) under the mode name
 * `name`.  `features` may hold PTMM_FEAT_X86_NX (EFER.NXE is set) and
 * PTMM_FEAT_X86_1G (1 GiB leaves); other bits are not x86 features and are
 * dropped.  `tlb` is kept by reference.
 */
static void x86_init(struct ptmm_arch *a, const char *name, unsigned levels, uint32_t features,
		     const struct ptmm_tlb_ops *tlb)
{
	uint32_t in_force = features & (PTMM_FEAT_X86_NX | PTMM_FEAT_X86_1G);

	*a = (struct ptmm_arch){
		.name = name,
		.levels = (uint8_t)levels,
		.va_bits = (uint8_t)(PTMM_PAGE_SHIFT + levels * PTMM_PTE_BITS),
		/* The same leaf sizes in both modes: PML4/PML5 entries are tables. */
		.max_leaf_level = (in_force & PTMM_FEAT_X86_1G) ? X86_MAX_LEAF_LEVEL_1G :
								X86_MAX_LEAF_LEVEL_2M,
		.pa_bits = X86_PA_BITS,
		.features = in_force,
		.fmt = {
			.addr_mask = X86_PTE_ADDR_MASK,
			.addr_shift = X86_ADDR_LOW,
			/* Above level 1, PS alone marks a leaf (present or no-access). */
			.leaf_bits = X86_PTE_PS,
			.untracked = X86_PTE_UNTRACKED,
			.addr_invert = X86_PTE_NOACCESS, /* L1TF: see the header comment */
		},
		.prop_check = x86_prop_check,
		.leaf_template = x86_leaf_template,
		.table_template = x86_table_template,
		.leaf_prop = x86_leaf_prop,
		.tlb = tlb,
	};
}

/* x86-64 4-level paging (48-bit VA); see x86_init. */
void ptmm_arch_x86_64_init(struct ptmm_arch *a, uint32_t features, const struct ptmm_tlb_ops *tlb)
{
	x86_init(a, "x86_64", X86_LEVELS_4, features, tlb);
}

/* x86-64 5-level paging (CR4.LA57, 57-bit VA); see x86_init. */
void ptmm_arch_x86_64_la57_init(struct ptmm_arch *a, uint32_t features, const struct ptmm_tlb_ops *tlb)
{
	x86_init(a, "x86_64-la57", X86_LEVELS_5, features, tlb);
}
