/*
 * frame.c - frame slots and the buddy allocator.
 *
 * Physical memory inside the window is always partitioned into aligned
 * blocks of 2^order frames (alignment in absolute PFNs, so a block can back
 * a huge page).  The block's state is kept in its head slot:
 *
 *   free block      HEAD, usage UNUSED, refcount UNUSED, on its zone's list
 *   allocated block HEAD, usage != UNUSED, refcount per frame.h
 *   hole            HEAD, order 0, usage RESERVED, refcount UNIQUE, no zone
 *   zero block      a free block flagged ZERO: made only of nodes freed
 *                   empty, so all zero.  It merges only with zero buddies
 *                   (merging with another block would lose what we know)
 *                   until an allocation of the zone finds no block big
 *                   enough and drains them all into ordinary free blocks
 *
 * Non-head slots have no HEAD flag and are never read for state, which is
 * what lets a 1 GiB block be allocated, split or freed in O(order) steps.
 */
#include <ptmm/frame.h>

#include "frame_internal.h"
#include <ptmm/mm_assert.h>
#include <ptmm/pte.h>
#include "spinlock.h"

_Static_assert(sizeof(struct ptmm_frame_slot) <= 32, "metadata budget is 32 bytes per frame");

/* ---- small helpers ---- */

static inline uint64_t slot_pfn(const struct ptmm_frame_table *ft, const struct ptmm_frame_slot *s)
{
	return (uint64_t)(s - ft->slots) + ft->base_pfn;
}

static inline struct ptmm_frame_slot *pfn_slot(const struct ptmm_frame_table *ft, uint64_t pfn)
{
	uint64_t i = pfn - ft->base_pfn;
	return i < ft->nr_slots ? &ft->slots[i] : (struct ptmm_frame_slot *)0;
}

static inline uint64_t block_frames(const struct ptmm_frame_slot *s)
{
	return (uint64_t)1 << s->order;
}

static inline bool slot_is_head(const struct ptmm_frame_slot *s)
{
	return atomic_load_explicit(&s->flags, memory_order_relaxed) & PTMM_FRAME_F_HEAD;
}

/*
 * Release: a lockless walker that reads flags written after a node's
 * generation bump also sees the bump (lock.c, node_still_valid).
 */
static inline void slot_set_flags(struct ptmm_frame_slot *s, uint8_t flags)
{
	atomic_store_explicit(&s->flags, flags, memory_order_release);
}

static inline bool slot_is_free(const struct ptmm_frame_slot *s)
{
	return s->usage == PTMM_FRAME_UNUSED;
}

static inline bool slot_is_zero(const struct ptmm_frame_slot *s)
{
	return atomic_load_explicit(&s->flags, memory_order_relaxed) & PTMM_FRAME_F_ZERO;
}

/* ---- free lists (allocator lock held) ---- */

/*
 * Push the free head `s` of order s->order onto its zone's list: a zero
 * block at the front, any other at the back.  So every list holds its
 * zero blocks first, and a node allocation finds one by looking at the
 * list heads only (first_zero_order).
 */
static void list_push(struct ptmm_frame_table *ft, struct ptmm_frame_slot *s)
{
	struct ptmm_frame_zone *z = &ft->zones[s->zone];
	uint32_t i = frame_slot_index(ft, s);
	uint32_t *head = &z->free_head[s->order], *tail = &z->free_tail[s->order];
	if (slot_is_zero(s) || *head == PTMM_FRAME_NIL) {
		s->prev = PTMM_FRAME_NIL;
		s->next = *head;
		if (s->next != PTMM_FRAME_NIL)
			ft->slots[s->next].prev = i;
		else
			*tail = i;
		*head = i;
	} else {
		s->next = PTMM_FRAME_NIL;
		s->prev = *tail;
		ft->slots[*tail].next = i;
		*tail = i;
	}
	z->free_frames += block_frames(s);
}

/* Unlink the free head `s` from its zone's list. */
static void list_remove(struct ptmm_frame_table *ft, struct ptmm_frame_slot *s)
{
	struct ptmm_frame_zone *z = &ft->zones[s->zone];
	if (s->prev != PTMM_FRAME_NIL)
		ft->slots[s->prev].next = s->next;
	else
		z->free_head[s->order] = s->next;
	if (s->next != PTMM_FRAME_NIL)
		ft->slots[s->next].prev = s->prev;
	else
		z->free_tail[s->order] = s->prev;
	z->free_frames -= block_frames(s);
}

/* Make `s` the head of a free block of `order` (not yet on a list). */
static void make_free_head(struct ptmm_frame_slot *s, unsigned order)
{
	s->usage = PTMM_FRAME_UNUSED;
	s->order = (uint8_t)order;
	s->level = 0;
	s->map_count = 0;
	atomic_store_explicit(&s->refcount, PTMM_FRAME_REF_UNUSED, memory_order_relaxed);
	slot_set_flags(s, PTMM_FRAME_F_HEAD);
	/* Not the lock: see frame_slot.lock. */
}

/*
 * The free block `s` just left its list to be used: if it was a zero
 * block, drop the flag and the zone's tally.  Returns whether it was.
 * Lock held.
 */
static bool take_zero_flag(struct ptmm_frame_table *ft, struct ptmm_frame_slot *s)
{
	if (!slot_is_zero(s))
		return false;
	atomic_fetch_and_explicit(&s->flags, (uint8_t)~PTMM_FRAME_F_ZERO, memory_order_relaxed);
	ft->zones[s->zone].zero_blocks--;
	return true;
}

/* Make `s` a free head of `order`, a zero block if `zero`, and list it.  Lock held. */
static void push_free_block(struct ptmm_frame_table *ft, struct ptmm_frame_slot *s, unsigned order,
			    bool zero)
{
	make_free_head(s, order);
	if (zero) {
		slot_set_flags(s, PTMM_FRAME_F_HEAD | PTMM_FRAME_F_ZERO);
		ft->zones[s->zone].zero_blocks++;
	}
	list_push(ft, s);
}

/*
 * Free the block at `s` (its order already in s->order) into its zone,
 * merging with free buddies of the same zone.  A block known all zero
 * (`zero`) merges only with zero buddies and stays a zero block; any
 * other merges only with ordinary free buddies.  Lock held.
 */
