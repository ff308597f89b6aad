/*
 * main.c - ptsim, the host page-table simulator (docs/PTSIM.md; choices
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

struct options {
	const char *arch;
	bool svpbmt;
	bool kernel_space;
	uint64_t mem, pool;
	bool check;
	const char *file; /* NULL or "-": standard input */
};

/* Output sink of the interpreter: standard output. */
static void out_stdout(void *ctx, const char *s, size_t n)
{
	(void)ctx;
	fwrite(s, 1, n, stdout);
}

/* Any option error: the usage line on stderr, exit 1. */
static noreturn void usage(void)
{
	fprintf(stderr, "usage: ptsim [--arch x86_64|x86_64-la57|sv39|sv48|sv57] [--svpbmt] "
			"[--space user|kernel] [--mem SIZE] [--pt-pool SIZE] [--check] [FILE|-]\n");
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
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--svpbmt") == 0) {
			o->svpbmt = true;
		} else if (strcmp(a, "--check") == 0) {
			o->check = true;
		} else if (strcmp(a, "--arch") == 0 && val) {
			if (!mm_mode_find(val))
				usage();
			o->arch = val;
			i++;
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
	if (o->svpbmt && !(mm_mode_find(o->arch)->optional & MM_FEAT_RV_SVPBMT))
		usage();
	if (o->mem == 0 || o->pool == 0 || !mm_is_aligned(o->mem, MM_PAGE_SIZE) ||
	    !mm_is_aligned(o->pool, MM_PAGE_SIZE))
		usage();
}

static noreturn void die(const char *what, int err)
{
	fprintf(stderr, "ptsim: %s: %s\n", what, err ? mm_strerror(err) : strerror(errno));
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

int main(int argc, char **argv)
{
	struct options o = { 0 };
	static struct ptsim_machine m;
	struct page_table *pts[1] = { &m.pt };
	struct script_env env;
	FILE *in = stdin;
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	unsigned lineno = 0;
	int result = SCRIPT_OK;
	const char *what;
	int err;

	parse_options(argc, argv, &o);
	if (!ptsim_arch_init(&m.arch, o.arch, o.svpbmt))
		usage();
	check_machine_size(&o);
	if (o.file != NULL && strcmp(o.file, "-") != 0 && (in = fopen(o.file, "rb")) == NULL)
		die(o.file, 0);
	err = ptsim_machine_build(&m, o.mem, o.pool, o.kernel_space, &what);
	if (err != MM_OK)
		die(what, err);
	env = (struct script_env){
		.pt = &m.pt, .ft = &m.ft, .check_pts = pts, .nr_check_pts = 1,
		.ram_base = 0, .ram_size = o.mem + o.pool, .check_each = o.check,
		.out = out_stdout, .out_ctx = NULL,
	};
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
	fflush(stdout);
	return result;
}
