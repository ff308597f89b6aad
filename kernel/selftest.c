/*
 * selftest.c - prove the mm on the (emulated) MMU, not just in memory.
 *
 * Every mapping change goes through the cursor (kmm_* helpers) and is
 * followed by the checker; every claim about a mapping is then verified by
 * the hardware through arch_probe(): a load, a store or a call at a VA,
 * which either completes (with the value read) or faults with a kind and an
 * address that must be exactly the expected ones.
 *
 * Test VAs live in a kernel-half window of their own (TEST_BASE) and in a
 * user table created for the SUM/SMAP step.  Frames come from the kernel
 * zone (the 1 GiB leaf from the sandbox zone) and are all given back: the
 * last step checks that both zones have exactly the free frames they had.
 */
#include "selftest.h"

#include "kprintf.h"
#include "mm_boot.h"
#include "string.h"

#define TEST_BASE 0xffffe00000000000ull /* 512 GiB aligned, kernel half */
#define T_ALIAS (TEST_BASE + 0x0000000)
#define T_RO (TEST_BASE + 0x0002000)
#define T_HOLE (TEST_BASE + 0x0004000)
#define T_EXEC (TEST_BASE + 0x0010000)
#define T_NOEXEC (TEST_BASE + 0x0011000)
#define T_STALE (TEST_BASE + 0x0020000)
#define T_NOACC (TEST_BASE + 0x0030000)
#define T_HUGE2M (TEST_BASE + 0x40000000ull)  /* 1 GiB aligned */
#define T_HUGE1G (TEST_BASE + 0x80000000ull)  /* 1 GiB aligned */
#define T_FAR (TEST_BASE + 0x4000000000ull)   /* nothing mapped in its 512 GiB */
#define T_USER 0x400000ull                     /* user VA in the user table */

#define SZ_4K 0x1000ull
#define SZ_2M 0x200000ull
#define SZ_1G 0x40000000ull

static bool failed_any;
static const char *current_step;

/* Record a failure of the current step with a message. */
__attribute__((format(printf, 1, 2))) static bool fail(const char *fmt, ...)
{
	va_list ap;

	kprintf("  FAIL [%s]: ", current_step);
	va_start(ap, fmt);
	kvprintf_to(arch_putc, fmt, ap);
	va_end(ap);
	kprintf("\n");
	failed_any = true;
	return false;
}

/* ---- properties ---- */

static struct mm_prop kprop(unsigned flags)
{
	return mm_prop_make(flags | MM_PROP_G, MM_CACHE_WB);
}

static struct mm_prop uprop(unsigned flags)
{
	return mm_prop_make(flags | MM_PROP_U, MM_CACHE_WB);
}

/* ---- mm operations, each followed by the checker ---- */

/* The operation must have succeeded. */
static bool done(int err, const char *op, vaddr_t va)
{
	if (err != MM_OK)
		return fail("%s at 0x%llx: %s", op, (unsigned long long)va, mm_strerror(err));
	return true;
}

/* The operation must have succeeded, and the checker must agree. */
static bool checked(int err, const char *op, vaddr_t va)
{
	if (!done(err, op, va))
		return false;
	if (!kmm_check(op))
		return fail("checker after %s at 0x%llx", op, (unsigned long long)va);
	return true;
}

static bool t_map(struct page_table *pt, vaddr_t va, uint64_t len, paddr_t pa, struct mm_prop p,
		  unsigned flags)
{
	return checked(kmm_map(pt, va, len, pa, p, flags), "map", va);
}

static bool t_unmap(struct page_table *pt, vaddr_t va, uint64_t len)
{
	return checked(kmm_unmap(pt, va, len), "unmap", va);
}

static bool t_protect(struct page_table *pt, vaddr_t va, uint64_t len, struct mm_prop p)
{
	return checked(kmm_protect(pt, va, len, p), "protect", va);
}

/* The leaf at va must be `size` bytes at `pa`. */
static bool expect_leaf(struct page_table *pt, vaddr_t va, uint64_t size, paddr_t pa)
{
	struct mm_mapping m;
	int err = kmm_query(pt, va, &m);

	if (err)
		return fail("query 0x%llx: %s", (unsigned long long)va, mm_strerror(err));
	if (!m.present || m.size != size || m.pa + (va - m.va) != pa)
		return fail("query 0x%llx: present=%d size 0x%llx pa 0x%llx; expected size 0x%llx pa "
			    "0x%llx",
			    (unsigned long long)va, m.present, (unsigned long long)m.size,
			    (unsigned long long)(m.pa + (va - m.va)), (unsigned long long)size,
			    (unsigned long long)pa);
	return true;
}

