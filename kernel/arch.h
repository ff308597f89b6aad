/*
 * arch.h - what each architecture (arch/<arch>/) provides to the
 * arch-neutral kernel (kernel/).
 *
 * Boot flow: firmware -> arch entry (assembly) -> a boot page table built
 * by the arch that maps the kernel image at its link address and all RAM
 * at DIRECT_MAP_BASE -> arch_boot_info() -> kmain().  kmain() then builds
 * the real kernel page table with the mm (kernel/mm_boot.c), activates it,
 * and runs the self-test or a script.
 *
 * Virtual memory layout (upper half only), computed from the paging mode
 * by kernel_layout_of() (layout.h; e.g. 48-bit modes):
 *
 *   0xffff800000000000  DIRECT_MAP_BASE  all RAM, PA + DIRECT_MAP_BASE,
 *                                        rw, nx, global, huge pages (the
 *                                        image's text+rodata r, nomap absent)
 *   0xffffc00000000000  MMIO_MAP_BASE    device windows, PA + MMIO_MAP_BASE,
 *                                        rw, nx, global, uncached
 *   0xffffffff80000000  the kernel image (arch-specific link address),
 *                                        text rx, rodata r, data+bss rw
 *
 * The arch chooses the mode before paging is on (it needs the mode's
 * layout for its boot table) and sets kernel_layout.
 */
#ifndef KERNEL_ARCH_H
#define KERNEL_ARCH_H

#include <ptmm/mm.h>
#include "layout.h"

/* The bases of the mode in force (kernel_layout, set by the arch at boot). */
#define DIRECT_MAP_BASE (kernel_layout.direct_map)
#define MMIO_MAP_BASE (kernel_layout.mmio_map)

#define BOOT_MAX_RANGES 16

struct phys_range {
	ptmm_paddr_t base;
	uint64_t size;
};

/* A section of the kernel image: [va, va+size) at physical pa. */
struct image_section {
	ptmm_vaddr_t va;
	ptmm_paddr_t pa;
	uint64_t size;
};

/* The image section [start, end) of an image linked at VA = PA + va_minus_pa. */
static inline struct image_section image_section_of(const char *start, const char *end,
						     uint64_t va_minus_pa)
{
	struct image_section s;
	s.va = (ptmm_vaddr_t)start;
	s.pa = (ptmm_paddr_t)start - va_minus_pa;
	s.size = (uint64_t)(end - start);
	return s;
}

struct boot_info {
	struct phys_range ram[BOOT_MAX_RANGES]; /* usable RAM, as firmware reports it */
	unsigned nr_ram;
	/* RAM the kernel must not allocate (firmware, FDT, boot data);
	 * the kernel image itself is described by the sections below. */
	struct phys_range reserved[BOOT_MAX_RANGES];
	unsigned nr_reserved;
	/* Device windows the kernel maps (console, exit device). */
	struct phys_range mmio[BOOT_MAX_RANGES];
	unsigned nr_mmio;
	/* RAM the firmware reports that the kernel keeps from the mm (x86: the
	 * first MiB): not for the mm, and not device memory either. */
	struct phys_range other_ram[BOOT_MAX_RANGES];
	unsigned nr_other_ram;
	/*
	 * Firmware memory the kernel must not even map (RISC-V: device-tree
	 * reserved-memory with no-map, OpenSBI's PMP region; x86: the legacy
	 * BIOS area below 1 MiB).  Also in `reserved` where it is RAM; the
	 * direct map leaves it out (docs/BOOT.md, W^X per frame).
	 */
	struct phys_range nomap[BOOT_MAX_RANGES];
	unsigned nr_nomap;
	struct image_section text, rodata, data; /* data includes bss and the boot stack */
	const char *cmdline; /* NUL-terminated, through the direct map or image */
	/*
	 * The firmware's command line did not fit the arch's buffer of
	 * cmdline_max bytes (NUL included): kmain refuses to run a cut one.
	 */
	bool cmdline_truncated;
	unsigned cmdline_max;
};

/* Filled by the arch after early boot; the pointers stay valid forever. */
const struct boot_info *arch_boot_info(void);

/* Console: one byte out (polled). */
void arch_putc(char c);

/* Stop this CPU forever (interrupts off, wfi/hlt loop). */
__attribute__((noreturn)) void arch_halt(void);

/* Leave QEMU: `pass` exits with status 33, otherwise with another status. */
__attribute__((noreturn)) void arch_exit(bool pass);

/*
 * Fill `a` with this CPU's encoder (features detected from CPUID / the
 * device tree) and the arch's TLB ops (invlpg / sfence.vma, CR3 / satp).
 */
void arch_mm_init(struct ptmm_arch *a);

/*
 * The paging mode the MMU is in, read back from the hardware (RISC-V
 * satp.MODE, x86 CR4.LA57 with CR0.PG), the raw register in *reg; the
 * self-test holds it against the mm's geometry and kernel_layout.
 */
enum paging_mode arch_paging_readback(uint64_t *reg);

/*
 * How the arch chose the mode, one line for the boot log (what the CPU
 * offers, what the command line asked).
 */
const char *arch_paging_choice(void);

/* Short description of the paging features in force, for the boot log. */
const char *arch_mm_features(void);

/*
 * Called once, right after kmain activated the mm's kernel table (the boot
 * table is gone): e.g. RISC-V reaches its devices through MMIO_MAP_BASE
 * from now on.
 */
void arch_mm_activated(void);

/*
 * True if kernel loads and stores to user pages fault unless
 * arch_user_access(true) (RISC-V: always, sstatus.SUM; x86: with SMAP).
 */
bool arch_user_access_enforced(void);

