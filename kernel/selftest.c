/*
 * selftest.c - prove the mm on the (emulated) MMU, not just in memory.
 *
 * Every mapping change goes through the cursor (kmm_* helpers) and is
 * followed by the checker; every claim about a mapping is then verified by
 * the hardware through arch_probe(): a load, a store or a call at a VA,
 * which either completes (with the value read) or faults with a kind, an
 * address, a PC (the probe's own instruction) and a raw cause (the whole
 * x86 error code, or scause) that must be exactly the expected ones.
 *
 * A stale TLB entry is only visible until something evicts it, and the
 * checker reads megabytes: every probe that looks for a stale entry runs
 * right after the one cursor operation that should have flushed it, and
 * the checker after the probes.  The self-test counts the mm's flush calls
 * (a wrapper around the arch's TLB ops) so each TLB step also proves which
 * flush it exercised.
 *
 * Test VAs live in a kernel-half window of their own (TEST_BASE, from the
 * paging mode's layout: kernel_layout.test_window) and in a
 * user table created for the SUM/SMAP step.  Frames come from the kernel
 * zone (the 1 GiB leaf from the sandbox zone) and are all given back: the
 * last step checks that both zones have exactly the free frames they had.
 */
#include "selftest.h"

#include <stdatomic.h>

#include "kprintf.h"
#include "mm_boot.h"
#include "string.h"

#define TEST_BASE (kernel_layout.test_window) /* aligned to a root entry, kernel half */
#define T_ALIAS (TEST_BASE + 0x0000000)
#define T_RO (TEST_BASE + 0x0002000)
#define T_HOLE (TEST_BASE + 0x0004000)
#define T_EXEC (TEST_BASE + 0x0010000)
#define T_NOEXEC (TEST_BASE + 0x0011000)
#define T_STALE (TEST_BASE + 0x0020000)
#define T_NOACC (TEST_BASE + 0x0030000)
#define T_MODE (TEST_BASE + 0x0040000)
#define T_SMP (TEST_BASE + 0x0050000)
#define T_SMP_RELEASE (TEST_BASE + 0x0060000) /* and an anchor page after it */
#define T_SMP_PRIVATE (TEST_BASE + 0x0200000) /* 2 MiB per CPU, from here */
#define T_SMP_SHARED (TEST_BASE + 0x0100000)  /* one window for all CPUs */
#define SMP_WINDOW_PAGES 16
/*
 * Rounds per CPU.  Few: under TCG every round's protect and unmap is a
 * shootdown to every other vCPU (RISC-V: OpenSBI remote fences, ~0.5 s per
 * round on a loaded 2-core host; x86-64: IPIs, ~0.1-0.2 s per round with
 * 4 CPUs), and a self-test boot has 60 s (tools/boot).
 */
#define SMP_ROUNDS 16
#define SMP_MAX_CPUS 8
#define T_FLUSH (TEST_BASE + 0x1000000)     /* 2 MiB aligned; one 2 MiB slot per case */
#define T_HUGE2M (TEST_BASE + 0x40000000ull)  /* 1 GiB aligned */
#define T_HUGE1G (TEST_BASE + 0x80000000ull)  /* 1 GiB aligned */
/* Half-way into the window: a root entry of its own, nothing mapped under it. */
#define T_FAR (TEST_BASE + (kernel_layout.test_window_span / 2 & ~(SZ_1G - 1)))
#define T_USER 0x400000ull                     /* user VA in the user table */
#define T_USER_EXEC (T_USER + 0x2000)          /* the same frame r-x, a `ret` at: */
#define USER_RET_OFFSET 0x800

#define ARRAY_LEN(a) ((unsigned)(sizeof(a) / sizeof((a)[0])))

#define SZ_4K 0x1000ull
#define SZ_2M 0x200000ull
#define SZ_1G 0x40000000ull

static bool failed_any;
static bool skipped_step;
static unsigned nr_skipped;
static const char *current_step;

/* The image's .bss bounds (both linker scripts define them). */
extern char __bss_start[], __bss_end[];

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

/* The current step cannot run here: say why; it is reported as skipped, not ok. */
static bool skip(const char *why)
{
	kprintf("  skipped: %s\n", why);
	skipped_step = true;
	return true;
}

/* ---- properties ---- */

static struct ptmm_prop kprop(unsigned flags)
{
	return ptmm_prop_make(flags | PTMM_PROP_G, PTMM_CACHE_WB);
}

static struct ptmm_prop uprop(unsigned flags)
{
	return ptmm_prop_make(flags | PTMM_PROP_U, PTMM_CACHE_WB);
}

/* ---- mm operations, each followed by the checker ---- */

/* The operation must have succeeded. */
static bool done(int err, const char *op, ptmm_vaddr_t va)
{
	if (err != PTMM_OK)
		return fail("%s at 0x%llx: %s", op, (unsigned long long)va, ptmm_strerror(err));
	return true;
}

/* The operation must have succeeded, and the checker must agree. */
static bool checked(int err, const char *op, ptmm_vaddr_t va)
{
	if (!done(err, op, va))
		return false;
	if (!kmm_check(op))
		return fail("checker after %s at 0x%llx", op, (unsigned long long)va);
	return true;
}

static bool t_map(struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t len, ptmm_paddr_t pa, struct ptmm_prop p,
		  unsigned flags)
{
	return checked(kmm_map(pt, va, len, pa, p, flags), "map", va);
}

static bool t_unmap(struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t len)
{
	return checked(kmm_unmap(pt, va, len), "unmap", va);
}

static bool t_protect(struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t len, struct ptmm_prop p)
{
	return checked(kmm_protect(pt, va, len, p), "protect", va);
}

