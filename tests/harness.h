/*
 * harness.h - a simulated machine for the mm host tests.
 *
 * Physical layout (like ptsim):
 *
 *   [0, mem)                  data RAM, zone H_ZONE_DATA, claimable by map
 *   [mem, mem + pool)         node pool, zone H_ZONE_POOL: every node comes
 *                             from here (so tests control exhaustion)
 *   [mem + pool, +2M)         a hole inside the frame table's window,
 *                             registered as MMIO (device memory that has
 *                             slots, which mapping it must never touch)
 *   [H_MMIO_BASE, +H_MMIO_SIZE)  one registered MMIO window (256T aligned,
 *                             large enough for a 256T leaf; below 2^52, the
 *                             smallest PA width)
 *
 * The physical window is one MAP_NORESERVE mapping whose data part is
 * PROT_NONE: the mm may only ever touch node frames, and touching a data
 * frame crashes the test instead of going unnoticed.
 *
 * Every test body runs over seven encoders: the five paging modes of the
 * real encoders (x86_64, x86_64-la57, sv39, sv48, sv57; arch/modes.h) and
 * fake48 and fake57 (fake_arch.h), whose encoding differs per level so that
 * a wrong-level bug in the mm cannot hide, in four levels or five.  A test
 * is registered once per struct harness_param (arch x space) with
 * H_TEST_ARCHS / H_TEST_ARCHS_KERNEL, and receives a ready `struct harness *`
 * as its state.  The geometry of the machine under test comes from h_*
 * functions (h_space_size, h_root_entry_size, ...), never from constants.
 *
 * The TLB ops are a recording fake: each flush is logged together with the
 * free-frame counts at the moment of the flush, so a test can prove that
 * nothing was released before the flush that covers it.
 */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <ptmm/mm.h>

#define KiB ((uint64_t)1 << 10)
#define MiB ((uint64_t)1 << 20)
#define GiB ((uint64_t)1 << 30)
#define TiB ((uint64_t)1 << 40)
#define SZ_4K (4 * KiB)
#define SZ_2M (2 * MiB)
#define SZ_1G GiB
#define SZ_512G (512 * GiB)
#define SZ_256T (256 * TiB)

#define H_ZONE_DATA 0
#define H_ZONE_POOL 1
#define H_MMIO_BASE (256 * TiB)
#define H_MMIO_SIZE (256 * TiB)
#define H_MMIO_HOLE_SIZE (2 * MiB)

/*
 * The encoders.  The first MM_NR_MODES are mm_modes[] of arch/modes.h, in
 * its order, with every feature (x86: NX and 1G pages; RISC-V: Svpbmt).
 */
enum harness_arch {
	H_X86_64 = 0,      /* arch/x86_64/pte.c, 4 levels */
	H_X86_64_LA57 = 1, /* arch/x86_64/pte.c, 5 levels */
	H_SV39 = 2,        /* arch/riscv64/pte.c, 3 levels */
	H_SV48 = 3,        /* arch/riscv64/pte.c, 4 levels */
	H_SV57 = 4,        /* arch/riscv64/pte.c, 5 levels */
	H_FAKE48 = 5,      /* tests/fake_arch.c: per-level encoding, 4 levels */
	H_FAKE57 = 6,      /* tests/fake_arch.c: per-level encoding, 5 levels */
	H_NR_ARCHS = 7,
};

struct harness_param {
	enum harness_arch arch;
	enum ptmm_pt_space space;
	uint64_t mem;  /* data RAM bytes (0: default 4G) */
	uint64_t pool; /* node pool bytes (0: default 64M) */
};

enum tlb_kind { TLB_PAGE, TLB_RANGE, TLB_ALL, TLB_ACTIVATE };

struct tlb_event {
	enum tlb_kind kind;
	ptmm_vaddr_t va;
	uint64_t len;
	uint64_t free_data, free_pool; /* zone free frames when it happened */
};

#define H_MAX_TLB_EVENTS 4096
#define H_MAX_PTS 4

struct harness {
	struct harness_param param;
	struct ptmm_arch arch;
	struct ptmm_tlb_ops tlb;
	struct ptmm_frame_table ft;
	void *slots;
	size_t slots_bytes;
	unsigned char *phys;
	size_t phys_bytes;
	ptmm_paddr_t mem, pool_base, pool_size;
	ptmm_paddr_t mmio_hole; /* = mem + pool: the MMIO hole inside the window */
	bool shared_machine; /* phys and slots belong to the kept default machine */

