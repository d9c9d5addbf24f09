/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Transformer arithmetic (DESIGN.md §4).
 *
 * Parameter conventions follow the two published families the mlp key stands for: gelu models
 * are GPT-style (biases on every linear layer, LayerNorm with weight and bias, learned position
 * embeddings), swiglu models are Llama-style (no biases, RMSNorm with a weight only, rotary
 * positions that hold no parameters). Tensor parallelism splits the column-parallel weights (and
 * their biases) and the row-parallel weights over tp, and replicates row-parallel biases and
 * norms, as Megatron does; MoE experts are split over ep and each expert's MLP over tp, and the
 * router is replicated.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "trainload/model.h"

/* The most (microbatch, layer) pairs one rank's step may hold: each is about 100 ops of some
 * 120 bytes, so 1e5 of them are some 10 million ops and 1.2 GB of plan. */
#define TL_MODEL_PLAN_UNITS_MAX 1e5

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

/* The same for the 128-bit FLOP totals: a step of absurd sizes can pass even 2^128. */
static tl_flops_t mul128(struct safe *s, tl_flops_t a, tl_flops_t b)
{
	tl_flops_t r;
	if (__builtin_mul_overflow(a, b, &r)) {
		s->overflow = true;
		return 0;
	}
	return r;
}

static tl_flops_t add128(struct safe *s, tl_flops_t a, tl_flops_t b)
{
	tl_flops_t r;
	if (__builtin_add_overflow(a, b, &r)) {
		s->overflow = true;
		return 0;
	}
	return r;
}

