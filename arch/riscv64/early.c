/*
 * early.c - RISC-V paging mode choice and boot table, run from entry.S at
 * the load address with paging off (satp = 0), before anything else.
 *
 * The mode:
 *   1. /cpus/cpu@0/mmu-type caps it: riscv,sv39 / riscv,sv48 / riscv,sv57
 *      (riscv,none: no paging at all; absent: no cap, the probe decides;
 *      anything else is refused).
 *   2. satp is probed by write and read-back from Sv57 down: an
 *      unsupported MODE leaves satp unchanged (WARL).  A mode that sticks
 *      turns translation on at once, so the probe runs on its own one-page
 *      root whose root-level leaves identity-map the image's GiB in all
 *      three modes (probe_root_init), and satp goes back to 0 right after.
 *   3. `paging=sv39|sv48|sv57` forces a mode; it must be within the cap and
 *      take in satp.  Without it: the largest mode within the cap that
 *      takes.
 * Any refusal is printed through the SBI console (the UART is not mapped
 * yet and no kernel state is set up) and ends QEMU with a failing status.
 *
 * The boot table is then built for the chosen mode from kernel_layout_of()
 * (layout.c): identity of the image's GiB (the instruction after the satp
 * write), the image at its link address, and PA [0, 4 GiB) at the mode's
 * direct map, all 1 GiB leaves.  entry.S writes the returned satp.
 *
 * Everything reached from here runs at the physical address while linked
 * high.  That works because -mcmodel=medany makes every symbol access
 * PC-relative (and gp is set to its PA first): what must not be used is
 * anything holding an absolute address — pointer tables, switch jump
 * tables (the riscv kernel builds with -fno-jump-tables), initialised
 * pointer variables.  Pointers computed here are PAs and must not be
 * stored for after paging (boot.c copies what it needs).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include "kernel/fdt.h"
#include "kernel/kprintf.h"
#include "kernel/layout.h"
#include "kernel/string.h"
#include "riscv.h"

#define GIB (1ull << 30)
#define PTE_V 0x01ull
#define PTE_LEAF_RWX 0xcfull /* V R W X A D: the emulated MMU need not set A/D */
#define SATP_MODE_SHIFT 60
#define BOOT_DIRECT_GIBS 4
#define BOOT_TABLES 8 /* Sv57: root + 2 levels for each of identity, image, direct map */
#define SBI_CONSOLE_PUTCHAR 1
#define SBI_EXT_SRST 0x53525354
#define SIFIVE_TEST_FAIL_EXIT ((1u << 16) | 0x3333u)

struct riscv_paging riscv_paging;
/* The command line as far as paging= is concerned (boot.c keeps the real copy). */
static char early_cmdline[1024];

extern char _start[];
extern const uint64_t riscv_image_link_va; /* entry.S: .dword _start */
uint64_t riscv_satp_probe(uint64_t satp); /* entry.S: write, read back, satp = 0 */

static uint64_t probe_root[512] __attribute__((aligned(4096)));
static uint64_t boot_tables[BOOT_TABLES][512] __attribute__((aligned(4096)));
static unsigned boot_tables_used;

/* Where choice text goes: the console, or riscv_paging.choice. */
static bool to_choice;

static void sbi_putchar(char c)
{
	register long a0 __asm__("a0") = (unsigned char)c;
	register long a7 __asm__("a7") = SBI_CONSOLE_PUTCHAR;
	__asm__ volatile("ecall" : "+r"(a0) : "r"(a7) : "memory", "a1");
}

static void early_putc(char c)
{
	if (to_choice) {
		size_t n = strlen(riscv_paging.choice);
		if (n + 1 < sizeof(riscv_paging.choice)) {
			riscv_paging.choice[n] = c;
			riscv_paging.choice[n + 1] = 0;
		}
		return;
	}
	if (c == '\n')
		sbi_putchar('\r');
	sbi_putchar(c);
}

__attribute__((format(printf, 1, 2))) static void early_printf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	kvprintf_to(early_putc, fmt, ap);
	va_end(ap);
}

/*
 * Stop QEMU with a failing status: the sifive_test device (paging is off,
 * its PA is its address), else SBI system reset, else wfi forever.
 */
static __attribute__((noreturn)) void early_stop(void)
{
	*(volatile uint32_t *)(uintptr_t)SIFIVE_TEST_PA = SIFIVE_TEST_FAIL_EXIT;
	register long a0 __asm__("a0") = 0; /* shutdown */
	register long a1 __asm__("a1") = 1; /* system failure */
	register long a6 __asm__("a6") = 0;
	register long a7 __asm__("a7") = SBI_EXT_SRST;
	__asm__ volatile("ecall" : "+r"(a0), "+r"(a1) : "r"(a6), "r"(a7) : "memory");
	for (;;)
		__asm__ volatile("wfi");
}

/* End of a refusal: a RESULT line, then a failing stop. */
static __attribute__((noreturn)) void refused(void)
{
	to_choice = false;
	early_printf("\nRESULT FAIL: boot (paging)\n");
	early_stop();
}

