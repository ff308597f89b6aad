/*
 * riscv.h - RISC-V internals shared by arch/riscv64 files (not part of
 * the kernel<->arch contract in kernel/arch.h).
 */
#ifndef ARCH_RISCV64_RISCV_H
#define ARCH_RISCV64_RISCV_H

#include <stdbool.h>
#include <stdint.h>

#include "kernel/layout.h"

#define UART_PA 0x10000000ull
#define UART_SIZE 0x1000ull
#define SIFIVE_TEST_PA 0x100000ull
#define SIFIVE_TEST_SIZE 0x1000ull

/*
 * The device windows are reached through the boot table's direct map
 * (DIRECT_MAP_BASE + PA: riscv_devices_use_direct_map, first thing on the
 * boot table) until the mm's kernel table is active, then through
 * MMIO_MAP_BASE + PA (riscv_devices_use_mmio_map, right after activation).
 */
void riscv_devices_use_direct_map(void);
void riscv_devices_use_mmio_map(void);

/* VA of device physical address pa under the mapping now in force. */
uintptr_t riscv_device_va(uint64_t pa);

/*
 * The paging mode chosen before paging went on (early.c), for the rest of
 * the kernel: tlb.c's satp writes, the boot log, arch_paging_readback.
 * Index [PAGING_SV39..PAGING_SV57] of takes/readback: the satp probe.
 */
struct riscv_paging {
	enum paging_mode mode;   /* in force */
	enum paging_mode cap;    /* from mmu-type (valid if mmu_type_given) */
	bool mmu_type_given, mmu_type_unknown, forced;
	char mmu_type[24];
	bool takes[PAGING_SV57 + 1];
	uint64_t readback[PAGING_SV57 + 1];
	uint64_t satp;           /* the boot table's */
	char choice[192];        /* how the mode was chosen, for the boot log */
};
extern struct riscv_paging riscv_paging;

/* Mode choice and boot table before paging; returns the satp to write (early.c). */
uint64_t riscv_early(uint64_t hartid, uint64_t fdt_pa);

/* sfence.vma / satp operations for the mm (tlb.c). */
struct ptmm_tlb_ops;
extern const struct ptmm_tlb_ops riscv_tlb_ops;

/* C entry from entry.S with the hart id and the FDT's PA (boot.c). */
__attribute__((noreturn)) void riscv_boot_main(uint64_t hartid, uint64_t fdt_pa);

/*
 * SMP (smp.c).  riscv_smp_add_hart records a hart id from the device tree
 * (ignored past RISCV_MAX_HARTS, duplicates and ids >= 64 ignored); riscv_smp_set_boot_hart
 * the one OpenSBI entered the kernel on.  Both before kmain.
 */
#define RISCV_MAX_HARTS 8
void riscv_smp_add_hart(uint64_t hartid);
void riscv_smp_set_boot_hart(uint64_t hartid);

/*
 * sfence.vma of [va, va+size) (size ~0ull: all) on every other online hart,
 * returning once each has fenced (SBI RFENCE); nothing with one hart.
 */
void riscv_smp_remote_sfence(uint64_t va, uint64_t size);

/* This CPU's index, 0 the boot hart (tp; smp.c). */
unsigned riscv_this_cpu(void);

/* Per-CPU secondary entry (entry.S, at the PA, satp 0): a0 hart id, a1 CPU index. */
void riscv_secondary_entry(void);
/* Its C part on the boot table at the high VA (smp.c); never returns. */
__attribute__((noreturn)) void riscv_secondary_main(uint64_t hartid, uint64_t cpu);
/* The satp the secondaries' entry switches to first (the boot table's). */
extern uint64_t riscv_secondary_satp;
/* Their stacks: RISCV_SECONDARY_STACK bytes per CPU index (entry.S). */
#define RISCV_SECONDARY_STACK 16384

/* Installs the S-mode trap vector (trap.c). */
void riscv_trap_init(void);

#endif /* ARCH_RISCV64_RISCV_H */
