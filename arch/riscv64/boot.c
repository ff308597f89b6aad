/*
 * boot.c - RISC-V side of kernel/arch.h: the boot info from the device
 * tree, the encoder of the paging mode early.c chose (Sv39, Sv48, Sv57)
 * with the CPU's features, and riscv_boot_main(), called by entry.S on
 * the boot page table.
 *
 * What the device tree gives (QEMU virt, OpenSBI 1.1):
 *   /#address-cells, /#size-cells   cells of /memory reg (QEMU: 2 and 2)
 *   /memory@.../reg                 RAM
 *   /reserved-memory/#...-cells     cells of its children's reg
 *   /reserved-memory/<node>/reg     firmware (OpenSBI's PMP-protected area):
 *                                   reserved and never mapped (boot.nomap)
 *   /chosen/bootargs                the -append string
 *   /cpus/cpu@0/mmu-type            caps the paging mode (read by early.c)
 *   /cpus/cpu@0/riscv,isa           "..._svpbmt" when the CPU has Svpbmt
 *   /cpus/cpu@N/reg                 the hart ids smp.c starts (QEMU: 0..N-1)
 * The FDT blob itself is reserved (it is in RAM, near the top).
 */
#include "kernel/arch.h"
#include "kernel/fdt.h"
#include "kernel/kprintf.h"
#include "kernel/string.h"
#include "riscv.h"

#define KERNEL_VA_TO_PA 0xffffffff00000000ull /* linker.ld: PA = VA - this */
#define PAGE 4096ull
#define CMDLINE_MAX 1024

extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern char __data_start[], __data_end[];

static struct boot_info boot;
static char cmdline[CMDLINE_MAX];
static bool has_svpbmt;
static char features_text[96];

/* Cells of a reg (address, size) under a node; the devicetree defaults are 2 and 1. */
struct reg_cells {
	uint32_t addr, size;
};
static struct reg_cells root_cells = { 2, 1 }, reserved_cells = { 2, 1 };

/* Early fatal error before kmain: message and failure exit. */
static __attribute__((noreturn)) void boot_fail(const char *msg)
{
	kprintf("riscv: %s\nRESULT FAIL: boot\n", msg);
	arch_exit(false);
}

/* Append [base, base+size), rounded inward (RAM) or outward (reserved) to pages. */
static void range_add(struct phys_range *r, unsigned *n, uint64_t base, uint64_t size, bool inward)
{
	uint64_t lo, hi;

	if (inward) {
		lo = (base + PAGE - 1) & ~(PAGE - 1);
		hi = (base + size) & ~(PAGE - 1);
	} else {
		lo = base & ~(PAGE - 1);
		hi = (base + size + PAGE - 1) & ~(PAGE - 1);
	}
	if (hi <= lo)
		return;
	if (*n == BOOT_MAX_RANGES)
		boot_fail("too many memory ranges in the device tree");
	r[*n].base = lo;
	r[*n].size = hi - lo;
	(*n)++;
}

/* True if `s` equals the NUL-terminated `lit`. */
static bool str_eq(const char *s, const char *lit)
{
	while (*s && *s == *lit) {
		s++;
		lit++;
	}
	return *s == *lit;
}

/* True if `s` starts with `prefix`. */
static bool str_starts(const char *s, const char *prefix)
{
	while (*prefix)
		if (*s++ != *prefix++)
			return false;
	return true;
}

/* True if the ISA string (value of riscv,isa, length len) names extension `ext`. */
static bool isa_has(const char *isa, uint32_t len, const char *ext)
{
	size_t n = strlen(ext);

	/* Multi-letter extensions are '_'-separated: match "_ext" followed by '_' or the end. */
	for (uint32_t i = 0; i + n + 1 <= len; i++) {
		if (isa[i] != '_' || memcmp(isa + i + 1, ext, n) != 0)
			continue;
		char next = i + 1 + n < len ? isa[i + 1 + n] : 0;
		if (next == 0 || next == '_')
			return true;
	}
	return false;
}