/* The leaf at va must be `size` bytes at `pa`. */
static bool expect_leaf(struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t size, ptmm_paddr_t pa)
{
	struct ptmm_mapping m;
	int err = kmm_query(pt, va, &m);

	if (err)
		return fail("query 0x%llx: %s", (unsigned long long)va, ptmm_strerror(err));
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
static bool access_ok(enum probe_kind kind, ptmm_vaddr_t va, uint64_t value, uint64_t want)
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

static bool read_ok(ptmm_vaddr_t va, uint64_t want)
{
	return access_ok(PROBE_READ, va, 0, want);
}

static bool write_ok(ptmm_vaddr_t va, uint64_t value)
{
	return access_ok(PROBE_WRITE, va, value, 0);
}

static bool exec_ok(ptmm_vaddr_t va)
{
	return access_ok(PROBE_EXEC, va, 0, 0);
}

static const char *const reason_name[] = { "not-present", "protection" };

/*
 * The access must fault, as that kind of access, at exactly va, from the
 * probe's own instruction, with exactly the raw cause the arch gives for
 * `why`.  A store writes `value` (should it complete).
 */
static bool faults_storing(enum probe_kind kind, ptmm_vaddr_t va, uint64_t value,
			   enum fault_reason why)
{
	struct fault_info f;
	uint64_t cause = arch_fault_cause(kind, why);
	uintptr_t pc = arch_probe_fault_pc(kind, va);

	if (!arch_probe(kind, va, &value, &f))
		return fail("%s 0x%llx did not fault (%s expected)", kind_name[kind],
			    (unsigned long long)va, reason_name[why]);
	if (f.kind != kind || f.addr != va || f.pc != pc || f.cause != cause)
		return fail("%s 0x%llx faulted as %s at 0x%llx, pc 0x%llx, cause 0x%llx; expected "
			    "pc 0x%llx, cause 0x%llx (%s)",
			    kind_name[kind], (unsigned long long)va, kind_name[f.kind],
			    (unsigned long long)f.addr, (unsigned long long)f.pc,
			    (unsigned long long)f.cause, (unsigned long long)pc,
			    (unsigned long long)cause, reason_name[why]);
	return true;
}

/* As faults_storing, a store writing a pattern. */
static bool faults(enum probe_kind kind, ptmm_vaddr_t va, enum fault_reason why)
{
	return faults_storing(kind, va, 0x5a5a5a5a5a5a5a5aull, why);
}

/* ---- TLB flush accounting ---- */

/* The arch's TLB ops, and how often the mm called each since the last reset. */
static const struct ptmm_tlb_ops *tlb_arch;
struct tlb_calls {
	unsigned page, range, all;
};
static struct tlb_calls tlb_calls;

/* Count, then forward to the arch (the wrappers of tlb_counting below). */
static void counting_flush_page(void *ctx, ptmm_vaddr_t va)
{
	(void)ctx;
	tlb_calls.page++;
	tlb_arch->flush_page(tlb_arch->ctx, va);
}

static void counting_flush_range(void *ctx, ptmm_vaddr_t va, uint64_t len)
{
	(void)ctx;
	tlb_calls.range++;
	tlb_arch->flush_range(tlb_arch->ctx, va, len);
}

static void counting_flush_all(void *ctx)
{
	(void)ctx;
	tlb_calls.all++;
	tlb_arch->flush_all(tlb_arch->ctx);
}

static void counting_activate(void *ctx, ptmm_paddr_t root)
{
	(void)ctx;
	tlb_arch->activate(tlb_arch->ctx, root);
}

static const struct ptmm_tlb_ops tlb_counting = {
	.flush_page = counting_flush_page,
	.flush_range = counting_flush_range,
	.flush_all = counting_flush_all,
	.activate = counting_activate,
	.ctx = 0,
};

enum tlb_flush {
	FLUSH_RANGE, /* exactly one flush_range, nothing else */
	FLUSH_ALL,   /* only flush_all (once or more: the close may reclaim again) */
};

/* `calls` (counted over one cursor operation) must be the `want` flush alone. */
static bool flushed_by(struct tlb_calls calls, enum tlb_flush want)
{
	bool ok = want == FLUSH_RANGE
			  ? calls.page == 0 && calls.range == 1 && calls.all == 0
			  : calls.page == 0 && calls.range == 0 && calls.all >= 1;
	if (!ok)
		return fail("the mm flushed page %u, range %u, all %u times; expected only %s",
			    calls.page, calls.range, calls.all,
			    want == FLUSH_RANGE ? "one flush_range" : "flush_all");
	return true;
}

/* ---- frames ---- */

static ptmm_paddr_t alloc_frames(unsigned zone, unsigned order)
{
	ptmm_paddr_t pa = 0;
	int err = ptmm_frame_alloc(&kmm.ft, zone, order, PTMM_FRAME_DATA, &pa);
	if (err)
		fail("ptmm_frame_alloc(order %u): %s", order, ptmm_strerror(err));
	return err ? 0 : pa;
}

/* Give back a block from alloc_frames (0: nothing was allocated). */
static void put_frames(ptmm_paddr_t pa)
{
	if (pa)
		ptmm_frame_put(&kmm.ft, pa);
}

static uint64_t *dm64(ptmm_paddr_t pa)
{
	return phys_to_virt(pa);
}

/* A value that names the frame it is stored in. */
static uint64_t tag(ptmm_paddr_t pa)
{
	return 0x7a90000000000000ull ^ pa;
}

/* ---- the steps ---- */

/* Two VAs on one frame, and the direct map, all see the same bytes; r-- refuses stores. */
static bool step_alias(void)
{
	ptmm_paddr_t f = alloc_frames(KZONE_KERNEL, 0);
	bool ok = f && t_map(&kmm.kpt, T_ALIAS, SZ_4K, f, kprop(PTMM_PROP_R | PTMM_PROP_W), 0) &&
		  t_map(&kmm.kpt, T_RO, SZ_4K, f, kprop(PTMM_PROP_R), 0) &&
		  expect_leaf(&kmm.kpt, T_RO, SZ_4K, f);

	if (ok) {
		ok = write_ok(T_ALIAS + 8, 0x1111222233334444ull) &&
		     read_ok(T_RO + 8, 0x1111222233334444ull);
		if (ok && dm64(f)[1] != 0x1111222233334444ull)
			ok = fail("direct map of 0x%llx does not see the store", (unsigned long long)f);
		dm64(f)[2] = 0x5555666677778888ull;
		ok = ok && read_ok(T_ALIAS + 16, 0x5555666677778888ull) &&
		     faults(PROBE_WRITE, T_RO + 16, FAULT_PROTECTION) &&
		     read_ok(T_RO + 16, 0x5555666677778888ull);
	}
	ok = t_unmap(&kmm.kpt, T_ALIAS, SZ_4K) && ok;
	ok = t_unmap(&kmm.kpt, T_RO, SZ_4K) && ok;
	put_frames(f);
	return ok;
}

/* Never-mapped VAs fault: next to a mapping (same leaf table) and far away. */
static bool step_unmapped(void)
{
	ptmm_paddr_t f = alloc_frames(KZONE_KERNEL, 0);
	bool ok = f && t_map(&kmm.kpt, T_ALIAS, SZ_4K, f, kprop(PTMM_PROP_R | PTMM_PROP_W), 0) &&
		  read_ok(T_ALIAS, dm64(f)[0]) && faults(PROBE_READ, T_HOLE, FAULT_NOT_PRESENT) &&
		  faults(PROBE_WRITE, T_HOLE + 8, FAULT_NOT_PRESENT) &&
		  faults(PROBE_READ, T_FAR, FAULT_NOT_PRESENT);
	ok = t_unmap(&kmm.kpt, T_ALIAS, SZ_4K) && ok;
	put_frames(f);
	return ok;
}

/* Fetches run only where x is set, and stop as soon as protect takes it away. */
static bool step_noexec(void)
{
	ptmm_paddr_t f = alloc_frames(KZONE_KERNEL, 0);
	bool ok = f != 0;

	if (ok) {
		memcpy(phys_to_virt(f), arch_ret_insn, arch_ret_insn_len);
		arch_sync_icache();
		ok = t_map(&kmm.kpt, T_EXEC, SZ_4K, f, kprop(PTMM_PROP_R | PTMM_PROP_X), 0) &&
		     t_map(&kmm.kpt, T_NOEXEC, SZ_4K, f, kprop(PTMM_PROP_R | PTMM_PROP_W), 0) &&
		     exec_ok(T_EXEC);
	}
	/* Non-executable is always expressible here: without NX the x86 encoder
	 * refuses r-- and rw- (PTMM_ENOTSUP), and mm_boot could not map the image. */
	ok = ok && faults(PROBE_EXEC, T_NOEXEC, FAULT_PROTECTION) &&
	     t_protect(&kmm.kpt, T_EXEC, SZ_4K, kprop(PTMM_PROP_R)) &&
	     faults(PROBE_EXEC, T_EXEC, FAULT_PROTECTION);
	ok = t_unmap(&kmm.kpt, T_EXEC, 2 * SZ_4K) && ok;
	put_frames(f);
	return ok;
}

/* Targets of the image W^X probes: one in .data, one in .bss, one in .rodata. */
static uint8_t ret_in_data[16] __attribute__((aligned(16))) = { 0xff };
static uint8_t ret_in_bss[16] __attribute__((aligned(16)));
static const uint64_t rodata_word = 0x0123456789abcdefull;

/* va must lie in [lo, lo+size) (so the probe tests the section it names). */
static bool inside(const char *what, ptmm_vaddr_t va, ptmm_vaddr_t lo, uint64_t size)
{
	if (va < lo || va - lo >= size)
		return fail("%s 0x%llx is not in [0x%llx, 0x%llx)", what, (unsigned long long)va,
			    (unsigned long long)lo, (unsigned long long)(lo + size));
	return true;
}

/*
 * The kernel image is W^X on the MMU: stores to text and rodata fault
 * (each store writes back the word already there, so a broken mapping
 * fails the step without corrupting the image), and fetches from rodata,
 * data and bss fault (each holds a `ret`, so a broken mapping returns).
 */
static bool step_image_wx(void)
{
	const struct boot_info *bi = arch_boot_info();
	ptmm_vaddr_t text_word = (ptmm_vaddr_t)(uintptr_t)selftest_run & ~7ull;
	ptmm_vaddr_t ro_word = (ptmm_vaddr_t)(uintptr_t)&rodata_word;
	ptmm_vaddr_t ro_ret = (ptmm_vaddr_t)(uintptr_t)arch_ret_insn;
	ptmm_vaddr_t data_ret = (ptmm_vaddr_t)(uintptr_t)ret_in_data;
	ptmm_vaddr_t bss_ret = (ptmm_vaddr_t)(uintptr_t)ret_in_bss;
	ptmm_vaddr_t bss = (ptmm_vaddr_t)(uintptr_t)__bss_start;
	uint64_t bss_size = (uint64_t)(__bss_end - __bss_start);

	memcpy(ret_in_data, arch_ret_insn, arch_ret_insn_len);
	memcpy(ret_in_bss, arch_ret_insn, arch_ret_insn_len);
	arch_sync_icache();
	return inside("text word", text_word, bi->text.va, bi->text.size) &&
	       inside("rodata word", ro_word, bi->rodata.va, bi->rodata.size) &&
	       inside("rodata ret", ro_ret, bi->rodata.va, bi->rodata.size) &&
	       inside("data ret", data_ret, bi->data.va, bss - bi->data.va) &&
	       inside("bss ret", bss_ret, bss, bss_size) &&
	       faults_storing(PROBE_WRITE, text_word, *(volatile const uint64_t *)text_word,
			      FAULT_PROTECTION) &&
	       faults_storing(PROBE_WRITE, ro_word, rodata_word, FAULT_PROTECTION) &&
	       read_ok(ro_word, 0x0123456789abcdefull) &&
	       faults(PROBE_EXEC, ro_ret, FAULT_PROTECTION) &&
	       faults(PROBE_EXEC, data_ret, FAULT_PROTECTION) &&
	       faults(PROBE_EXEC, bss_ret, FAULT_PROTECTION);
}

/* PA of a kernel image address (inside one of the three sections). */
static ptmm_paddr_t image_pa(ptmm_vaddr_t va)
{
	const struct boot_info *bi = arch_boot_info();
	const struct image_section *secs[3] = { &bi->text, &bi->rodata, &bi->data };
	for (unsigned i = 0; i < 3; i++)
		if (va >= secs[i]->va && va - secs[i]->va < secs[i]->size)
			return secs[i]->pa + (va - secs[i]->va);
	return 0;
}

/*
 * W^X per frame: the direct map's alias of the image refuses what the
 * image's own mapping refuses (stores to text and rodata, fetches from
 * text, rodata and data), and firmware memory that must not be mapped
 * (boot_info.nomap: OpenSBI's PMP region; x86's legacy BIOS area) faults
 * as not present through the direct map.
 */
static bool step_direct_map(void)
{
	const struct boot_info *bi = arch_boot_info();
	ptmm_vaddr_t text_ret = (ptmm_vaddr_t)(uintptr_t)arch_text_ret;
	ptmm_vaddr_t text_word = (ptmm_vaddr_t)(uintptr_t)selftest_run & ~7ull;
	ptmm_vaddr_t ro_word = (ptmm_vaddr_t)(uintptr_t)&rodata_word;
	ptmm_vaddr_t data_ret = (ptmm_vaddr_t)(uintptr_t)ret_in_data;
	ptmm_vaddr_t dm_text = DIRECT_MAP_BASE + image_pa(text_word);
	ptmm_vaddr_t dm_text_ret = DIRECT_MAP_BASE + image_pa(text_ret);
	ptmm_vaddr_t dm_ro = DIRECT_MAP_BASE + image_pa(ro_word);
	ptmm_vaddr_t dm_data_ret = DIRECT_MAP_BASE + image_pa(data_ret);
	uint64_t text_value = *(volatile const uint64_t *)text_word;
	bool ok;

	memcpy(ret_in_data, arch_ret_insn, arch_ret_insn_len);
	arch_sync_icache();
	ok = inside("text ret", text_ret, bi->text.va, bi->text.size) &&
	     inside("text word", text_word, bi->text.va, bi->text.size) &&
	     exec_ok(text_ret) && read_ok(dm_text, text_value) &&
	     faults_storing(PROBE_WRITE, dm_text, text_value, FAULT_PROTECTION) &&
	     faults(PROBE_EXEC, dm_text_ret, FAULT_PROTECTION) &&
	     read_ok(dm_ro, rodata_word) &&
	     faults_storing(PROBE_WRITE, dm_ro, rodata_word, FAULT_PROTECTION) &&
	     faults(PROBE_EXEC, dm_data_ret, FAULT_PROTECTION);
	if (ok && bi->nr_nomap == 0)
		return skip("no firmware memory to leave unmapped on this machine");
	for (unsigned i = 0; ok && i < bi->nr_nomap; i++) {
		ptmm_vaddr_t first = DIRECT_MAP_BASE + bi->nomap[i].base;
		ptmm_vaddr_t last = first + bi->nomap[i].size - 8;
		ok = faults(PROBE_READ, first, FAULT_NOT_PRESENT) &&
		     faults(PROBE_READ, last, FAULT_NOT_PRESENT);
	}
	return ok;
}

/*
 * Every trap entry closes user access (x86 EFLAGS.AC, RISC-V sstatus.SUM),
 * and the return restores the interrupted state: open it, fault, and look
 * at what the handler saw.  The boot closed it before the self-test.
 */
static bool step_trap_entry(void)
{
	struct fault_info f;
	uint64_t v = 0;
	bool faulted, reopened;

	if (arch_user_access_open())
		return fail("user access is open after boot (AC / SUM set)");
	arch_user_access(true);
	if (!arch_user_access_open()) {
		arch_user_access(false);
		return fail("arch_user_access(true) did not set AC / SUM");
	}
	faulted = arch_probe(PROBE_READ, T_FAR, &v, &f);
	reopened = arch_user_access_open();
	arch_user_access(false);
	if (!faulted)
		return fail("read 0x%llx did not fault", (unsigned long long)T_FAR);
	if (f.user_access)
		return fail("the trap handler ran with user access open (AC / SUM set)");
	if (!reopened)
		return fail("the trap return did not restore the interrupted AC / SUM");
	return !arch_user_access_open() || fail("user access still open after closing it");
}

/*
 * One memory type per frame: RAM of the kernel zones, which the direct map
 * keeps write-back, is refused any other policy (map and protect:
 * PTMM_EPERM) and nothing is mapped; write-back works.
 */
static bool step_cache_type(void)
{
	static const enum ptmm_cache others[] = { PTMM_CACHE_WT, PTMM_CACHE_UC, PTMM_CACHE_WC };
	ptmm_paddr_t f = alloc_frames(KZONE_KERNEL, 0);
	unsigned tried = 0;
	bool ok = f != 0;

	for (unsigned i = 0; ok && i < ARRAY_LEN(others); i++) {
		struct ptmm_prop p = ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_W | PTMM_PROP_G, others[i]);
		if (kmm.arch.prop_check(&kmm.arch, p) != PTMM_OK)
			continue; /* not expressible here: PTMM_ENOTSUP comes first */
		tried++;
		int err = kmm_map(&kmm.kpt, T_ALIAS, SZ_4K, f, p, 0);
		if (err != PTMM_EPERM)
			ok = fail("map of a kernel-zone frame with cache %u: %s, expected perm",
				  (unsigned)others[i], ptmm_strerror(err));
		ok = ok && faults(PROBE_READ, T_ALIAS, FAULT_NOT_PRESENT) &&
		     t_map(&kmm.kpt, T_ALIAS, SZ_4K, f, kprop(PTMM_PROP_R | PTMM_PROP_W), 0);
		if (ok && (err = kmm_protect(&kmm.kpt, T_ALIAS, SZ_4K, p)) != PTMM_EPERM)
			ok = fail("protect to cache %u: %s, expected perm", (unsigned)others[i],
				  ptmm_strerror(err));
		ok = ok && expect_leaf(&kmm.kpt, T_ALIAS, SZ_4K, f) && read_ok(T_ALIAS, dm64(f)[0]);
		ok = t_unmap(&kmm.kpt, T_ALIAS, SZ_4K) && ok;
	}
	put_frames(f);
	if (ok && tried == 0)
		return skip("no cache policy other than write-back on this CPU");
	return ok;
}

