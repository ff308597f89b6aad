/*
 * harness.c - the simulated machine of the mm host tests (see harness.h).
 */
#define _GNU_SOURCE
#include "harness.h"
#include "arch/modes.h"
#include "fake_arch.h"
#include <ptmm/mm_assert.h>
#include "tlb_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

const struct harness_param harness_user_x86 = { H_X86_64, PTMM_PT_USER, 0, 0 };
const struct harness_param harness_user_la57 = { H_X86_64_LA57, PTMM_PT_USER, 0, 0 };
const struct harness_param harness_user_sv39 = { H_SV39, PTMM_PT_USER, 0, 0 };
const struct harness_param harness_user_sv48 = { H_SV48, PTMM_PT_USER, 0, 0 };
const struct harness_param harness_user_sv57 = { H_SV57, PTMM_PT_USER, 0, 0 };
const struct harness_param harness_user_fake48 = { H_FAKE48, PTMM_PT_USER, 0, 0 };
const struct harness_param harness_user_fake57 = { H_FAKE57, PTMM_PT_USER, 0, 0 };
const struct harness_param harness_kernel_x86 = { H_X86_64, PTMM_PT_KERNEL, 0, 0 };
const struct harness_param harness_kernel_la57 = { H_X86_64_LA57, PTMM_PT_KERNEL, 0, 0 };
const struct harness_param harness_kernel_sv39 = { H_SV39, PTMM_PT_KERNEL, 0, 0 };
const struct harness_param harness_kernel_sv48 = { H_SV48, PTMM_PT_KERNEL, 0, 0 };
const struct harness_param harness_kernel_sv57 = { H_SV57, PTMM_PT_KERNEL, 0, 0 };
const struct harness_param harness_kernel_fake48 = { H_FAKE48, PTMM_PT_KERNEL, 0, 0 };
const struct harness_param harness_kernel_fake57 = { H_FAKE57, PTMM_PT_KERNEL, 0, 0 };

/*
 * The contract's geometry of each encoder (docs/SCRIPT.md, paging modes; the
 * fakes: fake_arch.h), written down here independently of the encoders.
 */
static const struct {
	unsigned levels;
	uint64_t max_leaf_user, max_leaf_kernel;
} h_geometry[H_NR_ARCHS] = {
	[H_X86_64] = { 4, SZ_1G, SZ_1G },
	[H_X86_64_LA57] = { 5, SZ_1G, SZ_1G },
	[H_SV39] = { 3, SZ_1G, SZ_2M },
	[H_SV48] = { 4, SZ_512G, SZ_1G },
	[H_SV57] = { 5, SZ_256T, SZ_512G },
	[H_FAKE48] = { 4, SZ_512G, SZ_1G },
	[H_FAKE57] = { 5, SZ_256T, SZ_512G },
};

/* A broken mm invariant (PTMM_ASSERT) fails the test run loudly. */
void ptmm_assert_failed(const char *file, int line, const char *cond)
{
	fprintf(stderr, "mm assertion failed: %s:%d: %s\n", file, line, cond);
	abort();
}

/* The calling thread, for the mm's self-deadlock detection (PTMM_DEBUG). */
const void *ptmm_debug_context(void)
{
	static _Thread_local char here;
	return &here;
}

/* ---- The TLB of threaded tests: every hook does nothing (harness.h) ---- */

static void no_flush_page(void *ctx, ptmm_vaddr_t va)
{
	(void)ctx;
	(void)va;
}

static void no_flush_range(void *ctx, ptmm_vaddr_t va, uint64_t len)
{
	(void)ctx;
	(void)va;
	(void)len;
}

static void no_flush_all(void *ctx)
{
	(void)ctx;
}

static void no_activate(void *ctx, ptmm_paddr_t root)
{
	(void)ctx;
	(void)root;
}

const struct ptmm_tlb_ops h_quiet_tlb = { no_flush_page, no_flush_range, no_flush_all,
					     no_activate, NULL };

#define H_DEFAULT_MEM (4 * GiB)
#define H_DEFAULT_POOL (64 * MiB)

/* ---- Recording TLB ---- */

/* Log one TLB event with the free counts at that moment. */
static void tlb_record(void *ctx, enum tlb_kind kind, ptmm_vaddr_t va, uint64_t len)
{
	struct harness *h = ctx;
	struct tlb_event *e;

	if (h->nr_tlb == H_MAX_TLB_EVENTS) {
		h->tlb_overflow++;
		return;
	}
	e = &h->tlb_log[h->nr_tlb++];
	e->kind = kind;
	e->va = va;
	e->len = len;
	e->free_data = ptmm_frame_zone_free_frames(&h->ft, H_ZONE_DATA);
	e->free_pool = ptmm_frame_zone_free_frames(&h->ft, H_ZONE_POOL);
}

/* Every hook also empties the modelled translation caches (tlb_model.h). */
static void tlb_hook(void *ctx, enum tlb_kind kind, ptmm_vaddr_t va, uint64_t len)
{
	struct harness *h = ctx;
	tlb_record(h, kind, va, len);
	h_tlb_model_flush(h, kind, va, len);
}

static void tlb_flush_page(void *ctx, ptmm_vaddr_t va)
{
	tlb_hook(ctx, TLB_PAGE, va, SZ_4K);
}

