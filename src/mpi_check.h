/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One way to fail an MPI call: print the rank, host, call and source line (as nccl-tests does),
 * then return TL_ERUN from the calling function; run.c then ends the job with MPI_Abort (exit
 * status 1), so that no other rank waits for this one. Communicators are set to MPI_ERRORS_RETURN so
 * that errors reach this macro instead of aborting somewhere without a word.
 */
#ifndef TRAINLOAD_MPI_CHECK_H
#define TRAINLOAD_MPI_CHECK_H

#include <mpi.h>

#include "trainload/log.h"

/* "trainload: rank R (host): CALL failed at FILE:LINE: WHY" on stderr: the one shape of a
 * rank's run-time error (allocation, MPI, threads). */
void tl_rank_report(const char *call, const char *file, int line, const char *why);
void tl_mpi_report(int rc, const char *call, const char *file, int line);

/*
 * MPI_Waitall and MPI_Testall without statuses. MPICH spells MPI_STATUSES_IGNORE (MPI_Status *)1,
 * which gcc 12's -Wstringop-overflow reads as an array with room for nothing wherever the call
 * is: a false alarm, silenced in these two functions (src/mpi_check.c) and nowhere else.
 */
int tl_mpi_waitall(int count, MPI_Request *reqs);
int tl_mpi_testall(int count, MPI_Request *reqs, int *done);

#define TL_MPI_CHECK(call)                                                                       \
	do {                                                                                     \
		int tl_mpi_rc_ = (call);                                                         \
		if (tl_mpi_rc_ != MPI_SUCCESS) {                                                 \
			tl_mpi_report(tl_mpi_rc_, #call, __FILE__, __LINE__);                   \
			return TL_ERUN;                                                          \
		}                                                                                \
	} while (0)

#endif
