/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * trainload-report's model (src/report_load.c, src/report_scale.c) on made-up results whose
 * answers are known: collectives that take exactly α + β·bus bytes, compute that takes exactly
 * k seconds per FLOP. The fits must find α and β, the projection must reproduce the measured
 * scales and price a larger world as the plan says. Links the pure libtlcore.la alone.
 */
#include "config.h"

#include <math.h>
#include <unistd.h>

#include "tl_test.h"
#include "trainload/grid.h"
#include "trainload/metrics.h"
#include "trainload/plan.h"
#include "trainload/report.h"
#include "trainload/result.h"

/* The made-up hardware. */
#define ALPHA_S 20e-6           /* latency of every collective */
#define BETA_S_PER_BYTE 2e-10   /* 5 GB/s of bus bandwidth */
#define S_PER_FLOP 1e-10        /* 10 GFLOP/s per rank */
#define S_PER_OPT_BYTE 1e-9     /* 1 GB/s through the optimizer */
#define OTHER_S 1e-3

/* The made-up network's bus bandwidth falls as groups grow: β(n) = BETA_S_PER_BYTE · (n / 8)^γ
 * (0: a ring's constant busbw). */
static double hw_gamma;

static double hw_coll_s(const struct tl_op *op, uint64_t n)
{
	return ALPHA_S + BETA_S_PER_BYTE * pow((double)n / 8, hw_gamma) * (double)op->bytes *
				 tl_busbw_factor(op->kind, n);
}

static void close_to(double got, double want, double rel)
{
	if (fabs(got - want) > rel * fabs(want) + 1e-15)
		fail_msg("got %.17g, want %.17g (relative tolerance %g)", got, want, rel);
}

static void must_set(struct tl_job *job, const char *assignment)
{
	struct tl_diag diag = { 0 };
	int rc = tl_job_set(job, assignment, &diag);
	if (rc)
		tl_diag_print(&diag);
	tl_diag_free(&diag);
	assert_int_equal(rc, 0);
}

/* What one rank's plan costs on the made-up hardware; blocking and bucket traffic alike. */
struct cost {
	double compute, dp, optimizer, step;
};

static struct cost price(const struct tl_plan *plan, const struct tl_grid *grid)
{
	struct cost c = { .compute = (double)plan->flops * S_PER_FLOP };

	for (size_t i = 0; i < plan->count; i++) {
		const struct tl_op *op = &plan->ops[i];
		if (op->kind == TL_OP_OPTIMIZER)
			c.optimizer += (double)op->bytes * S_PER_OPT_BYTE;
		if (op->kind == TL_OP_ALLREDUCE && op->group == TL_GROUP_DP && grid->dp > 1)
			c.dp += hw_coll_s(op, grid->dp);
	}
	c.step = c.compute + c.dp + c.optimizer + OTHER_S;
	return c;
}

/* The default (tiny GPT) job on `ranks` ranks, per_node of them on each node, as a result
 * document whose steps took what the made-up hardware says. strong: a global batch of 8 at every
 * scale. */
static json_t *make_doc(uint64_t ranks, uint64_t per_node, bool strong, bool with_summary,
			struct cost *out)
{
	struct tl_job job;
	struct tl_model model;
	struct tl_grid grid;
	struct tl_plan plan;
	struct tl_diag diag = { 0 };

	assert_int_equal(tl_job_init(&job), 0);
	must_set(&job, "run.steps=3");
	if (strong)
		must_set(&job, "parallel.global_batch=8");
	assert_int_equal(tl_job_resolve(&job, ranks, &diag), 0);
	assert_int_equal(tl_model_build(&model, &job, &diag), 0);
	tl_grid_init(&grid, &job, ranks, per_node);
	assert_int_equal(tl_plan_build(&plan, &job, &model, &grid, 0), 0);