static void tlb_flush_range(void *ctx, ptmm_vaddr_t va, uint64_t len)
{
	tlb_hook(ctx, TLB_RANGE, va, len);
}

static void tlb_flush_all(void *ctx)
{
	tlb_hook(ctx, TLB_ALL, 0, 0);
}

static void tlb_activate(void *ctx, ptmm_paddr_t root)
{
	tlb_hook(ctx, TLB_ACTIVATE, root, 0);
}

void h_tlb_reset(struct harness *h)
{
	h->nr_tlb = 0;
	h->tlb_overflow = 0;
}

/* Sort helper for h_tlb_covers: intervals by start. */
struct h_interval {
	unsigned __int128 lo, hi;
};

static int interval_cmp(const void *a, const void *b)
{
	const struct h_interval *x = a, *y = b;
	return x->lo < y->lo ? -1 : x->lo > y->lo ? 1 : 0;
}

/*
 * True if the union of the page/range flushes logged since `since`, or
 * any flush_all, covers [va, va+len).  Computed in 128 bits so that a
 * range ending at 2^64 needs no special case.
 */
bool h_tlb_covers(const struct harness *h, unsigned since, ptmm_vaddr_t va, uint64_t len)
{
	struct h_interval iv[H_MAX_TLB_EVENTS];
	unsigned n = 0;
	unsigned __int128 want_lo = va, want_hi = (unsigned __int128)va + len, reach;

	for (unsigned i = since; i < h->nr_tlb; i++) {
		const struct tlb_event *e = &h->tlb_log[i];
		if (e->kind == TLB_ALL)
			return true;
		if (e->kind == TLB_PAGE || e->kind == TLB_RANGE) {
			iv[n].lo = e->va;
			iv[n].hi = (unsigned __int128)e->va + e->len;
			n++;
		}
	}
	qsort(iv, n, sizeof(iv[0]), interval_cmp);
	reach = want_lo;
	for (unsigned i = 0; i < n && reach < want_hi; i++) {
		if (iv[i].lo > reach)
			break;
		if (iv[i].hi > reach)
			reach = iv[i].hi;
	}
	return reach >= want_hi;
}

/* ---- Failure injection ---- */

/* The frame table's fail hook: count attempts, fail the chosen one. */
static bool fail_hook(void *ctx, unsigned zone, unsigned order)
{
	struct harness *h = ctx;
	(void)zone;
	(void)order;
	h->alloc_calls++;
	if (h->fail_at != 0 && h->alloc_calls == h->fail_at) {
		h->failed_allocs++;
		return true;
	}
	return false;
}

void h_fail_nth(struct harness *h, unsigned n)
{
	h->fail_at = n;
	h->alloc_calls = 0;
	h->failed_allocs = 0;
}

/* ---- Set-up ---- */

void harness_arch_init(struct harness *h, struct ptmm_arch *a, enum harness_arch which,
		       uint32_t features)
{
	if ((unsigned)which < MM_NR_MODES)
		mm_modes[which].init(a, features, &h->tlb);
	else if (which == H_FAKE48)
		mm_arch_fake48_init(a, features, &h->tlb);
	else if (which == H_FAKE57)
		mm_arch_fake57_init(a, features, &h->tlb);
	else
		fail_msg("harness_arch_init: unknown encoder %d", (int)which);
}

/* The features each encoder runs with in the harness: all it has. */
static uint32_t harness_features(enum harness_arch which)
{
	if ((unsigned)which < MM_NR_MODES)
		return mm_modes[which].features | mm_modes[which].optional;
	return 0;
}

/*
 * Reserve the physical window [0, mem + pool + hole) without backing
 * store; only the pool is accessible, so the mm can touch nothing but
 * node frames.
 */
