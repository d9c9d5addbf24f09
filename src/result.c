/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Output: the JSON document, its per-step lines and the human summary (DESIGN.md §6). Every
 * figure a user quotes is derived here once, from the measured steps and ranks, with the
 * definitions of metrics.c.
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trainload/grid.h"
#include "trainload/metrics.h"
#include "trainload/result.h"

const char tl_conventions[] =
	"step time = slowest rank; GB = 1e9; model FLOPs = forward + backward GEMMs "
	"(no recompute), per step; collective times = max over ranks; busbw as nccl-tests";

/* A measured/predicted ratio outside these bounds is flagged by the analytic twin. */
#define TWIN_LOW 0.9
#define TWIN_HIGH 1.1

const int tl_shown_groups[TL_SHOWN_GROUPS] = { TL_GROUP_TP, TL_GROUP_CP, TL_GROUP_PP, TL_GROUP_DP,
					       TL_GROUP_EP };

/* Exposed communication of a group as reported: expert-data-parallel traffic counts as dp. */
static double group_exposed(const double *per_group, int group)
{
	return per_group[group] + (group == TL_GROUP_DP ? per_group[TL_GROUP_EDP] : 0.0);
}

/* The figures of the summary, derived from the measured steps. */
struct summary {
	double p50, p95, min, max;
	double tokens_per_s;
	double model_tflops_per_rank;
	double mfu;
	double compute, comm_exposed, bubble, optimizer, other; /* p50 of the slowest rank's */
	double comm_group[TL_GROUPS];                           /* p50, per group */
};

enum field { F_TIME, F_COMPUTE, F_COMM, F_BUBBLE, F_OPTIMIZER, F_OTHER, F_GROUP };

static double step_field(const struct tl_step *s, enum field which, int group)
{
	switch (which) {
	case F_TIME:
		return s->time_s;
	case F_COMPUTE:
		return s->compute_s;
	case F_COMM:
		return tl_step_comm_exposed(s);
	case F_BUBBLE:
		return s->bubble_s;
	case F_OPTIMIZER:
		return s->optimizer_s;
	case F_OTHER:
		return s->other_s;
	default:
		return group_exposed(s->comm_exposed_s, group);
	}
}

static double steps_percentile(const struct tl_result *r, enum field which, int group, double p)
{
	double *v = malloc((r->nsteps ? r->nsteps : 1) * sizeof(*v));
	double out;

	if (!v)
		return 0.0;
	for (size_t i = 0; i < r->nsteps; i++)
		v[i] = step_field(&r->steps[i], which, group);
	out = tl_percentile(v, r->nsteps, p);
	free(v);
	return out;
}

static struct summary summarise(const struct tl_result *r)
{
	struct summary s = { 0 };

	if (!r->nsteps)
		return s;
	s.p50 = steps_percentile(r, F_TIME, 0, 50);
	s.p95 = steps_percentile(r, F_TIME, 0, 95);
	s.min = steps_percentile(r, F_TIME, 0, 0);
	s.max = steps_percentile(r, F_TIME, 0, 100);
	s.compute = steps_percentile(r, F_COMPUTE, 0, 50);
	s.comm_exposed = steps_percentile(r, F_COMM, 0, 50);
	s.bubble = steps_percentile(r, F_BUBBLE, 0, 50);
	s.optimizer = steps_percentile(r, F_OPTIMIZER, 0, 50);
	s.other = steps_percentile(r, F_OTHER, 0, 50);
	for (size_t g = 0; g < TL_SHOWN_GROUPS; g++)
		s.comm_group[tl_shown_groups[g]] = steps_percentile(r, F_GROUP, tl_shown_groups[g], 50);
	if (s.p50 > 0) {
		double flops = (double)r->model->model_flops_per_step;
		s.tokens_per_s = tl_tokens_per_s(r->model->tokens_per_step, s.p50);
		s.model_tflops_per_rank = tl_model_tflops_per_rank(flops, s.p50, r->ranks);
		s.mfu = tl_mfu(flops, s.p50, r->ranks, r->peak_flops_per_rank);
	}
	return s;
}

