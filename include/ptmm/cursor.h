/*
 * cursor.h - the range-locking cursor: the only way to read or change a
 * page table.
 *
 * ptmm_cursor_open() locks the smallest subtree covering [va, va+len) (the
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
 * after the flush that covers it, at ptmm_cursor_flush() or ptmm_cursor_close().
 *
 * All VAs at this API are canonical addresses of the table's half; all
 * lengths are multiples of 4 KiB.
 */
#ifndef PTMM_CURSOR_H
#define PTMM_CURSOR_H

#include "page_table.h"
#include "prop.h"

/* One leaf of the view, or the absent range around a VA. */
struct ptmm_mapping {
	ptmm_vaddr_t va;    /* canonical start of the leaf (or absent range) */
	uint64_t size; /* leaf size (or size of the absent entry's range) */
	ptmm_paddr_t pa;    /* leaf only */
	struct ptmm_prop prop; /* leaf only */
	bool present;  /* false: [va, va+size) holds no mapping */
	bool mmio;     /* leaf maps untracked device memory */
	bool untracked; /* leaf maps RAM without references (PTMM_MAP_UNTRACKED) */
};

enum ptmm_map_flags {
	PTMM_MAP_HUGE = 1u << 0,    /* use the largest pages alignment and length allow */
	PTMM_MAP_REPLACE = 1u << 1, /* replace what is mapped (unmap + map, atomically) */
	PTMM_MAP_MMIO = 1u << 2,    /* untracked device memory: PA inside an MMIO window */
	/*
	 * Untracked RAM, kernel tables only: any RAM frame whatever its usage
	 * (free, node, metadata, kernel image), no reference taken or dropped.
	 * For the kernel's direct map and image; the leaves carry the
	 * encoder's software `untracked` tag, which splits and protect keep.
	 */
	PTMM_MAP_UNTRACKED = 1u << 3,
};

/*
 * The cursor's TLB batch: what its next flush must invalidate, and what
 * that flush then releases.  Private to the mm (mm/tlb_batch.h); in this
 * header only so that a cursor can live on the caller's stack.
 */
struct ptmm_tlb_batch {
	uint64_t lo, hi;   /* tree offsets to invalidate; lo >= hi: none */
	uint64_t pages;    /* 4 KiB pages recorded (1: a one-page invalidation) */
	bool tables;       /* a table entry was removed: invalidate everything */
	/* Release interval: detached nodes, and the ticket stamped on removed frames. */
	struct ptmm_frame_release rel;
};

/*
 * Mapping references of one-page maps and unmaps not yet applied to one
 * data block (private to the mm: mm/deferred_refs.h).  `delta` is added
 * to the block whose head is slot `block` (PTMM_FRAME_NIL: none) at the
 * next settle; `held`: the cursor took one reference on it for real.  The
 * block spans PAs [pa, pa + size) (size 0: none), kept here so that the
 * one-page paths test a frame without reading slots; `refcount` is that
 * block's count (NULL: none), read by the overflow test per page.
 */
struct ptmm_deferred_refs {
	PTMM_ATOMIC(uint32_t) *refcount;
	ptmm_paddr_t pa;
	uint64_t size;
	uint32_t block;
	int32_t delta;
	bool held;
};

struct ptmm_cursor {
	struct ptmm_page_table *pt;
	const struct ptmm_arch *arch;
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
	ptmm_paddr_t node[PTMM_MAX_LEVELS + 1];
	ptmm_pte_t *table[PTMM_MAX_LEVELS + 1];
	struct ptmm_frame_slot *slot[PTMM_MAX_LEVELS + 1]; /* slot of node[l] */
	/* What the next flush must invalidate, and what it then releases (mm/tlb_batch.h). */
	struct ptmm_tlb_batch batch;
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
	struct ptmm_prop leaf_prop;
	ptmm_pte_t leaf_tmpl;
	/* ptmm_pte_inversion of leaf_tmpl, cached with it (per cursor, not per page). */
	ptmm_pte_t leaf_inv;
	/* Mapping references of one-page calls not yet applied (mm/deferred_refs.h). */
	struct ptmm_deferred_refs deferred;
	/* PTMM_DEBUG builds (present in all: one layout): in pt->dbg_open, and the opener. */
	struct ptmm_cursor *dbg_next;
	const void *dbg_ctx; /* ptmm_debug_context() */
};

/*
 * Open a cursor on [va, va+len) of `pt`.  Blocks while an overlapping
 * cursor is open.  Errors: PTMM_EALIGN, PTMM_EINVAL (len 0, or `pt` destroyed),
 * PTMM_ERANGE (outside the table's half, or va+len past the end of the space).
 *
 * Lifecycle.  After ptmm_cursor_open, whatever it returned, the cursor is
 * either open (PTMM_OK) or *closed* (an error); ptmm_cursor_close makes it closed.
 * On a closed cursor every operation below returns PTMM_EINVAL and changes
 * nothing, ptmm_cursor_flush and ptmm_cursor_close do nothing, and ptmm_cursor_va gives 0:
 * using a cursor after its close, or closing it twice, is answered, never
 * a walk of tables it no longer owns.  A cursor that was never passed to
 * ptmm_cursor_open holds garbage: the mm cannot tell it from an open one.
 * Opening a cursor that is still open loses its locks (undefined).
 *
 * Context (docs/DESIGN.md, "Context contract"): cursor calls spin, never
 * sleep, and take no lock the caller could hold, so they may run with
 * interrupts disabled; but a thread must not open a cursor that needs a
 * node one of its own open cursors holds (an overlapping range, or one
 * under the same guard node): that waits forever.  In particular a fault
 * or interrupt handler must not open a cursor on a table whose cursor the
 * code it interrupted may hold.  PTMM_DEBUG builds detect it and stop with
 * ptmm_assert_failed("... would wait for a node this thread's open cursor
 * holds ...").
 */
