/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The plan (src/plan.c): one rank's step as a list of ops, held to DESIGN.md §4 with the numbers
 * written out here:
 *   GEMMs      m × (L × (3g + r) + 3 on the last stage)   L layers of the rank's stage, g GEMMs
 *              of a layer's forward (6 gelu, 7 swiglu, +1 router for MoE, +2(cp - 1) for the
 *              attention's cp blocks), r = g (full recompute), 2cp (selective: the attention
 *              core) or 0
 *   CP         a ring step per attention block but the last: K and V (their gradients
 *              backward) of 2·b·(s/cp)·(h·a_kv/a)/tp elements sent and received, cp - 1 times a
 *              layer forward, backward, and in recompute
 *   TP         4 allreduces of b·s·h·elem per layer per microbatch (6 with full recompute); with
 *              sequence parallelism each becomes an allgather + a reduce-scatter
 *   DP         Ψ = the stage's parameters × comm elem: allreduced (zero 0) in bucket_mb buckets,
 *              reduce-scattered + allgathered (ZeRO-1/2: 2Ψ at one microbatch), and allgathered
 *              twice + reduce-scattered (ZeRO-3: 3Ψ a microbatch); on the wire (× the busbw
 *              factor) these tend to the ZeRO paper's 2Ψ, 2Ψ and 3Ψ as dp grows
 *   PP         per microbatch, activations sent by every model chunk but the last stage's last
 *              and received by every one but the first stage's first, gradients the other way:
 *              m·(2v − [first stage] − [last stage]) sends and as many receives (v = 1 but
 *              with the interleaved schedule)
 *   schedule   1F1B: stage s runs min(pp − 1 − s, m) warm-up forwards, then one forward and one
 *              backward, then the remaining backwards; GPipe all forwards, then all backwards;
 *              interleaved as Megatron-LM orders it (test_interleaved)
 *   optimizer  one pass over the rank's (ZeRO-sharded) parameters, read + written bytes each
 * Cross-rank properties (matching sends and receives, identical collectives, no deadlock) are in
 * tests/unit/test_schedule.c.
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>

#include "tl_test.h"
#include "trainload/grid.h"
#include "trainload/metrics.h"
#include "trainload/plan.h"
#include "trainload/result.h"

typedef unsigned __int128 u128;

/* A resolved job on a world, its model and grid. */
struct world {
	struct ctx *c;
	struct tl_model model;
	struct tl_grid grid;
	uint64_t ranks;
};

/* Base model: l=4 h=64 a=4 s=32 V=128 b=2; then the settings (NULL-terminated). */
static void world_of(struct world *w, struct ctx *c, uint64_t ranks, const char *const *more)
{
	const char *list[32] = {"model.layers=4",      "model.hidden=64", "model.heads=4",
	                        "model.seq=32",        "model.vocab=128", "parallel.microbatch=2",
	                        "parallel.bucket_mb=1"};
	int n = 7;

	for (int i = 0; more[i]; i++)
		list[n++] = more[i];
	list[n] = NULL;
	resolved_job(c, ranks, list);
	if (tl_model_build(&w->model, &c->job, &c->diag)) {
		diag_dump(&c->diag);
		fail_msg("tl_model_build refused the job");
	}
	tl_grid_init(&w->grid, &c->job, ranks, 0);
	w->c = c;
	w->ranks = ranks;
}

static void plan_of(struct world *w, uint64_t rank, struct tl_plan *p)
{
	int rc = tl_plan_build(p, &w->c->job, &w->model, &w->grid, rank);
	if (rc)
		fail_msg("tl_plan_build failed for rank %" PRIu64 ": %d", rank, rc);
	assert_int_equal(p->rank, rank);
}

/* Sum of bytes (and count) of the ops of a kind over a group (-1: any). */
static uint64_t sum_bytes(const struct tl_plan *p, enum tl_op_kind kind, int group, uint64_t *count)
{
	uint64_t sum = 0, n = 0;

	for (size_t i = 0; i < p->count; i++) {
		const struct tl_op *op = &p->ops[i];
		if (op->kind == kind && (group < 0 || op->group == group)) {
			sum += op->bytes;
			n++;
		}
	}
	if (count)
		*count = n;
	return sum;
}

static u128 sum_gemm_flops(const struct tl_plan *p)
{
	u128 sum = 0;

	for (size_t i = 0; i < p->count; i++)
		if (p->ops[i].kind == TL_OP_GEMM)
			sum += tl_gemm_flops(&p->ops[i].gemm);
	return sum;
}

/* ------------------------------------------------------------------------------------------ */

struct row {
	const char *what;
	uint64_t ranks;
	const char *sets[10];
};

static const struct row rows[] = {
    {"default, 1 rank", 1, {NULL}},
    {"dp 4", 4, {"parallel.grad_accum=2", NULL}},
    {"swiglu f64", 2, {"model.mlp=swiglu", "run.compute_dtype=f64", NULL}},
    {"full recompute", 1, {"run.recompute=full", "parallel.grad_accum=3", NULL}},
    {"selective, swiglu", 2, {"run.recompute=selective", "model.mlp=swiglu", NULL}},
    {"tp 2", 2, {"parallel.tp=2", NULL}},
    {"tp 4 sp", 8, {"parallel.tp=4", "parallel.sequence_parallel=yes", NULL}},
    {"tp 2 sp full",
     4,
     {"parallel.tp=2", "parallel.sequence_parallel=yes", "run.recompute=full",
      "parallel.grad_accum=2", NULL}},
    {"pp 2", 2, {"parallel.pp=2", "parallel.grad_accum=4", NULL}},
    {"pp 4 gpipe", 8, {"parallel.pp=4", "parallel.schedule=gpipe", "parallel.grad_accum=3", NULL}},
    {"tp 2 pp 2 dp 2",
     8,
     {"parallel.tp=2", "parallel.pp=2", "parallel.grad_accum=2", "run.recompute=selective", NULL}},
    {"MoE ep 2", 4, {"model.experts=4", "parallel.ep=2", "parallel.grad_accum=2", NULL}},
    {"MoE swiglu every 2, tp 2",
     8,
     {"model.experts=4", "model.moe_every=2", "model.mlp=swiglu", "parallel.tp=2", "parallel.ep=2",
      "run.recompute=full", NULL}},
    {"zero 1", 4, {"parallel.zero=1", NULL}},
    {"zero 2 pp 2", 4, {"parallel.zero=2", "parallel.pp=2", "parallel.grad_accum=2", NULL}},
    {"zero 3 overlap no", 4, {"parallel.zero=3", "parallel.overlap=no", NULL}},
    {"overlap no", 4, {"parallel.overlap=no", "parallel.grad_accum=3", NULL}},
    {"cp 2", 2, {"parallel.cp=2", NULL}},
    {"cp 4 tp 2 sp selective",
     8,
     {"parallel.cp=4", "parallel.tp=2", "parallel.sequence_parallel=yes", "run.recompute=selective",
      NULL}},
    {"cp 2 pp 2 full zero 1",
     8,
     {"parallel.cp=2", "parallel.pp=2", "run.recompute=full", "parallel.zero=1",
      "parallel.grad_accum=2", NULL}},
    {"interleaved pp 2 v 2",
     2,
     {"parallel.pp=2", "parallel.schedule=interleaved", "parallel.virtual_stages=2",
      "parallel.grad_accum=4", NULL}},
    {"interleaved pp 2 v 2 tp 2 dp 2 sgd",
     8,
     {"parallel.pp=2", "parallel.schedule=interleaved", "parallel.virtual_stages=2",
      "parallel.grad_accum=2", "parallel.tp=2", "run.optimizer=sgd", NULL}},
    {"interleaved pp 4 v 1 cp 2 swiglu",
     8,
     {"parallel.pp=4", "parallel.schedule=interleaved", "parallel.grad_accum=8", "parallel.cp=2",
      "model.mlp=swiglu", NULL}},
};

/* The GEMMs of one layer's forward on this rank. */
static int layer_gemms(const struct tl_layer *L)
{
	return 4 + L->mlp_gemms;
}

