/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Job files: inih reads the lines, the option table (job_options.c) decides what they mean.
 *
 * Every error is collected with its file and line, so that a user fixes a job file in one pass.
 * Debian's inih calls the handler without a line number, so the reader handed to
 * ini_parse_stream() counts lines itself; it also strips leading blanks (so an indented key is a
 * key, not a continuation line), CRLF line ends, and refuses over-long lines and binary data.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ini.h>

#include "trainload/job.h"

#define SET_BY_OVERRIDE (-1)

static void *field(struct tl_job *job, const struct tl_option *opt)
{
	return (char *)job + opt->off;
}

static const void *cfield(const struct tl_job *job, const struct tl_option *opt)
{
	return (const char *)job + opt->off;
}

static size_t option_index(const struct tl_option *opt)
{
	return (size_t)(opt - tl_job_options);
}

const struct tl_option *tl_job_option(const char *section, const char *name)
{
	for (size_t i = 0; i < tl_job_option_count; i++)
		if (!strcmp(tl_job_options[i].section, section) &&
		    !strcmp(tl_job_options[i].name, name))
			return &tl_job_options[i];
	return NULL;
}

static bool known_section(const char *section)
{
	for (int i = 0; tl_job_sections[i]; i++)
		if (!strcmp(tl_job_sections[i], section))
			return true;
	return false;
}

/* Edit distance with adjacent transpositions (optimal string alignment), for "did you mean":
 * names are short, so three rows of at most TL_NAME_MAX + 1 entries suffice. */
size_t tl_job_edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t rows[3][TL_NAME_MAX + 1];
	size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];

	if (la > TL_NAME_MAX || lb > TL_NAME_MAX)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			char x = (char)tolower((unsigned char)a[i - 1]);
			char y = (char)tolower((unsigned char)b[j - 1]);
			size_t best = prev[j - 1] + (x != y);
			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 && x == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == y && prev2[j - 2] + 1 < best)
				best = prev2[j - 2] + 1;
			cur[j] = best;
		}
		size_t *spare = prev2;
		prev2 = prev;
		prev = cur;
		cur = spare;
	}
	return prev[lb];
}

/* A close name is one within a third of its length in edits (and at least 1, at most 3). */
static bool close_enough(const char *typed, const char *name, size_t *best)
{
	size_t limit = strlen(name) / 3;
	size_t d = tl_job_edit_distance(typed, name);

	if (limit < 1)
		limit = 1;
	if (limit > 3)
		limit = 3;
	if (d <= limit && d < *best) {
		*best = d;
		return true;
	}
	return false;
}

static const char *suggest_section(const char *typed)
{
	const char *hint = NULL;
	size_t best = SIZE_MAX;

	for (int i = 0; tl_job_sections[i]; i++)
		if (close_enough(typed, tl_job_sections[i], &best))
			hint = tl_job_sections[i];
	return hint;
}

static void unknown_key(struct tl_diag *diag, const char *where, const char *section,
			const char *name)
{
	const struct tl_option *hint = NULL;
	size_t best = SIZE_MAX;

	for (size_t i = 0; i < tl_job_option_count; i++) {
		const struct tl_option *o = &tl_job_options[i];
		if (!strcmp(o->section, section) && close_enough(name, o->name, &best))
			hint = o;
	}
	if (hint) {
		tl_diag_add(diag, where, "unknown key '%s' in [%s] (did you mean '%s'?)", name,
			    section, hint->name);
		return;
	}
	for (size_t i = 0; i < tl_job_option_count; i++) {
		const struct tl_option *o = &tl_job_options[i];
		if (!strcasecmp(o->name, name)) {
			tl_diag_add(diag, where, "unknown key '%s' in [%s] (it belongs in [%s])",
				    name, section, o->section);
			return;
		}
	}
	tl_diag_add(diag, where, "unknown key '%s' in [%s]", name, section);
}

