/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * From runs to a scaling curve: runs of one job grouped and ordered by ranks, speedup and
 * efficiency against the smallest, the collectives' α-β fits, the rates of a step's other parts,
 * and a prediction of the step time at any world size.
 *
 * The prediction takes the plan of each pipeline stage at the new size (the same job, model,
 * grid and plan code as --dry-run) and prices it:
 *   compute    = plan GEMM FLOPs × s_per_flop
 *   comm(g)    = Σ over the plan's blocking collectives of group g of α + β·bus bytes, and for
 *                its non-blocking ops (data-parallel gradient buckets, the context-parallel
 *                ring) that sum × the group's exposed share
 *   bubble     = compute × bubble_per_compute
 *   optimizer  = optimizer op bytes × s_per_optimizer_byte
 *   step       = max over stages of their sum, + other
 * The rates come from the largest measured run (the one nearest the worlds projected to), so the
 * predictions at the other measured scales are the test of the model, and the report prints them
 * first. Pure: no MPI, no hardware.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainload/coll.h"
#include "trainload/job.h"
#include "trainload/metrics.h"
#include "trainload/model.h"
#include "trainload/report.h"

void tl_scaling_figures(enum tl_scaling scaling, uint64_t ranks_1, double t_1, uint64_t ranks_n,
			double t_n, double *speedup, double *efficiency)
{
	double n = ranks_1 > 0 ? (double)ranks_n / (double)ranks_1 : 0;

	*speedup = *efficiency = 0;
	if (t_n <= 0 || n <= 0)
		return;
	if (scaling == TL_SCALING_STRONG) {
		*speedup = t_1 / t_n;
		*efficiency = t_1 / (n * t_n);
	} else {
		*speedup = n * t_1 / t_n;
		*efficiency = t_1 / t_n;
	}
}

static bool usable(const struct tl_run *run)
{
	return (run->state == TL_RUN_COMPLETE || run->state == TL_RUN_PARTIAL) && run->fig.steps &&
	       run->fig.p50 > 0;
}

/* Report groups: dp, edp and dp_cp are one row of the breakdown (expert gradients, and those
 * reduced over the dp and cp ranks together, are data-parallel traffic); -1 for a group the
 * breakdown does not show. */
static int breakdown_index(int group)
{
	if (group == TL_GROUP_EDP || group == TL_GROUP_DPCP)
		group = TL_GROUP_DP;
	for (int g = 0; g < TL_SHOWN_GROUPS; g++)
		if (tl_shown_groups[g] == group)
			return g;
	return -1;
}

static int kind_by_name(const char *name)
{
	for (int k = 0; name && k < TL_OP_KINDS; k++)
		if (!strcmp(tl_op_kind_name((enum tl_op_kind)k), name))
			return k;
	return -1;
}

static int group_by_name(const char *name)
{
	for (int g = 0; name && g < TL_GRID_GROUPS; g++)
		if (!strcmp(tl_grid_group_name(g), name))
			return g;
	return -1;
}

/* ---------------------------------------------------------------- fits */

/* One measured collective: its bus bytes, the group's size and the transfer time. */
struct point {
	double bus, n, t;
};

struct points {
	struct point *p;
	size_t n, cap;
};

static int add_point(struct points *p, struct point pt)
{
	if (p->n == p->cap) {
		size_t cap = 2 * p->cap + 16;
		struct point *grown = realloc(p->p, cap * sizeof(*grown));
		if (!grown)
			return -1;
		p->p = grown;
		p->cap = cap;
	}
	p->p[p->n++] = pt;
	return 0;
}

/* Ranks per node as the run's grid placed them by host name (what its groups' crosses_nodes
 * were worked out from), else from world.nodes. The two differ where the launcher's nodes are
 * not hosts: several slurmds on one machine give MPI two "nodes" of one host. */
