/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Output: the JSON document, its per-step lines and the human summary (DESIGN.md §6). Every
 * figure a user quotes is computed here once, from the measured steps.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "trainload/grid.h"
#include "trainload/result.h"
#include "trainload/stats.h"

const char tl_conventions[] =
	"step time = slowest rank; GB = 1e9; model FLOPs = forward + backward GEMMs "
	"(no recompute), per step";

/* The figures of the summary, derived from the measured steps. */
struct summary {
	double p50, p95, min, max;
	double tokens_per_s;
	double model_tflops_per_rank;
	double compute, comm_exposed, bubble, optimizer, other; /* p50 of the slowest rank's */
};

static double step_field(const struct tl_step *s, int which)
{
	switch (which) {
	case 0:
		return s->time_s;
	case 1:
		return s->compute_s;
	case 2:
		return tl_step_comm_exposed(s);
	case 3:
		return s->bubble_s;
	case 4:
		return s->optimizer_s;
	default:
		return s->other_s;
	}
}

static double steps_percentile(const struct tl_result *r, int which, double p)
{
	double *v = malloc((r->nsteps ? r->nsteps : 1) * sizeof(*v));
	double out;

	if (!v)
		return 0.0;
	for (size_t i = 0; i < r->nsteps; i++)
		v[i] = step_field(&r->steps[i], which);
	out = tl_percentile(v, r->nsteps, p);
	free(v);
	return out;
}

static struct summary summarise(const struct tl_result *r)
{
	struct summary s = { 0 };

	if (!r->nsteps)
		return s;
	s.p50 = steps_percentile(r, 0, 50);
	s.p95 = steps_percentile(r, 0, 95);
	s.min = steps_percentile(r, 0, 0);
	s.max = steps_percentile(r, 0, 100);
	s.compute = steps_percentile(r, 1, 50);
	s.comm_exposed = steps_percentile(r, 2, 50);
	s.bubble = steps_percentile(r, 3, 50);
	s.optimizer = steps_percentile(r, 4, 50);
	s.other = steps_percentile(r, 5, 50);
	if (s.p50 > 0) {
		s.tokens_per_s = (double)r->model->tokens_per_step / s.p50;
		s.model_tflops_per_rank =
			(double)r->model->model_flops_per_step / s.p50 / r->ranks / 1e12;
	}
	return s;
}

static json_t *breakdown_json(double compute, double comm, double bubble, double optimizer,
			      double other)
{
	return json_pack("{s:f, s:f, s:f, s:f, s:f}", "compute", compute, "comm_exposed", comm,
			 "bubble", bubble, "optimizer", optimizer, "other", other);
}

json_t *tl_world_json(const struct tl_job *job, int ranks, int nodes)
{
	return json_pack("{s:i, s:i, s:I, s:I, s:I, s:I, s:I}", "ranks", ranks, "nodes", nodes,
			 "tp", (json_int_t)job->tp, "pp", (json_int_t)job->pp, "dp",
			 (json_int_t)job->dp, "cp", (json_int_t)job->cp, "ep", (json_int_t)job->ep);
}

