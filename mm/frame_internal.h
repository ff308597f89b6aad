/*
 * frame_internal.h - the frame-table services the page-table layer uses:
 * node allocation, mapping references on data blocks, and the release list.
 * Not part of the embedder API (see frame.h).
 *
 * Mapping references.  A leaf of size S over tracked RAM [pa, pa+S) holds
 * one reference (refcount and map_count) on every block it intersects.  A
 * run of n equal leaves therefore costs one update per block, however many
 * leaves fall into it: mapping 1 GiB of 4 KiB leaves inside one 1 GiB block
 * is a single +262144.
 *
 * `hint` (per cursor, PTMM_FRAME_NIL at first) remembers the last block head
 * found, so runs of calls inside one block skip the head search.
 */
#ifndef MM_FRAME_INTERNAL_H
#define MM_FRAME_INTERNAL_H

#include <ptmm/frame.h>

/*
 * The map functions below take page-aligned addresses and lengths (the
 * cursor checks them first): a check looks at whole frames, so an
 * unaligned range would reach one frame more than was checked.
 *
 * May [pa, pa+len) be mapped as tracked RAM with up to len/4K more
 * references?  PTMM_ERANGE (not RAM), PTMM_EPERM (a node, reserved, kernel or
 * metadata frame, or a free frame of a non-claimable zone), PTMM_ENOMEM
 * (a reference count would overflow).  Changes nothing.
 */
int ptmm__frame_map_check(struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t len, uint32_t *hint);

/*
 * Take the references of `n` consecutive leaves of `leaf_size` starting at
 * `pa` (validated by ptmm__frame_map_check), claiming free frames as DATA blocks.
 */
void ptmm__frame_map_leaves(struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t leaf_size, uint64_t n,
		      uint32_t *hint);

/*
 * ptmm__frame_map_check and ptmm__frame_map_leaves for one 4 KiB leaf at `pa`, in one
 * pass under the allocator lock: on an error (those of ptmm__frame_map_check)
 * nothing changed, otherwise the reference is taken.
 */
int ptmm__frame_map_page(struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint32_t *hint);

/*
 * The release protocol.  A data block that loses a mapping may still be
 * reached through a TLB entry until the remover's flush; it may be freed
 * only once every flush covering a removal of it is done, whoever drops
 * the last reference (a cursor, or ptmm_frame_put on a handle) and whichever
 * cursor owns the flush.
 *
 *  - A *release interval* (struct ptmm_frame_release, one per cursor) opens at
 *    the cursor's first removal after open or after its last flush, and
 *    takes a ticket from frame_table.rel_next_ticket; it closes at the end
 *    of the cursor's flush, after the TLB hooks returned (with several
 *    CPUs: after every CPU of the table's CPU set acknowledged).  Open
 *    intervals are kept oldest first; the oldest one's ticket is the
 *    frame table's horizon.
 *  - Every removal of a mapping of a block stamps it with the remover's
 *    ticket (PTMM_FRAME_F_PENDING + rel_ticket, the newest one wins).
 *  - A block whose count reaches zero (ptmm_frame_put, an unmap, a settle) is
 *    freed at once if its stamp is older than the horizon (or absent),
 *    i.e. every interval that removed a mapping of it has closed; else it
 *    goes on the limbo list.
 *  - When the oldest interval closes the horizon moves on and the limbo
 *    list is swept: blocks mapped again leave it, blocks whose stamp is
 *    now older than the horizon are freed.
 * Tickets are 32 bits compared relative to the horizon: a stamp counts
 * only while it lies in [horizon, rel_next_ticket), so a stale stamp at
 * worst delays a free until the intervals open now have closed.  Correct
 * while fewer than 2^32 intervals open during one interval's life.
 * All of it runs under the allocator lock, which every real reference
 * change takes anyway.
 *
 * Nodes are simpler: a node is detached by exactly one cursor (its lock
 * holder), goes on that cursor's interval (frame_release.nodes) and is
 * freed at that cursor's flush, after its TLB flush; no other cursor can
 * have reached it through the tree since.
 */

