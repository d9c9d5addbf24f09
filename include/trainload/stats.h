/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Statistics over steps and ranks. A step's time is its slowest rank's (training waits for it);
 * every rank's record is kept.
 */
#ifndef TRAINLOAD_STATS_H
#define TRAINLOAD_STATS_H

#include <stddef.h>

#include "trainload/exec.h"

/* The p-th percentile (0..100) of n values, interpolating linearly between the two nearest
 * ranks (numpy's default); values is not modified. 0 when n is 0. */
double tl_percentile(const double *values, size_t n, double p);

/* Index of the slowest of n rank records. */
size_t tl_slowest(const struct tl_step *ranks, size_t n);

/*
 * Gather every rank's record of one step to rank 0 of comm (an opaque MPI_Comm pointer, so that
 * this header needs no mpi.h). all must hold one record per rank on rank 0; it is ignored
 * elsewhere.
 */
int tl_stats_gather_step(const struct tl_step *mine, struct tl_step *all, const void *comm);

#endif