	struct cost c = price(&plan, &grid);
	json_t *steps = json_array(), *colls = json_array();
	for (int s = 0; s < 3; s++)
		json_array_append_new(
			steps,
			json_pack("{s:i, s:f, s:{s:f, s:f, s:f, s:f, s:f, s:{s:f, s:f, s:f, s:f, "
				  "s:f}}}",
				  "step", s, "time_s", c.step, "breakdown_s", "compute", c.compute,
				  "comm_exposed", c.dp, "bubble", 0.0, "optimizer", c.optimizer,
				  "other", OTHER_S, "comm_exposed_by_group", "tp", 0.0, "cp", 0.0,
				  "pp", 0.0, "dp", c.dp, "ep", 0.0));
	for (size_t i = 0; i < plan.count; i++) {
		const struct tl_op *op = &plan.ops[i];
		if (op->kind != TL_OP_ALLREDUCE || op->group != TL_GROUP_DP || grid.dp < 2)
			continue;
		/* Overlapped in the steps (time_us holds compute too), timed blocking apart */
		double t = hw_coll_s(op, grid.dp);
		json_array_append_new(
			colls, json_pack("{s:s, s:s, s:I, s:I, s:i, s:b, s:f, s:f, s:I}", "op",
					 "allreduce", "group", "dp", "group_size", (json_int_t)grid.dp,
					 "bytes", (json_int_t)op->bytes, "count_per_step", 1,
					 "nonblocking", 1, "time_us", 3 * t * 1e6, "transfer_us",
					 t * 1e6, "group_nodes",
					 (json_int_t)tl_grid_group_nodes(&grid, 0, TL_GROUP_DP)));
	}
	json_t *doc = json_pack("{s:i, s:o, s:o, s:o, s:o, s:o}", "schema", TL_RESULT_SCHEMA, "job",
				tl_job_to_json(&job), "world",
				tl_world_json(&job, (int)ranks, (int)tl_grid_nodes(&grid)),
				"plan", tl_plan_json(&job, &model, &plan), "steps", steps,
				"collectives", colls);
	if (with_summary)
		json_object_set_new(doc, "summary", json_pack("{s:f}", "peak_tflops_per_rank", 0.02));
	if (out)
		*out = c;
	tl_plan_free(&plan);
	tl_job_free(&job);
	return doc;
}

static void read_text(struct tl_run *run, const char *name, const char *text)
{
	*run = (struct tl_run){ .path = strdup(name) };
	tl_report_read_doc(run, name, text, strlen(text));
}

static void read_json(struct tl_run *run, const char *name, json_t *doc)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	read_text(run, name, text);
	free(text);
	json_decref(doc);
}

/* Runs of the default job at 2, 4 and 8 ranks, per_node ranks on each node. */
static void load_series(struct tl_report_inputs *in, uint64_t per_node, bool strong,
			struct cost *costs)
{
	static const uint64_t ranks[] = { 2, 4, 8 };

	in->count = ARRAY_LEN(ranks);
	in->runs = calloc(in->count, sizeof(*in->runs));
	assert_non_null(in->runs);
	/* out of order on purpose: the report orders by ranks */
	for (size_t i = 0; i < in->count; i++) {
		char name[32];
		size_t j = in->count - 1 - i;
		snprintf(name, sizeof(name), "r%llu.json", (unsigned long long)ranks[j]);
		read_json(&in->runs[i], name, make_doc(ranks[j], per_node, strong, true, &costs[j]));
		assert_int_equal(in->runs[i].state, TL_RUN_COMPLETE);
	}
}

/* What the plan of a world of `ranks` (per_node on each node) costs on the made-up hardware;
 * *tokens: its tokens per step. */
static struct cost cost_at(uint64_t ranks, uint64_t per_node, uint64_t *tokens)
{
	struct tl_job job;
	struct tl_model model;
	struct tl_grid grid;
	struct tl_plan plan;
	struct tl_diag diag = { 0 };

	assert_int_equal(tl_job_init(&job), 0);
	must_set(&job, "run.steps=3");
	assert_int_equal(tl_job_resolve(&job, ranks, &diag), 0);
	assert_int_equal(tl_model_build(&model, &job, &diag), 0);
	tl_grid_init(&grid, &job, ranks, per_node);
	assert_int_equal(tl_plan_build(&plan, &job, &model, &grid, 0), 0);
	struct cost c = price(&plan, &grid);
	*tokens = model.tokens_per_step;
	tl_plan_free(&plan);
	tl_job_free(&job);
	return c;
}

/* The series at per_node ranks per node, reported with a projection to 32 ranks. */
static const struct tl_report_group *report_series(struct tl_report_inputs *in,
						   struct tl_report *rep, uint64_t per_node,
						   struct cost *costs)
{
	static const uint64_t project[] = { 32 };

	load_series(in, per_node, false, costs);
	assert_int_equal(tl_report_build(rep, in, TL_SCALING_AUTO, project, 1), 0);
	return &rep->groups[0];
}