/* Unsigned integer with an optional k/M/G/T (powers of 1000) or Ki/Mi/Gi/Ti (of 1024) suffix. */
int tl_parse_uint(const char *s, uint64_t *out, const char **why)
{
	static const struct {
		const char *suffix;
		uint64_t mult;
	} suffixes[] = {
		{ "", 1 },
		{ "k", UINT64_C(1000) },
		{ "M", UINT64_C(1000000) },
		{ "G", UINT64_C(1000000000) },
		{ "T", UINT64_C(1000000000000) },
		{ "Ki", UINT64_C(1) << 10 },
		{ "Mi", UINT64_C(1) << 20 },
		{ "Gi", UINT64_C(1) << 30 },
		{ "Ti", UINT64_C(1) << 40 },
	};
	uint64_t v = 0;
	const char *p = s;

	if (*p == '-') {
		*why = "negative values are not allowed";
		return -1;
	}
	if (!isdigit((unsigned char)*p)) {
		*why = "expected an unsigned integer (suffixes k, M, G, T, Ki, Mi, Gi, Ti allowed)";
		return -1;
	}
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		*why = "hexadecimal is not accepted: write the number in decimal";
		return -1;
	}
	for (; isdigit((unsigned char)*p); p++) {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v)) {
			*why = "does not fit in 64 bits";
			return -1;
		}
	}
	/* 2.5, 1e3, 1.5Mi: a fraction or an exponent, which a count cannot have. */
	if (*p == '.' || ((*p == 'e' || *p == 'E') && (isdigit((unsigned char)p[1]) ||
							 p[1] == '+' || p[1] == '-'))) {
		*why = "expected a whole number: a fraction or an exponent is not accepted (write "
		       "1e3 as 1000 or 1k)";
		return -1;
	}
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if (strcmp(p, suffixes[i].suffix))
			continue;
		if (__builtin_mul_overflow(v, suffixes[i].mult, &v)) {
			*why = "does not fit in 64 bits";
			return -1;
		}
		*out = v;
		return 0;
	}
	*why = "unknown suffix (use k, M, G, T for powers of 1000, Ki, Mi, Gi, Ti for powers of "
	       "1024)";
	return -1;
}