static uint64_t ranks_per_node_of(const struct tl_run *run)
{
	uint64_t ranks = (uint64_t)run->ranks, nodes = (uint64_t)run->nodes;
	const json_t *rpn = json_object_get(json_object_get(run->doc, "grid"), "ranks_per_node");

	if (json_is_integer(rpn) && json_integer_value(rpn) >= 1)
		return (uint64_t)json_integer_value(rpn);
	return nodes ? (ranks + nodes - 1) / nodes : 0;
}

/* The transfer time of a result's collective entry in seconds, 0 when it has none: a blocking
 * transfer time only, never the time of an overlapped op (which holds the compute it overlapped).
 * Results since transfer_us say it; a sweep times blocking calls back to back; older results'
 * blocking ops took it on the rank that arrived last, which waited for no one. */
static double transfer_s(const struct tl_run *run, const json_t *c)
{
	const json_t *t = json_object_get(c, "transfer_us");
	const json_t *fastest = json_object_get(c, "time_us_fastest_rank");
	double us;

	if (t)
		us = json_is_number(t) ? json_number_value(t) : 0;
	else if (run->state == TL_RUN_SWEEP)
		us = json_number_value(json_object_get(c, "time_us"));
	else if (json_is_true(json_object_get(c, "nonblocking")))
		us = 0;
	else
		us = json_number_value(fastest ? fastest : json_object_get(c, "time_us"));
	return us > 0 && isfinite(us) ? us * 1e-6 : 0;
}

/* The nodes a result's collective entry spans: as it says (group_nodes), else from the run's
 * grid and ranks per node (results before group_nodes). */
static uint64_t entry_nodes(const struct tl_run *run, const json_t *c, const char *group,
			    uint64_t n)
{
	const json_t *k = json_object_get(c, "group_nodes");
	uint64_t rpn = ranks_per_node_of(run);

	if (json_is_integer(k) && json_integer_value(k) >= 1)
		return (uint64_t)json_integer_value(k);
	if (!rpn || n <= 1)
		return 1;
	const json_t *crosses = json_object_get(
		json_object_get(json_object_get(json_object_get(run->doc, "grid"), "groups"), group),
		"crosses_nodes");
	if (json_is_boolean(crosses) ? !json_is_true(crosses) : n <= rpn)
		return 1;
	uint64_t nodes = (n + rpn - 1) / rpn;
	return nodes > 1 ? nodes : 2;
}

/* The cost class of a group of n ranks on k nodes: the ranks it has on each node when it
 * crosses nodes, 0 inside one node. */
static uint64_t cost_class(uint64_t n, uint64_t k)
{
	return k > 1 ? (n + k - 1) / k : 0;
}

/* Where fits are kept while points are gathered: one per (op, group, class). */
struct classes {
	struct tl_coll_fit *fit;
	struct points *pts;
	size_t n;
};

static int class_point(struct classes *cl, int kind, int group, uint64_t n, uint64_t k,
		       struct point pt, bool sweep)
{
	uint64_t m = cost_class(n, k);
	size_t i;

	for (i = 0; i < cl->n; i++)
		if ((int)cl->fit[i].kind == kind && cl->fit[i].group == group &&
		    cl->fit[i].ranks_per_node == m)
			break;
	if (i == cl->n) {
		struct tl_coll_fit *f = realloc(cl->fit, (cl->n + 1) * sizeof(*f));
		if (!f)
			return -1;
		cl->fit = f;
		struct points *p = realloc(cl->pts, (cl->n + 1) * sizeof(*p));
		if (!p)
			return -1;
		cl->pts = p;
		cl->fit[i] = (struct tl_coll_fit){ .kind = (enum tl_op_kind)kind, .group = group,
						   .ranks_per_node = m, .min_size = n,
						   .max_size = n, .min_nodes = k, .max_nodes = k };
		cl->pts[i] = (struct points){ 0 };
		cl->n++;
	}
	struct tl_coll_fit *f = &cl->fit[i];
	f->points++;
	f->sweep_points += sweep;
	f->min_size = n < f->min_size ? n : f->min_size;
	f->max_size = n > f->max_size ? n : f->max_size;
	f->min_nodes = k < f->min_nodes ? k : f->min_nodes;
	f->max_nodes = k > f->max_nodes ? k : f->max_nodes;
	return add_point(&cl->pts[i], pt);
}

