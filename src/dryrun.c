/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --dry-run: the resolved job, rank R's place in the grid, its GEMM shapes, FLOPs, bytes per
 * group, memory and schedule, with no MPI and no hardware work. Everything it prints comes from
 * the same job, model, grid and plan code as a run; its JSON has a run's job, world and plan keys.
 * The work is O(layers × microbatches) for one rank, whatever the world size.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainload/dryrun.h"
#include "trainload/grid.h"
#include "trainload/model.h"
#include "trainload/plan.h"
#include "trainload/result.h"
#include "trainload/sweep.h"

static json_t *gemm_json(const struct tl_gemm *g)
{
	return json_pack("{s:s, s:I, s:I, s:I, s:I, s:f}", "name", g->name, "m", (json_int_t)g->m,
			 "n", (json_int_t)g->n, "k", (json_int_t)g->k, "batch", (json_int_t)g->batch,
			 "flops", (double)tl_gemm_flops(g));
}

static json_t *pass_json(const struct tl_pass_bytes *p)
{
	return json_pack("{s:I, s:I}", "forward", (json_int_t)p->fwd, "backward",
			 (json_int_t)p->bwd);
}

/* A layer's elementwise passes, one microbatch on this rank (the softmax and the attention
 * dropout: one block, cp of them a layer). */
static json_t *layer_json(const struct tl_layer *L)
{
	json_t *gemms = json_array();

	for (int i = 0; i < 4; i++)
		json_array_append_new(gemms, gemm_json(&L->attn[i]));
	for (int i = 0; i < L->mlp_gemms; i++)
		json_array_append_new(gemms, gemm_json(&L->mlp[i]));
	json_t *passes = json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "norm", pass_json(&L->norm),
				   "activation", pass_json(&L->act), "softmax",
				   pass_json(&L->softmax), "attention_dropout",
				   pass_json(&L->attn_dropout), "residual", pass_json(&L->residual),
				   "hidden_dropout", pass_json(&L->hidden_dropout));
	return json_pack("{s:b, s:o, s:I, s:I, s:o}", "moe", L->moe, "gemms_forward", gemms,
			 "params", (json_int_t)L->params, "params_rank", (json_int_t)L->params_rank,
			 "elementwise_bytes", passes);
}

/* A data-parallel gradient bucket's reduction (ZeRO-3's per-layer ones belong to a layer). */
static bool is_bucket(const struct tl_op *op)
{
	return op->phase == TL_PHASE_GRAD_SYNC && tl_op_is_comm(op->kind) && op->layer < 0 &&
	       op->microbatch < 0;
}

/* The data-parallel gradient buckets of the step, in the order they are issued. */
static json_t *buckets_json(const struct tl_plan *plan)
{
	json_t *arr = json_array();

	for (size_t i = 0; i < plan->count; i++) {
		const struct tl_op *op = &plan->ops[i];
		if (is_bucket(op))
			json_array_append_new(arr, json_pack("{s:s, s:s, s:I, s:I}", "op",
							     tl_op_kind_name(op->kind), "group",
							     tl_grid_group_name(op->group), "bytes",
							     (json_int_t)op->bytes, "offset",
							     (json_int_t)op->offset));
	}
	return arr;
}

struct shape {
	uint64_t m, n, k, batch;
	int trans_a, trans_b;
};

static int cmp_shape(const void *pa, const void *pb)
{
	const struct shape *a = pa, *b = pb;
	const uint64_t x[] = { a->m, a->n, a->k, a->batch, (uint64_t)a->trans_a,
			       (uint64_t)a->trans_b };
	const uint64_t y[] = { b->m, b->n, b->k, b->batch, (uint64_t)b->trans_a,
			       (uint64_t)b->trans_b };

	for (size_t i = 0; i < sizeof(x) / sizeof(x[0]); i++)
		if (x[i] != y[i])
			return x[i] < y[i] ? -1 : 1;
	return 0;
}

/* The distinct GEMMs of the rank's step as executed (backward ones transposed), each with how
 * often it runs per step: what a standalone BLAS benchmark needs to reproduce the step. */
