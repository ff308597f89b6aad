/*
 * atomic_riscv64.c - the byte-sized atomics GCC 12 calls on RISC-V.
 *
 * The A extension has 32- and 64-bit AMOs only, so for the mm's
 * _Atomic uint8_t fields (node and allocator locks, slot flags) GCC emits
 * calls to libatomic, which a freestanding image does not link.  These are
 * the three the mm uses (found by linking without them), each done on the
 * aligned 32-bit word holding the byte, with sequentially consistent
 * ordering, at least what any `order` asks for.
 */
#include <stdbool.h>
#include <stdint.h>

/* The word holding the byte at `p`, and the byte's bit shift in it. */
static uint32_t *word_of(volatile void *p, unsigned *shift)
{
	*shift = (unsigned)((uintptr_t)p & 3) * 8;
	return (uint32_t *)((uintptr_t)p & ~(uintptr_t)3);
}

uint8_t __atomic_fetch_or_1(volatile void *p, uint8_t v, int order)
{
	unsigned shift;
	uint32_t *w = word_of(p, &shift);

	(void)order;
	return (uint8_t)(__atomic_fetch_or(w, (uint32_t)v << shift, __ATOMIC_SEQ_CST) >> shift);
}

uint8_t __atomic_fetch_and_1(volatile void *p, uint8_t v, int order)
{
	unsigned shift;
	uint32_t *w = word_of(p, &shift);
	uint32_t keep = ~((uint32_t)0xff << shift); /* the other bytes stay */

	(void)order;
	return (uint8_t)(__atomic_fetch_and(w, ((uint32_t)v << shift) | keep, __ATOMIC_SEQ_CST) >>
			 shift);
}

uint8_t __atomic_exchange_1(volatile void *p, uint8_t v, int order)
{
	unsigned shift;
	uint32_t *w = word_of(p, &shift);
	uint32_t mask = (uint32_t)0xff << shift;
	uint32_t old = __atomic_load_n(w, __ATOMIC_RELAXED);

	(void)order;
	while (!__atomic_compare_exchange_n(w, &old, (old & ~mask) | ((uint32_t)v << shift), true,
					    __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
		;
	return (uint8_t)(old >> shift);
}
