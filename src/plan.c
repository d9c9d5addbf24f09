/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * One rank's step as a list of ops (DESIGN.md §4), as a Megatron-style run issues them.
 *
 * Schedule: 1F1B (warm-up pp-1-stage forwards, then one forward and one backward at a time,
 * then the remaining backwards), GPipe (all forwards, then all backwards) or Megatron-LM's
 * interleaved 1F1B: each stage holds virtual_stages model chunks (chunk c of stage s is virtual
 * stage c·pp + s), forward iteration k runs chunk (k mod pp·v)/pp of microbatch
 * (k div pp·v)·pp + k mod pp, backward iteration k chunk v-1 minus that, after
 * tl_model_warmup() warm-up forwards. Activations pass from virtual stage j to j + 1, so from the
 * last stage back to the first between chunks. Pipeline sends are non-blocking and completed at
 * the end of the step, receives block: with tags per microbatch, chunk and direction this pairs
 * up without deadlock, as Megatron's batched isend/irecv does.
 *
 * Context parallelism (cp > 1): each rank holds seq/cp tokens of every sequence; a layer's
 * attention runs in cp blocks, the rank's queries against its own keys and values and then
 * against each other rank's, which pass around the ring of the cp group (send to the next,
 * receive from the previous, both started before a block and waited after it, so that the
 * transfer overlaps the block): cp-1 transfers of K and V forward, and of their gradients
 * backward, as Megatron's ring attention does.
 *
 * Data parallelism: gradients are reduced in buckets, tensor by tensor as backward produces
 * them (a weight's bias with it, a norm's parameters after its backward pass), in the last
 * microbatch's backward of each model chunk (earlier microbatches only accumulate), issued
 * non-blocking with overlap = yes and waited before the optimizer; with overlap = no the same
 * buckets are reduced, blocking, after backward. A bucket closes once it holds bucket_mb MiB
 * (the tensor that reaches it included), as Megatron-LM's and PyTorch DDP's do; with
 * bucket_policy = ddp the first closes at 1 MiB. ZeRO-1 reduce-scatters the buckets and
 * all-gathers the updated parameters after the optimizer; ZeRO-2 shards gradients too, so it
 * reduce-scatters every microbatch's buckets; ZeRO-3 also shards the weights: each layer's are
 * all-gathered before its forward and its backward, and its gradients reduce-scattered after its
 * backward, every microbatch. Dense gradients reduce over the dp group (the dp·cp ranks with
 * context parallelism), expert ones over the expert-data-parallel group.
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

static const char *const mem_names[TL_MEM_KINDS] = {
	[TL_MEM_NORM] = "norm",		  [TL_MEM_ACTIVATION] = "activation",
	[TL_MEM_SOFTMAX] = "softmax",	  [TL_MEM_DROPOUT] = "dropout",
	[TL_MEM_RESIDUAL] = "residual",	  [TL_MEM_EMBEDDING] = "embedding",
	[TL_MEM_LOSS] = "loss",		  [TL_MEM_OPTIMIZER] = "optimizer",
};

const char *tl_mem_kind_name(enum tl_mem_kind kind)
{
	return mem_names[kind];
}

const char *tl_phase_name(enum tl_phase phase)
{
	return phase_names[phase];
}

/* A data-parallel gradient bucket being filled. */
struct bucket {
	int group;        /* the gradient group, or TL_GROUP_EDP for expert weights */
	uint64_t pending; /* bytes not yet issued */
	uint64_t offset;  /* where the next bucket starts in the gradient buffer */
	int closed;       /* buckets issued in this synchronisation */
};

struct builder {
	struct tl_plan *plan;
	const struct tl_job *job;
	const struct tl_model *model;
	const struct tl_grid *grid;
	uint64_t stage, chunks;
	int grad_group;           /* TL_GROUP_DP, or TL_GROUP_DPCP with context parallelism */
	int64_t prev, next;       /* ranks of the previous and the next pipeline stage (with the
				     interleaved schedule, stage 0's previous is the last) */
	int64_t cp_prev, cp_next; /* neighbours in the context-parallel ring */
	uint64_t bucket_bytes;
	struct bucket dense, expert;
	uint64_t *dense_base, *expert_base; /* per chunk: where its gradients start */
	size_t *open_ops; /* ops started and not yet waited, in the order they were started */
	int nopen, capopen;
	struct tl_op *deferred; /* overlap = no: buckets to reduce once backward is done */
	int ndeferred, capdeferred;
	bool bucketing; /* in a backward whose gradients go to the buckets */
	int rc;
};

