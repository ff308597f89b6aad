/*
 * script.h - the page-table script language (docs/SCRIPT.md), freestanding.
 *
 * The same interpreter runs in the host simulator (tools/ptsim/main.c) and
 * in the kernel (`script=CMDS`).  It parses one command per call, performs
 * it through the mm cursor API and writes the exact output lines through
 * `out`.  It uses no libc: numbers are parsed and printed here.
 */
#ifndef PTSIM_SCRIPT_H
#define PTSIM_SCRIPT_H

#include <ptmm/mm.h>

/* Results of script_run_line / script_run_text (also ptsim's exit codes). */
enum script_result {
	SCRIPT_OK = 0,        /* line parsed (the command may have answered `error`) */
	SCRIPT_SYNTAX = 2,    /* `syntax LINE: TEXT` already printed */
	SCRIPT_VIOLATION = 3, /* `violation: TEXT` already printed */
};

struct script_env {
	struct ptmm_page_table *pt;              /* the address space the script drives */
	struct ptmm_frame_table *ft;             /* frames behind it */
	struct ptmm_page_table *const *check_pts; /* every table the checker must see */
	unsigned nr_check_pts;
	/*
	 * RAM window: `map` PA p means absolute PA ram_base + p, and needs
	 * [p, p+len) inside [0, ram_size).  Printed PAs of RAM leaves are
	 * offsets again; `mmio` PAs are absolute both ways.
	 */
	ptmm_paddr_t ram_base;
	uint64_t ram_size;
	bool check_each;                    /* run ptmm_check after every command */
	/*
	 * --tlb (all NULL: none; ptsim sets ptsim_tlb_touch/ptsim_tlb_check,
	 * machine.h): `touch` is called after a successful `query` at its VA
	 * (the CPU's access); `tlb_check`, after the tree checker passed at
	 * every check (`check`, each command under check_each), returns PTMM_OK
	 * or non-zero with the violation text in buf.  Hooks, so that this
	 * interpreter stays freestanding (the kernel links it).
	 */
	void (*touch)(void *tlb_ctx, ptmm_vaddr_t va);
	int (*tlb_check)(void *tlb_ctx, char *buf, size_t len);
	void *tlb_ctx;
	/* Output sink: receives pieces of lines, each line ends with '\n'. */
	void (*out)(void *ctx, const char *s, size_t n);
	void *out_ctx;
};

/*
 * Run one line (no newline needed; `#` comments and blanks are fine).
 * Returns SCRIPT_OK, SCRIPT_SYNTAX or SCRIPT_VIOLATION.  Any bytes are
 * accepted as input: malformed ones are a syntax error, never a fault.
 */
int script_run_line(struct script_env *env, const char *line, size_t len, unsigned lineno);

/*
 * Run `text` split at every `sep` byte (';' in the kernel, '\n' for a file),
 * numbering lines from *lineno + 1 and leaving *lineno at the last line run.
 * Stops at the first non-OK result and returns it.
 */
int script_run_text(struct script_env *env, const char *text, size_t len, char sep,
		    unsigned *lineno);

/*
 * Parse the number s[0..len) by the script's rules: decimal or `0x` hex, an
 * optional K/M/G/T suffix (powers of 1024), nothing else (no sign, no
 * spaces).  False on any malformation or 64-bit overflow; ptsim parses its
 * SIZE options with it too.
 */
bool script_parse_number(const char *s, size_t len, uint64_t *out);

#endif /* PTSIM_SCRIPT_H */
