/*
 * mm_boot.c - bring the mm up from the boot info and switch to the kernel
 * page table it builds (see mm_boot.h for the layout), plus the one-shot
 * cursor helpers the self-test and script mode use.
 */
#include "mm_boot.h"

#include "kprintf.h"

#define PAGE PTMM_PAGE_SIZE
#define LOW_4G (1ull << 32)

struct kernel_mm kmm;

/* Fatal bring-up error: say what and where, then a failing exit. */
static __attribute__((noreturn)) void mm_boot_fail(const char *what, int err)
{
	kprintf("mm_boot: %s: %s\nRESULT FAIL: mm bring-up\n", what, ptmm_strerror(err));
	arch_exit(false);
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static bool overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

/* RAM that is not free for the mm's own placement: image and firmware. */
struct busy {
	struct phys_range r[BOOT_MAX_RANGES + 2];
	unsigned n;
};

static void busy_add(struct busy *b, ptmm_paddr_t base, uint64_t size)
{
	if (size && b->n < sizeof(b->r) / sizeof(b->r[0])) {
		b->r[b->n].base = base;
		b->r[b->n].size = size;
		b->n++;
	}
}

/* The first busy range overlapping [pa, pa+len), or NULL. */
static const struct phys_range *busy_hit(const struct busy *b, ptmm_paddr_t pa, uint64_t len)
{
	for (unsigned i = 0; i < b->n; i++)
		if (overlaps(pa, len, b->r[i].base, b->r[i].size))
			return &b->r[i];
	return 0;
}

/* The image as one physical range: text through data+bss. */
static struct phys_range image_range(const struct boot_info *bi)
{
	struct phys_range r;
	r.base = bi->text.pa & ~(PAGE - 1);
	r.size = align_up(bi->data.pa + bi->data.size, PAGE) - r.base;
	return r;
}

/*
 * Choose the sandbox: a 1 GiB-aligned base B inside a RAM range such that
 * [B, B + 64 MiB) is free; it extends up to 1 GiB, to the end of the range
 * or to the next busy range.  The largest such window wins (a whole GiB
 * lets the self-test map a 1 GiB leaf), then the highest.  Size 0 if there
 * is none (then script= is refused, the self-test skips its 1 GiB leaf).
 */
static struct phys_range choose_sandbox(const struct boot_info *bi, const struct busy *b)
{
	struct phys_range best = { 0, 0 };

	for (unsigned i = 0; i < bi->nr_ram; i++) {
		uint64_t end = bi->ram[i].base + bi->ram[i].size;
		for (uint64_t base = align_up(bi->ram[i].base, SANDBOX_ALIGN);
		     base < end && end - base >= SANDBOX_MIN; base += SANDBOX_ALIGN) {
			uint64_t size = end - base < SANDBOX_MAX ? end - base : SANDBOX_MAX;
			/* Clip at the first busy range inside it. */
			for (unsigned j = 0; j < b->n; j++)
				if (overlaps(base, size, b->r[j].base, b->r[j].size))
					size = b->r[j].base > base ? b->r[j].base - base : 0;
			size &= ~(PAGE - 1);
			if (size >= SANDBOX_MIN &&
			    (size > best.size || (size == best.size && base > best.base))) {
				best.base = base;
				best.size = size;
			}
		}
	}
	return best;
}

/* First fit of `size` bytes of RAM below 4 GiB avoiding the busy ranges. */
static ptmm_paddr_t place_below_4g(const struct boot_info *bi, const struct busy *b, uint64_t size)
{
	for (unsigned i = 0; i < bi->nr_ram; i++) {
		ptmm_paddr_t pa = bi->ram[i].base, end = bi->ram[i].base + bi->ram[i].size;
		const struct phys_range *hit;
		while (pa + size <= end && pa + size <= LOW_4G) {
			hit = busy_hit(b, pa, size);
			if (!hit)
				return pa;
			pa = align_up(hit->base + hit->size, PAGE);
		}
	}
	mm_boot_fail("no room below 4 GiB for the frame slots", PTMM_ENOMEM);
}

/* Hand [base, base+size), sandbox-free RAM, to KZONE_KERNEL below 4 GiB and KZONE_HIGH above. */
static void add_ram_outside_sandbox(ptmm_paddr_t base, ptmm_paddr_t end)
{
	ptmm_paddr_t split = end < LOW_4G ? end : (base > LOW_4G ? base : LOW_4G);
	int err = PTMM_OK;

	if (split > base)
		err = ptmm_frame_table_add_ram(&kmm.ft, base, split - base, KZONE_KERNEL);
	if (!err && end > split)
		err = ptmm_frame_table_add_ram(&kmm.ft, split, end - split, KZONE_HIGH);
	if (err)
		mm_boot_fail("ptmm_frame_table_add_ram", err);
}

/* Hand RAM range [base, base+size) to the zones: the sandbox part, the rest. */
static void add_ram(ptmm_paddr_t base, uint64_t size)
{
	ptmm_paddr_t end = base + size;
	ptmm_paddr_t sb = kmm.sandbox.base, se = kmm.sandbox.base + kmm.sandbox.size;
	int err;

	if (!kmm.sandbox.size || !overlaps(base, size, sb, kmm.sandbox.size)) {
		add_ram_outside_sandbox(base, end);
		return;
	}
	/* The sandbox lies inside one RAM range (choose_sandbox): before, it, after. */
	add_ram_outside_sandbox(base, sb);
	err = ptmm_frame_table_add_ram(&kmm.ft, sb, kmm.sandbox.size, KZONE_SANDBOX);
	if (err)
		mm_boot_fail("ptmm_frame_table_add_ram", err);
	add_ram_outside_sandbox(se, end);
}

/*
 * Take [base, base+size) out of the free RAM as `usage`.  Parts that are
 * not RAM (firmware outside the memory nodes) or already taken (two
 * firmware ranges overlapping) are skipped page by page.
 */
static void reserve(ptmm_paddr_t base, uint64_t size, enum ptmm_frame_usage usage)
{
	int err = ptmm_frame_table_reserve(&kmm.ft, base, size, usage);
	if (err == PTMM_OK)
		return;
	if (err != PTMM_ERANGE && err != PTMM_EEXIST)
		mm_boot_fail("ptmm_frame_table_reserve", err);
	for (ptmm_paddr_t pa = base; pa < base + size; pa += PAGE)
		(void)ptmm_frame_table_reserve(&kmm.ft, pa, PAGE, usage); /* RANGE/EXIST: skip */
}

/* Frame slots over [lowest RAM, highest RAM end), zones, reservations, MMIO. */
static void frames_init(const struct boot_info *bi)
{
	struct phys_range img = image_range(bi);
	struct busy b = { .n = 0 };
	ptmm_paddr_t lo = ~0ull, hi = 0;
	int err;

	for (unsigned i = 0; i < bi->nr_ram; i++) {
		if (bi->ram[i].base < lo)
			lo = bi->ram[i].base;
		if (bi->ram[i].base + bi->ram[i].size > hi)
			hi = bi->ram[i].base + bi->ram[i].size;
	}
	busy_add(&b, img.base, img.size);
	for (unsigned i = 0; i < bi->nr_reserved; i++)
		busy_add(&b, bi->reserved[i].base, bi->reserved[i].size);
	kmm.sandbox = choose_sandbox(bi, &b);

	/* The slot array must not land in the sandbox either. */
	struct busy b2 = b;
	busy_add(&b2, kmm.sandbox.base, kmm.sandbox.size);
	kmm.slots.size = align_up(ptmm_frame_table_meta_bytes(lo, hi), PAGE);
	kmm.slots.base = place_below_4g(bi, &b2, kmm.slots.size);

	err = ptmm_frame_table_init(&kmm.ft, phys_to_virt(kmm.slots.base), lo, hi, DIRECT_MAP_BASE);
	if (err)
		mm_boot_fail("ptmm_frame_table_init", err);
	for (unsigned i = 0; i < bi->nr_ram; i++)
		add_ram(bi->ram[i].base, bi->ram[i].size);
	ptmm_frame_zone_set_claimable(&kmm.ft, KZONE_SANDBOX, true);
	/*
	 * One memory type per frame: the direct map keeps all RAM write-back,
	 * so the kernel's zones may be mapped write-back only (PTMM_EPERM
	 * otherwise).  The sandbox follows the script contract, where RAM may
	 * be mapped uncached; script mode takes it out of the direct map.
	 */
	if (ptmm_frame_zone_set_wb_only(&kmm.ft, KZONE_KERNEL, true) ||
	    ptmm_frame_zone_set_wb_only(&kmm.ft, KZONE_HIGH, true))
		mm_boot_fail("ptmm_frame_zone_set_wb_only", PTMM_EINVAL);
	reserve(img.base, img.size, PTMM_FRAME_KERNEL);
	reserve(kmm.slots.base, kmm.slots.size, PTMM_FRAME_METADATA);
	for (unsigned i = 0; i < bi->nr_reserved; i++)
		reserve(bi->reserved[i].base, bi->reserved[i].size, PTMM_FRAME_RESERVED);
	for (unsigned i = 0; i < bi->nr_mmio; i++) {
		err = ptmm_frame_table_add_mmio(&kmm.ft, bi->mmio[i].base, bi->mmio[i].size);
		if (err)
			mm_boot_fail("ptmm_frame_table_add_mmio", err);
	}
}

/* Map one range into the kernel table (untracked, or MMIO) or fail the boot. */
static void boot_map(const char *what, ptmm_vaddr_t va, uint64_t len, ptmm_paddr_t pa, unsigned prop_flags,
		     enum ptmm_cache cache, unsigned map_flags)
{
	struct ptmm_prop p = ptmm_prop_make(prop_flags | PTMM_PROP_G, cache);
	int err = kmm_map(&kmm.kpt, va, align_up(len, PAGE), pa, p, map_flags);
	if (err)
		mm_boot_fail(what, err);
}

/* Device memory is uncached where the encoder can say so (RISC-V needs
 * Svpbmt; without it the platform's PMAs already make the region I/O). */
static enum ptmm_cache device_cache(void)
{
	struct ptmm_prop uc = ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_W | PTMM_PROP_G, PTMM_CACHE_UC);
	return kmm.arch.prop_check(&kmm.arch, uc) == PTMM_OK ? PTMM_CACHE_UC : PTMM_CACHE_WB;
}

