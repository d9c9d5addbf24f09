/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Output: the JSON document, its per-step lines and the human summary (DESIGN.md §6). Every
 * figure a user quotes is derived here once, from the measured steps and ranks, with the
 * definitions of metrics.c.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

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
const char *const tl_comm_part_names[TL_SHOWN_GROUPS] = { "tp_comm", "cp_comm", "pp_comm",
							  "dp_comm", "ep_comm" };

/* Exposed communication of a group as reported: expert-data-parallel traffic, and the dp·cp
 * group's, count as dp. */
static double group_exposed(const double *per_group, int group)
{
	return per_group[group] +
	       (group == TL_GROUP_DP ? per_group[TL_GROUP_EDP] + per_group[TL_GROUP_DPCP] : 0.0);
}

/* The figures of the summary, derived from the measured steps. */
struct summary {
	double p50, p95, min, max;
	double tokens_per_s;
	double model_tflops_per_rank;
	double mfu;
	double mfu_blas; /* against the calibrated BLAS peak (0: not calibrated) */
	double compute, comm_exposed, bubble, optimizer, other; /* p50 of the slowest rank's */
	double comm_group[TL_GROUPS];                           /* p50, per group */
	/* Overlap: what the step's non-blocking dp reductions take alone (the largest of the
	 * ranks'), and the share of it the step hid: 1 - dp exposed / that, within [0, 1]; -1
	 * when the step starts none. */
	double dp_alone, dp_hidden;
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
	for (int i = 0; i < r->ranks; i++)
		s.dp_alone = fmax(s.dp_alone, r->rank_info[i].dp_alone_s);
	s.dp_hidden = s.dp_alone > 0
			      ? fmin(1, fmax(0, 1 - s.comm_group[TL_GROUP_DP] / s.dp_alone))
			      : -1;
	if (s.p50 > 0) {
		double flops = (double)r->model->model_flops_per_step;
		s.tokens_per_s = tl_tokens_per_s(r->model->tokens_per_step, s.p50);
		s.model_tflops_per_rank = tl_model_tflops_per_rank(flops, s.p50, r->ranks);
		s.mfu = tl_mfu(flops, s.p50, r->ranks, r->peak_flops_per_rank);
		s.mfu_blas = tl_mfu(flops, s.p50, r->ranks, r->blas_peak_flops_per_rank);
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

json_t *tl_grid_json(const struct tl_grid *grid, uint64_t rank)
{
	json_t *g = json_object();
	struct tl_coords c;

	tl_grid_coords(grid, rank, &c);
	for (size_t i = 0; i < TL_GRID_LISTED; i++) {
		int grp = tl_grid_listed[i];
		json_object_set_new(
			g, tl_grid_group_name(grp),
			json_pack("{s:I, s:I, s:I, s:I, s:b}", "size",
				  (json_int_t)tl_grid_group_size(grid, grp), "index",
				  (json_int_t)tl_grid_group_index(grid, rank, grp), "first_rank",
				  (json_int_t)tl_grid_group_member(grid, rank, grp, 0), "stride",
				  (json_int_t)tl_grid_group_stride(grid, rank, grp), "crosses_nodes",
				  tl_grid_group_crosses_nodes(grid, rank, grp)));
	}
	return json_pack("{s:I, s:I, s:{s:I, s:I, s:I, s:I}, s:o}", "rank", (json_int_t)rank,
			 "ranks_per_node", (json_int_t)grid->ranks_per_node, "coords", "tp",
			 (json_int_t)c.tp, "cp", (json_int_t)c.cp, "dp", (json_int_t)c.dp, "pp",
			 (json_int_t)c.pp, "groups", g);
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
			      model->bubble_fraction, "ops_per_step",
			      ops_json(plan->ops_per_kind), "comm_bytes_per_step", bytes, "rank",
			      (json_int_t)plan->rank, "requests", plan->reqs);
	json_t *moved = json_object();
	for (int k = 0; k < TL_MEM_KINDS; k++)
		json_object_set_new(moved, tl_mem_kind_name(k),
				    json_integer((json_int_t)plan->mem_bytes[k]));
	json_object_set_new(p, "memory_bytes_moved_per_step", moved);
	json_object_set_new(p, "optimizer",
			    json_pack("{s:s, s:I, s:I}", "name",
				      tl_job_enum_name("run", "optimizer", job->optimizer),
				      "bytes_read_per_param",
				      (json_int_t)model->optimizer_read_per_param,
				      "bytes_written_per_param",
				      (json_int_t)model->optimizer_written_per_param));
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

void tl_env_set_mpi_version(struct tl_env *env, const char *library_version)
{
	size_t out = 0;
	bool blank = false;

	for (const char *p = library_version; *p && *p != '\n' && *p != ','; p++) {
		bool space = isspace((unsigned char)*p) || iscntrl((unsigned char)*p);
		if (space) {
			blank = out > 0;
			continue;
		}
		if (out + 1 + blank >= sizeof(env->mpi_version))
			break;
		if (blank)
			env->mpi_version[out++] = ' ';
		blank = false;
		env->mpi_version[out++] = *p;
	}
	env->mpi_version[out] = '\0';
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

/* A string, or null when empty. */
static json_t *string_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

json_t *tl_env_json(const struct tl_env *env)
{
	/* "slurm" only under Slurm (o*: left out when NULL). */
	return json_pack("{s:o, s:s, s:o, s:b, s:s, s:s, s:s, s:s, s:s, s:o*}", "start_time",
			 string_or_null(env->start_time), "hosts", env->hosts ? env->hosts : "",
			 "cpu_model", string_or_null(env->cpu_model), "oversubscribed",
			 env->oversubscribed, "mpi_version", env->mpi_version, "blas_version",
			 env->blas_version, "blas_config", env->blas_config, "blas_core",
			 env->blas_core, "command_line", env->command_line, "slurm",
			 tl_slurm_json(&env->slurm));
}

/* The kernel to select instead of OpenBLAS's own pick on the CPU the peak was measured on. */
static const char *blas_advice(const struct tl_result *r)
{
	return r->hw_peak.source == TL_PEAK_CPU_CLOCK
		       ? tl_peak_blas_kernel_advice(r->env.blas_core, r->hw_peak.isa)
		       : NULL;
}

json_t *tl_environment_json(const struct tl_result *r)
{
	char hash[17];
	json_t *env = tl_env_json(&r->env);

	tl_job_hash(r->job, hash);
	json_object_update_new(
		env, json_pack("{s:s, s:o, s:o, s:f, s:f}", "job_hash", hash, "gpu_model",
			       string_or_null(r->rank_info ? r->rank_info[0].gpu.name : NULL),
			       "blas_kernel_advice", string_or_null(blas_advice(r)), "mpi_init_s",
			       r->env.mpi_init_s, "startup_s", r->env.startup_s));
	return env;
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

/* A rank's value of each judged phase in one step (the link's is not per step: 0). */
static void judged_values(const struct tl_step *s, double out[TL_JUDGED])
{
	out[TL_JUDGED_GEMM] = s->gemm_s > 0 ? s->gemm_flops / s->gemm_s / 1e9 : 0.0;
	out[TL_JUDGED_LINK] = 0;
	out[TL_JUDGED_LATE] = 0;
	for (int g = 0; g < TL_GROUPS; g++)
		out[TL_JUDGED_LATE] += s->comm_late_s[g];
	out[TL_JUDGED_BUBBLE] = s->bubble_s;
	for (int g = 0; g < TL_SHOWN_GROUPS; g++)
		out[TL_JUDGED_COMM0 + g] = group_exposed(s->comm_exposed_s, tl_shown_groups[g]) -
					   group_exposed(s->comm_wait_s, tl_shown_groups[g]);
}

/* Rates: lower is worse. */
static bool judged_rate(int phase)
{
	return phase == TL_JUDGED_GEMM || phase == TL_JUDGED_LINK;
}

/* A value on the scale stragglers are judged on: its logarithm (rates and times vary by
 * factors, and a fleet's fast and slow halves weigh alike), a time held at floor at least (1% of
 * the step, so that a phase some ranks hardly have stays finite). */
static double judged_log(int phase, double v, double floor)
{
	return log(fmax(v, judged_rate(phase) ? 1e-300 : floor));
}

void tl_rank_judge_steps(struct tl_rank_info *ri, const struct tl_step *steps, size_t n)
{
	double *v = malloc((n ? n : 1) * sizeof(*v)), *lv = malloc((n ? n : 1) * sizeof(*lv));
	double per[TL_JUDGED];

	for (int p = 0; v && lv && p < TL_JUDGED; p++) {
		if (p == TL_JUDGED_LINK)
			continue;
		for (size_t i = 0; i < n; i++) {
			judged_values(&steps[i], per);
			v[i] = per[p];
			lv[i] = judged_log(p, v[i], 0.01 * steps[i].time_s);
		}
		ri->judged[p] = tl_percentile(v, n, 50);
		ri->judged_noise[p] = tl_robust_sigma(lv, n);
	}
	free(v);
	free(lv);
	ri->judged[TL_JUDGED_LINK] = ri->link.mbps;
	ri->judged_noise[TL_JUDGED_LINK] = ri->link.mbps > 0 ? ri->link.noise_mbps / ri->link.mbps : 0;
}

/*
 * Stragglers. Each judged phase (trainload/result.h) of a rank is compared with the median of
 * its peers: the ranks of its pipeline stage, which run the same plan and shapes (for the link,
 * every rank: all nodes carry the same traffic), at least three of them. A rank is named when
 * it is more than straggler_pct worse than that median, and the difference is beyond the
 * phase's noise: on the logarithms of the values, TL_STRAGGLER_SIGMAS times the larger of the
 * peers' spread (a robust σ: 1.4826 x their median absolute deviation) and the uncertainty that
 * the rank's own step-to-step noise leaves on its median (the standard error of a median of n
 * steps: 1.2533 σ / √n), and never less than TL_STRAGGLER_NOISE_FLOOR (three or four peers'
 * MAD can be near zero by chance: three healthy nodes within 1% of each other would otherwise
 * make a fourth, 5% slower because it shares a core with the launcher, a straggler), so that a
 * busy machine's jitter, a core shared by two halves of the fleet or a node that runs faster
 * than the rest names nobody, while a node throttled in some steps and not in others still is;
 * and for times, the difference is at
 * least 1% of the median step, so that microsecond noise on a phase that hardly exists names no
 * one either. Communication is judged on its transfer, never on the wait for late peers (the
 * wait is theirs: they are judged for arriving late). What one finding explains of the others
 * is not named twice (verdicts).
 */
#define TL_STRAGGLER_SIGMAS 3.0
#define TL_STRAGGLER_NOISE_FLOOR 0.02
/* A node's link is named only when it carries this much less than the fleet's median at least,
 * whatever straggler_pct says: the probe is one short exchange per path, which a busy CPU slows
 * by tens of percent (healthy nodes read 26-27% below the fleet at a load average of 11-13 on
 * the 2-core virtual cluster); a link worth an engineer's time is off by more (a port at half
 * its speed or less, errors and retransmits, a congested uplink). trainload doctor measures
 * links for longer. */
#define TL_LINK_MARGIN 0.40

/* As the breakdown names its parts, with "transfer" for the communication that is judged:
 * "gemm", "link", "bubble", "tp_transfer", … */
static const char *const judged_names[TL_JUDGED] = { "gemm",	      "link",
						     "late",	      "bubble",
						     "tp_transfer", "cp_transfer",
						     "pp_transfer", "dp_transfer",
						     "ep_transfer" };

/* What a straggler in the phase points at, for whoever has to fix it. */
static const char *judged_cause(int phase)
{
	return phase == TL_JUDGED_GEMM	  ? "compute"
	       : phase == TL_JUDGED_LINK   ? "link"
	       : phase == TL_JUDGED_LATE   ? "arrival"
	       : phase == TL_JUDGED_BUBBLE ? "pipeline"
					   : "transfer";
}

/* What a phase's value is measured in. */
static const char *judged_unit(int phase)
{
	return phase == TL_JUDGED_GEMM ? "GFLOP/s" : phase == TL_JUDGED_LINK ? "MB/s" : "s/step";
}

struct judgement {
	double value, median;
	double noise;  /* the σ (of the values' logarithms) the difference is held against */
	double worse;  /* how much worse than the median, as a fraction (0: not) */
	bool named;
};

/* What a stage's ranks have in common in one phase: their median, the robust σ of their values'
 * logarithms, and the floor of times (1% of the median step). */
struct peers {
	double median, spread, floor;
	size_t n;
};

/* One rank's phase against its peers. */
static struct judgement judge(const struct tl_result *r, const struct tl_rank_info *ri, int phase,
			      const struct peers *pe)
{
	/* A median over n steps is uncertain by about 1.2533 σ / √n of the steps' σ. */
	double own = ri->judged_noise[phase];
	if (phase != TL_JUDGED_LINK && r->nsteps)
		own *= 1.2533 / sqrt((double)r->nsteps);
	struct judgement j = { .value = ri->judged[phase], .median = pe->median,
			       .noise = fmax(TL_STRAGGLER_NOISE_FLOOR, fmax(pe->spread, own)) };

	/* With two peers there is no telling which one is off: a straggler needs three. */
	if (pe->n < 3 || (judged_rate(phase) && pe->median <= 0))
		return j;
	double lv = judged_log(phase, j.value, pe->floor), lm = judged_log(phase, j.median, pe->floor);
	double gap = judged_rate(phase) ? lm - lv : lv - lm;
	if (gap <= 0 || (!judged_rate(phase) && j.value - j.median < pe->floor))
		return j;
	j.worse = judged_rate(phase) ? (j.median - j.value) / j.median
				     : (j.value - j.median) / fmax(j.median, pe->floor);
	double pct = r->job->straggler_pct / 100.0;
	if (phase == TL_JUDGED_LINK)
		pct = fmax(pct, TL_LINK_MARGIN);
	j.named = j.worse > pct && gap > TL_STRAGGLER_SIGMAS * j.noise;
	return j;
}

/* A rank's step, as the sum of its parts per measured step. */
static double rank_step(const struct tl_result *r, const struct tl_rank_info *ri)
{
	double step = per_step(r, ri->compute_s + ri->bubble_s + ri->optimizer_s);

	for (int g = 0; g < TL_GROUPS; g++)
		step += per_step(r, ri->comm_exposed_s[g]);
	return step;
}

/* Every rank's judgement of every phase (ranks x TL_JUDGED, NULL when out of memory), made once
 * for an output in O(ranks log ranks) per phase: peers' medians and spreads per stage. */
static struct judgement *judge_all(const struct tl_result *r)
{
	size_t n = (size_t)r->ranks, stages = 1;
	struct judgement *out = calloc(n * TL_JUDGED + 1, sizeof(*out));
	size_t *order = malloc((n + 1) * sizeof(*order)), *first = NULL;
	double *v = malloc((n + 1) * sizeof(*v));

	for (size_t i = 0; i < n; i++)
		if ((size_t)r->rank_info[i].stage + 1 > stages)
			stages = (size_t)r->rank_info[i].stage + 1;
	first = calloc(stages + 2, sizeof(*first));
	if (!out || !order || !v || !first)
		goto fail;
	/* The ranks ordered by stage (a counting sort): stage s is order[first[s] .. first[s+1]). */
	for (size_t i = 0; i < n; i++)
		first[r->rank_info[i].stage + 2]++;
	for (size_t s = 2; s < stages + 2; s++)
		first[s] += first[s - 1];
	for (size_t i = 0; i < n; i++)
		order[first[r->rank_info[i].stage + 1]++] = i;
	for (int p = 0; p < TL_JUDGED; p++)
		for (size_t s = 0; s < stages; s++) {
			/* a node's link is every node's business: one stage of all */
			size_t lo = p == TL_JUDGED_LINK ? 0 : first[s];
			size_t hi = p == TL_JUDGED_LINK ? n : first[s + 1];
			struct peers pe = { .n = hi - lo };
			if (p == TL_JUDGED_LINK && s)
				break;
			for (size_t k = lo; k < hi; k++)
				v[k - lo] = rank_step(r, &r->rank_info[order[k]]);
			pe.floor = 0.01 * tl_percentile(v, pe.n, 50);
			for (size_t k = lo; k < hi; k++)
				v[k - lo] = r->rank_info[order[k]].judged[p];
			pe.median = tl_percentile(v, pe.n, 50);
			for (size_t k = 0; k < pe.n; k++)
				v[k] = judged_log(p, v[k], pe.floor);
			pe.spread = tl_robust_sigma(v, pe.n);
			for (size_t k = lo; k < hi; k++)
				out[order[k] * TL_JUDGED + (size_t)p] =
					judge(r, &r->rank_info[order[k]], p, &pe);
		}
	free(order);
	free(first);
	free(v);
	return out;
fail:
	free(out);
	free(order);
	free(first);
	free(v);
	return NULL;
}

/*
 * A node named for its link slows every collective of every group it is in, and the other
 * members' transfers with it, the more so the nearer to it they are in the collective's
 * algorithm: their transfers are the link's doing, and not named (the link is, with its host).
 */
static void explain_by_links(const struct tl_result *r, struct judgement *all)
{
	uint64_t world = (uint64_t)r->ranks;
	char *slow = r->grid && r->grid->world == world ? calloc(world + 1, 1) : NULL;

	for (int g = 0; slow && g < TL_SHOWN_GROUPS; g++) {
		int group = tl_shown_groups[g];
		bool any = false;
		memset(slow, 0, world);
		/* the first member of each group that holds a slow link */
		for (uint64_t i = 0; i < world; i++)
			if (all[i * TL_JUDGED + TL_JUDGED_LINK].named) {
				slow[tl_grid_group_member(r->grid, i, group, 0)] = 1;
				any = true;
			}
		for (uint64_t i = 0; any && i < world; i++)
			if (slow[tl_grid_group_member(r->grid, i, group, 0)])
				all[i * TL_JUDGED + TL_JUDGED_COMM0 + (size_t)g].named = false;
	}
	free(slow);
}

/* judge_all, with what one finding explains of the others: a node short of CPU moves its data
 * slowly too (the probe's transfers wait for its process to run), so its link is not judged; a
 * rank's slow node or link makes it late at collectives, which is not named again; and
 * explain_by_links. What the outputs name. */
static struct judgement *verdicts(const struct tl_result *r)
{
	struct judgement *all = judge_all(r);

	for (int i = 0; all && i < r->ranks; i++) {
		struct judgement *mine = &all[(size_t)i * TL_JUDGED];
		if (mine[TL_JUDGED_GEMM].named)
			mine[TL_JUDGED_LINK].named = false;
		/* a slow node or link also makes its rank late at the next collective */
		if (mine[TL_JUDGED_GEMM].named || mine[TL_JUDGED_LINK].named)
			mine[TL_JUDGED_LATE].named = false;
	}
	if (all)
		explain_by_links(r, all);
	return all;
}

static json_t *stragglers_json(const struct judgement *mine)
{
	json_t *arr = json_array();

	for (int phase = 0; mine && phase < TL_JUDGED; phase++) {
		const struct judgement *j = &mine[phase];
		if (j->named)
			json_array_append_new(arr, json_pack("{s:s, s:s, s:f, s:s, s:f, s:f, s:f}",
							     "phase", judged_names[phase], "cause",
							     judged_cause(phase), "value", j->value,
							     "unit", judged_unit(phase), "median",
							     j->median, "worse_pct", 100 * j->worse,
							     "sigma_pct", 100 * j->noise));
	}
	return arr;
}

json_t *tl_stragglers_json(const struct tl_result *r)
{
	json_t *arr = json_array();
	struct judgement *all = verdicts(r);

	for (int i = 0; all && i < r->ranks; i++) {
		json_t *mine = stragglers_json(&all[(size_t)i * TL_JUDGED]);
		size_t k;
		json_t *s;
		json_array_foreach (mine, k, s) {
			json_object_set_new(s, "rank", json_integer(r->rank_info[i].rank));
			json_object_set_new(s, "host", json_string(r->rank_info[i].host));
			json_array_append(arr, s);
		}
		json_decref(mine);
	}
	free(all);
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
	struct judgement *all = verdicts(r);

	for (int i = 0; i < r->ranks; i++) {
		const struct tl_rank_info *ri = &r->rank_info[i];
		json_t *entry = tl_rank_place_json(ri);
		json_object_set_new(entry, "stage", json_integer(ri->stage));
		if (r->ranks_unmeasured) {
			/* Where it ran; its figures were never gathered. */
			json_array_append_new(arr, entry);
			continue;
		}
		json_object_update_new(
			entry,
			json_pack("{s:f, s:f, s:o, s:{s:f, s:f, s:f, s:o}, s:o}", "gemm_gflops",
				  gemm_gflops(ri), "peak_tflops", ri->peak_flops / 1e12,
				  "ops_per_step", ops_json(ri->ops_per_step), "per_step_s", "compute",
				  per_step(r, ri->compute_s), "bubble", per_step(r, ri->bubble_s),
				  "optimizer", per_step(r, ri->optimizer_s), "comm_exposed_by_group",
				  groups_json(r, ri->comm_exposed_s), "stragglers",
				  stragglers_json(all ? &all[(size_t)i * TL_JUDGED] : NULL)));
		json_object_set_new(entry, "peak_rss_bytes", json_integer((json_int_t)ri->peak_rss_bytes));
		json_object_set_new(entry, "hardware_peak_tflops", json_real(ri->hw_peak_flops / 1e12));
		/* The bubble's name before 0.2, kept for scripts that read it. */
		json_t *ps = json_object_get(entry, "per_step_s");
		json_object_set_new(ps, "pp_wait", json_real(per_step(r, ri->bubble_s)));
		double transfer[TL_GROUPS];
		for (int g = 0; g < TL_GROUPS; g++)
			transfer[g] = ri->comm_exposed_s[g] - ri->comm_wait_s[g];
		json_object_set_new(ps, "comm_wait_by_group", groups_json(r, ri->comm_wait_s));
		json_object_set_new(ps, "comm_transfer_by_group", groups_json(r, transfer));
		json_object_set_new(ps, "comm_late_by_group", groups_json(r, ri->comm_late_s));
		/* what stragglers are judged on: the median step's value and its noise */
		json_t *judged = json_object();
		for (int p = 0; p < TL_JUDGED; p++)
			json_object_set_new(judged, judged_names[p],
					    json_pack("{s:f, s:s, s:f}", "value", ri->judged[p], "unit",
						      judged_unit(p), "sigma_pct",
						      100 * ri->judged_noise[p]));
		json_object_set_new(entry, "judged", judged);
		json_object_set_new(entry, "link",
				    ri->link.nodes ? json_pack("{s:f, s:f, s:f, s:f, s:i}", "in_mbps",
							       ri->link.in_mbps, "out_mbps",
							       ri->link.out_mbps, "mbps",
							       ri->link.mbps, "noise_mbps",
							       ri->link.noise_mbps, "nodes",
							       ri->link.nodes)
						   : json_null());
		json_object_set_new(entry, "check_wrong_elements",
				    json_integer((json_int_t)ri->check_wrong));
		json_object_set_new(entry, "dp_alone_s", json_real(ri->dp_alone_s));
		json_array_append_new(arr, entry);
	}
	free(all);
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
		json_t *e = json_array_get(arr, json_array_size(arr) - 1);
		/* The blocking transfer time (struct tl_coll_stat), null where none was measured,
		 * and the nodes rank 0's group spans: the scaling model prices by both. */
		json_object_set_new(e, "transfer_us",
				    c->transfer_count ? json_real(1e6 * c->transfer_s) : json_null());
		json_object_set_new(e, "group_nodes",
				    json_integer((json_int_t)tl_grid_group_nodes(
					    r->grid, r->plan ? r->plan->rank : 0, c->group)));
	}
	return arr;
}

/*
 * The analytic twin of the GEMMs: from the plan's FLOPs and the fleet's calibrated peak (the
 * median of the ranks' calibration GEMMs, so that a throttled node, whose own calibration runs
 * throttled too, is held to what its peers do), the time each rank's GEMMs should take, against
 * what they took. The rank furthest from its prediction is reported; a ratio outside
 * [TWIN_LOW, TWIN_HIGH] is flagged. (Communication has no twin yet: its prediction needs
 * reference bandwidths, which the collective sweeps will provide.)
 */
/* The rank whose GEMM time is furthest from its twin's prediction. */
struct twin {
	const struct tl_rank_info *worst; /* NULL: no rank calibrated */
	double ratio, predicted_s, measured_s;
	bool flagged;
};

static struct twin gemm_twin(const struct tl_result *r)
{
	struct twin t = { .ratio = 1 };

	for (int i = 0; r->rank_info && i < r->ranks; i++) {
		const struct tl_rank_info *ri = &r->rank_info[i];
		double peak = r->blas_peak_flops_per_rank > 0 ? r->blas_peak_flops_per_rank
							      : ri->peak_flops;
		if (peak <= 0 || ri->gemm_flops <= 0)
			continue;
		double p = per_step(r, ri->gemm_flops) / peak;
		double m = per_step(r, ri->gemm_s);
		double ratio = m / p;
		if (!t.worst || fabs(log(ratio)) > fabs(log(t.ratio)))
			t = (struct twin){ .worst = ri, .ratio = ratio, .predicted_s = p,
					   .measured_s = m };
	}
	t.flagged = t.worst && (t.ratio < TWIN_LOW || t.ratio > TWIN_HIGH);
	return t;
}

static json_t *twin_json(const struct tl_result *r)
{
	struct twin t = gemm_twin(r);

	if (!t.worst)
		return json_object();
	return json_pack("{s:{s:i, s:f, s:f, s:f, s:b}}", "gemm", "rank", t.worst->rank,
			 "predicted_s", t.predicted_s, "measured_s", t.measured_s, "ratio", t.ratio,
			 "flagged", t.flagged);
}

/* A warning's words, as every output prints them. */
static void warn(json_t *arr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warn(json_t *arr, const char *fmt, ...)
{
	char text[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_array_append_new(arr, json_string(text));
}

json_t *tl_warnings_json(const struct tl_findings *f)
{
	json_t *arr = json_array();
	const char *src = f->peak_source ? f->peak_source : "?";

	if (f->mfu > 1) {
		const char *why =
			!strcmp(src, "calibrated")
				? "a calibrated BLAS peak is no ceiling (the job's GEMMs ran faster "
				  "than the calibration GEMM): give the hardware's with --peak-tflops"
			: !strcmp(src, "--peak-tflops")
				? "the peak given with --peak-tflops is too low"
				: "the derivation of the hardware peak does not fit this machine: give "
				  "it with --peak-tflops";
		warn(arr, "MFU %.1f%% is above 100%%: the step did more than the peak per rank "
			  "(%.4g TFLOP/s, %s) allows; %s",
		     100 * f->mfu, f->peak_tflops, src, why);
	}
	if (f->twin_flagged)
		warn(arr, "GEMM twin: rank %d's GEMMs took %.2fx the time the calibrated BLAS rate "
			  "predicts (%s)",
		     f->twin_rank, f->twin_ratio,
		     f->twin_ratio < 1 ? "faster than the calibration GEMM: the BLAS peak "
					 "understates this job's shapes"
				       : "a slow or busy rank, or shapes the BLAS runs poorly");
	if (f->oversubscribed)
		warn(arr, "ranks share cores (oversubscribed): the times measure the sharing, not "
			  "the machine");
	if (f->blas_advice && f->blas_dynamic)
		warn(arr, "OpenBLAS runs its %s kernel on a CPU with wider FMA units: its %s kernel "
			  "is usually much faster (docs/PERFORMANCE.md); select it in every rank's "
			  "environment with OPENBLAS_CORETYPE=%s (mpirun -x OPENBLAS_CORETYPE; srun "
			  "passes the environment on)",
		     f->blas_kernel ? f->blas_kernel : "?", f->blas_advice, f->blas_advice);
	else if (f->blas_advice)
		warn(arr, "OpenBLAS runs its %s kernel on a CPU with wider FMA units, and this "
			  "OpenBLAS has no DYNAMIC_ARCH to select another: one built with TARGET=%s "
			  "is usually much faster (docs/PERFORMANCE.md)",
		     f->blas_kernel ? f->blas_kernel : "?", f->blas_advice);
	return arr;
}

/* The run's warnings, from its own figures. */
static json_t *warnings_json(const struct tl_result *r, const struct summary *s)
{
	struct twin t = gemm_twin(r);
	struct tl_findings f = {
		.mfu = s->mfu,
		.peak_tflops = r->peak_flops_per_rank / 1e12,
		.peak_source = tl_peak_source_name(r->peak_source),
		.twin_flagged = t.flagged,
		.twin_rank = t.worst ? t.worst->rank : -1,
		.twin_ratio = t.ratio,
		.oversubscribed = r->env.oversubscribed,
		.blas_kernel = r->env.blas_core,
		.blas_advice = blas_advice(r),
		.blas_dynamic = strstr(r->env.blas_config, "DYNAMIC_ARCH") != NULL,
	};
	return tl_warnings_json(&f);
}

/* A share, or null when either side is unknown. */
static json_t *share_or_null(double part, double whole)
{
	return part > 0 && whole > 0 ? json_real(part / whole) : json_null();
}

/* A peak in TFLOP/s, or null when unknown. */
static json_t *tflops_or_null(double flops)
{
	return flops > 0 ? json_real(flops / 1e12) : json_null();
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
		r->peak_flops_per_rank / 1e12, "peak_source", tl_peak_source_name(r->peak_source),
		"breakdown_s",
		breakdown_json(s.compute, s.comm_exposed, s.bubble, s.optimizer, s.other,
			       s.comm_group));
	json_object_set_new(summary, "check_wrong_elements", json_integer((json_int_t)check_wrong(r)));
	/* MFU's peak beside its sources: the hardware's and the calibrated BLAS's. */
	json_object_update_new(
		summary,
		json_pack("{s:o, s:s, s:s, s:o, s:o, s:o, s:o}", "hardware_peak_tflops_per_rank",
			  tflops_or_null(r->hw_peak.flops_per_s), "hardware_peak_source",
			  tl_peak_source_name(r->hw_peak.source), "hardware_peak_how",
			  r->hw_peak.how, "blas_peak_tflops_per_rank",
			  tflops_or_null(r->blas_peak_flops_per_rank), "blas_share_of_hardware_peak",
			  share_or_null(r->blas_peak_flops_per_rank, r->hw_peak.flops_per_s),
			  "mfu_of_blas_peak",
			  s.mfu_blas > 0 ? json_real(s.mfu_blas) : json_null(),
			  "warnings", warnings_json(r, &s)));
	json_object_set_new(summary, "dp_alone_s", json_real(s.dp_alone));
	json_object_set_new(summary, "dp_hidden_share",
			    s.dp_hidden >= 0 ? json_real(s.dp_hidden) : json_null());
	json_object_update_new(doc, json_pack("{s:o, s:o, s:o, s:o, s:o}", "steps", steps,
					      "summary", summary, "ranks", ranks_json(r),
					      "collectives", collectives_json(r), "twin",
					      twin_json(r)));
	tl_status_json(doc, r->interrupted, r);
	/* Which of rank 0's groups cross nodes, as the ranks were really placed. */
	if (r->grid)
		json_object_set_new(doc, "grid",
				    tl_grid_json(r->grid, r->plan ? r->plan->rank : 0));
	return doc;
}

void tl_status_json(json_t *doc, bool interrupted, const struct tl_result *r)
{
	json_object_set_new(doc, "status", json_string(interrupted ? "interrupted" : "completed"));
	/* A signal's document, written at once from what rank 0 held (the run's own, written at
	 * its end, replaces it when the run gets there). */
	if (r->interrupted_by)
		json_object_set_new(doc, "interrupted_by",
				    json_pack("{s:s, s:b}", "signal", r->interrupted_by,
					      "ranks_gathered", !r->ranks_unmeasured));
}

int tl_json_write(json_t *doc, const char *path)
{
	return tl_json_write_as(doc, path, true);
}

/* json_dumpfd writes each token with a system call of its own (seconds for a document of 10,000
 * steps): the document goes through this buffer instead. */
struct fd_buffer {
	int fd;
	size_t used;
	int err; /* the first write error, 0: none */
	char data[1 << 16];
};

static void fd_flush(struct fd_buffer *b)
{
	for (size_t done = 0; done < b->used && !b->err;) {
		ssize_t n = write(b->fd, b->data + done, b->used - done);
		if (n > 0)
			done += (size_t)n;
		else
			b->err = n < 0 ? errno : ENOSPC;
	}
	b->used = 0;
}

static int fd_put(const char *text, size_t len, void *arg)
{
	struct fd_buffer *b = arg;

	while (len && !b->err) {
		size_t room = sizeof(b->data) - b->used, n = len < room ? len : room;
		memcpy(b->data + b->used, text, n);
		b->used += n;
		text += n;
		len -= n;
		if (b->used == sizeof(b->data))
			fd_flush(b);
	}
	return b->err ? -1 : 0;
}

/* doc into fd, whole: 0, or an errno. */
static int dump_fd(json_t *doc, int fd)
{
	struct fd_buffer *b = malloc(sizeof(*b));
	int err = ENOMEM;

	if (b) {
		b->fd = fd;
		b->used = 0;
		b->err = 0;
		if (json_dump_callback(doc, fd_put, b, JSON_INDENT(2)) == 0)
			fd_flush(b);
		else if (!b->err)
			b->err = ENOMEM; /* jansson's own failure: out of memory */
		err = b->err;
		free(b);
	}
	return err;
}

int tl_json_write_as(json_t *doc, const char *path, bool durable)
{
	size_t len = strlen(path) + 5;
	char *tmp = malloc(len);
	int fd = -1, rc = TL_EIO, err = ENOMEM;

	if (tmp && doc) {
		snprintf(tmp, len, "%s.tmp", path);
		fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
		err = errno;
	}
	/* Every step checked: a full disk shows in a write, in fsync (NFS), or in close. */
	if (fd >= 0) {
		err = dump_fd(doc, fd);
		if (!err && durable && fsync(fd) != 0)
			err = errno;
		if (close(fd) != 0 && !err)
			err = errno;
		if (!err && rename(tmp, path) != 0)
			err = errno;
		if (err)
			unlink(tmp);
		else
			rc = 0;
	}
	if (rc)
		tl_err("trainload: cannot write %s: %s\n", path, strerror(err));
	free(tmp);
	return rc;
}

char *tl_jsonl_path(const char *output)
{
	size_t len = strlen(output);
	char *p = malloc(len + 7);

	if (!p)
		return NULL;
	if (len > 5 && !strcmp(output + len - 5, ".json"))
		snprintf(p, len + 7, "%sl", output);
	else
		snprintf(p, len + 7, "%s.jsonl", output);
	return p;
}

/* What a path that should be a regular file is instead. */
static const char *not_regular(mode_t mode)
{
	return S_ISDIR(mode) ? "a directory" : S_ISFIFO(mode) ? "a FIFO" : "not a regular file";
}

/* Open (or create) the JSONL and take its lock; 0, or TL_EINPUT with a message. */
static int lock_jsonl(struct tl_output *out)
{
	/* A run that ends unlinks nothing, but one that started with --force and failed may: the
	 * file locked must be the one the name leads to, checked after the lock is taken. */
	for (int attempt = 0; attempt < 3; attempt++) {
		struct stat held, named;
		out->jsonl_created = false;
		out->jsonl_fd = open(out->jsonl_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
		if (out->jsonl_fd >= 0)
			out->jsonl_created = true;
		else if (errno == EEXIST)
			out->jsonl_fd = open(out->jsonl_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (out->jsonl_fd < 0) {
			tl_err("trainload: cannot write %s: %s\n", out->jsonl_path, strerror(errno));
			return TL_EINPUT;
		}
		if (fstat(out->jsonl_fd, &held) != 0) {
			tl_err("trainload: cannot write %s: %s\n", out->jsonl_path, strerror(errno));
			return TL_EINPUT;
		}
		if (!S_ISREG(held.st_mode)) {
			tl_err("trainload: cannot write %s: %s\n", out->jsonl_path,
			       not_regular(held.st_mode));
			return TL_EINPUT;
		}
		if (flock(out->jsonl_fd, LOCK_EX | LOCK_NB) != 0) {
			if (errno == EWOULDBLOCK) {
				tl_err("trainload: %s is in use: another trainload run with --output "
				       "%s is still going (it holds the lock on %s); wait for it to "
				       "end, or choose another --output\n",
				       out->path, out->path, out->jsonl_path);
				return TL_EINPUT;
			}
			/* A file system without locks (some NFS and Lustre mounts): the run goes
			 * on, and says that a second one would not be noticed. */
			tl_err("trainload: warning: cannot lock %s (%s): a second run with the same "
			       "--output would not be noticed\n",
			       out->jsonl_path, strerror(errno));
		}
		if (stat(out->jsonl_path, &named) == 0 && named.st_ino == held.st_ino &&
		    named.st_dev == held.st_dev) {
			out->jsonl_bytes = (uint64_t)held.st_size;
			return 0;
		}
		close(out->jsonl_fd);
		out->jsonl_fd = -1;
	}
	tl_err("trainload: cannot write %s: it keeps being replaced\n", out->jsonl_path);
	return TL_EINPUT;
}

int tl_output_open(struct tl_output *out, const char *path, bool jsonl, bool force)
{
	struct stat st;
	char *dir = strdup(path);
	int rc = 0;

	*out = (struct tl_output){ .path = path, .jsonl_fd = -1 };
	if (!dir || (jsonl && !(out->jsonl_path = tl_jsonl_path(path)))) {
		free(dir);
		return TL_ENOMEM;
	}
	/* The document is written at the end, through a temporary file and a rename, so that an
	 * earlier result of the same name is never half-overwritten: here it is only checked
	 * that it can be. */
	bool exists = stat(path, &st) == 0;
	if (exists && !S_ISREG(st.st_mode)) {
		tl_err("trainload: cannot write %s: %s\n", path, not_regular(st.st_mode));
		rc = TL_EINPUT;
	} else if (access(dirname(dir), W_OK) != 0 || (exists && access(path, W_OK) != 0)) {
		tl_err("trainload: cannot write %s: %s\n", path, strerror(errno));
		rc = TL_EINPUT;
	} else if (jsonl) {
		rc = lock_jsonl(out);
	}
	free(dir);
	/* An earlier run's result (a document, or the steps of one that was killed) is kept:
	 * a resubmitted job must not destroy it. */
	if (!rc && (exists || out->jsonl_bytes) && !force) {
		tl_err("trainload: %s already holds the result of an earlier run%s: --force "
		       "replaces it, or choose another --output\n",
		       exists ? path : out->jsonl_path,
		       exists ? "" : " (its finished steps)");
		rc = TL_EINPUT;
	}
	if (!rc && out->jsonl_fd >= 0 && out->jsonl_bytes) {
		if (ftruncate(out->jsonl_fd, 0) != 0) {
			tl_err("trainload: cannot write %s: %s\n", out->jsonl_path, strerror(errno));
			rc = TL_EINPUT;
		}
		out->jsonl_bytes = 0;
	}
	if (rc)
		tl_output_close(out);
	return rc;
}

int tl_output_append(struct tl_output *out, json_t *value)
{
	char *line = json_dumps(value, JSON_COMPACT);
	size_t len = line ? strlen(line) : 0, done = 0;
	int err = ENOMEM;

	json_decref(value);
	if (line) {
		line[len++] = '\n'; /* over the terminator: the line is written by its length */
		while (done < len) {
			ssize_t n = pwrite(out->jsonl_fd, line + done, len - done,
					   (off_t)(out->jsonl_bytes + done));
			if (n <= 0) {
				err = n < 0 ? errno : ENOSPC;
				break;
			}
			done += (size_t)n;
		}
		free(line);
	}
	if (line && done == len) {
		out->jsonl_bytes += len;
		return 0;
	}
	/* What was written stays whole lines: the part of this one is taken back. */
	if (ftruncate(out->jsonl_fd, (off_t)out->jsonl_bytes) != 0)
		tl_err("trainload: cannot cut %s back to its whole lines: %s\n", out->jsonl_path,
		       strerror(errno));
	tl_err("trainload: cannot write %s: %s (it keeps the %" PRIu64 " bytes of whole lines "
	       "written before)\n",
	       out->jsonl_path, strerror(err), out->jsonl_bytes);
	return TL_EIO;
}

void tl_output_close(struct tl_output *out)
{
	/* A JSONL with nothing in it (the run stopped before its first line) is no result:
	 * removed, while its lock is still held, so that no other run's file goes with it. */
	if (out->jsonl_fd >= 0 && !out->jsonl_bytes && out->jsonl_created)
		unlink(out->jsonl_path);
	if (out->jsonl_fd >= 0)
		close(out->jsonl_fd);
	free(out->jsonl_path);
	*out = (struct tl_output){ .jsonl_fd = -1 };
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

/* The link probe's figures: the fleet's median and the slowest node. */
static void print_links(const struct tl_result *r, FILE *out)
{
	const struct tl_rank_info *worst = NULL;
	double *v = calloc((size_t)r->ranks + 1, sizeof(*v));
	size_t n = 0;

	for (int i = 0; v && i < r->ranks; i++) {
		const struct tl_rank_info *ri = &r->rank_info[i];
		if (!ri->link.nodes)
			continue;
		v[n++] = ri->link.mbps;
		if (!worst || ri->link.mbps < worst->link.mbps)
			worst = ri;
	}
	if (worst)
		fprintf(out, "# links (%u KiB both ways around a ring of the %d nodes, best of %d): "
			     "median %.4g MB/s; slowest %s %.4g MB/s in, %.4g out\n",
			TL_PROBE_BYTES >> 10, worst->link.nodes, TL_PROBE_ROUNDS,
			tl_percentile(v, n, 50), worst->host, worst->link.in_mbps,
			worst->link.out_mbps);
	free(v);
}

void tl_print_stragglers(const struct tl_result *r, FILE *out)
{
	struct judgement *all = verdicts(r);
	int shown = 0;

	for (int i = 0; all && i < r->ranks; i++) {
		const struct tl_rank_info *ri = &r->rank_info[i];
		for (int phase = 0; phase < TL_JUDGED; phase++) {
			struct judgement j = all[(size_t)i * TL_JUDGED + (size_t)phase];
			if (!j.named)
				continue;
			if (shown++ == 0)
				fprintf(out, "# stragglers (more than %g%% and %g sigma worse than the "
					     "median of their stage; communication judged on its "
					     "transfer, not on waiting for late peers):\n",
					r->job->straggler_pct, TL_STRAGGLER_SIGMAS);
			fprintf(out, "  rank %d (%s, cpus %s) %s: %s %.4g %s, %.1f%% %s median %.4g "
				     "(sigma %.2g%%)\n",
				ri->rank, ri->host, ri->cpuset, judged_cause(phase),
				judged_names[phase], j.value, judged_unit(phase), 100 * j.worse,
				judged_rate(phase) ? "below" : "above", j.median, 100 * j.noise);
		}
	}
	if (!shown)
		fprintf(out, "# stragglers: none (no rank more than %g%% and %g sigma worse than its "
			     "stage's median; stages of fewer than 3 ranks are not judged)\n",
			r->job->straggler_pct, TL_STRAGGLER_SIGMAS);
	free(all);
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

/* The peak lines under the summary row: how MFU's peak is derived, and the BLAS peak beside
 * it with its share of the hardware's. */
static void print_peaks(const struct tl_result *r, const struct summary *s, FILE *out)
{
	if (r->peak_source == TL_PEAK_GIVEN)
		fprintf(out, "# peak/rank: given with --peak-tflops\n");
	else if (r->hw_peak.source == TL_PEAK_UNKNOWN)
		fprintf(out, "# peak/rank: the calibrated BLAS peak; hardware peak %s\n",
			r->hw_peak.how);
	else
		fprintf(out, "# peak/rank: %s\n", r->hw_peak.how);
	if (r->blas_peak_flops_per_rank <= 0)
		return;
	fprintf(out, "# BLAS peak/rank %.4f TFLOP/s (calibration GEMM", r->blas_peak_flops_per_rank / 1e12);
	if (r->hw_peak.flops_per_s > 0)
		fprintf(out, "): %.1f%% of the hardware peak; MFU against it %.1f%%\n",
			100 * r->blas_peak_flops_per_rank / r->hw_peak.flops_per_s,
			100 * s->mfu_blas);
	else
		fprintf(out, ")\n");
}

void tl_result_print(const struct tl_result *r, FILE *out)
{
	const struct tl_job *j = r->job;
	struct summary s = summarise(r);
	double gflops_min = 0, gflops_sum = 0;
	char tok[32], source[24];

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
	fprintf(out, "# nodes %d (%s)  backend %s  OpenBLAS %s kernel %s  %s  %s/%s\n", r->env.nodes,
		r->env.hosts ? r->env.hosts : "", tl_job_enum_name("run", "backend", j->backend),
		r->env.blas_version, r->env.blas_core, r->env.mpi_version,
		tl_job_enum_name("run", "compute_dtype", j->compute_dtype),
		tl_job_enum_name("run", "comm_dtype", j->comm_dtype));
	fprintf(out, "# started %s  cpu %s%s\n", *r->env.start_time ? r->env.start_time : "?",
		*r->env.cpu_model ? r->env.cpu_model : "?",
		r->env.oversubscribed ? "  oversubscribed (ranks share cores)" : "");
	print_gpus(r, out);
	fprintf(out, "# conventions: %s\n", tl_conventions);
	fprintf(out, "# steps %zu measured after %" PRIu64 " warm-up; global batch %" PRIu64
		     " x seq %" PRIu64 " = %" PRIu64 " tokens per step\n",
		r->nsteps, j->warmup, j->global_batch, j->seq, r->model->tokens_per_step);
	fprintf(out, "  %10s %10s %12s %13s %7s %22s %18s\n", "step_p50", "step_p95", "tokens/s",
		"TFLOP/s/rank", "MFU", "peak/rank", "GEMM GFLOP/s/rank");
	snprintf(source, sizeof(source), "(%s)",
		 r->peak_source == TL_PEAK_GIVEN ? "given" : tl_peak_source_name(r->peak_source));
	fprintf(out, "  %8.4f s %8.4f s %12s %13.4f %6.1f%% %10.4f TFLOP/s %-12s %7.2f (min %.2f)\n",
		s.p50, s.p95, tl_grouped(s.tokens_per_s, tok, sizeof(tok)), s.model_tflops_per_rank,
		100 * s.mfu, r->peak_flops_per_rank / 1e12, source,
		r->ranks ? gflops_sum / r->ranks : 0.0, gflops_min);
	print_peaks(r, &s, out);
	fprintf(out, "# where the time goes (slowest rank, p50 of each part, seconds; X_comm: "
		     "exposed communication of group X; bubble: pipeline wait)\n");
	fprintf(out, "  compute %.4f ", s.compute);
	for (size_t g = 0; g < TL_SHOWN_GROUPS; g++)
		if (tl_grid_group_size(r->grid, tl_shown_groups[g]) > 1 ||
		    (tl_shown_groups[g] == TL_GROUP_DP &&
		     (tl_grid_group_size(r->grid, TL_GROUP_EDP) > 1 ||
		      tl_grid_group_size(r->grid, TL_GROUP_DPCP) > 1)))
			fprintf(out, " %s %.4f", tl_comm_part_names[g],
				s.comm_group[tl_shown_groups[g]]);
	fprintf(out, "  bubble %.4f (planned %.3f of the step)  optimizer %.4f  other %.4f\n",
		s.bubble, r->model->bubble_fraction, s.optimizer,
		s.other);
	if (s.dp_hidden >= 0)
		fprintf(out, "# dp hidden %.0f%%: %.4f s of dp exposed against the %.4f s the step's "
			     "non-blocking dp reductions take alone\n",
			100 * s.dp_hidden, s.comm_group[TL_GROUP_DP], s.dp_alone);
	print_collectives(r, out);
	print_links(r, out);
	tl_print_stragglers(r, out);
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
	json_t *warnings = warnings_json(r, &s), *w;
	size_t i;
	json_array_foreach (warnings, i, w)
		fprintf(out, "# warning: %s\n", json_string_value(w));
	json_decref(warnings);
}
