/*
 * entry.S - PVH entry: 32-bit protected mode, paging off, ebx = PA of the
 * hvm_start_info.  Chooses 4- or 5-level paging, builds static boot page
 * tables in .bss, switches to long mode and jumps to the higher half, then
 * calls x86_boot_main() (arch.c).
 *
 * The mode: 5-level (CR4.LA57) when CPUID.(7,0):ECX[16] reports LA57 and
 * the command line (the start info's cmdline_paddr) has no `paging=` word
 * or `paging=x86_64-la57`; 4-level otherwise.  CR4.LA57 cannot change in
 * long mode, so this is the only place it can be decided.  Entering long
 * mode in 4-level is always possible, so bad input is not judged here:
 * x86_boot_main() refuses an unknown name, or x86_64-la57 on a CPU without
 * LA57, with a message (x86_paging_request tells it what was seen).
 *
 * Boot page tables (all 2 MiB leaves, no U, no G):
 *   [0, 1 GiB)                      -> PA [0, 1 GiB)   identity, only so the
 *                                      instruction after CR0.PG keeps running
 *   0xffffffff80000000 + [0, 1 GiB) -> PA [0, 1 GiB)   the kernel image
 *   DIRECT_MAP_BASE + [0, 4 GiB)    -> PA [0, 4 GiB)   the direct map, at root
 *                                      entry 256 (kernel_layout_of: the base
 *                                      of the kernel half, both modes)
 * 4-level: PML4 [0] identity, [256] direct map, [511] image.  5-level: PML5
 * [0] and [511] -> that PML4 (its [0] is the identity, its [511] the image;
 * the other aliases it creates are harmless and die with the boot table),
 * [256] -> a PML4 whose [0] is the direct map.
 * The identity window dies when kmain activates the mm's page table, so
 * nothing after the jump to the higher half may use a low address.
 */
#define KERNEL_VMA 0xffffffff80000000
#define PA(sym) ((sym) - KERNEL_VMA)
#define PTE_P_W 0x3
#define PTE_P_W_PS 0x83
#define BOOT_STACK_SIZE 16384
#define CR4_PAE (1 << 5)
#define CR4_LA57 (1 << 12)
#define PVH_CMDLINE_PADDR 0x18
/* x86_paging_request values (arch.c reads them) */
#define REQ_NONE 0
#define REQ_OTHER 1 /* a paging= word that is not x86_64-la57 */
#define REQ_LA57 2

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
	movl $PA(boot_stack_top), %esp

	/* CPUID.(7,0):ECX[16]: LA57. */
	xorl %eax, %eax
	cpuid
	cmpl $7, %eax
	jb 1f
	movl $7, %eax
	xorl %ecx, %ecx
	cpuid
	shrl $16, %ecx
	andl $1, %ecx
	movl %ecx, PA(x86_la57_cpu)
1:
	/* The paging= word, then the mode: LA57 if the CPU has it and nothing else was asked. */
	movl PVH_CMDLINE_PADDR(%esi), %ebx
	cmpl $0, PVH_CMDLINE_PADDR + 4(%esi)
	je 1f
	xorl %ebx, %ebx                 /* above 4 GiB: unreachable here, treated as absent */
1:	call paging_request
	movl %eax, PA(x86_paging_request)
	cmpl $0, PA(x86_la57_cpu)
	je 1f
	cmpl $REQ_OTHER, %eax
	je 1f
	movl $1, PA(x86_la57_on)
1:

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

	/* CR4.PAE (+ LA57 with PML5 as the root), CR3. */
	movl %cr4, %eax
	orl $CR4_PAE, %eax
	movl $PA(boot_pml4), %edx
	cmpl $0, PA(x86_la57_on)
	je 1f
	/* PML5: [0] and [511] the PML4 above, [256] the direct map's PML4. */
	movl $PA(boot_pml4) + PTE_P_W, %ecx
	movl %ecx, PA(boot_pml5)
	movl %ecx, PA(boot_pml5) + 511 * 8
	movl $PA(boot_pdpt_dm) + PTE_P_W, %ecx
	movl %ecx, PA(boot_pml4_dm)
	movl $PA(boot_pml4_dm) + PTE_P_W, %ecx
	movl %ecx, PA(boot_pml5) + 256 * 8
	orl $CR4_LA57, %eax
	movl $PA(boot_pml5), %edx