/*
 * W^X per frame, not per mapping: the direct map's alias of the image's
 * text and rodata is r-- (text is executable only at its link address),
 * and firmware memory that must not be mapped (bi->nomap) is taken out.
 * Huge leaves are split only around these ranges.
 */
static void direct_map_wx(const struct boot_info *bi)
{
	struct ptmm_prop ro = ptmm_prop_make(PTMM_PROP_R | PTMM_PROP_G, PTMM_CACHE_WB);
	ptmm_paddr_t lo = bi->text.pa & ~(PAGE - 1);
	ptmm_paddr_t hi = align_up(bi->rodata.pa + bi->rodata.size, PAGE);
	int err = kmm_protect(&kmm.kpt, DIRECT_MAP_BASE + lo, hi - lo, ro);

	if (err)
		mm_boot_fail("direct map: image read-only", err);
	kprintf("mm: direct map: 0x%llx 0x%llx r-- (image text, rodata)\n",
		(unsigned long long)lo, (unsigned long long)(hi - lo));
	for (unsigned i = 0; i < bi->nr_nomap; i++) {
		ptmm_paddr_t b = bi->nomap[i].base, e = b + bi->nomap[i].size;
		/* Only what the direct map covers: the RAM part. */
		for (unsigned r = 0; r < bi->nr_ram; r++) {
			ptmm_paddr_t rb = bi->ram[r].base, re = rb + bi->ram[r].size;
			ptmm_paddr_t cb = b > rb ? b : rb, ce = e < re ? e : re;
			if (cb >= ce)
				continue;
			err = kmm_unmap(&kmm.kpt, DIRECT_MAP_BASE + cb, ce - cb);
			if (err)
				mm_boot_fail("direct map: firmware hole", err);
			kprintf("mm: direct map: 0x%llx 0x%llx not mapped (firmware)\n",
				(unsigned long long)cb, (unsigned long long)(ce - cb));
		}
	}
}

