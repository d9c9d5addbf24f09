/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The result module (src/result.c): the JSON document, its steps and the human summary, from
 * made-up measurements whose statistics are known exactly, so no run and no timing is involved.
 *
 * Links the pure libtlcore.la alone (no MPI, no BLAS): the result code must not need the
 * executor's or the statistics' library.
 */
#include "config.h"

#include <malloc.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tl_test.h"
#include "trainload/plan.h"
#include "trainload/result.h"
#include "trainload/slurm.h"

struct fixture {
	struct ctx c;
	struct tl_model model;
	struct tl_grid grid;
	struct tl_plan plan;
	struct tl_step steps[3];
	int step_rank[3];
	struct tl_rank_info ranks[2];
	struct tl_result r;
};

/* The default job at 2 ranks, three measured steps of 3, 1 and 2 seconds. */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || tl_job_init(&f->c.job))
		return -1;
	if (tl_job_set(&f->c.job, "run.steps=3", &f->c.diag) ||
	    tl_job_resolve(&f->c.job, 2, &f->c.diag) ||
	    tl_model_build(&f->model, &f->c.job, &f->c.diag) ||
	    (tl_grid_init(&f->grid, &f->c.job, 2, 0),
	     tl_plan_build(&f->plan, &f->c.job, &f->model, &f->grid, 0)))
		return -1;
	static const double t[3] = {3.0, 1.0, 2.0};
	for (int i = 0; i < 3; i++) {
		struct tl_step *s = &f->steps[i];
		s->time_s = t[i];
		s->compute_s = 0.5 * t[i];
		s->comm_exposed_s[TL_GROUP_DP] = 0.25 * t[i];
		s->comm_exposed_s[TL_GROUP_TP] = 0.125 * t[i];
		s->other_s = 0.125 * t[i];
		f->step_rank[i] = i % 2;
	}
	for (int i = 0; i < 2; i++) {
		f->ranks[i].rank = i;
		snprintf(f->ranks[i].host, sizeof(f->ranks[i].host), "node%02d", i);
		snprintf(f->ranks[i].cpuset, sizeof(f->ranks[i].cpuset), "%d", i);
		f->ranks[i].threads = 1;
		/* 10 and 20 GFLOP/s */
		f->ranks[i].gemm_s = 1.0;
		f->ranks[i].gemm_flops = 10e9 * (i + 1);
		f->ranks[i].ops_per_step[TL_OP_GEMM] = 75;
		f->ranks[i].ops_per_step[TL_OP_ALLREDUCE] = 1;
	}
	f->r = (struct tl_result){.job = &f->c.job,
	                          .model = &f->model,
	                          .plan = &f->plan,
	                          .ranks = 2,
	                          .rank_info = f->ranks,
	                          .steps = f->steps,
	                          .step_rank = f->step_rank,
	                          .nsteps = 3,
	                          .grid = &f->grid,
	                          .peak_flops_per_rank = 1e12,
	                          .peak_source = TL_PEAK_GIVEN};
	snprintf(f->r.env.mpi_version, sizeof(f->r.env.mpi_version), "Open MPI v9.9");
	snprintf(f->r.env.blas_version, sizeof(f->r.env.blas_version), "0.3.99");
	snprintf(f->r.env.blas_core, sizeof(f->r.env.blas_core), "Haswell");
	snprintf(f->r.env.command_line, sizeof(f->r.env.command_line), "trainload --x");
	snprintf(f->r.env.start_time, sizeof(f->r.env.start_time), "2026-05-01T09:30:00Z");
	snprintf(f->r.env.cpu_model, sizeof(f->r.env.cpu_model), "AMD EPYC 9654 96-Core Processor");
	f->r.env.nodes = 2;
	f->r.env.hosts = "node00,node01";
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	tl_plan_free(&f->plan);
	tl_diag_free(&f->c.diag);
	tl_job_free(&f->c.job);
	free(f);
	return 0;
}

static double num(json_t *j, const char *path)
{
	char buf[128], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
		j = json_object_get(j, k);
		if (!j)
			fail_msg("no %s in the JSON", path);
	}
	if (!json_is_number(j))
		fail_msg("%s is not a number", path);
	return json_number_value(j);
}

static void assert_near(double got, double want)
{
	if (fabs(got - want) > 1e-12 * fabs(want) + 1e-15)
		fail_msg("%.17g, expected %.17g", got, want);
}

