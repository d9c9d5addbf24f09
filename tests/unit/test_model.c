/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The model arithmetic (DESIGN.md §4): the per-GEMM sums of tl_model_build held to the published
 * closed forms, exactly, in 128-bit integers.
 *
 * For MHA, gelu, f = 4h (B = global batch):
 *   model FLOPs          = 72·B·s·l·h²·(1 + s/(6h) + V/(12·l·h)) = 72Bslh² + 12Bs²lh + 6BshV
 *   full recompute       = 96·B·s·l·h²·(1 + s/(6h) + V/(16·l·h)) = 96Bslh² + 16Bs²lh + 6BshV
 *   selective recompute  = model FLOPs + 4·B·s²·h·l
 *   parameters (GPT)     = 12lh² + 13lh + (V + s)h + 2h (+ Vh untied); the +2h is the final
 *                          LayerNorm, which the paper's closed form leaves out.
 */
#include "config.h"

#include <inttypes.h>

#include "tl_test.h"
#include "trainload/grid.h"
#include "trainload/plan.h"
#include "trainload/result.h"

typedef unsigned __int128 u128;

struct shape {
	const char *what;
	uint64_t l, h, a, s, V, B,
	    b; /* layers, hidden, heads, seq, vocab, global batch, microbatch */
	uint64_t world;
};

static const struct shape shapes[] = {
    {"tiny", 2, 64, 4, 32, 100, 1, 1, 1},
    {"odd sizes", 3, 96, 3, 7, 11, 6, 3, 1},
    {"default job, 4 ranks", 4, 256, 8, 256, 8192, 8, 2, 4},
    {"GPT-2 small", 12, 768, 12, 1024, 50257, 8, 1, 2},
    {"GPT-2 XL", 48, 1600, 25, 1024, 50257, 512, 4, 8},
    /* the world keeps one rank's plan under the bound: microbatches x layers <= 1e5 */
    {"GPT-3 175B, 16 dp ranks", 96, 12288, 96, 2048, 51200, 1536, 1, 16},
    {"GPT-3 175B, 64 dp ranks", 96, 12288, 96, 2048, 51200, 1536, 2, 64},
    {"Megatron 1T, 32 dp ranks", 128, 25600, 160, 2048, 51200, 3072, 1, 32},
};

static void shape_job(struct ctx *c, const struct shape *x, const char *mlp, const char *tied,
                      const char *recompute)
{
	char sets[10][96];
	const char *list[11];

	snprintf(sets[0], sizeof(sets[0]), "model.layers=%" PRIu64, x->l);
	snprintf(sets[1], sizeof(sets[1]), "model.hidden=%" PRIu64, x->h);
	snprintf(sets[2], sizeof(sets[2]), "model.heads=%" PRIu64, x->a);
	snprintf(sets[3], sizeof(sets[3]), "model.seq=%" PRIu64, x->s);
	snprintf(sets[4], sizeof(sets[4]), "model.vocab=%" PRIu64, x->V);
	snprintf(sets[5], sizeof(sets[5]), "parallel.global_batch=%" PRIu64, x->B);
	snprintf(sets[6], sizeof(sets[6]), "parallel.microbatch=%" PRIu64, x->b);
	snprintf(sets[7], sizeof(sets[7]), "model.mlp=%s", mlp);
	snprintf(sets[8], sizeof(sets[8]), "model.tied_embeddings=%s", tied);
	snprintf(sets[9], sizeof(sets[9]), "run.recompute=%s", recompute);
	for (int i = 0; i < 10; i++)
		list[i] = sets[i];
	list[10] = NULL;
	resolved_job(c, x->world, list);
}

static void build(struct ctx *c, struct tl_model *m)
{
	if (tl_model_build(m, &c->job, &c->diag) != 0) {
		diag_dump(&c->diag);
		fail_msg("tl_model_build refused the job");
	}
}

static u128 closed_model(const struct shape *x)
{
	u128 B = x->B, s = x->s, l = x->l, h = x->h, V = x->V;
	return 72 * B * s * l * h * h + 12 * B * s * s * l * h + 6 * B * s * h * V;
}

static void test_model_flops_closed_form(void **state)
{
	struct ctx *c = *state;

	for (size_t i = 0; i < ARRAY_LEN(shapes); i++) {
		const struct shape *x = &shapes[i];
		struct tl_model m;
		print_message("  %s\n", x->what);
		shape_job(c, x, "gelu", "yes", "none");
		build(c, &m);
		assert_u128_equal(m.model_flops_per_step, closed_model(x));
		/* no recompute: what the ranks execute is what the model needs */
		assert_u128_equal(m.hardware_flops_per_step, closed_model(x));
		assert_int_equal(m.microbatches, x->B / (x->b * x->world));
		assert_int_equal(m.tokens_per_step, x->B * x->s);
		/* untied embeddings add parameters, not FLOPs */
		shape_job(c, x, "gelu", "no", "none");
		build(c, &m);
		assert_u128_equal(m.model_flops_per_step, closed_model(x));
	}
}

/*
 * One step's FLOPs pass 2^64 for trillion-parameter models (GPT-3 175B's step, ~3.4e18, still
 * fits; Megatron's 1T configuration, ~3.9e19, does not): the 128-bit sum must stay exact.
 */
static void test_flops_beyond_64_bits(void **state)
{
	struct ctx *c = *state;
	struct tl_model m;
	char got[48];

	shape_job(c, &shapes[5], "gelu", "yes", "none"); /* GPT-3 175B */
	build(c, &m);
	assert_string_equal(u128_str(m.model_flops_per_step, got), "3386196746387324928");

	shape_job(c, &shapes[7], "gelu", "yes", "none"); /* Megatron 1T */
	build(c, &m);
	assert_true(m.model_flops_per_step > (u128)UINT64_MAX);
	assert_string_equal(u128_str(m.model_flops_per_step, got), "38555254837267660800");
}

static void test_full_recompute(void **state)
{
	struct ctx *c = *state;

	for (size_t i = 0; i < ARRAY_LEN(shapes); i++) {
		const struct shape *x = &shapes[i];
		struct tl_model m;
		u128 B = x->B, s = x->s, l = x->l, h = x->h, V = x->V;
		shape_job(c, x, "gelu", "yes", "full");
		build(c, &m);
		assert_u128_equal(m.hardware_flops_per_step, 96 * B * s * l * h * h +
		                                                 16 * B * s * s * l * h +
		                                                 6 * B * s * h * V);
		/* model FLOPs never count recompute */
		assert_u128_equal(m.model_flops_per_step, closed_model(x));
	}
}

static void test_selective_recompute(void **state)
{
	struct ctx *c = *state;

	for (size_t i = 0; i < ARRAY_LEN(shapes); i++) {
		const struct shape *x = &shapes[i];
		struct tl_model m;
		u128 B = x->B, s = x->s, l = x->l, h = x->h;
		shape_job(c, x, "gelu", "yes", "selective");
		build(c, &m);
		assert_u128_equal(m.hardware_flops_per_step,
		                  closed_model(x) + 4 * B * s * s * h * l);
		assert_u128_equal(m.model_flops_per_step, closed_model(x));
	}
}

static void test_gpt_params(void **state)
{
	struct ctx *c = *state;

	for (size_t i = 0; i < ARRAY_LEN(shapes); i++) {
		const struct shape *x = &shapes[i];
		struct tl_model m;
		uint64_t l = x->l, h = x->h, s = x->s, V = x->V;
		uint64_t tied = 12 * l * h * h + 13 * l * h + (V + s) * h + 2 * h;

		shape_job(c, x, "gelu", "yes", "none");
		build(c, &m);
		assert_int_equal(m.params_total, tied);
		assert_int_equal(m.dense.params, 12 * h * h + 13 * h);
		assert_int_equal(m.dense.params_rank, m.dense.params); /* tp = 1 */
		assert_int_equal(m.params_per_rank, m.params_total);   /* tp = pp = 1 */

		shape_job(c, x, "gelu", "no", "none");
		build(c, &m);
		assert_int_equal(m.params_total, tied + V * h);
		assert_int_equal(m.params_per_rank, m.params_total);
	}
	/* GPT-3 175B shapes (tied, learned positions, V = 51200): 174.6e9 */
	shape_job(c, &shapes[5], "gelu", "yes", "none");
	struct tl_model m;
	build(c, &m);
	assert_int_equal(m.params_total, UINT64_C(174615846912));
}

