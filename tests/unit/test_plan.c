/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The plan: one rank's step as a list of ops. Op counts against the formula
 *   GEMMs per step = microbatches × (layers × 3 × gemms_per_layer + 3 (logits) + recompute)
 * with gemms_per_layer = 6 for gelu (qkv, scores, attention·V, out, up, down) and 7 for swiglu
 * (and a gate), recompute = layers × gemms_per_layer (full) or layers × 2 (selective: the
 * attention core); one allreduce of the rank's parameters over dp when dp > 1; the plan's FLOPs
 * equal the model's per-rank FLOPs; each backward GEMM has its forward GEMM's FLOPs.
 */
#include "config.h"

#include <inttypes.h>

#include "tl_test.h"
#include "trainload/plan.h"

struct plan_row {
	const char *mlp, *recompute, *dtype;
	uint64_t layers, microbatch, global_batch, world;
};

static const struct plan_row rows[] = {
    {"gelu", "none", "f32", 4, 1, 1, 1}, /* the default job at 1 rank: 75 GEMMs */
    {"gelu", "none", "f32", 4, 1, 4, 4},      {"gelu", "none", "f32", 3, 2, 12, 2},
    {"swiglu", "none", "f32", 2, 1, 3, 1},    {"swiglu", "none", "f64", 5, 1, 8, 2},
    {"gelu", "full", "f32", 4, 1, 2, 1},      {"swiglu", "full", "f32", 2, 2, 8, 2},
    {"gelu", "selective", "f32", 3, 1, 3, 3}, {"swiglu", "selective", "f64", 1, 1, 1, 1},
};

static void row_job(struct ctx *c, const struct plan_row *r, struct tl_model *m)
{
	char sets[6][64];
	const char *list[7];

	snprintf(sets[0], 64, "model.mlp=%s", r->mlp);
	snprintf(sets[1], 64, "run.recompute=%s", r->recompute);
	snprintf(sets[2], 64, "run.compute_dtype=%s", r->dtype);
	snprintf(sets[3], 64, "model.layers=%" PRIu64, r->layers);
	snprintf(sets[4], 64, "parallel.microbatch=%" PRIu64, r->microbatch);
	snprintf(sets[5], 64, "parallel.global_batch=%" PRIu64, r->global_batch);
	for (int i = 0; i < 6; i++)
		list[i] = sets[i];
	list[6] = NULL;
	resolved_job(c, r->world, list);
	if (tl_model_build(m, &c->job, &c->diag)) {
		diag_dump(&c->diag);
		fail_msg("tl_model_build refused the job");
	}
}

static unsigned __int128 sum_gemm_flops(const struct tl_plan *p)
{
	unsigned __int128 sum = 0;

	for (size_t i = 0; i < p->count; i++)
		if (p->ops[i].kind == TL_OP_GEMM)
			sum += tl_gemm_flops(&p->ops[i].gemm);
	return sum;
}

static void test_op_counts(void **state)
{
	struct ctx *c = *state;

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		const struct plan_row *r = &rows[i];
		struct tl_model m;
		struct tl_plan p;
		row_job(c, r, &m);
		assert_int_equal(tl_plan_build(&p, &c->job, &m, 0), 0);

		uint64_t g = strcmp(r->mlp, "gelu") ? 7 : 6;
		uint64_t extra = !strcmp(r->recompute, "full")        ? g
		                 : !strcmp(r->recompute, "selective") ? 2
		                                                      : 0;
		uint64_t mbs = r->global_batch / (r->microbatch * r->world);
		uint64_t gemms = mbs * (r->layers * 3 * g + 3 + r->layers * extra);
		uint64_t dp = r->world;

		print_message("  row %zu: %s %s l=%" PRIu64 " microbatches=%" PRIu64 " dp=%" PRIu64
		              ": %" PRIu64 " GEMMs\n",
		              i, r->mlp, r->recompute, r->layers, mbs, dp, gemms);
		assert_int_equal(m.layer_gemms, g);
		assert_int_equal(m.microbatches, mbs);
		assert_int_equal(p.ops_per_kind[TL_OP_GEMM], gemms);
		assert_int_equal(p.ops_per_kind[TL_OP_ALLREDUCE], dp > 1 ? 1 : 0);
		assert_int_equal(p.count, gemms + (dp > 1 ? 1 : 0));
		for (int k = 0; k < TL_OP_KINDS; k++)
			if (k != TL_OP_GEMM && k != TL_OP_ALLREDUCE)
				assert_int_equal(p.ops_per_kind[k], 0);
		/* gradient bytes: every parameter of this rank, once, over dp */
		uint64_t bytes = dp > 1 ? m.params_per_rank * (strcmp(r->dtype, "f64") ? 4 : 8) : 0;
		assert_int_equal(p.comm_bytes[TL_GROUP_DP], bytes);
		for (int grp = 0; grp <= TL_GROUP_CP; grp++)
			if (grp != TL_GROUP_DP)
				assert_int_equal(p.comm_bytes[grp], 0);
		/* the plan's FLOPs are the model's per-rank FLOPs */
		assert_u128_equal(p.flops, m.flops_per_rank_per_step);
		assert_u128_equal(sum_gemm_flops(&p), p.flops);
		assert_int_equal(p.rank, 0);
		tl_plan_free(&p);
		assert_null(p.ops);
		assert_int_equal(p.count, 0);
	}
}

