/*
 * smp.c - x86-64 side of arch_smp_start() and the shootdown IPIs.
 *
 * Bring-up: before kmain (x86_smp_prepare, on the boot table) the CPUs come
 * from the ACPI MADT (acpi.c), the real-mode trampoline (trampoline.S) is
 * copied to X86_TRAMP_PA below 1 MiB and given the boot table's CR3, CR4
 * (PAE, LA57 as the boot CPU) and EFER, the LAPIC page becomes a device
 * window of the boot info (the kernel table maps it uncached) and its 2 MiB
 * of the boot direct map uncached (the APs use it before they switch).
 * arch_smp_start() then starts each AP in turn with INIT-SIPI-SIPI; it runs
 * the trampoline into x86_ap_main on its own stack, loads its GDT, TSS and
 * the IDT, enables its LAPIC, joins the shootdown set, switches to the
 * kernel table and idles with interrupts on, serving arch_cpu_call.
 *
 * Per-CPU state: struct x86_percpu (x86.h), x86_cpus[index], reached
 * through the GS base; the stack of AP i is ap_stacks[i - 1].
 *
 * Shootdown: each CPU has one outgoing request (req: the range and a
 * pending mask of the CPUs that have not flushed yet) and an inbox (a mask
 * of the CPUs whose request waits for it).  The initiator publishes its
 * request, sets its bit in every target's inbox, sends each target the IPI
 * and spins until pending is 0, with interrupts ON: an IPI arriving
 * meanwhile is served by the handler, so two CPUs shooting at each other
 * both finish.  The handler drains the inbox, flushes locally for each
 * request and clears its bit in that request's pending mask.
 */
#include "kernel/arch.h"
#include "kernel/kprintf.h"
#include "kernel/mm_boot.h"
#include "kernel/string.h"
#include "x86.h"

/* Where the trampoline runs (trampoline.S defines it: an absolute symbol). */
extern const char x86_tramp_pa[];
#define X86_TRAMP_PA ((uint64_t)(uintptr_t)x86_tramp_pa)
#define PAGE 4096ull
#define SZ_2M (2ull << 20)
#define AP_STACK_SIZE 16384
#define MSR_APIC_BASE 0x1bu
#define APIC_BASE_ENABLE (1ull << 11)
#define APIC_BASE_MASK 0x000ffffffffff000ull
#define ICR_FIXED 0x00004000u   /* delivery mode fixed, level assert */
#define ICR_INIT 0x00004500u    /* delivery mode INIT, level assert */
#define ICR_STARTUP 0x00004600u /* delivery mode start-up, level assert */
#define CPUID1_EDX_APIC (1u << 9)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define CR4_PAE (1u << 5)
#define CR4_LA57 (1u << 12)
#define EFER_LME (1u << 8)
#define EFER_NXE (1u << 11)
/* How long the boot CPU waits for a started AP to say it is online (1 ms steps). */
#define ONLINE_WAIT_MS 3000

/* The data block at the end of the trampoline (trampoline.S). */
struct x86_tramp_data {
	uint32_t cr3, cr4, efer, pad;
	uint64_t entry;
};

extern const char x86_tramp_start[], x86_tramp_end[], x86_tramp_data[];
extern uint64_t x86_boot_pd_dm[];
extern uint32_t x86_la57_on;
extern const char x86_ap_entry64[];
extern const struct ptmm_tlb_ops x86_tlb_ops;
void x86_ap_main(uint64_t cpu);

struct x86_percpu x86_cpus[X86_MAX_CPUS];
static uint8_t ap_stacks[X86_MAX_CPUS - 1][AP_STACK_SIZE] __attribute__((aligned(16)));
/* The next AP's stack top and index (entry.S x86_ap_entry64 reads them). */
uint64_t x86_ap_boot_stack, x86_ap_boot_cpu;

static uint32_t apic_ids[X86_MAX_CPUS]; /* the MADT's enabled CPUs */
static unsigned nr_apic_ids, nr_madt_enabled; /* the first X86_MAX_CPUS of how many */
static uint32_t boot_apic_id;
static uint64_t lapic_pa;
static const char *smp_off; /* why no AP is started; NULL: they are */
static unsigned nr_online = 1;

/* True if [pa, pa+len) lies inside one of the boot info's other_ram ranges. */
static bool in_low_ram(const struct boot_info *b, uint64_t pa, uint64_t len)
{
	for (unsigned i = 0; i < b->nr_other_ram; i++)
		if (pa >= b->other_ram[i].base && pa + len <= b->other_ram[i].base + b->other_ram[i].size)
			return true;
	return false;
}

