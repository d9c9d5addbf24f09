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
#include "trainload/sweep.h"

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

/*
 * The arrival/transfer split of collectives (DESIGN.md §5). A rank that reaches a collective
 * before the last rank of its group waits for that one: the wait is the late peer's doing, not
 * this rank's, nor its link's. After every step each collective group compares its ranks'
 * arrival times (struct tl_exec: arrive_s, done_s) in one MPI_Allreduce of the step's
 * arrivals; the part of a rank's blocked time before the last arrival is its wait, the rest its
 * transfer. No clock is shared between nodes: each rank measures its arrivals from the moment
 * it left the group's previous agreement (that allreduce, or a barrier before the first step),
 * which every member leaves at the same moment within one message latency, so arrivals are
 * comparable across nodes to that precision whatever the nodes' clocks say, and no barrier is
 * added to the step.
 */
struct tl_skew {
	MPI_Comm comm[TL_GROUPS]; /* MPI_COMM_NULL: no collective in the group, or one rank */
	size_t *ops[TL_GROUPS];   /* the plan's collectives over the group, in plan order */
	size_t nops[TL_GROUPS];
	double ref_s[TL_GROUPS];  /* when this rank left the group's last agreement */
	double *buf;              /* 4 x the most collectives of a group */
	bool ready;               /* tl_skew_init has run: tl_skew_fini frees */
};

/* Collective over the world: a communicator per group that has collectives (the grid's, as the
 * backends split it), and the first agreement. */
int tl_skew_init(struct tl_skew *sk, const struct tl_grid *grid, const struct tl_plan *plan);

/* After a step (outside its timed region): fill step's comm_wait_s and comm_late_s from the
 * arrivals ex recorded, and, in measured steps, the transfer times of ex's blocking
 * collectives. Collective over every group. */
int tl_skew_step(struct tl_skew *sk, struct tl_exec *ex, struct tl_step *step);

void tl_skew_fini(struct tl_skew *sk);

/*
 * A sweep point over the ranks of comm, collectively: each rank's mean time per iteration from
 * its stamps (iters + 1 clock reads; active false for a rank that sat the point out), reduced
 * as agg (enum tl_rank_agg) and as min, avg and max over the ranks that took part; each
 * iteration's slowest rank, as percentiles; and the wrong elements of all. out is rank 0's.
 */
int tl_stats_sweep_point(const double *stamps, uint64_t iters, bool active, uint64_t wrong,
			 int agg, struct tl_sweep_result *out, MPI_Comm comm);

#endif
