/*
 * cursor_life.c - a cursor's life: open (find and lock the guard and what lies
 * under it: lock.c), move (jump), and close (flush, unlock, reclaim an
 * emptied guard).  The operations live in query.c, map.c, unmap.c and
 * protect.c; the flush in tlb_batch.c.
 */
#include <ptmm/cursor.h>

#include "addr.h"
#include "deferred_refs.h"
#include "lock.h"
#include "reclaim.h"
#include "spinlock.h"
#include "tlb_batch.h"
#include "walk.h"

ptmm_vaddr_t ptmm_cursor_va(const struct ptmm_cursor *c)
{
	if (!ptmm_cursor_is_open(c))
		return 0;
	/*
	 * Relative to the half, not sign-extended: the end of the user half
	 * is 2^(va_bits-1) and the end of the kernel half wraps to 0, like va + len.
	 */
	uint64_t half_off = c->pt->space == PTMM_PT_KERNEL ? ptmm_page_table_space_size(c->pt) : 0;
	return ptmm_page_table_space_base(c->pt) + (c->va - half_off);
}

/*
 * The closed state: no table, an empty range, no cached path, nothing
 * deferred.  Every operation then refuses (PTMM_EINVAL) and the one-page
 * cached roads fail their range test, so none reads a stale field.
 */
static int cursor_make_closed(struct ptmm_cursor *c, int err)
{
	*c = (struct ptmm_cursor){ .pt = (struct ptmm_page_table *)0, .reserve = PTMM_FRAME_NIL,
				   .block_hint = PTMM_FRAME_NIL };
	tlb_batch_init(&c->batch);
	deferred_init(&c->deferred);
	return err;
}

int ptmm_cursor_open(struct ptmm_cursor *c, struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t len)
{
	uint64_t start;
	if (pt->destroyed)
		return cursor_make_closed(c, PTMM_EINVAL);
	if (len == 0)
		return cursor_make_closed(c, PTMM_EINVAL);
	if (!ptmm_is_aligned(va, PTMM_PAGE_SIZE) || !ptmm_is_aligned(len, PTMM_PAGE_SIZE))
		return cursor_make_closed(c, PTMM_EALIGN);
	if (tree_offset(pt, va, &start))
		return cursor_make_closed(c, PTMM_ERANGE);
	uint64_t space_end = (pt->space == PTMM_PT_USER ? 0 : ptmm_page_table_space_size(pt)) +
			     ptmm_page_table_space_size(pt);
	if (len > space_end - start)
		return cursor_make_closed(c, PTMM_ERANGE);

	*c = (struct ptmm_cursor){ .pt = pt, .arch = pt->arch, .start = start, .end = start + len,
				   .va = start, .reserve = PTMM_FRAME_NIL, .block_hint = PTMM_FRAME_NIL };
	tlb_batch_init(&c->batch);
	deferred_init(&c->deferred);
	ptmm__lock_holder_register(c);
	unsigned level;
	ptmm_paddr_t guard = ptmm__lock_covering_node(pt, c->start, c->end, 1, &level);
	c->guard_level = level;
	c->level = level;
	c->cache_va = c->start;
	c->node[level] = guard;
	c->table[level] = node_entries(pt->ft, guard);
	c->slot[level] = node_slot(pt->ft, guard);
	ptmm__lock_range(c, c->table[level], c->slot[level], level, node_base(level, c->start), c->start,
			 c->end);
	return PTMM_OK;
}

void ptmm_cursor_close(struct ptmm_cursor *c)
{
	if (!ptmm_cursor_is_open(c))
		return;
	struct ptmm_frame_slot *gs = c->slot[c->guard_level];
	uint64_t gbase = node_base(c->guard_level, c->start);

	ptmm_cursor_flush(c);
	PTMM_ASSERT(c->reserve == PTMM_FRAME_NIL && c->deferred.block == PTMM_FRAME_NIL);
	ptmm__unlock_range(c, c->table[c->guard_level], gs, c->guard_level, gbase, c->start, c->end);
	bool empty = gs->nr_children == 0;
	mm_spin_unlock(&gs->lock);
	ptmm__lock_holder_unregister(c); /* holds nothing from here on */
	if (empty && node_reclaimable(c->pt, c->guard_level)) {
		ptmm__reclaim_upwards(c, c->start, c->guard_level);
		ptmm_cursor_flush(c);
	}
	(void)cursor_make_closed(c, PTMM_OK);
}

int ptmm_cursor_jump(struct ptmm_cursor *c, ptmm_vaddr_t va)
{
	uint64_t off;
	if (!ptmm_cursor_is_open(c))
		return PTMM_EINVAL;
	if (!ptmm_is_aligned(va, PTMM_PAGE_SIZE))
		return PTMM_EALIGN;
	if (tree_offset(c->pt, va, &off) || off < c->start || off > c->end)
		return PTMM_ERANGE;
	c->va = off;
	return PTMM_OK;
}
