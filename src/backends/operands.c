/* SPDX-License-Identifier: BSD-3-Clause */
/* Where the operands of a rank's ops lie (src/backends/operands.h, which explains the regions). */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/operands.h"
#include "trainload/log.h"

/* Distinct GEMM names a model may have ("qkv", "mlp_up", "expert_down", "logits", ...). */
#define NAMES_MAX 32

const char *const tl_region_names[R_COUNT] = {
	[R_WEIGHTS] = "weights", [R_GRADS] = "gradients", [R_STAGE] = "comm-dtype gradients",
	[R_SHARD] = "ZeRO shard", [R_SEND] = "send",      [R_PSEND] = "pipeline send",
	[R_RECV] = "receive",
	[R_OPTIM] = "optimizer",  [R_ACT] = "activations", [R_A] = "GEMM A",
	[R_B] = "GEMM B",         [R_C] = "GEMM C",
};

static uint64_t max_u64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

/* ---- where operands lie ---- */

static struct span span(int region, bool fixed, uint64_t off, uint64_t len)
{
	return (struct span){ .region = (uint8_t)region, .fixed = fixed, .off = off, .len = len };
}

/* What a span needs of its region; sets > 1 repeat it step bytes apart. */
static void use_sets(struct operands *o, const struct span *s, uint64_t sets, uint64_t step)
{
	struct region *r = &o->r[s->region];
	uint64_t end = (s->fixed ? s->off + s->len : s->len) + (sets - 1) * step;

	r->need = max_u64(r->need, end);
}

static void use(struct operands *o, const struct span *s)
{
	use_sets(o, s, 1, 0);
}

char *tl_operands_at(const struct operands *o, const struct span *s)
{
	const struct region *r = &o->r[s->region];
	uint64_t off = s->off;

	if (off + s->len > r->size)
		off = (off % (r->size - s->len + 1)) & ~(uint64_t)63;
	return r->base + off;
}

/* GEMM names and the blocks of parameters they use, by (layer, name). */
struct layout {
	const char *names[NAMES_MAX];
	int nnames;
	/* Keys are (layer + 1) · NAMES_MAX + name id. */
	uint64_t *tile;     /* element offset in the bucket order, UINT64_MAX: none yet */
	uint64_t *compact;  /* memory = lean: layer -1 and one shared layer, packed */
	uint64_t compact_next;
	uint64_t extra;     /* blocks no weight-gradient GEMM placed go after all parameters */
};

static int name_id(struct layout *lay, const char *name)
{
	for (int i = 0; i < lay->nnames; i++)
		if (!strcmp(lay->names[i], name))
			return i;
	if (lay->nnames == NAMES_MAX)
		return -1;
	lay->names[lay->nnames] = name;
	return lay->nnames++;
}

/* Elements of the weight block a weight GEMM uses: B (k×n) of the forward and of the input
 * gradient, C (m×n) of the weight gradient; one per expert. */
static uint64_t block_elems(const struct tl_op *op)
{
	const struct tl_gemm *g = &op->gemm;

	return (op->pass == TL_GEMM_GRAD_B ? g->m * g->n : g->k * g->n) * g->batch;
}

/*
 * Place every weight block where its parameters sit in the gradient buckets. The plan fills
 * buckets in the order backward produces gradients: the head (last stage), the layers from the
 * last to the first, the embedding (first stage); expert weights, reduced over another group,
 * after all the dense ones. Within a layer the weight-gradient GEMMs take their blocks in the
 * order backward runs them; biases and norms take the rest of the layer's share.
 */