static void test_document(void **state)
{
	struct fixture *f = *state;
	json_t *doc = tl_result_json(&f->r);

	assert_non_null(doc);
	static const char *const keys[] = {"schema", "trainload_version", "job",   "world",
	                                   "plan",   "environment",       "steps", "summary",
	                                   "ranks"};
	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		if (!json_object_get(doc, keys[i]))
			fail_msg("the document lacks %s", keys[i]);
	assert_int_equal(json_integer_value(json_object_get(doc, "schema")), TL_RESULT_SCHEMA);
	assert_string_equal(json_string_value(json_object_get(doc, "trainload_version")),
	                    PACKAGE_VERSION);

	/* percentiles of 1, 2, 3 (numpy's linear interpolation) */
	assert_near(num(doc, "summary.step_time_s.p50"), 2.0);
	assert_near(num(doc, "summary.step_time_s.p95"), 2.9);
	assert_near(num(doc, "summary.step_time_s.min"), 1.0);
	assert_near(num(doc, "summary.step_time_s.max"), 3.0);
	assert_near(num(doc, "summary.steps_measured"), 3);
	/* 2 sequences of 256 tokens in 2 s; model FLOPs / p50 / ranks */
	assert_near(num(doc, "summary.tokens_per_s"), 256.0);
	assert_near(num(doc, "summary.model_tflops_per_rank"), 2 * 8858370048.0 / 2.0 / 2 / 1e12);
	/* the breakdown's p50s, exposed communication summed over the groups */
	assert_near(num(doc, "summary.breakdown_s.compute"), 1.0);
	assert_near(num(doc, "summary.breakdown_s.comm_exposed"), 0.75);
	assert_near(num(doc, "summary.breakdown_s.bubble"), 0.0);
	assert_near(num(doc, "summary.breakdown_s.optimizer"), 0.0);
	assert_near(num(doc, "summary.breakdown_s.other"), 0.25);
	assert_near(num(doc, "summary.breakdown_s.comm_exposed_by_group.dp"), 0.5);
	assert_near(num(doc, "summary.breakdown_s.comm_exposed_by_group.tp"), 0.25);
	/* MFU = model FLOPs / p50 / (ranks × peak), the peak as given */
	assert_near(num(doc, "summary.peak_tflops_per_rank"), 1.0);
	assert_near(num(doc, "summary.mfu"), 2 * 8858370048.0 / 2.0 / (2 * 1e12));
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(doc, "summary"), "peak_source")),
	    "--peak-tflops");

	json_t *steps = json_object_get(doc, "steps");
	assert_int_equal(json_array_size(steps), 3);
	for (size_t i = 0; i < 3; i++) {
		json_t *s = json_array_get(steps, i);
		json_t *line = tl_step_json(&f->r, i);
		assert_true(json_equal(s, line));
		json_decref(line);
		assert_int_equal(json_integer_value(json_object_get(s, "step")), i);
		assert_int_equal(json_integer_value(json_object_get(s, "slowest_rank")), i % 2);
		assert_near(num(s, "time_s"), f->steps[i].time_s);
		assert_near(num(s, "breakdown_s.comm_exposed"),
		            num(s, "breakdown_s.comm_exposed_by_group.dp") +
		                num(s, "breakdown_s.comm_exposed_by_group.tp"));
		double sum = num(s, "breakdown_s.compute") + num(s, "breakdown_s.comm_exposed") +
		             num(s, "breakdown_s.bubble") + num(s, "breakdown_s.optimizer") +
		             num(s, "breakdown_s.other");
		assert_near(sum, f->steps[i].time_s);
	}

	json_t *world = json_object_get(doc, "world");
	assert_int_equal(json_integer_value(json_object_get(world, "ranks")), 2);
	assert_int_equal(json_integer_value(json_object_get(world, "nodes")), 2);
	assert_int_equal(json_integer_value(json_object_get(world, "dp")), 2);

	json_t *ranks = json_object_get(doc, "ranks");
	assert_int_equal(json_array_size(ranks), 2);
	json_t *r1 = json_array_get(ranks, 1);
	assert_int_equal(json_integer_value(json_object_get(r1, "rank")), 1);
	assert_string_equal(json_string_value(json_object_get(r1, "host")), "node01");
	assert_near(num(r1, "gemm_gflops"), 20.0);
	/* 10 against 20 GFLOP/s, but two peers cannot tell which is off (test_stragglers) */
	json_t *r0 = json_array_get(ranks, 0);
	assert_int_equal(json_array_size(json_object_get(r0, "stragglers")), 0);
	assert_int_equal(json_array_size(json_object_get(r1, "stragglers")), 0);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(r1, "ops_per_step"), "gemm")), 75);

	json_t *env = json_object_get(doc, "environment");
	assert_string_equal(json_string_value(json_object_get(env, "hosts")), "node00,node01");
	assert_string_equal(json_string_value(json_object_get(env, "command_line")),
	                    "trainload --x");
	char hash[17];
	tl_job_hash(&f->c.job, hash);
	assert_string_equal(json_string_value(json_object_get(env, "job_hash")), hash);
	/* provenance: when, on what, as what, oversubscribed or not */
	assert_string_equal(json_string_value(json_object_get(env, "start_time")),
			    "2026-05-01T09:30:00Z");
	assert_string_equal(json_string_value(json_object_get(env, "cpu_model")),
			    "AMD EPYC 9654 96-Core Processor");
	assert_true(json_is_false(json_object_get(env, "oversubscribed")));
	assert_true(json_is_null(json_object_get(env, "gpu_model")));
	assert_string_equal(json_string_value(json_object_get(env, "mpi_version")), "Open MPI v9.9");
	assert_string_equal(json_string_value(json_object_get(env, "blas_version")), "0.3.99");
	/* a given peak: no warning, no hardware or BLAS peak known */
	json_t *summary = json_object_get(doc, "summary");
	assert_int_equal(json_array_size(json_object_get(summary, "warnings")), 0);
	assert_true(json_is_null(json_object_get(summary, "blas_peak_tflops_per_rank")));
	assert_true(json_is_null(json_object_get(summary, "hardware_peak_tflops_per_rank")));
	json_decref(doc);
}

/* MFU's peak is the hardware's when it is known, with the calibrated BLAS peak beside it and its
 * share; the summary says how the peak is derived. */
