/*
 * bench.c - the mm benchmark (issue 6, docs/PERFORMANCE.md).
 *
 * A simulated machine per encoder: physical memory is host address space
 * reserved with MAP_NORESERVE (frame PA p lives at host address phys + p),
 * data RAM [0, data) is claimable zone 0, the node pool [data, data+pool)
 * is zone 1.  TLB hooks are no-ops; the checker runs only in --smoke.
 * Everything goes through the public cursor API.
 *
 * Each round runs every scenario once, in this order:
 *   seq1 (map, one call per page), unmap1 (one call per page),
 *   seq2 (map, one call), unmap2 (one call),
 *   huge2m_map / huge2m_unmap (PTMM_MAP_HUGE, 2M-aligned, not 1G-aligned;
 *   HUGE_REPS pairs, each call timed, the mean is the round's figure),
 *   rand_map / rand_unmap (distinct random pages over 512 GiB, one cursor
 *   over the 512 GiB, ptmm_cursor_jump + one call per page; in Sv39, whose
 *   user half is 256 GiB, over [128 GiB, 256 GiB) instead).
 * Every paging mode of arch/modes.h runs, one after the other (or only
 * those named with --arch).
 * Round 0 is a warm-up; the reported figure is the median of rounds 1..5.
 * The time of a scenario includes its ptmm_cursor_open and ptmm_cursor_close (the
 * flush and the release of what was removed).
 * The run_* functions are kept out of line so that callgrind can
 * attribute instructions to each scenario (--toggle-collect=run_seq1).
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>

#include "arch/modes.h"
#include <ptmm/mm.h>

#define ZONE_DATA 0
#define ZONE_POOL 1
#define GIB ((uint64_t)1 << 30)
#define MIB ((uint64_t)1 << 20)
#define SIZE_2M ((uint64_t)2 << 20)
#define SEQ_VA (64 * GIB)       /* seq and huge scenarios start here */
#define RAND_VA (512 * GIB)     /* random scenarios: [512G, 1T) */
#define RAND_SPACE (512 * GIB)
#define RAND_VA_SMALL (128 * GIB) /* ... in a 256G half (Sv39): [128G, 256G) */
#define RAND_SPACE_SMALL (128 * GIB)
#define ROUNDS 6                /* warm-up + 5 measured */
#define HUGE_REPS 16            /* huge2m map/unmap pairs per round */
#define MAX_BLOCKS 64           /* data RAM / data block, at most */

enum scenario {
	SEQ1, UNMAP1, SEQ2, UNMAP2, HUGE_MAP, HUGE_UNMAP, RAND_MAP, RAND_UNMAP, NR_SCENARIOS
};

static const char *const scenario_name[NR_SCENARIOS] = {
	"seq1", "unmap1", "seq2", "unmap2", "huge2m_map", "huge2m_unmap", "rand_map", "rand_unmap",
};

/* Sizes of one benchmark configuration (full or smoke). */
struct config {
	uint64_t data_ram, pool;  /* bytes of zone 0 and zone 1 */
	unsigned data_order;      /* the data block: 2^order frames (the "GiB") */
	uint64_t huge_len;        /* bytes mapped with PTMM_MAP_HUGE */
	unsigned rand_pages;      /* distinct random pages */
	bool check;               /* run ptmm_check and the leak checks */
};

/* One simulated machine and its user page table. */
struct machine {
	struct ptmm_arch arch;
	struct ptmm_frame_table ft;
	struct ptmm_page_table pt;
	void *phys, *slots;
	uint64_t phys_bytes, slot_bytes;
	uint64_t pool_free_at_start;
	ptmm_vaddr_t rand_va;      /* the random scenarios' window (in the user half) */
	uint64_t rand_space;
};

/* One scenario's measurements over the rounds. */
struct result {
	double ns_per_op[ROUNDS];
	uint64_t pt_pages; /* nodes at the scenario's peak */
	long rss_kib;      /* process peak RSS after the scenario */
};

