/*
 * mm_types.h - basic types, geometry constants and error codes of the mm.
 *
 * Everything in mm/ is freestanding C11: it includes only <stdint.h>,
 * <stddef.h>, <stdbool.h> and <stdatomic.h>, which a freestanding compiler
 * provides.  The embedder (kernel or host test) supplies memset/memcpy.
 */
#ifndef MM_TYPES_H
#define MM_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t paddr_t; /* physical address */
typedef uint64_t vaddr_t; /* virtual address (canonical form at the API) */
typedef uint64_t pte_t;   /* one page-table entry, as the hardware sees it */

/*
 * MM_ATOMIC(T): an atomic member of a public struct.  A C++ translation
 * unit (which cannot spell C11's _Atomic) sees the plain type instead: for
 * the 1-, 4- and 8-byte types used, GCC and Clang give _Atomic T the size
 * and alignment of T (asserted below for C, and tests/cxx compares the
 * struct layouts C and C++ see), so both agree on every offset.  C++ code
 * reads no such member; only the mm touches them, atomically.
 */
#ifdef __cplusplus
#define MM_ATOMIC(T) T
#else
#define MM_ATOMIC(T) _Atomic(T)
_Static_assert(sizeof(_Atomic(uint8_t)) == 1 && _Alignof(_Atomic(uint8_t)) == 1, "atomic u8");
_Static_assert(sizeof(_Atomic(uint32_t)) == 4 && _Alignof(_Atomic(uint32_t)) == _Alignof(uint32_t),
	       "atomic u32");
_Static_assert(sizeof(_Atomic(uint64_t)) == 8 && _Alignof(_Atomic(uint64_t)) == _Alignof(uint64_t),
	       "atomic u64");
#endif

#define MM_PAGE_SHIFT 12
#define MM_PAGE_SIZE ((uint64_t)1 << MM_PAGE_SHIFT)
#define MM_PTE_BITS 9 /* log2(entries per node) */
#define MM_PTES_PER_NODE (1u << MM_PTE_BITS)
/*
 * Deepest tree any encoder describes: level 1 = 4K leaves, the root is level
 * 3, 4 or 5 (Sv39; x86-64 4-level and Sv48; LA57 and Sv57).  Only array
 * bounds use it; every walk takes its depth from mm_arch.levels.
 */
#define MM_MAX_LEVELS 5

/* Size of the region one entry at `level` covers: 4K, 2M, 1G, 512G, 256T (1..5). */
static inline uint64_t mm_level_size(unsigned level)
{
	return (uint64_t)1 << (MM_PAGE_SHIFT + MM_PTE_BITS * (level - 1));
}

/* Index of the entry covering `va` in a node at `level`. */
static inline unsigned mm_level_index(vaddr_t va, unsigned level)
{
	return (unsigned)(va >> (MM_PAGE_SHIFT + MM_PTE_BITS * (level - 1))) &
	       (MM_PTES_PER_NODE - 1);
}

static inline bool mm_is_aligned(uint64_t x, uint64_t align)
{
	return (x & (align - 1)) == 0;
}

/*
 * Error codes.  Every public operation returns MM_OK (0) or one of these
 * (negative); an operation that fails changes nothing.
 */
enum mm_err {
	MM_OK = 0,
	MM_EINVAL = -1,  /* malformed request: zero length, inexpressible property */
	MM_EALIGN = -2,  /* VA, PA or length not 4 KiB aligned */
	MM_ERANGE = -3,  /* outside the space / cursor range, PA outside RAM */
	MM_EEXIST = -4,  /* would overwrite a mapping without MM_MAP_REPLACE */
	MM_ENOMEM = -5,  /* no memory for page-table nodes (or counters full) */
	MM_EPERM = -6,   /* the frame may not be mapped (page-table node, ...) */
	MM_ENOTSUP = -7, /* valid, but not supported by this CPU/encoder */
	MM_EBUSY = -8,   /* the object is in use (a page table active on a CPU) */
};

/* Short lowercase name of an error ("inval", "align", ...), as ptsim prints it. */
const char *mm_strerror(int err);

#endif /* MM_TYPES_H */
