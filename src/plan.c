/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One rank's step as a list of ops (DESIGN.md §4), as a Megatron-style run issues them.
 *
 * Schedule: 1F1B (warm-up pp-1-stage forwards, then one forward and one backward at a time,
 * then the remaining backwards) or GPipe (all forwards, then all backwards). Pipeline sends are
 * non-blocking and completed at the end of the step, receives block: with tags per microbatch
 * and direction this pairs up without deadlock, as Megatron's batched isend/irecv does.
 *
 * Data parallelism: gradients are reduced in buckets of bucket_mb, in reverse layer order as
 * the last microbatch's backward produces them (earlier microbatches only accumulate), issued
 * non-blocking with overlap = yes and waited before the optimizer; with overlap = no the same
 * buckets are reduced, blocking, after backward. ZeRO-1 reduce-scatters the buckets and
 * all-gathers the updated parameters after the optimizer; ZeRO-2 shards gradients too, so it
 * reduce-scatters every microbatch's buckets; ZeRO-3 also shards the weights: each layer's are
 * all-gathered before its forward and its backward, and its gradients reduce-scattered after its
 * backward, every microbatch. Expert weights reduce over the expert-data-parallel group.
 */
#include "config.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "trainload/plan.h"

static const char *const phase_names[TL_PHASES] = {
	[TL_PHASE_FORWARD] = "forward",     [TL_PHASE_BACKWARD] = "backward",
	[TL_PHASE_RECOMPUTE] = "recompute", [TL_PHASE_GRAD_SYNC] = "grad_sync",
	[TL_PHASE_OPTIMIZER] = "optimizer", [TL_PHASE_SWEEP] = "sweep",
};

const char *tl_phase_name(enum tl_phase phase)
{
	return phase_names[phase];
}

/* A data-parallel gradient bucket being filled. */
struct bucket {
	int group;        /* TL_GROUP_DP, or TL_GROUP_EDP for expert weights */
	uint64_t pending; /* bytes not yet issued */
	uint64_t offset;  /* where the next bucket starts in the gradient buffer */
};

struct builder {
	struct tl_plan *plan;
	const struct tl_job *job;
	const struct tl_model *model;
	const struct tl_grid *grid;
	uint64_t stage;
	bool first, last;
	int64_t prev, next; /* neighbouring stages' ranks */
	uint64_t bucket_bytes;
	struct bucket dense, expert;
	size_t *open_ops; /* ops started and not yet waited, in the order they were started */
	int nopen, capopen;
	struct tl_op *deferred; /* overlap = no: buckets to reduce once backward is done */
	int ndeferred, capdeferred;
	/* In a layer's backward whose gradients fill buckets: what its weight GEMMs have added. */
	bool bucketing_layer;
	uint64_t layer_dense_added, layer_expert_added;
	int rc;
};

int tl_plan_push(struct tl_plan *plan, const struct tl_op *op)
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
	else if (tl_op_is_comm(op->kind))
		plan->comm_bytes[op->group == TL_GROUP_EDP ? TL_GROUP_DP : op->group] += op->bytes;
	return 0;
}

static void push(struct builder *b, const struct tl_op *op)
{
	if (!b->rc)
		b->rc = tl_plan_push(b->plan, op);
}

static void gemm(struct builder *b, const struct tl_gemm *g, enum tl_gemm_pass pass,
		 enum tl_phase phase, int layer, int mb)
{
	struct tl_op op = { .kind = TL_OP_GEMM, .phase = phase, .layer = layer, .microbatch = mb,
			    .gemm = *g, .pass = pass, .peer = -1, .req = -1 };

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
	push(b, &op);
}

/* Backward of one GEMM: the input gradient, then the weight (or second operand) gradient. */
static void bucket_add(struct builder *b, struct bucket *bk, uint64_t params, bool flush);

/* Backward of one GEMM: the input gradient, then the weight (or second operand) gradient. In a
 * layer whose gradients go to the buckets, a weight's gradient joins them as soon as it is
 * computed, tensor by tensor, as Megatron's and DDP's buckets fill. */