static json_t *breakdown_json(double compute, double comm, double bubble, double optimizer,
			      double other, const double *per_group)
{
	json_t *groups = json_object();

	for (size_t g = 0; g < TL_SHOWN_GROUPS; g++)
		json_object_set_new(groups, tl_grid_group_name(tl_shown_groups[g]),
				    json_real(group_exposed(per_group, tl_shown_groups[g])));
	return json_pack("{s:f, s:f, s:f, s:f, s:f, s:o}", "compute", compute, "comm_exposed", comm,
			 "bubble", bubble, "optimizer", optimizer, "other", other,
			 "comm_exposed_by_group", groups);
}

json_t *tl_world_json(const struct tl_job *job, int ranks, int nodes)
{
	return json_pack("{s:i, s:i, s:I, s:I, s:I, s:I, s:I}", "ranks", ranks, "nodes", nodes,
			 "tp", (json_int_t)job->tp, "pp", (json_int_t)job->pp, "dp",
			 (json_int_t)job->dp, "cp", (json_int_t)job->cp, "ep", (json_int_t)job->ep);
}

static json_t *ops_json(const uint64_t *per_kind)
{
	json_t *ops = json_object();

	for (int k = 0; k < TL_OP_KINDS; k++)
		if (k != TL_OP_WAIT)
			json_object_set_new(ops, tl_op_kind_name(k),
					    json_integer((json_int_t)per_kind[k]));
	return ops;
}

json_t *tl_plan_json(const struct tl_job *job, const struct tl_model *model,
		     const struct tl_plan *plan)
{
	json_t *bytes = json_object();

	for (size_t g = 0; g < TL_SHOWN_GROUPS; g++)
		json_object_set_new(bytes, tl_grid_group_name(tl_shown_groups[g]),
				    json_integer((json_int_t)plan->comm_bytes[tl_shown_groups[g]]));
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
			      ops_json(plan->ops_per_kind), "comm_bytes_per_step", bytes, "rank",
			      (json_int_t)plan->rank, "requests", plan->reqs);
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
					s->optimizer_s, s->other_s, s->comm_exposed_s));
}

void tl_json_hash(const json_t *value, char out[17])
{
	char *text = json_dumps(value, JSON_COMPACT | JSON_SORT_KEYS);
	uint64_t h = UINT64_C(14695981039346656037);

	for (const char *p = text ? text : ""; *p; p++) {
		h ^= (unsigned char)*p;
		h *= UINT64_C(1099511628211);
	}
	snprintf(out, 17, "%016" PRIx64, h);
	free(text);
}

void tl_job_hash(const struct tl_job *job, char out[17])
{
	json_t *j = tl_job_to_json(job);

	tl_json_hash(j, out);
	json_decref(j);
}

json_t *tl_environment_json(const struct tl_result *r)
{
	char hash[17];

	tl_job_hash(r->job, hash);
	/* "slurm" only under Slurm (o*: left out when NULL). */
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:o*}", "hosts",
			 r->env.hosts ? r->env.hosts : "", "mpi_version", r->env.mpi_version,
			 "blas_version", r->env.blas_version, "blas_config", r->env.blas_config,
			 "blas_core", r->env.blas_core, "job_hash", hash, "command_line",
			 r->env.command_line, "mpi_init_s", r->env.mpi_init_s, "startup_s",
			 r->env.startup_s, "slurm", tl_slurm_json(&r->env.slurm));
}

/* Per-step figures of one rank: its totals over the measured steps, divided by their number. */
static double per_step(const struct tl_result *r, double total)
{
	return r->nsteps ? total / (double)r->nsteps : 0.0;
}

static double gemm_gflops(const struct tl_rank_info *ri)
{
	return ri->gemm_s > 0 ? ri->gemm_flops / ri->gemm_s / 1e9 : 0.0;
}

