/*
 * smp.c - RISC-V side of arch_smp_start(): every hart the device tree lists
 * (/cpus/cpu@N/reg, recorded by boot.c) other than the boot hart is started
 * with SBI HSM hart_start at riscv_secondary_entry (entry.S), each with its
 * own stack and per-CPU record; it switches to the boot table, then to the
 * mm's kernel table, installs the trap vector, says it is online and idles.
 *
 * Per-CPU state (struct riscv_cpu, indexed by tp = the CPU index, 0 the
 * boot hart): hart id, the root of the table it runs on, its online flag
 * (a member of the shootdown set) and the arch_cpu_call mailbox; its stack
 * is secondary_stacks[index - 1] (entry.S).  The TLB inbox is OpenSBI's
 * (riscv_smp_remote_sfence): tlb.c's hooks fence locally and then on every
 * other online hart, which all run on the kernel table (docs/BOOT.md, SMP).
 */
#include "kernel/arch.h"
#include "kernel/kprintf.h"
#include "kernel/mm_boot.h"
#include "riscv.h"

#define SBI_EXT_HSM 0x48534dul
#define SBI_HSM_HART_START 0
/* How long the boot hart waits for a started hart to say it is online. */
#define ONLINE_SPINS 200000000ull

struct riscv_cpu {
	uint64_t hartid;
	uint64_t root;      /* atomic: PA of the table it runs on, 0 until then */
	unsigned online;    /* atomic: 1 = in the shootdown set (before it walks the table) */
	/* arch_cpu_call's mailbox: fn (atomic, NULL when idle) and its arg. */
	void (*call_fn)(void *);
	void *call_arg;
};
static unsigned nr_online = 1;

#define SBI_EXT_IPI 0x735049ul
#define SBI_IPI_SEND 0
#define SIP_SSIP 2ul
#define SBI_EXT_RFENCE 0x52464e43ul
#define SBI_RFENCE_SFENCE_VMA 1

static uint64_t harts[RISCV_MAX_HARTS];
static unsigned nr_harts;
static uint64_t boot_hartid;
static struct riscv_cpu cpus[RISCV_MAX_HARTS];
uint64_t riscv_secondary_satp;

void riscv_smp_add_hart(uint64_t hartid)
{
	/* The SBI hart masks used here have base 0: harts 0..63 only. */
	if (hartid >= 64)
		return;
	for (unsigned i = 0; i < nr_harts; i++)
		if (harts[i] == hartid)
			return;
	if (nr_harts < RISCV_MAX_HARTS)
		harts[nr_harts++] = hartid;
}

void riscv_smp_set_boot_hart(uint64_t hartid)
{
	boot_hartid = hartid;
	__asm__ volatile("mv tp, %0" : : "r"(0ul));
}

/* This CPU's index (tp: 0 on the boot hart, set by riscv_secondary_main on the others). */
unsigned riscv_this_cpu(void)
{
	uint64_t tp;
	__asm__ volatile("mv %0, tp" : "=r"(tp));
	return (unsigned)tp;
}

/*
 * Bit h set for every online hart h (< 64) other than this one: where a
 * kernel table may be live besides here (every online CPU runs on it).
 */
static uint64_t others_mask(void)
{
	uint64_t mask = 0;
	unsigned me = riscv_this_cpu();

	for (unsigned i = 0; i < RISCV_MAX_HARTS; i++)
		if (i != me && __atomic_load_n(&cpus[i].online, __ATOMIC_ACQUIRE) &&
		    cpus[i].hartid < 64)
			mask |= 1ull << cpus[i].hartid;
	return mask;
}

/*
 * The remote half of a shootdown: SBI RFENCE remote sfence.vma of
 * [va, va+size) (size ~0: everything) on every other online hart.  OpenSBI
 * runs it in M-mode: it IPIs the targets and returns only once each has
 * fenced (its tlb_sync), and a target serves the request in M-mode
 * whatever its S-mode interrupt state, so two harts shooting at once do
 * not deadlock.  The ecall orders this hart's PTE stores before the
 * request (OpenSBI fences before its IPI).  Fatal if SBI refuses: a
 * translation might survive a release.
 */
