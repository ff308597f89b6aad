/*
 * riscv.h - RISC-V internals shared by arch/riscv64 files (not part of
 * the kernel<->arch contract in kernel/arch.h).
 */
#ifndef ARCH_RISCV64_RISCV_H
#define ARCH_RISCV64_RISCV_H

#include <stdint.h>

#define UART_PA 0x10000000ull
#define UART_SIZE 0x1000ull
#define SIFIVE_TEST_PA 0x100000ull
#define SIFIVE_TEST_SIZE 0x1000ull

/*
 * The device windows are reached through the boot table's direct map
 * (DIRECT_MAP_BASE + PA) until the mm's kernel table is active, then
 * through MMIO_MAP_BASE + PA.  Call once, right after activation.
 */
void riscv_devices_use_mmio_map(void);

/* VA of device physical address pa under the mapping now in force. */
uintptr_t riscv_device_va(uint64_t pa);

/* sfence.vma / satp operations for the mm (tlb.c). */
struct mm_tlb_ops;
extern const struct mm_tlb_ops riscv_tlb_ops;

/* C entry from entry.S with the hart id and the FDT's PA (boot.c). */
__attribute__((noreturn)) void riscv_boot_main(uint64_t hartid, uint64_t fdt_pa);

/* Installs the S-mode trap vector (trap.c). */
void riscv_trap_init(void);

#endif /* ARCH_RISCV64_RISCV_H */
