/*
 * entry.S - RISC-V kernel entry from OpenSBI.
 *
 * Entered at PA 0x80200000 in S-mode with satp = 0, a0 = hartid and
 * a1 = FDT physical address.  The image is linked at 0xffffffff80200000,
 * so until paging is on only PC-relative addressing (lla) is used.
 *
 * Builds a static Sv48 boot table out of 1 GiB leaves (V R W X A D):
 *   identity  VA 0x80000000         -> PA 0x80000000 (so the instruction
 *                                      after `csrw satp` is fetchable)
 *   image     VA 0xffffffff80000000 -> PA 0x80000000
 *   direct    VA 0xffff800000000000 + PA -> PA, for PA in [0, 4 GiB)
 * then switches satp (mode 9) and continues at the high VA with a stack,
 * calling riscv_boot_main(hartid, fdt_pa) which never returns.
 * The boot table is replaced by the mm's kernel table in kmain.
 */
#define PTE_TABLE 0x01            /* V only: points to the next level */
#define PTE_GIGA_RWX 0xcf         /* V R W X A D */
#define IMAGE_GIB_PPN 0x80000     /* PA 0x80000000 >> 12 */
#define DIRECT_GIBS 4
#define SATP_SV48 9

	.section .text.entry, "ax"
	.globl _start
_start:
	/* Keep hartid and FDT PA in callee-saved registers. */
	mv s0, a0
	mv s1, a1

	/* Zero .bss (the boot tables and stack live there). */
	lla t0, __bss_start
	lla t1, __bss_end
1:	bgeu t0, t1, 2f
	sd zero, 0(t0)
	addi t0, t0, 8
	j 1b
2:
	lla t0, boot_l4
	lla t1, boot_l3_low
	lla t2, boot_l3_high
	lla t3, boot_l3_direct

	/* Root entries: 0 (low half), 256 (direct map), 511 (image). */
	srli t4, t1, 12
	slli t4, t4, 10
	ori t4, t4, PTE_TABLE
	sd t4, 0(t0)
	srli t4, t3, 12
	slli t4, t4, 10
	ori t4, t4, PTE_TABLE
	li t5, 256 * 8
	add t5, t5, t0
	sd t4, 0(t5)
	srli t4, t2, 12
	slli t4, t4, 10
	ori t4, t4, PTE_TABLE
	li t5, 511 * 8
	add t5, t5, t0
	sd t4, 0(t5)

	/* The image's GiB: identity (L3 index 2) and high (L3 index 510). */
	li t4, (IMAGE_GIB_PPN << 10) | PTE_GIGA_RWX
	sd t4, 2 * 8(t1)
	li t5, 510 * 8
	add t5, t5, t2
	sd t4, 0(t5)

	/* Direct map: GiB i of PA at L3 index i. */
	li t5, 0
	li t6, DIRECT_GIBS
3:	slli t4, t5, 18 + 10
	ori t4, t4, PTE_GIGA_RWX
	slli a2, t5, 3
	add a2, a2, t3
	sd t4, 0(a2)
	addi t5, t5, 1
	blt t5, t6, 3b

	/* satp = mode 9 | root PPN, fenced on both sides. */
	srli t4, t0, 12
	li t5, SATP_SV48
	slli t5, t5, 60
	or t4, t4, t5
	sfence.vma
	csrw satp, t4
	sfence.vma

	/* `la` under medany is PC-relative too, so load the absolute high
	 * address from a literal instead. */
	ld t0, high_entry_addr
	jr t0
high_entry:
	.option push
	.option norelax
	lla gp, __global_pointer$
	.option pop
	lla sp, boot_stack_top
	mv a0, s0
	mv a1, s1
	call riscv_boot_main
4:	wfi
	j 4b

	.balign 8
high_entry_addr:
	.dword high_entry

	.bss
	.balign 4096
	.globl boot_l4
boot_l4:	.space 4096
boot_l3_low:	.space 4096
boot_l3_high:	.space 4096
boot_l3_direct:	.space 4096
	.balign 16
boot_stack:	.space 16384
	.globl boot_stack_top
boot_stack_top:
