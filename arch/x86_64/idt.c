/*
 * idt.c - the IDT (vectors 0..31, the IPI and the LAPIC's spurious vector,
 * shared by every CPU: it only names handlers), each CPU's GDT and TSS
 * with an IST stack for #DF (struct x86_percpu), the trap handler, and
 * arch_probe() (its state per CPU).
 *
 * Policy: a page fault raised by an armed probe resumes the probe; every
 * other exception (including a #DF, which runs on its own stack so a
 * broken kernel stack still gets reported) prints vector, error code, RIP,
 * CR2 and exits QEMU with failure.  Nothing is left to a silent triple
 * fault, which QEMU would report as exit status 0.
 */
#include "kernel/arch.h"
#include "x86.h"

#define KERNEL_CS 0x08
#define TSS_SEL 0x18
#define VEC_DF 8
#define VEC_PF 14
#define PF_ERR_P (1u << 0)
#define PF_ERR_W (1u << 1)
#define PF_ERR_ID (1u << 4)
#define IST_DF 1

struct trap_frame {
	uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
	uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
	uint64_t vector, error;
	uint64_t rip, cs, rflags, rsp, ss;
};

struct idt_gate {
	uint16_t off_lo;
	uint16_t sel;
	uint8_t ist;
	uint8_t type_attr;
	uint16_t off_mid;
	uint32_t off_hi;
	uint32_t zero;
} __attribute__((packed));