json_t *tl_plan_json(const struct tl_job *job, const struct tl_model *model,
		     const struct tl_plan *plan)
{
	json_t *ops = json_object(), *bytes = json_object();
	static const enum tl_group groups[] = { TL_GROUP_TP, TL_GROUP_PP, TL_GROUP_DP, TL_GROUP_EP,
						TL_GROUP_CP };

	for (int k = 0; k < TL_OP_KINDS; k++) {
		if (k == TL_OP_WAIT)
			continue;
		json_object_set_new(ops, tl_op_kind_name(k),
				    json_integer((json_int_t)plan->ops_per_kind[k]));
	}
	for (size_t g = 0; g < sizeof(groups) / sizeof(groups[0]); g++)
		json_object_set_new(bytes, tl_grid_group_name(groups[g]),
				    json_integer((json_int_t)plan->comm_bytes[groups[g]]));
	/* FLOP counts pass 2^63 for the largest models: they are written as numbers, exact up
	 * to 2^53 and within 1e-16 beyond. */
	json_t *p = json_pack("{s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:f, s:o, s:o, s:I, s:i}",
			      "model_flops_per_step", (double)model->model_flops_per_step,
			      "hardware_flops_per_step", (double)model->hardware_flops_per_step,
			      "rank_flops_per_step", (double)plan->flops, "params_total",
			      (json_int_t)model->params_total, "params_per_rank_max",
			      (json_int_t)model->params_per_rank, "memory_bytes_per_rank_max",
			      (json_int_t)model->memory_bytes_per_rank, "tokens_per_step",
			      (json_int_t)model->tokens_per_step, "microbatches",
			      (json_int_t)model->microbatches, "bubble_fraction",
			      (double)(job->pp - 1) / (double)model->microbatches, "ops_per_step",
			      ops, "comm_bytes_per_step", bytes, "rank", (json_int_t)plan->rank,
			      "requests", plan->reqs);
	json_object_set_new(p, "memory_bytes_per_rank",
			    json_pack("{s:I, s:I, s:I, s:I}", "weights",
				      (json_int_t)model->weight_bytes, "gradients",
				      (json_int_t)model->grad_bytes, "optimizer",
				      (json_int_t)model->optimizer_bytes, "activations",
				      (json_int_t)model->activation_bytes));
	return p;
}

json_t *tl_step_json(const struct tl_result *r, size_t i)
{
	const struct tl_step *s = &r->steps[i];

	return json_pack("{s:I, s:f, s:i, s:o}", "step", (json_int_t)i, "time_s", s->time_s,
			 "slowest_rank", r->step_rank[i], "breakdown_s",
			 breakdown_json(s->compute_s, tl_step_comm_exposed(s), s->bubble_s,
					s->optimizer_s, s->other_s));
}

void tl_job_hash(const struct tl_job *job, char out[17])
{
	json_t *j = tl_job_to_json(job);
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	uint64_t h = UINT64_C(14695981039346656037);

	for (const char *p = text ? text : ""; *p; p++) {
		h ^= (unsigned char)*p;
		h *= UINT64_C(1099511628211);
	}
	snprintf(out, 17, "%016" PRIx64, h);
	free(text);
	json_decref(j);
}

static json_t *environment_json(const struct tl_result *r)
{
	char hash[17];

	tl_job_hash(r->job, hash);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s}", "hosts",
			 r->env.hosts ? r->env.hosts : "", "mpi_version", r->env.mpi_version,
			 "blas_version", r->env.blas_version, "blas_config", r->env.blas_config,
			 "blas_core", r->env.blas_core, "job_hash", hash, "command_line",
			 r->env.command_line);
}

static json_t *ranks_json(const struct tl_result *r)
{
	json_t *arr = json_array();

	for (int i = 0; i < r->ranks; i++) {
		const struct tl_rank_info *ri = &r->rank_info[i];
		json_t *ops = json_object();
		for (int k = 0; k < TL_OP_KINDS; k++)
			if (k != TL_OP_WAIT)
				json_object_set_new(ops, tl_op_kind_name(k),
						    json_integer((json_int_t)ri->ops_per_step[k]));
		json_array_append_new(arr, json_pack("{s:i, s:s, s:s, s:s, s:s, s:i, s:f, s:o}",
						     "rank", ri->rank, "host", ri->host, "cpuset",
						     ri->cpuset, "numa", ri->numa, "binding",
						     ri->binding, "threads", ri->threads,
						     "gemm_gflops", ri->gemm_gflops,
						     "ops_per_step", ops));
	}
	return arr;
}