static void phys_map(struct harness *h)
{
	h->phys_bytes = h->mem + h->pool_size + H_MMIO_HOLE_SIZE;
	h->phys = mmap(NULL, h->phys_bytes, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (h->phys == MAP_FAILED)
		fail_msg("mmap of %zu bytes of simulated physical memory failed", h->phys_bytes);
	if (mprotect(h->phys + h->pool_base, h->pool_size, PROT_READ | PROT_WRITE) != 0)
		fail_msg("mprotect of the node pool failed");
}

/* Frame table over [0, mem + pool + hole): data zone, pool zone, MMIO hole and window. */
static void frames_init(struct harness *h)
{
	ptmm_paddr_t hi = h->mmio_hole + H_MMIO_HOLE_SIZE;

	h->slots_bytes = ptmm_frame_table_meta_bytes(0, hi);
	h->slots = mmap(NULL, h->slots_bytes, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (h->slots == MAP_FAILED)
		fail_msg("mmap of %zu bytes of frame slots failed", h->slots_bytes);
	H_OK(ptmm_frame_table_init(&h->ft, h->slots, 0, hi, (uintptr_t)h->phys));
	H_OK(ptmm_frame_table_add_ram(&h->ft, 0, h->mem, H_ZONE_DATA));
	H_OK(ptmm_frame_table_add_ram(&h->ft, h->pool_base, h->pool_size, H_ZONE_POOL));
	H_OK(ptmm_frame_table_add_mmio(&h->ft, h->mmio_hole, H_MMIO_HOLE_SIZE));
	H_OK(ptmm_frame_table_add_mmio(&h->ft, H_MMIO_BASE, H_MMIO_SIZE));
	ptmm_frame_zone_set_claimable(&h->ft, H_ZONE_DATA, true);
	ptmm_frame_table_set_fail_hook(&h->ft, fail_hook, h);
}

/*
 * The machine of the default size, kept between tests.  Building it is
 * most of a test's time (touching ~34 MB of fresh slots and initialising
 * a million of them), and with seven encoders it happens hundreds of times
 * per program; so the mappings stay, and the frame table as set up (before
 * any page table exists) is saved once and copied back.  The pool is given
 * back to the kernel (MADV_DONTNEED: zero on next touch), so every test
 * starts from the same bytes as with fresh mappings.
 */
static struct {
	bool valid;
	unsigned char *phys;
	size_t phys_bytes;
	void *slots, *pristine;
	size_t slots_bytes;
	struct ptmm_frame_table ft;
} default_machine;

/* Build h's physical memory and frame table, from the saved default machine if it fits. */
static void machine_init(struct harness *h)
{
	bool is_default = h->mem == H_DEFAULT_MEM && h->pool_size == H_DEFAULT_POOL;

	if (is_default && default_machine.valid) {
		h->phys = default_machine.phys;
		h->phys_bytes = default_machine.phys_bytes;
		h->slots = default_machine.slots;
		h->slots_bytes = default_machine.slots_bytes;
		if (madvise(h->phys + h->pool_base, h->pool_size, MADV_DONTNEED) != 0)
			fail_msg("madvise of the node pool failed");
		memcpy(h->slots, default_machine.pristine, h->slots_bytes);
		h->ft = default_machine.ft;
		ptmm_frame_table_set_fail_hook(&h->ft, fail_hook, h);
		h->shared_machine = true;
		return;
	}
	phys_map(h);
	frames_init(h);
	if (!is_default)
		return;
	default_machine.pristine = malloc(h->slots_bytes);
	assert_non_null(default_machine.pristine);
	memcpy(default_machine.pristine, h->slots, h->slots_bytes);
	default_machine.phys = h->phys;
	default_machine.phys_bytes = h->phys_bytes;
	default_machine.slots = h->slots;
	default_machine.slots_bytes = h->slots_bytes;
	default_machine.ft = h->ft;
	default_machine.valid = true;
	h->shared_machine = true;
}

struct harness *harness_create(const struct harness_param *p)
{
	struct harness *h = calloc(1, sizeof(*h));

	assert_non_null(h);
	h->param = *p;
	h->mem = p->mem ? p->mem : H_DEFAULT_MEM;
	h->pool_size = p->pool ? p->pool : H_DEFAULT_POOL;
	h->pool_base = h->mem;
	h->mmio_hole = h->mem + h->pool_size;
	h->check_each_op = true;
	h->tlb.flush_page = tlb_flush_page;
	h->tlb.flush_range = tlb_flush_range;
	h->tlb.flush_all = tlb_flush_all;
	h->tlb.activate = tlb_activate;
	h->tlb.ctx = h;

	harness_arch_init(h, &h->arch, p->arch, harness_features(p->arch));
	machine_init(h);
	if (p->space == PTMM_PT_KERNEL)
		H_OK(ptmm_page_table_init_kernel(&h->pt, &h->arch, &h->ft, H_ZONE_POOL));
	else
		H_OK(ptmm_page_table_init_user(&h->pt, &h->arch, &h->ft, H_ZONE_POOL, NULL));
	harness_add_pt(h, &h->pt);
	h_assert_check(h, "after set-up");
	return h;
}

void harness_destroy(struct harness *h)
{
	if (h == NULL)
		return;
	ptmm_frame_table_set_fail_hook(&h->ft, NULL, NULL);
	h_tlb_model_off(h);
	if (!h->shared_machine) {
		munmap(h->slots, h->slots_bytes);
		munmap(h->phys, h->phys_bytes);
	}
	free(h);
}

int harness_setup(void **state)
{
	*state = harness_create(*state);
	return 0;
}

int harness_teardown(void **state)
{
	harness_destroy(*state);
	return 0;
}

void harness_add_pt(struct harness *h, struct ptmm_page_table *pt)
{
	assert_true(h->nr_pts < H_MAX_PTS);
	h->pts[h->nr_pts++] = pt;
}

void harness_remove_pt(struct harness *h, struct ptmm_page_table *pt)
{
	for (unsigned i = 0; i < h->nr_pts; i++) {
		if (h->pts[i] == pt) {
			h->pts[i] = h->pts[--h->nr_pts];
			return;
		}
	}
	fail_msg("harness_remove_pt: table not registered");
}

/* ---- Facts ---- */

bool h_is_x86(const struct harness *h)
{
	return h->param.arch == H_X86_64 || h->param.arch == H_X86_64_LA57;
}

bool h_is_riscv(const struct harness *h)
{
	return h->param.arch == H_SV39 || h->param.arch == H_SV48 || h->param.arch == H_SV57;
}

bool h_is_fake(const struct harness *h)
{
	return h->param.arch == H_FAKE48 || h->param.arch == H_FAKE57;
}

unsigned h_levels(const struct harness *h)
{
	return h_geometry[h->param.arch].levels;
}

unsigned h_va_bits(const struct harness *h)
{
	return 12 + 9 * h_levels(h);
}

uint64_t h_root_entry_size(const struct harness *h)
{
	return (uint64_t)1 << (h_va_bits(h) - 9);
}

bool h_is_kernel(const struct harness *h)
{
	return h->param.space == PTMM_PT_KERNEL;
}

/*
 * x86: 1G (with the 1G feature) in both modes and spaces; RISC-V and the
 * fakes: a root entry in user space, one level less in kernel space (the
 * root's upper entries are shared tables).
 */
uint64_t h_max_leaf_size(const struct harness *h)
{
	return h_is_kernel(h) ? h_geometry[h->param.arch].max_leaf_kernel
			      : h_geometry[h->param.arch].max_leaf_user;
}

ptmm_vaddr_t h_user_top(const struct harness *h)
{
	return (ptmm_vaddr_t)1 << (h_va_bits(h) - 1);
}

ptmm_vaddr_t h_kernel_base(const struct harness *h)
{
	return (ptmm_vaddr_t)0 - h_user_top(h);
}

ptmm_vaddr_t h_space_base(const struct harness *h)
{
	return h_is_kernel(h) ? h_kernel_base(h) : 0;
}

uint64_t h_space_size(const struct harness *h)
{
	return h_user_top(h); /* both halves are 2^(va_bits-1) bytes */
}

ptmm_vaddr_t h_canonical(const struct harness *h, uint64_t off)
{
	unsigned bits = h_va_bits(h);
	off &= ((uint64_t)1 << bits) - 1;
	if (off & ((uint64_t)1 << (bits - 1)))
		off |= ~(((uint64_t)1 << bits) - 1);
	return off;
}

struct ptmm_prop h_prop(const struct harness *h, unsigned rwx, enum ptmm_cache cache)
{
	return ptmm_prop_make(rwx | (h_is_kernel(h) ? PTMM_PROP_G : PTMM_PROP_U), cache);
}

int h_expected_prop_result(const struct harness *h, struct ptmm_prop p, bool svpbmt)
{
	if ((p.flags & ~PTMM_PROP_ALL) != 0 || p.cache >= PTMM_CACHE_COUNT)
		return PTMM_EINVAL;
	if ((p.flags & PTMM_PROP_W) && !(p.flags & PTMM_PROP_R))
		return PTMM_EINVAL; /* every encoder */
	if (h_is_x86(h) && (p.flags & PTMM_PROP_X) && !(p.flags & PTMM_PROP_R))
		return PTMM_EINVAL; /* execute-only: RISC-V and the fakes have it */
	if (h_is_kernel(h) ? (p.flags & PTMM_PROP_U) != 0 : (p.flags & PTMM_PROP_G) != 0)
		return PTMM_EINVAL;
	/* x86 (with NX) and the fakes express every cache policy. */
	if (h_is_riscv(h) && p.cache == PTMM_CACHE_WT)
		return PTMM_ENOTSUP; /* Svpbmt has no write-through type */
	if (h_is_riscv(h) && !svpbmt && p.cache != PTMM_CACHE_WB)
		return PTMM_ENOTSUP;
	return PTMM_OK;
}

uint64_t h_free_data(const struct harness *h)
{
	return ptmm_frame_zone_free_frames(&h->ft, H_ZONE_DATA);
}

uint64_t h_free_pool(const struct harness *h)
{
	return ptmm_frame_zone_free_frames(&h->ft, H_ZONE_POOL);
}

const char *h_prop_str(struct ptmm_prop p, char buf[16])
{
	static const char *const cache[] = { "wb", "wt", "uc", "wc" };
	snprintf(buf, 16, "%c%c%c%c%c:%s", p.flags & PTMM_PROP_R ? 'r' : '-',
		 p.flags & PTMM_PROP_W ? 'w' : '-', p.flags & PTMM_PROP_X ? 'x' : '-',
		 p.flags & PTMM_PROP_U ? 'u' : '-', p.flags & PTMM_PROP_G ? 'g' : '-',
		 p.cache < PTMM_CACHE_COUNT ? cache[p.cache] : "??");
	return buf;
}

/* ---- Checker ---- */

int h_check(struct harness *h, char *buf, size_t buflen)
{
	buf[0] = '\0';
	return ptmm_check(h->pts, h->nr_pts, &h->ft, buf, buflen);
}

void h_assert_check(struct harness *h, const char *where)
{
	char buf[512];
	int rc = h_check(h, buf, sizeof(buf));
	if (rc == PTMM_CHECK_UNVERIFIED && h->rmap_overflow_ok)
		return; /* everything held; the reverse map overflowed, as the test expects */
	if (rc != PTMM_OK)
		fail_msg("ptmm_check %s: violation (%d): %s", where, rc, buf);
}

void h_expect_violation(struct harness *h, const char *what)
{
	char buf[512];
	int rc = h_check(h, buf, sizeof(buf));
	if (rc != PTMM_CHECK_VIOLATION)
		fail_msg("ptmm_check did not notice: %s (answer %d: %s)", what, rc, buf);
	if (buf[0] == '\0')
		fail_msg("ptmm_check noticed %s but gave no description", what);
	print_message("  (%s) -> %s\n", what, buf);
}

void h_expect_violation_of(struct harness *h, const char *what, const char *prefix)
{
	char buf[512];
	int rc = h_check(h, buf, sizeof(buf));
	if (rc != PTMM_CHECK_VIOLATION)
		fail_msg("ptmm_check did not notice: %s (answer %d: %s)", what, rc, buf);
	if (strncmp(buf, prefix, strlen(prefix)) != 0)
		fail_msg("ptmm_check noticed %s as \"%s\", expected \"%s...\"", what, buf, prefix);
	print_message("  (%s) -> %s\n", what, buf);
}

ptmm_pte_t *h_entry(struct harness *h, const struct ptmm_page_table *pt, ptmm_vaddr_t va, unsigned level)
{
	ptmm_paddr_t node = pt->root;
	for (unsigned l = pt->arch->levels; l > level; l--) {
		ptmm_pte_t e = ((const ptmm_pte_t *)ptmm_frame_to_virt(&h->ft, node))[ptmm_level_index(va, l)];
		if (!ptmm_pte_is_present(e) || ptmm_pte_is_leaf(&pt->arch->fmt, e, l))
			fail_msg("h_entry 0x%llx level %u: no table at level %u", (unsigned long long)va,
				 level, l);
		node = ptmm_pte_table_addr(&pt->arch->fmt, e);
	}
	return (ptmm_pte_t *)ptmm_frame_to_virt(&h->ft, node) + ptmm_level_index(va, level);
}

void h_assert_check_open(struct harness *h, const struct ptmm_cursor *c, const char *where)
{
	char buf[512];
	buf[0] = '\0';
	int rc = ptmm_check_open(h->pts, h->nr_pts, &h->ft, c, buf, sizeof(buf));
	if (rc == PTMM_CHECK_UNVERIFIED && h->rmap_overflow_ok)
		return;
	if (rc != PTMM_OK)
		fail_msg("ptmm_check_open %s: violation (%d): %s", where, rc, buf);
}

/* ---- Operations ---- */

static void after_op(struct harness *h, const char *what)
{
	if (h->check_each_op)
		h_assert_check(h, what);
	/* The helper's cursor is closed: no cached translation may exceed the tree. */
	h_tlb_assert(h, true, what);
}

int h_map_pt(struct harness *h, struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t len, ptmm_paddr_t pa,
	     struct ptmm_prop p, unsigned flags)
{
	struct ptmm_cursor c;
	int rc = ptmm_cursor_open(&c, pt, va, len);
	if (rc != PTMM_OK)
		return rc;
	rc = ptmm_cursor_map(&c, pa, len, p, flags);
	/* The cursor advanced by len (at the end of a half: 2^(va_bits-1), or 0 by wrap-around). */
	if (rc == PTMM_OK && ptmm_cursor_va(&c) != va + len)
		fail_msg("map 0x%llx+0x%llx: cursor at 0x%llx afterwards, expected the range end",
			 (unsigned long long)va, (unsigned long long)len,
			 (unsigned long long)ptmm_cursor_va(&c));
	ptmm_cursor_close(&c);
	after_op(h, "after map");
	return rc;
}

int h_map(struct harness *h, ptmm_vaddr_t va, uint64_t len, ptmm_paddr_t pa, struct ptmm_prop p,
	  unsigned flags)
{
	return h_map_pt(h, &h->pt, va, len, pa, p, flags);
}

int h_unmap_pt(struct harness *h, struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t len,
	       uint64_t *removed)
{
	struct ptmm_cursor c;
	int rc = ptmm_cursor_open(&c, pt, va, len);
	if (rc != PTMM_OK)
		return rc;
	rc = ptmm_cursor_unmap(&c, len, removed);
	ptmm_cursor_close(&c);
	after_op(h, "after unmap");
	return rc;
}

int h_unmap(struct harness *h, ptmm_vaddr_t va, uint64_t len, uint64_t *removed)
{
	return h_unmap_pt(h, &h->pt, va, len, removed);
}

int h_protect(struct harness *h, ptmm_vaddr_t va, uint64_t len, struct ptmm_prop p, uint64_t *mapped)
{
	struct ptmm_cursor c;
	int rc = ptmm_cursor_open(&c, &h->pt, va, len);
	if (rc != PTMM_OK)
		return rc;
	rc = ptmm_cursor_protect(&c, len, p, mapped);
	ptmm_cursor_close(&c);
	after_op(h, "after protect");
	return rc;
}

int h_query(struct harness *h, ptmm_vaddr_t va, struct ptmm_mapping *out)
{
	struct ptmm_cursor c;
	int rc = ptmm_cursor_open(&c, &h->pt, va, SZ_4K);
	if (rc != PTMM_OK)
		return rc;
	rc = ptmm_cursor_query(&c, out);
	ptmm_cursor_close(&c);
	return rc;
}

int h_find(struct harness *h, ptmm_vaddr_t va, uint64_t len, struct ptmm_mapping *out)
{
	struct ptmm_cursor c;
	int rc = ptmm_cursor_open(&c, &h->pt, va, len);
	if (rc != PTMM_OK)
		return rc;
	rc = ptmm_cursor_find_next(&c, len, out);
	ptmm_cursor_close(&c);
	return rc;
}

/* ---- Snapshots ---- */

static void snap_push(struct h_snapshot *s, const struct ptmm_mapping *m)
{
	if (s->nr == s->cap) {
		s->cap = s->cap ? 2 * s->cap : 256;
		s->leaves = realloc(s->leaves, s->cap * sizeof(*s->leaves));
		assert_non_null(s->leaves);
	}
	s->leaves[s->nr++] = *m;
}

/* Walk the node at `pa` (level `level`) covering tree offset `base`. */
static uint64_t raw_walk_node(struct harness *h, struct ptmm_page_table *pt, ptmm_paddr_t pa,
			      unsigned level, uint64_t base, unsigned first, unsigned last,
			      h_leaf_fn fn, void *ctx)
{
	const struct ptmm_pte_format *f = &pt->arch->fmt;
	const ptmm_pte_t *table = ptmm_frame_to_virt(&h->ft, pa);
	uint64_t nodes = 1;

	for (unsigned i = first; i <= last; i++) {
		ptmm_pte_t pte = table[i];
		uint64_t va = base + (uint64_t)i * ptmm_level_size(level);
		if (!ptmm_pte_is_present(pte))
			continue;
		if (ptmm_pte_is_leaf(f, pte, level)) {
			struct ptmm_mapping m = { 0 };
			m.va = h_canonical(h, va);
			m.size = ptmm_level_size(level);
			m.pa = ptmm_pte_addr(f, pte, level);
			m.prop = pt->arch->leaf_prop(pt->arch, pte, level);
			m.present = true;
			m.mmio = ptmm_frame_range_is_mmio(&h->ft, m.pa, m.size);
			m.untracked = (pte & f->untracked) != 0;
			fn(ctx, &m, level);
		} else {
			ptmm_paddr_t child = ptmm_pte_table_addr(f, pte);
			/* Table entries are exactly the encoder's table template (MODEL.md 2). */
			if (pte != ptmm_pte_make(f, pt->arch->table_template(pt->arch, level), child))
				fail_msg("raw walk: table entry at level %u (va 0x%llx) is 0x%llx, not"
					 " the table template", level, (unsigned long long)va,
					 (unsigned long long)pte);
			if (ptmm_frame_slot_of(&h->ft, child) == NULL ||
			    child < h->pool_base || child >= h->pool_base + h->pool_size)
				fail_msg("raw walk: table entry at level %u (va 0x%llx) points to 0x%llx,"
					 " outside the node pool", level, (unsigned long long)va,
					 (unsigned long long)child);
			nodes += raw_walk_node(h, pt, child, level - 1, va, 0, PTMM_PTES_PER_NODE - 1,
					       fn, ctx);
		}
	}
	return nodes;
}

/* Leaves of the node at `pa` (level, first offset base) meeting tree offsets [lo, hi). */
static void range_walk_node(struct harness *h, struct ptmm_page_table *pt, ptmm_paddr_t pa, unsigned level,
			    uint64_t base, uint64_t lo, uint64_t hi, h_leaf_fn fn, void *ctx)
{
	const struct ptmm_pte_format *f = &pt->arch->fmt;
	const ptmm_pte_t *table = ptmm_frame_to_virt(&h->ft, pa);
	uint64_t size = ptmm_level_size(level);
	for (unsigned i = ptmm_level_index(lo, level); i < PTMM_PTES_PER_NODE; i++) {
		uint64_t start = base + (uint64_t)i * size;
		if (start >= hi)
			break;
		ptmm_pte_t pte = table[i];
		if (!ptmm_pte_is_present(pte))
			continue;
		if (ptmm_pte_is_leaf(f, pte, level)) {
			struct ptmm_mapping m = { .va = h_canonical(h, start), .size = size,
						.pa = ptmm_pte_addr(f, pte, level),
						.prop = pt->arch->leaf_prop(pt->arch, pte, level),
						.present = true,
						.untracked = (pte & f->untracked) != 0 };
			fn(ctx, &m, level);
		} else {
			range_walk_node(h, pt, ptmm_pte_table_addr(f, pte), level - 1, start,
					lo > start ? lo : start, hi < start + size ? hi : start + size,
					fn, ctx);
		}
	}
}

void h_raw_walk_range(struct harness *h, struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t len,
		      h_leaf_fn fn, void *ctx)
{
	uint64_t lo = va & (((uint64_t)1 << pt->arch->va_bits) - 1);
	range_walk_node(h, pt, pt->root, pt->arch->levels, 0, lo, lo + len, fn, ctx);
}

/*
 * Walk pt's half of the tree without the cursor: returns the nodes reached
 * (root included; for a kernel table its preallocated nodes too).
 */
uint64_t h_raw_walk(struct harness *h, struct ptmm_page_table *pt, h_leaf_fn fn, void *ctx)
{
	unsigned levels = pt->arch->levels;
	unsigned half = PTMM_PTES_PER_NODE / 2;
	bool kernel = pt->space == PTMM_PT_KERNEL;

	return raw_walk_node(h, pt, pt->root, levels, 0, kernel ? half : 0,
			     kernel ? PTMM_PTES_PER_NODE - 1 : half - 1, fn, ctx);
}

static void raw_collect(void *ctx, const struct ptmm_mapping *m, unsigned level)
{
	(void)level;
	snap_push(ctx, m);
}

static bool mapping_eq(const struct ptmm_mapping *a, const struct ptmm_mapping *b)
{
	return a->va == b->va && a->size == b->size && a->pa == b->pa &&
	       ptmm_prop_eq(a->prop, b->prop) && a->present == b->present && a->mmio == b->mmio &&
	       a->untracked == b->untracked;
}

static void print_mapping(const char *tag, size_t i, const struct ptmm_mapping *m)
{
	char pb[16];
	print_message("  %s[%zu] va=0x%016llx size=0x%llx pa=0x%016llx %s%s%s%s\n", tag, i,
		      (unsigned long long)m->va, (unsigned long long)m->size,
		      (unsigned long long)m->pa, h_prop_str(m->prop, pb),
		      m->present ? "" : " absent", m->mmio ? " mmio" : "",
		      m->untracked ? " untracked" : "");
}

void h_print_leaves(const struct h_snapshot *s, size_t max)
{
	for (size_t i = 0; i < s->nr && i < max; i++)
		print_mapping("leaf", i, &s->leaves[i]);
	if (s->nr > max)
		print_message("  ... %zu leaves in all\n", s->nr);
}

/* Every leaf of h->pt through ptmm_cursor_find_next, ascending. */
static void snapshot_by_cursor(struct harness *h, struct h_snapshot *s)
{
	struct ptmm_cursor c;
	ptmm_vaddr_t base = h_space_base(h);
	uint64_t size = h_space_size(h);
	uint64_t done = 0; /* bytes of the space already passed */

	H_OK(ptmm_cursor_open(&c, &h->pt, base, size));
	while (done < size) {
		struct ptmm_mapping m;
		int rc = ptmm_cursor_find_next(&c, size - done, &m);
		if (rc < 0)
			fail_msg("snapshot: find_next at 0x%llx -> %s", (unsigned long long)(base + done),
				 ptmm_strerror(rc));
		if (rc == 0)
			break;
		if (!m.present)
			fail_msg("snapshot: find_next returned an absent range");
		/* Offsets from base, so that a leaf ending at 2^64 needs no special case. */
		if (m.va + m.size - base <= done || m.va - base >= size)
			fail_msg("snapshot: find_next from 0x%llx returned leaf 0x%llx, not ahead",
				 (unsigned long long)(base + done), (unsigned long long)m.va);
		snap_push(s, &m);
		done = m.va + m.size - base;
		if (done >= size)
			break;
		H_OK(ptmm_cursor_jump(&c, base + done));
	}
	ptmm_cursor_close(&c);
}

/* Append the record `b` to s->blocks. */
static void block_push(struct h_snapshot *s, const struct h_block_rec *b)
{
	if (s->nr_blocks == s->cap_blocks) {
		s->cap_blocks = s->cap_blocks ? 2 * s->cap_blocks : 256;
		s->blocks = realloc(s->blocks, s->cap_blocks * sizeof(*s->blocks));
		assert_non_null(s->blocks);
	}
	s->blocks[s->nr_blocks++] = *b;
}

/* Fold one slot's refcount, map_count, usage, order and flags into `digest`. */
static uint64_t slot_digest(uint64_t digest, const struct ptmm_frame_slot *slot)
{
	uint64_t v = (uint64_t)atomic_load(&slot->refcount) << 32 | atomic_load(&slot->map_count);
	uint64_t w = (uint64_t)slot->usage << 16 | (uint64_t)slot->order << 8 |
		     atomic_load(&slot->flags);
	digest = (digest ^ v) * 0x100000001b3ull;
	digest = (digest ^ (digest >> 29)) + w;
	return digest * 0x9e3779b97f4a7c15ull;
}

/*
 * The slot metadata of h->ft, block by block in PA order: one record per
 * block in use (its head's fields and a digest of every other slot), one
 * per maximal run of free frames of a zone.
 */
static void snapshot_blocks(struct harness *h, struct h_snapshot *s)
{
	const struct ptmm_frame_table *ft = &h->ft;
	struct h_block_rec run = { 0 };
	bool in_run = false;

	for (uint64_t i = 0; i < ft->nr_slots;) {
		const struct ptmm_frame_slot *head = &ft->slots[i];
		uint64_t end = i + ((uint64_t)1 << head->order);
		bool is_free = head->usage == PTMM_FRAME_UNUSED &&
			       atomic_load(&head->refcount) == PTMM_FRAME_REF_UNUSED;

		if (!(atomic_load(&head->flags) & PTMM_FRAME_F_HEAD) || end > ft->nr_slots)
			fail_msg("snapshot: slot %llu is not the head of a block inside the window",
				 (unsigned long long)i);
		if (in_run && (!is_free || head->zone != ft->slots[run.first].zone)) {
			block_push(s, &run);
			in_run = false;
		}
		if (is_free) {
			if (!in_run)
				run = (struct h_block_rec){ .first = i, .free = true };
			run.end = end;
			in_run = true;
		} else {
			struct h_block_rec b = {
				.first = i, .end = end,
				.refcount = atomic_load(&head->refcount),
				.map_count = atomic_load(&head->map_count),
				.usage = head->usage, .order = head->order,
				.flags = atomic_load(&head->flags),
				.level = head->usage == PTMM_FRAME_PT_NODE ? head->level : 0,
			};
			for (uint64_t j = i + 1; j < end; j++)
				b.tails = slot_digest(b.tails, &ft->slots[j]);
			block_push(s, &b);
		}
		i = end;
	}
	if (in_run)
		block_push(s, &run);
}

void h_snapshot(struct harness *h, struct h_snapshot *s)
{
	struct h_snapshot raw = { 0 };
	uint64_t raw_nodes;

	memset(s, 0, sizeof(*s));
	snapshot_by_cursor(h, s);
	snapshot_blocks(h, s);
	raw_nodes = h_raw_walk(h, &h->pt, raw_collect, &raw);
	ptmm_stats(&h->pt, &s->stats);
	s->free_data = h_free_data(h);
	s->free_pool = h_free_pool(h);

	/* The cursor's view and the raw tree must agree leaf for leaf. */
	if (raw.nr != s->nr) {
		print_message("find_next view (%zu leaves):\n", s->nr);
		h_print_leaves(s, 20);
		print_message("raw walk (%zu leaves):\n", raw.nr);
		h_print_leaves(&raw, 20);
		fail_msg("snapshot: find_next saw %zu leaves, the raw walk %zu", s->nr, raw.nr);
	}
	for (size_t i = 0; i < s->nr; i++) {
		if (!mapping_eq(&s->leaves[i], &raw.leaves[i])) {
			print_mapping("find_next", i, &s->leaves[i]);
			print_mapping("raw", i, &raw.leaves[i]);
			fail_msg("snapshot: find_next and the raw walk differ at leaf %zu", i);
		}
	}
	if (raw_nodes != s->stats.nodes)
		fail_msg("snapshot: stats.nodes=%llu but the raw walk reaches %llu nodes",
			 (unsigned long long)s->stats.nodes, (unsigned long long)raw_nodes);
	h_snapshot_free(&raw);
}

void h_snapshot_free(struct h_snapshot *s)
{
	free(s->leaves);
	free(s->blocks);
	memset(s, 0, sizeof(*s));
}

void h_assert_same_view(const struct h_snapshot *a, const struct h_snapshot *b,
			const char *where)
{
	size_t n = a->nr < b->nr ? a->nr : b->nr;
	for (size_t i = 0; i < n; i++) {
		if (!mapping_eq(&a->leaves[i], &b->leaves[i])) {
			print_mapping("before", i, &a->leaves[i]);
			print_mapping("after", i, &b->leaves[i]);
			fail_msg("%s: views differ at leaf %zu", where, i);
		}
	}
	if (a->nr != b->nr)
		fail_msg("%s: views differ: %zu leaves before, %zu after", where, a->nr, b->nr);
}

void h_assert_same(const struct h_snapshot *a, const struct h_snapshot *b, const char *where)
{
	h_assert_same_view(a, b, where);
	if (a->stats.nodes != b->stats.nodes || a->stats.mapped != b->stats.mapped ||
	    a->stats.frames != b->stats.frames)
		fail_msg("%s: stats differ: nodes %llu/%llu mapped 0x%llx/0x%llx frames %llu/%llu",
			 where, (unsigned long long)a->stats.nodes, (unsigned long long)b->stats.nodes,
			 (unsigned long long)a->stats.mapped, (unsigned long long)b->stats.mapped,
			 (unsigned long long)a->stats.frames, (unsigned long long)b->stats.frames);
	if (a->free_data != b->free_data || a->free_pool != b->free_pool)
		fail_msg("%s: free frames differ: data %llu/%llu pool %llu/%llu", where,
			 (unsigned long long)a->free_data, (unsigned long long)b->free_data,
			 (unsigned long long)a->free_pool, (unsigned long long)b->free_pool);
	h_assert_same_blocks(a, b, where);
}

static bool block_rec_eq(const struct h_block_rec *a, const struct h_block_rec *b)
{
	return a->first == b->first && a->end == b->end && a->free == b->free &&
	       a->refcount == b->refcount && a->map_count == b->map_count &&
	       a->usage == b->usage && a->order == b->order && a->flags == b->flags &&
	       a->level == b->level && a->tails == b->tails;
}

static void print_block_rec(const char *tag, const struct h_block_rec *r)
{
	print_message("  %s: pa [0x%llx, 0x%llx) %s refcount 0x%x map_count %u usage %u order %u"
		      " flags 0x%x level %u tails 0x%016llx\n", tag,
		      (unsigned long long)(r->first * SZ_4K), (unsigned long long)(r->end * SZ_4K),
		      r->free ? "free run" : "block", r->refcount, r->map_count, r->usage, r->order,
		      r->flags, r->level, (unsigned long long)r->tails);
}

bool h_same_blocks(const struct h_snapshot *a, const struct h_snapshot *b, size_t *first_diff)
{
	size_t n = a->nr_blocks < b->nr_blocks ? a->nr_blocks : b->nr_blocks;
	for (size_t i = 0; i < n; i++) {
		if (!block_rec_eq(&a->blocks[i], &b->blocks[i])) {
			*first_diff = i;
			return false;
		}
	}
	*first_diff = n;
	return a->nr_blocks == b->nr_blocks;
}

void h_assert_same_blocks(const struct h_snapshot *a, const struct h_snapshot *b,
			  const char *where)
{
	size_t i;
	if (h_same_blocks(a, b, &i))
		return;
	if (i < a->nr_blocks && i < b->nr_blocks) {
		print_block_rec("before", &a->blocks[i]);
		print_block_rec("after", &b->blocks[i]);
		fail_msg("%s: frame metadata differs at pa 0x%llx", where,
			 (unsigned long long)(a->blocks[i].first * SZ_4K));
	}
	fail_msg("%s: frame metadata differs: %zu block records before, %zu after", where,
		 a->nr_blocks, b->nr_blocks);
}
