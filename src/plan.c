/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One rank's step as a list of ops (DESIGN.md §4). This version plans data parallelism only:
 * every microbatch runs the layers forward, then backward in reverse order (recomputing what
 * the recompute key asks for just before each layer's backward), and the gradients are summed
 * over the data-parallel group once backward is done.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "trainload/plan.h"

static const char *const kind_names[TL_OP_KINDS] = {
	[TL_OP_GEMM] = "gemm",
	[TL_OP_ELEMENTWISE] = "elementwise",
	[TL_OP_ALLREDUCE] = "allreduce",
	[TL_OP_REDUCE_SCATTER] = "reduce_scatter",
	[TL_OP_ALLGATHER] = "allgather",
	[TL_OP_ALLTOALL] = "alltoall",
	[TL_OP_SEND] = "send",
	[TL_OP_RECV] = "recv",
	[TL_OP_WAIT] = "wait",
	[TL_OP_OPTIMIZER] = "optimizer",
};

static const char *const phase_names[TL_PHASES] = {
	[TL_PHASE_FORWARD] = "forward",     [TL_PHASE_BACKWARD] = "backward",
	[TL_PHASE_RECOMPUTE] = "recompute", [TL_PHASE_GRAD_SYNC] = "grad_sync",
	[TL_PHASE_OPTIMIZER] = "optimizer",
};

static const char *const group_names[] = {
	[TL_GROUP_WORLD] = "world", [TL_GROUP_TP] = "tp", [TL_GROUP_DP] = "dp",
	[TL_GROUP_PP] = "pp",       [TL_GROUP_EP] = "ep", [TL_GROUP_CP] = "cp",
};

const char *tl_op_kind_name(enum tl_op_kind kind)
{
	return kind_names[kind];
}

const char *tl_phase_name(enum tl_phase phase)
{
	return phase_names[phase];
}

const char *tl_group_name(enum tl_group group)
{
	return group_names[group];
}

static int push(struct tl_plan *plan, const struct tl_op *op)
{
	if (plan->count == plan->cap) {
		size_t cap = plan->cap ? 2 * plan->cap : 256;
		struct tl_op *ops = realloc(plan->ops, cap * sizeof(*ops));
		if (!ops)
			return TL_ENOMEM;
		plan->ops = ops;
		plan->cap = cap;
	}
	plan->ops[plan->count++] = *op;
	plan->ops_per_kind[op->kind]++;
	if (op->kind == TL_OP_GEMM)
		plan->flops += tl_gemm_flops(&op->gemm);
	else if (op->kind != TL_OP_ELEMENTWISE && op->kind != TL_OP_OPTIMIZER &&
		 op->kind != TL_OP_WAIT)
		plan->comm_bytes[op->group] += op->bytes;
	return 0;
}

static int push_gemm(struct tl_plan *plan, const struct tl_gemm *g, enum tl_gemm_pass pass,
		     enum tl_phase phase, int layer, int microbatch)
{
	struct tl_op op = { .kind = TL_OP_GEMM, .phase = phase, .layer = layer,
			    .microbatch = microbatch, .gemm = *g, .pass = pass };

	/* For C[m×n] = A[m×k]·B[k×n]: dA[m×k] = dC·Bᵀ and dB[k×n] = Aᵀ·dC, each 2·m·n·k FLOPs. */
	if (pass == TL_GEMM_GRAD_A) {
		op.gemm.n = g->k;
		op.gemm.k = g->n;
		op.trans_b = true;
	} else if (pass == TL_GEMM_GRAD_B) {
		op.gemm.m = g->k;
		op.gemm.k = g->m;
		op.trans_a = true;
	}
	return push(plan, &op);
}

static int forward_layer(struct tl_plan *plan, const struct tl_model *model, enum tl_phase phase,
			 bool attn_core_only, int layer, int mb)
{
	for (int i = 0; i < model->layer_gemms; i++) {
		if (attn_core_only && !model->layer[i].attn_core)
			continue;
		int rc = push_gemm(plan, &model->layer[i], TL_GEMM_FWD, phase, layer, mb);
		if (rc)
			return rc;
	}
	return 0;
}

/* Backward of one GEMM: the input gradient, then the weight (or second operand) gradient. */
static int backward_gemm(struct tl_plan *plan, const struct tl_gemm *g, int layer, int mb)
{
	int rc = push_gemm(plan, g, TL_GEMM_GRAD_A, TL_PHASE_BACKWARD, layer, mb);
	return rc ? rc : push_gemm(plan, g, TL_GEMM_GRAD_B, TL_PHASE_BACKWARD, layer, mb);
}

static int microbatch(struct tl_plan *plan, const struct tl_job *job, const struct tl_model *model,
		      int mb)
{
	int layers = (int)job->layers;
	int rc = 0;

	for (int l = 0; l < layers && !rc; l++)
		rc = forward_layer(plan, model, TL_PHASE_FORWARD, false, l, mb);
	if (!rc)
		rc = push_gemm(plan, &model->logits, TL_GEMM_FWD, TL_PHASE_FORWARD, -1, mb);
	if (!rc)
		rc = backward_gemm(plan, &model->logits, -1, mb);
	for (int l = layers - 1; l >= 0 && !rc; l--) {
		if (job->recompute != TL_RECOMPUTE_NONE)
			rc = forward_layer(plan, model, TL_PHASE_RECOMPUTE,
					   job->recompute == TL_RECOMPUTE_SELECTIVE, l, mb);
		for (int i = model->layer_gemms - 1; i >= 0 && !rc; i--)
			rc = backward_gemm(plan, &model->layer[i], l, mb);
	}
	return rc;
}

int tl_plan_build(struct tl_plan *plan, const struct tl_job *job, const struct tl_model *model,
		  int rank)
{
	int rc = 0;

	memset(plan, 0, sizeof(*plan));
	plan->rank = rank;
	for (uint64_t mb = 0; mb < model->microbatches && !rc; mb++)
		rc = microbatch(plan, job, model, (int)mb);
	if (!rc && job->dp > 1) {
		struct tl_op sync = { .kind = TL_OP_ALLREDUCE, .phase = TL_PHASE_GRAD_SYNC,
				      .group = TL_GROUP_DP, .layer = -1, .microbatch = -1,
				      .bytes = model->params_per_rank * model->comm_elem_bytes };
		rc = push(plan, &sync);
	}
	if (rc)
		tl_plan_free(plan);
	return rc;
}

void tl_plan_free(struct tl_plan *plan)
{
	free(plan->ops);
	memset(plan, 0, sizeof(*plan));
}