static void test_llama_params(void **state)
{
	struct ctx *c = *state;
	struct tl_model m;

	/* Llama 3 8B: GQA 32/8, ffn 14336, untied, vocab 128256: 8,030,261,248 parameters. */
	resolved_job(c, 1,
	             (const char *const[]){
	                 "model.mlp=swiglu", "model.layers=32", "model.hidden=4096",
	                 "model.heads=32", "model.kv_heads=8", "model.ffn_hidden=14336",
	                 "model.vocab=128256", "model.seq=8192", "model.tied_embeddings=no", NULL});
	build(c, &m);
	assert_int_equal(m.params_total, UINT64_C(8030261248));
	assert_int_equal(m.params_per_rank, UINT64_C(8030261248));

	/* Llama 2 7B: MHA, ffn auto (11008), vocab 32000: 6,738,415,616 parameters. */
	resolved_job(c, 1,
	             (const char *const[]){"model.mlp=swiglu", "model.layers=32",
	                                   "model.hidden=4096", "model.heads=32",
	                                   "model.vocab=32000", "model.seq=4096", NULL});
	build(c, &m);
	assert_int_equal(c->job.ffn_hidden, 11008);
	assert_int_equal(m.params_total, UINT64_C(6738415616));
}

/* The DESIGN.md §4 per-GEMM sums for the general case: GQA, swiglu, any f. */
static void test_general_flops(void **state)
{
	struct ctx *c = *state;
	static const struct {
		const char *mlp;
		uint64_t l, h, a, kv, f, s, V, B, b, world;
	} rows[] = {
	    {"swiglu", 32, 4096, 32, 8, 14336, 8192, 128256, 16, 1, 4},
	    {"swiglu", 2, 128, 8, 2, 384, 64, 1000, 6, 3, 2},
	    {"gelu", 3, 192, 12, 4, 500, 50, 777, 4, 2, 1},
	    {"gelu", 2, 64, 4, 1, 256, 16, 50, 3, 1, 3},
	};
	char sets[11][96];
	const char *list[12];

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		struct tl_model m;
		snprintf(sets[0], 96, "model.mlp=%s", rows[i].mlp);
		snprintf(sets[1], 96, "model.layers=%" PRIu64, rows[i].l);
		snprintf(sets[2], 96, "model.hidden=%" PRIu64, rows[i].h);
		snprintf(sets[3], 96, "model.heads=%" PRIu64, rows[i].a);
		snprintf(sets[4], 96, "model.kv_heads=%" PRIu64, rows[i].kv);
		snprintf(sets[5], 96, "model.ffn_hidden=%" PRIu64, rows[i].f);
		snprintf(sets[6], 96, "model.seq=%" PRIu64, rows[i].s);
		snprintf(sets[7], 96, "model.vocab=%" PRIu64, rows[i].V);
		snprintf(sets[8], 96, "parallel.global_batch=%" PRIu64, rows[i].B);
		snprintf(sets[9], 96, "parallel.microbatch=%" PRIu64, rows[i].b);
		snprintf(sets[10], 96, "run.recompute=full");
		for (int k = 0; k < 11; k++)
			list[k] = sets[k];
		list[11] = NULL;
		resolved_job(c, rows[i].world, list);
		build(c, &m);

		u128 b = rows[i].b, s = rows[i].s, h = rows[i].h, a = rows[i].a, kv = rows[i].kv;
		u128 f = rows[i].f, V = rows[i].V, l = rows[i].l;
		u128 mbs = rows[i].B / rows[i].b; /* microbatches over all dp ranks */
		u128 qkv = 2 * b * s * h * (h + 2 * h * kv / a);
		u128 out = 2 * b * s * h * h;
		u128 core = 2 * b * s * s * h + 2 * b * s * s * h;
		u128 mlp = (strcmp(rows[i].mlp, "swiglu") ? 4 : 6) * b * s * h * f;
		u128 layer = qkv + out + core + mlp;
		u128 logits = 2 * b * s * h * V;
		assert_u128_equal(m.model_flops_per_step, 3 * (l * layer + logits) * mbs);
		assert_u128_equal(m.hardware_flops_per_step, (4 * l * layer + 3 * logits) * mbs);
		assert_int_equal(m.dense.mlp_gemms, strcmp(rows[i].mlp, "swiglu") ? 2 : 3);
	}
}

/* The GEMMs of a layer, C[m×n] = A[m×k]·B[k×n], in the order a rank runs them. */
static const struct tl_gemm *layer_gemm(const struct tl_layer *L, int i)
{
	return i < 4 ? &L->attn[i] : &L->mlp[i - 4];
}

static void test_layer_gemms(void **state)
{
	struct ctx *c = *state;
	struct tl_model m;
	static const char *const gelu[] = {"qkv",      "attn_scores", "attn_v",
	                                   "out_proj", "mlp_up",      "mlp_down"};
	static const char *const swiglu[] = {"qkv",      "attn_scores", "attn_v",  "out_proj",
	                                     "mlp_gate", "mlp_up",      "mlp_down"};

	/* default job: l=4 h=256 a=8 s=256 V=8192, microbatch 2 */
	resolved_job(c, 1, (const char *const[]){"parallel.microbatch=2", NULL});
	build(c, &m);
	assert_false(m.dense.moe);
	assert_int_equal(m.dense.mlp_gemms, 2);
	for (int i = 0; i < 6; i++)
		assert_string_equal(layer_gemm(&m.dense, i)->name, gelu[i]);
	const struct tl_gemm *g[6];
	for (int i = 0; i < 6; i++)
		g[i] = layer_gemm(&m.dense, i);
	uint64_t tok = 2 * 256;
	assert_true(g[0]->m == tok && g[0]->n == 3 * 256 && g[0]->k == 256 && g[0]->batch == 1);
	assert_true(g[1]->m == 256 && g[1]->n == 256 && g[1]->k == 32 && g[1]->batch == 2 * 8);
	assert_true(g[2]->m == 256 && g[2]->n == 32 && g[2]->k == 256 && g[2]->batch == 2 * 8);
	assert_true(g[3]->m == tok && g[3]->n == 256 && g[3]->k == 256);
	assert_true(g[4]->m == tok && g[4]->n == 1024 && g[4]->k == 256);
	assert_true(g[5]->m == tok && g[5]->n == 256 && g[5]->k == 1024);
	assert_true(g[0]->weight && !g[1]->weight && !g[2]->weight && g[3]->weight &&
	            g[4]->weight && g[5]->weight);
	assert_true(!g[0]->attn_core && g[1]->attn_core && g[2]->attn_core && !g[3]->attn_core &&
	            !g[4]->attn_core && !g[5]->attn_core);
	assert_true(m.logits.m == tok && m.logits.n == 8192 && m.logits.k == 256 &&
	            m.logits.weight);
	assert_int_equal(m.elem_bytes, 4);
	assert_int_equal(m.comm_elem_bytes, 4);
	assert_int_equal(m.tokens, tok);
	assert_int_equal(m.tp_bytes, tok * 256 * 4);
	assert_int_equal(m.pp_bytes, tok * 256 * 4);
	assert_u128_equal(tl_gemm_flops(g[1]), (u128)2 * 256 * 256 * 32 * 16);

	resolved_job(c, 1,
	             (const char *const[]){"model.mlp=swiglu", "model.kv_heads=2",
	                                   "run.compute_dtype=f64", NULL});
	build(c, &m);
	assert_int_equal(m.dense.mlp_gemms, 3);
	for (int i = 0; i < 7; i++)
		assert_string_equal(layer_gemm(&m.dense, i)->name, swiglu[i]);
	assert_int_equal(m.dense.attn[0].n, (8 + 2 * 2) * 32); /* q plus k and v of 2 kv heads */
	assert_int_equal(m.dense.mlp[1].n, 768);               /* ffn auto for swiglu h=256 */
	assert_int_equal(m.elem_bytes, 8);
	assert_int_equal(m.comm_elem_bytes, 8);

	/* tensor parallel 4 with sequence parallelism: column-parallel GEMMs split their
	 * outputs, row-parallel ones their inputs, heads are split; pipeline sends carry 1/t */
	resolved_job(c, 4,
	             (const char *const[]){"parallel.tp=4", "parallel.sequence_parallel=yes",
	                                   "model.vocab=8190", NULL});
	build(c, &m);
	assert_true(m.dense.attn[0].m == 256 && m.dense.attn[0].n == 3 * 256 / 4 &&
	            m.dense.attn[0].k == 256);
	assert_int_equal(m.dense.attn[1].batch, 8 / 4);
	assert_true(m.dense.attn[3].n == 256 && m.dense.attn[3].k == 256 / 4);
	assert_true(m.dense.mlp[0].n == 1024 / 4 && m.dense.mlp[1].k == 1024 / 4);
	assert_int_equal(m.logits.n, 2048); /* ceil(8190 / 4) */
	assert_int_equal(m.tp_bytes, 256 * 256 * 4);
	assert_int_equal(m.pp_bytes, 256 * 256 * 4 / 4);

	assert_int_equal(tl_dtype_bytes(TL_DTYPE_F32), 4);
	assert_int_equal(tl_dtype_bytes(TL_DTYPE_F64), 8);
	assert_int_equal(tl_dtype_bytes(TL_DTYPE_BF16), 2);
	assert_int_equal(tl_dtype_bytes(TL_DTYPE_F16), 2);
}

