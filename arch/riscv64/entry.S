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
	.globl riscv_image_link_va
riscv_image_link_va:
	.dword _start

	.bss
	.balign 16
boot_stack:	.space 16384
	.globl boot_stack_top
boot_stack_top:
