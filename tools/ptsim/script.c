/*
 * script.c - parser and interpreter of the page-table script language.
 *
 * Freestanding: no libc.  Each command is parsed completely before anything
 * is changed, so a syntax error never has an effect.  Requests the script
 * language defines as errors but the mm cannot see (RAM offsets, g/u by
 * space) are refused here; everything else is the mm's answer.
 */
#include "script.h"

#define LINE_BUF 160 /* longest output line we build (violations are cut) */

/* ---- output ---- */

/* Write the NUL-terminated string `s`. */
static void put_str(struct script_env *env, const char *s)
{
	size_t n = 0;

	while (s[n] != '\0')
		n++;
	env->out(env->out_ctx, s, n);
}

/* Write `v` in lowercase hex, at least `width` digits, with "0x". */
static void put_hex(struct script_env *env, uint64_t v, unsigned width)
{
	char buf[2 + 16];
	char digits[16];
	unsigned n = 0, len = 0;

	do {
		digits[n++] = "0123456789abcdef"[v & 0xf];
		v >>= 4;
	} while (v != 0);
	while (n < width)
		digits[n++] = '0';
	buf[len++] = '0';
	buf[len++] = 'x';
	while (n > 0)
		buf[len++] = digits[--n];
	env->out(env->out_ctx, buf, len);
}

