/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * trainload-report's outputs: Markdown (the report a team takes to a meeting), CSV (the scaling
 * table, one row per run) and JSON (everything, for scripts). Every figure comes from
 * struct tl_report and the runs; nothing is computed here but formatting.
 */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_write.h"
#include "trainload/metrics.h"
#include "trainload/peak.h"
#include "trainload/result.h"

const char tl_report_conventions[] =
	"step time = p50 over the measured steps of the slowest rank's step; breakdown = p50 of "
	"each part; GB = 1e9 bytes; model FLOPs = forward + backward GEMMs (no recompute), per "
	"step; MFU = model FLOPs per step / step time / (ranks x peak per rank), the peak each run "
	"says (--peak-tflops, a GPU's datasheet, a CPU's measured clock x FMA width x FMA units, "
	"or where none is known the calibrated BLAS peak); repeats (runs of one job at one world "
	"size) are aggregated: mean, min and max of their step times; N = ranks / ranks of the "
	"job's smallest run; "
	"weak scaling: speedup = N x t1/tN, efficiency = t1/tN; strong scaling: speedup = t1/tN, "
	"efficiency = t1/(N x tN); collective times = max over ranks of the per-call mean; busbw "
	"as nccl-tests";

/* A string member of a result, "?" when it is missing or not a string: the files are users'. */
/* A bandwidth cell in GB/s: three decimals, and below 1 GB/s at least three significant digits
 * (tl_fmt_gbps), so that a slow link does not read 0.006 or 0.000. buf is returned. */
static const char *gbps_cell(double gbps, char *buf, size_t len)
{
	if (gbps > 0 && gbps < 1)
		return tl_fmt_gbps(gbps, 0, buf, len);
	snprintf(buf, len, "%.3f", gbps);
	return buf;
}

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

/* ---------------------------------------------------------------- a run's facts */

static const json_t *env_of(const struct tl_run *r)
{
	return json_object_get(r->doc, "environment");
}

/* A string member as a table cell: "not recorded" when the file does not have it (results of
 * versions before it was kept). '|' would end the cell: files are users'. */
static const char *cell(const json_t *obj, const char *key, char *buf, size_t len)
{
	const char *s = json_string_value(json_object_get(obj, key));
	size_t out = 0;

	if (!s || !*s)
		return "not recorded";
	for (; *s && out + 2 < len; s++)
		buf[out++] = *s == '|' ? '/' : *s;
	buf[out] = '\0';
	return buf;
}

/* A member of a result copied into the report's JSON, null when the file lacks it. */
static json_t *copy_or_null(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);
	return v ? json_deep_copy(v) : json_null();
}

static const char *oversubscribed_cell(const struct tl_run *r)
{
	const json_t *o = json_object_get(env_of(r), "oversubscribed");
	return json_is_boolean(o) ? (json_is_true(o) ? "yes" : "no") : "not recorded";
}

/* What a run's warnings are judged on, read back from its file (trainload/result.h), so that
 * the report says what the run's summary said, of old files too. */
static json_t *run_warnings(const struct tl_run *r)
{
	const json_t *env = env_of(r), *summary = json_object_get(r->doc, "summary");
	const json_t *twin = json_object_get(json_object_get(r->doc, "twin"), "gemm");
	const char *config = json_string_value(json_object_get(env, "blas_config"));
	struct tl_findings f = {
		.mfu = r->fig.mfu,
		.peak_tflops = r->peak_tflops_per_rank,
		.peak_source = json_string_value(json_object_get(summary, "peak_source")),
		.twin_flagged = json_is_true(json_object_get(twin, "flagged")),
		.twin_rank = (int)json_integer_value(json_object_get(twin, "rank")),
		.twin_ratio = json_number_value(json_object_get(twin, "ratio")),
		.oversubscribed = json_is_true(json_object_get(env, "oversubscribed")),
		.blas_kernel = json_string_value(json_object_get(env, "blas_core")),
		.blas_advice = json_string_value(json_object_get(env, "blas_kernel_advice")),
		.blas_dynamic = config && strstr(config, "DYNAMIC_ARCH"),
	};
	return tl_warnings_json(&f);
}