/* Add a result's collectives as points: x = bus bytes, y = the transfer time (transfer_s);
 * entries over fewer than two ranks say nothing. A sweep's entries over the world count for
 * every group. */
static int add_points(struct classes *cl, const struct tl_run *run)
{
	const json_t *c;
	size_t i;

	json_array_foreach (json_object_get(run->doc, "collectives"), i, c) {
		const char *group_name = json_string_value(json_object_get(c, "group"));
		int kind = kind_by_name(json_string_value(json_object_get(c, "op")));
		int group = group_by_name(group_name);
		bool sweep = run->state == TL_RUN_SWEEP;
		bool everywhere = sweep && group_name && !strcmp(group_name, "world");
		double n = json_number_value(json_object_get(c, "group_size"));
		double bytes = json_number_value(json_object_get(c, "bytes"));
		double t = transfer_s(run, c);
		if (kind < 0 || (group < 0 && !everywhere) || !(n >= 2 && n <= 1e15) ||
		    !(bytes > 0) || !isfinite(bytes) || !(t > 0))
			continue;
		uint64_t k = entry_nodes(run, c, group_name, (uint64_t)n);
		struct point pt = { .bus = bytes * tl_busbw_factor((enum tl_op_kind)kind, (uint64_t)n),
				    .n = n, .t = t };
		for (int g = 0; g < TL_GRID_GROUPS; g++) {
			if (g != group && !(everywhere && g != TL_GROUP_WORLD))
				continue;
			if (class_point(cl, kind, g, (uint64_t)n, k, pt, sweep))
				return -1;
		}
	}
	return 0;
}

const char *tl_report_range(uint64_t lo, uint64_t hi, char *buf, size_t len)
{
	if (lo == hi)
		snprintf(buf, len, "%llu", (unsigned long long)lo);
	else
		snprintf(buf, len, "%llu-%llu", (unsigned long long)lo, (unsigned long long)hi);
	return buf;
}

/* A fit's transfer time of bus bytes over a group of n ranks. */
static double fit_time(const struct tl_coll_fit *f, double bus, double n)
{
	return f->alpha_s + f->beta_s_per_byte * pow(n / (double)f->max_size, f->gamma) * bus;
}

/* The largest relative error of fit f over its points. */
static double fit_residual(const struct tl_coll_fit *f, const struct points *p)
{
	double worst = 0;

	for (size_t i = 0; i < p->n; i++) {
		double e = fabs(fit_time(f, p->p[i].bus, p->p[i].n) - p->p[i].t) / p->p[i].t;
		worst = e > worst ? e : worst;
	}
	return worst;
}

/*
 * time = α + β · (n / n_max)^γ · bus bytes, over the points of one class. The busbw factor
 * carries a ring's cost from one group size to another (γ = 0); MPI libraries switch algorithms
 * with the group size, and their busbw then falls as groups grow, which γ follows. γ is searched
 * over [0, TL_FIT_GAMMA_MAX] in steps of 1/TL_FIT_GAMMA_STEPS, α and β fitted by least squares
 * (never negative) at each; the γ with the smallest relative error wins, the smallest of equals
 * (two points at two sizes fit exactly from some γ on: the least growth that explains them).
 */
#define TL_FIT_GAMMA_MAX 2.0
#define TL_FIT_GAMMA_STEPS 100

