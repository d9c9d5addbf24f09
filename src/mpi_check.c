/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <stdio.h>
#include <unistd.h>

#include "mpi_check.h"

void tl_mpi_report(int rc, const char *call, const char *file, int line)
{
	char host[256] = "?", text[MPI_MAX_ERROR_STRING] = "?";
	int rank = -1, len = 0;

	gethostname(host, sizeof(host));
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Error_string(rc, text, &len);
	fprintf(stderr, "trainload: rank %d (%s): %s failed at %s:%d: %s\n", rank, host, call, file,
		line, text);
}
