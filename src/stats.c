/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_check.h"
#include "trainload/metrics.h"
#include "trainload/stats.h"

size_t tl_slowest(const struct tl_step *ranks, size_t n)
{
	size_t worst = 0;

	for (size_t i = 1; i < n; i++)
		if (ranks[i].time_s > ranks[worst].time_s)
			worst = i;
	return worst;
}

int tl_stats_gather_step(const struct tl_step *mine, struct tl_step *all, MPI_Comm comm)
{
	/* Every rank runs the same binary, so the record travels as bytes. */
	TL_MPI_CHECK(MPI_Gather(mine, (int)sizeof(*mine), MPI_BYTE, all, (int)sizeof(*mine),
				MPI_BYTE, 0, comm));
	return 0;
}

/* Fold one rank's stat into the merged list. */
static void merge_one(struct tl_coll_stat *merged, int *n, const struct tl_coll_stat *st)
{
	double mean = st->count ? st->time_s / (double)st->count : 0;
	double transfer = st->transfer_count ? st->transfer_s / (double)st->transfer_count : 0;

	for (int i = 0; i < *n; i++) {
		struct tl_coll_stat *m = &merged[i];
		if (m->kind != st->kind || m->group != st->group || m->bytes != st->bytes ||
		    m->nonblocking != st->nonblocking)
			continue;
		m->count = st->count > m->count ? st->count : m->count;
		m->time_s += st->time_s;
		m->min_s = st->min_s < m->min_s ? st->min_s : m->min_s;
		m->max_s = st->max_s > m->max_s ? st->max_s : m->max_s;
		if (st->count && mean > m->slowest_rank_mean_s)
			m->slowest_rank_mean_s = mean;
		if (st->count && mean < m->fastest_rank_mean_s)
			m->fastest_rank_mean_s = mean;
		if (transfer > m->transfer_s)
			m->transfer_s = transfer;
		m->transfer_count = st->transfer_count > m->transfer_count ? st->transfer_count
									    : m->transfer_count;
		return;
	}
	merged[*n] = *st;
	merged[*n].transfer_s = transfer;
	merged[*n].slowest_rank_mean_s = mean;
	merged[(*n)++].fastest_rank_mean_s = mean;
}

int tl_stats_gather_bytes(const void *mine, int bytes, void **all, int *total, MPI_Comm comm)
{
	int rank, ranks, rc = 0;
	int *counts = NULL, *displs = NULL;

	*all = NULL;
	*total = 0;
	TL_MPI_CHECK(MPI_Comm_rank(comm, &rank));
	TL_MPI_CHECK(MPI_Comm_size(comm, &ranks));
	if (rank == 0) {
		counts = calloc((size_t)ranks, sizeof(*counts));
		displs = calloc((size_t)ranks, sizeof(*displs));
	}
	/* Every rank takes part in both gathers, also when rank 0 is out of memory. */
	TL_MPI_CHECK(MPI_Gather(&bytes, 1, MPI_INT, counts, 1, MPI_INT, 0, comm));
	if (rank == 0 && counts && displs) {
		for (int r = 0; r < ranks; r++) {
			displs[r] = *total;
			*total += counts[r];
		}
		*all = malloc((size_t)*total + 1);
	}
	if (rank == 0 && !*all)
		rc = TL_ENOMEM;
	TL_MPI_CHECK(MPI_Gatherv(mine, bytes, MPI_BYTE, *all, counts, displs, MPI_BYTE, 0, comm));
	free(counts);
	free(displs);
	return rc;
}