static void test_overflow(void **state)
{
	struct ctx *c = *state;
	const char *const *const absurd[] = {
	    /* embeddings of 2^32 × 2^32 */
	    (const char *const[]){"model.hidden=4Gi", "model.heads=1", "model.vocab=4Gi", NULL},
	    /* attention scores of 2^32 × 2^32 per head */
	    (const char *const[]){"model.seq=4Gi", NULL},
	    /* tokens per step: global batch × seq, and the logits' bytes */
	    (const char *const[]){"model.seq=2Gi", "parallel.microbatch=4Gi", NULL},
	    /* parameters × 12 bytes of optimizer state: 2^63.6 parameters */
	    (const char *const[]){"model.layers=1Mi", "model.hidden=1Mi", "model.heads=1", NULL},
	};

	for (size_t i = 0; i < ARRAY_LEN(absurd); i++) {
		struct tl_model m;
		resolved_job(c, 1, absurd[i]);
		int rc = tl_model_build(&m, &c->job, &c->diag);
		if (rc != TL_EINPUT)
			fail_msg("row %zu: absurd sizes accepted", i);
		expect_msgs(&c->diag,
		            "built-in default job: the model's sizes overflow 64-bit byte or 128-bit FLOP "
		            "counts (check hidden, seq, vocab, layers, experts, microbatch and "
		            "global_batch)");
	}
}

/*
 * The step totals are 128-bit, and even 128 bits can be passed by sizes that pass every 64-bit
 * check (each rank's GEMMs, every byte count). Here: 2^25 layers, s = 2^26, h = 2^16 in 2^8
 * heads over tp = 2^8 (each rank's attention GEMMs 2^61 FLOPs; a whole layer 2^70 a
 * microbatch), sequence parallelism and full recompute (a layer keeps 2^36 bytes); with 2^32
 * sequences a step is ~3·2^127 FLOPs, which must be refused as an input error, never wrapped.
 */
static void test_flops_128_bit_wrap(void **state)
{
	struct ctx *c = *state;
	struct tl_model m;
	const char *sizes[] = {"model.layers=32Mi",
	                       "model.hidden=64Ki",
	                       "model.heads=256",
	                       "model.seq=64Mi",
	                       "model.vocab=8",
	                       "parallel.tp=256",
	                       "parallel.sequence_parallel=yes",
	                       "run.recompute=full",
	                       NULL,
	                       NULL,
	                       NULL};
	u128 l = (u128)1 << 25, h = 1 << 16, s = (u128)1 << 26, V = 8;

	/* 2^16 sequences on one stage: every 64-bit check passes (they come first), only the
	 * plan is too large */
	sizes[8] = "parallel.global_batch=64Ki";
	resolved_job(c, 256, sizes);
	assert_int_equal(tl_model_build(&m, &c->job, &c->diag), TL_EINPUT);
	expect_msgs(&c->diag, "--set parallel.global_batch: 65536 microbatches x 33554432 layers "
	                      "per stage make one rank's plan too large (at most 100000; use fewer "
	                      "microbatches or more pipeline stages)");
	/* 2^15 sequences over 2^24 stages: planned, and counted exactly */
	sizes[8] = "parallel.global_batch=32Ki";
	sizes[9] = "parallel.pp=16Mi";
	resolved_job(c, UINT64_C(1) << 32, sizes);
	build(c, &m);
	u128 B = 1 << 15;
	assert_u128_equal(m.model_flops_per_step,
	                  72 * B * s * l * h * h + 12 * B * s * s * l * h + 6 * B * s * h * V);

	/* 2^32 sequences on one stage: only the step's total is too large */
	sizes[8] = "parallel.global_batch=4Gi";
	sizes[9] = NULL;
	resolved_job(c, 256, sizes);
	u128 fwd = 24 * s * l * h * h + 4 * s * s * l * h + 2 * s * h * V, tmp;
	assert_true(__builtin_mul_overflow(3 * fwd, (u128)1 << 32, &tmp)); /* > 2^128 */
	int rc = tl_model_build(&m, &c->job, &c->diag);
	if (rc == 0) {
		char got[48];
		fail_msg("accepted; model_flops_per_step wrapped to %s",
		         u128_str(m.model_flops_per_step, got));
	}
	assert_int_equal(rc, TL_EINPUT);
	expect_msgs(&c->diag,
	            "built-in default job: the model's sizes overflow 64-bit byte or 128-bit FLOP "
	            "counts (check hidden, seq, vocab, layers, experts, microbatch and "
	            "global_batch)");
}

/*
 * One rank's plan holds some tens of ops per (microbatch, layer of its stage): more than 1e5 such
 * pairs is refused before anything is allocated, blaming the batch.
 */
static void test_plan_size_bound(void **state)
{
	struct ctx *c = *state;
	struct tl_model m;

	resolved_job(c, 1,
	             (const char *const[]){"model.layers=1000", "parallel.global_batch=100", NULL});
	build(c, &m);
	assert_int_equal(m.microbatches * m.layers_per_stage, 100000);

	resolved_job(c, 1,
	             (const char *const[]){"model.layers=1000", "parallel.global_batch=101", NULL});
	assert_int_equal(tl_model_build(&m, &c->job, &c->diag), TL_EINPUT);
	expect_msgs(&c->diag,
	            "--set parallel.global_batch: 101 microbatches x 1000 layers per stage "
	            "make one rank's plan too large (at most 100000; use fewer "
	            "microbatches or more pipeline stages)");

	/* more stages bring it back under: 101 x 500 */
	resolved_job(c, 2,
	             (const char *const[]){"model.layers=1000", "parallel.pp=2",
	                                   "parallel.global_batch=101", NULL});
	build(c, &m);
	assert_int_equal(m.layers_per_stage, 500);

	/* absurd: 2^30 microbatches of one layer */
	resolved_job(c, 1, (const char *const[]){"parallel.grad_accum=1Gi", NULL});
	assert_int_equal(tl_model_build(&m, &c->job, &c->diag), TL_EINPUT);
	expect_has(&c->diag, "1073741824 microbatches x 4 layers per stage make one rank's plan "
	                     "too large");
}