static void check_counts(struct world *w, const struct tl_plan *p, const char *what)
{
	const struct tl_job *j = &w->c->job;
	const struct tl_model *m = &w->model;
	uint64_t stage = p->coords.pp, mbs = m->microbatches, L = m->layers_per_stage;
	bool last = stage == j->pp - 1, first = stage == 0;
	bool full = j->recompute == TL_RECOMPUTE_FULL, sel = j->recompute == TL_RECOMPUTE_SELECTIVE;
	uint64_t gemms = 0, tp_colls = 0, moe_layers = 0, cp = j->cp, v = m->chunks;

	for (uint64_t i = 0; i < L; i++) {
		const struct tl_layer *layer =
		    tl_model_layer(m, j, tl_model_stage_layer(m, j, stage, i));
		uint64_t g = (uint64_t)layer_gemms(layer) + 2 * (cp - 1);
		gemms += 3 * g + (full ? g : sel ? 2 * cp : 0);
		tp_colls += full ? 6 : 4;
		moe_layers += layer->moe;
	}
	gemms = mbs * (gemms + (last ? 3 : 0));
	tp_colls *= mbs;
	if (p->ops_per_kind[TL_OP_GEMM] != gemms)
		fail_msg("%s, rank %" PRIu64 ": %" PRIu64 " GEMMs, expected %" PRIu64, what,
		         p->rank, p->ops_per_kind[TL_OP_GEMM], gemms);
	assert_u128_equal(sum_gemm_flops(p), p->flops);

	/* tensor parallelism: b·s·h elements each */
	uint64_t n, bytes;
	if (j->tp > 1 && !j->sequence_parallel) {
		bytes = sum_bytes(p, TL_OP_ALLREDUCE, TL_GROUP_TP, &n);
		assert_int_equal(n, tp_colls);
		assert_int_equal(bytes, tp_colls * m->tokens * j->hidden * m->comm_elem_bytes);
		assert_int_equal(sum_bytes(p, TL_OP_ALLGATHER, TL_GROUP_TP, NULL), 0);
	} else if (j->tp > 1) {
		assert_int_equal(sum_bytes(p, TL_OP_ALLREDUCE, TL_GROUP_TP, &n), 0);
		bytes = sum_bytes(p, TL_OP_ALLGATHER, TL_GROUP_TP, &n);
		assert_int_equal(n, tp_colls);
		assert_int_equal(bytes, tp_colls * m->tokens * j->hidden * m->comm_elem_bytes);
		bytes = sum_bytes(p, TL_OP_REDUCE_SCATTER, TL_GROUP_TP, &n);
		assert_int_equal(n, tp_colls);
		assert_int_equal(bytes, tp_colls * m->tokens * j->hidden * m->comm_elem_bytes);
	}
	uint64_t tp_total = 0;
	for (size_t i = 0; i < p->count; i++)
		if (tl_op_is_comm(p->ops[i].kind) && p->ops[i].group == TL_GROUP_TP)
			tp_total += p->ops[i].bytes;
	assert_int_equal(p->comm_bytes[TL_GROUP_TP], tp_total);
	if (j->tp == 1)
		assert_int_equal(tp_total, 0);

	/* MoE: dispatch and combine alltoalls, forward and backward (and recompute) */
	if (j->ep > 1) {
		bytes = sum_bytes(p, TL_OP_ALLTOALL, TL_GROUP_EP, &n);
		assert_int_equal(n, mbs * moe_layers * (full ? 6 : 4));
		assert_int_equal(bytes, n * j->topk * m->tokens * j->hidden * m->comm_elem_bytes);
		assert_int_equal(p->comm_bytes[TL_GROUP_EP], bytes);
	} else {
		assert_int_equal(p->ops_per_kind[TL_OP_ALLTOALL], 0);
	}

	/* pipeline: one activation and one gradient per microbatch and chunk, each way */
	uint64_t msgs = j->pp > 1 ? mbs * (2 * v - first - last) : 0;
	uint64_t sends = sum_bytes(p, TL_OP_SEND, TL_GROUP_PP, &n);
	assert_int_equal(n, msgs);
	uint64_t recvs = sum_bytes(p, TL_OP_RECV, TL_GROUP_PP, &n);
	assert_int_equal(n, msgs);
	assert_int_equal(sends + recvs, 2 * msgs * m->pp_bytes);
	assert_int_equal(p->comm_bytes[TL_GROUP_PP], sends + recvs);
	assert_int_equal(m->pp_bytes, m->tokens * j->hidden * m->comm_elem_bytes /
	                                  (j->sequence_parallel ? j->tp : 1));

	/* context parallelism: the K and V ring, forward, backward and in recompute */
	uint64_t rings = L * mbs * (cp - 1) * (2 + (full || sel));
	uint64_t cp_sends = sum_bytes(p, TL_OP_SEND, TL_GROUP_CP, &n);
	assert_int_equal(n, rings);
	assert_int_equal(cp_sends, rings * m->cp_bytes);
	assert_int_equal(sum_bytes(p, TL_OP_RECV, TL_GROUP_CP, &n), cp_sends);
	assert_int_equal(n, rings);
	assert_int_equal(p->comm_bytes[TL_GROUP_CP], 2 * cp_sends);

	/* one optimizer pass over the rank's (sharded over dp·cp) parameters */
	uint64_t expert, params = tl_model_stage_params(m, j, stage, &expert);
	uint64_t edp = tl_grid_group_size(&w->grid, TL_GROUP_EDP), dp = j->dp * cp;
	uint64_t shard =
	    j->zero ? (params - expert + dp - 1) / dp + (expert + edp - 1) / edp : params;
	/* (test_model holds these to the stated bytes per parameter) */
	uint64_t per_param = m->optimizer_read_per_param + m->optimizer_written_per_param;
	assert_int_equal(p->ops_per_kind[TL_OP_OPTIMIZER], 1);
	assert_int_equal(sum_bytes(p, TL_OP_OPTIMIZER, -1, NULL), per_param * shard);
	assert_int_equal(p->mem_bytes[TL_MEM_OPTIMIZER], per_param * shard);

	/* the per-kind counts are the ops' */
	uint64_t kinds[TL_OP_KINDS] = {0};
	for (size_t i = 0; i < p->count; i++)
		kinds[p->ops[i].kind]++;
	for (int k = 0; k < TL_OP_KINDS; k++)
		assert_int_equal(p->ops_per_kind[k], kinds[k]);
	assert_int_equal(p->nsched, 2 * mbs * v);
}

static void test_op_counts(void **state)
{
	struct ctx *c = *state;

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		struct world w;
		u128 flops = 0;
		world_of(&w, c, rows[i].ranks, rows[i].sets);
		print_message("  %s: %" PRIu64 " ranks, %" PRIu64 " microbatches\n", rows[i].what,
		              w.ranks, w.model.microbatches);
		for (uint64_t r = 0; r < w.ranks; r++) {
			struct tl_plan p;
			plan_of(&w, r, &p);
			check_counts(&w, &p, rows[i].what);
			flops += p.flops;
			tl_plan_free(&p);
			assert_null(p.ops);
			assert_int_equal(p.count, 0);
		}
		/* the ranks together execute the model's hardware FLOPs (every size divides),
		 * and the MoE router once more on every further tp rank: it is replicated */
		u128 router = 0;
		if (c->job.experts) {
			const struct tl_gemm *g = &w.model.moe.mlp[0];
			u128 passes = c->job.recompute == TL_RECOMPUTE_FULL ? 4 : 3;
			assert_string_equal(g->name, "router");
			router = passes * tl_gemm_flops(g) * (c->job.layers / c->job.moe_every) *
			         (c->job.global_batch / c->job.microbatch);
		}
		assert_u128_equal(flops,
		                  w.model.hardware_flops_per_step + (c->job.tp - 1) * router);
	}
}

/* The model's forward GEMM of a name: the logits, or one of a layer's. */
static const struct tl_gemm *forward_of(const struct tl_model *m, const struct tl_op *op,
                                        const struct tl_job *job)
{
	if (op->layer < 0) {
		assert_string_equal(op->gemm.name, "logits");
		return &m->logits;
	}
	const struct tl_layer *L = tl_model_layer(m, job, (uint64_t)op->layer);
	for (int i = 0; i < 4; i++)
		if (!strcmp(op->gemm.name, L->attn[i].name))
			return &L->attn[i];
	for (int i = 0; i < L->mlp_gemms; i++)
		if (!strcmp(op->gemm.name, L->mlp[i].name))
			return &L->mlp[i];
	fail_msg("no forward GEMM named %s in layer %d", op->gemm.name, op->layer);
	return NULL;
}

