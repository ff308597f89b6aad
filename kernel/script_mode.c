/*
 * script_mode.c - run a PTSIM script on the live MMU, then park the CPU on
 * that address space so a tool (tools/oracle) can compare QEMU's own page
 * walk with the view the script printed.
 */
#include "script_mode.h"

#include "../tools/ptsim/script.h"
#include "kprintf.h"
#include "mm_boot.h"

/*
 * Device memory for `mmio` commands: besides the arch's device windows,
 * physical address space above RAM that scripts may map as device memory
 * to exercise 1 GiB leaves (16..32 GiB) and, on Sv48, a 512 GiB leaf
 * (512 GiB..1 TiB) without that much RAM.  Nothing ever accesses it.
 */
static const struct phys_range script_mmio[] = {
	{ 0x400000000ull, 0x400000000ull },
	{ 0x8000000000ull, 0x8000000000ull },
};

static struct page_table script_pt;

/* Interpreter output: pieces of lines, straight to the console. */
static void out_console(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	for (size_t i = 0; i < n; i++)
		arch_putc(s[i]);
}

void script_mode_run(const char *cmds, size_t len)
{
	struct page_table *check_pts[2] = { &kmm.kpt, &script_pt };
	struct script_env env;
	unsigned lineno = 0;
	int err;

	if (kmm.sandbox.size == 0) {
		kprintf("script: no sandbox (no free 1 GiB-aligned RAM of 64 MiB)\nRESULT FAIL\n");
		arch_exit(false);
	}
	err = page_table_init_user(&script_pt, &kmm.arch, &kmm.ft, KZONE_KERNEL, &kmm.kpt);
	if (err) {
		kprintf("script: page_table_init_user: %s\nRESULT FAIL\n", mm_strerror(err));
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
		kprintf("script: direct map of the sandbox: %s\nRESULT FAIL\n", mm_strerror(err));
		arch_exit(false);
	}
	kprintf("script: direct map: 0x%llx 0x%llx not mapped (sandbox)\n",
		(unsigned long long)kmm.sandbox.base, (unsigned long long)kmm.sandbox.size);
	for (unsigned i = 0; i < sizeof(script_mmio) / sizeof(script_mmio[0]); i++) {
		const struct phys_range *w = &script_mmio[i];
		err = frame_table_add_mmio(&kmm.ft, w->base, w->size);
		kprintf("script: device window 0x%llx 0x%llx%s%s\n", (unsigned long long)w->base,
			(unsigned long long)w->size, err ? ": not registered, " : "",
			err ? mm_strerror(err) : "");
	}
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
	page_table_activate(&script_pt);
	kprintf("READY\n");
	arch_halt();
}