static void free_block_as_locked(struct ptmm_frame_table *ft, struct ptmm_frame_slot *s, bool zero)
{
	unsigned order = s->order;
	uint64_t pfn = slot_pfn(ft, s);

	while (order < PTMM_FRAME_MAX_ORDER) {
		uint64_t buddy_pfn = pfn ^ ((uint64_t)1 << order);
		struct ptmm_frame_slot *b = pfn_slot(ft, buddy_pfn);
		/* Merge only with a free whole block of the same size, zone and kind. */
		if (!b || !slot_is_head(b) || !slot_is_free(b) || b->order != order ||
		    b->zone != s->zone || slot_is_zero(b) != zero)
			break;
		list_remove(ft, b);
		take_zero_flag(ft, b);
		if (buddy_pfn < pfn) {
			slot_set_flags(s, 0); /* s becomes a tail */
			s = b;
			pfn = buddy_pfn;
		} else {
			slot_set_flags(b, 0);
		}
		order++;
	}
	push_free_block(ft, s, order, zero);
}

static void free_block_locked(struct ptmm_frame_table *ft, struct ptmm_frame_slot *s)
{
	free_block_as_locked(ft, s, false);
}

/*
 * Turn every zero block of zone `z` into an ordinary free block, merging
 * it with its free buddies.  Used when an allocation found no block big
 * enough.  Lock held.
 */
static void drain_zero_blocks_locked(struct ptmm_frame_table *ft, struct ptmm_frame_zone *z)
{
	uint32_t chain = PTMM_FRAME_NIL;
	/*
	 * First unlink them all (they keep the flag, so no merge touches them
	 * meanwhile), then free them one by one: merging may unlink blocks
	 * of the lists, which the walk must not be standing on.
	 */
	for (unsigned o = 0; o <= PTMM_FRAME_MAX_ORDER; o++) {
		for (uint32_t i = z->free_head[o]; i != PTMM_FRAME_NIL;) {
			struct ptmm_frame_slot *s = &ft->slots[i];
			uint32_t next = s->next;
			if (slot_is_zero(s)) {
				list_remove(ft, s);
				s->next = chain;
				chain = i;
			}
			i = next;
		}
	}
	while (chain != PTMM_FRAME_NIL) {
		struct ptmm_frame_slot *s = &ft->slots[chain];
		chain = s->next;
		take_zero_flag(ft, s);
		free_block_locked(ft, s);
	}
}

/*
 * Split the free block `s` (off any list, a zero block if `zero`) until it
 * is exactly the block of `order` holding `target_pfn`; the other halves
 * go back on the lists, as zero blocks if `zero`.  Returns the head of the
 * piece.  Lock held.
 */
static struct ptmm_frame_slot *split_to(struct ptmm_frame_table *ft, struct ptmm_frame_slot *s,
				   unsigned order, uint64_t target_pfn, bool zero)
{
	while (s->order > order) {
		unsigned half = s->order - 1u;
		uint64_t pfn = slot_pfn(ft, s);
		struct ptmm_frame_slot *upper = pfn_slot(ft, pfn + ((uint64_t)1 << half));
		s->order = (uint8_t)half;
		/* Keep the half that holds the target; free the other one. */
		if (target_pfn >= pfn + ((uint64_t)1 << half)) {
			make_free_head(upper, half);
			push_free_block(ft, s, half, zero);
			s = upper;
		} else {
			push_free_block(ft, upper, half, zero);
		}
	}
	return s;
}

/* ---- set-up ---- */

uint64_t ptmm_frame_table_meta_bytes(ptmm_paddr_t lo, ptmm_paddr_t hi)
{
	if (hi <= lo)
		return 0;
	return ((hi - lo) >> PTMM_PAGE_SHIFT) * sizeof(struct ptmm_frame_slot);
}

int ptmm_frame_table_init(struct ptmm_frame_table *ft, void *slots, ptmm_paddr_t lo, ptmm_paddr_t hi,
		     uintptr_t virt_offset)
{
	if (!ptmm_is_aligned(lo, PTMM_PAGE_SIZE) || !ptmm_is_aligned(hi, PTMM_PAGE_SIZE))
		return PTMM_EALIGN;
	if (hi <= lo || ((hi - lo) >> PTMM_PAGE_SHIFT) >= PTMM_FRAME_NIL || !slots)
		return PTMM_EINVAL;

	*ft = (struct ptmm_frame_table){ 0 };
	ft->limbo = PTMM_FRAME_NIL;
	ft->slots = slots;
	ft->base_pfn = lo >> PTMM_PAGE_SHIFT;
	ft->nr_slots = (hi - lo) >> PTMM_PAGE_SHIFT;
	ft->virt_offset = virt_offset;
	ft->pa_bits = 64;
	for (unsigned z = 0; z < PTMM_FRAME_MAX_ZONES; z++)
		for (unsigned o = 0; o <= PTMM_FRAME_MAX_ORDER; o++)
			ft->zones[z].free_head[o] = ft->zones[z].free_tail[o] = PTMM_FRAME_NIL;

	/* Every frame starts as a hole: an order-0 block nobody may use. */
	for (uint64_t i = 0; i < ft->nr_slots; i++) {
		struct ptmm_frame_slot *s = &ft->slots[i];
		*s = (struct ptmm_frame_slot){ 0 };
		s->usage = PTMM_FRAME_RESERVED;
		s->zone = PTMM_FRAME_NO_ZONE;
		s->next = s->prev = PTMM_FRAME_NIL;
		atomic_store_explicit(&s->refcount, PTMM_FRAME_REF_UNIQUE, memory_order_relaxed);
		slot_set_flags(s, PTMM_FRAME_F_HEAD);
	}
	return PTMM_OK;
}

/* True if [pa, pa+len) is page aligned and lies inside the window. */
static int check_window(const struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t len)
{
	if (!ptmm_is_aligned(pa, PTMM_PAGE_SIZE) || !ptmm_is_aligned(len, PTMM_PAGE_SIZE))
		return PTMM_EALIGN;
	if (len == 0)
		return PTMM_EINVAL;
	uint64_t first = pa >> PTMM_PAGE_SHIFT;
	if (first < ft->base_pfn || first - ft->base_pfn > ft->nr_slots ||
	    (len >> PTMM_PAGE_SHIFT) > ft->nr_slots - (first - ft->base_pfn))
		return PTMM_ERANGE;
	return PTMM_OK;
}

