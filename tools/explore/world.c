/*
 * world.c - the explorer's machine, snapshots and TLB model (world.h).
 */
#define _GNU_SOURCE
#include "world.h"

#include <signal.h>
#include <stdarg.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <ptmm/mm_assert.h>

static struct world *assert_world; /* the world whose operation is running */

/* An PTMM_ASSERT inside the mm is a violation of the step that ran it. */
void ptmm_assert_failed(const char *file, int line, const char *cond)
{
	struct world *w = assert_world;
	if (w == NULL || w->assert_jmp == NULL) {
		fprintf(stderr, "mm assertion failed: %s:%d: %s\n", file, line, cond);
		abort();
	}
	world_violation(w, "mm assertion failed: %s:%d: %s", file, line, cond);
	siglongjmp(*w->assert_jmp, 1);
}

/* The explorer is single-threaded: one context (the mm's self-deadlock detection). */
const void *ptmm_debug_context(void)
{
	static const char only;
	return &only;
}

/*
 * SIGALRM while a step runs: the mm did not terminate (an infinite loop is
 * a violation like any other).  Leaving the mm from a signal handler is
 * fine here: the world is restored from a snapshot or the run ends.
 */
static void watchdog(int sig)
{
	struct world *w = assert_world;
	(void)sig;
	if (w == NULL || w->assert_jmp == NULL)
		_exit(4);
	world_violation(w, "the step did not finish within its time limit (an endless loop?)");
	siglongjmp(*w->assert_jmp, 1);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n);
	if (p == NULL) {
		fprintf(stderr, "explore: out of memory\n");
		exit(1);
	}
	return p;
}

void world_violation(struct world *w, const char *fmt, ...)
{
	va_list ap;
	if (w->violation[0])
		return;
	va_start(ap, fmt);
	vsnprintf(w->violation, sizeof(w->violation), fmt, ap);
	va_end(ap);
	if (!w->violation[0])
		strcpy(w->violation, "violation");
}

bool world_failed(const struct world *w)
{
	return w->violation[0] != 0;
}

ptmm_vaddr_t world_base(const struct world *w)
{
	return ptmm_page_table_space_base(&w->pt);
}

uint64_t world_half(const struct world *w)
{
	return ptmm_page_table_space_size(&w->pt);
}

/* ---- TLB hooks: check, then the flush takes effect in the model ---- */

static void hook_page(void *ctx, ptmm_vaddr_t va)
{
	struct world *w = ctx;
	tlb_check_released(w, "at a page flush (before it)");
	tlbm_flush(&w->tlb, TLBM_PAGE, va, PTMM_PAGE_SIZE);
}

static void hook_range(void *ctx, ptmm_vaddr_t va, uint64_t len)
{
	struct world *w = ctx;
	tlb_check_released(w, "at a range flush (before it)");
	tlbm_flush(&w->tlb, TLBM_RANGE, va, len);
}

static void hook_all(void *ctx)
{
	struct world *w = ctx;
	tlb_check_released(w, "at a full flush (before it)");
	tlbm_flush(&w->tlb, TLBM_ALL, 0, 0);
}

static void hook_activate(void *ctx, ptmm_paddr_t root)
{
	struct world *w = ctx;
	tlbm_flush(&w->tlb, TLBM_ACTIVATE, root, 0);
}

static bool fail_hook(void *ctx, unsigned zone, unsigned order)
{
	struct world *w = ctx;
	(void)zone;
	(void)order;
	w->alloc_calls++;
	if (w->fail_at != 0 && w->alloc_calls == w->fail_at) {
		w->injected = true;
		return true;
	}
	return false;
}

/* ---- the machine ---- */