static void scaling_formulas(void **state)
{
	double speedup, efficiency;

	(void)state;
	/* weak: N = 4, t1/tN = 0.8 */
	tl_scaling_figures(TL_SCALING_WEAK, 2, 1.0, 8, 1.25, &speedup, &efficiency);
	close_to(speedup, 3.2, 1e-12);
	close_to(efficiency, 0.8, 1e-12);
	/* strong: N = 4, t1 = 4 s, tN = 1.25 s: speedup 3.2, efficiency 3.2 / 4 */
	tl_scaling_figures(TL_SCALING_STRONG, 2, 4.0, 8, 1.25, &speedup, &efficiency);
	close_to(speedup, 3.2, 1e-12);
	close_to(efficiency, 0.8, 1e-12);
	tl_scaling_figures(TL_SCALING_WEAK, 2, 1.0, 8, 0.0, &speedup, &efficiency);
	assert_true(speedup == 0 && efficiency == 0);
}

static void fit_never_negative(void **state)
{
	/* y = -1 + x: the best line has α < 0, so the fit goes through the origin */
	double x[] = { 2, 4 }, y[] = { 1, 3 }, alpha, beta;

	(void)state;
	assert_int_equal(tl_fit_alpha_beta(x, y, 2, &alpha, &beta), 0);
	assert_true(alpha == 0);
	close_to(beta, (2.0 * 1 + 4.0 * 3) / (4.0 + 16.0), 1e-12);
	/* time falling with size: no time per byte, the mean time as latency */
	double yd[] = { 3, 1 };
	assert_int_equal(tl_fit_alpha_beta(x, yd, 2, &alpha, &beta), 0);
	assert_true(beta == 0);
	close_to(alpha, 2.0, 1e-12);
}

static void fits_find_alpha_and_beta(void **state)
{
	struct tl_report_inputs in = { 0 };
	struct tl_report rep;
	struct cost costs[3];

	(void)state;
	load_series(&in, 8, false, costs);
	assert_int_equal(tl_report_build(&rep, &in, TL_SCALING_AUTO, NULL, 0), 0);
	assert_int_equal(rep.count, 1);
	const struct tl_report_group *g = &rep.groups[0];
	/* one class: every run inside one node; its points at 2, 4 and 8 ranks */
	assert_int_equal(g->nfits, 1);
	assert_int_equal(g->fits[0].kind, TL_OP_ALLREDUCE);
	assert_int_equal(g->fits[0].group, TL_GROUP_DP);
	assert_int_equal(g->fits[0].ranks_per_node, 0);
	assert_int_equal(g->fits[0].points, 3);
	assert_int_equal(g->fits[0].min_size, 2);
	assert_int_equal(g->fits[0].max_size, 8);
	close_to(g->fits[0].alpha_s, ALPHA_S, 1e-6);
	close_to(g->fits[0].beta_s_per_byte, BETA_S_PER_BYTE, 1e-9);
	assert_true(g->fits[0].gamma == 0);
	assert_true(g->fits[0].residual_max < 1e-9);
	tl_report_free(&rep);
	tl_report_inputs_free(&in);
}

/* A sweep over the world on the same hardware: its points join every group's fit. */
static void sweep_points_join_fits(void **state)
{
	struct tl_report_inputs in = { 0 };
	struct tl_report rep;
	struct cost costs[3];
	json_t *colls = json_array();

	(void)state;
	load_series(&in, 8, false, costs);
	for (int i = 0; i < 5; i++) {
		double bytes = (double)(1u << (20 + i)), bus = bytes * tl_busbw_factor(TL_OP_ALLREDUCE, 4);
		json_array_append_new(colls, json_pack("{s:s, s:s, s:i, s:f, s:f}", "op", "allreduce",
						       "group", "world", "group_size", 4, "bytes",
						       bytes, "time_us",
						       (ALPHA_S + BETA_S_PER_BYTE * bus) * 1e6));
	}
	struct tl_run *grown = realloc(in.runs, (in.count + 1) * sizeof(*grown));
	assert_non_null(grown);
	in.runs = grown;
	read_json(&in.runs[in.count++], "sweep.json",
		  json_pack("{s:i, s:{s:{}, s:{}}, s:o}", "schema", TL_RESULT_SCHEMA, "job", "sweep",
			    "run", "collectives", colls));
	assert_int_equal(in.runs[in.count - 1].state, TL_RUN_SWEEP);
	assert_int_equal(tl_report_build(&rep, &in, TL_SCALING_AUTO, NULL, 0), 0);
	const struct tl_report_group *g = &rep.groups[0];
	bool dp_seen = false;
	for (size_t i = 0; i < g->nfits; i++) {
		const struct tl_coll_fit *f = &g->fits[i];
		assert_int_equal(f->sweep_points, 5);
		if (f->group == TL_GROUP_DP) {
			dp_seen = true;
			assert_true(f->used);
			assert_true(f->points > f->sweep_points);
			close_to(f->alpha_s, ALPHA_S, 1e-6);
			close_to(f->beta_s_per_byte, BETA_S_PER_BYTE, 1e-9);
		} else {
			/* the job has no tp traffic: that fit is the sweep's alone, and unused */
			assert_false(f->used);
			assert_int_equal(f->points, 5);
		}
	}
	assert_true(dp_seen);
	tl_report_free(&rep);
	tl_report_inputs_free(&in);
}