/*
 * Record [pa, pa+len) (not yet RAM) in ft->ram, merging it with a range it
 * touches so that one contiguous stretch of RAM is one entry whatever the
 * order it was added in.  False if the table of ranges is full.
 */
static bool ram_range_record(struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t len)
{
	for (unsigned i = 0; i < ft->nr_ram; i++) {
		if (ft->ram[i].base + ft->ram[i].size == pa) {
			ft->ram[i].size += len;
		} else if (pa + len == ft->ram[i].base) {
			ft->ram[i].base = pa;
			ft->ram[i].size += len;
		} else {
			continue;
		}
		/* The grown range may now touch another one: fold that in. */
		for (unsigned j = 0; j < ft->nr_ram; j++) {
			if (j == i)
				continue;
			ptmm_paddr_t b = ft->ram[i].base, e = b + ft->ram[i].size;
			if (ft->ram[j].base + ft->ram[j].size == b || e == ft->ram[j].base) {
				if (ft->ram[j].base < b)
					ft->ram[i].base = ft->ram[j].base;
				ft->ram[i].size += ft->ram[j].size;
				ft->ram[j] = ft->ram[--ft->nr_ram];
				break;
			}
		}
		return true;
	}
	if (ft->nr_ram == PTMM_FRAME_MAX_RAM)
		return false;
	ft->ram[ft->nr_ram].base = pa;
	ft->ram[ft->nr_ram].size = len;
	ft->nr_ram++;
	return true;
}

/* Does [pa, pa+len) (no wrap) meet a registered MMIO window? */
static bool range_touches_mmio(const struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t len)
{
	for (unsigned i = 0; i < ft->nr_mmio; i++)
		if (pa < ft->mmio[i].base + ft->mmio[i].size && ft->mmio[i].base < pa + len)
			return true;
	return false;
}

int ptmm_frame_table_add_ram(struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t len, unsigned zone)
{
	int err = check_window(ft, pa, len);
	if (err)
		return err;
	if (zone >= PTMM_FRAME_MAX_ZONES)
		return PTMM_EINVAL;
	uint64_t first = pa >> PTMM_PAGE_SHIFT, n = len >> PTMM_PAGE_SHIFT;
	for (uint64_t i = 0; i < n; i++)
		if (pfn_slot(ft, first + i)->zone != PTMM_FRAME_NO_ZONE)
			return PTMM_ERANGE; /* already RAM */
	if (range_touches_mmio(ft, pa, len))
		return PTMM_ERANGE; /* device memory is never RAM */
	if (!ram_range_record(ft, pa, len))
		return PTMM_ENOMEM;

	mm_spin_lock(&ft->lock);
	for (uint64_t i = 0; i < n; i++) {
		struct ptmm_frame_slot *s = pfn_slot(ft, first + i);
		s->zone = (uint8_t)zone;
		slot_set_flags(s, 0);
	}
	/* Free the range as the largest aligned blocks that fit; merging joins them. */
	uint64_t pfn = first, end = first + n;
	while (pfn < end) {
		unsigned order = 0;
		while (order < PTMM_FRAME_MAX_ORDER && ptmm_is_aligned(pfn, (uint64_t)2 << order) &&
		       pfn + ((uint64_t)2 << order) <= end)
			order++;
		struct ptmm_frame_slot *s = pfn_slot(ft, pfn);
		s->order = (uint8_t)order;
		free_block_locked(ft, s);
		pfn += (uint64_t)1 << order;
	}
	mm_spin_unlock(&ft->lock);
	return PTMM_OK;
}

/*
 * Take the free frames [pfn, pfn + 2^order) out of the free lists as one
 * block (they must all be free: caller checked).  Lock held.
 */
static struct ptmm_frame_slot *claim_locked(struct ptmm_frame_table *ft, uint64_t pfn, unsigned order)
{
	struct ptmm_frame_slot *h = ptmm_frame_block_head(ft, pfn << PTMM_PAGE_SHIFT);
	list_remove(ft, h);
	return split_to(ft, h, order, pfn, take_zero_flag(ft, h));
}

/* Largest order for a piece starting at `pfn` that fits in [pfn, end) and in its free block. */
static unsigned claim_order(uint64_t pfn, uint64_t end, const struct ptmm_frame_slot *free_head)
{
	unsigned order = 0;
	while (order < free_head->order && ptmm_is_aligned(pfn, (uint64_t)2 << order) &&
	       pfn + ((uint64_t)2 << order) <= end)
		order++;
	return order;
}

int ptmm_frame_table_reserve(struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t len, enum ptmm_frame_usage usage)
{
	int err = check_window(ft, pa, len);
	if (err)
		return err;
	if (usage != PTMM_FRAME_KERNEL && usage != PTMM_FRAME_METADATA && usage != PTMM_FRAME_RESERVED)
		return PTMM_EINVAL;

	mm_spin_lock(&ft->lock);
	uint64_t pfn = pa >> PTMM_PAGE_SHIFT, end = pfn + (len >> PTMM_PAGE_SHIFT);
	/* First check, then change: all or nothing. */
	for (uint64_t p = pfn; p < end;) {
		struct ptmm_frame_slot *h = ptmm_frame_block_head(ft, p << PTMM_PAGE_SHIFT);
		if (!h || h->zone == PTMM_FRAME_NO_ZONE) {
			mm_spin_unlock(&ft->lock);
			return PTMM_ERANGE;
		}
		if (!slot_is_free(h)) {
			mm_spin_unlock(&ft->lock);
			return PTMM_EEXIST;
		}
		p = slot_pfn(ft, h) + block_frames(h);
	}
	for (uint64_t p = pfn; p < end;) {
		unsigned order = claim_order(p, end, ptmm_frame_block_head(ft, p << PTMM_PAGE_SHIFT));
		struct ptmm_frame_slot *s = claim_locked(ft, p, order);
		s->usage = (uint8_t)usage;
		atomic_store_explicit(&s->refcount, PTMM_FRAME_REF_UNIQUE, memory_order_relaxed);
		p += (uint64_t)1 << order;
	}
	mm_spin_unlock(&ft->lock);
	return PTMM_OK;
}

/* True if [pa, pa+len) (len > 0, no wrap) lies below 2^bits. */
static bool range_below_bits(ptmm_paddr_t pa, uint64_t len, unsigned bits)
{
	return bits >= 64 || ((pa + len - 1) >> bits) == 0;
}

