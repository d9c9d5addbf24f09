/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transformer arithmetic (DESIGN.md §4).
 *
 * Parameter conventions follow the two published families the mlp key stands for: gelu models
 * are GPT-style (biases on every linear layer, LayerNorm with weight and bias, learned position
 * embeddings), swiglu models are Llama-style (no biases, RMSNorm with a weight only, rotary
 * positions that hold no parameters).
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include "trainload/model.h"

/* Multiplication and addition that record overflow instead of wrapping. */
struct safe {
	bool overflow;
};

static uint64_t mul(struct safe *s, uint64_t a, uint64_t b)
{
	uint64_t r;
	if (__builtin_mul_overflow(a, b, &r)) {
		s->overflow = true;
		return 0;
	}
	return r;
}

static uint64_t add(struct safe *s, uint64_t a, uint64_t b)
{
	uint64_t r;
	if (__builtin_add_overflow(a, b, &r)) {
		s->overflow = true;
		return 0;
	}
	return r;
}

uint64_t tl_dtype_bytes(int dtype)
{
	switch (dtype) {
	case TL_DTYPE_F64:
		return 8;
	case TL_DTYPE_BF16:
	case TL_DTYPE_F16:
		return 2;
	default:
		return 4;
	}
}

tl_flops_t tl_gemm_flops(const struct tl_gemm *g)
{
	return (tl_flops_t)2 * g->m * g->n * g->k * g->batch;
}

static struct tl_gemm gemm(const char *name, uint64_t m, uint64_t n, uint64_t k, uint64_t batch,
			   bool weight, bool attn_core)
{
	return (struct tl_gemm){ .name = name, .m = m, .n = n, .k = k, .batch = batch,
				 .weight = weight, .attn_core = attn_core };
}

/* The forward GEMMs of one layer for one microbatch on one of t tensor-parallel ranks. */
static int layer_gemms(const struct tl_job *job, uint64_t t, struct tl_gemm *out, struct safe *s)
{
	uint64_t tokens = mul(s, job->microbatch, job->seq);
	uint64_t head_dim = job->hidden / job->heads;
	uint64_t qkv_cols = mul(s, add(s, job->heads, mul(s, 2, job->kv_heads)), head_dim);
	uint64_t heads_batch = mul(s, job->microbatch, job->heads / t);
	uint64_t ffn = job->ffn_hidden / t;
	int n = 0;

	out[n++] = gemm("qkv", tokens, qkv_cols / t, job->hidden, 1, true, false);
	out[n++] = gemm("attn_scores", job->seq, job->seq, head_dim, heads_batch, false, true);
	out[n++] = gemm("attn_v", job->seq, head_dim, job->seq, heads_batch, false, true);
	out[n++] = gemm("out_proj", tokens, job->hidden, job->hidden / t, 1, true, false);
	if (job->mlp == TL_MLP_SWIGLU)
		out[n++] = gemm("mlp_gate", tokens, ffn, job->hidden, 1, true, false);
	out[n++] = gemm("mlp_up", tokens, ffn, job->hidden, 1, true, false);
	out[n++] = gemm("mlp_down", tokens, job->hidden, ffn, 1, true, false);
	return n;
}

static struct tl_gemm logits_gemm(const struct tl_job *job, uint64_t t, struct safe *s)
{
	/* The vocabulary is padded to a multiple of t, as Megatron pads it. */
	uint64_t vocab_per_rank = (job->vocab + t - 1) / t;
	return gemm("logits", mul(s, job->microbatch, job->seq), vocab_per_rank, job->hidden, 1, true,
		    false);
}

/* Parameters of one layer, whole model, and the share one tensor-parallel rank holds. */
static void layer_params(const struct tl_job *job, struct safe *s, uint64_t *whole,
			 uint64_t *per_rank)
{
	uint64_t h = job->hidden, t = job->tp, f = job->ffn_hidden;
	uint64_t qkv_cols = (job->heads + 2 * job->kv_heads) * (h / job->heads);
	bool gpt = job->mlp == TL_MLP_GELU;
	/* Column-parallel weights (and their biases) are split over t; row-parallel biases and
	 * norms are replicated on every tensor-parallel rank. */
	uint64_t split = add(s, mul(s, h, qkv_cols), mul(s, h, h));
	uint64_t replicated;

	split = add(s, split, mul(s, mul(s, gpt ? 2 : 3, h), f));
	if (gpt) {
		split = add(s, split, add(s, qkv_cols, f)); /* column-parallel biases */
		replicated = 2 * h + 2 * 2 * h;            /* row-parallel biases, 2 LayerNorms */
	} else {
		replicated = 2 * h; /* 2 RMSNorm weights */
	}
	*whole = add(s, split, replicated);
	*per_rank = add(s, split / t, replicated);
}

