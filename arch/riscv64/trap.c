/*
 * trap.c - S-mode trap handling: page faults during an armed probe resume
 * at the probe's fault label; any other trap is fatal (printed, then a
 * failing exit).  Also arch_probe, arch_user_access and arch_sync_icache.
 */
#include <stdbool.h>
#include <stdint.h>

#include "kernel/arch.h"
#include "kernel/kprintf.h"
#include "riscv.h"

#define SCAUSE_FETCH_PAGE_FAULT 12
#define SCAUSE_LOAD_PAGE_FAULT 13
#define SCAUSE_STORE_PAGE_FAULT 15
#define SSTATUS_SUM (1ull << 18)

struct riscv_trap_frame {
	uint64_t x[32];
	uint64_t sepc;
	uint64_t sstatus; /* at the trap (trap.S restores its SUM) */
};

void riscv_trap_entry(void);
void riscv_trap(struct riscv_trap_frame *f);
int riscv_probe_load(uint64_t va, uint64_t *out);
int riscv_probe_store(uint64_t va, uint64_t value);
int riscv_probe_exec(uint64_t va);
extern const char riscv_probe_load_fault[], riscv_probe_store_fault[], riscv_probe_exec_fault[];
extern const char riscv_probe_load_access[], riscv_probe_store_access[];

/* Each CPU's armed probe: where to resume, and where to record the fault. */
static struct riscv_probe {
	bool armed;
	uintptr_t resume;
	struct fault_info *info;
} probes[RISCV_MAX_HARTS];

/* Installs the trap vector (direct mode). */
void riscv_trap_init(void)
{
	__asm__ volatile("csrw stvec, %0" : : "r"((uintptr_t)riscv_trap_entry));
}

/* Maps a page-fault scause to the access kind; false for other causes. */
static bool page_fault_kind(uint64_t scause, enum probe_kind *kind)
{
	switch (scause) {
	case SCAUSE_FETCH_PAGE_FAULT:
		*kind = PROBE_EXEC;
		return true;
	case SCAUSE_LOAD_PAGE_FAULT:
		*kind = PROBE_READ;
		return true;
	case SCAUSE_STORE_PAGE_FAULT:
		*kind = PROBE_WRITE;
		return true;
	default:
		return false;
	}
}

/*
 * Called by riscv_trap_entry.  An armed probe's page fault is recorded
 * and resumed at the probe's fault label (disarming); anything else
 * prints cause, stval and sepc and exits with failure.
 */
void riscv_trap(struct riscv_trap_frame *f)
{
	uint64_t scause, stval, sstatus;
	enum probe_kind kind;
	struct riscv_probe *probe = &probes[riscv_this_cpu()];

	__asm__ volatile("csrr %0, scause" : "=r"(scause));
	__asm__ volatile("csrr %0, stval" : "=r"(stval));
	__asm__ volatile("csrr %0, sstatus" : "=r"(sstatus));
	if (probe->armed && page_fault_kind(scause, &kind)) {
		*probe->info = (struct fault_info){
			.kind = kind, .addr = stval, .pc = f->sepc, .cause = scause,
			.user_access = (sstatus & SSTATUS_SUM) != 0, /* trap.S cleared it */
		};
		probe->armed = false;
		f->sepc = probe->resume;
		return;
	}
	kprintf("\nTRAP: unexpected scause 0x%lx stval 0x%lx sepc 0x%lx\n",
		(unsigned long)scause, (unsigned long)stval, (unsigned long)f->sepc);
	kprintf("RESULT FAIL: unexpected trap\n");
	arch_exit(false);
}

/* See kernel/arch.h.  Arms the recovery point for exactly one access. */
bool arch_probe(enum probe_kind kind, ptmm_vaddr_t va, uint64_t *value, struct fault_info *f)
{
	int faulted;
	struct riscv_probe *probe = &probes[riscv_this_cpu()];

	probe->info = f;
	switch (kind) {
	case PROBE_READ:
		probe->resume = (uintptr_t)riscv_probe_load_fault;
		probe->armed = true;
		faulted = riscv_probe_load(va, value);
		break;
	case PROBE_WRITE:
		probe->resume = (uintptr_t)riscv_probe_store_fault;
		probe->armed = true;
		faulted = riscv_probe_store(va, *value);
		break;
	default:
		probe->resume = (uintptr_t)riscv_probe_exec_fault;
		probe->armed = true;
		faulted = riscv_probe_exec(va);
		break;
	}
	probe->armed = false;
	return faulted != 0;
}

/*
 * The scause of a probe's page fault (kernel/arch.h): the access kind
 * alone; Sv48 reports not-present and protection faults alike.
 */
uint64_t arch_fault_cause(enum probe_kind kind, enum fault_reason reason)
{
	(void)reason;
	if (kind == PROBE_READ)
		return SCAUSE_LOAD_PAGE_FAULT;
	if (kind == PROBE_WRITE)
		return SCAUSE_STORE_PAGE_FAULT;
	return SCAUSE_FETCH_PAGE_FAULT;
}

/* sepc of a probe's fault: its ld / sd in trap.S, or va for a fetch. */
uintptr_t arch_probe_fault_pc(enum probe_kind kind, ptmm_vaddr_t va)
{
	if (kind == PROBE_READ)
		return (uintptr_t)riscv_probe_load_access;
	if (kind == PROBE_WRITE)
		return (uintptr_t)riscv_probe_store_access;
	return va;
}

/* sstatus.SUM: S-mode loads/stores may touch U pages while set. */
void arch_user_access(bool allow)
{
	if (allow)
		__asm__ volatile("csrs sstatus, %0" : : "r"(SSTATUS_SUM) : "memory");
	else
		__asm__ volatile("csrc sstatus, %0" : : "r"(SSTATUS_SUM) : "memory");
}

bool arch_user_access_open(void)
{
	uint64_t sstatus;
	__asm__ volatile("csrr %0, sstatus" : "=r"(sstatus));
	return (sstatus & SSTATUS_SUM) != 0;
}

/* fence.i: later fetches on this hart see earlier stores. */
void arch_sync_icache(void)
{
	__asm__ volatile("fence.i" : : : "memory");
}
