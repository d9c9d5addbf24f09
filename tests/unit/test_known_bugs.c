/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Known bugs in src/, one test each, written as the correct behaviour. This program is listed
 * in XFAIL_TESTS (tests/local.mk): it is expected to fail while any of these bugs stands. When
 * a fix makes a test here pass, move that test to the module's own test file; when all pass,
 * `make check` reports XPASS (a failure) until the program leaves XFAIL_TESTS.
 */
#include "config.h"

#include <inttypes.h>

#include "tl_test.h"

/*
 * src/job.c, reader() and check_section_line(): the reader hands check_section_line() the line
 * with a UTF-8 byte-order mark still in front of '[' (inih strips the BOM only later), so the
 * first section is never marked known and every key in it is silently ignored, bad or good.
 */
static void test_bom_first_section(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(parse_str(c, "\xEF\xBB\xBF[run]\nsteps = 3\n"), 0);
	assert_int_equal(c->job.steps, 3);

	ctx_reset(c);
	assert_int_equal(parse_str(c, "\xEF\xBB\xBF[run]\nsteps = 0\n"), TL_EINPUT);
	expect_msgs(&c->diag,
	            "t.job:2: key 'steps' in [run] is 0, outside its range 1..1073741824");
}

/*
 * src/job.c, tl_job_parse_stream(): ini_parse_stream() returns only the first line that is
 * neither a section nor "key = value", and that one is reported only when no other error was
 * found. Every malformed line after the first, and the first one too whenever any other error
 * exists, goes unreported: the user does not see all errors in one pass.
 */
static void test_all_syntax_errors_reported(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(parse_str(c, "[run]\nnoequals\nalso bad\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: syntax error: expected [section] or key = value",
	            "t.job:3: syntax error: expected [section] or key = value");

	ctx_reset(c);
	assert_int_equal(parse_str(c, "[run]\nstepz = 1\nnoequals\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: unknown key 'stepz' in [run] (did you mean 'steps'?)",
	            "t.job:3: syntax error: expected [section] or key = value");
}

/* The same root cause: an unterminated header is not reported; the next key is blamed. */
static void test_unterminated_section(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(parse_str(c, "[run\nsteps = 1\n"), TL_EINPUT);
	expect_has(&c->diag, "t.job:1: ");
}

/*
 * src/model.c, tl_model_build(): each GEMM and each byte count is checked against 64 bits, but
 * the step totals (fwd × microbatches × 3 + recompute) are multiplied in unsigned __int128
 * without a check, and wrap for sizes that pass every other check. Here: 2^32 layers of
 * h = 2048 with s = 2^25 and a global batch of 2^32 (each attention GEMM ~2^62 FLOPs); the step
 * is ~3·2^127 FLOPs, which wraps. Expected: refused as an input error.
 */
static void test_flops_128_bit_wrap(void **state)
{
	struct ctx *c = *state;
	struct tl_model m;

	resolved_job(c, 1,
	             (const char *const[]){"model.layers=4Gi", "model.hidden=2048", "model.heads=1",
	                                   "model.seq=32Mi", "model.vocab=8",
	                                   "parallel.global_batch=4Gi", NULL});
	/* The true count, ~3·2^127, does not fit in 128 bits: only a refusal is right. */
	int rc = tl_model_build(&m, &c->job, &c->diag);
	if (rc == 0) {
		char got[48];
		fail_msg("accepted; model_flops_per_step wrapped to %s",
		         u128_str(m.model_flops_per_step, got));
	}
	assert_int_equal(rc, TL_EINPUT);
	expect_has(&c->diag, "overflow");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)
	    T(test_bom_first_section),
	    T(test_all_syntax_errors_reported),
	    T(test_unterminated_section),
	    T(test_flops_128_bit_wrap),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