/* The kernel table: direct map, W^X image, device windows (mm_boot.h). */
static void kernel_table_init(const struct boot_info *bi)
{
	int err = ptmm_page_table_init_kernel(&kmm.kpt, &kmm.arch, &kmm.ft, KZONE_KERNEL);
	if (err)
		mm_boot_fail("ptmm_page_table_init_kernel", err);
	for (unsigned i = 0; i < bi->nr_ram; i++)
		if (bi->ram[i].base + bi->ram[i].size > kernel_layout.direct_map_span)
			mm_boot_fail("RAM beyond the direct map's reach in this paging mode", PTMM_ERANGE);
	for (unsigned i = 0; i < bi->nr_mmio; i++)
		if (bi->mmio[i].base + bi->mmio[i].size > kernel_layout.mmio_map_span)
			mm_boot_fail("a device beyond the device map's reach in this paging mode",
				     PTMM_ERANGE);
	for (unsigned i = 0; i < bi->nr_ram; i++)
		boot_map("direct map", DIRECT_MAP_BASE + bi->ram[i].base, bi->ram[i].size,
			 bi->ram[i].base, PTMM_PROP_R | PTMM_PROP_W, PTMM_CACHE_WB,
			 PTMM_MAP_UNTRACKED | PTMM_MAP_HUGE);
	direct_map_wx(bi);
	/* W^X: each section on its own pages (linker.ld aligns them to 4 KiB). */
	boot_map("image text", bi->text.va, bi->text.size, bi->text.pa, PTMM_PROP_R | PTMM_PROP_X,
		 PTMM_CACHE_WB, PTMM_MAP_UNTRACKED);
	boot_map("image rodata", bi->rodata.va, bi->rodata.size, bi->rodata.pa, PTMM_PROP_R,
		 PTMM_CACHE_WB, PTMM_MAP_UNTRACKED);
	boot_map("image data", bi->data.va, bi->data.size, bi->data.pa, PTMM_PROP_R | PTMM_PROP_W,
		 PTMM_CACHE_WB, PTMM_MAP_UNTRACKED);
	for (unsigned i = 0; i < bi->nr_mmio; i++)
		boot_map("device window", MMIO_MAP_BASE + bi->mmio[i].base, bi->mmio[i].size,
			 bi->mmio[i].base, PTMM_PROP_R | PTMM_PROP_W, device_cache(), PTMM_MAP_MMIO);
}

