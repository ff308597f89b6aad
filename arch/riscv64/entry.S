/*
 * entry.S - RISC-V kernel entry from OpenSBI.
 *
 * Entered at PA 0x80200000 in S-mode with satp = 0, a0 = hartid and
 * a1 = FDT physical address.  The image is linked at 0xffffffff80200000,
 * so until paging is on only PC-relative addressing (lla) is used.
 *
 * 1. Zero .bss; gp and sp at their physical addresses; an early trap
 *    vector, so a trap before paging is reported instead of looping.
 * 2. riscv_early() (early.c, still at the PA): reads mmu-type and
 *    paging= from the FDT, probes satp (riscv_satp_probe below), picks
 *    the mode or refuses it (SBI console, failing exit), and builds the
 *    boot table for that mode's layout: identity of the image's GiB, the
 *    image at its link address, PA [0, 4 GiB) at the direct map.
 * 3. satp = the value it returned, fenced on both sides; continue at the
 *    high VA with the boot stack, calling riscv_boot_main(hartid, fdt_pa),
 *    which never returns.  The boot table is replaced by the mm's kernel
 *    table in kmain.
 */
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
	/* Physical gp and sp: early.c runs at the load address. */
	.option push
	.option norelax
	lla gp, __global_pointer$
	.option pop
	lla sp, boot_stack_top
	lla t0, early_trap
	csrw stvec, t0

	mv a0, s0
	mv a1, s1
	call riscv_early

	sfence.vma
	csrw satp, a0
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

/*
 * riscv_secondary_entry: where SBI HSM hart_start enters a secondary hart
 * (smp.c), at the PA in S-mode with satp = 0, a0 = hart id, a1 = the opaque
 * word = its CPU index (1..).  Its stack is secondary_stacks[index - 1];
 * it switches to the boot table (riscv_secondary_satp: identity of the
 * image's GiB, so the next fetch works) and continues at the high VA in
 * riscv_secondary_main, which switches to the kernel table.
 */
	.globl riscv_secondary_entry
	.balign 4
riscv_secondary_entry:
	csrw sie, zero
	mv s0, a0
	mv s1, a1
	lla t0, riscv_secondary_satp
	ld t0, 0(t0)
	sfence.vma
	csrw satp, t0
	sfence.vma
	ld t0, secondary_high_addr
	jr t0
secondary_high:
	.option push
	.option norelax
	lla gp, __global_pointer$
	.option pop
	lla sp, secondary_stacks
	li t0, 16384                 /* RISCV_SECONDARY_STACK */
	mul t1, t0, s1               /* top of stack index-1 = base + index * size */
	add sp, sp, t1
	mv a0, s0
	mv a1, s1
	call riscv_secondary_main
6:	wfi
	j 6b

/*
 * uint64_t riscv_satp_probe(uint64_t satp): write satp, read it back,
 * write 0 again; returns what was read.  A MODE the CPU lacks leaves satp
 * unchanged (WARL); one it has turns translation on between the two
 * writes, so the caller's root must identity-map this code (early.c's
 * probe root).  Touches no memory.
 */
	.globl riscv_satp_probe
riscv_satp_probe:
	sfence.vma
	csrw satp, a0
	sfence.vma
	csrr a0, satp
	csrw satp, zero
	sfence.vma
	ret

/* A trap before paging: satp back to 0, then report it (early.c). */
	.balign 4
early_trap:
	csrw satp, zero
	sfence.vma
	lla sp, boot_stack_top
	csrr a0, scause
	csrr a1, sepc
	csrr a2, stval
	call riscv_early_trap
5:	wfi
	j 5b

	.balign 8
high_entry_addr:
	.dword high_entry
secondary_high_addr:
	.dword secondary_high
	.globl riscv_image_link_va
riscv_image_link_va:
	.dword _start

	.bss
	.balign 16
boot_stack:	.space 16384
	.globl boot_stack_top
boot_stack_top:
	/* RISCV_MAX_HARTS - 1 secondary stacks of RISCV_SECONDARY_STACK bytes. */
	.balign 16
secondary_stacks:	.space 16384 * 7