/* Write `v` in decimal. */
static void put_dec(struct script_env *env, uint64_t v)
{
	char digits[20];
	char buf[20];
	unsigned n = 0, len = 0;

	do {
		digits[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (n > 0)
		buf[len++] = digits[--n];
	env->out(env->out_ctx, buf, len);
}

/* `error CODE` line for mm error `err`. */
static void put_error(struct script_env *env, int err)
{
	put_str(env, "error ");
	put_str(env, ptmm_strerror(err));
	put_str(env, "\n");
}

/* `syntax LINE: TEXT`; always returns SCRIPT_SYNTAX. */
static int syntax(struct script_env *env, unsigned lineno, const char *text)
{
	put_str(env, "syntax ");
	put_dec(env, lineno);
	put_str(env, ": ");
	put_str(env, text);
	put_str(env, "\n");
	return SCRIPT_SYNTAX;
}

/* Name of a leaf size (4K..256T); sizes are always one of the level sizes. */
static const char *size_name(uint64_t size)
{
	switch (size) {
	case (uint64_t)1 << 12: return "4K";
	case (uint64_t)1 << 21: return "2M";
	case (uint64_t)1 << 30: return "1G";
	case (uint64_t)1 << 39: return "512G";
	case (uint64_t)1 << 48: return "256T";
	default: return "?";
	}
}

/* PROP in the fixed output form: rwxug letters or '-', then ":cache". */
static void put_prop(struct script_env *env, struct ptmm_prop p)
{
	static const char letters[5] = { 'r', 'w', 'x', 'u', 'g' };
	static const char *const caches[PTMM_CACHE_COUNT] = { ":wb", ":wt", ":uc", ":wc" };
	char buf[5];

	for (unsigned i = 0; i < 5; i++)
		buf[i] = (p.flags & (1u << i)) ? letters[i] : '-';
	env->out(env->out_ctx, buf, 5);
	put_str(env, p.cache < PTMM_CACHE_COUNT ? caches[p.cache] : ":??");
}

/* One LEAF line; RAM PAs are printed as window offsets. */
static void put_leaf(struct script_env *env, const struct ptmm_mapping *m)
{
	ptmm_paddr_t pa = m->mmio ? m->pa : m->pa - env->ram_base;

	put_hex(env, m->va, 16);
	put_str(env, " ");
	put_str(env, size_name(m->size));
	put_str(env, " ");
	put_hex(env, pa, 16);
	put_str(env, " ");
	put_prop(env, m->prop);
	put_str(env, "\n");
}

/* ---- lexing ---- */

struct token {
	const char *s;
	size_t n;
};

#define MAX_TOKENS 8

static bool is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* Printable ASCII other than space: the only bytes a token may hold. */
static bool is_token_char(char ch)
{
	return ch > ' ' && ch < 127;
}

/*
 * Split `line` (up to a '#') into tokens.  Returns the count, or -1 on a
 * byte that is neither whitespace nor printable, -2 on too many tokens.
 */
static int tokenize(const char *line, size_t len, struct token *tok)
{
	int nr = 0;
	size_t i = 0;

	while (i < len) {
		char ch = line[i];

		if (ch == '#')
			break;
		if (is_space(ch)) {
			i++;
			continue;
		}
		if (!is_token_char(ch))
			return -1;
		if (nr == MAX_TOKENS)
			return -2;
		tok[nr].s = line + i;
		while (i < len && is_token_char(line[i]) && line[i] != '#')
			i++;
		tok[nr].n = (size_t)(line + i - tok[nr].s);
		nr++;
	}
	return nr;
}

static bool tok_is(const struct token *t, const char *word)
{
	size_t i = 0;

	for (; i < t->n; i++)
		if (word[i] != t->s[i])
			return false;
	return word[i] == '\0';
}

/* Value of a hex digit, or -1. */
static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

bool script_parse_number(const char *s, size_t len, uint64_t *out)
{
	size_t n = len, i = 0;
	unsigned base = 10, shift = 0;
	uint64_t v = 0;

	if (n > 0) {
		switch (s[n - 1]) {
		case 'K': shift = 10; break;
		case 'M': shift = 20; break;
		case 'G': shift = 30; break;
		case 'T': shift = 40; break;
		default: break;
		}
		if (shift != 0)
			n--;
	}
	if (n >= 2 && s[0] == '0' && s[1] == 'x') { /* `0x` only, as docs/SCRIPT.md says */
		base = 16;
		i = 2;
	}
	if (i == n)
		return false; /* no digits */
	for (; i < n; i++) {
		int d = hex_digit(s[i]);

		if (d < 0 || (unsigned)d >= base)
			return false;
		if (v > (UINT64_MAX - (uint64_t)d) / base)
			return false;
		v = v * base + (uint64_t)d;
	}
	if (shift != 0 && (v >> (64 - shift)) != 0)
		return false;
	*out = v << shift;
	return true;
}

/* A token as a number (script_parse_number). */
static bool parse_number(const struct token *t, uint64_t *out)
{
	return script_parse_number(t->s, t->n, out);
}

/* Parse PROP: rwxug letters (repeats allowed) or '-', then optional :cache. */
static bool parse_prop(const struct token *t, struct ptmm_prop *out)
{
	size_t i = 0;
	unsigned flags = 0;
	unsigned cache = PTMM_CACHE_WB;

	if (t->n > 0 && t->s[0] == '-') {
		i = 1;
	} else {
		for (; i < t->n && t->s[i] != ':'; i++) {
			switch (t->s[i]) {
			case 'r': flags |= PTMM_PROP_R; break;
			case 'w': flags |= PTMM_PROP_W; break;
			case 'x': flags |= PTMM_PROP_X; break;
			case 'u': flags |= PTMM_PROP_U; break;
			case 'g': flags |= PTMM_PROP_G; break;
			default: return false;
			}
		}
		if (i == 0)
			return false; /* no letters */
	}
	if (i < t->n) {
		struct token c = { t->s + i, t->n - i };

		if (tok_is(&c, ":wb"))
			cache = PTMM_CACHE_WB;
		else if (tok_is(&c, ":wt"))
			cache = PTMM_CACHE_WT;
		else if (tok_is(&c, ":uc"))
			cache = PTMM_CACHE_UC;
		else if (tok_is(&c, ":wc"))
			cache = PTMM_CACHE_WC;
		else
			return false;
	}
	*out = ptmm_prop_make(flags, (enum ptmm_cache)cache);
	return true;
}

/* ---- checks the mm cannot make ---- */

/* PTMM_OK if [va, va+len) lies in the table's half (len may be 0 here). */
static int check_va_range(const struct script_env *env, ptmm_vaddr_t va, uint64_t len)
{
	ptmm_vaddr_t base = ptmm_page_table_space_base(env->pt);
	uint64_t size = ptmm_page_table_space_size(env->pt);
	uint64_t off = va - base;

	/* Unsigned offsets: a VA below the base wraps to a huge offset. */
	if (off >= size || len > size - off)
		return PTMM_ERANGE;
	return PTMM_OK;
}

/* Common VA/LEN checks of range commands: align, inval (zero), range. */
static int check_va_len(const struct script_env *env, ptmm_vaddr_t va, uint64_t len)
{
	if (!ptmm_is_aligned(va, PTMM_PAGE_SIZE) || !ptmm_is_aligned(len, PTMM_PAGE_SIZE))
		return PTMM_EALIGN;
	if (len == 0)
		return PTMM_EINVAL;
	return check_va_range(env, va, len);
}

/* `g` only in kernel space, `u` only in user space. */
static int check_prop_space(const struct script_env *env, struct ptmm_prop p)
{
	if (env->pt->space == PTMM_PT_USER && (p.flags & PTMM_PROP_G))
		return PTMM_EINVAL;
	if (env->pt->space == PTMM_PT_KERNEL && (p.flags & PTMM_PROP_U))
		return PTMM_EINVAL;
	return PTMM_OK;
}

/* ---- commands (arguments already parsed) ---- */

/* map / mmio.  `pa` is a RAM offset for map, absolute for mmio. */
static void do_map(struct script_env *env, ptmm_vaddr_t va, uint64_t len, ptmm_paddr_t pa,
		   struct ptmm_prop prop, unsigned flags)
{
	struct ptmm_cursor c;
	int err = check_va_len(env, va, len);

	if (err == PTMM_OK && !ptmm_is_aligned(pa, PTMM_PAGE_SIZE))
		err = PTMM_EALIGN;
	if (err == PTMM_OK)
		err = check_prop_space(env, prop);
	if (err == PTMM_OK && !(flags & PTMM_MAP_MMIO)) {
		/* PA is an offset into the RAM window. */
		if (pa >= env->ram_size || len > env->ram_size - pa)
			err = PTMM_ERANGE;
		else
			pa += env->ram_base;
	}
	if (err == PTMM_OK && (flags & PTMM_MAP_MMIO)) {
		if (pa + len < pa || ptmm_frame_range_touches_ram(env->ft, pa, len))
			err = PTMM_ERANGE;
	}
	if (err == PTMM_OK)
		err = ptmm_cursor_open(&c, env->pt, va, len);
	if (err == PTMM_OK) {
		err = ptmm_cursor_map(&c, pa, len, prop, flags);
		ptmm_cursor_close(&c);
	}
	if (err == PTMM_OK)
		put_str(env, "ok\n");
	else
		put_error(env, err);
}

/* unmap (prop == NULL) or protect: `ok BYTES` or `error CODE`. */
static void do_unmap_protect(struct script_env *env, ptmm_vaddr_t va, uint64_t len,
			     const struct ptmm_prop *prop)
{
	struct ptmm_cursor c;
	uint64_t bytes = 0;
	int err = check_va_len(env, va, len);

	if (err == PTMM_OK && prop != NULL)
		err = check_prop_space(env, *prop);
	if (err == PTMM_OK)
		err = ptmm_cursor_open(&c, env->pt, va, len);
	if (err == PTMM_OK) {
		if (prop != NULL)
			err = ptmm_cursor_protect(&c, len, *prop, &bytes);
		else
			err = ptmm_cursor_unmap(&c, len, &bytes);
		ptmm_cursor_close(&c);
	}
	if (err != PTMM_OK) {
		put_error(env, err);
		return;
	}
	put_str(env, "ok ");
	put_hex(env, bytes, 1);
	put_str(env, "\n");
}

/* query VA: the leaf containing VA, or none. */
static void do_query(struct script_env *env, ptmm_vaddr_t va)
{
	struct ptmm_cursor c;
	struct ptmm_mapping m;
	int err = check_va_len(env, va, PTMM_PAGE_SIZE);

	if (err == PTMM_OK)
		err = ptmm_cursor_open(&c, env->pt, va, PTMM_PAGE_SIZE);
	if (err == PTMM_OK) {
		err = ptmm_cursor_query(&c, &m);
		ptmm_cursor_close(&c);
	}
	if (err == PTMM_OK && env->touch) /* the access the query stands for: the CPU walks too */
		env->touch(env->tlb_ctx, va);
	if (err != PTMM_OK)
		put_error(env, err);
	else if (m.present)
		put_leaf(env, &m);
	else
		put_str(env, "none\n");
}

/* find VA LEN: the first leaf meeting [VA, VA+LEN), or none. */
static void do_find(struct script_env *env, ptmm_vaddr_t va, uint64_t len)
{
	struct ptmm_cursor c;
	struct ptmm_mapping m;
	int err = check_va_len(env, va, len);
	int found = 0;

	if (err == PTMM_OK)
		err = ptmm_cursor_open(&c, env->pt, va, len);
	if (err == PTMM_OK) {
		found = ptmm_cursor_find_next(&c, len, &m);
		ptmm_cursor_close(&c);
		if (found < 0)
			err = found;
	}
	if (err != PTMM_OK)
		put_error(env, err);
	else if (found == 1)
		put_leaf(env, &m);
	else
		put_str(env, "none\n");
}

/* dump: every leaf of the space in ascending VA order, then `end`. */
static void do_dump(struct script_env *env)
{
	struct ptmm_cursor c;
	struct ptmm_mapping m;
	ptmm_vaddr_t base = ptmm_page_table_space_base(env->pt);
	uint64_t size = ptmm_page_table_space_size(env->pt);
	uint64_t pos = 0; /* offset into the space */
	int err = ptmm_cursor_open(&c, env->pt, base, size);

	if (err != PTMM_OK) {
		put_error(env, err);
		return;
	}
	while (pos < size) {
		if (ptmm_cursor_jump(&c, base + pos) != PTMM_OK)
			break;
		if (ptmm_cursor_find_next(&c, size - pos, &m) != 1)
			break;
		put_leaf(env, &m);
		pos = m.va - base + m.size;
	}
	ptmm_cursor_close(&c);
	put_str(env, "end\n");
}

/* stats: nodes=N mapped=0xBYTES frames=N */
static void do_stats(struct script_env *env)
{
	struct ptmm_stats s;

	ptmm_stats(env->pt, &s);
	put_str(env, "nodes=");
	put_dec(env, s.nodes);
	put_str(env, " mapped=");
	put_hex(env, s.mapped, 1);
	put_str(env, " frames=");
	put_dec(env, s.frames);
	put_str(env, "\n");
}

/*
 * Run the checker, then (--tlb) the TLB model's check: the tree first, so
 * a broken tree is reported as such.  Prints `ok` only when `say_ok`; on a violation prints
 * `violation: TEXT` and returns SCRIPT_VIOLATION.
 */
static int run_check(struct script_env *env, bool say_ok)
{
	char text[LINE_BUF];

	text[0] = '\0';
	if (ptmm_check(env->check_pts, env->nr_check_pts, env->ft, text, sizeof(text)) == PTMM_OK &&
	    (!env->tlb_check || env->tlb_check(env->tlb_ctx, text, sizeof(text)) == PTMM_OK)) {
		if (say_ok)
			put_str(env, "ok\n");
		return SCRIPT_OK;
	}
	text[sizeof(text) - 1] = '\0';
	put_str(env, "violation: ");
	put_str(env, text);
	put_str(env, "\n");
	return SCRIPT_VIOLATION;
}

/* ---- parsing of whole commands ---- */

/* Numbers of tok[first .. first+count); false if any is malformed. */
static bool parse_numbers(const struct token *tok, int first, int count, uint64_t *v)
{
	for (int i = 0; i < count; i++)
		if (!parse_number(&tok[first + i], &v[i]))
			return false;
	return true;
}

/* The optional `huge` / `replace` keywords (either order, each once). */
static bool parse_map_flags(const struct token *tok, int first, int nr, unsigned *flags)
{
	for (int i = first; i < nr; i++) {
		unsigned f;

		if (tok_is(&tok[i], "huge"))
			f = PTMM_MAP_HUGE;
		else if (tok_is(&tok[i], "replace"))
			f = PTMM_MAP_REPLACE;
		else
			return false;
		if (*flags & f)
			return false;
		*flags |= f;
	}
	return true;
}

/* Parse and run one tokenised command. */
static int run_command(struct script_env *env, const struct token *tok, int nr, unsigned lineno)
{
	uint64_t v[3];
	struct ptmm_prop prop;
	const struct token *cmd = &tok[0];

	if (tok_is(cmd, "map") || tok_is(cmd, "mmio")) {
		unsigned flags = tok_is(cmd, "mmio") ? PTMM_MAP_MMIO : 0;

		if (nr < 5)
			return syntax(env, lineno, "missing argument");
		if (!parse_numbers(tok, 1, 3, v))
			return syntax(env, lineno, "bad number");
		if (!parse_prop(&tok[4], &prop))
			return syntax(env, lineno, "bad property");
		if (!parse_map_flags(tok, 5, nr, &flags))
			return syntax(env, lineno, "expected huge or replace");
		do_map(env, v[0], v[1], v[2], prop, flags);
	} else if (tok_is(cmd, "unmap") || tok_is(cmd, "protect")) {
		bool is_protect = tok_is(cmd, "protect");
		int want = is_protect ? 4 : 3;

		if (nr < want)
			return syntax(env, lineno, "missing argument");
		if (nr > want)
			return syntax(env, lineno, "too many arguments");
		if (!parse_numbers(tok, 1, 2, v))
			return syntax(env, lineno, "bad number");
		if (is_protect && !parse_prop(&tok[3], &prop))
			return syntax(env, lineno, "bad property");
		do_unmap_protect(env, v[0], v[1], is_protect ? &prop : NULL);
	} else if (tok_is(cmd, "query") || tok_is(cmd, "find")) {
		bool is_find = tok_is(cmd, "find");
		int want = is_find ? 3 : 2;

		if (nr < want)
			return syntax(env, lineno, "missing argument");
		if (nr > want)
			return syntax(env, lineno, "too many arguments");
		if (!parse_numbers(tok, 1, want - 1, v))
			return syntax(env, lineno, "bad number");
		if (is_find)
			do_find(env, v[0], v[1]);
		else
			do_query(env, v[0]);
	} else if (tok_is(cmd, "dump") || tok_is(cmd, "check") || tok_is(cmd, "stats")) {
		if (nr > 1)
			return syntax(env, lineno, "too many arguments");
		if (tok_is(cmd, "dump"))
			do_dump(env);
		else if (tok_is(cmd, "stats"))
			do_stats(env);
		else
			return run_check(env, true);
	} else {
		return syntax(env, lineno, "unknown command");
	}
	return SCRIPT_OK;
}

int script_run_line(struct script_env *env, const char *line, size_t len, unsigned lineno)
{
	struct token tok[MAX_TOKENS];
	int nr = tokenize(line, len, tok);
	int result;

	if (nr == -1)
		return syntax(env, lineno, "bad character");
	if (nr < 0)
		return syntax(env, lineno, "too many arguments");
	if (nr == 0)
		return SCRIPT_OK; /* blank or comment */
	result = run_command(env, tok, nr, lineno);
	if (result == SCRIPT_OK && env->check_each)
		result = run_check(env, false);
	return result;
}

int script_run_text(struct script_env *env, const char *text, size_t len, char sep,
		    unsigned *lineno)
{
	size_t start = 0;

	while (start < len) {
		size_t end = start;
		int result;

		while (end < len && text[end] != sep)
			end++;
		(*lineno)++;
		result = script_run_line(env, text + start, end - start, *lineno);
		if (result != SCRIPT_OK)
			return result;
		start = end + 1;
	}
	return SCRIPT_OK;
}
