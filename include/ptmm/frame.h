/*
 * frame.h - physical frame metadata (one slot per 4 KiB frame) and the
 * buddy allocator over it.
 *
 * The embedder describes physical memory once at boot: a PA window
 * [lo, hi) that covers all RAM (holes allowed), the RAM ranges inside it
 * (each assigned to a *zone*), the pieces of RAM already in use (kernel
 * image, firmware, the slot array itself) and the MMIO windows.  Lookup
 * from a PA to its slot is one subtraction and one index: O(1).
 *
 * Blocks.  Memory is always partitioned into aligned blocks of 2^order
 * frames, free or allocated.  A block's state lives in its *head* slot
 * (the first frame); the other slots of the block are not read.  So a
 * 1 GiB block costs one slot update to allocate, to map as one leaf, or to
 * account a split (+511 references): never 512 or 262,144 updates.  In
 * general a leaf costs one update per block it intersects: one for a leaf
 * inside one allocated block (how a kernel maps an allocation), more only
 * where the caller maps frames allocated separately as one leaf; and as
 * the largest block is 1 GiB (PTMM_FRAME_MAX_ORDER), a 512 GiB or 256 TiB
 * RISC-V leaf over RAM costs one update per GiB.  ptmm_frame_block_head() finds the head of the
 * block holding any frame in at most PTMM_FRAME_MAX_ORDER + 1 probes.
 *
 * Reference counts (MODEL.md section 1), on the head slot:
 *   PTMM_FRAME_REF_UNUSED  free, in the allocator, nothing stored;
 *   PTMM_FRAME_REF_UNIQUE  exclusively owned, never mapped (kernel image,
 *                     metadata, reserved);
 *   0                 transient: being set up, or dropped and waiting for
 *                     the TLB flush that lets it be freed;
 *   1..FRAME_REF_MAX  in use: live handles + mappings (data frames), or
 *                     the single parent reference (page-table nodes).
 * Claiming a free block is UNUSED -> 0 (under the allocator lock), then
 * the metadata is written, then the count is published.
 *
 * Freeing is per block too: a block returns to the allocator when its last
 * reference goes.  A frame inside a block that is no longer mapped, while
 * another part of the block still is (a 2 MiB leaf split and partly
 * unmapped), stays allocated until the whole block is released: the price
 * of O(1) accounting per leaf, bounded by the block's size.
 *
 * Zones.  Each RAM range belongs to a zone (at most PTMM_FRAME_MAX_ZONES).
 * Allocations name their zone; `map` may claim free frames only in a zone
 * marked claimable (ptsim's data RAM, the kernel's script sandbox).
 *
 * Concurrency: the free lists, the reference counts and the release
 * intervals are protected by one spin lock (the allocator lock); fields
 * read without it are C11 atomics.  Every call may run with interrupts
 * disabled (it spins, never sleeps), but not from an interrupt or fault
 * handler that may have interrupted a ptmm_frame_* or cursor call on the same
 * CPU: the allocator lock is not reentrant (docs/DESIGN.md, "Context
 * contract").  Metadata costs sizeof(struct ptmm_frame_slot) = 32 bytes per
 * frame (checked at compile time).
 */
#ifndef PTMM_FRAME_H
#define PTMM_FRAME_H

#ifndef __cplusplus
#include <stdatomic.h>
#endif

#include "mm_types.h"
#include "rmap.h"

struct ptmm_page_table;

enum ptmm_frame_usage {
	PTMM_FRAME_UNUSED = 0,  /* free, in the allocator */
	PTMM_FRAME_RESERVED,    /* firmware, holes: never allocated, never mapped */
	PTMM_FRAME_KERNEL,      /* kernel image */
	PTMM_FRAME_METADATA,    /* the slot array and other mm metadata */
	PTMM_FRAME_PT_NODE,     /* a page-table node */
	PTMM_FRAME_DATA,        /* a data frame: may be mapped */
	/*
	 * Device memory, MODEL.md's MMIO usage.  No slot ever carries it:
	 * device frames are untracked, so a window is a registered range
	 * (ptmm_frame_table_add_mmio) and any of its frames that fall inside the
	 * slot window stay holes (RESERVED, no zone, never counted).
	 */
	PTMM_FRAME_MMIO,
};

