/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Statistics across ranks (MPI).  A step's time is its slowest rank's (training waits for it);
 * every rank's record is kept.
 */
#ifndef TRAINLOAD_STATS_H
#define TRAINLOAD_STATS_H

#include <mpi.h>
#include <stddef.h>

#include "trainload/exec.h"

/* Index of the slowest of n rank records. */
size_t tl_slowest(const struct tl_step *ranks, size_t n);

/* Gather every rank's record of one step to rank 0 of comm. all must hold one record per rank
 * on rank 0; it is ignored elsewhere. */
int tl_stats_gather_step(const struct tl_step *mine, struct tl_step *all, MPI_Comm comm);

/* Gather every rank's bytes (bytes of its own each) to rank 0 of comm, one rank after the other:
 * *all (rank 0 only; malloc'd, free it; NULL elsewhere) holding *total bytes. */
int tl_stats_gather_bytes(const void *mine, int bytes, void **all, int *total, MPI_Comm comm);

/*
 * Gather every rank's collective stats to rank 0 of comm and merge them by (kind, group, bytes,
 * blocking): each merged entry has the largest of the ranks' counts, their total time, the
 * largest and smallest of their mean times (times are reported as the largest: max over ranks)
 * and the smallest and largest single times seen anywhere. *merged (rank 0 only) is allocated;
 * free it.
 */
int tl_stats_gather_colls(const struct tl_coll_stat *mine, int n, struct tl_coll_stat **merged,
			  int *nmerged, MPI_Comm comm);

#endif
