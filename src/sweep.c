/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A collective sweep under MPI (include/trainload/sweep.h): for each op and size, warm-up
 * iterations, then timed ones, each timed alone (no barrier inside the loop: a barrier per
 * iteration would time the barrier's skew too); one world barrier before each size so that every
 * group starts it together. The groups are the cpu backend's: the same split of the same grid.
 *
 * Checked iterations fill and compare the buffers as training runs' checks do
 * (include/trainload/check.h). The fill and the comparison lie outside the timed call.
 */
#include "config.h"

#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "backends/cpu.h"
#include "mpi_check.h"
#include "trainload/check.h"
#include "trainload/cli.h"
#include "trainload/grid.h"
#include "trainload/metrics.h"
#include "trainload/model.h"
#include "trainload/result.h"
#include "trainload/sweep.h"
#include "trainload/topo.h"
#include "trainload/watchdog.h"

#define MIB (UINT64_C(1) << 20)
#define ALIGN 64

struct sweep {
	const struct tl_cli *cli;
	const struct tl_job *job;
	struct tl_grid grid;
	MPI_Comm comm;      /* this rank's group */
	MPI_Datatype type;
	MPI_Op sum;         /* MPI_SUM for f32/f64, the backend's user-defined sum for bf16/f16 */
	bool user_sum;
	int n, me, prev, next;   /* group size, index, ring neighbours */
	int wrank, wsize;
	uint64_t elem;
	char host[64];
};

/* One row of the table, as rank 0 keeps it. */
struct row {
	enum tl_sweep_op op;
	struct tl_sweep_point pt;
	double time_us, algbw, busbw, min_us, max_us, p50_us, p95_us;
	uint64_t wrong;
};

static uint64_t round_up(uint64_t x)
{
	return (x + ALIGN - 1) / ALIGN * ALIGN;
}

/* One call of op, blocking or started and waited for. */
static int issue(struct sweep *s, enum tl_sweep_op op, const struct tl_sweep_point *pt, void *sb,
		 void *rb)
{
	int count = (int)pt->count, chunk = (int)pt->chunk, nreq = 1;
	MPI_Request req[2];

	if (s->job->blocking) {
		switch (op) {
		case TL_SWEEP_ALLREDUCE:
			TL_MPI_CHECK(MPI_Allreduce(sb, rb, count, s->type, s->sum, s->comm));
			break;
		case TL_SWEEP_REDUCE_SCATTER:
			TL_MPI_CHECK(MPI_Reduce_scatter_block(sb, rb, chunk, s->type, s->sum,
							      s->comm));
			break;
		case TL_SWEEP_ALLGATHER:
			TL_MPI_CHECK(
				MPI_Allgather(sb, chunk, s->type, rb, chunk, s->type, s->comm));
			break;
		case TL_SWEEP_ALLTOALL:
			TL_MPI_CHECK(MPI_Alltoall(sb, chunk, s->type, rb, chunk, s->type, s->comm));
			break;
		case TL_SWEEP_BROADCAST:
			TL_MPI_CHECK(MPI_Bcast(rb, count, s->type, 0, s->comm));
			break;
		default:
			TL_MPI_CHECK(MPI_Sendrecv(sb, count, s->type, s->next, 0, rb, count,
						  s->type, s->prev, 0, s->comm,
						  MPI_STATUS_IGNORE));
			break;
		}
		return 0;
	}
	switch (op) {
	case TL_SWEEP_ALLREDUCE:
		TL_MPI_CHECK(MPI_Iallreduce(sb, rb, count, s->type, s->sum, s->comm, req));
		break;
	case TL_SWEEP_REDUCE_SCATTER:
		TL_MPI_CHECK(MPI_Ireduce_scatter_block(sb, rb, chunk, s->type, s->sum, s->comm,
						       req));
		break;
	case TL_SWEEP_ALLGATHER:
		TL_MPI_CHECK(MPI_Iallgather(sb, chunk, s->type, rb, chunk, s->type, s->comm, req));
		break;
	case TL_SWEEP_ALLTOALL:
		TL_MPI_CHECK(MPI_Ialltoall(sb, chunk, s->type, rb, chunk, s->type, s->comm, req));
		break;
	case TL_SWEEP_BROADCAST:
		TL_MPI_CHECK(MPI_Ibcast(rb, count, s->type, 0, s->comm, req));
		break;
	default:
		TL_MPI_CHECK(MPI_Irecv(rb, count, s->type, s->prev, 0, s->comm, &req[0]));
		TL_MPI_CHECK(MPI_Isend(sb, count, s->type, s->next, 0, s->comm, &req[1]));
		nreq = 2;
		break;
	}
	TL_MPI_CHECK(MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE));
	return 0;
}