int ptmm_frame_table_limit_pa(struct ptmm_frame_table *ft, unsigned pa_bits)
{
	if (pa_bits == 0 || pa_bits > 64)
		return PTMM_EINVAL;
	if (!range_below_bits(ft->base_pfn << PTMM_PAGE_SHIFT, ft->nr_slots << PTMM_PAGE_SHIFT, pa_bits))
		return PTMM_ERANGE;
	for (unsigned i = 0; i < ft->nr_mmio; i++)
		if (!range_below_bits(ft->mmio[i].base, ft->mmio[i].size, pa_bits))
			return PTMM_ERANGE;
	if (pa_bits < ft->pa_bits)
		ft->pa_bits = (uint8_t)pa_bits;
	return PTMM_OK;
}

int ptmm_frame_table_add_mmio(struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t len)
{
	if (!ptmm_is_aligned(pa, PTMM_PAGE_SIZE) || !ptmm_is_aligned(len, PTMM_PAGE_SIZE))
		return PTMM_EALIGN;
	if (len == 0 || pa + len < pa)
		return PTMM_EINVAL;
	if (!range_below_bits(pa, len, ft->pa_bits) || ptmm_frame_range_touches_ram(ft, pa, len))
		return PTMM_ERANGE;
	if (ft->nr_mmio == PTMM_FRAME_MAX_MMIO)
		return PTMM_ENOMEM;
	ft->mmio[ft->nr_mmio].base = pa;
	ft->mmio[ft->nr_mmio].size = len;
	ft->nr_mmio++;
	return PTMM_OK;
}

void ptmm_frame_zone_set_claimable(struct ptmm_frame_table *ft, unsigned zone, bool claimable)
{
	if (zone < PTMM_FRAME_MAX_ZONES)
		ft->zones[zone].claimable = claimable;
}

int ptmm_frame_zone_set_wb_only(struct ptmm_frame_table *ft, unsigned zone, bool wb_only)
{
	if (zone >= PTMM_FRAME_MAX_ZONES)
		return PTMM_EINVAL;
	ft->zones[zone].wb_only = wb_only;
	return PTMM_OK;
}

bool ptmm_frame_range_wb_only(const struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t len)
{
	bool any = false;
	for (unsigned z = 0; z < PTMM_FRAME_MAX_ZONES; z++)
		any |= ft->zones[z].wb_only;
	if (!any || len == 0)
		return false;
	/* Only RAM has zones: walk the merged RAM ranges, block by block. */
	ptmm_paddr_t end = pa + len < pa ? ~(ptmm_paddr_t)0 : pa + len;
	for (unsigned i = 0; i < ft->nr_ram; i++) {
		ptmm_paddr_t lo = ft->ram[i].base, hi = lo + ft->ram[i].size;
		if (lo < pa)
			lo = pa;
		if (hi > end)
			hi = end;
		for (ptmm_paddr_t p = lo & ~(PTMM_PAGE_SIZE - 1); p < hi;) {
			/* Blocks never span zones, and a slot's zone never changes. */
			const struct ptmm_frame_slot *h = ptmm_frame_block_head(ft, p);
			if (!h) {
				p += PTMM_PAGE_SIZE;
				continue;
			}
			if (ft->zones[h->zone].wb_only)
				return true;
			p = (slot_pfn(ft, h) + block_frames(h)) << PTMM_PAGE_SHIFT;
		}
	}
	return false;
}

void ptmm_frame_table_set_fail_hook(struct ptmm_frame_table *ft, ptmm_frame_fail_hook hook, void *ctx)
{
	ft->fail_hook = hook;
	ft->fail_ctx = ctx;
}

/* ---- lookup ---- */

bool ptmm_frame_is_ram(const struct ptmm_frame_table *ft, ptmm_paddr_t pa)
{
	return frame_pa_is_ram(ft, pa);
}

bool ptmm_frame_range_is_ram(const struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t len)
{
	for (unsigned i = 0; i < ft->nr_ram; i++) {
		uint64_t b = ft->ram[i].base, sz = ft->ram[i].size;
		if (pa >= b && pa - b <= sz && len <= sz - (pa - b))
			return true;
	}
	return false;
}

ptmm_paddr_t ptmm__frame_ram_range_end(const struct ptmm_frame_table *ft, ptmm_paddr_t pa)
{
	for (unsigned i = 0; i < ft->nr_ram; i++) {
		uint64_t b = ft->ram[i].base, sz = ft->ram[i].size;
		if (pa >= b && pa - b < sz)
			return b + sz;
	}
	return 0;
}

bool ptmm_frame_range_is_mmio(const struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t len)
{
	for (unsigned i = 0; i < ft->nr_mmio; i++) {
		uint64_t b = ft->mmio[i].base, sz = ft->mmio[i].size;
		if (pa >= b && pa - b <= sz && len <= sz - (pa - b))
			return true;
	}
	return false;
}

bool ptmm_frame_range_touches_ram(const struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t len)
{
	uint64_t first = pa >> PTMM_PAGE_SHIFT, n = len >> PTMM_PAGE_SHIFT;
	uint64_t lo = ft->base_pfn, hi = ft->base_pfn + ft->nr_slots;
	/* Only the part of the range inside the window can be RAM. */
	uint64_t a = first > lo ? first : lo;
	uint64_t b = (n > UINT64_MAX - first || first + n > hi) ? hi : first + n;
	for (uint64_t p = a; p < b; p++)
		if (pfn_slot(ft, p)->zone != PTMM_FRAME_NO_ZONE)
			return true;
	return false;
}

struct ptmm_frame_slot *ptmm_frame_block_head(const struct ptmm_frame_table *ft, ptmm_paddr_t pa)
{
	uint64_t pfn = pa >> PTMM_PAGE_SHIFT;
	struct ptmm_frame_slot *s = pfn_slot(ft, pfn);
	if (!s || s->zone == PTMM_FRAME_NO_ZONE)
		return (struct ptmm_frame_slot *)0;
	/*
	 * The block holding pfn starts at pfn rounded down to its own size.
	 * Try each size in turn: the first head found whose order reaches pfn
	 * is it (blocks are disjoint, so no smaller head can also cover pfn).
	 */
	for (unsigned k = 0; k <= PTMM_FRAME_MAX_ORDER; k++) {
		struct ptmm_frame_slot *h = pfn_slot(ft, pfn & ~(((uint64_t)1 << k) - 1));
		if (!h)
			break;
		if (slot_is_head(h) && h->order >= k)
			return h;
	}
	return (struct ptmm_frame_slot *)0;
}