size_t tl_report_scales(const struct tl_report_group *g, const struct tl_report_inputs *in,
			struct tl_report_scale *out)
{
	size_t n = 0, mfus = 0;

	for (size_t i = 0; i < g->count; i++) {
		const struct tl_run *r = &in->runs[g->runs[i]];
		struct tl_report_scale *sc = &out[n ? n - 1 : 0];
		if (!n || sc->ranks != r->ranks) {
			if (n)
				mfus = 0;
			sc = &out[n++];
			*sc = (struct tl_report_scale){ .ranks = r->ranks, .dp = r->dp, .first = i,
							.p50_min = r->fig.p50,
							.p50_max = r->fig.p50 };
		}
		sc->runs++;
		sc->nodes = r->nodes > sc->nodes ? r->nodes : sc->nodes;
		sc->p50_mean += r->fig.p50;
		sc->p50_min = fmin(sc->p50_min, r->fig.p50);
		sc->p50_max = fmax(sc->p50_max, r->fig.p50);
		sc->exposed_share += r->fig.exposed_share;
		sc->oversubscribed |= json_is_true(json_object_get(env_of(r), "oversubscribed"));
		if (r->fig.mfu > 0) {
			/* a running mean over the runs whose peak is known */
			sc->mfu_mean += (r->fig.mfu - sc->mfu_mean) / (double)++mfus;
		}
	}
	for (size_t k = 0; k < n; k++) {
		struct tl_report_scale *sc = &out[k];
		const struct tl_run *r = &in->runs[g->runs[sc->first]];
		sc->p50_mean /= (double)sc->runs;
		sc->exposed_share /= (double)sc->runs;
		sc->tokens_per_s = tl_tokens_per_s(r->tokens_per_step, sc->p50_mean);
		sc->model_tflops_per_rank =
			tl_model_tflops_per_rank(r->model_flops_per_step, sc->p50_mean, sc->ranks);
		tl_scaling_figures(g->scaling, (uint64_t)out[0].ranks, out[0].p50_mean,
				   (uint64_t)sc->ranks, sc->p50_mean, &sc->speedup, &sc->efficiency);
	}
	return n;
}