/*
 * The kernel fetching from a user page (a `ret` at va) faults as a
 * protection fault whether user access is open or not (RISC-V always,
 * SUM only covers loads and stores; x86 with SMEP, whatever EFLAGS.AC);
 * without SMEP the fetch runs, and the step says so.
 */
static bool user_exec_refused(ptmm_vaddr_t va)
{
	bool ok;

	if (!arch_user_exec_refused()) {
		kprintf("  no SMEP: kernel fetches from user pages are allowed here (one must run)\n");
		return exec_ok(va);
	}
	ok = faults(PROBE_EXEC, va, FAULT_PROTECTION);
	arch_user_access(true);
	ok = ok && faults(PROBE_EXEC, va, FAULT_PROTECTION);
	arch_user_access(false);
	return ok;
}

/*
 * A user table shares the kernel half; its user pages need SUM / stac for
 * loads and stores, and are never executable by the kernel (SMEP).
 */
static bool step_user(void)
{
	struct ptmm_page_table upt;
	ptmm_paddr_t f = alloc_frames(KZONE_KERNEL, 0);
	bool ok = f != 0;
	int err;

	if (!ok)
		return false;
	err = ptmm_page_table_init_user(&upt, &kmm.arch, &kmm.ft, KZONE_KERNEL, &kmm.kpt);
	if (err) {
		ptmm_frame_put(&kmm.ft, f);
		return fail("ptmm_page_table_init_user: %s", ptmm_strerror(err));
	}
	kmm.user = &upt;
	dm64(f)[0] = tag(f);
	memcpy((char *)phys_to_virt(f) + USER_RET_OFFSET, arch_ret_insn, arch_ret_insn_len);
	arch_sync_icache();
	ptmm_page_table_activate(&upt);
	ok = t_map(&upt, T_USER, SZ_4K, f, uprop(PTMM_PROP_R | PTMM_PROP_W), 0) &&
	     t_map(&upt, T_USER_EXEC, SZ_4K, f, uprop(PTMM_PROP_R | PTMM_PROP_X), 0) &&
	     t_map(&kmm.kpt, T_ALIAS, SZ_4K, f, kprop(PTMM_PROP_R), 0) &&
	     read_ok(T_ALIAS, tag(f)) && /* the kernel half is live in the user table */
	     user_exec_refused(T_USER_EXEC + USER_RET_OFFSET);
	if (ok && arch_user_access_enforced())
		ok = faults(PROBE_READ, T_USER, FAULT_PROTECTION) &&
		     faults(PROBE_WRITE, T_USER + 8, FAULT_PROTECTION);
	else if (ok)
		kprintf("  skipped: kernel access to user pages is not refused here (no SMAP)\n");
	if (ok) {
		arch_user_access(true);
		ok = read_ok(T_USER, tag(f)) && write_ok(T_USER + 8, 0xabcdull);
		arch_user_access(false);
		ok = ok && read_ok(T_ALIAS + 8, 0xabcdull);
	}
	ok = t_unmap(&upt, T_USER, SZ_4K) && ok;
	ok = t_unmap(&upt, T_USER_EXEC, SZ_4K) && ok;
	ok = t_unmap(&kmm.kpt, T_ALIAS, SZ_4K) && ok;
	ptmm_page_table_activate(&kmm.kpt);
	ptmm_page_table_destroy(&upt);
	kmm.user = 0;
	ptmm_frame_put(&kmm.ft, f);
	return ok;
}

