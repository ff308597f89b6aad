/* embed.h - what the arch-neutral embed.c needs from tlb_<arch>.c. */
#ifndef EMBED_H
#define EMBED_H

#include <ptmm/mm.h>

/* The encoder with this CPU's features and the TLB hooks. */
void embed_arch_init(struct ptmm_arch *a);
/* Stop this CPU for good. */
__attribute__((__noreturn__)) void embed_halt(void);

#endif /* EMBED_H */
