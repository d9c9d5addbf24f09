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
    {"GPT-3 175B", 96, 12288, 96, 2048, 51200, 1536, 1, 1},
    {"GPT-3 175B, 64 dp ranks", 96, 12288, 96, 2048, 51200, 1536, 2, 64},
    {"Megatron 1T", 128, 25600, 160, 2048, 51200, 3072, 1, 1},
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
		/* dp ranks share the step evenly (tp = pp = 1) */
		assert_u128_equal(m.flops_per_rank_per_step * x->world, m.model_flops_per_step);
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
		assert_int_equal(m.params_per_layer, 12 * h * h + 13 * h);
		assert_int_equal(m.params_per_rank, m.params_total); /* tp = pp = 1 */

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
		assert_int_equal(m.layer_gemms, strcmp(rows[i].mlp, "swiglu") ? 6 : 7);
	}
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
	assert_int_equal(m.layer_gemms, 6);
	for (int i = 0; i < 6; i++)
		assert_string_equal(m.layer[i].name, gelu[i]);
	/* shapes, C[m×n] = A[m×k]·B[k×n] */
	const struct tl_gemm *g = m.layer;
	uint64_t tok = 2 * 256;
	assert_true(g[0].m == tok && g[0].n == 3 * 256 && g[0].k == 256 && g[0].batch == 1);
	assert_true(g[1].m == 256 && g[1].n == 256 && g[1].k == 32 && g[1].batch == 2 * 8);
	assert_true(g[2].m == 256 && g[2].n == 32 && g[2].k == 256 && g[2].batch == 2 * 8);
	assert_true(g[3].m == tok && g[3].n == 256 && g[3].k == 256);
	assert_true(g[4].m == tok && g[4].n == 1024 && g[4].k == 256);
	assert_true(g[5].m == tok && g[5].n == 256 && g[5].k == 1024);
	assert_true(g[0].weight && !g[1].weight && !g[2].weight && g[3].weight && g[4].weight &&
	            g[5].weight);
	assert_true(!g[0].attn_core && g[1].attn_core && g[2].attn_core && !g[3].attn_core &&
	            !g[4].attn_core && !g[5].attn_core);
	assert_true(m.logits.m == tok && m.logits.n == 8192 && m.logits.k == 256 &&
	            m.logits.weight);
	assert_int_equal(m.elem_bytes, 4);
	assert_int_equal(m.comm_elem_bytes, 4);
	assert_u128_equal(tl_gemm_flops(&g[1]), (u128)2 * 256 * 256 * 32 * 16);

	resolved_job(c, 1,
	             (const char *const[]){"model.mlp=swiglu", "model.kv_heads=2",
	                                   "run.compute_dtype=f64", NULL});
	build(c, &m);
	assert_int_equal(m.layer_gemms, 7);
	for (int i = 0; i < 7; i++)
		assert_string_equal(m.layer[i].name, swiglu[i]);
	assert_int_equal(m.layer[0].n, (8 + 2 * 2) * 32); /* q plus k and v of 2 kv heads */
	assert_int_equal(m.layer[4].n, 768);              /* ffn auto for swiglu h=256 */
	assert_int_equal(m.elem_bytes, 8);
	assert_int_equal(m.comm_elem_bytes, 8);

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
	    /* parameters × 16 bytes of optimizer state */
	    (const char *const[]){"model.layers=4Gi", "model.hidden=64k", "model.heads=1", NULL},
	};

	for (size_t i = 0; i < ARRAY_LEN(absurd); i++) {
		struct tl_model m;
		resolved_job(c, 1, absurd[i]);
		int rc = tl_model_build(&m, &c->job, &c->diag);
		if (rc != TL_EINPUT)
			fail_msg("row %zu: absurd sizes accepted", i);
		expect_msgs(
		    &c->diag,
		    "built-in default job: the model's sizes overflow 64-bit byte or FLOP "
		    "counts (check hidden, seq, vocab, layers, microbatch and global_batch)");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)
	    T(test_model_flops_closed_form), T(test_flops_beyond_64_bits), T(test_full_recompute),
	    T(test_selective_recompute),     T(test_gpt_params),           T(test_llama_params),
	    T(test_general_flops),           T(test_layer_gemms),          T(test_overflow),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
