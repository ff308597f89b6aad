/*
 * mm_types.h - basic types, geometry constants and error codes of the mm.
 *
 * Everything in mm/ is freestanding C11: it includes only <stdint.h>,
 * <stddef.h>, <stdbool.h> and <stdatomic.h>, which a freestanding compiler
 * provides.  The embedder (kernel or host test) supplies memset/memcpy.
 */
#ifndef PTMM_TYPES_H
#define PTMM_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef uint64_t ptmm_paddr_t; /* physical address */
typedef uint64_t ptmm_vaddr_t; /* virtual address (canonical form at the API) */
typedef uint64_t ptmm_pte_t;   /* one page-table entry, as the hardware sees it */

/*
 * PTMM_ATOMIC(T): an atomic member of a public struct.  A C++ translation
 * unit (which cannot spell C11's _Atomic) sees the plain type instead: for
 * the 1-, 4- and 8-byte types used, GCC and Clang give _Atomic T the size
 * and alignment of T (asserted below for C, and tests/cxx compares the
 * struct layouts C and C++ see), so both agree on every offset.  C++ code
 * reads no such member; only the mm touches them, atomically.  Frama-C
 * (tests/verify/eva_*.c) sees the plain type too: its libc ignores _Atomic
 * (its <stdatomic.h> defines it empty, so the _Atomic(T) form would not
 * parse) and models the atomic operations on plain objects.
 */
#if defined(__cplusplus) || defined(__FRAMAC__)
#define PTMM_ATOMIC(T) T
#else
#define PTMM_ATOMIC(T) _Atomic(T)
_Static_assert(sizeof(_Atomic(uint8_t)) == 1 && _Alignof(_Atomic(uint8_t)) == 1, "atomic u8");
_Static_assert(sizeof(_Atomic(uint32_t)) == 4 && _Alignof(_Atomic(uint32_t)) == _Alignof(uint32_t),
	       "atomic u32");
_Static_assert(sizeof(_Atomic(uint64_t)) == 8 && _Alignof(_Atomic(uint64_t)) == _Alignof(uint64_t),
	       "atomic u64");
#endif

#define PTMM_PAGE_SHIFT 12
#define PTMM_PAGE_SIZE ((uint64_t)1 << PTMM_PAGE_SHIFT)
#define PTMM_PTE_BITS 9 /* log2(entries per node) */
#define PTMM_PTES_PER_NODE (1u << PTMM_PTE_BITS)
/*
 * Deepest tree any encoder describes: level 1 = 4K leaves, the root is level
 * 3, 4 or 5 (Sv39; x86-64 4-level and Sv48; LA57 and Sv57).  Only array
 * bounds use it; every walk takes its depth from mm_arch.levels.
 */
#define PTMM_MAX_LEVELS 5

/* Size of the region one entry at `level` covers: 4K, 2M, 1G, 512G, 256T (1..5). */
static inline uint64_t ptmm_level_size(unsigned level)
{
	return (uint64_t)1 << (PTMM_PAGE_SHIFT + PTMM_PTE_BITS * (level - 1));
}

/* Index of the entry covering `va` in a node at `level`. */
static inline unsigned ptmm_level_index(ptmm_vaddr_t va, unsigned level)
{
	return (unsigned)(va >> (PTMM_PAGE_SHIFT + PTMM_PTE_BITS * (level - 1))) &
	       (PTMM_PTES_PER_NODE - 1);
}

static inline bool ptmm_is_aligned(uint64_t x, uint64_t align)
{
	return (x & (align - 1)) == 0;
}

/*
 * Results: one convention for the whole API.  A negative result is one of
 * the errors below, and an operation that fails changes nothing.  Zero
 * or positive is success: PTMM_OK (0) for an operation, or the answer
 * of a question, which is named where it is asked (ptmm_cursor_find_next:
 * PTMM_FOUND / PTMM_NOT_FOUND; ptmm_check: PTMM_OK / PTMM_CHECK_*).
 * Functions that cannot fail return void; predicates return bool.
 */
enum ptmm_err {
	PTMM_OK = 0,
	PTMM_EINVAL = -1,  /* malformed request: zero length, inexpressible property */
	PTMM_EALIGN = -2,  /* VA, PA or length not 4 KiB aligned */
	PTMM_ERANGE = -3,  /* outside the space / cursor range, PA outside RAM */
	PTMM_EEXIST = -4,  /* would overwrite a mapping without PTMM_MAP_REPLACE */
	PTMM_ENOMEM = -5,  /* no memory for page-table nodes (or counters full) */
	PTMM_EPERM = -6,   /* the frame may not be mapped (page-table node, ...) */
	PTMM_ENOTSUP = -7, /* valid, but not supported by this CPU/encoder */
	PTMM_EBUSY = -8,   /* the object is in use (a page table active on a CPU) */
};

/* Short lowercase name of an error ("inval", "align", ...), as ptsim prints it. */
const char *ptmm_strerror(int err);

#endif /* PTMM_TYPES_H */