static void tlb_page(void *ctx, ptmm_vaddr_t va) { (void)ctx; (void)va; }
static void tlb_range(void *ctx, ptmm_vaddr_t va, uint64_t len) { (void)ctx; (void)va; (void)len; }
static void tlb_all(void *ctx) { (void)ctx; }
static void tlb_activate(void *ctx, ptmm_paddr_t root) { (void)ctx; (void)root; }

static const struct ptmm_tlb_ops noop_tlb = {
	.flush_page = tlb_page, .flush_range = tlb_range,
	.flush_all = tlb_all, .activate = tlb_activate, .ctx = NULL,
};

static const struct ptmm_prop data_prop = { PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_WB };

/* Print `what` and the mm error, exit 1: the benchmark cannot go on. */
static void fail(const char *what, int err)
{
	fprintf(stderr, "bench: %s: %s\n", what, err < 0 ? ptmm_strerror(err) : "failed");
	exit(1);
}

/* Host address space for `bytes`; pages are committed only when touched. */
static void *reserve(uint64_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		fail("mmap", 1);
	return p;
}

/* Monotonic time in nanoseconds. */
static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Peak resident set of the process so far, KiB. */
static long peak_rss_kib(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_maxrss;
}

/*
 * Build machine `m` for paging mode `mode` (all its features) with the
 * sizes of `cfg`.
 */
static void machine_init(struct machine *m, const struct mm_mode *mode, const struct config *cfg)
{
	int err;

	memset(m, 0, sizeof(*m));
	m->phys_bytes = cfg->data_ram + cfg->pool;
	m->slot_bytes = ptmm_frame_table_meta_bytes(0, m->phys_bytes);
	m->phys = reserve(m->phys_bytes);
	m->slots = reserve(m->slot_bytes);
	mm_mode_init(mode, &m->arch, true, &noop_tlb);
	/* The random window must lie in the user half (Sv39: 256 GiB). */
	bool small = ((uint64_t)1 << (m->arch.va_bits - 1)) < RAND_VA + RAND_SPACE;
	m->rand_va = small ? RAND_VA_SMALL : RAND_VA;
	m->rand_space = small ? RAND_SPACE_SMALL : RAND_SPACE;
	err = ptmm_frame_table_init(&m->ft, m->slots, 0, m->phys_bytes, (uintptr_t)m->phys);
	if (err == PTMM_OK)
		err = ptmm_frame_table_add_ram(&m->ft, 0, cfg->data_ram, ZONE_DATA);
	if (err == PTMM_OK)
		err = ptmm_frame_table_add_ram(&m->ft, cfg->data_ram, cfg->pool, ZONE_POOL);
	if (err != PTMM_OK)
		fail("frame table", err);
	ptmm_frame_zone_set_claimable(&m->ft, ZONE_DATA, true);
	err = ptmm_page_table_init_user(&m->pt, &m->arch, &m->ft, ZONE_POOL, NULL);
	if (err != PTMM_OK)
		fail("page table", err);
	m->pool_free_at_start = ptmm_frame_zone_free_frames(&m->ft, ZONE_POOL);
}

/* Destroy the page table and give the host memory back. */
static void machine_fini(struct machine *m)
{
	ptmm_page_table_destroy(&m->pt);
	munmap(m->phys, m->phys_bytes);
	munmap(m->slots, m->slot_bytes);
}

/* In --smoke: the invariant checker must pass after every scenario. */
static void check_tables(struct machine *m, const struct config *cfg, const char *when)
{
	struct ptmm_page_table *pts[1] = { &m->pt };
	char buf[512];

	if (!cfg->check)
		return;
	if (ptmm_check(pts, 1, &m->ft, buf, sizeof(buf)) != PTMM_OK) {
		fprintf(stderr, "bench: ptmm_check after %s: %s\n", when, buf);
		exit(1);
	}
}