static json_t *gemm_shapes_json(const struct tl_plan *plan)
{
	struct shape *v = malloc((plan->ops_per_kind[TL_OP_GEMM] + 1) * sizeof(*v));
	json_t *arr = json_array();
	size_t n = 0;

	if (!v)
		return arr;
	for (size_t i = 0; i < plan->count; i++) {
		const struct tl_op *op = &plan->ops[i];
		if (op->kind == TL_OP_GEMM)
			v[n++] = (struct shape){ op->gemm.m, op->gemm.n,     op->gemm.k,
						 op->gemm.batch, op->trans_a, op->trans_b };
	}
	qsort(v, n, sizeof(*v), cmp_shape);
	for (size_t i = 0, j; i < n; i = j) {
		for (j = i + 1; j < n && !cmp_shape(&v[i], &v[j]); j++)
			;
		json_array_append_new(arr, json_pack("{s:I, s:I, s:I, s:I, s:b, s:b, s:I}", "m",
						     (json_int_t)v[i].m, "n", (json_int_t)v[i].n,
						     "k", (json_int_t)v[i].k, "batch",
						     (json_int_t)v[i].batch, "trans_a", v[i].trans_a,
						     "trans_b", v[i].trans_b, "count_per_step",
						     (json_int_t)(j - i)));
	}
	free(v);
	return arr;
}

/* "F0 F1 B0 F2 B1 B2": the rank's microbatch order; with model chunks "F0.1" is microbatch 0's
 * forward through chunk 1. */
static char *schedule_text(const struct tl_plan *plan, uint64_t chunks)
{
	size_t cap = plan->nsched * 24 + 1, used = 0;
	char *s = malloc(cap);

	if (!s)
		return NULL;
	s[0] = '\0';
	for (size_t i = 0; i < plan->nsched; i++) {
		used += (size_t)snprintf(s + used, cap - used, "%s%c%d", i ? " " : "",
					 plan->sched[i].dir, plan->sched[i].microbatch);
		if (chunks > 1)
			used += (size_t)snprintf(s + used, cap - used, ".%d", plan->sched[i].chunk);
	}
	return s;
}

static json_t *dry_json(const struct tl_job *job, const struct tl_model *model,
			const struct tl_grid *grid, const struct tl_plan *plan)
{
	char *sched = schedule_text(plan, model->chunks);
	json_t *layers = json_object();

	json_object_set_new(layers, "dense", layer_json(&model->dense));
	if (job->experts)
		json_object_set_new(layers, "moe", layer_json(&model->moe));
	json_object_set_new(layers, "logits", gemm_json(&model->logits));
	json_object_set_new(layers, "elementwise_bytes",
			    json_pack("{s:o, s:o, s:o}", "embedding", pass_json(&model->embed),
				      "final_norm", pass_json(&model->final_norm), "loss",
				      pass_json(&model->loss)));
	json_t *doc = json_pack("{s:i, s:s, s:b, s:o, s:o, s:o, s:o, s:o, s:s}", "schema",
				TL_RESULT_SCHEMA, "trainload_version", PACKAGE_VERSION, "dry_run", 1,
				"job", tl_job_to_json(job), "world",
				tl_world_json(job, (int)grid->world, (int)tl_grid_nodes(grid)), "plan",
				tl_plan_json(job, model, plan), "grid", tl_grid_json(grid, plan->rank),
				"layers", layers, "schedule", sched ? sched : "");
	json_object_set_new(doc, "gemm_shapes", gemm_shapes_json(plan));
	json_object_set_new(doc, "gradient_buckets", buckets_json(plan));
	free(sched);
	return doc;
}

/* 1234567 → "1.23 M": sizes that a person reads. */
static const char *human(double v, const char *unit, char *buf, size_t len)
{
	static const char *const prefix[] = { "", "k", "M", "G", "T", "P", "E", "Z" };
	int i = 0;

	while (v >= 1000 && i < 7) {
		v /= 1000;
		i++;
	}
	snprintf(buf, len, "%.3g %s%s", v, prefix[i], unit);
	return buf;
}