struct desc_ptr {
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

extern const uint64_t x86_trap_stubs[32];
extern const char x86_trap_stub_ipi[], x86_trap_stub_spurious[];
extern uint64_t x86_gdt[5];
extern const char x86_probe_text_start[], x86_probe_text_end[];
extern const char x86_probe_fault[];
extern const char x86_probe_read_access[], x86_probe_write_access[];
int x86_probe_read(ptmm_vaddr_t va, uint64_t *out);
int x86_probe_write(ptmm_vaddr_t va, const uint64_t *in);
int x86_probe_exec(ptmm_vaddr_t va);
void x86_trap(struct trap_frame *tf);

static struct idt_gate idt[256] __attribute__((aligned(16)));

/* Minimal output for the trap path: it must not depend on the kernel's printf. */
static void trap_puts(const char *s)
{
	while (*s)
		arch_putc(*s++);
}

static void trap_puthex(uint64_t v)
{
	trap_puts("0x");
	for (int shift = 60; shift >= 0; shift -= 4)
		arch_putc("0123456789abcdef"[(v >> shift) & 0xf]);
}

/* Interrupt gate (interrupts off on entry), DPL 0, kernel code segment. */
static void idt_set(unsigned vec, uint64_t handler, uint8_t ist)
{
	idt[vec].off_lo = (uint16_t)handler;
	idt[vec].sel = KERNEL_CS;
	idt[vec].ist = ist;
	idt[vec].type_attr = 0x8e;
	idt[vec].off_mid = (uint16_t)(handler >> 16);
	idt[vec].off_hi = (uint32_t)(handler >> 32);
	idt[vec].zero = 0;
}

/*
 * This CPU's descriptor tables from its record `c` (c->index set): the GS
 * base = c (x86_this, %gs:N in trap.S), c->gdt = the boot GDT's null, code
 * and data entries plus a 16-byte available-TSS descriptor for c->tss
 * (#DF on IST1 = c->df_stack), loaded with lgdt and ltr (the selectors
 * 0x08 / 0x10 stay as they are), then the shared IDT.
 */
void x86_cpu_tables_init(struct x86_percpu *c)
{
	uint64_t base = (uint64_t)&c->tss;
	uint64_t limit = sizeof(c->tss) - 1;
	struct desc_ptr g, p;

	c->self = c;
	x86_wrmsr(X86_MSR_GS_BASE, (uint64_t)c);
	c->tss.ist[IST_DF - 1] = (uint64_t)(c->df_stack + sizeof(c->df_stack));
	c->tss.iomap_base = sizeof(c->tss); /* no I/O bitmap */
	for (unsigned i = 0; i < 3; i++)
		c->gdt[i] = x86_gdt[i];
	c->gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
		    (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
	c->gdt[4] = base >> 32;
	g.limit = sizeof(c->gdt) - 1;
	g.base = (uint64_t)c->gdt;
	__asm__ volatile("lgdt %0" : : "m"(g) : "memory");
	__asm__ volatile("ltr %w0" : : "r"(TSS_SEL) : "memory");
	p.limit = sizeof(idt) - 1;
	p.base = (uint64_t)idt;
	__asm__ volatile("lidt %0" : : "m"(p) : "memory");
}

/*
 * The boot CPU's traps: the IDT's gates (the 32 exceptions, #DF on IST1;
 * the IPI; the spurious vector), then its tables from x86_cpus[0].
 */
void x86_trap_init(void)
{
	for (unsigned vec = 0; vec < 32; vec++)
		idt_set(vec, x86_trap_stubs[vec], vec == VEC_DF ? IST_DF : 0);
	idt_set(X86_VEC_IPI, (uint64_t)x86_trap_stub_ipi, 0);
	idt_set(X86_VEC_SPURIOUS, (uint64_t)x86_trap_stub_spurious, 0);
	x86_cpus[0].index = 0;
	x86_cpu_tables_init(&x86_cpus[0]);
}

/*
 * True if `tf` is a page fault raised by the armed probe: RIP inside the
 * probe helpers, or (exec probe) RIP at the probed VA itself.
 */
static bool fault_is_probe(const struct x86_percpu *me, const struct trap_frame *tf)
{
	if (!me->probe_armed || tf->vector != VEC_PF)
		return false;
	if (tf->rip >= (uint64_t)x86_probe_text_start && tf->rip < (uint64_t)x86_probe_text_end)
		return true;
	return me->probe_kind == PROBE_EXEC && tf->rip == me->probe_va;
}

/* Error-code bit 4 (instruction fetch) -> exec, bit 1 (write) -> write, else read. */
static enum probe_kind fault_kind(uint64_t error)
{
	if (error & PF_ERR_ID)
		return PROBE_EXEC;
	if (error & PF_ERR_W)
		return PROBE_WRITE;
	return PROBE_READ;
}

/* Report an exception nobody expected and leave QEMU with failure. */
static __attribute__((noreturn)) void trap_fatal(const struct trap_frame *tf)
{
	trap_puts(tf->vector == VEC_DF ? "\nFATAL: double fault" : "\nFATAL: exception");
	trap_puts(" vector ");
	trap_puthex(tf->vector);
	trap_puts(" error ");
	trap_puthex(tf->error);
	trap_puts(" rip ");
	trap_puthex(tf->rip);
	trap_puts(" cr2 ");
	trap_puthex(x86_read_cr2());
	trap_puts(" cpu ");
	trap_puthex(x86_this()->index);
	trap_puts("\nRESULT FAIL\n");
	arch_exit(false);
}

/*
 * Called by trap.S for every exception and interrupt: the IPI is served
 * (smp.c) and returns, the spurious vector returns (no EOI for it), a
 * probe's page fault resumes the probe; anything else is fatal.
 */
void x86_trap(struct trap_frame *tf)
{
	struct x86_percpu *me = x86_this();

	if (tf->vector == X86_VEC_IPI) {
		x86_smp_ipi();
		return;
	}
	if (tf->vector == X86_VEC_SPURIOUS)
		return;
	if (!fault_is_probe(me, tf))
		trap_fatal(tf);
	if (me->probe_fault) {
		me->probe_fault->kind = fault_kind(tf->error);
		me->probe_fault->addr = x86_read_cr2();
		me->probe_fault->pc = tf->rip;
		me->probe_fault->cause = tf->error;
		/* trap.S cleared AC on entry; the interrupted RFLAGS (tf->rflags) keep theirs. */
		me->probe_fault->user_access = (x86_read_rflags() & X86_RFLAGS_AC) != 0;
	}
	me->probe_armed = false;
	tf->rip = (uint64_t)x86_probe_fault;
	tf->rsp = me->probe_sp;
}

/* One access of `kind` at `va` with recovery armed; see kernel/arch.h. */
bool arch_probe(enum probe_kind kind, ptmm_vaddr_t va, uint64_t *value, struct fault_info *f)
{
	struct x86_percpu *me = x86_this();
	struct fault_info scratch;
	int faulted;

	me->probe_kind = kind;
	me->probe_va = va;
	me->probe_fault = f ? f : &scratch;
	me->probe_armed = true;
	__asm__ volatile("" ::: "memory");
	if (kind == PROBE_READ)
		faulted = x86_probe_read(va, value);
	else if (kind == PROBE_WRITE)
		faulted = x86_probe_write(va, value);
	else
		faulted = x86_probe_exec(va);
	__asm__ volatile("" ::: "memory");
	me->probe_armed = false;
	return faulted != 0;
}

/*
 * The error code of a supervisor page fault (kernel/arch.h): P for a
 * protection fault, W for a store, I/D for a fetch when the CPU reports
 * fetches (EFER.NXE or CR4.SMEP on); U/S, RSVD, PK, SS and SGX stay 0.
 */
uint64_t arch_fault_cause(enum probe_kind kind, enum fault_reason reason)
{
	bool fetch_reported = (x86_rdmsr(X86_MSR_EFER) & X86_EFER_NXE) ||
			      (x86_read_cr4() & X86_CR4_SMEP);
	uint64_t error = 0;

	if (reason == FAULT_PROTECTION)
		error |= PF_ERR_P;
	if (kind == PROBE_WRITE)
		error |= PF_ERR_W;
	if (kind == PROBE_EXEC && fetch_reported)
		error |= PF_ERR_ID;
	return error;
}

/* RIP of a probe's fault: its access instruction in trap.S, or va for a fetch. */
uintptr_t arch_probe_fault_pc(enum probe_kind kind, ptmm_vaddr_t va)
{
	if (kind == PROBE_READ)
		return (uintptr_t)x86_probe_read_access;
	if (kind == PROBE_WRITE)
		return (uintptr_t)x86_probe_write_access;
	return va;
}