static void weak_series_and_projection(void **state)
{
	struct tl_report_inputs in = { 0 };
	struct tl_report rep;
	struct cost costs[3];

	(void)state;
	/* two ranks per node: the 2-rank run inside one node, the others across 2 and 4 */
	const struct tl_report_group *g = report_series(&in, &rep, 2, costs);
	assert_int_equal(g->scaling, TL_SCALING_WEAK);
	assert_int_equal(g->count, 3);
	/* ordered by ranks; efficiency t1/tN and speedup N·t1/tN against the 2-rank run */
	static const int ranks[] = { 2, 4, 8 };
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(in.runs[g->runs[i]].ranks, ranks[i]);
		close_to(g->efficiency[i], costs[0].step / costs[i].step, 1e-9);
		close_to(g->speedup[i], ranks[i] / 2.0 * costs[0].step / costs[i].step, 1e-9);
		/* MFU from the steps and the summary's peak */
		const struct tl_run *r = &in.runs[g->runs[i]];
		close_to(r->fig.mfu,
			 r->model_flops_per_step / costs[i].step / (ranks[i] * 0.02e12), 1e-9);
	}
	/* The rates come from the largest run and reproduce every measured scale. */
	assert_true(g->have_rates);
	assert_int_equal(g->rates.calibrated_on, 8);
	close_to(g->rates.s_per_flop, S_PER_FLOP, 1e-9);
	close_to(g->rates.s_per_optimizer_byte, S_PER_OPT_BYTE, 1e-9);
	close_to(g->rates.dp_exposed_share, 1.0, 1e-9);
	assert_int_equal(g->npredictions, 4);
	for (size_t i = 0; i < 3; i++) {
		assert_true(g->predictions[i].ok);
		assert_int_equal(g->predictions[i].ranks, (uint64_t)ranks[i]);
		close_to(g->predictions[i].step_s, costs[i].step, 1e-6);
		close_to(g->predictions[i].measured_s, costs[i].step, 1e-12);
	}
	/* 32 ranks: what the plan of a 32-rank world costs on the made-up hardware */
	uint64_t tokens;
	struct cost want = cost_at(32, 2, &tokens);
	const struct tl_prediction *p = &g->predictions[3];
	assert_true(p->ok);
	assert_int_equal(p->ranks, 32);
	assert_int_equal(p->nodes, 16);
	/* priced with the cross-node class (4 and 8 ranks on 2 and 4 nodes), and said so */
	assert_non_null(strstr(p->note, "allreduce over dp of 32 ranks on 16 node(s) extrapolated "
					"from groups of 4-8 ranks on 2-4 node(s)"));
	assert_string_equal(g->predictions[1].note, "");
	assert_true(p->measured_s == 0);
	close_to(p->step_s, want.step, 1e-6);
	close_to(p->tokens_per_s, (double)tokens / want.step, 1e-6);
	tl_report_free(&rep);
	tl_report_inputs_free(&in);
}

/* Measured inside one node only: a world whose data-parallel group crosses nodes is not priced
 * with that, and the report says why; the measured scales still are. */
static void cross_node_from_intra_refused(void **state)
{
	struct tl_report_inputs in = { 0 };
	struct tl_report rep;
	struct cost costs[3];

	(void)state;
	const struct tl_report_group *g = report_series(&in, &rep, 8, costs);
	assert_int_equal(g->npredictions, 4);
	for (size_t i = 0; i < 3; i++) {
		assert_true(g->predictions[i].ok);
		close_to(g->predictions[i].step_s, costs[i].step, 1e-6);
	}
	assert_false(g->predictions[3].ok);
	assert_non_null(strstr(g->predictions[3].why,
			       "allreduce over dp would cross 4 nodes, and it was measured inside a "
			       "node only: no projection prices a cross-node group with intra-node "
			       "data"));
	tl_report_free(&rep);
	tl_report_inputs_free(&in);
}

