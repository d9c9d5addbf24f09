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
#include "trainload/peak.h"
#include "trainload/plan.h"
#include "trainload/probe.h"
#include "trainload/slurm.h"

/* Bumped whenever a key changes meaning; keys may be added without a bump. */
#define TL_RESULT_SCHEMA 1

/* How the run was obtained (DESIGN.md §6: a result that cannot say how it was obtained is not a
 * result). */
struct tl_env {
	char start_time[32];   /* when MPI_Init returned, ISO 8601 UTC: "2026-05-01T09:30:00Z" */
	char cpu_model[128];   /* rank 0's CPU, as hwloc names it ("" when it does not) */
	bool oversubscribed;   /* some node ran more ranks than it has cores */
	char mpi_version[256]; /* one line: tl_env_set_mpi_version */
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

/* The groups that breakdowns show (comm_exposed_by_group, comm_bytes_per_step, reports), in
 * this order: tp, cp, pp, dp, ep. Expert-data-parallel traffic counts as dp. */
#define TL_SHOWN_GROUPS 5
extern const int tl_shown_groups[TL_SHOWN_GROUPS];

/* The breakdown's parts of exposed communication, one name each wherever a breakdown is shown
 * (summary, stragglers, report tables, plots), in tl_shown_groups' order: "tp_comm", "cp_comm",
 * "pp_comm", "dp_comm", "ep_comm". The other parts are "compute", "bubble" (pipeline wait),
 * "optimizer" and "other", as the JSON's breakdown_s names them. */
extern const char *const tl_comm_part_names[TL_SHOWN_GROUPS];

/*
 * What stragglers are judged on (DESIGN.md §5), per rank: its GEMM rate (GFLOP/s; lower is
 * worse), its node's link (MB/s of the node's best path to another node, from the link probe;
 * lower is worse), how late it arrives at collectives after the first rank of each group (late,
 * s/step, summed over its groups: the time its peers wait for it), its pipeline wait (bubble,
 * s/step) and the transfer of each shown group's collectives (s/step: exposed communication
 * less the wait for late peers); times: higher is worse.
 */
enum tl_judged { TL_JUDGED_GEMM, TL_JUDGED_LINK, TL_JUDGED_LATE, TL_JUDGED_BUBBLE, TL_JUDGED_COMM0 };
#define TL_JUDGED (TL_JUDGED_COMM0 + TL_SHOWN_GROUPS)

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
	double peak_flops; /* the backend's calibration GEMM rate, FLOP/s (the BLAS peak) */
	double hw_peak_flops; /* the hardware's peak, FLOP/s (0: unknown) */
	uint64_t peak_rss_bytes; /* the process's peak resident memory at the end of the run */
	struct tl_device gpu;    /* the GPU it drove (name "" for host backends) */
	double gemm_s, gemm_flops;
	double compute_s, bubble_s, optimizer_s;
	double comm_exposed_s[TL_GROUPS];
	double comm_wait_s[TL_GROUPS]; /* of comm_exposed_s: waiting for late peers */
	double comm_late_s[TL_GROUPS]; /* how much later than the first of its group it arrived */
	struct tl_link link;            /* its node's, from the link probe */
	double judged[TL_JUDGED];       /* its median step's value of each (link: the probe's) */
	/* their step-to-step noise: 1.4826 x the MAD over steps of the values' natural logarithm
	 * (a relative σ: 0.05 is about 5%); the link's over the probe's rounds */
	double judged_noise[TL_JUDGED];
	uint64_t ops_per_step[TL_OP_KINDS];
	uint64_t check_wrong; /* run.check: received elements found wrong, all checked steps */
	double dp_alone_s;    /* the step's non-blocking dp reductions, each alone (tl_exec_alone) */
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
	enum tl_peak_source peak_source; /* where it comes from */
	double blas_peak_flops_per_rank; /* median of the ranks' calibration GEMMs (0: not run) */
	struct tl_hw_peak hw_peak;      /* the hardware peak: the median over ranks, rank 0's how */
	struct tl_coll_stat *colls;     /* merged over ranks (tl_stats_gather_colls) */
	int ncolls;
	bool interrupted;               /* SIGINT or SIGTERM ended the steps early */
	const char *interrupted_by;     /* "SIGTERM", "SIGINT": a signal's document; NULL: not */
	bool ranks_unmeasured;          /* rank_info says where the ranks ran, not yet what they
					 * measured (a signal's document before the end) */
};

/* A rank's judged values (median over steps) and their noise, from its measured steps; the
 * link's from ri->link. */
void tl_rank_judge_steps(struct tl_rank_info *ri, const struct tl_step *steps, size_t n);

/* The memory rank 0 holds per measured step, in bytes: the slowest rank's record, its rank,
 * and the step's part of the document while it is built (tests/unit/test_result.c holds it to
 * what jansson allocates). A run's step count is checked against its node's memory with it. */
#define TL_STEP_HELD_BYTES 6144

/* The conventions every output states in its header. */
extern const char tl_conventions[];

/* What a result's warnings are judged on: a run's own figures, or those a report reads back
 * from its file, so that the summary and the report say the same in the same words. */