static void test_peaks(void **state)
{
	struct fixture *f = *state;
	char *text = NULL;
	size_t len = 0;

	f->r.peak_source = TL_PEAK_CPU_CLOCK;
	tl_peak_cpu(1, 2.5e9, TL_ISA_AVX512, 2.0, TL_DTYPE_F32, &f->r.hw_peak);
	f->r.peak_flops_per_rank = f->r.hw_peak.flops_per_s; /* 2.5e9 x 64 = 160 GFLOP/s */
	f->r.blas_peak_flops_per_rank = 40e9;
	json_t *doc = tl_result_json(&f->r);
	assert_near(num(doc, "summary.peak_tflops_per_rank"), 0.16);
	assert_near(num(doc, "summary.hardware_peak_tflops_per_rank"), 0.16);
	assert_near(num(doc, "summary.blas_peak_tflops_per_rank"), 0.04);
	assert_near(num(doc, "summary.blas_share_of_hardware_peak"), 0.25);
	/* model FLOPs per rank per second over each peak */
	double achieved = 2 * 8858370048.0 / 2.0 / 2;
	assert_near(num(doc, "summary.mfu"), achieved / 160e9);
	assert_near(num(doc, "summary.mfu_of_blas_peak"), achieved / 40e9);
	json_t *summary = json_object_get(doc, "summary");
	assert_string_equal(json_string_value(json_object_get(summary, "peak_source")), "cpu-clock");
	assert_string_equal(json_string_value(json_object_get(summary, "hardware_peak_how")),
			    "1 core x 2.50 GHz (measured) x 512-bit FMA x 2 units (measured "
			    "2.00/cycle) x 2 = 64 f32 FLOP/cycle/core");
	json_decref(doc);

	FILE *out = open_memstream(&text, &len);
	assert_non_null(out);
	tl_result_print(&f->r, out);
	fclose(out);
	static const char *const want[] = {
	    " 2.8%     0.1600 TFLOP/s (cpu-clock)  ",
	    "\n# peak/rank: 1 core x 2.50 GHz (measured) x 512-bit FMA x 2 units (measured "
	    "2.00/cycle) x 2 = 64 f32 FLOP/cycle/core\n",
	    "\n# BLAS peak/rank 0.0400 TFLOP/s (calibration GEMM): 25.0% of the hardware peak; MFU "
	    "against it 11.1%\n",
	};
	for (size_t i = 0; i < ARRAY_LEN(want); i++)
		if (!strstr(text, want[i]))
			fail_msg("no '%s' in:\n%s", want[i], text);
	free(text);
}

/* The warnings, from the figures: each condition alone, in the words the summary prints. */
static void test_warnings(void **state)
{
	(void)state;
	struct tl_findings quiet = {.mfu = 0.5, .peak_tflops = 1, .peak_source = "calibrated",
				    .blas_kernel = "SkylakeX"};
	json_t *w = tl_warnings_json(&quiet);
	assert_int_equal(json_array_size(w), 0);
	json_decref(w);

	struct tl_findings over = quiet;
	over.mfu = 1.16;
	w = tl_warnings_json(&over);
	assert_int_equal(json_array_size(w), 1);
	assert_string_equal(json_string_value(json_array_get(w, 0)),
			    "MFU 116.0% is above 100%: the step did more than the peak per rank "
			    "(1 TFLOP/s, calibrated) allows; a calibrated BLAS peak is no ceiling "
			    "(the job's GEMMs ran faster than the calibration GEMM): give the "
			    "hardware's with --peak-tflops");
	json_decref(w);

	struct tl_findings twin = quiet;
	twin.twin_flagged = true;
	twin.twin_rank = 3;
	twin.twin_ratio = 1.5;
	twin.oversubscribed = true;
	w = tl_warnings_json(&twin);
	assert_int_equal(json_array_size(w), 2);
	assert_string_equal(json_string_value(json_array_get(w, 0)),
			    "GEMM twin: rank 3's GEMMs took 1.50x the time the calibrated BLAS "
			    "rate predicts (a slow or busy rank, or shapes the BLAS runs poorly)");
	assert_string_equal(json_string_value(json_array_get(w, 1)),
			    "ranks share cores (oversubscribed): the times measure the sharing, not "
			    "the machine");
	json_decref(w);

	struct tl_findings blas = quiet;
	blas.blas_kernel = "Prescott";
	blas.blas_advice = tl_peak_blas_kernel_advice("Prescott", TL_ISA_AVX512);
	blas.blas_dynamic = true;
	w = tl_warnings_json(&blas);
	assert_int_equal(json_array_size(w), 1);
	assert_non_null(strstr(json_string_value(json_array_get(w, 0)),
			       "OpenBLAS runs its Prescott kernel on a CPU with wider FMA units: its "
			       "SkylakeX kernel is usually much faster"));
	assert_non_null(strstr(json_string_value(json_array_get(w, 0)),
			       "OPENBLAS_CORETYPE=SkylakeX"));
	json_decref(w);
	blas.blas_dynamic = false;
	w = tl_warnings_json(&blas);
	assert_non_null(strstr(json_string_value(json_array_get(w, 0)), "TARGET=SkylakeX"));
	json_decref(w);
}

/* The plan's part of the document carries the plan's own numbers. */
static void test_plan_json(void **state)
{
	struct fixture *f = *state;
	json_t *j = tl_plan_json(&f->c.job, &f->model, &f->plan);

	assert_near(num(j, "model_flops_per_step"), 2 * 8858370048.0);
	assert_near(num(j, "hardware_flops_per_step"), 2 * 8858370048.0);
	assert_int_equal(json_integer_value(json_object_get(j, "params_total")), 7419392);
	assert_int_equal(json_integer_value(json_object_get(j, "params_per_rank_max")), 7419392);
	assert_int_equal(json_integer_value(json_object_get(j, "tokens_per_step")), 2 * 256);
	assert_int_equal(json_integer_value(json_object_get(j, "microbatches")), 1);
	assert_near(num(j, "bubble_fraction"), 0.0);
	assert_int_equal(json_integer_value(json_object_get(j, "rank")), 0);
	json_t *ops = json_object_get(j, "ops_per_step");
	static const char *const kinds[] = {"gemm",      "allreduce", "reduce_scatter",
	                                    "allgather", "alltoall",  "send",
	                                    "recv",      "optimizer", "elementwise",
	                                    "broadcast", "sendrecv"};
	assert_int_equal(json_object_size(ops), ARRAY_LEN(kinds));
	for (size_t k = 0; k < ARRAY_LEN(kinds); k++)
		assert_non_null(json_object_get(ops, kinds[k]));
	assert_int_equal(json_integer_value(json_object_get(ops, "gemm")), 75);
	assert_int_equal(json_integer_value(json_object_get(ops, "allreduce")), 1);
	json_t *bytes = json_object_get(j, "comm_bytes_per_step");
	static const char *const groups[] = {"tp", "pp", "dp", "ep", "cp"};
	assert_int_equal(json_object_size(bytes), ARRAY_LEN(groups));
	for (size_t k = 0; k < ARRAY_LEN(groups); k++)
		assert_non_null(json_object_get(bytes, groups[k]));
	assert_int_equal(json_integer_value(json_object_get(bytes, "dp")), 7419392 * 4);
	assert_int_equal(json_integer_value(json_object_get(bytes, "tp")), 0);
	json_decref(j);
}