static int fit_class(struct tl_coll_fit *f, const struct points *p)
{
	double *x = malloc(p->n * sizeof(*x)), *y = malloc(p->n * sizeof(*y));
	double best = INFINITY;

	if (!x || !y) {
		free(x);
		free(y);
		return -1;
	}
	int steps = f->min_size == f->max_size ? 0 : (int)(TL_FIT_GAMMA_MAX * TL_FIT_GAMMA_STEPS);
	for (int s = 0; s <= steps; s++) {
		struct tl_coll_fit trial = *f;
		trial.gamma = (double)s / TL_FIT_GAMMA_STEPS;
		for (size_t i = 0; i < p->n; i++) {
			x[i] = p->p[i].bus * pow(p->p[i].n / (double)f->max_size, trial.gamma);
			y[i] = p->p[i].t;
		}
		tl_fit_alpha_beta(x, y, p->n, &trial.alpha_s, &trial.beta_s_per_byte);
		double e = fit_residual(&trial, p);
		if (e < best - 1e-9) {
			best = e;
			*f = trial;
		}
	}
	f->residual_max = best;
	free(x);
	free(y);
	return 0;
}

static int fit_collectives(struct tl_report_group *grp, const struct tl_report_inputs *in)
{
	struct classes cl = { 0 };
	int rc = 0;

	for (size_t r = 0; r < grp->count && !rc; r++)
		rc = add_points(&cl, &in->runs[grp->runs[r]]);
	for (size_t r = 0; r < in->count && !rc; r++)
		if (in->runs[r].state == TL_RUN_SWEEP)
			rc = add_points(&cl, &in->runs[r]);
	for (size_t i = 0; i < cl.n && !rc; i++)
		rc = fit_class(&cl.fit[i], &cl.pts[i]);
	for (size_t i = 0; i < cl.n; i++)
		free(cl.pts[i].p);
	free(cl.pts);
	grp->fits = cl.fit;
	grp->nfits = cl.n;
	return rc;
}

/* The fit that prices op over a group of n ranks on k nodes: its own class, else the cross-node
 * class nearest in ranks per node (noted in why); NULL, with why, when none may: a group that
 * crosses nodes is never priced with what was measured inside one, nor the other way. */
static struct tl_coll_fit *find_fit(struct tl_report_group *grp, enum tl_op_kind kind, int group,
				    uint64_t n, uint64_t k, char *why, size_t len)
{
	uint64_t m = cost_class(n, k);
	struct tl_coll_fit *best = NULL;
	bool other_side = false;

	for (size_t i = 0; i < grp->nfits; i++) {
		struct tl_coll_fit *f = &grp->fits[i];
		if (f->kind != kind || f->group != group)
			continue;
		if (f->ranks_per_node == m)
			return f;
		if ((f->ranks_per_node > 0) != (m > 0)) {
			other_side = true;
			continue;
		}
		if (!best || fabs(log((double)f->ranks_per_node / (double)m)) <
				     fabs(log((double)best->ranks_per_node / (double)m)))
			best = f;
	}
	if (best)
		snprintf(why, len, "%s over %s with %llu ranks per node priced with groups of %llu "
			 "per node", tl_op_kind_name(kind), tl_grid_group_name(group),
			 (unsigned long long)m, (unsigned long long)best->ranks_per_node);
	else if (other_side && m > 0)
		snprintf(why, len, "%s over %s would cross %llu nodes, and it was measured inside "
			 "a node only: no projection prices a cross-node group with intra-node data "
			 "(run across nodes, or add a sweep across nodes)", tl_op_kind_name(kind),
			 tl_grid_group_name(group), (unsigned long long)k);
	else if (other_side)
		snprintf(why, len, "%s over %s would stay inside a node, and it was measured across "
			 "nodes only", tl_op_kind_name(kind), tl_grid_group_name(group));
	else
		snprintf(why, len, "no blocking transfer time of %s over %s to fit",
			 tl_op_kind_name(kind), tl_grid_group_name(group));
	return best;
}

/* ---------------------------------------------------------------- plans */

/* The job of a run, resized for a world of `ranks`: weak scaling keeps each data-parallel rank's
 * batch (the global batch grows), strong scaling keeps the global batch. */
