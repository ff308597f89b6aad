/*
 * svg.c - the address-space picture of `ptsim --format svg` (svg.h).
 *
 * Layout, top to bottom: a title; one row per level with a square per
 * node (the root first; shared kernel tables grey); then each half of the
 * address space that holds leaves, as one row per *run* (consecutive
 * leaves of one size and property whose VAs and PAs both continue), with a
 * bar whose colour says the page size and whose length grows with the
 * run's bytes (log scale: 4K to 256T would not fit a linear one), the
 * property as five letter boxes and the cache policy, and the VA range,
 * leaf count and PA in text.  All text but the title is ASCII hex and
 * fixed words; the title (a file name, --title) is escaped.
 */
#include <stdlib.h>
#include <string.h>

#include <ptmm/pte.h>
#include "svg.h"

#define WIDTH 1260
#define ROW 18          /* height of one run row */
#define MAX_RUNS 400    /* rows drawn per half; the rest are counted */
#define MAX_SQUARES 128 /* node squares drawn per level; the rest are counted */

static const char *const size_names[] = { "4K", "2M", "1G", "512G", "256T" };
static const char *const size_colours[] = { "#8ecae6", "#52b788", "#f4a261", "#9d4edd", "#e63946" };

/* Level of a leaf of `size` (1 = 4K), or 0 if no level has that size. */
static unsigned size_level(uint64_t size)
{
	for (unsigned l = 1; l <= SVG_MAX_LEVELS; l++)
		if (size == ptmm_level_size(l))
			return l;
	return 0;
}

/* Parse exactly 0x + 16 lowercase hex digits. */
static bool parse_hex16(const char *s, uint64_t *out)
{
	uint64_t v = 0;

	if (s[0] != '0' || s[1] != 'x')
		return false;
	for (int i = 2; i < 18; i++) {
		char c = s[i];

		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return false;
	}
	*out = v;
	return true;
}

bool svg_parse_leaf(const char *line, size_t len, struct svg_leaf *out)
{
	char size[8];
	size_t i = 19, n = 0;

	/* 0x%016x SIZE 0x%016x PROP, PROP = 5 letters ':' 2 letters */
	if (len < 19 || !parse_hex16(line, &out->va) || line[18] != ' ')
		return false;
	while (i < len && line[i] != ' ' && n < sizeof(size) - 1)
		size[n++] = line[i++];
	size[n] = '\0';
	if (i + 1 + 18 + 1 + 8 != len || line[i] != ' ' || line[i + 19] != ' ' ||
	    !parse_hex16(line + i + 1, &out->pa))
		return false;
	out->size = 0;
	for (unsigned l = 1; l <= SVG_MAX_LEVELS; l++)
		if (strcmp(size, size_names[l - 1]) == 0)
			out->size = ptmm_level_size(l);
	if (out->size == 0 || !ptmm_is_aligned(out->va, out->size))
		return false;
	memcpy(out->prop, line + i + 20, 8);
	out->prop[8] = '\0';
	for (int k = 0; k < 5; k++)
		if (out->prop[k] != "rwxug"[k] && out->prop[k] != '-')
			return false;
	return out->prop[5] == ':';
}

bool svg_add_leaf(struct svg_picture *p, const struct svg_leaf *l)
{
	if (p->nr_leaves == p->cap_leaves) {
		size_t cap = p->cap_leaves ? 2 * p->cap_leaves : 256;
		struct svg_leaf *n = realloc(p->leaves, cap * sizeof(*n));

		if (n == NULL)
			return false;
		p->leaves = n;
		p->cap_leaves = cap;
	}
	p->leaves[p->nr_leaves++] = *l;
	return true;
}

void svg_derive_nodes(struct svg_picture *p)
{
	uint64_t last[SVG_MAX_LEVELS + 1];
	bool seen[SVG_MAX_LEVELS + 1] = { false };

	memset(p->nodes, 0, sizeof(p->nodes));
	memset(p->shared, 0, sizeof(p->shared));
	p->nodes[p->levels] = 1; /* the root */
	p->nodes_derived = true;
	/* Leaves ascend, so each level's node ids ascend: count the changes. */
	for (size_t i = 0; i < p->nr_leaves; i++) {
		unsigned leaf_level = size_level(p->leaves[i].size);

		for (unsigned k = leaf_level; k < p->levels && leaf_level != 0; k++) {
			uint64_t id = p->leaves[i].va >> (PTMM_PAGE_SHIFT + PTMM_PTE_BITS * k);

			if (!seen[k] || last[k] != id) {
				p->nodes[k]++;
				last[k] = id;
				seen[k] = true;
			}
		}
	}
}

