/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transformer arithmetic (DESIGN.md §4): the GEMMs of one layer for one microbatch as one
 * tensor- and expert-parallel rank runs them, parameter counts, FLOPs, activation and optimizer
 * memory. Pure: no MPI, no BLAS.
 *
 * FLOP totals of a step exceed 64 bits for the largest models (Megatron's 1T: 3.9e19 per step),
 * so they are kept as exact 128-bit integers; every single GEMM's FLOPs and every byte count fits in 64 bits
 * (checked when the model is built).
 */
#ifndef TRAINLOAD_MODEL_H
#define TRAINLOAD_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "trainload/job.h"

typedef unsigned __int128 tl_flops_t;

/* C[m×n] = A[m×k]·B[k×n], batch times (attention runs one per head and sequence, MoE one per
 * local expert). */
struct tl_gemm {
	const char *name; /* "qkv", "attn_scores", "attn_v", "out_proj", "mlp_up", ... */
	uint64_t m, n, k, batch;
	bool weight;      /* B is a weight: backward has a weight-gradient GEMM */
	bool attn_core;   /* QKᵀ or attention·V: what selective recompute runs again */
};

#define TL_LAYER_GEMMS_MAX 8

/* One kind of transformer layer (dense, or MoE) as one rank runs it. */
struct tl_layer {
	bool moe;
	struct tl_gemm attn[4]; /* qkv, attn_scores, attn_v, out_proj */
	struct tl_gemm mlp[4];  /* dense: [mlp_gate,] mlp_up, mlp_down; MoE: router, experts */
	int mlp_gemms;
	uint64_t params;        /* whole model, one layer */
	uint64_t params_rank;   /* what one rank holds of it */
	uint64_t expert_params_rank; /* of params_rank, the expert weights (reduced over edp) */
	/* Elementwise passes of one microbatch's forward, bytes read + written (backward moves
	 * twice these): the two norms, softmax, MLP activation, the two residual adds. */
	uint64_t norm_bytes, softmax_bytes, act_bytes, residual_bytes;
};

struct tl_model {
	struct tl_layer dense, moe; /* moe is unused when experts = 0 */
	struct tl_gemm logits;      /* on the last pipeline stage */

	uint64_t elem_bytes;      /* compute_dtype size */
	uint64_t comm_elem_bytes; /* comm_dtype size */
	uint64_t tokens;          /* b·s: tokens of one microbatch */
	uint64_t tp_bytes;        /* one tensor-parallel collective: b·s·h elements, comm dtype */
	uint64_t pp_bytes;        /* one pipeline send: b·s·h (÷ tp with sequence parallelism) */
	uint64_t moe_bytes;       /* one MoE alltoall: topk·b·s·h elements, comm dtype */
	uint64_t embed_bytes;     /* the embedding lookup's pass, bytes */
	uint64_t loss_bytes;      /* the loss (softmax over the vocabulary shard) pass, bytes */

	uint64_t params_total;    /* whole model */
	uint64_t params_embedding; /* one embedding matrix, whole model: V·h */
	uint64_t params_per_rank; /* the largest of any rank */
	uint64_t embed_params_rank; /* first stage: input embedding shard and learned positions */
	uint64_t head_params_rank;  /* last stage: final norm and output embedding shard */
	uint64_t tokens_per_step; /* global_batch · seq */
	uint64_t microbatches;    /* per step per data-parallel rank */
	uint64_t layers_per_stage;

	/* Memory per rank, bytes, the largest of any rank (DESIGN.md §4; activations as
	 * Korthikanti et al. 2022, scaled from their 2-byte activations to compute_dtype). */
	uint64_t weight_bytes, grad_bytes, optimizer_bytes, activation_bytes;
	uint64_t memory_bytes_per_rank; /* the sum of the four */

	/* Per step, whole model, all ranks. */
	tl_flops_t model_flops_per_step;    /* forward + backward, never counts recompute */
	tl_flops_t hardware_flops_per_step; /* what the ranks execute, recompute included */
};

/*
 * Mixed-precision Adam, as the ZeRO paper counts it: 16 bytes per parameter, of which 12 are the
 * optimizer's own fp32 state (master weights, two moments) and 2 + 2 the 16-bit weights and
 * gradients. Memory counts the state plus weights and gradients in compute_dtype; the optimizer
 * op streams the 16 bytes per parameter of the rank's (ZeRO-sharded) share.
 */
#define TL_ADAM_BYTES_PER_PARAM 16
#define TL_ADAM_STATE_BYTES_PER_PARAM 12

/* Build the model arithmetic of a resolved job; 64-bit overflow is an input error. */
int tl_model_build(struct tl_model *model, const struct tl_job *job, struct tl_diag *diag);

/* Parameters one rank of pipeline stage `stage` holds; *expert gets the expert share. */
uint64_t tl_model_stage_params(const struct tl_model *model, const struct tl_job *job,
			       uint64_t stage, uint64_t *expert);

/* The layer kind of layer i (0-based): every moe_every-th layer is MoE when experts > 0. */
const struct tl_layer *tl_model_layer(const struct tl_model *model, const struct tl_job *job,
				      uint64_t layer);

/* FLOPs of one GEMM: 2·m·n·k·batch. */
tl_flops_t tl_gemm_flops(const struct tl_gemm *g);

#endif