static int job_at(struct tl_job *job, const struct tl_run *run, enum tl_scaling scaling,
		  uint64_t ranks, struct tl_diag *diag)
{
	int rc = tl_job_init(job);

	if (!rc)
		rc = tl_job_from_json(job, json_object_get(run->doc, "job"), diag);
	if (!rc)
		rc = tl_job_set(job, "parallel.dp=auto", diag);
	if (!rc)
		rc = tl_job_set(job, scaling == TL_SCALING_STRONG ? "parallel.grad_accum=auto"
								  : "parallel.global_batch=auto",
				diag);
	if (!rc)
		rc = tl_job_resolve(job, ranks, diag);
	return rc;
}

/* What one stage's plan asks for, priced. */
struct stage_cost {
	double flops, optimizer_bytes;
	double comm_s[TL_SHOWN_GROUPS];
	double overlapped_s[TL_SHOWN_GROUPS]; /* non-blocking traffic, before exposure */
	char note[192]; /* the first collective priced beyond what was measured */
};

static int price_plan(struct tl_report_group *grp, const struct tl_grid *grid,
		      const struct tl_plan *plan, struct stage_cost *cost, char *why, size_t len)
{
	uint64_t nodes[TL_GRID_GROUPS];

	*cost = (struct stage_cost){ .flops = (double)plan->flops };
	for (int g = 0; g < TL_GRID_GROUPS; g++)
		nodes[g] = tl_grid_group_nodes(grid, plan->rank, g);
	for (size_t i = 0; i < plan->count; i++) {
		const struct tl_op *op = &plan->ops[i];
		if (op->kind == TL_OP_OPTIMIZER)
			cost->optimizer_bytes += (double)op->bytes;
		/* Sends are waited at the end of the step; a pipeline receive's time is the
		 * bubble's (a run counts it there), priced with bubble_per_compute. */
		if (!tl_op_is_comm(op->kind) || op->kind == TL_OP_SEND ||
		    (op->kind == TL_OP_RECV && op->group == TL_GROUP_PP))
			continue;
		uint64_t n = tl_grid_group_size(grid, op->group), k = nodes[op->group];
		int b = breakdown_index(op->group);
		if (b < 0)
			continue;
		char note[192] = "", sizes[48], spans[48];
		struct tl_coll_fit *fit = find_fit(grp, op->kind, op->group, n, k, note,
						   sizeof(note));
		if (!fit) {
			snprintf(why, len, "%s", note);
			return -1;
		}
		fit->used = true;
		if (!note[0] && (n > fit->max_size || n < fit->min_size))
			snprintf(note, sizeof(note), "%s over %s of %llu ranks on %llu node(s) "
				 "extrapolated from groups of %s ranks on %s node(s)",
				 tl_op_kind_name(op->kind), tl_grid_group_name(op->group),
				 (unsigned long long)n, (unsigned long long)k,
				 tl_report_range(fit->min_size, fit->max_size, sizes, sizeof(sizes)),
				 tl_report_range(fit->min_nodes, fit->max_nodes, spans, sizeof(spans)));
		if (note[0] && !cost->note[0])
			snprintf(cost->note, sizeof(cost->note), "%s", note);
		double t = fit_time(fit, (double)op->bytes * tl_busbw_factor(op->kind, n), (double)n);
		if (op->nonblocking)
			cost->overlapped_s[b] += t;
		else
			cost->comm_s[b] += t;
	}
	return 0;
}

/* The cost of every pipeline stage of job on a world of `ranks` (first rank of each stage). */
static int price_stages(struct tl_report_group *grp, struct tl_job *job, uint64_t ranks,
			uint64_t ranks_per_node, struct stage_cost **costs, uint64_t *nstages,
			uint64_t *tokens_per_step, uint64_t *nodes, char *why, size_t len)
{
	struct tl_model model;
	struct tl_grid grid;
	struct tl_diag diag = { 0 };
	int rc = tl_model_build(&model, job, &diag);

	if (rc) {
		snprintf(why, len, "%s", diag.count ? diag.msg[0] : "the model does not build");
		tl_diag_free(&diag);
		return -1;
	}
	tl_grid_init(&grid, job, ranks, ranks_per_node);
	*tokens_per_step = model.tokens_per_step;
	*nodes = tl_grid_nodes(&grid);
	*nstages = grid.pp;
	*costs = calloc(grid.pp, sizeof(**costs));
	if (!*costs)
		return -1;
	for (uint64_t s = 0; s < grid.pp && !rc; s++) {
		struct tl_plan plan;
		uint64_t rank = tl_grid_group_member(&grid, 0, TL_GROUP_PP, s);
		if (tl_plan_build(&plan, job, &model, &grid, rank)) {
			snprintf(why, len, "no plan for rank %llu", (unsigned long long)rank);
			rc = -1;
			break;
		}
		rc = price_plan(grp, &grid, &plan, &(*costs)[s], why, len);
		tl_plan_free(&plan);
	}
	if (rc) {
		free(*costs);
		*costs = NULL;
	}
	return rc;
}