/* A network whose bus bandwidth falls as groups grow (β ∝ n^0.5): the fit finds the power from
 * runs across 2 and 4 nodes and projects 16 nodes as the made-up network would run them. */
static void falling_busbw_followed(void **state)
{
	struct tl_report_inputs in = { 0 };
	struct tl_report rep;
	struct cost costs[3];

	(void)state;
	hw_gamma = 0.5;
	const struct tl_report_group *g = report_series(&in, &rep, 2, costs);
	const struct tl_coll_fit *cross = NULL;
	for (size_t i = 0; i < g->nfits; i++)
		if (g->fits[i].ranks_per_node == 2)
			cross = &g->fits[i];
	assert_non_null(cross);
	assert_int_equal(cross->points, 2);
	close_to(cross->gamma, 0.5, 1e-9);
	assert_true(cross->residual_max < 1e-6);

	uint64_t tokens;
	struct cost want = cost_at(32, 2, &tokens);
	assert_true(g->predictions[3].ok);
	/* α is the fit's and not the network's when two points fit exactly from γ = 0.5 on */
	close_to(g->predictions[3].step_s, want.step, 1e-3);
	hw_gamma = 0;
	tl_report_free(&rep);
	tl_report_inputs_free(&in);
}

/* Only blocking transfer times are points: an overlapped op without transfer_us (results before
 * it) is none; an old blocking op's is its last-arriving rank's time (time_us_fastest_rank). */
static void only_blocking_times_fitted(void **state)
{
	struct tl_report_inputs in = { 0 };
	struct tl_report rep;
	struct cost costs[3];

	(void)state;
	load_series(&in, 8, false, costs);
	for (size_t r = 0; r < in.count; r++) {
		json_t *c = json_array_get(json_object_get(in.runs[r].doc, "collectives"), 0);
		json_object_del(c, "transfer_us");
		if (in.runs[r].ranks == 8) {
			/* an old blocking op: 3x its transfer on the slowest rank, 1x on the last */
			json_object_set_new(c, "nonblocking", json_false());
			json_object_set_new(c, "time_us_fastest_rank",
					    json_real(json_number_value(json_object_get(c, "time_us")) /
						      3));
		}
	}
	assert_int_equal(tl_report_build(&rep, &in, TL_SCALING_AUTO, NULL, 0), 0);
	const struct tl_report_group *g = &rep.groups[0];
	assert_int_equal(g->nfits, 1);
	assert_int_equal(g->fits[0].points, 1);
	assert_int_equal(g->fits[0].min_size, 8);
	close_to(g->predictions[2].step_s, costs[2].step, 1e-6);
	tl_report_free(&rep);
	tl_report_inputs_free(&in);
}

static void strong_series(void **state)
{
	struct tl_report_inputs in = { 0 };
	struct tl_report rep;
	struct cost costs[3];

	(void)state;
	load_series(&in, 8, true, costs);
	assert_int_equal(tl_report_build(&rep, &in, TL_SCALING_AUTO, NULL, 0), 0);
	const struct tl_report_group *g = &rep.groups[0];
	assert_int_equal(g->scaling, TL_SCALING_STRONG);
	close_to(g->efficiency[2], costs[0].step / (4 * costs[2].step), 1e-9);
	close_to(g->speedup[2], costs[0].step / costs[2].step, 1e-9);
	/* default projection: 2, 4, 8 and 16 times the largest run; 64 ranks cannot split a
	 * global batch of 8 and is said to be impossible, not dropped */
	assert_int_equal(g->npredictions, 7);
	assert_int_equal(g->predictions[3].ranks, 16);
	assert_false(g->predictions[4].ok);
	assert_int_equal(g->predictions[4].ranks, 32);
	assert_non_null(strstr(g->predictions[4].why, "global_batch"));
	/* --scaling weak overrides what the batches say */
	tl_report_free(&rep);
	assert_int_equal(tl_report_build(&rep, &in, TL_SCALING_WEAK, NULL, 0), 0);
	assert_int_equal(rep.groups[0].scaling, TL_SCALING_WEAK);
	close_to(rep.groups[0].efficiency[2], costs[0].step / costs[2].step, 1e-9);
	tl_report_free(&rep);
	tl_report_inputs_free(&in);
}

