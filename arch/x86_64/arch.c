/*
 * arch.c - x86-64 side of kernel/arch.h: CPU feature setup (NX, PGE, SMEP,
 * SMAP, PAT), the boot info from the PVH start info, the mm encoder, exit,
 * halt, user access, and x86_boot_main() called by entry.S.
 */
#include "kernel/arch.h"
#include "kernel/kprintf.h"
#include "x86.h"

#define KERNEL_VMA 0xffffffff80000000ull
#define PAGE 4096ull
#define LOW_RESERVED_END 0x100000ull /* below: BIOS data, EBDA, VGA, option ROMs */
#define PVH_MAGIC 0x336ec578u
#define E820_RAM 1
#define CMDLINE_MAX 1024
#define DEBUG_EXIT_PORT 0xf4
#define PAT_VALUE 0x0007040100070406ull /* 0 WB, 1 WT, 2 UC-, 3 UC, 4 WC, 5 WT, 6 UC-, 7 UC */

struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
} __attribute__((packed));

struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
} __attribute__((packed));

extern const struct ptmm_tlb_ops x86_tlb_ops;
extern uint32_t x86_pvh_start_info_pa;
extern uint32_t x86_la57_cpu, x86_la57_on, x86_paging_request; /* entry.S */
#define ENTRY_REQ_NONE 0
#define ENTRY_REQ_LA57 2
extern char __text_start[], __text_end[], __rodata_start[], __rodata_end[];
extern char __data_start[], __data_end[];

struct x86_features x86_cpu;
static struct boot_info boot;
static char cmdline[CMDLINE_MAX];
static char features_text[96];
static char choice_text[128];

/* Physical memory through the boot direct map (and later the mm's). */
static const void *phys_to_virt(ptmm_paddr_t pa)
{
	return (const void *)(uintptr_t)(DIRECT_MAP_BASE + pa);
}

/* Early fatal error before kmain: message and failure exit. */
static __attribute__((noreturn)) void boot_fail(const char *msg)
{
	while (*msg)
		arch_putc(*msg++);
	arch_putc('\n');
	arch_exit(false);
}

/*
 * Detect NX, pdpe1gb, PGE, SMEP, SMAP, PAT (the boot CPU; x86_cpu then
 * holds for every CPU) and switch on what exists (x86_cpu_enable).
 */
void x86_cpu_init(void)
{
	struct x86_cpuid l1 = x86_cpuid(1, 0);
	struct x86_cpuid l7 = {0, 0, 0, 0};
	struct x86_cpuid e1 = {0, 0, 0, 0};

	if (x86_cpuid(0, 0).eax >= 7)
		l7 = x86_cpuid(7, 0);
	if (x86_cpuid(0x80000000u, 0).eax >= 0x80000001u)
		e1 = x86_cpuid(0x80000001u, 0);
	x86_cpu.pge = l1.edx & (1u << 13);
	x86_cpu.pat = l1.edx & (1u << 16);
	x86_cpu.smep = l7.ebx & (1u << 7);
	x86_cpu.smap = l7.ebx & (1u << 20);
	x86_cpu.nx = e1.edx & (1u << 20);
	x86_cpu.pdpe1gb = e1.edx & (1u << 26);

	/*
	 * W^X needs non-executable pages: without NX every present x86 page is
	 * executable, the encoder refuses r-- and rw- (PTMM_ENOTSUP), and the
	 * kernel could map neither its direct map nor its data.  Say so here,
	 * not as a bare "notsup" from the mm.
	 */
	if (!x86_cpu.nx)
		boot_fail("x86: the CPU has no NX (execute-disable, CPUID 0x80000001 EDX bit 20); "
			  "the kernel needs non-executable pages for W^X (direct map, data, "
			  "rodata) and does not boot without them\nRESULT FAIL: boot");
	/* pte.c maps WC through PAT index 4: without a PAT the kernel must not claim WC. */
	if (!x86_cpu.pat)
		boot_fail("x86: CPU has no PAT; WC (PAT index 4) cannot be programmed");
	x86_cpu_enable();
}

/*
 * This CPU's registers for the features in x86_cpu (every CPU, the APs in
 * smp.c too): EFER.NXE (entry.S / the trampoline already did; kept
 * idempotent), IA32_PAT with WC at index 4 (pte.c's encoding), CR0.WP
 * (without it ring 0 writes through read-only PTEs: no W^X),
 * CR4.PGE/SMEP/SMAP; then a CR3 reload drops anything cached under the
 * old PAT.
 */