/* Count the node at `pa` of `level` and its owned subtree. */
static void count_subtree(struct svg_picture *p, const struct ptmm_page_table *pt, ptmm_paddr_t pa,
			  unsigned level, bool shared)
{
	const struct ptmm_pte_format *f = &pt->arch->fmt;
	const ptmm_pte_t *tbl = ptmm_frame_to_virt(pt->ft, pa);
	unsigned first = 0, end = PTMM_PTES_PER_NODE;

	p->nodes[level]++;
	if (shared)
		p->shared[level]++;
	if (level == 1)
		return;
	if (level == pt->arch->levels && pt->space == PTMM_PT_USER && pt->kernel != NULL)
		end = PTMM_PTES_PER_NODE / 2; /* the upper half is the kernel's, not this table's */
	for (unsigned i = first; i < end; i++) {
		if (!ptmm_pte_is_present(tbl[i]) || ptmm_pte_is_leaf(f, tbl[i], level))
			continue;
		count_subtree(p, pt, ptmm_pte_table_addr(f, tbl[i]), level - 1,
			      level == pt->arch->levels && pt->space == PTMM_PT_KERNEL &&
				      i >= PTMM_PTES_PER_NODE / 2);
	}
}

void svg_count_nodes(struct svg_picture *p, const struct ptmm_page_table *pt)
{
	memset(p->nodes, 0, sizeof(p->nodes));
	memset(p->shared, 0, sizeof(p->shared));
	p->nodes_derived = false;
	count_subtree(p, pt, pt->root, pt->arch->levels, false);
}

void svg_free(struct svg_picture *p)
{
	free(p->leaves);
	p->leaves = NULL;
	p->nr_leaves = p->cap_leaves = 0;
}

/* Does leaf b continue the run that ends with leaf a? */
static bool continues(const struct svg_leaf *a, const struct svg_leaf *b)
{
	return b->size == a->size && strcmp(a->prop, b->prop) == 0 && b->va == a->va + a->size &&
	       b->pa == a->pa + a->size;
}

/* Runs among leaves [from, to). */
static size_t count_runs(const struct svg_picture *p, size_t from, size_t to)
{
	size_t runs = 0;

	for (size_t i = from; i < to; i++)
		if (i == from || !continues(&p->leaves[i - 1], &p->leaves[i]))
			runs++;
	return runs;
}

static unsigned log2_u64(uint64_t v)
{
	unsigned l = 0;

	while (v >>= 1)
		l++;
	return l;
}

static void put_text(FILE *o, int x, int y, const char *attrs, const char *text)
{
	fprintf(o, "<text x=\"%d\" y=\"%d\" %s>%s</text>\n", x, y, attrs, text);
}

/* The title as a <text> element: & < > " escaped, other than printable ASCII as '?'. */
static void put_title(FILE *o, const char *title)
{
	fprintf(o, "<text x=\"20\" y=\"26\" class=\"title\">");
	for (const unsigned char *c = (const unsigned char *)title; *c; c++) {
		if (*c == '&')
			fputs("&amp;", o);
		else if (*c == '<')
			fputs("&lt;", o);
		else if (*c == '>')
			fputs("&gt;", o);
		else if (*c == '"')
			fputs("&quot;", o);
		else if (*c < 0x20 || *c >= 0x7f)
			fputc('?', o); /* control bytes (not XML), and bytes that may not be UTF-8 */
		else
			fputc(*c, o);
	}
	fputs("</text>\n", o);
}

/* One run row at `y`: bar, property boxes, text. */
static void draw_run(FILE *o, int y, const struct svg_leaf *first, uint64_t count)
{
	unsigned level = size_level(first->size);
	uint64_t bytes = first->size * count;
	int bar = 30 + 11 * (int)log2_u64(bytes / PTMM_PAGE_SIZE); /* 30 (4K) .. 30 + 11*48 */
	char text[160];

	fprintf(o, "<rect x=\"20\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"/>\n", y, bar,
		ROW - 4, size_colours[level - 1]);
	for (int k = 0; k < 5; k++) {
		bool on = first->prop[k] != '-';

		fprintf(o, "<rect x=\"%d\" y=\"%d\" width=\"14\" height=\"14\" fill=\"%s\" "
			   "stroke=\"#555\"/>\n",
			580 + 16 * k, y, on ? "#ffd166" : "#ffffff");
		fprintf(o, "<text x=\"%d\" y=\"%d\" class=\"b\">%c</text>\n", 583 + 16 * k, y + 11,
			on ? first->prop[k] : ' ');
	}
	snprintf(text, sizeof(text), "%s", first->prop + 6);
	put_text(o, 664, y + 11, "class=\"t\"", text);
	snprintf(text, sizeof(text), "0x%016llx..0x%016llx %6llu x %-4s pa 0x%llx",
		 (unsigned long long)first->va, (unsigned long long)(first->va + bytes - 1),
		 (unsigned long long)count, size_names[level - 1], (unsigned long long)first->pa);
	put_text(o, 700, y + 11, "class=\"t\"", text);
}

