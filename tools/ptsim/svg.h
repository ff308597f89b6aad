/*
 * svg.h - ptsim's picture of an address space (`--format svg`), host only.
 *
 * The picture is drawn from LEAF lines, the `dump` output of docs/SCRIPT.md
 * (`0x%016x SIZE 0x%016x PROP`), wherever they come from: ptsim's own
 * dump of the space a script built, the kernel's `script=` output, or the
 * gdb command `ptdump` on a live kernel.  So one picture shows them all
 * alike.  Node counts per level come from the real tree when there is one
 * (svg_count_nodes), else they are derived from the leaves: the root and
 * every node on the path to some leaf (docs/MODEL.md, O7).
 */
#ifndef PTSIM_SVG_H
#define PTSIM_SVG_H

#include <stdio.h>

#include <ptmm/mm.h>

#define SVG_MAX_LEVELS 5

struct svg_leaf {
	uint64_t va, size, pa;
	char prop[12]; /* "rw-u-:wb" */
};

struct svg_picture {
	const char *title;   /* first line of the picture */
	unsigned levels;     /* paging levels (root = levels) */
	unsigned va_bits;    /* for the halves' bounds */
	/* Nodes per level (index 1..levels); `shared`: of them, the kernel half's preallocated ones. */
	uint64_t nodes[SVG_MAX_LEVELS + 1];
	uint64_t shared[SVG_MAX_LEVELS + 1];
	bool nodes_derived;  /* counted from the leaves, not from a tree */
	struct svg_leaf *leaves; /* ascending VA */
	size_t nr_leaves, cap_leaves;
};

/*
 * Parse one LEAF line (without its newline) into `out`: exactly the dump
 * format, a size of 4K..256T, VA aligned to it.  False for any other line
 * (`ok`, `end`, `SANDBOX ...`), which callers skip.
 */
bool svg_parse_leaf(const char *line, size_t len, struct svg_leaf *out);

/* Append a leaf (ascending VA expected).  False if out of host memory. */
bool svg_add_leaf(struct svg_picture *p, const struct svg_leaf *l);

/* Fill p->nodes from the leaves: root + every distinct node on a leaf's path. */
void svg_derive_nodes(struct svg_picture *p);

/*
 * Fill p->nodes and p->shared by walking `pt`'s tree (its own nodes; in a
 * kernel table the preallocated upper-half tables count as shared).
 * Exclusive access: no cursor open on `pt`.
 */
void svg_count_nodes(struct svg_picture *p, const struct ptmm_page_table *pt);

/* Write the picture as one SVG 1.1 document. */
void svg_write(FILE *out, const struct svg_picture *p);

void svg_free(struct svg_picture *p);

#endif /* PTSIM_SVG_H */