/* A checked iteration of op at pt, as this rank sees it. */
static struct tl_check checked(const struct sweep *s, enum tl_sweep_op op,
			       const struct tl_sweep_point *pt, uint64_t it)
{
	return (struct tl_check){ .op = op, .pt = *pt, .n = (uint64_t)s->n, .me = (uint64_t)s->me,
				  .from = (uint64_t)s->prev, .it = it,
				  .dtype = s->job->sweep_dtype };
}

/* Count the received elements that differ from what a correct op leaves; name the first. */
static uint64_t verify(const struct sweep *s, enum tl_sweep_op op, const struct tl_sweep_point *pt,
		       void *rb, uint64_t it)
{
	struct tl_check c = checked(s, op, pt, it);
	struct tl_check_miss miss;
	uint64_t wrong = tl_check_verify(&c, rb, &miss);

	if (wrong)
		fprintf(stderr,
			"trainload: rank %d (%s): %s of %" PRIu64 " B, iteration %" PRIu64
			": %" PRIu64 " wrong elements (first at %" PRIu64 ": %g, expected %g)\n",
			s->wrank, s->host, tl_sweep_op_name(op), pt->bytes, it, wrong, miss.index,
			miss.got, miss.want);
	return wrong;
}

/* One op at one size: every rank runs it; rank 0 fills row. */
static int run_point(struct sweep *s, enum tl_sweep_op op, uint64_t bytes, struct row *row)
{
	const struct tl_job *job = s->job;
	struct tl_sweep_point pt;
	uint64_t total = job->warmup_iters + job->iters, wrong = 0, all_wrong = 0;
	int rc = 0;

	tl_sweep_point(op, bytes, s->elem, (uint64_t)s->n, &pt);
	row->op = op;
	row->pt = pt;
	uint64_t sbytes = round_up(pt.send_elems * s->elem);
	uint64_t rbytes = round_up(pt.recv_elems * s->elem);
	uint64_t set = sbytes + rbytes, sets = 1;
	if (job->rotate_mb && set)
		sets = (job->rotate_mb * 1000000 + set - 1) / set;
	char *buf = aligned_alloc(ALIGN, sets * set + ALIGN);
	double *times = malloc(job->iters * sizeof(*times));
	double *slowest = malloc(job->iters * sizeof(*slowest));
	if (!buf || !times || !slowest) {
		fprintf(stderr,
			"trainload: rank %d (%s): out of memory for %" PRIu64 " B buffers\n",
			s->wrank, s->host, sets * set);
		rc = TL_ENOMEM;
		goto out;
	}
	/* Touch every page before timing, so that first-touch faults are not timed. */
	memset(buf, 0, sets * set + ALIGN);

	TL_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
	for (uint64_t it = 0; it < total; it++) {
		bool timed = it >= job->warmup_iters;
		uint64_t k = timed ? it - job->warmup_iters : 0;
		bool check = timed && job->sweep_check && k % job->sweep_check == 0;
		char *sb = buf + (it % sets) * set, *rb = sb + sbytes;

		if (check) {
			struct tl_check c = checked(s, op, &pt, k);
			tl_check_fill(&c, sb, rb);
		}
		tl_watchdog_enter(&(struct tl_where){
			.what = tl_sweep_op_name(op), .phase = "sweep", .group = job->sweep_group,
			.step = (int64_t)it, .microbatch = -1, .layer = -1, .peer = -1,
			.bytes = pt.bytes });
		if (tl_watchdog_stall_due((int64_t)it))
			tl_watchdog_stall(); /* TRAINLOAD_TEST_STALL: for testing only */
		double t0 = MPI_Wtime();
		rc = issue(s, op, &pt, sb, rb);
		double t = MPI_Wtime() - t0;
		if (rc)
			goto out;
		tl_watchdog_leave();
		if (timed)
			times[k] = t;
		if (check)
			wrong += verify(s, op, &pt, rb, k);
	}

	double mean = 0, agg = 0;
	for (uint64_t k = 0; k < job->iters; k++)
		mean += times[k];
	mean /= (double)job->iters;
	MPI_Op how = s->cli->rank_agg == TL_RANK_AGG_MIN   ? MPI_MIN
		     : s->cli->rank_agg == TL_RANK_AGG_AVG ? MPI_SUM
							   : MPI_MAX;
	TL_MPI_CHECK(MPI_Reduce(&mean, &agg, 1, MPI_DOUBLE, how, 0, MPI_COMM_WORLD));
	TL_MPI_CHECK(MPI_Reduce(times, slowest, (int)job->iters, MPI_DOUBLE, MPI_MAX, 0,
				MPI_COMM_WORLD));
	TL_MPI_CHECK(MPI_Reduce(&wrong, &all_wrong, 1, MPI_UINT64_T, MPI_SUM, 0, MPI_COMM_WORLD));
	if (s->cli->rank_agg == TL_RANK_AGG_AVG)
		agg /= (double)s->wsize;
	if (s->wrank == 0) {
		row->time_us = agg * 1e6;
		row->algbw = tl_algbw_gbps(pt.bytes, agg);
		row->busbw = row->algbw * tl_sweep_busbw_factor(op, (uint64_t)s->n);
		row->wrong = all_wrong;
		row->min_us = tl_percentile(slowest, job->iters, 0) * 1e6;
		row->max_us = tl_percentile(slowest, job->iters, 100) * 1e6;
		row->p50_us = tl_percentile(slowest, job->iters, 50) * 1e6;
		row->p95_us = tl_percentile(slowest, job->iters, 95) * 1e6;
	}
out:
	free(buf);
	free(times);
	free(slowest);
	return rc;
}