/* Find the model's forward GEMM of this name (the logits, or one of the layer's). */
static const struct tl_gemm *forward_of(const struct tl_model *m, const char *name)
{
	if (!strcmp(name, m->logits.name))
		return &m->logits;
	for (int i = 0; i < m->layer_gemms; i++)
		if (!strcmp(name, m->layer[i].name))
			return &m->layer[i];
	fail_msg("no forward GEMM named %s", name);
	return NULL;
}

static void test_backward_shapes(void **state)
{
	struct ctx *c = *state;

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		struct tl_model m;
		struct tl_plan p;
		row_job(c, &rows[i], &m);
		assert_int_equal(tl_plan_build(&p, &c->job, &m, 0), 0);
		for (size_t k = 0; k < p.count; k++) {
			const struct tl_op *op = &p.ops[k];
			if (op->kind != TL_OP_GEMM)
				continue;
			const struct tl_gemm *f = forward_of(&m, op->gemm.name);
			const struct tl_gemm *g = &op->gemm;
			assert_int_equal(g->batch, f->batch);
			switch (op->pass) {
			case TL_GEMM_FWD:
				/* forward (and recompute): the model's shape, no transposes */
				assert_true(g->m == f->m && g->n == f->n && g->k == f->k);
				assert_false(op->trans_a);
				assert_false(op->trans_b);
				break;
			case TL_GEMM_GRAD_A:
				/* dA[m×k] = dC[m×n]·Bᵀ */
				assert_true(g->m == f->m && g->n == f->k && g->k == f->n);
				assert_false(op->trans_a);
				assert_true(op->trans_b);
				assert_int_equal(op->phase, TL_PHASE_BACKWARD);
				break;
			case TL_GEMM_GRAD_B:
				/* dB[k×n] = Aᵀ·dC[m×n] */
				assert_true(g->m == f->k && g->n == f->n && g->k == f->m);
				assert_true(op->trans_a);
				assert_false(op->trans_b);
				assert_int_equal(op->phase, TL_PHASE_BACKWARD);
				break;
			}
			/* each backward GEMM costs what its forward GEMM costs */
			assert_u128_equal(tl_gemm_flops(g), tl_gemm_flops(f));
		}
		tl_plan_free(&p);
	}
}