/*
 * Stragglers. A phase is one of: the GEMM rate (lower is worse), each group's exposed
 * communication and the pipeline wait (higher is worse). A rank is compared with the median of
 * its peers (the ranks of its pipeline stage, which run the same plan; at least three of them)
 * and named when it is more than straggler_pct worse, and (for times) the difference is at
 * least 1% of its step, so that microsecond noise on a phase that hardly exists is not a
 * straggler.
 */
enum phase { P_GEMM, P_PP_WAIT, P_COMM0 };
#define NPHASES (P_COMM0 + (int)TL_SHOWN_GROUPS)

static const char *phase_name(int phase)
{
	static const char *const comm[] = { "tp_comm", "cp_comm", "pp_comm", "dp_comm",
					    "ep_comm" };
	if (phase == P_GEMM)
		return "gemm";
	if (phase == P_PP_WAIT)
		return "pp_wait";
	return comm[phase - P_COMM0];
}

static double phase_value(const struct tl_result *r, const struct tl_rank_info *ri, int phase)
{
	if (phase == P_GEMM)
		return gemm_gflops(ri);
	if (phase == P_PP_WAIT)
		return per_step(r, ri->bubble_s);
	return per_step(r, group_exposed(ri->comm_exposed_s, tl_shown_groups[phase - P_COMM0]));
}

/* How much worse rank ri is than its peers' median in phase, as a fraction; 0 if not. */
static double worse_than_peers(const struct tl_result *r, const struct tl_rank_info *ri,
			       int phase, double *median_out)
{
	double *v = calloc((size_t)r->ranks, sizeof(*v));
	size_t n = 0;

	*median_out = 0;
	if (!v)
		return 0;
	for (int i = 0; i < r->ranks; i++)
		if (r->rank_info[i].stage == ri->stage)
			v[n++] = phase_value(r, &r->rank_info[i], phase);
	double median = tl_percentile(v, n, 50), mine = phase_value(r, ri, phase);
	free(v);
	*median_out = median;
	/* With two peers there is no telling which one is off: a straggler needs three. */
	if (n < 3 || median <= 0)
		return 0;
	if (phase == P_GEMM)
		return (median - mine) / median;
	double step = per_step(r, ri->compute_s + ri->bubble_s + ri->optimizer_s);
	for (int g = 0; g < TL_GROUPS; g++)
		step += per_step(r, ri->comm_exposed_s[g]);
	if (mine - median < 0.01 * step)
		return 0;
	return (mine - median) / median;
}

static json_t *stragglers_json(const struct tl_result *r, const struct tl_rank_info *ri)
{
	json_t *arr = json_array();
	double limit = r->job->straggler_pct / 100.0;

	for (int phase = 0; phase < NPHASES; phase++) {
		double median, worse = worse_than_peers(r, ri, phase, &median);
		if (worse > limit)
			json_array_append_new(arr, json_pack("{s:s, s:f, s:f, s:f}", "phase",
							     phase_name(phase), "value",
							     phase_value(r, ri, phase), "median",
							     median, "worse_pct", 100 * worse));
	}
	return arr;
}

static json_t *groups_json(const struct tl_result *r, const double *totals)
{
	json_t *groups = json_object();

	for (size_t g = 0; g < TL_SHOWN_GROUPS; g++)
		json_object_set_new(groups, tl_grid_group_name(tl_shown_groups[g]),
				    json_real(per_step(r, group_exposed(totals, tl_shown_groups[g]))));
	return groups;
}

/* The GPU a rank drove (device backends only); numa_node null when unknown. */
static json_t *gpu_json(const struct tl_device *d)
{
	return json_pack("{s:s, s:s, s:o, s:i}", "name", d->name, "pci_bus_id", d->pci_bus_id,
			 "numa_node", d->numa_node >= 0 ? json_integer(d->numa_node) : json_null(),
			 "gpus_visible", d->gpus_visible);
}

