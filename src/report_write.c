/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * trainload-report's outputs: Markdown (the report a team takes to a meeting), CSV (the scaling
 * table, one row per run) and JSON (everything, for scripts). Every figure comes from
 * struct tl_report and the runs; nothing is computed here but formatting.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "report_write.h"
#include "trainload/metrics.h"
#include "trainload/result.h"

const char tl_report_conventions[] =
	"step time = p50 over the measured steps of the slowest rank's step; breakdown = p50 of "
	"each part; GB = 1e9 bytes; model FLOPs = forward + backward GEMMs (no recompute), per "
	"step; MFU = model FLOPs per step / step time / (ranks x peak per rank), peak from the "
	"run's calibration GEMM or --peak-tflops; N = ranks / ranks of the job's smallest run; "
	"weak scaling: speedup = N x t1/tN, efficiency = t1/tN; strong scaling: speedup = t1/tN, "
	"efficiency = t1/(N x tN); collective times = max over ranks of the per-call mean; busbw "
	"as nccl-tests";

/* A string member of a result, "?" when it is missing or not a string: the files are users'. */
static const char *text(const json_t *obj, const char *key)
{
	const char *s = json_string_value(json_object_get(obj, key));
	return s ? s : "?";
}

static const char *scaling_name(enum tl_scaling s)
{
	return s == TL_SCALING_STRONG ? "strong" : "weak";
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static const char *pct(double share, char *buf, size_t len)
{
	snprintf(buf, len, "%.1f%%", 100 * share);
	return buf;
}

static void md_header(const struct tl_report_inputs *in, size_t nmissing, FILE *out)
{
	size_t n[4] = { 0 };

	for (size_t i = 0; i < in->count; i++)
		n[in->runs[i].state]++;
	fprintf(out, "# trainload report\n\n");
	fprintf(out, "Conventions: %s.\n\n", tl_report_conventions);
	fprintf(out, "Inputs: %zu file(s): %zu complete, %zu partial, %zu sweep, %zu unusable",
		in->count, n[TL_RUN_COMPLETE], n[TL_RUN_PARTIAL], n[TL_RUN_SWEEP],
		n[TL_RUN_UNUSABLE]);
	if (nmissing)
		fprintf(out, "; %zu missing", nmissing);
	fprintf(out, ".\n");
}

static void md_scaling(const struct tl_report_group *g, const struct tl_report_inputs *in,
		       FILE *out)
{
	char tok[32], a[16], b[16], c[16];

	fprintf(out, "\n### Scaling\n\n");
	fprintf(out, "| nodes | ranks | dp | steps | step p50 (s) | step p95 (s) | tokens/s | "
		     "speedup | efficiency | TFLOP/s/rank | MFU | exposed comm | run |\n");
	fprintf(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
	for (size_t i = 0; i < g->count; i++) {
		const struct tl_run *r = &in->runs[g->runs[i]];
		const struct tl_run_figures *f = &r->fig;
		fprintf(out, "| %d | %d | %llu | %zu | %.4f | %.4f | %s | %.2f | %s | %.4f | %s | %s "
			     "| %s%s |\n",
			r->nodes, r->ranks, (unsigned long long)r->dp, f->steps, f->p50, f->p95,
			tl_grouped(f->tokens_per_s, tok, sizeof(tok)), g->speedup[i],
			pct(g->efficiency[i], a, sizeof(a)), f->model_tflops_per_rank,
			f->mfu > 0 ? pct(f->mfu, b, sizeof(b)) : "n/a",
			pct(f->exposed_share, c, sizeof(c)), base_name(r->path),
			r->state == TL_RUN_PARTIAL ? " (partial)" : "");
	}
}

static void md_breakdown(const struct tl_report_group *g, const struct tl_report_inputs *in,
			 FILE *out)
{
	fprintf(out, "\n### Where the time goes (s per step; slowest rank, p50 of each part)\n\n");
	fprintf(out, "| ranks | step | compute |");
	for (int k = 0; k < TL_SHOWN_GROUPS; k++)
		fprintf(out, " %s comm |", tl_grid_group_name(tl_shown_groups[k]));
	fprintf(out, " bubble | optimizer | other |\n|---:|---:|---:|");
	for (int k = 0; k < TL_SHOWN_GROUPS; k++)
		fprintf(out, "---:|");
	fprintf(out, "---:|---:|---:|\n");
	for (size_t i = 0; i < g->count; i++) {
		const struct tl_run_figures *f = &in->runs[g->runs[i]].fig;
		fprintf(out, "| %d | %.4f | %.4f |", in->runs[g->runs[i]].ranks, f->p50, f->compute);
		for (int k = 0; k < TL_SHOWN_GROUPS; k++)
			fprintf(out, " %.4f |", f->comm[k]);
		fprintf(out, " %.4f | %.4f | %.4f |\n", f->bubble, f->optimizer, f->other);
	}
}

static void md_collectives(const struct tl_report_group *g, const struct tl_report_inputs *in,
			   FILE *out)
{
	bool any = false;

	for (size_t i = 0; i < g->count; i++) {
		const json_t *colls = json_object_get(in->runs[g->runs[i]].doc, "collectives");
		const json_t *c;
		size_t j;
		json_array_foreach (colls, j, c) {
			if (!any) {
				fprintf(out, "\n### Collectives\n\n| ranks | op | group | group size "
					     "| calls/step | bytes/call | time/call (us) | algbw "
					     "(GB/s) | busbw (GB/s) |\n"
					     "|---:|---|---|---:|---:|---:|---:|---:|---:|\n");
				any = true;
			}
			fprintf(out, "| %d | %s | %s | %lld | %lld | %lld | %.1f | %.3f | %.3f |\n",
				in->runs[g->runs[i]].ranks,
				text(c, "op"),
				text(c, "group"),
				(long long)json_integer_value(json_object_get(c, "group_size")),
				(long long)json_number_value(json_object_get(c, "count_per_step")),
				(long long)json_integer_value(json_object_get(c, "bytes")),
				json_number_value(json_object_get(c, "time_us")),
				json_number_value(json_object_get(c, "algbw_gbps")),
				json_number_value(json_object_get(c, "busbw_gbps")));
		}
	}
	if (!any)
		fprintf(out, "\n### Collectives\n\nNone measured (no group of two or more ranks).\n");
}

/* A fit is the job's when its runs measured that traffic or a prediction needed it; a sweep's
 * points over other groups are not. */
static bool shown(const struct tl_coll_fit *f)
{
	return f->used || f->points > f->sweep_points;
}

/* 1/β in GB/s of bus bytes: the bandwidth the fit sees. */
static double fit_gbps(const struct tl_coll_fit *f)
{
	return f->beta_s_per_byte > 0 ? 1e-9 / f->beta_s_per_byte : 0;
}

static void md_model(const struct tl_report_group *g, FILE *out)
{
	const struct tl_rates *r = &g->rates;
	char a[16], b[16];

	fprintf(out, "\n### Model of the step\n\n");
	if (g->nfits) {
		fprintf(out, "Collectives fitted as time = α + β · bus bytes (bus bytes = payload x "
			     "the busbw factor of the op and group size):\n\n"
			     "| op | group | points | from sweeps | α (us) | 1/β (GB/s) |\n"
			     "|---|---|---:|---:|---:|---:|\n");
		for (size_t i = 0; i < g->nfits; i++) {
			const struct tl_coll_fit *f = &g->fits[i];
			if (!shown(f))
				continue;
			fprintf(out, "| %s | %s | %zu | %zu | %.1f | %.3f |\n",
				tl_op_kind_name(f->kind), tl_grid_group_name(f->group), f->points,
				f->sweep_points, f->alpha_s * 1e6, fit_gbps(f));
		}
		fprintf(out, "\n");
	}
	if (!g->have_rates) {
		fprintf(out, "No rates: the largest run's job does not rebuild.\n");
		return;
	}
	fprintf(out, "Rates from the %d-rank run: compute %.2f GFLOP/s per rank (GEMM FLOPs of "
		     "the plan per second of compute), optimizer %.3f GB/s, bubble %s of compute, "
		     "%s of the data-parallel bucket traffic exposed, other %.4f s.\n",
		r->calibrated_on, r->s_per_flop > 0 ? 1e-9 / r->s_per_flop : 0,
		r->s_per_optimizer_byte > 0 ? 1e-9 / r->s_per_optimizer_byte : 0,
		pct(r->bubble_per_compute, a, sizeof(a)), pct(r->dp_exposed_share, b, sizeof(b)),
		r->other_s);
}

static double predicted_efficiency(const struct tl_report_group *g,
				   const struct tl_report_inputs *in, const struct tl_prediction *p)
{
	const struct tl_run *base = &in->runs[g->runs[g->base]];
	double speedup, efficiency;

	tl_scaling_figures(g->scaling, (uint64_t)base->ranks, base->fig.p50, p->ranks, p->step_s,
			   &speedup, &efficiency);
	return efficiency;
}

static void md_projection(const struct tl_report_group *g, const struct tl_report_inputs *in,
			  FILE *out)
{
	char tok[32], a[16];

	if (!g->npredictions)
		return;
	fprintf(out, "\n### Projection\n\nPredicted against measured at the measured scales "
		     "first: how far to trust the rows after them.\n\n"
		     "| ranks | nodes | predicted step (s) | measured step (s) | error | tokens/s "
		     "| efficiency |\n|---:|---:|---:|---:|---:|---:|---:|\n");
	for (size_t i = 0; i < g->npredictions; i++) {
		const struct tl_prediction *p = &g->predictions[i];
		if (!p->ok) {
			fprintf(out, "| %llu | | n/a | %s | | | %s |\n", (unsigned long long)p->ranks,
				p->measured_s > 0 ? "measured" : "", p->why);
			continue;
		}
		char measured[32] = "", error[32] = "";
		if (p->measured_s > 0) {
			snprintf(measured, sizeof(measured), "%.4f", p->measured_s);
			snprintf(error, sizeof(error), "%+.1f%%",
				 100 * (p->step_s - p->measured_s) / p->measured_s);
		}
		fprintf(out, "| %llu | %llu | %.4f | %s | %s | %s | %s |\n",
			(unsigned long long)p->ranks, (unsigned long long)p->nodes, p->step_s,
			measured, error, tl_grouped(p->tokens_per_s, tok, sizeof(tok)),
			pct(predicted_efficiency(g, in, p), a, sizeof(a)));
	}
}

static void md_stragglers(const struct tl_report_inputs *in, FILE *out)
{
	bool any = false;

	fprintf(out, "\n## Stragglers\n\n");
	for (size_t i = 0; i < in->count; i++) {
		const struct tl_run *run = &in->runs[i];
		const json_t *ranks = json_object_get(run->doc, "ranks"), *rk;
		size_t j;
		if (run->state != TL_RUN_COMPLETE && run->state != TL_RUN_PARTIAL)
			continue;
		json_array_foreach (ranks, j, rk) {
			const json_t *s;
			size_t k;
			json_array_foreach (json_object_get(rk, "stragglers"), k, s) {
				if (!any)
					fprintf(out, "| run | ranks | rank | host | cores | phase | "
						     "value | median of its stage | worse |\n"
						     "|---|---:|---:|---|---|---|---:|---:|---:|\n");
				any = true;
				fprintf(out, "| %s | %d | %lld | %s | %s | %s | %.4g | %.4g | %.1f%% |\n",
					base_name(run->path), run->ranks,
					(long long)json_integer_value(json_object_get(rk, "rank")),
					text(rk, "host"),
					text(rk, "cpuset"),
					text(s, "phase"),
					json_number_value(json_object_get(s, "value")),
					json_number_value(json_object_get(s, "median")),
					json_number_value(json_object_get(s, "worse_pct")));
			}
		}
	}
	if (!any)
		fprintf(out, "None: no rank was more than its job's straggler_pct worse than the median "
			     "of its pipeline stage (a stage needs three ranks to tell).\n");
}

static void md_inputs(const struct tl_report_inputs *in, char *const *missing, size_t nmissing,
		      FILE *out)
{
	bool any = nmissing > 0;

	fprintf(out, "\n## Missing and partial runs\n\n");
	for (size_t i = 0; i < in->count; i++)
		any |= in->runs[i].state != TL_RUN_COMPLETE;
	if (!any) {
		fprintf(out, "None: every run finished.\n");
		return;
	}
	fprintf(out, "| file | state | why |\n|---|---|---|\n");
	for (size_t i = 0; i < nmissing; i++)
		fprintf(out, "| | missing | %s |\n", missing[i]);
	for (size_t i = 0; i < in->count; i++)
		if (in->runs[i].state != TL_RUN_COMPLETE)
			fprintf(out, "| %s | %s | %s |\n", in->runs[i].path,
				tl_run_state_name(in->runs[i].state), in->runs[i].why);
}

void tl_report_write_md(const struct tl_report *rep, const struct tl_report_inputs *in,
			char *const *missing, size_t nmissing, FILE *out)
{
	md_header(in, nmissing, out);
	if (!rep->count)
		fprintf(out, "\nNo usable run: nothing to scale.\n");
	for (size_t i = 0; i < rep->count; i++) {
		const struct tl_report_group *g = &rep->groups[i];
		fprintf(out, "\n## %s (job %s): %s scaling, %zu run(s)\n\nScaling: %s.\n",
			g->model_name, g->key, scaling_name(g->scaling), g->count, g->scaling_note);
		md_scaling(g, in, out);
		md_breakdown(g, in, out);
		md_collectives(g, in, out);
		md_model(g, out);
		md_projection(g, in, out);
	}
	md_stragglers(in, out);
	md_inputs(in, missing, nmissing, out);
}

void tl_report_write_csv(const struct tl_report *rep, const struct tl_report_inputs *in, FILE *out)
{
	fprintf(out, "job,model,scaling,nodes,ranks,dp,steps,step_p50_s,step_p95_s,tokens_per_s,"
		     "speedup,efficiency,model_tflops_per_rank,mfu,exposed_comm_share,state,file\n");
	for (size_t i = 0; i < rep->count; i++) {
		const struct tl_report_group *g = &rep->groups[i];
		for (size_t j = 0; j < g->count; j++) {
			const struct tl_run *r = &in->runs[g->runs[j]];
			const struct tl_run_figures *f = &r->fig;
			fprintf(out, "%s,\"%s\",%s,%d,%d,%llu,%zu,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,"
				     "%.6g,%s,\"%s\"\n",
				g->key, g->model_name, scaling_name(g->scaling), r->nodes, r->ranks,
				(unsigned long long)r->dp, f->steps, f->p50, f->p95, f->tokens_per_s,
				g->speedup[j], g->efficiency[j], f->model_tflops_per_rank, f->mfu,
				f->exposed_share, tl_run_state_name(r->state), r->path);
		}
	}
}

static json_t *breakdown_json(double step, double compute, const double *comm, double bubble,
			      double optimizer, double other)
{
	json_t *groups = json_object();

	for (int k = 0; k < TL_SHOWN_GROUPS; k++)
		json_object_set_new(groups, tl_grid_group_name(tl_shown_groups[k]),
				    json_real(comm[k]));
	return json_pack("{s:f, s:f, s:o, s:f, s:f, s:f}", "step", step, "compute", compute,
			 "comm_exposed_by_group", groups, "bubble", bubble, "optimizer", optimizer,
			 "other", other);
}

static json_t *group_json(const struct tl_report_group *g, const struct tl_report_inputs *in)
{
	json_t *runs = json_array(), *fits = json_array(), *proj = json_array();

	for (size_t i = 0; i < g->count; i++) {
		const struct tl_run *r = &in->runs[g->runs[i]];
		const struct tl_run_figures *f = &r->fig;
		json_array_append_new(
			runs,
			json_pack("{s:s, s:s, s:i, s:i, s:I, s:I, s:{s:f, s:f}, s:f, s:f, s:f, s:f, "
				  "s:f, s:f, s:o}",
				  "file", r->path, "state", tl_run_state_name(r->state), "nodes",
				  r->nodes, "ranks", r->ranks, "dp", (json_int_t)r->dp, "steps",
				  (json_int_t)f->steps, "step_time_s", "p50", f->p50, "p95", f->p95,
				  "tokens_per_s", f->tokens_per_s, "speedup", g->speedup[i],
				  "efficiency", g->efficiency[i], "model_tflops_per_rank",
				  f->model_tflops_per_rank, "mfu", f->mfu, "exposed_comm_share",
				  f->exposed_share, "breakdown_s",
				  breakdown_json(f->p50, f->compute, f->comm, f->bubble, f->optimizer,
						 f->other)));
	}
	for (size_t i = 0; i < g->nfits; i++) {
		const struct tl_coll_fit *f = &g->fits[i];
		if (!shown(f))
			continue;
		json_array_append_new(fits, json_pack("{s:s, s:s, s:I, s:I, s:f, s:f, s:f}", "op",
						      tl_op_kind_name(f->kind), "group",
						      tl_grid_group_name(f->group), "points",
						      (json_int_t)f->points, "sweep_points",
						      (json_int_t)f->sweep_points, "alpha_s", f->alpha_s,
						      "beta_s_per_byte", f->beta_s_per_byte,
						      "bus_gbps", fit_gbps(f)));
	}
	for (size_t i = 0; i < g->npredictions; i++) {
		const struct tl_prediction *p = &g->predictions[i];
		json_t *e = json_pack("{s:I, s:b}", "ranks", (json_int_t)p->ranks, "ok", p->ok);
		if (p->measured_s > 0)
			json_object_set_new(e, "measured_s", json_real(p->measured_s));
		if (p->ok)
			json_object_update_new(
				e, json_pack("{s:I, s:f, s:f, s:f, s:o}", "nodes",
					     (json_int_t)p->nodes, "predicted_s", p->step_s,
					     "tokens_per_s", p->tokens_per_s, "efficiency",
					     predicted_efficiency(g, in, p), "breakdown_s",
					     breakdown_json(p->step_s, p->compute_s, p->comm_s,
							    p->bubble_s, p->optimizer_s,
							    p->other_s)));
		else
			json_object_set_new(e, "why", json_string(p->why));
		json_array_append_new(proj, e);
	}
	json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o}", "job", g->key, "model",
				g->model_name, "scaling", scaling_name(g->scaling), "scaling_note",
				g->scaling_note, "runs", runs, "fits", fits, "projection", proj);
	if (g->have_rates) {
		const struct tl_rates *r = &g->rates;
		json_object_set_new(doc, "rates",
				    json_pack("{s:i, s:f, s:f, s:f, s:f, s:f}", "calibrated_on_ranks",
					      r->calibrated_on, "s_per_flop", r->s_per_flop,
					      "s_per_optimizer_byte", r->s_per_optimizer_byte,
					      "bubble_per_compute", r->bubble_per_compute,
					      "dp_exposed_share", r->dp_exposed_share, "other_s",
					      r->other_s));
	}
	return doc;
}

void tl_report_write_json(const struct tl_report *rep, const struct tl_report_inputs *in,
			  char *const *missing, size_t nmissing, FILE *out)
{
	json_t *groups = json_array(), *inputs = json_array(), *miss = json_array();

	for (size_t i = 0; i < rep->count; i++)
		json_array_append_new(groups, group_json(&rep->groups[i], in));
	for (size_t i = 0; i < in->count; i++)
		json_array_append_new(inputs, json_pack("{s:s, s:s, s:s}", "file", in->runs[i].path,
							"state",
							tl_run_state_name(in->runs[i].state), "why",
							in->runs[i].why));
	for (size_t i = 0; i < nmissing; i++)
		json_array_append_new(miss, json_string(missing[i]));
	json_t *doc = json_pack("{s:i, s:s, s:s, s:o, s:o, s:o}", "schema", TL_RESULT_SCHEMA,
				"trainload_version", PACKAGE_VERSION, "conventions",
				tl_report_conventions, "inputs", inputs, "missing", miss, "groups",
				groups);
	json_dumpf(doc, out, JSON_INDENT(2));
	fputc('\n', out);
	json_decref(doc);
}
