/*
 * spinlock.h - a one-byte test-and-test-and-set spin lock on C11 atomics.
 * Used for the allocator's free lists and for page-table nodes (the lock
 * byte lives in the node's frame slot, so it outlives the node itself).
 */
#ifndef MM_SPINLOCK_H
#define MM_SPINLOCK_H

#include <stdatomic.h>
#include <stdint.h>

static inline void mm_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static inline void mm_spin_lock(_Atomic uint8_t *l)
{
	while (atomic_exchange_explicit(l, 1, memory_order_acquire)) {
		while (atomic_load_explicit(l, memory_order_relaxed))
			mm_cpu_relax();
	}
}

static inline void mm_spin_unlock(_Atomic uint8_t *l)
{
	atomic_store_explicit(l, 0, memory_order_release);
}

#endif /* MM_SPINLOCK_H */