static void test_backward_shapes(void **state)
{
	struct ctx *c = *state;

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		struct world w;
		struct tl_plan p;
		world_of(&w, c, rows[i].ranks, rows[i].sets);
		plan_of(&w, w.ranks - 1, &p);
		for (size_t k = 0; k < p.count; k++) {
			const struct tl_op *op = &p.ops[k];
			if (op->kind != TL_OP_GEMM)
				continue;
			const struct tl_gemm *f = forward_of(&w.model, op, &c->job);
			const struct tl_gemm *g = &op->gemm;
			assert_int_equal(g->batch, f->batch);
			switch (op->pass) {
			case TL_GEMM_FWD:
				/* forward (and recompute): the model's shape, no transposes */
				assert_true(g->m == f->m && g->n == f->n && g->k == f->k);
				assert_false(op->trans_a || op->trans_b);
				assert_true(op->phase == TL_PHASE_FORWARD ||
				            op->phase == TL_PHASE_RECOMPUTE);
				break;
			case TL_GEMM_GRAD_A: /* dA[m×k] = dC[m×n]·Bᵀ */
				assert_true(g->m == f->m && g->n == f->k && g->k == f->n);
				assert_true(!op->trans_a && op->trans_b);
				assert_int_equal(op->phase, TL_PHASE_BACKWARD);
				break;
			case TL_GEMM_GRAD_B: /* dB[k×n] = Aᵀ·dC[m×n] */
				assert_true(g->m == f->k && g->n == f->n && g->k == f->m);
				assert_true(op->trans_a && !op->trans_b);
				assert_int_equal(op->phase, TL_PHASE_BACKWARD);
				break;
			}
			/* each backward GEMM costs what its forward GEMM costs */
			assert_u128_equal(tl_gemm_flops(g), tl_gemm_flops(f));
			/* recompute runs only the attention core when selective */
			if (op->phase == TL_PHASE_RECOMPUTE &&
			    c->job.recompute == TL_RECOMPUTE_SELECTIVE)
				assert_true(op->gemm.attn_core);
		}
		tl_plan_free(&p);
	}
}

/* Layers run in order forward and in reverse backward; recompute comes just before a layer's
 * backward; nothing of a layer outside the rank's stage. */
static void test_layer_order(void **state)
{
	struct ctx *c = *state;

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		struct world w;
		world_of(&w, c, rows[i].ranks, rows[i].sets);
		for (uint64_t r = 0; r < w.ranks; r++) {
			struct tl_plan p;
			plan_of(&w, r, &p);
			/* the stage's layers: layers_per_stage in a row, or with the interleaved
			 * schedule chunks of layers_per_stage / v, pp·layers_per_stage / v apart */
			uint64_t per_chunk = w.model.layers_per_stage / w.model.chunks;
			int prev_layer = -2, prev_mb = -2;
			enum tl_phase prev_phase = TL_PHASE_OPTIMIZER;
			for (size_t k = 0; k < p.count; k++) {
				const struct tl_op *op = &p.ops[k];
				if (op->kind != TL_OP_GEMM || op->layer < 0)
					continue;
				assert_int_equal((uint64_t)op->layer / per_chunk % c->job.pp,
				                 p.coords.pp);
				assert_true(op->microbatch >= 0 &&
				            (uint64_t)op->microbatch < w.model.microbatches);
				bool same = op->microbatch == prev_mb;
				if (op->phase == TL_PHASE_FORWARD && same &&
				    prev_phase == TL_PHASE_FORWARD)
					assert_true(op->layer >= prev_layer);
				if (op->phase == TL_PHASE_BACKWARD && same &&
				    prev_phase != TL_PHASE_FORWARD)
					assert_true(op->layer <= prev_layer);
				if (op->phase == TL_PHASE_RECOMPUTE && same &&
				    prev_phase != TL_PHASE_FORWARD)
					assert_true(op->layer < prev_layer ||
					            (op->layer == prev_layer &&
					             prev_phase == TL_PHASE_RECOMPUTE));
				prev_layer = op->layer;
				prev_mb = op->microbatch;
				prev_phase = op->phase;
			}
			tl_plan_free(&p);
		}
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Data parallelism: Ψ, its buckets, ZeRO.                                                       */

/* Bytes over dp and edp of a kind, in a phase (-1: any). */
static uint64_t dp_bytes(const struct tl_plan *p, enum tl_op_kind kind, int phase)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < p->count; i++) {
		const struct tl_op *op = &p->ops[i];
		if (op->kind == kind && (op->group == TL_GROUP_DP || op->group == TL_GROUP_EDP) &&
		    (phase < 0 || (int)op->phase == phase))
			sum += op->bytes;
	}
	return sum;
}

/* What the dp group's ops put on the wire: payload × nccl-tests' busbw factor. */
static double dp_wire(const struct tl_plan *p, const struct tl_grid *g)
{
	double sum = 0;

	for (size_t i = 0; i < p->count; i++) {
		const struct tl_op *op = &p->ops[i];
		if (tl_op_is_comm(op->kind) &&
		    (op->group == TL_GROUP_DP || op->group == TL_GROUP_EDP))
			sum += (double)op->bytes *
			       tl_busbw_factor(op->kind, tl_grid_group_size(g, op->group));
	}
	return sum;
}

static void test_dp_payload(void **state)
{
	struct ctx *c = *state;
	static const uint64_t dps[] = {2, 4, 8, 64, 1024};
	static const char *const dtypes[] = {"run.compute_dtype=f32", "run.compute_dtype=f64"};

	for (uint64_t zero = 0; zero <= 3; zero++)
		for (uint64_t accum = 1; accum <= 3; accum++)
			for (size_t d = 0; d < ARRAY_LEN(dps); d++)
				for (size_t e = 0; e < ARRAY_LEN(dtypes); e++) {
					char z[64], a[64];
					struct world w;
					struct tl_plan p;
					uint64_t n = dps[d];
					snprintf(z, 64, "parallel.zero=%" PRIu64, zero);
					snprintf(a, 64, "parallel.grad_accum=%" PRIu64, accum);
					world_of(&w, c, n,
					         (const char *const[]){z, a, dtypes[e], NULL});
					plan_of(&w, n - 1, &p);
					uint64_t psi =
					    w.model.params_per_rank * w.model.comm_elem_bytes;
					uint64_t ar = dp_bytes(&p, TL_OP_ALLREDUCE, -1);
					uint64_t rs = dp_bytes(&p, TL_OP_REDUCE_SCATTER, -1);
					uint64_t ag = dp_bytes(&p, TL_OP_ALLGATHER, -1);
					/* payloads */
					uint64_t want_ar = zero == 0 ? psi : 0;
					uint64_t want_rs = zero == 0   ? 0
					                   : zero == 1 ? psi
					                               : accum * psi;
					uint64_t want_ag = zero == 0   ? 0
					                   : zero <= 2 ? psi
					                               : 2 * accum * psi;
					if (ar != want_ar || rs != want_rs || ag != want_ag)
						fail_msg("zero %" PRIu64 " accum %" PRIu64
						         " dp %" PRIu64 ": allreduce %" PRIu64
						         " reduce-scatter %" PRIu64
						         " allgather %" PRIu64
						         " bytes, expected %" PRIu64 " %" PRIu64
						         " %" PRIu64 " (psi %" PRIu64 ")",
						         zero, accum, n, ar, rs, ag, want_ar,
						         want_rs, want_ag, psi);
					assert_int_equal(p.comm_bytes[TL_GROUP_DP], ar + rs + ag);
					/* the wire: 2Ψ (dp, ZeRO-1/2), 3Ψ (ZeRO-3) at one
					 * microbatch, times (n − 1)/n */
					if (accum == 1) {
						double k = zero == 3 ? 3 : 2,
						       wire = dp_wire(&p, &w.grid);
						double want =
						    k * (double)psi * (double)(n - 1) / (double)n;
						assert_true(fabs(wire - want) <= 1e-9 * want);
						/* → kΨ as n grows: within kΨ/n */
						assert_true(fabs(wire / (double)psi - k) <=
						            k / (double)n + 1e-12);
					}
					tl_plan_free(&p);
				}
}

