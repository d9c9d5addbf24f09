/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transformer arithmetic: the GEMMs of one layer for one microbatch as one tensor-parallel rank
 * runs them, parameter counts and FLOPs (DESIGN.md §4). Pure: no MPI, no BLAS.
 *
 * FLOP totals of a step exceed 64 bits for the largest models (GPT-3 175B: ~3e21), so they are
 * kept as exact 128-bit integers; every single GEMM's FLOPs and every byte count fits in 64 bits
 * (checked when the model is built).
 */
#ifndef TRAINLOAD_MODEL_H
#define TRAINLOAD_MODEL_H

#include <stdbool.h>
#include <stdint.h>

#include "trainload/job.h"

typedef unsigned __int128 tl_flops_t;

/* C[m×n] = A[m×k]·B[k×n], batch times (attention runs one per head and sequence). */
struct tl_gemm {
	const char *name; /* "qkv", "attn_scores", "attn_v", "out_proj", "mlp_up", ... */
	uint64_t m, n, k, batch;
	bool weight;      /* B is a weight: backward has a weight-gradient GEMM */
	bool attn_core;   /* QKᵀ or attention·V: what selective recompute runs again */
};

#define TL_MODEL_LAYER_GEMMS_MAX 8

struct tl_model {
	/* One transformer layer's forward GEMMs for one microbatch on one tensor-parallel rank. */
	struct tl_gemm layer[TL_MODEL_LAYER_GEMMS_MAX];
	int layer_gemms;
	struct tl_gemm logits; /* on the last pipeline stage */

	uint64_t elem_bytes;        /* compute_dtype size */
	uint64_t comm_elem_bytes;   /* comm_dtype size */
	uint64_t params_total;      /* whole model */
	uint64_t params_per_layer;  /* whole model, one layer */
	uint64_t params_per_rank;   /* the largest of any rank */
	uint64_t tokens_per_step;   /* global_batch · seq */
	uint64_t microbatches;      /* per step per data-parallel rank */

	/* Per step, whole model, all ranks. */
	tl_flops_t model_flops_per_step;    /* forward + backward, never counts recompute */
	tl_flops_t hardware_flops_per_step; /* what the ranks execute, recompute included */
	/* Per step, the busiest rank (what this rank's GEMMs add up to). */
	tl_flops_t flops_per_rank_per_step;
};

/* Build the model arithmetic of a resolved job; 64-bit overflow is an input error. */
int tl_model_build(struct tl_model *model, const struct tl_job *job, struct tl_diag *diag);

/* FLOPs of one GEMM: 2·m·n·k·batch. */
tl_flops_t tl_gemm_flops(const struct tl_gemm *g);

/* Bytes of one element of a dtype (enum tl_dtype). */
uint64_t tl_dtype_bytes(int dtype);

#endif