/*
 * Copies the trampoline to X86_TRAMP_PA (through the boot direct map) and
 * fills its data block: the boot table's root (below 4 GiB: the image's
 * .bss), CR4.PAE (+ LA57 when entry.S turned it on), EFER.LME (+ NXE).
 */
static void tramp_install(void)
{
	uint8_t *dst = (uint8_t *)(uintptr_t)(DIRECT_MAP_BASE + X86_TRAMP_PA);
	size_t size = (size_t)(x86_tramp_end - x86_tramp_start);
	struct x86_tramp_data *d = (void *)(dst + (x86_tramp_data - x86_tramp_start));

	memcpy(dst, x86_tramp_start, size);
	d->cr3 = (uint32_t)x86_read_cr3();
	d->cr4 = CR4_PAE | (x86_la57_on ? CR4_LA57 : 0);
	d->efer = EFER_LME | (x86_cpu.nx ? EFER_NXE : 0);
	d->entry = (uint64_t)(uintptr_t)x86_ap_entry64;
}

void x86_smp_prepare(uint64_t rsdp_pa)
{
	struct boot_info *b = x86_boot_info_mut();
	uint64_t madt_lapic = 0, base;

	smp_off = "no APIC (CPUID.1:EDX[9])";
	if (!(x86_cpuid(1, 0).edx & CPUID1_EDX_APIC))
		return;
	boot_apic_id = x86_cpuid(1, 0).ebx >> 24;
	base = x86_rdmsr(MSR_APIC_BASE);
	lapic_pa = base & APIC_BASE_MASK;
	smp_off = "the LAPIC is disabled or above 4 GiB (IA32_APIC_BASE)";
	if (!(base & APIC_BASE_ENABLE) || lapic_pa >= (4ull << 30))
		return;
	nr_apic_ids = x86_madt_cpus(rsdp_pa, apic_ids, X86_MAX_CPUS, &nr_madt_enabled, &madt_lapic);
	smp_off = "no ACPI MADT";
	if (nr_apic_ids == 0)
		return;
	/* The MSR is where this CPU's LAPIC is; a MADT saying otherwise is not trusted. */
	smp_off = "the MADT's LAPIC address is not IA32_APIC_BASE's";
	if (madt_lapic != lapic_pa)
		return;
	smp_off = "the trampoline page is not RAM below 1 MiB";
	if ((x86_tramp_end - x86_tramp_start) > (long)PAGE || !in_low_ram(b, X86_TRAMP_PA, PAGE) ||
	    (x86_read_cr3() >> 32) != 0)
		return;
	smp_off = "no room for the LAPIC window in the boot info";
	if (b->nr_mmio >= BOOT_MAX_RANGES)
		return;
	b->mmio[b->nr_mmio].base = lapic_pa;
	b->mmio[b->nr_mmio].size = PAGE;
	b->nr_mmio++;
	/* The APs' boot-table alias of the LAPIC (its 2 MiB holds nothing but MMIO): uncached. */
	x86_boot_pd_dm[lapic_pa / SZ_2M] |= PTE_PCD | PTE_PWT;
	x86_invlpg(DIRECT_MAP_BASE + (lapic_pa & ~(SZ_2M - 1)));
	tramp_install();
	smp_off = 0;
}

/* The LAPIC through the kernel table's MMIO window. */
static volatile uint32_t *lapic_mmio(void)
{
	return (volatile uint32_t *)(uintptr_t)(MMIO_MAP_BASE + lapic_pa);
}

/* The LAPIC through the boot table's uncached alias (an AP before it switches). */
static volatile uint32_t *lapic_boot_alias(void)
{
	return (volatile uint32_t *)(uintptr_t)(DIRECT_MAP_BASE + lapic_pa);
}

/* The IPI to CPU `cpu` (its inbox or mailbox has something for it). */
static void ipi_send(unsigned cpu)
{
	x86_lapic_send(x86_cpus[cpu].apic_id, ICR_FIXED | X86_VEC_IPI);
}

/*
 * The IPI handler (idt.c, interrupts off): every request in this CPU's
 * inbox is flushed locally and acknowledged (its bit cleared in the
 * initiator's pending mask, release), then EOI.  An IPI sent after the
 * inbox was drained stays pending in the LAPIC and comes again after EOI.
 */
