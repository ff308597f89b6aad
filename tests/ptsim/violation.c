/*
 * violation.c - exit status 3 (`violation: TEXT`) without a backdoor.
 *
 * Valid commands cannot break an invariant, so this test breaks one from
 * outside, as a stray write would: it builds ptsim's machine (machine.c),
 * maps one page through the interpreter, then rewrites that leaf PTE in
 * simulated physical memory to point at the root node.  The interpreter
 * must then answer SCRIPT_VIOLATION (3, the value ptsim's main returns as
 * its exit status) with one `violation: TEXT` line: from `check`, and from
 * the next command under --check.  On both archs and both halves.
 */
#include <stdio.h>
#include <string.h>

#include "machine.h"
#include "script.h"

_Static_assert(SCRIPT_VIOLATION == 3, "ptsim's exit status for a violation");

#include "output_capture.h"

/* Run `line`; false (with a message) unless it returns `want` and prints `expect`. */
static bool run(struct script_env *env, const char *line, int want, const char *expect)
{
	int got;

	out_reset();
	got = script_run_line(env, line, strlen(line), 1);
	if (got != want || strcmp(out, expect) != 0) {
		printf("'%s': result %d, output '%s'; expected %d, '%s'\n", line, got, out, want,
		       expect);
		return false;
	}
	return true;
}

/* Point the leaf mapping `va` at the root node: "leaf maps a page-table node". */
static bool corrupt_leaf(struct ptsim_machine *m, ptmm_vaddr_t va)
{
	const struct ptmm_pte_format *f = &m->arch.fmt;
	ptmm_paddr_t node = m->pt.root;

	for (unsigned level = m->arch.levels; level >= 1; level--) {
		ptmm_pte_t *e = (ptmm_pte_t *)ptmm_frame_to_virt(&m->ft, node) + ptmm_level_index(va, level);

		if (!ptmm_pte_is_present(*e))
			return false;
		if (ptmm_pte_is_leaf(f, *e, level)) {
			*e = ptmm_pte_make(f, *e & ~f->addr_mask, m->pt.root);
			return true;
		}
		node = ptmm_pte_table_addr(f, *e);
	}
	return false;
}

/* One machine: corrupt, then `check` (and with check_each, any command) reports it. */
static bool test_machine(const char *arch, bool kernel, bool check_each)
{
	static struct ptsim_machine m;
	struct ptmm_page_table *pts[1] = { &m.pt };
	ptmm_vaddr_t va = kernel ? 0xffff800000001000ull : 0x1000;
	char map_line[64];
	const char *what;
	struct script_env env;
	bool ok;

	if (!ptsim_arch_init(&m.arch, arch, false) ||
	    ptsim_machine_build(&m, (uint64_t)16 << 20, (uint64_t)2 << 20, kernel, &what) != PTMM_OK) {
		printf("%s: machine not built\n", arch);
		return false;
	}
	env = (struct script_env){
		.pt = &m.pt, .ft = &m.ft, .check_pts = pts, .nr_check_pts = 1,
		.ram_base = 0, .ram_size = ((uint64_t)16 << 20) + ((uint64_t)2 << 20),
		.check_each = check_each, .out = out_buf, .out_ctx = NULL,
	};
	snprintf(map_line, sizeof(map_line), "map 0x%llx 4K 0x5000 r", (unsigned long long)va);
	ok = run(&env, map_line, SCRIPT_OK, "ok\n") && run(&env, "check", SCRIPT_OK, "ok\n");
	if (ok && !corrupt_leaf(&m, va)) {
		printf("%s: leaf not found\n", arch);
		ok = false;
	}
	if (ok) {
		const char *cmd = check_each ? "stats" : "check";
		const char *v;
		int got;

		out_reset();
		got = script_run_line(&env, cmd, strlen(cmd), 1);
		v = strstr(out, "violation: ");

		/* stats still prints its line first; then exactly one violation line. */
		if (got != SCRIPT_VIOLATION || v == NULL || (check_each ? v == out : v != out) ||
		    strstr(v, "leaf maps a page-table node") == NULL ||
		    strchr(v, '\n') != out + out_len - 1) {
			printf("%s %s check_each=%d: result %d, output '%s'\n", arch,
			       kernel ? "kernel" : "user", check_each, got, out);
			ok = false;
		}
	}
	return ok;
}

int main(void)
{
	int failed = 0;

	for (int a = 0; a < 2; a++)
		for (int k = 0; k < 2; k++)
			for (int c = 0; c < 2; c++)
				failed += !test_machine(a ? "sv48" : "x86_64", k, c);
	printf("%s\n", failed ? "FAILED" : "all violations reported");
	return failed ? 1 : 0;
}