static void print_text(FILE *out, const struct tl_job *job, const struct tl_model *model,
		       const struct tl_grid *grid, const struct tl_plan *plan)
{
	char a[32], b[32], c[32], d[32], e[32];
	const struct tl_coords *co = &plan->coords;

	fprintf(out,
		"# trainload %s dry run: job %s on %" PRIu64 " ranks = dp %" PRIu64 " x pp %" PRIu64
		" x tp %" PRIu64 " (cp %" PRIu64 ", ep %" PRIu64 ")",
		PACKAGE_VERSION, job->name, grid->world, job->dp, job->pp, job->tp, job->cp, job->ep);
	if (grid->ranks_per_node)
		fprintf(out, ", %" PRIu64 " ranks per node", grid->ranks_per_node);
	fprintf(out, "\n# conventions: %s\n", tl_conventions);

	fprintf(out, "\n# resolved job\n");
	for (int s = 0; tl_job_sections[s]; s++) {
		if (!strcmp(tl_job_sections[s], "sweep"))
			continue;
		fprintf(out, "[%s]\n", tl_job_sections[s]);
		for (size_t i = 0; i < tl_job_option_count; i++) {
			char v[TL_SWEEP_OPS_MAX];
			if (strcmp(tl_job_options[i].section, tl_job_sections[s]))
				continue;
			fprintf(out, "%s = %s\n", tl_job_options[i].name,
				tl_job_format(job, &tl_job_options[i], v, sizeof(v)));
		}
	}

	fprintf(out, "\n# rank %" PRIu64 ": tp %" PRIu64 " cp %" PRIu64 " dp %" PRIu64 " pp %" PRIu64
		     " (stage %" PRIu64 " of %" PRIu64 ", layers %" PRIu64 "-%" PRIu64 ")\n",
		plan->rank, co->tp, co->cp, co->dp, co->pp, co->pp, job->pp,
		co->pp * model->layers_per_stage, (co->pp + 1) * model->layers_per_stage - 1);
	fprintf(out, "  %-5s %10s %10s %12s %12s  %s\n", "group", "size", "index", "first_rank",
		"stride", "nodes");
	for (size_t i = 0; i < TL_GRID_LISTED; i++) {
		int g = tl_grid_listed[i];
		fprintf(out, "  %-5s %10" PRIu64 " %10" PRIu64 " %12" PRIu64 " %12" PRIu64 "  %s\n",
			tl_grid_group_name(g), tl_grid_group_size(grid, g),
			tl_grid_group_index(grid, plan->rank, g),
			tl_grid_group_member(grid, plan->rank, g, 0),
			tl_grid_group_stride(grid, plan->rank, g),
			!grid->ranks_per_node				   ? "unknown"
			: tl_grid_group_crosses_nodes(grid, plan->rank, g) ? "crosses nodes"
									   : "within a node");
	}

	fprintf(out, "\n# forward GEMMs of one layer, one microbatch, this rank (C[m x n] = A[m x k]"
		     " B[k x n], batch times)\n");
	const struct tl_layer *kinds[] = { &model->dense, &model->moe };
	for (int kind = 0; kind < (job->experts ? 2 : 1); kind++) {
		const struct tl_layer *L = kinds[kind];
		fprintf(out, "  %s layer: %s parameters, %s on this rank\n",
			L->moe ? "MoE" : "dense", human((double)L->params, "", a, sizeof(a)),
			human((double)L->params_rank, "", b, sizeof(b)));
		for (int i = 0; i < 4 + L->mlp_gemms; i++) {
			const struct tl_gemm *g = i < 4 ? &L->attn[i] : &L->mlp[i - 4];
			fprintf(out, "    %-12s m %8" PRIu64 "  n %8" PRIu64 "  k %8" PRIu64
				     "  batch %6" PRIu64 "  %s\n",
				g->name, g->m, g->n, g->k, g->batch,
				human((double)tl_gemm_flops(g), "FLOP", c, sizeof(c)));
		}
	}
	fprintf(out, "    %-12s m %8" PRIu64 "  n %8" PRIu64 "  k %8" PRIu64 "  (last stage)\n",
		"logits", model->logits.m, model->logits.n, model->logits.k);
	if (job->cp > 1)
		fprintf(out, "  attn_scores and attn_v: one of %" PRIu64 " context-parallel blocks a "
			     "layer, each counted in full as Megatron counts attention (causal masking "
			     "not taken off): 1/cp of the layer's attention on this rank\n",
			job->cp);

	fprintf(out, "\n# totals per step\n");
	fprintf(out, "  parameters %s (largest rank %s); tokens %s; microbatches %" PRIu64
		     " per data-parallel rank; bubble (pp-1)/%s = %.3f\n",
		human((double)model->params_total, "", a, sizeof(a)),
		human((double)model->params_per_rank, "", b, sizeof(b)),
		human((double)model->tokens_per_step, "", c, sizeof(c)), model->microbatches,
		model->chunks > 1 ? "(v*m)" : "m",
		model->bubble_fraction);
	fprintf(out, "  model FLOPs %s, hardware FLOPs %s (recompute %s), this rank's GEMMs %s\n",
		human((double)model->model_flops_per_step, "FLOP", a, sizeof(a)),
		human((double)model->hardware_flops_per_step, "FLOP", b, sizeof(b)),
		tl_job_enum_name("run", "recompute", job->recompute),
		human((double)plan->flops, "FLOP", c, sizeof(c)));
	fprintf(out, "  memory per rank (largest) %s: weights %s, gradients %s, optimizer %s, "
		     "activations %s\n",
		human((double)model->memory_bytes_per_rank, "B", a, sizeof(a)),
		human((double)model->weight_bytes, "B", b, sizeof(b)),
		human((double)model->grad_bytes, "B", c, sizeof(c)),
		human((double)model->optimizer_bytes, "B", d, sizeof(d)),
		human((double)model->activation_bytes, "B", e, sizeof(e)));
	fprintf(out, "  bytes this rank passes to collectives and sends (payload):");
	static const int shown[] = { TL_GROUP_TP, TL_GROUP_PP, TL_GROUP_DP, TL_GROUP_EP,
				     TL_GROUP_CP };
	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
		fprintf(out, " %s %s", tl_grid_group_name(shown[i]),
			human((double)plan->comm_bytes[shown[i]], "B", a, sizeof(a)));
	fprintf(out, "\n  ops:");
	for (int k = 0; k < TL_OP_KINDS; k++)
		fprintf(out, " %s %" PRIu64, tl_op_kind_name(k), plan->ops_per_kind[k]);
	fprintf(out, "\n  memory passes (bytes read and written):");
	for (int k = 0; k < TL_MEM_KINDS; k++)
		fprintf(out, " %s %s", tl_mem_kind_name(k),
			human((double)plan->mem_bytes[k], "B", a, sizeof(a)));
	fprintf(out, "\n  optimizer %s: %" PRIu64 " bytes read and %" PRIu64
		     " written per parameter; elementwise fusion %s",
		tl_job_enum_name("run", "optimizer", job->optimizer),
		model->optimizer_read_per_param, model->optimizer_written_per_param,
		tl_job_enum_name("run", "fusion", job->fusion));
	fprintf(out, "\n  gradient buckets (%s, %" PRIu64 " MiB):",
		tl_job_enum_name("parallel", "bucket_policy", job->bucket_policy), job->bucket_mb);
	for (size_t i = 0; i < plan->count; i++) {
		if (is_bucket(&plan->ops[i]))
			fprintf(out, " %" PRIu64, plan->ops[i].bytes);
	}
	char *sched = schedule_text(plan, model->chunks);
	fprintf(out, "\n\n# schedule (%s, stage %" PRIu64 "): %s\n",
		tl_job_enum_name("parallel", "schedule", job->schedule), co->pp, sched ? sched : "");
	free(sched);
}

