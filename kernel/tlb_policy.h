/*
 * tlb_policy.h - when the kernels' TLB hooks replace a per-page flush of a
 * range by one full flush: the one place this policy lives, for both
 * architectures (each arch's tlb.c asks it; neither keeps its own number).
 *
 * The thresholds are the ones the reference kernels settled on: Linux x86
 * flushes everything above 33 pages (tlb_single_page_flush_ceiling: past
 * that, refilling the TLB costs less than the invlpg loop), Linux RISC-V
 * above 64 (tlb_flush_all_threshold).  A range that wraps the top of the
 * address space is flushed whole on both.
 */
#ifndef KERNEL_TLB_POLICY_H
#define KERNEL_TLB_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#if defined(__x86_64__)
#define TLB_FLUSH_ALL_ABOVE_PAGES 33u
#elif defined(__riscv)
#define TLB_FLUSH_ALL_ABOVE_PAGES 64u
#else
#error "tlb_policy.h: no flush-all threshold for this architecture"
#endif

/* Number of 4 KiB pages [va, va+len) touches when flushed page by page. */
static inline uint64_t tlb_range_pages(uint64_t len)
{
	return (len + 4095) / 4096;
}

/* True when [va, va+len) is better (or only) flushed with one full flush. */
static inline bool tlb_range_wants_flush_all(uint64_t va, uint64_t len)
{
	return tlb_range_pages(len) > TLB_FLUSH_ALL_ABOVE_PAGES || va + len < va;
}

#endif /* KERNEL_TLB_POLICY_H */
