/*
 * test_asid.c - the ASID scheme (include/ptmm/asid.h) against a model of
 * per-CPU TLBs whose entries are tagged by ASID.
 *
 * The model: each simulated CPU runs one table under the ASID the scheme
 * gave it, and caches translations of that table tagged with that ASID
 * (a touch).  A flush of a table (what an unmap's shootdown does) removes,
 * on every CPU, the entries tagged with the table's current ASID
 * (ptmm_asid_of), and makes every entry of the table cached before it
 * stale.  A switch that answers flush_all empties the CPU's TLB.
 *
 * The property, checked after every step on every CPU: every entry tagged
 * with the ASID the CPU has loaded belongs to the table it runs and was
 * cached after that table's last flush.  It fails if an ASID is reused
 * for another table without a flush, or if a table's ASID moves away from
 * one a CPU still runs it with (its flushes would then miss that CPU).
 * The two rollover mutations (mm_assert.h) must each make it fail.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define MAX_CPUS 4
#define MAX_TABLES 16
#define TLB_ENTRIES 32

struct tlb_entry {
	bool valid;
	uint32_t tag;
	unsigned table;
	uint64_t epoch; /* the table's flush count when cached */
};

struct sim {
	struct ptmm_asid_space s;
	uint64_t storage[4096];
	unsigned nr_cpus, nr_tables;
	struct ptmm_asid t[MAX_TABLES];
	uint64_t epoch[MAX_TABLES];
	int running[MAX_CPUS];    /* table, or -1 */
	uint32_t loaded[MAX_CPUS]; /* the ASID the CPU loaded */
	struct tlb_entry tlb[MAX_CPUS][TLB_ENTRIES];
	unsigned flushes_all;
	uint64_t rng;
};

static uint64_t next_rand(struct sim *m)
{
	m->rng ^= m->rng << 13;
	m->rng ^= m->rng >> 7;
	m->rng ^= m->rng << 17;
	return m->rng;
}

static void sim_init(struct sim *m, unsigned bits, unsigned cpus, unsigned tables, uint64_t seed)
{
	memset(m, 0, sizeof(*m));
	assert_true(ptmm_asid_space_bytes(bits, cpus) <= sizeof(m->storage));
	assert_int_equal(ptmm_asid_space_init(&m->s, bits, cpus, m->storage), PTMM_OK);
	m->nr_cpus = cpus;
	m->nr_tables = tables;
	for (unsigned i = 0; i < tables; i++)
		ptmm_asid_init(&m->t[i]);
	for (unsigned c = 0; c < cpus; c++)
		m->running[c] = -1;
	m->rng = seed | 1;
}

static void sim_switch(struct sim *m, unsigned cpu, unsigned table)
{
	bool flush = false;
	uint32_t a = ptmm_asid_switch(&m->s, &m->t[table], cpu, &flush);
	assert_true(a != 0 && a < (1u << m->s.bits));
	if (flush) {
		memset(m->tlb[cpu], 0, sizeof(m->tlb[cpu]));
		m->flushes_all++;
	}
	m->running[cpu] = (int)table;
	m->loaded[cpu] = a;
}

static void sim_touch(struct sim *m, unsigned cpu)
{
	if (m->running[cpu] < 0)
		return;
	unsigned t = (unsigned)m->running[cpu];
	m->tlb[cpu][next_rand(m) % TLB_ENTRIES] =
		(struct tlb_entry){ .valid = true, .tag = m->loaded[cpu], .table = t, .epoch = m->epoch[t] };
}

static void sim_flush_table(struct sim *m, unsigned table)
{
	uint32_t a = ptmm_asid_of(&m->s, &m->t[table]);
	for (unsigned c = 0; c < m->nr_cpus; c++)
		for (unsigned k = 0; k < TLB_ENTRIES; k++)
			if (a != 0 && m->tlb[c][k].valid && m->tlb[c][k].tag == a)
				m->tlb[c][k].valid = false;
	m->epoch[table]++;
}

/* The property of the file's comment; false (and a message) on the first violation. */
static bool sim_ok(const struct sim *m, unsigned step)
{
	for (unsigned c = 0; c < m->nr_cpus; c++) {
		if (m->running[c] < 0)
			continue;
		unsigned t = (unsigned)m->running[c];
		for (unsigned k = 0; k < TLB_ENTRIES; k++) {
			const struct tlb_entry *e = &m->tlb[c][k];
			if (!e->valid || e->tag != m->loaded[c])
				continue;
			if (e->table != t || e->epoch != m->epoch[t]) {
				printf("# step %u: cpu %u runs table %u under ASID %u and can use an entry of "
				       "table %u cached at flush %llu (table's flushes: %llu)\n",
				       step, c, t, m->loaded[c], e->table, (unsigned long long)e->epoch,
				       (unsigned long long)m->epoch[e->table]);
				return false;
			}
		}
	}
	return true;
}