static void states(void **state)
{
	struct tl_run run;
	json_t *doc = make_doc(2, 2, false, true, NULL);
	char *text = json_dumps(doc, JSON_COMPACT);

	(void)state;
	/* cut short */
	text[strlen(text) / 2] = '\0';
	read_text(&run, "cut.json", text);
	assert_int_equal(run.state, TL_RUN_PARTIAL);
	assert_non_null(strstr(run.why, "cut short"));
	free(run.path);
	json_decref(run.doc);
	free(text);
	/* not JSON */
	read_text(&run, "junk.json", "hello");
	assert_int_equal(run.state, TL_RUN_UNUSABLE);
	assert_non_null(strstr(run.why, "junk.json:1: not JSON"));
	free(run.path);
	json_decref(run.doc);
	/* another schema */
	read_text(&run, "new.json", "{\"schema\": 2}");
	assert_int_equal(run.state, TL_RUN_UNUSABLE);
	assert_non_null(strstr(run.why, "schema 2"));
	free(run.path);
	json_decref(run.doc);
	/* no summary: the run did not finish; its steps are used */
	json_object_del(doc, "summary");
	read_json(&run, "killed.json", doc);
	assert_int_equal(run.state, TL_RUN_PARTIAL);
	assert_int_equal(run.fig.steps, 3);
	assert_true(run.fig.mfu == 0); /* no peak known */
	assert_non_null(strstr(run.why, "no summary"));
	free(run.path);
	json_decref(run.doc);
	/* interrupted */
	doc = make_doc(2, 2, false, true, NULL);
	json_object_set_new(doc, "status", json_string("interrupted"));
	read_json(&run, "int.json", doc);
	assert_int_equal(run.state, TL_RUN_PARTIAL);
	assert_string_equal(run.why, "status interrupted");
	free(run.path);
	json_decref(run.doc);
	/* a sweep */
	read_text(&run, "sweep.json", "{\"schema\": 1, \"job\": {\"sweep\": {}, \"run\": {}}}");
	assert_int_equal(run.state, TL_RUN_SWEEP);
	free(run.path);
	json_decref(run.doc);
}

/* One broken document: doc changed by an edit (a jq-like path and a JSON value), read back; it
 * must be unusable, and say why in these words. */
struct broken {
	const char *what;   /* the object edited: "world", "job.parallel", "job.model", "plan",
			     * "ranks[i]" (i = 1), "steps[i]" (i = 1), "steps" (appended) */
	const char *key;    /* NULL: the object itself is replaced by value */
	const char *value;  /* JSON; NULL: the key removed */
	const char *why;
};

static json_t *edited_object(json_t *doc, const char *what)
{
	if (!strcmp(what, "world") || !strcmp(what, "plan"))
		return json_object_get(doc, what);
	if (!strcmp(what, "job.parallel") || !strcmp(what, "job.model"))
		return json_object_get(json_object_get(doc, "job"), what + 4);
	if (!strcmp(what, "ranks[i]"))
		return json_array_get(json_object_get(doc, "ranks"), 1);
	return json_array_get(json_object_get(doc, "steps"), 1);
}