1:	movl %eax, %cr4
	movl %edx, %cr3

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

/*
 * eax = paging_request(ebx = NUL-terminated command line or 0): REQ_NONE
 * if no word starts with `paging=` (words are space-separated; a word
 * starting with `script=` ends the search: the rest is the script's),
 * REQ_LA57 if the first such word is exactly `paging=x86_64-la57`,
 * REQ_OTHER for any other value.  Clobbers ecx, edx, edi.
 */
paging_request:
	xorl %eax, %eax
	testl %ebx, %ebx
	jz 9f
	movl %ebx, %edx
1:	cmpb $0, (%edx)
	je 9f
	cmpl %ebx, %edx
	je 2f
	cmpb $' ', -1(%edx)
	jne 3f
2:	movl $PA(word_script), %edi
	call prefix_eq
	je 9f
	movl $PA(word_paging), %edi
	call prefix_eq
	jne 3f
	movl $REQ_OTHER, %eax
	addl $7, %edx
	movl $PA(word_la57), %edi
	call prefix_eq
	jne 9f
	movb 11(%edx), %cl              /* the name must end there */
	testb %cl, %cl
	je 4f
	cmpb $' ', %cl
	jne 9f
4:	movl $REQ_LA57, %eax
	jmp 9f
3:	incl %edx
	jmp 1b
9:	ret

/* ZF = 1 if the text at edx starts with the NUL-terminated literal at edi. Clobbers ecx, edi. */
prefix_eq:
	pushl %edx
1:	movb (%edi), %cl
	testb %cl, %cl
	jz 2f
	cmpb (%edx), %cl
	jne 2f
	incl %edi
	incl %edx
	jmp 1b
2:	popl %edx                       /* flags survive pop and ret */
	ret

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

/*
 * An application processor from the trampoline (trampoline.S): long mode
 * on the boot table, interrupts off.  Its stack and CPU index are what
 * smp.c set for it before the SIPI (one AP starts at a time).
 */
	.globl x86_ap_entry64
x86_ap_entry64:
	movq x86_ap_boot_stack(%rip), %rsp
	xorq %rbp, %rbp
	movq x86_ap_boot_cpu(%rip), %rdi
	call x86_ap_main
5:	cli
	hlt
	jmp 5b

	.data
	.p2align 3
	/*
	 * null, 64-bit code (0x08), data (0x10), TSS (0x18, 16 bytes): the boot
	 * GDT, and the template of each CPU's own (idt.c x86_cpu_tables_init
	 * copies the first three and puts the CPU's TSS in its copy).
	 */
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

	.section .rodata
word_script:	.asciz "script="
word_paging:	.asciz "paging="
word_la57:	.asciz "x86_64-la57"

	.bss
	/* What the entry saw and did, for arch.c (0 or 1; request: REQ_*). */
	.globl x86_la57_cpu, x86_la57_on, x86_paging_request
	.p2align 2
x86_la57_cpu:	.skip 4
x86_la57_on:	.skip 4
x86_paging_request:	.skip 4
	.p2align 12
boot_pml5:	.skip 4096
boot_pml4_dm:	.skip 4096
boot_pml4:	.skip 4096
boot_pdpt_low:	.skip 4096
boot_pdpt_high:	.skip 4096
boot_pdpt_dm:	.skip 4096
boot_pd_low:	.skip 4096
	.globl x86_boot_pd_dm   /* smp.c makes the LAPIC's 2 MiB uncached for the APs */
x86_boot_pd_dm:
boot_pd_dm:	.skip 4 * 4096
	.p2align 4
boot_stack:	.skip BOOT_STACK_SIZE
boot_stack_top:

	.section .note.GNU-stack, "", @progbits