/* GPU backends: the GPU of the first few ranks, and how many ranks drove one of that name. */
#define TL_GPUS_SHOWN 8
static void print_gpus(const struct tl_result *r, FILE *out)
{
	int same = 0;

	if (!r->ranks || !r->rank_info[0].gpu.name[0])
		return;
	for (int i = 0; i < r->ranks; i++)
		same += !strcmp(r->rank_info[i].gpu.name, r->rank_info[0].gpu.name);
	fprintf(out, "# gpus  %s on %d of %d ranks:", r->rank_info[0].gpu.name, same, r->ranks);
	for (int i = 0; i < r->ranks && i < TL_GPUS_SHOWN; i++) {
		const struct tl_device *d = &r->rank_info[i].gpu;
		fprintf(out, "%s rank %d %s", i ? "," : "", i, d->pci_bus_id);
		if (d->numa_node >= 0)
			fprintf(out, " (NUMA %d)", d->numa_node);
	}
	fprintf(out, "%s\n", r->ranks > TL_GPUS_SHOWN ? ", ... (all in ranks[].gpu)" : "");
}

json_t *tl_rank_place_json(const struct tl_rank_info *ri)
{
	json_t *entry = json_pack("{s:i, s:s, s:i, s:s, s:s, s:s, s:i}", "rank", ri->rank, "host",
				  ri->host, "pid", ri->pid, "cpuset", ri->cpuset, "numa", ri->numa,
				  "binding", ri->binding, "threads", ri->threads);

	if (ri->gpu.name[0])
		json_object_set_new(entry, "gpu", gpu_json(&ri->gpu));
	return entry;
}

static json_t *ranks_json(const struct tl_result *r)
{
	json_t *arr = json_array();

	for (int i = 0; i < r->ranks; i++) {
		const struct tl_rank_info *ri = &r->rank_info[i];
		json_t *entry = tl_rank_place_json(ri);
		json_object_update_new(
			entry,
			json_pack("{s:i, s:f, s:f, s:o, s:{s:f, s:f, s:f, s:o}, s:o}", "stage",
				  ri->stage, "gemm_gflops", gemm_gflops(ri), "peak_tflops",
				  ri->peak_flops / 1e12, "ops_per_step", ops_json(ri->ops_per_step),
				  "per_step_s", "compute", per_step(r, ri->compute_s), "pp_wait",
				  per_step(r, ri->bubble_s), "optimizer",
				  per_step(r, ri->optimizer_s), "comm_exposed_by_group",
				  groups_json(r, ri->comm_exposed_s), "stragglers",
				  stragglers_json(r, ri)));
		json_object_set_new(entry, "peak_rss_bytes", json_integer((json_int_t)ri->peak_rss_bytes));
		json_object_set_new(entry, "check_wrong_elements",
				    json_integer((json_int_t)ri->check_wrong));
		json_array_append_new(arr, entry);
	}
	return arr;
}

static json_t *collectives_json(const struct tl_result *r)
{
	json_t *arr = json_array();

	for (int i = 0; i < r->ncolls; i++) {
		const struct tl_coll_stat *c = &r->colls[i];
		uint64_t n = tl_grid_group_size(r->grid, c->group);
		double mean = c->slowest_rank_mean_s;
		double algbw = tl_algbw_gbps(c->bytes, mean);
		json_array_append_new(
			arr, json_pack("{s:s, s:s, s:I, s:I, s:b, s:f, s:f, s:f, s:f, s:f, s:f, s:f}",
				       "op", tl_op_kind_name(c->kind), "group",
				       tl_grid_group_name(c->group), "group_size", (json_int_t)n,
				       "bytes", (json_int_t)c->bytes, "nonblocking", c->nonblocking,
				       "count_per_step", per_step(r, (double)c->count), "time_us",
				       1e6 * mean, "time_us_fastest_rank", 1e6 * c->fastest_rank_mean_s,
				       "time_us_min", 1e6 * c->min_s, "time_us_max",
				       1e6 * c->max_s, "algbw_gbps", algbw, "busbw_gbps",
				       algbw * tl_busbw_factor(c->kind, n)));
	}
	return arr;
}

