/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Progress lines (src/progress.c): run.log_interval's two forms, when a line is due, and the
 * exact text of a step's line, in a batch log and on a terminal, with the clock given by the
 * test (no timing).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "tl_test.h"
#include "trainload/progress.h"

static void test_parse(void **state)
{
	struct tl_progress_every e;
	const char *why;
	static const char *const bad[] = {"", "abc", "-1", "10x", "1.5", "s", "5 s", "+3"};

	(void)state;
	assert_int_equal(tl_progress_parse("10", &e, &why), 0);
	assert_int_equal(e.steps, 10);
	assert_true(e.seconds == 0);
	assert_int_equal(tl_progress_parse("30s", &e, &why), 0);
	assert_int_equal(e.steps, 0);
	assert_true(e.seconds == 30);
	assert_int_equal(tl_progress_parse("1.5s", &e, &why), 0);
	assert_true(e.seconds == 1.5);
	assert_int_equal(tl_progress_parse("0", &e, &why), 0);
	assert_true(e.steps == 0 && e.seconds == 0);
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		assert_int_equal(tl_progress_parse(bad[i], &e, &why), TL_EINPUT);
		assert_non_null(strstr(why, "Ns (seconds)"));
	}
}

/* Every 3 steps of 10: the first, then 3 after the last printed, and the last. */
static void test_due_steps(void **state)
{
	struct tl_progress p;
	static const bool want[10] = {1, 0, 0, 1, 0, 0, 1, 0, 0, 1};

	(void)state;
	tl_progress_start(&p, stderr, false, "3", 100.0);
	for (uint64_t done = 1; done <= 10; done++)
		assert_int_equal(tl_progress_due(&p, done, 10, 100.0 + (double)done),
		                 want[done - 1]);
}

/* Every 10 s: what has waited 10 s since the last line; "0": the first and the last only. */
static void test_due_seconds(void **state)
{
	struct tl_progress p;

	(void)state;
	tl_progress_start(&p, stderr, false, "10s", 0.0);
	assert_true(tl_progress_due(&p, 1, 100, 0.5));
	assert_false(tl_progress_due(&p, 2, 100, 10.4));
	assert_true(tl_progress_due(&p, 3, 100, 10.6));
	assert_false(tl_progress_due(&p, 4, 100, 20.5));
	assert_true(tl_progress_due(&p, 5, 100, 20.6));
	assert_true(tl_progress_due(&p, 100, 100, 20.7));
	tl_progress_start(&p, stderr, false, "0", 0.0);
	assert_true(tl_progress_due(&p, 1, 5, 1));
	for (uint64_t done = 2; done < 5; done++)
		assert_false(tl_progress_due(&p, done, 5, 1e6 * (double)done));
	assert_true(tl_progress_due(&p, 5, 5, 9e6));
	/* Off: nothing is ever due. */
	tl_progress_start(&p, NULL, false, "1", 0.0);
	assert_false(tl_progress_due(&p, 1, 5, 1));
}

/* What progress lines a test writes, in memory. */
struct capture {
	char *buf;
	size_t len;
	FILE *f;
};

static int capture_setup(void **state)
{
	struct capture *c = calloc(1, sizeof(*c));

	if (!c || !(c->f = open_memstream(&c->buf, &c->len)))
		return -1;
	*state = c;
	return 0;
}

static int capture_teardown(void **state)
{
	struct capture *c = *state;

	fclose(c->f);
	free(c->buf);
	free(c);
	return 0;
}

static const char *written(struct capture *c)
{
	fflush(c->f);
	return c->buf;
}

/* A batch log: whole lines, when due, with the ETA at the mean step time so far. */
static void test_step_lines(void **state)
{
	struct capture *c = *state;
	struct tl_progress p;

	tl_progress_start(&p, c->f, false, "3", 10.0);
	tl_progress_note(&p, "warm-up: %d step(s)", 1);
	tl_progress_step(&p, 1, 9, 1, 0.5, 1024.4, 10.5);
	tl_progress_step(&p, 2, 9, 1, 0.5, 1024.4, 11.0);
	tl_progress_step(&p, 4, 9, 1, 0.5, 1000, 12.0);
	tl_progress_step(&p, 9, 9, 1, 0.25, 2048, 200.0);
	assert_string_equal(
	    written(c), "# warm-up: 1 step(s)\n"
	                "# step 1/9 (warm-up)  elapsed 0.5 s  last step 0.5000 s  1024 tokens/s  "
	                "ETA 4.0 s\n"
	                "# step 4/9  elapsed 2.0 s  last step 0.5000 s  1000 tokens/s  ETA 2.5 s\n"
	                "# step 9/9  elapsed 3m10s  last step 0.2500 s  2048 tokens/s  ETA done\n");
}

/* A terminal: every step rewrites one line, ended by the last. */
static void test_step_tty(void **state)
{
	struct capture *c = *state;
	struct tl_progress p;

	tl_progress_start(&p, c->f, true, "100", 0.0);
	tl_progress_step(&p, 1, 2, 0, 1.0, 10, 1.0);
	tl_progress_step(&p, 2, 2, 0, 1.0, 10, 2.0);
	assert_string_equal(
	    written(c), "\r# step 1/2  elapsed 1.0 s  last step 1.0000 s  10 tokens/s  ETA 1.0 s   "
	                "\r# step 2/2  elapsed 2.0 s  last step 1.0000 s  10 tokens/s  ETA done\n");
}

static void test_duration(void **state)
{
	char b[32];

	(void)state;
	assert_string_equal(tl_progress_duration(8.24, b, sizeof(b)), "8.2 s");
	assert_string_equal(tl_progress_duration(185, b, sizeof(b)), "3m05s");
	assert_string_equal(tl_progress_duration(7620, b, sizeof(b)), "2h07m");
	assert_string_equal(tl_progress_duration(-1, b, sizeof(b)), "0.0 s");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_due_steps),
	    cmocka_unit_test(test_due_seconds),
	    cmocka_unit_test_setup_teardown(test_step_lines, capture_setup, capture_teardown),
	    cmocka_unit_test_setup_teardown(test_step_tty, capture_setup, capture_teardown),
	    cmocka_unit_test(test_duration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
