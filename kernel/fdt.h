/*
 * fdt.h - a minimal flattened-device-tree walker (no libfdt): validates
 * the header and calls back once per property with the path of node
 * names leading to it.  Arch-neutral; used by the RISC-V boot.
 */
#ifndef KERNEL_FDT_H
#define KERNEL_FDT_H

#include <stdbool.h>
#include <stdint.h>

#define FDT_MAGIC 0xd00dfeedu
#define FDT_MAX_DEPTH 8

/*
 * Called for each property.  names[0] is "" (the root), names[depth] the
 * node that holds the property.  Return false to stop the walk.
 */
typedef bool (*fdt_prop_fn)(void *ctx, const char *const *names, unsigned depth,
			    const char *prop, const void *value, uint32_t len);

/* Reads a big-endian 32-bit cell (FDT cells need not be 8-byte aligned). */
uint32_t fdt_be32(const void *p);

/* Reads two big-endian cells as one 64-bit value (address/size pairs). */
uint64_t fdt_be64(const void *p);

/* True if blob starts with a version >= 16 FDT header. */
bool fdt_valid(const void *blob);

/* The blob's size in bytes from its header (valid blobs only). */
uint32_t fdt_totalsize(const void *blob);

/*
 * Walks every property of a valid blob in document order.  Returns 0 when
 * the walk reached FDT_END or the callback stopped it, -1 on a malformed
 * structure (bad token, nesting deeper than FDT_MAX_DEPTH, data outside
 * the blob).
 */
int fdt_walk(const void *blob, fdt_prop_fn fn, void *ctx);

#endif /* KERNEL_FDT_H */