/* What the boot log shows: RAM (the `ram` lines tools parse), zones, table. */
static void print_layout(const struct boot_info *bi)
{
	struct ptmm_stats st;

	for (unsigned i = 0; i < bi->nr_ram; i++)
		kprintf("ram 0x%llx 0x%llx\n", (unsigned long long)bi->ram[i].base,
			(unsigned long long)bi->ram[i].size);
	for (unsigned i = 0; i < bi->nr_reserved; i++)
		kprintf("mm: reserved 0x%llx 0x%llx\n", (unsigned long long)bi->reserved[i].base,
			(unsigned long long)bi->reserved[i].size);
	kprintf("mm: image 0x%llx..0x%llx, slots 0x%llx (%llu KiB, %u B/frame)\n",
		(unsigned long long)bi->text.pa,
		(unsigned long long)(bi->data.pa + bi->data.size),
		(unsigned long long)kmm.slots.base, (unsigned long long)(kmm.slots.size >> 10),
		(unsigned)sizeof(struct ptmm_frame_slot));
	kprintf("mm: sandbox 0x%llx 0x%llx, free frames: kernel %llu, sandbox %llu, high %llu\n",
		(unsigned long long)kmm.sandbox.base, (unsigned long long)kmm.sandbox.size,
		(unsigned long long)ptmm_frame_zone_free_frames(&kmm.ft, KZONE_KERNEL),
		(unsigned long long)ptmm_frame_zone_free_frames(&kmm.ft, KZONE_SANDBOX),
		(unsigned long long)ptmm_frame_zone_free_frames(&kmm.ft, KZONE_HIGH));
	ptmm_stats(&kmm.kpt, &st);
	kprintf("mm: kernel table: %llu nodes, 0x%llx bytes mapped; paging: %s\n",
		(unsigned long long)st.nodes, (unsigned long long)st.mapped, arch_mm_features());
}