static void consistency(void **state)
{
	static const struct broken cases[] = {
		{ "world", "dp", "9223372036854775807",
		  "b.json: world.ranks = 2 but world's dp*tp*pp*cp = 9223372036854775807" },
		{ "world", "tp", "9223372036854775807",
		  "b.json: world.ranks = 2 but world's dp*tp*pp*cp = more than 64 bits hold" },
		{ "world", "dp", "4", "b.json: world.ranks = 2 but world's dp*tp*pp*cp = 4" },
		{ "world", "tp", "0", "b.json: world.tp = 0: not a positive count" },
		{ "world", "pp", "-3", "b.json: world.pp = -3: not a positive count" },
		{ "world", "ranks", "0", "b.json: world.ranks = 0: not a positive count" },
		{ "world", "nodes", "3", "b.json: world.nodes = 3, more than its 2 ranks" },
		{ "world", "dp", "\"2\"", "b.json: world.dp = not an integer: not a positive count" },
		{ "job.parallel", "tp", "2", "b.json: job.parallel.tp = 2 but world.tp = 1" },
		{ "job.model", "layers", "0", "b.json: job.model.layers = 0: not a positive count" },
		{ "job.model", "hidden", NULL, "b.json: job.model.hidden = missing: not a positive count" },
		{ "plan", "tokens_per_step", "0", "b.json: plan.tokens_per_step = 0: not a positive count" },
		{ "ranks[i]", "rank", "-1", "b.json: ranks[1].rank is not a rank of 0 to 1" },
		{ "ranks[i]", "rank", "2", "b.json: ranks[1].rank is not a rank of 0 to 1" },
		{ "ranks[i]", "rank", "0", "b.json: rank 0 is listed twice in ranks" },
		{ "steps[i]", "step", "0", "b.json: step 0 appears twice" },
		{ "steps[i]", "step", "-1", "b.json: steps[1] has no step number (a count from 0)" },
		{ "steps[i]", "time_s", "-0.5",
		  "b.json: step 1: time_s is zero or negative, not a positive number of seconds" },
		{ "steps[i]", "time_s", NULL,
		  "b.json: step 1: time_s is missing, not a positive number of seconds" },
		{ "steps", NULL, "[]", "b.json: no step in its steps (a run that finished has one at least)" },
	};
	struct tl_run run;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		const struct broken *c = &cases[i];
		json_t *doc = make_doc(2, 2, false, true, NULL);
		json_object_set_new(doc, "ranks",
				    json_pack("[{s:i}, {s:i}]", "rank", 0, "rank", 1));
		if (!c->key) {
			json_object_set_new(doc, c->what, json_loads(c->value, JSON_DECODE_ANY, NULL));
		} else {
			json_t *obj = edited_object(doc, c->what);
			assert_non_null(obj);
			if (c->value)
				json_object_set_new(obj, c->key,
						    json_loads(c->value, JSON_DECODE_ANY, NULL));
			else
				json_object_del(obj, c->key);
		}
		read_json(&run, "b.json", doc);
		if (run.state != TL_RUN_UNUSABLE || strcmp(run.why, c->why))
			fail_msg("%s.%s = %s: state %s, why \"%s\", expected unusable, \"%s\"",
				 c->what, c->key ? c->key : "", c->value ? c->value : "(removed)",
				 tl_run_state_name(run.state), run.why, c->why);
		free(run.path);
		json_decref(run.doc);
	}
	/* the document untouched is complete */
	json_t *doc = make_doc(2, 2, false, true, NULL);
	json_object_set_new(doc, "ranks", json_pack("[{s:i}, {s:i}]", "rank", 0, "rank", 1));
	read_json(&run, "b.json", doc);
	assert_int_equal(run.state, TL_RUN_COMPLETE);
	free(run.path);
	json_decref(run.doc);
}

/* What cannot be read is named for what it is: cut short (partial) against data after the
 * document, binary data, empty, not JSON (unusable). */
static void unreadable(void **state)
{
	static const struct {
		const char *text;
		size_t len;
		enum tl_run_state state;
		const char *why;
	} cases[] = {
		{ "{\"schema\": 1, \"job\": {", 22, TL_RUN_PARTIAL, "c.json:1: cut short: " },
		{ "{\"schema\": 1} trailing", 22, TL_RUN_UNUSABLE,
		  "c.json:1: data after the JSON document: end of file expected near 'trailing'" },
		{ "\0\1\2binary", 9, TL_RUN_UNUSABLE,
		  "c.json:1: binary data (a NUL byte): not JSON" },
		{ "{\"a\": 1}\0junk", 13, TL_RUN_UNUSABLE, "c.json:1: data after the JSON document" },
		{ "", 0, TL_RUN_UNUSABLE, "c.json:1: empty: no JSON document in it" },
		{ "\xff{}", 3, TL_RUN_UNUSABLE, "c.json:1: not JSON: unable to decode byte 0xff" },
	};
	struct tl_run run;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		run = (struct tl_run){ .path = strdup("c.json") };
		tl_report_read_doc(&run, "c.json", cases[i].text, cases[i].len);
		if (run.state != cases[i].state || strncmp(run.why, cases[i].why, strlen(cases[i].why)))
			fail_msg("case %zu: state %s, why \"%s\"; expected %s, \"%s...\"", i,
				 tl_run_state_name(run.state), run.why,
				 tl_run_state_name(cases[i].state), cases[i].why);
		free(run.path);
		json_decref(run.doc);
	}
}

