/*
 * kprintf.c - a tiny printf for the kernel console.  Only what the kernel
 * prints: strings, characters, signed/unsigned decimal, hexadecimal and
 * pointers, with zero padding and a field width.  An unknown conversion is
 * printed verbatim so a typo shows up in the log instead of vanishing.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "arch.h"
#include "kprintf.h"

/* How one conversion is laid out: width, pad character, base. */
struct spec {
	unsigned width;
	char pad;
};

/* Emits `len` pad characters, then nothing else. */
static void emit_pad(kprintf_putc_fn out, char pad, unsigned len)
{
	for (unsigned i = 0; i < len; i++)
		out(pad);
}

/*
 * Emits magnitude `v` in `base` (10 or 16, lower-case digits) with an
 * optional minus sign, right-aligned in the spec's width.  With zero
 * padding the sign precedes the zeros, as in C's printf.
 */
static void emit_number(kprintf_putc_fn out, uint64_t v, unsigned base, bool negative,
			struct spec s)
{
	char digits[24];
	unsigned n = 0;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v != 0);

	unsigned len = n + (negative ? 1u : 0u);
	unsigned fill = s.width > len ? s.width - len : 0;

	if (s.pad == '0') {
		if (negative)
			out('-');
		emit_pad(out, '0', fill);
	} else {
		emit_pad(out, ' ', fill);
		if (negative)
			out('-');
	}
	while (n > 0)
		out(digits[--n]);
}

/* Emits string `str` ("(null)" for NULL), right-aligned in the width. */
static void emit_string(kprintf_putc_fn out, const char *str, struct spec s)
{
	unsigned len = 0;

	if (str == NULL)
		str = "(null)";
	while (str[len] != '\0')
		len++;
	emit_pad(out, ' ', s.width > len ? s.width - len : 0);
	for (unsigned i = 0; i < len; i++)
		out(str[i]);
}

/* Reads a signed argument of `longs` l-modifiers (0, 1 or 2). */
static int64_t signed_arg(va_list *ap, unsigned longs)
{
	if (longs >= 2)
		return va_arg(*ap, long long);
	if (longs == 1)
		return va_arg(*ap, long);
	return va_arg(*ap, int);
}

/* Reads an unsigned argument of `longs` l-modifiers (0, 1 or 2). */
static uint64_t unsigned_arg(va_list *ap, unsigned longs)
{
	if (longs >= 2)
		return va_arg(*ap, unsigned long long);
	if (longs == 1)
		return va_arg(*ap, unsigned long);
	return va_arg(*ap, unsigned int);
}

/*
 * Formats `fmt` with the arguments in `ap`, one character at a time to
 * `out`.  Guarantees every byte of fmt outside conversions is emitted
 * unchanged.
 */
void kvprintf_to(kprintf_putc_fn out, const char *fmt, va_list ap)
{
	va_list args;

	/* Work on a copy so helpers can take it by pointer portably. */
	va_copy(args, ap);
	for (const char *p = fmt; *p != '\0'; p++) {
		if (*p != '%') {
			out(*p);
			continue;
		}
		const char *start = p++;
		struct spec s = { .width = 0, .pad = ' ' };
		unsigned longs = 0;

		if (*p == '0') {
			s.pad = '0';
			p++;
		}
		while (*p >= '0' && *p <= '9')
			s.width = s.width * 10 + (unsigned)(*p++ - '0');
		while (*p == 'l' && longs < 2) {
			longs++;
			p++;
		}
		switch (*p) {
		case 'd': {
			int64_t v = signed_arg(&args, longs);
			/* Negate in unsigned arithmetic: INT64_MIN has no
			 * positive int64_t counterpart. */
			uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
			emit_number(out, mag, 10, v < 0, s);
			break;
		}
		case 'u':
			emit_number(out, unsigned_arg(&args, longs), 10, false, s);
			break;
		case 'x':
			emit_number(out, unsigned_arg(&args, longs), 16, false, s);
			break;
		case 'p':
			out('0');
			out('x');
			emit_number(out, (uintptr_t)va_arg(args, void *), 16, false, s);
			break;
		case 's':
			emit_string(out, va_arg(args, const char *), s);
			break;
		case 'c':
			out((char)va_arg(args, int));
			break;
		case '%':
			out('%');
			break;
		default:
			/* Unknown or truncated conversion: print it as written. */
			for (const char *q = start; q <= p && *q != '\0'; q++)
				out(*q);
			if (*p == '\0')
				p--;
			break;
		}
	}
	va_end(args);
}

/* Formats to the arch console; see kvprintf_to. */
void kprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kvprintf_to(arch_putc, fmt, ap);
	va_end(ap);
}
