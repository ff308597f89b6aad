/*
 * frame.h - the example's own frame.h (a kernel's frame allocator header,
 * say), colliding by name with ptmm's: see arch.h next to it.
 */
#ifndef EXAMPLE_FRAME_H
#define EXAMPLE_FRAME_H

/* A kernel's own frame type; ptmm's frame.h has no such thing. */
struct example_frame {
	unsigned long pa;
};

#endif /* EXAMPLE_FRAME_H */
