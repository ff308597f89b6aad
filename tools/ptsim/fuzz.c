/*
 * fuzz.c - libFuzzer target: the script parser and interpreter with the
 * invariant checker after every command.  Any violation aborts (a finding);
 * a crash or sanitizer report is a finding too.  Built only with
 * -Dfuzz=true (see fuzz.sh).
 *
 * Input: byte 0 picks the machine (bit 0: sv48, bit 1: kernel space,
 * bit 2: Svpbmt, bit 3: tight node pool), the rest is a script, one
 * command per line.  The machine is small so that building it per input
 * is cheap (8 MiB data RAM: 2048 frame slots to initialise) and
 * exhaustion is reachable: the node pool is 2 MiB (512 nodes; the kernel
 * half alone takes 257), or with bit 3 only 3 nodes beyond what an empty
 * table of that half needs.  It is the same machine code as ptsim's
 * (machine.c), rebuilt for every input so runs are independent.
 */
#include <stdlib.h>

#include "machine.h"
#include "script.h"

#define FUZZ_MEM ((uint64_t)8 << 20)
#define FUZZ_POOL ((uint64_t)2 << 20)
/* Tight pools: root + 3 nodes; root + 256 preallocated + 3. */
#define FUZZ_POOL_TIGHT_USER ((uint64_t)4 << MM_PAGE_SHIFT)
#define FUZZ_POOL_TIGHT_KERNEL ((uint64_t)260 << MM_PAGE_SHIFT)

/* Output is discarded; only crashes and violations matter. */
static void out_discard(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	(void)s;
	(void)n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ptsim_machine m; /* host memory reserved once, then reused */
	struct page_table *pts[1] = { &m.pt };
	struct script_env env;
	unsigned lineno = 0;
	unsigned machine;
	bool kernel;
	uint64_t pool;
	const char *what;

	if (size == 0)
		return 0;
	machine = data[0];
	kernel = (machine & 2) != 0;
	pool = !(machine & 8) ? FUZZ_POOL : kernel ? FUZZ_POOL_TIGHT_KERNEL : FUZZ_POOL_TIGHT_USER;
	if (!ptsim_arch_init(&m.arch, (machine & 1) ? "sv48" : "x86_64", (machine & 5) == 5))
		abort();
	if (ptsim_machine_build(&m, FUZZ_MEM, pool, kernel, &what) != MM_OK)
		abort();
	env = (struct script_env){
		.pt = &m.pt, .ft = &m.ft, .check_pts = pts, .nr_check_pts = 1,
		.ram_base = 0, .ram_size = FUZZ_MEM + pool, .check_each = true,
		.out = out_discard, .out_ctx = NULL,
	};
	if (script_run_text(&env, (const char *)data + 1, size - 1, '\n', &lineno) ==
	    SCRIPT_VIOLATION)
		abort();
	page_table_destroy(&m.pt); /* user tables: the teardown path is fuzzed too */
	return 0;
}