/*
 * After unmap, replace and protect no stale translation survives.  An
 * anchor page keeps the leaf table alive, so no node is reclaimed and the
 * cursor's per-page flush (not a full one) is what is being tested.
 */
static bool step_stale(void)
{
	ptmm_paddr_t a = alloc_frames(KZONE_KERNEL, 0), b = alloc_frames(KZONE_KERNEL, 0);
	struct ptmm_prop rw = kprop(PTMM_PROP_R | PTMM_PROP_W);
	bool ok = a && b;

	if (ok) {
		dm64(a)[0] = tag(a);
		dm64(b)[0] = tag(b);
		/* Each change is probed before the checker runs: the checker reads
		 * megabytes of metadata, enough to evict the entry from QEMU's TLB. */
		ok = t_map(&kmm.kpt, T_STALE + SZ_4K, SZ_4K, a, kprop(PTMM_PROP_R), 0) &&
		     t_map(&kmm.kpt, T_STALE, SZ_4K, a, rw, 0) && read_ok(T_STALE, tag(a)) &&
		     done(kmm_unmap(&kmm.kpt, T_STALE, SZ_4K), "unmap", T_STALE) &&
		     faults(PROBE_READ, T_STALE, FAULT_NOT_PRESENT) &&
		     checked(PTMM_OK, "unmap", T_STALE) &&
		     t_map(&kmm.kpt, T_STALE, SZ_4K, a, rw, 0) && read_ok(T_STALE, tag(a)) &&
		     done(kmm_map(&kmm.kpt, T_STALE, SZ_4K, b, rw, PTMM_MAP_REPLACE), "map", T_STALE) &&
		     read_ok(T_STALE, tag(b)) && checked(PTMM_OK, "map replace", T_STALE) &&
		     write_ok(T_STALE + 8, 1) &&
		     done(kmm_protect(&kmm.kpt, T_STALE, SZ_4K, kprop(PTMM_PROP_R)), "protect",
			  T_STALE) &&
		     faults(PROBE_WRITE, T_STALE + 8, FAULT_PROTECTION) &&
		     checked(PTMM_OK, "protect", T_STALE);
	}
	ok = t_unmap(&kmm.kpt, T_STALE, 2 * SZ_4K) && ok;
	put_frames(a);
	put_frames(b);
	return ok;
}

/* ---- SMP ---- */

/* One probe run on another CPU (arch_cpu_call). */
struct remote_probe {
	enum probe_kind kind;
	ptmm_vaddr_t va;
	uint64_t value;
	bool faulted;
	struct fault_info f;
};

static void remote_probe_run(void *arg)
{
	struct remote_probe *r = arg;
	r->faulted = arch_probe(r->kind, r->va, &r->value, &r->f);
}

/*
 * CPU `cpu` accesses va (kind, value) and must succeed (a read reading
 * `want`); its TLB caches the translation.
 */
static bool remote_ok(unsigned cpu, enum probe_kind kind, ptmm_vaddr_t va, uint64_t value,
		      uint64_t want)
{
	struct remote_probe r = { .kind = kind, .va = va, .value = value };

	arch_cpu_call(cpu, remote_probe_run, &r);
	if (r.faulted)
		return fail("cpu %u: %s at 0x%llx faulted", cpu, kind_name[kind],
			    (unsigned long long)va);
	if (kind == PROBE_READ && r.value != want)
		return fail("cpu %u: read 0x%llx at 0x%llx, want 0x%llx", cpu,
			    (unsigned long long)r.value, (unsigned long long)va,
			    (unsigned long long)want);
	return true;
}

/* CPU `cpu`'s access of `kind` at va must fault there, as a page fault for `why`. */
static bool remote_faults(unsigned cpu, enum probe_kind kind, ptmm_vaddr_t va, enum fault_reason why)
{
	struct remote_probe r = { .kind = kind, .va = va, .value = 1 };

	arch_cpu_call(cpu, remote_probe_run, &r);
	if (!r.faulted)
		return fail("cpu %u: %s at 0x%llx did not fault (stale TLB entry: no shootdown?)",
			    cpu, kind_name[kind], (unsigned long long)va);
	if (r.f.addr != va || r.f.cause != arch_fault_cause(kind, why))
		return fail("cpu %u: %s at 0x%llx: fault at 0x%llx cause 0x%llx, want %s",
			    cpu, kind_name[kind], (unsigned long long)va,
			    (unsigned long long)r.f.addr, (unsigned long long)r.f.cause,
			    reason_name[why]);
	return true;
}

/*
 * Cross-CPU stale TLB, kernel (global) pages: every other CPU reads a page
 * (its TLB caches it), this CPU unmaps it and closes the cursor, and each
 * other CPU's next read must fault.  Then each writes it (a writable,
 * dirty entry cached), this CPU write-protects it, and each must still
 * read it but fault on write.  Every other CPU is probed before the
 * checker runs on this one.
 */
static bool step_smp_stale(void)
{
	unsigned n = arch_cpus_online();
	ptmm_paddr_t a;
	struct ptmm_prop rw = kprop(PTMM_PROP_R | PTMM_PROP_W);
	bool ok;

	if (n < 2)
		return skip("one CPU online");
	a = alloc_frames(KZONE_KERNEL, 0);
	ok = a != 0;
	if (ok) {
		dm64(a)[0] = tag(a);
		ok = t_map(&kmm.kpt, T_SMP, SZ_4K, a, rw, 0);
		for (unsigned cpu = 1; ok && cpu < n; cpu++)
			ok = remote_ok(cpu, PROBE_READ, T_SMP, 0, tag(a));
		ok = ok && done(kmm_unmap(&kmm.kpt, T_SMP, SZ_4K), "unmap", T_SMP);
		for (unsigned cpu = 1; ok && cpu < n; cpu++)
			ok = remote_faults(cpu, PROBE_READ, T_SMP, FAULT_NOT_PRESENT);
		ok = ok && checked(PTMM_OK, "unmap", T_SMP) && t_map(&kmm.kpt, T_SMP, SZ_4K, a, rw, 0);
		for (unsigned cpu = 1; ok && cpu < n; cpu++)
			ok = remote_ok(cpu, PROBE_WRITE, T_SMP + 8, cpu, 0);
		ok = ok && done(kmm_protect(&kmm.kpt, T_SMP, SZ_4K, kprop(PTMM_PROP_R)), "protect",
				T_SMP);
		for (unsigned cpu = 1; ok && cpu < n; cpu++)
			ok = remote_faults(cpu, PROBE_WRITE, T_SMP + 8, FAULT_PROTECTION) &&
			     remote_ok(cpu, PROBE_READ, T_SMP, 0, tag(a));
		ok = ok && checked(PTMM_OK, "protect", T_SMP);
	}
	ok = t_unmap(&kmm.kpt, T_SMP, SZ_4K) && ok;
	put_frames(a);
	return ok;
}