/* ------------------------------------------------------------------------------------------ */
/* The shipped jobs (jobs/NAME.job) at the rank counts their headers give, against published counts.
 */

/* Narayanan et al. 2021, Table 1, parameters in billions (rounded to 0.1 B there). */
struct shipped {
	const char *file;
	uint64_t ranks;
	uint64_t params; /* exact published count, or 0 */
	double billions; /* Table 1's count, or 0 */
};

static const struct shipped shipped[] = {
    {"gpt2-124m", 64, UINT64_C(124439808), 0},
    {"gpt3-175b", 1536, 0, 174.6},
    {"llama3-8b", 64, UINT64_C(8030261248), 0},
    {"llama3-70b", 512, UINT64_C(70553706496), 0},
    {"mixtral-8x7b", 64, UINT64_C(46702792704), 0},
    {"megatron-1.7b", 32, 0, 1.7},
    {"megatron-3.6b", 64, 0, 3.6},
    {"megatron-7.5b", 128, 0, 7.5},
    {"megatron-18b", 256, 0, 18.4},
    {"megatron-39b", 512, 0, 39.1},
    {"megatron-76b", 1024, 0, 76.1},
    {"megatron-145b", 1536, 0, 145.6},
    {"megatron-310b", 1920, 0, 310.1},
    {"megatron-530b", 2520, 0, 529.6},
    {"megatron-1t", 3072, 0, 1008.0},
    {"cpu-small", 2, UINT64_C(13891584), 0},
    {"cpu-swiglu", 2, UINT64_C(20451840), 0},
    {"default", 2, UINT64_C(7419392), 0},
};

static void shipped_job(struct ctx *c, const char *file, uint64_t ranks)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s.job", TL_TEST_JOBS_DIR, file);
	ctx_reset(c);
	if (tl_job_parse_file(&c->job, path, &c->diag) ||
	    tl_job_resolve(&c->job, ranks, &c->diag)) {
		diag_dump(&c->diag);
		fail_msg("%s refused at %" PRIu64 " ranks", path, ranks);
	}
}

static void test_shipped_jobs(void **state)
{
	struct ctx *c = *state;

	for (size_t i = 0; i < ARRAY_LEN(shipped); i++) {
		const struct shipped *x = &shipped[i];
		const struct tl_job *j = &c->job;
		struct tl_model m;
		char got[48];

		shipped_job(c, x->file, x->ranks);
		build(c, &m);
		print_message(
		    "  %-14s %5" PRIu64 " ranks: %" PRIu64 " parameters, %s model FLOPs\n", x->file,
		    x->ranks, m.params_total, u128_str(m.model_flops_per_step, got));
		if (x->params)
			assert_int_equal(m.params_total, x->params);
		if (x->billions > 0) {
			double b = (double)m.params_total / 1e9;
			if (b < x->billions - 0.05 || b > x->billions + 0.05)
				fail_msg("%s: %.4f billion parameters, published %.1f", x->file, b,
				         x->billions);
		}
		/* GPT-style, MHA, f = 4h: the closed forms hold exactly */
		bool closed = j->mlp == TL_MLP_GELU && j->kv_heads == j->heads &&
		              j->ffn_hidden == 4 * j->hidden && !j->experts;
		if (!closed)
			continue;
		u128 B = j->global_batch, s = j->seq, l = j->layers, h = j->hidden, V = j->vocab;
		uint64_t P = 12 * j->layers * j->hidden * j->hidden + 13 * j->layers * j->hidden +
		             (j->vocab + j->seq) * j->hidden + 2 * j->hidden +
		             (j->tied_embeddings ? 0 : j->vocab * j->hidden);
		assert_int_equal(m.params_total, P);
		u128 model = 72 * B * s * l * h * h + 12 * B * s * s * l * h + 6 * B * s * h * V;
		assert_u128_equal(m.model_flops_per_step, model);
		u128 hw = j->recompute == TL_RECOMPUTE_FULL
		              ? 96 * B * s * l * h * h + 16 * B * s * s * l * h + 6 * B * s * h * V
		          : j->recompute == TL_RECOMPUTE_SELECTIVE ? model + 4 * B * s * s * h * l
		                                                   : model;
		assert_u128_equal(m.hardware_flops_per_step, hw);
	}

	/* GPT-3 175B: 1536 ranks = tp 8 x pp 12 x dp 16; "175B" is 0.22% above the count */
	shipped_job(c, "gpt3-175b", 1536);
	assert_int_equal(c->job.dp, 16);
	assert_int_equal(c->job.grad_accum, 96);
	struct tl_model m;
	build(c, &m);
	assert_int_equal(m.params_total, UINT64_C(174615846912));
	assert_true((double)m.params_total > 0.9975 * 175e9 && (double)m.params_total < 175e9);
	assert_u128_equal(m.model_flops_per_step, (u128)UINT64_C(3386196746387324928));

	/* default.job is the built-in default, key by key: the same resolved job */
	char h1[17], h2[17];
	shipped_job(c, "default", 2);
	tl_job_hash(&c->job, h1);
	resolved_job(c, 2, (const char *const[]){"run.steps=10", NULL});
	tl_job_hash(&c->job, h2);
	assert_string_equal(h1, h2);
}

/* ------------------------------------------------------------------------------------------ */
/* MoE: each token runs topk experts' MLPs and the router, so an MoE layer's forward is the   */
/* dense layer's + 2·b·s·h·E + (topk − 1)·MLP.                                                 */

static void test_moe_flops(void **state)
{
	struct ctx *c = *state;
	static const struct {
		const char *mlp, *recompute;
		uint64_t experts, topk, moe_every, ep, world;
	} rows[] = {
	    {"gelu", "none", 4, 2, 1, 1, 1},      {"gelu", "none", 8, 1, 1, 2, 2},
	    {"swiglu", "none", 8, 2, 1, 4, 4},    {"swiglu", "full", 4, 2, 2, 2, 2},
	    {"gelu", "selective", 4, 3, 1, 2, 4}, {"swiglu", "selective", 16, 4, 3, 1, 2},
	};
	const uint64_t l = 6, h = 64, a = 4, s = 32, V = 100, b = 2;

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		char sets[12][64];
		const char *list[13];
		struct tl_model dense, moe;
		snprintf(sets[0], 64, "model.mlp=%s", rows[i].mlp);
		snprintf(sets[1], 64, "run.recompute=%s", rows[i].recompute);
		snprintf(sets[2], 64, "model.layers=%" PRIu64, l);
		snprintf(sets[3], 64, "model.hidden=%" PRIu64, h);
		snprintf(sets[4], 64, "model.heads=%" PRIu64, a);
		snprintf(sets[5], 64, "model.seq=%" PRIu64, s);
		snprintf(sets[6], 64, "model.vocab=%" PRIu64, V);
		snprintf(sets[7], 64, "parallel.microbatch=%" PRIu64, b);
		snprintf(sets[8], 64, "parallel.grad_accum=3");
		snprintf(sets[9], 64, "model.topk=%" PRIu64, rows[i].topk);
		snprintf(sets[10], 64, "model.moe_every=%" PRIu64, rows[i].moe_every);
		for (int k = 0; k < 11; k++)
			list[k] = sets[k];
		list[11] = NULL;
		resolved_job(c, rows[i].world, list);
		build(c, &dense);
		uint64_t f = c->job.ffn_hidden;

		snprintf(sets[11], 64, "model.experts=%" PRIu64, rows[i].experts);
		list[11] = sets[11];
		char ep[64];
		snprintf(ep, 64, "parallel.ep=%" PRIu64, rows[i].ep);
		list[12] = ep;
		const char *list2[14];
		memcpy(list2, list, sizeof(list));
		list2[13] = NULL;
		resolved_job(c, rows[i].world, list2);
		build(c, &moe);

		u128 mbs = c->job.global_batch / b; /* microbatches over all dp ranks */
		u128 moe_layers = l / rows[i].moe_every;
		u128 mlp = (u128)(strcmp(rows[i].mlp, "gelu") ? 6 : 4) * b * s * h * f;
		u128 extra = 2 * (u128)b * s * h * rows[i].experts + (rows[i].topk - 1) * mlp;
		print_message("  row %zu: %s E=%" PRIu64 " topk=%" PRIu64 " every %" PRIu64
		              " ep=%" PRIu64 " %s\n",
		              i, rows[i].mlp, rows[i].experts, rows[i].topk, rows[i].moe_every,
		              rows[i].ep, rows[i].recompute);
		assert_u128_equal(moe.model_flops_per_step,
		                  dense.model_flops_per_step + 3 * mbs * moe_layers * extra);
		u128 hw_extra =
		    (strcmp(rows[i].recompute, "full") ? 3 : 4) * mbs * moe_layers * extra;
		assert_u128_equal(moe.hardware_flops_per_step,
		                  dense.hardware_flops_per_step + hw_extra);
		assert_true(moe.moe.moe && !moe.dense.moe);
		/* parameters: the router and E experts' MLPs instead of one MLP (gelu: two
		 * weights and their biases; swiglu: three weights) */
		uint64_t mlp_whole = strcmp(rows[i].mlp, "gelu") ? 3 * h * f : 2 * h * f + f + h;
		assert_int_equal(moe.moe.params - moe.dense.params,
		                 h * rows[i].experts + (rows[i].experts - 1) * mlp_whole);
		assert_int_equal(moe.dense.params, dense.dense.params);
		assert_int_equal(moe.params_total - dense.params_total,
		                 moe_layers *
		                     (h * rows[i].experts + (rows[i].experts - 1) * mlp_whole));
	}
}

