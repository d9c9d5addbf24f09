/* SPDX-License-Identifier: BSD-3-Clause */
/* The trainload program: command line (src/cli.c) and the run it starts (src/run.c). */
#ifndef TRAINLOAD_CLI_H
#define TRAINLOAD_CLI_H

#include <stdbool.h>

#include "trainload/dryrun.h"
#include "trainload/job.h"
#include "trainload/run.h"

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
	const char *job_file; /* NULL: the built-in default job */
	char **sets;          /* --set arguments and the flags that stand for them, in order */
	char **owned;         /* the ones made here ("run.timeout_s=S", "sweep.min_bytes=N", ...) */
	int nsets, nowned;
	const char *timeout_set;  /* --timeout S's entry of sets ("run.timeout_s=S"), or NULL */
	const char *progress_set; /* --progress X's entry of sets ("run.log_interval=X"), or NULL */
	bool dry_run;
	bool sweep;           /* the word "sweep": a [sweep] job even without a file */
	struct tl_run_opts run;
	struct tl_dry_run_args dry;
	/* The options that mean something only beside others, as the user spelled them
	 * ("-o", "--output", "--out"), NULL when not given: messages name what was typed. */
	const char *typed[TL_GIVEN_COUNT];
};

/* trainload's main(); returns the exit status (enum tl_exit). */
int tl_main(int argc, char **argv);

/* The job that the command line describes: defaults, then the file, then each --set. */
int tl_cli_load_job(const struct tl_cli *cli, struct tl_job *job, struct tl_diag *diag);

#endif