int tl_plan_grad_group(const struct tl_job *job)
{
	return job->cp > 1 ? TL_GROUP_DPCP : TL_GROUP_DP;
}

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
	if (op->kind == TL_OP_GEMM) {
		plan->flops += tl_gemm_flops(&op->gemm);
	} else if (tl_op_is_comm(op->kind)) {
		bool dp = op->group == TL_GROUP_EDP || op->group == TL_GROUP_DPCP;
		plan->comm_bytes[dp ? TL_GROUP_DP : op->group] += op->bytes;
	} else if (op->kind == TL_OP_ELEMENTWISE || op->kind == TL_OP_OPTIMIZER) {
		plan->mem_bytes[op->mem] += op->bytes;
	}
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

/* Give a non-blocking op its request slot and remember it until it is waited; its slot. */
static int start(struct builder *b, struct tl_op *op)
{
	if (!grow(b, (void **)&b->open_ops, b->nopen, &b->capopen, sizeof(*b->open_ops)))
		return -1;
	op->nonblocking = true;
	op->req = b->plan->reqs++;
	b->open_ops[b->nopen++] = b->plan->count;
	push(b, op);
	return op->req;
}

/* The wait of the started op at open_ops[i], which leaves the list. */
static void wait_at(struct builder *b, int i, enum tl_phase phase)
{
	const struct tl_op started = b->plan->ops[b->open_ops[i]];
	struct tl_op op = { .kind = TL_OP_WAIT, .phase = phase, .group = started.group,
			    .layer = started.layer, .microbatch = started.microbatch,
			    .peer = started.peer, .req = started.req };

	push(b, &op);
	memmove(&b->open_ops[i], &b->open_ops[i + 1], (size_t)(b->nopen - i - 1) * sizeof(*b->open_ops));
	b->nopen--;
}

/* Wait for every started op of the given kinds (all kinds when mask is 0), in the order they
 * were started. */
static void wait_open(struct builder *b, unsigned kind_mask, enum tl_phase phase)
{
	for (int i = 0; i < b->nopen && !b->rc;) {
		if (kind_mask && !(kind_mask & (1u << b->plan->ops[b->open_ops[i]].kind)))
			i++;
		else
			wait_at(b, i, phase);
	}
}

/* Wait for the op started in request slot req. */
static void wait_req(struct builder *b, int req, enum tl_phase phase)
{
	for (int i = 0; i < b->nopen && !b->rc; i++) {
		if (b->plan->ops[b->open_ops[i]].req == req) {
			wait_at(b, i, phase);
			return;
		}
	}
}

/* A memory pass of the given kind: bytes read plus written. */
static void pass(struct builder *b, enum tl_mem_kind kind, uint64_t bytes, enum tl_phase phase,
		 int layer, int mb)
{
	struct tl_op op = { .kind = TL_OP_ELEMENTWISE, .phase = phase, .layer = layer,
			    .microbatch = mb, .peer = -1, .req = -1, .bytes = bytes, .mem = kind };
	if (bytes)
		push(b, &op);
}

