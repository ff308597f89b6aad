/*
 * string.c - the two C library functions a freestanding mm build needs:
 * GCC may emit calls to memset and memcpy for struct copies and clearing
 * even with -ffreestanding, and mm/ clears new page-table nodes.
 * Byte loops are enough here; a kernel has faster ones.
 */
#include <stddef.h>

void *memset(void *dst, int c, size_t n)
{
	unsigned char *d = dst;

	while (n--)
		*d++ = (unsigned char)c;
	return dst;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
	unsigned char *d = dst;
	const unsigned char *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}
