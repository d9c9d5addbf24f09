/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The plan: one rank's training step as an ordered list of ops, built from the job and the model
 * arithmetic. Pure: no MPI, no BLAS. The executor walks it; --dry-run prints it.
 */
#ifndef TRAINLOAD_PLAN_H
#define TRAINLOAD_PLAN_H

#include <stddef.h>
#include <stdint.h>

#include "trainload/job.h"
#include "trainload/model.h"

enum tl_op_kind {
	TL_OP_GEMM,
	TL_OP_ELEMENTWISE,
	TL_OP_ALLREDUCE,
	TL_OP_REDUCE_SCATTER,
	TL_OP_ALLGATHER,
	TL_OP_ALLTOALL,
	TL_OP_SEND,
	TL_OP_RECV,
	TL_OP_WAIT,
	TL_OP_OPTIMIZER,
	TL_OP_KINDS
};

enum tl_phase {
	TL_PHASE_FORWARD,
	TL_PHASE_BACKWARD,
	TL_PHASE_RECOMPUTE,
	TL_PHASE_GRAD_SYNC,
	TL_PHASE_OPTIMIZER,
	TL_PHASES
};

/* Which operand of a forward GEMM C = A·B a backward GEMM computes the gradient of. */
enum tl_gemm_pass { TL_GEMM_FWD, TL_GEMM_GRAD_A, TL_GEMM_GRAD_B };

struct tl_op {
	enum tl_op_kind kind;
	enum tl_phase phase;
	enum tl_group group; /* collectives, send and recv */
	int layer;           /* -1: not a layer's (logits, gradient sync) */
	int microbatch;      /* -1: once per step */
	/* GEMM: the shapes as executed, C[m×n] = op(A)[m×k]·op(B)[k×n], batch times. */
	struct tl_gemm gemm;
	enum tl_gemm_pass pass;
	bool trans_a, trans_b;
	uint64_t bytes; /* collectives, send, recv: payload this rank passes in */
};

struct tl_plan {
	struct tl_op *ops;
	size_t count, cap;
	uint64_t ops_per_kind[TL_OP_KINDS];
	uint64_t comm_bytes[TL_GROUP_CP + 1]; /* payload per group, this rank, one step */
	tl_flops_t flops;                     /* this rank's GEMM FLOPs, one step */
	int rank;
};

/* Build rank's plan for one step. */
int tl_plan_build(struct tl_plan *plan, const struct tl_job *job, const struct tl_model *model,
		  int rank);
void tl_plan_free(struct tl_plan *plan);

const char *tl_op_kind_name(enum tl_op_kind kind); /* "gemm", "allreduce", … as in the JSON */
const char *tl_phase_name(enum tl_phase phase);
const char *tl_group_name(enum tl_group group);

#endif
