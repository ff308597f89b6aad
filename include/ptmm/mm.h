/*
 * mm.h - everything an embedder needs: include this one header.
 *
 *   mm_types.h   types, geometry, error codes
 *   mm_assert.h  PTMM_ASSERT and the embedder hook ptmm_assert_failed()
 *   prop.h       mapping properties
 *   arch.h       the architecture ops table (PTE format, encoders, TLB)
 *   pte.h        inline PTE helpers over the declarative format
 *   frame.h      frame slots, zones, the buddy allocator
 *   page_table.h address spaces (user / kernel halves)
 *   cursor.h     query, find, map, unmap, protect
 *   check.h      the invariant checker and statistics
 *   rmap.h       the reverse map of debug builds (option `rmap`)
 *   asid.h       ASIDs / PCIDs lent to tables by generation
 */
#ifndef PTMM_H
#define PTMM_H

/*
 * C++: the declarations below have C linkage.  The C library headers the
 * mm uses come first, outside the extern "C" block (their guards make the
 * inner includes no-ops).  A C++ file includes this header, not the
 * others one by one.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "arch.h"
#include "asid.h"
#include "check.h"
#include "cursor.h"
#include "frame.h"
#include "mm_assert.h"
#include "mm_types.h"
#include "page_table.h"
#include "prop.h"
#include "pte.h"
#include "rmap.h"

#ifdef __cplusplus
}
#endif

#endif /* PTMM_H */