/* Expert gradients reduce over the expert-data-parallel group, the rest over dp. */
static void test_dp_payload_moe(void **state)
{
	struct ctx *c = *state;

	/* ep 4 of 4 experts: one local expert, a GEMM of batch 1, still reduced over edp */
	for (uint64_t zero = 0; zero <= 7; zero++) {
		char z[64], ep[64];
		struct world w;
		snprintf(z, 64, "parallel.zero=%" PRIu64, zero % 4);
		snprintf(ep, 64, "parallel.ep=%d", zero < 4 ? 2 : 4);
		world_of(&w, c, zero < 4 ? 8 : 16,
		         (const char *const[]){"model.experts=4", ep, "parallel.pp=2", z, NULL});
		for (uint64_t r = 0; r < w.ranks; r++) {
			struct tl_plan p;
			uint64_t expert, params;
			plan_of(&w, r, &p);
			params = tl_model_stage_params(&w.model, &c->job, p.coords.pp, &expert);
			assert_true(expert > 0 && expert < params);
			uint64_t e = w.model.comm_elem_bytes, edp = 0, dp = 0;
			for (size_t k = 0; k < p.count; k++) {
				const struct tl_op *op = &p.ops[k];
				if (!tl_op_is_comm(op->kind) || op->kind == TL_OP_ALLGATHER)
					continue;
				if (op->group == TL_GROUP_EDP)
					edp += op->bytes;
				if (op->group == TL_GROUP_DP)
					dp += op->bytes;
			}
			/* gradients once (one microbatch), whatever the stage */
			assert_int_equal(edp, expert * e);
			assert_int_equal(dp, (params - expert) * e);
			tl_plan_free(&p);
		}
	}
}

/* The grad-sync collectives of a plan (dp and edp), in order. */
static size_t grad_syncs(const struct tl_plan *p, size_t *idx, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < p->count && n < cap; i++) {
		const struct tl_op *op = &p->ops[i];
		if (op->phase == TL_PHASE_GRAD_SYNC && tl_op_is_comm(op->kind))
			idx[n++] = i;
	}
	return n;
}

/* Every started op has exactly one later wait with its request, before the optimizer. */
static void check_waits(const struct tl_plan *p, const char *what)
{
	size_t opt = p->count;

	for (size_t i = 0; i < p->count; i++)
		if (p->ops[i].kind == TL_OP_OPTIMIZER)
			opt = i;
	assert_true(opt < p->count);
	int started = 0;
	for (size_t i = 0; i < p->count; i++) {
		const struct tl_op *op = &p->ops[i];
		if (op->kind == TL_OP_WAIT) {
			assert_false(op->nonblocking);
			continue;
		}
		if (!op->nonblocking)
			continue;
		started++;
		assert_true(op->req >= 0 && op->req < p->reqs);
		int waits = 0;
		size_t at = 0;
		for (size_t k = 0; k < p->count; k++) {
			if (p->ops[k].kind == TL_OP_WAIT && p->ops[k].req == op->req) {
				waits++;
				at = k;
			} else if (k != i && p->ops[k].nonblocking && p->ops[k].req == op->req) {
				fail_msg("%s: request %d started twice", what, op->req);
			}
		}
		if (waits != 1 || at < i || at > opt)
			fail_msg("%s, rank %" PRIu64 ": op %zu (%s) with request %d: %d waits, the "
			         "last at %zu (optimizer at %zu)",
			         what, p->rank, i, tl_op_kind_name(op->kind), op->req, waits, at,
			         opt);
	}
	assert_int_equal(started, p->reqs);
	/* waits are for started requests only */
	for (size_t i = 0; i < p->count; i++)
		if (p->ops[i].kind == TL_OP_WAIT)
			assert_true(p->ops[i].req >= 0 && p->ops[i].req < p->reqs);
}

static void test_buckets(void **state)
{
	struct ctx *c = *state;
	static const struct {
		const char *overlap;
		uint64_t bucket_mb, zero, accum, pp;
		const char *policy;
	} cases[] = {
	    {"yes", 1, 0, 1, 1, "megatron"}, {"yes", 1, 0, 3, 1, "megatron"},
	    {"yes", 2, 0, 2, 2, "megatron"}, {"yes", 25, 0, 1, 1, "megatron"},
	    {"yes", 1, 1, 2, 1, "megatron"}, {"yes", 1, 2, 2, 1, "megatron"},
	    {"no", 1, 0, 1, 1, "megatron"},  {"no", 1, 0, 3, 2, "megatron"},
	    {"no", 1, 1, 1, 1, "megatron"},  {"no", 1, 2, 3, 1, "megatron"},
	    {"no", 3, 0, 2, 1, "megatron"},  {"yes", 2, 0, 1, 1, "ddp"},
	    {"yes", 2, 0, 3, 2, "ddp"},      {"no", 3, 1, 2, 1, "ddp"},
	    {"yes", 2, 2, 2, 1, "ddp"},
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char sets[6][64];
		struct world w;
		bool overlap = !strcmp(cases[i].overlap, "yes");
		bool ddp = !strcmp(cases[i].policy, "ddp");
		snprintf(sets[0], 64, "parallel.overlap=%s", cases[i].overlap);
		snprintf(sets[1], 64, "parallel.bucket_mb=%" PRIu64, cases[i].bucket_mb);
		snprintf(sets[2], 64, "parallel.zero=%" PRIu64, cases[i].zero);
		snprintf(sets[3], 64, "parallel.grad_accum=%" PRIu64, cases[i].accum);
		snprintf(sets[4], 64, "parallel.pp=%" PRIu64, cases[i].pp);
		snprintf(sets[5], 64, "parallel.bucket_policy=%s", cases[i].policy);
		/* h = 256: 3.2 MB of f32 gradients a layer, several buckets of 1 MiB */
		world_of(&w, c, 4 * cases[i].pp,
		         (const char *const[]){sets[0], sets[1], sets[2], sets[3], sets[4], sets[5],
		                               "model.hidden=256", "model.vocab=1024", NULL});
		for (uint64_t r = 0; r < w.ranks; r += 3) {
			struct tl_plan p;
			size_t idx[512];
			char what[160];
			plan_of(&w, r, &p);
			snprintf(what, sizeof(what),
			         "case %zu (overlap %s, %" PRIu64 " MiB %s, zero %" PRIu64
			         ", m %" PRIu64 ", pp %" PRIu64 ")",
			         i, cases[i].overlap, cases[i].bucket_mb, cases[i].policy,
			         cases[i].zero, cases[i].accum, cases[i].pp);
			check_waits(&p, what);
			size_t n = grad_syncs(&p, idx, ARRAY_LEN(idx));
			uint64_t B = cases[i].bucket_mb << 20, e = w.model.comm_elem_bytes;
			uint64_t psi =
			    tl_model_stage_params(&w.model, &c->job, p.coords.pp, NULL) * e;
			/* the largest chunk backward produces at once: a layer, the head or the
			 * embeddings */
			uint64_t chunk = w.model.dense.params_rank;
			if (w.model.embed_params_rank > chunk)
				chunk = w.model.embed_params_rank;
			if (w.model.head_params_rank > chunk)
				chunk = w.model.head_params_rank;
			chunk *= e;
			uint64_t syncs = cases[i].zero >= 2 ? cases[i].accum : 1;
			/* per synchronising microbatch: buckets tile Ψ, each but the last at least
			 * bucket_mb and less than bucket_mb + a chunk (with ddp, the first at least
			 * 1 MiB): about Ψ / bucket_mb of them */
			assert_int_equal(n % syncs, 0);
			size_t per = n / syncs;
			assert_true(per >= 1);
			for (uint64_t s = 0; s < syncs; s++) {
				uint64_t sum = 0, offset = 0;
				int prev_layer = INT32_MAX;
				for (size_t b = 0; b < per; b++) {
					const struct tl_op *op = &p.ops[idx[s * per + b]];
					assert_int_equal(op->kind, cases[i].zero
					                               ? TL_OP_REDUCE_SCATTER
					                               : TL_OP_ALLREDUCE);
					assert_int_equal(op->group, TL_GROUP_DP);
					assert_int_equal(op->offset, offset);
					offset += op->bytes;
					sum += op->bytes;
					uint64_t limit =
					    ddp && b == 0 ? TL_DDP_FIRST_BUCKET_BYTES : B;
					if (b + 1 < per)
						assert_true(op->bytes >= limit);
					assert_true(op->bytes > 0 && op->bytes < limit + chunk);
					assert_int_equal(op->nonblocking, overlap);
					/* reverse layer order: the last layer backward finished
					 * before each bucket does not go up */
					int layer = -1;
					for (size_t k = idx[s * per + b]; k-- > 0;)
						if (p.ops[k].kind == TL_OP_GEMM &&
						    p.ops[k].phase == TL_PHASE_BACKWARD) {
							/* the logits' backward comes first */
							layer = p.ops[k].layer < 0 ? INT32_MAX - 1
							                           : p.ops[k].layer;
							break;
						}
					if (overlap)
						assert_true(layer <= prev_layer);
					prev_layer = layer;
				}
				assert_int_equal(sum, psi);
				uint64_t ceil = (psi + B - 1) / B + ddp;
				assert_true(per <= ceil && per >= psi / (B + chunk));
			}
			/* overlap: the first bucket goes while backward still runs; without it,
			 * every bucket goes once its microbatch's backward is done */
			size_t first = idx[0], last_bwd = 0;
			int first_mb = -1;
			for (size_t k = 0; k < first; k++)
				if (p.ops[k].phase == TL_PHASE_BACKWARD &&
				    p.ops[k].kind == TL_OP_GEMM)
					first_mb = p.ops[k].microbatch;
			for (size_t k = 0; k < p.count; k++)
				if (p.ops[k].phase == TL_PHASE_BACKWARD &&
				    p.ops[k].kind == TL_OP_GEMM && p.ops[k].microbatch == first_mb)
					last_bwd = k;
			if (overlap && per > 1)
				assert_true(first < last_bwd);
			if (!overlap)
				assert_true(first > last_bwd);
			if (!overlap)
				assert_int_equal(p.ops_per_kind[TL_OP_WAIT],
				                 (p.ops_per_kind[TL_OP_SEND]));
			tl_plan_free(&p);
		}
	}
}

