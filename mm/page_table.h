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
#ifndef MM_PAGE_TABLE_H
#define MM_PAGE_TABLE_H

#include "arch.h"
#include "frame.h"

enum pt_space {
	PT_USER = 0,   /* lower half */
	PT_KERNEL = 1, /* upper half */
};

/* Where a lockless walk calls page_table.walk_hook. */
enum walk_stage {
	WALK_BEFORE_LOCK, /* stopped at the node, about to lock it */
	WALK_LOCKED,      /* holds its lock, about to check it is still the node it read */
};

struct page_table {
	const struct mm_arch *arch;
	struct frame_table *ft;
	unsigned node_zone;
	enum pt_space space;
	paddr_t root;
	/* User table: the kernel table whose upper half it shares, or NULL. */
	const struct page_table *kernel;
	/*
	 * Nodes this table owns, root included (not shared kernel nodes);
	 * exact while no cursor is open on it (a cursor adds its changes at
	 * each flush, not one atomic update per node).
	 */
	MM_ATOMIC(uint64_t) nr_nodes;
	/* Lockless walks that met a node detached or reused under them and retried. */
	MM_ATOMIC(uint64_t) walk_retries;
	/*
	 * Test hook (NULL in production): called by a lockless walk at the
	 * points where a racing CPU could change what it found (enum
	 * walk_stage): just before it tries to lock the node it stopped at
	 * (PA, level), and once it holds that lock but has not yet validated
	 * the node.  Host tests run other cursors there (free the node, reuse
	 * its frame) and prove the walk retries and touches no lock it does
	 * not own.
	 */
	void (*walk_hook)(void *ctx, paddr_t node, unsigned level, enum walk_stage stage);
	void *walk_hook_ctx;
	/*
	 * MM_DEBUG builds: the open cursors on this table (self-deadlock
	 * detection, cursor.c), under dbg_lock.  Present in every build so the
	 * layout does not depend on MM_DEBUG (an embedder's C++ or release
	 * translation unit sees the same struct).
	 */
	struct cursor *dbg_open;
	MM_ATOMIC(uint8_t) dbg_lock;
	/*
	 * Set by page_table_destroy: the table has no nodes any more, and every
	 * call on it is refused (MM_EINVAL) instead of walking a freed root.
	 */
	bool destroyed;
};

/*
 * Create the kernel page table: a root and its preallocated upper-half
 * level-(levels-1) nodes.  First limits `ft` to the encoder's PA width
 * (frame_table_limit_pa).  Errors: MM_ERANGE (ft's memory reaches
 * 2^arch->pa_bits), MM_ENOMEM, MM_EINVAL (bad node zone); then nothing is
 * allocated and `pt` is left destroyed (every call on it is refused).
 */
int page_table_init_kernel(struct page_table *pt, const struct mm_arch *arch,
			   struct frame_table *ft, unsigned node_zone);

/*
 * Create a user page table.  If `kernel` is not NULL its upper half is
 * shared into the new root.  Limits `ft` like page_table_init_kernel.
 * Errors: as page_table_init_kernel, and MM_EINVAL if `kernel` is not a
 * live kernel table of the same `arch` and `ft`.
 */
int page_table_init_user(struct page_table *pt, const struct mm_arch *arch,
			 struct frame_table *ft, unsigned node_zone,
			 const struct page_table *kernel);

/*
 * Tear down a user page table: unmap everything (dropping frame
 * references), flush the TLB, free every node it owns.  The struct stays
 * (marked destroyed) so that later misuse is answered, not undefined.
 * Errors, each changing nothing:
 *   MM_EINVAL  a kernel table (never destroyed), or a table already destroyed;
 *   MM_EBUSY   the table is the one page_table_activate made current on
 *              the CPU (ft->active): activate another table first.
 * Assumes no cursor is open on the table (destroy would wait for it; from
 * the thread that holds it, forever).
 */
int page_table_destroy(struct page_table *pt);

/*
 * Make `pt` the active address space (arch tlb->activate) and record it as
 * the frame table's current one (ft->active), which page_table_destroy
 * refuses to tear down.  One CPU: activating a table makes the previous one
 * inactive.  Errors: MM_EINVAL (a destroyed table; nothing is activated).
 */
int page_table_activate(const struct page_table *pt);

/* First VA and size of the half this table maps. */
vaddr_t page_table_space_base(const struct page_table *pt);
uint64_t page_table_space_size(const struct page_table *pt);

/* Largest leaf level allowed in this table (kernel: below the root). */
unsigned page_table_max_leaf_level(const struct page_table *pt);

#endif /* MM_PAGE_TABLE_H */
