/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Slurm job a run is part of, as its SLURM_* environment variables describe it, so that a
 * result names the job, nodes and partition it came from (environment.slurm in the JSON).
 * Pure: reads the environment, touches nothing else.
 */
#ifndef TRAINLOAD_SLURM_H
#define TRAINLOAD_SLURM_H

#include <stdbool.h>

#include <jansson.h>

struct tl_slurm {
	bool present; /* SLURM_JOB_ID is set: the process runs inside a Slurm allocation */
	/* Copied verbatim; an empty string is a variable that was not set. */
	char job_id[32];
	char job_name[128];
	char nodelist[1024]; /* compressed, as Slurm writes it: "n[1-2]" */
	char partition[128];
	char cluster[128];
	char tasks_per_node[128]; /* "2(x2)" */
	/* Counts; 0 when not set (SLURM_NTASKS and SLURM_CPUS_PER_TASK exist only when asked). */
	int nodes;
	int ntasks;
	int cpus_per_task;
};

/* Fill s from the environment; s->present is false outside Slurm. */
void tl_slurm_read(struct tl_slurm *s);

/* The JSON object of s (the keys that were set), or NULL when s is not present. */
json_t *tl_slurm_json(const struct tl_slurm *s);

#endif
