/*
 * fuzz.c - libFuzzer target: the script parser and interpreter with the
 * invariant checker after every command.  Any violation aborts (a finding);
 * a crash or sanitizer report is a finding too.  Built only with
 * -Dfuzz=true (see fuzz.sh).
 *
 * Input: byte 0 picks the machine (bits 0..2: the paging mode, mm_modes[]
 * of arch/modes.h, value modulo 5: x86_64, x86_64-la57, sv39, sv48, sv57;
 * bit 3: kernel space; bit 4: Svpbmt, RISC-V modes only; bit 5: tight node
 * pool), the rest is a script, one command per line.  The machine is small
 * so that building it per input is cheap (8 MiB data RAM: 2048 frame slots
 * to initialise) and exhaustion is reachable: the node pool is 2 MiB (512
 * nodes; the kernel half alone takes 257), or with bit 5 only the nodes of
 * one 4 KiB page's path beyond what an empty table of that half needs.  It is the same machine code as ptsim's
 * (machine.c), rebuilt for every input so runs are independent.
 */
#include <stdlib.h>

#include "arch/modes.h"
#include "machine.h"
#include "script.h"

#define FUZZ_MEM ((uint64_t)8 << 20)
#define FUZZ_POOL ((uint64_t)2 << 20)
#define FUZZ_MODE_MASK 7u
#define FUZZ_KERNEL (1u << 3)
#define FUZZ_SVPBMT (1u << 4)
#define FUZZ_TIGHT (1u << 5)

/*
 * A tight pool: the nodes of an empty table (root; root + 256 preallocated)
 * plus one 4 KiB page's path below them (levels - 1; levels - 2).
 */
static uint64_t tight_pool(unsigned levels, bool kernel)
{
	uint64_t nodes = kernel ? 1 + 256 + (levels - 2) : 1 + (levels - 1);
	return nodes << PTMM_PAGE_SHIFT;
}

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
	struct ptmm_page_table *pts[1] = { &m.pt };
	struct script_env env;
	unsigned lineno = 0;
	unsigned machine;
	const struct mm_mode *mode;
	bool kernel, svpbmt;
	uint64_t pool;
	const char *what;

	if (size == 0)
		return 0;
	machine = data[0];
	mode = &mm_modes[(machine & FUZZ_MODE_MASK) % MM_NR_MODES];
	kernel = (machine & FUZZ_KERNEL) != 0;
	svpbmt = (machine & FUZZ_SVPBMT) && (mode->optional & PTMM_FEAT_RV_SVPBMT);
	if (!ptsim_arch_init(&m.arch, mode->name, svpbmt))
		abort();
	pool = (machine & FUZZ_TIGHT) ? tight_pool(m.arch.levels, kernel) : FUZZ_POOL;
	if (ptsim_machine_build(&m, FUZZ_MEM, pool, kernel, &what) != PTMM_OK)
		abort();
	env = (struct script_env){
		.pt = &m.pt, .ft = &m.ft, .check_pts = pts, .nr_check_pts = 1,
		.ram_base = 0, .ram_size = FUZZ_MEM + pool, .check_each = true,
		.out = out_discard, .out_ctx = NULL,
	};
	if (script_run_text(&env, (const char *)data + 1, size - 1, '\n', &lineno) ==
	    SCRIPT_VIOLATION)
		abort();
	ptmm_page_table_destroy(&m.pt); /* user tables: the teardown path is fuzzed too */
	return 0;
}
