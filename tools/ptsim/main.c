/*
 * main.c - ptsim, the host page-table simulator (docs/SCRIPT.md; choices
 * the spec leaves open are in docs/PTSIM_USAGE.md).  Option parsing and
 * file reading; the machine is machine.c, the interpreter script.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdnoreturn.h>
#include <stdlib.h>
#include <string.h>

#include "machine.h"
#include "arch/modes.h"
#include "script.h"
#include "svg.h"

struct options {
	const char *arch;
	bool svpbmt;
	bool kernel_space;
	uint64_t mem, pool;
	bool check;
	int tlb;          /* --tlb 1, --no-tlb 0, neither -1: on under --check */
	const char *file; /* NULL or "-": standard input */
	bool svg;         /* --format svg: a picture instead of the text output */
	bool from_dump;   /* --from-dump: FILE holds LEAF lines, not a script */
	const char *title; /* --title: the picture's first line */
};

/* Output sink of the interpreter: standard output. */
static void out_stdout(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	fwrite(s, 1, n, stdout);
}

/*
 * Output sink of --format svg.  Command output is not printed: the last
 * line is kept for the message of a syntax error or violation (stderr),
 * and while `capture` is set (the final dump) LEAF lines go into `pic`.
 */
struct svg_sink {
	struct svg_picture *pic;
	bool capture, nomem;
	char line[256], last[256];
	size_t len;
};

static void out_svg(void *ctx, const char *s, size_t n)
{
	struct svg_sink *k = ctx;

	for (size_t i = 0; i < n; i++) {
		struct svg_leaf leaf;

		if (s[i] != '\n') {
			if (k->len < sizeof(k->line) - 1)
				k->line[k->len++] = s[i];
			continue;
		}
		k->line[k->len] = '\0';
		if (k->capture && svg_parse_leaf(k->line, k->len, &leaf))
			k->nomem |= !svg_add_leaf(k->pic, &leaf);
		memcpy(k->last, k->line, k->len + 1);
		k->len = 0;
	}
}

/* Any option error: the usage line on stderr, exit 1. */
static noreturn void usage(void)
{
	fprintf(stderr, "usage: ptsim [--arch x86_64|x86_64-la57|sv39|sv48|sv57] [--svpbmt] "
			"[--space user|kernel] [--mem SIZE] [--pt-pool SIZE] [--check] [--tlb|--no-tlb] [--format text|svg [--from-dump] [--title TEXT]] "
			"[FILE|-]\n");
	exit(1);
}

/* A SIZE option: exactly a script number (script_parse_number); usage otherwise. */
static uint64_t parse_size(const char *s)
{
	uint64_t v;

	if (!script_parse_number(s, strlen(s), &v))
		usage();
	return v;
}

/* Parse argv into `o` (exits with usage on anything wrong). */
static void parse_options(int argc, char **argv, struct options *o)
{
	o->arch = "x86_64";
	o->mem = (uint64_t)4 << 30;
	o->pool = (uint64_t)64 << 20;
	o->tlb = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--svpbmt") == 0) {
			o->svpbmt = true;
		} else if (strcmp(a, "--check") == 0) {
			o->check = true;
		} else if (strcmp(a, "--tlb") == 0) {
			o->tlb = 1;
		} else if (strcmp(a, "--no-tlb") == 0) {
			o->tlb = 0;
		} else if (strcmp(a, "--arch") == 0 && val) {
			if (!mm_mode_find(val))
				usage();
			o->arch = val;
			i++;
		} else if (strcmp(a, "--format") == 0 && val) {
			if (strcmp(val, "text") != 0 && strcmp(val, "svg") != 0)
				usage();
			o->svg = strcmp(val, "svg") == 0;
			i++;
		} else if (strcmp(a, "--title") == 0 && val) {
			o->title = val;
			i++;
		} else if (strcmp(a, "--from-dump") == 0) {
			o->from_dump = true;
		} else if (strcmp(a, "--space") == 0 && val) {
			if (strcmp(val, "user") != 0 && strcmp(val, "kernel") != 0)
				usage();
			o->kernel_space = strcmp(val, "kernel") == 0;
			i++;
		} else if (strcmp(a, "--mem") == 0 && val) {
			o->mem = parse_size(val);
			i++;
		} else if (strcmp(a, "--pt-pool") == 0 && val) {
			o->pool = parse_size(val);
			i++;
		} else if (a[0] == '-' && a[1] != '\0') {
			usage();
		} else if (o->file == NULL) {
			o->file = a;
		} else {
			usage();
		}
	}
	if (o->svpbmt && !(mm_mode_find(o->arch)->optional & PTMM_FEAT_RV_SVPBMT))
		usage();
	if ((o->from_dump || o->title) && !o->svg)
		usage();
	if (o->tlb < 0)
		o->tlb = o->check;
	if (o->mem == 0 || o->pool == 0 || !ptmm_is_aligned(o->mem, PTMM_PAGE_SIZE) ||
	    !ptmm_is_aligned(o->pool, PTMM_PAGE_SIZE))
		usage();
}

static noreturn void die(const char *what, int err)
{
	fprintf(stderr, "ptsim: %s: %s\n", what, err ? ptmm_strerror(err) : strerror(errno));
	exit(1);
}