const char *tl_report_scaling_warning(const struct tl_report_group *g)
{
	if (g->scaling == g->data_scaling)
		return NULL;
	return g->scaling == TL_SCALING_STRONG
		       ? "--scaling strong was asked, but the global batch grows with the "
			 "data-parallel ranks (weak-scaling data): strong efficiency t1/(N x tN) "
			 "then compares steps of different sizes and reads low"
		       : "--scaling weak was asked, but the global batch is the same at every "
			 "scale (strong-scaling data): weak efficiency t1/tN then compares steps "
			 "of shrinking size and reads high";
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
	struct tl_report_scale *sc = calloc(g->count ? g->count : 1, sizeof(*sc));
	size_t n = sc ? tl_report_scales(g, in, sc) : 0;
	char tok[32], a[16], b[16], c[16];

	fprintf(out, "\n### Scaling\n\nOne row per world size; a size run more than once shows the "
		     "mean of its runs' step times with their min and max, and the other figures "
		     "at the mean.\n\n");
	fprintf(out, "| nodes | ranks | dp | runs | step p50 mean (s) | min (s) | max (s) | "
		     "tokens/s | speedup (x) | efficiency | TFLOP/s/rank | MFU | exposed comm (of "
		     "step) | oversubscribed |\n");
	fprintf(out, "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
	for (size_t i = 0; i < n; i++)
		fprintf(out, "| %d | %d | %llu | %zu | %.4f | %.4f | %.4f | %s | %.2f | %s | %.4f | %s "
			     "| %s | %s |\n",
			sc[i].nodes, sc[i].ranks, (unsigned long long)sc[i].dp, sc[i].runs,
			sc[i].p50_mean, sc[i].p50_min, sc[i].p50_max,
			tl_grouped(sc[i].tokens_per_s, tok, sizeof(tok)), sc[i].speedup,
			pct(sc[i].efficiency, a, sizeof(a)), sc[i].model_tflops_per_rank,
			sc[i].mfu_mean > 0 ? pct(sc[i].mfu_mean, b, sizeof(b)) : "n/a",
			pct(sc[i].exposed_share, c, sizeof(c)), sc[i].oversubscribed ? "yes" : "no");
	free(sc);
}

/* Every run of the group: when it ran, its own figures, and where MFU's peak came from. */
static void md_runs(const struct tl_report_group *g, const struct tl_report_inputs *in, FILE *out)
{
	char started[40], source[40], mfu[16];

	fprintf(out, "\n### Runs\n\n| run | nodes | ranks | started (UTC) | steps | step p50 (s) | "
		     "step p95 (s) | MFU | peak/rank (TFLOP/s) | peak source | state |\n"
		     "|---|---:|---:|---|---:|---:|---:|---:|---:|---|---|\n");
	for (size_t i = 0; i < g->count; i++) {
		const struct tl_run *r = &in->runs[g->runs[i]];
		const struct tl_run_figures *f = &r->fig;
		fprintf(out, "| %s | %d | %d | %s | %zu | %.4f | %.4f | %s | %.4g | %s | %s |\n",
			base_name(r->path), r->nodes, r->ranks,
			cell(env_of(r), "start_time", started, sizeof(started)), f->steps, f->p50,
			f->p95, f->mfu > 0 ? pct(f->mfu, mfu, sizeof(mfu)) : "n/a",
			r->peak_tflops_per_rank,
			cell(json_object_get(r->doc, "summary"), "peak_source", source, sizeof(source)),
			tl_run_state_name(r->state));
	}
}

/* Where and with what each run ran, and the command that started it. */
static void md_provenance(const struct tl_report_group *g, const struct tl_report_inputs *in,
			  FILE *out)
{
	char hosts[256], cpu[160], gpu[128], version[32], mpi[160], blas[64], kernel[64];

	fprintf(out, "\n### Provenance\n\n| run | hosts | CPU | GPU | trainload | MPI | OpenBLAS "
		     "(kernel) | oversubscribed |\n|---|---|---|---|---|---|---|---|\n");
	for (size_t i = 0; i < g->count; i++) {
		const struct tl_run *r = &in->runs[g->runs[i]];
		const json_t *env = env_of(r);
		fprintf(out, "| %s | %s | %s | %s | %s | %s | %s (%s) | %s |\n", base_name(r->path),
			cell(env, "hosts", hosts, sizeof(hosts)),
			cell(env, "cpu_model", cpu, sizeof(cpu)),
			json_is_null(json_object_get(env, "gpu_model"))
				? "none"
				: cell(env, "gpu_model", gpu, sizeof(gpu)),
			cell(r->doc, "trainload_version", version, sizeof(version)),
			cell(env, "mpi_version", mpi, sizeof(mpi)),
			cell(env, "blas_version", blas, sizeof(blas)),
			cell(env, "blas_core", kernel, sizeof(kernel)), oversubscribed_cell(r));
	}
	fprintf(out, "\nCommand lines:\n\n");
	for (size_t i = 0; i < g->count; i++) {
		const struct tl_run *r = &in->runs[g->runs[i]];
		fprintf(out, "- %s: `%s`\n", base_name(r->path),
			text(env_of(r), "command_line"));
	}
}

/* The runs' warnings, as their summaries printed them (judged again from the files): each one
 * once, with the runs that gave it. */
static void md_warnings(const struct tl_report_group *g, const struct tl_report_inputs *in,
			FILE *out)
{
	const char *scaling = tl_report_scaling_warning(g);
	json_t *seen = json_object(); /* warning -> the runs that gave it, in order */
	json_t *order = json_array();
	const char *text;
	json_t *runs;

	fprintf(out, "\n### Warnings\n\n");
	if (scaling)
		fprintf(out, "- scaling: %s\n", scaling);
	for (size_t i = 0; i < g->count; i++) {
		const struct tl_run *r = &in->runs[g->runs[i]];
		json_t *w = run_warnings(r), *v;
		size_t k;
		json_array_foreach (w, k, v) {
			text = json_string_value(v);
			if (!(runs = json_object_get(seen, text))) {
				json_object_set_new(seen, text, runs = json_array());
				json_array_append(order, v);
			}
			json_array_append_new(runs, json_string(base_name(r->path)));
		}
		json_decref(w);
	}
	size_t k, j;
	json_t *v, *name;
	json_array_foreach (order, k, v) {
		runs = json_object_get(seen, json_string_value(v));
		fprintf(out, "- ");
		json_array_foreach (runs, j, name)
			fprintf(out, "%s%s", j ? ", " : "", json_string_value(name));
		fprintf(out, ": %s\n", json_string_value(v));
	}
	if (!scaling && !json_array_size(order))
		fprintf(out, "None.\n");
	json_decref(seen);
	json_decref(order);
}

static void md_breakdown(const struct tl_report_group *g, const struct tl_report_inputs *in,
			 FILE *out)
{
	fprintf(out, "\n### Where the time goes (seconds per step; slowest rank, p50 of each part; "
		     "X_comm: exposed communication of group X; bubble: pipeline wait)\n\n");
	fprintf(out, "| run | ranks | step (s) | compute (s) |");
	for (int k = 0; k < TL_SHOWN_GROUPS; k++)
		fprintf(out, " %s (s) |", tl_comm_part_names[k]);
	fprintf(out, " bubble (s) | optimizer (s) | other (s) |\n|---|---:|---:|---:|");
	for (int k = 0; k < TL_SHOWN_GROUPS; k++)
		fprintf(out, "---:|");
	fprintf(out, "---:|---:|---:|\n");
	for (size_t i = 0; i < g->count; i++) {
		const struct tl_run *r = &in->runs[g->runs[i]];
		const struct tl_run_figures *f = &r->fig;
		fprintf(out, "| %s | %d | %.4f | %.4f |", base_name(r->path), r->ranks, f->p50,
			f->compute);
		for (int k = 0; k < TL_SHOWN_GROUPS; k++)
			fprintf(out, " %.4f |", f->comm[k]);
		fprintf(out, " %.4f | %.4f | %.4f |\n", f->bubble, f->optimizer, f->other);
	}
}

static void md_collectives(const struct tl_report_group *g, const struct tl_report_inputs *in,
			   FILE *out)
{
	char alg[24], bus[24];
	bool any = false, overlapped = false;

	for (size_t i = 0; i < g->count; i++) {
		const json_t *colls = json_object_get(in->runs[g->runs[i]].doc, "collectives");
		const json_t *c;
		size_t j;
		json_array_foreach (colls, j, c) {
			bool nb = json_is_true(json_object_get(c, "nonblocking"));
			if (!any) {
				fprintf(out, "\n### Collectives\n\n| ranks | op | group | group size "
					     "| nb | calls/step | bytes/call (B) | time/call (us) | "
					     "algbw (GB/s) | busbw (GB/s) |\n"
					     "|---:|---|---|---:|---|---:|---:|---:|---:|---:|\n");
				any = true;
			}
			overlapped |= nb;
			fprintf(out, "| %d | %s | %s | %lld | %s | %lld | %lld | %.1f |",
				in->runs[g->runs[i]].ranks, text(c, "op"), text(c, "group"),
				(long long)json_integer_value(json_object_get(c, "group_size")),
				nb ? "yes" : "no",
				(long long)json_number_value(json_object_get(c, "count_per_step")),
				(long long)json_integer_value(json_object_get(c, "bytes")),
				json_number_value(json_object_get(c, "time_us")));
			/* An overlapped op's time holds the compute it overlapped: as a bandwidth
			 * it would read as a broken link. */
			if (nb)
				fprintf(out, " overlapped | overlapped |\n");
			else
				fprintf(out, " %s | %s |\n",
					gbps_cell(json_number_value(json_object_get(c, "algbw_gbps")),
						  alg, sizeof(alg)),
					gbps_cell(json_number_value(json_object_get(c, "busbw_gbps")),
						  bus, sizeof(bus)));
		}
	}
	if (!any)
		fprintf(out, "\n### Collectives\n\nNone measured (no group of two or more ranks).\n");
	else if (overlapped)
		fprintf(out, "\nnb yes: non-blocking, overlapped with compute; its time runs from its "
			     "start to the test or wait that found it complete, so it includes the "
			     "compute it overlapped and is no link speed: no bandwidth is shown for it. "
			     "The blocking ones, and the sweeps below, are.\n");
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

/* A fit's class as tables print it. */
static const char *class_cell(const struct tl_coll_fit *f, char *buf, size_t len)
{
	if (f->ranks_per_node)
		snprintf(buf, len, "across nodes, %llu per node", (unsigned long long)f->ranks_per_node);
	else
		snprintf(buf, len, "inside a node");
	return buf;
}

static void md_model(const struct tl_report_group *g, FILE *out)
{
	const struct tl_rates *r = &g->rates;
	char a[16], b[16], bus[24], cls[48], sizes[48], spans[48];

	fprintf(out, "\n### Model of the step\n\n");
	if (g->nfits) {
		fprintf(out, "Collectives fitted to their blocking transfer times (never to overlapped "
			     "ones), per op, group and class (inside a node, or across nodes with so "
			     "many ranks of the group per node), as time = α + β · (n / n_max)^γ · bus "
			     "bytes for a group of n ranks (bus bytes = payload x the busbw factor of "
			     "the op and n; γ > 0: the bus bandwidth falls as groups grow); worst "
			     "residual: the largest |fit - measured| / measured of its points:\n\n"
			     "| op | group | class | group sizes | nodes | points | from sweeps | α (us) "
			     "| 1/β at n_max (GB/s) | γ | worst residual |\n"
			     "|---|---|---|---|---|---:|---:|---:|---:|---:|---:|\n");
		for (size_t i = 0; i < g->nfits; i++) {
			const struct tl_coll_fit *f = &g->fits[i];
			if (!shown(f))
				continue;
			fprintf(out, "| %s | %s | %s | %s | %s | %zu | %zu | %.1f | %s | %.2f | %.1f%% |\n",
				tl_op_kind_name(f->kind), tl_grid_group_name(f->group),
				class_cell(f, cls, sizeof(cls)),
				tl_report_range(f->min_size, f->max_size, sizes, sizeof(sizes)),
				tl_report_range(f->min_nodes, f->max_nodes, spans, sizeof(spans)),
				f->points, f->sweep_points, f->alpha_s * 1e6,
				gbps_cell(fit_gbps(f), bus, sizeof(bus)), f->gamma, 100 * f->residual_max);
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

/* The most nodes any run of the group ran on. */
static uint64_t measured_nodes(const struct tl_report_group *g, const struct tl_report_inputs *in)
{
	uint64_t most = 0;

	for (size_t i = 0; i < g->count; i++)
		if ((uint64_t)in->runs[g->runs[i]].nodes > most)
			most = (uint64_t)in->runs[g->runs[i]].nodes;
	return most;
}

/* What a prediction rests on: a measured scale, a scale within the measured node counts, or one
 * past the largest (an extrapolation). */
static const char *basis(const struct tl_prediction *p, uint64_t most_nodes)
{
	return p->measured_runs ? "measured" : p->nodes > most_nodes ? "extrapolated" : "interpolated";
}

static void md_projection(const struct tl_report_group *g, const struct tl_report_inputs *in,
			  FILE *out)
{
	char tok[32], a[16];
	uint64_t most = measured_nodes(g, in);

	if (!g->npredictions)
		return;
	fprintf(out, "\n### Projection\n\nPredicted against measured at the measured scales "
		     "first: how far to trust the rows after them. Rows past %llu node(s), the most "
		     "measured, are extrapolated: their collectives are priced beyond the group sizes "
		     "and node counts measured.\n\n"
		     "| ranks | nodes | basis | predicted step (s) | measured step (s) | error | "
		     "tokens/s | efficiency | caveat |\n|---:|---:|---|---:|---:|---:|---:|---:|---|\n",
		(unsigned long long)most);
	for (size_t i = 0; i < g->npredictions; i++) {
		const struct tl_prediction *p = &g->predictions[i];
		if (!p->ok) {
			fprintf(out, "| %llu | | %s | n/a | %s | | | | %s |\n",
				(unsigned long long)p->ranks, p->measured_runs ? "measured" : "refused",
				p->measured_s > 0 ? "measured" : "", p->why);
			continue;
		}
		char measured[32] = "", error[32] = "";
		if (p->measured_s > 0) {
			snprintf(measured, sizeof(measured), "%.4f", p->measured_s);
			snprintf(error, sizeof(error), "%+.1f%%",
				 100 * (p->step_s - p->measured_s) / p->measured_s);
		}
		fprintf(out, "| %llu | %llu | %s | %.4f | %s | %s | %s | %s | %s |\n",
			(unsigned long long)p->ranks, (unsigned long long)p->nodes, basis(p, most),
			p->step_s, measured, error, tl_grouped(p->tokens_per_s, tok, sizeof(tok)),
			pct(predicted_efficiency(g, in, p), a, sizeof(a)), p->note);
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
						     "cause | value | median of its stage | unit | "
						     "worse |\n"
						     "|---|---:|---:|---|---|---|---|---:|---:|---|---:|\n");
				any = true;
				const char *unit = json_string_value(json_object_get(s, "unit"));
				if (!unit) /* files before units were kept: the GEMM phase is a rate */
					unit = !strcmp(text(s, "phase"), "gemm") ? "GFLOP/s" : "s/step";
				/* files before causes were kept say none */
				const char *cause = json_string_value(json_object_get(s, "cause"));
				fprintf(out, "| %s | %d | %lld | %s | %s | %s | %s | %.4g | %.4g | %s | "
					     "%.1f%% |\n",
					base_name(run->path), run->ranks,
					(long long)json_integer_value(json_object_get(rk, "rank")),
					text(rk, "host"),
					text(rk, "cpuset"),
					text(s, "phase"), cause ? cause : "",
					json_number_value(json_object_get(s, "value")),
					json_number_value(json_object_get(s, "median")), unit,
					json_number_value(json_object_get(s, "worse_pct")));
			}
		}
	}
	if (!any)
		fprintf(out, "None: no rank was more than its job's straggler_pct and its phase's noise "
			     "worse than the median of its pipeline stage (a stage needs three ranks to "
			     "tell).\n");
}

bool tl_report_listed(const struct tl_run *r)
{
	return r->state == TL_RUN_PARTIAL || r->state == TL_RUN_UNUSABLE;
}

/* The sweeps among the inputs: each (op, group) of each as nccl-tests prints it. */
static void md_sweeps(const struct tl_report_inputs *in, FILE *out)
{
	bool any = false;
	char started[40], alg[24], bus[24];

	for (size_t i = 0; i < in->count; i++) {
		const struct tl_run *r = &in->runs[i];
		const json_t *colls = json_object_get(r->doc, "collectives"), *c, *prev = NULL;
		size_t j;
		if (r->state != TL_RUN_SWEEP)
			continue;
		if (!any)
			fprintf(out, "\n## Collective sweeps\n\nbusbw = algbw x the op's factor "
				     "(nccl-tests'), comparable with the link's bandwidth; the plot "
				     "busbw.svg draws them against size.\n");
		any = true;
		json_array_foreach (colls, j, c) {
			if (!prev || strcmp(text(c, "op"), text(prev, "op")) ||
			    strcmp(text(c, "group"), text(prev, "group")))
				fprintf(out, "\n### %s: %s on %s of %lld ranks (%s, %s; started %s)\n\n"
					     "| size (B) | count (elements) | type | time (us) | "
					     "algbw (GB/s) | busbw (GB/s) | #wrong |\n"
					     "|---:|---:|---|---:|---:|---:|---:|\n",
					base_name(r->path), text(c, "op"), text(c, "group"),
					(long long)json_integer_value(json_object_get(c, "group_size")),
					text(c, "dtype"),
					json_is_false(json_object_get(c, "blocking")) ? "non-blocking"
										      : "blocking",
					cell(env_of(r), "start_time", started, sizeof(started)));
			prev = c;
			fprintf(out, "| %lld | %lld | %s | %.1f | %s | %s | %lld |\n",
				(long long)json_integer_value(json_object_get(c, "bytes")),
				(long long)json_integer_value(json_object_get(c, "count")),
				text(c, "dtype"), json_number_value(json_object_get(c, "time_us")),
				gbps_cell(json_number_value(json_object_get(c, "algbw_gbps")), alg,
					  sizeof(alg)),
				gbps_cell(json_number_value(json_object_get(c, "busbw_gbps")), bus,
					  sizeof(bus)),
				(long long)json_integer_value(json_object_get(c, "wrong")));
		}
	}
}

static void md_inputs(const struct tl_report_inputs *in, char *const *missing, size_t nmissing,
		      FILE *out)
{
	bool any = nmissing > 0;

	fprintf(out, "\n## Missing and partial runs\n\n");
	for (size_t i = 0; i < in->count; i++)
		any |= tl_report_listed(&in->runs[i]);
	if (!any) {
		fprintf(out, "None: every run finished.\n");
		return;
	}
	fprintf(out, "| file | state | why |\n|---|---|---|\n");
	for (size_t i = 0; i < nmissing; i++)
		fprintf(out, "| | missing | %s |\n", missing[i]);
	for (size_t i = 0; i < in->count; i++)
		if (tl_report_listed(&in->runs[i]))
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
		const char *warning = tl_report_scaling_warning(g);
		fprintf(out, "\n## %s (job %s): %s scaling, %zu run(s)\n\nScaling: %s.\n",
			g->model_name, g->key, scaling_name(g->scaling), g->count, g->scaling_note);
		if (warning)
			fprintf(out, "\n**Warning:** %s.\n", warning);
		md_scaling(g, in, out);
		md_runs(g, in, out);
		md_provenance(g, in, out);
		md_warnings(g, in, out);
		md_breakdown(g, in, out);
		md_collectives(g, in, out);
		md_model(g, out);
		md_projection(g, in, out);
	}
	md_sweeps(in, out);
	md_stragglers(in, out);
	md_inputs(in, missing, nmissing, out);
}

void tl_report_write_csv(const struct tl_report *rep, const struct tl_report_inputs *in, FILE *out)
{
	fprintf(out, "job,model,scaling,nodes,ranks,dp,steps,step_p50_s,step_p95_s,tokens_per_s,"
		     "speedup,efficiency,model_tflops_per_rank,mfu,exposed_comm_share,state,file,"
		     "start_time,peak_source,peak_tflops_per_rank,oversubscribed\n");
	for (size_t i = 0; i < rep->count; i++) {
		const struct tl_report_group *g = &rep->groups[i];
		for (size_t j = 0; j < g->count; j++) {
			const struct tl_run *r = &in->runs[g->runs[j]];
			const struct tl_run_figures *f = &r->fig;
			const json_t *env = env_of(r);
			fprintf(out, "%s,\"%s\",%s,%d,%d,%llu,%zu,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,%.6g,"
				     "%.6g,%s,\"%s\",%s,%s,%.6g,%s\n",
				g->key, g->model_name, scaling_name(g->scaling), r->nodes, r->ranks,
				(unsigned long long)r->dp, f->steps, f->p50, f->p95, f->tokens_per_s,
				g->speedup[j], g->efficiency[j], f->model_tflops_per_rank, f->mfu,
				f->exposed_share, tl_run_state_name(r->state), r->path,
				json_string_value(json_object_get(env, "start_time"))
					?: "",
				json_string_value(json_object_get(json_object_get(r->doc, "summary"),
								  "peak_source"))
					?: "",
				r->peak_tflops_per_rank,
				json_is_boolean(json_object_get(env, "oversubscribed"))
					? (json_is_true(json_object_get(env, "oversubscribed")) ? "yes"
												  : "no")
					: "");
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
		json_t *run = json_array_get(runs, i);
		const json_t *env = env_of(r);
		json_object_set_new(run, "start_time", copy_or_null(env, "start_time"));
		json_object_set_new(run, "peak_source",
				    copy_or_null(json_object_get(r->doc, "summary"), "peak_source"));
		json_object_set_new(run, "peak_tflops_per_rank", json_real(r->peak_tflops_per_rank));
		json_object_set_new(run, "oversubscribed", copy_or_null(env, "oversubscribed"));
		json_object_set_new(run, "warnings", run_warnings(r));
	}
	struct tl_report_scale *sc = calloc(g->count ? g->count : 1, sizeof(*sc));
	size_t nscales = sc ? tl_report_scales(g, in, sc) : 0;
	json_t *scales = json_array();
	for (size_t i = 0; i < nscales; i++)
		json_array_append_new(
			scales,
			json_pack("{s:i, s:i, s:I, s:I, s:{s:f, s:f, s:f}, s:f, s:f, s:f, s:f, s:f, "
				  "s:f, s:b}",
				  "nodes", sc[i].nodes, "ranks", sc[i].ranks, "dp",
				  (json_int_t)sc[i].dp, "runs", (json_int_t)sc[i].runs, "step_p50_s",
				  "mean", sc[i].p50_mean, "min", sc[i].p50_min, "max", sc[i].p50_max,
				  "tokens_per_s", sc[i].tokens_per_s, "speedup", sc[i].speedup,
				  "efficiency", sc[i].efficiency, "model_tflops_per_rank",
				  sc[i].model_tflops_per_rank, "mfu", sc[i].mfu_mean,
				  "exposed_comm_share", sc[i].exposed_share, "oversubscribed",
				  sc[i].oversubscribed));
	free(sc);
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
		json_object_update_new(
			json_array_get(fits, json_array_size(fits) - 1),
			json_pack("{s:I, s:[I, I], s:[I, I], s:f, s:f}", "ranks_per_node",
				  (json_int_t)f->ranks_per_node, "group_sizes",
				  (json_int_t)f->min_size, (json_int_t)f->max_size, "nodes",
				  (json_int_t)f->min_nodes, (json_int_t)f->max_nodes, "gamma", f->gamma,
				  "residual_max", f->residual_max));
	}
	uint64_t most = measured_nodes(g, in);
	for (size_t i = 0; i < g->npredictions; i++) {
		const struct tl_prediction *p = &g->predictions[i];
		json_t *e = json_pack("{s:I, s:b, s:s}", "ranks", (json_int_t)p->ranks, "ok", p->ok,
				      "basis", p->ok || p->measured_runs ? basis(p, most) : "refused");
		if (p->measured_s > 0)
			json_object_set_new(e, "measured_s", json_real(p->measured_s));
		if (p->ok && p->note[0])
			json_object_set_new(e, "note", json_string(p->note));
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
	const char *warning = tl_report_scaling_warning(g);
	json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o}", "job", g->key,
				"model", g->model_name, "scaling", scaling_name(g->scaling),
				"scaling_note", g->scaling_note, "data_scaling",
				scaling_name(g->data_scaling), "scaling_warning",
				warning ? json_string(warning) : json_null(), "runs", runs,
				"scales", scales, "fits", fits, "projection", proj);
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
	json_t *sweeps = json_array();
	for (size_t i = 0; i < in->count; i++)
		if (in->runs[i].state == TL_RUN_SWEEP)
			json_array_append_new(
				sweeps,
				json_pack("{s:s, s:o, s:o, s:o}", "file", in->runs[i].path,
					  "start_time", copy_or_null(env_of(&in->runs[i]), "start_time"),
					  "world", copy_or_null(in->runs[i].doc, "world"), "collectives",
					  copy_or_null(in->runs[i].doc, "collectives")));
	json_t *doc = json_pack("{s:i, s:s, s:s, s:o, s:o, s:o, s:o}", "schema", TL_RESULT_SCHEMA,
				"trainload_version", PACKAGE_VERSION, "conventions",
				tl_report_conventions, "inputs", inputs, "missing", miss, "groups",
				groups, "sweeps", sweeps);
	json_dumpf(doc, out, JSON_INDENT(2));
	fputc('\n', out);
	json_decref(doc);
}