void riscv_smp_remote_sfence(uint64_t va, uint64_t size)
{
	uint64_t mask = others_mask();

	if (!mask)
		return;
	register uint64_t a0 __asm__("a0") = mask;
	register uint64_t a1 __asm__("a1") = 0; /* hart_mask_base */
	register uint64_t a2 __asm__("a2") = va;
	register uint64_t a3 __asm__("a3") = size;
	register uint64_t a6 __asm__("a6") = SBI_RFENCE_SFENCE_VMA;
	register uint64_t a7 __asm__("a7") = SBI_EXT_RFENCE;
	__asm__ volatile("fence rw, rw\n\tecall"
			 : "+r"(a0), "+r"(a1)
			 : "r"(a2), "r"(a3), "r"(a6), "r"(a7)
			 : "memory");
	PTMM_ASSERT(a0 == 0);
}

/* SBI HSM hart_start(hartid, start PA, opaque); the SBI error (0 = started). */
static long sbi_hart_start(uint64_t hartid, uint64_t start_pa, uint64_t opaque)
{
	register uint64_t a0 __asm__("a0") = hartid;
	register uint64_t a1 __asm__("a1") = start_pa;
	register uint64_t a2 __asm__("a2") = opaque;
	register uint64_t a6 __asm__("a6") = SBI_HSM_HART_START;
	register uint64_t a7 __asm__("a7") = SBI_EXT_HSM;
	__asm__ volatile("ecall" : "+r"(a0), "+r"(a1) : "r"(a2), "r"(a6), "r"(a7) : "memory");
	return (long)a0;
}

/* SBI IPI: sets sip.SSIP on the harts of `mask` (base 0). */
static void sbi_send_ipi(uint64_t mask)
{
	register uint64_t a0 __asm__("a0") = mask;
	register uint64_t a1 __asm__("a1") = 0;
	register uint64_t a6 __asm__("a6") = SBI_IPI_SEND;
	register uint64_t a7 __asm__("a7") = SBI_EXT_IPI;
	__asm__ volatile("ecall" : "+r"(a0), "+r"(a1) : "r"(a6), "r"(a7) : "memory");
	PTMM_ASSERT(a0 == 0);
}

/*
 * One turn of a secondary's idle loop: clear the IPI, run the mailbox's
 * call if there is one (then empty it, release), else wfi.  SSIP is
 * cleared before the mailbox is read, so an IPI sent after that read is
 * still pending at wfi and wakes it.
 */
static void serve_calls(struct riscv_cpu *me)
{
	void (*fn)(void *);

	__asm__ volatile("csrc sip, %0" : : "r"(SIP_SSIP) : "memory");
	fn = __atomic_load_n(&me->call_fn, __ATOMIC_ACQUIRE);
	if (!fn) {
		__asm__ volatile("wfi" : : : "memory");
		return;
	}
	fn(me->call_arg);
	__atomic_store_n(&me->call_fn, (void (*)(void *))0, __ATOMIC_RELEASE);
}

unsigned arch_cpus_online(void)
{
	return nr_online;
}

void arch_cpu_call_start(unsigned cpu, void (*fn)(void *), void *arg)
{
	struct riscv_cpu *c = &cpus[cpu];

	PTMM_ASSERT(riscv_this_cpu() == 0 && cpu > 0 && cpu < nr_online && fn);
	PTMM_ASSERT(!__atomic_load_n(&c->call_fn, __ATOMIC_ACQUIRE));
	c->call_arg = arg;
	__atomic_store_n(&c->call_fn, fn, __ATOMIC_RELEASE);
	sbi_send_ipi(1ull << c->hartid);
}

/*
 * Spins (this hart's S-mode interrupts off) until the target emptied its
 * mailbox; a shootdown the target sends meanwhile is served in M-mode.
 */
void arch_cpu_call_wait(unsigned cpu)
{
	PTMM_ASSERT(cpu > 0 && cpu < nr_online);
	while (__atomic_load_n(&cpus[cpu].call_fn, __ATOMIC_ACQUIRE))
		;
}