/* ------------------------------------------------------------------------------------------ */
/* What one rank holds: parameters per stage, and memory (ZeRO, activations).                  */

/* A small model, with these settings added (NULL-terminated), resolved at world ranks. */
static void small_job(struct ctx *c, uint64_t world, const char *const *more)
{
	const char *list[24] = {"model.layers=4", "model.hidden=64", "model.heads=4",
	                        "model.seq=32",   "model.vocab=128", "parallel.microbatch=2"};
	int n = 6;

	for (int i = 0; more[i]; i++)
		list[n++] = more[i];
	list[n] = NULL;
	resolved_job(c, world, list);
}

static void test_stage_params(void **state)
{
	struct ctx *c = *state;
	static const struct {
		const char *mlp, *tied;
		uint64_t tp, pp;
	} rows[] = {
	    {"gelu", "yes", 1, 1},   {"gelu", "yes", 2, 1},  {"gelu", "no", 4, 1},
	    {"gelu", "yes", 1, 2},   {"gelu", "no", 2, 4},   {"swiglu", "no", 1, 1},
	    {"swiglu", "yes", 4, 2}, {"swiglu", "no", 2, 2},
	};
	const uint64_t h = 64, s = 32, V = 128, l = 4;

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		char a[64], b[64], t[64], p[64];
		struct tl_model m;
		uint64_t tp = rows[i].tp, pp = rows[i].pp;
		snprintf(a, 64, "model.mlp=%s", rows[i].mlp);
		snprintf(b, 64, "model.tied_embeddings=%s", rows[i].tied);
		snprintf(t, 64, "parallel.tp=%" PRIu64, tp);
		snprintf(p, 64, "parallel.pp=%" PRIu64, pp);
		small_job(c, tp * pp, (const char *const[]){a, b, t, p, NULL});
		build(c, &m);
		bool gpt = !strcmp(rows[i].mlp, "gelu"), tied = !strcmp(rows[i].tied, "yes");
		uint64_t f = c->job.ffn_hidden;
		/* a layer: split weights (and column-parallel biases) over tp, the rest replicated
		 */
		uint64_t layer =
		    gpt ? (4 * h * h + 3 * h) / tp + (8 * h * h + 4 * h) / tp + 6 * h
		        : (h * 3 * h + h * h) / tp + 3 * h * f / tp + 2 * h; /* MHA: q, k, v */
		uint64_t embed = V / tp * h + (gpt ? s * h : 0);
		uint64_t head = (gpt ? 2 * h : h) + (!tied || pp > 1 ? V / tp * h : 0);
		assert_int_equal(m.dense.params_rank, layer);
		assert_int_equal(m.embed_params_rank, embed);
		assert_int_equal(m.head_params_rank, head);
		uint64_t most = 0;
		for (uint64_t st = 0; st < pp; st++) {
			uint64_t expert = 99;
			uint64_t want =
			    l / pp * layer + (st == 0 ? embed : 0) + (st == pp - 1 ? head : 0);
			assert_int_equal(tl_model_stage_params(&m, &c->job, st, &expert), want);
			assert_int_equal(expert, 0);
			if (want > most)
				most = want;
		}
		assert_int_equal(m.params_per_rank, most);
		/* at tp = pp = 1 a rank holds the whole model */
		if (tp == 1 && pp == 1)
			assert_int_equal(m.params_per_rank, m.params_total);
	}
}

/*
 * ZeRO (Rajbhandari et al. 2020): stage 1 shards the optimizer state (12 bytes a parameter:
 * fp32 master weights and two moments) over dp, stage 2 the gradients too, stage 3 the weights
 * too; weights and gradients are in compute_dtype.
 */
static void test_memory_zero(void **state)
{
	struct ctx *c = *state;
	static const char *const dtypes[] = {"f32", "f64"};

	for (uint64_t zero = 0; zero <= 3; zero++)
		for (size_t d = 0; d < ARRAY_LEN(dtypes); d++)
			for (uint64_t dp = 1; dp <= 8; dp *= 2) {
				char z[64], e[64];
				struct tl_model m;
				snprintf(z, 64, "parallel.zero=%" PRIu64, zero);
				snprintf(e, 64, "run.compute_dtype=%s", dtypes[d]);
				small_job(c, dp, (const char *const[]){z, e, NULL});
				build(c, &m);
				uint64_t P = m.params_total, elem = d ? 8 : 4;
				uint64_t w = P * elem, g = P * elem, o = 12 * P;
				if (zero >= 1)
					o = (o + dp - 1) / dp;
				if (zero >= 2)
					g = (g + dp - 1) / dp;
				if (zero >= 3)
					w = (w + dp - 1) / dp;
				if (m.weight_bytes != w || m.grad_bytes != g ||
				    m.optimizer_bytes != o)
					fail_msg("zero %" PRIu64 " %s dp %" PRIu64
					         ": weights %" PRIu64 " grads %" PRIu64
					         " optimizer %" PRIu64 ", expected %" PRIu64
					         " %" PRIu64 " %" PRIu64,
					         zero, dtypes[d], dp, m.weight_bytes, m.grad_bytes,
					         m.optimizer_bytes, w, g, o);
				assert_int_equal(m.memory_bytes_per_rank,
				                 w + g + o + m.activation_bytes);
			}
}

/*
 * Activations one layer keeps for backward, one microbatch (Korthikanti et al. 2022, Table 2,
 * for 2-byte elements; scaled here by elem/2):
 *   none       sbh(10 + 24/t + 5as/(ht))      with sequence parallelism  sbh(34 + 5as/h)/t
 *   selective  sbh(10 + 24/t)                                            34·sbh/t
 *   full       2·sbh                                                     2·sbh/t
 * At tp = 1 and no recompute, sbh(34 + 5as/h). A stage keeps min(pp − stage, m) microbatches of
 * its layers in flight under 1F1B and all m under GPipe; the last stage also holds one
 * microbatch's logits, b·s·(V/t) elements. The largest stage by total memory is reported.
 */