/* A refusal: `riscv: ...` on the SBI console, a RESULT line, a failing stop. */
__attribute__((format(printf, 1, 2), noreturn)) static void refuse(const char *fmt, ...)
{
	va_list ap;

	to_choice = false;
	early_printf("\nriscv: ");
	va_start(ap, fmt);
	kvprintf_to(early_putc, fmt, ap);
	va_end(ap);
	refused();
}

/* Called by entry.S's early trap vector: any trap before paging is fatal. */
void riscv_early_trap(uint64_t scause, uint64_t sepc, uint64_t stval)
{
	refuse("trap before paging: scause 0x%llx sepc 0x%llx stval 0x%llx",
	       (unsigned long long)scause, (unsigned long long)sepc, (unsigned long long)stval);
}

/* True if the NUL-terminated `s` equals `lit`. */
static bool str_is(const char *s, const char *lit)
{
	while (*s && *s == *lit) {
		s++;
		lit++;
	}
	return *s == *lit;
}

/* True if the property value (len bytes, NUL-terminated in the FDT) is `lit`. */
static bool value_is(const void *v, uint32_t len, const char *lit)
{
	size_t n = strlen(lit);
	return len >= n + 1 && memcmp(v, lit, n + 1) == 0;
}

/* mmu-type and bootargs, the only properties needed before paging. */
static bool early_prop(void *ctx, const char *const *names, unsigned depth, const char *prop,
		       const void *value, uint32_t len)
{
	(void)ctx;
	if (depth == 1 && str_is(names[1], "chosen") && str_is(prop, "bootargs")) {
		uint32_t n = 0;
		const char *v = value;
		while (n < len && n < sizeof(early_cmdline) - 1 && v[n]) {
			early_cmdline[n] = v[n];
			n++;
		}
		early_cmdline[n] = 0;
	} else if (depth == 2 && str_is(names[1], "cpus") && str_is(names[2], "cpu@0") &&
		   str_is(prop, "mmu-type")) {
		uint32_t n = 0;
		const char *v = value;
		while (n < len && n < sizeof(riscv_paging.mmu_type) - 1 && v[n]) {
			riscv_paging.mmu_type[n] = v[n];
			n++;
		}
		riscv_paging.mmu_type[n] = 0;
		riscv_paging.mmu_type_given = true;
		if (value_is(value, len, "riscv,sv39"))
			riscv_paging.cap = PAGING_SV39;
		else if (value_is(value, len, "riscv,sv48"))
			riscv_paging.cap = PAGING_SV48;
		else if (value_is(value, len, "riscv,sv57"))
			riscv_paging.cap = PAGING_SV57;
		else if (value_is(value, len, "riscv,none"))
			riscv_paging.cap = PAGING_NONE;
		else
			riscv_paging.mmu_type_unknown = true;
	}
	return true;
}

/* satp.MODE of an Sv mode: 8, 9, 10. */
static uint64_t satp_mode_of(enum paging_mode m)
{
	return m == PAGING_SV39 ? 8 : m == PAGING_SV48 ? 9 : 10;
}

/*
 * One root page whose root-level leaves identity-map the image's GiB
 * whatever the mode: entry 0 is PA 0 (a 512 GiB leaf in Sv48, 256 TiB in
 * Sv57, both aligned, covering any image below 512 GiB; 1 GiB in Sv39)
 * and entry PA >> 30 is that GiB (Sv39's 1 GiB leaf; in Sv48/Sv57 it is
 * a VA the probe never touches).  Needs the image below 256 GiB (Sv39's
 * lower half).
 */
static void probe_root_init(uint64_t image_pa)
{
	uint64_t g = image_pa / GIB;

	probe_root[0] = PTE_LEAF_RWX;
	probe_root[g] = ((g * GIB) >> 12) << 10 | PTE_LEAF_RWX;
}

/* Probe each mode; records what took in riscv_paging.takes[]. */
static void probe_satp(void)
{
	uint64_t ppn = (uint64_t)(uintptr_t)probe_root >> 12;

	for (enum paging_mode m = PAGING_SV39; m <= PAGING_SV57; m++) {
		uint64_t want = satp_mode_of(m) << SATP_MODE_SHIFT | ppn;
		riscv_paging.readback[m] = riscv_satp_probe(want);
		riscv_paging.takes[m] = riscv_paging.readback[m] == want;
	}
}

/* The modes that took, as " sv39 sv48 ..." or " none". */
static void print_takes(void)
{
	bool any = false;
	for (enum paging_mode m = PAGING_SV39; m <= PAGING_SV57; m++)
		if (riscv_paging.takes[m]) {
			early_printf(" %s", paging_mode_name(m));
			any = true;
		}
	if (!any)
		early_printf(" none (satp read back 0x%llx after writing mode 8)",
			     (unsigned long long)riscv_paging.readback[PAGING_SV39]);
}

/* True if the device tree allows mode m. */
static bool cap_allows(enum paging_mode m)
{
	return !riscv_paging.mmu_type_given || m <= riscv_paging.cap;
}

