/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The job module: job-file parsing (tl_job_parse_stream, tl_job_parse_file), --set overrides
 * (tl_job_set), the option table's defaults, the resolved job's JSON and tl_job_resolve's
 * combination checks. Messages are compared with what src/job.c and src/job_resolve.c write,
 * exactly where the whole message is fixed, by substring where a part depends on the system.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tl_test.h"

/* ---------------------------------------------------------------------------------------- */
/* Values every option type accepts, through a job file and through --set.                  */

struct good_value {
	const char *section, *key, *text;
	uint64_t u;    /* TL_OPT_UINT; TL_OPT_BOOL (0/1); TL_OPT_ENUM (the enum value) */
	double d;      /* TL_OPT_DOUBLE */
	const char *s; /* TL_OPT_STR */
};

static const struct good_value good_values[] = {
    /* unsigned integers, at and inside their limits */
    {"run", "steps", "1", .u = 1},
    {"run", "steps", "10", .u = 10},
    {"run", "steps", "007", .u = 7},
    {"run", "steps", "1073741824", .u = UINT64_C(1) << 30},
    {"run", "warmup", "0", .u = 0},
    {"parallel", "zero", "0", .u = 0},
    {"parallel", "zero", "3", .u = 3},
    {"model", "layers", "4294967296", .u = UINT64_C(1) << 32},
    {"parallel", "tp", "4294967296", .u = TL_MAX_RANKS},
    {"parallel", "ep", "4Gi", .u = TL_MAX_RANKS},
    {"sweep", "factor", "2", .u = 2},
    {"sweep", "factor", "1024", .u = 1024},
    {"run", "threads_per_rank", "4096", .u = 4096},
    /* suffixes: powers of 1000 and of 1024, exact */
    {"model", "vocab", "2k", .u = 2000},
    {"model", "vocab", "3M", .u = 3000000},
    {"model", "vocab", "4G", .u = UINT64_C(4000000000)},
    {"sweep", "max_bytes", "1T", .u = UINT64_C(1000000000000)},
    {"sweep", "min_bytes", "1Ki", .u = 1024},
    {"sweep", "min_bytes", "8Ki", .u = 8192},
    {"sweep", "max_bytes", "64Mi", .u = 67108864},
    {"sweep", "max_bytes", "3Gi", .u = UINT64_C(3221225472)},
    {"sweep", "max_bytes", "1Ti", .u = UINT64_C(1099511627776)},
    {"run", "steps", "1Gi", .u = UINT64_C(1073741824)},
    {"model", "layers", "4Gi", .u = UINT64_C(4294967296)},
    {"parallel", "bucket_mb", "1Mi", .u = 1048576},
    {"sweep", "factor", "1Ki", .u = 1024},
    {"model", "hidden", "0k", .u = 0}, /* parses; the range check below refuses it */
    /* auto, on the keys that take it (any case), and a number on the same keys */
    {"parallel", "dp", "auto", .u = 0},
    {"parallel", "dp", "AUTO", .u = 0},
    {"parallel", "dp", "7", .u = 7},
    {"model", "kv_heads", "auto", .u = 0},
    {"model", "ffn_hidden", "Auto", .u = 0},
    {"parallel", "global_batch", "auto", .u = 0},
    {"parallel", "grad_accum", "auto", .u = 0},
    {"run", "threads_per_rank", "auto", .u = 0},
    /* booleans: every accepted spelling */
    {"model", "tied_embeddings", "yes", .u = 1},
    {"model", "tied_embeddings", "no", .u = 0},
    {"model", "tied_embeddings", "true", .u = 1},
    {"model", "tied_embeddings", "false", .u = 0},
    {"model", "tied_embeddings", "on", .u = 1},
    {"model", "tied_embeddings", "off", .u = 0},
    {"model", "tied_embeddings", "1", .u = 1},
    {"model", "tied_embeddings", "0", .u = 0},
    {"model", "tied_embeddings", "YES", .u = 1},
    {"model", "tied_embeddings", "False", .u = 0},
    {"parallel", "sequence_parallel", "on", .u = 1},
    {"parallel", "overlap", "off", .u = 0},
    /* enums */
    {"model", "mlp", "swiglu", .u = TL_MLP_SWIGLU},
    {"model", "mlp", "GELU", .u = TL_MLP_GELU},
    {"parallel", "schedule", "gpipe", .u = TL_SCHEDULE_GPIPE},
    {"parallel", "schedule", "1f1b", .u = TL_SCHEDULE_1F1B},
    {"parallel", "schedule", "interleaved", .u = TL_SCHEDULE_INTERLEAVED},
    {"parallel", "virtual_stages", "4", .u = 4},
    {"parallel", "bucket_policy", "ddp", .u = TL_BUCKETS_DDP},
    {"parallel", "bucket_policy", "Megatron", .u = TL_BUCKETS_MEGATRON},
    {"run", "optimizer", "adam_unfused", .u = TL_OPTIMIZER_ADAM_UNFUSED},
    {"run", "optimizer", "sgd", .u = TL_OPTIMIZER_SGD},
    {"run", "fusion", "none", .u = TL_FUSION_NONE},
    {"run", "compute_dtype", "f64", .u = TL_DTYPE_F64},
    {"run", "compute_dtype", "bf16", .u = TL_DTYPE_BF16},
    {"run", "compute_dtype", "f16", .u = TL_DTYPE_F16},
    {"run", "comm_dtype", "same", .u = TL_DTYPE_SAME},
    {"run", "comm_dtype", "bf16", .u = TL_DTYPE_BF16},
    {"run", "recompute", "selective", .u = TL_RECOMPUTE_SELECTIVE},
    {"run", "recompute", "full", .u = TL_RECOMPUTE_FULL},
    {"run", "memory", "lean", .u = TL_MEMORY_LEAN},
    {"run", "backend", "null", .u = TL_BACKEND_NULL},
    {"run", "backend", "cuda", .u = TL_BACKEND_CUDA},
    {"run", "bind", "numa", .u = TL_BIND_NUMA},
    {"run", "bind", "none", .u = TL_BIND_NONE},
    {"sweep", "group", "ep", .u = TL_GROUP_EP},
    {"sweep", "group", "cp", .u = TL_GROUP_CP},
    /* strings */
    {"model", "name", "llama-3-8b", .s = "llama-3-8b"},
    {"model", "name", "my model", .s = "my model"},
    {"model", "name", "x23456789012345678901234567890123456789012345678901234567890123",
     .s = "x23456789012345678901234567890123456789012345678901234567890123"},
    {"sweep", "op", "allreduce,allgather", .s = "allreduce,allgather"},
    /* numbers */
    {"run", "straggler_pct", "0", .d = 0.0},
    {"run", "straggler_pct", "1000", .d = 1000.0},
    {"run", "straggler_pct", "2.5", .d = 2.5},
    {"run", "straggler_pct", "1e2", .d = 100.0},
    {"run", "straggler_pct", "0.001", .d = 0.001},
    {"model", "dropout", "0.1", .d = 0.1},
    {"model", "dropout", "1", .d = 1.0},
};

static void check_good_value(const struct tl_job *job, const struct good_value *g, const char *how)
{
	const struct tl_option *o = tl_job_option(g->section, g->key);
	const void *p;

	assert_non_null(o);
	p = (const char *)job + o->off;
	switch (o->type) {
	case TL_OPT_UINT:
		if (*(const uint64_t *)p != g->u)
			fail_msg("%s %s.%s=%s stored %" PRIu64 ", expected %" PRIu64, how,
			         g->section, g->key, g->text, *(const uint64_t *)p, g->u);
		break;
	case TL_OPT_BOOL:
		if (*(const bool *)p != (g->u != 0))
			fail_msg("%s %s.%s=%s stored %d", how, g->section, g->key, g->text,
			         *(const bool *)p);
		break;
	case TL_OPT_ENUM:
		if ((uint64_t) * (const int *)p != g->u)
			fail_msg("%s %s.%s=%s stored %d, expected %d", how, g->section, g->key,
			         g->text, *(const int *)p, (int)g->u);
		break;
	case TL_OPT_STR:
		if (strcmp((const char *)p, g->s))
			fail_msg("%s %s.%s=%s stored '%s'", how, g->section, g->key, g->text,
			         (const char *)p);
		break;
	case TL_OPT_DOUBLE:
		if (*(const double *)p != g->d)
			fail_msg("%s %s.%s=%s stored %.17g, expected %.17g", how, g->section,
			         g->key, g->text, *(const double *)p, g->d);
		break;
	}
}

/* "0k" parses to 0, which hidden's range (1..) refuses: the one row that must fail. */
static bool good_row_in_range(const struct good_value *g)
{
	return strcmp(g->key, "hidden") != 0;
}

static void test_good_values_in_file(void **state)
{
	struct ctx *c = *state;
	char text[256];

	for (size_t i = 0; i < ARRAY_LEN(good_values); i++) {
		const struct good_value *g = &good_values[i];
		ctx_reset(c);
		snprintf(text, sizeof(text), "# row %zu\n[%s]\n%s = %s\n", i, g->section, g->key,
		         g->text);
		int rc = parse_str(c, text);
		if (!good_row_in_range(g)) {
			assert_int_equal(rc, TL_EINPUT);
			expect_msgs(&c->diag, "t.job:3: key 'hidden' in [model] is 0, outside its "
			                      "range 1..4294967296");
			continue;
		}
		if (rc != 0) {
			diag_dump(&c->diag);
			fail_msg("row %zu: %s.%s = %s refused", i, g->section, g->key, g->text);
		}
		assert_int_equal(c->diag.count, 0);
		check_good_value(&c->job, g, "file");
		/* The option now remembers its line. */
		char w[128];
		assert_string_equal(
		    tl_job_where(&c->job, tl_job_option(g->section, g->key), w, sizeof(w)),
		    "t.job:3");
	}
}