static int place_blocks(struct layout *lay, const struct tl_job *job,
			const struct tl_model *model, const struct tl_plan *plan)
{
	uint64_t stage = plan->coords.pp, lps = model->layers_per_stage;
	uint64_t expert, params = tl_model_stage_params(model, job, stage, &expert);
	uint64_t *dense_at = calloc(lps + 1, sizeof(*dense_at));
	uint64_t *expert_at = calloc(lps + 1, sizeof(*expert_at));
	uint64_t head_at = 0, embed_at, cur = 0;

	if (!dense_at || !expert_at) {
		free(dense_at);
		free(expert_at);
		return TL_ENOMEM;
	}
	if (stage == job->pp - 1)
		cur += model->head_params_rank;
	for (uint64_t l = lps; l-- > 0;) {
		const struct tl_layer *L =
			tl_model_layer(model, job, tl_model_stage_layer(model, job, stage, l));
		dense_at[l] = cur;
		cur += L->params_rank - L->expert_params_rank;
	}
	embed_at = cur;
	cur = params - expert;
	for (uint64_t l = lps; l-- > 0;) {
		expert_at[l] = cur;
		cur += tl_model_layer(model, job, tl_model_stage_layer(model, job, stage, l))
			       ->expert_params_rank;
	}
	lay->extra = params;

	for (size_t i = 0; i < plan->count; i++) {
		const struct tl_op *op = &plan->ops[i];
		if (op->kind != TL_OP_GEMM || !op->gemm.weight || op->pass != TL_GEMM_GRAD_B)
			continue;
		int id = name_id(lay, op->gemm.name);
		if (id < 0)
			goto names;
		size_t key = (size_t)(op->layer + 1) * NAMES_MAX + (size_t)id;
		if (lay->tile[key] != UINT64_MAX)
			continue;
		uint64_t *cursor;
		if (op->layer < 0) /* the logits: the output embedding, or with tied embeddings
				      on a single stage, the input embedding itself */
			cursor = stage == job->pp - 1 && (!job->tied_embeddings || job->pp > 1)
					 ? &head_at
					 : &embed_at;
		else if (!strncmp(op->gemm.name, "expert_", 7))
			cursor = &expert_at[tl_model_layer_slot(model, job, (uint64_t)op->layer)];
		else
			cursor = &dense_at[tl_model_layer_slot(model, job, (uint64_t)op->layer)];
		lay->tile[key] = *cursor;
		*cursor += block_elems(op);
	}
	free(dense_at);
	free(expert_at);
	return 0;
names:
	free(dense_at);
	free(expert_at);
	fprintf(stderr, "trainload: rank %d: more than %d GEMM names\n", (int)plan->rank,
		NAMES_MAX);
	return TL_ERUN;
}

/* The element offset of a weight GEMM's block: in the bucket order, or (lean) packed. */
static int weight_block(struct layout *lay, const struct tl_op *op, bool lean, uint64_t *off)
{
	int id = name_id(lay, op->gemm.name);

	if (id < 0)
		return TL_ERUN;
	if (lean) {
		size_t key = (size_t)(op->layer < 0 ? 0 : 1) * NAMES_MAX + (size_t)id;
		if (lay->compact[key] == UINT64_MAX) {
			lay->compact[key] = lay->compact_next;
			lay->compact_next += block_elems(op);
		}
		*off = lay->compact[key];
		return 0;
	}
	size_t key = (size_t)(op->layer + 1) * NAMES_MAX + (size_t)id;
	if (lay->tile[key] == UINT64_MAX) {
		lay->tile[key] = lay->extra;
		lay->extra += block_elems(op);
	}
	*off = lay->tile[key];
	return 0;
}

static int gemm_operands(struct operands *o, struct layout *lay, const struct tl_op *op,
			 struct operand *co, const struct tl_job *job)
{
	const struct tl_gemm *g = &op->gemm;
	uint64_t elem = o->elem;
	uint64_t a = g->m * g->k * g->batch * elem, b = g->k * g->n * g->batch * elem,
		 c = g->m * g->n * g->batch * elem;

	if (g->m > INT_MAX || g->n > INT_MAX || g->k > INT_MAX) {
		fprintf(stderr, "trainload: rank %d: GEMM %s (%llu x %llu x %llu) exceeds BLAS int "
			"dimensions\n", (int)o->rank, g->name, (unsigned long long)g->m,
			(unsigned long long)g->n, (unsigned long long)g->k);
		return TL_ERUN;
	}
	co->x = span(R_A, true, 0, a);
	co->y = span(R_B, true, 0, b);
	co->z = span(R_C, true, 0, c);
	if (!g->weight)
		return 0;
	uint64_t off;
	int rc;
	if (op->pass == TL_GEMM_GRAD_B) {
		rc = weight_block(lay, op, false, &off);
		co->z = span(R_GRADS, false, off * elem, c);
	} else {
		rc = weight_block(lay, op, o->lean, &off);
		/* ZeRO-3 holds a shard of the weights: the blocks wrap around in it. */
		co->y = span(R_WEIGHTS, o->lean || job->zero < 3, off * elem, b);
	}
	if (rc)
		fprintf(stderr, "trainload: rank %d: more than %d GEMM names\n", (int)o->rank,
			NAMES_MAX);
	return rc;
}