	struct ptmm_page_table pt; /* the table under test (param.space) */
	/* Every table that maps frames of ft (for ptmm_check); pts[0] = &pt. */
	struct ptmm_page_table *pts[H_MAX_PTS];
	unsigned nr_pts;

	/* Recorded TLB operations (bounded; events past the end are only counted). */
	struct tlb_event tlb_log[H_MAX_TLB_EVENTS];
	unsigned nr_tlb;
	unsigned tlb_overflow;

	/* Failure injection: fail the fail_at-th allocation (1-based; 0 = off). */
	unsigned fail_at;
	unsigned alloc_calls;
	unsigned failed_allocs;

	/* Run ptmm_check after every helper operation. */
	bool check_each_op;
	/*
	 * The test maps more leaves than the reverse map's pool holds
	 * (PTMM_RMAP builds): h_assert_check* accept PTMM_CHECK_UNVERIFIED.
	 * Off: that answer fails the check like a violation.
	 */
	bool rmap_overflow_ok;

	/* Translation caches of simulated CPUs (tlb_model.h), NULL: off. */
	struct tlbm *tlb_model;
};

/* The standard parameter sets: each encoder in each space. */
extern const struct harness_param harness_user_x86, harness_user_la57, harness_user_sv39,
	harness_user_sv48, harness_user_sv57, harness_user_fake48, harness_user_fake57;
extern const struct harness_param harness_kernel_x86, harness_kernel_la57, harness_kernel_sv39,
	harness_kernel_sv48, harness_kernel_sv57, harness_kernel_fake48, harness_kernel_fake57;

/*
 * TLB hooks that do nothing, for tests whose threads run cursors at once
 * (the recording TLB and the fail hook are single-threaded).
 */
extern const struct ptmm_tlb_ops h_quiet_tlb;

/* ---- Set-up ---- */

/*
 * Build the machine described by `p` (frame table, zones, MMIO window,
 * encoder with the recording TLB, page table of p->space).  Fails the
 * test on any error.  harness_destroy undoes it.
 */
struct harness *harness_create(const struct harness_param *p);
void harness_destroy(struct harness *h);

/* cmocka setup/teardown: state in = harness_param, state out = harness. */
int harness_setup(void **state);
int harness_teardown(void **state);