static void test_phases_and_order(void **state)
{
	struct ctx *c = *state;

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		const struct plan_row *r = &rows[i];
		struct tl_model m;
		struct tl_plan p;
		uint64_t phase[TL_PHASES] = {0};
		row_job(c, r, &m);
		assert_int_equal(tl_plan_build(&p, &c->job, &m, 3), 0);
		assert_int_equal(p.rank, 3);

		uint64_t g = (uint64_t)m.layer_gemms, l = r->layers, mbs = m.microbatches;
		uint64_t extra = !strcmp(r->recompute, "full")        ? g
		                 : !strcmp(r->recompute, "selective") ? 2
		                                                      : 0;
		int last_mb = -1, last_layer_bwd = (int)l;
		for (size_t k = 0; k < p.count; k++) {
			const struct tl_op *op = &p.ops[k];
			phase[op->phase]++;
			if (op->kind != TL_OP_GEMM)
				continue;
			/* microbatches in order, layers in range */
			assert_true(op->microbatch >= last_mb && op->microbatch < (int)mbs);
			if (op->microbatch != last_mb)
				last_layer_bwd = (int)l;
			last_mb = op->microbatch;
			assert_true(op->layer >= -1 && op->layer < (int)l);
			if (op->layer == -1)
				assert_string_equal(op->gemm.name, "logits");
			/* backward walks the layers in reverse order */
			if (op->phase == TL_PHASE_BACKWARD && op->layer >= 0) {
				assert_true(op->layer <= last_layer_bwd);
				last_layer_bwd = op->layer;
			}
			/* recompute runs a layer's forward just before that layer's backward */
			if (op->phase == TL_PHASE_RECOMPUTE) {
				assert_int_equal(op->pass, TL_GEMM_FWD);
				assert_true(op->layer < last_layer_bwd);
				if (!strcmp(r->recompute, "selective"))
					assert_true(op->gemm.attn_core);
			}
		}
		assert_int_equal(phase[TL_PHASE_FORWARD], mbs * (l * g + 1));
		assert_int_equal(phase[TL_PHASE_BACKWARD], mbs * (2 * l * g + 2));
		assert_int_equal(phase[TL_PHASE_RECOMPUTE], mbs * l * extra);
		assert_int_equal(phase[TL_PHASE_GRAD_SYNC], r->world > 1 ? 1 : 0);
		assert_int_equal(phase[TL_PHASE_OPTIMIZER], 0);

		/* the gradient allreduce comes last, once per step, over dp */
		if (r->world > 1) {
			const struct tl_op *sync = &p.ops[p.count - 1];
			assert_int_equal(sync->kind, TL_OP_ALLREDUCE);
			assert_int_equal(sync->phase, TL_PHASE_GRAD_SYNC);
			assert_int_equal(sync->group, TL_GROUP_DP);
			assert_int_equal(sync->layer, -1);
			assert_int_equal(sync->microbatch, -1);
			assert_int_equal(sync->bytes, m.params_per_rank * m.comm_elem_bytes);
		}
		/* the first op is layer 0's qkv of microbatch 0 */
		assert_string_equal(p.ops[0].gemm.name, "qkv");
		assert_int_equal(p.ops[0].layer, 0);
		assert_int_equal(p.ops[0].microbatch, 0);
		assert_int_equal(p.ops[0].phase, TL_PHASE_FORWARD);
		tl_plan_free(&p);
	}
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(tl_op_kind_name(TL_OP_GEMM), "gemm");
	assert_string_equal(tl_op_kind_name(TL_OP_ELEMENTWISE), "elementwise");
	assert_string_equal(tl_op_kind_name(TL_OP_ALLREDUCE), "allreduce");
	assert_string_equal(tl_op_kind_name(TL_OP_REDUCE_SCATTER), "reduce_scatter");
	assert_string_equal(tl_op_kind_name(TL_OP_ALLGATHER), "allgather");
	assert_string_equal(tl_op_kind_name(TL_OP_ALLTOALL), "alltoall");
	assert_string_equal(tl_op_kind_name(TL_OP_SEND), "send");
	assert_string_equal(tl_op_kind_name(TL_OP_RECV), "recv");
	assert_string_equal(tl_op_kind_name(TL_OP_OPTIMIZER), "optimizer");
	assert_string_equal(tl_phase_name(TL_PHASE_FORWARD), "forward");
	assert_string_equal(tl_phase_name(TL_PHASE_BACKWARD), "backward");
	assert_string_equal(tl_phase_name(TL_PHASE_RECOMPUTE), "recompute");
	assert_string_equal(tl_phase_name(TL_PHASE_GRAD_SYNC), "grad_sync");
	assert_string_equal(tl_group_name(TL_GROUP_WORLD), "world");
	assert_string_equal(tl_group_name(TL_GROUP_TP), "tp");
	assert_string_equal(tl_group_name(TL_GROUP_DP), "dp");
	assert_string_equal(tl_group_name(TL_GROUP_PP), "pp");
	assert_string_equal(tl_group_name(TL_GROUP_EP), "ep");
	assert_string_equal(tl_group_name(TL_GROUP_CP), "cp");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)
	    T(test_op_counts),
	    T(test_backward_shapes),
	    T(test_phases_and_order),
	    T(test_names),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
