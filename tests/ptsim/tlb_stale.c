/*
 * tlb_stale.c - `ptsim --tlb` catches a script that reaches a stale
 * translation (issue 11).
 *
 * The mm's flushes cannot be removed from a script, so this test removes
 * them from the mm, one at a time, with the debug builds' mutation switch
 * (ptmm_mutation, include/ptmm/mm_assert.h; the same switches tests/test_tlb.c uses).
 * For each switch a small script (map, a `query` that fills the simulated
 * TLB, then the operation whose flush the switch removes) runs through
 * ptsim's interpreter and machine, checker after every command as under
 * --check:
 *  - unmutated, with the TLB model: every line passes;
 *  - mutated, without the model (--no-tlb): every line passes too - the
 *    tree checker cannot see a missing flush (the blind spot --tlb closes);
 *  - mutated, with the model: a line answers SCRIPT_VIOLATION with one
 *    `violation: O8: ...` or `violation: O10: ...` line (docs/MODEL.md).
 * PTMM_MUT_UNMAP_FAST is not reachable from a script (it needs a map, a
 * flush and a second map of the same frame inside one cursor):
 * tests/test_tlb.c covers it.  On x86_64 and sv48, both halves.
 */
#include <stdio.h>
#include <string.h>

#include "machine.h"
#include "script.h"

#ifndef PTMM_DEBUG
int main(void)
{
	printf("skipped: the mutation switches exist only with -Dmm_debug=true\n");
	return 77;
}
#else

#include "output_capture.h"

/* One script line: `fmt` with the VA base + `off` as its one %llx. */
struct line {
	const char *fmt;
	uint64_t off;
};

#define MAX_LINES 6

struct stale_case {
	unsigned site;
	const char *name;
	struct line lines[MAX_LINES]; /* up to the first { NULL } */
};

static const struct stale_case cases[] = {
	{ PTMM_MUT_FLUSH_ALL, "flush_all call (the last page of a node goes)",
	  { { "map 0x%llx 4K 0x100000 rw", 0 }, { "query 0x%llx", 0 }, { "unmap 0x%llx 4K", 0 } } },
	{ PTMM_MUT_TABLES, "flush everything when a table goes",
	  { { "map 0x%llx 4K 0x100000 rw", 0 }, { "query 0x%llx", 0 }, { "unmap 0x%llx 4K", 0 } } },
	{ PTMM_MUT_FLUSH_PAGE, "flush_page call",
	  { { "map 0x%llx 8K 0x100000 rw", 0 }, { "query 0x%llx", 0 }, { "unmap 0x%llx 4K", 0 } } },
	{ PTMM_MUT_UNMAP_PAGE, "record of the one-page unmap",
	  { { "map 0x%llx 8K 0x100000 rw", 0 }, { "query 0x%llx", 0 }, { "unmap 0x%llx 4K", 0 } } },
	{ PTMM_MUT_FLUSH_RANGE, "flush_range call",
	  { { "map 0x%llx 12K 0x100000 rw", 0 }, { "query 0x%llx", 0 }, { "query 0x%llx", 0x1000 },
	    { "unmap 0x%llx 8K", 0 } } },
	{ PTMM_MUT_UNMAP_GENERAL, "record of the general unmap",
	  { { "map 0x%llx 12K 0x100000 rw", 0 }, { "query 0x%llx", 0 }, { "query 0x%llx", 0x1000 },
	    { "unmap 0x%llx 8K", 0 } } },
	{ PTMM_MUT_MAP_PAGE, "record of a new 4K leaf (over a cached invalid entry)",
	  { { "map 0x%llx 4K 0x100000 rw", 0x1000 }, { "query 0x%llx", 0 },
	    { "map 0x%llx 4K 0x200000 rw", 0 } } },
	{ PTMM_MUT_MAP_GENERAL, "record of the general map (replace)",
	  { { "map 0x%llx 8K 0x100000 rw", 0 }, { "query 0x%llx", 0 },
	    { "map 0x%llx 8K 0x200000 rw replace", 0 } } },
	{ PTMM_MUT_PROTECT, "record of a re-protected leaf",
	  { { "map 0x%llx 8K 0x100000 rw", 0 }, { "query 0x%llx", 0 }, { "protect 0x%llx 4K r", 0 } } },
};

