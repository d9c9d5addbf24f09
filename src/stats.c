/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <stdlib.h>

#include "mpi_check.h"
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
