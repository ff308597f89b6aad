/*
 * asid.c - lending ASIDs to tables by generation (the scheme is in
 * include/ptmm/asid.h).
 *
 * Concurrency.  The fast path of a switch (the table's generation is the
 * current one) takes no lock: it replaces the CPU's `active` with a
 * compare-and-swap from a non-zero value.  A rollover (under the lock)
 * first swaps every CPU's `active` to 0, so a fast path racing with it
 * either completed before (and its ASID is reserved by the rollover) or
 * fails its compare-and-swap and takes the lock.  Everything else (the
 * bitmap, `reserved`, `next`, a table's id when it changes) is written
 * under the lock; a table's id and the generation are also read without
 * it, so they are atomics.
 */
#include <ptmm/asid.h>
#include <ptmm/mm_assert.h>

#include "spinlock.h"

static inline uint64_t asid_mask(const struct ptmm_asid_space *s)
{
	return ((uint64_t)1 << s->bits) - 1;
}

static inline uint64_t nr_words(unsigned bits)
{
	return (((uint64_t)1 << bits) + 63) / 64;
}

uint64_t ptmm_asid_space_bytes(unsigned bits, unsigned nr_cpus)
{
	if (bits == 0 || bits > PTMM_ASID_MAX_BITS)
		return 0;
	return nr_words(bits) * sizeof(uint64_t) + (uint64_t)nr_cpus * sizeof(struct ptmm_asid_cpu);
}

int ptmm_asid_space_init(struct ptmm_asid_space *s, unsigned bits, unsigned nr_cpus, void *storage)
{
	if (bits == 0 || bits > PTMM_ASID_MAX_BITS || nr_cpus == 0 || !storage ||
	    ((uintptr_t)storage & 7u) != 0)
		return PTMM_EINVAL;
	/*
	 * A rollover keeps one ASID per CPU; the table that triggered it
	 * needs one more.  ASID 0 is never lent.
	 */
	if (((uint64_t)1 << bits) - 1 <= nr_cpus)
		return PTMM_ENOTSUP;
	uint64_t *used = storage;
	struct ptmm_asid_cpu *cpus = (struct ptmm_asid_cpu *)(used + nr_words(bits));
	for (uint64_t w = 0; w < nr_words(bits); w++)
		used[w] = 0;
	used[0] = 1; /* ASID 0 */
	for (unsigned c = 0; c < nr_cpus; c++) {
		atomic_store_explicit(&cpus[c].active, 0, memory_order_relaxed);
		cpus[c].reserved = 0;
		atomic_store_explicit(&cpus[c].flush_pending, false, memory_order_relaxed);
	}
	*s = (struct ptmm_asid_space){ .bits = bits, .nr_cpus = nr_cpus, .used = used, .cpus = cpus,
				       .next = 1 };
	atomic_store_explicit(&s->generation, (uint64_t)1 << bits, memory_order_release);
	return PTMM_OK;
}

/* ---- the bitmap (lock held) ---- */

static inline bool asid_test_and_set(struct ptmm_asid_space *s, uint64_t asid)
{
	uint64_t bit = (uint64_t)1 << (asid & 63);
	bool was = (s->used[asid / 64] & bit) != 0;
	s->used[asid / 64] |= bit;
	return was;
}

/* A free ASID of the current generation, marked used; 0 if there is none. */
static uint64_t asid_take_free(struct ptmm_asid_space *s)
{
	uint64_t n = (uint64_t)1 << s->bits;
	for (uint64_t k = 0; k < n; k++) {
		uint64_t asid = (s->next + k) & (n - 1);
		if (!asid_test_and_set(s, asid)) {
			s->next = (uint32_t)((asid + 1) & (n - 1));
			return asid;
		}
	}
	return 0;
}

/*
 * Start the next generation: every ASID free but those the CPUs run
 * (kept as their reserved ones), every CPU to flush at its next switch.
 */