/* One CPU's share of the concurrent-cursor step, and its first error. */
struct smp_worker {
	unsigned cpu;
	ptmm_paddr_t frame;
	const char *what; /* NULL: no error */
	int err;
	unsigned round;
	ptmm_vaddr_t va;
};

/* Records the worker's first error; false. */
static bool worker_fail(struct smp_worker *w, const char *what, int err, unsigned round,
			ptmm_vaddr_t va)
{
	if (!w->what) {
		w->what = what;
		w->err = err;
		w->round = round;
		w->va = va;
	}
	return false;
}

/*
 * Inside ONE cursor over the page at va: it is absent, map the worker's
 * frame rw, see it (query: present, the frame, writable), protect it r,
 * see that, unmap it, see it absent; close (flush, release).  Another
 * CPU's cursor over the same page waits for this one (node locks), so
 * what this cursor sees is what it did.
 */
static bool worker_page(struct smp_worker *w, unsigned round, ptmm_vaddr_t va)
{
	struct ptmm_cursor c;
	struct ptmm_mapping m;
	struct ptmm_prop rw = kprop(PTMM_PROP_R | PTMM_PROP_W), r = kprop(PTMM_PROP_R);
	int err = ptmm_cursor_open(&c, &kmm.kpt, va, SZ_4K);
	bool ok;

	if (err)
		return worker_fail(w, "open", err, round, va);
	ok = ((err = ptmm_cursor_query(&c, &m)) == PTMM_OK && !m.present) ||
	     worker_fail(w, "absent before map", err, round, va);
	ok = ok && (((err = ptmm_cursor_map(&c, w->frame, SZ_4K, rw, 0)) == PTMM_OK &&
		     (err = ptmm_cursor_jump(&c, va)) == PTMM_OK) ||
		    worker_fail(w, "map", err, round, va));
	ok = ok && (((err = ptmm_cursor_query(&c, &m)) == PTMM_OK && m.present && m.pa == w->frame &&
		     m.prop.flags == rw.flags) ||
		    worker_fail(w, "query after map", err, round, va));
	ok = ok && (((err = ptmm_cursor_protect(&c, SZ_4K, r, 0)) == PTMM_OK &&
		     (err = ptmm_cursor_jump(&c, va)) == PTMM_OK) ||
		    worker_fail(w, "protect", err, round, va));
	ok = ok && (((err = ptmm_cursor_query(&c, &m)) == PTMM_OK && m.present && m.pa == w->frame &&
		     m.prop.flags == r.flags) ||
		    worker_fail(w, "query after protect", err, round, va));
	ok = ok && (((err = ptmm_cursor_unmap(&c, SZ_4K, 0)) == PTMM_OK &&
		     (err = ptmm_cursor_jump(&c, va)) == PTMM_OK) ||
		    worker_fail(w, "unmap", err, round, va));
	ok = ok && (((err = ptmm_cursor_query(&c, &m)) == PTMM_OK && !m.present) ||
		    worker_fail(w, "absent after unmap", err, round, va));
	ptmm_cursor_close(&c);
	return ok;
}

/* A worker's rounds: its private window, then the shared one, a page each. */
static void worker_run(void *arg)
{
	struct smp_worker *w = arg;
	ptmm_vaddr_t priv = T_SMP_PRIVATE + (ptmm_vaddr_t)w->cpu * SZ_2M;

	for (unsigned round = 0; round < SMP_ROUNDS; round++) {
		unsigned page = (round + w->cpu * 5) % SMP_WINDOW_PAGES;
		if (!worker_page(w, round, priv + (ptmm_vaddr_t)page * SZ_4K) ||
		    !worker_page(w, round, T_SMP_SHARED + (ptmm_vaddr_t)page * SZ_4K))
			return;
	}
}

/*
 * Concurrent cursors: every CPU (this one too) runs SMP_ROUNDS rounds of
 * map / protect / unmap in its private window and in the shared one, each
 * checking inside its cursor that it sees what it did.  The TLB hooks are
 * the arch's own here (the self-test's counters are not atomic).  Then
 * the checker, every frame back, and the kernel table's nodes as before.
 */
static bool step_smp_cursors(void)
{
	unsigned n = arch_cpus_online();
	struct smp_worker w[SMP_MAX_CPUS];
	const struct ptmm_tlb_ops *counting = kmm.arch.tlb;
	uint64_t free0 = ptmm_frame_zone_free_frames(&kmm.ft, KZONE_KERNEL);
	struct ptmm_stats st0, st1;
	bool ok = true;

	if (n < 2)
		return skip("one CPU online");
	if (n > SMP_MAX_CPUS)
		n = SMP_MAX_CPUS;
	ptmm_stats(&kmm.kpt, &st0);
	for (unsigned i = 0; i < n; i++) {
		w[i] = (struct smp_worker){ .cpu = i, .frame = alloc_frames(KZONE_KERNEL, 0) };
		ok = ok && w[i].frame;
	}
	if (ok) {
		kmm.arch.tlb = tlb_arch;
		for (unsigned i = 1; i < n; i++)
			arch_cpu_call_start(i, worker_run, &w[i]);
		worker_run(&w[0]);
		for (unsigned i = 1; i < n; i++)
			arch_cpu_call_wait(i);
		kmm.arch.tlb = counting;
		for (unsigned i = 0; i < n; i++)
			if (w[i].what)
				ok = fail("cpu %u round %u: %s at 0x%llx: %s", i, w[i].round, w[i].what,
					  (unsigned long long)w[i].va, ptmm_strerror(w[i].err));
		ok = ok && checked(PTMM_OK, "concurrent cursors", T_SMP_SHARED);
	}
	/* A failed worker may have left its page mapped. */
	ok = t_unmap(&kmm.kpt, T_SMP_SHARED, SMP_WINDOW_PAGES * SZ_4K) && ok;
	for (unsigned i = 0; i < n; i++)
		ok = t_unmap(&kmm.kpt, T_SMP_PRIVATE + (ptmm_vaddr_t)i * SZ_2M, SMP_WINDOW_PAGES * SZ_4K) &&
		     ok;
	for (unsigned i = 0; i < n; i++)
		put_frames(w[i].frame);
	ptmm_stats(&kmm.kpt, &st1);
	if (ptmm_frame_zone_free_frames(&kmm.ft, KZONE_KERNEL) != free0)
		ok = fail("free frames %llu -> %llu", (unsigned long long)free0,
			  (unsigned long long)ptmm_frame_zone_free_frames(&kmm.ft, KZONE_KERNEL));
	if (st1.nodes != st0.nodes || st1.mapped != st0.mapped)
		ok = fail("kernel table: %llu nodes 0x%llx mapped, was %llu 0x%llx",
			  (unsigned long long)st1.nodes, (unsigned long long)st1.mapped,
			  (unsigned long long)st0.nodes, (unsigned long long)st0.mapped);
	return ok;
}

/*
 * smp-release-order: what CPU 1 does while CPU 0 unmaps a page CPU 1 has
 * cached.  Flags are written by one CPU and read by the other (atomics).
 */
struct release_watch {
	ptmm_vaddr_t va;
	uint64_t tag, scribble;
	/* The frame's slot: a block head, not free, until the mm released it. */
	const struct ptmm_frame_slot *slot;
	unsigned ready;     /* CPU 1: the page is in its TLB, holding shootdowns */
	unsigned flushing;  /* CPU 0: inside the mm's flush hook */
	unsigned flushed;   /* CPU 0: the flush hook returned (the mm may release now) */
	unsigned closed;    /* CPU 0: the cursor closed: the frame was released */
	unsigned go;        /* CPU 0: the frame was reallocated and scribbled */
	/* CPU 1's findings */
	bool first_read_failed, read_after_flush, read_after_release, saw_scribble, final_read_ok;
	uint64_t final_value;
};

/*
 * True once the frame of `s` is back in the allocator: the head of a free
 * block (refcount UNUSED) or merged into one (no longer a head).  A frame
 * on the cursor's release list has refcount 0 and is still a head.
 */
