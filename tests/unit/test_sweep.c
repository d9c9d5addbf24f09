/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The pure arithmetic of collective sweeps (src/sweep_plan.c): op names and their validation,
 * the size list, nccl-tests' counting, busbw factors from the one table, and the data pattern
 * held to a simulation of each collective written out here independently.
 */
#include "config.h"

#include <math.h>

#include "tl_test.h"
#include "trainload/check.h"
#include "trainload/half.h"
#include "trainload/sweep.h"

static void test_sizes(void **state)
{
	struct ctx *c = *state;
	uint64_t sizes[64];

	/* The default: 8 B .. 64 MiB, doubling. */
	size_t n = tl_sweep_sizes(&c->job, sizes, ARRAY_LEN(sizes));
	assert_int_equal(n, 24);
	assert_int_equal(sizes[0], 8);
	assert_int_equal(sizes[23], UINT64_C(64) << 20);

	set_all(c, (const char *const[]){ "sweep.min_bytes=100", "sweep.max_bytes=350",
					  "sweep.step=100", NULL });
	n = tl_sweep_sizes(&c->job, sizes, ARRAY_LEN(sizes));
	assert_int_equal(n, 3);
	assert_int_equal(sizes[0], 100);
	assert_int_equal(sizes[1], 200);
	assert_int_equal(sizes[2], 300);

	set_all(c, (const char *const[]){ "sweep.step=0", "sweep.factor=3", NULL });
	n = tl_sweep_sizes(&c->job, sizes, ARRAY_LEN(sizes));
	assert_int_equal(n, 2);
	assert_int_equal(sizes[1], 300);

	/* min = max: one size; cap smaller than the count still counts them all. */
	set_all(c, (const char *const[]){ "sweep.min_bytes=1Mi", "sweep.max_bytes=1Mi", NULL });
	assert_int_equal(tl_sweep_sizes(&c->job, NULL, 0), 1);
}

static void test_points(void **state)
{
	struct tl_sweep_point pt;
	(void)state;

	/* nccl-tests: allreduce count = bytes / element. */
	tl_sweep_point(TL_SWEEP_ALLREDUCE, 1 << 20, 4, 2, &pt);
	assert_int_equal(pt.count, 262144);
	assert_int_equal(pt.bytes, 1 << 20);
	assert_int_equal(pt.send_elems, 262144);
	assert_int_equal(pt.recv_elems, 262144);
	/* reduce-scatter: bytes is the input, each rank keeps 1/n of it. */
	tl_sweep_point(TL_SWEEP_REDUCE_SCATTER, 1 << 20, 4, 4, &pt);
	assert_int_equal(pt.chunk, 65536);
	assert_int_equal(pt.count, 262144);
	assert_int_equal(pt.send_elems, 262144);
	assert_int_equal(pt.recv_elems, 65536);
	/* allgather: bytes is the output. */
	tl_sweep_point(TL_SWEEP_ALLGATHER, 1 << 20, 2, 4, &pt);
	assert_int_equal(pt.send_elems, 131072);
	assert_int_equal(pt.recv_elems, 524288);
	/* Rounded down to whole chunks; nothing left is nothing to move. */
	tl_sweep_point(TL_SWEEP_ALLTOALL, 100, 4, 3, &pt);
	assert_int_equal(pt.chunk, 8);
	assert_int_equal(pt.bytes, 96);
	tl_sweep_point(TL_SWEEP_ALLGATHER, 8, 4, 4, &pt);
	assert_int_equal(pt.bytes, 0);
	tl_sweep_point(TL_SWEEP_SENDRECV, 10, 8, 7, &pt);
	assert_int_equal(pt.count, 1);
	assert_int_equal(pt.bytes, 8);
}

static void test_factors(void **state)
{
	(void)state;
	assert_true(tl_sweep_busbw_factor(TL_SWEEP_ALLREDUCE, 4) == 1.5);
	assert_true(tl_sweep_busbw_factor(TL_SWEEP_REDUCE_SCATTER, 4) == 0.75);
	assert_true(tl_sweep_busbw_factor(TL_SWEEP_ALLGATHER, 8) == 0.875);
	assert_true(tl_sweep_busbw_factor(TL_SWEEP_ALLTOALL, 2) == 0.5);
	assert_true(tl_sweep_busbw_factor(TL_SWEEP_BROADCAST, 8) == 1.0);
	assert_true(tl_sweep_busbw_factor(TL_SWEEP_SENDRECV, 8) == 1.0);
	assert_true(tl_sweep_op_reduces(TL_SWEEP_ALLREDUCE));
	assert_false(tl_sweep_op_reduces(TL_SWEEP_ALLTOALL));
}