static uint64_t layer_activations(uint64_t s, uint64_t b, uint64_t h, uint64_t a, uint64_t t,
                                  bool sp, const char *recompute, uint64_t elem)
{
	uint64_t sbh = s * b * h, scores = 5 * a * s * s * b, two;

	if (!strcmp(recompute, "full"))
		two = 2 * sbh / (sp ? t : 1);
	else if (!strcmp(recompute, "selective"))
		two = sp ? 34 * sbh / t : 10 * sbh + 24 * sbh / t;
	else
		two = sp ? (34 * sbh + scores) / t : 10 * sbh + 24 * sbh / t + scores / t;
	return two * elem / 2;
}

static void test_activations(void **state)
{
	struct ctx *c = *state;
	static const struct {
		uint64_t tp, pp, accum;
		bool sp;
		const char *recompute, *dtype, *schedule;
	} rows[] = {
	    {1, 1, 1, false, "none", "f32", "1f1b"},
	    {1, 1, 1, false, "none", "f64", "1f1b"},
	    {2, 1, 1, false, "none", "f32", "1f1b"},
	    {4, 1, 2, true, "none", "f32", "1f1b"},
	    {2, 1, 1, false, "selective", "f32", "1f1b"},
	    {4, 1, 1, true, "selective", "f64", "1f1b"},
	    {1, 1, 3, false, "full", "f32", "1f1b"},
	    {2, 1, 1, true, "full", "f32", "1f1b"},
	    {1, 2, 4, false, "none", "f32", "1f1b"},
	    {1, 4, 2, false, "selective", "f32", "1f1b"},
	    {2, 2, 3, true, "none", "f64", "gpipe"},
	    {1, 2, 4, false, "full", "f32", "gpipe"},
	};
	const uint64_t l = 4, h = 64, a = 4, s = 32, V = 128, b = 2;

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		char sets[6][64];
		struct tl_model m;
		uint64_t t = rows[i].tp, pp = rows[i].pp,
		         elem = strcmp(rows[i].dtype, "f64") ? 4 : 8;
		snprintf(sets[0], 64, "parallel.tp=%" PRIu64, t);
		snprintf(sets[1], 64, "parallel.pp=%" PRIu64, pp);
		snprintf(sets[2], 64, "parallel.grad_accum=%" PRIu64, rows[i].accum);
		snprintf(sets[3], 64, "parallel.sequence_parallel=%s", rows[i].sp ? "yes" : "no");
		snprintf(sets[4], 64, "run.recompute=%s", rows[i].recompute);
		snprintf(sets[5], 64, "run.compute_dtype=%s", rows[i].dtype);
		char sched[64];
		snprintf(sched, 64, "parallel.schedule=%s", rows[i].schedule);
		small_job(c, t * pp,
		          (const char *const[]){sets[0], sets[1], sets[2], sets[3], sets[4],
		                                sets[5], sched, NULL});
		build(c, &m);

		uint64_t per_layer =
		    layer_activations(s, b, h, a, t, rows[i].sp, rows[i].recompute, elem);
		if (t == 1 && !strcmp(rows[i].recompute, "none"))
			/* sbh(34 + 5as/h) */
			assert_int_equal(per_layer,
			                 (34 * s * b * h + 5 * a * s * s * b) * elem / 2);
		uint64_t best = 0, best_act = 0;
		for (uint64_t st = 0; st < pp; st++) {
			uint64_t m_all = rows[i].accum;
			uint64_t in_flight = strcmp(rows[i].schedule, "gpipe") ? pp - st : m_all;
			if (in_flight > m_all)
				in_flight = m_all;
			uint64_t act = l / pp * per_layer * in_flight;
			if (st == pp - 1)
				act += b * s * (V / t) * elem;
			uint64_t P = tl_model_stage_params(&m, &c->job, st, NULL);
			uint64_t total = 2 * P * elem + 12 * P + act;
			if (total > best) {
				best = total;
				best_act = act;
			}
		}
		if (m.activation_bytes != best_act || m.memory_bytes_per_rank != best)
			fail_msg("row %zu (tp %" PRIu64 " pp %" PRIu64 " m %" PRIu64
			         " sp %d %s %s %s): activations %" PRIu64 ", expected %" PRIu64
			         "; memory %" PRIu64 ", expected %" PRIu64,
			         i, t, pp, rows[i].accum, rows[i].sp, rows[i].recompute,
			         rows[i].dtype, rows[i].schedule, m.activation_bytes, best_act,
			         m.memory_bytes_per_rank, best);
	}
}

/*
 * ZeRO with experts: dense parameters shard over dp, expert parameters only over the ranks that
 * hold the same experts (the expert-data-parallel group, dp / ep), as the plan's optimizer pass
 * does: memory holds 12 bytes a parameter of the plan's own shard (jobs/mixtral-8x7b.job at 64
 * ranks, dp 16 and ep 8: ~8.8 GB of optimizer state per rank, not the 1.4 GB of sharding all
 * over dp).
 */
static void test_moe_zero_memory(void **state)
{
	struct ctx *c = *state;

	for (uint64_t zero = 1; zero <= 3; zero++) {
		char z[64];
		struct tl_model m;
		struct tl_grid g;
		struct tl_plan p;
		snprintf(z, sizeof(z), "parallel.zero=%" PRIu64, zero);
		resolved_job(c, 8,
		             (const char *const[]){"model.experts=8", "parallel.ep=4", z, NULL});
		build(c, &m);
		tl_grid_init(&g, &c->job, 8, 0);
		assert_int_equal(tl_plan_build(&p, &c->job, &m, &g, 0), 0);
		uint64_t expert, params = tl_model_stage_params(&m, &c->job, 0, &expert);
		uint64_t dp = c->job.dp, edp = dp / c->job.ep, e = m.elem_bytes;
		uint64_t dense = params - expert;
		/* what the plan's optimizer op streams: adam_fused's 16 bytes read and 12
		 * written a parameter of its shard */
		uint64_t shard = (dense + dp - 1) / dp + (expert + edp - 1) / edp;
		uint64_t opt_op = 0;
		for (size_t i = 0; i < p.count; i++)
			if (p.ops[i].kind == TL_OP_OPTIMIZER)
				opt_op = p.ops[i].bytes;
		assert_int_equal(opt_op, (16 + 12) * shard);
		tl_plan_free(&p);
		if (m.optimizer_bytes != 12 * shard)
			fail_msg(
			    "zero %" PRIu64 ": optimizer state %" PRIu64 " bytes per rank, but "
			    "the rank's shard of %" PRIu64 " parameters (dense over dp %" PRIu64
			    ", experts over edp %" PRIu64 ") holds %" PRIu64,
			    zero, m.optimizer_bytes, shard, dp, edp, 12 * shard);
		uint64_t sharded = (dense * e + dp - 1) / dp + (expert * e + edp - 1) / edp;
		assert_int_equal(m.grad_bytes, zero >= 2 ? sharded : params * e);
		assert_int_equal(m.weight_bytes, zero >= 3 ? sharded : params * e);
	}
}

/*
 * The optimizer's bytes per parameter (include/trainload/model.h). State (weights, moments,
 * momentum) is fp32, f64 in f64 runs; gradients are in compute_dtype; a 16-bit run also copies
 * the updated fp32 weights into its 16-bit ones (reads 4, writes 2). Counted by hand:
 *   adam_fused   read w, g, m, v; write w, m, v:           f32 16 + 12   bf16 (12+2+4) + (12+2)
 *   adam_unfused m.mul_(b1): m r,w; m.add_(g): m r, g r, m w; v.mul_(b2): v r,w;
 *                v.addcmul_(g, g): v r, g r, v w; t = v.sqrt(): v r, t w; t / c2: t r, t w;
 *                t.add_(eps): t r,w; w.addcdiv_(m, t): w r, m r, t r, w w
 *                = reads w 1, g 2, m 3, v 3, t 3 (10 state + 2 g); writes w 1, m 2, v 2, t 3 (8)
 *                                                          f32 48 + 32   bf16 (40+4+4) + (32+2)
 *   sgd          b.mul_(mu): b r,w; b.add_(g): b r, g r, b w; w.add_(b): w r, b r, w w
 *                = reads w 1, g 1, b 3; writes w 1, b 2      f32 20 + 12   bf16 (16+2+4) + (12+2)
 * and f64: fused 32 + 24, unfused 96 + 64, sgd 40 + 24. Optimizer memory per parameter:
 * Adam 12 (master weights and two moments), SGD 8.
 */
