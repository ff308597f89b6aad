/*
 * main.c - ptsim, the host page-table simulator (docs/PTSIM.md).
 *
 * Simulated machine: physical memory [0, mem + pool) is one reserved,
 * never-committed host mapping; only page-table nodes (in the pool) are
 * ever touched.  Zone 0 = data RAM [0, mem), claimable by `map`; zone 1 =
 * the node pool [mem, mem + pool); everything above, up to what a PTE can
 * address, is one MMIO window.  The script interpreter is script.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdnoreturn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "script.h"

#define ZONE_DATA 0
#define ZONE_POOL 1
#define MMIO_TOP ((uint64_t)1 << 52) /* x86_64 PA field; sv48 holds more */

struct options {
	const char *arch;
	bool svpbmt;
	bool kernel_space;
	uint64_t mem, pool;
	bool check;
	const char *file;
};

/* Host TLB: there is none, every hook is a no-op. */
static void tlb_page(void *ctx, vaddr_t va) { (void)ctx; (void)va; }
static void tlb_range(void *ctx, vaddr_t va, uint64_t len) { (void)ctx; (void)va; (void)len; }
static void tlb_all(void *ctx) { (void)ctx; }
static void tlb_activate(void *ctx, paddr_t root) { (void)ctx; (void)root; }

static const struct mm_tlb_ops host_tlb = {
	.flush_page = tlb_page,
	.flush_range = tlb_range,
	.flush_all = tlb_all,
	.activate = tlb_activate,
	.ctx = NULL,
};

/* Output sink of the interpreter: standard output. */
static void out_stdout(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	fwrite(s, 1, n, stdout);
}

static noreturn void usage(void)
{
	fprintf(stderr, "usage: ptsim [--arch x86_64|sv48] [--svpbmt] [--space user|kernel] "
			"[--mem SIZE] [--pt-pool SIZE] [--check] [FILE]\n");
	exit(1);
}

/* A SIZE option: decimal or 0x hex, optional K/M/G/T; false if malformed. */
static bool parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (*s == '\0' || *s == '-')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || end == s)
		return false;
	switch (*end) {
	case '\0': break;
	case 'K': shift = 10; end++; break;
	case 'M': shift = 20; end++; break;
	case 'G': shift = 30; end++; break;
	case 'T': shift = 40; end++; break;
	default: return false;
	}
	if (*end != '\0' || (shift != 0 && (v >> (64 - shift)) != 0))
		return false;
	*out = (uint64_t)v << shift;
	return true;
}

/* Parse argv into `o` (exits with usage on anything wrong). */
static void parse_options(int argc, char **argv, struct options *o)
{
	o->arch = "x86_64";
	o->mem = (uint64_t)4 << 30;
	o->pool = (uint64_t)64 << 20;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--svpbmt") == 0) {
			o->svpbmt = true;
		} else if (strcmp(a, "--check") == 0) {
			o->check = true;
		} else if (strcmp(a, "--arch") == 0 && val) {
			if (strcmp(val, "x86_64") != 0 && strcmp(val, "sv48") != 0)
				usage();
			o->arch = val;
			i++;
		} else if (strcmp(a, "--space") == 0 && val) {
			if (strcmp(val, "user") != 0 && strcmp(val, "kernel") != 0)
				usage();
			o->kernel_space = strcmp(val, "kernel") == 0;
			i++;
		} else if (strcmp(a, "--mem") == 0 && val) {
			if (!parse_size(val, &o->mem))
				usage();
			i++;
		} else if (strcmp(a, "--pt-pool") == 0 && val) {
			if (!parse_size(val, &o->pool))
				usage();
			i++;
		} else if (a[0] == '-' && a[1] != '\0') {
			usage();
		} else if (o->file == NULL) {
			o->file = a;
		} else {
			usage();
		}
	}
	if (o->svpbmt && strcmp(o->arch, "sv48") != 0)
		usage();
	/* Both ranges page aligned, non-empty, and the machine below the MMIO top. */
	if (o->mem == 0 || o->pool == 0 || !mm_is_aligned(o->mem, MM_PAGE_SIZE) ||
	    !mm_is_aligned(o->pool, MM_PAGE_SIZE) || o->mem >= MMIO_TOP ||
	    o->pool >= MMIO_TOP - o->mem)
		usage();
}

static noreturn void die(const char *what, int err)
{
	fprintf(stderr, "ptsim: %s: %s\n", what, err ? mm_strerror(err) : strerror(errno));
	exit(1);
}

/* Reserve `bytes` of address space; pages are committed only when touched. */
static void *reserve(uint64_t bytes)
{
	void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (p == MAP_FAILED)
		die("mmap", 0);
	return p;
}

/* Build the simulated machine and the page table the script drives. */
static void setup(const struct options *o, struct mm_arch *arch, struct frame_table *ft,
		  struct page_table *pt)
{
	uint64_t top = o->mem + o->pool;
	void *phys = reserve(top);
	void *slots = reserve(frame_table_meta_bytes(0, top));
	int err;

	if (strcmp(o->arch, "sv48") == 0)
		mm_arch_sv48_init(arch, o->svpbmt ? MM_FEAT_RV_SVPBMT : 0, &host_tlb);
	else
		mm_arch_x86_64_init(arch, MM_FEAT_X86_NX | MM_FEAT_X86_1G, &host_tlb);
	/* Frame PA p lives at host address phys + p. */
	err = frame_table_init(ft, slots, 0, top, (uintptr_t)phys);
	if (err == MM_OK)
		err = frame_table_add_ram(ft, 0, o->mem, ZONE_DATA);
	if (err == MM_OK)
		err = frame_table_add_ram(ft, o->mem, o->pool, ZONE_POOL);
	if (err == MM_OK)
		err = frame_table_add_mmio(ft, top, MMIO_TOP - top);
	if (err != MM_OK)
		die("frame table", err);
	frame_zone_set_claimable(ft, ZONE_DATA, true);
	if (o->kernel_space)
		err = page_table_init_kernel(pt, arch, ft, ZONE_POOL);
	else
		err = page_table_init_user(pt, arch, ft, ZONE_POOL, NULL);
	if (err != MM_OK)
		die("page table", err);
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct mm_arch arch;
	static struct frame_table ft;
	static struct page_table pt;
	struct page_table *pts[1] = { &pt };
	struct script_env env;
	FILE *in = stdin;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;
	int result = SCRIPT_OK;

	parse_options(argc, argv, &o);
	if (o.file != NULL && (in = fopen(o.file, "rb")) == NULL)
		die(o.file, 0);
	setup(&o, &arch, &ft, &pt);
	env = (struct script_env){
		.pt = &pt, .ft = &ft, .check_pts = pts, .nr_check_pts = 1,
		.ram_base = 0, .ram_size = o.mem + o.pool, .check_each = o.check,
		.out = out_stdout, .out_ctx = NULL,
	};
	/* getline: lines of any length, NUL bytes included (n counts them). */
	while (result == SCRIPT_OK && (n = getline(&line, &cap, in)) >= 0) {
		size_t len = (size_t)n;

		if (len > 0 && line[len - 1] == '\n')
			len--;
		result = script_run_line(&env, line, len, ++lineno);
	}
	free(line);
	if (in != stdin)
		fclose(in);
	fflush(stdout);
	return result;
}
