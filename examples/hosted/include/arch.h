/*
 * arch.h - the example program's own arch.h.  A kernel has one too; its
 * name must not collide with ptmm's: this header must be the one the
 * program gets for "arch.h", and ptmm's sources (which include their own
 * "arch.h") must never get this one, although this directory is on every
 * compile line of the build, ptmm's included (meson.build).
 */
#ifndef EXAMPLE_ARCH_H
#define EXAMPLE_ARCH_H

/* The encoder this example drives: "x86_64" or "sv48" (main.c). */
const char *example_arch_name(void);

#endif /* EXAMPLE_ARCH_H */
