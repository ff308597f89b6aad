/*
 * entry.S - PVH entry: 32-bit protected mode, paging off, ebx = PA of the
 * hvm_start_info.  Builds static boot page tables in .bss, switches to long
 * mode and jumps to the higher half, then calls x86_boot_main() (boot.c).
 *
 * Boot page tables (all 2 MiB leaves, no U, no G):
 *   [0, 1 GiB)                      -> PA [0, 1 GiB)   identity, only so the
 *                                      instruction after CR0.PG keeps running
 *   0xffffffff80000000 + [0, 1 GiB) -> PA [0, 1 GiB)   the kernel image
 *   DIRECT_MAP_BASE + [0, 4 GiB)    -> PA [0, 4 GiB)   the direct map
 * The identity window dies when kmain activates the mm's page table, so
 * nothing after the jump to the higher half may use a low address.
 */
#define KERNEL_VMA 0xffffffff80000000
#define PA(sym) ((sym) - KERNEL_VMA)
#define PTE_P_W 0x3
#define PTE_P_W_PS 0x83
#define BOOT_STACK_SIZE 16384

	/* Xen PVH note: name "Xen", type 18 (XEN_ELFNOTE_PHYS32_ENTRY). */
	.section .note.Xen, "a"
	.p2align 2
	.long 4              /* namesz */
	.long 4              /* descsz: a 32-bit entry address */
	.long 18             /* type */
	.asciz "Xen"
	.long PA(pvh_entry32)

	.section .text.boot, "ax"
	.code32
	.globl pvh_entry32
pvh_entry32:
	cli
	cld
	movl %ebx, %esi                 /* keep the start-info PA across the zeroing */

	/* Zero .bss: the tables below must start empty whatever the loader did. */
	movl $PA(__bss_start), %edi
	movl $PA(__bss_end), %ecx
	subl %edi, %ecx
	shrl $2, %ecx
	xorl %eax, %eax
	rep stosl
	movl %esi, PA(x86_pvh_start_info_pa)

	/* boot_pd_low: 512 x 2 MiB over PA [0, 1 GiB). */
	movl $PA(boot_pd_low), %edi
	movl $PTE_P_W_PS, %eax
	xorl %ecx, %ecx
1:	movl %eax, (%edi,%ecx,8)
	addl $0x200000, %eax
	incl %ecx
	cmpl $512, %ecx
	jb 1b

	/* boot_pd_dm: 2048 x 2 MiB over PA [0, 4 GiB); the high dword holds PA bit 32+. */
	movl $PA(boot_pd_dm), %edi
	xorl %ecx, %ecx
1:	movl %ecx, %eax
	shll $21, %eax
	orl $PTE_P_W_PS, %eax
	movl %eax, (%edi,%ecx,8)
	movl %ecx, %edx
	shrl $11, %edx
	movl %edx, 4(%edi,%ecx,8)
	incl %ecx
	cmpl $2048, %ecx
	jb 1b

	/* PDPTs: low[0] and high[510] share boot_pd_low; dm[0..3] -> the 4 dm PDs. */
	movl $PA(boot_pd_low) + PTE_P_W, %eax
	movl %eax, PA(boot_pdpt_low)
	movl %eax, PA(boot_pdpt_high) + 510 * 8
	movl $PA(boot_pdpt_dm), %edi
	movl $PA(boot_pd_dm) + PTE_P_W, %eax
	xorl %ecx, %ecx
1:	movl %eax, (%edi,%ecx,8)
	addl $4096, %eax
	incl %ecx
	cmpl $4, %ecx
	jb 1b

	/* PML4: [0] identity, [256] direct map, [511] kernel image. */
	movl $PA(boot_pdpt_low) + PTE_P_W, %eax
	movl %eax, PA(boot_pml4)
	movl $PA(boot_pdpt_dm) + PTE_P_W, %eax
	movl %eax, PA(boot_pml4) + 256 * 8
	movl $PA(boot_pdpt_high) + PTE_P_W, %eax
	movl %eax, PA(boot_pml4) + 511 * 8

	/* CR4.PAE, CR3. */
	movl %cr4, %eax
	orl $(1 << 5), %eax
	movl %eax, %cr4
	movl $PA(boot_pml4), %eax
	movl %eax, %cr3

	/* EFER.LME, and EFER.NXE only if CPUID 0x80000001 EDX bit 20 says NX. */
	xorl %edi, %edi
	movl $0x80000000, %eax
	cpuid
	cmpl $0x80000001, %eax
	jb 2f
	movl $0x80000001, %eax
	cpuid
	movl %edx, %edi
2:	movl $0xc0000080, %ecx
	rdmsr
	orl $(1 << 8), %eax
	testl $(1 << 20), %edi
	jz 3f
	orl $(1 << 11), %eax
3:	wrmsr

	/* Paging on (PG|PE), 64-bit GDT, far jump into the 64-bit code segment. */
	movl %cr0, %eax
	orl $0x80000001, %eax
	movl %eax, %cr0
	lgdt PA(x86_gdt_ptr32)
	ljmp $0x08, $PA(long_entry_low)

	.code64
long_entry_low:
	movw $0x10, %ax
	movw %ax, %ds
	movw %ax, %es
	movw %ax, %ss
	xorw %ax, %ax
	movw %ax, %fs
	movw %ax, %gs
	movabsq $long_entry_high, %rax
	jmp *%rax

	.text
long_entry_high:
	movq $boot_stack_top, %rsp
	xorq %rbp, %rbp
	/* Reload the GDT through its higher-half address: the identity map goes away. */
	lgdt x86_gdt_ptr64(%rip)
	call x86_boot_main
4:	cli
	hlt
	jmp 4b

	.data
	.p2align 3
	/* null, 64-bit code (0x08), data (0x10), TSS (0x18, 16 bytes, filled by idt.c) */
	.globl x86_gdt
x86_gdt:
	.quad 0
	.quad 0x00af9a000000ffff
	.quad 0x00cf92000000ffff
	.quad 0
	.quad 0
x86_gdt_end:
	.p2align 2
x86_gdt_ptr32:
	.word x86_gdt_end - x86_gdt - 1
	.long PA(x86_gdt)
	.p2align 3
x86_gdt_ptr64:
	.word x86_gdt_end - x86_gdt - 1
	.quad x86_gdt

	.globl x86_pvh_start_info_pa
	.p2align 2
x86_pvh_start_info_pa:
	.long 0

	.bss
	.p2align 12
boot_pml4:	.skip 4096
boot_pdpt_low:	.skip 4096
boot_pdpt_high:	.skip 4096
boot_pdpt_dm:	.skip 4096
boot_pd_low:	.skip 4096
boot_pd_dm:	.skip 4 * 4096
	.p2align 4
boot_stack:	.skip BOOT_STACK_SIZE
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