/* In --smoke: after an unmap scenario only the root is left. */
static void check_empty(struct machine *m, const struct config *cfg, const char *when)
{
	if (!cfg->check)
		return;
	if (atomic_load(&m->pt.nr_nodes) != 1 ||
	    ptmm_frame_zone_free_frames(&m->ft, ZONE_POOL) != m->pool_free_at_start) {
		fprintf(stderr, "bench: after %s: %" PRIu64 " nodes, pool not back\n", when,
			(uint64_t)atomic_load(&m->pt.nr_nodes));
		exit(1);
	}
}

/* Open a cursor on [va, va+len) or die. */
static void open_or_die(struct ptmm_cursor *c, struct machine *m, ptmm_vaddr_t va, uint64_t len)
{
	int err = ptmm_cursor_open(c, &m->pt, va, len);
	if (err != PTMM_OK)
		fail("ptmm_cursor_open", err);
}

/* seq1: map [SEQ_VA, +len) to [pa, +len), one 4K call per page; ns per page. */
__attribute__((noinline)) static double run_seq1(struct machine *m, ptmm_paddr_t pa, uint64_t len)
{
	struct ptmm_cursor c;
	uint64_t t0 = now_ns(), off;

	open_or_die(&c, m, SEQ_VA, len);
	for (off = 0; off < len; off += PTMM_PAGE_SIZE) {
		int err = ptmm_cursor_map(&c, pa + off, PTMM_PAGE_SIZE, data_prop, 0);
		if (err != PTMM_OK)
			fail("seq1 map", err);
	}
	ptmm_cursor_close(&c);
	return (double)(now_ns() - t0) / (double)(len / PTMM_PAGE_SIZE);
}

/* seq2 / huge2m_map: one call over [va, +len); ns per 4K page (huge: per op = whole). */
__attribute__((noinline)) static double run_map_once(struct machine *m, ptmm_vaddr_t va, ptmm_paddr_t pa, uint64_t len, unsigned flags)
{
	struct ptmm_cursor c;
	uint64_t t0 = now_ns();
	int err;

	open_or_die(&c, m, va, len);
	err = ptmm_cursor_map(&c, pa, len, data_prop, flags);
	if (err != PTMM_OK)
		fail("map", err);
	ptmm_cursor_close(&c);
	return (double)(now_ns() - t0);
}

/* unmap1: unmap [SEQ_VA, +len), one call per 4K page; ns per page. */
__attribute__((noinline)) static double run_unmap1(struct machine *m, uint64_t len)
{
	struct ptmm_cursor c;
	uint64_t t0 = now_ns(), off, removed;

	open_or_die(&c, m, SEQ_VA, len);
	for (off = 0; off < len; off += PTMM_PAGE_SIZE) {
		int err = ptmm_cursor_unmap(&c, PTMM_PAGE_SIZE, &removed);
		if (err != PTMM_OK || removed != PTMM_PAGE_SIZE)
			fail("unmap1", err);
	}
	ptmm_cursor_close(&c);
	return (double)(now_ns() - t0) / (double)(len / PTMM_PAGE_SIZE);
}

/* unmap2 / huge2m_unmap: one call over [va, +len); total ns. */
__attribute__((noinline)) static double run_unmap_once(struct machine *m, ptmm_vaddr_t va, uint64_t len)
{
	struct ptmm_cursor c;
	uint64_t t0 = now_ns(), removed;
	int err;

	open_or_die(&c, m, va, len);
	err = ptmm_cursor_unmap(&c, len, &removed);
	if (err != PTMM_OK || removed != len)
		fail("unmap", err);
	ptmm_cursor_close(&c);
	return (double)(now_ns() - t0);
}

/*
 * rand_map / rand_unmap: one cursor over the 512 GiB; for each VA of `vas`
 * (in order) ptmm_cursor_jump then one 4K call.  Page i maps frame i mod the
 * data block.  ns per page.
 */