#define PTMM_FRAME_REF_UNUSED 0xffffffffu
#define PTMM_FRAME_REF_UNIQUE 0xfffffffeu
#define PTMM_FRAME_REF_MAX 0x7fffffffu

#define PTMM_FRAME_MAX_ORDER 18  /* largest block: 2^18 frames = 1 GiB */
#define PTMM_FRAME_MAX_ZONES 4
#define PTMM_FRAME_NO_ZONE 0xff  /* slot of a hole in the PA window */
#define PTMM_FRAME_MAX_MMIO 16
#define PTMM_FRAME_MAX_RAM 32    /* discontiguous RAM ranges (adjacent ones merge) */
#define PTMM_FRAME_NIL 0xffffffffu /* end of a slot list */

/* Slot flags (frame_slot.flags). */
enum ptmm_frame_flag {
	PTMM_FRAME_F_HEAD = 1u << 0,     /* first frame of a block */
	PTMM_FRAME_F_DETACHED = 1u << 1, /* node cut from its parent, not yet freed */
	/*
	 * Data block: a mapping of it was removed, and rel_ticket names the
	 * newest release interval that removed one (frame_internal.h, "the
	 * release protocol").  May outlive that interval: it only makes a
	 * drop to zero look the ticket up.
	 */
	PTMM_FRAME_F_PENDING = 1u << 2,
	/*
	 * A free block known to be all zero (made of nodes freed empty): a
	 * node allocated from it needs no clearing.  Such blocks merge only
	 * with each other until an allocation finds no block big enough.
	 */
	PTMM_FRAME_F_ZERO = 1u << 3,
	/* Data block at count 0 on the frame table's limbo list, waiting for flushes. */
	PTMM_FRAME_F_LIMBO = 1u << 4,
};

/* One 4 KiB frame's metadata; fields other than zone are valid at heads. */
struct ptmm_frame_slot {
	PTMM_ATOMIC(uint32_t) refcount; /* see above */
	union {
		PTMM_ATOMIC(uint32_t) map_count; /* data: leaves mapping this block */
		uint32_t nr_children;       /* node: present entries (node lock) */
	};
	uint32_t next;        /* free list, node release list, limbo list (slot index) */
	union {
		uint32_t prev;       /* free list */
		uint32_t rel_ticket; /* data block with PTMM_FRAME_F_PENDING (allocator lock) */
	};
	/*
	 * Node generation: bumped when the frame becomes a node and again when
	 * it stops being one, so it is odd exactly while the frame is a live
	 * node (the lockless walk's seqlock, mm/lock.c).  Never written otherwise.
	 */
	PTMM_ATOMIC(uint32_t) gen;
	uint32_t scratch;     /* tallies of the checker and statistics */
	uint8_t usage;        /* enum ptmm_frame_usage */
	uint8_t order;        /* block size: 2^order frames */
	uint8_t level;        /* node: its level */
	uint8_t zone;         /* zone of this frame (every slot), or PTMM_FRAME_NO_ZONE */
	PTMM_ATOMIC(uint8_t) flags; /* frame_flag bits */
	/*
	 * Node lock (spinlock.h).  Written only by taking and releasing it,
	 * whatever the slot is used for, so a walker that took the lock of a
	 * frame freed under it can never clobber, or be clobbered by, the
	 * frame's next owner (mm/lock.c, lock_if_valid).
	 */
	PTMM_ATOMIC(uint8_t) lock;
	uint16_t nr_tables;    /* node: entries pointing to child nodes (node lock) */
};