/*
 * The analytic twin of the GEMMs: from the plan's FLOPs and each rank's calibrated peak, the
 * time its GEMMs should take, against what they took. The rank furthest from its prediction is
 * reported; a ratio outside [TWIN_LOW, TWIN_HIGH] is flagged. (Communication has no twin yet:
 * its prediction needs reference bandwidths, which the collective sweeps will provide.)
 */
static json_t *twin_json(const struct tl_result *r)
{
	const struct tl_rank_info *worst = NULL;
	double worst_ratio = 1, predicted = 0, measured = 0;

	for (int i = 0; i < r->ranks; i++) {
		const struct tl_rank_info *ri = &r->rank_info[i];
		if (ri->peak_flops <= 0 || ri->gemm_flops <= 0)
			continue;
		double p = per_step(r, ri->gemm_flops) / ri->peak_flops;
		double m = per_step(r, ri->gemm_s);
		double ratio = m / p;
		if (!worst || fabs(log(ratio)) > fabs(log(worst_ratio))) {
			worst = ri;
			worst_ratio = ratio;
			predicted = p;
			measured = m;
		}
	}
	if (!worst)
		return json_object();
	return json_pack("{s:{s:i, s:f, s:f, s:f, s:b}}", "gemm", "rank", worst->rank,
			 "predicted_s", predicted, "measured_s", measured, "ratio", worst_ratio,
			 "flagged", worst_ratio < TWIN_LOW || worst_ratio > TWIN_HIGH);
}

json_t *tl_result_header_json(const struct tl_result *r)
{
	return json_pack("{s:i, s:s, s:s, s:o, s:o, s:o, s:o}", "schema", TL_RESULT_SCHEMA,
			 "trainload_version", PACKAGE_VERSION, "conventions", tl_conventions, "job",
			 tl_job_to_json(r->job), "world", tl_world_json(r->job, r->ranks, r->env.nodes),
			 "plan", tl_plan_json(r->job, r->model, r->plan), "environment",
			 tl_environment_json(r));
}

/* run.check: the wrong elements all ranks found. */
static uint64_t check_wrong(const struct tl_result *r)
{
	uint64_t sum = 0;

	for (int i = 0; i < r->ranks; i++)
		sum += r->rank_info[i].check_wrong;
	return sum;
}

json_t *tl_result_json(const struct tl_result *r)
{
	struct summary s = summarise(r);
	json_t *doc = tl_result_header_json(r), *steps = json_array();

	for (size_t i = 0; i < r->nsteps; i++)
		json_array_append_new(steps, tl_step_json(r, i));
	json_t *summary = json_pack(
		"{s:I, s:{s:f, s:f, s:f, s:f}, s:f, s:f, s:f, s:f, s:s, s:o}", "steps_measured",
		(json_int_t)r->nsteps, "step_time_s", "p50", s.p50, "p95", s.p95, "min", s.min,
		"max", s.max, "tokens_per_s", s.tokens_per_s, "model_tflops_per_rank",
		s.model_tflops_per_rank, "mfu", s.mfu, "peak_tflops_per_rank",
		r->peak_flops_per_rank / 1e12, "peak_source",
		r->peak_given ? "--peak-tflops" : "calibrated", "breakdown_s",
		breakdown_json(s.compute, s.comm_exposed, s.bubble, s.optimizer, s.other,
			       s.comm_group));
	json_object_set_new(summary, "check_wrong_elements", json_integer((json_int_t)check_wrong(r)));
	json_object_update_new(doc, json_pack("{s:o, s:o, s:o, s:o, s:o}", "steps", steps,
					      "summary", summary, "ranks", ranks_json(r),
					      "collectives", collectives_json(r), "twin",
					      twin_json(r)));
	json_object_set_new(doc, "status", json_string(r->interrupted ? "interrupted" : "completed"));
	return doc;
}

