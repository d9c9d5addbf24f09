/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A sweep's output (include/trainload/sweep_out.h). Pure: it formats what the ranks measured.
 *
 * Collectives print nccl-tests' layout, so that a script written against nccl-tests reads ours
 * unchanged: its "# nThread ..." line and "# Using devices" block, a table per test whose rows
 * are size, count, type, redop, root, then time, algbw, busbw and #wrong out of place and the
 * same in place, in nccl-tests' columns, and the two lines that close it, "# Out of bounds
 * values : N OK" and "# Avg bus bandwidth    : X", with nothing after the number. What we say
 * beyond nccl-tests goes on lines of its own, starting "# ". Point-to-point tests print OSU's
 * "# Size" and "Latency (us)" or "Bandwidth (MB/s)" columns. (nccl-tests: src/util.cu of
 * NVIDIA/nccl-tests; OSU: c/util/osu_util_mpi.c of the OSU micro-benchmarks.)
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "trainload/metrics.h"
#include "trainload/sweep_out.h"

#define MIB (UINT64_C(1) << 20)

static const char *agg_name(int agg)
{
	static const char *const names[] = {[TL_RANK_AGG_MAX] = "max",
	                                    [TL_RANK_AGG_AVG] = "avg",
	                                    [TL_RANK_AGG_MIN] = "min",
	                                    [TL_RANK_AGG_RANK0] = "rank0"};
	return agg >= 0 && agg <= TL_RANK_AGG_RANK0 ? names[agg] : "?";
}

static bool checked(const struct tl_sweep_out *o)
{
	return o->job->sweep_check > 0;
}

static const struct tl_sweep_result *result(const struct tl_sweep_out *o,
                                            const struct tl_sweep_row *row, int k)
{
	return &o->results[row->point[k]];
}

/* ---- what a result means ---- */

double tl_sweep_algbw_gbps(const struct tl_sweep_row *row, const struct tl_sweep_result *res)
{
	return tl_algbw_gbps(row->c.bytes, res->time_s);
}

double tl_sweep_busbw_gbps(const struct tl_sweep_out *o, const struct tl_sweep_row *row,
                           const struct tl_sweep_result *res)
{
	return tl_sweep_algbw_gbps(row, res) * row->test.coll->busbw_factor(o->sw->group_size);
}

/* A point-to-point test's figure: one-way latency in us, or OSU's MB/s (1e6 bytes) over all
 * pairs and messages of an iteration. */
double tl_sweep_p2p_value(const struct tl_sweep_out *o, const struct tl_sweep_row *row,
                          const struct tl_sweep_result *res)
{
	int p2p = row->test.p2p;
	double t = res->time_s;

	if (t <= 0)
		return 0;
	if (p2p == TL_P2P_LATENCY)
		return t / 2 * 1e6;
	return (double)row->c.bytes * (double)tl_sweep_p2p_messages(o->job, p2p) *
	       (double)tl_sweep_p2p_pairs(o->sw, p2p) / t / 1e6;
}

/* ---- text ---- */

static const char *osu_title(int p2p)
{
	static const char *const titles[TL_P2PS] = {
	    [TL_P2P_LATENCY] = "OSU MPI Latency Test",
	    [TL_P2P_BW] = "OSU MPI Bandwidth Test",
	    [TL_P2P_BIBW] = "OSU MPI Bi-Directional Bandwidth Test",
	    [TL_P2P_MBW_MR] = "OSU MPI Multiple Bandwidth / Message Rate Test",
	};
	return titles[p2p];
}