/* ------------------------------------------------------------------------------------------ */
/* The schedule.                                                                               */

/* The F/B blocks of a plan's ops, in order: a GEMM's microbatch and direction. */
static size_t op_blocks(const struct tl_plan *p, struct tl_sched *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < p->count; i++) {
		const struct tl_op *op = &p->ops[i];
		if (op->kind != TL_OP_GEMM)
			continue;
		char dir = op->phase == TL_PHASE_FORWARD ? 'F' : 'B';
		if (n && out[n - 1].dir == dir && out[n - 1].microbatch == op->microbatch)
			continue;
		assert_true(n < cap);
		out[n++] = (struct tl_sched){dir, op->microbatch, 0};
	}
	return n;
}

static void test_schedule_order(void **state)
{
	struct ctx *c = *state;
	static const char *const scheds[] = {"1f1b", "gpipe"};

	for (uint64_t pp = 1; pp <= 4; pp *= 2)
		for (uint64_t m = 1; m <= 6; m++)
			for (size_t s = 0; s < ARRAY_LEN(scheds); s++) {
				char a[64], b[64], d[64];
				struct world w;
				snprintf(a, 64, "parallel.pp=%" PRIu64, pp);
				snprintf(b, 64, "parallel.grad_accum=%" PRIu64, m);
				snprintf(d, 64, "parallel.schedule=%s", scheds[s]);
				world_of(&w, c, pp, (const char *const[]){a, b, d, NULL});
				for (uint64_t st = 0; st < pp; st++) {
					struct tl_plan p;
					struct tl_sched want[16], got[32];
					size_t n = 0;
					plan_of(&w, st, &p);
					assert_int_equal(p.coords.pp, st);
					if (s == 0) {
						uint64_t warm = pp - 1 - st < m ? pp - 1 - st : m;
						for (uint64_t i = 0; i < warm; i++)
							want[n++] =
							    (struct tl_sched){'F', (int)i, 0};
						for (uint64_t i = 0; i < m - warm; i++) {
							want[n++] = (struct tl_sched){
							    'F', (int)(warm + i), 0};
							want[n++] =
							    (struct tl_sched){'B', (int)i, 0};
						}
						for (uint64_t i = m - warm; i < m; i++)
							want[n++] =
							    (struct tl_sched){'B', (int)i, 0};
					} else {
						for (uint64_t i = 0; i < m; i++)
							want[n++] =
							    (struct tl_sched){'F', (int)i, 0};
						for (uint64_t i = 0; i < m; i++)
							want[n++] =
							    (struct tl_sched){'B', (int)i, 0};
					}
					assert_int_equal(p.nsched, n);
					for (size_t i = 0; i < n; i++)
						if (p.sched[i].dir != want[i].dir ||
						    p.sched[i].microbatch != want[i].microbatch)
							fail_msg(
							    "%s pp %" PRIu64 " m %" PRIu64
							    " stage %" PRIu64 ": entry %zu is %c%d,"
							    " expected %c%d",
							    scheds[s], pp, m, st, i, p.sched[i].dir,
							    p.sched[i].microbatch, want[i].dir,
							    want[i].microbatch);
					/* the ops run in that order */
					assert_int_equal(op_blocks(&p, got, ARRAY_LEN(got)), n);
					for (size_t i = 0; i < n; i++)
						assert_true(got[i].dir == want[i].dir &&
						            got[i].microbatch ==
						                want[i].microbatch);
					tl_plan_free(&p);
				}
			}
}

/* Pipeline sends and receives: tags 2·mb (activations) and 2·mb + 1 (gradients), the
 * neighbouring stages' ranks, sends started and waited, receives blocking. */
static void test_p2p(void **state)
{
	struct ctx *c = *state;
	struct world w;

	world_of(&w, c, 16,
	         (const char *const[]){"parallel.tp=2", "parallel.pp=4", "parallel.grad_accum=3",
	                               "parallel.sequence_parallel=yes", NULL});
	uint64_t stride = 2 * 2; /* tp · dp */
	for (uint64_t r = 0; r < 16; r++) {
		struct tl_plan p;
		plan_of(&w, r, &p);
		uint64_t stage = p.coords.pp;
		for (size_t k = 0; k < p.count; k++) {
			const struct tl_op *op = &p.ops[k];
			if (op->kind != TL_OP_SEND && op->kind != TL_OP_RECV)
				continue;
			bool grad = op->tag % 2;
			assert_int_equal(op->tag, 2 * op->microbatch + grad);
			assert_int_equal(op->group, TL_GROUP_PP);
			assert_int_equal(op->bytes, w.model.pp_bytes);
			int64_t up = (int64_t)(r + stride), down = (int64_t)r - (int64_t)stride;
			/* activations go up the pipeline, gradients down */
			if (op->kind == TL_OP_SEND) {
				assert_true(op->nonblocking);
				assert_int_equal(op->peer, grad ? down : up);
			} else {
				assert_false(op->nonblocking);
				assert_int_equal(op->peer, grad ? up : down);
			}
			assert_true(op->peer >= 0 && op->peer < 16);
			assert_int_equal(op->phase, grad ? TL_PHASE_BACKWARD : TL_PHASE_FORWARD);
		}
		if (stage == 0)
			assert_int_equal(sum_bytes(&p, TL_OP_RECV, -1, NULL), 3 * w.model.pp_bytes);
		check_waits(&p, "tp 2 pp 4 sp");
		tl_plan_free(&p);
	}
}

