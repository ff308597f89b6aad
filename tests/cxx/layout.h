/*
 * layout.h - the layout of every public struct as one translation unit sees
 * it: layout_c.c fills the table compiled as C, test_cxx.cpp compiled as
 * C++, and the test compares them entry by entry.
 */
#ifndef TESTS_CXX_LAYOUT_H
#define TESTS_CXX_LAYOUT_H

#include <stddef.h>

#define LAYOUT_FIELDS(X)                                                   \
	X(sizeof(struct ptmm_frame_slot))                                       \
	X(alignof_(struct ptmm_frame_slot))                                     \
	X(offsetof(struct ptmm_frame_slot, refcount))                           \
	X(offsetof(struct ptmm_frame_slot, map_count))                          \
	X(offsetof(struct ptmm_frame_slot, gen))                                \
	X(offsetof(struct ptmm_frame_slot, flags))                              \
	X(offsetof(struct ptmm_frame_slot, lock))                               \
	X(offsetof(struct ptmm_frame_slot, nr_tables))                          \
	X(sizeof(struct ptmm_frame_table))                                      \
	X(offsetof(struct ptmm_frame_table, zones))                             \
	X(offsetof(struct ptmm_frame_table, mmio))                              \
	X(offsetof(struct ptmm_frame_table, lock))                              \
	X(offsetof(struct ptmm_frame_table, fail_ctx))                          \
	X(sizeof(struct ptmm_page_table))                                       \
	X(offsetof(struct ptmm_page_table, nr_nodes))                           \
	X(offsetof(struct ptmm_page_table, walk_retries))                       \
	X(offsetof(struct ptmm_page_table, walk_hook_ctx))                      \
	X(sizeof(struct ptmm_cursor))                                           \
	X(offsetof(struct ptmm_cursor, slot))                                   \
	X(offsetof(struct ptmm_cursor, deferred))                               \
	X(sizeof(struct ptmm_arch))                                          \
	X(offsetof(struct ptmm_arch, tlb))                                   \
	X(sizeof(struct ptmm_tlb_ops))                                       \
	X(sizeof(struct ptmm_mapping))                                       \
	X(offsetof(struct ptmm_mapping, untracked))                          \
	X(sizeof(struct ptmm_prop))                                          \
	X(sizeof(struct ptmm_stats))

#define LAYOUT_COUNT_ONE(e) +1
enum { LAYOUT_COUNT = 0 LAYOUT_FIELDS(LAYOUT_COUNT_ONE) };

#ifdef __cplusplus
#define alignof_(t) alignof(t)
extern "C" const size_t layout_c[LAYOUT_COUNT];
#else
#define alignof_(t) _Alignof(t)
extern const size_t layout_c[LAYOUT_COUNT];
#endif

#endif /* TESTS_CXX_LAYOUT_H */