int tl_stats_gather_colls(const struct tl_coll_stat *mine, int n, struct tl_coll_stat **merged,
			  int *nmerged, MPI_Comm comm)
{
	int rank, total = 0;
	void *bytes = NULL;

	*merged = NULL;
	*nmerged = 0;
	TL_MPI_CHECK(MPI_Comm_rank(comm, &rank));
	int rc = tl_stats_gather_bytes(mine, n * (int)sizeof(*mine), &bytes, &total, comm);
	if (rc || rank != 0)
		return rc;
	const struct tl_coll_stat *all = bytes;
	*merged = calloc((size_t)total / sizeof(*mine) + 1, sizeof(**merged));
	if (!*merged) {
		free(bytes);
		return TL_ENOMEM;
	}
	/* Every rank runs the same binary, so the stats travel as bytes. */
	for (size_t i = 0; i < (size_t)total / sizeof(*mine); i++)
		merge_one(*merged, nmerged, &all[i]);
	free(bytes);
	return 0;
}

/* ---------------------------------------------------------------- arrival skew */

/* Whether op kind is a collective: every member of its group calls it, in plan order. */
static bool collective(enum tl_op_kind kind)
{
	return tl_op_is_comm(kind) && kind != TL_OP_SEND && kind != TL_OP_RECV;
}

int tl_skew_init(struct tl_skew *sk, const struct tl_grid *grid, const struct tl_plan *plan)
{
	size_t most = 0;

	memset(sk, 0, sizeof(*sk));
	for (int g = 0; g < TL_GROUPS; g++)
		sk->comm[g] = MPI_COMM_NULL;
	sk->ready = true;
	for (int g = 0; g < TL_GROUPS; g++) {
		if (g == TL_GROUP_WORLD || g == TL_GROUP_PP)
			continue; /* the world has no collective of the plan; pp only messages */
		sk->ops[g] = malloc((plan->count + 1) * sizeof(**sk->ops));
		if (!sk->ops[g])
			return TL_ENOMEM;
		for (size_t i = 0; i < plan->count; i++)
			if (collective(plan->ops[i].kind) && plan->ops[i].group == g)
				sk->ops[g][sk->nops[g]++] = i;
		/* Every rank splits for every group, in one order: MPI_Comm_split is collective. */
		MPI_Comm comm;
		uint64_t first = tl_grid_group_member(grid, plan->rank, g, 0);
		TL_MPI_CHECK(MPI_Comm_split(MPI_COMM_WORLD, (int)first,
					    (int)tl_grid_group_index(grid, plan->rank, g), &comm));
		TL_MPI_CHECK(MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN));
		/* The members of a group run plans of one shape; should they not agree on its
		 * collectives, none of them splits this group's time. */
		long n[2] = { (long)sk->nops[g], -(long)sk->nops[g] }, agreed[2];
		TL_MPI_CHECK(MPI_Allreduce(n, agreed, 2, MPI_LONG, MPI_MAX, comm));
		if (tl_grid_group_size(grid, g) < 2 || !sk->nops[g] || agreed[0] != -agreed[1]) {
			MPI_Comm_free(&comm);
			continue;
		}
		sk->comm[g] = comm;
		sk->ref_s[g] = tl_now_s();
		most = sk->nops[g] > most ? sk->nops[g] : most;
	}
	sk->buf = malloc((4 * most + 1) * sizeof(*sk->buf));
	return sk->buf ? 0 : TL_ENOMEM;
}

int tl_skew_step(struct tl_skew *sk, struct tl_exec *ex, struct tl_step *step)
{
	for (int g = 0; g < TL_GROUPS; g++) {
		size_t n = sk->nops[g];
		double *mine = sk->buf, *all = sk->buf + 2 * n;

		step->comm_wait_s[g] = step->comm_late_s[g] = 0;
		if (sk->comm[g] == MPI_COMM_NULL)
			continue;
		/* One call finds the latest and (negated) the earliest arrival of each. */
		for (size_t j = 0; j < n; j++) {
			mine[j] = ex->arrive_s[sk->ops[g][j]] - sk->ref_s[g];
			mine[n + j] = -mine[j];
		}
		TL_MPI_CHECK(MPI_Allreduce(mine, all, (int)(2 * n), MPI_DOUBLE, MPI_MAX,
					   sk->comm[g]));
		sk->ref_s[g] = tl_now_s();
		for (size_t j = 0; j < n; j++) {
			size_t i = sk->ops[g][j];
			double blocked = ex->done_s[i] - ex->arrive_s[i];
			double wait = all[j] - mine[j];
			wait = wait < 0 ? 0 : wait > blocked ? blocked : wait;
			step->comm_wait_s[g] += wait;
			/* A blocking op's time after the last arrival is its transfer time. */
			if (ex->measuring && !ex->plan->ops[i].nonblocking) {
				struct tl_coll_stat *st = &ex->stats[ex->op_stat[i]];
				st->transfer_s += blocked - wait;
				st->transfer_count++;
			}
			step->comm_late_s[g] += mine[j] + all[n + j];
		}
	}
	return 0;
}

