/*
 * asid.h - address-space identifiers (RISC-V ASIDs, x86 PCIDs) shared by
 * the CPUs, with a generation scheme so that an ASID is never reused while
 * a CPU may still hold translations of its previous owner.
 *
 * An ASID tags every translation a CPU caches, so switching tables need
 * not flush.  There are few (RISC-V: 2^ASIDLEN, at most 65536; x86: 4096
 * PCIDs) and tables are many, so they are lent, not owned:
 *
 *  - Each table keeps a `struct ptmm_asid`: its ASID and the *generation*
 *    the ASID was handed out in.  Within one generation every ASID has at
 *    most one owner.
 *  - When the ASIDs of a generation run out, a *rollover* starts the next
 *    generation: every ASID becomes free except the one each CPU runs
 *    right now, which stays with the table it runs (*reserved*: that CPU's
 *    TLB still holds that table's translations under it, and the table's
 *    flushes must go on reaching them).  Every CPU is marked to flush its
 *    whole TLB, all ASIDs, at its next switch.
 *  - A table whose generation is old gets an ASID of the current one at
 *    its next switch: its own again if that is still free or reserved for
 *    it, else a new one.
 * So a CPU loads an ASID either because its table owned it when the CPU
 * last flushed, or after flushing everything: it never uses a translation
 * cached for another table.  And a table's current ASID is the one every
 * CPU running it has loaded, so a flush by that ASID on the CPUs that may
 * cache the table reaches all its translations (the release rule).
 *
 * The scheme is Linux's (arm64 and RISC-V): an embedder with SMP calls
 * ptmm_asid_switch on the CPU that switches, interrupts disabled, before
 * loading the root (satp.ASID, CR3.PCID); its TLB hooks flush by
 * ptmm_asid_of (sfence.vma with the ASID, INVPCID).  ASID 0 is never lent:
 * it is for the kernel's own table or for running without ASIDs.  With too
 * few ASIDs for the CPUs (ptmm_asid_space_init: PTMM_ENOTSUP), run without
 * them: flush the non-global TLB on every switch.
 */
#ifndef PTMM_ASID_H
#define PTMM_ASID_H

#include "mm_types.h"

/* The widest ASID supported (RISC-V's 16 bits). */
#define PTMM_ASID_MAX_BITS 16u

/* Per CPU: what it runs, what it keeps across a rollover, whether it must flush. */
struct ptmm_asid_cpu {
	PTMM_ATOMIC(uint64_t) active;   /* generation | ASID loaded now; 0 during a rollover */
	uint64_t reserved;              /* what it ran at the last rollover (lock held) */
	PTMM_ATOMIC(bool) flush_pending; /* flush every ASID before the next one is used */
};

/* The ASIDs of all CPUs.  Contents private; in this header so it can be embedded. */
struct ptmm_asid_space {
	unsigned bits;      /* ASID width */
	unsigned nr_cpus;
	PTMM_ATOMIC(uint64_t) generation; /* a multiple of 2^bits; never 0 */
	uint64_t *used;     /* bitmap of the ASIDs lent in this generation (lock held) */
	struct ptmm_asid_cpu *cpus;
	uint32_t next;      /* where the search for a free ASID goes on */
	uint64_t rollovers; /* statistics: generations started after the first */
	PTMM_ATOMIC(uint8_t) lock;
};

/* A table's ASID: generation | ASID, 0 before its first switch. */
struct ptmm_asid {
	PTMM_ATOMIC(uint64_t) id;
};

/* Bytes of storage ptmm_asid_space_init needs for `bits` and `nr_cpus` (8-byte aligned). */
uint64_t ptmm_asid_space_bytes(unsigned bits, unsigned nr_cpus);

/*
 * Set up the ASIDs of `nr_cpus` CPUs (numbered 0 .. nr_cpus-1) with
 * `bits`-bit ASIDs, in `storage` (ptmm_asid_space_bytes of it, 8-byte
 * aligned, owned by the space from now on).  Errors (nothing written):
 * PTMM_EINVAL (bits 0 or above PTMM_ASID_MAX_BITS, no CPU, storage NULL or
 * misaligned), PTMM_ENOTSUP (no more ASIDs than CPUs besides ASID 0: a
 * rollover could not leave one free; run without ASIDs).
 */
int ptmm_asid_space_init(struct ptmm_asid_space *s, unsigned bits, unsigned nr_cpus, void *storage);

/* A table's ASID before its first switch (also the zero-initialised state). */
static inline void ptmm_asid_init(struct ptmm_asid *a)
{
	a->id = 0;
}

/*
 * CPU `cpu` switches to the table whose ASID is `a`: returns the ASID to
 * load with its root.  *flush_all set: before using it the CPU must
 * invalidate its whole TLB, every ASID (non-global entries at least: a
 * rollover happened since its last flush).  Call on that CPU, with
 * interrupts disabled, not concurrently with another switch of the same
 * CPU.  Takes the space's lock only when a's generation is old or a
 * rollover is under way.  Cannot fail.
 */
uint32_t ptmm_asid_switch(struct ptmm_asid_space *s, struct ptmm_asid *a, unsigned cpu, bool *flush_all);

/*
 * The ASID a flush for the table must name: the one every CPU running the
 * table has loaded.  0 before the table's first switch (no CPU has cached
 * anything under an ASID of it).
 */
static inline uint32_t ptmm_asid_of(const struct ptmm_asid_space *s, const struct ptmm_asid *a)
{
	uint64_t id = a->id;
	return (uint32_t)(id & (((uint64_t)1 << s->bits) - 1));
}

#endif /* PTMM_ASID_H */