/* The stage that does the most GEMM work sets the pace of the step. */
static uint64_t busiest(const struct stage_cost *costs, uint64_t n)
{
	uint64_t best = 0;
	for (uint64_t s = 1; s < n; s++)
		if (costs[s].flops > costs[best].flops)
			best = s;
	return best;
}

/* Rates from the largest run: its p50 breakdown against the plan of its busiest stage. */
static void calibrate(struct tl_report_group *grp, const struct tl_report_inputs *in)
{
	const struct tl_run *run = &in->runs[grp->runs[grp->count - 1]];
	struct tl_job job;
	struct tl_diag diag = { 0 };
	struct stage_cost *costs = NULL;
	uint64_t nstages, tokens, nodes;
	char why[192];

	if (job_at(&job, run, grp->scaling, (uint64_t)run->ranks, &diag) == 0 &&
	    price_stages(grp, &job, (uint64_t)run->ranks, ranks_per_node_of(run), &costs, &nstages,
			 &tokens, &nodes, why, sizeof(why)) == 0) {
		const struct stage_cost *c = &costs[busiest(costs, nstages)];
		const struct tl_run_figures *f = &run->fig;
		struct tl_rates *r = &grp->rates;
		int dp = breakdown_index(TL_GROUP_DP);

		r->s_per_flop = c->flops > 0 ? f->compute / c->flops : 0;
		r->s_per_optimizer_byte = c->optimizer_bytes > 0 ? f->optimizer / c->optimizer_bytes
								  : 0;
		r->bubble_per_compute = f->compute > 0 ? f->bubble / f->compute : 0;
		/* What of each group's fitted non-blocking traffic (dp buckets, the cp ring) the
		 * run did not hide: its exposed time beyond what its blocking collectives (ZeRO's)
		 * account for. */
		for (int g = 0; g < TL_SHOWN_GROUPS; g++) {
			double share = c->overlapped_s[g] > 0
					       ? (f->comm[g] - c->comm_s[g]) / c->overlapped_s[g]
					       : 1;
			r->exposed_share[g] = fmin(1, fmax(0, share));
		}
		r->dp_exposed_share = r->exposed_share[dp];
		r->other_s = f->other;
		r->calibrated_on = run->ranks;
		grp->have_rates = true;
	}
	free(costs);
	tl_diag_free(&diag);
	tl_job_free(&job);
}

static void predict(struct tl_report_group *grp, const struct tl_run *largest,
		    struct tl_prediction *p)
{
	struct tl_job job;
	struct tl_diag diag = { 0 };
	struct stage_cost *costs = NULL;
	uint64_t nstages = 0, tokens = 0;
	const struct tl_rates *r = &grp->rates;

