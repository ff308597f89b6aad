/*
 * eva_builtins.h - the GCC builtins that mm/ and include/ptmm/ use, given
 * to Frama-C (force-included into every file of an Eva run:
 * `-cpp-extra-args="-include tests/verify/eva_builtins.h"`).  Frama-C's
 * libc has neither code nor specification for them; without these, each
 * call would be an implicit `int` function whose generated `assigns` lets
 * it write anything (and __atomic_load_n's result would be truncated).
 *
 * The C11 atomics too: Frama-C's libc/stdatomic.c implements a load as a
 * read through a volatile pointer, which Eva takes to be any value, so every
 * flag, count and generation read atomically would be unknown and the
 * allocator's lists imprecise from the first step.  The analysis is
 * single-threaded (the mm's concurrency is TSan's and the stress tests'
 * business): an atomic access is a plain one here.  (PTMM_ATOMIC(T) is the
 * plain T under Frama-C, include/ptmm/mm_types.h.)
 */
#ifndef EVA_BUILTINS_H
#define EVA_BUILTINS_H

#include <stdatomic.h> /* Frama-C's: memory_order; its operations are replaced below */
#include <stdint.h>

#undef atomic_load
#undef atomic_load_explicit
#undef atomic_store
#undef atomic_store_explicit
#undef atomic_exchange_explicit
#undef atomic_fetch_add
#undef atomic_fetch_add_explicit
#undef atomic_fetch_or_explicit
#undef atomic_fetch_and_explicit
#define atomic_load(obj) (*(obj))
#define atomic_load_explicit(obj, order) ((void)(order), *(obj))
#define atomic_store(obj, v) ((void)(*(obj) = (v)))
#define atomic_store_explicit(obj, v, order) ((void)(order), (void)(*(obj) = (v)))
/* Read-modify-write: the old value, then the update (`op` the plain operator's assignment). */
#define EVA_RMW(obj, v, op)                                                                     \
	__extension__({                                                                         \
		__typeof__(*(obj)) *eva_p_ = (obj);                                              \
		__typeof__(*(obj)) eva_old_ = *eva_p_;                                           \
		*eva_p_ op (v);                                                                  \
		eva_old_;                                                                        \
	})
#define atomic_exchange_explicit(obj, v, order) ((void)(order), EVA_RMW(obj, v, =))
#define atomic_fetch_add(obj, v) EVA_RMW(obj, v, +=)
#define atomic_fetch_add_explicit(obj, v, order) ((void)(order), EVA_RMW(obj, v, +=))
#define atomic_fetch_or_explicit(obj, v, order) ((void)(order), EVA_RMW(obj, v, |=))
#define atomic_fetch_and_explicit(obj, v, order) ((void)(order), EVA_RMW(obj, v, &=))

/* Only page-table entries (uint64_t) are accessed through these (include/ptmm/pte.h). */
static inline uint64_t __atomic_load_n(const uint64_t *p, int order)
{
	(void)order;
	return *p;
}

static inline void __atomic_store_n(uint64_t *p, uint64_t v, int order)
{
	(void)order;
	*p = v;
}

/* The spin-wait hint (mm/spinlock.h): nothing observable. */
static inline void __builtin_ia32_pause(void)
{
}

/* Count trailing zeros: undefined for 0 in GCC, so required non-zero here. */
/*@ requires x != 0; */
static inline int __builtin_ctzll(unsigned long long x)
{
	int n = 0;
	while ((x & 1) == 0) {
		x >>= 1;
		n++;
	}
	return n;
}

#endif /* EVA_BUILTINS_H */