/* The document's grid: rank 0's groups, crossing nodes as the run placed its ranks (the run
 * numbers its hosts into node_of_rank), not as ranks_per_node would guess: set here against
 * the placement, it must not decide. */
static void test_grid_json(void **state)
{
	struct fixture *f = *state;
	static const uint32_t two_nodes[2] = {0, 1}, one_node[2] = {0, 0};
	json_t *doc;

	f->grid.node_of_rank = two_nodes;
	f->grid.ranks_per_node = 2;
	doc = tl_result_json(&f->r);
	assert_int_equal(num(doc, "grid.rank"), 0);
	assert_int_equal(num(doc, "grid.ranks_per_node"), 2);
	assert_int_equal(num(doc, "grid.groups.dp.size"), 2);
	assert_int_equal(num(doc, "grid.groups.dp.stride"), 1);
	json_t *groups = json_object_get(json_object_get(doc, "grid"), "groups");
	static const char *const names[] = {"tp", "cp", "dp", "pp", "ep", "edp", "dp_cp"};
	assert_int_equal(json_object_size(groups), ARRAY_LEN(names));
	for (size_t k = 0; k < ARRAY_LEN(names); k++) {
		json_t *c = json_object_get(json_object_get(groups, names[k]), "crosses_nodes");
		/* dp, edp and dp_cp (the same ranks here) hold both; the others one rank */
		assert_true(json_is_boolean(c));
		assert_int_equal(json_is_true(c), !strcmp(names[k], "dp") || !strcmp(names[k], "edp") ||
						  !strcmp(names[k], "dp_cp"));
	}
	json_decref(doc);

	f->grid.node_of_rank = one_node;
	f->grid.ranks_per_node = 1;
	doc = tl_result_json(&f->r);
	groups = json_object_get(json_object_get(doc, "grid"), "groups");
	assert_true(json_is_false(json_object_get(json_object_get(groups, "dp"), "crosses_nodes")));
	json_decref(doc);
}

/* Collectives as nccl-tests reports them: algbw = bytes / mean time, busbw = algbw × factor. */
static void test_collectives(void **state)
{
	struct fixture *f = *state;
	struct tl_coll_stat colls[2] = {
	    /* 2 GB allreduced 3 times, 2 s each on the slowest rank, over dp 2: 1 GB/s,
	     * factor 2·1/2 = 1 */
	    {.kind = TL_OP_ALLREDUCE,
	     .group = TL_GROUP_DP,
	     .bytes = 2000000000,
	     .nonblocking = 1,
	     .count = 3,
	     .time_s = 6.0,
	     .min_s = 1.5,
	     .max_s = 2.5,
	     .slowest_rank_mean_s = 2.0,
	     .fastest_rank_mean_s = 1.75},
	    /* 1 GB reduce-scattered in 0.5 s: 2 GB/s, factor 1/2 */
	    {.kind = TL_OP_REDUCE_SCATTER,
	     .group = TL_GROUP_DP,
	     .bytes = 1000000000,
	     .count = 3,
	     .time_s = 1.5,
	     .min_s = 0.5,
	     .max_s = 0.5,
	     .slowest_rank_mean_s = 0.5,
	     .fastest_rank_mean_s = 0.5},
	};
	f->r.colls = colls;
	f->r.ncolls = 2;
	json_t *doc = tl_result_json(&f->r);
	json_t *arr = json_object_get(doc, "collectives");
	assert_int_equal(json_array_size(arr), 2);
	json_t *ar = json_array_get(arr, 0), *rs = json_array_get(arr, 1);
	assert_string_equal(json_string_value(json_object_get(ar, "op")), "allreduce");
	assert_string_equal(json_string_value(json_object_get(ar, "group")), "dp");
	assert_near(num(ar, "group_size"), 2);
	/* the slowest rank's mean time, and the fastest rank's beside it */
	assert_near(num(ar, "time_us"), 2e6);
	assert_near(num(ar, "time_us_fastest_rank"), 1.75e6);
	assert_near(num(ar, "time_us_min"), 1.5e6);
	assert_near(num(ar, "time_us_max"), 2.5e6);
	assert_near(num(ar, "count_per_step"), 1);
	assert_near(num(ar, "algbw_gbps"), 1.0);
	assert_near(num(ar, "busbw_gbps"), 1.0);
	assert_string_equal(json_string_value(json_object_get(rs, "op")), "reduce_scatter");
	assert_near(num(rs, "algbw_gbps"), 2.0);
	assert_near(num(rs, "busbw_gbps"), 1.0);
	json_decref(doc);
	f->r.colls = NULL;
	f->r.ncolls = 0;
}

static void test_job_hash(void **state)
{
	struct fixture *f = *state;
	char h1[17], h2[17], h3[17];

	/* stable, 16 hex digits, and it changes with any key */
	tl_job_hash(&f->c.job, h1);
	tl_job_hash(&f->c.job, h2);
	assert_string_equal(h1, h2);
	assert_int_equal(strspn(h1, "0123456789abcdef"), 16);
	assert_int_equal(tl_job_set(&f->c.job, "run.warmup=3", &f->c.diag), 0);
	tl_job_hash(&f->c.job, h3);
	assert_string_not_equal(h1, h3);
}

