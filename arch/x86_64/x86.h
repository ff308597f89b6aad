/*
 * x86.h - small x86-64 instruction wrappers and register bits shared by the
 * x86 kernel files (arch/x86_64 only; not part of the kernel<->arch contract).
 */
#ifndef ARCH_X86_64_X86_H
#define ARCH_X86_64_X86_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernel/arch.h"

#define X86_CR0_WP (1ull << 16)
#define X86_CR4_PGE (1ull << 7)
#define X86_CR4_LA57 (1ull << 12)
#define X86_CR4_SMEP (1ull << 20)
#define X86_CR4_SMAP (1ull << 21)
#define X86_MSR_EFER 0xc0000080u
#define X86_EFER_NXE (1ull << 11)
#define X86_MSR_PAT 0x277u

struct x86_cpuid {
	uint32_t eax, ebx, ecx, edx;
};

/* CPUID leaf/subleaf; no side effects. */
static inline struct x86_cpuid x86_cpuid(uint32_t leaf, uint32_t sub)
{
	struct x86_cpuid r;
	__asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(sub));
	return r;
}

/* Port I/O: one byte out. */
static inline void x86_outb(uint16_t port, uint8_t v)
{
	__asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

/* Port I/O: one 32-bit word out. */
static inline void x86_outl(uint16_t port, uint32_t v)
{
	__asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

/* Port I/O: one byte in. */
static inline uint8_t x86_inb(uint16_t port)
{
	uint8_t v;
	__asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* Read a model-specific register. */
static inline uint64_t x86_rdmsr(uint32_t msr)
{
	uint32_t lo, hi;
	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return ((uint64_t)hi << 32) | lo;
}

/* Write a model-specific register. */
static inline void x86_wrmsr(uint32_t msr, uint64_t v)
{
	__asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

/* Control registers. "memory" clobbers keep accesses ordered around paging changes. */
static inline uint64_t x86_read_cr0(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr0, %0" : "=r"(v));
	return v;
}

static inline void x86_write_cr0(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory");
}

static inline uint64_t x86_read_cr2(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr2, %0" : "=r"(v));
	return v;
}

static inline uint64_t x86_read_cr3(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr3, %0" : "=r"(v));
	return v;
}

static inline void x86_write_cr3(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory");
}

static inline uint64_t x86_read_cr4(void)
{
	uint64_t v;
	__asm__ volatile("mov %%cr4, %0" : "=r"(v));
	return v;
}

static inline void x86_write_cr4(uint64_t v)
{
	__asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory");
}

/* Drop the TLB entry (global or not) for one VA. */
#define X86_RFLAGS_AC (1ull << 18) /* alignment check / SMAP override */

static inline uint64_t x86_read_rflags(void)
{
	uint64_t v;
	__asm__ volatile("pushfq; popq %0" : "=r"(v) : : "memory");
	return v;
}

static inline void x86_write_rflags(uint64_t v)
{
	__asm__ volatile("pushq %0; popfq" : : "r"(v) : "memory", "cc");
}

static inline void x86_invlpg(uint64_t va)
{
	__asm__ volatile("invlpg (%0)" : : "r"(va) : "memory");
}

/* Features detected by x86_cpu_init() (arch.c). */
struct x86_features {
	bool nx, pdpe1gb, pge, smep, smap, pat;
};
extern struct x86_features x86_cpu;

#define X86_RFLAGS_IF (1ull << 9)
#define X86_MSR_GS_BASE 0xc0000101u
#define X86_MAX_CPUS 8
#define X86_DF_STACK_SIZE 8192
/* IPI vectors (smp.c): the one IPI (TLB inbox + call mailbox), and the LAPIC's spurious vector. */
#define X86_VEC_IPI 0xf0
#define X86_VEC_SPURIOUS 0xff

struct x86_tss {
	uint32_t reserved0;
	uint64_t rsp[3];
	uint64_t reserved1;
	uint64_t ist[7];
	uint64_t reserved2;
	uint16_t reserved3;
	uint16_t iomap_base;
} __attribute__((packed));

/*
 * One CPU's record, reached through the GS base (IA32_GS_BASE = its
 * address, set before any C code of that CPU asks arch_this_cpu()): the
 * first three fields are read by assembly and x86_this() at fixed offsets.
 */
struct x86_percpu {
	uint64_t index;                /* %gs:0  CPU index, 0 = the boot CPU */
	uint64_t probe_sp;             /* %gs:8  RSP of the armed probe (trap.S) */
	struct x86_percpu *self;       /* %gs:16 this record */
	uint32_t apic_id;
	unsigned online;               /* atomic: in the shootdown set (before it walks the kernel table) */
	uint64_t root;                 /* atomic: PA of the table it runs on, 0 until then */
	/* arch_cpu_call's mailbox: fn (atomic, NULL when idle) and its arg. */
	void (*call_fn)(void *);
	void *call_arg;
	/* TLB inbox: bit i set = CPU i's request (cpus[i].req) waits for this CPU. */
	uint32_t tlb_inbox;            /* atomic */
	/* This CPU's outgoing shootdown (one at a time): what, and who has not flushed yet. */
	struct {
		uint64_t va, len;      /* len X86_FLUSH_EVERYTHING: everything */
		uint32_t pending;      /* atomic: bit t = CPU t has not flushed */
	} req;
	/* The armed probe (idt.c). */
	bool probe_armed;
	int probe_kind;
	uint64_t probe_va;
	struct fault_info *probe_fault;
	/* Descriptor tables: the GDT (null, code 0x08, data 0x10, TSS 0x18) and TSS. */
	uint64_t gdt[5] __attribute__((aligned(8)));
	struct x86_tss tss __attribute__((aligned(16)));
	uint8_t df_stack[X86_DF_STACK_SIZE] __attribute__((aligned(16)));
};
#define X86_FLUSH_EVERYTHING (~0ull)
_Static_assert(offsetof(struct x86_percpu, index) == 0, "trap.S / x86_this: %gs:0");
_Static_assert(offsetof(struct x86_percpu, probe_sp) == 8, "trap.S: %gs:8");
_Static_assert(offsetof(struct x86_percpu, self) == 16, "x86_this: %gs:16");

extern struct x86_percpu x86_cpus[X86_MAX_CPUS];

/* This CPU's record (through %gs:16). */
static inline struct x86_percpu *x86_this(void)
{
	struct x86_percpu *p;
	__asm__ volatile("movq %%gs:16, %0" : "=r"(p));
	return p;
}

static inline bool x86_irqs_enabled(void)
{
	return (x86_read_rflags() & X86_RFLAGS_IF) != 0;
}

void x86_serial_init(void);
void x86_trap_init(void);
void x86_cpu_tables_init(struct x86_percpu *c);
void x86_cpu_init(void);
void x86_cpu_enable(void);
void x86_boot_info_init(void);
/* arch.c: the boot info while it is being filled (before kmain). */
struct boot_info *x86_boot_info_mut(void);

/*
 * acpi.c: the APIC ids of the enabled CPUs the MADT lists, the first `max`
 * in ids[] (their number returned), how many there are in *enabled, the
 * MADT's LAPIC address in *lapic_pa; 0 and *enabled = 0 if there is no
 * valid MADT.
 */
unsigned x86_madt_cpus(uint64_t rsdp_pa, uint32_t *ids, unsigned max, unsigned *enabled,
		       uint64_t *lapic_pa);

/* apic.c: the xAPIC (MMIO). */
void x86_lapic_set_base(volatile uint32_t *regs);
void x86_lapic_enable(volatile uint32_t *regs);
void x86_lapic_eoi(void);
void x86_lapic_send(uint32_t apic_id, uint32_t icr_low);
void x86_pic_mask_all(void);
void x86_delay_us(unsigned us);

/* smp.c */
void x86_smp_prepare(uint64_t rsdp_pa);
void x86_smp_ipi(void);
void x86_smp_shootdown(uint64_t va, uint64_t len);
void x86_local_flush(uint64_t va, uint64_t len);

#endif