int tl_json_write(json_t *doc, const char *path)
{
	size_t len = strlen(path) + 5;
	char *tmp = malloc(len);
	int rc = TL_EIO;

	if (tmp && doc) {
		snprintf(tmp, len, "%s.tmp", path);
		if (json_dump_file(doc, tmp, JSON_INDENT(2)) == 0 && rename(tmp, path) == 0)
			rc = 0;
		else
			tl_err("trainload: cannot write %s: %m\n", path);
	}
	free(tmp);
	return rc;
}

const char *tl_fmt_gbps(double gbps, int width, char *buf, size_t len)
{
	int decimals = 2;

	if (gbps > 0 && gbps < 1) {
		/* Three significant digits: 0.123, 0.0123, 0.00123, ... */
		decimals = 2 - (int)floor(log10(gbps));
		decimals = decimals > 12 ? 12 : decimals;
	}
	snprintf(buf, len, "%*.*f", width, decimals, gbps);
	/* nccl-tests' fallback where two decimals do not fit its column: fewer. */
	for (int d = 1; gbps >= 1 && d >= 0 && (int)strlen(buf) > width; d--)
		snprintf(buf, len, "%*.*f", width, d, gbps);
	return buf;
}

const char *tl_grouped(double v, char *buf, size_t len)
{
	char digits[32];
	size_t n, out = 0;

	snprintf(digits, sizeof(digits), "%.0f", v);
	n = strlen(digits);
	for (size_t i = 0; i < n && out + 2 < len; i++) {
		if (i && (n - i) % 3 == 0 && digits[i - 1] != '-')
			buf[out++] = ',';
		buf[out++] = digits[i];
	}
	buf[out] = '\0';
	return buf;
}

static void print_stragglers(const struct tl_result *r, FILE *out)
{
	double limit = r->job->straggler_pct / 100.0;
	int shown = 0;

	for (int i = 0; i < r->ranks; i++) {
		const struct tl_rank_info *ri = &r->rank_info[i];
		for (int phase = 0; phase < NPHASES; phase++) {
			double median, worse = worse_than_peers(r, ri, phase, &median);
			if (worse <= limit)
				continue;
			if (shown++ == 0)
				fprintf(out, "# stragglers (more than %g%% worse than the median of "
					     "their stage):\n",
					r->job->straggler_pct);
			fprintf(out, "  rank %d (%s, cpus %s) %s %.1f%% %s median\n", ri->rank,
				ri->host, ri->cpuset, phase_name(phase), 100 * worse,
				phase == P_GEMM ? "below" : "above");
		}
	}
	if (!shown)
		fprintf(out, "# stragglers: none (no rank more than %g%% worse than its stage's "
			     "median; stages of fewer than 3 ranks are not judged)\n",
			r->job->straggler_pct);
}

static void print_collectives(const struct tl_result *r, FILE *out)
{
	if (!r->ncolls)
		return;
	fprintf(out, "# collectives (time: mean per op, max over ranks)\n");
	fprintf(out, "  %-14s %-5s %5s %12s %4s %10s %8s %8s\n", "op", "group", "ranks", "bytes",
		"nb", "time_us", "algbw", "busbw");
	for (int i = 0; i < r->ncolls; i++) {
		const struct tl_coll_stat *c = &r->colls[i];
		uint64_t n = tl_grid_group_size(r->grid, c->group);
		double mean = c->slowest_rank_mean_s;
		double algbw = tl_algbw_gbps(c->bytes, mean);
		char alg[24], bus[24];
		fprintf(out, "  %-14s %-5s %5" PRIu64 " %12" PRIu64 " %4s %10.1f %8s %8s\n",
			tl_op_kind_name(c->kind), tl_grid_group_name(c->group), n, c->bytes,
			c->nonblocking ? "yes" : "no", 1e6 * mean,
			tl_fmt_gbps(algbw, 8, alg, sizeof(alg)),
			tl_fmt_gbps(algbw * tl_busbw_factor(c->kind, n), 8, bus, sizeof(bus)));
	}
}