/* The human summary of r, as tl_result_print writes it; free it. */
static char *summary_text(const struct tl_result *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	assert_non_null(out);
	tl_result_print(r, out);
	fclose(out);
	return text;
}

static void test_summary_text(void **state)
{
	struct fixture *f = *state;
	char *text = summary_text(&f->r);

	print_message("%s", text);
	static const char *const lines[] = {
	    "# trainload " PACKAGE_VERSION "  job gpt-tiny (l=4 h=256 a=8 s=256 V=8192)  ranks 2 = "
	    "dp 2 x pp 1 x tp 1 (ep 1)\n",
	    "# nodes 2 (node00,node01)  backend cpu  OpenBLAS 0.3.99 kernel Haswell  Open MPI v9.9  "
	    "f32/f32\n",
	    "# started 2026-05-01T09:30:00Z  cpu AMD EPYC 9654 96-Core Processor\n",
	    "# conventions: step time = slowest rank; GB = 1e9; model FLOPs = forward + backward "
	    "GEMMs (no recompute), per step; collective times = max over ranks; busbw as "
	    "nccl-tests\n",
	    "# steps 3 measured after 2 warm-up; global batch 2 x seq 256 = 512 tokens per step\n",
	    "    step_p50   step_p95     tokens/s  TFLOP/s/rank     MFU              peak/rank  "
	    "GEMM GFLOP/s/rank\n",
	    "    2.0000 s   2.9000 s          256        0.0044    0.4%     1.0000 TFLOP/s (given)"
	    "        15.00 (min 10.00)\n",
	    "# peak/rank: given with --peak-tflops\n",
	    "# where the time goes (slowest rank, p50 of each part, seconds; X_comm: exposed "
	    "communication of group X; bubble: pipeline wait)\n",
	    /* only the groups of more than one rank: tp has one here */
	    "  compute 1.0000  dp_comm 0.5000  bubble 0.0000 (planned 0.000 of the step)  "
	    "optimizer 0.0000  other 0.2500\n",
	    /* rank 0's GEMMs run at 10 GFLOP/s, rank 1's at 20: two peers name nobody */
	    "# stragglers: none (no rank more than 5% and 3 sigma worse than its stage's median; "
	    "stages of fewer than 3 ranks are not judged)\n",
	};
	const char *p = text;
	for (size_t i = 0; i < ARRAY_LEN(lines); i++) {
		if (strncmp(p, lines[i], strlen(lines[i])))
			fail_msg("summary line %zu differs:\n  got:  %.*s\n  want: %s", i + 1,
			         (int)strcspn(p, "\n"), p, lines[i]);
		p += strlen(lines[i]);
	}
	assert_string_equal(p, "");
	free(text);
}

/* With overlapped dp reductions the summary holds their share hidden: 1 − dp exposed / what they
 * take alone (the larger rank's): here the p50 step exposes 0.5 s of dp against 2 s alone, 75%
 * hidden; none exposed is all hidden, more exposed than alone none. Without overlapped
 * reductions (dp_alone_s 0 on every rank) there is no share: null, and no line. */
static void test_dp_hidden(void **state)
{
	struct fixture *f = *state;
	static const struct {
		double alone[2], dp_scale, share;
	} rows[] = {
	    {{1.5, 2.0}, 1, 0.75},
	    {{2.0, 0.5}, 0, 1.0},
	    {{0.25, 0.25}, 1, 0.0},
	};

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		for (int r = 0; r < 2; r++)
			f->ranks[r].dp_alone_s = rows[i].alone[r];
		for (int s = 0; s < 3; s++)
			f->steps[s].comm_exposed_s[TL_GROUP_DP] =
			    rows[i].dp_scale * 0.25 * f->steps[s].time_s;
		json_t *doc = tl_result_json(&f->r);
		assert_near(num(doc, "summary.dp_hidden_share"), rows[i].share);
		assert_near(num(doc, "summary.dp_alone_s"),
		            fmax(rows[i].alone[0], rows[i].alone[1]));
		assert_near(num(json_array_get(json_object_get(doc, "ranks"), 1), "dp_alone_s"),
		            rows[i].alone[1]);
		json_decref(doc);
	}
	char *text = summary_text(&f->r);
	assert_non_null(strstr(text, "# dp hidden 0%: 0.5000 s of dp exposed against the 0.2500 s "
	                             "the step's non-blocking dp reductions take alone\n"));
	free(text);

	for (int r = 0; r < 2; r++)
		f->ranks[r].dp_alone_s = 0;
	json_t *doc = tl_result_json(&f->r);
	assert_true(
	    json_is_null(json_object_get(json_object_get(doc, "summary"), "dp_hidden_share")));
	json_decref(doc);
	text = summary_text(&f->r);
	assert_null(strstr(text, "dp hidden"));
	free(text);
}

/* A device backend's ranks carry their GPU: in ranks[].gpu (NUMA node null when unknown) and in
 * the summary's "# gpus" line, after the "# nodes" line; host backends' ranks have neither. */