static void test_optimizer_bytes(void **state)
{
	struct ctx *c = *state;
	static const struct {
		const char *optimizer, *dtype;
		uint64_t read, written, state;
	} rows[] = {
	    {"adam_fused", "f32", 16, 12, 12},
	    {"adam_unfused", "f32", 48, 32, 12},
	    {"sgd", "f32", 20, 12, 8},
	    {"adam_fused", "bf16", 18, 14, 12},
	    {"adam_unfused", "bf16", 48, 34, 12},
	    {"sgd", "bf16", 22, 14, 8},
	    {"adam_fused", "f64", 32, 24, 12},
	    {"adam_unfused", "f64", 96, 64, 12},
	    {"sgd", "f64", 40, 24, 8},
	};

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		char o[64], d[64], b[64];
		struct tl_model m;
		snprintf(o, sizeof(o), "run.optimizer=%s", rows[i].optimizer);
		snprintf(d, sizeof(d), "run.compute_dtype=%s", rows[i].dtype);
		snprintf(b, sizeof(b), "run.backend=%s",
		         strcmp(rows[i].dtype, "bf16") ? "cpu" : "cuda");
		resolved_job(c, 1, (const char *const[]){o, d, b, NULL});
		build(c, &m);
		if (m.optimizer_read_per_param != rows[i].read ||
		    m.optimizer_written_per_param != rows[i].written)
			fail_msg("%s %s: %" PRIu64 " read, %" PRIu64 " written per parameter, "
			         "expected %" PRIu64 ", %" PRIu64,
			         rows[i].optimizer, rows[i].dtype, m.optimizer_read_per_param,
			         m.optimizer_written_per_param, rows[i].read, rows[i].written);
		assert_int_equal(tl_optimizer_state_bytes(&c->job), rows[i].state);
		/* one rank holds every parameter: its optimizer memory is state × params */
		assert_int_equal(m.optimizer_bytes, rows[i].state * m.params_total);
	}
}

/*
 * The elementwise passes' byte model (src/model.c, docs/step.md), per layer and microbatch on
 * one rank, in tensors of its size read or written (E = element bytes, masks one byte each):
 *                      megatron (fwd, bwd)         none (fwd, bwd)
 *   norm               2X, 3X                      LayerNorm 2X, 3X; RMSNorm 7X, 15X
 *   act gelu / swiglu  2F, 3F / 3F, 5F             4F, 4F / 5F, 9F
 *   softmax            2S, 3S                      6S + S mask, 7S + S mask
 *   attention dropout  2S + S mask each way (dropout > 0 only)
 *   residual           3X, 3X; dropout: +X mask,   gpt 5X, 4X; llama 3X, 3X
 *                      +2X + X mask backward
 *   hidden dropout     (fused)                     2X + X mask each way (dropout > 0)
 * with X = b·(s/cp)·h (÷ tp with sequence parallelism), F = b·(s/cp)·f/tp, S = b·(a/tp)·(s/cp)².
 * The embedding: 2X' forward, 3X' backward, GPT positions +5X', +3X', dropout +2X' and a mask
 * each way, X' = b·(s/cp)·h; the loss over L = b·(s/cp)·V/tp logits: megatron 3L, 2L; none
 * 2L, 4L.
 */
static void test_pass_bytes(void **state)
{
	struct ctx *c = *state;
	static const struct {
		const char *what, *sets[8];
		uint64_t norm[2], act[2], softmax[2], adrop[2], residual[2], hdrop[2], embed[2],
		    loss[2];
	} rows[] = {
	    /* default job, b 1: X = 256·256 = 65536, F = 256·1024, S = 8·256², L = 256·8192,
	     * E = 4 */
	    {"gelu megatron",
	     {NULL},
	     {2 * 65536 * 4, 3 * 65536 * 4},
	     {2 * 262144 * 4, 3 * 262144 * 4},
	     {2 * 524288 * 4, 3 * 524288 * 4},
	     {0, 0},
	     {3 * 65536 * 4, 3 * 65536 * 4},
	     {0, 0},
	     {7 * 65536 * 4, 6 * 65536 * 4},
	     {3 * 2097152 * 4, 2 * 2097152 * 4}},
	    {"gelu none",
	     {"run.fusion=none", NULL},
	     {2 * 65536 * 4, 3 * 65536 * 4},
	     {4 * 262144 * 4, 4 * 262144 * 4},
	     {(6 * 4 + 1) * 524288, (7 * 4 + 1) * 524288},
	     {0, 0},
	     {5 * 65536 * 4, 4 * 65536 * 4},
	     {0, 0},
	     {7 * 65536 * 4, 6 * 65536 * 4},
	     {2 * 2097152 * 4, 4 * 2097152 * 4}},
	    {"gelu megatron dropout",
	     {"model.dropout=0.1", NULL},
	     {2 * 65536 * 4, 3 * 65536 * 4},
	     {2 * 262144 * 4, 3 * 262144 * 4},
	     {2 * 524288 * 4, 3 * 524288 * 4},
	     {(2 * 4 + 1) * 524288, (2 * 4 + 1) * 524288},
	     {(3 * 4 + 1) * 65536, (5 * 4 + 1) * 65536},
	     {0, 0},
	     {(9 * 4 + 1) * 65536, (8 * 4 + 1) * 65536},
	     {3 * 2097152 * 4, 2 * 2097152 * 4}},
	    {"gelu none dropout",
	     {"run.fusion=none", "model.dropout=0.5", NULL},
	     {2 * 65536 * 4, 3 * 65536 * 4},
	     {4 * 262144 * 4, 4 * 262144 * 4},
	     {(6 * 4 + 1) * 524288, (7 * 4 + 1) * 524288},
	     {(2 * 4 + 1) * 524288, (2 * 4 + 1) * 524288},
	     {5 * 65536 * 4, 4 * 65536 * 4},
	     {(2 * 4 + 1) * 65536, (2 * 4 + 1) * 65536},
	     {(9 * 4 + 1) * 65536, (8 * 4 + 1) * 65536},
	     {2 * 2097152 * 4, 4 * 2097152 * 4}},
	    /* swiglu h 256, f 768, 2 kv heads: F = 256·768 */
	    {"swiglu megatron",
	     {"model.mlp=swiglu", "model.kv_heads=2", NULL},
	     {2 * 65536 * 4, 3 * 65536 * 4},
	     {3 * 196608 * 4, 5 * 196608 * 4},
	     {2 * 524288 * 4, 3 * 524288 * 4},
	     {0, 0},
	     {3 * 65536 * 4, 3 * 65536 * 4},
	     {0, 0},
	     {2 * 65536 * 4, 3 * 65536 * 4},
	     {3 * 2097152 * 4, 2 * 2097152 * 4}},
	    {"swiglu none",
	     {"model.mlp=swiglu", "run.fusion=none", NULL},
	     {7 * 65536 * 4, 15 * 65536 * 4},
	     {5 * 196608 * 4, 9 * 196608 * 4},
	     {(6 * 4 + 1) * 524288, (7 * 4 + 1) * 524288},
	     {0, 0},
	     {3 * 65536 * 4, 3 * 65536 * 4},
	     {0, 0},
	     {2 * 65536 * 4, 3 * 65536 * 4},
	     {2 * 2097152 * 4, 4 * 2097152 * 4}},
	    /* tp 2 with sequence parallelism, cp 2, f64: X = 128·256/2, F = 128·1024/2,
	     * S = 4·128², X' = 128·256, L = 128·4096, E = 8 */
	    {"tp 2 sp cp 2 f64",
	     {"parallel.tp=2", "parallel.cp=2", "parallel.sequence_parallel=yes",
	      "run.compute_dtype=f64", NULL},
	     {2 * 16384 * 8, 3 * 16384 * 8},
	     {2 * 65536 * 8, 3 * 65536 * 8},
	     {2 * 65536 * 8, 3 * 65536 * 8},
	     {0, 0},
	     {3 * 16384 * 8, 3 * 16384 * 8},
	     {0, 0},
	     {7 * 32768 * 8, 6 * 32768 * 8},
	     {3 * 524288 * 8, 2 * 524288 * 8}},
	};

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		struct tl_model m;
		resolved_job(c, 4, rows[i].sets);
		build(c, &m);
		const struct tl_layer *L = &m.dense;
		const struct tl_pass_bytes *got[] = {
		    &L->norm,           &L->act,  &L->softmax, &L->attn_dropout, &L->residual,
		    &L->hidden_dropout, &m.embed, &m.loss};
		const uint64_t *want[] = {rows[i].norm,  rows[i].act,      rows[i].softmax,
		                          rows[i].adrop, rows[i].residual, rows[i].hdrop,
		                          rows[i].embed, rows[i].loss};
		static const char *const names[] = {"norm",         "act",      "softmax",
		                                    "attn dropout", "residual", "hidden dropout",
		                                    "embed",        "loss"};
		for (size_t k = 0; k < ARRAY_LEN(got); k++)
			if (got[k]->fwd != want[k][0] || got[k]->bwd != want[k][1])
				fail_msg("%s: %s moves %" PRIu64 " / %" PRIu64
				         " bytes, expected %" PRIu64 " / %" PRIu64,
				         rows[i].what, names[k], got[k]->fwd, got[k]->bwd,
				         want[k][0], want[k][1]);
		assert_memory_equal(&m.final_norm, &L->norm, sizeof(L->norm));
	}
}

