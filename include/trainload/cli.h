/* SPDX-License-Identifier: BSD-3-Clause */
/* The trainload program: command line (src/cli.c) and the run it starts (src/run.c). */
#ifndef TRAINLOAD_CLI_H
#define TRAINLOAD_CLI_H

#include <stdbool.h>

#include "trainload/dryrun.h"
#include "trainload/job.h"
#include "trainload/run.h"

struct tl_cli {
	const char *job_file; /* NULL: the built-in default job */
	char **sets;          /* --set arguments and the flags that stand for them, in order */
	char **owned;         /* the ones made here ("run.timeout_s=S", "sweep.min_bytes=N", ...) */
	int nsets, nowned;
	bool dry_run;
	bool sweep;           /* the word "sweep": a [sweep] job even without a file */
	struct tl_run_opts run;
	struct tl_dry_run_args dry;
};

/* trainload's main(); returns the exit status (enum tl_exit). */
int tl_main(int argc, char **argv);

/* The job that the command line describes: defaults, then the file, then each --set. */
int tl_cli_load_job(const struct tl_cli *cli, struct tl_job *job, struct tl_diag *diag);

#endif