/* The plan's part of a result document: bubble (pp − 1)/m, ops and bytes as the plan has them. */
static void test_plan_json(void **state)
{
	struct ctx *c = *state;
	static const struct {
		uint64_t pp, m;
	} cases[] = {{1, 1}, {2, 4}, {4, 3}, {4, 8}, {2, 1}};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		char a[64], b[64];
		struct world w;
		struct tl_plan p;
		snprintf(a, 64, "parallel.pp=%" PRIu64, cases[i].pp);
		snprintf(b, 64, "parallel.grad_accum=%" PRIu64, cases[i].m);
		world_of(&w, c, 2 * cases[i].pp,
		         (const char *const[]){a, b, "parallel.zero=1", NULL});
		plan_of(&w, 2 * cases[i].pp - 1, &p);
		json_t *j = tl_plan_json(&c->job, &w.model, &p);
		double bubble = json_real_value(json_object_get(j, "bubble_fraction"));
		assert_true(fabs(bubble - (double)(cases[i].pp - 1) / (double)cases[i].m) < 1e-15);
		assert_int_equal(json_integer_value(json_object_get(j, "microbatches")),
		                 cases[i].m);
		assert_int_equal(json_integer_value(json_object_get(j, "rank")), p.rank);
		json_t *ops = json_object_get(j, "ops_per_step");
		for (int k = 0; k < TL_OP_KINDS; k++) {
			json_t *v = json_object_get(ops, tl_op_kind_name(k));
			if (k == TL_OP_WAIT) {
				assert_null(v); /* not a kind of work */
				continue;
			}
			assert_int_equal(json_integer_value(v), p.ops_per_kind[k]);
		}
		json_t *bytes = json_object_get(j, "comm_bytes_per_step");
		static const int groups[] = {TL_GROUP_TP, TL_GROUP_PP, TL_GROUP_DP, TL_GROUP_EP,
		                             TL_GROUP_CP};
		for (size_t g = 0; g < ARRAY_LEN(groups); g++)
			assert_int_equal(json_integer_value(
			                     json_object_get(bytes, tl_grid_group_name(groups[g]))),
			                 p.comm_bytes[groups[g]]);
		json_decref(j);
		tl_plan_free(&p);
	}
}

/* A plan is O(layers × microbatches), whatever the world: the last rank of 2^20. */
static void test_large_world(void **state)
{
	struct ctx *c = *state;
	struct world w;
	struct tl_plan p;

	world_of(&w, c, UINT64_C(1) << 20,
	         (const char *const[]){"parallel.tp=4", "parallel.pp=4", "model.experts=4",
	                               "parallel.ep=4", "parallel.zero=1", NULL});
	plan_of(&w, (UINT64_C(1) << 20) - 1, &p);
	assert_int_equal(p.coords.pp, 3);
	assert_int_equal(p.coords.dp, (UINT64_C(1) << 16) - 1);
	assert_true(p.count < 1000);
	tl_plan_free(&p);
}

static void test_names(void **state)
{
	(void)state;
	/* The op kinds' names, and which communicate: tests/unit/test_coll.c. */
	assert_string_equal(tl_phase_name(TL_PHASE_FORWARD), "forward");
	assert_string_equal(tl_phase_name(TL_PHASE_BACKWARD), "backward");
	assert_string_equal(tl_phase_name(TL_PHASE_RECOMPUTE), "recompute");
	assert_string_equal(tl_phase_name(TL_PHASE_GRAD_SYNC), "grad_sync");
	assert_string_equal(tl_phase_name(TL_PHASE_OPTIMIZER), "optimizer");
	assert_string_equal(tl_phase_name(TL_PHASE_SWEEP), "sweep");
}

/*
 * ZeRO-3 with overlap = no: every gradient reduction is blocking, as every other one is
 * (DESIGN.md §4: overlapped "when overlap = yes").
 */
static void test_zero3_overlap_no(void **state)
{
	struct ctx *c = *state;
	struct world w;
	struct tl_plan p;

	world_of(&w, c, 4, (const char *const[]){"parallel.zero=3", "parallel.overlap=no", NULL});
	plan_of(&w, 0, &p);
	int started = 0, reductions = 0;
	for (size_t i = 0; i < p.count; i++) {
		started += p.ops[i].phase == TL_PHASE_GRAD_SYNC && p.ops[i].nonblocking;
		reductions += p.ops[i].kind == TL_OP_REDUCE_SCATTER;
	}
	tl_plan_free(&p);
	assert_true(reductions > 0);
	if (started)
		fail_msg("overlap = no, but %d gradient reductions are started non-blocking",
		         started);
}

/*
 * Buckets fill tensor by tensor, as Megatron's and DDP's do, and close once they hold
 * bucket_mb; a tensor larger than that is a bucket of its own. h = 2048 at f32 with 2 layers:
 * every weight (QKV 50 MB, out 17 MB, MLP 67 MB each) and the head and embedding (67 MB each)
 * exceed 10 MiB, so each closes a bucket (with the small biases and norms before it): 2 x 4 + 2
 * = 10, together the rank's gradient bytes.
 */
static void test_bucket_per_tensor(void **state)
{
	struct ctx *c = *state;
	struct world w;
	struct tl_plan p;

	world_of(&w, c, 2,
	         (const char *const[]){"model.hidden=2048", "model.heads=16", "model.layers=2",
	                               "model.vocab=8192", "model.seq=256",
	                               "parallel.bucket_mb=10", NULL});
	plan_of(&w, 0, &p);
	uint64_t B = 10 << 20, n = 0, sum = 0, below = 0;
	for (size_t i = 0; i < p.count; i++) {
		if (p.ops[i].phase != TL_PHASE_GRAD_SYNC || p.ops[i].kind != TL_OP_ALLREDUCE)
			continue;
		n++;
		sum += p.ops[i].bytes;
		below += p.ops[i].bytes < B;
	}
	tl_plan_free(&p);
	assert_int_equal(n, 10);
	assert_int_equal(sum, w.model.params_per_rank * w.model.comm_elem_bytes);
	assert_int_equal(below, 0);
}

/* The bytes of the data-parallel gradient buckets of a plan, in order. */
static size_t bucket_bytes(const struct tl_plan *p, uint64_t *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < p->count; i++) {
		const struct tl_op *op = &p->ops[i];
		if (op->phase == TL_PHASE_GRAD_SYNC && tl_op_is_comm(op->kind) && op->layer < 0 &&
		    op->microbatch < 0) {
			assert_true(n < cap);
			out[n++] = op->bytes;
		}
	}
	return n;
}

/*
 * The buckets of the default job and of jobs/cpu-swiglu.job on 2 ranks (f32, bucket_mb = 25),
 * as Megatron-LM's DistributedDataParallel and PyTorch 1.13's DDP make them, derived by hand.
 *
 * The rules. Megatron (core/distributed/param_and_grad_buffer.py): parameters in reverse order of
 * registration (params[::-1]: output layer, final norm, the layers from the last, each's fc2,
 * fc1, pre-MLP norm, attention projection, QKV, input norm, a bias before its weight, then the
 * position and word embeddings); a bucket closes once it holds at least bucket_size, the
 * parameter that reaches it included. DDP (torch/csrc/distributed/c10d/reducer.cpp): from the
 * second iteration on, buckets are rebuilt (rebuild_buckets) in the order autograd produced the
 * gradients in the first (for these models the same order: a Linear's bias is accumulated
 * before the transposed weight's gradient), and compute_bucket_assignment_by_size closes a
 * bucket once bucket.size >= its limit, the limit being _DEFAULT_FIRST_BUCKET_BYTES (1 MiB) for
 * the first bucket and bucket_cap_mb * 1024 * 1024 (25 MiB = 26,214,400 B) after.
 *
 * The default job (GPT-style, l 4, h 256, f 1024, s 256, V 8192, untied): a layer is QKV 196,608
 * + 768, out 65,536 + 256, fc1 262,144 + 1,024, fc2 262,144 + 256 and two LayerNorms of 512:
 * 789,760 parameters, 3,159,040 B. Output layer 2,097,152 (8,388,608 B), final norm 512
 * (2,048 B), word embedding 8,388,608 B, positions 65,536 (262,144 B): 29,677,568 B in all.
 *   megatron  8,388,608 + 2,048 + 4 × 3,159,040 + 262,144 = 21,288,960 < 26,214,400, and the
 *             word embedding takes it to 29,677,568: one bucket, after backward
 *   ddp       the output layer alone reaches 1 MiB: 8,388,608; the rest, 21,288,960, stays
 *             below 25 MiB and goes when backward ends
 * jobs/cpu-swiglu.job (Llama-style, l 4, h 512, 8 heads of 64, 2 kv heads, f 1536, V 8192,
 * untied, no biases, RMSNorm): a layer is QKV 512 × 768 (1,572,864 B), out 1,048,576 B, gate, up
 * and down 3,145,728 B each, two norms of 2,048 B: 12,062,720 B. Output layer and word embedding
 * 16,777,216 B each, final norm 2,048 B: 81,807,360 B.
 *   megatron  16,777,216 + 2,048, layer 3's down, up and gate: 26,216,448 ≥ 26,214,400 (bucket
 *             1); its norm, out, QKV and norm (2,625,536), layer 2 (14,688,256), layer 1's down,
 *             up, gate, norm, out and QKV: 26,748,928 (bucket 2); layer 1's input norm, layer 0
 *             and the embedding: 2,048 + 12,062,720 + 16,777,216 = 28,841,984 (bucket 3)
 *   ddp       the output layer reaches 1 MiB: 16,777,216; then the final norm, layers 3 and 2
 *             (24,127,488) and layer 1's down: 27,273,216; the rest: 37,756,928
 */