/* Where each communication op's input and output lie (see the file's header). */
struct grad_cursor {
	int microbatch;
	uint64_t dense, expert, dense_total;
};

/* Rounded up to whole 64-byte lines, so that buffer sets stay aligned. */
static uint64_t lines(uint64_t bytes)
{
	return (bytes + 63) & ~(uint64_t)63;
}

/*
 * A sweep's op: out of place, input in the send region and output in the receive region; in
 * place, both in the receive region, where coll.h's descriptor places them, except that MPI
 * leaves a reduce_scatter's result at the start of the buffer and has one buffer for a
 * broadcast (out of place it is then the same call). With sweep.rotate_mb, the op's buffers
 * repeat in sets that together hold at least rotate_mb MB, one set per call in turn.
 */
static void sweep_operands(struct operands *o, const struct tl_op *op, struct operand *co,
			   const struct tl_job *job, uint64_t me)
{
	const struct tl_coll *d = tl_coll_get(op->kind);
	const struct tl_coll_counts *c = &co->c;
	uint64_t ce = o->comm_elem, in = c->send * ce, out = c->recv * ce;
	bool one_buffer = op->in_place || (op->kind == TL_OP_BROADCAST && o->layout == TL_LAYOUT_MPI);

	if (!one_buffer) {
		co->x = span(R_SEND, true, 0, in);
		co->y = span(R_RECV, true, 0, out);
		co->x_step = lines(in);
		co->y_step = lines(out);
	} else {
		uint64_t block = c->param * ce;
		bool out_at_rank = d->recv_in_place_at_rank && o->layout == TL_LAYOUT_NCCL;
		co->x = span(R_RECV, true, d->send_in_place_at_rank ? me * block : 0, in);
		co->y = span(R_RECV, true, out_at_rank ? me * block : 0, out);
		co->x_step = co->y_step = lines(in > out ? in : out);
		co->in_place = true;
	}
	uint64_t footprint = co->x_step + (one_buffer ? 0 : co->y_step);
	co->sets = 1;
	if (job->rotate_mb && footprint)
		co->sets = (job->rotate_mb * 1000000 + footprint - 1) / footprint;
}

static void comm_operands(struct operands *o, const struct tl_op *op, struct operand *co,
			  const struct tl_job *job, const struct tl_grid *grid,
			  struct grad_cursor *gc)
{
	uint64_t ce = o->comm_elem, elem = o->elem;
	uint64_t n = tl_grid_group_size(grid, op->group);
	bool dp = op->group == TL_GROUP_DP || op->group == TL_GROUP_EDP ||
		  op->group == TL_GROUP_DPCP;
	bool grad_sync = dp && op->phase == TL_PHASE_GRAD_SYNC &&
			 (op->kind == TL_OP_ALLREDUCE || op->kind == TL_OP_REDUCE_SCATTER);
	bool gather_back = dp && op->phase == TL_PHASE_OPTIMIZER && op->kind == TL_OP_ALLGATHER;

