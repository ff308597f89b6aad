/*
 * layout.c - paging mode names and the kernel's virtual layout per mode
 * (layout.h).  Runs before paging on RISC-V: arithmetic and string
 * literals only, no pointer tables, no switch (jump tables hold absolute
 * addresses).
 */
#include <stdbool.h>

#include "layout.h"

struct kernel_layout kernel_layout;

const char *paging_mode_name(enum paging_mode m)
{
	if (m == PAGING_SV39)
		return "sv39";
	if (m == PAGING_SV48)
		return "sv48";
	if (m == PAGING_SV57)
		return "sv57";
	if (m == PAGING_X86_64)
		return "x86_64";
	if (m == PAGING_X86_64_LA57)
		return "x86_64-la57";
	return "none";
}

unsigned paging_mode_levels(enum paging_mode m)
{
	if (m == PAGING_SV39)
		return 3;
	if (m == PAGING_SV48 || m == PAGING_X86_64)
		return 4;
	if (m == PAGING_SV57 || m == PAGING_X86_64_LA57)
		return 5;
	return 0;
}

unsigned paging_mode_va_bits(enum paging_mode m)
{
	unsigned levels = paging_mode_levels(m);
	return levels ? 12 + 9 * levels : 0;
}

/* True if [s, s+n) equals the NUL-terminated `lit`. */
static bool word_is(const char *s, size_t n, const char *lit)
{
	size_t i = 0;
	while (i < n && lit[i] && s[i] == lit[i])
		i++;
	return i == n && lit[i] == 0;
}

/* True if the NUL-terminated `s` starts with `prefix`. */
static bool starts_with(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return false;
	return true;
}

enum paging_mode paging_mode_requested(const char *cmdline, bool *given, const char **name,
				       size_t *len)
{
	*given = false;
	*name = "";
	*len = 0;
	for (const char *p = cmdline; *p; p++) {
		if (p != cmdline && p[-1] != ' ')
			continue;
		if (starts_with(p, "script="))
			break; /* the rest of the line is the script's */
		if (!starts_with(p, "paging="))
			continue;
		const char *v = p + 7;
		size_t n = 0;
		while (v[n] && v[n] != ' ')
			n++;
		*given = true;
		*name = v;
		*len = n;
		/* The first paging= word counts. */
		break;
	}
	if (!*given)
		return PAGING_NONE;
	for (enum paging_mode m = PAGING_SV39; m <= PAGING_X86_64_LA57; m++)
		if (word_is(*name, *len, paging_mode_name(m)))
			return m;
	return PAGING_NONE;
}

struct kernel_layout kernel_layout_of(enum paging_mode m)
{
	struct kernel_layout l;
	unsigned b = paging_mode_va_bits(m);
	uint64_t half = 1ull << (b - 1);

	l.mode = m;
	l.va_bits = b;
	l.half_base = 0 - half;
	l.direct_map = l.half_base;
	l.direct_map_span = half / 2;
	l.mmio_map = l.half_base + half / 2;
	l.mmio_map_span = half / 4;
	l.test_window = l.half_base + half / 2 + half / 4;
	l.image_base = KERNEL_IMAGE_AREA;
	l.test_window_span = l.image_base - l.test_window;
	return l;
}
