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
	uint64_t bias;    /* elements of the bias whose gradient comes with the weight's (this rank,
			     all batch), 0: none */
	bool weight;      /* B is a weight: backward has a weight-gradient GEMM */
	bool expert;      /* an MoE layer's experts' (reduced over the expert-data-parallel group) */
	bool attn_core;   /* QKᵀ or attention·V: what selective recompute runs again */
};

/* An elementwise pass of one microbatch on this rank: bytes read plus bytes written, in forward
 * and in backward, by the byte model of src/model.c (job.fusion). */
struct tl_pass_bytes {
	uint64_t fwd, bwd;
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
	uint64_t norm_params;        /* each of the two norms (replicated over tp) */
	/* Elementwise passes: each of the two norms, the MLP's activation (with its bias), the
	 * softmax of one attention block (cp blocks a layer with context parallelism) and its
	 * dropout, each of the two residual adds (with the row-parallel bias and, fused, the
	 * dropout) and each hidden dropout where it is not fused. */
	struct tl_pass_bytes norm, act, softmax, attn_dropout, residual, hidden_dropout;
};

struct tl_model {
	struct tl_layer dense, moe; /* moe is unused when experts = 0 */
	struct tl_gemm logits;      /* on the last pipeline stage */

	uint64_t elem_bytes;      /* compute_dtype size */
	uint64_t comm_elem_bytes; /* comm_dtype size */
	uint64_t tokens;          /* b·s/cp: tokens of one microbatch on this rank */
	uint64_t tp_bytes;        /* one tensor-parallel collective: b·s/cp·h elements, comm dtype */
	uint64_t pp_bytes;        /* one pipeline send: b·s/cp·h (÷ tp with sequence parallelism) */
	uint64_t moe_bytes;       /* one MoE alltoall: topk·b·s/cp·h elements, comm dtype */
	uint64_t cp_bytes;        /* one step of the context-parallel ring: K and V of the rank's
				     tokens, 2·b·s/cp·(h·kv_heads/heads)/tp elements, comm dtype */
	struct tl_pass_bytes embed; /* the embedding lookup (first stage) */
	struct tl_pass_bytes loss;  /* the loss: cross-entropy over the vocabulary shard (last) */
	struct tl_pass_bytes final_norm; /* the norm before the logits (last stage) */
	/* The optimizer step, bytes per parameter of the rank's (ZeRO) shard (tl_optimizer_bytes) */
	uint64_t optimizer_read_per_param, optimizer_written_per_param;

	uint64_t params_total;    /* whole model */
	uint64_t params_embedding; /* one embedding matrix, whole model: V·h */
	uint64_t params_per_rank; /* the largest of any rank */
	uint64_t embed_params_rank; /* first stage: input embedding shard and learned positions */
	uint64_t head_params_rank;  /* last stage: final norm and output embedding shard */
	uint64_t tokens_per_step; /* global_batch · seq */
	uint64_t microbatches;    /* per step per data-parallel rank */
	uint64_t layers_per_stage;
	uint64_t chunks;          /* model chunks per stage: virtual_stages (interleaved), else 1 */
	double bubble_fraction;   /* (pp - 1)/(chunks · microbatches), as the schedule plans it */

	/* Memory per rank, bytes, the largest of any rank (DESIGN.md §4; activations as
	 * Korthikanti et al. 2022, scaled from their 2-byte activations to compute_dtype). */
	uint64_t weight_bytes, grad_bytes, optimizer_bytes, activation_bytes;
	uint64_t memory_bytes_per_rank; /* the sum of the four */

	/* Per step, whole model, all ranks. */
	tl_flops_t model_flops_per_step;    /* forward + backward, never counts recompute */
	tl_flops_t hardware_flops_per_step; /* what the ranks execute, recompute included */
};

/*
 * The optimizer's own state per parameter, as the ZeRO paper counts mixed-precision training:
 * fp32 master weights and, for Adam, two moments (12 bytes), for SGD one momentum buffer (8).
 * Memory counts it beside the weights and gradients in compute_dtype.
 */
uint64_t tl_optimizer_state_bytes(const struct tl_job *job);

/*
 * The optimizer step's bytes per parameter, read and written (docs/step.md):
 *   adam_fused    one kernel: reads weight, gradient, both moments; writes weight, both moments
 *   adam_unfused  torch.optim.Adam as PyTorch 1.13 runs it on CPU (foreach off), 8 kernels:
 *                 m.mul_ m.add_ v.mul_ v.addcmul_ v.sqrt() /c2 .add_(eps) p.addcdiv_
 *   sgd           torch.optim.SGD with momentum: b.mul_ b.add_(g) p.add_(b)
 * The state (weights, moments, momentum) is fp32 (f64 in f64 runs) and the gradient is in
 * compute_dtype; with a 16-bit compute_dtype the updated fp32 weights are also copied into the
 * 16-bit ones (one more read of the state size and a write of the 16-bit size), as Megatron's
 * optimizer does.
 */
void tl_optimizer_bytes(const struct tl_job *job, uint64_t *read, uint64_t *written);

/* Build the model arithmetic of a resolved job; 64-bit overflow is an input error. */
int tl_model_build(struct tl_model *model, const struct tl_job *job, struct tl_diag *diag);

/* Parameters one rank of pipeline stage `stage` holds; *expert gets the expert share. */
uint64_t tl_model_stage_params(const struct tl_model *model, const struct tl_job *job,
			       uint64_t stage, uint64_t *expert);

/* The layer kind of layer i (0-based): every moe_every-th layer is MoE when experts > 0. */
const struct tl_layer *tl_model_layer(const struct tl_model *model, const struct tl_job *job,
				      uint64_t layer);

/* Where layers sit on the pipeline. Stage s holds layers_per_stage layers in `chunks` model
 * chunks (Megatron's virtual stages: chunk c of stage s is virtual stage c·pp + s and holds the
 * layers_per_stage/chunks layers from (c·pp + s)·layers_per_stage/chunks on). tl_model_stage_layer
 * gives the i-th layer of stage s (0 ≤ i < layers_per_stage, chunk by chunk), tl_model_layer_slot
 * the inverse: a layer's i on its stage. */
uint64_t tl_model_stage_layer(const struct tl_model *model, const struct tl_job *job,
			      uint64_t stage, uint64_t i);
uint64_t tl_model_layer_slot(const struct tl_model *model, const struct tl_job *job,
			     uint64_t layer);

/* The forwards stage `stage` runs before its first backward (counted in model chunks with the
 * interleaved schedule): 1F1B min(pp - 1 - stage, m); GPipe m; interleaved as Megatron-LM's
 * forward_backward_pipelining_with_interleaving, min(2·(pp - 1 - stage) + (chunks - 1)·pp,
 * m·chunks), or all m·chunks when m = pp. */
uint64_t tl_model_warmup(const struct tl_model *model, const struct tl_job *job, uint64_t stage);

/* FLOPs of one GEMM: 2·m·n·k·batch. */
tl_flops_t tl_gemm_flops(const struct tl_gemm *g);

#endif