static const char *agg_name(int agg)
{
	return agg == TL_RANK_AGG_MIN ? "min" : agg == TL_RANK_AGG_AVG ? "avg" : "max";
}

static void print_header(const struct sweep *s, const struct tl_env *env, int nodes, FILE *out)
{
	const struct tl_job *job = s->job;
	const char *group = tl_job_enum_name("sweep", "group", job->sweep_group);
	struct tl_topo topo;
	uint64_t llc = 0;

	if (tl_topo_discover(&topo) == 0) {
		llc = topo.llc_bytes;
		tl_topo_free(&topo);
	}
	fprintf(out,
		"# trainload %s  collective sweep  ranks %d = dp %" PRIu64 " x pp %" PRIu64
		" x tp %" PRIu64 " (ep %" PRIu64 ")\n",
		PACKAGE_VERSION, s->wsize, job->dp, job->pp, job->tp, job->ep);
	fprintf(out, "# nodes %d (%s)  %s\n", nodes, env->hosts ? env->hosts : "",
		env->mpi_version);
	fprintf(out, "# group %s of %d ranks: %" PRIu64 " group(s) sweeping at once\n", group,
		s->n, (uint64_t)s->wsize / (uint64_t)s->n);
	fprintf(out,
		"# conventions: GB = 1e9; time = mean per iteration, %s over ranks; algbw = "
		"bytes / time; busbw = algbw x factor as nccl-tests (allreduce 2(n-1)/n; "
		"reduce_scatter, allgather, alltoall (n-1)/n; broadcast, sendrecv 1); bytes = the "
		"larger of input and output\n",
		agg_name(s->cli->rank_agg));
	fprintf(out,
		"# dtype %s  blocking %s  warmup %" PRIu64 "  iters %" PRIu64 "  check ",
		tl_job_enum_name("sweep", "dtype", job->sweep_dtype), job->blocking ? "yes" : "no",
		job->warmup_iters, job->iters);
	if (job->sweep_check)
		fprintf(out, "every %" PRIu64 " iteration(s)", job->sweep_check);
	else
		fprintf(out, "off");
	if (job->rotate_mb)
		fprintf(out, "  cache rotation on (%" PRIu64 " MB", job->rotate_mb);
	else
		fprintf(out, "  cache rotation off (rotate_mb = 0");
	if (llc)
		fprintf(out, "; LLC %.3g MB", (double)llc / 1e6);
	fprintf(out, ")\n");
}

static void print_columns(enum tl_sweep_op op, int n, FILE *out)
{
	fprintf(out, "# %s on %d ranks\n", tl_sweep_op_name(op), n);
	fprintf(out, "#%11s  %12s  %8s  %6s  %9s  %7s  %7s  %6s\n", "size", "count", "type",
		"redop", "time", "algbw", "busbw", "#wrong");
	fprintf(out, "#%11s  %12s  %8s  %6s  %9s  %7s  %7s\n", "(B)", "(elements)", "", "", "(us)",
		"(GB/s)", "(GB/s)");
}