/*
 * Build a fresh machine (TLB model on if `tlb`) and run case k with the
 * mutation `site`.  Returns the first result that is not SCRIPT_OK (its
 * output in `out`), or SCRIPT_OK.
 */
static int run_case(const char *arch, bool kernel, bool tlb, const struct stale_case *k,
		    unsigned site)
{
	static struct ptsim_machine m;
	static struct tlbm model;
	struct ptmm_page_table *pts[1] = { &m.pt };
	ptmm_vaddr_t base = kernel ? 0xffff800040200000ull : 0x40200000ull;
	const char *what;
	struct script_env env;
	int got = SCRIPT_OK;

	if (!ptsim_arch_init(&m.arch, arch, false) ||
	    ptsim_machine_build(&m, (uint64_t)16 << 20, (uint64_t)2 << 20, kernel, &what) != PTMM_OK) {
		printf("%s: machine not built (%s)\n", arch, what);
		return -1;
	}
	env = (struct script_env){
		.pt = &m.pt, .ft = &m.ft, .check_pts = pts, .nr_check_pts = 1,
		.ram_base = 0, .ram_size = ((uint64_t)16 << 20) + ((uint64_t)2 << 20),
		.check_each = true, .out = out_buf, .out_ctx = NULL,
	};
	if (tlb) {
		ptsim_machine_model_tlb(&m, &model);
		env.touch = ptsim_tlb_touch;
		env.tlb_check = ptsim_tlb_check;
		env.tlb_ctx = &model;
	}
	ptmm_mutation = site;
	for (unsigned i = 0; i < MAX_LINES && k->lines[i].fmt && got == SCRIPT_OK; i++) {
		char line[96];

		snprintf(line, sizeof(line), k->lines[i].fmt,
			 (unsigned long long)(base + k->lines[i].off));
		out_reset();
		got = script_run_line(&env, line, strlen(line), i + 1);
	}
	ptmm_mutation = PTMM_MUT_NONE;
	return got;
}

/* The three runs of one case; false with a message on any surprise. */
static bool test_case(const char *arch, bool kernel, const struct stale_case *k)
{
	const char *sp = kernel ? "kernel" : "user";
	int got;

	if ((got = run_case(arch, kernel, true, k, PTMM_MUT_NONE)) != SCRIPT_OK) {
		printf("%s %s, %s, unmutated: result %d, '%s'\n", arch, sp, k->name, got, out);
		return false;
	}
	if ((got = run_case(arch, kernel, false, k, k->site)) != SCRIPT_OK) {
		printf("%s %s, without the %s and the TLB model: result %d, '%s'\n", arch, sp,
		       k->name, got, out);
		return false;
	}
	got = run_case(arch, kernel, true, k, k->site);
	const char *v = strstr(out, "violation: O");
	if (got != SCRIPT_VIOLATION || v == NULL ||
	    (strncmp(v, "violation: O8: ", 15) != 0 && strncmp(v, "violation: O10: ", 16) != 0) ||
	    strchr(v, '\n') != out + out_len - 1) {
		printf("%s %s, without the %s: result %d, '%s' (expected one TLB violation)\n",
		       arch, sp, k->name, got, out);
		return false;
	}
	printf("%s %s, without the %s: %s", arch, sp, k->name, v);
	return true;
}

int main(void)
{
	int failed = 0;

	_Static_assert(sizeof(cases) / sizeof(cases[0]) == PTMM_MUT_COUNT - 2,
		       "a script for every flush site but PTMM_MUT_UNMAP_FAST");
	for (int a = 0; a < 2; a++)
		for (int kernel = 0; kernel < 2; kernel++)
			for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
				failed += !test_case(a ? "sv48" : "x86_64", kernel, &cases[i]);
	printf("%s\n", failed ? "FAILED" : "every stale translation reported");
	return failed ? 1 : 0;
}
#endif