/* A pass of the forward (and recompute) or the backward. */
static void pass_of(struct builder *b, enum tl_mem_kind kind, const struct tl_pass_bytes *bytes,
		    enum tl_phase phase, int layer, int mb)
{
	pass(b, kind, phase == TL_PHASE_BACKWARD ? bytes->bwd : bytes->fwd, phase, layer, mb);
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

/* A point-to-point op; the slot of a started one, -1 for a blocking receive. */
static int p2p(struct builder *b, enum tl_op_kind kind, int group, uint64_t bytes, int64_t peer,
	       enum tl_phase phase, int layer, int mb, int chunk, bool grad, bool nonblocking)
{
	struct tl_op op = { .kind = kind, .phase = phase, .group = group, .layer = layer,
			    .microbatch = mb, .bytes = bytes, .peer = peer, .req = -1,
			    .tag = 2 * (mb * (int)b->chunks + chunk) + grad };
	if (nonblocking)
		return start(b, &op);
	push(b, &op);
	return -1;
}

/* Pipeline messages of a microbatch between virtual stages: activations up, gradients down,
 * tagged by the chunk on the lower side of the boundary. Sends are started, receives block. */
static void pipe_send(struct builder *b, int64_t peer, int mb, int lower_chunk, bool grad)
{
	p2p(b, TL_OP_SEND, TL_GROUP_PP, b->model->pp_bytes, peer,
	    grad ? TL_PHASE_BACKWARD : TL_PHASE_FORWARD, -1, mb, lower_chunk, grad, true);
}

static void pipe_recv(struct builder *b, int64_t peer, int mb, int lower_chunk, bool grad)
{
	p2p(b, TL_OP_RECV, TL_GROUP_PP, b->model->pp_bytes, peer,
	    grad ? TL_PHASE_BACKWARD : TL_PHASE_FORWARD, -1, mb, lower_chunk, grad, false);
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
	coll(b, TL_OP_ALLGATHER, b->grad_group, dense * elem, phase, layer, mb, false);
	coll(b, TL_OP_ALLGATHER, TL_GROUP_EDP, expert * elem, phase, layer, mb, false);
}

static void zero3_gather_layer(struct builder *b, const struct tl_layer *L, enum tl_phase phase,
			       int layer, int mb)
{
	zero3_gather(b, L->params_rank - L->expert_params_rank, L->expert_params_rank, phase, layer,
		     mb);
}

/* ZeRO-3: the gradients of a layer (or of the embeddings or head) are reduce-scattered as soon
 * as its backward is done, every microbatch (started non-blocking with overlap, blocking
 * without). */
static void zero3_reduce(struct builder *b, uint64_t dense, uint64_t expert, int layer, int mb)
{
	uint64_t elem = b->model->comm_elem_bytes;

	if (b->job->zero < 3)
		return;
	coll(b, TL_OP_REDUCE_SCATTER, b->grad_group, dense * elem, TL_PHASE_GRAD_SYNC, layer, mb,
	     b->job->overlap);
	coll(b, TL_OP_REDUCE_SCATTER, TL_GROUP_EDP, expert * elem, TL_PHASE_GRAD_SYNC, layer, mb,
	     b->job->overlap);
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
	bk->closed++;
	if (tl_grid_group_size(b->grid, bk->group) < 2 || op.bytes == 0)
		return;
	if (b->job->overlap)
		start(b, &op);
	else if (grow(b, (void **)&b->deferred, b->ndeferred, &b->capdeferred,
		      sizeof(*b->deferred)))
		b->deferred[b->ndeferred++] = op;
}

/* A gradient tensor of params elements is ready: into its bucket, which closes once it holds
 * the bucket size (PyTorch DDP: 1 MiB for the first of a synchronisation). */
static void grad(struct builder *b, bool expert, uint64_t params)
{
	struct bucket *bk = expert ? &b->expert : &b->dense;
	bool first = b->job->bucket_policy == TL_BUCKETS_DDP && bk->closed == 0;

	if (!b->bucketing || !params)
		return;
	bk->pending += params * b->model->comm_elem_bytes;
	if (bk->pending >= (first ? TL_DDP_FIRST_BUCKET_BYTES : b->bucket_bytes))
		bucket_issue(b, bk);
}

/* Backward of one GEMM: the input gradient, then the weight (or second operand) gradient, whose
 * bias's gradient and then its own go to the buckets as they are computed (bias first: autograd
 * accumulates it before the transposed weight's, and Megatron lists it first). The logits' weight
 * is the input embedding itself when tied on a single stage: its gradient is complete only after
 * the embedding's backward. */
static void gemm_backward(struct builder *b, const struct tl_gemm *g, int layer, int mb)
{
	gemm(b, g, TL_GEMM_GRAD_A, TL_PHASE_BACKWARD, layer, mb);
	gemm(b, g, TL_GEMM_GRAD_B, TL_PHASE_BACKWARD, layer, mb);
	if (!g->weight || (layer < 0 && b->job->tied_embeddings && b->job->pp == 1))
		return;
	grad(b, g->expert, g->bias);
	grad(b, g->expert, g->k * g->n * g->batch);
}

/* A norm's backward pass, after which its parameters' gradients are ready. */
static void norm_backward(struct builder *b, const struct tl_pass_bytes *bytes, uint64_t params,
			  int layer, int mb)
{
	pass_of(b, TL_MEM_NORM, bytes, TL_PHASE_BACKWARD, layer, mb);
	grad(b, false, params);
}

/* A residual add (bias, dropout and add, as one fused pass or one each). */
static void residual(struct builder *b, const struct tl_layer *L, enum tl_phase phase, int layer,
		     int mb)
{
	pass_of(b, TL_MEM_DROPOUT, &L->hidden_dropout, phase, layer, mb);
	pass_of(b, TL_MEM_RESIDUAL, &L->residual, phase, layer, mb);
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
	pass_of(b, TL_MEM_ACTIVATION, &L->act, phase, layer, mb);
	gemm(b, &g[n - 1], TL_GEMM_FWD, phase, layer, mb);
	if (L->moe)
		coll(b, TL_OP_ALLTOALL, TL_GROUP_EP, b->model->moe_bytes, phase, layer, mb, false);
}

/*
 * The attention core (QKᵀ, softmax, its dropout, attention·V; backward in reverse) in cp blocks.
 * Before each block but the last, the keys and values it used (backward: their gradients) start
 * on their way to the next rank of the ring while the previous rank's arrive; both are waited
 * once the block is done.
 */
static void attention(struct builder *b, const struct tl_layer *L, enum tl_phase phase, int layer,
		      int mb)
{
	bool bwd = phase == TL_PHASE_BACKWARD;

	for (uint64_t i = 0; i < b->job->cp && !b->rc; i++) {
		int send = -1, recv = -1;
		if (i + 1 < b->job->cp) {
			send = p2p(b, TL_OP_SEND, TL_GROUP_CP, b->model->cp_bytes, b->cp_next, phase,
				   layer, mb, 0, bwd, true);
			recv = p2p(b, TL_OP_RECV, TL_GROUP_CP, b->model->cp_bytes, b->cp_prev, phase,
				   layer, mb, 0, bwd, true);
		}
		if (bwd) {
			gemm_backward(b, &L->attn[2], layer, mb);
			pass_of(b, TL_MEM_DROPOUT, &L->attn_dropout, phase, layer, mb);
			pass_of(b, TL_MEM_SOFTMAX, &L->softmax, phase, layer, mb);
			gemm_backward(b, &L->attn[1], layer, mb);
		} else {
			gemm(b, &L->attn[1], TL_GEMM_FWD, phase, layer, mb);
			pass_of(b, TL_MEM_SOFTMAX, &L->softmax, phase, layer, mb);
			pass_of(b, TL_MEM_DROPOUT, &L->attn_dropout, phase, layer, mb);
			gemm(b, &L->attn[2], TL_GEMM_FWD, phase, layer, mb);
		}
		if (recv >= 0) {
			wait_req(b, recv, phase);
			wait_req(b, send, phase);
		}
	}
}

static void forward_layer(struct builder *b, int layer, int mb, enum tl_phase phase)
{
	const struct tl_layer *L = tl_model_layer(b->model, b->job, (uint64_t)layer);

	if (phase == TL_PHASE_FORWARD)
		zero3_gather_layer(b, L, phase, layer, mb);
	pass_of(b, TL_MEM_NORM, &L->norm, phase, layer, mb);
	tp_gather(b, phase, layer, mb);
	gemm(b, &L->attn[0], TL_GEMM_FWD, phase, layer, mb);
	attention(b, L, phase, layer, mb);
	gemm(b, &L->attn[3], TL_GEMM_FWD, phase, layer, mb);
	tp_reduce(b, phase, layer, mb);
	residual(b, L, phase, layer, mb);
	pass_of(b, TL_MEM_NORM, &L->norm, phase, layer, mb);
	tp_gather(b, phase, layer, mb);
	forward_mlp(b, L, phase, layer, mb);
	tp_reduce(b, phase, layer, mb);
	residual(b, L, phase, layer, mb);
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
	pass_of(b, TL_MEM_ACTIVATION, &L->act, TL_PHASE_BACKWARD, layer, mb);
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
	if (job->recompute == TL_RECOMPUTE_FULL)
		forward_layer(b, layer, mb, TL_PHASE_RECOMPUTE);
	else if (job->recompute == TL_RECOMPUTE_SELECTIVE)
		attention(b, L, TL_PHASE_RECOMPUTE, layer, mb);

	/* The forward in reverse: the MLP block, then the attention block. */
	b->bucketing = sync && job->zero < 3;
	residual(b, L, bwd, layer, mb);
	tp_gather(b, bwd, layer, mb);
	backward_mlp(b, L, layer, mb);
	tp_reduce(b, bwd, layer, mb);
	norm_backward(b, &L->norm, L->norm_params, layer, mb);
	residual(b, L, bwd, layer, mb);
	tp_gather(b, bwd, layer, mb);
	gemm_backward(b, &L->attn[3], layer, mb);
	attention(b, L, bwd, layer, mb);
	gemm_backward(b, &L->attn[0], layer, mb);
	tp_reduce(b, bwd, layer, mb);
	norm_backward(b, &L->norm, L->norm_params, layer, mb);
	b->bucketing = false;
	zero3_reduce(b, L->params_rank - L->expert_params_rank, L->expert_params_rank, layer, mb);
}

/* The virtual stage of a chunk of this rank, and its neighbours' ranks. */
static uint64_t vstage(const struct builder *b, int chunk)
{
	return (uint64_t)chunk * b->job->pp + b->stage;
}

static bool first_vstage(const struct builder *b, int chunk)
{
	return vstage(b, chunk) == 0;
}

static bool last_vstage(const struct builder *b, int chunk)
{
	return vstage(b, chunk) + 1 == b->chunks * b->job->pp;
}

/* The chunk on the lower side of the boundary below virtual stage (chunk, stage). */
static int chunk_below(const struct builder *b, int chunk)
{
	return (int)((vstage(b, chunk) - 1) / b->job->pp);
}

static void forward(struct builder *b, int chunk, int mb)
{
	const struct tl_model *model = b->model;
	uint64_t per_chunk = model->layers_per_stage / b->chunks;
	enum tl_phase fwd = TL_PHASE_FORWARD;

	if (first_vstage(b, chunk)) {
		zero3_gather(b, model->embed_params_rank, 0, fwd, -1, mb);
		pass_of(b, TL_MEM_EMBEDDING, &model->embed, fwd, -1, mb);
	} else {
		pipe_recv(b, b->prev, mb, chunk_below(b, chunk), false);
	}
	for (uint64_t i = (uint64_t)chunk * per_chunk; i < (uint64_t)(chunk + 1) * per_chunk; i++)
		forward_layer(b, (int)tl_model_stage_layer(model, b->job, b->stage, i), mb, fwd);
	if (last_vstage(b, chunk)) {
		zero3_gather(b, model->head_params_rank, 0, fwd, -1, mb);
		pass_of(b, TL_MEM_NORM, &model->final_norm, fwd, -1, mb);
		gemm(b, &model->logits, TL_GEMM_FWD, fwd, -1, mb);
		pass_of(b, TL_MEM_LOSS, &model->loss, fwd, -1, mb);
	} else {
		pipe_send(b, b->next, mb, chunk, false);
	}
}

/* A chunk's backward of a microbatch. Its gradients are reduced in the last microbatch's
 * backward, or in every one with ZeRO-2 and ZeRO-3, whose gradients are sharded. */
static void backward(struct builder *b, int chunk, int mb)
{
	const struct tl_model *model = b->model;
	const struct tl_job *job = b->job;
	uint64_t per_chunk = model->layers_per_stage / b->chunks;
	bool sync = job->zero >= 2 || (uint64_t)mb + 1 == model->microbatches;
	enum tl_phase bwd = TL_PHASE_BACKWARD;

	/* Buckets tile the gradient buffer in the order backward produces gradients; a chunk's
	 * start at its place (dense gradients from the start, expert ones after them). */
	b->dense.offset = b->dense_base[chunk];
	b->expert.offset = b->expert_base[chunk];
	b->dense.closed = b->expert.closed = 0;
	if (last_vstage(b, chunk)) {
		zero3_gather(b, model->head_params_rank, 0, bwd, -1, mb);
		pass_of(b, TL_MEM_LOSS, &model->loss, bwd, -1, mb);
		b->bucketing = sync && job->zero < 3;
		gemm_backward(b, &model->logits, -1, mb);
		norm_backward(b, &model->final_norm, model->dense.norm_params, -1, mb);
		b->bucketing = false;
		zero3_reduce(b, model->head_params_rank, 0, -1, mb);
	} else {
		pipe_recv(b, b->next, mb, chunk, true);
	}
	for (uint64_t i = (uint64_t)(chunk + 1) * per_chunk; i-- > (uint64_t)chunk * per_chunk;)
		backward_layer(b, (int)tl_model_stage_layer(model, job, b->stage, i), mb, sync);
	if (first_vstage(b, chunk)) {
		zero3_gather(b, model->embed_params_rank, 0, bwd, -1, mb);
		pass_of(b, TL_MEM_EMBEDDING, &model->embed, bwd, -1, mb);
		/* the positions' gradients (GPT-style), then the word embedding's */
		uint64_t words = model->embed_params_rank - (job->mlp == TL_MLP_GELU
								    ? job->seq * job->hidden
								    : 0);
		b->bucketing = sync && job->zero < 3;
		grad(b, false, model->embed_params_rank - words);
		grad(b, false, words);
		b->bucketing = false;
		zero3_reduce(b, model->embed_params_rank, 0, -1, mb);
	} else {
		pipe_send(b, b->prev, mb, chunk_below(b, chunk), true);
	}
	if (!sync)
		return;
	/* What is left in the buckets goes once backward has produced it all; without overlap,
	 * all buckets go now, blocking. */
	if (job->zero < 3) {
		if (b->dense.pending)
			bucket_issue(b, &b->dense);
		if (b->expert.pending)
			bucket_issue(b, &b->expert);
	}
	for (int i = 0; i < b->ndeferred; i++)
		push(b, &b->deferred[i]);
	b->ndeferred = 0;
	if (job->zero >= 2) /* sharded gradients: this microbatch's reductions complete here */
		wait_open(b, 1u << TL_OP_REDUCE_SCATTER, TL_PHASE_GRAD_SYNC);
}

/* Megatron-LM's order of virtual iterations: iteration k is microbatch (k div pp·v)·pp + k mod pp
 * of chunk (k mod pp·v) div pp, counted from the last chunk backward. */
static void schedule(struct builder *b, char dir, uint64_t k)
{
	struct tl_plan *plan = b->plan;
	uint64_t p = b->job->pp, group = p * b->chunks;
	int mb = (int)(k / group * p + k % p);
	int chunk = (int)(k % group / p);

	if (dir == 'B')
		chunk = (int)b->chunks - 1 - chunk;
	plan->sched[plan->nsched++] = (struct tl_sched){ dir, mb, chunk };
	if (dir == 'F')
		forward(b, chunk, mb);
	else
		backward(b, chunk, mb);
}

static void optimizer(struct builder *b)
{
	const struct tl_job *job = b->job;
	const struct tl_model *model = b->model;
	uint64_t expert, params = tl_model_stage_params(model, job, b->stage, &expert);
	uint64_t edp = tl_grid_group_size(b->grid, TL_GROUP_EDP);
	uint64_t dp = tl_grid_group_size(b->grid, b->grad_group);
	uint64_t shard = params;
	uint64_t elem = model->comm_elem_bytes;

	if (job->zero >= 1)
		shard = (params - expert + dp - 1) / dp + (expert + edp - 1) / edp;
	struct tl_op op = { .kind = TL_OP_OPTIMIZER, .phase = TL_PHASE_OPTIMIZER, .layer = -1,
			    .microbatch = -1, .peer = -1, .req = -1, .mem = TL_MEM_OPTIMIZER,
			    .bytes = shard * (model->optimizer_read_per_param +
					      model->optimizer_written_per_param) };
	push(b, &op);
	if (job->zero == 1 || job->zero == 2) {
		/* The updated shards are gathered back into every rank's weights. */
		coll(b, TL_OP_ALLGATHER, b->grad_group, (params - expert) * elem, TL_PHASE_OPTIMIZER,
		     -1, -1, false);
		coll(b, TL_OP_ALLGATHER, TL_GROUP_EDP, expert * elem, TL_PHASE_OPTIMIZER, -1, -1,
		     false);
	}
}

/* Where each chunk's gradients start in the gradient buffer: the chunks in the order their
 * backward syncs (the last first), the head before the last chunk's layers, the embeddings
 * after the first's. */
static int chunk_bases(struct builder *b)
{
	const struct tl_model *model = b->model;
	const struct tl_job *job = b->job;
	uint64_t per_chunk = model->layers_per_stage / b->chunks, expert;
	uint64_t params = tl_model_stage_params(model, job, b->stage, &expert);
	uint64_t dense_at = 0, expert_at = (params - expert) * model->comm_elem_bytes;

	b->dense_base = calloc(b->chunks, sizeof(*b->dense_base));
	b->expert_base = calloc(b->chunks, sizeof(*b->expert_base));
	if (!b->dense_base || !b->expert_base)
		return TL_ENOMEM;
	for (uint64_t c = b->chunks; c-- > 0;) {
		b->dense_base[c] = dense_at;
		b->expert_base[c] = expert_at;
		if (last_vstage(b, (int)c))
			dense_at += model->head_params_rank * model->comm_elem_bytes;
		for (uint64_t i = c * per_chunk; i < (c + 1) * per_chunk; i++) {
			const struct tl_layer *L = tl_model_layer(
				model, job, tl_model_stage_layer(model, job, b->stage, i));
			dense_at += (L->params_rank - L->expert_params_rank) * model->comm_elem_bytes;
			expert_at += L->expert_params_rank * model->comm_elem_bytes;
		}
	}
	return 0;
}

int tl_plan_build(struct tl_plan *plan, const struct tl_job *job, const struct tl_model *model,
		  const struct tl_grid *grid, uint64_t rank)
{
	struct builder b = { .plan = plan, .job = job, .model = model, .grid = grid };
	uint64_t m = model->microbatches, units = m * model->chunks;

	memset(plan, 0, sizeof(*plan));
	plan->rank = rank;
	tl_grid_coords(grid, rank, &plan->coords);
	plan->sched = calloc(2 * (size_t)units, sizeof(*plan->sched));
	if (!plan->sched)
		return TL_ENOMEM;
	b.stage = plan->coords.pp;
	b.chunks = model->chunks;
	b.grad_group = tl_plan_grad_group(job);
	uint64_t stride = job->tp * job->cp * job->dp; /* ranks between neighbouring stages */
	b.prev = b.stage > 0 ? (int64_t)(rank - stride) : (int64_t)(rank + (job->pp - 1) * stride);
	b.next = b.stage + 1 < job->pp ? (int64_t)(rank + stride)
				       : (int64_t)(rank - (job->pp - 1) * stride);
	uint64_t cpi = plan->coords.cp;
	b.cp_next = (int64_t)tl_grid_group_member(grid, rank, TL_GROUP_CP, (cpi + 1) % job->cp);
	b.cp_prev = (int64_t)tl_grid_group_member(grid, rank, TL_GROUP_CP,
						  (cpi + job->cp - 1) % job->cp);
	b.bucket_bytes = job->bucket_mb << 20;
	b.dense.group = b.grad_group;
	b.expert.group = TL_GROUP_EDP;
	b.rc = chunk_bases(&b);

	if (job->schedule == TL_SCHEDULE_GPIPE) {
		for (uint64_t k = 0; k < m; k++)
			schedule(&b, 'F', k);
		for (uint64_t k = 0; k < m; k++)
			schedule(&b, 'B', k);
	} else {
		uint64_t warmup = tl_model_warmup(model, job, b.stage);
		for (uint64_t k = 0; k < warmup; k++)
			schedule(&b, 'F', k);
		for (uint64_t k = 0; k < units - warmup; k++) {
			schedule(&b, 'F', warmup + k);
			schedule(&b, 'B', k);
		}
		for (uint64_t k = units - warmup; k < units; k++)
			schedule(&b, 'B', k);
	}
	wait_open(&b, 0, TL_PHASE_GRAD_SYNC);
	optimizer(&b);
	free(b.open_ops);
	free(b.deferred);
	free(b.dense_base);
	free(b.expert_base);
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