static void gemm_backward(struct builder *b, const struct tl_gemm *g, int layer, int mb)
{
	gemm(b, g, TL_GEMM_GRAD_A, TL_PHASE_BACKWARD, layer, mb);
	gemm(b, g, TL_GEMM_GRAD_B, TL_PHASE_BACKWARD, layer, mb);
	if (!b->bucketing_layer || !g->weight)
		return;
	/* Batched weights are a MoE layer's local experts; every other weight is dense. */
	uint64_t params = g->k * g->n * g->batch;
	bool expert = g->batch > 1;
	bucket_add(b, expert ? &b->expert : &b->dense, params, false);
	*(expert ? &b->layer_expert_added : &b->layer_dense_added) += params;
}

/* An elementwise memory pass; backward passes move twice the forward's bytes (they read the
 * incoming gradient and the saved activation, and write the outgoing gradient). */
static void pass(struct builder *b, uint64_t fwd_bytes, enum tl_phase phase, int layer, int mb)
{
	struct tl_op op = { .kind = TL_OP_ELEMENTWISE, .phase = phase, .layer = layer,
			    .microbatch = mb, .peer = -1, .req = -1,
			    .bytes = phase == TL_PHASE_BACKWARD ? 2 * fwd_bytes : fwd_bytes };
	if (fwd_bytes)
		push(b, &op);
}

/* Make room for one more element in a growing array. */
static bool grow(struct builder *b, void **array, int count, int *cap, size_t size)
{
	if (count < *cap)
		return true;
	int want = *cap ? 2 * *cap : 64;
	void *p = realloc(*array, (size_t)want * size);
	if (!p) {
		b->rc = TL_ENOMEM;
		return false;
	}
	*array = p;
	*cap = want;
	return true;
}

/* Give a non-blocking op its request slot and remember it until it is waited. */
static void start(struct builder *b, struct tl_op *op)
{
	if (!grow(b, (void **)&b->open_ops, b->nopen, &b->capopen, sizeof(*b->open_ops)))
		return;
	op->nonblocking = true;
	op->req = b->plan->reqs++;
	b->open_ops[b->nopen++] = b->plan->count;
	push(b, op);
}

/* A collective over group; nothing when the group has one member. */
static void coll(struct builder *b, enum tl_op_kind kind, int group, uint64_t bytes,
		 enum tl_phase phase, int layer, int mb, bool nonblocking)
{
	struct tl_op op = { .kind = kind, .phase = phase, .group = group, .layer = layer,
			    .microbatch = mb, .bytes = bytes, .peer = -1, .req = -1,
			    .nonblocking = nonblocking };

	if (tl_grid_group_size(b->grid, group) < 2 || bytes == 0)
		return;
	if (nonblocking)
		start(b, &op);
	else
		push(b, &op);
}

/* Wait for every started op of the given kinds (all kinds when mask is 0). */
static void wait_open(struct builder *b, unsigned kind_mask, enum tl_phase phase)
{
	int kept = 0;

	for (int i = 0; i < b->nopen && !b->rc; i++) {
		const struct tl_op started = b->plan->ops[b->open_ops[i]];
		if (kind_mask && !(kind_mask & (1u << started.kind))) {
			b->open_ops[kept++] = b->open_ops[i];
			continue;
		}
		struct tl_op op = { .kind = TL_OP_WAIT, .phase = phase, .group = started.group,
				    .layer = started.layer, .microbatch = started.microbatch,
				    .peer = started.peer, .req = started.req };
		push(b, &op);
	}
	b->nopen = kept;
}

static void p2p(struct builder *b, enum tl_op_kind kind, int64_t peer, int mb, bool grad)
{
	struct tl_op op = { .kind = kind, .phase = grad ? TL_PHASE_BACKWARD : TL_PHASE_FORWARD,
			    .group = TL_GROUP_PP, .layer = -1, .microbatch = mb,
			    .bytes = b->model->pp_bytes, .peer = peer, .tag = 2 * mb + grad,
			    .req = -1 };
	if (kind == TL_OP_SEND)
		start(b, &op);
	else
		push(b, &op);
}

/* Tensor-parallel exchange after a row-parallel GEMM (forward) or before a column-parallel
 * one's input gradient leaves the block (backward): an allreduce, or with sequence parallelism
 * a reduce-scatter here and an allgather where the next block starts. */