static bool frame_released(const struct ptmm_frame_slot *s)
{
	uint8_t flags = atomic_load_explicit(&s->flags, memory_order_acquire);

	return !(flags & PTMM_FRAME_F_HEAD) ||
	       atomic_load_explicit(&s->refcount, memory_order_acquire) == PTMM_FRAME_REF_UNUSED;
}

/*
 * How many reads CPU 1 keeps holding shootdowns after CPU 0 entered the
 * flush hook: long enough for a hook that does not wait for CPU 1 to
 * return (it only sends the IPIs), and the time a correct one waits.
 */
#define RELEASE_HOLD_READS 2000000u

/* The watch of the running smp-release-order step, for its TLB hooks. */
static struct release_watch *release_watch;

/* The arch's hooks, with the watch's flushing / flushed around each. */
static void watching_flush_page(void *ctx, ptmm_vaddr_t va)
{
	(void)ctx;
	__atomic_store_n(&release_watch->flushing, 1, __ATOMIC_RELEASE);
	tlb_arch->flush_page(tlb_arch->ctx, va);
	__atomic_store_n(&release_watch->flushed, 1, __ATOMIC_RELEASE);
}

static void watching_flush_range(void *ctx, ptmm_vaddr_t va, uint64_t len)
{
	(void)ctx;
	__atomic_store_n(&release_watch->flushing, 1, __ATOMIC_RELEASE);
	tlb_arch->flush_range(tlb_arch->ctx, va, len);
	__atomic_store_n(&release_watch->flushed, 1, __ATOMIC_RELEASE);
}

static void watching_flush_all(void *ctx)
{
	(void)ctx;
	__atomic_store_n(&release_watch->flushing, 1, __ATOMIC_RELEASE);
	tlb_arch->flush_all(tlb_arch->ctx);
	__atomic_store_n(&release_watch->flushed, 1, __ATOMIC_RELEASE);
}

static const struct ptmm_tlb_ops tlb_watching = {
	.flush_page = watching_flush_page,
	.flush_range = watching_flush_range,
	.flush_all = watching_flush_all,
	.activate = counting_activate,
	.ctx = 0,
};

/*
 * CPU 1: read the page (its TLB caches it), hold shootdowns, then read it
 * again and again.  Each turn reads CPU 0's flags and the frame's slot
 * BEFORE the probe: a probe that succeeds after CPU 0's flush hook
 * returned means the hook did not wait for this CPU; after the frame went
 * back to the allocator (frame_released) or the close returned, that the
 * frame was released while this CPU could still reach it.  The hold ends
 * when the probe faults (the flush reached this CPU anyway: RISC-V's
 * M-mode fences), after the turn that saw CPU 0 say go (still holding: a
 * CPU 0 that got that far without this CPU's flush is caught whatever the
 * two CPUs' timing), or RELEASE_HOLD_READS reads after CPU 0 entered the
 * flush hook (a correct flush waits for this CPU until then).  Then,
 * shootdowns served again, the read after `go` must fault.
 */
static void release_watch_run(void *arg)
{
	struct release_watch *w = arg;
	struct fault_info f;
	uint64_t v = 0;
	unsigned after = 0;

	arch_shootdown_hold(true);
	w->first_read_failed = arch_probe(PROBE_READ, w->va, &v, &f) || v != w->tag;
	__atomic_store_n(&w->ready, 1, __ATOMIC_RELEASE);
	while (!w->first_read_failed) {
		bool go = __atomic_load_n(&w->go, __ATOMIC_ACQUIRE);
		bool flushed = __atomic_load_n(&w->flushed, __ATOMIC_ACQUIRE);
		bool released = __atomic_load_n(&w->closed, __ATOMIC_ACQUIRE) ||
				frame_released(w->slot);
		if (arch_probe(PROBE_READ, w->va, &v, &f))
			break;
		w->read_after_flush |= flushed;
		w->read_after_release |= released;
		w->saw_scribble |= v == w->scribble;
		if (go)
			break; /* this turn sampled the state after go */
		if (__atomic_load_n(&w->flushing, __ATOMIC_ACQUIRE) && ++after >= RELEASE_HOLD_READS)
			break;
	}
	arch_shootdown_hold(false);
	while (!__atomic_load_n(&w->go, __ATOMIC_ACQUIRE))
		;
	w->final_read_ok = !arch_probe(PROBE_READ, w->va, &w->final_value, &f);
}

#define RELEASE_REALLOC_TRIES 64

/*
 * Release order: a frame unmapped here while CPU 1 still has it cached is
 * not reused until CPU 1 flushed.  The frame's only reference is the
 * mapping's (the mm releases it at the cursor's close, after the flush);
 * CPU 1 reads it and holds off shootdowns (x86: interrupts off, so its
 * flush waits).  This CPU unmaps and closes, then allocates frames until
 * it gets the same one back and scribbles every frame it got; CPU 1 must
 * never have read the page after the flush hook returned or the frame was
 * released, never seen the scribble, and its read after all that must
 * fault.  An anchor page keeps
 * the leaf table (no node is released, one flush_page).
 */
static bool step_smp_release(void)
{
	struct release_watch w = { .va = T_SMP_RELEASE, .scribble = 0x5c1b5c1b5c1b5c1bull };
	struct ptmm_prop rw = kprop(PTMM_PROP_R | PTMM_PROP_W);
	ptmm_paddr_t got[RELEASE_REALLOC_TRIES];
	unsigned nr_got = 0;
	ptmm_paddr_t f, anchor;
	bool reused = false, ok;

	if (arch_cpus_online() < 2)
		return skip("one CPU online");
	f = alloc_frames(KZONE_KERNEL, 0);
	anchor = alloc_frames(KZONE_KERNEL, 0);
	ok = f && anchor && t_map(&kmm.kpt, T_SMP_RELEASE + SZ_4K, SZ_4K, anchor, rw, 0) &&
	     t_map(&kmm.kpt, T_SMP_RELEASE, SZ_4K, f, rw, 0);
	if (!ok) {
		t_unmap(&kmm.kpt, T_SMP_RELEASE, 2 * SZ_4K);
		put_frames(f);
		put_frames(anchor);
		return false;
	}
	w.tag = tag(f);
	w.slot = ptmm_frame_slot_of(&kmm.ft, f);
	dm64(f)[0] = w.tag;
	put_frames(f); /* the mapping holds the only reference now */
	arch_cpu_call_start(1, release_watch_run, &w);
	while (!__atomic_load_n(&w.ready, __ATOMIC_ACQUIRE))
		;
	release_watch = &w;
	kmm.arch.tlb = &tlb_watching;
	ok = done(kmm_unmap(&kmm.kpt, T_SMP_RELEASE, SZ_4K), "unmap", T_SMP_RELEASE);
	kmm.arch.tlb = &tlb_counting;
	__atomic_store_n(&w.closed, 1, __ATOMIC_RELEASE);
	while (ok && !reused && nr_got < RELEASE_REALLOC_TRIES) {
		ptmm_paddr_t g = alloc_frames(KZONE_KERNEL, 0);
		if (!g)
			break;
		got[nr_got++] = g;
		dm64(g)[0] = w.scribble;
		reused = g == f;
	}
	__atomic_store_n(&w.go, 1, __ATOMIC_RELEASE);
	arch_cpu_call_wait(1);
	if (w.first_read_failed)
		ok = fail("cpu 1: the first read at 0x%llx failed", (unsigned long long)w.va);
	if (w.read_after_flush)
		ok = fail("cpu 1 read 0x%llx after the flush hook returned (it did not wait for "
			  "cpu 1)", (unsigned long long)w.va);
	if (w.read_after_release)
		ok = fail("cpu 1 read 0x%llx after the frame 0x%llx was released (before cpu 1 "
			  "flushed)", (unsigned long long)w.va, (unsigned long long)f);
	if (w.saw_scribble)
		ok = fail("cpu 1 read the scribble of the reused frame 0x%llx through 0x%llx",
			  (unsigned long long)f, (unsigned long long)w.va);
	if (w.final_read_ok)
		ok = fail("cpu 1: read at 0x%llx did not fault (read 0x%llx; stale TLB entry)",
			  (unsigned long long)w.va, (unsigned long long)w.final_value);
	if (ok && !reused)
		ok = fail("frame 0x%llx not reallocated within %u allocations", (unsigned long long)f,
			  RELEASE_REALLOC_TRIES);
	ok = ok && checked(PTMM_OK, "release order", T_SMP_RELEASE);
	for (unsigned i = 0; i < nr_got; i++)
		put_frames(got[i]);
	ok = t_unmap(&kmm.kpt, T_SMP_RELEASE, 2 * SZ_4K) && ok;
	put_frames(anchor);
	return ok;
}

