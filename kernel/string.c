/*
 * string.c - the memory and string primitives a freestanding kernel must
 * provide itself (the compiler may emit calls to memset/memcpy/memmove/
 * memcmp for struct copies and zeroing).  Byte loops: simple and correct;
 * the kernel copies little data.
 */
#include <stddef.h>
#include <stdint.h>

#include "string.h"

/* Fills n bytes at dst with (unsigned char)c; returns dst. */
void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;

	for (size_t i = 0; i < n; i++)
		d[i] = (unsigned char)c;
	return dst;
}

/* Copies n bytes; the ranges must not overlap (use memmove otherwise). */
void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	for (size_t i = 0; i < n; i++)
		d[i] = s[i];
	return dst;
}

/* Copies n bytes; correct for overlapping ranges in either direction. */
void *memmove(void *dst, const void *src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	/* Copy backwards when dst lies above src so no byte is overwritten
	 * before it is read. */
	if ((uintptr_t)d > (uintptr_t)s) {
		for (size_t i = n; i > 0; i--)
			d[i - 1] = s[i - 1];
	} else {
		for (size_t i = 0; i < n; i++)
			d[i] = s[i];
	}
	return dst;
}

/* Compares n bytes as unsigned chars: <0, 0 or >0 like the C library. */
int memcmp(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a;
	const unsigned char *y = b;

	for (size_t i = 0; i < n; i++) {
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	}
	return 0;
}

/* Length of the NUL-terminated string s, without the NUL. */
size_t strlen(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	return n;
}