static void tp_reduce(struct builder *b, enum tl_phase phase, int layer, int mb)
{
	enum tl_op_kind kind = b->job->sequence_parallel ? TL_OP_REDUCE_SCATTER : TL_OP_ALLREDUCE;
	coll(b, kind, TL_GROUP_TP, b->model->tp_bytes, phase, layer, mb, false);
}

static void tp_gather(struct builder *b, enum tl_phase phase, int layer, int mb)
{
	if (b->job->sequence_parallel)
		coll(b, TL_OP_ALLGATHER, TL_GROUP_TP, b->model->tp_bytes, phase, layer, mb, false);
}

/* ZeRO-3: sharded weights are gathered before each use, forward and backward. */
static void zero3_gather(struct builder *b, uint64_t dense, uint64_t expert, enum tl_phase phase,
			 int layer, int mb)
{
	uint64_t elem = b->model->comm_elem_bytes;

	if (b->job->zero < 3)
		return;
	coll(b, TL_OP_ALLGATHER, TL_GROUP_DP, dense * elem, phase, layer, mb, false);
	coll(b, TL_OP_ALLGATHER, TL_GROUP_EDP, expert * elem, phase, layer, mb, false);
}

static void zero3_gather_layer(struct builder *b, const struct tl_layer *L, enum tl_phase phase,
			       int layer, int mb)
{
	zero3_gather(b, L->params_rank - L->expert_params_rank, L->expert_params_rank, phase, layer,
		     mb);
}

static void forward_mlp(struct builder *b, const struct tl_layer *L, enum tl_phase phase,
			int layer, int mb)
{
	const struct tl_gemm *g = L->mlp;
	int n = L->mlp_gemms;

	if (L->moe) {
		gemm(b, g, TL_GEMM_FWD, phase, layer, mb); /* router */
		coll(b, TL_OP_ALLTOALL, TL_GROUP_EP, b->model->moe_bytes, phase, layer, mb, false);
		g++;
		n--;
	}
	for (int i = 0; i < n - 1; i++)
		gemm(b, &g[i], TL_GEMM_FWD, phase, layer, mb);
	pass(b, L->act_bytes, phase, layer, mb);
	gemm(b, &g[n - 1], TL_GEMM_FWD, phase, layer, mb);
	if (L->moe)
		coll(b, TL_OP_ALLTOALL, TL_GROUP_EP, b->model->moe_bytes, phase, layer, mb, false);
}

static void forward_attn_core(struct builder *b, const struct tl_layer *L, enum tl_phase phase,
			      int layer, int mb)
{
	gemm(b, &L->attn[1], TL_GEMM_FWD, phase, layer, mb);
	pass(b, L->softmax_bytes, phase, layer, mb);
	gemm(b, &L->attn[2], TL_GEMM_FWD, phase, layer, mb);
}

static void forward_layer(struct builder *b, int layer, int mb, enum tl_phase phase)
{
	const struct tl_layer *L = tl_model_layer(b->model, b->job, (uint64_t)layer);

	if (phase == TL_PHASE_FORWARD)
		zero3_gather_layer(b, L, phase, layer, mb);
	pass(b, L->norm_bytes / 2, phase, layer, mb);
	tp_gather(b, phase, layer, mb);
	gemm(b, &L->attn[0], TL_GEMM_FWD, phase, layer, mb);
	forward_attn_core(b, L, phase, layer, mb);
	gemm(b, &L->attn[3], TL_GEMM_FWD, phase, layer, mb);
	tp_reduce(b, phase, layer, mb);
	pass(b, L->residual_bytes / 2, phase, layer, mb);
	pass(b, L->norm_bytes / 2, phase, layer, mb);
	tp_gather(b, phase, layer, mb);
	forward_mlp(b, L, phase, layer, mb);
	tp_reduce(b, phase, layer, mb);
	pass(b, L->residual_bytes / 2, phase, layer, mb);
}

