/*
 * rmap.h - the reverse map of debug builds (meson option `rmap`, which
 * defines PTMM_RMAP for the mm and for everything built against it):
 * MODEL.md M8, the proof's `paths_in_pt` kept as the paths themselves.
 *
 * For every leaf of every page table of a frame table, one record
 * {table, tree offset, level, physical address}: the (table, VA, level)
 * path that maps it and the exact PA it maps.  The leaves that map a
 * tracked data block are the records whose [pa, pa + leaf size) meets
 * the block, each with its PA offset inside the block.  The mm updates
 * the records at every leaf it writes or clears (mm/rmap_internal.h);
 * ptmm_check compares them with the tree, both ways, entry by entry.
 *
 * Storage is a fixed pool inside struct ptmm_frame_table (nothing comes
 * from the frame allocator: the mm stays freestanding), of
 * PTMM_RMAP_RECORDS records, a build constant.  When a leaf finds the pool
 * full it is not recorded and counted as unrecorded; while any such leaf
 * is in a tree the map is a subset of the tree, still checked as one, and
 * ptmm_check answers PTMM_CHECK_UNVERIFIED (not OK, not a violation) when
 * nothing else is wrong.  Removing the unrecorded leaves makes the map
 * exact again.
 *
 * Without PTMM_RMAP this header declares nothing and struct
 * ptmm_frame_table has no such member: release builds are unchanged.
 * An embedder that builds its own code against an rmap build of the mm
 * must define PTMM_RMAP too (ptmm_dep carries it), or the two disagree on
 * the frame table's layout.
 */
#ifndef PTMM_RMAP_H
#define PTMM_RMAP_H

#ifdef PTMM_RMAP

#include "mm_types.h"

/* Records in the pool (a power of two); a build may set its own. */
#ifndef PTMM_RMAP_RECORDS
#define PTMM_RMAP_RECORDS 65536u
#endif
/* Hash buckets: a chain of four records on average when full. */
#define PTMM_RMAP_BUCKETS (PTMM_RMAP_RECORDS / 4u)

struct ptmm_page_table;

/* One leaf: where it is and what it maps. */
struct ptmm_rmap_record {
	const struct ptmm_page_table *pt; /* NULL: a free record */
	uint64_t off;                     /* tree offset of the leaf (the VA in the table's tree) */
	ptmm_paddr_t pa;                  /* the PA the leaf maps */
	uint32_t next;                    /* next record of its bucket, or of the free list (index + 1; 0 ends) */
	uint16_t seen;                    /* the checker pass that found it in a tree */
	uint8_t level;                    /* the leaf's level */
	uint8_t unused;
};

struct ptmm_rmap {
	PTMM_ATOMIC(uint8_t) lock; /* guards every field below; its holder takes no other lock */
	uint16_t pass;             /* checker passes so far (record.seen) */
	uint32_t used;             /* records in use */
	uint32_t top;              /* records [0, top) have been used at least once */
	uint32_t free;             /* free list (index + 1; 0: empty) */
	uint64_t unrecorded;       /* leaves in a tree that found the pool full */
	uint64_t strays;           /* leaves removed that disagreed with their record: mm bugs */
	uint32_t bucket[PTMM_RMAP_BUCKETS]; /* first record of each chain (index + 1; 0: empty) */
	struct ptmm_rmap_record rec[PTMM_RMAP_RECORDS];
};

#endif /* PTMM_RMAP */
#endif /* PTMM_RMAP_H */
