/*
 * console.c - polled ns16550 console, QEMU exit through sifive_test, and
 * halting.  OpenSBI has already programmed the UART; we only poll LSR.
 */
#include <stdbool.h>
#include <stdint.h>

#include "kernel/arch.h"
#include "riscv.h"

#define UART_THR 0            /* transmit holding register */
#define UART_LSR 5            /* line status register */
#define UART_LSR_THRE 0x20    /* THR empty: may write */

#define SIFIVE_TEST_FAIL 0x3333u /* with code << 16: exit status code */
#define EXIT_CODE_PASS 33u
#define EXIT_CODE_FAIL 1u

/* Base added to a device PA: the boot table's direct map, then MMIO_MAP_BASE. */
static uintptr_t device_base;

/* Device accesses through the boot table's direct map (see riscv.h). */
void riscv_devices_use_direct_map(void)
{
	device_base = DIRECT_MAP_BASE;
}

/* Switches device accesses to the mm's MMIO window (see riscv.h). */
void riscv_devices_use_mmio_map(void)
{
	device_base = MMIO_MAP_BASE;
}

/* VA of a device PA under the current mapping. */
uintptr_t riscv_device_va(uint64_t pa)
{
	return device_base + (uintptr_t)pa;
}

/* Waits for THR empty, then writes one byte; "\n" becomes "\r\n". */
void arch_putc(char c)
{
	volatile uint8_t *uart = (volatile uint8_t *)riscv_device_va(UART_PA);

	if (c == '\n')
		arch_putc('\r');
	while ((uart[UART_LSR] & UART_LSR_THRE) == 0)
		;
	uart[UART_THR] = (uint8_t)c;
}

/* Interrupts off (SIE clear), then wfi forever. */
void arch_halt(void)
{
	__asm__ volatile("csrci sstatus, 2");
	for (;;)
		__asm__ volatile("wfi");
}

/*
 * Exits QEMU via sifive_test: code << 16 | 0x3333 makes QEMU exit with
 * status `code` (33 on pass, 1 on failure).  If the write somehow does
 * not stop the machine, halt.
 */
void arch_exit(bool pass)
{
	volatile uint32_t *test = (volatile uint32_t *)riscv_device_va(SIFIVE_TEST_PA);
	uint32_t code = pass ? EXIT_CODE_PASS : EXIT_CODE_FAIL;

	*test = code << 16 | SIFIVE_TEST_FAIL;
	arch_halt();
}