void tl_sweep_print_header(const struct tl_sweep_out *o, FILE *out)
{
	const struct tl_job *job = o->job;
	const struct tl_result *r = o->r;
	uint64_t n = o->sw->group_size;

	fprintf(out,
	        "# trainload %s  sweep  ranks %d = dp %" PRIu64 " x pp %" PRIu64 " x tp %" PRIu64
	        " (ep %" PRIu64 ")\n",
	        PACKAGE_VERSION, r->ranks, job->dp, job->pp, job->tp, job->ep);
	fprintf(out, "# nodes %d (%s)  %s  backend %s\n", r->env.nodes,
	        r->env.hosts ? r->env.hosts : "", r->env.mpi_version,
	        tl_job_enum_name("run", "backend", job->backend));
	fprintf(out, "# group %s of %" PRIu64 " ranks: %" PRIu64 " group(s) sweeping at once\n",
	        tl_job_enum_name("sweep", "group", job->sweep_group), n, (uint64_t)r->ranks / n);
	fprintf(out, "# conventions: %s\n", tl_sweep_conventions);
	fprintf(out,
	        "# time = mean per iteration, %s over ranks; dtype %s  blocking %s  warmup %" PRIu64
	        "  iters %" PRIu64 "  check ",
	        agg_name(o->agg), tl_job_enum_name("sweep", "dtype", job->sweep_dtype),
	        job->blocking ? "yes" : "no", job->warmup_iters, job->iters);
	if (checked(o))
		fprintf(out, "%" PRIu64 " iteration(s) per size, after the timed ones",
		        job->sweep_check);
	else
		fprintf(out, "off");
	if (job->rotate_mb)
		fprintf(out, "  cache rotation on (%" PRIu64 " MB", job->rotate_mb);
	else
		fprintf(out, "  cache rotation off (rotate_mb = 0");
	if (r->env.llc_bytes)
		fprintf(out, "; LLC %.3g MB", (double)r->env.llc_bytes / 1e6);
	fprintf(out, ")\n");
	/* nccl-tests' own header, as its parsers expect it. */
	fprintf(out,
	        "# nThread 1 nGpus 1 minBytes %" PRIu64 " maxBytes %" PRIu64 " step: %" PRIu64
	        "(%s) warmup iters: %" PRIu64 " iters: %" PRIu64
	        " agg iters: 1 validation: %d graph: 0\n",
	        job->min_bytes, job->max_bytes, job->step ? job->step : job->factor,
	        job->step ? "bytes" : "factor", job->warmup_iters, job->iters, checked(o) ? 1 : 0);
	fprintf(out, "#\n# Using devices\n");
	for (int i = 0; i < r->ranks; i++) {
		const struct tl_rank_info *ri = &r->rank_info[i];
		char dev[320];
		if (ri->gpu.name[0])
			snprintf(dev, sizeof(dev), "[%s] %s", ri->gpu.pci_bus_id, ri->gpu.name);
		else
			snprintf(dev, sizeof(dev), "[cpus %s] cpu", ri->cpuset);
		fprintf(out, "#  Rank %2d Group %2d Pid %6d on %10s device %2d %s\n", ri->rank,
		        ri->group, ri->pid, ri->host, ri->local_rank, dev);
	}
	fprintf(out, "#\n");
}

void tl_sweep_print_test(const struct tl_sweep_out *o, int t, FILE *out)
{
	const struct tl_sweep_test *test = &o->sw->tests[t];
	char note[512];
	size_t rounded = tl_sweep_rounded(o->sw, o->job, t, note, sizeof(note));
	size_t first = o->sw->test_rows[t];
	/* Where each rank gets a block, sizes round to a whole number of elements per rank. */
	bool blocks = first < o->sw->test_rows[t + 1] &&
	              o->sw->rows[first].c.param != o->sw->rows[first].c.count;

	if (!test->coll) {
		int p2p = test->p2p;
		fprintf(out, "# %s (trainload %s)\n", osu_title(p2p), PACKAGE_VERSION);
		if (p2p == TL_P2P_MBW_MR)
			fprintf(out, "# [ pairs: %" PRIu64 " ] [ window size: %" PRIu64 " ]\n",
			        o->sw->pairs, o->job->window);
	} else {
		fprintf(out, "# %s on %" PRIu64 " ranks\n", test->coll->name, o->sw->group_size);
	}
	if (rounded)
		fprintf(out,
		        "# note: %zu size(s) rounded down to what %s moves (whole %s elements%s): "
		        "%s\n",
		        rounded, tl_sweep_test_name(test), tl_dtype_name(o->job->sweep_dtype),
		        blocks ? ", the same number per rank" : "", note);
	if (!test->coll) {
		const char *what = test->p2p == TL_P2P_LATENCY  ? "Latency (us)"
		                   : test->p2p == TL_P2P_MBW_MR ? "MB/s"
		                                                : "Bandwidth (MB/s)";
		fprintf(out, "%-10s%20s", "# Size", what);
		if (test->p2p == TL_P2P_MBW_MR)
			fprintf(out, "%20s", "Messages/s");
		if (checked(o))
			fprintf(out, "%20s", "Validation");
		fprintf(out, "\n");
		return;
	}
	fprintf(out,
	        "# %10s  %12s  %8s  %6s  %6s           out-of-place                       "
	        "in-place          \n",
	        "", "", "", "", "");
	fprintf(out, "# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s %6s  %7s  %6s  %6s %6s\n", "size",
	        "count", "type", "redop", "root", "time", "algbw", "busbw", "#wrong", "time",
	        "algbw", "busbw", "#wrong");
	fprintf(out, "# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s %6s  %7s  %6s  %6s %6s\n", "(B)",
	        "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)",
	        "(GB/s)", "");
}

/* nccl-tests' time column: two decimals below 100 us, one below 10 ms, none beyond. */
static const char *fmt_time(double us, char *buf, size_t len)
{
	snprintf(buf, len, "%7.*f", us < 100 ? 2 : us < 10000 ? 1 : 0, us);
	return buf;
}