static int parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (!strcasecmp(s, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcasecmp(s, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

static void enum_choices(const struct tl_option *opt, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (const struct tl_opt_enum *e = opt->names; e->name && used < len; e++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s", used ? ", " : "", e->name);
}

/* Store value into the option's field; on error, add a message naming the key. */
static int set_value(struct tl_job *job, const struct tl_option *opt, const char *value,
		     const char *where, struct tl_diag *diag)
{
	const char *why = NULL;

	if (!*value) {
		tl_diag_add(diag, where, "empty value for key '%s' in [%s]", opt->name,
			    opt->section);
		return TL_EINPUT;
	}
	switch (opt->type) {
	case TL_OPT_UINT: {
		uint64_t v;
		if ((opt->flags & TL_OPT_AUTO) && !strcasecmp(value, "auto")) {
			*(uint64_t *)field(job, opt) = 0;
			return 0;
		}
		if (tl_parse_uint(value, &v, &why)) {
			tl_diag_add(diag, where, "bad value '%s' for key '%s' in [%s]: %s", value,
				    opt->name, opt->section, why);
			return TL_EINPUT;
		}
		if (v < opt->min || v > opt->max) {
			tl_diag_add(diag, where,
				    "key '%s' in [%s] is %" PRIu64 ", outside its range %" PRIu64
				    "..%" PRIu64 "%s",
				    opt->name, opt->section, v, opt->min, opt->max,
				    (opt->flags & TL_OPT_AUTO) ? " (or auto)" : "");
			return TL_EINPUT;
		}
		*(uint64_t *)field(job, opt) = v;
		return 0;
	}
	case TL_OPT_BOOL:
		if (parse_bool(value, (bool *)field(job, opt))) {
			tl_diag_add(diag, where,
				    "bad value '%s' for key '%s' in [%s]: expected yes or no", value,
				    opt->name, opt->section);
			return TL_EINPUT;
		}
		return 0;
	case TL_OPT_ENUM:
		for (const struct tl_opt_enum *e = opt->names; e->name; e++) {
			if (!strcasecmp(value, e->name)) {
				*(int *)field(job, opt) = e->value;
				return 0;
			}
		}
		{
			char choices[256];
			enum_choices(opt, choices, sizeof(choices));
			tl_diag_add(diag, where, "bad value '%s' for key '%s' in [%s]: expected one of %s",
				    value, opt->name, opt->section, choices);
		}
		return TL_EINPUT;
	case TL_OPT_STR:
		if (strlen(value) >= opt->size) {
			tl_diag_add(diag, where, "value of key '%s' in [%s] is longer than %zu characters",
				    opt->name, opt->section, opt->size - 1);
			return TL_EINPUT;
		}
		for (const char *p = value; *p; p++) {
			if (!isprint((unsigned char)*p)) {
				tl_diag_add(diag, where,
					    "value of key '%s' in [%s] holds a non-printable character",
					    opt->name, opt->section);
				return TL_EINPUT;
			}
		}
		strcpy((char *)field(job, opt), value);
		return 0;
	case TL_OPT_DOUBLE: {
		char *end;
		errno = 0;
		/* Decimal only: strtod would also read hexadecimal (0x10 as 16), inf and nan. */
		double v = strtod(value, &end);
		if (*end || errno || !isfinite(v) ||
		    value[strspn(value, "0123456789.+-eE")] != '\0') {
			tl_diag_add(diag, where, "bad value '%s' for key '%s' in [%s]: expected a %s",
				    value, opt->name, opt->section,
				    strpbrk(value, "xX") && isfinite(v) && !*end
					    ? "decimal number (hexadecimal is not accepted)"
					    : "number");
			return TL_EINPUT;
		}
		if (v < opt->dmin || v > opt->dmax) {
			tl_diag_add(diag, where, "key '%s' in [%s] is %g, outside its range %g..%g",
				    opt->name, opt->section, v, opt->dmin, opt->dmax);
			return TL_EINPUT;
		}
		*(double *)field(job, opt) = v;
		return 0;
	}
	}
	return TL_EINPUT;
}

int tl_job_init(struct tl_job *job)
{
	struct tl_diag diag = { 0 };

	memset(job, 0, sizeof(*job));
	job->set_line = calloc(tl_job_option_count, sizeof(*job->set_line));
	if (!job->set_line)
		return TL_ENOMEM;
	snprintf(job->source, sizeof(job->source), "built-in default job");
	for (size_t i = 0; i < tl_job_option_count; i++)
		set_value(job, &tl_job_options[i], tl_job_options[i].def, "default", &diag);
	/* A default that its own table rejects is a programming error, caught by the unit tests. */
	int rc = diag.count ? TL_EINPUT : 0;
	tl_diag_print(&diag);
	tl_diag_free(&diag);
	return rc;
}

void tl_job_free(struct tl_job *job)
{
	free(job->set_line);
	job->set_line = NULL;
}

/* State shared by the line reader and the key handler during one file's parse. */
struct parse_ctx {
	struct tl_job *job;
	struct tl_diag *diag;
	FILE *file;
	const char *name;
	int line;
	bool binary;      /* stop at the first binary line (or past TL_JOB_FILE_MAX bytes) */
	bool section_ok;  /* the current section is known */
	int settings;     /* keys seen */
	uint64_t bytes;   /* read so far */
	char buf[TL_JOB_LINE_KEPT]; /* the current line's first bytes */
};

static void where_line(const struct parse_ctx *ctx, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%d", ctx->name, ctx->line);
}

/* Section headers are checked here, as inih only reports keys to the handler. */
static void check_section_line(struct parse_ctx *ctx, const char *line)
{
	char name[TL_NAME_MAX + 1], where[600];
	const char *close = strchr(line, ']');
	size_t len;

	if (*line != '[' || !close)
		return; /* not a header; inih reports malformed ones */
	len = (size_t)(close - line - 1);
	if (len > TL_NAME_MAX)
		len = TL_NAME_MAX;
	memcpy(name, line + 1, len);
	name[len] = '\0';
	ctx->section_ok = known_section(name);
	if (!strcmp(name, "model"))
		ctx->job->has_model = true;
	if (!strcmp(name, "sweep"))
		ctx->job->has_sweep = true;
	if (ctx->section_ok)
		return;
	where_line(ctx, where, sizeof(where));
	const char *hint = suggest_section(name);
	if (hint)
		tl_diag_add(ctx->diag, where, "unknown section [%s] (did you mean [%s]?)", name,
			    hint);
	else
		tl_diag_add(ctx->diag, where,
			    "unknown section [%s] (sections are [model], [parallel], [run], [sweep])",
			    name);
}

/* Why a line (leading blanks removed) is neither blank, a comment, a [section] nor a
 * key = value (inih also takes key: value), into why; false when it is one of them. */
static bool syntax_error(const char *line, char *why, size_t len)
{
	const char *text = NULL;

	if (!*line || *line == '#' || *line == ';')
		return false;
	if (*line == '[') {
		const char *close = strchr(line, ']');
		if (!close) {
			text = "section header without a closing ']'";
		} else {
			/* inih drops what follows the ']': "[run] steps = 5" would lose its key. */
			const char *after = close + 1 + strspn(close + 1, " \t");
			if (*after && *after != '#' && *after != ';') {
				snprintf(why, len, "'%.*s' after the section header %.*s (a key = value "
					 "goes on a line of its own)", TL_NAME_MAX, after,
					 (int)(close - line + 1), line);
				return true;
			}
		}
	} else if (*line == '=' || *line == ':') {
		text = "a value without a key";
	} else if (!strpbrk(line, "=:")) {
		text = "expected [section] or key = value";
	}
	if (text)
		snprintf(why, len, "%s", text);
	return text != NULL;
}

/*
 * Read one line into ctx->buf, without its line end: at most TL_JOB_LINE_KEPT - 1 bytes are
 * kept, the rest only counted, so that a line without end (a file of zeros) costs no memory.
 * *len is the whole line's length, *bad its first byte that no text file holds (NUL, a control
 * character other than a tab, DEL, a carriage return but the last), or -1. Returns false at the
 * end of the file, or past TL_JOB_FILE_MAX bytes.
 */
static bool read_line(struct parse_ctx *ctx, size_t *len, int *bad)
{
	size_t n = 0;
	bool cr = false; /* a carriage return was read and not yet judged */
	int c;

	*bad = -1;
	while ((c = getc(ctx->file)) != EOF && c != '\n') {
		if (++ctx->bytes > TL_JOB_FILE_MAX)
			return false;
		if (cr) {
			if (*bad < 0)
				*bad = '\r';
			n++;
		}
		cr = c == '\r';
		if (cr)
			continue;
		if (*bad < 0 && (c == 0 || (c < 0x20 && c != '\t') || c == 0x7f))
			*bad = c;
		if (n < sizeof(ctx->buf) - 1)
			ctx->buf[n] = (char)c;
		n++;
	}
	if (c == '\n')
		ctx->bytes++;
	ctx->buf[n < sizeof(ctx->buf) - 1 ? n : sizeof(ctx->buf) - 1] = '\0';
	*len = n;
	return c != EOF || n || cr;
}

static char *reader(char *str, int num, void *stream)
{
	struct parse_ctx *ctx = stream;
	char where[600];
	size_t len;
	int bad;

	if (ctx->binary)
		return NULL;
	if (!read_line(ctx, &len, &bad)) {
		if (ctx->bytes > TL_JOB_FILE_MAX) {
			tl_diag_add(ctx->diag, ctx->name,
				    "more than %d MiB: not a job file (a job file is a few kB of text)",
				    TL_JOB_FILE_MAX >> 20);
			ctx->binary = true;
		}
		return NULL;
	}
	ctx->line++;
	where_line(ctx, where, sizeof(where));
	if (bad >= 0) {
		tl_diag_add(ctx->diag, where, "binary data (byte 0x%02x): not a job file", bad);
		ctx->binary = true;
		return NULL;
	}

	char *start = ctx->buf;
	/* A UTF-8 byte-order mark, as some editors write, is not part of the first line. */
	if (ctx->line == 1 && !strncmp(start, "\xEF\xBB\xBF", 3))
		start += 3;
	while (*start == ' ' || *start == '\t')
		start++;
	len -= (size_t)(start - ctx->buf);
	/* inih needs room for the newline and the terminator. */
	if (len + 2 > (size_t)num) {
		tl_diag_add(ctx->diag, where, "line too long (%zu characters, at most %d)", len,
			    num - 2);
		str[0] = '\0';
		return str;
	}
	/* Syntax is checked here, line by line, so that every bad line is reported (inih tells
	 * only of the first); the bad line reaches inih empty. */
	char why[3 * TL_NAME_MAX];
	if (syntax_error(start, why, sizeof(why))) {
		tl_diag_add(ctx->diag, where, "syntax error: %s", why);
		/* A header with text after it still opens its section, so that the lines after
		 * it are judged in it. */
		char *close = *start == '[' ? strchr(start, ']') : NULL;
		if (!close) {
			str[0] = '\0';
			return str;
		}
		close[1] = '\0';
		len = (size_t)(close + 1 - start);
	}
	check_section_line(ctx, start);
	memcpy(str, start, len);
	str[len] = '\n';
	str[len + 1] = '\0';
	return str;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *ctx = user;
	char where[600];

	where_line(ctx, where, sizeof(where));
	ctx->settings++;
	if (!*section) {
		tl_diag_add(ctx->diag, where,
			    "key '%s' before any section (start with [model], [parallel], [run] or "
			    "[sweep])",
			    name);
		return 1;
	}
	if (!ctx->section_ok)
		return 1; /* the unknown section was reported at its header */

	const struct tl_option *opt = tl_job_option(section, name);
	if (!opt) {
		unknown_key(ctx->diag, where, section, name);
		return 1;
	}
	int *set_line = &ctx->job->set_line[option_index(opt)];
	if (*set_line > 0) {
		tl_diag_add(ctx->diag, where, "duplicate key '%s' in [%s] (first set at line %d)",
			    name, section, *set_line);
		return 1;
	}
	/* Recorded even when the value is bad, so that a second setting is still a duplicate. */
	*set_line = ctx->line;
	set_value(ctx->job, opt, value, where, ctx->diag);
	return 1;
}

int tl_job_parse_stream(struct tl_job *job, void *file, const char *name, struct tl_diag *diag)
{
	struct parse_ctx ctx = { .job = job, .diag = diag, .file = file, .name = name };
	int before = diag->count + diag->dropped;

	snprintf(job->source, sizeof(job->source), "%s", name);
	int rc = ini_parse_stream(reader, &ctx, handler, &ctx);
	if (rc > 0 && diag->count + diag->dropped == before) {
		/* inih's own complaint: a line that is neither a section nor "key = value". */
		tl_diag_add(diag, NULL, "%s:%d: syntax error: expected [section] or key = value",
			    name, rc);
	} else if (rc < 0) {
		tl_diag_add(diag, name, "out of memory while parsing");
	}
	if (!ctx.binary && ctx.settings == 0 && diag->count + diag->dropped == before) {
		tl_diag_add(diag, name, "%s (a job file needs at least one key = value line)",
			    ctx.line ? "no settings, only comments and blank lines"
				     : "empty job file");
	}
	return diag->count + diag->dropped > before ? TL_EINPUT : 0;
}

/* What a job file path is when it is no regular file. */
static const char *file_kind(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISBLK(mode))
		return "a block device";
	if (S_ISSOCK(mode))
		return "a socket";
	return "not a regular file";
}

int tl_job_parse_file(struct tl_job *job, const char *path, struct tl_diag *diag)
{
	struct stat st;
	/* Without O_NONBLOCK, opening a FIFO waits for a writer, forever. */
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	FILE *f;

	if (fd < 0) {
		tl_diag_add(diag, path, "cannot open job file: %s", strerror(errno));
		return TL_EINPUT;
	}
	if (fstat(fd, &st) != 0) {
		tl_diag_add(diag, path, "cannot read job file: %s", strerror(errno));
		close(fd);
		return TL_EINPUT;
	}
	if (!S_ISREG(st.st_mode)) {
		tl_diag_add(diag, path, "is %s, not a job file", file_kind(st.st_mode));
		close(fd);
		return TL_EINPUT;
	}
	if (st.st_size > TL_JOB_FILE_MAX) {
		tl_diag_add(diag, path, "%lld bytes, more than %d MiB: not a job file (a job file is "
			    "a few kB of text)", (long long)st.st_size, TL_JOB_FILE_MAX >> 20);
		close(fd);
		return TL_EINPUT;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if (!(f = fdopen(fd, "r"))) {
		tl_diag_add(diag, path, "cannot open job file: %s", strerror(errno));
		close(fd);
		return TL_EINPUT;
	}
	int rc = tl_job_parse_stream(job, f, path, diag);
	if (ferror(f)) {
		tl_diag_add(diag, path, "read error: %s", strerror(errno));
		rc = TL_EINPUT;
	}
	fclose(f);
	return rc;
}

int tl_job_set(struct tl_job *job, const char *assignment, struct tl_diag *diag)
{
	char section[TL_NAME_MAX], where[TL_NAME_MAX * 4];
	const char *dot = strchr(assignment, '.');
	const char *eq = strchr(assignment, '=');

	snprintf(where, sizeof(where), "--set %.*s", (int)(2 * TL_NAME_MAX), assignment);
	if (!dot || !eq || dot > eq || dot == assignment || eq == dot + 1 ||
	    (size_t)(dot - assignment) >= sizeof(section)) {
		tl_diag_add(diag, where, "expected section.key=value (e.g. parallel.tp=2)");
		return TL_EINPUT;
	}
	memcpy(section, assignment, (size_t)(dot - assignment));
	section[dot - assignment] = '\0';

	char name[TL_NAME_MAX];
	size_t name_len = (size_t)(eq - dot - 1);
	if (name_len >= sizeof(name)) {
		tl_diag_add(diag, where, "key name too long");
		return TL_EINPUT;
	}
	memcpy(name, dot + 1, name_len);
	name[name_len] = '\0';
	snprintf(where, sizeof(where), "--set %s.%s", section, name);

	if (!known_section(section)) {
		const char *hint = suggest_section(section);
		if (hint)
			tl_diag_add(diag, where, "unknown section [%s] (did you mean [%s]?)", section,
				    hint);
		else
			tl_diag_add(diag, where, "unknown section [%s]", section);
		return TL_EINPUT;
	}
	const struct tl_option *opt = tl_job_option(section, name);
	if (!opt) {
		unknown_key(diag, where, section, name);
		return TL_EINPUT;
	}
	int rc = set_value(job, opt, eq + 1, where, diag);
	if (rc == 0) {
		job->set_line[option_index(opt)] = SET_BY_OVERRIDE;
		if (!strcmp(section, "model"))
			job->has_model = true;
		if (!strcmp(section, "sweep"))
			job->has_sweep = true;
	}
	return rc;
}

const char *tl_job_format(const struct tl_job *job, const struct tl_option *opt, char *buf,
			  size_t len)
{
	const void *p = cfield(job, opt);

	switch (opt->type) {
	case TL_OPT_UINT:
		if ((opt->flags & TL_OPT_AUTO) && *(const uint64_t *)p == 0)
			snprintf(buf, len, "auto");
		else
			snprintf(buf, len, "%" PRIu64, *(const uint64_t *)p);
		break;
	case TL_OPT_BOOL:
		snprintf(buf, len, "%s", *(const bool *)p ? "yes" : "no");
		break;
	case TL_OPT_ENUM:
		snprintf(buf, len, "%s", "?");
		for (const struct tl_opt_enum *e = opt->names; e->name; e++)
			if (e->value == *(const int *)p)
				snprintf(buf, len, "%s", e->name);
		break;
	case TL_OPT_STR:
		snprintf(buf, len, "%s", (const char *)p);
		break;
	case TL_OPT_DOUBLE:
		snprintf(buf, len, "%g", *(const double *)p);
		break;
	}
	return buf;
}

const char *tl_job_where(const struct tl_job *job, const struct tl_option *opt, char *buf,
			 size_t len)
{
	int line = job->set_line[option_index(opt)];

	if (line > 0)
		snprintf(buf, len, "%s:%d", job->source, line);
	else if (line == SET_BY_OVERRIDE)
		snprintf(buf, len, "--set %s.%s", opt->section, opt->name);
	else
		snprintf(buf, len, "%s", job->source);
	return buf;
}

const char *tl_job_enum_name(const char *section, const char *key, int value)
{
	const struct tl_option *opt = tl_job_option(section, key);

	if (!opt || opt->type != TL_OPT_ENUM)
		return "?";
	for (const struct tl_opt_enum *e = opt->names; e->name; e++)
		if (e->value == value)
			return e->name;
	return "?";
}

json_t *tl_job_to_json(const struct tl_job *job)
{
	json_t *root = json_object();
	const char *skip = job->has_sweep ? "model" : "sweep";

	for (int s = 0; tl_job_sections[s]; s++) {
		if (!strcmp(tl_job_sections[s], skip))
			continue;
		json_t *sec = json_object();
		for (size_t i = 0; i < tl_job_option_count; i++) {
			const struct tl_option *o = &tl_job_options[i];
			const void *p = cfield(job, o);
			json_t *v = NULL;
			char buf[TL_SWEEP_OPS_MAX];

			if (strcmp(o->section, tl_job_sections[s]))
				continue;
			switch (o->type) {
			case TL_OPT_UINT:
				/* An auto the job cannot resolve alone (threads_per_rank is each
				 * rank's own; see ranks[].threads) stays "auto". */
				if ((o->flags & TL_OPT_AUTO) && *(const uint64_t *)p == 0)
					v = json_string("auto");
				else
					v = json_integer((json_int_t) * (const uint64_t *)p);
				break;
			case TL_OPT_BOOL:
				v = json_boolean(*(const bool *)p);
				break;
			case TL_OPT_DOUBLE:
				v = json_real(*(const double *)p);
				break;
			case TL_OPT_ENUM:
			case TL_OPT_STR:
				v = json_string(tl_job_format(job, o, buf, sizeof(buf)));
				break;
			}
			json_object_set_new(sec, o->name, v);
		}
		json_object_set_new(root, tl_job_sections[s], sec);
	}
	return root;
}

int tl_job_from_json(struct tl_job *job, const json_t *sections, struct tl_diag *diag)
{
	const char *section, *key;
	json_t *keys, *value;
	int rc = 0;

	if (!json_is_object(sections)) {
		tl_diag_add(diag, "job", "not an object of sections");
		return TL_EINPUT;
	}
	json_object_foreach ((json_t *)sections, section, keys) {
		if (!json_is_object(keys)) {
			tl_diag_add(diag, "job", "section [%.*s] is not an object", TL_NAME_MAX,
				    section);
			rc = TL_EINPUT;
			continue;
		}
		json_object_foreach (keys, key, value) {
			char assignment[TL_SWEEP_OPS_MAX + 4 * TL_NAME_MAX];
			int len = snprintf(assignment, sizeof(assignment), "%.*s.%.*s=", TL_NAME_MAX,
					   section, TL_NAME_MAX, key);
			size_t room = sizeof(assignment) - (size_t)len;

			if (json_is_string(value))
				snprintf(assignment + len, room, "%s", json_string_value(value));
			else if (json_is_integer(value))
				snprintf(assignment + len, room, "%" JSON_INTEGER_FORMAT,
					 json_integer_value(value));
			else if (json_is_real(value))
				snprintf(assignment + len, room, "%.17g", json_real_value(value));
			else if (json_is_boolean(value))
				snprintf(assignment + len, room, "%s", json_is_true(value) ? "yes" : "no");
			else {
				tl_diag_add(diag, "job", "%.*s.%.*s is not a string, number or boolean",
					    TL_NAME_MAX, section, TL_NAME_MAX, key);
				rc = TL_EINPUT;
				continue;
			}
			if (tl_job_set(job, assignment, diag))
				rc = TL_EINPUT;
		}
	}
	return rc;
}

void tl_job_print_help(void *stream)
{
	FILE *f = stream;

	fprintf(f, "Job-file keys (INI sections; override any with --set section.key=value).\n"
		   "Sizes accept k, M, G, T (powers of 1000) and Ki, Mi, Gi, Ti (of 1024).\n");
	for (int s = 0; tl_job_sections[s]; s++) {
		fprintf(f, "\n[%s]\n", tl_job_sections[s]);
		for (size_t i = 0; i < tl_job_option_count; i++) {
			const struct tl_option *o = &tl_job_options[i];
			char kind[256];

			if (strcmp(o->section, tl_job_sections[s]))
				continue;
			switch (o->type) {
			case TL_OPT_UINT:
				snprintf(kind, sizeof(kind), "integer %" PRIu64 "..%" PRIu64 "%s",
					 o->min, o->max, (o->flags & TL_OPT_AUTO) ? " or auto" : "");
				break;
			case TL_OPT_BOOL:
				snprintf(kind, sizeof(kind), "yes|no");
				break;
			case TL_OPT_ENUM: {
				size_t used = 0;
				kind[0] = '\0';
				for (const struct tl_opt_enum *e = o->names; e->name; e++)
					used += (size_t)snprintf(kind + used, sizeof(kind) - used,
								 "%s%s", used ? "|" : "", e->name);
				break;
			}
			case TL_OPT_STR:
				snprintf(kind, sizeof(kind), "string");
				break;
			case TL_OPT_DOUBLE:
				snprintf(kind, sizeof(kind), "number %g..%g", o->dmin, o->dmax);
				break;
			}
			fprintf(f, "  %-18s %s (default %s)\n  %-18s %s\n", o->name, kind, o->def,
				"", o->help);
		}
	}
}