/*
 * Refuse a machine the frame table cannot describe, saying the limit
 * (exit 1).  The limit, 16T - 8K, is far below every PTE's PA limit
 * (2^52, 2^56), which ptsim_machine_build checks too.
 */
static void check_machine_size(const struct options *o)
{
	if (o->mem > PTSIM_MAX_TOP || o->pool > PTSIM_MAX_TOP - o->mem) {
		fprintf(stderr, "ptsim: --mem + --pt-pool must be at most 16T - 8K (0x%llx): "
				"the frame table holds at most 2^32 - 2 frames\n",
			(unsigned long long)PTSIM_MAX_TOP);
		exit(1);
	}
}

/*
 * --format svg after the script ran: on a syntax error or violation, its
 * line on stderr and no picture; else the space's leaves (from `dump`) and
 * its nodes (from the tree) as one SVG document on stdout.
 */
static int draw_space(const struct options *o, struct script_env *env, struct svg_sink *sink,
		      int result)
{
	char title[160];

	if (result != SCRIPT_OK) {
		fprintf(stderr, "ptsim: %s\n", sink->last);
		return result;
	}
	sink->capture = true;
	result = script_run_line(env, "dump", 4, 0);
	if (sink->nomem)
		die("picture", PTMM_ENOMEM);
	snprintf(title, sizeof(title), "ptsim --arch %s --space %s: %s", o->arch,
		 o->kernel_space ? "kernel" : "user", o->file ? o->file : "-");
	sink->pic->title = o->title ? o->title : title;
	sink->pic->levels = env->pt->arch->levels;
	sink->pic->va_bits = env->pt->arch->va_bits;
	svg_count_nodes(sink->pic, env->pt);
	svg_write(stdout, sink->pic);
	svg_free(sink->pic);
	return result;
}

/*
 * --from-dump: FILE holds LEAF lines (ptsim's dump, the kernel's script=
 * output, gdb's ptdump; other lines are skipped, a CR before the newline
 * too): draw them, nodes derived from the leaves.  No script runs.
 */
static int draw_dump(const struct options *o, const struct ptmm_arch *a)
{
	struct svg_picture pic = { 0 };
	FILE *in = stdin;
	char *line = NULL, title[160];
	size_t cap = 0;
	ssize_t n;

	if (o->file != NULL && strcmp(o->file, "-") != 0 && (in = fopen(o->file, "rb")) == NULL)
		die(o->file, 0);
	while ((n = getline(&line, &cap, in)) >= 0) {
		size_t len = (size_t)n;
		struct svg_leaf leaf;

		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (svg_parse_leaf(line, len, &leaf) && !svg_add_leaf(&pic, &leaf))
			die("picture", PTMM_ENOMEM);
	}
	if (ferror(in))
		die(o->file != NULL ? o->file : "-", 0);
	free(line);
	if (in != stdin)
		fclose(in);
	snprintf(title, sizeof(title), "LEAF lines of %s (%s)", o->file ? o->file : "-", o->arch);
	pic.title = o->title ? o->title : title;
	pic.levels = a->levels;
	pic.va_bits = a->va_bits;
	svg_derive_nodes(&pic);
	svg_write(stdout, &pic);
	svg_free(&pic);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	static struct ptsim_machine m;
	static struct tlbm tlb;
	struct ptmm_page_table *pts[1] = { &m.pt };
	struct script_env env;
	FILE *in = stdin;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;
	int result = SCRIPT_OK;
	const char *what;
	int err;
	struct svg_picture pic = { 0 };
	struct svg_sink sink = { .pic = &pic };

	parse_options(argc, argv, &o);
	if (!ptsim_arch_init(&m.arch, o.arch, o.svpbmt))
		usage();
	if (o.from_dump)
		return draw_dump(&o, &m.arch);
	check_machine_size(&o);
	if (o.file != NULL && strcmp(o.file, "-") != 0 && (in = fopen(o.file, "rb")) == NULL)
		die(o.file, 0);
	err = ptsim_machine_build(&m, o.mem, o.pool, o.kernel_space, &what);
	if (err != PTMM_OK)
		die(what, err);
	env = (struct script_env){
		.pt = &m.pt, .ft = &m.ft, .check_pts = pts, .nr_check_pts = 1,
		.ram_base = 0, .ram_size = o.mem + o.pool, .check_each = o.check,
		.out = out_stdout, .out_ctx = NULL,
	};
	if (o.tlb) {
		ptsim_machine_model_tlb(&m, &tlb);
		env.touch = ptsim_tlb_touch;
		env.tlb_check = ptsim_tlb_check;
		env.tlb_ctx = &tlb;
	}
	if (o.svg) {
		env.out = out_svg;
		env.out_ctx = &sink;
	}
	/* getline: lines of any length, NUL bytes included (n counts them). */
	while (result == SCRIPT_OK && (n = getline(&line, &cap, in)) >= 0) {
		size_t len = (size_t)n;

		if (len > 0 && line[len - 1] == '\n')
			len--;
		result = script_run_line(&env, line, len, ++lineno);
	}
	if (ferror(in)) /* a read error (FILE a directory, ...): exit 1 */
		die(o.file != NULL ? o.file : "-", 0);
	free(line);
	if (in != stdin)
		fclose(in);
	if (o.svg)
		result = draw_space(&o, &env, &sink, result);
	fflush(stdout);
	return result;
}