__attribute__((noinline)) static double run_rand(struct machine *m, const ptmm_vaddr_t *vas, unsigned n, ptmm_paddr_t pa,
		       uint64_t block_pages, bool map)
{
	struct ptmm_cursor c;
	uint64_t t0 = now_ns();
	unsigned i;

	open_or_die(&c, m, m->rand_va, m->rand_space);
	for (i = 0; i < n; i++) {
		int err = ptmm_cursor_jump(&c, vas[i]);
		if (err == PTMM_OK && map)
			err = ptmm_cursor_map(&c, pa + (i % block_pages) * PTMM_PAGE_SIZE, PTMM_PAGE_SIZE,
					 data_prop, 0);
		else if (err == PTMM_OK)
			err = ptmm_cursor_unmap(&c, PTMM_PAGE_SIZE, NULL);
		if (err != PTMM_OK)
			fail(map ? "rand_map" : "rand_unmap", err);
	}
	ptmm_cursor_close(&c);
	return (double)(now_ns() - t0) / (double)n;
}

/* The two random scenarios as separate functions, so callgrind can tell them apart. */
__attribute__((noinline)) static double run_rand_map(struct machine *m, const ptmm_vaddr_t *vas, unsigned n,
						     ptmm_paddr_t pa, uint64_t block_pages)
{
	return run_rand(m, vas, n, pa, block_pages, true);
}

__attribute__((noinline)) static double run_rand_unmap(struct machine *m, const ptmm_vaddr_t *vas, unsigned n)
{
	return run_rand(m, vas, n, 0, 1, false);
}

/* xorshift64*: a fixed, seeded sequence, so every run maps the same pages. */
static uint64_t next_random(uint64_t *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545f4914f6cdd1dull;
}

/* `n` distinct random page VAs in [base, base + space). */
static ptmm_vaddr_t *random_vas(unsigned n, ptmm_vaddr_t base, uint64_t space)
{
	uint64_t pages = space / PTMM_PAGE_SIZE, state = 0x9e3779b97f4a7c15ull;
	uint8_t *taken = calloc(pages / 8, 1);
	ptmm_vaddr_t *vas = malloc(n * sizeof(*vas));
	unsigned i = 0;

	if (taken == NULL || vas == NULL)
		fail("malloc", 1);
	/* Rationale: rejection of repeats keeps the pages distinct (n << pages). */
	while (i < n) {
		uint64_t p = next_random(&state) % pages;
		if (taken[p / 8] & (1u << (p % 8)))
			continue;
		taken[p / 8] |= (uint8_t)(1u << (p % 8));
		vas[i++] = base + p * PTMM_PAGE_SIZE;
	}
	free(taken);
	return vas;
}

/*
 * PA of the huge scenario: 2 MiB, which is 2M-aligned and not 1G-aligned.
 * All data RAM is held in handles (bench_arch), so [2M, 2M+len) is DATA
 * spanning two adjacent blocks and map only takes references.
 */
static ptmm_paddr_t huge_pa(const struct config *cfg, uint64_t len)
{
	if (SIZE_2M + len > cfg->data_ram)
		fail("no room for the huge range", 1);
	return SIZE_2M;
}

/* Median of the measured rounds 1..ROUNDS-1. */
static double median(const double *v)
{
	double s[ROUNDS - 1], t;
	unsigned i, j, n = ROUNDS - 1;

	memcpy(s, v + 1, sizeof(s));
	for (i = 1; i < n; i++)
		for (j = i; j > 0 && s[j - 1] > s[j]; j--) {
			t = s[j];
			s[j] = s[j - 1];
			s[j - 1] = t;
		}
	return s[n / 2];
}

/* Record nodes and peak RSS for scenario `s` after its run. */
static void note(struct result *r, struct machine *m, uint64_t peak_nodes)
{
	if (peak_nodes > r->pt_pages)
		r->pt_pages = peak_nodes;
	r->rss_kib = peak_rss_kib();
	(void)m;
}

