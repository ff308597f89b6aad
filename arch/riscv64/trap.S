/*
 * trap.S - S-mode trap entry and the probe primitives.
 *
 * Only the kernel runs (no U-mode), so traps arrive on the current kernel
 * stack.  riscv_trap_entry saves every general register and sepc in a
 * struct riscv_trap_frame, clears sstatus.SUM, calls riscv_trap(frame),
 * restores (sepc may have been changed to a probe's resume label; SUM as
 * it was at the trap) and returns with sret.
 */
#define FRAME_SIZE (32 * 8 + 16)   /* x0..x31, sepc, sstatus */
#define SSTATUS_SUM (1 << 18)

	.section .text
	.globl riscv_trap_entry
	.balign 4                    /* stvec direct mode needs 4-byte alignment */
riscv_trap_entry:
	addi sp, sp, -FRAME_SIZE
	sd x1, 1*8(sp)
	sd x3, 3*8(sp)
	sd x4, 4*8(sp)
	sd x5, 5*8(sp)
	sd x6, 6*8(sp)
	sd x7, 7*8(sp)
	sd x8, 8*8(sp)
	sd x9, 9*8(sp)
	sd x10, 10*8(sp)
	sd x11, 11*8(sp)
	sd x12, 12*8(sp)
	sd x13, 13*8(sp)
	sd x14, 14*8(sp)
	sd x15, 15*8(sp)
	sd x16, 16*8(sp)
	sd x17, 17*8(sp)
	sd x18, 18*8(sp)
	sd x19, 19*8(sp)
	sd x20, 20*8(sp)
	sd x21, 21*8(sp)
	sd x22, 22*8(sp)
	sd x23, 23*8(sp)
	sd x24, 24*8(sp)
	sd x25, 25*8(sp)
	sd x26, 26*8(sp)
	sd x27, 27*8(sp)
	sd x28, 28*8(sp)
	sd x29, 29*8(sp)
	sd x30, 30*8(sp)
	sd x31, 31*8(sp)
	addi t0, sp, FRAME_SIZE
	sd t0, 2*8(sp)               /* sp as it was at the trap */
	csrr t0, sepc
	sd t0, 32*8(sp)
	/*
	 * Close any user access window (sstatus.SUM): no trap handler runs
	 * with it.  The interrupted sstatus is kept in the frame and its SUM
	 * restored on the way out.
	 */
	li t1, SSTATUS_SUM
	csrrc t0, sstatus, t1
	sd t0, 33*8(sp)
	mv a0, sp
	call riscv_trap
	ld t0, 32*8(sp)
	csrw sepc, t0
	ld t0, 33*8(sp)
	li t1, SSTATUS_SUM
	and t0, t0, t1
	csrs sstatus, t0
	ld x1, 1*8(sp)
	ld x3, 3*8(sp)
	ld x4, 4*8(sp)
	ld x5, 5*8(sp)
	ld x6, 6*8(sp)
	ld x7, 7*8(sp)
	ld x8, 8*8(sp)
	ld x9, 9*8(sp)
	ld x10, 10*8(sp)
	ld x11, 11*8(sp)
	ld x12, 12*8(sp)
	ld x13, 13*8(sp)
	ld x14, 14*8(sp)
	ld x15, 15*8(sp)
	ld x16, 16*8(sp)
	ld x17, 17*8(sp)
	ld x18, 18*8(sp)
	ld x19, 19*8(sp)
	ld x20, 20*8(sp)
	ld x21, 21*8(sp)
	ld x22, 22*8(sp)
	ld x23, 23*8(sp)
	ld x24, 24*8(sp)
	ld x25, 25*8(sp)
	ld x26, 26*8(sp)
	ld x27, 27*8(sp)
	ld x28, 28*8(sp)
	ld x29, 29*8(sp)
	ld x30, 30*8(sp)
	ld x31, 31*8(sp)
	addi sp, sp, FRAME_SIZE
	sret

/*
 * Probe primitives: each returns 0 if the access completed.  On a page
 * fault the trap handler resumes at the matching *_fault label, which
 * returns 1.  Leaf functions except the exec probe, which saves ra.
 */
	/* int riscv_probe_load(uint64_t va, uint64_t *out) */
	.globl riscv_probe_load, riscv_probe_load_fault, riscv_probe_load_access
riscv_probe_load:
riscv_probe_load_access:             /* the access: a fault reports this sepc */
	ld t0, 0(a0)
	sd t0, 0(a1)
	li a0, 0
	ret
riscv_probe_load_fault:
	li a0, 1
	ret

	/* int riscv_probe_store(uint64_t va, uint64_t value) */
	.globl riscv_probe_store, riscv_probe_store_fault, riscv_probe_store_access
riscv_probe_store:
riscv_probe_store_access:            /* the access: a fault reports this sepc */
	sd a1, 0(a0)
	li a0, 0
	ret
riscv_probe_store_fault:
	li a0, 1
	ret

	/* int riscv_probe_exec(uint64_t va): calls va, which must `ret`. */
	.globl riscv_probe_exec, riscv_probe_exec_fault
riscv_probe_exec:
	addi sp, sp, -16
	sd ra, 0(sp)
	jalr a0
	ld ra, 0(sp)
	addi sp, sp, 16
	li a0, 0
	ret
riscv_probe_exec_fault:
	ld ra, 0(sp)
	addi sp, sp, 16
	li a0, 1
	ret

	/* A `ret` in the kernel's text, for fetch probes of text (kernel/arch.h). */
	.globl arch_text_ret
	.balign 4
arch_text_ret:
	.word 0x00008067             /* jalr x0, 0(ra) */

	/* The bytes of `ret` (c.jr ra is 2 bytes; use the 4-byte jalr). */
	.section .rodata
	.globl arch_ret_insn, arch_ret_insn_len
arch_ret_insn:
	.word 0x00008067             /* jalr x0, 0(ra) */
	.balign 4
arch_ret_insn_len:
	.word 4
