/*
 * arch.h - the architecture ops table: geometry, PTE encoders, TLB hooks.
 *
 * One `struct ptmm_arch` describes a paging format.  The mm core never looks
 * at PTE bits itself except through this table, in two ways:
 *
 *   - `fmt`, a declarative description of the bits the walk needs (where the
 *     address field is, which bits make a non-root entry a leaf).  The
 *     per-entry inner loops use it through the inline helpers of pte.h, so
 *     they pay no function-pointer call per PTE;
 *   - encoder functions, called once per operation or per level (not per
 *     entry), that turn an mm_prop into the non-address bits of a leaf
 *     (a *template*) and back.
 *
 * A PTE is then always `template | address field`.  An all-zero PTE is
 * absent; every present entry, including a no-access leaf (whose hardware
 * valid bit is clear), is non-zero.
 *
 * The encoders live in arch/<arch>/pte.c and are compiled into both the
 * kernel and the host tests.  The TLB hooks are supplied by the embedder
 * (arch/<arch>/tlb.c in the kernel, a recording fake in host tests).
 *
 * Geometry.  Level 1 holds 4 KiB leaves and `levels` (3, 4 or 5) is the
 * root; each level indexes 9 VA bits, so the VA width is 12 + 9 * levels
 * (39, 48 or 57).  The mm core reads the geometry only from this table
 * (levels, va_bits, max_leaf_level, pa_bits) and assumes no mode:
 *
 *     63     B B-1        ...       30 29    21 20    12 11       0
 *    +--------+-------+-----+--------+--------+--------+----------+
 *    |sign ext| L(n)  | ... | L3 idx | L2 idx | L1 idx |  offset  |
 *    +--------+-------+-----+--------+--------+--------+----------+
 *                      ...      1G       2M       4K   one entry maps
 *
 *    B = va_bits; n = levels; an entry at level L maps 4K * 512^(L-1):
 *    4K, 2M, 1G, 512G (L4), 256T (L5).
 *
 * The lower half [0, 2^(B-1)) is user space, the upper half
 * [2^64 - 2^(B-1), 2^64) kernel space; each is half of the root's entries.
 * The encoders (arch/<arch>/pte.c) and their modes are listed in
 * docs/DESIGN.md.
 */
#ifndef PTMM_ARCH_H
#define PTMM_ARCH_H

#include "mm_types.h"
#include "prop.h"

/* Declarative PTE layout, read by the inline helpers in pte.h. */
struct ptmm_pte_format {
	ptmm_pte_t addr_mask;    /* PTE bits holding the address field */
	uint8_t addr_shift; /* field = (pa >> 12) << addr_shift */
	ptmm_pte_t leaf_bits;    /* above level 1: any of these set => leaf */
	/*
	 * A software bit (ignored by the MMU, never part of a leaf template)
	 * that tags a leaf of an untracked mapping: RAM mapped without frame
	 * references, e.g. the kernel's direct map (PTMM_MAP_UNTRACKED).
	 */
	ptmm_pte_t untracked;
	/*
	 * Address inversion (0: none).  A leaf whose template has any of these
	 * bits (the encoder's no-access marker) holds its whole address field
	 * XORed with addr_mask, so that a speculative walk through the
	 * not-present entry (L1TF) reaches the top of the physical space, not
	 * the frame.  ptmm_pte_make and ptmm_pte_addr apply it; leaf_prop must undo it
	 * before reading attribute bits inside addr_mask (x86's huge PAT bit).
	 * Never set in a table template (ptmm_pte_table_addr does not look).
	 */
	ptmm_pte_t addr_invert;
};

/*
 * TLB maintenance and root activation, supplied by the embedder.
 *
 * Contract (docs/DESIGN.md, "Context contract"): the mm calls flush_page,
 * flush_range and flush_all from ptmm_cursor_flush / ptmm_cursor_close, while the
 * cursor holds node locks but not the allocator lock, and frees what the
 * flush covers only after the hook has returned.  So a hook must have
 * finished invalidating when it returns (on several CPUs: every CPU that
 * may cache the table acknowledged), may spin or wait for other CPUs, and
 * must not call back into the mm (no cursor, no ptmm_frame_* call).  flush_page
 * and flush_range drop global translations too; flush_all drops
 * everything, paging-structure caches included (the mm uses it whenever
 * a table entry was removed).  activate may keep global translations.
 */
struct ptmm_tlb_ops {
	void (*flush_page)(void *ctx, ptmm_vaddr_t va);
	void (*flush_range)(void *ctx, ptmm_vaddr_t va, uint64_t len);
	void (*flush_all)(void *ctx);
	void (*activate)(void *ctx, ptmm_paddr_t root);
	void *ctx;
};

