/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One way to fail an MPI call: print the rank, host, call and source line (as nccl-tests does),
 * then return TL_ERUN from the calling function. Communicators are set to MPI_ERRORS_RETURN so
 * that errors reach this macro instead of aborting somewhere without a word.
 */
#ifndef TRAINLOAD_MPI_CHECK_H
#define TRAINLOAD_MPI_CHECK_H

#include <mpi.h>

#include "trainload/log.h"

void tl_mpi_report(int rc, const char *call, const char *file, int line);

#define TL_MPI_CHECK(call)                                                                       \
	do {                                                                                     \
		int tl_mpi_rc_ = (call);                                                         \
		if (tl_mpi_rc_ != MPI_SUCCESS) {                                                 \
			tl_mpi_report(tl_mpi_rc_, #call, __FILE__, __LINE__);                   \
			return TL_ERUN;                                                          \
		}                                                                                \
	} while (0)

#endif
