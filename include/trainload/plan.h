/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The plan: one rank's training step as an ordered list of ops, built from the job, the model
 * arithmetic and the grid (DESIGN.md §4). Pure: no MPI, no BLAS. The executor walks it;
 * --dry-run prints it. A plan is O(layers × microbatches) ops, whatever the world size.
 */
#ifndef TRAINLOAD_PLAN_H
#define TRAINLOAD_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "trainload/coll.h"
#include "trainload/grid.h"
#include "trainload/job.h"
#include "trainload/model.h"

enum tl_phase {
	TL_PHASE_FORWARD,
	TL_PHASE_BACKWARD,
	TL_PHASE_RECOMPUTE,
	TL_PHASE_GRAD_SYNC,
	TL_PHASE_OPTIMIZER,
	TL_PHASE_SWEEP, /* a collective sweep's or a point-to-point test's calls */
	TL_PHASES
};

/* Which operand of a forward GEMM C = A·B a backward GEMM computes the gradient of. */
enum tl_gemm_pass { TL_GEMM_FWD, TL_GEMM_GRAD_A, TL_GEMM_GRAD_B };

/* What a memory pass (TL_OP_ELEMENTWISE, TL_OP_OPTIMIZER) stands for; the plan sums its bytes by
 * these (memory_bytes_moved_per_step). */
enum tl_mem_kind {
	TL_MEM_NORM,
	TL_MEM_ACTIVATION,
	TL_MEM_SOFTMAX,
	TL_MEM_DROPOUT,
	TL_MEM_RESIDUAL,
	TL_MEM_EMBEDDING,
	TL_MEM_LOSS,
	TL_MEM_OPTIMIZER,
	TL_MEM_KINDS
};

struct tl_op {
	enum tl_op_kind kind;
	enum tl_phase phase;
	int group;      /* communication ops: TL_GROUP_* or TL_GROUP_EDP */
	int layer;      /* -1: not a layer's (embedding, logits, gradient sync, optimizer) */
	int microbatch; /* -1: once per step */
	/* GEMM: the shapes as executed, C[m×n] = op(A)[m×k]·op(B)[k×n], batch times. */
	struct tl_gemm gemm;
	enum tl_gemm_pass pass;
	bool trans_a, trans_b;
	enum tl_mem_kind mem; /* elementwise and optimizer passes */
	/* Communication: payload this rank passes in (the larger of input and output, as
	 * nccl-tests counts); elementwise and optimizer: bytes read plus bytes written. */
	uint64_t bytes;
	uint64_t offset;  /* gradient buckets: where the bucket starts in the gradient buffer */
	int64_t peer;     /* send, recv: world rank at the other end */
	int tag;          /* send, recv: 2·(microbatch·chunks + chunk), +1 for gradients, where
			     chunk is the model chunk on the lower side of the pipeline boundary
			     (0 without the interleaved schedule, and in the cp ring) */
	bool nonblocking; /* started here, completed by the TL_OP_WAIT with the same req */
	bool in_place;    /* sweep: input and output share one buffer (coll.h's layout) */
	int req;          /* nonblocking ops and waits: the request slot */
};

/* One entry of the compact schedule: a microbatch's forward or backward of one model chunk. */
struct tl_sched {
	char dir; /* 'F' or 'B' */
	int microbatch;
	int chunk; /* 0 unless the schedule is interleaved */
};

struct tl_plan {
	struct tl_op *ops;
	size_t count, cap;
	uint64_t ops_per_kind[TL_OP_KINDS];
	/* Payload per group, this rank, one step; expert-data-parallel gradients, and the dp·cp
	 * group's, count as dp. */
	uint64_t comm_bytes[TL_GRID_GROUPS];
	uint64_t mem_bytes[TL_MEM_KINDS]; /* bytes the memory passes read and write, one step */
	tl_flops_t flops; /* this rank's GEMM FLOPs, one step */
	int reqs;         /* request slots the step uses */
	uint64_t rank;
	struct tl_coords coords;
	struct tl_sched *sched; /* 2 × microbatches × chunks entries, in execution order */
	size_t nsched;
};

/* Build rank's plan for one step of a resolved job. */
int tl_plan_build(struct tl_plan *plan, const struct tl_job *job, const struct tl_model *model,
		  const struct tl_grid *grid, uint64_t rank);
/* The same, with an allocation failure reported in diag as an input error: a plan too large
 * for this process's memory comes from the job's sizes. */
int tl_plan_build_diag(struct tl_plan *plan, const struct tl_job *job,
		       const struct tl_model *model, const struct tl_grid *grid, uint64_t rank,
		       struct tl_diag *diag);
void tl_plan_free(struct tl_plan *plan);
/* Append op to plan, counting it in ops_per_kind, flops and comm_bytes. 0 or TL_ENOMEM. */
int tl_plan_push(struct tl_plan *plan, const struct tl_op *op);

const char *tl_mem_kind_name(enum tl_mem_kind kind); /* "norm", "softmax", … as in the JSON */
const char *tl_phase_name(enum tl_phase phase);

/* The group data-parallel gradients of dense weights reduce over: dp, or with context
 * parallelism the dp·cp ranks that hold the same weights (TL_GROUP_DPCP). */
int tl_plan_grad_group(const struct tl_job *job);

/* PyTorch DDP's first gradient bucket (dist._DEFAULT_FIRST_BUCKET_BYTES). */
#define TL_DDP_FIRST_BUCKET_BYTES (UINT64_C(1) << 20)

#endif