/* What the device tree says, for messages: "mmu-type riscv,sv48" or "no mmu-type". */
static void print_cap(void)
{
	if (riscv_paging.mmu_type_given)
		early_printf("mmu-type %s", riscv_paging.mmu_type);
	else
		early_printf("no mmu-type (no cap)");
}

/* The mode to use, or a refusal. */
static enum paging_mode choose_mode(void)
{
	bool given;
	const char *name;
	size_t len;
	enum paging_mode req = paging_mode_requested(early_cmdline, &given, &name, &len);

	if (riscv_paging.mmu_type_unknown)
		refuse("the device tree's mmu-type \"%s\" is not riscv,sv39/sv48/sv57/none",
		       riscv_paging.mmu_type);
	if (given) {
		if (req != PAGING_SV39 && req != PAGING_SV48 && req != PAGING_SV57) {
			early_printf("\nriscv: paging=");
			for (size_t i = 0; i < len; i++)
				early_putc(name[i]);
			early_printf(": unknown paging mode (riscv64 has sv39, sv48, sv57)");
			refused();
		}
		if (!cap_allows(req))
			refuse("paging=%s: the device tree's mmu-type is %s: the CPU offers no more "
			       "than %s", paging_mode_name(req), riscv_paging.mmu_type,
			       paging_mode_name(riscv_paging.cap));
		if (!riscv_paging.takes[req]) {
			early_printf("\nriscv: paging=%s: satp does not take MODE %llu (the CPU lacks "
				     "it); satp takes:", paging_mode_name(req),
				     (unsigned long long)satp_mode_of(req));
			print_takes();
			refused();
		}
		riscv_paging.forced = true;
		return req;
	}
	for (enum paging_mode m = PAGING_SV57; m >= PAGING_SV39; m--)
		if (cap_allows(m) && riscv_paging.takes[m])
			return m;
	early_printf("\nriscv: no paging mode to use: ");
	print_cap();
	early_printf("; satp takes:");
	print_takes();
	early_printf("; this kernel needs Sv39, Sv48 or Sv57 paging");
	refused();
}

/* A zeroed boot table page, or a refusal if the pool ran out (a bug). */
static uint64_t *boot_table_alloc(void)
{
	if (boot_tables_used == BOOT_TABLES)
		refuse("boot table pool exhausted");
	return boot_tables[boot_tables_used++];
}

/* Map the 1 GiB at `va` to `pa` in the boot table rooted at root (levels levels). */
static void boot_map_gib(uint64_t *root, unsigned levels, uint64_t va, uint64_t pa)
{
	uint64_t *t = root;

	for (unsigned level = levels; level > 3; level--) {
		unsigned idx = (va >> (12 + 9 * (level - 1))) & 511;
		if (t[idx] == 0)
			t[idx] = ((uint64_t)(uintptr_t)boot_table_alloc() >> 12) << 10 | PTE_V;
		t = (uint64_t *)(uintptr_t)((t[idx] >> 10) << 12);
	}
	t[(va >> 30) & 511] = (pa >> 12) << 10 | PTE_LEAF_RWX;
}

/* The boot table of mode m (header comment); returns its satp. */
static uint64_t boot_table_build(enum paging_mode m, uint64_t image_pa, uint64_t link_va)
{
	unsigned levels = paging_mode_levels(m);
	uint64_t *root = boot_table_alloc();
	uint64_t image_gib = image_pa & ~(GIB - 1);

	boot_map_gib(root, levels, image_gib, image_gib);
	boot_map_gib(root, levels, link_va & ~(GIB - 1), image_gib);
	for (uint64_t g = 0; g < BOOT_DIRECT_GIBS; g++)
		boot_map_gib(root, levels, kernel_layout.direct_map + g * GIB, g * GIB);
	return satp_mode_of(m) << SATP_MODE_SHIFT | (uint64_t)(uintptr_t)root >> 12;
}

uint64_t riscv_early(uint64_t hartid, uint64_t fdt_pa)
{
	const void *fdt = (const void *)(uintptr_t)fdt_pa;
	uint64_t image_pa = (uint64_t)(uintptr_t)_start;
	uint64_t link_va = riscv_image_link_va;
	enum paging_mode m;

	(void)hartid;
	if (!fdt_valid(fdt) || fdt_walk(fdt, early_prop, 0) != 0)
		refuse("no valid device tree at a1 (0x%llx)", (unsigned long long)fdt_pa);
	if (image_pa >= (256ull << 30) || (link_va - image_pa) % GIB != 0)
		refuse("image at PA 0x%llx: must lie below 256 GiB at a GiB offset from its link "
		       "address", (unsigned long long)image_pa);
	probe_root_init(image_pa);
	probe_satp();
	m = choose_mode();
	kernel_layout = kernel_layout_of(m);
	riscv_paging.mode = m;

	to_choice = true;
	early_printf("%s (%s); ", paging_mode_name(m),
		     riscv_paging.forced ? "paging= on the command line" : "largest allowed");
	print_cap();
	early_printf("; satp takes:");
	print_takes();
	to_choice = false;

	riscv_paging.satp = boot_table_build(m, image_pa, link_va);
	return riscv_paging.satp;
}