/*
 * ptmm_frame_block_head with a hint: the head found last time (slot index, or
 * PTMM_FRAME_NIL).  A head whose block still covers pa is the answer, stale or
 * not, because blocks are disjoint; otherwise search and update the hint.
 */
static struct ptmm_frame_slot *block_head_hinted(const struct ptmm_frame_table *ft, ptmm_paddr_t pa,
					    uint32_t *hint)
{
	uint64_t pfn = pa >> PTMM_PAGE_SHIFT;
	if (*hint < ft->nr_slots) {
		struct ptmm_frame_slot *h = &ft->slots[*hint];
		uint64_t hpfn = slot_pfn(ft, h);
		if (slot_is_head(h) && pfn >= hpfn && pfn - hpfn < block_frames(h))
			return h;
	}
	struct ptmm_frame_slot *h = ptmm_frame_block_head(ft, pa);
	if (h)
		*hint = frame_slot_index(ft, h);
	return h;
}

/*
 * Counts of data blocks change only under the allocator lock, so a plain
 * load and store suffice (no locked read-modify-write per update).
 */
static inline void locked_add(_Atomic uint32_t *v, uint32_t d)
{
	atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + d,
			      memory_order_relaxed);
}

/* Subtract and return the new value; allocator lock held. */
static inline uint32_t locked_sub(_Atomic uint32_t *v, uint32_t d)
{
	uint32_t n = atomic_load_explicit(v, memory_order_relaxed) - d;
	atomic_store_explicit(v, n, memory_order_relaxed);
	return n;
}

/* ---- allocation ---- */

/* Index of the smallest order >= `order` with a free block in `z`, or PTMM_FRAME_MAX_ORDER + 1. */
static unsigned first_free_order(const struct ptmm_frame_zone *z, unsigned order)
{
	unsigned k = order;
	while (k <= PTMM_FRAME_MAX_ORDER && z->free_head[k] == PTMM_FRAME_NIL)
		k++;
	return k;
}

/*
 * The smallest order >= `order` whose list starts with a zero block, or
 * PTMM_FRAME_MAX_ORDER + 1.  Nodes take those first: a node from a zero block
 * needs no clearing (512 atomic stores otherwise, see ptmm__frame_node_alloc).
 * Only list heads are looked at (freed blocks are pushed at the head), so
 * this costs at most one probe per order.
 */
static unsigned first_zero_order(const struct ptmm_frame_table *ft, const struct ptmm_frame_zone *z,
				 unsigned order)
{
	if (!z->zero_blocks)
		return PTMM_FRAME_MAX_ORDER + 1;
	unsigned k = order;
	while (k <= PTMM_FRAME_MAX_ORDER &&
	       (z->free_head[k] == PTMM_FRAME_NIL || !slot_is_zero(&ft->slots[z->free_head[k]])))
		k++;
	return k;
}

/* ptmm_frame_alloc, also telling whether the block is known all zero (*zero). */
static int alloc_block(struct ptmm_frame_table *ft, unsigned zone, unsigned order,
		       enum ptmm_frame_usage usage, ptmm_paddr_t *pa, bool *zero)
{
	if (zone >= PTMM_FRAME_MAX_ZONES || order > PTMM_FRAME_MAX_ORDER ||
	    (usage != PTMM_FRAME_DATA && usage != PTMM_FRAME_KERNEL && usage != PTMM_FRAME_METADATA &&
	     usage != PTMM_FRAME_PT_NODE))
		return PTMM_EINVAL;
	if (ft->fail_hook && ft->fail_hook(ft->fail_ctx, zone, order))
		return PTMM_ENOMEM;

	mm_spin_lock(&ft->lock);
	struct ptmm_frame_zone *z = &ft->zones[zone];
	unsigned k = usage == PTMM_FRAME_PT_NODE ? first_zero_order(ft, z, order) : PTMM_FRAME_MAX_ORDER + 1;
	if (k > PTMM_FRAME_MAX_ORDER)
		k = first_free_order(z, order);
	if (k > PTMM_FRAME_MAX_ORDER && z->zero_blocks) {
		/* Zero blocks are free memory too: merge them and look again. */
		drain_zero_blocks_locked(ft, z);
		k = first_free_order(z, order);
	}
	if (k > PTMM_FRAME_MAX_ORDER) {
		mm_spin_unlock(&ft->lock);
		return PTMM_ENOMEM;
	}
	struct ptmm_frame_slot *s = &ft->slots[z->free_head[k]];
	list_remove(ft, s);
	*zero = take_zero_flag(ft, s);
	s = split_to(ft, s, order, slot_pfn(ft, s), *zero);
	/* UNUSED -> 0 under the lock, metadata, then publish the count. */
	atomic_store_explicit(&s->refcount, 0, memory_order_relaxed);
	s->usage = (uint8_t)usage;
	s->map_count = 0;
	mm_spin_unlock(&ft->lock);

	uint32_t count = (usage == PTMM_FRAME_DATA || usage == PTMM_FRAME_PT_NODE) ? 1u : PTMM_FRAME_REF_UNIQUE;
	atomic_store_explicit(&s->refcount, count, memory_order_release);
	*pa = slot_pfn(ft, s) << PTMM_PAGE_SHIFT;
	return PTMM_OK;
}

int ptmm_frame_alloc(struct ptmm_frame_table *ft, unsigned zone, unsigned order, enum ptmm_frame_usage usage,
		ptmm_paddr_t *pa)
{
	bool zero;
	/* Nodes come only from ptmm__frame_node_alloc (zeroed, level set). */
	if (usage == PTMM_FRAME_PT_NODE)
		return PTMM_EINVAL;
	return alloc_block(ft, zone, order, usage, pa, &zero);
}

/* PTMM_OK if `h` (a head or NULL) is a data block in use that may take a handle op. */
static int handle_block_check(const struct ptmm_frame_slot *h)
{
	if (!h)
		return PTMM_ERANGE;
	if (h->usage != PTMM_FRAME_DATA || slot_is_free(h))
		return PTMM_EINVAL;
	return PTMM_OK;
}

