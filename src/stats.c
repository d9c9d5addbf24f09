/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mpi_check.h"
#include "trainload/stats.h"

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double tl_percentile(const double *values, size_t n, double p)
{
	if (n == 0)
		return 0.0;
	double *sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return 0.0;
	memcpy(sorted, values, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_double);

	double pos = p / 100.0 * (double)(n - 1);
	size_t lo = (size_t)pos;
	double frac = pos - (double)lo, v = sorted[lo];
	if (lo + 1 < n)
		v += frac * (sorted[lo + 1] - sorted[lo]);
	free(sorted);
	return v;
}

size_t tl_slowest(const struct tl_step *ranks, size_t n)
{
	size_t worst = 0;

	for (size_t i = 1; i < n; i++)
		if (ranks[i].time_s > ranks[worst].time_s)
			worst = i;
	return worst;
}

int tl_stats_gather_step(const struct tl_step *mine, struct tl_step *all, const void *comm)
{
	/* Every rank runs the same binary, so the record travels as bytes. */
	TL_MPI_CHECK(MPI_Gather(mine, (int)sizeof(*mine), MPI_BYTE, all, (int)sizeof(*mine),
				MPI_BYTE, 0, *(const MPI_Comm *)comm));
	return 0;
}
