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

static bool gpt_style(const struct tl_job *job)
{
	return job->mlp == TL_MLP_GELU;
}

static uint64_t qkv_columns(const struct tl_job *job)
{
	return (job->heads + 2 * job->kv_heads) * (job->hidden / job->heads);
}

/* The MLP GEMMs of one dense MLP (or one expert) on m tokens, batch of them, split over t. */
static int mlp_gemms(const struct tl_job *job, uint64_t m, uint64_t t, uint64_t batch,
		     bool expert, struct tl_gemm *out)
{
	uint64_t f = job->ffn_hidden / t;
	int n = 0;

	if (job->mlp == TL_MLP_SWIGLU)
		out[n++] = gemm(expert ? "expert_gate" : "mlp_gate", m, f, job->hidden, batch, true,
				false);
	out[n++] = gemm(expert ? "expert_up" : "mlp_up", m, f, job->hidden, batch, true, false);
	out[n++] = gemm(expert ? "expert_down" : "mlp_down", m, job->hidden, f, batch, true, false);
	return n;
}

/* One layer's GEMMs for one microbatch on one of t tensor- and ep expert-parallel ranks. */
static void layer_gemms(const struct tl_job *job, uint64_t t, uint64_t ep, bool moe,
			struct tl_layer *layer, struct safe *s)
{
	uint64_t tokens = mul(s, job->microbatch, job->seq);
	uint64_t head_dim = job->hidden / job->heads;
	uint64_t heads_batch = mul(s, job->microbatch, job->heads / t);

	layer->moe = moe;
	layer->attn[0] = gemm("qkv", tokens, qkv_columns(job) / t, job->hidden, 1, true, false);
	layer->attn[1] = gemm("attn_scores", job->seq, job->seq, head_dim, heads_batch, false, true);
	layer->attn[2] = gemm("attn_v", job->seq, head_dim, job->seq, heads_batch, false, true);
	layer->attn[3] = gemm("out_proj", tokens, job->hidden, job->hidden / t, 1, true, false);
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

/* Elementwise passes of one layer's forward for one microbatch, bytes read + written. */
static void layer_passes(const struct tl_job *job, uint64_t elem, struct tl_layer *layer,
			 struct safe *s)
{
	uint64_t t = job->tp, tokens = mul(s, job->microbatch, job->seq);
	/* Norms and residual adds work on the whole b·s·h tensor, or on 1/t of it with
	 * sequence parallelism. */
	uint64_t x = mul(s, mul(s, tokens, job->hidden), elem);
	uint64_t mlp_tokens = layer->moe ? mul(s, tokens, job->topk) : tokens;

