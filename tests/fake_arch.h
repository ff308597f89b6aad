/*
 * fake_arch.h - "fake48" and "fake57", a paging format that exists only in
 * the host tests.
 *
 * fake48 has four levels and 48-bit VAs, fake57 five levels and 57-bit VAs,
 * leaves at every level (4K .. 512G, 4K .. 256T) like RISC-V, but an entry
 * layout unlike either real format and, above
 * all, an encoding that differs per level: the same property gives a
 * different leaf at each level, each table entry carries its level, and a
 * leaf decoded at a level other than its own reads as another property.
 * A wrong-level call in the mm (a template or a decode for the parent
 * instead of the child, ...) therefore changes what the tests and the
 * checker see, where the real encoders (whose bits barely depend on the
 * level) would let it pass.  The layout is described in fake_arch.c.
 */
#ifndef TESTS_FAKE_ARCH_H
#define TESTS_FAKE_ARCH_H

#include <ptmm/arch.h>

/*
 * Fill `a` for fake48 (4 levels) or fake57 (5 levels).  They have no
 * optional features: every bit of `features` is dropped.  `tlb` is kept by
 * reference.
 */
void mm_arch_fake48_init(struct ptmm_arch *a, uint32_t features, const struct ptmm_tlb_ops *tlb);
void mm_arch_fake57_init(struct ptmm_arch *a, uint32_t features, const struct ptmm_tlb_ops *tlb);

#endif /* TESTS_FAKE_ARCH_H */
