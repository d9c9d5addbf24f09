/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <math.h>
#include <stdlib.h>

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
		return;
	}
	merged[*n] = *st;
	merged[*n].slowest_rank_mean_s = mean;
	merged[(*n)++].fastest_rank_mean_s = mean;
}

int tl_stats_gather_colls(const struct tl_coll_stat *mine, int n, struct tl_coll_stat **merged,
			  int *nmerged, MPI_Comm comm)
{
	int rank, ranks, bytes = n * (int)sizeof(*mine), total = 0;
	int *counts = NULL, *displs = NULL;
	struct tl_coll_stat *all = NULL;

	*merged = NULL;
	*nmerged = 0;
	TL_MPI_CHECK(MPI_Comm_rank(comm, &rank));
	TL_MPI_CHECK(MPI_Comm_size(comm, &ranks));
	if (rank == 0) {
		counts = calloc((size_t)ranks, sizeof(*counts));
		displs = calloc((size_t)ranks, sizeof(*displs));
		if (!counts || !displs)
			goto nomem;
	}
	TL_MPI_CHECK(MPI_Gather(&bytes, 1, MPI_INT, counts, 1, MPI_INT, 0, comm));
	if (rank == 0) {
		for (int r = 0; r < ranks; r++) {
			displs[r] = total;
			total += counts[r];
		}
		all = malloc((size_t)total + 1);
		*merged = calloc((size_t)total / sizeof(*mine) + 1, sizeof(**merged));
		if (!all || !*merged)
			goto nomem;
	}
	/* Every rank runs the same binary, so the stats travel as bytes. */
	TL_MPI_CHECK(MPI_Gatherv(mine, bytes, MPI_BYTE, all, counts, displs, MPI_BYTE, 0, comm));
	if (rank == 0)
		for (size_t i = 0; i < (size_t)total / sizeof(*mine); i++)
			merge_one(*merged, nmerged, &all[i]);
	free(all);
	free(counts);
	free(displs);
	return 0;
nomem:
	free(all);
	free(counts);
	free(displs);
	free(*merged);
	*merged = NULL;
	return TL_ENOMEM;
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