static void test_bucket_sizes(void **state)
{
	struct ctx *c = *state;
	static const struct {
		const char *file, *policy;
		size_t n;
		uint64_t bytes[3];
	} frameworks[] = {
	    {"default", "megatron", 1, {29677568}},
	    {"default", "ddp", 2, {8388608, 21288960}},
	    {"cpu-swiglu", "megatron", 3, {26216448, 26748928, 28841984}},
	    {"cpu-swiglu", "ddp", 3, {16777216, 27273216, 37756928}},
	};

	for (size_t i = 0; i < ARRAY_LEN(frameworks); i++) {
		char path[512], set[64];
		struct tl_model model;
		struct tl_grid grid;
		struct tl_plan p;
		uint64_t got[16];
		ctx_reset(c);
		snprintf(path, sizeof(path), "%s/%s.job", TL_TEST_JOBS_DIR, frameworks[i].file);
		snprintf(set, sizeof(set), "parallel.bucket_policy=%s", frameworks[i].policy);
		assert_int_equal(tl_job_parse_file(&c->job, path, &c->diag), 0);
		assert_int_equal(tl_job_set(&c->job, set, &c->diag), 0);
		assert_int_equal(tl_job_resolve(&c->job, 2, &c->diag), 0);
		assert_int_equal(tl_model_build(&model, &c->job, &c->diag), 0);
		tl_grid_init(&grid, &c->job, 2, 0);
		assert_int_equal(tl_plan_build(&p, &c->job, &model, &grid, 0), 0);
		size_t n = bucket_bytes(&p, got, ARRAY_LEN(got));
		bool same = n == frameworks[i].n;
		for (size_t k = 0; k < n && same; k++)
			same = got[k] == frameworks[i].bytes[k];
		if (!same) {
			for (size_t k = 0; k < n; k++)
				print_message("  bucket %zu: %" PRIu64 " bytes\n", k, got[k]);
			fail_msg("%s, %s: %zu buckets, not the %zu DDP/Megatron make",
			         frameworks[i].file, frameworks[i].policy, n, frameworks[i].n);
		}
		/* the first goes while backward still runs when there are more */
		size_t first = 0, last_gemm = 0;
		for (size_t k = 0; k < p.count; k++) {
			if (p.ops[k].kind == TL_OP_GEMM)
				last_gemm = k;
			if (!first && p.ops[k].phase == TL_PHASE_GRAD_SYNC)
				first = k;
		}
		assert_true(n == 1 ? first > last_gemm : first < last_gemm);
		tl_plan_free(&p);
	}
}

/*
 * Context parallelism (Megatron's ring attention): per layer and microbatch, cp − 1 ring steps
 * forward, each sending K and V of the rank's tokens, 2·b·(s/cp)·(h·a_kv/a)/tp·bytes, to the next
 * rank of the cp group and receiving as much from the previous, started before an attention
 * block and waited after it; the same back for their gradients. The attention FLOPs of a rank
 * are 1/cp of the layer's (the full s² product, as Megatron counts them: causal masking is not
 * taken off). Gradients reduce over the dp·cp ranks.
 */
static void test_cp_plan(void **state)
{
	struct ctx *c = *state;
	struct world w;

	/* b 2, s 32, h 64, a 4, kv 2, tp 2, cp 4, dp 2: 16 ranks */
	world_of(&w, c, 16,
	         (const char *const[]){"parallel.cp=4", "parallel.tp=2", "model.kv_heads=2",
	                               "model.mlp=swiglu", NULL});
	uint64_t b = 2, s = 32, h = 64, a = 4, kv = 2, tp = 2, cp = 4, bytes = 4;
	uint64_t step = 2 * b * (s / cp) * (h * kv / a) / tp * bytes;
	for (uint64_t r = 0; r < 16; r++) {
		struct tl_plan p;
		plan_of(&w, r, &p);
		for (int layer = 0; layer < 4; layer++) {
			for (int bwd = 0; bwd <= 1; bwd++) {
				uint64_t sent = 0, recvd = 0;
				for (size_t k = 0; k < p.count; k++) {
					const struct tl_op *op = &p.ops[k];
					if (op->group != TL_GROUP_CP || op->layer != layer ||
					    (op->phase == TL_PHASE_BACKWARD) != bwd ||
					    op->kind == TL_OP_WAIT)
						continue;
					int64_t next = (int64_t)tl_grid_group_member(
					    &w.grid, r, TL_GROUP_CP, (p.coords.cp + 1) % cp);
					int64_t prev = (int64_t)tl_grid_group_member(
					    &w.grid, r, TL_GROUP_CP, (p.coords.cp + cp - 1) % cp);
					assert_true(op->nonblocking);
					assert_int_equal(op->peer,
					                 op->kind == TL_OP_SEND ? next : prev);
					assert_int_equal(op->tag, 2 * op->microbatch + bwd);
					*(op->kind == TL_OP_SEND ? &sent : &recvd) += op->bytes;
				}
				assert_int_equal(sent, step * (cp - 1));
				assert_int_equal(recvd, step * (cp - 1));
			}
		}
		/* each transfer is waited after the attention block it overlaps */
		for (size_t k = 0; k < p.count; k++) {
			if (p.ops[k].group != TL_GROUP_CP || p.ops[k].kind != TL_OP_RECV)
				continue;
			size_t wait = k;
			while (!(p.ops[wait].kind == TL_OP_WAIT && p.ops[wait].req == p.ops[k].req))
				wait++;
			int blocks = 0;
			for (size_t x = k; x < wait; x++)
				blocks += p.ops[x].kind == TL_OP_GEMM && p.ops[x].gemm.attn_core;
			/* QKᵀ and attention·V, or their 4 gradients */
			assert_int_equal(blocks, p.ops[k].phase == TL_PHASE_BACKWARD ? 4 : 2);
		}
		/* attention FLOPs: 1/cp of the whole attention of the rank's heads */
		u128 attn = 0;
		for (size_t k = 0; k < p.count; k++)
			if (p.ops[k].kind == TL_OP_GEMM && p.ops[k].gemm.attn_core &&
			    p.ops[k].phase == TL_PHASE_FORWARD)
				attn += tl_gemm_flops(&p.ops[k].gemm);
		u128 whole = (u128)2 * 2 * b * s * s * h / tp * 4; /* QKᵀ and ·V, 4 layers */
		assert_u128_equal(attn * cp, whole);
		/* gradients over the dp·cp ranks */
		size_t idx[8];
		size_t n = grad_syncs(&p, idx, ARRAY_LEN(idx));
		assert_true(n >= 1);
		for (size_t k = 0; k < n; k++)
			assert_int_equal(p.ops[idx[k]].group, TL_GROUP_DPCP);
		assert_int_equal(tl_grid_group_size(&w.grid, TL_GROUP_DPCP), 8);
		tl_plan_free(&p);
	}
}

