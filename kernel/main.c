/*
 * main.c - kmain(), the arch-neutral kernel entry.
 *
 * The arch has booted on its own small table (identity + image + direct map
 * of the first 4 GiB) and filled the boot info.  kmain brings the mm up
 * (mm_boot: frames, kernel table built by the cursor, activation), then
 * runs what the command line asks for:
 *
 *   script=CMDS   the PTSIM language on a fresh user address space, READY,
 *                 halt (script_mode.c); everything after `script=` is CMDS
 *   (default)     the self-test on the MMU, RESULT PASS / FAIL, exit
 */
#include "arch.h"
#include "kprintf.h"
#include <ptmm/mm_assert.h>
#include "mm_boot.h"
#include "script_mode.h"
#include "selftest.h"
#include "string.h"

/* True if the NUL-terminated `s` starts with `prefix`. */
static bool starts_with(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return false;
	return true;
}

/* The text after "script=" if a word of the command line starts so, else NULL. */
static const char *find_script(const char *cmdline)
{
	for (const char *p = cmdline; *p; p++)
		if ((p == cmdline || p[-1] == ' ') && starts_with(p, "script="))
			return p + 7;
	return 0;
}

/* A broken mm invariant (PTMM_ASSERT) is fatal: report it and fail the run. */
void ptmm_assert_failed(const char *file, int line, const char *cond)
{
	kprintf("mm assertion failed: %s:%d: %s\nRESULT FAIL\n", file, line, cond);
	arch_exit(false);
}

/*
 * The thread of execution, for the mm's self-deadlock detection: the
 * kernel has no threads and never opens a cursor from a trap handler, so
 * there is one context per CPU.
 */
const void *ptmm_debug_context(void)
{
	static const char cpu_context[64];
	unsigned cpu = arch_this_cpu();

	PTMM_ASSERT(cpu < sizeof(cpu_context));
	return &cpu_context[cpu];
}

void kmain(void)
{
	const struct boot_info *bi = arch_boot_info();
	const char *script;

	kprintf("\nptmm kernel: cmdline \"%s\"\n", bi->cmdline);
	/* A cut command line would run a shorter script= (or other words) silently. */
	if (bi->cmdline_truncated) {
		kprintf("cmdline: longer than the kernel's %u-byte buffer; refused, nothing run "
			"(a script= would have been cut short)\nRESULT FAIL: command line too long\n",
			bi->cmdline_max - 1);
		arch_exit(false);
	}
	kprintf("paging: %s\n", arch_paging_choice());
	kprintf("layout: %s direct 0x%llx mmio 0x%llx test 0x%llx image 0x%llx\n",
		paging_mode_name(kernel_layout.mode), (unsigned long long)kernel_layout.direct_map,
		(unsigned long long)kernel_layout.mmio_map,
		(unsigned long long)kernel_layout.test_window,
		(unsigned long long)kernel_layout.image_base);
	mm_boot(bi);
	kprintf("smp: %u CPUs online\n", arch_smp_start());
	script = find_script(bi->cmdline);
	if (script)
		script_mode_run(script, strlen(script));
	selftest_run();
}
