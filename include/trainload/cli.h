/* SPDX-License-Identifier: BSD-3-Clause */
/* The trainload program: command line (src/cli.c) and the run it starts (src/run.c). */
#ifndef TRAINLOAD_CLI_H
#define TRAINLOAD_CLI_H

#include <stdbool.h>

#include "trainload/dryrun.h"
#include "trainload/job.h"

enum tl_cli_given {
	TL_GIVEN_OUTPUT,
	TL_GIVEN_QUIET,
	TL_GIVEN_TIMEOUT,
	TL_GIVEN_PEAK,
	TL_GIVEN_PROGRESS,
	TL_GIVEN_RANKS,
	TL_GIVEN_RANKS_PER_NODE,
	TL_GIVEN_RANK,
	TL_GIVEN_JSON,
	TL_GIVEN_RANK_AGG,
	TL_GIVEN_MIN_BUSBW,
	TL_GIVEN_COUNT
};

struct tl_cli {
	int argc;
	char **argv;
	const char *job_file; /* NULL: the built-in default job */
	char **sets;          /* --set arguments, in order (--timeout S among them) */
	char *timeout_set;    /* --timeout S as "run.timeout_s=S" */
	char *progress_set;   /* --progress X as "run.log_interval=X" */
	int nsets;
	const char *output;   /* --output FILE.json, or NULL */
	bool force;           /* --force: replace an earlier run's result at --output */
	bool quiet;
	bool progress;        /* progress lines on stderr: on unless -q, or --progress given */
	double peak_tflops;   /* --peak-tflops: MFU's peak per rank; 0: calibrate */
	bool dry_run;
	bool sweep;           /* the first word was "sweep": a [sweep] job even without a file */
	int rank_agg;         /* --rank-agg: enum tl_rank_agg (sweep time per iteration) */
	double min_busbw;     /* --min-busbw GBPS: fail a sweep below it; 0: off */
	struct tl_dry_run_args dry;
	/* The options that mean something only beside others, as the user spelled them
	 * ("-o", "--output", "--out"), NULL when not given: messages name what was typed. */
	const char *typed[TL_GIVEN_COUNT];
};

/* trainload's main(); returns the exit status (enum tl_exit). */
int tl_main(int argc, char **argv);

/* The job that the command line describes: defaults, then the file, then each --set. */
int tl_cli_load_job(const struct tl_cli *cli, struct tl_job *job, struct tl_diag *diag);

/*
 * Start MPI, resolve the job against the world, run it and report; returns the exit status.
 * job is NULL when this rank found the command line or job file bad (diag says why): the ranks
 * then agree on that and exit 2 together.
 */
int tl_run(const struct tl_cli *cli, struct tl_job *job, struct tl_diag *diag);

#endif