static void test_ops(void **state)
{
	struct ctx *c = *state;
	enum tl_sweep_op ops[TL_SWEEP_OPS];

	set_all(c, (const char *const[]){ "sweep.op=allreduce, sendrecv,allreduce,broadcast",
					  NULL });
	assert_int_equal(tl_sweep_parse_ops(&c->job, ops, &c->diag), 3);
	assert_int_equal(ops[0], TL_SWEEP_ALLREDUCE);
	assert_int_equal(ops[1], TL_SWEEP_SENDRECV);
	assert_int_equal(ops[2], TL_SWEEP_BROADCAST);
	assert_int_equal(c->diag.count, 0);

	set_all(c, (const char *const[]){ "sweep.op=allgather,reduce_scater", NULL });
	assert_int_equal(tl_sweep_parse_ops(&c->job, ops, &c->diag), TL_EINPUT);
	expect_msgs(&c->diag, "--set sweep.op: unknown collective 'reduce_scater' in key 'op' of "
			      "[sweep] (did you mean 'reduce_scatter'?)");
}

/* Every partial sum of the pattern over up to 64 ranks is exact in bf16 and f16. */
static void test_pattern_exact(void **state)
{
	(void)state;
	for (unsigned v = 0; v <= 64 * 3; v++) {
		assert_true(tl_bf16_to_float(tl_bf16_from_float((float)v)) == (float)v);
		assert_true(tl_f16_to_float(tl_f16_from_float((float)v)) == (float)v);
	}
	for (uint64_t n = 1; n <= 70; n++)
		for (uint64_t i = 0; i < 9; i++)
			for (uint64_t it = 0; it < 5; it++) {
				uint64_t sum = 0;
				for (uint64_t r = 0; r < n; r++)
					sum += tl_sweep_value(r, i, it);
				assert_int_equal(tl_sweep_value_sum(n, i, it), sum);
			}
}

/* Each op simulated on n ranks from what every rank sends; the expected values must agree. */
static void test_expected(void **state)
{
	(void)state;
	for (int op = 0; op < TL_SWEEP_OPS; op++) {
		for (uint64_t n = 1; n <= 5; n++) {
			struct tl_sweep_point pt;
			tl_sweep_point((enum tl_sweep_op)op, 240, 4, n, &pt);
			uint64_t c = pt.chunk, it = 3;
			for (uint64_t me = 0; me < n; me++) {
				for (uint64_t i = 0; i < pt.recv_elems; i++) {
					double want = 0;
					switch (op) {
					case TL_SWEEP_ALLREDUCE:
						for (uint64_t r = 0; r < n; r++)
							want += tl_sweep_value(r, i, it);
						break;
					case TL_SWEEP_REDUCE_SCATTER:
						for (uint64_t r = 0; r < n; r++)
							want += tl_sweep_value(r, me * c + i, it);
						break;
					case TL_SWEEP_ALLGATHER: /* block r: rank r's send */
						want = tl_sweep_value(i / c, i % c, it);
						break;
					case TL_SWEEP_ALLTOALL: /* block r: rank r's block for me */
						want = tl_sweep_value(i / c, me * c + i % c, it);
						break;
					case TL_SWEEP_BROADCAST:
						want = tl_sweep_value(0, i, it);
						break;
					default: /* from the previous rank of the ring */
						want = tl_sweep_value((me + n - 1) % n, i, it);
						break;
					}
					enum tl_sweep_op k = (enum tl_sweep_op)op;
					assert_true(tl_sweep_expected(k, &pt, n, me, i, it) ==
						    want);
				}
			}
		}
	}
}