/* Rows of the half holding leaves [from, to); returns the next y. */
static int draw_half(FILE *o, const struct svg_picture *p, size_t from, size_t to, bool upper,
		     int y)
{
	char text[200];
	uint64_t half = (uint64_t)1 << (p->va_bits - 1);
	size_t runs = 0, i = from;

	if (upper)
		snprintf(text, sizeof(text),
			 "kernel half [0x%016llx, 2^64): its top-level tables are shared into every "
			 "user root",
			 (unsigned long long)(0 - half));
	else
		snprintf(text, sizeof(text), "user half [0x0, 0x%016llx)", (unsigned long long)half);
	put_text(o, 20, y + 14, "class=\"h\"", text);
	y += 24;
	if (from == to) {
		put_text(o, 20, y + 11, "class=\"t\"", "no leaves");
		return y + ROW + 8;
	}
	while (i < to) {
		size_t j = i + 1;

		while (j < to && continues(&p->leaves[j - 1], &p->leaves[j]))
			j++;
		if (runs < MAX_RUNS) {
			draw_run(o, y, &p->leaves[i], j - i);
			y += ROW;
		}
		runs++;
		i = j;
	}
	if (runs > MAX_RUNS) {
		snprintf(text, sizeof(text), "... and %zu more runs", runs - MAX_RUNS);
		put_text(o, 20, y + 11, "class=\"t\"", text);
		y += ROW;
	}
	return y + 8;
}

void svg_write(FILE *o, const struct svg_picture *p)
{
	size_t split = 0; /* first leaf of the upper half */
	uint64_t mapped = 0;
	int height, y;
	char text[200];
	bool kernel_only;

	while (split < p->nr_leaves && (p->leaves[split].va >> 63) == 0)
		split++;
	for (size_t i = 0; i < p->nr_leaves; i++)
		mapped += p->leaves[i].size;
	/* The upper half is drawn if it has leaves or shared tables; the lower if it has leaves or nothing else. */
	kernel_only = split == 0 && (p->nr_leaves > 0 || p->shared[p->levels - 1] > 0);

	height = 110 + 20 * (int)p->levels;
	{
		size_t lo = count_runs(p, 0, split), hi = count_runs(p, split, p->nr_leaves);

		height += 40 + ROW * (int)((lo < MAX_RUNS ? lo : MAX_RUNS + 1) + 1);
		height += 40 + ROW * (int)((hi < MAX_RUNS ? hi : MAX_RUNS + 1) + 1);
	}

	fprintf(o, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		   "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" "
		   "height=\"%d\" viewBox=\"0 0 %d %d\">\n",
		WIDTH, height, WIDTH, height);
	fprintf(o, "<style>text{font-family:monospace;fill:#222}.t{font-size:11px}"
		   ".b{font-size:11px;font-weight:bold}.h{font-size:13px;font-weight:bold}"
		   ".title{font-size:16px;font-weight:bold}</style>\n");
	fprintf(o, "<rect width=\"%d\" height=\"%d\" fill=\"#fbfbf8\"/>\n", WIDTH, height);
	put_title(o, p->title);
	snprintf(text, sizeof(text), "%zu leaves, %zu runs, 0x%llx bytes mapped; %u levels, "
				     "%u-bit VAs; nodes %s",
		 p->nr_leaves, count_runs(p, 0, split) + count_runs(p, split, p->nr_leaves),
		 (unsigned long long)mapped, p->levels, p->va_bits,
		 p->nodes_derived ? "on the paths to the leaves" : "of the tree");
	put_text(o, 20, 46, "class=\"t\"", text);

	/* Legend: page sizes. */
	for (unsigned l = 1; l <= SVG_MAX_LEVELS; l++) {
		fprintf(o, "<rect x=\"%u\" y=\"56\" width=\"14\" height=\"12\" fill=\"%s\"/>\n",
			20 + (l - 1) * 70, size_colours[l - 1]);
		put_text(o, 38 + (int)(l - 1) * 70, 66, "class=\"t\"", size_names[l - 1]);
	}
	put_text(o, 380, 66, "class=\"t\"",
		 "bar length: bytes of the run (log scale); boxes: r w x u g; then the cache policy");

	/* Nodes per level, root first. */
	y = 84;
	for (unsigned l = p->levels; l >= 1; l--) {
		uint64_t n = p->nodes[l], shown = n < MAX_SQUARES ? n : MAX_SQUARES;

		snprintf(text, sizeof(text), "L%u %6llu", l, (unsigned long long)n);
		put_text(o, 20, y + 10, "class=\"t\"", text);
		for (uint64_t i = 0; i < shown; i++) {
			/* Shared (preallocated kernel) nodes are counted first at their level. */
			bool shared = i < p->shared[l];

			fprintf(o, "<rect x=\"%llu\" y=\"%d\" width=\"5\" height=\"10\" fill=\"%s\"/>\n",
				(unsigned long long)(100 + 7 * i), y, shared ? "#adb5bd" : "#3a6ea5");
		}
		if (n > shown) {
			snprintf(text, sizeof(text), "+%llu", (unsigned long long)(n - shown));
			put_text(o, 100 + 7 * MAX_SQUARES + 6, y + 10, "class=\"t\"", text);
		}
		y += 20;
	}
	put_text(o, 20, y + 6, "class=\"t\"",
		 "blue: nodes this table owns; grey: the kernel half's preallocated tables");
	y += 16;

	if (!kernel_only)
		y = draw_half(o, p, 0, split, false, y);
	if (split < p->nr_leaves || kernel_only)
		y = draw_half(o, p, split, p->nr_leaves, true, y);
	(void)y;
	fprintf(o, "</svg>\n");
}