static void test_gpus(void **state)
{
	struct fixture *f = *state;
	json_t *doc = tl_result_json(&f->r);

	assert_null(json_object_get(json_array_get(json_object_get(doc, "ranks"), 0), "gpu"));
	json_decref(doc);
	for (int i = 0; i < 2; i++) {
		snprintf(f->ranks[i].gpu.name, sizeof(f->ranks[i].gpu.name), "NVIDIA H100 80GB HBM3");
		snprintf(f->ranks[i].gpu.pci_bus_id, sizeof(f->ranks[i].gpu.pci_bus_id),
		         "0000:%02x:00.0", 0x19 + 0x20 * i);
		f->ranks[i].gpu.numa_node = i ? -1 : 1;
		f->ranks[i].gpu.gpus_visible = 8;
	}
	doc = tl_result_json(&f->r);
	json_t *g0 = json_object_get(json_array_get(json_object_get(doc, "ranks"), 0), "gpu");
	json_t *g1 = json_object_get(json_array_get(json_object_get(doc, "ranks"), 1), "gpu");
	assert_string_equal(json_string_value(json_object_get(g0, "name")), "NVIDIA H100 80GB HBM3");
	assert_string_equal(json_string_value(json_object_get(g0, "pci_bus_id")), "0000:19:00.0");
	assert_int_equal(json_integer_value(json_object_get(g0, "numa_node")), 1);
	assert_int_equal(json_integer_value(json_object_get(g0, "gpus_visible")), 8);
	assert_string_equal(json_string_value(json_object_get(g1, "pci_bus_id")), "0000:39:00.0");
	assert_true(json_is_null(json_object_get(g1, "numa_node")));
	json_decref(doc);

	char *text = summary_text(&f->r);
	const char *want = "96-Core Processor\n# gpus  NVIDIA H100 80GB HBM3 on 2 of 2 ranks: rank 0 "
	                   "0000:19:00.0 (NUMA 1), rank 1 0000:39:00.0\n# conventions: ";
	if (!strstr(text, want))
		fail_msg("no gpus line in:\n%s", text);
	free(text);
}

/* Four ranks of one stage, three measured steps each: 1 s of GEMMs at 10 GFLOP/s, 0.1 s of tp
 * and 0.1 s of dp communication, 0.2 s of it waiting for a late peer, per step; every step a
 * little different (±1%), as on a quiet machine. */
static void four_ranks(struct tl_rank_info *four, const struct tl_rank_info *like,
		       struct tl_step steps[4][3])
{
	static const double jitter[3] = { 1.0, 1.01, 0.99 };

	for (int i = 0; i < 4; i++) {
		four[i] = *like;
		four[i].rank = i;
		for (int s = 0; s < 3; s++) {
			struct tl_step *st = &steps[i][s];
			*st = (struct tl_step){ .gemm_s = jitter[s], .gemm_flops = 10e9,
						.compute_s = jitter[s] };
			st->comm_exposed_s[TL_GROUP_TP] = 0.1 * jitter[s];
			st->comm_exposed_s[TL_GROUP_DP] = 0.3 * jitter[s];
			st->comm_wait_s[TL_GROUP_DP] = 0.2 * jitter[s];
		}
	}
}

/* The rank's steps judged, and its totals, as run.c keeps them. */
static void judge_steps(struct tl_rank_info *ri, const struct tl_step *steps)
{
	for (int s = 0; s < 3; s++) {
		ri->compute_s += steps[s].compute_s;
		for (int g = 0; g < TL_GROUPS; g++) {
			ri->comm_exposed_s[g] += steps[s].comm_exposed_s[g];
			ri->comm_wait_s[g] += steps[s].comm_wait_s[g];
		}
	}
	tl_rank_judge_steps(ri, steps, 3);
}

/* All four ranks' steps judged. */
static void judge_four(struct tl_rank_info *four, struct tl_step steps[4][3])
{
	for (int i = 0; i < 4; i++)
		judge_steps(&four[i], steps[i]);
}

/* The phases named for each of the four ranks, as "phase/cause phase/cause ...". */
static void named(const struct tl_result *r, char out[4][128])
{
	json_t *doc = tl_result_json(r), *ranks = json_object_get(doc, "ranks");

	for (size_t i = 0; i < 4; i++) {
		json_t *list = json_object_get(json_array_get(ranks, i), "stragglers"), *s;
		size_t k;
		out[i][0] = '\0';
		json_array_foreach (list, k, s)
			snprintf(out[i] + strlen(out[i]), 128 - strlen(out[i]), "%s%s/%s",
				 k ? " " : "", json_string_value(json_object_get(s, "phase")),
				 json_string_value(json_object_get(s, "cause")));
	}
	json_decref(doc);
}

/* Stragglers: each phase against the median of the stage's ranks, beyond straggler_pct (5%) and
 * three times the noise (the peers' spread and the rank's own step-to-step noise); communication
 * on its transfer, never on the wait for late peers; a slow link by the link probe; two peers
 * name nobody, and nor does a fleet split in two halves. */
