/*
 * fdt.c - minimal flattened-device-tree walker.  Layout (devicetree spec
 * v0.3 ch. 5): a header of big-endian words, a structure block of tokens
 * (BEGIN_NODE name, END_NODE, PROP {len, nameoff} value, NOP, END), each
 * padded to 4 bytes, and a strings block holding property names.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fdt.h"

enum fdt_token {
	FDT_BEGIN_NODE = 1,
	FDT_END_NODE = 2,
	FDT_PROP = 3,
	FDT_NOP = 4,
	FDT_END = 9,
};

/* Header word offsets. */
enum {
	HDR_MAGIC = 0,
	HDR_TOTALSIZE = 4,
	HDR_OFF_STRUCT = 8,
	HDR_OFF_STRINGS = 12,
	HDR_VERSION = 20,
	HDR_SIZE_STRUCT = 36,
	HDR_BYTES = 40,
};

/* Big-endian 32-bit read, byte by byte (no alignment assumption). */
uint32_t fdt_be32(const void *p)
{
	const uint8_t *b = p;

	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* Two big-endian cells, high cell first. */
uint64_t fdt_be64(const void *p)
{
	const uint8_t *b = p;

	return (uint64_t)fdt_be32(b) << 32 | fdt_be32(b + 4);
}

/* Header word at byte offset off. */
static uint32_t header(const void *blob, unsigned off)
{
	return fdt_be32((const uint8_t *)blob + off);
}

/* Magic, version >= 16, and the struct block inside totalsize. */
bool fdt_valid(const void *blob)
{
	if (header(blob, HDR_MAGIC) != FDT_MAGIC || header(blob, HDR_VERSION) < 16)
		return false;
	uint64_t total = header(blob, HDR_TOTALSIZE);
	uint64_t s_end = (uint64_t)header(blob, HDR_OFF_STRUCT) + header(blob, HDR_SIZE_STRUCT);

	return total >= HDR_BYTES && s_end <= total && header(blob, HDR_OFF_STRINGS) < total;
}

/* totalsize from the header. */
uint32_t fdt_totalsize(const void *blob)
{
	return header(blob, HDR_TOTALSIZE);
}

/* Rounds a structure-block offset up to the 4-byte token alignment. */
static uint32_t align4(uint32_t off)
{
	return (off + 3u) & ~3u;
}

/*
 * Walks the structure block [off, end) of a blob that fdt_valid accepted.
 * Every read is bounds-checked against end before it happens.
 */
int fdt_walk(const void *blob, fdt_prop_fn fn, void *ctx)
{
	const uint8_t *base = blob;
	const char *strings = (const char *)base + header(blob, HDR_OFF_STRINGS);
	uint32_t off = header(blob, HDR_OFF_STRUCT);
	uint32_t end = off + header(blob, HDR_SIZE_STRUCT);
	/* Property names must start inside the blob. */
	uint32_t strings_size = header(blob, HDR_TOTALSIZE) - header(blob, HDR_OFF_STRINGS);
	const char *names[FDT_MAX_DEPTH + 1];
	int depth = -1; /* -1: before the root's BEGIN_NODE */

	while (off + 4 <= end) {
		uint32_t token = fdt_be32(base + off);

		off += 4;
		switch (token) {
		case FDT_BEGIN_NODE: {
			const char *name = (const char *)base + off;
			uint32_t n = 0;

			while (off + n < end && name[n] != '\0')
				n++;
			if (off + n >= end || depth + 1 > FDT_MAX_DEPTH)
				return -1;
			names[++depth] = name;
			off = align4(off + n + 1);
			break;
		}
		case FDT_END_NODE:
			if (depth < 0)
				return -1;
			depth--;
			break;
		case FDT_PROP: {
			if (off + 8 > end || depth < 0)
				return -1;
			uint32_t len = fdt_be32(base + off);
			uint32_t nameoff = fdt_be32(base + off + 4);

			off += 8;
			if (len > end - off || nameoff >= strings_size)
				return -1;
			if (!fn(ctx, names, (unsigned)depth, strings + nameoff, base + off, len))
				return 0;
			off = align4(off + len);
			break;
		}
		case FDT_NOP:
			break;
		case FDT_END:
			return depth == -1 ? 0 : -1;
		default:
			return -1;
		}
	}
	return -1;
}