struct tl_findings {
	double mfu;              /* 0: unknown */
	double peak_tflops;      /* MFU's peak per rank */
	const char *peak_source; /* as tl_peak_source_name() spells it */
	bool twin_flagged;       /* the GEMM twin (twin.gemm) */
	int twin_rank;
	double twin_ratio;       /* measured / predicted GEMM time */
	bool oversubscribed;
	const char *blas_kernel; /* OpenBLAS's kernel ("Prescott"), or NULL */
	const char *blas_advice; /* the kernel to select instead, or NULL */
	bool blas_dynamic;       /* OpenBLAS built with DYNAMIC_ARCH: OPENBLAS_CORETYPE selects */
};

/* The warnings, one sentence each, as a new JSON array of strings (empty when none). */
json_t *tl_warnings_json(const struct tl_findings *f);

json_t *tl_world_json(const struct tl_job *job, int ranks, int nodes);
/* The provenance every result carries (environment): start time, hosts, CPU model,
 * oversubscription, MPI and BLAS versions, command line, Slurm job; a training run's adds its
 * own keys beside these. */
json_t *tl_env_json(const struct tl_env *env);
/* The grid key of a dry run and of a result: rank's coordinates and groups (size, index, first
 * rank, stride, whether the group crosses nodes). */
json_t *tl_grid_json(const struct tl_grid *grid, uint64_t rank);
json_t *tl_plan_json(const struct tl_job *job, const struct tl_model *model,
		     const struct tl_plan *plan);
/* Measured step i of r, as in the document's steps array and the JSONL. */
json_t *tl_step_json(const struct tl_result *r, size_t i);
/* What is known before the first step: schema, version, conventions, job, world, plan and
 * environment. The JSONL's first line, so that a run killed before its JSON still says what it
 * ran; the document starts with the same keys. */
json_t *tl_result_header_json(const struct tl_result *r);
json_t *tl_result_json(const struct tl_result *r);

/* env->mpi_version from MPI_Get_library_version's text: its first line up to a comma ("Open MPI
 * v4.1.4", "MPICH Version: 4.0.2"), each run of blanks or control characters one space, cut to
 * fit; so that it prints on one line of the summary's header. */
void tl_env_set_mpi_version(struct tl_env *env, const char *library_version);

/* A 16-hex-digit hash of a JSON value: FNV-1a over its canonical text (compact, keys sorted). */
void tl_json_hash(const json_t *value, char out[17]);
/* The resolved job's (environment.job_hash). */
void tl_job_hash(const struct tl_job *job, char out[17]);

/* Write doc to path through path.tmp (every write checked, then fsync) and a rename, so that an
 * earlier file of that name is never left half-overwritten; on any failure path.tmp is removed.
 * 0 or TL_EIO (with a message naming the file and the error). */
int tl_json_write(json_t *doc, const char *path);
/* The same, with fsync before the rename only when durable: a document that must be on disk
 * within a second (a signal's) skips it, as a process killed loses nothing the kernel holds;
 * only a crash of the machine does. */
int tl_json_write_as(json_t *doc, const char *path, bool durable);

/* The JSONL beside a document: FILE.json → FILE.jsonl, any other name + ".jsonl". Malloc'd. */
char *tl_jsonl_path(const char *output);

/*
 * A run's --output, held by rank 0 from before the first step to the end. Opening it checks that
 * the document can be written and, with a JSONL, takes an exclusive lock on it (flock), which
 * the run holds to its end: a second run with the same --output is refused while the first
 * lives. An earlier run's result, a document or a non-empty JSONL, is refused too unless force
 * (--force), which replaces it. Every line appended is checked and whole: a write that fails
 * is taken back, so that the JSONL holds only whole lines, and reported.
 */
struct tl_output {
	const char *path;    /* FILE.json */
	char *jsonl_path;    /* FILE.jsonl; NULL without one */
	int jsonl_fd;        /* -1: none */
	bool jsonl_created;  /* this run created it (so may remove it while empty) */
	uint64_t jsonl_bytes; /* whole lines written */
};

/* 0, or TL_EINPUT (a message said why: cannot be written, in use, an earlier result) or
 * TL_ENOMEM. jsonl: whether the run writes FILE.jsonl (a sweep does not). */
int tl_output_open(struct tl_output *out, const char *path, bool jsonl, bool force);
/* Append value (consumed) as one line of the JSONL; 0, or TL_EIO with a message naming the file
 * and the error, the line taken back. */
int tl_output_append(struct tl_output *out, json_t *value);
/* Release the lock; a JSONL this run created and never wrote to is removed. */
void tl_output_close(struct tl_output *out);

/* The environment object of a result (hosts, libraries, command line, Slurm). */
json_t *tl_environment_json(const struct tl_result *r);
/* A result document's "status" (interrupted or completed) and, for a signal's document,
 * "interrupted_by" (the signal, and whether the ranks' figures were gathered). */
void tl_status_json(json_t *doc, bool interrupted, const struct tl_result *r);
/* Where one rank ran: rank, host, pid, cpuset, numa, binding, threads, and its GPU if any. */
json_t *tl_rank_place_json(const struct tl_rank_info *ri);
/* The stragglers section of a summary ("# stragglers ..." lines), judged on rank_info. */
void tl_print_stragglers(const struct tl_result *r, FILE *out);
/* Every rank named as a straggler, one entry per rank and phase: rank, host, phase, cause,
 * value, unit, median, worse_pct, sigma_pct. */
json_t *tl_stragglers_json(const struct tl_result *r);

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