int ptmm_frame_get(struct ptmm_frame_table *ft, ptmm_paddr_t pa)
{
	mm_spin_lock(&ft->lock);
	struct ptmm_frame_slot *h = ptmm_frame_block_head(ft, pa);
	int err = handle_block_check(h);
	/* A block waiting for its release (count 0) has no owner left to share. */
	if (!err && atomic_load_explicit(&h->refcount, memory_order_relaxed) == 0)
		err = PTMM_EINVAL;
	if (!err && atomic_load_explicit(&h->refcount, memory_order_relaxed) >= PTMM_FRAME_REF_MAX)
		err = PTMM_ENOMEM;
	if (!err)
		locked_add(&h->refcount, 1);
	mm_spin_unlock(&ft->lock);
	return err;
}

/* ---- the release protocol (frame_internal.h); allocator lock held ---- */

static inline bool slot_has_flag(const struct ptmm_frame_slot *s, uint8_t f)
{
	return atomic_load_explicit(&s->flags, memory_order_relaxed) & f;
}

static inline void slot_add_flag(struct ptmm_frame_slot *s, uint8_t f)
{
	atomic_fetch_or_explicit(&s->flags, f, memory_order_relaxed);
}

static inline void slot_drop_flag(struct ptmm_frame_slot *s, uint8_t f)
{
	atomic_fetch_and_explicit(&s->flags, (uint8_t)~f, memory_order_relaxed);
}

/* Ticket of the oldest open interval (meaningful only if one is open). */
static inline uint32_t rel_horizon(const struct ptmm_frame_table *ft)
{
	return ft->rel_oldest->ticket;
}

/* Does `ticket` belong to an interval that may still be open: [horizon, next)? */
static inline bool ticket_open(const struct ptmm_frame_table *ft, uint32_t ticket)
{
	if (!ft->rel_oldest)
		return false;
	uint32_t h = rel_horizon(ft);
	return ticket - h < ft->rel_next_ticket - h;
}

/* Must the block `h` (count 0) wait for a flush before it is freed? */
static inline bool block_must_wait(const struct ptmm_frame_table *ft, const struct ptmm_frame_slot *h)
{
	return slot_has_flag(h, PTMM_FRAME_F_PENDING) && ticket_open(ft, h->rel_ticket);
}

/* Open interval `r` if it is not: it takes the next ticket and becomes the newest. */
static void rel_open(struct ptmm_frame_table *ft, struct ptmm_frame_release *r)
{
	if (r->open)
		return;
	r->open = true;
	r->ticket = ft->rel_next_ticket++;
	r->next = (struct ptmm_frame_release *)0;
	r->prev = ft->rel_newest;
	if (ft->rel_newest)
		ft->rel_newest->next = r;
	else
		ft->rel_oldest = r;
	ft->rel_newest = r;
}

/* A mapping of block `h` was removed by interval `r`: stamp it (the newest ticket wins). */
static void stamp_removal(struct ptmm_frame_table *ft, struct ptmm_frame_release *r, struct ptmm_frame_slot *h)
{
	rel_open(ft, r);
	if (block_must_wait(ft, h) && r->ticket - rel_horizon(ft) < h->rel_ticket - rel_horizon(ft))
		return; /* stamped by a newer interval already */
	h->rel_ticket = r->ticket;
	slot_add_flag(h, PTMM_FRAME_F_PENDING);
}

/* Return the data block `h` to the free lists (its count just became UNUSED). */
static void free_data_block_locked(struct ptmm_frame_table *ft, struct ptmm_frame_slot *h)
{
	atomic_store_explicit(&h->refcount, PTMM_FRAME_REF_UNUSED, memory_order_relaxed);
	free_block_locked(ft, h); /* also clears the flags */
}

/* The count of data block `h` reached zero: free it now, or in limbo until the flushes. */
static void block_dropped_to_zero(struct ptmm_frame_table *ft, struct ptmm_frame_slot *h)
{
	if (block_must_wait(ft, h)) {
		if (!slot_has_flag(h, PTMM_FRAME_F_LIMBO)) {
			slot_add_flag(h, PTMM_FRAME_F_LIMBO);
			h->next = ft->limbo;
			ft->limbo = frame_slot_index(ft, h);
		}
		return;
	}
	/*
	 * A block in limbo waits for an interval: the horizon moves only when
	 * the oldest closes, and that sweeps the list.
	 */
	PTMM_ASSERT(!slot_has_flag(h, PTMM_FRAME_F_LIMBO));
	free_data_block_locked(ft, h);
}

/*
 * The horizon moved on: free the limbo blocks no open interval waits for,
 * let go of those mapped again, keep the others.
 */
static void sweep_limbo(struct ptmm_frame_table *ft)
{
	uint32_t *link = &ft->limbo;
	while (*link != PTMM_FRAME_NIL) {
		struct ptmm_frame_slot *h = &ft->slots[*link];
		bool zero = atomic_load_explicit(&h->refcount, memory_order_relaxed) == 0;
		if (zero && block_must_wait(ft, h)) {
			link = &h->next;
			continue;
		}
		*link = h->next;
		slot_drop_flag(h, PTMM_FRAME_F_LIMBO);
		if (zero)
			free_data_block_locked(ft, h);
	}
}

/* Close interval `r`; if it was the oldest, the horizon moves: sweep. */
static void rel_close(struct ptmm_frame_table *ft, struct ptmm_frame_release *r)
{
	bool oldest = ft->rel_oldest == r;
	if (r->prev)
		r->prev->next = r->next;
	else
		ft->rel_oldest = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		ft->rel_newest = r->prev;
	r->open = false;
	if (oldest && ft->limbo != PTMM_FRAME_NIL)
		sweep_limbo(ft);
}

int ptmm_frame_put(struct ptmm_frame_table *ft, ptmm_paddr_t pa)
{
	mm_spin_lock(&ft->lock);
	struct ptmm_frame_slot *h = ptmm_frame_block_head(ft, pa);
	int err = handle_block_check(h);
	/*
	 * count = handles + mappings, both under this lock (a cursor's
	 * deferred references move count and map_count together): a count
	 * not above map_count means no handle is left to drop, and dropping
	 * one anyway would free a block that is still mapped.
	 */
	if (!err && atomic_load_explicit(&h->refcount, memory_order_relaxed) <=
			    atomic_load_explicit(&h->map_count, memory_order_relaxed))
		err = PTMM_EINVAL;
	if (!err && locked_sub(&h->refcount, 1) == 0)
		block_dropped_to_zero(ft, h);
	mm_spin_unlock(&ft->lock);
	return err;
}