/* Random steps; returns the step of the first violation, or 0. */
static unsigned sim_run(struct sim *m, unsigned steps)
{
	for (unsigned i = 1; i <= steps; i++) {
		uint64_t r = next_rand(m);
		unsigned cpu = (unsigned)(r % m->nr_cpus);
		switch ((r >> 8) % 4) {
		case 0:
			sim_switch(m, cpu, (unsigned)((r >> 16) % m->nr_tables));
			break;
		case 1:
		case 2:
			sim_touch(m, cpu);
			break;
		default:
			sim_flush_table(m, (unsigned)((r >> 16) % m->nr_tables));
			break;
		}
		if (!sim_ok(m, i))
			return i;
	}
	return 0;
}

/* Bad arguments are refused with the documented code and write nothing. */
static void test_init_errors(void **state)
{
	(void)state;
	static uint64_t storage[4096];
	struct ptmm_asid_space s, before;
	memset(&s, 0x5a, sizeof(s));
	before = s;
	assert_int_equal(ptmm_asid_space_init(&s, 0, 1, storage), PTMM_EINVAL);
	assert_int_equal(ptmm_asid_space_init(&s, PTMM_ASID_MAX_BITS + 1, 1, storage), PTMM_EINVAL);
	assert_int_equal(ptmm_asid_space_init(&s, 8, 0, storage), PTMM_EINVAL);
	assert_int_equal(ptmm_asid_space_init(&s, 8, 1, NULL), PTMM_EINVAL);
	assert_int_equal(ptmm_asid_space_init(&s, 8, 1, (char *)storage + 4), PTMM_EINVAL);
	/* 2^bits - 1 lendable ASIDs must exceed the CPUs. */
	assert_int_equal(ptmm_asid_space_init(&s, 1, 1, storage), PTMM_ENOTSUP);
	assert_int_equal(ptmm_asid_space_init(&s, 2, 3, storage), PTMM_ENOTSUP);
	assert_memory_equal(&s, &before, sizeof(s));
	assert_int_equal(ptmm_asid_space_bytes(0, 1), 0);
	assert_int_equal(ptmm_asid_space_init(&s, 2, 2, storage), PTMM_OK);
	assert_int_equal(ptmm_asid_space_init(&s, PTMM_ASID_MAX_BITS, MAX_CPUS, storage), PTMM_OK);
	assert_true(ptmm_asid_space_bytes(PTMM_ASID_MAX_BITS, MAX_CPUS) <= sizeof(storage));
}

/* Within a generation a table keeps its ASID, tables get distinct ones, nothing is flushed. */
static void test_one_generation(void **state)
{
	(void)state;
	struct sim *m = calloc(1, sizeof(*m));
	sim_init(m, 4, 2, 8, 1);
	uint32_t seen[8];
	for (unsigned t = 0; t < 8; t++) {
		assert_int_equal(ptmm_asid_of(&m->s, &m->t[t]), 0);
		sim_switch(m, t % 2, t);
		seen[t] = m->loaded[t % 2];
		assert_int_equal(ptmm_asid_of(&m->s, &m->t[t]), seen[t]);
		for (unsigned u = 0; u < t; u++)
			assert_int_not_equal(seen[u], seen[t]);
	}
	for (unsigned t = 0; t < 8; t++) {
		sim_switch(m, (t + 1) % 2, t);
		assert_int_equal(m->loaded[(t + 1) % 2], seen[t]);
	}
	assert_int_equal(m->flushes_all, 0);
	assert_int_equal(m->s.rollovers, 0);
	free(m);
}

/*
 * A rollover keeps the ASID each CPU runs with its table, hands the others
 * out again, and makes every CPU flush once, at its next switch.
 */
static void test_rollover_keeps_running(void **state)
{
	(void)state;
	struct sim *m = calloc(1, sizeof(*m));
	sim_init(m, 2, 2, 4, 1); /* ASIDs 1, 2, 3 */
	sim_switch(m, 0, 0);
	sim_switch(m, 1, 1);
	sim_switch(m, 0, 2);
	uint32_t a1 = m->loaded[1], a2 = m->loaded[0];
	assert_int_equal(m->s.rollovers, 0);
	sim_switch(m, 0, 3); /* none free: rollover */
	assert_int_equal(m->s.rollovers, 1);
	assert_int_equal(m->flushes_all, 1);
	assert_int_not_equal(m->loaded[0], a1); /* CPU 1 still runs table 1 under a1 */
	assert_int_not_equal(m->loaded[0], a2); /* and CPU 0 ran table 2 under a2 */
	sim_switch(m, 1, 1); /* table 1 keeps a1; CPU 1 flushes now */
	assert_int_equal(m->loaded[1], a1);
	assert_int_equal(m->flushes_all, 2);
	sim_switch(m, 1, 2); /* table 2 keeps a2 (reserved by CPU 0 at the rollover) */
	assert_int_equal(m->loaded[1], a2);
	assert_int_equal(m->flushes_all, 2);
	assert_int_equal(m->s.rollovers, 1);
	free(m);
}