/* ---- hardware probes ---- */

static const char *const kind_name[] = { "read", "write", "exec" };

/* The access must complete; a read must return `want`. */
static bool access_ok(enum probe_kind kind, vaddr_t va, uint64_t value, uint64_t want)
{
	struct fault_info f;

	if (arch_probe(kind, va, &value, &f))
		return fail("%s 0x%llx faulted (cause 0x%llx, pc 0x%llx)", kind_name[kind],
			    (unsigned long long)va, (unsigned long long)f.cause,
			    (unsigned long long)f.pc);
	if (kind == PROBE_READ && value != want)
		return fail("read 0x%llx gave 0x%llx, expected 0x%llx", (unsigned long long)va,
			    (unsigned long long)value, (unsigned long long)want);
	return true;
}

static bool read_ok(vaddr_t va, uint64_t want)
{
	return access_ok(PROBE_READ, va, 0, want);
}

static bool write_ok(vaddr_t va, uint64_t value)
{
	return access_ok(PROBE_WRITE, va, value, 0);
}

static bool exec_ok(vaddr_t va)
{
	return access_ok(PROBE_EXEC, va, 0, 0);
}

/* The access must fault, as that kind of access, at exactly va. */
static bool faults(enum probe_kind kind, vaddr_t va)
{
	struct fault_info f;
	uint64_t value = 0x5a5a5a5a5a5a5a5aull;

	if (!arch_probe(kind, va, &value, &f))
		return fail("%s 0x%llx did not fault", kind_name[kind], (unsigned long long)va);
	if (f.kind != kind || f.addr != va)
		return fail("%s 0x%llx faulted as %s at 0x%llx (cause 0x%llx)", kind_name[kind],
			    (unsigned long long)va, kind_name[f.kind], (unsigned long long)f.addr,
			    (unsigned long long)f.cause);
	return true;
}

/* ---- frames ---- */

static paddr_t alloc_frames(unsigned zone, unsigned order)
{
	paddr_t pa = 0;
	int err = frame_alloc(&kmm.ft, zone, order, FRAME_DATA, &pa);
	if (err)
		fail("frame_alloc(order %u): %s", order, mm_strerror(err));
	return err ? 0 : pa;
}

/* Give back a block from alloc_frames (0: nothing was allocated). */
static void put_frames(paddr_t pa)
{
	if (pa)
		frame_put(&kmm.ft, pa);
}

static uint64_t *dm64(paddr_t pa)
{
	return phys_to_virt(pa);
}

/* A value that names the frame it is stored in. */
static uint64_t tag(paddr_t pa)
{
	return 0x7a90000000000000ull ^ pa;
}

/* ---- the steps ---- */

/* Two VAs on one frame, and the direct map, all see the same bytes; r-- refuses stores. */
static bool step_alias(void)
{
	paddr_t f = alloc_frames(KZONE_KERNEL, 0);
	bool ok = f && t_map(&kmm.kpt, T_ALIAS, SZ_4K, f, kprop(MM_PROP_R | MM_PROP_W), 0) &&
		  t_map(&kmm.kpt, T_RO, SZ_4K, f, kprop(MM_PROP_R), 0) &&
		  expect_leaf(&kmm.kpt, T_RO, SZ_4K, f);

	if (ok) {
		ok = write_ok(T_ALIAS + 8, 0x1111222233334444ull) &&
		     read_ok(T_RO + 8, 0x1111222233334444ull);
		if (ok && dm64(f)[1] != 0x1111222233334444ull)
			ok = fail("direct map of 0x%llx does not see the store", (unsigned long long)f);
		dm64(f)[2] = 0x5555666677778888ull;
		ok = ok && read_ok(T_ALIAS + 16, 0x5555666677778888ull) &&
		     faults(PROBE_WRITE, T_RO + 16) && read_ok(T_RO + 16, 0x5555666677778888ull);
	}
	ok = t_unmap(&kmm.kpt, T_ALIAS, SZ_4K) && ok;
	ok = t_unmap(&kmm.kpt, T_RO, SZ_4K) && ok;
	put_frames(f);
	return ok;
}

/* Never-mapped VAs fault: next to a mapping (same leaf table) and far away. */
static bool step_unmapped(void)
{
	paddr_t f = alloc_frames(KZONE_KERNEL, 0);
	bool ok = f && t_map(&kmm.kpt, T_ALIAS, SZ_4K, f, kprop(MM_PROP_R | MM_PROP_W), 0) &&
		  read_ok(T_ALIAS, dm64(f)[0]) && faults(PROBE_READ, T_HOLE) &&
		  faults(PROBE_WRITE, T_HOLE + 8) && faults(PROBE_READ, T_FAR);
	ok = t_unmap(&kmm.kpt, T_ALIAS, SZ_4K) && ok;
	put_frames(f);
	return ok;
}