/* Reduce one bucket: started now with overlap, or kept for after backward without. */
static void bucket_issue(struct builder *b, struct bucket *bk)
{
	struct tl_op op = { .kind = b->job->zero ? TL_OP_REDUCE_SCATTER : TL_OP_ALLREDUCE,
			    .phase = TL_PHASE_GRAD_SYNC, .group = bk->group, .layer = -1,
			    .microbatch = -1, .bytes = bk->pending, .offset = bk->offset,
			    .peer = -1, .req = -1 };

	bk->offset += bk->pending;
	bk->pending = 0;
	if (tl_grid_group_size(b->grid, bk->group) < 2 || op.bytes == 0)
		return;
	if (b->job->overlap)
		start(b, &op);
	else if (grow(b, (void **)&b->deferred, b->ndeferred, &b->capdeferred,
		      sizeof(*b->deferred)))
		b->deferred[b->ndeferred++] = op;
}

/* Add gradients to a bucket; issue it once it holds bucket_mb (or when flushing). */
static void bucket_add(struct builder *b, struct bucket *bk, uint64_t params, bool flush)
{
	bk->pending += params * b->model->comm_elem_bytes;
	if (bk->pending && (flush || bk->pending >= b->bucket_bytes))
		bucket_issue(b, bk);
}

/* Gradients of a layer (or of the embeddings or head) are ready: ZeRO-3 reduce-scatters them at
 * once, every microbatch (started non-blocking with overlap, blocking without); otherwise what
 * the weight GEMMs have not already put in the buckets (biases, norms) goes there, in a
 * microbatch that syncs. */
static void grads_ready(struct builder *b, uint64_t dense, uint64_t expert, int layer, int mb,
			bool sync)
{
	uint64_t elem = b->model->comm_elem_bytes;
	bool overlap = b->job->overlap;

	if (b->job->zero >= 3) {
		coll(b, TL_OP_REDUCE_SCATTER, TL_GROUP_DP, dense * elem, TL_PHASE_GRAD_SYNC, layer,
		     mb, overlap);
		coll(b, TL_OP_REDUCE_SCATTER, TL_GROUP_EDP, expert * elem, TL_PHASE_GRAD_SYNC,
		     layer, mb, overlap);
	} else if (sync) {
		bucket_add(b, &b->dense, dense - b->layer_dense_added, false);
		bucket_add(b, &b->expert, expert - b->layer_expert_added, false);
	}
	b->bucketing_layer = false;
	b->layer_dense_added = b->layer_expert_added = 0;
}

static void backward_mlp(struct builder *b, const struct tl_layer *L, int layer, int mb)
{
	const struct tl_gemm *g = L->mlp;
	int n = L->mlp_gemms;

	if (L->moe) {
		coll(b, TL_OP_ALLTOALL, TL_GROUP_EP, b->model->moe_bytes, TL_PHASE_BACKWARD, layer,
		     mb, false);
		g++;
		n--;
	}
	gemm_backward(b, &g[n - 1], layer, mb);
	pass(b, L->act_bytes, TL_PHASE_BACKWARD, layer, mb);
	for (int i = n - 2; i >= 0; i--)
		gemm_backward(b, &g[i], layer, mb);
	if (L->moe) {
		coll(b, TL_OP_ALLTOALL, TL_GROUP_EP, b->model->moe_bytes, TL_PHASE_BACKWARD, layer,
		     mb, false);
		gemm_backward(b, &L->mlp[0], layer, mb); /* router */
	}
}

static void backward_layer(struct builder *b, int layer, int mb, bool sync)
{
	const struct tl_job *job = b->job;
	const struct tl_layer *L = tl_model_layer(b->model, job, (uint64_t)layer);
	enum tl_phase bwd = TL_PHASE_BACKWARD;

	zero3_gather_layer(b, L, bwd, layer, mb);
	b->bucketing_layer = sync && job->zero < 3;
	if (job->recompute == TL_RECOMPUTE_FULL)
		forward_layer(b, layer, mb, TL_PHASE_RECOMPUTE);
	else if (job->recompute == TL_RECOMPUTE_SELECTIVE)
		forward_attn_core(b, L, TL_PHASE_RECOMPUTE, layer, mb);

	/* The forward in reverse: the MLP block, then the attention block. */
	pass(b, L->residual_bytes / 2, bwd, layer, mb);
	tp_gather(b, bwd, layer, mb);
	backward_mlp(b, L, layer, mb);
	tp_reduce(b, bwd, layer, mb);
	pass(b, L->norm_bytes / 2, bwd, layer, mb);
	pass(b, L->residual_bytes / 2, bwd, layer, mb);
	tp_gather(b, bwd, layer, mb);
	gemm_backward(b, &L->attn[3], layer, mb);
	gemm_backward(b, &L->attn[2], layer, mb);
	pass(b, L->softmax_bytes, bwd, layer, mb);
	gemm_backward(b, &L->attn[1], layer, mb);
	gemm_backward(b, &L->attn[0], layer, mb);
	tp_reduce(b, bwd, layer, mb);
	pass(b, L->norm_bytes / 2, bwd, layer, mb);
	grads_ready(b, L->params_rank - L->expert_params_rank, L->expert_params_rank, layer, mb,
		    sync);
}

