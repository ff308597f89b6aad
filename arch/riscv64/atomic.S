/*
 * atomic.S - the byte-sized atomic helpers GCC 12 calls on RISC-V.
 *
 * The A extension has word and doubleword AMOs only; for an _Atomic
 * uint8_t (the mm's node and allocator locks, slot flags) GCC 12 emits
 * calls to libatomic, which a freestanding kernel does not link.  These are
 * the three it needs, each done on the aligned 32-bit word that holds the
 * byte, with acquire+release ordering (at least what any memorder asks):
 *
 *   uint8_t __atomic_exchange_1(volatile void *p, uint8_t v, int order)
 *   uint8_t __atomic_fetch_or_1(volatile void *p, uint8_t v, int order)
 *   uint8_t __atomic_fetch_and_1(volatile void *p, uint8_t v, int order)
 *
 * Common prologue: t0 = bit shift of the byte in its word, a0 = the word's
 * address, t1 = mask of the byte, a1 = v shifted into place.
 */
	.text

.macro byte_in_word
	andi t0, a0, 3
	slli t0, t0, 3
	andi a0, a0, -4
	li t1, 0xff
	sll t1, t1, t0
	andi a1, a1, 0xff
	sll a1, a1, t0
.endm

/* Return the old byte: a0 = (old word t2 >> shift) & 0xff. */
.macro old_byte
	srl a0, t2, t0
	andi a0, a0, 0xff
	ret
.endm

	.globl __atomic_exchange_1
__atomic_exchange_1:
	byte_in_word
	not t3, t1
1:	lr.w.aqrl t2, (a0)
	and t4, t2, t3		/* other bytes kept */
	or t4, t4, a1		/* new byte in */
	sc.w.rl t5, t4, (a0)
	bnez t5, 1b
	old_byte

	.globl __atomic_fetch_or_1
__atomic_fetch_or_1:
	byte_in_word
	amoor.w.aqrl t2, a1, (a0)	/* zeros elsewhere leave other bytes alone */
	old_byte

	.globl __atomic_fetch_and_1
__atomic_fetch_and_1:
	byte_in_word
	not t3, t1
	or a1, a1, t3			/* ones elsewhere leave other bytes alone */
	amoand.w.aqrl t2, a1, (a0)
	old_byte