static void test_good_values_by_set(void **state)
{
	struct ctx *c = *state;
	char text[256], w[128];

	for (size_t i = 0; i < ARRAY_LEN(good_values); i++) {
		const struct good_value *g = &good_values[i];
		if (!good_row_in_range(g))
			continue;
		ctx_reset(c);
		snprintf(text, sizeof(text), "%s.%s=%s", g->section, g->key, g->text);
		if (tl_job_set(&c->job, text, &c->diag) != 0) {
			diag_dump(&c->diag);
			fail_msg("row %zu: --set %s refused", i, text);
		}
		assert_int_equal(c->diag.count, 0);
		check_good_value(&c->job, g, "--set");
		snprintf(text, sizeof(text), "--set %s.%s", g->section, g->key);
		assert_string_equal(
		    tl_job_where(&c->job, tl_job_option(g->section, g->key), w, sizeof(w)), text);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Values refused, with the message after "where: ".                                         */

struct bad_value {
	const char *section, *key, *text, *why;
};

#define SUFFIXES                                                                                   \
	"unknown suffix (use k, M, G, T for powers of 1000, Ki, Mi, Gi, Ti for powers of 1024)"
#define NOT_UINT "expected an unsigned integer (suffixes k, M, G, T, Ki, Mi, Gi, Ti allowed)"
#define WHOLE                                                                                      \
	"expected a whole number: a fraction or an exponent is not accepted (write 1e3 as 1000 or "  \
	"1k)"
#define HEX "hexadecimal is not accepted: write the number in decimal"

static const struct bad_value bad_values[] = {
    /* ranges: just outside min and max */
    {"run", "steps", "0", "key 'steps' in [run] is 0, outside its range 1..1073741824"},
    {"run", "steps", "1073741825",
     "key 'steps' in [run] is 1073741825, outside its range 1..1073741824"},
    {"run", "steps", "2Gi", "key 'steps' in [run] is 2147483648, outside its range 1..1073741824"},
    {"parallel", "zero", "4", "key 'zero' in [parallel] is 4, outside its range 0..3"},
    {"model", "layers", "0", "key 'layers' in [model] is 0, outside its range 1..4294967296"},
    {"model", "layers", "4294967297",
     "key 'layers' in [model] is 4294967297, outside its range 1..4294967296"},
    {"model", "layers", "5G",
     "key 'layers' in [model] is 5000000000, outside its range 1..4294967296"},
    {"parallel", "tp", "4294967297",
     "key 'tp' in [parallel] is 4294967297, outside its range 1..4294967296"},
    {"parallel", "dp", "0",
     "key 'dp' in [parallel] is 0, outside its range 1..4294967296 (or auto)"},
    {"run", "threads_per_rank", "4097",
     "key 'threads_per_rank' in [run] is 4097, outside its range 1..4096 (or auto)"},
    {"sweep", "factor", "1", "key 'factor' in [sweep] is 1, outside its range 2..1024"},
    {"sweep", "factor", "1025", "key 'factor' in [sweep] is 1025, outside its range 2..1024"},
    {"sweep", "max_bytes", "1099511627777",
     "key 'max_bytes' in [sweep] is 1099511627777, outside its range 1..1099511627776"},
    {"sweep", "max_bytes", "16777215Ti",
     "key 'max_bytes' in [sweep] is 18446742974197923840, outside its range "
     "1..1099511627776"},
    {"parallel", "bucket_mb", "1048577",
     "key 'bucket_mb' in [parallel] is 1048577, outside its range 1..1048576"},
    /* 64-bit overflow, of the digits and of the suffix's product */
    {"run", "steps", "18446744073709551615",
     "key 'steps' in [run] is 18446744073709551615, outside its range 1..1073741824"},
    {"run", "steps", "18446744073709551616",
     "bad value '18446744073709551616' for key 'steps' in [run]: does not fit in 64 bits"},
    {"run", "steps", "99999999999999999999",
     "bad value '99999999999999999999' for key 'steps' in [run]: does not fit in 64 bits"},
    {"sweep", "max_bytes", "20000000000G",
     "bad value '20000000000G' for key 'max_bytes' in [sweep]: does not fit in 64 bits"},
    {"sweep", "max_bytes", "17179869184Gi",
     "bad value '17179869184Gi' for key 'max_bytes' in [sweep]: does not fit in 64 bits"},
    {"sweep", "max_bytes", "16777216Ti",
     "bad value '16777216Ti' for key 'max_bytes' in [sweep]: does not fit in 64 bits"},
    {"sweep", "max_bytes", "18446744073709552T",
     "bad value '18446744073709552T' for key 'max_bytes' in [sweep]: does not fit in 64 bits"},
    /* suffixes that do not exist */
    {"sweep", "max_bytes", "16Ei", "bad value '16Ei' for key 'max_bytes' in [sweep]: " SUFFIXES},
    {"sweep", "max_bytes", "2K", "bad value '2K' for key 'max_bytes' in [sweep]: " SUFFIXES},
    {"sweep", "max_bytes", "64mi", "bad value '64mi' for key 'max_bytes' in [sweep]: " SUFFIXES},
    {"sweep", "max_bytes", "64MiB", "bad value '64MiB' for key 'max_bytes' in [sweep]: " SUFFIXES},
    {"sweep", "max_bytes", "10 k", "bad value '10 k' for key 'max_bytes' in [sweep]: " SUFFIXES},
    /* fractions, exponents and hexadecimal are named for what they are */
    {"sweep", "max_bytes", "1.5k", "bad value '1.5k' for key 'max_bytes' in [sweep]: " WHOLE},
    {"run", "steps", "2.5", "bad value '2.5' for key 'steps' in [run]: " WHOLE},
    {"run", "steps", "1e3", "bad value '1e3' for key 'steps' in [run]: " WHOLE},
    {"run", "steps", "1E+3", "bad value '1E+3' for key 'steps' in [run]: " WHOLE},
    {"sweep", "max_bytes", "0x10", "bad value '0x10' for key 'max_bytes' in [sweep]: " HEX},
    {"run", "straggler_pct", "0x10",
     "bad value '0x10' for key 'straggler_pct' in [run]: expected a decimal number "
     "(hexadecimal is not accepted)"},
    {"run", "straggler_pct", "inf",
     "bad value 'inf' for key 'straggler_pct' in [run]: expected a number"},
    /* negative numbers and non-numbers */
    {"run", "steps", "-1",
     "bad value '-1' for key 'steps' in [run]: negative values are not allowed"},
    {"run", "steps", "-5k",
     "bad value '-5k' for key 'steps' in [run]: negative values are not allowed"},
    {"parallel", "dp", "-2",
     "bad value '-2' for key 'dp' in [parallel]: negative values are not allowed"},
    {"run", "steps", "abc", "bad value 'abc' for key 'steps' in [run]: " NOT_UINT},
    {"run", "steps", "+5", "bad value '+5' for key 'steps' in [run]: " NOT_UINT},
    {"run", "steps", "k", "bad value 'k' for key 'steps' in [run]: " NOT_UINT},
    /* auto only where the table allows it */
    {"run", "steps", "auto", "bad value 'auto' for key 'steps' in [run]: " NOT_UINT},
    {"parallel", "tp", "auto", "bad value 'auto' for key 'tp' in [parallel]: " NOT_UINT},
    {"model", "layers", "auto", "bad value 'auto' for key 'layers' in [model]: " NOT_UINT},
    /* booleans */
    {"model", "tied_embeddings", "maybe",
     "bad value 'maybe' for key 'tied_embeddings' in [model]: expected yes or no"},
    {"model", "tied_embeddings", "2",
     "bad value '2' for key 'tied_embeddings' in [model]: expected yes or no"},
    {"parallel", "overlap", "yess",
     "bad value 'yess' for key 'overlap' in [parallel]: expected yes or no"},
    {"parallel", "overlap", "auto",
     "bad value 'auto' for key 'overlap' in [parallel]: expected yes or no"},
    /* enums list their choices */
    {"model", "mlp", "relu",
     "bad value 'relu' for key 'mlp' in [model]: expected one of gelu, swiglu"},
    {"run", "backend", "gpu",
     "bad value 'gpu' for key 'backend' in [run]: expected one of cpu, cuda, null"},
    {"run", "recompute", "some",
     "bad value 'some' for key 'recompute' in [run]: expected one of none, selective, full"},
    {"run", "compute_dtype", "fp32",
     "bad value 'fp32' for key 'compute_dtype' in [run]: expected one of f32, f64, bf16, f16"},
    {"sweep", "group", "dp_cp",
     "bad value 'dp_cp' for key 'group' in [sweep]: expected one of world, tp, dp, pp, ep, cp"},
    {"parallel", "schedule", "zb",
     "bad value 'zb' for key 'schedule' in [parallel]: expected one of 1f1b, gpipe, interleaved"},
    {"parallel", "bucket_policy", "fsdp",
     "bad value 'fsdp' for key 'bucket_policy' in [parallel]: expected one of megatron, ddp"},
    {"run", "optimizer", "adam",
     "bad value 'adam' for key 'optimizer' in [run]: expected one of adam_fused, adam_unfused, "
     "sgd"},
    {"run", "fusion", "apex",
     "bad value 'apex' for key 'fusion' in [run]: expected one of megatron, none"},
    {"parallel", "virtual_stages", "0",
     "key 'virtual_stages' in [parallel] is 0, outside its range 1..4294967296"},
    {"model", "dropout", "1.5", "key 'dropout' in [model] is 1.5, outside its range 0..1"},
    /* strings */
    {"model", "name", "x234567890123456789012345678901234567890123456789012345678901234",
     "value of key 'name' in [model] is longer than 63 characters"},
    {"model", "name", "a\tb", "value of key 'name' in [model] holds a non-printable character"},
    /* numbers */
    {"run", "straggler_pct", "-1", "key 'straggler_pct' in [run] is -1, outside its range 0..1000"},
    {"run", "straggler_pct", "1000.5",
     "key 'straggler_pct' in [run] is 1000.5, outside its range 0..1000"},
    {"run", "straggler_pct", "abc",
     "bad value 'abc' for key 'straggler_pct' in [run]: expected a number"},
    {"run", "straggler_pct", "nan",
     "bad value 'nan' for key 'straggler_pct' in [run]: expected a number"},
    {"run", "straggler_pct", "inf",
     "bad value 'inf' for key 'straggler_pct' in [run]: expected a number"},
    {"run", "straggler_pct", "1e400",
     "bad value '1e400' for key 'straggler_pct' in [run]: expected a number"},
    {"run", "straggler_pct", "5%",
     "bad value '5%' for key 'straggler_pct' in [run]: expected a number"},
};

static void format_default(const char *section, const char *key, char *buf, size_t len)
{
	struct tl_job fresh;

	assert_int_equal(tl_job_init(&fresh), 0);
	tl_job_format(&fresh, tl_job_option(section, key), buf, len);
	tl_job_free(&fresh);
}

static void test_bad_values_in_file(void **state)
{
	struct ctx *c = *state;
	char text[512], want[512], def[256], now[256];

	for (size_t i = 0; i < ARRAY_LEN(bad_values); i++) {
		const struct bad_value *b = &bad_values[i];
		const struct tl_option *o = tl_job_option(b->section, b->key);
		ctx_reset(c);
		snprintf(text, sizeof(text), "[%s]\n%s = %s\n", b->section, b->key, b->text);
		if (parse_str(c, text) != TL_EINPUT)
			fail_msg("row %zu: %s = %s accepted", i, b->key, b->text);
		snprintf(want, sizeof(want), "t.job:2: %s", b->why);
		expect_msgs(&c->diag, want);
		/* A refused value leaves the default in place. */
		format_default(b->section, b->key, def, sizeof(def));
		assert_string_equal(tl_job_format(&c->job, o, now, sizeof(now)), def);
	}
}

static void test_bad_values_by_set(void **state)
{
	struct ctx *c = *state;
	char text[512], want[512], def[256], now[256], w[128];

	for (size_t i = 0; i < ARRAY_LEN(bad_values); i++) {
		const struct bad_value *b = &bad_values[i];
		const struct tl_option *o = tl_job_option(b->section, b->key);
		ctx_reset(c);
		snprintf(text, sizeof(text), "%s.%s=%s", b->section, b->key, b->text);
		if (tl_job_set(&c->job, text, &c->diag) != TL_EINPUT)
			fail_msg("row %zu: --set %s accepted", i, text);
		snprintf(want, sizeof(want), "--set %s.%s: %s", b->section, b->key, b->why);
		expect_msgs(&c->diag, want);
		format_default(b->section, b->key, def, sizeof(def));
		assert_string_equal(tl_job_format(&c->job, o, now, sizeof(now)), def);
		/* A refused override is not recorded as the option's origin. */
		assert_string_equal(tl_job_where(&c->job, o, w, sizeof(w)), "built-in default job");
	}
}

/* ---------------------------------------------------------------------------------------- */
/* Structure of job files: sections, keys, lines, encodings.                                  */

static void test_minimal_file(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(parse_str(c, "[run]\nsteps = 3\n"), 0);
	assert_int_equal(c->diag.count, 0);
	assert_int_equal(c->job.steps, 3);
	assert_string_equal(c->job.source, "t.job");
	assert_false(c->job.has_model);
	assert_false(c->job.has_sweep);
}

static void test_every_section(void **state)
{
	struct ctx *c = *state;
	const char *text = "; a comment\n"
	                   "# another\n"
	                   "[model]\n"
	                   "name = small\n"
	                   "layers = 2\n"
	                   "\n"
	                   "[parallel]\n"
	                   "microbatch = 2\n"
	                   "[run]\n"
	                   "steps = 5 ; trailing comment\n"
	                   "warmup=0\n";

	assert_int_equal(parse_str(c, text), 0);
	assert_string_equal(c->job.name, "small");
	assert_int_equal(c->job.layers, 2);
	assert_int_equal(c->job.microbatch, 2);
	assert_int_equal(c->job.steps, 5);
	assert_int_equal(c->job.warmup, 0);
	assert_true(c->job.has_model);
	assert_false(c->job.has_sweep);
	/* untouched keys keep their defaults */
	assert_int_equal(c->job.hidden, 256);
	assert_int_equal(c->job.heads, 8);
}

static void test_unknown_key_did_you_mean(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(parse_str(c, "[parallel]\nmicro_batch = 2\n"), TL_EINPUT);
	expect_msgs(
	    &c->diag,
	    "t.job:2: unknown key 'micro_batch' in [parallel] (did you mean 'microbatch'?)");
	assert_int_equal(c->job.microbatch, 1);

	ctx_reset(c);
	assert_int_equal(parse_str(c, "[run]\nsetps = 2\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: unknown key 'setps' in [run] (did you mean 'steps'?)");

	ctx_reset(c);
	assert_int_equal(parse_str(c, "[model]\nlayer = 2\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: unknown key 'layer' in [model] (did you mean 'layers'?)");
}

static void test_unknown_key_other_section(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(parse_str(c, "[model]\nlayers = 2\nsteps = 3\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:3: unknown key 'steps' in [model] (it belongs in [run])");
	assert_int_equal(c->job.steps, 10);

	ctx_reset(c);
	assert_int_equal(parse_str(c, "[run]\ntp = 2\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: unknown key 'tp' in [run] (it belongs in [parallel])");
}

static void test_unknown_key_no_hint(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(parse_str(c, "[run]\nfrobnicate = 1\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: unknown key 'frobnicate' in [run]");
}

static void test_unknown_section(void **state)
{
	struct ctx *c = *state;

	/* Reported once, at its header; the keys under it are not reported again. */
	assert_int_equal(parse_str(c, "[modle]\nlayers = 2\nhidden = 64\n[run]\nsteps = 2\n"),
	                 TL_EINPUT);
	expect_msgs(&c->diag, "t.job:1: unknown section [modle] (did you mean [model]?)");
	assert_int_equal(c->job.layers, 4);
	assert_int_equal(c->job.steps, 2); /* the known section after it is read */

	ctx_reset(c);
	assert_int_equal(parse_str(c, "[run]\nsteps = 2\n[parralel]\ntp = 1\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:3: unknown section [parralel] (did you mean [parallel]?)");

	ctx_reset(c);
	assert_int_equal(parse_str(c, "[io]\nsize = 1\n"), TL_EINPUT);
	expect_msgs(
	    &c->diag,
	    "t.job:1: unknown section [io] (sections are [model], [parallel], [run], [sweep])");
}

static void test_key_before_section(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(parse_str(c, "# comment\nsteps = 3\n[run]\nwarmup = 1\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: key 'steps' before any section (start with [model], "
	                      "[parallel], [run] or [sweep])");
	assert_int_equal(c->job.steps, 10);
	assert_int_equal(c->job.warmup, 1);
}

static void test_duplicate_key(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(parse_str(c, "[run]\nsteps = 3\n\nsteps = 4\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:4: duplicate key 'steps' in [run] (first set at line 2)");
	assert_int_equal(c->job.steps, 3); /* the first setting stands */

	/* Across two headers of the same section. */
	ctx_reset(c);
	assert_int_equal(parse_str(c, "[run]\nsteps = 3\n[model]\nlayers = 2\n[run]\nsteps = 5\n"),
	                 TL_EINPUT);
	expect_msgs(&c->diag, "t.job:6: duplicate key 'steps' in [run] (first set at line 2)");

	/* A first setting with a bad value still makes the second a duplicate. */
	ctx_reset(c);
	assert_int_equal(parse_str(c, "[run]\nsteps = many\nsteps = 4\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: bad value 'many' for key 'steps' in [run]: " NOT_UINT,
	            "t.job:3: duplicate key 'steps' in [run] (first set at line 2)");
}

static void test_empty_value(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(parse_str(c, "[run]\nsteps =\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: empty value for key 'steps' in [run]");
	assert_int_equal(c->job.steps, 10);

	ctx_reset(c);
	assert_int_equal(parse_str(c, "[model]\nname =   \n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: empty value for key 'name' in [model]");
	assert_string_equal(c->job.name, "gpt-tiny");
}

/* A temporary file holding len bytes of text; the caller unlinks it. */
static void temp_file(char *path, size_t size, const char *text, size_t len)
{
	snprintf(path, size, "%s/tl-test-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	close(fd);
}

static void test_syntax_error(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(parse_str(c, "[run]\nsteps = 2\nnoequals\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:3: syntax error: expected [section] or key = value");
}

/* Every malformed line is reported, each with its line, beside the other errors of the file. */
static void test_all_syntax_errors_reported(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(parse_str(c, "[run]\nnoequals\nalso bad\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: syntax error: expected [section] or key = value",
	            "t.job:3: syntax error: expected [section] or key = value");

	/* the syntax error is reported although another error came first */
	ctx_reset(c);
	assert_int_equal(parse_str(c, "[run]\nstepz = 1\nnoequals\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: unknown key 'stepz' in [run] (did you mean 'steps'?)",
	            "t.job:3: syntax error: expected [section] or key = value");

	/* and before it; the good lines between are applied */
	ctx_reset(c);
	assert_int_equal(parse_str(c, "[run]\nnoequals\nsteps = 4\nwarmup = x\n= 3\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: syntax error: expected [section] or key = value",
	            "t.job:4: bad value 'x' for key 'warmup' in [run]: " NOT_UINT,
	            "t.job:5: syntax error: a value without a key");
	assert_int_equal(c->job.steps, 4);
}

/* A key after a section header on its line would be dropped by inih: it is an error, naming
 * the text; a comment there is not. */
static void test_text_after_section(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(parse_str(c, "[run] steps = 5\nwarmup = 1\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:1: syntax error: 'steps = 5' after the section header [run] "
	                      "(a key = value goes on a line of its own)");
	assert_int_equal(c->job.steps, 10);

	ctx_reset(c);
	assert_int_equal(parse_str(c, "[run]  # measured\nsteps = 5\n[model] ; small\nlayers = 2\n"),
	                 0);
	assert_int_equal(c->job.steps, 5);
	assert_int_equal(c->job.layers, 2);
}

/* An unterminated section header is a syntax error on its own line. */
static void test_unterminated_section(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(parse_str(c, "[run\nsteps = 1\n"), TL_EINPUT);
	assert_true(c->diag.count >= 1);
	assert_string_equal(c->diag.msg[0],
	                    "t.job:1: syntax error: section header without a closing ']'");

	ctx_reset(c);
	assert_int_equal(parse_str(c, "[model]\nlayers = 2\n[run\nsteps = 1\n"), TL_EINPUT);
	expect_has(&c->diag, "t.job:3: syntax error: section header without a closing ']'");
	expect_lacks(&c->diag, "t.job:1:");
	expect_lacks(&c->diag, "t.job:2:");
	assert_int_equal(c->job.layers, 2);
}

/*
 * A UTF-8 byte-order mark at the start of the file (as some editors write) is not part of the
 * first line: the first section's keys count, good and bad.
 */
static void test_bom(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(parse_str(c, "\xEF\xBB\xBF[run]\nsteps = 3\n"), 0);
	assert_int_equal(c->job.steps, 3);

	ctx_reset(c);
	assert_int_equal(parse_str(c, "\xEF\xBB\xBF[run]\nsteps = 0\n"), TL_EINPUT);
	expect_msgs(&c->diag,
	            "t.job:2: key 'steps' in [run] is 0, outside its range 1..1073741824");

	ctx_reset(c);
	assert_int_equal(parse_str(c, "\xEF\xBB\xBF[run]\nstepz = 3\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: unknown key 'stepz' in [run] (did you mean 'steps'?)");

	/* a comment first, CRLF line ends */
	ctx_reset(c);
	assert_int_equal(parse_str(c, "\xEF\xBB\xBF# a job\r\n[model]\r\nlayers = 6\r\n"), 0);
	assert_int_equal(c->job.layers, 6);

	/* through a file */
	char path[512];
	static const char text[] = "\xEF\xBB\xBF[parallel]\nmicrobatch = 3\n";
	temp_file(path, sizeof(path), text, sizeof(text) - 1);
	ctx_reset(c);
	int rc = tl_job_parse_file(&c->job, path, &c->diag);
	unlink(path);
	assert_int_equal(rc, 0);
	assert_int_equal(c->job.microbatch, 3);
}

static void test_empty_file(void **state)
{
	struct ctx *c = *state;
	char path[512], want[700];

	temp_file(path, sizeof(path), "", 0);
	int rc = tl_job_parse_file(&c->job, path, &c->diag);
	unlink(path);
	assert_int_equal(rc, TL_EINPUT);
	snprintf(want, sizeof(want),
	         "%s: empty job file (a job file needs at least one key = value line)", path);
	expect_msgs(&c->diag, want);
}

static void test_comments_only(void **state)
{
	struct ctx *c = *state;

	/* A file that says nothing is refused rather than run as the default job. */
	assert_int_equal(parse_str(c, "# just a comment\n; and another\n\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job: no settings, only comments and blank lines (a job file "
	                      "needs at least one key = value line)");

	/* sections without keys set nothing either */
	ctx_reset(c);
	assert_int_equal(parse_str(c, "[run]\n[model]\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job: no settings, only comments and blank lines (a job file "
	                      "needs at least one key = value line)");
}

static void test_missing_file(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(tl_job_parse_file(&c->job, "/nonexistent/dir/x.job", &c->diag), TL_EINPUT);
	expect_msgs(&c->diag, "/nonexistent/dir/x.job: cannot open job file: No such file or "
	                      "directory");
}

static void test_directory(void **state)
{
	struct ctx *c = *state;
	char dir[512], want[700];

	snprintf(dir, sizeof(dir), "%s/tl-test-dir-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(dir));
	int rc = tl_job_parse_file(&c->job, dir, &c->diag);
	rmdir(dir);
	assert_int_equal(rc, TL_EINPUT);
	snprintf(want, sizeof(want), "%s: is a directory, not a job file", dir);
	expect_msgs(&c->diag, want);
}

/* What is no regular file is refused unread: a FIFO would wait for a writer for ever, a
 * character device (/dev/zero) would be read without end. */
static void test_not_regular(void **state)
{
	struct ctx *c = *state;
	char dir[512], fifo[600], want[700];

	snprintf(dir, sizeof(dir), "%s/tl-test-fifo-XXXXXX",
	         getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/job.fifo", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	int rc = tl_job_parse_file(&c->job, fifo, &c->diag);
	unlink(fifo);
	rmdir(dir);
	assert_int_equal(rc, TL_EINPUT);
	snprintf(want, sizeof(want), "%s: is a FIFO, not a job file", fifo);
	expect_msgs(&c->diag, want);

	ctx_reset(c);
	assert_int_equal(tl_job_parse_file(&c->job, "/dev/zero", &c->diag), TL_EINPUT);
	expect_msgs(&c->diag, "/dev/zero: is a character device, not a job file");
}

/* A job file is read no further than TL_JOB_FILE_MAX bytes, whatever its stream: a regular file
 * larger is refused by its size, a stream that goes on (a pipe, fmemopen here) once that many
 * bytes are read; a line longer than inih's is counted, not kept. */
static void test_bounded(void **state)
{
	struct ctx *c = *state;
	size_t big = (size_t)TL_JOB_FILE_MAX + 10;
	char *text = malloc(big), path[512], want[700];

	assert_non_null(text);
	memset(text, '7', big);
	memcpy(text, "[run]\nsteps = ", 14);
	assert_int_equal(parse_mem(&c->job, &c->diag, "t.job", text, big), TL_EINPUT);
	expect_msgs(&c->diag, "t.job: more than 16 MiB: not a job file (a job file is a few kB of "
	                      "text)");
	assert_int_equal(c->job.steps, 10);

	ctx_reset(c);
	temp_file(path, sizeof(path), text, big);
	int rc = tl_job_parse_file(&c->job, path, &c->diag);
	unlink(path);
	free(text);
	assert_int_equal(rc, TL_EINPUT);
	snprintf(want, sizeof(want), "%s: 16777226 bytes, more than 16 MiB: not a job file (a job "
	         "file is a few kB of text)", path);
	expect_msgs(&c->diag, want);
}

static void test_parse_file_ok(void **state)
{
	struct ctx *c = *state;
	char path[512], w[700], want[700];
	const char text[] = "[run]\nsteps = 4\n";

	temp_file(path, sizeof(path), text, sizeof(text) - 1);
	int rc = tl_job_parse_file(&c->job, path, &c->diag);
	unlink(path);
	assert_int_equal(rc, 0);
	assert_int_equal(c->job.steps, 4);
	assert_string_equal(c->job.source, path);
	snprintf(want, sizeof(want), "%s:2", path);
	assert_string_equal(tl_job_where(&c->job, tl_job_option("run", "steps"), w, sizeof(w)),
	                    want);
}

static void test_crlf(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(parse_str(c,
	                           "[model]\r\nname = win\r\nlayers = 6\r\n[run]\r\nsteps = 3\r\n"
	                           "recompute = full\r\n"),
	                 0);
	assert_int_equal(c->diag.count, 0);
	assert_string_equal(c->job.name, "win");
	assert_int_equal(c->job.layers, 6);
	assert_int_equal(c->job.steps, 3);
	assert_int_equal(c->job.recompute, TL_RECOMPUTE_FULL);

	/* An error in a CRLF file: the right line, and no carriage return in the message. */
	ctx_reset(c);
	assert_int_equal(parse_str(c, "[run]\r\nsteps = 3\r\nwarmup = x\r\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:3: bad value 'x' for key 'warmup' in [run]: " NOT_UINT);
}

static void test_indented(void **state)
{
	struct ctx *c = *state;

	/* Leading blanks do not make a continuation line: an indented key is a key. */
	assert_int_equal(parse_str(c, "  [run]\n  steps = 3\n\twarmup = 1\n    recompute = full\n"),
	                 0);
	assert_int_equal(c->diag.count, 0);
	assert_int_equal(c->job.steps, 3);
	assert_int_equal(c->job.warmup, 1);
	assert_int_equal(c->job.recompute, TL_RECOMPUTE_FULL);

	/* and an indented bad key is reported at its own line */
	ctx_reset(c);
	assert_int_equal(parse_str(c, "[run]\nsteps = 3\n   stepz = 1\n"), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:3: unknown key 'stepz' in [run] (did you mean 'steps'?)");
}

static void test_long_line(void **state)
{
	struct ctx *c = *state;
	char text[1024], fill[300];

	/* 250 characters: refused, and the lines after it keep their numbers. */
	memset(fill, 'x', 248);
	fill[248] = '\0';
	snprintf(text, sizeof(text), "[run]\nsteps = 3\n# %s\nwarmup = 1\nstepz = 2\n", fill);
	assert_int_equal(parse_str(c, text), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:3: line too long (250 characters, at most 198)",
	            "t.job:5: unknown key 'stepz' in [run] (did you mean 'steps'?)");
	assert_int_equal(c->job.steps, 3);
	assert_int_equal(c->job.warmup, 1);

	/* The limit itself: 198 characters pass, 199 do not. */
	ctx_reset(c);
	memset(fill, 'y', 196);
	fill[196] = '\0';
	snprintf(text, sizeof(text), "[run]\n# %s\nsteps = 2\n", fill);
	assert_int_equal(parse_str(c, text), 0);
	assert_int_equal(c->job.steps, 2);

	ctx_reset(c);
	memset(fill, 'y', 197);
	fill[197] = '\0';
	snprintf(text, sizeof(text), "[run]\n# %s\nsteps = 2\n", fill);
	assert_int_equal(parse_str(c, text), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: line too long (199 characters, at most 198)");

	/* A long value on a key line. */
	ctx_reset(c);
	memset(fill, '7', 260);
	fill[260] = '\0';
	snprintf(text, sizeof(text), "[run]\nsteps = %s\n", fill);
	assert_int_equal(parse_str(c, text), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: line too long (268 characters, at most 198)");
	assert_int_equal(c->job.steps, 10);
}

static void test_binary(void **state)
{
	struct ctx *c = *state;
	static const char nul[] = "[run]\nsteps = 3\nab\0cd\nwarmup = x\n";

	/* Parsing stops at the first binary line: what follows is not reported. */
	assert_int_equal(parse_mem(&c->job, &c->diag, "t.job", nul, sizeof(nul) - 1), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:3: binary data (byte 0x00): not a job file");
	assert_int_equal(c->job.steps, 3);
	assert_int_equal(c->job.warmup, 2);

	ctx_reset(c);
	static const char ctl[] = "\x7f"
	                          "ELF\x02\x01\x01";
	assert_int_equal(parse_mem(&c->job, &c->diag, "t.job", ctl, sizeof(ctl) - 1), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:1: binary data (byte 0x7f): not a job file");

	ctx_reset(c);
	static const char esc[] = "[run]\nsteps = 3\x1b[0m\n";
	assert_int_equal(parse_mem(&c->job, &c->diag, "t.job", esc, sizeof(esc) - 1), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: binary data (byte 0x1b): not a job file");
}

static void test_all_errors_collected(void **state)
{
	struct ctx *c = *state;
	const char *text = "[run]\n"           /* 1 */
	                   "stepz = 3\n"       /* 2: unknown key */
	                   "warmup = 1\n"      /* 3 */
	                   "[model]\n"         /* 4 */
	                   "mlp = relu\n"      /* 5: bad enum */
	                   "layers = 2\n"      /* 6 */
	                   "\n"                /* 7 */
	                   "[parallel]\n"      /* 8 */
	                   "tp = -1\n"         /* 9: negative */
	                   "microbatch = 2\n"; /* 10 */

	assert_int_equal(parse_str(c, text), TL_EINPUT);
	expect_msgs(
	    &c->diag, "t.job:2: unknown key 'stepz' in [run] (did you mean 'steps'?)",
	    "t.job:5: bad value 'relu' for key 'mlp' in [model]: expected one of gelu, swiglu",
	    "t.job:9: bad value '-1' for key 'tp' in [parallel]: negative values are not "
	    "allowed");
	/* the good lines between them were applied */
	assert_int_equal(c->job.warmup, 1);
	assert_int_equal(c->job.layers, 2);
	assert_int_equal(c->job.microbatch, 2);
}

static void test_many_errors_counted(void **state)
{
	struct ctx *c = *state;
	size_t cap = 100 * 16 + 16, used = 0;
	char *text = malloc(cap);

	/* More errors than TL_DIAG_MAX: the rest are counted, not lost. */
	assert_non_null(text);
	used += (size_t)snprintf(text + used, cap - used, "[run]\n");
	for (int i = 0; i < 100; i++)
		used += (size_t)snprintf(text + used, cap - used, "bogus%d = 1\n", i);
	assert_int_equal(parse_str(c, text), TL_EINPUT);
	free(text);
	assert_int_equal(c->diag.count, TL_DIAG_MAX);
	assert_int_equal(c->diag.dropped, 100 - TL_DIAG_MAX);
	assert_string_equal(c->diag.msg[0], "t.job:2: unknown key 'bogus0' in [run]");
	assert_string_equal(c->diag.msg[TL_DIAG_MAX - 1],
	                    "t.job:65: unknown key 'bogus63' in [run]");
}

static void test_diagnostics_accumulate(void **state)
{
	struct ctx *c = *state;

	/* A second parse into the same diag adds to it and still reports its own errors. */
	assert_int_equal(parse_str(c, "[run]\nstepz = 1\n"), TL_EINPUT);
	assert_int_equal(parse_mem(&c->job, &c->diag, "u.job", "[run]\nsteps = x\n", 16),
	                 TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: unknown key 'stepz' in [run] (did you mean 'steps'?)",
	            "u.job:2: bad value 'x' for key 'steps' in [run]: " NOT_UINT);
	/* and a clean parse after errors returns 0 (a new key: the job remembers steps' line) */
	assert_int_equal(parse_mem(&c->job, &c->diag, "v.job", "[run]\nwarmup = 5\n", 17), 0);
	assert_int_equal(c->job.warmup, 5);
	assert_int_equal(c->diag.count, 2);
}

static void test_model_and_sweep_flags(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(parse_str(c, "[sweep]\nop = allreduce\n"), 0);
	assert_true(c->job.has_sweep);
	assert_false(c->job.has_model);

	ctx_reset(c);
	assert_int_equal(parse_str(c, "[model]\nlayers = 2\n[sweep]\niters = 5\n"), 0);
	assert_true(c->job.has_sweep);
	assert_true(c->job.has_model);
}

/* ---------------------------------------------------------------------------------------- */
/* --set overrides                                                                            */

static void test_set_valid(void **state)
{
	struct ctx *c = *state;
	char w[128];

	assert_int_equal(tl_job_set(&c->job, "run.steps=7", &c->diag), 0);
	assert_int_equal(c->job.steps, 7);
	assert_string_equal(tl_job_where(&c->job, tl_job_option("run", "steps"), w, sizeof(w)),
	                    "--set run.steps");
	/* a value that holds '=' and '.' */
	assert_int_equal(tl_job_set(&c->job, "model.name=a.b=c", &c->diag), 0);
	assert_string_equal(c->job.name, "a.b=c");
	assert_true(c->job.has_model);
	assert_int_equal(c->diag.count, 0);
	/* --set of a [sweep] key marks the job as a sweep */
	assert_false(c->job.has_sweep);
	assert_int_equal(tl_job_set(&c->job, "sweep.iters=3", &c->diag), 0);
	assert_true(c->job.has_sweep);
}

static void test_set_bad_syntax(void **state)
{
	struct ctx *c = *state;
	static const char *const bad[] = {"noequals", "run.steps", "steps=3", "=3",
	                                  ".steps=3", "run.=3",    "a=b.c",   ""};
	char want[256];

	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		ctx_reset(c);
		assert_int_equal(tl_job_set(&c->job, bad[i], &c->diag), TL_EINPUT);
		snprintf(want, sizeof(want),
		         "--set %s: expected section.key=value (e.g. parallel.tp=2)", bad[i]);
		expect_msgs(&c->diag, want);
	}
}

static void test_set_unknown(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(tl_job_set(&c->job, "modle.layers=2", &c->diag), TL_EINPUT);
	expect_msgs(&c->diag,
	            "--set modle.layers: unknown section [modle] (did you mean [model]?)");

	ctx_reset(c);
	assert_int_equal(tl_job_set(&c->job, "foo.bar=1", &c->diag), TL_EINPUT);
	expect_msgs(&c->diag, "--set foo.bar: unknown section [foo]");

	ctx_reset(c);
	assert_int_equal(tl_job_set(&c->job, "parallel.micro_batch=2", &c->diag), TL_EINPUT);
	expect_msgs(&c->diag, "--set parallel.micro_batch: unknown key 'micro_batch' in [parallel] "
	                      "(did you mean 'microbatch'?)");

	ctx_reset(c);
	assert_int_equal(tl_job_set(&c->job, "model.steps=3", &c->diag), TL_EINPUT);
	expect_msgs(&c->diag, "--set model.steps: unknown key 'steps' in [model] (it belongs in "
	                      "[run])");

	ctx_reset(c);
	assert_int_equal(tl_job_set(&c->job, "run.steps=", &c->diag), TL_EINPUT);
	expect_msgs(&c->diag, "--set run.steps: empty value for key 'steps' in [run]");

	ctx_reset(c);
	char longkey[128];
	memset(longkey, 'k', sizeof(longkey));
	memcpy(longkey, "run.", 4);
	memcpy(longkey + 100, "=1", 3);
	assert_int_equal(tl_job_set(&c->job, longkey, &c->diag), TL_EINPUT);
	assert_int_equal(c->diag.count, 1);
	expect_has(&c->diag, "key name too long");
}

static void test_set_overrides_file(void **state)
{
	struct ctx *c = *state;
	char w[128];
	const struct tl_option *steps = tl_job_option("run", "steps");
	const struct tl_option *warmup = tl_job_option("run", "warmup");

	assert_int_equal(parse_str(c, "[run]\nsteps = 5\nwarmup = 1\n"), 0);
	assert_string_equal(tl_job_where(&c->job, steps, w, sizeof(w)), "t.job:2");
	assert_int_equal(tl_job_set(&c->job, "run.steps=7", &c->diag), 0);
	assert_int_equal(c->job.steps, 7);
	assert_string_equal(tl_job_where(&c->job, steps, w, sizeof(w)), "--set run.steps");
	/* a refused override leaves the file's value and origin */
	assert_int_equal(tl_job_set(&c->job, "run.warmup=-1", &c->diag), TL_EINPUT);
	assert_int_equal(c->job.warmup, 1);
	assert_string_equal(tl_job_where(&c->job, warmup, w, sizeof(w)), "t.job:3");
	/* the last override wins */
	assert_int_equal(tl_job_set(&c->job, "run.steps=9", &c->diag), 0);
	assert_int_equal(c->job.steps, 9);
	/* a key the file did not set: the file is its origin */
	assert_string_equal(tl_job_where(&c->job, tl_job_option("model", "layers"), w, sizeof(w)),
	                    "t.job");
}

/* ---------------------------------------------------------------------------------------- */
/* The option table: defaults, lookups, help and JSON.                                        */

static void test_defaults(void **state)
{
	struct ctx *c = *state;
	char w[128], buf[256];

	(void)state;
	assert_true(tl_job_option_count > 40);
	for (size_t i = 0; i < tl_job_option_count; i++) {
		const struct tl_option *o = &tl_job_options[i];
		struct tl_job again;
		char set[256];

		/* every default parses under its own option's rules, through --set as well */
		assert_int_equal(tl_job_init(&again), 0);
		snprintf(set, sizeof(set), "%s.%s=%s", o->section, o->name, o->def);
		if (tl_job_set(&again, set, &c->diag) != 0) {
			diag_dump(&c->diag);
			fail_msg("default of %s.%s refused: %s", o->section, o->name, o->def);
		}
		size_t size = o->type == TL_OPT_STR      ? o->size
		              : o->type == TL_OPT_UINT   ? sizeof(uint64_t)
		              : o->type == TL_OPT_DOUBLE ? sizeof(double)
		              : o->type == TL_OPT_BOOL   ? sizeof(bool)
		                                         : sizeof(int);
		assert_memory_equal((char *)&again + o->off, (char *)&c->job + o->off, size);
		tl_job_free(&again);
		/* unset, an option's origin is the job's source */
		assert_string_equal(tl_job_where(&c->job, o, w, sizeof(w)), "built-in default job");
		/* lookups find the option itself */
		assert_ptr_equal(tl_job_option(o->section, o->name), o);
		/* a help text, a known section */
		assert_non_null(o->help);
		assert_true(strlen(o->help) > 0);
		bool known = false;
		for (int s = 0; tl_job_sections[s]; s++)
			known |= !strcmp(tl_job_sections[s], o->section);
		assert_true(known);
	}
	assert_int_equal(c->diag.count, 0);
	/* the defaults of DESIGN.md §3 */
	assert_int_equal(c->job.tp, 1);
	assert_int_equal(c->job.pp, 1);
	assert_int_equal(c->job.cp, 1);
	assert_int_equal(c->job.ep, 1);
	assert_int_equal(c->job.dp, 0);
	assert_int_equal(c->job.zero, 0);
	assert_false(c->job.sequence_parallel);
	assert_int_equal(c->job.microbatch, 1);
	assert_int_equal(c->job.schedule, TL_SCHEDULE_1F1B);
	assert_true(c->job.overlap);
	assert_int_equal(c->job.bucket_mb, 25);
	assert_int_equal(c->job.steps, 10);
	assert_int_equal(c->job.warmup, 2);
	assert_int_equal(c->job.recompute, TL_RECOMPUTE_NONE);
	assert_int_equal(c->job.backend, TL_BACKEND_CPU);
	assert_int_equal(c->job.check, 0);
	assert_true(c->job.straggler_pct == 5.0);
	assert_int_equal(c->job.experts, 0);
	assert_int_equal(c->job.topk, 2);
	assert_int_equal(c->job.moe_every, 1);
	assert_false(c->job.tied_embeddings);
	assert_int_equal(c->job.mlp, TL_MLP_GELU);
	assert_int_equal(c->job.max_bytes, 67108864);
	assert_string_equal(c->job.source, "built-in default job");
	assert_false(c->job.has_model);
	assert_false(c->job.has_sweep);
	assert_string_equal(
	    tl_job_format(&c->job, tl_job_option("parallel", "dp"), buf, sizeof(buf)), "auto");
	assert_null(tl_job_option("parallel", "micro_batch"));
	assert_null(tl_job_option("run", "tp"));
	assert_string_equal(tl_job_enum_name("model", "mlp", TL_MLP_SWIGLU), "swiglu");
	assert_string_equal(tl_job_enum_name("run", "backend", TL_BACKEND_NULL), "null");
	assert_string_equal(tl_job_enum_name("model", "mlp", 99), "?");
	assert_string_equal(tl_job_enum_name("run", "steps", 0), "?");
}

static void test_format_round_trip(void **state)
{
	struct ctx *c = *state;
	char buf[256], set[300];

	/* Every option, formatted, is a value the parser takes back unchanged. */
	assert_int_equal(parse_str(c, "[model]\nmlp = swiglu\nname = rt\ntied_embeddings = on\n"
	                              "[run]\nstraggler_pct = 2.5\nrecompute = selective\n"),
	                 0);
	for (size_t i = 0; i < tl_job_option_count; i++) {
		const struct tl_option *o = &tl_job_options[i];
		struct tl_job copy;
		assert_int_equal(tl_job_init(&copy), 0);
		snprintf(set, sizeof(set), "%s.%s=%s", o->section, o->name,
		         tl_job_format(&c->job, o, buf, sizeof(buf)));
		assert_int_equal(tl_job_set(&copy, set, &c->diag), 0);
		assert_string_equal(tl_job_format(&copy, o, buf, sizeof(buf)),
		                    tl_job_format(&c->job, o, set, sizeof(set)));
		tl_job_free(&copy);
	}
}

static void test_help_job(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	char line[300];

	(void)state;
	assert_non_null(f);
	tl_job_print_help(f);
	fclose(f);
	for (int s = 0; tl_job_sections[s]; s++) {
		snprintf(line, sizeof(line), "\n[%s]\n", tl_job_sections[s]);
		assert_non_null(strstr(text, line));
	}
	for (size_t i = 0; i < tl_job_option_count; i++) {
		const struct tl_option *o = &tl_job_options[i];
		snprintf(line, sizeof(line), "\n  %-18s ", o->name);
		if (!strstr(text, line))
			fail_msg("--help-job lacks %s.%s", o->section, o->name);
		snprintf(line, sizeof(line), "(default %s)\n", o->def);
		assert_non_null(strstr(text, line));
		assert_non_null(strstr(text, o->help));
	}
	assert_non_null(strstr(text, "integer 1..4294967296 or auto (default auto)"));
	assert_non_null(strstr(text, "gelu|swiglu (default gelu)"));
	free(text);
}

static void check_json_section(const json_t *sec, const struct tl_job *job, const char *name)
{
	size_t want = 0;

	assert_non_null(sec);
	assert_true(json_is_object(sec));
	for (size_t i = 0; i < tl_job_option_count; i++) {
		const struct tl_option *o = &tl_job_options[i];
		const void *p = (const char *)job + o->off;
		char buf[256];
		if (strcmp(o->section, name))
			continue;
		want++;
		json_t *v = json_object_get(sec, o->name);
		if (!v)
			fail_msg("JSON [%s] lacks %s", name, o->name);
		switch (o->type) {
		case TL_OPT_UINT:
			/* an auto the job has not resolved (threads_per_rank: each rank's own)
			 * is written as "auto" */
			if ((o->flags & TL_OPT_AUTO) && *(const uint64_t *)p == 0) {
				if (!json_is_string(v) || strcmp(json_string_value(v), "auto"))
					fail_msg("JSON [%s] %s: unresolved auto is not \"auto\"",
					         name, o->name);
				break;
			}
			if (!json_is_integer(v))
				fail_msg("JSON [%s] %s is not an integer", name, o->name);
			assert_int_equal((uint64_t)json_integer_value(v), *(const uint64_t *)p);
			break;
		case TL_OPT_BOOL:
			assert_true(json_is_boolean(v));
			assert_int_equal(json_is_true(v), *(const bool *)p);
			break;
		case TL_OPT_DOUBLE:
			assert_true(json_is_real(v));
			assert_true(json_real_value(v) == *(const double *)p);
			break;
		case TL_OPT_ENUM:
		case TL_OPT_STR:
			assert_true(json_is_string(v));
			assert_string_equal(json_string_value(v),
			                    tl_job_format(job, o, buf, sizeof(buf)));
			break;
		}
	}
	assert_int_equal(json_object_size(sec), want);
}

static void test_to_json(void **state)
{
	struct ctx *c = *state;

	/* A training job: model, parallel and run, every key; no sweep. */
	assert_int_equal(tl_job_resolve(&c->job, 2, &c->diag), 0);
	json_t *j = tl_job_to_json(&c->job);
	assert_non_null(j);
	assert_int_equal(json_object_size(j), 3);
	check_json_section(json_object_get(j, "model"), &c->job, "model");
	check_json_section(json_object_get(j, "parallel"), &c->job, "parallel");
	check_json_section(json_object_get(j, "run"), &c->job, "run");
	assert_null(json_object_get(j, "sweep"));
	/* resolved values, not "auto" */
	assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "parallel"), "dp")),
	                 2);
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(j, "run"), "comm_dtype")), "f32");
	/* threads_per_rank = auto is each rank's own (ranks[].threads): it stays "auto" */
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(j, "run"), "threads_per_rank")),
	    "auto");
	json_decref(j);

	/* given, it is a number like any other */
	ctx_reset(c);
	assert_int_equal(tl_job_set(&c->job, "run.threads_per_rank=4", &c->diag), 0);
	assert_int_equal(tl_job_resolve(&c->job, 1, &c->diag), 0);
	j = tl_job_to_json(&c->job);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(j, "run"), "threads_per_rank")), 4);
	check_json_section(json_object_get(j, "run"), &c->job, "run");
	json_decref(j);

	/* A sweep job: sweep instead of model. */
	ctx_reset(c);
	assert_int_equal(parse_str(c, "[sweep]\nop = allgather\nmax_bytes = 1Mi\n"), 0);
	j = tl_job_to_json(&c->job);
	assert_int_equal(json_object_size(j), 3);
	assert_null(json_object_get(j, "model"));
	check_json_section(json_object_get(j, "sweep"), &c->job, "sweep");
	check_json_section(json_object_get(j, "parallel"), &c->job, "parallel");
	check_json_section(json_object_get(j, "run"), &c->job, "run");
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(j, "sweep"), "max_bytes")), 1048576);
	json_decref(j);
}

/* ---------------------------------------------------------------------------------------- */
/* tl_job_resolve                                                                             */

/* Parse text, resolve at world ranks; returns tl_job_resolve's result. */
static int resolve_text(struct ctx *c, const char *text, uint64_t world)
{
	ctx_reset(c);
	if (parse_str(c, text) != 0) {
		diag_dump(&c->diag);
		fail_msg("job text refused by the parser");
	}
	return tl_job_resolve(&c->job, world, &c->diag);
}

static void test_resolve_default(void **state)
{
	struct ctx *c = *state;
	static const uint64_t worlds[] = {1, 2, 3, 4, 7, 8, 64, 1000};

	for (size_t i = 0; i < ARRAY_LEN(worlds); i++) {
		ctx_reset(c);
		assert_int_equal(tl_job_resolve(&c->job, worlds[i], &c->diag), 0);
		assert_int_equal(c->diag.count, 0);
		assert_int_equal(c->job.dp, worlds[i]);
		assert_int_equal(c->job.grad_accum, 1);
		assert_int_equal(c->job.global_batch, worlds[i]);
		assert_int_equal(c->job.kv_heads, 8);
		assert_int_equal(c->job.ffn_hidden, 1024);
		assert_int_equal(c->job.comm_dtype, TL_DTYPE_F32);
	}
}

static void test_resolve_dp_auto(void **state)
{
	struct ctx *c = *state;

	/* dp = world / (tp·pp·cp); the global batch counts sequences of the dp ranks only (the cp
	 * ranks share each sequence) */
	int rc = resolve_text(c, "[model]\nlayers = 4\n[parallel]\ntp = 2\npp = 2\ncp = 2\n", 16);
	assert_int_equal(rc, 0);
	assert_int_equal(c->job.dp, 2);
	assert_int_equal(c->job.global_batch, 2);

	/* tp and pp are planned: resolved, with dp the rest of the world */
	rc = resolve_text(c, "[model]\nlayers = 4\n[parallel]\ntp = 2\npp = 2\n", 16);
	assert_int_equal(rc, 0);
	assert_int_equal(c->job.dp, 4);
	assert_int_equal(c->job.global_batch, 4);
	assert_int_equal(c->job.grad_accum, 1);

	rc = resolve_text(c, "[parallel]\ndp = 6\n", 6);
	assert_int_equal(rc, 0);
	assert_int_equal(c->job.dp, 6);

	rc = resolve_text(c, "[parallel]\ndp = 3\n", 4);
	assert_int_equal(rc, TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: dp*tp*pp*cp = 3*1*1*1 must equal the 4 ranks of this run");
}

static void test_resolve_world_divisibility(void **state)
{
	struct ctx *c = *state;

	int rc = resolve_text(c, "[parallel]\ntp = 4\n", 6);
	assert_int_equal(rc, TL_EINPUT);
	expect_has(&c->diag, "t.job:2: tp*pp*cp = 4*1*1 does not divide the 6 ranks of this run");

	/* more model ranks than ranks */
	rc = resolve_text(c, "[parallel]\ntp = 2\npp = 2\n", 2);
	assert_int_equal(rc, TL_EINPUT);
	expect_has(&c->diag, "t.job:2: tp*pp*cp = 2*2*1 does not divide the 2 ranks of this run");

	rc = resolve_text(c, "[parallel]\ncp = 3\n", 1);
	assert_int_equal(rc, TL_EINPUT);
	expect_has(&c->diag, "tp*pp*cp = 1*1*3 does not divide the 1 ranks of this run");
	/* blamed on tp, which the file did not set: the file is named without a line */
	expect_has(&c->diag, "t.job: tp*pp*cp");
}

static void test_resolve_heads_tp(void **state)
{
	struct ctx *c = *state;

	int rc = resolve_text(c, "[model]\nhidden = 240\nheads = 6\n[parallel]\ntp = 4\n", 4);
	assert_int_equal(rc, TL_EINPUT);
	expect_has(&c->diag, "t.job:5: tp = 4 does not divide heads = 6");
	expect_msgs(&c->diag, "t.job:5: tp = 4 does not divide heads = 6",
	            "t.job:5: tp = 4 does not divide kv_heads = 6");

	/* GQA: tp divides heads but not kv_heads */
	rc = resolve_text(c, "[model]\nheads = 8\nkv_heads = 2\n[parallel]\ntp = 4\n", 4);
	assert_int_equal(rc, TL_EINPUT);
	expect_has(&c->diag, "t.job:5: tp = 4 does not divide kv_heads = 2");
	expect_lacks(&c->diag, "does not divide heads");
}

static void test_resolve_layers_pp(void **state)
{
	struct ctx *c = *state;

	int rc = resolve_text(c, "[model]\nlayers = 5\n[parallel]\npp = 2\n", 2);
	assert_int_equal(rc, TL_EINPUT);
	expect_msgs(&c->diag, "t.job:4: pp = 2 does not divide layers = 5");

	assert_int_equal(resolve_text(c, "[model]\nlayers = 6\n[parallel]\npp = 3\n", 6), 0);
	assert_int_equal(c->job.dp, 2);
}

static void test_resolve_heads(void **state)
{
	struct ctx *c = *state;

	int rc = resolve_text(c, "[model]\nhidden = 250\nheads = 8\n", 1);
	assert_int_equal(rc, TL_EINPUT);
	expect_msgs(&c->diag, "t.job:3: heads = 8 does not divide hidden = 250 (each head needs "
	                      "hidden/heads dimensions)");

	rc = resolve_text(c, "[model]\nheads = 8\nkv_heads = 3\n", 1);
	assert_int_equal(rc, TL_EINPUT);
	expect_msgs(&c->diag, "t.job:3: kv_heads = 3 does not divide heads = 8");

	rc = resolve_text(c, "[model]\nheads = 8\nkv_heads = 16\n", 1);
	assert_int_equal(rc, TL_EINPUT);
	expect_msgs(&c->diag, "t.job:3: kv_heads = 16 does not divide heads = 8");

	/* GQA and MQA that divide are fine */
	assert_int_equal(resolve_text(c, "[model]\nheads = 8\nkv_heads = 2\n", 1), 0);
	assert_int_equal(c->job.kv_heads, 2);
	assert_int_equal(resolve_text(c, "[model]\nheads = 8\nkv_heads = 1\n", 1), 0);

	/* several combination errors at once are all reported */
	rc = resolve_text(c,
	                  "[model]\nhidden = 250\nheads = 8\nkv_heads = 3\n[parallel]\n"
	                  "microbatch = 2\nglobal_batch = 3\n",
	                  1);
	assert_int_equal(rc, TL_EINPUT);
	expect_msgs(&c->diag,
	            "t.job:3: heads = 8 does not divide hidden = 250 (each head needs hidden/heads "
	            "dimensions)",
	            "t.job:4: kv_heads = 3 does not divide heads = 8",
	            "t.job:7: global_batch = 3 is not a multiple of microbatch*dp = 2*1");
}

static void test_resolve_ffn(void **state)
{
	struct ctx *c = *state;
	static const struct {
		const char *text;
		uint64_t ffn;
	} rows[] = {
	    {"[model]\nhidden = 256\n", 1024},
	    {"[model]\nhidden = 4096\nheads = 32\n", 16384},
	    /* swiglu: 8/3·h rounded up to a multiple of 256 (Llama's 7B, 13B, 65B) */
	    {"[model]\nmlp = swiglu\nhidden = 4096\nheads = 32\n", 11008},
	    {"[model]\nmlp = swiglu\nhidden = 5120\nheads = 40\n", 13824},
	    {"[model]\nmlp = swiglu\nhidden = 8192\nheads = 64\n", 22016},
	    {"[model]\nmlp = swiglu\nhidden = 256\n", 768},
	    /* given: kept */
	    {"[model]\nmlp = swiglu\nhidden = 4096\nheads = 32\nffn_hidden = 14336\n", 14336},
	    {"[model]\nffn_hidden = 1000\n", 1000},
	};

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		assert_int_equal(resolve_text(c, rows[i].text, 1), 0);
		if (c->job.ffn_hidden != rows[i].ffn)
			fail_msg("row %zu: ffn_hidden %" PRIu64 ", expected %" PRIu64, i,
			         c->job.ffn_hidden, rows[i].ffn);
	}
}

static void test_resolve_batch(void **state)
{
	struct ctx *c = *state;
	static const struct {
		const char *text;
		uint64_t world, global_batch, grad_accum;
	} ok[] = {
	    {"[parallel]\nmicrobatch = 2\n", 4, 8, 1},
	    {"[parallel]\nmicrobatch = 2\ngrad_accum = 3\n", 4, 24, 3},
	    {"[parallel]\nmicrobatch = 2\nglobal_batch = 32\n", 4, 32, 4},
	    {"[parallel]\nmicrobatch = 2\nglobal_batch = 32\ngrad_accum = 4\n", 4, 32, 4},
	    {"[parallel]\nglobal_batch = 1536\n", 1, 1536, 1536},
	    {"[parallel]\nglobal_batch = auto\ngrad_accum = auto\n", 3, 3, 1},
	    {"[parallel]\nmicrobatch = 4\nglobal_batch = 4k\n", 8, 4000, 125},
	};

	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		int rc = resolve_text(c, ok[i].text, ok[i].world);
		if (rc) {
			diag_dump(&c->diag);
			fail_msg("row %zu refused", i);
		}
		assert_int_equal(c->job.global_batch, ok[i].global_batch);
		assert_int_equal(c->job.grad_accum, ok[i].grad_accum);
	}

	int rc =
	    resolve_text(c, "[parallel]\nmicrobatch = 2\nglobal_batch = 32\ngrad_accum = 3\n", 4);
	assert_int_equal(rc, TL_EINPUT);
	expect_msgs(&c->diag,
	            "t.job:4: grad_accum = 3 disagrees with global_batch/(microbatch*dp) = 4");

	rc = resolve_text(c, "[parallel]\nmicrobatch = 2\nglobal_batch = 12\n", 4);
	assert_int_equal(rc, TL_EINPUT);
	expect_msgs(&c->diag,
	            "t.job:3: global_batch = 12 is not a multiple of microbatch*dp = 2*4");

	/* through --set: the message names the override */
	ctx_reset(c);
	assert_int_equal(tl_job_set(&c->job, "parallel.global_batch=8", &c->diag), 0);
	assert_int_equal(tl_job_set(&c->job, "parallel.grad_accum=3", &c->diag), 0);
	assert_int_equal(tl_job_resolve(&c->job, 2, &c->diag), TL_EINPUT);
	expect_msgs(&c->diag, "--set parallel.grad_accum: grad_accum = 3 disagrees with "
	                      "global_batch/(microbatch*dp) = 4");
}

/* comm_dtype "same" resolves to compute_dtype; which compute dtypes a backend runs is its own
 * check (tests/unit/test_exec.c). */
static void test_resolve_dtype(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(resolve_text(c, "[run]\ncompute_dtype = f64\n", 1), 0);
	assert_int_equal(c->job.comm_dtype, TL_DTYPE_F64);
	assert_int_equal(resolve_text(c, "[run]\ncomm_dtype = f32\n", 1), 0);
	assert_int_equal(resolve_text(c, "[run]\nbackend = cuda\ncompute_dtype = f16\n"
	                                 "comm_dtype = f64\n", 1), 0);
	assert_int_equal(c->job.compute_dtype, TL_DTYPE_F16);
	assert_int_equal(c->job.comm_dtype, TL_DTYPE_F64);
}

static void test_resolve_experts(void **state)
{
	struct ctx *c = *state;

	int rc = resolve_text(c, "[model]\nexperts = 2\ntopk = 4\n", 1);
	assert_int_equal(rc, TL_EINPUT);
	expect_msgs(&c->diag, "t.job:3: topk = 4 exceeds experts = 2");

	rc = resolve_text(c, "[parallel]\nep = 3\n", 4);
	assert_int_equal(rc, TL_EINPUT);
	expect_msgs(&c->diag,
	            "t.job:2: ep = 3 does not divide dp = 4 (expert groups are carved out of the "
	            "data-parallel ranks)",
	            "t.job:2: ep = 3 does not divide experts = 0");

	/* experts over ep = 2 of dp = 4: planned */
	rc = resolve_text(c, "[model]\nexperts = 4\n[parallel]\nep = 2\n", 4);
	assert_int_equal(rc, 0);
	assert_int_equal(c->job.dp, 4);

	rc = resolve_text(c, "[model]\nexperts = 6\n[parallel]\nep = 4\n", 4);
	assert_int_equal(rc, TL_EINPUT);
	expect_msgs(&c->diag, "t.job:4: ep = 4 does not divide experts = 6");
}

static void test_resolve_model_and_sweep(void **state)
{
	struct ctx *c = *state;

	int rc = resolve_text(c, "[model]\nlayers = 2\n[sweep]\nop = allreduce\n", 1);
	assert_int_equal(rc, TL_EINPUT);
	expect_msgs(&c->diag, "t.job: a job holds either [model] (a training step) or [sweep] (a "
	                      "collective sweep), not both");
}

/*
 * Resolving refuses only what no part of this version can plan (cp > 1 with experts), and the
 * layouts context parallelism and the interleaved schedule cannot take, naming the key's file
 * and line. What a backend cannot run (cuda without CUDA, ...) resolves, so that --dry-run plans
 * it; the backend refuses it (tl_backend_check, tests/unit/test_exec.c); a sweep's own keys
 * are checked as its plan is built (tests/unit/test_sweep.c).
 */
static void test_resolve_not_implemented(void **state)
{
	struct ctx *c = *state;
	static const struct {
		const char *text;
		uint64_t world;
		const char *want;
	} refused[] = {
	    {"[model]\nexperts = 4\n[parallel]\ncp = 2\n", 4,
	     "t.job:4: context parallelism (cp > 1) with experts > 0 is not implemented yet"},
	    /* seq 256 in 2·cp chunks */
	    {"[run]\nsteps = 1\n[parallel]\ntp = 2\ncp = 3\n", 6,
	     "t.job:5: cp = 3: seq = 256 is not a multiple of 2*cp = 6 (each rank holds two of "
	     "2*cp chunks of every sequence)"},
	    {"[parallel]\nvirtual_stages = 2\npp = 2\n", 2,
	     "t.job:2: virtual_stages = 2 needs schedule = interleaved"},
	    {"[parallel]\nschedule = interleaved\n", 2,
	     "t.job:2: schedule = interleaved needs pp > 1"},
	    {"[parallel]\nschedule = interleaved\npp = 2\nvirtual_stages = 4\ngrad_accum = 2\n", 2,
	     "t.job:4: pp*virtual_stages = 2*4 does not divide layers = 4"},
	    {"[parallel]\nschedule = interleaved\npp = 2\nvirtual_stages = 2\ngrad_accum = 3\n", 2,
	     "t.job:5: schedule = interleaved needs the microbatches per step (3) to be a multiple "
	     "of pp = 2"},
	};
	static const struct {
		const char *text;
		uint64_t world;
	} planned[] = {
	    {"[run]\nsteps = 1\n[parallel]\ntp = 2\n", 2},
	    /* Sweeps have no model: tp = 16 need not divide the default 8 heads. */
	    {"[sweep]\nop = allreduce\n", 1},
	    {"[sweep]\nmax_bytes = 1Mi\nop = allgather,sendrecv\n", 4},
	    {"[sweep]\ngroup = tp\n[parallel]\ntp = 16\n", 32},
	    {"[run]\nsteps = 1\n[parallel]\npp = 2\n", 2},
	    {"[parallel]\ntp = 2\npp = 2\nsequence_parallel = yes\n", 8},
	    {"[parallel]\nzero = 1\n", 1},
	    {"[parallel]\nzero = 3\n", 8},
	    {"[parallel]\nsequence_parallel = yes\n", 1},
	    {"[model]\nexperts = 8\n", 1},
	    {"[model]\nexperts = 8\n[parallel]\nep = 4\n", 8},
	    {"[parallel]\nschedule = gpipe\npp = 4\n", 4},
	    {"[run]\nbackend = cuda\n", 1},
	    {"[run]\nbackend = cuda\ncompute_dtype = bf16\n", 1},
	    {"[run]\nbind = core\n", 1},
	    {"[run]\nbind = numa\n", 1},
	    {"[run]\nbind = package\n", 1},
	    {"[run]\ncheck = 5\n", 1},
	    {"[run]\ntimeout_s = 60\n", 1},
	    {"[run]\ncomm_dtype = f64\n", 1},
	    {"[run]\nstraggler_pct = 10\n", 1},
	    {"[parallel]\ncp = 2\n", 4},
	    {"[sweep]\ngroup = cp\n[parallel]\ncp = 2\n", 4},
	    {"[run]\nsteps = 1\n[parallel]\ntp = 2\ncp = 2\n", 8},
	    {"[parallel]\nschedule = interleaved\npp = 2\nvirtual_stages = 2\ngrad_accum = 4\n", 4},
	    {"[parallel]\nschedule = interleaved\npp = 4\ngrad_accum = 4\n", 8},
	};

	for (size_t i = 0; i < ARRAY_LEN(refused); i++) {
		int rc = resolve_text(c, refused[i].text, refused[i].world);
		if (rc != TL_EINPUT)
			fail_msg("row %zu accepted: %s", i, refused[i].text);
		expect_msgs(&c->diag, refused[i].want);
	}
	for (size_t i = 0; i < ARRAY_LEN(planned); i++) {
		int rc = resolve_text(c, planned[i].text, planned[i].world);
		if (rc != 0) {
			diag_dump(&c->diag);
			fail_msg("row %zu refused at %" PRIu64 " ranks: %s", i, planned[i].world,
			         planned[i].text);
		}
		assert_int_equal(c->diag.count, 0);
	}

	/* the same refusal for an override names it */
	ctx_reset(c);
	assert_int_equal(tl_job_set(&c->job, "parallel.cp=2", &c->diag), 0);
	assert_int_equal(tl_job_set(&c->job, "model.experts=2", &c->diag), 0);
	assert_int_equal(tl_job_resolve(&c->job, 2, &c->diag), TL_EINPUT);
	expect_msgs(&c->diag, "--set parallel.cp: context parallelism (cp > 1) with experts > 0 is "
	                      "not implemented yet");

	/* what this version runs is accepted */
	assert_int_equal(resolve_text(c,
	                              "[run]\nbind = none\nbackend = null\nrecompute = full\n"
	                              "memory = lean\nthreads_per_rank = 1\n",
	                              2),
	                 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)
	    T(test_good_values_in_file),
	    T(test_good_values_by_set),
	    T(test_bad_values_in_file),
	    T(test_bad_values_by_set),
	    T(test_minimal_file),
	    T(test_every_section),
	    T(test_unknown_key_did_you_mean),
	    T(test_unknown_key_other_section),
	    T(test_unknown_key_no_hint),
	    T(test_unknown_section),
	    T(test_key_before_section),
	    T(test_duplicate_key),
	    T(test_empty_value),
	    T(test_syntax_error),
	    T(test_text_after_section),
	    T(test_not_regular),
	    T(test_bounded),
	    T(test_all_syntax_errors_reported),
	    T(test_unterminated_section),
	    T(test_bom),
	    T(test_empty_file),
	    T(test_comments_only),
	    T(test_missing_file),
	    T(test_directory),
	    T(test_parse_file_ok),
	    T(test_crlf),
	    T(test_indented),
	    T(test_long_line),
	    T(test_binary),
	    T(test_all_errors_collected),
	    T(test_many_errors_counted),
	    T(test_diagnostics_accumulate),
	    T(test_model_and_sweep_flags),
	    T(test_set_valid),
	    T(test_set_bad_syntax),
	    T(test_set_unknown),
	    T(test_set_overrides_file),
	    T(test_defaults),
	    T(test_format_round_trip),
	    T(test_help_job),
	    T(test_to_json),
	    T(test_resolve_default),
	    T(test_resolve_dp_auto),
	    T(test_resolve_world_divisibility),
	    T(test_resolve_heads_tp),
	    T(test_resolve_layers_pp),
	    T(test_resolve_heads),
	    T(test_resolve_ffn),
	    T(test_resolve_batch),
	    T(test_resolve_dtype),
	    T(test_resolve_experts),
	    T(test_resolve_model_and_sweep),
	    T(test_resolve_not_implemented),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