/*
 * Memory probes for the self-test.  arch_probe() performs one access of
 * `kind` at `va` (a 64-bit load, a 64-bit store of *value, or a call to
 * code at va that must be arch_ret_insn), with the trap handler armed to
 * recover.  Returns false if the access completed (a load stores the value
 * read in *value), true if it faulted; then *f describes the fault.
 */
enum probe_kind {
	PROBE_READ = 0,
	PROBE_WRITE = 1,
	PROBE_EXEC = 2,
};

struct fault_info {
	enum probe_kind kind; /* decoded from the cause / error code */
	ptmm_vaddr_t addr;         /* faulting VA (stval / CR2) */
	uintptr_t pc;         /* faulting PC (sepc / RIP) */
	uint64_t cause;       /* raw: scause, or the x86 error code */
	/*
	 * User access (x86 EFLAGS.AC, RISC-V sstatus.SUM) as the trap handler
	 * found it: the entry code closes it on every trap (and the return
	 * restores the interrupted state), so this must be false.
	 */
	bool user_access;
};

bool arch_probe(enum probe_kind kind, ptmm_vaddr_t va, uint64_t *value, struct fault_info *f);

/* Why an expected page fault happens, as far as the hardware tells. */
enum fault_reason {
	FAULT_NOT_PRESENT = 0, /* no valid leaf: absent, unmapped, or no-access */
	FAULT_PROTECTION = 1,  /* a valid leaf refuses the access (W, X, SMAP/SUM, SMEP) */
};

/*
 * The exact raw cause (fault_info.cause) a probe of `kind` from the kernel
 * must report when it faults for `reason`.  x86: the whole page-fault error
 * code (P from the reason, W, I/D when EFER.NXE or CR4.SMEP is on, U/S and
 * every other bit 0).  RISC-V: scause 13 / 15 / 12 for load / store /
 * fetch (Sv48 does not tell the reasons apart).
 */
uint64_t arch_fault_cause(enum probe_kind kind, enum fault_reason reason);

/*
 * The PC (fault_info.pc) a faulting probe of `kind` at `va` must report:
 * the probe helper's load or store instruction, or `va` itself for a fetch.
 */
uintptr_t arch_probe_fault_pc(enum probe_kind kind, ptmm_vaddr_t va);

/* Bytes of a "return to caller" instruction, for exec probes. */
extern const uint8_t arch_ret_insn[];
extern const unsigned arch_ret_insn_len;
/* A "return to caller" instruction inside the kernel's text section. */
extern const char arch_text_ret[];

/*
 * True if kernel instruction fetches from user pages fault whatever
 * arch_user_access() allows (RISC-V: always; x86: with SMEP).
 */
bool arch_user_exec_refused(void);

/*
 * Let the kernel touch user pages (RISC-V sstatus.SUM, x86 EFLAGS.AC: stac /
 * clac with SMAP, popf without, where AC is harmless in ring 0).  Every
 * trap entry closes it, and so does the boot before C code runs.
 */
void arch_user_access(bool allow);

/* True if user access is open now (AC / SUM set). */
bool arch_user_access_open(void);

/* Make instruction fetches see bytes just written (fence.i; nothing on x86). */
void arch_sync_icache(void);

/*
 * Called once by kmain after mm_boot (the kernel table is active): brings up
 * every other CPU the firmware describes (RISC-V: device tree + SBI HSM;
 * x86-64: ACPI MADT + INIT-SIPI-SIPI, see docs/BOOT.md).  Each runs on its
 * own stack on the kernel table with its trap vector and idles (RISC-V
 * with interrupts off; x86-64 in `sti; hlt`, serving IPIs, and from here
 * the boot CPU also runs with interrupts on: only IPIs arrive).  Returns
 * the number of CPUs online, this one included (>= 1).
 */
unsigned arch_smp_start(void);

/* The number of CPUs online (arch_smp_start's answer; 1 before it ran). */
unsigned arch_cpus_online(void);

/*
 * Runs fn(arg) on CPU `cpu` (1 .. arch_cpus_online() - 1; 0 is the boot
 * CPU, the caller) and returns once fn has returned there, its stores
 * visible.  The target runs it from its idle loop, where arch_probe works
 * as on the boot CPU: on RISC-V with interrupts off (its shootdowns are
 * OpenSBI's, served in M-mode), on x86-64 with interrupts on, so it keeps
 * serving shootdown IPIs while fn runs (arch_shootdown_hold stops that).
 * Only the boot CPU calls this, one call at a time (the self-test's SMP
 * steps); the waits spin (x86-64: with interrupts on, asserted).
 */
void arch_cpu_call(unsigned cpu, void (*fn)(void *), void *arg);

/*
 * arch_cpu_call in two halves, so CPUs run at once: start fn(arg) on `cpu`
 * and return at once; wait until it has returned there (its stores
 * visible).  One call per target at a time, from the boot CPU only.
 */
void arch_cpu_call_start(unsigned cpu, void (*fn)(void *), void *arg);
void arch_cpu_call_wait(unsigned cpu);

/*
 * Hold (true) or serve again (false) the shootdowns other CPUs send this
 * one.  x86-64: interrupts off / on, so a remote flush (and the flushing
 * CPU, which waits for the acknowledgement) waits until this CPU serves
 * them again; RISC-V: nothing (OpenSBI fences in M-mode whatever S-mode
 * does).  The self-test's smp-release-order holds them on a CPU that has
 * the page cached, so a flush that did not wait for it shows.
 */
void arch_shootdown_hold(bool hold);

/* This CPU's index: 0 the boot CPU, 1 .. arch_cpus_online() - 1 the others. */
unsigned arch_this_cpu(void);

/* The arch-neutral entry point, called by the arch with the boot info ready. */
__attribute__((noreturn)) void kmain(void);

#endif /* KERNEL_ARCH_H */