void mm_boot(const struct boot_info *bi)
{
	arch_mm_init(&kmm.arch);
	/* The layout was computed from the mode: the encoder must be that mode's. */
	if (kmm.arch.va_bits != kernel_layout.va_bits ||
	    kmm.arch.levels != paging_mode_levels(kernel_layout.mode))
		mm_boot_fail("the encoder's geometry is not the paging mode's", PTMM_EINVAL);
	frames_init(bi);
	kernel_table_init(bi);
	if (!kmm_check("kernel table built"))
		mm_boot_fail("the checker refused the kernel table", PTMM_EINVAL);
	print_layout(bi);
	ptmm_page_table_activate(&kmm.kpt);
	arch_mm_activated();
	kprintf("mm: kernel table active (root 0x%llx)\n", (unsigned long long)kmm.kpt.root);
}

/* ---- one-shot cursor operations ---- */

int kmm_map(struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t len, ptmm_paddr_t pa, struct ptmm_prop p,
	    unsigned flags)
{
	struct ptmm_cursor c;
	int err = ptmm_cursor_open(&c, pt, va, len);
	if (err)
		return err;
	err = ptmm_cursor_map(&c, pa, len, p, flags);
	ptmm_cursor_close(&c);
	return err;
}

int kmm_unmap(struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t len)
{
	struct ptmm_cursor c;
	int err = ptmm_cursor_open(&c, pt, va, len);
	if (err)
		return err;
	err = ptmm_cursor_unmap(&c, len, 0);
	ptmm_cursor_close(&c);
	return err;
}

int kmm_protect(struct ptmm_page_table *pt, ptmm_vaddr_t va, uint64_t len, struct ptmm_prop p)
{
	struct ptmm_cursor c;
	int err = ptmm_cursor_open(&c, pt, va, len);
	if (err)
		return err;
	err = ptmm_cursor_protect(&c, len, p, 0);
	ptmm_cursor_close(&c);
	return err;
}

int kmm_query(struct ptmm_page_table *pt, ptmm_vaddr_t va, struct ptmm_mapping *out)
{
	struct ptmm_cursor c;
	int err = ptmm_cursor_open(&c, pt, va, PAGE);
	if (err)
		return err;
	err = ptmm_cursor_query(&c, out);
	ptmm_cursor_close(&c);
	return err;
}

bool kmm_check(const char *where)
{
	static char buf[256];
	struct ptmm_page_table *pts[2] = { &kmm.kpt, kmm.user };
	unsigned n = kmm.user ? 2 : 1;

	if (ptmm_check(pts, n, &kmm.ft, buf, sizeof(buf)) == PTMM_OK)
		return true;
	kprintf("checker: after %s: %s\n", where, buf);
	return false;
}