int ptmm_cursor_open(struct ptmm_cursor *c, struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t len);

/*
 * End the cursor: ptmm_cursor_flush, then unlock everything it holds; if
 * its guard node was left empty, reclaim it and every ancestor that
 * becomes empty (with fresh locks, parent first) and flush again for them.
 * Afterwards no node below the root that the cursor emptied remains in
 * the tree, and the cursor is closed.  Cannot fail.
 */
void ptmm_cursor_close(struct ptmm_cursor *c);

/* True if `c` is open (not closed, see ptmm_cursor_open). */
static inline bool ptmm_cursor_is_open(const struct ptmm_cursor *c)
{
	return c->pt != (struct ptmm_page_table *)0;
}

/*
 * Make the cursor's changes final, in this order: apply the mapping
 * references its one-page calls deferred (frame counts become exact),
 * add the nodes it created and removed to the table's count, invalidate
 * with one call of the TLB hooks what it changed since the last flush
 * (everything if a table was removed), and only then release the frames
 * and nodes it removed.  The cursor stays open with its locks.  Cannot fail.
 */
void ptmm_cursor_flush(struct ptmm_cursor *c);

/*
 * Current VA; 0 on a closed cursor.  Canonical while it lies inside the
 * table's half; once the cursor has reached the end of its half it is the
 * half's end, like va + len: 2^(va_bits-1) for the user half (not
 * canonical) and 0 for the kernel half (it wraps).
 */
ptmm_vaddr_t ptmm_cursor_va(const struct ptmm_cursor *c);

/* Move to `va` inside the range.  Errors: PTMM_EALIGN, PTMM_ERANGE, PTMM_EINVAL (closed). */
int ptmm_cursor_jump(struct ptmm_cursor *c, ptmm_vaddr_t va);

/*
 * The mapping containing the current VA, or the absent range around it.
 * Errors: PTMM_ERANGE (the current VA is the end of the range), PTMM_EINVAL
 * (closed).
 */
int ptmm_cursor_query(struct ptmm_cursor *c, struct ptmm_mapping *out);

/* ptmm_cursor_find_next's answers (mm_types.h, "Results"). */
#define PTMM_NOT_FOUND 0 /* no mapping meets the range; `out` untouched */
#define PTMM_FOUND 1     /* `out` holds the first mapping */

/*
 * The first mapping that intersects [va, va+len) from the current VA
 * (the leaf around va if there is one).  Returns PTMM_FOUND and fills
 * `out`, PTMM_NOT_FOUND, or an error (PTMM_EALIGN, PTMM_EINVAL: len 0 or
 * closed, PTMM_ERANGE).  The current VA does not move.
 */
int ptmm_cursor_find_next(struct ptmm_cursor *c, uint64_t len, struct ptmm_mapping *out);

/*
 * Map [va, va+len) to [pa, pa+len) with `prop` at the current VA.  RAM
 * frames are referenced (free frames of a claimable zone are claimed);
 * PTMM_MAP_MMIO maps untracked device memory, PTMM_MAP_UNTRACKED untracked RAM
 * (kernel tables only; [pa, pa+len) must be RAM).  Without PTMM_MAP_HUGE every
 * leaf is 4 KiB; with it, the largest page that VA/PA alignment and the
 * remaining length allow at each step.  A leaf around va is split first.
 * Advances the current VA by len.
 * Errors: PTMM_EINVAL (also: closed cursor), PTMM_EALIGN, PTMM_ERANGE (also:
 * [pa, pa+len) reaches 2^arch->pa_bits, which no PTE can hold), PTMM_EEXIST,
 * PTMM_ENOMEM, PTMM_EPERM, PTMM_ENOTSUP.
 */
int ptmm_cursor_map(struct ptmm_cursor *c, ptmm_paddr_t pa, uint64_t len, struct ptmm_prop prop, unsigned flags);

/*
 * Remove every mapping in [va, va+len), splitting leaves that straddle
 * either end and freeing nodes left empty.  *removed (if not NULL) gets
 * the bytes unmapped.  Advances the current VA by len.
 * Errors: PTMM_EINVAL (len 0, or closed), PTMM_EALIGN, PTMM_ERANGE, PTMM_ENOMEM (a
 * split needed a node).
 */
int ptmm_cursor_unmap(struct ptmm_cursor *c, uint64_t len, uint64_t *removed);

/*
 * Set `prop` on every mapping in [va, va+len), splitting a straddling leaf
 * only where the property really changes.  *mapped (if not NULL) gets the
 * mapped bytes in the range.  Advances the current VA by len.
 * Errors: as ptmm_cursor_unmap, plus those of the property check.
 */
int ptmm_cursor_protect(struct ptmm_cursor *c, uint64_t len, struct ptmm_prop prop, uint64_t *mapped);

#endif /* PTMM_CURSOR_H */