json_t *tl_result_json(const struct tl_result *r)
{
	struct summary s = summarise(r);
	json_t *steps = json_array();

	for (size_t i = 0; i < r->nsteps; i++)
		json_array_append_new(steps, tl_step_json(r, i));
	json_t *summary = json_pack(
		"{s:I, s:{s:f, s:f, s:f, s:f}, s:f, s:f, s:o}", "steps_measured",
		(json_int_t)r->nsteps, "step_time_s", "p50", s.p50, "p95", s.p95, "min", s.min,
		"max", s.max, "tokens_per_s", s.tokens_per_s, "model_tflops_per_rank",
		s.model_tflops_per_rank, "breakdown_s",
		breakdown_json(s.compute, s.comm_exposed, s.bubble, s.optimizer, s.other));
	return json_pack("{s:i, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "schema",
			 TL_RESULT_SCHEMA, "trainload_version", PACKAGE_VERSION, "conventions",
			 tl_conventions, "job", tl_job_to_json(r->job), "world",
			 tl_world_json(r->job, r->ranks, r->env.nodes), "plan",
			 tl_plan_json(r->job, r->model, r->plan), "environment",
			 environment_json(r), "steps", steps, "summary", summary, "ranks",
			 ranks_json(r));
}

/* 1234567.8 → "1,234,568": throughput reads better grouped. */
static const char *grouped(double v, char *buf, size_t len)
{
	char digits[32];
	size_t n, out = 0;

	snprintf(digits, sizeof(digits), "%.0f", v);
	n = strlen(digits);
	for (size_t i = 0; i < n && out + 2 < len; i++) {
		if (i && (n - i) % 3 == 0)
			buf[out++] = ',';
		buf[out++] = digits[i];
	}
	buf[out] = '\0';
	return buf;
}

void tl_result_print(const struct tl_result *r, FILE *out)
{
	const struct tl_job *j = r->job;
	struct summary s = summarise(r);
	double gflops_min = 0, gflops_sum = 0;
	char tok[32];

	for (int i = 0; i < r->ranks; i++) {
		double g = r->rank_info[i].gemm_gflops;
		gflops_sum += g;
		if (i == 0 || g < gflops_min)
			gflops_min = g;
	}
	fprintf(out,
		"# trainload %s  job %s (l=%" PRIu64 " h=%" PRIu64 " a=%" PRIu64 " s=%" PRIu64
		" V=%" PRIu64 ")  ranks %d = dp %" PRIu64 " x pp %" PRIu64 " x tp %" PRIu64 "\n",
		PACKAGE_VERSION, j->name, j->layers, j->hidden, j->heads, j->seq, j->vocab, r->ranks,
		j->dp, j->pp, j->tp);
	fprintf(out, "# nodes %d (%s)  backend %s  OpenBLAS %s (%s)  %s  %s/%s\n", r->env.nodes,
		r->env.hosts ? r->env.hosts : "", tl_job_enum_name("run", "backend", j->backend),
		r->env.blas_version, r->env.blas_core, r->env.mpi_version,
		tl_job_enum_name("run", "compute_dtype", j->compute_dtype),
		tl_job_enum_name("run", "comm_dtype", j->comm_dtype));
	fprintf(out, "# conventions: %s\n", tl_conventions);
	fprintf(out, "# steps %zu measured after %" PRIu64 " warm-up; global batch %" PRIu64
		     " x seq %" PRIu64 " = %" PRIu64 " tokens per step\n",
		r->nsteps, j->warmup, j->global_batch, j->seq, r->model->tokens_per_step);
	fprintf(out, "  %10s %10s %12s %14s %16s\n", "step_p50", "step_p95", "tokens/s",
		"TFLOP/s/rank", "GEMM GFLOP/s/rank");
	fprintf(out, "  %8.4f s %8.4f s %12s %14.4f %8.2f (min %.2f)\n", s.p50, s.p95,
		grouped(s.tokens_per_s, tok, sizeof(tok)), s.model_tflops_per_rank,
		r->ranks ? gflops_sum / r->ranks : 0.0, gflops_min);
	fprintf(out, "# where the time goes (slowest rank, p50, seconds)\n");
	fprintf(out, "  compute %.4f  comm-exposed %.4f  bubble %.4f  optimizer %.4f  other %.4f\n",
		s.compute, s.comm_exposed, s.bubble, s.optimizer, s.other);
}