/*
 * Map `pages` consecutive frames from `pa` at va (4 KiB leaves of `p`, in
 * a leaf table of their own) and read each, so the TLB holds them all.
 * Then ONE ptmm_cursor_unmap: with `frees_table`, of the leaf table's whole
 * 2 MiB, so the mm detaches the node and flushes with flush_all alone;
 * otherwise of just those pages while an anchor page after them keeps the
 * table, so the mm issues one flush_range.  Every page must then fault as
 * not present -- probed before anything else runs -- then the flush calls
 * are compared, then the checker.
 */
static bool unmap_drops_every_page(ptmm_vaddr_t va, ptmm_paddr_t pa, unsigned pages, struct ptmm_prop p,
				   bool frees_table)
{
	uint64_t len = (uint64_t)pages * SZ_4K;
	struct tlb_calls calls;
	bool ok = t_map(&kmm.kpt, va, len, pa, p, 0) &&
		  (frees_table || t_map(&kmm.kpt, va + len, SZ_4K, pa, p, 0));

	for (uint64_t off = 0; ok && off < len; off += SZ_4K)
		ok = read_ok(va + off, tag(pa + off));
	if (ok) {
		tlb_calls = (struct tlb_calls){ 0, 0, 0 };
		ok = done(kmm_unmap(&kmm.kpt, va, frees_table ? SZ_2M : len), "unmap", va);
		calls = tlb_calls;
		for (uint64_t off = 0; ok && off < len; off += SZ_4K)
			if (!faults(PROBE_READ, va + off, FAULT_NOT_PRESENT))
				ok = fail("(page %llu after one unmap of %u pages at 0x%llx, %s)",
					  (unsigned long long)(off / SZ_4K), pages,
					  (unsigned long long)va,
					  frees_table ? "leaf table freed" : "range");
		ok = ok && flushed_by(calls, frees_table ? FLUSH_ALL : FLUSH_RANGE) &&
		     checked(PTMM_OK, "unmap", va);
	}
	return t_unmap(&kmm.kpt, va, SZ_2M) && ok; /* the anchor, or what a failure left */
}

/* One multi-page unmap of the TLB steps (see unmap_drops_every_page). */
struct flush_case {
	unsigned pages;
	bool frees_table;
};

#define FLUSH_BLOCK_ORDER 7 /* 128 frames: room for the largest case */

/*
 * Run `n` cases with leaves of property `p`, each in its own 2 MiB slot
 * from T_FLUSH, over one block of tagged frames.
 */
static bool unmap_cases(const struct flush_case *cases, unsigned n, struct ptmm_prop p)
{
	ptmm_paddr_t b = alloc_frames(KZONE_KERNEL, FLUSH_BLOCK_ORDER);
	bool ok = b != 0;

	for (uint64_t off = 0; ok && off < (SZ_4K << FLUSH_BLOCK_ORDER); off += SZ_4K)
		dm64(b + off)[0] = tag(b + off);
	for (unsigned i = 0; b && i < n; i++) /* every case, so a report names all that fail */
		ok = unmap_drops_every_page(T_FLUSH + i * SZ_2M, b, cases[i].pages, p,
					    cases[i].frees_table) &&
		     ok;
	put_frames(b);
	return ok;
}

/*
 * Range unmaps drop every page they cover: 8 pages (both arches flush
 * them one by one) and 96 (past their 64-page limit: a full flush).
 * Non-global pages.
 */
static const struct flush_case range_cases[] = { { 8, false }, { 96, false } };

static bool step_flush_range(void)
{
	return unmap_cases(range_cases, ARRAY_LEN(range_cases),
			   ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_WB));
}

/* An unmap that frees a leaf table: the mm's flush_all alone drops the pages.  Non-global. */
static const struct flush_case table_cases[] = { { 8, true } };

static bool step_flush_table(void)
{
	return unmap_cases(table_cases, ARRAY_LEN(table_cases),
			   ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_WB));
}

/*
 * The same with global kernel pages: the range flush and flush_all must
 * drop global entries too (x86: invlpg does; a CR3 reload would not, so
 * flush_all toggles CR4.PGE -- QEMU's TCG drops global entries on any CR3
 * write, so only a CPU that keeps them tells the two apart).
 */
static const struct flush_case global_cases[] = { { 8, false }, { 96, false }, { 8, true } };

static bool step_flush_global(void)
{
	return unmap_cases(global_cases, ARRAY_LEN(global_cases), kprop(PTMM_PROP_R | PTMM_PROP_W));
}

/* A no-access mapping is a mapping to the mm and absent to the hardware. */
static bool step_noaccess(void)
{
	ptmm_paddr_t f = alloc_frames(KZONE_KERNEL, 0);
	bool ok = f != 0;

	if (ok) {
		dm64(f)[0] = tag(f);
		ok = t_map(&kmm.kpt, T_NOACC, SZ_4K, f, ptmm_prop_make(0, PTMM_CACHE_WB), 0) &&
		     expect_leaf(&kmm.kpt, T_NOACC, SZ_4K, f) &&
		     faults(PROBE_READ, T_NOACC, FAULT_NOT_PRESENT) &&
		     faults(PROBE_WRITE, T_NOACC, FAULT_NOT_PRESENT) &&
		     t_protect(&kmm.kpt, T_NOACC, SZ_4K, kprop(PTMM_PROP_R)) &&
		     read_ok(T_NOACC, tag(f)) &&
		     t_protect(&kmm.kpt, T_NOACC, SZ_4K, ptmm_prop_make(0, PTMM_CACHE_WB)) &&
		     faults(PROBE_READ, T_NOACC, FAULT_NOT_PRESENT);
	}
	ok = t_unmap(&kmm.kpt, T_NOACC, SZ_4K) && ok;
	put_frames(f);
	return ok;
}

/*
 * One huge leaf of `size` (a whole block at `pa`), split at both ends by
 * unmapping its first and last 4 KiB: the leaves at each level step the
 * PA by their own size, every page in between still reads its own tag,
 * the removed ends fault.  Then protect one page in the middle.  Each
 * unmap and the protect are probed before the checker runs.
 */
static bool huge_leaf_split(ptmm_vaddr_t va, ptmm_paddr_t pa, uint64_t size)
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
	ptmm_vaddr_t last = va + size - SZ_4K;
	ok = t_map(&kmm.kpt, va, size, pa, kprop(PTMM_PROP_R | PTMM_PROP_W), PTMM_MAP_HUGE) &&
	     expect_leaf(&kmm.kpt, va + SZ_4K, size, pa + SZ_4K) && read_ok(va, tag(pa)) &&
	     done(kmm_unmap(&kmm.kpt, va, SZ_4K), "unmap", va) &&
	     faults(PROBE_READ, va, FAULT_NOT_PRESENT) && read_ok(last, tag(pa + size - SZ_4K)) &&
	     done(kmm_unmap(&kmm.kpt, last, SZ_4K), "unmap", last) &&
	     faults(PROBE_READ, last, FAULT_NOT_PRESENT) &&
	     checked(PTMM_OK, "unmap of both ends", va) &&
	     expect_leaf(&kmm.kpt, va + SZ_4K, SZ_4K, pa + SZ_4K) &&
	     expect_leaf(&kmm.kpt, last - SZ_4K, SZ_4K, pa + size - 2 * SZ_4K);
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
	ptmm_vaddr_t mid = va + size / 2;
	ok = ok && write_ok(mid, 1) &&
	     done(kmm_protect(&kmm.kpt, mid, SZ_4K, kprop(PTMM_PROP_R)), "protect", mid) &&
	     faults(PROBE_WRITE, mid, FAULT_PROTECTION) && write_ok(mid - SZ_4K, 2) &&
	     write_ok(mid + SZ_4K, 3) && read_ok(mid, 1) && checked(PTMM_OK, "protect", mid) &&
	     expect_leaf(&kmm.kpt, mid, SZ_4K, pa + size / 2);
	if (ok && child > SZ_4K)
		ok = expect_leaf(&kmm.kpt, va + child, child, pa + child);
	ok = t_unmap(&kmm.kpt, va, size) && ok;
	return ok;
}

