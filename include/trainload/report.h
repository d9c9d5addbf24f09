/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * trainload-report's model (DESIGN.md §7): result files read back (report_load.c), runs of one
 * job grouped into a scaling curve, the collectives' α-β fits, the compute rates and the
 * projection to larger worlds (report_scale.c). Pure: no MPI, no hardware; the projection uses
 * the same job, model, grid and plan code as --dry-run. The writers (Markdown, CSV, JSON) and
 * the plots are in the program (src/report_write.c, src/report_plot.c).
 */
#ifndef TRAINLOAD_REPORT_H
#define TRAINLOAD_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "trainload/grid.h"
#include "trainload/plan.h"
#include "trainload/result.h"

/* A result file is read up to this size (a document of a million steps is some 500 MB). */
#define TL_REPORT_FILE_MAX (UINT64_C(1) << 30)

enum tl_run_state {
	TL_RUN_COMPLETE, /* a document with its summary */
	TL_RUN_PARTIAL,  /* killed or cut short: its finished steps are used */
	TL_RUN_SWEEP,    /* a collective sweep: not a point of a scaling curve */
	TL_RUN_UNUSABLE, /* unreadable, not a trainload result, or another schema */
};

/* A step's breakdown by group follows the results' own list: tl_shown_groups
 * (trainload/result.h). */

/* One run's figures at the median step (p50 of each part over the measured steps). */
struct tl_run_figures {
	size_t steps;
	double p50, p95;
	double tokens_per_s, model_tflops_per_rank, mfu; /* mfu 0: no peak known */
	double compute, comm[TL_SHOWN_GROUPS], comm_exposed, bubble, optimizer, other;
	double exposed_share; /* comm_exposed / p50 */
};

struct tl_run {
	char *path;     /* the file whose figures are used */
	enum tl_run_state state;
	char why[256];  /* what is partial or unusable about it ("" when complete) */
	json_t *doc;    /* the document, or a JSONL's header with its steps added */
	char key[17];   /* runs of one job at different scales share it */
	const char *model_name;
	int ranks, nodes;
	uint64_t dp, global_batch;
	uint64_t tokens_per_step;
	double model_flops_per_step, peak_tflops_per_rank; /* peak 0: unknown */
	struct tl_run_figures fig;
};

struct tl_report_inputs {
	struct tl_run *runs;
	size_t count;
};

/* Read every path: a .json (with its .jsonl beside it when the JSON is cut short), a .jsonl of
 * a run that wrote no JSON, or a directory (its *.json and *.jsonl). Runs come out sorted by
 * path; a .jsonl whose .json is complete is not read twice. Never fails on a bad file: the run
 * says why. Returns 0, or -1 when out of memory. */
int tl_report_load(struct tl_report_inputs *in, char *const *paths, size_t npaths);
/* Read one result document from memory (name is used in messages): the fuzzer's entry. */
void tl_report_read_doc(struct tl_run *run, const char *name, const char *text, size_t len);
void tl_report_inputs_free(struct tl_report_inputs *in);

/* A state's name as reports print it: "complete", "partial", "sweep", "unusable". */
const char *tl_run_state_name(enum tl_run_state state);

enum tl_scaling { TL_SCALING_AUTO, TL_SCALING_WEAK, TL_SCALING_STRONG };

/*
 * The transfer time of one collective kind over one group, per cost class: inside a node
 * (ranks_per_node 0), or across nodes with ranks_per_node ranks of the group on each, as
 * time = alpha + beta · (n / max_size)^gamma · bus bytes, for a group of n ranks, where bus
 * bytes = payload × tl_busbw_factor(kind, n). Fitted to blocking transfer times only (a run's
 * collectives' transfer_us, a sweep's times), never to overlapped ones. The points are the
 * job's runs' collectives and those of any sweep among the inputs over the same group (a sweep
 * over the world serves every group).
 */
struct tl_coll_fit {
	enum tl_op_kind kind;
	int group;
	uint64_t ranks_per_node;     /* of the group on each node it spans; 0: inside one node */
	size_t points, sweep_points; /* sweep_points of the points came from sweeps */
	uint64_t min_size, max_size; /* the group sizes measured */
	uint64_t min_nodes, max_nodes; /* the nodes they spanned */
	bool used;                   /* a prediction priced the job's traffic with it */
	double alpha_s, beta_s_per_byte; /* beta: at a group of max_size ranks */
	double gamma;                /* beta grows as the group size to this power */
	double residual_max;         /* the largest |fit - measured| / measured of its points */
};

/* "4" or "2-8": a range of group sizes or node counts as reports print it; buf is returned. */
const char *tl_report_range(uint64_t lo, uint64_t hi, char *buf, size_t len);

/* What a step of one rank costs, calibrated on the largest measured run. */
struct tl_rates {
	double s_per_flop;           /* compute (GEMMs and elementwise) per GEMM FLOP of the plan */
	double s_per_optimizer_byte; /* optimizer per byte its op reads and writes */
	double bubble_per_compute;   /* pipeline wait per second of compute */
	double dp_exposed_share;     /* exposed share of the fitted data-parallel traffic */
	double exposed_share[TL_SHOWN_GROUPS]; /* of each group's non-blocking traffic */
	double other_s;
	int calibrated_on;           /* ranks of the run they come from */
};

/* A step time predicted from the plan of a world of `ranks`. */
struct tl_prediction {
	uint64_t ranks, nodes;
	bool ok;
	char why[192];   /* when not ok: what is missing (a fit, a valid layout) */
	double step_s, compute_s, comm_s[TL_SHOWN_GROUPS], bubble_s, optimizer_s, other_s;
	double tokens_per_s;
	double measured_s; /* the mean of the runs' p50 at this scale, 0 when not measured */
	size_t measured_runs; /* how many runs that mean is of */
	char note[192];    /* when ok: the first collective priced beyond what was measured */
};

/* One job at several scales. */
struct tl_report_group {
	char key[17];
	const char *model_name;
	enum tl_scaling scaling; /* as resolved: weak or strong */
	enum tl_scaling data_scaling; /* what the runs' batches say (auto's choice) */
	char scaling_note[160];  /* why that scaling was chosen */
	size_t *runs;            /* indices into the inputs, sorted by ranks then path */
	size_t count;
	size_t base;             /* the smallest run: speedup and efficiency are relative to it */
	double *speedup, *efficiency; /* per run */
	struct tl_coll_fit *fits;
	size_t nfits;
	struct tl_rates rates;
	bool have_rates;
	struct tl_prediction *predictions;
	size_t npredictions;
};

struct tl_report {
	struct tl_report_group *groups;
	size_t count;
};

/* Group the usable runs by job and compute speedups, efficiencies, fits and the projection to
 * the measured scales and to project_ranks (if nproject is 0: 2, 4, 8 and 16 times the largest
 * run). Returns 0, or -1 when out of memory. */
int tl_report_build(struct tl_report *rep, const struct tl_report_inputs *in,
		    enum tl_scaling scaling, const uint64_t *project_ranks, size_t nproject);
void tl_report_free(struct tl_report *rep);

/* Speedup and efficiency of a run of ranks_n ranks and step time t_n against the base run:
 * N = ranks_n / ranks_1; weak: speedup N·t_1/t_n, efficiency t_1/t_n; strong: speedup
 * t_1/t_n, efficiency t_1/(N·t_n). */
void tl_scaling_figures(enum tl_scaling scaling, uint64_t ranks_1, double t_1, uint64_t ranks_n,
			double t_n, double *speedup, double *efficiency);

#endif