#define H_TEST_ONE(f, param_) \
	{ #f "/" #param_, f, harness_setup, harness_teardown, (void *)&(param_) }
/* Register `f` for user space on every encoder. */
#define H_TEST_ARCHS(f)                                                            \
	H_TEST_ONE(f, harness_user_x86), H_TEST_ONE(f, harness_user_la57),          \
		H_TEST_ONE(f, harness_user_sv39), H_TEST_ONE(f, harness_user_sv48), \
		H_TEST_ONE(f, harness_user_sv57), H_TEST_ONE(f, harness_user_fake48), \
		H_TEST_ONE(f, harness_user_fake57)
/* Register `f` for kernel space on every encoder. */
#define H_TEST_ARCHS_KERNEL(f)                                                         \
	H_TEST_ONE(f, harness_kernel_x86), H_TEST_ONE(f, harness_kernel_la57),          \
		H_TEST_ONE(f, harness_kernel_sv39), H_TEST_ONE(f, harness_kernel_sv48), \
		H_TEST_ONE(f, harness_kernel_sv57), H_TEST_ONE(f, harness_kernel_fake48), \
		H_TEST_ONE(f, harness_kernel_fake57)

/* Register `f` in space `sp` (user or kernel) on every encoder but Sv39 (a 256G half). */
#define H_TEST_WIDE(f, sp)                                                             \
	H_TEST_ONE(f, harness_##sp##_x86), H_TEST_ONE(f, harness_##sp##_la57),          \
		H_TEST_ONE(f, harness_##sp##_sv48), H_TEST_ONE(f, harness_##sp##_sv57), \
		H_TEST_ONE(f, harness_##sp##_fake48), H_TEST_ONE(f, harness_##sp##_fake57)

/* Initialise an encoder of `which` with explicit features and the recording TLB of h. */
void harness_arch_init(struct harness *h, struct ptmm_arch *a, enum harness_arch which,
		       uint32_t features);

/* Add a table to the set ptmm_check sees (it must map frames of h->ft). */
void harness_add_pt(struct harness *h, struct ptmm_page_table *pt);
void harness_remove_pt(struct harness *h, struct ptmm_page_table *pt);

/* ---- Facts about the machine under test ---- */

/* The encoder family: x86 (both modes), RISC-V (three modes), fake (both). */
bool h_is_x86(const struct harness *h);
bool h_is_riscv(const struct harness *h);
bool h_is_fake(const struct harness *h);
bool h_is_kernel(const struct harness *h);
/* The mode's depth and VA width, from the manuals (not read from h->arch). */
unsigned h_levels(const struct harness *h);
unsigned h_va_bits(const struct harness *h);
/* Largest leaf size a huge map may use in h->pt (docs/SCRIPT.md, paging modes). */
uint64_t h_max_leaf_size(const struct harness *h);
/* Bytes one root entry covers: 1G (3 levels), 512G (4), 256T (5). */
uint64_t h_root_entry_size(const struct harness *h);
/* First VA of the space of h->pt, and its size: 2^(va_bits-1). */
ptmm_vaddr_t h_space_base(const struct harness *h);
uint64_t h_space_size(const struct harness *h);
/* End of the user half (2^(va_bits-1)) and start of the kernel half. */
ptmm_vaddr_t h_user_top(const struct harness *h);
ptmm_vaddr_t h_kernel_base(const struct harness *h);
/* Canonical VA of a tree offset (sign-extends bit va_bits-1). */
ptmm_vaddr_t h_canonical(const struct harness *h, uint64_t off);
/* A property valid in h->pt's space: flags plus U (user) or G (kernel). */
struct ptmm_prop h_prop(const struct harness *h, unsigned rwx, enum ptmm_cache cache);
/*
 * The contract's answer for property `p` in h->pt's space and encoder
 * (docs/SCRIPT.md "Properties"; fakes: fake_arch.c): PTMM_OK, PTMM_EINVAL or
 * PTMM_ENOTSUP.  `svpbmt`: the RISC-V encoder has Svpbmt.
 */
int h_expected_prop_result(const struct harness *h, struct ptmm_prop p, bool svpbmt);
uint64_t h_free_data(const struct harness *h);
uint64_t h_free_pool(const struct harness *h);
const char *h_prop_str(struct ptmm_prop p, char buf[16]);

/* ---- Operations through a cursor opened exactly on the range ---- */

/* Each opens a cursor on [va, va+len), runs the op, closes, and (if
 * check_each_op) asserts ptmm_check.  They return the first error. */
int h_map(struct harness *h, ptmm_vaddr_t va, uint64_t len, ptmm_paddr_t pa, struct ptmm_prop p,
	  unsigned flags);
int h_unmap(struct harness *h, ptmm_vaddr_t va, uint64_t len, uint64_t *removed);
int h_protect(struct harness *h, ptmm_vaddr_t va, uint64_t len, struct ptmm_prop p, uint64_t *mapped);
int h_query(struct harness *h, ptmm_vaddr_t va, struct ptmm_mapping *out);
/* Returns 1 (found), 0 (none) or an error. */
int h_find(struct harness *h, ptmm_vaddr_t va, uint64_t len, struct ptmm_mapping *out);

/* Same ops on an explicit table. */
int h_map_pt(struct harness *h, struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t len, ptmm_paddr_t pa,
	     struct ptmm_prop p, unsigned flags);
int h_unmap_pt(struct harness *h, struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t len,
	       uint64_t *removed);

/* Assert success of the above with a readable message. */
#define H_OK(expr)                                                                        \
	do {                                                                                \
		int h_rc_ = (expr);                                                         \
		if (h_rc_ != PTMM_OK)                                                         \
			fail_msg("%s:%d: %s -> %s (%d)", __FILE__, __LINE__, #expr,        \
				 ptmm_strerror(h_rc_), h_rc_);                                \
	} while (0)
#define H_ERR(expr, code)                                                                 \
	do {                                                                                \
		int h_rc_ = (expr);                                                         \
		if (h_rc_ != (code))                                                        \
			fail_msg("%s:%d: %s -> %s (%d), expected %s", __FILE__, __LINE__,  \
				 #expr, ptmm_strerror(h_rc_), h_rc_, ptmm_strerror(code));      \
	} while (0)

/* ---- Checker and state snapshots ---- */

/* Assert ptmm_check over every table of h is OK (prints the violation). */
void h_assert_check(struct harness *h, const char *where);
/*
 * Assert ptmm_check reports a violation (PTMM_CHECK_VIOLATION: neither OK
 * nor unverified), with a description (printed); `what` names the corruption.
 */
void h_expect_violation(struct harness *h, const char *what);
/* h_expect_violation, and its description must start with `prefix` (e.g. "M8: leaf PA"). */
void h_expect_violation_of(struct harness *h, const char *what, const char *prefix);
/*
 * The entry of `pt` at `level` on the path of `va` (canonical), for tests
 * that change the tree behind the mm's back; fails the test if a leaf or
 * an absent entry lies above that level.
 */
ptmm_pte_t *h_entry(struct harness *h, const struct ptmm_page_table *pt, ptmm_vaddr_t va, unsigned level);
/* The same with cursor `c` open (just flushed): ptmm_check_open. */
void h_assert_check_open(struct harness *h, const struct ptmm_cursor *c, const char *where);
/* ptmm_check result (PTMM_OK, PTMM_CHECK_VIOLATION or PTMM_CHECK_UNVERIFIED) with the text in buf. */
int h_check(struct harness *h, char *buf, size_t buflen);

/*
 * The frame metadata of one block in use, or of one run of free frames.
 * A run of free frames is recorded as a whole, however the buddy
 * allocator has cut it into blocks (and whichever are known to be zero):
 * that is allocator state an operation may legitimately change (a node
 * allocated and given back on an error path comes back as a zero block).
 */
struct h_block_rec {
	uint64_t first, end; /* slot indices [first, end) */
	bool free;           /* a run of free frames of one zone */
	uint32_t refcount, map_count; /* map_count: nr_children for a node */
	uint8_t usage, order, flags, level; /* level: nodes only, else 0 */
	/* Digest of refcount, map_count, usage, order and flags of every other slot. */
	uint64_t tails;
};

/*
 * The observable state: the view, the stats, the free frames per zone,
 * and the metadata of every slot of the frame table (per block).
 */
struct h_snapshot {
	struct ptmm_mapping *leaves;
	size_t nr, cap;
	struct ptmm_stats stats;
	uint64_t free_data, free_pool;
	struct h_block_rec *blocks;
	size_t nr_blocks, cap_blocks;
};

/*
 * Snapshot h->pt: every leaf through ptmm_cursor_find_next over the whole space,
 * cross-checked against an independent raw walk of the tree (same leaves,
 * and stats.nodes equal to the nodes the walk reaches); and the metadata
 * of every slot of h->ft, block by block.
 */
void h_snapshot(struct harness *h, struct h_snapshot *s);
void h_snapshot_free(struct h_snapshot *s);
/* Assert a and b are identical (view, stats, free memory, slot metadata). */
void h_assert_same(const struct h_snapshot *a, const struct h_snapshot *b, const char *where);
/*
 * True if a and b hold the same slot metadata (block by block, free runs as
 * runs); else false, with the index of the first differing record.
 */
bool h_same_blocks(const struct h_snapshot *a, const struct h_snapshot *b, size_t *first_diff);
/* Assert only the slot metadata is identical. */
void h_assert_same_blocks(const struct h_snapshot *a, const struct h_snapshot *b,
			  const char *where);
/* Assert only the views are identical. */
void h_assert_same_view(const struct h_snapshot *a, const struct h_snapshot *b,
			const char *where);

/* Raw walk of `pt`: calls fn for each leaf; returns the number of nodes reached. */
typedef void (*h_leaf_fn)(void *ctx, const struct ptmm_mapping *m, unsigned level);
uint64_t h_raw_walk(struct harness *h, struct ptmm_page_table *pt, h_leaf_fn fn, void *ctx);
/* The same for the leaves meeting [va, va + len) only (va canonical). */
void h_raw_walk_range(struct harness *h, struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t len,
		      h_leaf_fn fn, void *ctx);

/* Print a snapshot (debugging aid on failure). */
void h_print_leaves(const struct h_snapshot *s, size_t max);

/* ---- TLB log ---- */

void h_tlb_reset(struct harness *h);
/* True if the flushes logged since event `since` cover [va, va+len). */
bool h_tlb_covers(const struct harness *h, unsigned since, ptmm_vaddr_t va, uint64_t len);

/* ---- Failure injection ---- */

/* Fail the n-th allocation from now (1-based); 0 disables. Resets counters. */
void h_fail_nth(struct harness *h, unsigned n);

#endif /* TESTS_HARNESS_H */
