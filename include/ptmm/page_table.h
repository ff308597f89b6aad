/*
 * page_table.h - an address space: a root node and the half it may map.
 *
 * A *kernel* page table maps only the upper half [2^64 - 2^(va_bits-1),
 * 2^64); its root entries for that half point to level-(levels-1) nodes
 * that are allocated up front and never freed, so that every *user* page
 * table can share them by copying the root entries.  A user page table maps
 * only the lower half [0, 2^(va_bits-1)); cursors on it never reach the
 * shared kernel nodes.
 *
 *        user root                      kernel root
 *     +-----------+ 0               +-----------+ 0
 *     |  user     |                 |  (empty)  |
 *     |  entries  |                 |           |
 *     +-----------+ 256             +-----------+ 256
 *     | copies of | ---- share ---> | prealloc'd| --> L3 nodes (kernel)
 *     | kernel    |                 | L3 tables |
 *     +-----------+ 511             +-----------+ 511
 *
 * Nodes come from one zone of the frame table (`node_zone`).
 * The tree itself is only changed through a cursor (cursor.h).
 */
#ifndef PTMM_PAGE_TABLE_H
#define PTMM_PAGE_TABLE_H

#include "arch.h"
#include "frame.h"

enum ptmm_pt_space {
	PTMM_PT_USER = 0,   /* lower half */
	PTMM_PT_KERNEL = 1, /* upper half */
};

/* Where a lockless walk calls page_table.walk_hook. */
enum ptmm_walk_stage {
	PTMM_WALK_BEFORE_LOCK, /* stopped at the node, about to lock it */
	PTMM_WALK_LOCKED,      /* holds its lock, about to check it is still the node it read */
};

struct ptmm_page_table {
	const struct ptmm_arch *arch;
	struct ptmm_frame_table *ft;
	unsigned node_zone;
	enum ptmm_pt_space space;
	ptmm_paddr_t root;
	/* User table: the kernel table whose upper half it shares, or NULL. */
	const struct ptmm_page_table *kernel;
	/*
	 * Nodes this table owns, root included (not shared kernel nodes);
	 * exact while no cursor is open on it (a cursor adds its changes at
	 * each flush, not one atomic update per node).
	 */
	PTMM_ATOMIC(uint64_t) nr_nodes;
	/* Lockless walks that met a node detached or reused under them and retried. */
	PTMM_ATOMIC(uint64_t) walk_retries;
	/*
	 * Test hook (NULL in production): called by a lockless walk at the
	 * points where a racing CPU could change what it found (enum
	 * walk_stage): just before it tries to lock the node it stopped at
	 * (PA, level), and once it holds that lock but has not yet validated
	 * the node.  Host tests run other cursors there (free the node, reuse
	 * its frame) and prove the walk retries and touches no lock it does
	 * not own.
	 */
	void (*walk_hook)(void *ctx, ptmm_paddr_t node, unsigned level, enum ptmm_walk_stage stage);
	void *walk_hook_ctx;
	/*
	 * PTMM_DEBUG builds: the open cursors on this table (self-deadlock
	 * detection, mm/lock.c), under dbg_lock.  Present in every build so the
	 * layout does not depend on PTMM_DEBUG (an embedder's C++ or release
	 * translation unit sees the same struct).
	 */
	struct ptmm_cursor *dbg_open;
	PTMM_ATOMIC(uint8_t) dbg_lock;
	/*
	 * Set by ptmm_page_table_destroy: the table has no nodes any more, and every
	 * call on it is refused (PTMM_EINVAL) instead of walking a freed root.
	 */
	bool destroyed;
};

/*
 * Create the kernel page table: a root and its preallocated upper-half
 * level-(levels-1) nodes.  First limits `ft` to the encoder's PA width
 * (ptmm_frame_table_limit_pa).  Errors: PTMM_ERANGE (ft's memory reaches
 * 2^arch->pa_bits), PTMM_ENOMEM, PTMM_EINVAL (bad node zone); then nothing is
 * allocated and `pt` is left destroyed (every call on it is refused).
 */
int ptmm_page_table_init_kernel(struct ptmm_page_table *pt, const struct ptmm_arch *arch,
			   struct ptmm_frame_table *ft, unsigned node_zone);

/*
 * Create a user page table.  If `kernel` is not NULL its upper half is
 * shared into the new root.  Limits `ft` like ptmm_page_table_init_kernel.
 * Errors: as ptmm_page_table_init_kernel, and PTMM_EINVAL if `kernel` is not a
 * live kernel table of the same `arch` and `ft`.
 */
int ptmm_page_table_init_user(struct ptmm_page_table *pt, const struct ptmm_arch *arch,
			 struct ptmm_frame_table *ft, unsigned node_zone,
			 const struct ptmm_page_table *kernel);

/*
 * Tear down a user page table: unmap everything (dropping frame
 * references), flush the TLB, free every node it owns.  The struct stays
 * (marked destroyed) so that later misuse is answered, not undefined.
 * Errors, each changing nothing:
 *   PTMM_EINVAL  a kernel table (never destroyed), or a table already destroyed;
 *   PTMM_EBUSY   the table is the one ptmm_page_table_activate made current on
 *              the CPU (ft->active): activate another table first.
 * Assumes no cursor is open on the table (destroy would wait for it; from
 * the thread that holds it, forever).
 */
int ptmm_page_table_destroy(struct ptmm_page_table *pt);

/*
 * Make `pt` the active address space (arch tlb->activate) and record it as
 * the frame table's current one (ft->active), which ptmm_page_table_destroy
 * refuses to tear down.  One CPU: activating a table makes the previous one
 * inactive.  Errors: PTMM_EINVAL (a destroyed table; nothing is activated).
 */
int ptmm_page_table_activate(const struct ptmm_page_table *pt);

/*
 * Size and first VA of the half this table maps: 2^(va_bits-1) bytes, from
 * 0 (user) or from 2^64 - 2^(va_bits-1) (kernel).  Inline: the cursor's
 * jump asks for them on every call.
 */
static inline uint64_t ptmm_page_table_space_size(const struct ptmm_page_table *pt)
{
	return (uint64_t)1 << (pt->arch->va_bits - 1);
}

static inline ptmm_vaddr_t ptmm_page_table_space_base(const struct ptmm_page_table *pt)
{
	return pt->space == PTMM_PT_USER ? 0 : (ptmm_vaddr_t)0 - ptmm_page_table_space_size(pt);
}

/* Largest leaf level allowed in this table (kernel: below the root). */
unsigned ptmm_page_table_max_leaf_level(const struct ptmm_page_table *pt);

#endif /* PTMM_PAGE_TABLE_H */