/* Fetches run only where x is set, and stop as soon as protect takes it away. */
static bool step_noexec(void)
{
	paddr_t f = alloc_frames(KZONE_KERNEL, 0);
	struct mm_mapping m;
	bool ok = f != 0;

	if (ok) {
		memcpy(phys_to_virt(f), arch_ret_insn, arch_ret_insn_len);
		arch_sync_icache();
		ok = t_map(&kmm.kpt, T_EXEC, SZ_4K, f, kprop(MM_PROP_R | MM_PROP_X), 0) &&
		     t_map(&kmm.kpt, T_NOEXEC, SZ_4K, f, kprop(MM_PROP_R | MM_PROP_W), 0) &&
		     exec_ok(T_EXEC);
	}
	if (ok) {
		/* The hardware must do what the view says (no NX on the CPU: x is implied). */
		ok = kmm_query(&kmm.kpt, T_NOEXEC, &m) == MM_OK;
		bool x = ok && (m.prop.flags & MM_PROP_X);
		ok = ok && (x ? exec_ok(T_NOEXEC) : faults(PROBE_EXEC, T_NOEXEC));
		ok = ok && t_protect(&kmm.kpt, T_EXEC, SZ_4K, kprop(MM_PROP_R)) &&
		     (x ? exec_ok(T_EXEC) : faults(PROBE_EXEC, T_EXEC));
	}
	ok = t_unmap(&kmm.kpt, T_EXEC, 2 * SZ_4K) && ok;
	put_frames(f);
	return ok;
}

/* A user table shares the kernel half; its user pages need SUM / stac. */
static bool step_user(void)
{
	struct page_table upt;
	paddr_t f = alloc_frames(KZONE_KERNEL, 0);
	bool ok = f != 0;
	int err;

	if (!ok)
		return false;
	err = page_table_init_user(&upt, &kmm.arch, &kmm.ft, KZONE_KERNEL, &kmm.kpt);
	if (err) {
		frame_put(&kmm.ft, f);
		return fail("page_table_init_user: %s", mm_strerror(err));
	}
	kmm.user = &upt;
	dm64(f)[0] = tag(f);
	page_table_activate(&upt);
	ok = t_map(&upt, T_USER, SZ_4K, f, uprop(MM_PROP_R | MM_PROP_W), 0) &&
	     t_map(&kmm.kpt, T_ALIAS, SZ_4K, f, kprop(MM_PROP_R), 0) &&
	     read_ok(T_ALIAS, tag(f)); /* the kernel half is live in the user table */
	if (ok && arch_user_access_enforced())
		ok = faults(PROBE_READ, T_USER) && faults(PROBE_WRITE, T_USER + 8);
	else if (ok)
		kprintf("  skipped: kernel access to user pages is not refused here (no SMAP)\n");
	if (ok) {
		arch_user_access(true);
		ok = read_ok(T_USER, tag(f)) && write_ok(T_USER + 8, 0xabcdull);
		arch_user_access(false);
		ok = ok && read_ok(T_ALIAS + 8, 0xabcdull);
	}
	ok = t_unmap(&upt, T_USER, SZ_4K) && ok;
	ok = t_unmap(&kmm.kpt, T_ALIAS, SZ_4K) && ok;
	page_table_activate(&kmm.kpt);
	page_table_destroy(&upt);
	kmm.user = 0;
	frame_put(&kmm.ft, f);
	return ok;
}

/*
 * After unmap, replace and protect no stale translation survives.  An
 * anchor page keeps the leaf table alive, so no node is reclaimed and the
 * cursor's per-page flush (not a full one) is what is being tested.
 */