static void test_store_load(void **state)
{
	(void)state;
	const int dtypes[] = { TL_DTYPE_F32, TL_DTYPE_F64, TL_DTYPE_BF16, TL_DTYPE_F16 };
	double buf[4];

	for (size_t d = 0; d < ARRAY_LEN(dtypes); d++) {
		tl_dtype_store(buf, dtypes[d], 3, 191.0);
		tl_dtype_store(buf, dtypes[d], 0, -1.0);
		assert_true(tl_dtype_load(buf, dtypes[d], 3) == 191.0);
		assert_true(tl_dtype_load(buf, dtypes[d], 0) == -1.0);
	}
	assert_string_equal(tl_dtype_name(TL_DTYPE_BF16), "bfloat16");
	assert_string_equal(tl_dtype_name(TL_DTYPE_F32), "float");
}

/* tl_check_fill and tl_check_verify (src/check.c), the one check of the sweep and of training
 * runs: an allreduce of n = 5 ranks done by hand verifies clean, in place or not; one changed
 * element is counted and named; a receive buffer left at -1 is all wrong; sendrecv expects the
 * sender it is told of. */
static void test_check(void **state)
{
	enum { N = 5, E = 37 };
	float send[N][E], recv[E], sum[E] = { 0 };
	struct tl_check c = { .op = TL_SWEEP_ALLREDUCE, .n = N, .it = 3, .dtype = TL_DTYPE_F32 };
	struct tl_check_miss miss = { 0 };

	(void)state;
	tl_sweep_point(c.op, E * sizeof(float), sizeof(float), N, &c.pt);
	for (uint64_t r = 0; r < N; r++) {
		c.me = r;
		tl_check_fill(&c, send[r], recv);
		for (int i = 0; i < E; i++)
			sum[i] += send[r][i];
	}
	for (int i = 0; i < E; i++)
		assert_true(recv[i] == -1.0f);
	assert_int_equal(tl_check_verify(&c, recv, &miss), E);
	assert_int_equal(miss.index, 0);
	assert_true(miss.got == -1.0);
	assert_int_equal(tl_check_verify(&c, sum, &miss), 0);
	sum[11] += 1;
	assert_int_equal(tl_check_verify(&c, sum, &miss), 1);
	assert_int_equal(miss.index, 11);
	assert_true(miss.got == miss.want + 1);

	/* in place: the fill leaves the pattern, not -1, in the one buffer */
	c.in_place = true;
	c.me = 2;
	tl_check_fill(&c, recv, recv);
	for (int i = 0; i < E; i++)
		assert_true(recv[i] == send[2][i]);

	/* sendrecv: what the named sender filled */
	struct tl_check p = { .op = TL_SWEEP_SENDRECV, .n = 2, .me = 7, .from = 4, .it = 1,
			      .dtype = TL_DTYPE_F32 };
	tl_sweep_point(p.op, E * sizeof(float), sizeof(float), 2, &p.pt);
	struct tl_check sender = p;
	sender.me = 4;
	tl_check_fill(&sender, send[0], NULL);
	assert_int_equal(tl_check_verify(&p, send[0], &miss), 0);
	p.from = 5;
	assert_true(tl_check_verify(&p, send[0], &miss) > 0);
}

static void test_resolve(void **state)
{
	struct ctx *c = *state;

	set_all(c, (const char *const[]){ "sweep.op=allreduce", "parallel.tp=2", NULL });
	c->job.has_sweep = true;
	/* A sweep has no model: tp need not divide heads (8). */
	set_all(c, (const char *const[]){ "parallel.tp=16", NULL });
	assert_int_equal(tl_job_resolve(&c->job, 32, &c->diag), 0);
	assert_int_equal(c->job.dp, 2);
	ctx_reset(c);
	c->job.has_sweep = true;
	set_all(c, (const char *const[]){ "sweep.min_bytes=1Mi", "sweep.max_bytes=1Ki", NULL });
	assert_int_equal(tl_job_resolve(&c->job, 1, &c->diag), TL_EINPUT);
	expect_has(&c->diag, "max_bytes = 1024 is below min_bytes = 1048576");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_sizes, ctx_setup, ctx_teardown),
		cmocka_unit_test(test_points),
		cmocka_unit_test(test_factors),
		cmocka_unit_test_setup_teardown(test_ops, ctx_setup, ctx_teardown),
		cmocka_unit_test(test_pattern_exact),
		cmocka_unit_test(test_expected),
		cmocka_unit_test(test_store_load),
		cmocka_unit_test(test_check),
		cmocka_unit_test_setup_teardown(test_resolve, ctx_setup, ctx_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
