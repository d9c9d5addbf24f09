/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A run (src/run.c): MPI up, the job resolved against the world, its plan (a training step's or
 * a sweep's) run by the executor through the job's backend, and the results written by rank 0.
 */
#ifndef TRAINLOAD_RUN_H
#define TRAINLOAD_RUN_H

#include <stdbool.h>

#include "trainload/job.h"
#include "trainload/log.h"

/* What the command line asks of a run beyond its job. */
struct tl_run_opts {
	int argc; /* the command line, as the result records it */
	char **argv;
	const char *output; /* --output FILE.json, or NULL */
	bool force;         /* --force: replace an earlier run's result at --output */
	bool quiet;
	bool progress;      /* progress lines on stderr: on unless -q, or --progress given */
	double peak_tflops; /* --peak-tflops: MFU's peak per rank; 0: calibrate */
	int rank_agg;       /* --rank-agg, -a: enum tl_rank_agg (sweeps) */
	double min_busbw;   /* --min-busbw GBPS: fail a sweep below it; 0: off */
};

/*
 * Start MPI, resolve the job against the world, run it and report; returns the exit status.
 * job is NULL when this rank found the command line or job file bad (diag says why): the ranks
 * then agree on that and exit 2 together.
 */
int tl_run(const struct tl_run_opts *opts, struct tl_job *job, struct tl_diag *diag);

#endif
