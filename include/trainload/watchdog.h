/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The watchdog (DESIGN.md §6): each rank records where it is as it enters each op; a thread per
 * rank wakes a few times per timeout_s, and when no op has finished for timeout_s it prints that
 * record with the rank and host, waits TL_WATCHDOG_GRACE_S so that the other stuck ranks print
 * theirs, and aborts the job with exit status 3 (MPI_Abort). A collective's record names the
 * group's ranks; those of them whose own record shows them elsewhere (computing, in another op)
 * are the ones that had not arrived.
 *
 * MPI_Abort is called from the watchdog's thread while the main thread may sit in an MPI call:
 * MPI_THREAD_SINGLE does not promise that this works, but it is what Open MPI and MPICH do to
 * kill a job, and it does (tests/mpi/watchdog.sh holds the exit status to 3).
 */
#ifndef TRAINLOAD_WATCHDOG_H
#define TRAINLOAD_WATCHDOG_H

#include <stdbool.h>
#include <stdint.h>

#include "trainload/grid.h"

/* How long a rank whose watchdog fired waits for the others to print before aborting. */
#define TL_WATCHDOG_GRACE_S 2.0
/* Outside the steps (start-up; after them calibration, gathering the results, writing them)
 * each stage is watched with at least this timeout: they take seconds whatever timeout_s the
 * steps' ops are held to. */
#define TL_WATCHDOG_STAGE_S 60.0

/* Where a rank is. Strings are static (op kind and phase names). */
struct tl_where {
	const char *what;    /* op kind ("gemm", "allreduce", "wait", …) or a stage ("start-up") */
	const char *waits;   /* TL_OP_WAIT: the kind of op it waits for; else NULL */
	const char *phase;   /* "forward", …, "sweep"; NULL: none */
	int group;           /* communication: TL_GROUP_* or TL_GROUP_EDP; -1: none */
	bool compute;        /* computes locally: waits for no other rank */
	int64_t step;        /* measured steps from 0, as the JSONL numbers them, warm-up steps
			      * apart (warmup); a sweep's iterations; -1: none */
	bool warmup;         /* step is a warm-up step */
	int64_t microbatch, layer, peer; /* -1: none */
	uint64_t bytes;      /* communication payload; 0: none */
};

/* Start this rank's watchdog (timeout_s 0: none; enter and leave then cost a test), in the stage
 * "start-up". grid (may be NULL) names the members of a stuck collective's group; it must
 * outlive the watchdog. Also reads TRAINLOAD_TEST_STALL. Returns 0 or TL_ERUN. */
int tl_watchdog_start(uint64_t timeout_s, int rank, const char *host, const struct tl_grid *grid);
/* Stop and join the thread (before MPI_Finalize). */
void tl_watchdog_stop(void);

/* The rank enters an op (or a stage of the run): the record the watchdog prints. */
void tl_watchdog_enter(const struct tl_where *where);
/* After the steps: the rank enters a stage of the run's end ("calibration", "gather",
 * "report"), which the watchdog names as it is, and holds to max(timeout_s,
 * TL_WATCHDOG_STAGE_S), as start-up is; waits: it waits for the other ranks. The first op
 * entered holds the rank to timeout_s again. */
void tl_watchdog_stage(const char *stage, bool waits);
/* An op finished: the watchdog's clock starts again. */
void tl_watchdog_leave(void);

/*
 * For testing only: TRAINLOAD_TEST_STALL=RANK:STEP makes world rank RANK stop for good at the
 * first stall point of step STEP, counted from 0 with the warm-up steps (the executor's first
 * GEMM of the step; a sweep's first call of iteration STEP). The record says that the stall is
 * the test's. TRAINLOAD_TEST_STALL=RANK:STAGE:SECONDS makes it linger SECONDS in a stage of the
 * run's end (tl_watchdog_stage: "calibration", ...) and go on: a slow stage, not a stuck one.
 */
bool tl_watchdog_stall_due(int64_t step);
void tl_watchdog_stall(void) __attribute__((noreturn));

#endif
