/*
 * cursor.h - the range-locking cursor: the only way to read or change a
 * page table.
 *
 * cursor_open() locks the smallest subtree covering [va, va+len) (the
 * *guard* node) and every operation stays inside that range.  Cursors on
 * overlapping ranges are serialised; on disjoint ranges they may run at
 * once.  The cursor has a current VA; map, unmap and protect start there
 * and advance it past what they covered.
 *
 * Every operation is all-or-nothing: on any error (bad input, node memory
 * exhausted part way) the view, the frame counts and the free memory are
 * exactly as before.
 *
 * TLB flushes are batched: what an operation removes (frame references,
 * detached nodes) is kept on the cursor's release list and released only
 * after the flush that covers it, at cursor_flush() or cursor_close().
 *
 * All VAs at this API are canonical addresses of the table's half; all
 * lengths are multiples of 4 KiB.
 */
#ifndef MM_CURSOR_H
#define MM_CURSOR_H

#include "page_table.h"
#include "prop.h"

/* One leaf of the view, or the absent range around a VA. */
struct mm_mapping {
	vaddr_t va;    /* canonical start of the leaf (or absent range) */
	uint64_t size; /* leaf size (or size of the absent entry's range) */
	paddr_t pa;    /* leaf only */
	struct mm_prop prop; /* leaf only */
	bool present;  /* false: [va, va+size) holds no mapping */
	bool mmio;     /* leaf maps untracked device memory */
	bool untracked; /* leaf maps RAM without references (MM_MAP_UNTRACKED) */
};

enum mm_map_flags {
	MM_MAP_HUGE = 1u << 0,    /* use the largest pages alignment and length allow */
	MM_MAP_REPLACE = 1u << 1, /* replace what is mapped (unmap + map, atomically) */
	MM_MAP_MMIO = 1u << 2,    /* untracked device memory: PA inside an MMIO window */
	/*
	 * Untracked RAM, kernel tables only: any RAM frame whatever its usage
	 * (free, node, metadata, kernel image), no reference taken or dropped.
	 * For the kernel's direct map and image; the leaves carry the
	 * encoder's software `untracked` tag, which splits and protect keep.
	 */
	MM_MAP_UNTRACKED = 1u << 3,
};

struct cursor {
	struct page_table *pt;
	const struct mm_arch *arch;
	uint64_t start, end;  /* locked range, as tree offsets (VA mod 2^va_bits) */
	uint64_t va;          /* current position, tree offset */
	unsigned guard_level; /* level of the guard node */
	/*
	 * A cache of the path to the last position visited: node[l] and
	 * table[l] for l = level .. guard_level, each covering cache_va.
	 * Every node under the guard that meets the range is locked by this
	 * cursor from open to close, so the cache needs no locking of its own.
	 */
	unsigned level;
	uint64_t cache_va;
	paddr_t node[MM_MAX_LEVELS + 1];
	pte_t *table[MM_MAX_LEVELS + 1];
	struct frame_slot *slot[MM_MAX_LEVELS + 1]; /* slot of node[l] */
	/* Pending TLB flush (tree offsets; flush_lo >= flush_hi means none). */
	uint64_t flush_lo, flush_hi;
	uint64_t flush_pages;
	bool flush_tables; /* a table entry was removed: flush everything */
	/* Release interval: detached nodes, and the ticket stamped on removed frames. */
	struct frame_release rel;
	/* Nodes allocated up front for the operation in progress. */
	uint32_t reserve;
	/* Nodes added to (+) and cut from (-) the tree, not yet in pt->nr_nodes. */
	int64_t nodes_delta;
	/* Last data block looked up (slot index): runs of calls skip the search. */
	uint32_t block_hint;
	/*
	 * The last property checked for a 4 KiB map and its level-1 leaf
	 * template (leaf_tmpl 0: none yet), so runs of one-page calls with
	 * the same property skip the check and the encoder call.
	 */
	struct mm_prop leaf_prop;
	pte_t leaf_tmpl;
	/* pte_inversion of leaf_tmpl, cached with it (per cursor, not per page). */
	pte_t leaf_inv;
	/*
	 * Mapping references of one-page maps and unmaps not yet applied to
	 * the data block whose head is slot pend_block (FRAME_NIL: none):
	 * `pend` is added at the next settle.  pend_held: the cursor took one
	 * reference on that block for real (see cursor_ops.c).  The block
	 * spans PAs [pend_pa, pend_pa + pend_size) (pend_size 0: none), kept
	 * here so that the one-page paths test a frame without reading slots;
	 * pend_ref is that block's refcount (NULL: none), so that the overflow
	 * test per page reads it without finding the slot again.
	 */
	MM_ATOMIC(uint32_t) *pend_ref;
	paddr_t pend_pa;
	uint64_t pend_size;
	uint32_t pend_block;
	int32_t pend;
	bool pend_held;
	/* MM_DEBUG builds (present in all: one layout): in pt->dbg_open, and the opener. */
	struct cursor *dbg_next;
	const void *dbg_ctx; /* mm_debug_context() */
};

