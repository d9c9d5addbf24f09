/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the executor refuses to run (tl_exec_check, src/exec.c): what --dry-run plans but this
 * version does not run yet (a sweep on cuda, result checking on cuda), backend = cuda in a
 * build without it, and result checking on the null backend, which moves no data. Each refusal
 * names
 * the file and line of the key that asks for it (or its --set), and all of them are reported at
 * once; every other resolved job runs. tl_job_resolve itself accepts all of these
 * (tests/unit/test_job.c).
 */
#include "config.h"

#include <inttypes.h>

#include "tl_test.h"
#include "trainload/exec.h"

/* Parse text, resolve it at world ranks (which must succeed), then check it for running. */
static int check_text(struct ctx *c, const char *text, uint64_t world)
{
	ctx_reset(c);
	if (parse_str(c, text) != 0) {
		diag_dump(&c->diag);
		fail_msg("job text refused by the parser: %s", text);
	}
	if (tl_job_resolve(&c->job, world, &c->diag) != 0) {
		diag_dump(&c->diag);
		fail_msg("job refused by tl_job_resolve at %" PRIu64 " ranks: %s", world, text);
	}
	return tl_exec_check(&c->job, &c->diag);
}

#define LATER(what) "running " what " is not implemented yet (--dry-run plans it)"
#define NO_DATA(n) "check = " n " needs a backend that moves data (backend = null moves none)"
#define REBUILD                                                                                  \
	"backend = cuda needs a trainload built with CUDA: rebuild it with ./configure "         \
	"--with-cuda (--dry-run plans it)"

/* backend = cuda: runs in a build with it (configure --with-cuda), refused with the way to get
 * it in one without; a sweep on it is not implemented in either. */
static void test_cuda(void **state)
{
	struct ctx *c = *state;
#ifdef TL_HAVE_CUDA
	assert_int_equal(check_text(c, "[run]\nbackend = cuda\n", 1), 0);
	assert_int_equal(check_text(c, "[run]\nbackend = cuda\ncompute_dtype = bf16\n", 2), 0);
	assert_int_equal(check_text(c, "[sweep]\nop = allreduce\n[run]\nbackend = cuda\n", 1),
			 TL_EINPUT);
	expect_msgs(&c->diag, "t.job:4: " LATER("a sweep on backend = cuda (NCCL)"));
	assert_int_equal(check_text(c, "[run]\nbackend = cuda\ncheck = 2\n", 1), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:3: check = 2 is not implemented for backend = cuda yet "
			      "(backend = cpu checks data)");
#else
	assert_int_equal(check_text(c, "[run]\nbackend = cuda\n", 1), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: " REBUILD);
	assert_int_equal(check_text(c, "[run]\nbackend = cuda\ncompute_dtype = bf16\n", 2),
			 TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: " REBUILD);
	assert_int_equal(check_text(c, "[sweep]\nop = allreduce\n[run]\nbackend = cuda\n", 1),
			 TL_EINPUT);
	expect_msgs(&c->diag, "t.job:4: " REBUILD);
#endif
}

static void test_refused(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(check_text(c, "[run]\ncheck = 5\nbackend = null\n", 1), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: " NO_DATA("5"));

	/* an override is named as such */
	ctx_reset(c);
	assert_int_equal(tl_job_set(&c->job, "run.check=2", &c->diag), 0);
	assert_int_equal(tl_job_set(&c->job, "run.backend=null", &c->diag), 0);
	assert_int_equal(tl_job_resolve(&c->job, 1, &c->diag), 0);
	assert_int_equal(tl_exec_check(&c->job, &c->diag), TL_EINPUT);
	expect_msgs(&c->diag, "--set run.check: " NO_DATA("2"));
}

/* Everything else that resolves runs: every parallel layout the plan has, ZeRO, MoE, sequence
 * parallelism, recompute, a comm_dtype of its own, binding. */
static void test_accepted(void **state)
{
	struct ctx *c = *state;
	static const struct {
		const char *text;
		uint64_t world;
	} rows[] = {
	    {"[run]\nsteps = 1\n", 1},
	    {"[parallel]\ntp = 2\n", 2},
	    {"[parallel]\npp = 2\n", 2},
	    {"[parallel]\ntp = 2\npp = 2\nsequence_parallel = yes\n", 8},
	    {"[parallel]\nzero = 1\n", 1},
	    {"[parallel]\nzero = 3\n", 8},
	    {"[model]\nexperts = 8\n", 1},
	    {"[model]\nexperts = 8\n[parallel]\nep = 4\n", 8},
	    {"[run]\ncomm_dtype = bf16\n", 2},
	    {"[run]\ncompute_dtype = f64\ncomm_dtype = f32\n", 2},
	    {"[run]\nbind = core\n", 1},
	    {"[run]\nbind = numa\n", 2},
	    {"[run]\nbind = package\n", 4},
	    {"[run]\nbind = none\nthreads_per_rank = 1\n", 1},
	    {"[run]\nstraggler_pct = 10\n", 2},
	    {"[run]\ncheck = 1\ntimeout_s = 60\n", 4},
	    {"[run]\ncheck = 3\n[parallel]\nzero = 3\n", 2},
	    {"[run]\nrecompute = full\nmemory = lean\n", 1},
	    {"[run]\nrecompute = selective\nbackend = null\n", 2},
	    {"[parallel]\noverlap = no\nbucket_mb = 1\n", 4},
	    {"[parallel]\nschedule = gpipe\nmicrobatch = 2\ngrad_accum = 3\npp = 2\n", 2},
	    {"[model]\nmlp = swiglu\nkv_heads = 2\n", 2},
	};

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		if (check_text(c, rows[i].text, rows[i].world) != 0) {
			diag_dump(&c->diag);
			fail_msg("row %zu refused for running: %s", i, rows[i].text);
		}
		assert_int_equal(c->diag.count, 0);
	}
	/* the built-in default job */
	ctx_reset(c);
	assert_int_equal(tl_job_resolve(&c->job, 4, &c->diag), 0);
	assert_int_equal(tl_exec_check(&c->job, &c->diag), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)
	    T(test_refused),
	    T(test_accepted),
	    T(test_cuda),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
