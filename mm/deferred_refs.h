/*
 * deferred_refs.h - mapping references of one-page maps and unmaps kept
 * on the cursor (struct ptmm_deferred_refs, in cursor.h) instead of in
 * the frame table.  Not part of the API.
 *
 * Runs of one-page maps and unmaps inside one data block (a kernel mapping
 * a big allocation page by page) would take the allocator lock on every
 * call.  Instead the cursor keeps the net change for that block in
 * `deferred.delta` and applies it at the next settle
 * (ptmm__deferred_settle): at ptmm_cursor_flush (so before anything is
 * released) and ptmm_cursor_close, before any other map, unmap or protect
 * of the cursor, and when a page of another block comes.  When no cursor
 * is open, the counts are exact.
 *
 * Why the block cannot be freed, merged or split while its counts lag
 * behind (which is what makes the unlocked updates safe): a deferred
 * unmap only leaves the count too high, so while delta < 0 the count is
 * above zero; a deferred map is allowed only while delta < 0 or once the
 * cursor has taken one reference on the block for real (`held`), and
 * that reference keeps the count above zero whatever other handles and
 * mappings do.  The cursor's own leaves change only under its locks.
 */
#ifndef MM_DEFERRED_REFS_H
#define MM_DEFERRED_REFS_H

#include <ptmm/cursor.h>
#include <ptmm/mm_assert.h>

/* Nothing deferred (a new or closed cursor, or just after a settle). */
static inline void deferred_init(struct ptmm_deferred_refs *d)
{
	*d = (struct ptmm_deferred_refs){ .block = PTMM_FRAME_NIL };
}

/* May a reference of the page at `pa` be deferred on the cursor's block? */
static inline bool deferred_covers(const struct ptmm_cursor *c, ptmm_paddr_t pa)
{
	const struct ptmm_deferred_refs *d = &c->deferred;
	return pa - d->pa < d->size && (d->held || d->delta < 0);
}

/*
 * May one more reference be deferred on the cursor's block?  The same
 * overflow rule as ptmm__frame_map_check, counting what is deferred.
 */
static inline bool deferred_has_room(const struct ptmm_cursor *c)
{
	const struct ptmm_deferred_refs *d = &c->deferred;
	PTMM_ASSERT(d->refcount == &c->pt->ft->slots[d->block].refcount);
	uint32_t rc = atomic_load_explicit(d->refcount, memory_order_relaxed);
	return (int64_t)rc + d->delta + 1 <= (int64_t)PTMM_FRAME_REF_MAX;
}

/* Apply what is deferred to the frame table and forget the block.  Cannot fail. */
void ptmm__deferred_settle(struct ptmm_cursor *c);

/*
 * Take, for real, the reference of a new 4 KiB leaf of tracked RAM at
 * `pa` that is not of the deferred block, and defer on pa's block from
 * then on.  The errors of ptmm__frame_map_check (then nothing changed;
 * what was deferred before is settled either way).
 */
int ptmm__deferred_take_other(struct ptmm_cursor *c, ptmm_paddr_t pa);

/*
 * Drop (deferred) the reference of a removed 4 KiB leaf of tracked RAM
 * at `pa`, which is not of the deferred block.  Cannot fail.
 */
void ptmm__deferred_drop_other(struct ptmm_cursor *c, ptmm_paddr_t pa);

/* Take the reference of a new 4 KiB leaf of tracked RAM at `pa`; the errors of ptmm__frame_map_check. */
static inline int deferred_take(struct ptmm_cursor *c, ptmm_paddr_t pa)
{
	if (!deferred_covers(c, pa))
		return ptmm__deferred_take_other(c, pa);
	if (!deferred_has_room(c))
		return PTMM_ENOMEM;
	c->deferred.delta++;
	return PTMM_OK;
}

#endif /* MM_DEFERRED_REFS_H */