/*
 * Open a cursor on [va, va+len) of `pt`.  Blocks while an overlapping
 * cursor is open.  Errors: MM_EALIGN, MM_EINVAL (len 0, or `pt` destroyed),
 * MM_ERANGE (outside the table's half, or va+len past the end of the space).
 *
 * Lifecycle.  After cursor_open, whatever it returned, the cursor is
 * either open (MM_OK) or *closed* (an error); cursor_close makes it closed.
 * On a closed cursor every operation below returns MM_EINVAL and changes
 * nothing, cursor_flush and cursor_close do nothing, and cursor_va gives 0:
 * using a cursor after its close, or closing it twice, is answered, never
 * a walk of tables it no longer owns.  A cursor that was never passed to
 * cursor_open holds garbage: the mm cannot tell it from an open one.
 * Opening a cursor that is still open loses its locks (undefined).
 *
 * Context (docs/DESIGN.md, "Context contract"): cursor calls spin, never
 * sleep, and take no lock the caller could hold, so they may run with
 * interrupts disabled; but a thread must not open a cursor that needs a
 * node one of its own open cursors holds (an overlapping range, or one
 * under the same guard node): that waits forever.  In particular a fault
 * or interrupt handler must not open a cursor on a table whose cursor the
 * code it interrupted may hold.  MM_DEBUG builds detect it and stop with
 * mm_assert_failed("... would wait for a node this thread's open cursor
 * holds ...").
 */
int cursor_open(struct cursor *c, struct page_table *pt, vaddr_t va, uint64_t len);

/* Flush, release what was removed, unlock; the cursor is then closed. */
void cursor_close(struct cursor *c);

/* True if `c` is open (not closed, see cursor_open). */
static inline bool cursor_is_open(const struct cursor *c)
{
	return c->pt != (struct page_table *)0;
}

/* Flush the TLB for what the cursor changed, then release what it removed. */
void cursor_flush(struct cursor *c);

/* Current VA (canonical); 0 on a closed cursor. */
vaddr_t cursor_va(const struct cursor *c);

/* Move to `va` inside the range.  Errors: MM_EALIGN, MM_ERANGE, MM_EINVAL (closed). */
int cursor_jump(struct cursor *c, vaddr_t va);

/*
 * The mapping containing the current VA, or the absent range around it.
 * Errors: MM_ERANGE (the current VA is the end of the range), MM_EINVAL
 * (closed).
 */
int cursor_query(struct cursor *c, struct mm_mapping *out);

/*
 * The first mapping that intersects [va, va+len) from the current VA
 * (the leaf around va if there is one).  Returns 1 and fills `out` if found,
 * 0 if none, or an error (MM_EALIGN, MM_EINVAL: len 0 or closed, MM_ERANGE).
 * The current VA does not move.
 */
int cursor_find_next(struct cursor *c, uint64_t len, struct mm_mapping *out);

/*
 * Map [va, va+len) to [pa, pa+len) with `prop` at the current VA.  RAM
 * frames are referenced (free frames of a claimable zone are claimed);
 * MM_MAP_MMIO maps untracked device memory, MM_MAP_UNTRACKED untracked RAM
 * (kernel tables only; [pa, pa+len) must be RAM).  Without MM_MAP_HUGE every
 * leaf is 4 KiB; with it, the largest page that VA/PA alignment and the
 * remaining length allow at each step.  A leaf around va is split first.
 * Advances the current VA by len.
 * Errors: MM_EINVAL (also: closed cursor), MM_EALIGN, MM_ERANGE (also:
 * [pa, pa+len) reaches 2^arch->pa_bits, which no PTE can hold), MM_EEXIST,
 * MM_ENOMEM, MM_EPERM, MM_ENOTSUP.
 */
int cursor_map(struct cursor *c, paddr_t pa, uint64_t len, struct mm_prop prop, unsigned flags);

/*
 * Remove every mapping in [va, va+len), splitting leaves that straddle
 * either end and freeing nodes left empty.  *removed (if not NULL) gets
 * the bytes unmapped.  Advances the current VA by len.
 * Errors: MM_EINVAL (len 0, or closed), MM_EALIGN, MM_ERANGE, MM_ENOMEM (a
 * split needed a node).
 */
int cursor_unmap(struct cursor *c, uint64_t len, uint64_t *removed);

/*
 * Set `prop` on every mapping in [va, va+len), splitting a straddling leaf
 * only where the property really changes.  *mapped (if not NULL) gets the
 * mapped bytes in the range.  Advances the current VA by len.
 * Errors: as cursor_unmap, plus those of the property check.
 */
int cursor_protect(struct cursor *c, uint64_t len, struct mm_prop prop, uint64_t *mapped);

#endif /* MM_CURSOR_H */
