/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The Slurm job around a run (include/trainload/slurm.h). The job-level variables are read
 * first: inside a step (srun, or the orted that mpirun starts through srun) the plain names
 * (SLURM_NODELIST, SLURM_NNODES) describe the step, which for mpirun is one daemon per node,
 * not the job the user submitted.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "trainload/slurm.h"

/* The first of names that is set, or "". */
static const char *first_set(const char *const *names)
{
	for (; *names; names++) {
		const char *v = getenv(*names);
		if (v)
			return v;
	}
	return "";
}

#define COPY(field, ...)                                                                           \
	snprintf(s->field, sizeof(s->field), "%s",                                                 \
	         first_set((const char *const[]){__VA_ARGS__, NULL}))

static int count(const char *text)
{
	char *end;
	long v = strtol(text, &end, 10);

	return *text && !*end && v > 0 && v <= 1 << 30 ? (int)v : 0;
}

void tl_slurm_read(struct tl_slurm *s)
{
	*s = (struct tl_slurm){0};
	COPY(job_id, "SLURM_JOB_ID", "SLURM_JOBID");
	s->present = s->job_id[0] != '\0';
	if (!s->present)
		return;
	COPY(job_name, "SLURM_JOB_NAME");
	COPY(nodelist, "SLURM_JOB_NODELIST", "SLURM_NODELIST");
	COPY(partition, "SLURM_JOB_PARTITION");
	COPY(cluster, "SLURM_CLUSTER_NAME");
	COPY(tasks_per_node, "SLURM_TASKS_PER_NODE");
	s->nodes =
	    count(first_set((const char *const[]){"SLURM_JOB_NUM_NODES", "SLURM_NNODES", NULL}));
	s->ntasks = count(first_set((const char *const[]){"SLURM_NTASKS", "SLURM_NPROCS", NULL}));
	s->cpus_per_task = count(first_set((const char *const[]){"SLURM_CPUS_PER_TASK", NULL}));
}

json_t *tl_slurm_json(const struct tl_slurm *s)
{
	if (!s->present)
		return NULL;
	json_t *j = json_object();
	const struct {
		const char *key, *value;
	} texts[] = {
	    {"job_id", s->job_id},     {"job_name", s->job_name},
	    {"nodelist", s->nodelist}, {"partition", s->partition},
	    {"cluster", s->cluster},   {"tasks_per_node", s->tasks_per_node},
	};
	const struct {
		const char *key;
		int value;
	} counts[] = {
	    {"nodes", s->nodes}, {"ntasks", s->ntasks}, {"cpus_per_task", s->cpus_per_task}};

	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++)
		if (texts[i].value[0])
			json_object_set_new(j, texts[i].key, json_string(texts[i].value));
	for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
		if (counts[i].value)
			json_object_set_new(j, counts[i].key, json_integer(counts[i].value));
	return j;
}
