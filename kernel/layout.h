/*
 * layout.h - the paging modes the kernels know and the kernel's virtual
 * layout, computed from the mode in one place (layout.c).
 *
 * Every mode splits the 64-bit VA space into a user half [0, 2^(B-1)) and
 * a kernel half [2^64 - 2^(B-1), 2^64), B the mode's VA width.  The kernel
 * half is cut into fixed fractions of its size S = 2^(B-1):
 *
 *   half base            direct map    PA p at direct_map + p, p < S/2
 *   half base + S/2      device map    device PA p at mmio_map + p, p < S/4
 *   half base + 3S/4     self-test window, up to the image area
 *   0xffffffff80000000   the kernel image (top 2 GiB, every mode)
 *
 * so the 48-bit modes keep 0xffff800000000000 / 0xffffc00000000000 /
 * 0xffffe00000000000, Sv39 gets 0xffffffc000000000 (128 GiB of direct map)
 * and the 57-bit modes 0xff00000000000000 (above the 4-level boundary).
 *
 * RISC-V computes the layout before paging is on (arch/riscv64/early.c),
 * so this code must not depend on absolute addresses: plain arithmetic,
 * no tables of pointers.
 */
#ifndef KERNEL_LAYOUT_H
#define KERNEL_LAYOUT_H

#include <stddef.h>
#include <stdint.h>

enum paging_mode {
	PAGING_NONE = 0,
	PAGING_SV39,
	PAGING_SV48,
	PAGING_SV57,
	PAGING_X86_64,
	PAGING_X86_64_LA57,
};

/* The mode's name as on the command line and in ptsim's --arch ("sv39", "x86_64-la57"). */
const char *paging_mode_name(enum paging_mode m);

/* Levels (3, 4, 5) and VA width (39, 48, 57) of a mode; 0 for PAGING_NONE. */
unsigned paging_mode_levels(enum paging_mode m);
unsigned paging_mode_va_bits(enum paging_mode m);

/*
 * The `paging=` word of a command line: PAGING_NONE with *given = false if
 * there is none; else *given = true and the mode it names, or PAGING_NONE
 * for a name this kernel does not know (then *name / *len point at it, for
 * the refusal message).  Modes of the other architecture are returned as
 * named: the caller decides what its CPU can do.
 */
enum paging_mode paging_mode_requested(const char *cmdline, bool *given, const char **name,
				       size_t *len);

struct kernel_layout {
	enum paging_mode mode;
	unsigned va_bits;
	uint64_t half_base;        /* first VA of the kernel half */
	uint64_t direct_map;       /* DIRECT_MAP_BASE */
	uint64_t direct_map_span;  /* PAs below this are direct-mappable */
	uint64_t mmio_map;         /* MMIO_MAP_BASE */
	uint64_t mmio_map_span;    /* device PAs below this can be mapped there */
	uint64_t test_window;      /* the self-test's VAs */
	uint64_t test_window_span; /* up to the image area */
	uint64_t image_base;       /* 0xffffffff80000000 */
};

#define KERNEL_IMAGE_AREA 0xffffffff80000000ull

/* The layout of mode `m` (a paging mode, not PAGING_NONE). */
struct kernel_layout kernel_layout_of(enum paging_mode m);

/*
 * The layout in force, set once by the arch before anything uses the
 * direct map (RISC-V: before paging; x86: first thing in C).
 */
extern struct kernel_layout kernel_layout;

#endif /* KERNEL_LAYOUT_H */
