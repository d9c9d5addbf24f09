/* SPDX-License-Identifier: BSD-3-Clause */
/* --dry-run: print one rank's plan of a job on a world of a given size, without running it. */
#ifndef TRAINLOAD_DRYRUN_H
#define TRAINLOAD_DRYRUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "trainload/job.h"

struct tl_dry_run_args {
	uint64_t ranks;          /* world size */
	uint64_t ranks_per_node; /* 0: unknown */
	uint64_t rank;           /* whose plan */
	bool json;
};

/* Resolve job for args->ranks and print rank args->rank's plan to out; errors go to diag. */
int tl_dry_run(struct tl_job *job, const struct tl_dry_run_args *args, FILE *out,
	       struct tl_diag *diag);

#endif
