/*
 * kprintf.h - a tiny printf for the kernel console (kernel/kprintf.c).
 * Conversions: %s %c %d %u %x %lx %llx %ld %lu %lld %llu %p %%, with an
 * optional '0' flag and a decimal field width (e.g. %016llx, %4d).
 */
#ifndef KERNEL_KPRINTF_H
#define KERNEL_KPRINTF_H

#include <stdarg.h>

/* Emits one character; the kernel passes arch_putc. */
typedef void (*kprintf_putc_fn)(char c);

__attribute__((format(printf, 2, 0)))
void kvprintf_to(kprintf_putc_fn out, const char *fmt, va_list ap);

/* Formats to the arch console (arch_putc). */
__attribute__((format(printf, 1, 2)))
void kprintf(const char *fmt, ...);

#endif /* KERNEL_KPRINTF_H */