	p->ok = false;
	if (job_at(&job, largest, grp->scaling, p->ranks, &diag)) {
		snprintf(p->why, sizeof(p->why), "no valid layout: %s",
			 diag.count ? diag.msg[0] : "the job does not resolve");
	} else if (price_stages(grp, &job, p->ranks, ranks_per_node_of(largest), &costs, &nstages,
				&tokens, &p->nodes, p->why, sizeof(p->why)) == 0) {
		double worst = -1;
		for (uint64_t s = 0; s < nstages; s++) {
			const struct stage_cost *c = &costs[s];
			double compute = c->flops * r->s_per_flop, comm = 0;
			double comm_g[TL_SHOWN_GROUPS];
			for (int g = 0; g < TL_SHOWN_GROUPS; g++) {
				comm_g[g] = c->comm_s[g] + c->overlapped_s[g] * r->exposed_share[g];
				comm += comm_g[g];
			}
			double bubble = compute * r->bubble_per_compute;
			double optimizer = c->optimizer_bytes * r->s_per_optimizer_byte;
			double t = compute + comm + bubble + optimizer;
			if (c->note[0] && !p->note[0])
				snprintf(p->note, sizeof(p->note), "%s", c->note);
			if (t > worst) {
				worst = t;
				p->compute_s = compute;
				memcpy(p->comm_s, comm_g, sizeof(comm_g));
				p->bubble_s = bubble;
				p->optimizer_s = optimizer;
			}
		}
		p->other_s = r->other_s;
		p->step_s = worst + r->other_s;
		p->tokens_per_s = tl_tokens_per_s(tokens, p->step_s);
		p->ok = true;
	}
	free(costs);
	tl_diag_free(&diag);
	tl_job_free(&job);
}

/* ---------------------------------------------------------------- groups */

static bool before(const struct tl_run *x, const struct tl_run *y)
{
	return x->ranks != y->ranks ? x->ranks < y->ranks : strcmp(x->path, y->path) < 0;
}

/* By ranks, then path (insertion sort: a curve has a handful of points). */
static void sort_runs(size_t *runs, size_t n, const struct tl_report_inputs *in)
{
	for (size_t i = 1; i < n; i++) {
		size_t v = runs[i], j = i;
		for (; j > 0 && before(&in->runs[v], &in->runs[runs[j - 1]]); j--)
			runs[j] = runs[j - 1];
		runs[j] = v;
	}
}

/* Weak when the batch per data-parallel rank holds and the global batch grows, strong when the
 * global batch holds. */
static void choose_scaling(struct tl_report_group *grp, const struct tl_report_inputs *in,
			   enum tl_scaling asked)
{
	const struct tl_run *first = &in->runs[grp->runs[0]];
	bool same_global = true, same_per_dp = true;

	for (size_t i = 1; i < grp->count; i++) {
		const struct tl_run *r = &in->runs[grp->runs[i]];
		same_global &= r->global_batch == first->global_batch;
		same_per_dp &= r->global_batch * first->dp == first->global_batch * r->dp;
	}
	/* What the batches say, whatever was asked: a report warns when --scaling overrides it. */
	grp->data_scaling = grp->count > 1 && same_global && !same_per_dp ? TL_SCALING_STRONG
									 : TL_SCALING_WEAK;
	if (asked != TL_SCALING_AUTO) {
		grp->scaling = asked;
		snprintf(grp->scaling_note, sizeof(grp->scaling_note), "as asked (--scaling %s)",
			 asked == TL_SCALING_WEAK ? "weak" : "strong");
	} else if (grp->data_scaling == TL_SCALING_STRONG) {
		grp->scaling = TL_SCALING_STRONG;
		snprintf(grp->scaling_note, sizeof(grp->scaling_note),
			 "the global batch (%llu) is the same at every scale",
			 (unsigned long long)first->global_batch);
	} else {
		grp->scaling = TL_SCALING_WEAK;
		snprintf(grp->scaling_note, sizeof(grp->scaling_note), "%s",
			 grp->count < 2 ? "one scale only"
			 : same_per_dp	? "the batch per data-parallel rank is the same at every scale"
					: "neither the global batch nor the batch per data-parallel "
					  "rank holds; taken as weak (--scaling to choose)");
	}
}