static uint64_t ceil_div(uint64_t a, uint64_t b)
{
	return a / b + (a % b != 0);
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

/* A weight GEMM whose bias (bias elements per batch entry, GPT-style models only) is added to
 * its output, so that the bias's gradient comes with the weight's. */
static struct tl_gemm biased(struct tl_gemm g, const struct tl_job *job, uint64_t bias)
{
	g.bias = job->mlp == TL_MLP_GELU ? bias * g.batch : 0;
	return g;
}

static bool gpt_style(const struct tl_job *job)
{
	return job->mlp == TL_MLP_GELU;
}

static uint64_t qkv_columns(const struct tl_job *job)
{
	return (job->heads + 2 * job->kv_heads) * (job->hidden / job->heads);
}

/* The MLP GEMMs of one dense MLP (or one expert) on m tokens, batch of them, split over t: the
 * column-parallel up (and gate) projection, with its bias split over t, and the row-parallel
 * down projection, with its bias whole on every rank. */
static int mlp_gemms(const struct tl_job *job, uint64_t m, uint64_t t, uint64_t batch,
		     bool expert, struct tl_gemm *out)
{
	uint64_t f = job->ffn_hidden / t;
	int n = 0;

	if (job->mlp == TL_MLP_SWIGLU)
		out[n++] = gemm(expert ? "expert_gate" : "mlp_gate", m, f, job->hidden, batch, true,
				false);
	out[n++] = biased(gemm(expert ? "expert_up" : "mlp_up", m, f, job->hidden, batch, true,
			       false),
			  job, f);
	out[n++] = biased(gemm(expert ? "expert_down" : "mlp_down", m, job->hidden, f, batch, true,
			       false),
			  job, job->hidden);
	for (int i = 0; i < n; i++)
		out[i].expert = expert;
	return n;
}

/* One layer's GEMMs for one microbatch on one of t tensor-, cp context- and ep expert-parallel
 * ranks. With context parallelism a rank holds seq/cp tokens of each sequence and its attention
 * runs in cp blocks, its queries against each rank's keys and values in turn: attn_scores and
 * attn_v are one block's. */
static void layer_gemms(const struct tl_job *job, uint64_t t, uint64_t cp, uint64_t ep, bool moe,
			struct tl_layer *layer, struct safe *s)
{
	uint64_t seq = job->seq / cp, tokens = mul(s, job->microbatch, seq);
	uint64_t head_dim = job->hidden / job->heads;
	uint64_t heads_batch = mul(s, job->microbatch, job->heads / t);

	layer->moe = moe;
	layer->attn[0] = biased(gemm("qkv", tokens, qkv_columns(job) / t, job->hidden, 1, true,
				     false),
				job, qkv_columns(job) / t);
	layer->attn[1] = gemm("attn_scores", seq, seq, head_dim, heads_batch, false, true);
	layer->attn[2] = gemm("attn_v", seq, head_dim, seq, heads_batch, false, true);
	layer->attn[3] = biased(gemm("out_proj", tokens, job->hidden, job->hidden / t, 1, true,
				     false),
				job, job->hidden);
	if (!moe) {
		layer->mlp_gemms = mlp_gemms(job, tokens, t, 1, false, layer->mlp);
		return;
	}
	/* Each token goes to topk experts; balanced, a rank's experts.experts/ep local experts
	 * each get tokens·topk·ep/experts of them after the dispatch alltoall. */
	uint64_t local = job->experts / ep;
	uint64_t per_expert = ceil_div(mul(s, mul(s, tokens, job->topk), ep), job->experts);
	layer->mlp[0] = gemm("router", tokens, job->experts, job->hidden, 1, true, false);
	layer->mlp_gemms = 1 + mlp_gemms(job, per_expert, t, local, true, layer->mlp + 1);
}

/* Parameters of the attention block and of one dense MLP: split over tp, and replicated. */
struct block_params {
	uint64_t split, replicated;
};

static struct block_params attn_params(const struct tl_job *job, struct safe *s)
{
	uint64_t h = job->hidden, qkv = qkv_columns(job);
	struct block_params p = { add(s, mul(s, h, qkv), mul(s, h, h)), 0 };

	if (gpt_style(job)) {
		p.split = add(s, p.split, qkv); /* column-parallel QKV bias */
		p.replicated = h + 2 * 2 * h;   /* out_proj bias, two LayerNorms */
	} else {
		p.replicated = 2 * h; /* two RMSNorm weights */
	}
	return p;
}

static struct block_params mlp_params(const struct tl_job *job, struct safe *s)
{
	uint64_t h = job->hidden, f = job->ffn_hidden;
	struct block_params p = { mul(s, mul(s, gpt_style(job) ? 2 : 3, h), f), 0 };

	if (gpt_style(job)) {
		p.split = add(s, p.split, f); /* column-parallel mlp_up bias */
		p.replicated = h;             /* row-parallel mlp_down bias */
	}
	return p;
}

static void layer_params(const struct tl_job *job, bool moe, struct tl_layer *layer,
			 struct safe *s)
{
	struct block_params a = attn_params(job, s), m = mlp_params(job, s);
	uint64_t t = job->tp;
	uint64_t attn_whole = add(s, a.split, a.replicated);
	uint64_t attn_rank = add(s, a.split / t, a.replicated);
	uint64_t mlp_whole = add(s, m.split, m.replicated);
	uint64_t mlp_rank = add(s, m.split / t, m.replicated);

	layer->norm_params = gpt_style(job) ? 2 * job->hidden : job->hidden;
	if (!moe) {
		layer->params = add(s, attn_whole, mlp_whole);
		layer->params_rank = add(s, attn_rank, mlp_rank);
		layer->expert_params_rank = 0;
		return;
	}
	uint64_t router = mul(s, job->hidden, job->experts);
	layer->expert_params_rank = mul(s, job->experts / job->ep, mlp_rank);
	layer->params = add(s, add(s, attn_whole, router), mul(s, job->experts, mlp_whole));
	layer->params_rank = add(s, add(s, attn_rank, router), layer->expert_params_rank);
}

/* n elements passed `tensors` times at elem bytes, plus `masks` one-byte masks of n, forward and
 * backward. */
static struct tl_pass_bytes passes(struct safe *s, uint64_t n, uint64_t elem, uint64_t fwd,
				   uint64_t bwd, uint64_t fwd_masks, uint64_t bwd_masks)
{
	return (struct tl_pass_bytes){ .fwd = mul(s, n, add(s, mul(s, fwd, elem), fwd_masks)),
				       .bwd = mul(s, n, add(s, mul(s, bwd, elem), bwd_masks)) };
}

/*
 * The elementwise passes of one layer and one microbatch on this rank, in tensors of its size
 * read or written (docs/step.md holds the table and where each count comes from). x: the
 * hidden activations (÷ tp with sequence parallelism), f: the MLP's inner activations (topk times
 * the tokens in an MoE layer), sc: one attention block's scores; masks are one byte an element.
 *                      fusion = megatron (fused kernels)   fusion = none (eager PyTorch)
 *   norm               2 fwd, 3 bwd                        LayerNorm 2, 3; RMSNorm 7, 15
 *   act gelu (+bias)   2, 3                                4, 4 (addmm's bias, then gelu)
 *   act swiglu         3, 5                                5, 9 (silu, then the product)
 *   softmax            2, 3 (scale+mask+softmax)           6, 7 and the causal mask read
 *   attention dropout  2, 2 and its mask each way, when dropout > 0
 *   residual           3, 3 (bias-dropout-add;             gpt 5, 4 (addmm's bias, the add);
 *                      dropout > 0: 3, 5 and the mask)     llama 3, 3
 *   hidden dropout     in the residual                     2, 2 and the mask, when dropout > 0
 */
static void layer_passes(const struct tl_job *job, uint64_t elem, uint64_t tokens,
			 struct tl_layer *layer, struct safe *s)
{
	uint64_t t = job->tp, seq = job->seq / job->cp;
	uint64_t x = mul(s, tokens, job->hidden);
	uint64_t mlp_tokens = layer->moe ? mul(s, tokens, job->topk) : tokens;
	uint64_t f = mul(s, mlp_tokens, job->ffn_hidden / t);
	uint64_t sc = mul(s, mul(s, job->microbatch, job->heads / t), mul(s, seq, seq));
	bool fused = job->fusion == TL_FUSION_MEGATRON, drop = job->dropout > 0;
	bool gpt = gpt_style(job);
	const struct tl_pass_bytes none = { 0, 0 };

	if (job->sequence_parallel)
		x /= t;
	layer->norm = fused || gpt ? passes(s, x, elem, 2, 3, 0, 0) : passes(s, x, elem, 7, 15, 0, 0);
	if (job->mlp == TL_MLP_SWIGLU)
		layer->act = fused ? passes(s, f, elem, 3, 5, 0, 0) : passes(s, f, elem, 5, 9, 0, 0);
	else
		layer->act = fused ? passes(s, f, elem, 2, 3, 0, 0) : passes(s, f, elem, 4, 4, 0, 0);
	layer->softmax = fused ? passes(s, sc, elem, 2, 3, 0, 0) : passes(s, sc, elem, 6, 7, 1, 1);
	layer->attn_dropout = drop ? passes(s, sc, elem, 2, 2, 1, 1) : none;
	if (fused)
		layer->residual = passes(s, x, elem, 3, drop ? 5 : 3, drop, drop);
	else
		layer->residual = gpt ? passes(s, x, elem, 5, 4, 0, 0) : passes(s, x, elem, 3, 3, 0, 0);
	layer->hidden_dropout = drop && !fused ? passes(s, x, elem, 2, 2, 1, 1) : none;
}

/*
 * The passes outside the layers. The embedding (first stage) looks up the rank's tokens' rows:
 * 2 tensors of b·s/cp·h forward, a scatter-add of 3 backward; GPT-style models add the learned
 * positions (a lookup and an add: 5 forward, 3 backward); dropout > 0 adds 2 and a mask each way.
 * The loss (last stage) is a cross-entropy over the rank's logits: fused (Megatron's
 * vocab-parallel one, softmax in place) 3 forward, 2 backward; eager (log_softmax, nll_loss) 2
 * forward, 4 backward (a dense gradient written, then log_softmax's backward).
 */
static void edge_passes(const struct tl_job *job, struct tl_model *model, struct safe *s)
{
	uint64_t elem = model->elem_bytes, xe = mul(s, model->tokens, job->hidden);
	uint64_t logits = mul(s, model->tokens, ceil_div(job->vocab, job->tp));
	bool gpt = gpt_style(job), drop = job->dropout > 0;

	model->embed = passes(s, xe, elem, 2 + (gpt ? 5 : 0) + (drop ? 2 : 0),
			      3 + (gpt ? 3 : 0) + (drop ? 2 : 0), drop, drop);
	model->loss = job->fusion == TL_FUSION_MEGATRON ? passes(s, logits, elem, 3, 2, 0, 0)
							 : passes(s, logits, elem, 2, 4, 0, 0);
	model->final_norm = model->dense.norm;
}

uint64_t tl_optimizer_state_bytes(const struct tl_job *job)
{
	return job->optimizer == TL_OPTIMIZER_SGD ? 8 : 12;
}

void tl_optimizer_bytes(const struct tl_job *job, uint64_t *read, uint64_t *written)
{
	uint64_t elem = tl_dtype_bytes(job->compute_dtype), state = elem > 4 ? elem : 4;

	switch (job->optimizer) {
	case TL_OPTIMIZER_ADAM_UNFUSED:
		/* weight 1 read 1 written, gradient 2 reads, each moment 3 reads 2 writes, the
		 * temporary of sqrt(v)/c2 + eps 3 reads 3 writes */
		*read = 10 * state + 2 * elem;
		*written = 8 * state;
		break;
	case TL_OPTIMIZER_SGD:
		/* weight 1 + 1, gradient 1 read, momentum 3 reads 2 writes */
		*read = 4 * state + elem;
		*written = 3 * state;
		break;
	default:
		*read = 3 * state + elem;
		*written = 3 * state;
		break;
	}
	if (elem < state) { /* the 16-bit weights, from the updated fp32 ones */
		*read += state;
		*written += elem;
	}
}

/* Forward FLOPs of one layer for one microbatch, whole model (tp = ep = 1); MoE experts count
 * topk dense MLPs per token, exactly. */
static void whole_layer_flops(const struct tl_job *job, bool moe, tl_flops_t *fwd,
			      tl_flops_t *attn_core, struct safe *s)
{
	struct tl_layer whole;
	struct tl_gemm dense_mlp[4];
	int n = mlp_gemms(job, mul(s, job->microbatch, job->seq), 1, 1, false, dense_mlp);

	layer_gemms(job, 1, 1, 1, false, &whole, s);
	*fwd = 0;
	*attn_core = 0;
	for (int i = 0; i < 4; i++) {
		*fwd += tl_gemm_flops(&whole.attn[i]);
		if (whole.attn[i].attn_core)
			*attn_core += tl_gemm_flops(&whole.attn[i]);
	}
	tl_flops_t mlp = 0;
	for (int i = 0; i < n; i++)
		mlp += tl_gemm_flops(&dense_mlp[i]);
	if (moe) {
		struct tl_gemm router = gemm("router", mul(s, job->microbatch, job->seq),
					     job->experts, job->hidden, 1, true, false);
		*fwd = add128(s, *fwd, add128(s, tl_gemm_flops(&router), mul128(s, mlp, job->topk)));
	} else {
		*fwd += mlp;
	}
}

const struct tl_layer *tl_model_layer(const struct tl_model *model, const struct tl_job *job,
				      uint64_t layer)
{
	if (job->experts && layer % job->moe_every == job->moe_every - 1)
		return &model->moe;
	return &model->dense;
}

/* Activation bytes one layer keeps for backward, one microbatch (Korthikanti et al. 2022,
 * Table 2, for 2-byte activations; scaled to elem). MoE layers keep topk times the MLP's
 * share (19·s·b·h of the 34). */
static uint64_t activation_bytes(const struct tl_job *job, bool moe, uint64_t elem,
				 struct safe *s)
{
	uint64_t t = job->tp, seq = job->seq / job->cp;
	uint64_t sbh = mul(s, mul(s, seq, job->microbatch), job->hidden);
	bool sp = job->sequence_parallel;
	uint64_t bytes2, scores; /* at 2 bytes per element */

	switch (job->recompute) {
	case TL_RECOMPUTE_FULL:
		bytes2 = mul(s, 2, sbh) / (sp ? t : 1);
		break;
	case TL_RECOMPUTE_SELECTIVE:
		bytes2 = sp ? mul(s, 34, sbh) / t : add(s, mul(s, 10, sbh), mul(s, 24, sbh) / t);
		break;
	default:
		/* Only without recomputation are the attention scores kept: 5·a·s²·b, of which a
		 * context-parallel rank holds its queries' rows, 1/cp. */
		scores = mul(s, mul(s, mul(s, 5, job->heads), mul(s, seq, job->seq)),
			     job->microbatch);
		bytes2 = sp ? add(s, mul(s, 34, sbh), scores) / t
			    : add(s, add(s, mul(s, 10, sbh), mul(s, 24, sbh) / t), scores / t);
		break;
	}
	if (moe && job->recompute != TL_RECOMPUTE_FULL)
		bytes2 = add(s, bytes2, mul(s, mul(s, 19, sbh), job->topk - 1) / t);
	return mul(s, bytes2, elem) / 2;
}

/* MoE layers among layers [0, x): every moe_every-th, counting from 1 (none when dense). */
static uint64_t moe_layers_below(const struct tl_job *job, uint64_t x)
{
	return job->experts ? x / job->moe_every : 0;
}

uint64_t tl_model_stage_layer(const struct tl_model *model, const struct tl_job *job,
			      uint64_t stage, uint64_t i)
{
	uint64_t per_chunk = model->layers_per_stage / model->chunks;

	return (i / per_chunk * job->pp + stage) * per_chunk + i % per_chunk;
}

uint64_t tl_model_layer_slot(const struct tl_model *model, const struct tl_job *job,
			     uint64_t layer)
{
	uint64_t per_chunk = model->layers_per_stage / model->chunks;

	return layer / per_chunk / job->pp * per_chunk + layer % per_chunk;
}

/* MoE layers of pipeline stage `stage`, chunk by chunk: the counts are closed forms, so that a
 * job of billions of layers is validated as fast as one of ten. */
static uint64_t stage_moe_layers(const struct tl_model *model, const struct tl_job *job,
				 uint64_t stage)
{
	uint64_t per_chunk = model->layers_per_stage / model->chunks, moe = 0;

	for (uint64_t c = 0; c < model->chunks && job->experts; c++) {
		uint64_t first = tl_model_stage_layer(model, job, stage, c * per_chunk);
		moe += moe_layers_below(job, first + per_chunk) - moe_layers_below(job, first);
	}
	return moe;
}

uint64_t tl_model_warmup(const struct tl_model *model, const struct tl_job *job, uint64_t stage)
{
	uint64_t m = model->microbatches, units = m * model->chunks, w;

	switch (job->schedule) {
	case TL_SCHEDULE_GPIPE:
		return m;
	case TL_SCHEDULE_INTERLEAVED:
		/* Megatron: all forwards first when there are as many microbatches as stages */
		if (m == job->pp)
			return units;
		w = (job->pp - stage - 1) * 2 + (model->chunks - 1) * job->pp;
		return w < units ? w : units;
	default:
		w = job->pp - 1 - stage;
		return w < m ? w : m;
	}
}

uint64_t tl_model_stage_params(const struct tl_model *model, const struct tl_job *job,
			       uint64_t stage, uint64_t *expert)
{
	uint64_t moe = stage_moe_layers(model, job, stage), dense = model->layers_per_stage - moe;
	uint64_t params = dense * model->dense.params_rank + moe * model->moe.params_rank;

	if (stage == 0)
		params += model->embed_params_rank;
	if (stage == job->pp - 1)
		params += model->head_params_rank;
	if (expert)
		*expert = moe * model->moe.expert_params_rank;
	return params;
}

/* Memory of pipeline stage `stage`; keeps the largest in model. */
static void stage_totals(struct tl_model *model, const struct tl_job *job, uint64_t stage,
			 struct safe *s)
{
	uint64_t elem = model->elem_bytes, moe = stage_moe_layers(model, job, stage);
	uint64_t expert, params = tl_model_stage_params(model, job, stage, &expert);
	bool last = stage == job->pp - 1;
	uint64_t act = add(s, mul(s, model->layers_per_stage - moe, activation_bytes(job, false, elem, s)),
			   moe ? mul(s, moe, activation_bytes(job, true, elem, s)) : 0);

	/* 1F1B keeps a stage's warm-up forwards and the one under way in flight, GPipe all of
	 * them; interleaved 1F1B counts them in model chunks (virtual stages) of the stage. */
	uint64_t units = model->microbatches * model->chunks;
	uint64_t in_flight = job->schedule == TL_SCHEDULE_GPIPE
				     ? units
				     : tl_model_warmup(model, job, stage) + 1;
	if (in_flight > units)
		in_flight = units;
	act = mul(s, act, in_flight) / model->chunks;
	if (last) /* the logits of the microbatch in flight */
		act = add(s, act, mul(s, mul(s, model->tokens, ceil_div(job->vocab, job->tp)), elem));

	/* ZeRO shards optimizer state (stage 1), gradients too (2), and weights too (3): dense
	 * parameters over the dp and cp ranks that hold them, expert ones over the
	 * expert-data-parallel group (dp / ep). */
	uint64_t dense = params - expert, dp = job->dp * job->cp, edp = job->dp / job->ep;
	uint64_t weights = mul(s, params, elem), grads = weights;
	uint64_t state = tl_optimizer_state_bytes(job);
	uint64_t optimizer = mul(s, params, state);
	if (job->zero >= 1)
		optimizer = add(s, ceil_div(mul(s, dense, state), dp),
				ceil_div(mul(s, expert, state), edp));
	if (job->zero >= 2)
		grads = add(s, ceil_div(mul(s, dense, elem), dp), ceil_div(mul(s, expert, elem), edp));
	if (job->zero >= 3)
		weights = grads;
	uint64_t total = add(s, add(s, weights, grads), add(s, optimizer, act));

	if (params > model->params_per_rank)
		model->params_per_rank = params;
	if (total > model->memory_bytes_per_rank) {
		model->memory_bytes_per_rank = total;
		model->weight_bytes = weights;
		model->grad_bytes = grads;
		model->optimizer_bytes = optimizer;
		model->activation_bytes = act;
	}
}

int tl_model_build(struct tl_model *model, const struct tl_job *job, struct tl_diag *diag)
{
	struct safe s = { false };

	memset(model, 0, sizeof(*model));
	if (job->ffn_hidden % job->tp) {
		tl_job_blame(job, "parallel", "tp", diag,
			     "tp = %" PRIu64 " does not divide ffn_hidden = %" PRIu64, job->tp,
			     job->ffn_hidden);
		return TL_EINPUT;
	}
	model->elem_bytes = tl_dtype_bytes(job->compute_dtype);
	model->comm_elem_bytes = tl_dtype_bytes(job->comm_dtype);
	model->microbatches = job->grad_accum;
	model->layers_per_stage = job->layers / job->pp;
	model->chunks = job->schedule == TL_SCHEDULE_INTERLEAVED ? job->virtual_stages : 1;
	model->bubble_fraction =
		(double)(job->pp - 1) / ((double)model->chunks * (double)model->microbatches);
	model->tokens = mul(&s, job->microbatch, job->seq / job->cp);
	model->tokens_per_step = mul(&s, job->global_batch, job->seq);

	uint64_t act_elems = mul(&s, model->tokens, job->hidden);
	model->tp_bytes = mul(&s, act_elems, model->comm_elem_bytes);
	model->pp_bytes = model->tp_bytes / (job->sequence_parallel ? job->tp : 1);
	model->moe_bytes = mul(&s, model->tp_bytes, job->topk);
	model->cp_bytes = job->cp > 1 ? mul(&s, mul(&s, 2 * model->tokens,
						     job->hidden / job->heads * job->kv_heads / job->tp),
					    model->comm_elem_bytes)
				      : 0;

	layer_gemms(job, job->tp, job->cp, job->ep, false, &model->dense, &s);
	layer_params(job, false, &model->dense, &s);
	layer_passes(job, model->elem_bytes, model->tokens, &model->dense, &s);
	if (job->experts) {
		layer_gemms(job, job->tp, job->cp, job->ep, true, &model->moe, &s);
		layer_params(job, true, &model->moe, &s);
		layer_passes(job, model->elem_bytes, model->tokens, &model->moe, &s);
	}
	edge_passes(job, model, &s);
	tl_optimizer_bytes(job, &model->optimizer_read_per_param,
			   &model->optimizer_written_per_param);
	model->logits = gemm("logits", model->tokens, ceil_div(job->vocab, job->tp), job->hidden, 1,
			     true, false);

	/* Parameters, whole model. */
	model->params_embedding = mul(&s, job->vocab, job->hidden);
	model->params_total = add(&s, model->params_embedding,
				  gpt_style(job) ? add(&s, mul(&s, job->seq, job->hidden),
						       2 * job->hidden)
						 : job->hidden);
	if (!job->tied_embeddings)
		model->params_total = add(&s, model->params_total, model->params_embedding);
	uint64_t moe_layers = moe_layers_below(job, job->layers);
	uint64_t dense_layers = job->layers - moe_layers;
	model->params_total = add(&s, model->params_total,
				  add(&s, mul(&s, dense_layers, model->dense.params),
				      mul(&s, moe_layers, model->moe.params)));

	/* What the first and last pipeline stages hold besides their layers. The output
	 * embedding is its own matrix when untied; when tied, the same matrix on a single stage
	 * and a copy on the last one with pipelining (as Megatron keeps it). */
	uint64_t embed_rank = mul(&s, ceil_div(job->vocab, job->tp), job->hidden);
	model->embed_params_rank =
		add(&s, embed_rank, gpt_style(job) ? mul(&s, job->seq, job->hidden) : 0);
	model->head_params_rank = gpt_style(job) ? 2 * job->hidden : job->hidden;
	if (!job->tied_embeddings || job->pp > 1)
		model->head_params_rank = add(&s, model->head_params_rank, embed_rank);

	/* Stage sums stay below layers·params_rank + both extras, checked here once. */
	add(&s, mul(&s, job->layers, model->dense.params_rank + model->moe.params_rank),
	    add(&s, model->embed_params_rank, model->head_params_rank));
	/* The largest stage: the first and the last differ from the others, and the middle ones
	 * differ only in how many MoE layers they hold, a count that repeats every
	 * moe_every / gcd(layers per stage, moe_every) stages. */
	uint64_t period = 1;
	if (job->experts) {
		uint64_t a = model->layers_per_stage / model->chunks, b = job->moe_every;
		while (b) {
			uint64_t r = a % b;
			a = b;
			b = r;
		}
		period = job->moe_every / a;
	}
	for (uint64_t stage = 0; stage < job->pp && stage <= period && !s.overflow; stage++)
		stage_totals(model, job, stage, &s);
	if (!s.overflow)
		stage_totals(model, job, job->pp - 1, &s);

	/* FLOPs: the per-GEMM sums of the whole model. */
	tl_flops_t dense_fwd, dense_core, moe_fwd = 0, moe_core = 0, layers_fwd = 0, cores = 0;
	whole_layer_flops(job, false, &dense_fwd, &dense_core, &s);
	if (job->experts)
		whole_layer_flops(job, true, &moe_fwd, &moe_core, &s);
	layers_fwd = add128(&s, mul128(&s, dense_layers, dense_fwd), mul128(&s, moe_layers, moe_fwd));
	cores = add128(&s, mul128(&s, dense_layers, dense_core), mul128(&s, moe_layers, moe_core));
	struct tl_gemm whole_logits = gemm("logits", mul(&s, job->microbatch, job->seq), job->vocab,
					   job->hidden, 1, true, false);
	tl_flops_t fwd = add128(&s, layers_fwd, tl_gemm_flops(&whole_logits));
	tl_flops_t recompute = job->recompute == TL_RECOMPUTE_FULL	? layers_fwd
			       : job->recompute == TL_RECOMPUTE_SELECTIVE ? cores
									  : 0;
	tl_flops_t microbatches_all = job->global_batch / job->microbatch;
	model->model_flops_per_step = mul128(&s, mul128(&s, 3, fwd), microbatches_all);
	model->hardware_flops_per_step =
		mul128(&s, add128(&s, mul128(&s, 3, fwd), recompute), microbatches_all);

	/* Every GEMM's own FLOPs must fit in 64 bits, as must every buffer (the whole-model GEMMs
	 * summed above are at most tp times a rank's, so 128 bits held them). */
	const struct tl_layer *kinds[] = { &model->dense, &model->moe };
	for (int i = 0; i < (job->experts ? 2 : 1); i++) {
		for (int g = 0; g < 4 + kinds[i]->mlp_gemms; g++) {
			const struct tl_gemm *x = g < 4 ? &kinds[i]->attn[g]
							: &kinds[i]->mlp[g - 4];
			mul(&s, mul(&s, mul(&s, mul(&s, 2, x->m), x->n), x->k), x->batch);
		}
	}
	mul(&s, mul(&s, mul(&s, 2, model->logits.m), model->logits.n), model->logits.k);
	if (s.overflow) {
		tl_diag_add(diag, job->source,
			    "the model's sizes overflow 64-bit byte or 128-bit FLOP counts (check hidden, "
			    "seq, vocab, layers, experts, microbatch and global_batch)");
		return TL_EINPUT;
	}
	/* One rank's plan holds some tens of ops per layer and microbatch, and some more per
	 * context-parallel block; refuse a step whose plan could not be held, rather than fail to
	 * allocate it. */
	if ((double)model->microbatches * (double)model->layers_per_stage * (double)job->cp >
	    TL_MODEL_PLAN_UNITS_MAX) {
		char cp[48] = "";
		if (job->cp > 1)
			snprintf(cp, sizeof(cp), " x %" PRIu64 " context-parallel blocks", job->cp);
		tl_job_blame(job, "parallel", tl_job_batch_key(job), diag,
			     "%" PRIu64 " microbatches x %" PRIu64
			     " layers per stage%s make one rank's plan too large (at most %g; use "
			     "fewer microbatches or more pipeline stages)",
			     model->microbatches, model->layers_per_stage, cp, TL_MODEL_PLAN_UNITS_MAX);
		return TL_EINPUT;
	}
	return 0;
}