void world_init(struct world *w, const struct encoder_cfg *enc, bool kernel, uint64_t mem,
		uint64_t pool)
{
	int err;
	memset(w, 0, sizeof(*w));
	w->enc = enc;
	w->kernel = kernel;
	w->mem = mem;
	w->pool = pool;
	w->tlb_ops = (struct ptmm_tlb_ops){ hook_page, hook_range, hook_all, hook_activate, w };
	enc->init(&w->arch, enc->features, &w->tlb_ops);
	w->pa_limit = ((w->arch.fmt.addr_mask >> w->arch.fmt.addr_shift) + 1) << PTMM_PAGE_SHIFT;
	uint64_t top = mem + pool;
	w->phys = mmap(NULL, top, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		       -1, 0);
	if (w->phys == MAP_FAILED) {
		perror("explore: mmap");
		exit(1);
	}
	/* The mm may touch node frames only: data RAM is inaccessible. */
	if (mprotect(w->phys, mem, PROT_NONE) != 0) {
		perror("explore: mprotect");
		exit(1);
	}
	w->slot_bytes = ptmm_frame_table_meta_bytes(0, top);
	w->slots = xmalloc(w->slot_bytes);
	err = ptmm_frame_table_init(&w->ft, w->slots, 0, top, (uintptr_t)w->phys);
	if (!err)
		err = ptmm_frame_table_add_ram(&w->ft, 0, mem, ZONE_DATA);
	if (!err)
		err = ptmm_frame_table_add_ram(&w->ft, mem, pool, ZONE_POOL);
	if (!err)
		err = ptmm_frame_table_add_mmio(&w->ft, top, w->pa_limit - top);
	if (err) {
		fprintf(stderr, "explore: frame table: %s\n", ptmm_strerror(err));
		exit(1);
	}
	ptmm_frame_zone_set_claimable(&w->ft, ZONE_DATA, true);
	ptmm_frame_table_set_fail_hook(&w->ft, fail_hook, w);
	err = kernel ? ptmm_page_table_init_kernel(&w->pt, &w->arch, &w->ft, ZONE_POOL)
		     : ptmm_page_table_init_user(&w->pt, &w->arch, &w->ft, ZONE_POOL, NULL);
	if (err) {
		fprintf(stderr, "explore: page table: %s\n", ptmm_strerror(err));
		exit(1);
	}
	tlbm_reset_complete(&w->tlb, &w->ft, &w->pt);
	assert_world = w;
	signal(SIGALRM, watchdog);
}

void world_free(struct world *w)
{
	tlbm_free(&w->tlb);
	free(w->slots);
	munmap(w->phys, w->mem + w->pool);
	memset(w, 0, sizeof(*w));
}

void world_snap_free(struct world_snap *s)
{
	free(s->slots);
	free(s->pool);
	s->slots = s->pool = NULL;
}

void world_snap_init(struct world *w, struct world_snap *s)
{
	s->slots = xmalloc(w->slot_bytes);
	s->pool = xmalloc(w->pool);
}

void world_save(struct world *w, struct world_snap *s)
{
	s->ft = w->ft;
	s->pt = w->pt;
	memcpy(s->slots, w->slots, w->slot_bytes);
	memcpy(s->pool, w->phys + w->mem, w->pool);
}

void world_restore(struct world *w, const struct world_snap *s)
{
	w->ft = s->ft;
	w->pt = s->pt;
	memcpy(w->slots, s->slots, w->slot_bytes);
	memcpy(w->phys + w->mem, s->pool, w->pool);
	tlb_clear(w);
	w->fail_at = 0;
	w->alloc_calls = 0;
	w->injected = false;
	w->violation[0] = 0;
}

/* ---- TLB model ---- */

void tlb_clear(struct world *w)
{
	tlbm_flush(&w->tlb, TLBM_ALL, 0, 0);
}

void tlb_fill(struct world *w)
{
	tlbm_fill_all(&w->tlb, 0);
}

/* tlbm_check (closed or not); a violation recorded as "TLB <where>: <what>". */
static bool tlb_check(struct world *w, bool closed, const char *where)
{
	char buf[256];
	if (tlbm_check(&w->tlb, closed, buf, sizeof(buf)) == PTMM_OK)
		return true;
	world_violation(w, "TLB %s: %s", where, buf);
	return false;
}

bool tlb_check_released(struct world *w, const char *where)
{
	return tlb_check(w, false, where);
}

bool tlb_check_consistent(struct world *w, const char *where)
{
	return tlb_check(w, true, where);
}