	tl_coll_get(op->kind)->counts(op->bytes, ce, n, &co->c);
	co->count = co->c.param;
	bool p2p = op->kind == TL_OP_SEND || op->kind == TL_OP_RECV;
	co->n = p2p ? 2 : n;
	co->me = p2p ? o->rank : tl_grid_group_index(grid, o->rank, op->group);
	co->sets = 1;
	co->conv = CONV_NONE;
	uint64_t total = co->c.count, per = co->c.param;
	if (op->phase == TL_PHASE_SWEEP) {
		sweep_operands(o, op, co, job, tl_grid_group_index(grid, o->rank, op->group));
		return;
	}
	if (grad_sync) {
		uint64_t off = op->offset / ce; /* elements */
		if (job->zero >= 3) {
			/* ZeRO-3 reduces each layer's gradients as they come, every microbatch:
			 * they tile the gradients in that order, as buckets do. */
			if (op->microbatch != gc->microbatch) {
				gc->microbatch = op->microbatch;
				gc->dense = 0;
				gc->expert = gc->dense_total;
			}
			uint64_t *c = op->group == TL_GROUP_EDP ? &gc->expert : &gc->dense;
			off = *c;
			*c += total;
		}
		int buf = o->staged ? R_STAGE : R_GRADS;
		/* ZeRO-2/3: sharded, the buckets wrap; with run.check they may not, since a
		 * bucket's pattern must stay as it was while it is reduced. */
		bool fixed = job->zero < 2 || job->check;
		co->x = span(buf, fixed, off * ce, total * ce);
		co->y = op->kind == TL_OP_ALLREDUCE ? co->x
						    : span(R_SHARD, true, off / n * ce, per * ce);
		co->in_place = op->kind == TL_OP_ALLREDUCE;
		if (o->staged) {
			co->z = span(R_GRADS, false, off * elem, total * elem);
			co->conv = CONV_BEFORE;
		}
		return;
	}
	if (gather_back) {
		/* ZeRO-1/2 after the optimizer: every rank's updated shard back into the weights,
		 * dense ones at the start, expert ones after them, as the buckets lie. */
		uint64_t off = op->group == TL_GROUP_EDP ? gc->dense_total : 0;
		co->x = span(R_SHARD, true, off / n * ce, per * ce);
		if (o->staged) {
			co->y = span(R_STAGE, true, off * ce, total * ce);
			if (!o->lean) {
				co->z = span(R_WEIGHTS, false, off * elem, total * elem);
				co->conv = CONV_AFTER;
			}
		} else {
			co->y = span(o->lean ? R_GRADS : R_WEIGHTS, true, off * elem, total * elem);
		}
		return;
	}
	/* With run.check, pipeline sends (started, and outstanding while tensor-parallel
	 * collectives fill the send buffer with their own pattern) have their own region. */
	bool psend = op->kind == TL_OP_SEND && op->group == TL_GROUP_PP && job->check;
	co->x = span(psend ? R_PSEND : R_SEND, true, 0, co->c.send * ce);
	co->y = span(R_RECV, true, 0, co->c.recv * ce);
}

int tl_operands_plan(struct operands *o, const struct tl_job *job, const struct tl_model *model,
		     const struct tl_grid *grid, const struct tl_plan *plan, enum tl_layout layout)
{
	struct layout lay = { .nnames = 0 };
	size_t keys = ((size_t)job->layers + 1) * NAMES_MAX;
	uint64_t expert = 0, params = 0;
	struct grad_cursor gc = { .microbatch = -2 };
	int rc;

	memset(o, 0, sizeof(*o));
	o->rank = plan->rank;
	o->layout = layout;
	o->compute_dtype = job->compute_dtype;
	/* A sweep moves its own dtype; it has no model, and its ops no weights to place. */
	o->comm_dtype = model ? job->comm_dtype : job->sweep_dtype;
	o->elem = (size_t)tl_dtype_bytes(o->compute_dtype);
	o->comm_elem = (size_t)tl_dtype_bytes(o->comm_dtype);
	o->lean = job->memory == TL_MEMORY_LEAN;
	o->staged = model && job->comm_dtype != job->compute_dtype;
	if (model) {
		params = tl_model_stage_params(model, job, plan->coords.pp, &expert);
		gc.dense_total = params - expert;
	}
	lay.tile = malloc(keys * sizeof(*lay.tile));
	lay.compact = malloc(2 * NAMES_MAX * sizeof(*lay.compact));
	o->ops = calloc(plan->count + 1, sizeof(*o->ops));
	rc = lay.tile && lay.compact && o->ops ? 0 : TL_ENOMEM;
	if (rc)
		goto out;
	memset(lay.tile, 0xff, keys * sizeof(*lay.tile));
	memset(lay.compact, 0xff, 2 * NAMES_MAX * sizeof(*lay.compact));
	if (model)
		rc = place_blocks(&lay, job, model, plan);
	if (rc)
		goto out;

	for (size_t i = 0; i < plan->count && !rc; i++) {
		const struct tl_op *op = &plan->ops[i];
		struct operand *co = &o->ops[i];

		switch (op->kind) {
		case TL_OP_GEMM:
			rc = gemm_operands(o, &lay, op, co, job);
			use(o, &co->x);
			use(o, &co->y);
			use(o, &co->z);
			break;
		case TL_OP_ELEMENTWISE:
			if (o->lean)
				o->r[R_ACT].need = max_u64(o->r[R_ACT].need, op->bytes);
			break;
		case TL_OP_OPTIMIZER:
		case TL_OP_WAIT:
			break;
		default:
			comm_operands(o, op, co, job, grid, &gc);
			use_sets(o, &co->x, co->sets, co->x_step);
			use_sets(o, &co->y, co->sets, co->y_step);
			if (co->conv != CONV_NONE)
				use(o, &co->z);
			break;
		}
	}
	if (rc)
		goto out;
	/* memory = lean: the compact weights are what the GEMMs read. */
	if (o->lean)
		o->r[R_WEIGHTS].need = max_u64(o->r[R_WEIGHTS].need, lay.compact_next * o->elem);
	if (!o->lean && model) {
		o->r[R_WEIGHTS].floor = model->weight_bytes;
		/* ZeRO-2/3 keep only their shard of the gradients, which the reduce-scatters
		 * leave: the gradient region is then the transient one that the weight-gradient
		 * GEMMs and the buckets share, no larger than they need. */
		o->r[job->zero >= 2 ? R_SHARD : R_GRADS].floor = model->grad_bytes;
		o->r[R_OPTIM].floor = model->optimizer_bytes;
		o->r[R_ACT].floor = model->activation_bytes;
	}
	/* Memory passes copy one half of their region into the other: keep a few pages. */
	if (model)
		o->r[R_ACT].need = max_u64(o->r[R_ACT].need, 1 << 16);
	if (model && !o->lean)
		o->r[R_OPTIM].need = max_u64(o->r[R_OPTIM].need, 1 << 16);
	for (int i = 0; i < R_COUNT; i++) {
		struct region *r = &o->r[i];
		r->size = max_u64(r->floor, r->need);
		r->size = (r->size + 63) & ~(uint64_t)63;
	}
out:
	free(lay.tile);
	free(lay.compact);
	return rc;
}