/*
 * Context parallelism: a rank holds s/cp tokens of each sequence; its attention runs in cp
 * blocks of (s/cp)², so it executes 1/cp of the layer's attention FLOPs, counted as Megatron
 * counts them (the full s² product, causal masking not taken off). One ring step carries K and V
 * of its tokens: 2·b·(s/cp)·(h·a_kv/a)/tp elements. Model FLOPs (whole model) do not change.
 */
static void test_cp_model(void **state)
{
	struct ctx *c = *state;
	struct tl_model one, m;

	resolved_job(c, 4,
	             (const char *const[]){"model.mlp=swiglu", "model.kv_heads=2", "parallel.tp=2",
	                                   "parallel.microbatch=2", NULL});
	build(c, &one);
	resolved_job(c, 8,
	             (const char *const[]){"model.mlp=swiglu", "model.kv_heads=2", "parallel.tp=2",
	                                   "parallel.microbatch=2", "parallel.cp=4", NULL});
	build(c, &m);
	uint64_t b = 2, s = 256, cp = 4, h = 256, a = 8, kv = 2, tp = 2;
	assert_int_equal(m.tokens, b * s / cp);
	assert_int_equal(m.cp_bytes, 2 * b * (s / cp) * (h * kv / a) / tp * 4);
	assert_int_equal(one.cp_bytes, 0);
	/* one block: (s/cp)² scores of head_dim 32, b·a/tp of them */
	const struct tl_gemm *sc = &m.dense.attn[1], *av = &m.dense.attn[2];
	assert_true(sc->m == s / cp && sc->n == s / cp && sc->k == 32 && sc->batch == b * a / tp);
	assert_true(av->m == s / cp && av->n == 32 && av->k == s / cp);
	/* cp blocks: 1/cp of the attention of one rank without context parallelism */
	assert_u128_equal((u128)cp * (tl_gemm_flops(sc) + tl_gemm_flops(av)),
	                  (tl_gemm_flops(&one.dense.attn[1]) + tl_gemm_flops(&one.dense.attn[2])) /
	                      cp);
	/* the rest of the layer and the logits: 1/cp of the tokens */
	assert_int_equal(m.dense.attn[0].m, one.dense.attn[0].m / cp);
	assert_int_equal(m.logits.m, one.logits.m / cp);
	assert_int_equal(m.tp_bytes, one.tp_bytes / cp);
	/* the whole model's FLOPs, for dp 1 against dp 2: half the sequences */
	assert_u128_equal(m.model_flops_per_step * 2, one.model_flops_per_step);
	/* ZeRO-1 shards the optimizer state over the dp·cp ranks that hold the same weights */
	resolved_job(c, 8, (const char *const[]){"parallel.cp=4", "parallel.zero=1", NULL});
	build(c, &m);
	assert_int_equal(m.optimizer_bytes, (12 * m.params_total + 7) / 8);
}

/*
 * The interleaved schedule's warm-up (Megatron-LM: 2·(pp − 1 − stage) + (v − 1)·pp, at most
 * m·v; all m·v when m = pp) and bubble (pp − 1)/(v·m), against 1F1B's pp − 1 − stage and
 * (pp − 1)/m.
 */
static void test_interleaved_model(void **state)
{
	struct ctx *c = *state;
	struct tl_model m;

	resolved_job(c, 4,
	             (const char *const[]){
	                 "model.layers=16", "parallel.pp=4", "parallel.schedule=interleaved",
	                 "parallel.virtual_stages=2", "parallel.grad_accum=8", NULL});
	build(c, &m);
	assert_int_equal(m.chunks, 2);
	assert_true(m.bubble_fraction == 3.0 / 16.0);
	static const uint64_t warm[] = {10, 8, 6, 4};
	for (uint64_t s = 0; s < 4; s++)
		assert_int_equal(tl_model_warmup(&m, &c->job, s), warm[s]);
	/* stage 1 holds layers 2, 3 (chunk 0) and 10, 11 (chunk 1) */
	static const uint64_t layers[] = {2, 3, 10, 11};
	for (uint64_t i = 0; i < 4; i++) {
		assert_int_equal(tl_model_stage_layer(&m, &c->job, 1, i), layers[i]);
		assert_int_equal(tl_model_layer_slot(&m, &c->job, layers[i]), i);
	}
	/* m = pp: every forward first */
	resolved_job(c, 4,
	             (const char *const[]){
	                 "model.layers=16", "parallel.pp=4", "parallel.schedule=interleaved",
	                 "parallel.virtual_stages=2", "parallel.grad_accum=4", NULL});
	build(c, &m);
	assert_int_equal(tl_model_warmup(&m, &c->job, 3), 8);
	assert_true(m.bubble_fraction == 3.0 / 8.0);
	resolved_job(c, 4,
	             (const char *const[]){"model.layers=16", "parallel.pp=4",
	                                   "parallel.grad_accum=8", NULL});
	build(c, &m);
	assert_true(m.bubble_fraction == 3.0 / 8.0);
	assert_int_equal(tl_model_warmup(&m, &c->job, 1), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)
	    T(test_model_flops_closed_form),
	    T(test_flops_beyond_64_bits),
	    T(test_full_recompute),
	    T(test_selective_recompute),
	    T(test_gpt_params),
	    T(test_llama_params),
	    T(test_general_flops),
	    T(test_layer_gemms),
	    T(test_overflow),
	    T(test_flops_128_bit_wrap),
	    T(test_plan_size_bound),
	    T(test_shipped_jobs),
	    T(test_moe_flops),
	    T(test_stage_params),
	    T(test_memory_zero),
	    T(test_activations),
	    T(test_moe_zero_memory),
	    T(test_optimizer_bytes),
	    T(test_pass_bytes),
	    T(test_cp_model),
	    T(test_interleaved_model),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
