/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Helpers shared by the cmocka unit tests: parsing a job from a string, checking the collected
 * diagnostics, building a resolved job from "section.key=value" settings, and comparing 128-bit
 * FLOP counts. Everything is static inline so that a test that uses part of it still builds
 * with -Werror.
 */
#ifndef TL_TEST_H
#define TL_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "trainload/grid.h"
#include "trainload/job.h"
#include "trainload/log.h"
#include "trainload/model.h"
#include "trainload/sweep.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* A job and its diagnostics, as most tests need them. */
struct ctx {
	struct tl_job job;
	struct tl_diag diag;
};

static inline int ctx_setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c || tl_job_init(&c->job) != 0)
		return -1;
	*state = c;
	return 0;
}

static inline int ctx_teardown(void **state)
{
	struct ctx *c = *state;

	tl_diag_free(&c->diag);
	tl_job_free(&c->job);
	free(c);
	return 0;
}

/* Start over with a fresh default job and no diagnostics (for table-driven loops). */
static inline void ctx_reset(struct ctx *c)
{
	tl_diag_free(&c->diag);
	tl_job_free(&c->job);
	assert_int_equal(tl_job_init(&c->job), 0);
}

static inline void diag_dump(const struct tl_diag *d)
{
	print_message("  %d diagnostic(s), %d dropped:\n", d->count, d->dropped);
	for (int i = 0; i < d->count; i++)
		print_message("  [%d] %s\n", i, d->msg[i]);
}

/* Parse len bytes of text (which may hold NUL bytes) as the job file "name". */
static inline int parse_mem(struct tl_job *job, struct tl_diag *diag, const char *name,
                            const char *text, size_t len)
{
	FILE *f = fmemopen((void *)(uintptr_t)text, len, "r");
	int rc;

	assert_non_null(f);
	rc = tl_job_parse_stream(job, f, name, diag);
	fclose(f);
	return rc;
}

static inline int parse_str(struct ctx *c, const char *text)
{
	return parse_mem(&c->job, &c->diag, "t.job", text, strlen(text));
}

/* The diagnostics must be exactly these messages, in this order (NULL-terminated). */
static inline void expect_msgs_(const struct tl_diag *d, const char *const *want, const char *file,
                                int line)
{
	int n = 0;

	while (want[n])
		n++;
	bool same = d->count == n && d->dropped == 0;
	for (int i = 0; same && i < n; i++)
		same = !strcmp(d->msg[i], want[i]);
	if (!same) {
		print_message("%s:%d: expected %d diagnostic(s):\n", file, line, n);
		for (int i = 0; i < n; i++)
			print_message("  [%d] %s\n", i, want[i]);
		print_message("got:\n");
		diag_dump(d);
		fail_msg("diagnostics differ (%s:%d)", file, line);
	}
}
#define expect_msgs(d, ...)                                                                        \
	expect_msgs_((d), (const char *const[]){__VA_ARGS__, NULL}, __FILE__, __LINE__)

/* Some diagnostic must contain needle. */
static inline void expect_has_(const struct tl_diag *d, const char *needle, const char *file,
                               int line)
{
	for (int i = 0; i < d->count; i++)
		if (strstr(d->msg[i], needle))
			return;
	print_message("%s:%d: no diagnostic contains \"%s\"\n", file, line, needle);
	diag_dump(d);
	fail_msg("missing diagnostic (%s:%d)", file, line);
}
#define expect_has(d, needle) expect_has_((d), (needle), __FILE__, __LINE__)

/* No diagnostic may contain needle. */
static inline void expect_lacks_(const struct tl_diag *d, const char *needle, const char *file,
                                 int line)
{
	for (int i = 0; i < d->count; i++) {
		if (strstr(d->msg[i], needle)) {
			print_message("%s:%d: unexpected diagnostic containing \"%s\"\n", file,
			              line, needle);
			diag_dump(d);
			fail_msg("unexpected diagnostic (%s:%d)", file, line);
		}
	}
}
#define expect_lacks(d, needle) expect_lacks_((d), (needle), __FILE__, __LINE__)

/* Apply "section.key=value" settings (NULL-terminated) that must all be accepted. */
static inline void set_all(struct ctx *c, const char *const *sets)
{
	for (int i = 0; sets[i]; i++) {
		if (tl_job_set(&c->job, sets[i], &c->diag) != 0) {
			diag_dump(&c->diag);
			fail_msg("--set %s refused", sets[i]);
		}
	}
}

/* A job with these settings, resolved at world ranks: both must succeed. */
static inline void resolved_job(struct ctx *c, uint64_t world, const char *const *sets)
{
	ctx_reset(c);
	set_all(c, sets);
	if (tl_job_resolve(&c->job, world, &c->diag) != 0) {
		diag_dump(&c->diag);
		fail_msg("tl_job_resolve refused the job at %llu ranks", (unsigned long long)world);
	}
}

/* The value of an option as the job holds it, through the table's offset. */
static inline uint64_t job_uint(const struct tl_job *job, const char *section, const char *key)
{
	const struct tl_option *o = tl_job_option(section, key);

	assert_non_null(o);
	assert_int_equal(o->type, TL_OPT_UINT);
	return *(const uint64_t *)((const char *)job + o->off);
}

/* 128-bit integers in decimal, for messages. */
static inline const char *u128_str(unsigned __int128 v, char buf[48])
{
	char tmp[48];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + (int)(v % 10));
		v /= 10;
	} while (v);
	for (int i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return buf;
}

static inline void assert_u128_equal_(unsigned __int128 got, unsigned __int128 want,
                                      const char *what, const char *file, int line)
{
	if (got != want) {
		char g[48], w[48];
		fail_msg("%s:%d: %s = %s, expected %s", file, line, what, u128_str(got, g),
		         u128_str(want, w));
	}
}
#define assert_u128_equal(got, want) assert_u128_equal_((got), (want), #got, __FILE__, __LINE__)

/* Rank's sweep of a [sweep] job with sets applied (that must all be accepted and resolve) on
 * world ranks, into g and sw; what tl_sweep_build returned. */
static inline int sweep_of(struct ctx *c, const char *const *sets, uint64_t world, uint64_t rank,
                           struct tl_grid *g, struct tl_sweep *sw)
{
	ctx_reset(c);
	c->job.has_sweep = true;
	set_all(c, sets);
	assert_int_equal(tl_job_resolve(&c->job, world, &c->diag), 0);
	tl_grid_init(g, &c->job, world, 0);
	return tl_sweep_build(sw, &c->job, g, rank, &c->diag);
}

#endif
