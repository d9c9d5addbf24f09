/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The job: what to run, read from an INI job file and --set overrides.
 *
 * One option table (src/job_options.c) drives parsing, overrides, defaults, ranges, --help-job and
 * the JSON of the resolved job, as fio's does. Sections and key names are a contract (DESIGN.md §3):
 * add keys, rename none. This module is pure: no MPI, no BLAS.
 */
#ifndef TRAINLOAD_JOB_H
#define TRAINLOAD_JOB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "trainload/dtype.h"
#include "trainload/log.h"

enum tl_mlp { TL_MLP_GELU, TL_MLP_SWIGLU };
enum tl_schedule { TL_SCHEDULE_1F1B, TL_SCHEDULE_GPIPE, TL_SCHEDULE_INTERLEAVED };
/* Whose rules gradient buckets follow (src/plan.c): Megatron-LM's DistributedDataParallel or
 * PyTorch's DDP (its first bucket capped at 1 MiB). */
enum tl_bucket_policy { TL_BUCKETS_MEGATRON, TL_BUCKETS_DDP };
/* The optimizer step's byte model (src/model.c, tl_optimizer_bytes). */
enum tl_optimizer { TL_OPTIMIZER_ADAM_FUSED, TL_OPTIMIZER_ADAM_UNFUSED, TL_OPTIMIZER_SGD };
/* The elementwise passes' byte model: Megatron-LM's fused kernels, or one kernel per operation
 * as eager PyTorch runs them (src/model.c). */
enum tl_fusion { TL_FUSION_MEGATRON, TL_FUSION_NONE };
enum tl_recompute { TL_RECOMPUTE_NONE, TL_RECOMPUTE_SELECTIVE, TL_RECOMPUTE_FULL };
enum tl_memory { TL_MEMORY_FULL, TL_MEMORY_LEAN };
enum tl_backend_kind { TL_BACKEND_CPU, TL_BACKEND_CUDA, TL_BACKEND_NULL };
enum tl_bind { TL_BIND_AUTO, TL_BIND_CORE, TL_BIND_NUMA, TL_BIND_PACKAGE, TL_BIND_NONE };
enum tl_group { TL_GROUP_WORLD, TL_GROUP_TP, TL_GROUP_DP, TL_GROUP_PP, TL_GROUP_EP, TL_GROUP_CP };

#define TL_NAME_MAX 64
/* The largest world trainload plans for: 2^32 ranks. */
#define TL_MAX_RANKS (UINT64_C(1) << 32)
#define TL_SWEEP_OPS_MAX 128
/* A job file is a few kB of text: more is refused unread (a file of zeros, a log by mistake). */
#define TL_JOB_FILE_MAX (16 << 20)
/* The bytes of a job-file line that are kept (longer lines are refused, their length counted). */
#define TL_JOB_LINE_KEPT 4096

struct tl_job {
	/* [model] */
	char name[TL_NAME_MAX];
	uint64_t layers, hidden, heads, kv_heads, ffn_hidden, vocab, seq;
	uint64_t experts, topk, moe_every;
	int mlp; /* enum tl_mlp */
	bool tied_embeddings;
	double dropout; /* probability; > 0 adds the dropout passes */
	/* [parallel] */
	uint64_t tp, pp, cp, ep, dp, zero, microbatch, global_batch, grad_accum, bucket_mb;
	uint64_t virtual_stages; /* model chunks per pipeline stage (schedule = interleaved) */
	bool sequence_parallel, overlap;
	int schedule;      /* enum tl_schedule */
	int bucket_policy; /* enum tl_bucket_policy */
	/* [run] */
	uint64_t steps, warmup, threads_per_rank, check, timeout_s;
	double straggler_pct;
	char log_interval[32]; /* progress lines: "N" steps, "Ns" seconds (trainload/progress.h) */
	int compute_dtype, comm_dtype, recompute, memory, backend, bind;
	int optimizer; /* enum tl_optimizer */
	int fusion;    /* enum tl_fusion */
	/* [sweep] */
	char sweep_op[TL_SWEEP_OPS_MAX];
	uint64_t min_bytes, max_bytes, factor, step, iters, warmup_iters, sweep_check, rotate_mb;
	uint64_t window; /* point-to-point bandwidth tests: messages in flight */
	int sweep_group; /* enum tl_group */
	int sweep_dtype; /* enum tl_dtype, never TL_DTYPE_SAME */
	bool blocking;