static bool step_stale(void)
{
	paddr_t a = alloc_frames(KZONE_KERNEL, 0), b = alloc_frames(KZONE_KERNEL, 0);
	struct mm_prop rw = kprop(MM_PROP_R | MM_PROP_W);
	bool ok = a && b;

	if (ok) {
		dm64(a)[0] = tag(a);
		dm64(b)[0] = tag(b);
		/* Each change is probed before the checker runs: the checker reads
		 * megabytes of metadata, enough to evict the entry from QEMU's TLB. */
		ok = t_map(&kmm.kpt, T_STALE + SZ_4K, SZ_4K, a, kprop(MM_PROP_R), 0) &&
		     t_map(&kmm.kpt, T_STALE, SZ_4K, a, rw, 0) && read_ok(T_STALE, tag(a)) &&
		     done(kmm_unmap(&kmm.kpt, T_STALE, SZ_4K), "unmap", T_STALE) &&
		     faults(PROBE_READ, T_STALE) && checked(MM_OK, "unmap", T_STALE) &&
		     t_map(&kmm.kpt, T_STALE, SZ_4K, a, rw, 0) && read_ok(T_STALE, tag(a)) &&
		     done(kmm_map(&kmm.kpt, T_STALE, SZ_4K, b, rw, MM_MAP_REPLACE), "map", T_STALE) &&
		     read_ok(T_STALE, tag(b)) && checked(MM_OK, "map replace", T_STALE) &&
		     write_ok(T_STALE + 8, 1) &&
		     done(kmm_protect(&kmm.kpt, T_STALE, SZ_4K, kprop(MM_PROP_R)), "protect",
			  T_STALE) &&
		     faults(PROBE_WRITE, T_STALE + 8) && checked(MM_OK, "protect", T_STALE);
	}
	ok = t_unmap(&kmm.kpt, T_STALE, 2 * SZ_4K) && ok;
	put_frames(a);
	put_frames(b);
	return ok;
}

/* A no-access mapping is a mapping to the mm and absent to the hardware. */
static bool step_noaccess(void)
{
	paddr_t f = alloc_frames(KZONE_KERNEL, 0);
	bool ok = f != 0;

	if (ok) {
		dm64(f)[0] = tag(f);
		ok = t_map(&kmm.kpt, T_NOACC, SZ_4K, f, mm_prop_make(0, MM_CACHE_WB), 0) &&
		     expect_leaf(&kmm.kpt, T_NOACC, SZ_4K, f) && faults(PROBE_READ, T_NOACC) &&
		     faults(PROBE_WRITE, T_NOACC) &&
		     t_protect(&kmm.kpt, T_NOACC, SZ_4K, kprop(MM_PROP_R)) &&
		     read_ok(T_NOACC, tag(f)) &&
		     t_protect(&kmm.kpt, T_NOACC, SZ_4K, mm_prop_make(0, MM_CACHE_WB)) &&
		     faults(PROBE_READ, T_NOACC);
	}
	ok = t_unmap(&kmm.kpt, T_NOACC, SZ_4K) && ok;
	put_frames(f);
	return ok;
}

/*
 * One huge leaf of `size` (a whole block at `pa`), split at both ends by
 * unmapping its first and last 4 KiB: the leaves at each level step the
 * PA by their own size, every page in between still reads its own tag,
 * the removed ends fault.  Then protect one page in the middle.
 */
static bool huge_leaf_split(vaddr_t va, paddr_t pa, uint64_t size)
{
	uint64_t child = size >> 9;
	bool ok;

	/* Tags at every child start and on every 4K page of the first and last child. */
	for (uint64_t off = 0; off < size; off += child)
		dm64(pa + off)[0] = tag(pa + off);
	for (uint64_t off = 0; off < child; off += SZ_4K) {
		dm64(pa + off)[0] = tag(pa + off);
		dm64(pa + size - child + off)[0] = tag(pa + size - child + off);
	}
	ok = t_map(&kmm.kpt, va, size, pa, kprop(MM_PROP_R | MM_PROP_W), MM_MAP_HUGE) &&
	     expect_leaf(&kmm.kpt, va + SZ_4K, size, pa + SZ_4K) && read_ok(va, tag(pa)) &&
	     read_ok(va + size - SZ_4K, tag(pa + size - SZ_4K)) &&
	     t_unmap(&kmm.kpt, va, SZ_4K) && t_unmap(&kmm.kpt, va + size - SZ_4K, SZ_4K) &&
	     expect_leaf(&kmm.kpt, va + SZ_4K, SZ_4K, pa + SZ_4K) &&
	     expect_leaf(&kmm.kpt, va + size - 2 * SZ_4K, SZ_4K, pa + size - 2 * SZ_4K) &&
	     faults(PROBE_READ, va) && faults(PROBE_READ, va + size - SZ_4K);
	if (ok && child > SZ_4K)
		ok = expect_leaf(&kmm.kpt, va + child, child, pa + child) &&
		     expect_leaf(&kmm.kpt, va + size - 2 * child, child, pa + size - 2 * child);
	for (uint64_t off = child; ok && off < size - child; off += child)
		ok = read_ok(va + off, tag(pa + off));
	for (uint64_t off = SZ_4K; ok && off < child; off += SZ_4K)
		ok = read_ok(va + off, tag(pa + off)) &&
		     read_ok(va + size - child + off - SZ_4K,
			     tag(pa + size - child + off - SZ_4K));
	/* protect splits only around the page whose property changes. */
	vaddr_t mid = va + size / 2;
	ok = ok && write_ok(mid, 1) &&
	     t_protect(&kmm.kpt, mid, SZ_4K, kprop(MM_PROP_R)) &&
	     expect_leaf(&kmm.kpt, mid, SZ_4K, pa + size / 2) && faults(PROBE_WRITE, mid) &&
	     write_ok(mid - SZ_4K, 2) && write_ok(mid + SZ_4K, 3) && read_ok(mid, 1);
	if (ok && child > SZ_4K)
		ok = expect_leaf(&kmm.kpt, va + child, child, pa + child);
	ok = t_unmap(&kmm.kpt, va, size) && ok;
	return ok;
}