void tl_sweep_print_row(const struct tl_sweep_out *o, size_t r, FILE *out)
{
	const struct tl_sweep_row *row = &o->sw->rows[r];

	if (!row->test.coll) {
		const struct tl_sweep_result *res = result(o, row, 0);
		double v = tl_sweep_p2p_value(o, row, res);
		fprintf(out, "%-10" PRIu64 "%20.2f", row->c.bytes, v);
		if (row->test.p2p == TL_P2P_MBW_MR)
			fprintf(out, "%20.2f", v * 1e6 / (double)row->c.bytes);
		if (checked(o))
			fprintf(out, "%20s", res->wrong ? "Fail" : "Pass");
		fprintf(out, "\n");
		fflush(out);
		return;
	}
	fprintf(out, "%12" PRIu64 "  %12" PRIu64 "  %8s  %6s  %6d", row->c.bytes, row->c.param,
	        tl_dtype_name(o->job->sweep_dtype), row->test.coll->redop, row->test.coll->root);
	for (int k = 0; k < row->npoints; k++) {
		const struct tl_sweep_result *res = result(o, row, k);
		char t[32], alg[32], bus[32], wrong[32];
		snprintf(wrong, sizeof(wrong), "%" PRIu64, res->wrong);
		fprintf(out, "  %7s  %6s  %6s  %5s", fmt_time(res->time_s * 1e6, t, sizeof(t)),
		        tl_fmt_gbps(tl_sweep_algbw_gbps(row, res), 6, alg, sizeof(alg)),
		        tl_fmt_gbps(tl_sweep_busbw_gbps(o, row, res), 6, bus, sizeof(bus)),
		        checked(o) ? wrong : "N/A");
	}
	fprintf(out, "\n");
	fflush(out);
}

double tl_sweep_mean_busbw(const struct tl_sweep_out *o, int t, size_t done, bool large,
                           size_t *counted)
{
	double sum = 0;
	size_t n = 0;

	for (size_t r = o->sw->test_rows[t]; r < o->sw->test_rows[t + 1] && r < done; r++) {
		const struct tl_sweep_row *row = &o->sw->rows[r];
		if (!row->test.coll || (large && row->c.bytes < MIB))
			continue;
		for (int k = 0; k < row->npoints; k++, n++)
			sum += tl_sweep_busbw_gbps(o, row, result(o, row, k));
	}
	*counted = n;
	return n ? sum / (double)n : 0;
}

uint64_t tl_sweep_wrong(const struct tl_sweep_out *o, int t, size_t done)
{
	uint64_t wrong = 0;

	for (size_t r = o->sw->test_rows[t]; r < o->sw->test_rows[t + 1] && r < done; r++)
		for (int k = 0; k < o->sw->rows[r].npoints; k++)
			wrong += result(o, &o->sw->rows[r], k)->wrong;
	return wrong;
}

void tl_sweep_print_end(const struct tl_sweep_out *o, int t, size_t done, FILE *out)
{
	const struct tl_sweep_test *test = &o->sw->tests[t];
	uint64_t wrong = tl_sweep_wrong(o, t, done);
	size_t n_all, n_large;
	double all = tl_sweep_mean_busbw(o, t, done, false, &n_all);
	double large = tl_sweep_mean_busbw(o, t, done, true, &n_large);

	if (!test->coll) {
		if (checked(o))
			fprintf(out, "# %s: %" PRIu64 " wrong elements\n", tl_sweep_test_name(test),
			        wrong);
		return;
	}
	fprintf(out, "# %-20s : %" PRIu64 " %s\n", "Out of bounds values", wrong,
	        wrong ? "FAILED" : "OK");
	fprintf(out, "# %-20s : %g\n", "Avg bus bandwidth", all);
	fprintf(out,
	        "# trainload: %s on %" PRIu64 " ranks: mean busbw %.4g GB/s over %s (out of "
	        "place and in place; the line above: over all sizes, as nccl-tests)\n",
	        test->coll->name, o->sw->group_size, n_large ? large : all,
	        n_large ? "sizes >= 1 MiB" : "all sizes: none >= 1 MiB");
}

/* ---- JSON ---- */

const char tl_sweep_conventions[] =
    "GB = 1e9, MB = 1e6 (OSU's); algbw = bytes / time; busbw = algbw x factor as "
    "nccl-tests (allreduce 2(n-1)/n; reduce_scatter, allgather, alltoall (n-1)/n; broadcast, "
    "sendrecv 1); bytes = the larger of input and output; latency = one way (half a round "
    "trip)";