/* Copies /chosen/bootargs into the image so it stays valid whatever gets mapped. */
static void copy_bootargs(const char *v, uint32_t len)
{
	uint32_t n = 0;

	while (n < len && n < CMDLINE_MAX - 1 && v[n]) {
		cmdline[n] = v[n];
		n++;
	}
	cmdline[n] = 0;
	/* More than fits: kmain refuses it rather than run a shorter one. */
	boot.cmdline_truncated = n < len && v[n] != 0;
}

/* A number of `cells` (1 or 2) big-endian cells at `p`. */
static uint64_t read_cells(const char *p, uint32_t cells)
{
	return cells == 2 ? fdt_be64(p) : fdt_be32(p);
}

/*
 * Record a #address-cells or #size-cells property into `c`.  Only 1 and 2
 * cells can describe a 64-bit machine's memory; anything else is refused.
 */
static void set_cells(struct reg_cells *c, const char *prop, const void *value, uint32_t len)
{
	bool addr = str_eq(prop, "#address-cells");
	if (!addr && !str_eq(prop, "#size-cells"))
		return;
	uint32_t n = len == 4 ? fdt_be32(value) : 0;
	if (n != 1 && n != 2)
		boot_fail("unsupported #address-cells/#size-cells in the device tree");
	if (addr)
		c->addr = n;
	else
		c->size = n;
}

/* Each (address, size) pair of a reg value, added to `r` as range_add does. */
static void add_reg(struct phys_range *r, unsigned *n, const void *value, uint32_t len,
		    struct reg_cells c, bool inward)
{
	uint32_t step = 4 * (c.addr + c.size);
	for (uint32_t off = 0; off + step <= len; off += step) {
		const char *p = (const char *)value + off;
		range_add(r, n, read_cells(p, c.addr), read_cells(p + 4 * c.addr, c.size), inward);
	}
}

/*
 * One property of the walk.  Only the nodes listed in the header comment
 * matter.  A node's properties come before its children, so the cells of
 * the root and of /reserved-memory are known when their children's reg
 * is read.
 */
static bool on_prop(void *ctx, const char *const *names, unsigned depth, const char *prop,
		    const void *value, uint32_t len)
{
	(void)ctx;
	if (depth == 0) {
		set_cells(&root_cells, prop, value, len);
	} else if (depth == 1 && str_eq(names[1], "reserved-memory")) {
		set_cells(&reserved_cells, prop, value, len);
	} else if (depth == 1 && str_starts(names[1], "memory") && str_eq(prop, "reg")) {
		add_reg(boot.ram, &boot.nr_ram, value, len, root_cells, true);
	} else if (depth == 2 && str_eq(names[1], "reserved-memory") && str_eq(prop, "reg")) {
		/*
		 * Firmware's: reserved, and never mapped.  OpenSBI 1.1 lists its
		 * PMP-protected region without `no-map`, but an access to it, even
		 * a speculative one through a mapping, faults in M-mode's favour:
		 * every child is treated as no-map (QEMU virt has no reusable pool).
		 */
		add_reg(boot.reserved, &boot.nr_reserved, value, len, reserved_cells, false);
		add_reg(boot.nomap, &boot.nr_nomap, value, len, reserved_cells, false);
	} else if (depth == 1 && str_eq(names[1], "chosen") && str_eq(prop, "bootargs")) {
		copy_bootargs(value, len);
	} else if (depth == 2 && str_eq(names[1], "cpus") && str_eq(names[2], "cpu@0") &&
		   str_eq(prop, "riscv,isa")) {
		has_svpbmt = isa_has(value, len, "svpbmt");
	} else if (depth == 2 && str_eq(names[1], "cpus") && str_starts(names[2], "cpu@") &&
		   str_eq(prop, "reg") && (len == 4 || len == 8)) {
		riscv_smp_add_hart(read_cells(value, len / 4));
	}
	return true;
}