int ptmm_frame_free_unique(struct ptmm_frame_table *ft, ptmm_paddr_t pa)
{
	mm_spin_lock(&ft->lock);
	struct ptmm_frame_slot *h = ptmm_frame_block_head(ft, pa);
	int err = !h ? PTMM_ERANGE
		     : (h->usage == PTMM_FRAME_KERNEL || h->usage == PTMM_FRAME_METADATA) && !slot_is_free(h)
			       ? PTMM_OK
			       : PTMM_EINVAL;
	if (!err)
		free_block_locked(ft, h);
	mm_spin_unlock(&ft->lock);
	return err;
}

uint64_t ptmm_frame_zone_free_frames(const struct ptmm_frame_table *ft, unsigned zone)
{
	return zone < PTMM_FRAME_MAX_ZONES ? ft->zones[zone].free_frames : 0;
}

/* ---- mapping references (frame_internal.h) ---- */

/* May the block at head `h` (or a free piece of it) take `extra` more references? */
static int map_check_block(const struct ptmm_frame_table *ft, const struct ptmm_frame_slot *h,
			   uint64_t extra)
{
	if (!h)
		return PTMM_ERANGE;
	if (slot_is_free(h))
		return ft->zones[h->zone].claimable ? PTMM_OK : PTMM_EPERM;
	if (h->usage != PTMM_FRAME_DATA)
		return PTMM_EPERM;
	uint32_t rc = atomic_load_explicit(&h->refcount, memory_order_relaxed);
	if (rc > PTMM_FRAME_REF_MAX || extra > PTMM_FRAME_REF_MAX - rc)
		return PTMM_ENOMEM;
	return PTMM_OK;
}

int ptmm__frame_map_check(struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t len, uint32_t *hint)
{
	uint64_t pfn = pa >> PTMM_PAGE_SHIFT, end = pfn + (len >> PTMM_PAGE_SHIFT);
	uint64_t extra = len >> PTMM_PAGE_SHIFT;
	int err = PTMM_OK;

	/* Under the lock: blocks are split, merged and claimed under it. */
	mm_spin_lock(&ft->lock);
	for (uint64_t p = pfn; p < end && !err;) {
		const struct ptmm_frame_slot *h = block_head_hinted(ft, p << PTMM_PAGE_SHIFT, hint);
		err = map_check_block(ft, h, extra);
		if (!err)
			p = slot_pfn(ft, h) + block_frames(h);
	}
	mm_spin_unlock(&ft->lock);
	return err;
}

/*
 * Leaves of `leaf_size` from `pa` that intersect [lo, hi) (byte addresses).
 * Leaf sizes are powers of two: shifts, not divisions (a 64-bit division
 * costs tens of cycles, more than the rest of a one-page update).
 */
static uint64_t leaves_touching(ptmm_paddr_t pa, uint64_t leaf_size, ptmm_paddr_t lo, ptmm_paddr_t hi)
{
	unsigned shift = (unsigned)__builtin_ctzll(leaf_size);
	return ((hi - 1 - pa) >> shift) - ((lo - pa) >> shift) + 1;
}

/*
 * Claim the largest aligned free piece of the free block `h` that starts
 * at `cur` and fits below `end`, as a DATA block with no reference yet.
 * Lock held.
 */
static struct ptmm_frame_slot *claim_data_locked(struct ptmm_frame_table *ft, ptmm_paddr_t cur, ptmm_paddr_t end,
					    struct ptmm_frame_slot *h)
{
	unsigned order = claim_order(cur >> PTMM_PAGE_SHIFT, end >> PTMM_PAGE_SHIFT, h);
	h = claim_locked(ft, cur >> PTMM_PAGE_SHIFT, order);
	atomic_store_explicit(&h->refcount, 0, memory_order_relaxed);
	h->usage = PTMM_FRAME_DATA;
	h->map_count = 0;
	return h;
}

/*
 * Block lookups and reference updates run under the allocator lock: a
 * block can then neither be freed nor merged between finding its head and
 * counting on it.  One lock round trip per block per run of leaves.
 */
void ptmm__frame_map_leaves(struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t leaf_size, uint64_t n,
		      uint32_t *hint)
{
	ptmm_paddr_t cur = pa, end = pa + leaf_size * n;

	mm_spin_lock(&ft->lock);
	while (cur < end) {
		struct ptmm_frame_slot *h = block_head_hinted(ft, cur, hint);
		if (slot_is_free(h))
			h = claim_data_locked(ft, cur, end, h);
		ptmm_paddr_t bend = (slot_pfn(ft, h) + block_frames(h)) << PTMM_PAGE_SHIFT;
		ptmm_paddr_t stop = bend < end ? bend : end;
		uint32_t refs = (uint32_t)leaves_touching(pa, leaf_size, cur, stop);
		/* From 0 too: a block pending release is simply kept. */
		locked_add(&h->refcount, refs);
		locked_add(&h->map_count, refs);
		cur = stop;
	}
	mm_spin_unlock(&ft->lock);
}

int ptmm__frame_map_page(struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint32_t *hint)
{
	mm_spin_lock(&ft->lock);
	struct ptmm_frame_slot *h = block_head_hinted(ft, pa, hint);
	/* Checked under the lock, so the check and the count cannot disagree. */
	int err = map_check_block(ft, h, 1);
	if (!err) {
		if (slot_is_free(h)) {
			h = claim_data_locked(ft, pa, pa + PTMM_PAGE_SIZE, h);
			*hint = frame_slot_index(ft, h); /* the claimed piece is the block now */
		}
		locked_add(&h->refcount, 1);
		locked_add(&h->map_count, 1);
	}
	mm_spin_unlock(&ft->lock);
	return err;
}

uint32_t ptmm__frame_mapped_block(const struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint32_t *hint)
{
	/*
	 * The probes below the true head read slots inside the (stable)
	 * block, so no concurrent change elsewhere can mislead the search.
	 */
	return frame_slot_index(ft, block_head_hinted(ft, pa, hint));
}