/* The keys every point of a row has, out of place or in place: times in microseconds. */
static void point_json(json_t *obj, const struct tl_sweep_result *res)
{
	json_object_update_new(
	    obj,
	    json_pack("{s:f, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:i}", "time_us",
	              res->time_s * 1e6, "wrong", (json_int_t)res->wrong, "time_us_min",
	              res->iter_min_s * 1e6, "time_us_max", res->iter_max_s * 1e6, "time_us_p50",
	              res->iter_p50_s * 1e6, "time_us_p95", res->iter_p95_s * 1e6,
	              "time_us_rank_min", res->rank_min_s * 1e6, "time_us_rank_avg",
	              res->rank_avg_s * 1e6, "time_us_rank_max", res->rank_max_s * 1e6,
	              "time_us_rank0", res->rank0_s * 1e6, "ranks_active", res->active));
}

json_t *tl_sweep_row_json(const struct tl_sweep_out *o, size_t r)
{
	const struct tl_sweep_row *row = &o->sw->rows[r];
	const struct tl_job *job = o->job;
	const struct tl_sweep_result *res = result(o, row, 0);
	json_t *e =
	    json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:s, s:b, s:I, s:b}", "op",
	              tl_sweep_test_name(&row->test), "group",
	              tl_job_enum_name("sweep", "group", job->sweep_group), "group_size",
	              (json_int_t)o->sw->group_size, "bytes", (json_int_t)row->c.bytes, "count",
	              (json_int_t)row->c.count, "requested_bytes", (json_int_t)row->requested,
	              "dtype", tl_job_enum_name("sweep", "dtype", job->sweep_dtype), "blocking",
	              job->blocking, "iters", (json_int_t)job->iters, "checked", checked(o));

	point_json(e, res);
	if (!row->test.coll) {
		int p2p = row->test.p2p;
		double v = tl_sweep_p2p_value(o, row, res);
		json_object_set_new(e, "pairs",
		                    json_integer((json_int_t)tl_sweep_p2p_pairs(o->sw, p2p)));
		json_object_set_new(e, "messages_per_iter",
		                    json_integer((json_int_t)tl_sweep_p2p_messages(job, p2p)));
		if (p2p == TL_P2P_LATENCY) {
			json_object_set_new(e, "latency_us", json_real(v));
		} else {
			json_object_set_new(e, "bandwidth_mbps", json_real(v));
			json_object_set_new(e, "messages_per_s",
			                    json_real(v * 1e6 / (double)row->c.bytes));
		}
		return e;
	}
	json_object_update_new(e, json_pack("{s:f, s:f, s:I, s:s, s:i}", "algbw_gbps",
	                                    tl_sweep_algbw_gbps(row, res), "busbw_gbps",
	                                    tl_sweep_busbw_gbps(o, row, res), "call_count",
	                                    (json_int_t)row->c.param, "redop",
	                                    row->test.coll->redop, "root", row->test.coll->root));
	const struct tl_sweep_result *ip = result(o, row, 1);
	json_t *in_place = json_pack("{s:f, s:f}", "algbw_gbps", tl_sweep_algbw_gbps(row, ip),
	                             "busbw_gbps", tl_sweep_busbw_gbps(o, row, ip));
	point_json(in_place, ip);
	json_object_set_new(e, "in_place", in_place);
	return e;
}

json_t *tl_sweep_header_json(const struct tl_sweep_out *o)
{
	const struct tl_result *r = o->r;
	json_t *ranks = json_array();

	for (int i = 0; r->rank_info && i < r->ranks; i++)
		json_array_append_new(ranks, tl_rank_place_json(&r->rank_info[i]));
	return json_pack("{s:i, s:s, s:{s:s, s:s, s:s}, s:o, s:o, s:o, s:o}", "schema",
	                 TL_RESULT_SCHEMA, "trainload_version", PACKAGE_VERSION, "conventions",
	                 "time_us", agg_name(o->agg), "gb", "1e9", "text", tl_sweep_conventions,
	                 "job", tl_job_to_json(o->job), "world",
	                 tl_world_json(o->job, r->ranks, r->env.nodes), "environment",
	                 tl_environment_json(r), "ranks", ranks);
}

json_t *tl_sweep_json(const struct tl_sweep_out *o, size_t done, bool interrupted)
{
	json_t *doc = tl_sweep_header_json(o), *rows = json_array();

	for (size_t r = 0; r < done && r < o->sw->nrows; r++)
		json_array_append_new(rows, tl_sweep_row_json(o, r));
	json_object_set_new(doc, "collectives", rows);
	/* A slow node's link named, as a run names it, where the link was probed (3 nodes or
	 * more, the ranks gathered after the sweep). */
	if (o->r->rank_info && o->r->rank_info[0].link.nodes >= 3)
		json_object_set_new(doc, "stragglers", tl_stragglers_json(o->r));
	tl_status_json(doc, interrupted, o->r);
	return doc;
}