void x86_cpu_enable(void)
{
	uint64_t cr4;

	x86_wrmsr(X86_MSR_EFER, x86_rdmsr(X86_MSR_EFER) | X86_EFER_NXE);
	x86_wrmsr(X86_MSR_PAT, PAT_VALUE);
	x86_write_cr0(x86_read_cr0() | X86_CR0_WP);
	cr4 = x86_read_cr4();
	if (x86_cpu.pge)
		cr4 |= X86_CR4_PGE;
	if (x86_cpu.smep)
		cr4 |= X86_CR4_SMEP;
	if (x86_cpu.smap)
		cr4 |= X86_CR4_SMAP;
	x86_write_cr4(cr4);
	x86_write_cr3(x86_read_cr3()); /* drop anything cached under the old PAT */
}

/* Append [base, base+size) to a range list; false if the list is full. */
static bool range_add(struct phys_range *list, unsigned *n, ptmm_paddr_t base, uint64_t size)
{
	if (size == 0)
		return true;
	if (*n >= BOOT_MAX_RANGES)
		return false;
	list[*n].base = base;
	list[*n].size = size;
	(*n)++;
	return true;
}

/*
 * Reserve the whole pages covering [pa, pa+len), clipped to the RAM ranges
 * already in `boot` (a reservation outside RAM protects nothing and the mm
 * refuses it).  Assumes boot.ram is complete.
 */
static void reserve_pages(ptmm_paddr_t pa, uint64_t len)
{
	ptmm_paddr_t start = pa & ~(PAGE - 1);
	ptmm_paddr_t end = (pa + len + PAGE - 1) & ~(PAGE - 1);

	for (unsigned i = 0; i < boot.nr_ram; i++) {
		ptmm_paddr_t lo = boot.ram[i].base, hi = lo + boot.ram[i].size;
		if (start > lo)
			lo = start;
		if (end < hi)
			hi = end;
		if (lo < hi && !range_add(boot.reserved, &boot.nr_reserved, lo, hi - lo))
			boot_fail("x86: too many reserved ranges");
	}
}

/*
 * RAM entries of the PVH memory map, trimmed inward to whole pages and to
 * PA >= 1 MiB: the legacy area below (real-mode data, EBDA, where QEMU puts
 * the start info, memmap and command line) is never handed to the mm.
 */
static void boot_ram_from_memmap(const struct hvm_start_info *si)
{
	const struct hvm_memmap_entry *e = phys_to_virt(si->memmap_paddr);

	for (uint32_t i = 0; i < si->memmap_entries; i++) {
		if (e[i].type != E820_RAM)
			continue;
		ptmm_paddr_t start = (e[i].addr + PAGE - 1) & ~(PAGE - 1);
		ptmm_paddr_t end = (e[i].addr + e[i].size) & ~(PAGE - 1);
		if (start < LOW_RESERVED_END) {
			/* RAM all the same: never device memory (whole pages, rounded outward). */
			ptmm_paddr_t lo = e[i].addr & ~(PAGE - 1);
			ptmm_paddr_t hi = (e[i].addr + e[i].size + PAGE - 1) & ~(PAGE - 1);
			if (hi > LOW_RESERVED_END)
				hi = LOW_RESERVED_END;
			if (lo < hi && !range_add(boot.other_ram, &boot.nr_other_ram, lo, hi - lo))
				boot_fail("x86: too many RAM ranges in the PVH memory map");
			start = LOW_RESERVED_END;
		}
		if (end <= start)
			continue;
		if (!range_add(boot.ram, &boot.nr_ram, start, end - start))
			boot_fail("x86: too many RAM ranges in the PVH memory map");
	}
	if (boot.nr_ram == 0)
		boot_fail("x86: no RAM above 1 MiB in the PVH memory map");
}

/* Copy the command line into the image (it stays valid whatever gets mapped). */
static void boot_cmdline(const struct hvm_start_info *si)
{
	unsigned n = 0;

	if (si->cmdline_paddr) {
		const char *src = phys_to_virt(si->cmdline_paddr);
		while (n < CMDLINE_MAX - 1 && src[n]) {
			cmdline[n] = src[n];
			n++;
		}
		/* More than fits: kmain refuses it rather than run a shorter one. */
		boot.cmdline_truncated = src[n] != 0;
		reserve_pages(si->cmdline_paddr, n + 1);
	}
	cmdline[n] = 0;
	boot.cmdline = cmdline;
	boot.cmdline_max = CMDLINE_MAX;
}

