/*
 * trap.S - exception entry for vectors 0..31 and the arch_probe() helpers.
 *
 * Every stub leaves the same frame: vector, error code (0 when the CPU
 * pushes none), then the CPU's RIP, CS, RFLAGS, RSP, SS; x86_trap_common
 * pushes the general registers on top and calls x86_trap(frame).  The
 * handler may rewrite frame->rip / frame->rsp (probe recovery); iretq then
 * resumes there.
 */
	.text

/* Vectors whose exception pushes an error code: 8, 10-14, 17, 21, 29, 30. */
.macro STUB vec
	.p2align 4
x86_trap_stub_\vec:
	.if (\vec == 8) || (\vec >= 10 && \vec <= 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
	.else
	pushq $0
	.endif
	pushq $\vec
	jmp x86_trap_common
.endm

.altmacro
.set vec, 0
.rept 32
	STUB %vec
	.set vec, vec + 1
.endr

/* The IPI (X86_VEC_IPI, 0xf0) and the LAPIC's spurious vector (0xff): no error code. */
	.globl x86_trap_stub_ipi, x86_trap_stub_spurious
	.p2align 4
x86_trap_stub_ipi:
	pushq $0
	pushq $0xf0
	jmp x86_trap_common
	.p2align 4
x86_trap_stub_spurious:
	pushq $0
	pushq $0xff
	jmp x86_trap_common

x86_trap_common:
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	cld
	/*
	 * Close any user access window (EFLAGS.AC, the SMAP override): the
	 * CPU does not clear AC on an exception, and a handler must never run
	 * with it.  pushf/popf rather than clac, which is #UD without SMAP.
	 * iretq restores the interrupted RFLAGS, AC included.
	 */
	pushfq
	andq $~(1 << 18), (%rsp)
	popfq
	movq %rsp, %rdi
	call x86_trap
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	addq $16, %rsp          /* vector, error code */
	iretq

	.section .rodata
	.p2align 3
	.globl x86_trap_stubs
x86_trap_stubs:
.macro STUBADDR vec
	.quad x86_trap_stub_\vec
.endm
.set vec, 0
.rept 32
	STUBADDR %vec
	.set vec, vec + 1
.endr

/*
 * Probes.  Each records its RSP at entry in this CPU's probe_sp (%gs:8,
 * struct x86_percpu); a fault inside
 * resumes at x86_probe_fault with that RSP (returns 1 to the caller).
 * Without a fault each returns 0.
 *   x86_probe_read(va, *out):   *out = *(u64 *)va
 *   x86_probe_write(va, *in):   *(u64 *)va = *in
 *   x86_probe_exec(va):         call va (code there must be `ret`)
 * x86_probe_read_access / x86_probe_write_access label the one instruction
 * that touches va: a fault of that probe must report it as RIP.
 */
	.text
	.globl x86_probe_read, x86_probe_write, x86_probe_exec, x86_probe_fault
	.globl x86_probe_read_access, x86_probe_write_access
	.globl x86_probe_text_start, x86_probe_text_end
x86_probe_text_start:
x86_probe_read:
	movq %rsp, %gs:8
x86_probe_read_access:
	movq (%rdi), %rax
	movq %rax, (%rsi)
	xorl %eax, %eax
	ret
x86_probe_write:
	movq %rsp, %gs:8
	movq (%rsi), %rax
x86_probe_write_access:
	movq %rax, (%rdi)
	xorl %eax, %eax
	ret
x86_probe_exec:
	movq %rsp, %gs:8
	call *%rdi
	xorl %eax, %eax
	ret
x86_probe_fault:
	movl $1, %eax
	ret
x86_probe_text_end:

/* A `ret` in the kernel's text, for fetch probes of text (kernel/arch.h). */
	.globl arch_text_ret
arch_text_ret:
	ret

	.section .note.GNU-stack, "", @progbits
