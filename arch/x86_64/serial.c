/*
 * serial.c - COM1 (port 0x3f8), polled, 115200 8N1: the x86 console.
 */
#include "kernel/arch.h"
#include "x86.h"

#define COM1 0x3f8
#define UART_THR 0   /* transmit holding (DLAB=0) */
#define UART_DLL 0   /* divisor low (DLAB=1) */
#define UART_IER 1   /* interrupt enable (DLAB=0) / divisor high (DLAB=1) */
#define UART_FCR 2
#define UART_LCR 3
#define UART_MCR 4
#define UART_LSR 5
#define UART_LSR_THRE 0x20

/* Program COM1 for 115200 baud, 8 data bits, no parity, 1 stop bit, no IRQs. */
void x86_serial_init(void)
{
	x86_outb(COM1 + UART_IER, 0x00);
	x86_outb(COM1 + UART_LCR, 0x80); /* DLAB: divisor follows */
	x86_outb(COM1 + UART_DLL, 0x01); /* 115200 = 1.8432 MHz / 16 / 1 */
	x86_outb(COM1 + UART_IER, 0x00);
	x86_outb(COM1 + UART_LCR, 0x03); /* 8N1, DLAB off */
	x86_outb(COM1 + UART_FCR, 0xc7); /* FIFOs on and cleared */
	x86_outb(COM1 + UART_MCR, 0x03); /* DTR, RTS */
}

/* One byte out; waits until the transmitter can take it. "\n" becomes "\r\n". */
void arch_putc(char c)
{
	if (c == '\n')
		arch_putc('\r');
	while (!(x86_inb(COM1 + UART_LSR) & UART_LSR_THRE))
		;
	x86_outb(COM1 + UART_THR, (uint8_t)c);
}