	/* Where the job came from: the file ("built-in default" when none) and, per option, the
	 * line that set it (0: default, -1: --set). Used to point validation errors at a line. */
	char source[512];
	int *set_line; /* indexed like tl_job_options */
	bool has_model, has_sweep; /* sections present in the file */
};

enum tl_opt_type { TL_OPT_UINT, TL_OPT_BOOL, TL_OPT_ENUM, TL_OPT_STR, TL_OPT_DOUBLE };

/* The accepted spellings of an enum option, each with the value stored. */
struct tl_opt_enum {
	const char *name;
	int value;
};

#define TL_OPT_AUTO 0x1 /* accepts "auto", stored as 0 and resolved by tl_job_resolve() */

struct tl_option {
	const char *section;
	const char *name;
	enum tl_opt_type type;
	size_t off;          /* offsetof(struct tl_job, field) */
	size_t size;         /* TL_OPT_STR: the buffer's size */
	uint64_t min, max;   /* TL_OPT_UINT range; TL_OPT_DOUBLE uses dmin/dmax */
	double dmin, dmax;
	const struct tl_opt_enum *names; /* TL_OPT_ENUM, NULL-terminated */
	unsigned flags;
	const char *def;     /* default, as it would be written in a job file */
	const char *help;
};

extern const struct tl_option tl_job_options[];
extern const size_t tl_job_option_count;
extern const char *const tl_job_sections[]; /* NULL-terminated */

/* Set every option to its default; the job then describes the built-in default run. */
int tl_job_init(struct tl_job *job);
void tl_job_free(struct tl_job *job);

/* Read a job file into job (already initialised). Errors go to diag; returns TL_EINPUT if any. */
int tl_job_parse_file(struct tl_job *job, const char *path, struct tl_diag *diag);
/* Parse from a stream; "name" is used in messages (tests use fmemopen). */
int tl_job_parse_stream(struct tl_job *job, void *file, const char *name, struct tl_diag *diag);

/* Apply one "section.key=value" override (--set); errors go to diag. */
int tl_job_set(struct tl_job *job, const char *assignment, struct tl_diag *diag);

/*
 * Fill every "auto" from the world size and check the combinations (divisibility, products,
 * 64-bit overflow, features not implemented yet). Errors name the file, line and key.
 */
int tl_job_resolve(struct tl_job *job, uint64_t world_ranks, struct tl_diag *diag);

/* Add an error to diag, located where section.key was set (file:line, --set or the file). */
void tl_job_blame(const struct tl_job *job, const char *section, const char *key,
		  struct tl_diag *diag, const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Whether section.key was set by the job file or --set (rather than left at its default). */
bool tl_job_was_set(const struct tl_job *job, const char *section, const char *key);

/* An unsigned integer with an optional k/M/G/T or Ki/Mi/Gi/Ti suffix; on error *why says why. */
int tl_parse_uint(const char *s, uint64_t *out, const char **why);

/* Edit distance (with adjacent transpositions, case-blind) between two short names, for the
 * "did you mean" of messages; SIZE_MAX when a name is longer than TL_NAME_MAX. */
size_t tl_job_edit_distance(const char *a, const char *b);

/* The [parallel] key that set the number of microbatches: grad_accum when only it was given,
 * global_batch otherwise (for errors about a step's size). */
const char *tl_job_batch_key(const struct tl_job *job);

/* Look an option up by section and key; NULL when unknown. */
const struct tl_option *tl_job_option(const char *section, const char *name);
/* The option's value in job, as a job file would spell it (buf is returned). */
const char *tl_job_format(const struct tl_job *job, const struct tl_option *opt, char *buf,
			  size_t len);
/* "file:line" of the option's setting, "--set section.key", or the job's source (its file, or
 * "built-in default job") when the option kept its default. */
const char *tl_job_where(const struct tl_job *job, const struct tl_option *opt, char *buf,
			 size_t len);

/* The resolved job as a JSON object of sections; every key, including defaults. */
json_t *tl_job_to_json(const struct tl_job *job);
/* The inverse: apply a JSON object of sections (a result's "job") to job, key by key as --set
 * would; errors go to diag. trainload-report rebuilds a run's job with it. */
int tl_job_from_json(struct tl_job *job, const json_t *sections, struct tl_diag *diag);
/* --help-job: every section and key with type, range, default and help. */
void tl_job_print_help(void *file);

/* Name of an enum value of the option "section.key" (for printing). */
const char *tl_job_enum_name(const char *section, const char *key, int value);

#endif