static void print_row(const struct sweep *s, const struct row *r, FILE *out)
{
	fprintf(out, "%12" PRIu64 "  %12" PRIu64 "  %8s  %6s  %9.1f  %7.2f  %7.2f  %6" PRIu64 "\n",
		r->pt.bytes, r->pt.count, tl_dtype_name(s->job->sweep_dtype),
		tl_sweep_op_reduces(r->op) ? "sum" : "none", r->time_us, r->algbw, r->busbw,
		r->wrong);
	fflush(out);
}

/* Mean busbw of an op's rows over sizes >= 1 MiB (all rows when none is that large). */
static double mean_busbw(const struct row *rows, size_t n, bool *all_sizes)
{
	double sum = 0;
	size_t k = 0;

	for (size_t i = 0; i < n; i++)
		if (rows[i].pt.bytes >= MIB) {
			sum += rows[i].busbw;
			k++;
		}
	*all_sizes = k == 0;
	if (k == 0)
		for (size_t i = 0; i < n; i++, k++)
			sum += rows[i].busbw;
	return k ? sum / (double)k : 0;
}

static json_t *document(const struct sweep *s, const struct tl_env *env, int nodes,
			const struct row *rows, size_t nrows)
{
	const struct tl_job *job = s->job;
	json_t *colls = json_array();
	const char *group = tl_job_enum_name("sweep", "group", job->sweep_group);

	for (size_t i = 0; i < nrows; i++) {
		const struct row *r = &rows[i];
		json_array_append_new(
			colls,
			json_pack("{s:s, s:s, s:i, s:I, s:I, s:s, s:b, s:f, s:f, s:f, s:I, s:f, "
				  "s:f, s:f, s:f}",
				  "op", tl_sweep_op_name(r->op), "group", group, "group_size", s->n,
				  "bytes", (json_int_t)r->pt.bytes, "count",
				  (json_int_t)r->pt.count,
				  "dtype", tl_job_enum_name("sweep", "dtype", job->sweep_dtype),
				  "blocking", job->blocking, "time_us", r->time_us, "algbw_gbps",
				  r->algbw, "busbw_gbps", r->busbw, "wrong", (json_int_t)r->wrong,
				  "time_us_min", r->min_us, "time_us_max", r->max_us, "time_us_p50",
				  r->p50_us, "time_us_p95", r->p95_us));
	}
	return json_pack("{s:i, s:s, s:o, s:o, s:{s:s, s:s, s:s, s:o*}, s:{s:s, s:s}, s:o}",
			 "schema", 1, "trainload_version", PACKAGE_VERSION, "job",
			 tl_job_to_json(job), "world", tl_world_json(job, s->wsize, nodes),
			 "environment", "hosts", env->hosts ? env->hosts : "", "mpi_version",
			 env->mpi_version, "command_line", env->command_line, "slurm",
			 tl_slurm_json(&env->slurm), "conventions", "time_us",
			 agg_name(s->cli->rank_agg), "gb", "1e9", "collectives", colls);
}

static int setup(struct sweep *s)
{
	int rc;

	snprintf(s->host, sizeof(s->host), "?");
	gethostname(s->host, sizeof(s->host) - 1);
	TL_MPI_CHECK(MPI_Comm_rank(MPI_COMM_WORLD, &s->wrank));
	TL_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &s->wsize));
	tl_grid_init(&s->grid, s->job, (uint64_t)s->wsize, 0);
	rc = tl_cpu_group_comm(&s->grid, (uint64_t)s->wrank, s->job->sweep_group, MPI_COMM_WORLD,
			       &s->comm);
	if (rc)
		return rc;
	TL_MPI_CHECK(MPI_Comm_size(s->comm, &s->n));
	TL_MPI_CHECK(MPI_Comm_rank(s->comm, &s->me));
	s->next = (s->me + 1) % s->n;
	s->prev = (s->me + s->n - 1) % s->n;
	s->elem = tl_dtype_bytes(s->job->sweep_dtype);
	rc = tl_cpu_sum_op(s->job->sweep_dtype, &s->type, &s->sum);
	if (rc)
		return rc;
	s->user_sum = true;
	if (s->job->sweep_dtype == TL_DTYPE_F32 || s->job->sweep_dtype == TL_DTYPE_F64) {
		/* MPI's own sum is exact on these small integers and what users compare with. */
		MPI_Op_free(&s->sum);
		s->user_sum = false;
		s->sum = MPI_SUM;
	}
	return 0;
}