/*
 * Megatron-LM's interleaved 1F1B (forward_backward_pipelining_with_interleaving), for pp 2 and
 * v 2 model chunks: forward iteration k runs microbatch (k div 4)·2 + k mod 2 through chunk
 * (k mod 4) div 2; backward iteration k the same microbatch through chunk 1 − that; stage s
 * warms up with 2·(pp − 1 − s) + (v − 1)·pp forwards. m = 4:
 *   stage 0: F0.0 F1.0 F0.1 F1.1 | F2.0 B0.1 F3.0 B1.1 F2.1 B0.0 F3.1 B1.0 | B2.1 B3.1 B2.0 B3.0
 *   stage 1: F0.0 F1.0 | F0.1 B0.1 F1.1 B1.1 F2.0 B0.0 F3.0 B1.0 F2.1 B2.1 F3.1 B3.1 | B2.0 B3.0
 * m = pp = 2: every forward, then every backward. Stage 0 holds layers 0 and 2 (chunks 0, 1 of
 * one layer each), stage 1 layers 1 and 3; activations go 0 → 1 → 0 → 1, so each stage sends
 * and receives per microbatch 2v − 1 = 3 messages, (v − 1)·pp = 2 more a microbatch over both
 * stages than 1F1B; the bubble is (pp − 1)/(v·m).
 */
static void test_interleaved(void **state)
{
	struct ctx *c = *state;
	static const struct {
		uint64_t m, stage;
		const char *order;
	} orders[] = {
	    {4, 0,
	     "F0.0 F1.0 F0.1 F1.1 F2.0 B0.1 F3.0 B1.1 F2.1 B0.0 F3.1 B1.0 B2.1 B3.1 B2.0 B3.0"},
	    {4, 1,
	     "F0.0 F1.0 F0.1 B0.1 F1.1 B1.1 F2.0 B0.0 F3.0 B1.0 F2.1 B2.1 F3.1 B3.1 B2.0 B3.0"},
	    {2, 0, "F0.0 F1.0 F0.1 F1.1 B0.1 B1.1 B0.0 B1.0"},
	    {2, 1, "F0.0 F1.0 F0.1 F1.1 B0.1 B1.1 B0.0 B1.0"},
	};

	for (size_t i = 0; i < ARRAY_LEN(orders); i++) {
		char m[64], text[256] = "";
		struct world w;
		struct tl_plan p;
		size_t used = 0;
		snprintf(m, sizeof(m), "parallel.grad_accum=%" PRIu64, orders[i].m);
		world_of(&w, c, 2,
		         (const char *const[]){"parallel.pp=2", "parallel.schedule=interleaved",
		                               "parallel.virtual_stages=2", m, NULL});
		plan_of(&w, orders[i].stage, &p);
		for (size_t k = 0; k < p.nsched; k++)
			used += (size_t)snprintf(text + used, sizeof(text) - used, "%s%c%d.%d",
			                         k ? " " : "", p.sched[k].dir,
			                         p.sched[k].microbatch, p.sched[k].chunk);
		assert_string_equal(text, orders[i].order);
		/* the layers of the stage's chunks, in forward order of microbatch 0 */
		int want[2] = {(int)orders[i].stage, (int)orders[i].stage + 2}, seen = 0;
		for (size_t k = 0; k < p.count && seen < 2; k++)
			if (p.ops[k].kind == TL_OP_GEMM && p.ops[k].microbatch == 0 &&
			    p.ops[k].layer >= 0 && p.ops[k].phase == TL_PHASE_FORWARD &&
			    (seen == 0 || p.ops[k].layer != want[0]))
				assert_int_equal(p.ops[k].layer, want[seen++]);
		/* messages: 3 sends and 3 receives a microbatch; activations wrap from stage 1
		 * back to stage 0, tagged by the lower side's chunk */
		uint64_t n;
		sum_bytes(&p, TL_OP_SEND, TL_GROUP_PP, &n);
		assert_int_equal(n, 3 * orders[i].m);
		sum_bytes(&p, TL_OP_RECV, TL_GROUP_PP, &n);
		assert_int_equal(n, 3 * orders[i].m);
		for (size_t k = 0; k < p.count; k++)
			if (p.ops[k].kind == TL_OP_SEND || p.ops[k].kind == TL_OP_RECV)
				assert_int_equal(p.ops[k].peer, 1 - (int64_t)orders[i].stage);
		json_t *j = tl_plan_json(&c->job, &w.model, &p);
		assert_true(json_real_value(json_object_get(j, "bubble_fraction")) ==
		            1.0 / (2.0 * (double)orders[i].m));
		json_decref(j);
		tl_plan_free(&p);
	}
}

/*
 * The memory passes of a step add up, kind by kind, to the model's per-microbatch bytes: per
 * layer 2 norms, 2 residual adds, an activation and cp softmax blocks forward and backward
 * (and forward again in recompute); the embedding on the first stage, the final norm and the
 * loss on the last; the optimizer once.
 */
static void test_mem_bytes(void **state)
{
	struct ctx *c = *state;
	static const char *const sets[][6] = {
	    {"parallel.grad_accum=3", NULL},
	    {"run.fusion=none", "model.mlp=swiglu", "model.dropout=0.1", "run.recompute=full",
	     NULL},
	    {"parallel.cp=2", "run.recompute=selective", "model.dropout=0.1", NULL},
	    {"parallel.pp=2", "parallel.grad_accum=2", NULL},
	};

	for (size_t i = 0; i < ARRAY_LEN(sets); i++) {
		struct world w;
		world_of(&w, c, 2, sets[i]);
		const struct tl_model *m = &w.model;
		const struct tl_layer *L = &m->dense;
		const struct tl_job *j = &c->job;
		uint64_t mbs = m->microbatches, lps = m->layers_per_stage, cp = j->cp;
		uint64_t fwd_passes = 1 + (j->recompute == TL_RECOMPUTE_FULL); /* per layer */
		uint64_t core_passes = fwd_passes + (j->recompute == TL_RECOMPUTE_SELECTIVE);
		for (uint64_t r = 0; r < 2; r++) {
			struct tl_plan p;
			plan_of(&w, r, &p);
			bool first = p.coords.pp == 0, last = p.coords.pp == j->pp - 1;
			uint64_t want[TL_MEM_KINDS] = {0};
			want[TL_MEM_NORM] =
			    mbs * (lps * 2 * (fwd_passes * L->norm.fwd + L->norm.bwd) +
			           (last ? m->final_norm.fwd + m->final_norm.bwd : 0));
			want[TL_MEM_RESIDUAL] =
			    mbs * lps * 2 * (fwd_passes * L->residual.fwd + L->residual.bwd);
			want[TL_MEM_ACTIVATION] =
			    mbs * lps * (fwd_passes * L->act.fwd + L->act.bwd);
			want[TL_MEM_SOFTMAX] =
			    mbs * lps * cp * (core_passes * L->softmax.fwd + L->softmax.bwd);
			want[TL_MEM_DROPOUT] =
			    mbs * lps *
			    (cp * (core_passes * L->attn_dropout.fwd + L->attn_dropout.bwd) +
			     2 * (fwd_passes * L->hidden_dropout.fwd + L->hidden_dropout.bwd));
			want[TL_MEM_EMBEDDING] = first ? mbs * (m->embed.fwd + m->embed.bwd) : 0;
			want[TL_MEM_LOSS] = last ? mbs * (m->loss.fwd + m->loss.bwd) : 0;
			want[TL_MEM_OPTIMIZER] = sum_bytes(&p, TL_OP_OPTIMIZER, -1, NULL);
			for (int k = 0; k < TL_MEM_KINDS; k++)
				if (p.mem_bytes[k] != want[k])
					fail_msg(
					    "sets %zu rank %" PRIu64 ": %s passes move %" PRIu64
					    " bytes, expected %" PRIu64,
					    i, r, tl_mem_kind_name(k), p.mem_bytes[k], want[k]);
			json_t *jp = tl_plan_json(j, m, &p);
			json_t *moved = json_object_get(jp, "memory_bytes_moved_per_step");
			for (int k = 0; k < TL_MEM_KINDS; k++)
				assert_int_equal(
				    json_integer_value(json_object_get(moved, tl_mem_kind_name(k))),
				    want[k]);
			json_decref(jp);
			tl_plan_free(&p);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)
	    T(test_op_counts),
	    T(test_backward_shapes),
	    T(test_layer_order),
	    T(test_dp_payload),
	    T(test_dp_payload_moe),
	    T(test_buckets),
	    T(test_schedule_order),
	    T(test_p2p),
	    T(test_plan_json),
	    T(test_large_world),
	    T(test_names),
	    T(test_zero3_overlap_no),
	    T(test_bucket_per_tensor),
	    T(test_bucket_sizes),
	    T(test_cp_plan),
	    T(test_interleaved),
	    T(test_mem_bytes),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
