/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "mpi_check.h"

void tl_rank_report(const char *call, const char *file, int line, const char *why)
{
	char host[256] = "?";
	int rank = -1, up = 0;

	gethostname(host, sizeof(host));
	MPI_Initialized(&up);
	if (up)
		MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	fprintf(stderr, "trainload: rank %d (%s): %s failed at %s:%d: %s\n", rank, host, call, file,
		line, why);
}

void tl_mpi_report(int rc, const char *call, const char *file, int line)
{
	char text[MPI_MAX_ERROR_STRING] = "?";
	int len = 0;

	MPI_Error_string(rc, text, &len);
	tl_rank_report(call, file, line, text);
}

/* The warning is silenced here alone, for these two calls (mpi_check.h says why). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wstringop-overflow"
int tl_mpi_waitall(int count, MPI_Request *reqs)
{
	return MPI_Waitall(count, reqs, MPI_STATUSES_IGNORE);
}

int tl_mpi_testall(int count, MPI_Request *reqs, int *done)
{
	return MPI_Testall(count, reqs, done, MPI_STATUSES_IGNORE);
}
#pragma GCC diagnostic pop