struct ptmm_frame_zone {
	uint32_t free_head[PTMM_FRAME_MAX_ORDER + 1]; /* slot index of first free block */
	uint32_t free_tail[PTMM_FRAME_MAX_ORDER + 1]; /* and of the last (zero blocks come first) */
	uint64_t free_frames;
	uint64_t zero_blocks; /* free blocks flagged PTMM_FRAME_F_ZERO (on the lists) */
	bool claimable; /* map may claim free frames here */
	/*
	 * Frames of this zone may be mapped write-back only (ptmm_cursor_map and
	 * ptmm_cursor_protect answer PTMM_EPERM to any other cache policy): set by an
	 * embedder that keeps a write-back alias of the zone (a kernel's
	 * direct map), since two memory types for one frame are undefined on
	 * x86 (SDM vol. 3, "memory type aliasing") and with Svpbmt.
	 */
	bool wb_only;
};

/*
 * A release interval: the span from a cursor's first removal of a mapping
 * to the flush that covers it (frame_internal.h, "the release protocol").
 * Embedded in the cursor; linked into its frame table while open.
 */
struct ptmm_frame_release {
	struct ptmm_frame_release *prev, *next; /* open intervals, oldest first */
	uint32_t ticket; /* from frame_table.rel_next_ticket when it opened */
	bool open;
	uint32_t nodes;  /* detached nodes to free at the flush (slot index chain) */
};

/* Failure injection for tests: return true to make this allocation fail. */
typedef bool (*ptmm_frame_fail_hook)(void *ctx, unsigned zone, unsigned order);

struct ptmm_frame_table {
	struct ptmm_frame_slot *slots;
	uint64_t base_pfn; /* PFN of slots[0] */
	uint64_t nr_slots;
	uintptr_t virt_offset; /* kernel VA of a frame = PA + virt_offset */
	struct ptmm_frame_zone zones[PTMM_FRAME_MAX_ZONES];
	struct { ptmm_paddr_t base; uint64_t size; } mmio[PTMM_FRAME_MAX_MMIO];
	unsigned nr_mmio;
	struct { ptmm_paddr_t base; uint64_t size; } ram[PTMM_FRAME_MAX_RAM]; /* merged RAM ranges */
	unsigned nr_ram;
	/*
	 * Physical address width of the PTEs that map this memory
	 * (ptmm_frame_table_limit_pa; 64 until limited): no window may reach 2^pa_bits.
	 */
	uint8_t pa_bits;
	PTMM_ATOMIC(uint8_t) lock; /* free lists, reference counts, release intervals */
	/* Release protocol (allocator lock): open intervals and the limbo list. */
	struct ptmm_frame_release *rel_oldest, *rel_newest;
	uint32_t rel_next_ticket;
	uint32_t limbo; /* data blocks at count 0 waiting for open intervals (slot index chain) */
	ptmm_frame_fail_hook fail_hook;
	void *fail_ctx;
	/*
	 * The page table ptmm_page_table_activate made current, which
	 * ptmm_page_table_destroy refuses (NULL: none).  One CPU for now: the SMP
	 * work turns this into a set of CPUs per table.
	 */
	const struct ptmm_page_table *active;
#ifdef PTMM_RMAP
	/* Debug builds with the reverse map (rmap.h): every leaf of every table of this frame table. */
	struct ptmm_rmap rmap;
#endif
};

/* ---- Set-up (boot time, single-threaded) ---- */

/* Bytes of slot array needed to cover the PA window [lo, hi). */
uint64_t ptmm_frame_table_meta_bytes(ptmm_paddr_t lo, ptmm_paddr_t hi);

/*
 * Prepare `ft` over [lo, hi) (4 KiB aligned) with `slots` (at least
 * ptmm_frame_table_meta_bytes(lo, hi) bytes, any alignment of 8).  Every frame
 * starts as a hole (RESERVED, no zone).  `virt_offset` maps PAs to the
 * VAs the mm uses to read and write page-table nodes.
 * Errors: PTMM_EALIGN, PTMM_EINVAL (empty window).
 */
