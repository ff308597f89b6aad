/*
 * trampoline.S - where an application processor starts after its SIPI:
 * 16-bit real mode at X86_TRAMP_PA (vector X86_TRAMP_PA >> 12, CS = 0x800,
 * IP = 0).  smp.c copies these bytes there before kmain (the boot table is
 * on and its direct map reaches the page) and fills the data block at the
 * end once.  The code goes 16 -> 32 -> 64 bit:
 *   real mode:      lgdt the trampoline's own GDT, CR0.PE, far jump to 32-bit
 *   protected mode: CR4 = PAE (+ LA57 exactly when the boot CPU runs
 *                   5-level: the same paging structures), CR3 = the boot
 *                   table's root (identity [0, 1 GiB) keeps this page
 *                   reachable, and it maps the image's higher half),
 *                   EFER = LME (+ NXE), CR0.PG, far jump to 64-bit
 *   long mode:      jump to x86_ap_entry64 (entry.S) in the higher half.
 * The GDT: null, 0x08 64-bit code, 0x10 data, 0x18 32-bit code (the
 * kernel's own GDT has the same 0x08 / 0x10, so the AP keeps CS and SS
 * when it loads its per-CPU GDT).
 */
#define X86_TRAMP_PA 0x8000
#define T(sym) (X86_TRAMP_PA + (sym) - x86_tramp_start)

	/* The one definition of the address: smp.c reads it as this symbol's value. */
	.globl x86_tramp_pa
	.set x86_tramp_pa, X86_TRAMP_PA

	.section .rodata
	.p2align 4
	.globl x86_tramp_start, x86_tramp_end, x86_tramp_data
	.code16
x86_tramp_start:
	cli
	cld
	movw %cs, %ax
	movw %ax, %ds
	lgdtl tramp_gdt_ptr - x86_tramp_start
	movl %cr0, %eax
	orl $1, %eax
	movl %eax, %cr0
	ljmpl $0x18, $T(tramp32)

	.code32
tramp32:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	movl T(tramp_cr4), %eax
	movl %eax, %cr4
	movl T(tramp_cr3), %eax
	movl %eax, %cr3
	movl $0xc0000080, %ecx
	movl T(tramp_efer), %eax
	xorl %edx, %edx
	wrmsr
	movl %cr0, %eax
	orl $0x80000001, %eax
	movl %eax, %cr0
	ljmp $0x08, $T(tramp64)

	.code64
tramp64:
	xorl %eax, %eax
	movw %ax, %fs
	movw %ax, %gs
	movq T(tramp_entry), %rax
	jmp *%rax

	.p2align 3
tramp_gdt:
	.quad 0
	.quad 0x00af9a000000ffff        /* 0x08: 64-bit code */
	.quad 0x00cf92000000ffff        /* 0x10: data, flat 4 GiB */
	.quad 0x00cf9a000000ffff        /* 0x18: 32-bit code, flat 4 GiB */
tramp_gdt_end:
	.p2align 2
tramp_gdt_ptr:
	.word tramp_gdt_end - tramp_gdt - 1
	.long T(tramp_gdt)

	/* Filled by smp.c (struct x86_tramp_data). */
	.p2align 3
x86_tramp_data:
tramp_cr3:	.long 0
tramp_cr4:	.long 0
tramp_efer:	.long 0
		.long 0
tramp_entry:	.quad 0
x86_tramp_end:

	.section .note.GNU-stack, "", @progbits
