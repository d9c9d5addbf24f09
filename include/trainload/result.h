/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The result: one JSON document (DESIGN.md §6), one JSON line per finished step, and rank 0's
 * human summary. Pure: it formats what the run measured, it measures nothing.
 */
#ifndef TRAINLOAD_RESULT_H
#define TRAINLOAD_RESULT_H

#include <stdio.h>

#include <jansson.h>

#include "trainload/exec.h"
#include "trainload/grid.h"
#include "trainload/job.h"
#include "trainload/model.h"
#include "trainload/plan.h"
#include "trainload/slurm.h"

/* Bumped whenever a key changes meaning; keys may be added without a bump. */
#define TL_RESULT_SCHEMA 1

/* How the run was obtained. */
struct tl_env {
	char mpi_version[256];
	char blas_version[64]; /* "0.3.21" */
	char blas_config[256]; /* openblas_get_config(): build options and core type */
	char blas_core[64];
	char command_line[1024];
	int nodes;
	const char *hosts; /* comma-separated distinct hosts */
	double mpi_init_s; /* rank 0: how long MPI_Init took */
	double startup_s;  /* rank 0: from MPI_Init's return to the start of the first step */
	struct tl_slurm slurm; /* rank 0's Slurm job, if any */
	uint64_t llc_bytes;    /* rank 0's last-level cache, 0 when hwloc does not say */
};

/* One rank, as reported: where it ran and what it measured, summed over the measured steps. */
struct tl_rank_info {
	int rank;
	int stage; /* pipeline stage: ranks of one stage run the same plan, so they are peers */
	int pid;
	int local_rank; /* its index among the ranks of its node */
	int group;      /* sweeps: the world rank of its sweep.group's first member */
	char host[64];
	char cpuset[256];   /* the PUs it ran on, as a list ("0-3") */
	char numa[64];      /* its NUMA node(s) */
	char binding[128];  /* who bound it and how: "core (trainload)", "launcher", "none" */
	int threads;
	double peak_flops; /* the backend's calibration GEMM rate, FLOP/s */
	uint64_t peak_rss_bytes; /* the process's peak resident memory at the end of the run */
	struct tl_device gpu;    /* the GPU it drove (name "" for host backends) */
	double gemm_s, gemm_flops;
	double compute_s, bubble_s, optimizer_s;
	double comm_exposed_s[TL_GROUPS];
	uint64_t ops_per_step[TL_OP_KINDS];
	uint64_t check_wrong; /* run.check: received elements found wrong, all checked steps */
};

struct tl_result {
	const struct tl_job *job;
	const struct tl_model *model;
	const struct tl_plan *plan;
	int ranks;
	struct tl_env env;
	struct tl_rank_info *rank_info; /* ranks entries */
	struct tl_step *steps;          /* measured steps: the slowest rank's record of each */
	int *step_rank;                 /* which rank that was */
	size_t nsteps;
	const struct tl_grid *grid;
	double peak_flops_per_rank;     /* MFU's denominator */
	bool peak_given;                /* from --peak-tflops rather than calibrated */
	struct tl_coll_stat *colls;     /* merged over ranks (tl_stats_gather_colls) */
	int ncolls;
	bool interrupted;               /* SIGINT or SIGTERM ended the steps early */
};

/* The groups that breakdowns show (comm_exposed_by_group, comm_bytes_per_step, reports), in
 * this order: tp, cp, pp, dp, ep. Expert-data-parallel traffic counts as dp. */
#define TL_SHOWN_GROUPS 5
extern const int tl_shown_groups[TL_SHOWN_GROUPS];

/* The conventions every output states in its header. */
extern const char tl_conventions[];

json_t *tl_world_json(const struct tl_job *job, int ranks, int nodes);
json_t *tl_plan_json(const struct tl_job *job, const struct tl_model *model,
		     const struct tl_plan *plan);
/* Measured step i of r, as in the document's steps array and the JSONL. */
json_t *tl_step_json(const struct tl_result *r, size_t i);
/* What is known before the first step: schema, version, conventions, job, world, plan and
 * environment. The JSONL's first line, so that a run killed before its JSON still says what it
 * ran; the document starts with the same keys. */
json_t *tl_result_header_json(const struct tl_result *r);
json_t *tl_result_json(const struct tl_result *r);

/* A 16-hex-digit hash of a JSON value: FNV-1a over its canonical text (compact, keys sorted). */
void tl_json_hash(const json_t *value, char out[17]);
/* The resolved job's (environment.job_hash). */
void tl_job_hash(const struct tl_job *job, char out[17]);

/* Write doc to path through path.tmp and a rename, so that an earlier file of that name is
 * never left half-overwritten; 0 or TL_EIO (with a message). */
int tl_json_write(json_t *doc, const char *path);

/* The environment object of a result (hosts, libraries, command line, Slurm). */
json_t *tl_environment_json(const struct tl_result *r);
/* Where one rank ran: rank, host, pid, cpuset, numa, binding, threads, and its GPU if any. */
json_t *tl_rank_place_json(const struct tl_rank_info *ri);

/* A bandwidth in GB/s as tables print it, in at least width characters: nccl-tests' two
 * decimals (fewer where the number is wide), and below 1 GB/s as many decimals as three
 * significant digits need (0.0123), so that slow links do not read 0.00; never an exponent,
 * so that parsers of nccl-tests' output read it. buf is returned. */
const char *tl_fmt_gbps(double gbps, int width, char *buf, size_t len);

/* v rounded to a whole number with its thousands grouped: 1234567.8 → "1,234,568", as
 * summaries and reports print throughput; buf is returned. */
const char *tl_grouped(double v, char *buf, size_t len);

/* Rank 0's human summary. */
void tl_result_print(const struct tl_result *r, FILE *out);

#endif