int ptmm_frame_table_init(struct ptmm_frame_table *ft, void *slots, ptmm_paddr_t lo, ptmm_paddr_t hi,
		     uintptr_t virt_offset);

/*
 * Hand the RAM range [pa, pa+len) to the allocator in `zone`: its frames
 * become free blocks (the largest aligned blocks that fit).
 * Errors: PTMM_EALIGN, PTMM_ERANGE (outside the window or already RAM),
 * PTMM_EINVAL (bad zone, zero length), PTMM_ENOMEM (more than PTMM_FRAME_MAX_RAM
 * discontiguous ranges).
 */
int ptmm_frame_table_add_ram(struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t len, unsigned zone);

/*
 * Take [pa, pa+len) out of the free RAM as owned, never-mappable memory
 * (`usage` KERNEL, METADATA or RESERVED; refcount UNIQUE).
 * Errors: PTMM_EALIGN, PTMM_ERANGE (not RAM), PTMM_EEXIST (part not free),
 * PTMM_EINVAL (bad usage).
 */
int ptmm_frame_table_reserve(struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t len, enum ptmm_frame_usage usage);

/*
 * Register a device-memory window (outside RAM).  PTMM_ERANGE if it touches
 * RAM (and ptmm_frame_table_add_ram refuses RAM that touches a window), or if
 * it reaches 2^pa_bits of ptmm_frame_table_limit_pa (a PTE could not hold it).
 * Errors also: PTMM_EALIGN, PTMM_EINVAL (zero length or wrapping past 2^64),
 * PTMM_ENOMEM (PTMM_FRAME_MAX_MMIO windows already).
 */
int ptmm_frame_table_add_mmio(struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t len);

/*
 * Declare that PTEs of `pa_bits`-bit physical addresses map this memory
 * (ptmm_page_table_init_* does it with the encoder's pa_bits).  From then on
 * ptmm_frame_table_add_mmio refuses windows at or above 2^pa_bits.  The limit
 * only ever shrinks.  PTMM_ERANGE, changing nothing, if the slot window or a
 * registered MMIO window already reaches 2^pa_bits; PTMM_EINVAL if pa_bits
 * is 0 or above 64.
 */
int ptmm_frame_table_limit_pa(struct ptmm_frame_table *ft, unsigned pa_bits);

/* Let `map` claim free frames of `zone` (default: not claimable).  A bad zone is ignored. */
void ptmm_frame_zone_set_claimable(struct ptmm_frame_table *ft, unsigned zone, bool claimable);

/*
 * One memory type per frame: with `wb_only`, RAM of `zone` may be mapped
 * (tracked or untracked, by map or protect) only with PTMM_CACHE_WB; any
 * other policy is PTMM_EPERM.  Default off: the simulator's contract lets a
 * script map RAM uncached (nothing else maps it there).  Errors: PTMM_EINVAL
 * (bad zone).
 */
int ptmm_frame_zone_set_wb_only(struct ptmm_frame_table *ft, unsigned zone, bool wb_only);

/*
 * True if some RAM frame of [pa, pa+len) lies in a wb_only zone, i.e. a
 * cache policy other than write-back is refused there.  O(blocks in the
 * range); O(1) when no zone is wb_only.
 */
bool ptmm_frame_range_wb_only(const struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t len);

/* Install (or clear, with NULL) the allocation failure hook. */
void ptmm_frame_table_set_fail_hook(struct ptmm_frame_table *ft, ptmm_frame_fail_hook hook, void *ctx);

/* ---- Lookup ---- */

/* Slot of the frame holding `pa`, or NULL outside the window. O(1). */
static inline struct ptmm_frame_slot *ptmm_frame_slot_of(const struct ptmm_frame_table *ft, ptmm_paddr_t pa)
{
	uint64_t i = (pa >> PTMM_PAGE_SHIFT) - ft->base_pfn;
	return i < ft->nr_slots ? &ft->slots[i] : (struct ptmm_frame_slot *)0;
}