	if (job->sequence_parallel)
		x /= t;
	layer->norm_bytes = mul(s, 2 * 2, x);     /* two norms, each reads and writes x */
	layer->residual_bytes = mul(s, 2 * 3, x); /* two adds, each reads two and writes one */
	layer->softmax_bytes = mul(
		s, mul(s, mul(s, 2 * job->microbatch, job->heads / t), mul(s, job->seq, job->seq)),
		elem);
	layer->act_bytes = mul(s, mul(s, job->mlp == TL_MLP_SWIGLU ? 3 : 2, mlp_tokens),
			       mul(s, job->ffn_hidden / t, elem));
}

/* Forward FLOPs of one layer for one microbatch, whole model (tp = ep = 1); MoE experts count
 * topk dense MLPs per token, exactly. */
static void whole_layer_flops(const struct tl_job *job, bool moe, tl_flops_t *fwd,
			      tl_flops_t *attn_core, struct safe *s)
{
	struct tl_layer whole;
	struct tl_gemm dense_mlp[4];
	int n = mlp_gemms(job, mul(s, job->microbatch, job->seq), 1, 1, false, dense_mlp);

	layer_gemms(job, 1, 1, false, &whole, s);
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
	uint64_t t = job->tp, sbh = mul(s, mul(s, job->seq, job->microbatch), job->hidden);
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
		/* Only without recomputation are the attention scores kept: 5·a·s²·b. */
		scores = mul(s, mul(s, mul(s, 5, job->heads), mul(s, job->seq, job->seq)),
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

/* MoE layers of pipeline stage `stage`: the counts are closed forms, so that a job of billions
 * of layers is validated as fast as one of ten. */
static uint64_t stage_moe_layers(const struct tl_model *model, const struct tl_job *job,
				 uint64_t stage)
{
	uint64_t first = stage * model->layers_per_stage;
	return moe_layers_below(job, first + model->layers_per_stage) - moe_layers_below(job, first);
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

	/* 1F1B keeps at most pp - stage microbatches in flight; GPipe all of them. */
	uint64_t in_flight = job->schedule == TL_SCHEDULE_GPIPE ? model->microbatches
								: job->pp - stage;
	if (in_flight > model->microbatches)
		in_flight = model->microbatches;
	act = mul(s, act, in_flight);
	if (last) /* the logits of the microbatch in flight */
		act = add(s, act, mul(s, mul(s, model->tokens, ceil_div(job->vocab, job->tp)), elem));

	/* ZeRO shards optimizer state (stage 1), gradients too (2), and weights too (3): dense
	 * parameters over dp, expert ones over the expert-data-parallel group (dp / ep). */
	uint64_t dense = params - expert, dp = job->dp, edp = job->dp / job->ep;
	uint64_t weights = mul(s, params, elem), grads = weights;
	uint64_t optimizer = mul(s, params, TL_ADAM_STATE_BYTES_PER_PARAM);
	if (job->zero >= 1)
		optimizer = add(s, ceil_div(mul(s, dense, TL_ADAM_STATE_BYTES_PER_PARAM), dp),
				ceil_div(mul(s, expert, TL_ADAM_STATE_BYTES_PER_PARAM), edp));
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
	model->tokens = mul(&s, job->microbatch, job->seq);
	model->tokens_per_step = mul(&s, job->global_batch, job->seq);

	uint64_t act_elems = mul(&s, model->tokens, job->hidden);
	model->tp_bytes = mul(&s, act_elems, model->comm_elem_bytes);
	model->pp_bytes = model->tp_bytes / (job->sequence_parallel ? job->tp : 1);
	model->moe_bytes = mul(&s, model->tp_bytes, job->topk);
	model->embed_bytes = mul(&s, 2 * act_elems, model->elem_bytes);
	model->loss_bytes = mul(&s, mul(&s, 2 * model->tokens, ceil_div(job->vocab, job->tp)),
				model->elem_bytes);

	layer_gemms(job, job->tp, job->ep, false, &model->dense, &s);
	layer_params(job, false, &model->dense, &s);
	layer_passes(job, model->elem_bytes, &model->dense, &s);
	if (job->experts) {
		layer_gemms(job, job->tp, job->ep, true, &model->moe, &s);
		layer_params(job, true, &model->moe, &s);
		layer_passes(job, model->elem_bytes, &model->moe, &s);
	}
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
		uint64_t a = model->layers_per_stage, b = job->moe_every;
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
	struct tl_gemm whole_logits = gemm("logits", model->tokens, job->vocab, job->hidden, 1, true,
					   false);
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
	/* One rank's plan holds some tens of ops per layer and microbatch; refuse a step whose
	 * plan could not be held, rather than fail to allocate it. */
	if ((double)model->microbatches * (double)model->layers_per_stage > TL_MODEL_PLAN_UNITS_MAX) {
		tl_job_blame(job, "parallel", tl_job_batch_key(job), diag,
			     "%" PRIu64 " microbatches x %" PRIu64
			     " layers per stage make one rank's plan too large (at most %g; use "
			     "fewer microbatches or more pipeline stages)",
			     model->microbatches, model->layers_per_stage, TL_MODEL_PLAN_UNITS_MAX);
		return TL_EINPUT;
	}
	return 0;
}
