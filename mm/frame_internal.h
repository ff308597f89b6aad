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
 * `hint` (per cursor, FRAME_NIL at first) remembers the last block head
 * found, so runs of calls inside one block skip the head search.
 */
#ifndef MM_FRAME_INTERNAL_H
#define MM_FRAME_INTERNAL_H

#include "frame.h"

/*
 * May [pa, pa+len) be mapped as tracked RAM with up to len/4K more
 * references?  MM_ERANGE (not RAM), MM_EPERM (a node, reserved, kernel or
 * metadata frame, or a free frame of a non-claimable zone), MM_ENOMEM
 * (a reference count would overflow).  Changes nothing.
 */
int frame_map_check(const struct frame_table *ft, paddr_t pa, uint64_t len, uint32_t *hint);

/*
 * Take the references of `n` consecutive leaves of `leaf_size` starting at
 * `pa` (validated by frame_map_check), claiming free frames as DATA blocks.
 */
void frame_map_leaves(struct frame_table *ft, paddr_t pa, uint64_t leaf_size, uint64_t n,
		      uint32_t *hint);

/*
 * frame_map_check and frame_map_leaves for one 4 KiB leaf at `pa`, in one
 * pass under the allocator lock: on an error (those of frame_map_check)
 * nothing changed, otherwise the reference is taken.
 */
int frame_map_page(struct frame_table *ft, paddr_t pa, uint32_t *hint);

/*
 * Drop the references of `n` consecutive leaves.  A block whose count
 * reaches zero is put on `*release` (to be freed after the TLB flush).
 */
void frame_unmap_leaves(struct frame_table *ft, paddr_t pa, uint64_t leaf_size, uint64_t n,
			uint32_t *release, uint32_t *hint);

/*
 * Apply `delta` mapping references (refcount and map_count) to the data
 * block whose head is slot `head`, all at once; a block whose count
 * reaches zero goes on `*release`, as with frame_unmap_leaves.  For counts
 * a cursor deferred (see cursor_ops.c, "deferred references").
 */
void frame_settle_refs(struct frame_table *ft, uint32_t head, int32_t delta, uint32_t *release);

/*
 * Head slot (index) of the block holding the frame at `pa`, found without
 * the allocator lock: only for a frame that a mapping references, whose
 * block therefore cannot be freed, merged or split meanwhile.
 */
uint32_t frame_mapped_block(const struct frame_table *ft, paddr_t pa, uint32_t *hint);

/* frame_unmap_leaves for one 4 KiB leaf at `pa`. */
void frame_unmap_page(struct frame_table *ft, paddr_t pa, uint32_t *release, uint32_t *hint);

/* Account the split of one leaf of `size` into 512 leaves of size/512. */
void frame_split_leaf(struct frame_table *ft, paddr_t pa, uint64_t size, uint32_t *hint);

/* A zeroed page-table node for `level` from `zone`, refcount 1, unlocked. */
int frame_node_alloc(struct frame_table *ft, unsigned zone, unsigned level, paddr_t *pa);

/* Free a node that is in no tree (never attached, or detached and flushed). */
void frame_node_free(struct frame_table *ft, paddr_t pa);

/* Put a detached node on a release list. */
void frame_release_push(struct frame_table *ft, uint32_t *release, struct frame_slot *s);

/*
 * Mark the node `s`, just cut from its tree, detached and put it on a
 * release list.  A node is retired once, and only the cursor holding its
 * lock writes its flags, so this needs no atomic read-modify-write.
 */
void frame_release_push_node(struct frame_table *ft, uint32_t *release, struct frame_slot *s);

/*
 * Free everything on a release list: nodes, and data blocks whose count is
 * still zero (a block mapped again since is kept).  Call only after the TLB
 * flush that covers every VA through which they were reachable.
 */
void frame_release_all(struct frame_table *ft, uint32_t *release);

/* frame_is_ram, inline: for per-page loops. */
static inline bool frame_pa_is_ram(const struct frame_table *ft, paddr_t pa)
{
	const struct frame_slot *s = frame_slot_of(ft, pa);
	return s && s->zone != FRAME_NO_ZONE;
}

/*
 * End of the merged RAM range holding the frame at `pa`, or 0 if `pa` is
 * not RAM.  Reads only the range table (no slot).  O(ranges).
 */
paddr_t frame_ram_range_end(const struct frame_table *ft, paddr_t pa);

static inline uint32_t frame_slot_index(const struct frame_table *ft, const struct frame_slot *s)
{
	return (uint32_t)(s - ft->slots);
}

#endif /* MM_FRAME_INTERNAL_H */