void x86_smp_ipi(void)
{
	struct x86_percpu *me = x86_this();
	uint32_t bits = __atomic_exchange_n(&me->tlb_inbox, 0, __ATOMIC_ACQUIRE);

	while (bits) {
		unsigned from = (unsigned)__builtin_ctz(bits);
		struct x86_percpu *c = &x86_cpus[from];

		bits &= bits - 1;
		x86_local_flush(c->req.va, c->req.len);
		__atomic_fetch_and(&c->req.pending, ~(1u << me->index), __ATOMIC_RELEASE);
	}
	x86_lapic_eoi();
}

/*
 * The remote half of a shootdown (tlb.c, after the local flush): every
 * other CPU in the shootdown set flushes [va, va+len) (len
 * X86_FLUSH_EVERYTHING: everything) before this returns, so the mm's
 * release after the hook is after every CPU flushed.  The fence orders the
 * caller's PTE stores before the reads of the set ("write PTE, read set"
 * against an AP's "join set, then walk").  The wait is with interrupts on
 * (asserted), serving the shootdowns other CPUs send meanwhile.
 */
void x86_smp_shootdown(uint64_t va, uint64_t len)
{
	struct x86_percpu *me = x86_this();
	uint32_t mask = 0;

	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < X86_MAX_CPUS; i++)
		if (i != me->index && __atomic_load_n(&x86_cpus[i].online, __ATOMIC_SEQ_CST))
			mask |= 1u << i;
	if (!mask)
		return;
	PTMM_ASSERT(x86_irqs_enabled());
	me->req.va = va;
	me->req.len = len;
	__atomic_store_n(&me->req.pending, mask, __ATOMIC_RELEASE);
	for (uint32_t m = mask; m; m &= m - 1) {
		unsigned t = (unsigned)__builtin_ctz(m);
		__atomic_fetch_or(&x86_cpus[t].tlb_inbox, 1u << me->index, __ATOMIC_RELEASE);
		ipi_send(t);
	}
	while (__atomic_load_n(&me->req.pending, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
}

unsigned arch_cpus_online(void)
{
	return __atomic_load_n(&nr_online, __ATOMIC_ACQUIRE);
}

unsigned arch_this_cpu(void)
{
	return (unsigned)x86_this()->index;
}

void arch_cpu_call_start(unsigned cpu, void (*fn)(void *), void *arg)
{
	struct x86_percpu *c = &x86_cpus[cpu];

	PTMM_ASSERT(arch_this_cpu() == 0 && cpu > 0 && cpu < arch_cpus_online() && fn);
	PTMM_ASSERT(!__atomic_load_n(&c->call_fn, __ATOMIC_ACQUIRE));
	c->call_arg = arg;
	__atomic_store_n(&c->call_fn, fn, __ATOMIC_RELEASE);
	ipi_send(cpu);
}

/* Spins with interrupts on (asserted) until the target emptied its mailbox, serving shootdowns. */
void arch_cpu_call_wait(unsigned cpu)
{
	PTMM_ASSERT(cpu > 0 && cpu < arch_cpus_online() && x86_irqs_enabled());
	while (__atomic_load_n(&x86_cpus[cpu].call_fn, __ATOMIC_ACQUIRE))
		__builtin_ia32_pause();
}

void arch_cpu_call(unsigned cpu, void (*fn)(void *), void *arg)
{
	arch_cpu_call_start(cpu, fn, arg);
	arch_cpu_call_wait(cpu);
}

/*
 * An AP's idle loop: with interrupts off, look at the mailbox; empty:
 * `sti; hlt` (the IPI cannot slip in between: sti takes effect after hlt
 * began, so a pending IPI wakes it); a call: run it with interrupts on
 * (shootdowns are served while it runs), then empty the mailbox (release).
 */
static __attribute__((noreturn)) void ap_idle(struct x86_percpu *me)
{
	for (;;) {
		void (*fn)(void *);

		__asm__ volatile("cli" ::: "memory");
		fn = __atomic_load_n(&me->call_fn, __ATOMIC_ACQUIRE);
		if (!fn) {
			__asm__ volatile("sti; hlt" ::: "memory");
			continue;
		}
		__asm__ volatile("sti" ::: "memory");
		fn(me->call_arg);
		__atomic_store_n(&me->call_fn, (void (*)(void *))0, __ATOMIC_RELEASE);
	}
}

/*
 * The AP's C entry (entry.S), on the boot table at the high VA, its own
 * stack, interrupts off: its descriptor tables and GS base, no user
 * access, the CPU features as on the boot CPU, its LAPIC (through the
 * boot table's uncached alias) so that it accepts the IPI, then into the
 * shootdown set, then the kernel table, then the idle loop.
 *
 * Order: `online` is published (seq_cst) BEFORE CR3 is switched.  A CPU
 * changing the kernel table writes the PTE, then reads the set (the fence
 * in x86_smp_shootdown); this AP adds itself, then walks.  Either the
 * writer sees it and IPIs it (the IPI waits in the LAPIC until the idle
 * loop's sti), or its store to `online` came after the writer's read, so
 * the PTE store is visible before this AP's CR3 write and its first walk.
 */
void x86_ap_main(uint64_t cpu)
{
	struct x86_percpu *me = &x86_cpus[cpu];

	x86_cpu_tables_init(me);
	x86_write_rflags(x86_read_rflags() & ~X86_RFLAGS_AC);
	x86_cpu_enable();
	x86_lapic_enable(lapic_boot_alias());
	__atomic_store_n(&me->online, 1, __ATOMIC_SEQ_CST);
	x86_tlb_ops.activate(x86_tlb_ops.ctx, kmm.kpt.root);
	/* Release: the boot CPU waits for this, then calls it. */
	__atomic_store_n(&me->root, kmm.kpt.root, __ATOMIC_RELEASE);
	ap_idle(me);
}

/*
 * Starts the AP with APIC id `apic_id` as CPU `cpu`: INIT, 10 ms, SIPI,
 * 200 us, SIPI (the MP protocol; a SIPI to a CPU past wait-for-SIPI is
 * ignored).  1 once it is online on the kernel table, -1 if it did not
 * come online in time (it may still run later on index `cpu`'s stack, so
 * the caller starts no more).
 */
static int start_one(uint32_t apic_id, unsigned cpu)
{
	struct x86_percpu *c = &x86_cpus[cpu];

	c->index = cpu;
	c->apic_id = apic_id;
	__atomic_store_n(&c->online, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&c->root, 0, __ATOMIC_RELAXED);
	x86_ap_boot_stack = (uint64_t)(uintptr_t)(ap_stacks[cpu - 1] + AP_STACK_SIZE);
	x86_ap_boot_cpu = cpu;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	x86_lapic_send(apic_id, ICR_INIT);
	x86_delay_us(10000);
	for (unsigned i = 0; i < 2; i++) {
		x86_lapic_send(apic_id, ICR_STARTUP | (uint32_t)(X86_TRAMP_PA >> 12));
		x86_delay_us(200);
	}
	for (unsigned ms = 0; ms < ONLINE_WAIT_MS; ms++) {
		uint64_t root = __atomic_load_n(&c->root, __ATOMIC_ACQUIRE);
		if (root)
			return root == kmm.kpt.root ? 1 : -1;
		x86_delay_us(1000);
	}
	kprintf("apic: APIC id %u: not online after INIT-SIPI-SIPI\n", apic_id);
	return -1;
}

/*
 * The boot CPU: the legacy PICs masked, its LAPIC enabled, each AP the
 * MADT lists started in turn (at most X86_MAX_CPUS in all), then
 * interrupts on for good (only IPIs can arrive).
 */
unsigned arch_smp_start(void)
{
	struct x86_percpu *me = &x86_cpus[0];
	unsigned online = 1;

	me->apic_id = boot_apic_id;
	me->root = kmm.kpt.root;
	me->online = 1;
	x86_pic_mask_all();
	if (smp_off) {
		kprintf("apic: no AP started: %s\n", smp_off);
		__asm__ volatile("sti" ::: "memory");
		return 1;
	}
	kprintf("apic: xAPIC at 0x%llx, MADT: %u enabled CPUs (up to %u started), "
		"trampoline at 0x%llx\n", (unsigned long long)lapic_pa, nr_madt_enabled,
		X86_MAX_CPUS, (unsigned long long)X86_TRAMP_PA);
	x86_lapic_set_base(lapic_mmio());
	x86_lapic_enable(lapic_mmio());
	for (unsigned i = 0; i < nr_apic_ids && online < X86_MAX_CPUS; i++) {
		if (apic_ids[i] == boot_apic_id)
			continue;
		if (start_one(apic_ids[i], online) < 0)
			break;
		online++;
	}
	__atomic_store_n(&nr_online, online, __ATOMIC_RELEASE);
	__asm__ volatile("sti" ::: "memory");
	return online;
}

/* Interrupts off holds the shootdown IPI in the LAPIC (kernel/arch.h). */
void arch_shootdown_hold(bool hold)
{
	if (hold)
		__asm__ volatile("cli" ::: "memory");
	else
		__asm__ volatile("sti" ::: "memory");
}