static void forward(struct builder *b, int mb)
{
	const struct tl_model *model = b->model;
	int first_layer = (int)(b->stage * model->layers_per_stage);
	enum tl_phase fwd = TL_PHASE_FORWARD;

	if (b->first) {
		zero3_gather(b, model->embed_params_rank, 0, fwd, -1, mb);
		pass(b, model->embed_bytes, fwd, -1, mb);
	} else {
		p2p(b, TL_OP_RECV, b->prev, mb, false);
	}
	for (int l = first_layer; l < first_layer + (int)model->layers_per_stage; l++)
		forward_layer(b, l, mb, fwd);
	if (b->last) {
		zero3_gather(b, model->head_params_rank, 0, fwd, -1, mb);
		gemm(b, &model->logits, TL_GEMM_FWD, fwd, -1, mb);
		pass(b, model->loss_bytes, fwd, -1, mb);
	} else {
		p2p(b, TL_OP_SEND, b->next, mb, false);
	}
}

/* Data-parallel reductions run in the last microbatch's backward, or in every one with ZeRO-2
 * and ZeRO-3, whose gradients are sharded. */
static void backward(struct builder *b, int mb, bool last_mb)
{
	const struct tl_model *model = b->model;
	const struct tl_job *job = b->job;
	int first_layer = (int)(b->stage * model->layers_per_stage);
	bool sync = job->zero >= 2 || last_mb;
	enum tl_phase bwd = TL_PHASE_BACKWARD;
	uint64_t expert, params = tl_model_stage_params(model, job, b->stage, &expert);

	/* Buckets tile the gradient buffer: dense gradients from its start, expert ones after. */
	b->dense.offset = 0;
	b->expert.offset = (params - expert) * model->comm_elem_bytes;
	if (b->last) {
		zero3_gather(b, model->head_params_rank, 0, bwd, -1, mb);
		pass(b, model->loss_bytes, bwd, -1, mb);
		gemm_backward(b, &model->logits, -1, mb);
		grads_ready(b, model->head_params_rank, 0, -1, mb, sync);
	} else {
		p2p(b, TL_OP_RECV, b->next, mb, true);
	}
	for (int l = first_layer + (int)model->layers_per_stage - 1; l >= first_layer; l--)
		backward_layer(b, l, mb, sync);
	if (b->first) {
		zero3_gather(b, model->embed_params_rank, 0, bwd, -1, mb);
		pass(b, model->embed_bytes, bwd, -1, mb);
		grads_ready(b, model->embed_params_rank, 0, -1, mb, sync);
	} else {
		p2p(b, TL_OP_SEND, b->prev, mb, true);
	}
	if (!sync)
		return;
	/* What is left in the buckets goes once backward has produced it all; without overlap,
	 * all buckets go now, blocking. */
	bucket_add(b, &b->dense, 0, true);
	bucket_add(b, &b->expert, 0, true);
	for (int i = 0; i < b->ndeferred; i++)
		push(b, &b->deferred[i]);
	b->ndeferred = 0;
	if (job->zero >= 2) /* sharded gradients: this microbatch's reductions complete here */
		wait_open(b, 1u << TL_OP_REDUCE_SCATTER, TL_PHASE_GRAD_SYNC);
}

static void schedule(struct builder *b, char dir, int mb)
{
	struct tl_plan *plan = b->plan;

	plan->sched[plan->nsched++] = (struct tl_sched){ dir, mb };
	if (dir == 'F')
		forward(b, mb);
	else
		backward(b, mb, (uint64_t)mb + 1 == b->model->microbatches);
}