/* A sweep's dry run: per test, the sizes it would move (as counted, after rounding), rank R's
 * ops per point and the buffers a rank holds; or the same as JSON, with the job and world. */
static int dry_sweep(const struct tl_job *job, const struct tl_dry_run_args *args, FILE *out,
		     struct tl_diag *diag)
{
	struct tl_grid grid;
	struct tl_sweep sw;
	int rc;

	tl_grid_init(&grid, job, args->ranks, args->ranks_per_node);
	rc = tl_sweep_build(&sw, job, &grid, args->rank, diag);
	if (rc)
		return rc;
	if (args->json) {
		json_t *tests = json_array();
		for (int t = 0; t < sw.ntests; t++) {
			json_t *sizes = json_array();
			for (size_t r = sw.test_rows[t]; r < sw.test_rows[t + 1]; r++)
				json_array_append_new(sizes, json_integer((json_int_t)sw.rows[r].c.bytes));
			json_array_append_new(tests, json_pack("{s:s, s:o}", "op",
							       tl_sweep_test_name(&sw.tests[t]),
							       "bytes", sizes));
		}
		json_t *doc = json_pack("{s:o, s:o, s:{s:s, s:I, s:o, s:I, s:I, s:I}}", "job",
					tl_job_to_json(job), "world",
					tl_world_json(job, (int)args->ranks, 0), "sweep", "group",
					tl_job_enum_name("sweep", "group", job->sweep_group),
					"group_size", (json_int_t)sw.group_size, "tests", tests,
					"memory_bytes_per_rank", (json_int_t)sw.memory_bytes,
					"ops", (json_int_t)sw.plan.count, "rank",
					(json_int_t)args->rank);
		json_dumpf(doc, out, JSON_INDENT(2));
		fputc('\n', out);
		json_decref(doc);
		tl_sweep_free(&sw);
		return 0;
	}
	fprintf(out, "# sweep on group %s of %" PRIu64 " ranks (%" PRIu64 " ranks in all), %s\n",
		tl_job_enum_name("sweep", "group", job->sweep_group), sw.group_size, args->ranks,
		tl_dtype_name(job->sweep_dtype));
	fprintf(out, "# rank %" PRIu64 ": %zu ops in %zu points; buffers %" PRIu64
		" bytes per rank\n", args->rank, sw.plan.count, sw.npoints, sw.memory_bytes);
	for (int t = 0; t < sw.ntests; t++) {
		fprintf(out, "%s:", tl_sweep_test_name(&sw.tests[t]));
		for (size_t r = sw.test_rows[t]; r < sw.test_rows[t + 1]; r++)
			fprintf(out, " %" PRIu64, sw.rows[r].c.bytes);
		fputc('\n', out);
		char note[512];
		if (tl_sweep_rounded(&sw, job, t, note, sizeof(note)))
			fprintf(out, "# rounded: %s\n", note);
	}
	tl_sweep_free(&sw);
	return 0;
}

int tl_dry_run(struct tl_job *job, const struct tl_dry_run_args *args, FILE *out,
	       struct tl_diag *diag)
{
	struct tl_model model;
	struct tl_grid grid;
	struct tl_plan plan;
	int rc = tl_job_resolve(job, args->ranks, diag);

	if (!rc && args->rank >= args->ranks) {
		tl_diag_add(diag, "--rank", "rank %" PRIu64 " is outside the %" PRIu64 " ranks",
			    args->rank, args->ranks);
		rc = TL_EINPUT;
	}
	if (!rc && job->has_sweep)
		return dry_sweep(job, args, out, diag);
	if (!rc)
		rc = tl_model_build(&model, job, diag);
	if (rc)
		return rc;
	tl_grid_init(&grid, job, args->ranks, args->ranks_per_node);
	rc = tl_plan_build_diag(&plan, job, &model, &grid, args->rank, diag);
	if (rc)
		return rc;
	if (args->json) {
		json_t *doc = dry_json(job, &model, &grid, &plan);
		json_dumpf(doc, out, JSON_INDENT(2));
		fputc('\n', out);
		json_decref(doc);
	} else {
		print_text(out, job, &model, &grid, &plan);
	}
	tl_plan_free(&plan);
	return 0;
}
