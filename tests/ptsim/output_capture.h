/*
 * What a script interpreter printed, captured for a host test of ptsim's
 * library (violation.c, tlb_stale.c): `out_buf` is the script_env output
 * hook, appending to `out` (always NUL-terminated, silently truncated at
 * 4 KiB, far more than one checked line prints); `out_reset` empties it.
 * One copy per test program (static): no state is shared between them.
 */
#ifndef TESTS_PTSIM_OUTPUT_CAPTURE_H
#define TESTS_PTSIM_OUTPUT_CAPTURE_H

#include <stddef.h>
#include <string.h>

static char out[4096];
static size_t out_len;

static void out_buf(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	if (n > sizeof(out) - 1 - out_len)
		n = sizeof(out) - 1 - out_len;
	memcpy(out + out_len, s, n);
	out_len += n;
	out[out_len] = '\0';
}

static void out_reset(void)
{
	out_len = 0;
	out[0] = '\0';
}

#endif /* TESTS_PTSIM_OUTPUT_CAPTURE_H */