struct tl_check tl_operands_check(const struct operands *o, const struct tl_plan *plan, size_t i,
				  uint64_t seed)
{
	const struct tl_op *op = &plan->ops[i];
	const struct operand *co = &o->ops[i];

	return (struct tl_check){ .coll = tl_coll_get(op->kind), .c = co->c, .n = co->n,
				  .me = co->me, .from = (uint64_t)op->peer, .it = seed,
				  .dtype = o->comm_dtype };
}

int tl_operands_fills(const struct operands *o, const struct tl_plan *plan, size_t i,
		      uint64_t seed, struct tl_fill fills[2])
{
	const struct operand *co = &o->ops[i];
	struct tl_check c = tl_operands_check(o, plan, i, seed);
	int n = 0;
	char *in, *out;

	tl_operands_io(o, i, co->calls, &in, &out);
	if (c.c.recv)
		fills[n++] = (struct tl_fill){ .at = out, .bytes = c.c.recv * o->comm_elem, .c = c };
	if (!c.c.send || (c.coll->root >= 0 && c.me != (uint64_t)c.coll->root))
		return n;
	fills[n] = (struct tl_fill){ .at = in, .bytes = c.c.send * o->comm_elem, .input = true,
				     .c = c };
	if (co->conv == CONV_BEFORE) {
		fills[n].at = tl_operands_at(o, &co->z);
		fills[n].bytes = c.c.send * o->elem;
		fills[n].c.dtype = o->compute_dtype;
	}
	return n + 1;
}

void tl_operands_io(const struct operands *o, size_t i, uint64_t call, char **in, char **out)
{
	const struct operand *co = &o->ops[i];
	uint64_t set = co->sets > 1 ? call % co->sets : 0;

	*in = tl_operands_at(o, &co->x) + set * co->x_step;
	*out = tl_operands_at(o, &co->y) + set * co->y_step;
}

void tl_operands_free(struct operands *o)
{
	free(o->ops);
	o->ops = NULL;
}

int tl_operands_fill_dtype(const struct operands *o, int region)
{
	switch (region) {
	case R_WEIGHTS:
	case R_A:
	case R_B:
		return o->compute_dtype;
	case R_SEND:
	case R_PSEND:
		return o->comm_dtype;
	default:
		return TL_DTYPE_SAME; /* zeros */
	}
}

void tl_operands_stream(struct region *r, uint64_t bytes,
			void (*copy)(void *ctx, char *dst, const char *src, uint64_t len),
			void *ctx)
{
	uint64_t half = (r->size / 2) & ~(uint64_t)63, left = bytes / 2;

	while (half && left) {
		if (r->cursor >= half)
			r->cursor = 0;
		uint64_t len = min_u64(left, half - r->cursor);
		copy(ctx, r->base + half + r->cursor, r->base + r->cursor, len);
		r->cursor += len;
		left -= len;
	}
}