static inline ptmm_paddr_t ptmm_frame_slot_pa(const struct ptmm_frame_table *ft, const struct ptmm_frame_slot *s)
{
	return ((uint64_t)(s - ft->slots) + ft->base_pfn) << PTMM_PAGE_SHIFT;
}

static inline void *ptmm_frame_to_virt(const struct ptmm_frame_table *ft, ptmm_paddr_t pa)
{
	return (void *)(uintptr_t)(pa + ft->virt_offset);
}

/* True if the frame at `pa` is RAM (belongs to a zone). */
bool ptmm_frame_is_ram(const struct ptmm_frame_table *ft, ptmm_paddr_t pa);

/* True if [pa, pa+len) is all RAM (inside one merged RAM range). O(ranges). */
bool ptmm_frame_range_is_ram(const struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t len);

/* True if [pa, pa+len) lies inside one registered MMIO window. */
bool ptmm_frame_range_is_mmio(const struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t len);

/* True if any frame of [pa, pa+len) is RAM. */
bool ptmm_frame_range_touches_ram(const struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t len);

/*
 * Head slot of the block (free or allocated) holding the RAM frame at
 * `pa`, or NULL if `pa` is not RAM.  At most PTMM_FRAME_MAX_ORDER + 1 probes.
 */
struct ptmm_frame_slot *ptmm_frame_block_head(const struct ptmm_frame_table *ft, ptmm_paddr_t pa);

/* ---- Allocation and handles ---- */

/*
 * Allocate an aligned block of 2^order frames from `zone` for `usage`
 * (DATA, or KERNEL/METADATA for embedder allocations).  A DATA block is
 * returned with one handle (refcount 1); others are UNIQUE.  Contents are
 * not cleared.  Errors: PTMM_ENOMEM, PTMM_EINVAL (bad zone or order, another
 * usage: page-table nodes come from the page-table layer only).
 */
int ptmm_frame_alloc(struct ptmm_frame_table *ft, unsigned zone, unsigned order,
		enum ptmm_frame_usage usage, ptmm_paddr_t *pa);

/*
 * Take / drop one handle on the DATA block holding `pa` (any of its
 * frames names it); the last drop frees it (after the TLB flush, if it
 * was mapped: frame_internal.h, "the release protocol": never before
 * every flush that covers a removed mapping of it is done).  A block's count is handles + mappings, so a ptmm_frame_put with
 * no handle left (count not above map_count: the caller put it once too
 * often) is refused rather than freeing a block that is still mapped.
 * Errors, each changing nothing:
 *   PTMM_ERANGE  `pa` is not RAM;
 *   PTMM_EINVAL  not an allocated DATA block (free, node, reserved, ...), or
 *              ptmm_frame_put with no handle left, or ptmm_frame_get of a block whose
 *              count already fell to 0 (it is waiting to be freed);
 *   PTMM_ENOMEM  ptmm_frame_get: the count is at PTMM_FRAME_REF_MAX.
 */
int ptmm_frame_get(struct ptmm_frame_table *ft, ptmm_paddr_t pa);
int ptmm_frame_put(struct ptmm_frame_table *ft, ptmm_paddr_t pa);

/*
 * Give back a KERNEL/METADATA block obtained from ptmm_frame_alloc (or taken by
 * ptmm_frame_table_reserve), named by any of its frames.  Errors: PTMM_ERANGE
 * (not RAM), PTMM_EINVAL (not such a block: free already, data, node,
 * reserved firmware); nothing changes then.
 */
int ptmm_frame_free_unique(struct ptmm_frame_table *ft, ptmm_paddr_t pa);

/* Free frames left in `zone`. */
uint64_t ptmm_frame_zone_free_frames(const struct ptmm_frame_table *ft, unsigned zone);

#endif /* PTMM_FRAME_H */