/* 2 MiB leaf over a 2 MiB block of the kernel zone. */
static bool step_huge_2m(void)
{
	paddr_t b = alloc_frames(KZONE_KERNEL, 9);
	bool ok = b && huge_leaf_split(T_HUGE2M, b, SZ_2M);
	put_frames(b);
	return ok;
}

/* 1 GiB leaf over the sandbox's GiB, when the table allows 1 GiB leaves. */
static bool step_huge_1g(void)
{
	paddr_t g;
	bool ok;

	if (page_table_max_leaf_level(&kmm.kpt) < 3 || kmm.sandbox.size < SZ_1G) {
		kprintf("  skipped: %s\n", page_table_max_leaf_level(&kmm.kpt) < 3
						   ? "no 1 GiB leaves on this CPU"
						   : "no free 1 GiB-aligned GiB of RAM");
		return true;
	}
	g = alloc_frames(KZONE_SANDBOX, 18);
	ok = g && huge_leaf_split(T_HUGE1G, g, SZ_1G);
	put_frames(g);
	return ok;
}

struct step {
	const char *name;
	bool (*run)(void);
};

static const struct step steps[] = {
	{ "alias", step_alias },       { "unmapped", step_unmapped }, { "noexec", step_noexec },
	{ "user", step_user },         { "stale-tlb", step_stale },   { "noaccess", step_noaccess },
	{ "huge-2m", step_huge_2m },   { "huge-1g", step_huge_1g },
};

void selftest_run(void)
{
	uint64_t free_k = frame_zone_free_frames(&kmm.ft, KZONE_KERNEL);
	uint64_t free_s = frame_zone_free_frames(&kmm.ft, KZONE_SANDBOX);
	struct mm_stats st0, st1;

	mm_stats(&kmm.kpt, &st0);
	kprintf("selftest: %u steps on the MMU, checker after every operation\n",
		(unsigned)(sizeof(steps) / sizeof(steps[0])));
	for (unsigned i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		current_step = steps[i].name;
		bool ok = steps[i].run();
		kprintf("selftest: %s %s\n", steps[i].name, ok ? "ok" : "FAIL");
	}
	/* Nothing leaked: every frame back, the kernel table as it was. */
	current_step = "no-leaks";
	mm_stats(&kmm.kpt, &st1);
	if (frame_zone_free_frames(&kmm.ft, KZONE_KERNEL) != free_k ||
	    frame_zone_free_frames(&kmm.ft, KZONE_SANDBOX) != free_s)
		fail("free frames: kernel %llu -> %llu, sandbox %llu -> %llu",
		     (unsigned long long)free_k,
		     (unsigned long long)frame_zone_free_frames(&kmm.ft, KZONE_KERNEL),
		     (unsigned long long)free_s,
		     (unsigned long long)frame_zone_free_frames(&kmm.ft, KZONE_SANDBOX));
	if (st1.nodes != st0.nodes || st1.mapped != st0.mapped)
		fail("kernel table: %llu nodes 0x%llx mapped, was %llu 0x%llx",
		     (unsigned long long)st1.nodes, (unsigned long long)st1.mapped,
		     (unsigned long long)st0.nodes, (unsigned long long)st0.mapped);
	if (!kmm_check("self-test"))
		fail("final check");
	kprintf("selftest: no-leaks %s\n", failed_any ? "FAIL" : "ok");
	if (failed_any) {
		kprintf("RESULT FAIL\n");
		arch_exit(false);
	}
	kprintf("RESULT PASS\n");
	arch_exit(true);
}