int tl_sweep_run(const struct tl_cli *cli, const struct tl_job *job, const struct tl_env *env,
		 int nodes)
{
	struct sweep s = { .cli = cli, .job = job, .comm = MPI_COMM_NULL };
	enum tl_sweep_op ops[TL_SWEEP_OPS];
	struct tl_diag diag = { 0 };
	int nops = tl_sweep_parse_ops(job, ops, &diag);
	size_t nsizes = tl_sweep_sizes(job, NULL, 0);
	uint64_t *sizes = calloc(nsizes ? nsizes : 1, sizeof(*sizes));
	struct row *rows = calloc((size_t)(nops > 0 ? nops : 1) * (nsizes ? nsizes : 1),
				  sizeof(*rows));
	FILE *out = cli->quiet ? NULL : stdout;
	size_t nrows = 0;
	int rc = nops < 0 ? TL_EINPUT : 0, status = TL_EXIT_OK;
	uint64_t wrong = 0;

	tl_diag_free(&diag);
	if (!sizes || !rows)
		rc = TL_ENOMEM;
	if (!rc) {
		tl_sweep_sizes(job, sizes, nsizes);
		rc = setup(&s);
	}
	if (!rc && s.wrank == 0 && out)
		print_header(&s, env, nodes, out);
	for (int o = 0; !rc && o < nops; o++) {
		size_t first = nrows;
		uint64_t last = 0;

		if (s.wrank == 0 && out)
			print_columns(ops[o], s.n, out);
		for (size_t k = 0; !rc && k < nsizes; k++) {
			struct tl_sweep_point pt;
			tl_sweep_point(ops[o], sizes[k], s.elem, (uint64_t)s.n, &pt);
			/* Sizes that round to nothing or to the previous size say nothing new. */
			if (pt.bytes == 0 || pt.bytes == last)
				continue;
			last = pt.bytes;
			rc = run_point(&s, ops[o], sizes[k], &rows[nrows]);
			if (!rc && s.wrank == 0) {
				if (out)
					print_row(&s, &rows[nrows], out);
				wrong += rows[nrows].wrong;
			}
			nrows++;
		}
		if (rc || s.wrank != 0)
			continue;
		bool all_sizes;
		double avg = mean_busbw(rows + first, nrows - first, &all_sizes);
		if (out)
			fprintf(out, "# Avg bus bandwidth    : %.3f GB/s (%s, mean over %s)\n", avg,
				tl_sweep_op_name(ops[o]),
				all_sizes ? "all sizes: none >= 1 MiB" : "sizes >= 1 MiB");
		if (cli->min_busbw > 0 && avg < cli->min_busbw) {
			fprintf(stderr,
				"trainload: %s: mean busbw %.3f GB/s over %s is below --min-busbw "
				"%g\n",
				tl_sweep_op_name(ops[o]), avg,
				all_sizes ? "all sizes (none >= 1 MiB)" : "sizes >= 1 MiB",
				cli->min_busbw);
			status = TL_EXIT_RUN_FAILED;
		}
	}
	if (rc) {
		fprintf(stderr, "trainload: rank %d (%s): sweep failed (%s)\n", s.wrank, s.host,
			rc == TL_ENOMEM ? "out of memory" : "see above");
		MPI_Abort(MPI_COMM_WORLD, TL_EXIT_RUN_FAILED);
	}
	if (s.wrank == 0) {
		if (wrong) {
			fprintf(stderr,
				"trainload: %" PRIu64 " wrong elements in all: collective results "
				"are not correct (the ranks that saw them are named above)\n",
				wrong);
			status = TL_EXIT_RUN_FAILED;
		}
		if (out)
			fflush(out);
		if (cli->output) {
			json_t *doc = document(&s, env, nodes, rows, nrows);
			if (tl_json_write(doc, cli->output))
				status = TL_EXIT_RUN_FAILED;
			json_decref(doc);
		}
	}
	/* Every rank exits with rank 0's verdict. */
	MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
	if (s.user_sum)
		MPI_Op_free(&s.sum);
	if (s.comm != MPI_COMM_NULL)
		MPI_Comm_free(&s.comm);
	free(sizes);
	free(rows);
	return status;
}