void tl_result_print(const struct tl_result *r, FILE *out)
{
	const struct tl_job *j = r->job;
	struct summary s = summarise(r);
	double gflops_min = 0, gflops_sum = 0;
	char tok[32];

	for (int i = 0; i < r->ranks; i++) {
		double g = gemm_gflops(&r->rank_info[i]);
		gflops_sum += g;
		if (i == 0 || g < gflops_min)
			gflops_min = g;
	}
	fprintf(out,
		"# trainload %s  job %s (l=%" PRIu64 " h=%" PRIu64 " a=%" PRIu64 " s=%" PRIu64
		" V=%" PRIu64 ")  ranks %d = dp %" PRIu64 " x pp %" PRIu64 " x tp %" PRIu64
		" (ep %" PRIu64 ")\n",
		PACKAGE_VERSION, j->name, j->layers, j->hidden, j->heads, j->seq, j->vocab, r->ranks,
		j->dp, j->pp, j->tp, j->ep);
	fprintf(out, "# nodes %d (%s)  backend %s  OpenBLAS %s (%s)  %s  %s/%s\n", r->env.nodes,
		r->env.hosts ? r->env.hosts : "", tl_job_enum_name("run", "backend", j->backend),
		r->env.blas_version, r->env.blas_core, r->env.mpi_version,
		tl_job_enum_name("run", "compute_dtype", j->compute_dtype),
		tl_job_enum_name("run", "comm_dtype", j->comm_dtype));
	print_gpus(r, out);
	fprintf(out, "# conventions: %s\n", tl_conventions);
	fprintf(out, "# steps %zu measured after %" PRIu64 " warm-up; global batch %" PRIu64
		     " x seq %" PRIu64 " = %" PRIu64 " tokens per step\n",
		r->nsteps, j->warmup, j->global_batch, j->seq, r->model->tokens_per_step);
	fprintf(out, "  %10s %10s %12s %13s %7s %22s %18s\n", "step_p50", "step_p95", "tokens/s",
		"TFLOP/s/rank", "MFU", "peak/rank", "GEMM GFLOP/s/rank");
	fprintf(out, "  %8.4f s %8.4f s %12s %13.4f %6.1f%% %10.4f TFLOP/s %-11s %7.2f (min %.2f)\n",
		s.p50, s.p95, tl_grouped(s.tokens_per_s, tok, sizeof(tok)), s.model_tflops_per_rank,
		100 * s.mfu, r->peak_flops_per_rank / 1e12,
		r->peak_given ? "(given)" : "(calibrated)", r->ranks ? gflops_sum / r->ranks : 0.0,
		gflops_min);
	fprintf(out, "# where the time goes (slowest rank, p50 of each part, seconds)\n");
	fprintf(out, "  compute %.4f ", s.compute);
	for (size_t g = 0; g < TL_SHOWN_GROUPS; g++)
		if (tl_grid_group_size(r->grid, tl_shown_groups[g]) > 1 ||
		    (tl_shown_groups[g] == TL_GROUP_DP &&
		     tl_grid_group_size(r->grid, TL_GROUP_EDP) > 1))
			fprintf(out, " %s-exposed %.4f", tl_grid_group_name(tl_shown_groups[g]),
				s.comm_group[tl_shown_groups[g]]);
	fprintf(out, "  pp-wait %.4f (bubble %.3f planned)  optimizer %.4f  other %.4f\n",
		s.bubble, (double)(j->pp - 1) / (double)r->model->microbatches, s.optimizer,
		s.other);
	print_collectives(r, out);
	print_stragglers(r, out);
	if (j->check) {
		fprintf(out, "# check: collective results of every %" PRIu64 " step(s): %" PRIu64
			" wrong elements", j->check, check_wrong(r));
		for (int i = 0; i < r->ranks; i++)
			if (r->rank_info[i].check_wrong)
				fprintf(out, "; rank %d (%s) %" PRIu64, i, r->rank_info[i].host,
					r->rank_info[i].check_wrong);
		fputc('\n', out);
	}
	if (r->interrupted)
		fprintf(out, "# interrupted (SIGINT or SIGTERM): %zu of %" PRIu64
			" measured steps ran\n", r->nsteps, j->steps);
}