static void optimizer(struct builder *b)
{
	const struct tl_job *job = b->job;
	uint64_t expert, params = tl_model_stage_params(b->model, job, b->stage, &expert);
	uint64_t edp = tl_grid_group_size(b->grid, TL_GROUP_EDP);
	uint64_t shard = params;
	uint64_t elem = b->model->comm_elem_bytes;

	if (job->zero >= 1)
		shard = (params - expert + job->dp - 1) / job->dp + (expert + edp - 1) / edp;
	struct tl_op op = { .kind = TL_OP_OPTIMIZER, .phase = TL_PHASE_OPTIMIZER, .layer = -1,
			    .microbatch = -1, .peer = -1, .req = -1,
			    .bytes = shard * TL_ADAM_BYTES_PER_PARAM };
	push(b, &op);
	if (job->zero == 1 || job->zero == 2) {
		/* The updated shards are gathered back into every rank's weights. */
		coll(b, TL_OP_ALLGATHER, TL_GROUP_DP, (params - expert) * elem, TL_PHASE_OPTIMIZER,
		     -1, -1, false);
		coll(b, TL_OP_ALLGATHER, TL_GROUP_EDP, expert * elem, TL_PHASE_OPTIMIZER, -1, -1,
		     false);
	}
}

int tl_plan_build(struct tl_plan *plan, const struct tl_job *job, const struct tl_model *model,
		  const struct tl_grid *grid, uint64_t rank)
{
	struct builder b = { .plan = plan, .job = job, .model = model, .grid = grid };
	int m = (int)model->microbatches;

	memset(plan, 0, sizeof(*plan));
	plan->rank = rank;
	tl_grid_coords(grid, rank, &plan->coords);
	plan->sched = calloc(2 * (size_t)m, sizeof(*plan->sched));
	if (!plan->sched)
		return TL_ENOMEM;
	b.stage = plan->coords.pp;
	b.first = b.stage == 0;
	b.last = b.stage == job->pp - 1;
	uint64_t stride = job->tp * job->cp * job->dp; /* ranks between neighbouring stages */
	b.prev = b.first ? -1 : (int64_t)(rank - stride);
	b.next = b.last ? -1 : (int64_t)(rank + stride);
	b.bucket_bytes = job->bucket_mb * 1000000;
	b.dense.group = TL_GROUP_DP;
	b.expert.group = TL_GROUP_EDP;

	if (job->schedule == TL_SCHEDULE_GPIPE) {
		for (int i = 0; i < m; i++)
			schedule(&b, 'F', i);
		for (int i = 0; i < m; i++)
			schedule(&b, 'B', i);
	} else {
		int warmup = (int)(job->pp - 1 - b.stage);
		if (warmup > m)
			warmup = m;
		for (int i = 0; i < warmup; i++)
			schedule(&b, 'F', i);
		for (int i = 0; i < m - warmup; i++) {
			schedule(&b, 'F', warmup + i);
			schedule(&b, 'B', i);
		}
		for (int i = m - warmup; i < m; i++)
			schedule(&b, 'B', i);
	}
	wait_open(&b, 0, TL_PHASE_GRAD_SYNC);
	optimizer(&b);
	free(b.open_ops);
	free(b.deferred);
	if (b.rc)
		tl_plan_free(plan);
	return b.rc;
}

int tl_plan_build_diag(struct tl_plan *plan, const struct tl_job *job,
		       const struct tl_model *model, const struct tl_grid *grid, uint64_t rank,
		       struct tl_diag *diag)
{
	int rc = tl_plan_build(plan, job, model, grid, rank);

	if (rc == TL_ENOMEM) {
		tl_job_blame(job, "parallel", tl_job_batch_key(job), diag,
			     "rank %" PRIu64 ": out of memory building its plan (%" PRIu64
			     " microbatches x %" PRIu64 " layers per stage)",
			     rank, model->microbatches, model->layers_per_stage);
		return TL_EINPUT;
	}
	return rc;
}

void tl_plan_free(struct tl_plan *plan)
{
	free(plan->ops);
	free(plan->sched);
	memset(plan, 0, sizeof(*plan));
}