static void asid_rollover(struct ptmm_asid_space *s)
{
	uint64_t gen = atomic_load_explicit(&s->generation, memory_order_relaxed) + ((uint64_t)1 << s->bits);
	atomic_store_explicit(&s->generation, gen, memory_order_relaxed);
	for (uint64_t w = 0; w < nr_words(s->bits); w++)
		s->used[w] = 0;
	s->used[0] = 1;
	for (unsigned c = 0; c < s->nr_cpus; c++) {
		struct ptmm_asid_cpu *cpu = &s->cpus[c];
		uint64_t run = atomic_exchange_explicit(&cpu->active, 0, memory_order_relaxed);
		/*
		 * 0: the CPU has not switched since the last rollover; what it
		 * runs is still the reserved one.
		 */
		if (run == 0)
			run = cpu->reserved;
		if (!PTMM_MUTANT(PTMM_MUT_ASID_RESERVE) && run != 0)
			(void)asid_test_and_set(s, run & asid_mask(s));
		cpu->reserved = run;
		if (!PTMM_MUTANT(PTMM_MUT_ASID_FLUSH))
			atomic_store_explicit(&cpu->flush_pending, true, memory_order_relaxed);
	}
	s->next = 1;
	s->rollovers++;
}

/*
 * If some CPU keeps `old` reserved, it becomes `renewed` (same ASID, this
 * generation) there: true.  All CPUs are looked at, as one table may run
 * on several.
 */
static bool asid_renew_reserved(struct ptmm_asid_space *s, uint64_t old, uint64_t renewed)
{
	bool hit = false;
	for (unsigned c = 0; c < s->nr_cpus; c++)
		if (s->cpus[c].reserved == old) {
			s->cpus[c].reserved = renewed;
			hit = true;
		}
	return hit;
}

/* An id of the current generation for the table whose id is `old` (lock held). */
static uint64_t asid_new_id(struct ptmm_asid_space *s, uint64_t old)
{
	uint64_t gen = atomic_load_explicit(&s->generation, memory_order_relaxed);
	if (old != 0) {
		uint64_t renewed = gen | (old & asid_mask(s));
		/* Its ASID is still in a CPU's TLB for it: it must keep it. */
		if (asid_renew_reserved(s, old, renewed))
			return renewed;
		/* Else keep it if nobody took it in this generation. */
		if (!asid_test_and_set(s, old & asid_mask(s)))
			return renewed;
	}
	uint64_t asid = asid_take_free(s);
	if (asid == 0) {
		asid_rollover(s);
		gen = atomic_load_explicit(&s->generation, memory_order_relaxed);
		asid = asid_take_free(s);
		/* A rollover keeps at most nr_cpus of the 2^bits - 1 (init's rule). */
		PTMM_ASSERT(asid != 0);
	}
	return gen | asid;
}

uint32_t ptmm_asid_switch(struct ptmm_asid_space *s, struct ptmm_asid *a, unsigned cpu, bool *flush_all)
{
	PTMM_ASSERT(cpu < s->nr_cpus);
	struct ptmm_asid_cpu *me = &s->cpus[cpu];
	uint64_t id = atomic_load_explicit(&a->id, memory_order_relaxed);
	uint64_t gen = atomic_load_explicit(&s->generation, memory_order_relaxed);
	uint64_t active = atomic_load_explicit(&me->active, memory_order_relaxed);
	*flush_all = false;
	/*
	 * Fast path: the table's ASID is of this generation and no rollover
	 * has cleared this CPU's active one since (a rollover swaps it to 0
	 * first, so the compare-and-swap fails and we take the lock).
	 */
	if (id != 0 && (id & ~asid_mask(s)) == gen && active != 0 &&
	    atomic_compare_exchange_strong_explicit(&me->active, &active, id, memory_order_relaxed,
						    memory_order_relaxed))
		return (uint32_t)(id & asid_mask(s));

	mm_spin_lock(&s->lock);
	id = atomic_load_explicit(&a->id, memory_order_relaxed);
	gen = atomic_load_explicit(&s->generation, memory_order_relaxed);
	if (id == 0 || (id & ~asid_mask(s)) != gen) {
		id = asid_new_id(s, id);
		atomic_store_explicit(&a->id, id, memory_order_relaxed);
	}
	if (atomic_exchange_explicit(&me->flush_pending, false, memory_order_relaxed))
		*flush_all = true;
	atomic_store_explicit(&me->active, id, memory_order_relaxed);
	mm_spin_unlock(&s->lock);
	return (uint32_t)(id & asid_mask(s));
}