void ptmm__frame_settle_refs(struct ptmm_frame_table *ft, uint32_t head, int32_t delta,
		       struct ptmm_frame_release *r)
{
	struct ptmm_frame_slot *h = &ft->slots[head];
	mm_spin_lock(&ft->lock);
	if (delta > 0) {
		locked_add(&h->refcount, (uint32_t)delta);
		locked_add(&h->map_count, (uint32_t)delta);
	} else if (delta < 0) {
		locked_sub(&h->map_count, (uint32_t)-delta);
		stamp_removal(ft, r, h);
		if (locked_sub(&h->refcount, (uint32_t)-delta) == 0)
			block_dropped_to_zero(ft, h);
	}
	mm_spin_unlock(&ft->lock);
}

void ptmm__frame_unmap_leaves(struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t leaf_size, uint64_t n,
			struct ptmm_frame_release *r, uint32_t *hint)
{
	ptmm_paddr_t cur = pa, end = pa + leaf_size * n;

	mm_spin_lock(&ft->lock);
	while (cur < end) {
		struct ptmm_frame_slot *h = block_head_hinted(ft, cur, hint);
		ptmm_paddr_t bend = (slot_pfn(ft, h) + block_frames(h)) << PTMM_PAGE_SHIFT;
		ptmm_paddr_t stop = bend < end ? bend : end;
		uint32_t refs = (uint32_t)leaves_touching(pa, leaf_size, cur, stop);
		locked_sub(&h->map_count, refs);
		if (r)
			stamp_removal(ft, r, h);
		uint32_t left = locked_sub(&h->refcount, refs);
		PTMM_ASSERT(left != 0 || r); /* a split keeps its references */
		if (left == 0)
			block_dropped_to_zero(ft, h);
		cur = stop;
	}
	mm_spin_unlock(&ft->lock);
}

void ptmm__frame_split_leaf(struct ptmm_frame_table *ft, ptmm_paddr_t pa, uint64_t size, uint32_t *hint)
{
	/* Add the children's references first so the count never touches zero. */
	ptmm__frame_map_leaves(ft, pa, size / PTMM_PTES_PER_NODE, PTMM_PTES_PER_NODE, hint);
	ptmm__frame_unmap_leaves(ft, pa, size, 1, (struct ptmm_frame_release *)0, hint);
}

/*
 * Next generation of a node slot.  Only its owner (the allocating or the
 * freeing cursor) writes it, so a load and a store-release suffice.
 */
static void bump_gen(struct ptmm_frame_slot *s)
{
	uint32_t g = atomic_load_explicit(&s->gen, memory_order_relaxed);
	atomic_store_explicit(&s->gen, g + 1u, memory_order_release);
}

int ptmm__frame_node_alloc(struct ptmm_frame_table *ft, unsigned zone, unsigned level, ptmm_paddr_t *pa)
{
	bool zero;
	int err = alloc_block(ft, zone, 0, PTMM_FRAME_PT_NODE, pa, &zero);
	if (err)
		return err;
	struct ptmm_frame_slot *s = ptmm_frame_slot_of(ft, *pa);
	s->level = (uint8_t)level;
	s->nr_children = 0;
	s->nr_tables = 0;
	slot_set_flags(s, PTMM_FRAME_F_HEAD);
	/*
	 * Live from now (odd generation), before any store to the node: a
	 * walker that read a stale pointer to this frame and then reads one
	 * of those (release) stores also reads the new generation, and
	 * retries (pte.h, lock.c).
	 */
	bump_gen(s);
	/* A zero block is a node that was freed empty: already all zero. */
	if (!zero) {
		/*
		 * Stale walkers may read it: atomic stores, not memset; sixteen
		 * per step, which costs about what memset's `rep stos` did.
		 */
		ptmm_pte_t *p = ptmm_frame_to_virt(ft, *pa), *end = p + PTMM_PTES_PER_NODE;
		for (; p < end; p += 16) {
			ptmm_pte_clear(p + 0), ptmm_pte_clear(p + 1), ptmm_pte_clear(p + 2), ptmm_pte_clear(p + 3);
			ptmm_pte_clear(p + 4), ptmm_pte_clear(p + 5), ptmm_pte_clear(p + 6), ptmm_pte_clear(p + 7);
			ptmm_pte_clear(p + 8), ptmm_pte_clear(p + 9), ptmm_pte_clear(p + 10), ptmm_pte_clear(p + 11);
			ptmm_pte_clear(p + 12), ptmm_pte_clear(p + 13), ptmm_pte_clear(p + 14), ptmm_pte_clear(p + 15);
		}
	}
	return PTMM_OK;
}

/*
 * Free the node `s` (in no tree, nothing can reach it); `held`: its owner
 * holds its lock, released here once the frame is free.  Allocator lock held.
 */
static void node_free_locked(struct ptmm_frame_table *ft, struct ptmm_frame_slot *s, bool held)
{
	/*
	 * nr_children counts the present entries and absent entries are 0,
	 * so a node with none is all zero: keep that known (a zero block).
	 */
	bool empty = s->nr_children == 0;
	/* Dead from now (even generation), before the (release) flag stores below. */
	bump_gen(s);
	atomic_store_explicit(&s->refcount, 0, memory_order_relaxed);
	free_block_as_locked(ft, s, empty); /* also clears the flags */
	if (held)
		mm_spin_unlock(&s->lock);
}

void ptmm__frame_node_free(struct ptmm_frame_table *ft, ptmm_paddr_t pa)
{
	mm_spin_lock(&ft->lock);
	node_free_locked(ft, ptmm_frame_slot_of(ft, pa), false);
	mm_spin_unlock(&ft->lock);
}

/* Entries freed per hold of the allocator lock by ptmm__frame_release_all. */
#define RELEASE_BATCH 32

void ptmm__frame_release_all(struct ptmm_frame_table *ft, struct ptmm_frame_release *r)
{
	/*
	 * One lock hold per batch, not per entry (a big unmap releases
	 * thousands of nodes); batches keep the hold time bounded.
	 */
	while (r->nodes != PTMM_FRAME_NIL || r->open) {
		mm_spin_lock(&ft->lock);
		for (unsigned n = 0; n < RELEASE_BATCH && r->nodes != PTMM_FRAME_NIL; n++) {
			struct ptmm_frame_slot *s = &ft->slots[r->nodes];
			r->nodes = s->next;
			node_free_locked(ft, s, true);
		}
		if (r->nodes == PTMM_FRAME_NIL && r->open)
			rel_close(ft, r);
		mm_spin_unlock(&ft->lock);
	}
}