/* One round of every scenario on machine `m`, into column `round` of res. */
static void run_round(struct machine *m, const struct config *cfg, ptmm_paddr_t d, const ptmm_vaddr_t *vas,
		      unsigned round, struct result *res)
{
	uint64_t len = PTMM_PAGE_SIZE << cfg->data_order, pages = len / PTMM_PAGE_SIZE, nodes;
	ptmm_paddr_t hpa = huge_pa(cfg, cfg->huge_len);
	ptmm_vaddr_t hva = SEQ_VA + SIZE_2M;

	res[SEQ1].ns_per_op[round] = run_seq1(m, d, len);
	nodes = atomic_load(&m->pt.nr_nodes);
	note(&res[SEQ1], m, nodes);
	check_tables(m, cfg, "seq1");
	res[UNMAP1].ns_per_op[round] = run_unmap1(m, len);
	note(&res[UNMAP1], m, nodes);
	check_tables(m, cfg, "unmap1");
	check_empty(m, cfg, "unmap1");

	res[SEQ2].ns_per_op[round] = run_map_once(m, SEQ_VA, d, len, 0) / (double)pages;
	nodes = atomic_load(&m->pt.nr_nodes);
	note(&res[SEQ2], m, nodes);
	check_tables(m, cfg, "seq2");
	res[UNMAP2].ns_per_op[round] = run_unmap_once(m, SEQ_VA, len) / (double)pages;
	note(&res[UNMAP2], m, nodes);
	check_tables(m, cfg, "unmap2");
	check_empty(m, cfg, "unmap2");

	/*
	 * Rationale: per op = per GiB mapped, the unit of the target.
	 * One call takes about a microsecond, too short to time alone: the
	 * pair is run HUGE_REPS times and each call's mean is the run's figure
	 * (the first pair is checked like every scenario).
	 */
	double huge_map = 0, huge_unmap = 0;
	for (unsigned r = 0; r < HUGE_REPS; r++) {
		huge_map += run_map_once(m, hva, hpa, cfg->huge_len, PTMM_MAP_HUGE);
		if (r == 0) {
			nodes = atomic_load(&m->pt.nr_nodes);
			note(&res[HUGE_MAP], m, nodes);
			check_tables(m, cfg, "huge2m_map");
		}
		huge_unmap += run_unmap_once(m, hva, cfg->huge_len);
		if (r == 0) {
			note(&res[HUGE_UNMAP], m, nodes);
			check_tables(m, cfg, "huge2m_unmap");
			check_empty(m, cfg, "huge2m_unmap");
		}
	}
	res[HUGE_MAP].ns_per_op[round] =
		huge_map / HUGE_REPS * (double)GIB / (double)cfg->huge_len;
	res[HUGE_UNMAP].ns_per_op[round] =
		huge_unmap / HUGE_REPS * (double)GIB / (double)cfg->huge_len;

	res[RAND_MAP].ns_per_op[round] = run_rand_map(m, vas, cfg->rand_pages, d, pages);
	nodes = atomic_load(&m->pt.nr_nodes);
	note(&res[RAND_MAP], m, nodes);
	check_tables(m, cfg, "rand_map");
	res[RAND_UNMAP].ns_per_op[round] = run_rand_unmap(m, vas, cfg->rand_pages);
	note(&res[RAND_UNMAP], m, nodes);
	check_tables(m, cfg, "rand_unmap");
	check_empty(m, cfg, "rand_unmap");
}