void arch_cpu_call(unsigned cpu, void (*fn)(void *), void *arg)
{
	arch_cpu_call_start(cpu, fn, arg);
	arch_cpu_call_wait(cpu);
}

unsigned arch_this_cpu(void)
{
	return riscv_this_cpu();
}

/*
 * The secondary's C entry (entry.S), on the boot table at the high VA with
 * its own stack: no user access, the trap vector, then into the shootdown
 * set, then the kernel table (the boot table maps only the image and the
 * first 4 GiB), then the idle loop serving arch_cpu_call.
 *
 * Order: `online` is published (seq_cst) BEFORE satp is switched and
 * fenced.  A CPU changing the kernel table writes the PTE, then reads the
 * set (the RFENCE's fence orders them); this hart adds itself, then walks.
 * Either the writer sees it in the set and fences it, or its store to
 * `online` came after the writer's read, so the PTE store is visible
 * before this hart's sfence.vma + satp switch and its first walk.
 */
void riscv_secondary_main(uint64_t hartid, uint64_t cpu)
{
	struct riscv_cpu *me = &cpus[cpu];

	PTMM_ASSERT(cpu > 0 && cpu < RISCV_MAX_HARTS && me->hartid == hartid);
	__asm__ volatile("mv tp, %0" : : "r"(cpu));
	arch_user_access(false);
	riscv_trap_init();
	/* The software interrupt (SBI IPI) wakes wfi; sstatus.SIE stays 0, so no trap. */
	__asm__ volatile("csrs sie, %0" : : "r"(SIP_SSIP));
	__atomic_store_n(&me->online, 1, __ATOMIC_SEQ_CST);
	riscv_tlb_ops.activate(riscv_tlb_ops.ctx, kmm.kpt.root);
	/* Release: the boot hart waits for this, then calls it. */
	__atomic_store_n(&me->root, kmm.kpt.root, __ATOMIC_RELEASE);
	for (;;)
		serve_calls(me);
}

/* The PA of a kernel text symbol (linker.ld: PA = VA - 0xffffffff00000000). */
static uint64_t image_pa(const void *va)
{
	return (uint64_t)(uintptr_t)va - 0xffffffff00000000ull;
}

/*
 * Starts hart `hartid` as CPU index `cpu`: 1 once it is online on the
 * kernel table, 0 if SBI refused (nothing started), -1 if it did not come
 * online in time (it may still run later on index `cpu`'s stack, so the
 * caller starts no more).
 */
static int start_one(uint64_t hartid, unsigned cpu)
{
	long err;

	cpus[cpu].hartid = hartid;
	__atomic_store_n(&cpus[cpu].online, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&cpus[cpu].root, 0, __ATOMIC_RELAXED);
	err = sbi_hart_start(hartid, image_pa((const void *)riscv_secondary_entry), cpu);
	if (err) {
		kprintf("smp: hart %llu: SBI hart_start error %ld\n", (unsigned long long)hartid, err);
		return 0;
	}
	for (uint64_t i = 0; i < ONLINE_SPINS; i++)
		if (__atomic_load_n(&cpus[cpu].root, __ATOMIC_ACQUIRE))
			return cpus[cpu].root == kmm.kpt.root ? 1 : -1;
	kprintf("smp: hart %llu: not online after hart_start\n", (unsigned long long)hartid);
	return -1;
}

unsigned arch_smp_start(void)
{
	unsigned online = 1;

	riscv_secondary_satp = riscv_paging.satp;
	cpus[0].hartid = boot_hartid;
	cpus[0].root = kmm.kpt.root;
	cpus[0].online = 1;
	for (unsigned i = 0; i < nr_harts; i++) {
		if (harts[i] == boot_hartid)
			continue;
		int r = start_one(harts[i], online);
		if (r < 0)
			break;
		online += (unsigned)r;
	}
	nr_online = online;
	return online;
}

/*
 * Nothing to hold: OpenSBI serves a remote fence in M-mode whatever this
 * hart's S-mode interrupt state (kernel/arch.h).
 */
void arch_shootdown_hold(bool hold)
{
	(void)hold;
}