/* A JSONL read from a file: NAME.jsonl in a fresh directory, its header and the given lines. */
static void read_jsonl_file(struct tl_report_inputs *in, const char *lines)
{
	char dir[] = "/tmp/tl-test-report-XXXXXX", path[64];
	json_t *doc = make_doc(2, 2, false, false, NULL);

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/r.jsonl", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	json_object_del(doc, "steps");
	json_dumpf(doc, f, JSON_COMPACT);
	fprintf(f, "\n%s", lines);
	fclose(f);
	json_decref(doc);
	char *paths[] = { path };
	*in = (struct tl_report_inputs){ 0 };
	assert_int_equal(tl_report_load(in, paths, 1), 0);
	unlink(path);
	rmdir(dir);
	assert_int_equal(in->count, 1);
}

/* A JSONL: two runs' steps interleaved (each number twice) are refused, not counted twice; a
 * line that is not JSON before the last makes it unusable; only its last line, without its line
 * end, may be cut short. */
static void jsonl_lines(void **state)
{
	static const char step[] = "{\"step\": %d, \"time_s\": 0.5}\n";
	char lines[512];
	struct tl_report_inputs in;

	(void)state;
	snprintf(lines, sizeof(lines), "%s%s%s", "{\"step\": 0, \"time_s\": 0.5}\n",
		 "{\"step\": 0, \"time_s\": 0.6}\n", "{\"step\": 1, \"time_s\": 0.5}\n");
	read_jsonl_file(&in, lines);
	assert_int_equal(in.runs[0].state, TL_RUN_UNUSABLE);
	assert_non_null(strstr(in.runs[0].why, "r.jsonl: step 0 appears twice (two runs wrote to "
					       "one JSONL?)"));
	tl_report_inputs_free(&in);

	snprintf(lines, sizeof(lines), step, 0);
	strcat(lines, "{\"step\": 1, \"ti\n");
	strcat(lines, "{\"step\": 2, \"time_s\": 0.5}\n");
	read_jsonl_file(&in, lines);
	assert_int_equal(in.runs[0].state, TL_RUN_UNUSABLE);
	assert_non_null(strstr(in.runs[0].why, "r.jsonl:3: not JSON: "));
	tl_report_inputs_free(&in);

	snprintf(lines, sizeof(lines), step, 0);
	strcat(lines, "{\"step\": 1, \"ti");
	read_jsonl_file(&in, lines);
	assert_int_equal(in.runs[0].state, TL_RUN_PARTIAL);
	assert_int_equal(in.runs[0].fig.steps, 1);
	assert_non_null(strstr(in.runs[0].why, "1 finished step(s) in the JSONL (its last line, "
					       "cut short, skipped)"));
	tl_report_inputs_free(&in);
}

static void job_round_trip(void **state)
{
	struct tl_job a, b;
	struct tl_diag diag = { 0 };

	(void)state;
	assert_int_equal(tl_job_init(&a), 0);
	assert_int_equal(tl_job_init(&b), 0);
	must_set(&a, "model.experts=4");
	must_set(&a, "parallel.zero=2");
	must_set(&a, "run.comm_dtype=bf16");
	assert_int_equal(tl_job_resolve(&a, 8, &diag), 0);
	json_t *ja = tl_job_to_json(&a);
	assert_int_equal(tl_job_from_json(&b, ja, &diag), 0);
	assert_int_equal(tl_job_resolve(&b, 8, &diag), 0);
	json_t *jb = tl_job_to_json(&b);
	assert_true(json_equal(ja, jb));
	/* a value of the wrong kind names the key */
	json_t *bad = json_pack("{s:{s:[]}}", "model", "layers");
	assert_int_equal(tl_job_from_json(&b, bad, &diag), TL_EINPUT);
	assert_non_null(strstr(diag.msg[diag.count - 1], "model.layers"));
	json_decref(bad);
	json_decref(ja);
	json_decref(jb);
	tl_diag_free(&diag);
	tl_job_free(&a);
	tl_job_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(scaling_formulas),
		cmocka_unit_test(fit_never_negative),
		cmocka_unit_test(fits_find_alpha_and_beta),
		cmocka_unit_test(sweep_points_join_fits),
		cmocka_unit_test(weak_series_and_projection),
		cmocka_unit_test(cross_node_from_intra_refused),
		cmocka_unit_test(falling_busbw_followed),
		cmocka_unit_test(only_blocking_times_fitted),
		cmocka_unit_test(strong_series),
		cmocka_unit_test(states),
		cmocka_unit_test(consistency),
		cmocka_unit_test(unreadable),
		cmocka_unit_test(jsonl_lines),
		cmocka_unit_test(job_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
