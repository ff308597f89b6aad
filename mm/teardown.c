/*
 * teardown.c - ptmm_page_table_destroy: a user table is emptied through a
 * cursor like any other change, then its root is freed.  It lives above
 * the cursor (page_table.c, below it, knows nothing of cursors).
 */
#include <ptmm/cursor.h>
#include <ptmm/mm_assert.h>
#include <ptmm/page_table.h>

#include "frame_internal.h"

int ptmm_page_table_destroy(struct ptmm_page_table *pt)
{
	if (pt->space != PTMM_PT_USER || pt->destroyed)
		return PTMM_EINVAL;
	if (pt->ft->active == pt)
		return PTMM_EBUSY;
	struct ptmm_cursor c;
	int err = ptmm_cursor_open(&c, pt, ptmm_page_table_space_base(pt), ptmm_page_table_space_size(pt));
	/* The whole half is a valid range of a live table: the open cannot fail. */
	PTMM_ASSERT(err == PTMM_OK);
	if (err == PTMM_OK) {
		/* Unmapping the whole half needs no split, so it cannot fail either. */
		err = ptmm_cursor_unmap(&c, ptmm_page_table_space_size(pt), (uint64_t *)0);
		PTMM_ASSERT(err == PTMM_OK);
		ptmm_cursor_close(&c);
	}
	ptmm__frame_node_free(pt->ft, pt->root);
	pt->root = 0;
	pt->destroyed = true;
	atomic_store(&pt->nr_nodes, 0);
	return PTMM_OK;
}