int tl_model_build(struct tl_model *model, const struct tl_job *job, struct tl_diag *diag)
{
	struct safe s = { false };
	struct tl_gemm whole[TL_MODEL_LAYER_GEMMS_MAX];
	uint64_t per_layer_rank;

	memset(model, 0, sizeof(*model));
	if (job->ffn_hidden % job->tp) {
		char w[600];
		tl_diag_add(diag, tl_job_where(job, tl_job_option("parallel", "tp"), w, sizeof(w)),
			    "tp = %" PRIu64 " does not divide ffn_hidden = %" PRIu64, job->tp,
			    job->ffn_hidden);
		return TL_EINPUT;
	}
	model->elem_bytes = tl_dtype_bytes(job->compute_dtype);
	model->comm_elem_bytes = tl_dtype_bytes(job->comm_dtype);
	model->layer_gemms = layer_gemms(job, job->tp, model->layer, &s);
	model->logits = logits_gemm(job, job->tp, &s);
	model->microbatches = job->grad_accum;
	model->tokens_per_step = mul(&s, job->global_batch, job->seq);

	/* Parameters. */
	uint64_t embed = mul(&s, job->vocab, job->hidden);
	bool gpt = job->mlp == TL_MLP_GELU;
	uint64_t positions = gpt ? mul(&s, job->seq, job->hidden) : 0;
	uint64_t final_norm = gpt ? 2 * job->hidden : job->hidden;
	uint64_t layers_per_stage = job->layers / job->pp;

	layer_params(job, &s, &model->params_per_layer, &per_layer_rank);
	model->params_total = add(&s, mul(&s, job->layers, model->params_per_layer),
				  add(&s, embed, add(&s, positions, final_norm)));
	if (!job->tied_embeddings)
		model->params_total = add(&s, model->params_total, embed);

	/* The first stage holds the input embedding, the last the output one (the same matrix
	 * when tied and pp = 1; a copy on each end when tied and pp > 1, as Megatron keeps it). */
	uint64_t embed_rank = (job->vocab + job->tp - 1) / job->tp * job->hidden;
	uint64_t stage_layers = mul(&s, layers_per_stage, per_layer_rank);
	uint64_t first = add(&s, stage_layers, add(&s, embed_rank, positions));
	uint64_t last = add(&s, stage_layers, final_norm);
	if (job->pp == 1) {
		first = add(&s, first, final_norm);
		if (!job->tied_embeddings)
			first = add(&s, first, embed_rank);
		model->params_per_rank = first;
	} else {
		last = add(&s, last, embed_rank);
		model->params_per_rank = first > last ? first : last;
	}

	/* FLOPs: the whole model's per-GEMM sums (tp = 1 shapes), and the busiest rank's. */
	int nwhole = layer_gemms(job, 1, whole, &s);
	struct tl_gemm whole_logits = logits_gemm(job, 1, &s);
	tl_flops_t layer_fwd = 0, attn_core_fwd = 0, rank_layer_fwd = 0, rank_core_fwd = 0;
	for (int i = 0; i < nwhole; i++) {
		layer_fwd += tl_gemm_flops(&whole[i]);
		if (whole[i].attn_core)
			attn_core_fwd += tl_gemm_flops(&whole[i]);
	}
	for (int i = 0; i < model->layer_gemms; i++) {
		rank_layer_fwd += tl_gemm_flops(&model->layer[i]);
		if (model->layer[i].attn_core)
			rank_core_fwd += tl_gemm_flops(&model->layer[i]);
	}
	tl_flops_t microbatches_all = job->global_batch / job->microbatch;
	tl_flops_t fwd = layer_fwd * job->layers + tl_gemm_flops(&whole_logits);
	tl_flops_t rank_fwd = rank_layer_fwd * layers_per_stage + tl_gemm_flops(&model->logits);
	tl_flops_t extra = 0, rank_extra = 0; /* recomputed forward work per microbatch */

	if (job->recompute == TL_RECOMPUTE_FULL) {
		extra = layer_fwd * job->layers;
		rank_extra = rank_layer_fwd * layers_per_stage;
	} else if (job->recompute == TL_RECOMPUTE_SELECTIVE) {
		extra = attn_core_fwd * job->layers;
		rank_extra = rank_core_fwd * layers_per_stage;
	}
	model->model_flops_per_step = 3 * fwd * microbatches_all;
	model->hardware_flops_per_step = (3 * fwd + extra) * microbatches_all;
	model->flops_per_rank_per_step = (3 * rank_fwd + rank_extra) * model->microbatches;

	/* Every GEMM's own FLOPs and every buffer's bytes must fit in 64 bits. */
	for (int i = 0; i < model->layer_gemms && !s.overflow; i++) {
		const struct tl_gemm *g = &model->layer[i];
		mul(&s, mul(&s, mul(&s, mul(&s, 2, g->m), g->n), g->k), g->batch);
	}
	mul(&s, mul(&s, model->params_per_rank, model->elem_bytes), 16);
	mul(&s, mul(&s, model->logits.m, model->logits.n), model->elem_bytes);
	if (s.overflow) {
		tl_diag_add(diag, job->source,
			    "the model's sizes overflow 64-bit byte or FLOP counts (check hidden, "
			    "seq, vocab, layers, microbatch and global_batch)");
		return TL_EINPUT;
	}
	return 0;
}
