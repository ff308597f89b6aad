/*
 * script_mode.c - run a PTSIM script on the live MMU, then park the CPU on
 * that address space so a tool (tools/oracle) can compare QEMU's own page
 * walk with the view the script printed.
 */
#include "script_mode.h"

#include "tools/ptsim/script.h"
#include "kprintf.h"
#include "mm_boot.h"

/* Page-aligned RAM ranges of the machine (sorted by base), for device_space_register. */
struct ram_list {
	struct phys_range r[2 * BOOT_MAX_RANGES];
	unsigned n;
};

/* Add [base, base+size) rounded outward to pages, keeping the list sorted. */
static void ram_list_add(struct ram_list *l, ptmm_paddr_t base, uint64_t size)
{
	ptmm_paddr_t lo = base & ~(PTMM_PAGE_SIZE - 1);
	ptmm_paddr_t hi = (base + size + PTMM_PAGE_SIZE - 1) & ~(PTMM_PAGE_SIZE - 1);
	unsigned i = l->n;

	if (hi <= lo || l->n == sizeof(l->r) / sizeof(l->r[0]))
		return;
	while (i > 0 && l->r[i - 1].base > lo) {
		l->r[i] = l->r[i - 1];
		i--;
	}
	l->r[i].base = lo;
	l->r[i].size = hi - lo;
	l->n++;
}

/*
 * docs/SCRIPT.md's `mmio` rule: any PA that is not RAM and lies below the
 * encoder's PA width may be mapped as device memory.  So every gap
 * between the machine's RAM ranges (what the mm manages and what the
 * firmware reports that the kernel keeps for itself), from PA 0 to
 * 2^pa_bits, becomes one MMIO window of the frame table.  Nothing ever
 * accesses these PAs; script mappings of them only exist to be looked at.
 * Prints each window.
 */
static void device_space_register(const struct boot_info *bi)
{
	struct ram_list ram = { .n = 0 };
	ptmm_paddr_t limit = 1ull << kmm.arch.pa_bits, pa = 0;

	for (unsigned i = 0; i < bi->nr_ram; i++)
		ram_list_add(&ram, bi->ram[i].base, bi->ram[i].size);
	for (unsigned i = 0; i < bi->nr_other_ram; i++)
		ram_list_add(&ram, bi->other_ram[i].base, bi->other_ram[i].size);
	for (unsigned i = 0; i <= ram.n; i++) {
		ptmm_paddr_t end = i < ram.n ? ram.r[i].base : limit;
		if (end > pa) {
			int err = ptmm_frame_table_add_mmio(&kmm.ft, pa, end - pa);
			kprintf("script: device window 0x%llx 0x%llx%s%s\n", (unsigned long long)pa,
				(unsigned long long)(end - pa), err ? ": not registered, " : "",
				err ? ptmm_strerror(err) : "");
		}
		if (i < ram.n && ram.r[i].base + ram.r[i].size > pa)
			pa = ram.r[i].base + ram.r[i].size;
	}
}

static struct ptmm_page_table script_pt;

/* Interpreter output: pieces of lines, straight to the console. */
static void out_console(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	for (size_t i = 0; i < n; i++)
		arch_putc(s[i]);
}

void script_mode_run(const char *cmds, size_t len)
{
	struct ptmm_page_table *check_pts[2] = { &kmm.kpt, &script_pt };
	struct script_env env;
	unsigned lineno = 0;
	int err;

	if (kmm.sandbox.size == 0) {
		kprintf("script: no sandbox (no free 1 GiB-aligned RAM of 64 MiB)\nRESULT FAIL\n");
		arch_exit(false);
	}
	err = ptmm_page_table_init_user(&script_pt, &kmm.arch, &kmm.ft, KZONE_KERNEL, &kmm.kpt);
	if (err) {
		kprintf("script: ptmm_page_table_init_user: %s\nRESULT FAIL\n", ptmm_strerror(err));
		arch_exit(false);
	}
	kmm.user = &script_pt;
	/*
	 * One memory type per frame: a script may map sandbox RAM uncached
	 * (the contract allows it), so the sandbox leaves the write-back
	 * direct map first; only the script's own mappings reach it then.
	 */
	err = kmm_unmap(&kmm.kpt, DIRECT_MAP_BASE + kmm.sandbox.base, kmm.sandbox.size);
	if (err) {
		kprintf("script: direct map of the sandbox: %s\nRESULT FAIL\n", ptmm_strerror(err));
		arch_exit(false);
	}
	kprintf("script: direct map: 0x%llx 0x%llx not mapped (sandbox)\n",
		(unsigned long long)kmm.sandbox.base, (unsigned long long)kmm.sandbox.size);
	device_space_register(arch_boot_info());
	env = (struct script_env){
		.pt = &script_pt,
		.ft = &kmm.ft,
		.check_pts = check_pts,
		.nr_check_pts = 2,
		.ram_base = kmm.sandbox.base,
		.ram_size = kmm.sandbox.size,
		.check_each = true, /* the checker after every command, on the live tables */
		.out = out_console,
		.out_ctx = 0,
	};
	kprintf("SANDBOX 0x%llx 0x%llx\n", (unsigned long long)kmm.sandbox.base,
		(unsigned long long)kmm.sandbox.size);
	/* A syntax error or violation has been printed; the tool decides. */
	(void)script_run_text(&env, cmds, len, ';', &lineno);
	ptmm_page_table_activate(&script_pt);
	kprintf("READY\n");
	arch_halt();
}