/* All rounds for one encoder; prints its results. Returns 0 or exits 1. */
static void bench_arch(const struct mm_mode *mode, const struct config *cfg, bool json)
{
	const char *arch_name = mode->name;
	ptmm_vaddr_t *vas;
	static struct machine m;
	struct result res[NR_SCENARIOS];
	uint64_t data_free;
	ptmm_paddr_t d, blocks[MAX_BLOCKS];
	uint64_t nr_blocks, b;
	unsigned round, s;
	int err;

	memset(res, 0, sizeof(res));
	machine_init(&m, mode, cfg);
	vas = random_vas(cfg->rand_pages, m.rand_va, m.rand_space);
	data_free = ptmm_frame_zone_free_frames(&m.ft, ZONE_DATA);
	/*
	 * All data RAM in blocks of 2^data_order frames, each held by a handle
	 * as a kernel would hold it; the lowest is the data block of the seq
	 * and rand scenarios.  Rationale: the huge range then needs no claim
	 * of free frames (allocator work is not what the scenario measures).
	 */
	nr_blocks = cfg->data_ram >> (cfg->data_order + PTMM_PAGE_SHIFT);
	d = UINT64_MAX;
	for (b = 0; b < nr_blocks; b++) {
		err = ptmm_frame_alloc(&m.ft, ZONE_DATA, cfg->data_order, PTMM_FRAME_DATA, &blocks[b]);
		if (err != PTMM_OK)
			fail("ptmm_frame_alloc", err);
		if (blocks[b] < d)
			d = blocks[b];
	}
	for (round = 0; round < ROUNDS; round++)
		run_round(&m, cfg, d, vas, round, res);
	for (b = 0; b < nr_blocks; b++)
		ptmm_frame_put(&m.ft, blocks[b]);
	if (cfg->check && ptmm_frame_zone_free_frames(&m.ft, ZONE_DATA) != data_free) {
		fprintf(stderr, "bench: %s: data frames not all freed\n", arch_name);
		exit(1);
	}
	for (s = 0; s < NR_SCENARIOS; s++) {
		if (json)
			printf("{\"arch\":\"%s\",\"scenario\":\"%s\",\"ns_per_op\":%.3f,"
			       "\"pt_pages\":%" PRIu64 ",\"rss_kib\":%ld}\n",
			       arch_name, scenario_name[s], median(res[s].ns_per_op),
			       res[s].pt_pages, res[s].rss_kib);
		else
			printf("%-11s %-13s %12.3f %10" PRIu64 " %10ld\n", arch_name,
			       scenario_name[s], median(res[s].ns_per_op), res[s].pt_pages,
			       res[s].rss_kib);
	}
	machine_fini(&m);
	free(vas);
}

int main(int argc, char **argv)
{
	struct config full = { 4 * GIB, 1 * GIB, PTMM_FRAME_MAX_ORDER, 1 * GIB, 100000, false };
	struct config smoke = { 64 * MIB, 16 * MIB, 8, 4 * MIB, 1000, true };
	/* For callgrind: 64 MiB of data, 64 MiB huge, 10,000 random pages. */
	struct config reduced = { 1 * GIB, 256 * MIB, 14, 64 * MIB, 10000, false };
	const struct config *cfg = &full;
	const struct mm_mode *only = NULL;
	bool json = false;
	int i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "--smoke") == 0)
			cfg = &smoke;
		else if (strcmp(argv[i], "--reduced") == 0)
			cfg = &reduced;
		else if (strcmp(argv[i], "--arch") == 0 && i + 1 < argc &&
			 (only = mm_mode_find(argv[i + 1])) != NULL)
			i++;
		else {
			fprintf(stderr, "usage: bench [--json] [--smoke | --reduced] "
					"[--arch x86_64|x86_64-la57|sv39|sv48|sv57]\n");
			return 2;
		}
	}
	if (!json)
		printf("# ns_per_op: per 4K page (huge2m: per GiB); median of %d runs after a warm-up\n"
		       "# metadata: %zu bytes per frame (sizeof(struct ptmm_frame_slot))\n"
		       "%-11s %-13s %12s %10s %10s\n", ROUNDS - 1, sizeof(struct ptmm_frame_slot),
		       "arch", "scenario", "ns_per_op", "pt_pages", "rss_kib");
	for (unsigned k = 0; k < MM_NR_MODES; k++)
		if (!only || only == &mm_modes[k])
			bench_arch(&mm_modes[k], cfg, json);
	return 0;
}