static int add_prediction(struct tl_report_group *grp, uint64_t ranks, double measured)
{
	for (size_t i = 0; i < grp->npredictions; i++) {
		struct tl_prediction *p = &grp->predictions[i];
		if (p->ranks != ranks)
			continue;
		/* a repeat: measured is the mean of the runs at this size, as the scaling table's */
		if (measured > 0)
			p->measured_s += (measured - p->measured_s) / (double)++p->measured_runs;
		return 0;
	}
	struct tl_prediction *grown =
		realloc(grp->predictions, (grp->npredictions + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	grp->predictions = grown;
	grp->predictions[grp->npredictions++] =
		(struct tl_prediction){ .ranks = ranks, .measured_s = measured,
					.measured_runs = measured > 0 };
	return 0;
}

static int build_group(struct tl_report_group *grp, const struct tl_report_inputs *in,
		       enum tl_scaling scaling, const uint64_t *project, size_t nproject)
{
	sort_runs(grp->runs, grp->count, in);
	grp->base = 0;
	choose_scaling(grp, in, scaling);
	grp->speedup = calloc(grp->count, sizeof(double));
	grp->efficiency = calloc(grp->count, sizeof(double));
	if (!grp->speedup || !grp->efficiency)
		return -1;
	const struct tl_run *base = &in->runs[grp->runs[grp->base]];
	for (size_t i = 0; i < grp->count; i++) {
		const struct tl_run *r = &in->runs[grp->runs[i]];
		tl_scaling_figures(grp->scaling, (uint64_t)base->ranks, base->fig.p50,
				   (uint64_t)r->ranks, r->fig.p50,
				   &grp->speedup[i], &grp->efficiency[i]);
	}
	if (fit_collectives(grp, in))
		return -1;
	calibrate(grp, in);
	if (!grp->have_rates)
		return 0;
	const struct tl_run *largest = &in->runs[grp->runs[grp->count - 1]];
	for (size_t i = 0; i < grp->count; i++) {
		const struct tl_run *r = &in->runs[grp->runs[i]];
		if (add_prediction(grp, (uint64_t)r->ranks, r->fig.p50))
			return -1;
	}
	uint64_t doubled[4];
	if (!nproject) {
		for (int i = 0; i < 4; i++)
			doubled[i] = (uint64_t)largest->ranks << (i + 1);
		project = doubled;
		nproject = 4;
	}
	for (size_t i = 0; i < nproject; i++)
		if (add_prediction(grp, project[i], 0))
			return -1;
	for (size_t i = 0; i < grp->npredictions; i++)
		predict(grp, largest, &grp->predictions[i]);
	return 0;
}

int tl_report_build(struct tl_report *rep, const struct tl_report_inputs *in,
		    enum tl_scaling scaling, const uint64_t *project, size_t nproject)
{
	*rep = (struct tl_report){ 0 };
	for (size_t i = 0; i < in->count; i++) {
		const struct tl_run *run = &in->runs[i];
		struct tl_report_group *grp = NULL;
		if (!usable(run))
			continue;
		for (size_t g = 0; g < rep->count && !grp; g++)
			if (!strcmp(rep->groups[g].key, run->key))
				grp = &rep->groups[g];
		if (!grp) {
			struct tl_report_group *grown =
				realloc(rep->groups, (rep->count + 1) * sizeof(*grown));
			if (!grown)
				return -1;
			rep->groups = grown;
			grp = &rep->groups[rep->count++];
			*grp = (struct tl_report_group){ .model_name = run->model_name };
			memcpy(grp->key, run->key, sizeof(grp->key));
		}
		size_t *runs = realloc(grp->runs, (grp->count + 1) * sizeof(*runs));
		if (!runs)
			return -1;
		grp->runs = runs;
		grp->runs[grp->count++] = i;
	}
	for (size_t g = 0; g < rep->count; g++)
		if (build_group(&rep->groups[g], in, scaling, project, nproject))
			return -1;
	return 0;
}

void tl_report_free(struct tl_report *rep)
{
	for (size_t g = 0; g < rep->count; g++) {
		struct tl_report_group *grp = &rep->groups[g];
		free(grp->runs);
		free(grp->speedup);
		free(grp->efficiency);
		free(grp->fits);
		free(grp->predictions);
	}
	free(rep->groups);
	*rep = (struct tl_report){ 0 };
}