static void test_stragglers(void **state)
{
	struct fixture *f = *state;
	struct tl_rank_info four[4];
	struct tl_step steps[4][3];
	struct tl_result r = f->r;
	struct tl_grid grid;
	char got[4][128];

	tl_grid_init(&grid, &f->c.job, 4, 0); /* dp 4: one data-parallel group of the four */
	grid.dp = 4;
	r.grid = &grid;
	r.ranks = 4;
	r.rank_info = four;
	r.nsteps = 3;

	/* A healthy stage: ±1% everywhere, each rank waiting 0.2 s per step. */
	four_ranks(four, &f->ranks[0], steps);
	judge_four(four, steps);
	named(&r, got);
	for (int i = 0; i < 4; i++)
		assert_string_equal(got[i], "");

	four_ranks(four, &f->ranks[0], steps);
	for (int s = 0; s < 3; s++) {
		steps[3][s].gemm_flops = 8e9; /* 8 GFLOP/s: 20% below */
		/* rank 2 transfers 0.5 s, 400% above the others' 0.1 */
		steps[2][s].comm_exposed_s[TL_GROUP_DP] = 0.7;
		/* rank 0 waits 1 s more for a late peer: its transfer is as everyone's */
		steps[0][s].comm_exposed_s[TL_GROUP_DP] += 1.0;
		steps[0][s].comm_wait_s[TL_GROUP_DP] += 1.0;
		/* and arrives 0.5 s after the first of its group: the others wait for it */
		steps[1][s].comm_late_s[TL_GROUP_DP] = 0.5;
	}
	steps[1][0].comm_exposed_s[TL_GROUP_TP] = 0.1003; /* 0.3% above, 0.3 ms: noise */
	/* the nodes' links, 100 MB/s each */
	for (int i = 0; i < 4; i++) {
		four[i].link = (struct tl_link){ .in_mbps = 100 + i, .out_mbps = 100 + i,
						 .mbps = 100 + i, .noise_mbps = 1, .nodes = 4 };
		judge_steps(&four[i], steps[i]);
	}
	named(&r, got);
	assert_string_equal(got[0], "");
	assert_string_equal(got[1], "late/arrival");
	assert_string_equal(got[2], "dp_transfer/transfer");
	assert_string_equal(got[3], "gemm/compute");
	json_t *doc = tl_result_json(&r);
	json_t *s3 = json_object_get(json_array_get(json_object_get(doc, "ranks"), 3), "stragglers");
	assert_string_equal(json_string_value(json_object_get(json_array_get(s3, 0), "unit")),
			    "GFLOP/s");
	assert_near(num(json_array_get(s3, 0), "worse_pct"), 20.0);
	assert_near(num(json_array_get(s3, 0), "median"), 10.0);
	json_t *r0 = json_array_get(json_object_get(doc, "ranks"), 0);
	assert_near(num(r0, "per_step_s.comm_wait_by_group.dp"), 1.2);
	assert_near(num(r0, "per_step_s.comm_transfer_by_group.dp"), 0.1);
	assert_near(num(r0, "link.mbps"), 100);
	json_decref(doc);

	/* Rank 2's node at 70 MB/s, 30% below the others, its probe steady (σ 1%): short of
	 * TL_LINK_MARGIN (40%), which a busy CPU's probe reaches on healthy links: not named. */
	four[2].link.mbps = four[2].link.in_mbps = 70.7;
	judge_steps(&four[2], steps[2]);
	named(&r, got);
	assert_string_equal(got[2], "dp_transfer/transfer");

	/* Rank 2's node reaches 10 MB/s through its link: it is named for that, and its slow
	 * transfers in the data-parallel group that link is in are the link's, not named again. */
	four[2].link.mbps = four[2].link.in_mbps = 10;
	judge_steps(&four[2], steps[2]);
	named(&r, got);
	assert_string_equal(got[2], "link/link");
	assert_string_equal(got[3], "gemm/compute");

	/* Rank 3 8% slower, but its own steps swing by ±10%: within its noise, not named. */
	four_ranks(four, &f->ranks[0], steps);
	static const double swing[3] = { 1.0, 0.9, 1.1 };
	for (int s = 0; s < 3; s++)
		steps[3][s].gemm_s = 1.08 * swing[s];
	judge_four(four, steps);
	named(&r, got);
	assert_string_equal(got[3], "");

	/* Three nodes alike to the last digit, the fourth's GEMMs 6% slower (a core it shares with
	 * the launcher): beyond straggler_pct (5%), but not beyond 3 x the 2% noise floor that
	 * three peers' MAD of zero does not lower: not named. */
	four_ranks(four, &f->ranks[0], steps);
	for (int s = 0; s < 3; s++)
		steps[0][s].gemm_s = 1.06;
	judge_four(four, steps);
	named(&r, got);
	assert_string_equal(got[0], "");

	/* Two halves 12% apart (two cores, one busier): the median lies between them, and the
	 * spread is the fleet's noise: nobody named. */
	four_ranks(four, &f->ranks[0], steps);
	for (int s = 0; s < 3; s++)
		steps[0][s].gemm_s = steps[2][s].gemm_s = 1.12;
	judge_four(four, steps);
	named(&r, got);
	for (int i = 0; i < 4; i++)
		assert_string_equal(got[i], "");

	/* One node starved of CPU (1.4 GFLOP/s), its core's other node the faster for it (16):
	 * judged on the logarithm, the fast one does not hide the slow one, nor is it named. The
	 * starved node's transfers crawl too, through the link probe's as well: its link is not
	 * judged (its CPU explains it). */
	four_ranks(four, &f->ranks[0], steps);
	static const double gflops[4] = { 10.0, 1.4, 10.8, 16.1 };
	for (int i = 0; i < 4; i++) {
		for (int s = 0; s < 3; s++)
			steps[i][s].gemm_flops = gflops[i] * 1e9 * steps[i][s].gemm_s;
		four[i].link = (struct tl_link){ .in_mbps = 120, .out_mbps = 120, .mbps = 120,
						 .noise_mbps = 1, .nodes = 4 };
	}
	four[1].link.mbps = four[1].link.in_mbps = 22;
	judge_four(four, steps);
	named(&r, got);
	assert_string_equal(got[0], "");
	assert_string_equal(got[1], "gemm/compute");
	assert_string_equal(got[2], "");
	assert_string_equal(got[3], "");

	/* The same slow GEMMs in a stage of two: nobody is named. */
	four_ranks(four, &f->ranks[0], steps);
	for (int s = 0; s < 3; s++)
		steps[3][s].gemm_flops = 5e9;
	judge_four(four, steps);
	r.ranks = 2;
	r.rank_info = four + 2;
	doc = tl_result_json(&r);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(json_array_size(json_object_get(
					 json_array_get(json_object_get(doc, "ranks"), i), "stragglers")),
				 0);
	json_decref(doc);
}

/* Every SLURM_* variable out of the environment, as outside Slurm. */
static void unset_slurm(void)
{
	extern char **environ;
	char name[256];

	for (size_t i = 0; environ[i];) {
		size_t len = strcspn(environ[i], "=");
		if (strncmp(environ[i], "SLURM_", 6) || len >= sizeof(name)) {
			i++;
			continue;
		}
		snprintf(name, sizeof(name), "%.*s", (int)len, environ[i]);
		unsetenv(name); /* environ shifts down: look at i again */
	}
}

/* environment.slurm: absent outside Slurm; the job-level variables win over a step's; keys
 * whose variable is unset (or not a count) are left out. */
