/*
 * fuzz.c - libFuzzer target: the script parser and interpreter with the
 * invariant checker after every command.  Any violation aborts (a finding);
 * a crash or sanitizer report is a finding too.  Built only with
 * -Dfuzz=true (see fuzz.sh).
 *
 * Input: byte 0 picks the machine (bit 0: sv48, bit 1: kernel space,
 * bit 2: Svpbmt), the rest is a script, one command per line.  The machine
 * is small (64 MiB data RAM, 2 MiB node pool: the kernel half alone takes 257 nodes) so exhaustion is reachable,
 * and rebuilt for every input so runs are independent.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "script.h"

#define FUZZ_MEM ((uint64_t)64 << 20)
#define FUZZ_POOL ((uint64_t)2 << 20)
#define FUZZ_TOP (FUZZ_MEM + FUZZ_POOL)
#define FUZZ_MMIO_TOP ((uint64_t)1 << 52)

static void tlb_page(void *ctx, vaddr_t va) { (void)ctx; (void)va; }
static void tlb_range(void *ctx, vaddr_t va, uint64_t len) { (void)ctx; (void)va; (void)len; }
static void tlb_all(void *ctx) { (void)ctx; }
static void tlb_activate(void *ctx, paddr_t root) { (void)ctx; (void)root; }

static const struct mm_tlb_ops fuzz_tlb = {
	.flush_page = tlb_page, .flush_range = tlb_range,
	.flush_all = tlb_all, .activate = tlb_activate, .ctx = NULL,
};

/* Output is discarded; only crashes and violations matter. */
static void out_discard(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	(void)s;
	(void)n;
}

/* Reserve host memory once; it is reused by every input. */
static void *reserve_once(void **p, uint64_t bytes)
{
	if (*p == NULL) {
		*p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (*p == MAP_FAILED)
			abort();
	}
	return *p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static void *phys, *slots;
	static struct frame_table ft;
	static struct page_table pt;
	struct page_table *pts[1] = { &pt };
	struct mm_arch arch;
	struct script_env env;
	unsigned lineno = 0;
	unsigned machine;
	int err;

	if (size == 0)
		return 0;
	machine = data[0];
	reserve_once(&phys, FUZZ_TOP);
	reserve_once(&slots, frame_table_meta_bytes(0, FUZZ_TOP));
	if (machine & 1)
		mm_arch_sv48_init(&arch, (machine & 4) ? MM_FEAT_RV_SVPBMT : 0, &fuzz_tlb);
	else
		mm_arch_x86_64_init(&arch, MM_FEAT_X86_NX | MM_FEAT_X86_1G, &fuzz_tlb);
	err = frame_table_init(&ft, slots, 0, FUZZ_TOP, (uintptr_t)phys);
	err = err ? err : frame_table_add_ram(&ft, 0, FUZZ_MEM, 0);
	err = err ? err : frame_table_add_ram(&ft, FUZZ_MEM, FUZZ_POOL, 1);
	err = err ? err : frame_table_add_mmio(&ft, FUZZ_TOP, FUZZ_MMIO_TOP - FUZZ_TOP);
	if (err != MM_OK)
		abort();
	frame_zone_set_claimable(&ft, 0, true);
	err = (machine & 2) ? page_table_init_kernel(&pt, &arch, &ft, 1)
			    : page_table_init_user(&pt, &arch, &ft, 1, NULL);
	if (err != MM_OK)
		abort();
	env = (struct script_env){
		.pt = &pt, .ft = &ft, .check_pts = pts, .nr_check_pts = 1,
		.ram_base = 0, .ram_size = FUZZ_TOP, .check_each = true,
		.out = out_discard, .out_ctx = NULL,
	};
	if (script_run_text(&env, (const char *)data + 1, size - 1, '\n', &lineno) ==
	    SCRIPT_VIOLATION)
		abort();
	page_table_destroy(&pt);
	return 0;
}