/* Feature bits an encoder may honour (mm_arch.features). */
enum ptmm_arch_feature {
	PTMM_FEAT_X86_NX = 1u << 0,     /* EFER.NXE usable: non-executable pages */
	PTMM_FEAT_X86_1G = 1u << 1,     /* CPUID pdpe1gb: 1 GiB leaves */
	PTMM_FEAT_RV_SVPBMT = 1u << 8,  /* Svpbmt: NC/IO memory types */
};

struct ptmm_arch {
	/* The mode's name: "x86_64", "x86_64-la57", "sv39", "sv48", "sv57". */
	const char *name;

	/* Geometry. */
	uint8_t levels;         /* number of levels (root = levels): 3, 4 or 5 */
	uint8_t va_bits;        /* significant VA bits (12 + 9 * levels); canonical = sign-extended */
	uint8_t max_leaf_level; /* highest level that may hold a leaf */
	/*
	 * Physical address width a leaf can hold: a PA at or above
	 * 2^pa_bits cannot be encoded (52 on x86-64, 56 on RISC-V).
	 */
	uint8_t pa_bits;
	uint32_t features;      /* mm_arch_feature bits in force */

	struct ptmm_pte_format fmt;

	/*
	 * PTMM_OK if `p` is expressible, PTMM_EINVAL if it is malformed for this
	 * architecture (w without r, x without r on x86), PTMM_ENOTSUP if it is
	 * valid but this CPU lacks the feature (uc without Svpbmt, ...).
	 */
	int (*prop_check)(const struct ptmm_arch *a, struct ptmm_prop p);
	/* Non-address bits of a leaf with property `p` at `level`. */
	ptmm_pte_t (*leaf_template)(const struct ptmm_arch *a, struct ptmm_prop p, unsigned level);
	/* Non-address bits of an entry at `level` pointing to a child table. */
	ptmm_pte_t (*table_template)(const struct ptmm_arch *a, unsigned level);
	/* Property of a present leaf; software bits never leak into it. */
	struct ptmm_prop (*leaf_prop)(const struct ptmm_arch *a, ptmm_pte_t pte, unsigned level);

	const struct ptmm_tlb_ops *tlb;
};

/*
 * The encoders, in arch/x86_64/pte.c and arch/riscv64/pte.c: one per PTE
 * format, one init function per paging mode.  Each fills `a` completely,
 * keeps only the `features` its format knows, and keeps `tlb` by reference.
 *
 *   x86_64       4 levels, 48-bit VA; PTMM_FEAT_X86_NX, PTMM_FEAT_X86_1G
 *   x86_64-la57  5 levels, 57-bit VA (CR4.LA57); same features
 *   sv39         3 levels, 39-bit VA; PTMM_FEAT_RV_SVPBMT
 *   sv48         4 levels, 48-bit VA; PTMM_FEAT_RV_SVPBMT
 *   sv57         5 levels, 57-bit VA; PTMM_FEAT_RV_SVPBMT
 */
void ptmm_arch_x86_64_init(struct ptmm_arch *a, uint32_t features, const struct ptmm_tlb_ops *tlb);
void ptmm_arch_x86_64_la57_init(struct ptmm_arch *a, uint32_t features, const struct ptmm_tlb_ops *tlb);
void ptmm_arch_sv39_init(struct ptmm_arch *a, uint32_t features, const struct ptmm_tlb_ops *tlb);
void ptmm_arch_sv48_init(struct ptmm_arch *a, uint32_t features, const struct ptmm_tlb_ops *tlb);
void ptmm_arch_sv57_init(struct ptmm_arch *a, uint32_t features, const struct ptmm_tlb_ops *tlb);

/*
 * True if every byte of [pa, pa+len) is below 2^pa_bits, i.e. a leaf can
 * hold the range (false also if pa + len wraps).  Assumes len > 0.
 */
static inline bool ptmm_arch_pa_fits(const struct ptmm_arch *a, ptmm_paddr_t pa, uint64_t len)
{
	uint64_t last = pa + (len - 1);
	return last >= pa && (a->pa_bits >= 64 || (last >> a->pa_bits) == 0);
}

/* True if `va` is canonical (bits 63..va_bits-1 all equal). */
static inline bool ptmm_arch_va_canonical(const struct ptmm_arch *a, ptmm_vaddr_t va)
{
	uint64_t top = va >> (a->va_bits - 1);
	return top == 0 || top == (UINT64_MAX >> (a->va_bits - 1));
}

#endif /* PTMM_ARCH_H */