/* 2 MiB leaf over a 2 MiB block of the kernel zone. */
static bool step_huge_2m(void)
{
	ptmm_paddr_t b = alloc_frames(KZONE_KERNEL, 9);
	bool ok = b && huge_leaf_split(T_HUGE2M, b, SZ_2M);
	put_frames(b);
	return ok;
}

/* 1 GiB leaf over the sandbox's GiB, when the table allows 1 GiB leaves. */
static bool step_huge_1g(void)
{
	ptmm_paddr_t g;
	bool ok;

	if (ptmm_page_table_max_leaf_level(&kmm.kpt) < 3 || kmm.sandbox.size < SZ_1G)
		return skip(ptmm_page_table_max_leaf_level(&kmm.kpt) < 3
				    ? (kmm.arch.levels == 3 ? "no 1 GiB leaves in sv39's kernel half"
							    : "no 1 GiB leaves on this CPU")
				    : "no free 1 GiB-aligned GiB of RAM");
	g = alloc_frames(KZONE_SANDBOX, 18);
	ok = g && huge_leaf_split(T_HUGE1G, g, SZ_1G);
	put_frames(g);
	return ok;
}

/* Does [a, a+size) meet [base, base+len)? */
static bool meets(ptmm_paddr_t a, uint64_t size, ptmm_paddr_t base, uint64_t len)
{
	return a < base + len && base < a + size;
}

/*
 * May the direct map hold an untouched leaf over [a, a+size)?  Not where
 * mm_boot carved it for W^X per frame: firmware memory it leaves unmapped
 * (bi->nomap) and the image's text and rodata it made read-only (a
 * protect that splits the leaf around them).
 */
static bool direct_map_block_whole(const struct boot_info *bi, ptmm_paddr_t a, uint64_t size)
{
	for (unsigned i = 0; i < bi->nr_nomap; i++)
		if (meets(a, size, bi->nomap[i].base, bi->nomap[i].size))
			return false;
	return !meets(a, size, bi->text.pa, bi->text.size) &&
	       !meets(a, size, bi->rodata.pa, bi->rodata.size);
}

/*
 * The direct map uses the largest leaves the kernel half allows (one level
 * below the root at most: 2 MiB on Sv39): for the largest leaf size that
 * some aligned block of RAM can hold (outside what W^X per frame carves
 * out), that block's direct-map leaf has exactly that size.
 */
static bool direct_map_leaves_largest(void)
{
	const struct boot_info *bi = arch_boot_info();

	for (unsigned level = ptmm_page_table_max_leaf_level(&kmm.kpt); level >= 1; level--) {
		uint64_t size = SZ_4K << (9 * (level - 1));
		for (unsigned i = 0; i < bi->nr_ram; i++) {
			ptmm_paddr_t end = bi->ram[i].base + bi->ram[i].size;
			ptmm_paddr_t a = (bi->ram[i].base + size - 1) & ~(size - 1);
			for (; a + size > a && a + size <= end; a += size) {
				if (!direct_map_block_whole(bi, a, size))
					continue;
				kprintf("  direct map: %llu KiB leaves (at PA 0x%llx)\n",
					(unsigned long long)(size >> 10), (unsigned long long)a);
				return expect_leaf(&kmm.kpt, DIRECT_MAP_BASE + a, size, a);
			}
		}
	}
	return fail("no RAM block for any leaf size");
}

/*
 * The MMU is in the mode the mm was built for: the hardware's own register
 * (satp.MODE, CR4.LA57) names the mode the kernel chose, with the mm's
 * levels and VA width.  On 5-level modes the test window lies above the
 * 4-level boundary (non-canonical for a 4-level walk): a page mapped there
 * is loaded and stored, and seen through the direct map.  Also: the
 * direct map's leaves are the largest the mode allows.
 */
static bool step_mode(void)
{
	uint64_t reg;
	enum paging_mode hw = arch_paging_readback(&reg);
	ptmm_paddr_t f;
	bool ok;

	kprintf("  MMU register 0x%llx: %s; mm: %s, %u levels, %u-bit VAs, window 0x%llx\n",
		(unsigned long long)reg, paging_mode_name(hw), kmm.arch.name, kmm.arch.levels,
		kmm.arch.va_bits, (unsigned long long)TEST_BASE);
	if (hw != kernel_layout.mode)
		return fail("the MMU is in %s, the kernel chose %s", paging_mode_name(hw),
			    paging_mode_name(kernel_layout.mode));
	if (kmm.arch.levels != paging_mode_levels(hw) || kmm.arch.va_bits != paging_mode_va_bits(hw))
		return fail("the mm's geometry (%u levels, %u bits) is not %s's", kmm.arch.levels,
			    kmm.arch.va_bits, paging_mode_name(hw));
	if (!direct_map_leaves_largest())
		return false;
	if (kmm.arch.levels < 5)
		return true;
	if (T_MODE >= 0xffff800000000000ull)
		return fail("window 0x%llx is not above the 4-level boundary",
			    (unsigned long long)T_MODE);
	f = alloc_frames(KZONE_KERNEL, 0);
	ok = f && t_map(&kmm.kpt, T_MODE, SZ_4K, f, kprop(PTMM_PROP_R | PTMM_PROP_W), 0);
	if (ok) {
		dm64(f)[0] = tag(f);
		ok = read_ok(T_MODE, tag(f)) && write_ok(T_MODE + 8, 0x5757ull);
		if (ok && dm64(f)[1] != 0x5757ull)
			ok = fail("direct map of 0x%llx does not see the store", (unsigned long long)f);
		ok = t_unmap(&kmm.kpt, T_MODE, SZ_4K) && ok;
	}
	put_frames(f);
	return ok;
}

struct step {
	const char *name;
	bool (*run)(void);
};

static const struct step steps[] = {
	{ "mode", step_mode },
	{ "alias", step_alias },
	{ "unmapped", step_unmapped },
	{ "noexec", step_noexec },
	{ "image-wx", step_image_wx },
	{ "direct-map", step_direct_map },
	{ "trap-entry", step_trap_entry },
	{ "cache-type", step_cache_type },
	{ "user", step_user },
	{ "stale-tlb", step_stale },
	{ "flush-range", step_flush_range },
	{ "flush-table", step_flush_table },
	{ "flush-global", step_flush_global },
	{ "noaccess", step_noaccess },
	{ "huge-2m", step_huge_2m },
	{ "huge-1g", step_huge_1g },
	{ "smp-stale-tlb", step_smp_stale },
	{ "smp-cursors", step_smp_cursors },
	{ "smp-release-order", step_smp_release },
};

void selftest_run(void)
{
	uint64_t free_k = ptmm_frame_zone_free_frames(&kmm.ft, KZONE_KERNEL);
	uint64_t free_s = ptmm_frame_zone_free_frames(&kmm.ft, KZONE_SANDBOX);
	struct ptmm_stats st0, st1;

	ptmm_stats(&kmm.kpt, &st0);
	/* Count the mm's flushes from here on (the TLB steps check them). */
	tlb_arch = kmm.arch.tlb;
	kmm.arch.tlb = &tlb_counting;
	kprintf("selftest: %u steps on the MMU, checker after every operation\n",
		ARRAY_LEN(steps));
	for (unsigned i = 0; i < ARRAY_LEN(steps); i++) {
		current_step = steps[i].name;
		skipped_step = false;
		bool ok = steps[i].run();
		nr_skipped += ok && skipped_step;
		kprintf("selftest: %s %s\n", steps[i].name,
			!ok ? "FAIL" : skipped_step ? "skipped" : "ok");
	}
	kmm.arch.tlb = tlb_arch;
	/* Nothing leaked: every frame back, the kernel table as it was. */
	current_step = "no-leaks";
	ptmm_stats(&kmm.kpt, &st1);
	if (ptmm_frame_zone_free_frames(&kmm.ft, KZONE_KERNEL) != free_k ||
	    ptmm_frame_zone_free_frames(&kmm.ft, KZONE_SANDBOX) != free_s)
		fail("free frames: kernel %llu -> %llu, sandbox %llu -> %llu",
		     (unsigned long long)free_k,
		     (unsigned long long)ptmm_frame_zone_free_frames(&kmm.ft, KZONE_KERNEL),
		     (unsigned long long)free_s,
		     (unsigned long long)ptmm_frame_zone_free_frames(&kmm.ft, KZONE_SANDBOX));
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
	kprintf("selftest: %u of %u steps skipped\nRESULT PASS\n", nr_skipped, ARRAY_LEN(steps));
	arch_exit(true);
}