static const struct {
	unsigned bits, cpus, tables;
} worlds[] = { { 2, 2, 6 }, { 3, 2, 12 }, { 3, 4, 12 }, { 4, 4, 16 }, { 3, 3, 10 } };

/* The property holds over long random runs in every world, through many rollovers. */
static void test_random_model(void **state)
{
	(void)state;
	struct sim *m = calloc(1, sizeof(*m));
	for (unsigned w = 0; w < sizeof(worlds) / sizeof(worlds[0]); w++)
		for (uint64_t seed = 1; seed <= 20; seed++) {
			sim_init(m, worlds[w].bits, worlds[w].cpus, worlds[w].tables, seed * 7919);
			assert_int_equal(sim_run(m, 20000), 0);
			assert_true(m->s.rollovers > 0);
		}
	free(m);
}

/* Each rollover mutation is caught by the model in some world and seed. */
static void test_mutations_caught(void **state)
{
	(void)state;
	struct sim *m = calloc(1, sizeof(*m));
	static const unsigned mutants[] = { PTMM_MUT_ASID_FLUSH, PTMM_MUT_ASID_RESERVE };
	for (unsigned k = 0; k < 2; k++) {
		unsigned caught = 0;
		ptmm_mutation = mutants[k];
		for (unsigned w = 0; w < sizeof(worlds) / sizeof(worlds[0]); w++)
			for (uint64_t seed = 1; seed <= 5; seed++) {
				sim_init(m, worlds[w].bits, worlds[w].cpus, worlds[w].tables, seed * 7919);
				caught += sim_run(m, 20000) != 0;
			}
		ptmm_mutation = PTMM_MUT_NONE;
		printf("# mutant %u: caught in %u of %zu runs\n", mutants[k], caught,
		       5 * sizeof(worlds) / sizeof(worlds[0]));
		assert_true(caught > 0);
	}
	free(m);
}

/*
 * Threads as CPUs, for ThreadSanitizer and for the race between the lock-
 * free fast path and a rollover: while a CPU runs a table, the table's
 * ASID stays the one the CPU loaded, whatever the others do.
 */
struct thread_arg {
	struct ptmm_asid_space *s;
	struct ptmm_asid *t;
	unsigned cpu, nr_tables;
	unsigned bad;
	uint64_t rng;
};

static void *cpu_thread(void *p)
{
	struct thread_arg *a = p;
	for (unsigned i = 0; i < 20000; i++) {
		a->rng ^= a->rng << 13;
		a->rng ^= a->rng >> 7;
		a->rng ^= a->rng << 17;
		struct ptmm_asid *t = &a->t[a->rng % a->nr_tables];
		bool flush;
		uint32_t got = ptmm_asid_switch(a->s, t, a->cpu, &flush);
		for (unsigned k = 0; k < 4; k++)
			a->bad += ptmm_asid_of(a->s, t) != got;
	}
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	static uint64_t storage[64];
	struct ptmm_asid_space s;
	struct ptmm_asid t[8];
	assert_int_equal(ptmm_asid_space_init(&s, 3, MAX_CPUS, storage), PTMM_OK);
	for (unsigned i = 0; i < 8; i++)
		ptmm_asid_init(&t[i]);
	pthread_t th[MAX_CPUS];
	struct thread_arg args[MAX_CPUS];
	for (unsigned c = 0; c < MAX_CPUS; c++) {
		args[c] = (struct thread_arg){ .s = &s, .t = t, .cpu = c, .nr_tables = 8, .rng = 77 + c };
		assert_int_equal(pthread_create(&th[c], NULL, cpu_thread, &args[c]), 0);
	}
	unsigned bad = 0;
	for (unsigned c = 0; c < MAX_CPUS; c++) {
		pthread_join(th[c], NULL);
		bad += args[c].bad;
	}
	assert_int_equal(bad, 0);
	assert_true(s.rollovers > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_errors),
		cmocka_unit_test(test_one_generation),
		cmocka_unit_test(test_rollover_keeps_running),
		cmocka_unit_test(test_random_model),
		cmocka_unit_test(test_mutations_caught),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