static void test_slurm_environment(void **state)
{
	struct fixture *f = *state;

	unset_slurm();
	tl_slurm_read(&f->r.env.slurm);
	assert_false(f->r.env.slurm.present);
	json_t *doc = tl_result_json(&f->r);
	assert_null(json_object_get(json_object_get(doc, "environment"), "slurm"));
	assert_non_null(json_object_get(json_object_get(doc, "environment"), "hosts"));
	json_decref(doc);

	setenv("SLURM_JOB_ID", "4242", 1);
	setenv("SLURM_JOB_NAME", "tl-cpu-small-2n", 1);
	setenv("SLURM_JOB_NODELIST", "n[1-2]", 1);
	setenv("SLURM_NODELIST", "n1", 1); /* a step's: the job's list wins */
	setenv("SLURM_JOB_PARTITION", "debug", 1);
	setenv("SLURM_JOB_NUM_NODES", "2", 1);
	setenv("SLURM_NNODES", "1", 1);
	setenv("SLURM_NTASKS", "4", 1);
	setenv("SLURM_TASKS_PER_NODE", "2(x2)", 1);
	setenv("SLURM_CPUS_PER_TASK", "many", 1); /* not a count: left out */
	tl_slurm_read(&f->r.env.slurm);
	assert_true(f->r.env.slurm.present);
	doc = tl_result_json(&f->r);
	json_t *want = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:i}", "job_id", "4242",
				 "job_name", "tl-cpu-small-2n", "nodelist", "n[1-2]", "partition",
				 "debug", "tasks_per_node", "2(x2)", "nodes", 2, "ntasks", 4);
	json_t *got = json_object_get(json_object_get(doc, "environment"), "slurm");
	if (!json_equal(got, want)) {
		char *text = json_dumps(got, JSON_SORT_KEYS);
		fail_msg("environment.slurm is %s", text ? text : "(none)");
	}
	json_decref(want);
	json_decref(doc);

	setenv("SLURM_CPUS_PER_TASK", "3", 1);
	setenv("SLURM_CLUSTER_NAME", "tlc", 1);
	tl_slurm_read(&f->r.env.slurm);
	json_t *j = tl_slurm_json(&f->r.env.slurm);
	assert_int_equal(json_integer_value(json_object_get(j, "cpus_per_task")), 3);
	assert_string_equal(json_string_value(json_object_get(j, "cluster")), "tlc");
	json_decref(j);
	unset_slurm();
}

/* What rank 0 holds per measured step (TL_STEP_HELD_BYTES, which the check of a job's memory
 * counts): its record, the number of the slowest rank, and the step's part of the document
 * while it is built, as jansson allocates it (allocation overheads aside, which the bound's
 * margin covers). */
static void test_step_held_bytes(void **state)
{
	struct fixture *f = *state;

	f->r.nsteps = 0;
	size_t before = mallinfo2().uordblks;
	json_t *none = tl_result_json(&f->r);
	size_t without = mallinfo2().uordblks - before;
	f->r.nsteps = 3;
	before = mallinfo2().uordblks;
	json_t *three = tl_result_json(&f->r);
	size_t with = mallinfo2().uordblks - before;
	json_decref(none);
	json_decref(three);
	if (!with)
		skip(); /* a malloc of its own (AddressSanitizer's) that mallinfo2 does not see */
	size_t per_step = (with - without) / 3 + sizeof(struct tl_step) + sizeof(int);
	printf("per step: %zu bytes (TL_STEP_HELD_BYTES %d)\n", per_step, TL_STEP_HELD_BYTES);
	assert_true(per_step <= TL_STEP_HELD_BYTES);
	/* a bound, not a guess an order of magnitude off */
	assert_true(2 * per_step >= TL_STEP_HELD_BYTES);
}

/* MPI_Get_library_version's text as MPICH 4.0.2 and Open MPI 4.1.4 write it: the first line, up
 * to a comma, blanks and tabs made one space; a version longer than the field is cut whole. */
static void test_mpi_version(void **state)
{
	static const char mpich[] = "MPICH Version:\t4.0.2\nMPICH Release date:\tThu Apr  7 "
				    "12:34:45 CDT 2022\nMPICH ABI:\t14:2:2\nMPICH Device:\tch4:ucx\n";
	static const char ompi[] = "Open MPI v4.1.4, package: Debian OpenMPI, ident: 4.1.4, "
				   "repo rev: v4.1.4, May 26, 2022";
	struct tl_env env;
	char *longer = malloc(8192);

	(void)state;
	tl_env_set_mpi_version(&env, mpich);
	assert_string_equal(env.mpi_version, "MPICH Version: 4.0.2");
	tl_env_set_mpi_version(&env, ompi);
	assert_string_equal(env.mpi_version, "Open MPI v4.1.4");
	tl_env_set_mpi_version(&env, "\t Intel(R) MPI Library 2021.6 for Linux* OS\r\n\nmore");
	assert_string_equal(env.mpi_version, "Intel(R) MPI Library 2021.6 for Linux* OS");
	/* 8,191 characters on one line (MPI_MAX_LIBRARY_VERSION_STRING under MPICH is 8,192). */
	assert_non_null(longer);
	memset(longer, 'x', 8191);
	longer[8191] = '\0';
	tl_env_set_mpi_version(&env, longer);
	assert_int_equal(strlen(env.mpi_version), sizeof(env.mpi_version) - 1);
	free(longer);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_document, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_peaks, setup, teardown),
	    cmocka_unit_test(test_warnings),
	    cmocka_unit_test_setup_teardown(test_slurm_environment, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_plan_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_grid_json, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_collectives, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_job_hash, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_summary_text, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_stragglers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_gpus, setup, teardown),
	    cmocka_unit_test(test_mpi_version),
	    cmocka_unit_test_setup_teardown(test_step_held_bytes, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_dp_hidden, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