void tl_skew_fini(struct tl_skew *sk)
{
	if (!sk->ready)
		return;
	for (int g = 0; g < TL_GROUPS; g++) {
		if (sk->comm[g] != MPI_COMM_NULL)
			MPI_Comm_free(&sk->comm[g]);
		free(sk->ops[g]);
	}
	free(sk->buf);
	memset(sk, 0, sizeof(*sk));
}

int tl_stats_sweep_point(const double *stamps, uint64_t iters, bool active, uint64_t wrong,
			 int agg, struct tl_sweep_result *out, MPI_Comm comm)
{
	double mean = active && iters ? (stamps[iters] - stamps[0]) / (double)iters : 0;
	/* min, -max and the sum of the ranks that took part, and their number */
	double mine[4] = { active ? mean : HUGE_VAL, active ? -mean : HUGE_VAL, active ? mean : 0,
			   active ? 1 : 0 };
	double folded[4] = { 0 }, sums[2] = { mine[2], mine[3] }, summed[2] = { 0 };
	double *iter = calloc(iters + 1, sizeof(*iter)), *slowest = calloc(iters + 1, sizeof(*slowest));
	int rank = 0, rc = 0;

	if (!iter || !slowest) {
		free(iter);
		free(slowest);
		return TL_ENOMEM;
	}
	for (uint64_t k = 0; active && k < iters; k++)
		iter[k] = stamps[k + 1] - stamps[k];
	MPI_Comm_rank(comm, &rank);
	if (MPI_Reduce(mine, folded, 2, MPI_DOUBLE, MPI_MIN, 0, comm) != MPI_SUCCESS ||
	    MPI_Reduce(sums, summed, 2, MPI_DOUBLE, MPI_SUM, 0, comm) != MPI_SUCCESS ||
	    MPI_Reduce(iter, slowest, (int)iters, MPI_DOUBLE, MPI_MAX, 0, comm) != MPI_SUCCESS ||
	    MPI_Reduce(&wrong, &out->wrong, 1, MPI_UINT64_T, MPI_SUM, 0, comm) != MPI_SUCCESS) {
		tl_mpi_report(MPI_ERR_OTHER, "MPI_Reduce(sweep point)", __FILE__, __LINE__);
		rc = TL_ERUN;
	}
	if (!rc && rank == 0) {
		out->active = (int)summed[1];
		out->rank_min_s = out->active ? folded[0] : 0;
		out->rank_max_s = out->active ? -folded[1] : 0;
		out->rank_avg_s = out->active ? summed[0] / summed[1] : 0;
		out->rank0_s = mean;
		out->time_s = agg == TL_RANK_AGG_MIN	 ? out->rank_min_s
			      : agg == TL_RANK_AGG_AVG	 ? out->rank_avg_s
			      : agg == TL_RANK_AGG_RANK0 ? out->rank0_s
							 : out->rank_max_s;
		out->iter_min_s = tl_percentile(slowest, iters, 0);
		out->iter_p50_s = tl_percentile(slowest, iters, 50);
		out->iter_p95_s = tl_percentile(slowest, iters, 95);
		out->iter_max_s = tl_percentile(slowest, iters, 100);
	}
	free(iter);
	free(slowest);
	return rc;
}