/* Fill `boot` from the FDT at physical fdt_pa and the linker's symbols. */
static void boot_info_init(ptmm_paddr_t fdt_pa)
{
	const void *fdt = (const void *)(uintptr_t)(DIRECT_MAP_BASE + fdt_pa);

	if (!fdt_valid(fdt))
		boot_fail("no valid device tree at a1");
	if (fdt_walk(fdt, on_prop, 0) != 0)
		boot_fail("malformed device tree");
	if (boot.nr_ram == 0)
		boot_fail("no /memory node in the device tree");
	range_add(boot.reserved, &boot.nr_reserved, fdt_pa, fdt_totalsize(fdt), false);
	boot.cmdline = cmdline;
	boot.cmdline_max = CMDLINE_MAX;
	boot.nr_mmio = 0;
	range_add(boot.mmio, &boot.nr_mmio, UART_PA, UART_SIZE, false);
	range_add(boot.mmio, &boot.nr_mmio, SIFIVE_TEST_PA, SIFIVE_TEST_SIZE, false);
	boot.text = image_section_of(__text_start, __text_end, KERNEL_VA_TO_PA);
	boot.rodata = image_section_of(__rodata_start, __rodata_end, KERNEL_VA_TO_PA);
	boot.data = image_section_of(__data_start, __data_end, KERNEL_VA_TO_PA);
}

const struct boot_info *arch_boot_info(void)
{
	return &boot;
}

/* The encoder of the mode in force, with Svpbmt exactly when the device tree says so. */
void arch_mm_init(struct ptmm_arch *a)
{
	uint32_t features = has_svpbmt ? PTMM_FEAT_RV_SVPBMT : 0;

	if (riscv_paging.mode == PAGING_SV39)
		ptmm_arch_sv39_init(a, features, &riscv_tlb_ops);
	else if (riscv_paging.mode == PAGING_SV57)
		ptmm_arch_sv57_init(a, features, &riscv_tlb_ops);
	else
		ptmm_arch_sv48_init(a, features, &riscv_tlb_ops);
}

const char *arch_mm_features(void)
{
	if (!features_text[0]) {
		const char *words[] = { "riscv ", paging_mode_name(riscv_paging.mode),
					has_svpbmt ? ", Svpbmt" : ", no Svpbmt" };
		size_t n = 0;
		for (unsigned i = 0; i < 3; i++)
			for (const char *w = words[i]; *w && n < sizeof(features_text) - 1; w++)
				features_text[n++] = *w;
		features_text[n] = 0;
	}
	return features_text;
}

const char *arch_paging_choice(void)
{
	return riscv_paging.choice;
}

/* satp.MODE as the hart reports it now: 8 Sv39, 9 Sv48, 10 Sv57. */
enum paging_mode arch_paging_readback(uint64_t *reg)
{
	uint64_t satp;

	__asm__ volatile("csrr %0, satp" : "=r"(satp));
	*reg = satp;
	switch (satp >> 60) {
	case 8:
		return PAGING_SV39;
	case 9:
		return PAGING_SV48;
	case 10:
		return PAGING_SV57;
	default:
		return PAGING_NONE;
	}
}

/* The UART and the test device move to MMIO_MAP_BASE with the mm's table. */
void arch_mm_activated(void)
{
	riscv_devices_use_mmio_map();
}

/* S-mode loads and stores to U pages fault unless sstatus.SUM is set. */
bool arch_user_access_enforced(void)
{
	return true;
}

/* S-mode never fetches from U pages; SUM covers loads and stores only. */
bool arch_user_exec_refused(void)
{
	return true;
}

/* C entry from entry.S (high VA, boot table): traps, boot info, then kmain. */
void riscv_boot_main(uint64_t hartid, uint64_t fdt_pa)
{
	riscv_devices_use_direct_map();
	riscv_smp_set_boot_hart(hartid);
	/* No user access window survives from the firmware. */
	arch_user_access(false);
	riscv_trap_init();
	boot_info_init(fdt_pa);
	kmain();
}