/*
 * Drop the references of `n` consecutive leaves removed by the cursor of
 * interval `r`: each block is stamped, and one whose count reaches zero is
 * freed or put in limbo as above.  `r` NULL: not a removal (a split), the
 * count must not reach zero.
 */
void ptmm__frame_unmap_leaves(struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t leaf_size, uint64_t n,
			struct ptmm_frame_release *r, uint32_t *hint);

/*
 * Apply `delta` mapping references (refcount and map_count) to the data
 * block whose head is slot `head`, all at once; a negative delta is a
 * removal by interval `r`, as with ptmm__frame_unmap_leaves.  For counts a
 * cursor deferred (deferred_refs.h).
 */
void ptmm__frame_settle_refs(struct ptmm_frame_table *ft, uint32_t head, int32_t delta,
		       struct ptmm_frame_release *r);

/*
 * Head slot (index) of the block holding the frame at `pa`, found without
 * the allocator lock: only for a frame that a mapping references, whose
 * block therefore cannot be freed, merged or split meanwhile.
 */
uint32_t ptmm__frame_mapped_block(const struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint32_t *hint);

/* Account the split of one leaf of `size` into 512 leaves of size/512. */
void ptmm__frame_split_leaf(struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t size, uint32_t *hint);

/*
 * A zeroed page-table node for `level` from `zone`, refcount 1, live (odd
 * generation).  Its lock is not taken: the new owner takes it (a walker
 * that still holds the lock of the frame's previous life lets go of it at
 * once, when it sees the generation changed).
 */
int ptmm__frame_node_alloc(struct ptmm_frame_table *ft, unsigned zone, unsigned level, ptmm_paddr_t *pa);

/* Free a node that is in no tree and was never locked by its owner (a reserve, a root). */
void ptmm__frame_node_free(struct ptmm_frame_table *ft, ptmm_paddr_t pa);

/*
 * Mark the node `s`, just cut from its tree, detached and put it on the
 * interval `r` (its nodes are freed at the flush).  The caller holds the
 * node's lock, and keeps it until ptmm__frame_release_all frees the node.  A
 * node is retired once, and only its lock holder writes its flags.
 */
static inline void frame_release_push_node(struct ptmm_frame_table *ft, struct ptmm_frame_release *r,
					   struct ptmm_frame_slot *s)
{
	uint8_t f = atomic_load_explicit(&s->flags, memory_order_relaxed);
	/* Release: a walker that sees the flag retries (and stops waiting for the lock). */
	atomic_store_explicit(&s->flags, (uint8_t)(f | PTMM_FRAME_F_DETACHED), memory_order_release);
	s->next = r->nodes;
	r->nodes = (uint32_t)(s - ft->slots);
}

/*
 * End the interval `r`: free its nodes (releasing their locks), close it,
 * and if it was the oldest, sweep the limbo list.  Call only after the
 * TLB flush that covers every VA through which the removed nodes and
 * frames were reachable.  Nothing to do (and no lock taken) for an
 * interval that never opened.
 */
void ptmm__frame_release_all(struct ptmm_frame_table *ft, struct ptmm_frame_release *r);

/* An interval that has not opened (for a new cursor). */
static inline void frame_release_init(struct ptmm_frame_release *r)
{
	*r = (struct ptmm_frame_release){ .nodes = PTMM_FRAME_NIL };
}

/* ptmm_frame_is_ram, inline: for per-page loops. */
static inline bool frame_pa_is_ram(const struct ptmm_frame_table *ft, ptmm_paddr_t pa)
{
	const struct ptmm_frame_slot *s = ptmm_frame_slot_of(ft, pa);
	return s && s->zone != PTMM_FRAME_NO_ZONE;
}

/*
 * End of the merged RAM range holding the frame at `pa`, or 0 if `pa` is
 * not RAM.  Reads only the range table (no slot).  O(ranges).
 */
ptmm_paddr_t ptmm__frame_ram_range_end(const struct ptmm_frame_table *ft, ptmm_paddr_t pa);

static inline uint32_t frame_slot_index(const struct ptmm_frame_table *ft, const struct ptmm_frame_slot *s)
{
	return (uint32_t)(s - ft->slots);
}

#endif /* MM_FRAME_INTERNAL_H */