/* Fill `boot` from the PVH start info and the linker's section symbols. */
void x86_boot_info_init(void)
{
	const struct hvm_start_info *si = phys_to_virt(x86_pvh_start_info_pa);

	if (si->magic != PVH_MAGIC)
		boot_fail("x86: bad hvm_start_info magic");
	if (si->version < 1 || si->memmap_entries == 0)
		boot_fail("x86: PVH start info carries no memory map");
	boot_ram_from_memmap(si);
	reserve_pages(x86_pvh_start_info_pa, sizeof(*si));
	reserve_pages(si->memmap_paddr, (uint64_t)si->memmap_entries * sizeof(struct hvm_memmap_entry));
	boot_cmdline(si);
	/* Firmware's, never the mm's, and never mapped (the probe target of the self-test). */
	range_add(boot.nomap, &boot.nr_nomap, 0, LOW_RESERVED_END);
	boot.nr_mmio = 0; /* COM1 and isa-debug-exit are I/O ports, not MMIO */
	boot.text = image_section_of(__text_start, __text_end, KERNEL_VMA);
	boot.rodata = image_section_of(__rodata_start, __rodata_end, KERNEL_VMA);
	boot.data = image_section_of(__data_start, __data_end, KERNEL_VMA);
	x86_smp_prepare(si->version >= 1 ? si->rsdp_paddr : 0);
}

const struct boot_info *arch_boot_info(void)
{
	return &boot;
}

/* The boot info while x86_boot_info_init fills it (smp.c adds the LAPIC window). */
struct boot_info *x86_boot_info_mut(void)
{
	return &boot;
}

/* Append a NUL-terminated word to the buffer buf of size `size` (bounded). */
static void text_add(char *buf, unsigned size, const char *word)
{
	unsigned n = 0;
	while (buf[n])
		n++;
	while (*word && n < size - 1)
		buf[n++] = *word++;
	buf[n] = 0;
}

static void features_add(const char *word)
{
	text_add(features_text, sizeof(features_text), word);
}

/*
 * The layout of the mode entry.S turned on, before anything touches the
 * direct map.  entry.S put the direct map at root entry 256 in both
 * modes, which is where kernel_layout_of() puts it too: checked here.
 */
static void x86_layout_init(void)
{
	enum paging_mode m = x86_la57_on ? PAGING_X86_64_LA57 : PAGING_X86_64;
	unsigned shift = 12 + 9 * (paging_mode_levels(m) - 1);

	kernel_layout = kernel_layout_of(m);
	if (kernel_layout.direct_map != kernel_layout.half_base ||
	    kernel_layout.half_base != (0 - (256ull << shift)))
		boot_fail("x86: kernel_layout_of() and entry.S disagree on the direct map");
}

/*
 * Judge the command line's paging= against what entry.S did: an unknown
 * name, or x86_64-la57 on a CPU without LA57, is refused (entry.S went on
 * in 4-level, which always works, so that this message can be printed);
 * then CR4.LA57 must be what entry.S was to choose.
 */
static void x86_paging_check(void)
{
	bool given, want_la57;
	const char *name;
	size_t len;
	enum paging_mode req = paging_mode_requested(boot.cmdline, &given, &name, &len);
	uint64_t cr4 = x86_read_cr4();

	if (given && req != PAGING_X86_64 && req != PAGING_X86_64_LA57) {
		kprintf("\nx86: paging=");
		for (size_t i = 0; i < len; i++)
			arch_putc(name[i]);
		boot_fail(": unknown paging mode (x86_64 has x86_64, x86_64-la57)\n"
			  "RESULT FAIL: boot (paging)");
	}
	if (req == PAGING_X86_64_LA57 && !x86_la57_cpu)
		boot_fail("\nx86: paging=x86_64-la57: the CPU lacks LA57 (CPUID.(7,0):ECX[16] is 0; "
			  "e.g. -cpu qemu64)\nRESULT FAIL: boot (paging)");
	if ((x86_paging_request == ENTRY_REQ_LA57) != (req == PAGING_X86_64_LA57) ||
	    (x86_paging_request == ENTRY_REQ_NONE) != !given)
		boot_fail("x86: entry.S read the paging= word differently (bug)");
	want_la57 = x86_la57_cpu && (!given || req == PAGING_X86_64_LA57);
	if (!!(cr4 & X86_CR4_LA57) != want_la57 || !!x86_la57_on != want_la57)
		boot_fail("x86: CR4.LA57 is not what the entry was to set (bug)");
	text_add(choice_text, sizeof(choice_text), paging_mode_name(kernel_layout.mode));
	text_add(choice_text, sizeof(choice_text),
		 given ? " (paging= on the command line)" : " (largest the CPU has)");
	text_add(choice_text, sizeof(choice_text),
		 x86_la57_cpu ? "; CPUID LA57: yes" : "; CPUID LA57: no");
}

const char *arch_paging_choice(void)
{
	return choice_text;
}

/* CR0.PG and CR4.LA57 as the CPU has them now. */
enum paging_mode arch_paging_readback(uint64_t *reg)
{
	uint64_t cr4 = x86_read_cr4();

	*reg = cr4;
	if (!(x86_read_cr0() & (1ull << 31)))
		return PAGING_NONE;
	return (cr4 & X86_CR4_LA57) ? PAGING_X86_64_LA57 : PAGING_X86_64;
}

/* The encoder with exactly the features this CPU has, and the x86 TLB ops. */
void arch_mm_init(struct ptmm_arch *a)
{
	uint32_t features = 0;

	if (x86_cpu.nx)
		features |= PTMM_FEAT_X86_NX;
	if (x86_cpu.pdpe1gb)
		features |= PTMM_FEAT_X86_1G;
	if (kernel_layout.mode == PAGING_X86_64_LA57)
		ptmm_arch_x86_64_la57_init(a, features, &x86_tlb_ops);
	else
		ptmm_arch_x86_64_init(a, features, &x86_tlb_ops);
}

const char *arch_mm_features(void)
{
	if (features_text[0])
		return features_text;
	features_add(kernel_layout.mode == PAGING_X86_64_LA57 ? "x86_64-la57 5-level"
							       : "x86_64 4-level");
	features_add(", PAT WC=4");
	features_add(x86_cpu.nx ? ", NX" : ", no NX");
	features_add(x86_cpu.pdpe1gb ? ", 1G" : ", no 1G");
	features_add(x86_cpu.pge ? ", PGE" : ", no PGE");
	features_add(x86_cpu.smep ? ", SMEP" : ", no SMEP");
	features_add(x86_cpu.smap ? ", SMAP" : ", no SMAP");
	return features_text;
}

void arch_halt(void)
{
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* isa-debug-exit: QEMU exits with (v << 1) | 1, so 0x10 -> 33 (pass), 0 -> 1. */
void arch_exit(bool pass)
{
	x86_outl(DEBUG_EXIT_PORT, pass ? 0x10 : 0x0);
	arch_halt();
}

/*
 * SMAP: stac lets the kernel touch user pages, clac forbids it again.
 * Without SMAP (stac would be #UD) AC is set and cleared through popf: it
 * then changes nothing in ring 0, but the trap entry's clearing of AC is
 * tested the same way on every CPU.
 */
void arch_user_access(bool allow)
{
	if (!x86_cpu.smap) {
		uint64_t f = x86_read_rflags();
		x86_write_rflags(allow ? f | X86_RFLAGS_AC : f & ~X86_RFLAGS_AC);
	} else if (allow) {
		__asm__ volatile("stac" ::: "memory", "cc");
	} else {
		__asm__ volatile("clac" ::: "memory", "cc");
	}
}

bool arch_user_access_open(void)
{
	return (x86_read_rflags() & X86_RFLAGS_AC) != 0;
}

const uint8_t arch_ret_insn[] = {0xc3};
const unsigned arch_ret_insn_len = sizeof(arch_ret_insn);

/* COM1 and isa-debug-exit are I/O ports: nothing moves with the mm's table. */
void arch_mm_activated(void)
{
}

/* Supervisor accesses to user pages fault only with SMAP (and EFLAGS.AC clear). */
bool arch_user_access_enforced(void)
{
	return x86_cpu.smap;
}

/* SMEP: ring 0 may not fetch from user pages (EFLAGS.AC does not matter). */
bool arch_user_exec_refused(void)
{
	return x86_cpu.smep;
}

/* x86 keeps instruction fetch coherent with stores: nothing to do. */
void arch_sync_icache(void)
{
}

/* C entry from entry.S (higher half, boot page tables): set up, then kmain. */
void x86_boot_main(void)
{
	x86_layout_init();
	/* No user access window survives from the loader (AC clear before SMAP is on). */
	x86_write_rflags(x86_read_rflags() & ~X86_RFLAGS_AC);
	x86_serial_init();
	x86_trap_init();
	x86_cpu_init();
	x86_boot_info_init();
	x86_paging_check();
	kmain();
}
