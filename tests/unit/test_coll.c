/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The collective table (src/coll.c) and the check built on it (src/check.c), for every
 * communicating kind × dtype × group size: names, nccl-tests' busbw factors, the counts of a
 * call against nccl-tests' counting written out here, and the expected values against each
 * collective simulated here on the ranks' buffers, out of place and in place (nccl-tests' and
 * MPI's layouts): what the senders' fill puts in, moved as the collective moves it, must verify
 * clean, and one changed element must be caught. Also the dtype module's access.
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>

#include "tl_test.h"
#include "trainload/check.h"
#include "trainload/coll.h"
#include "trainload/dtype.h"
#include "trainload/half.h"

static const enum tl_op_kind comm_kinds[] = {
    TL_OP_ALLREDUCE, TL_OP_REDUCE_SCATTER, TL_OP_ALLGATHER, TL_OP_ALLTOALL,
    TL_OP_BROADCAST, TL_OP_SENDRECV,       TL_OP_SEND,      TL_OP_RECV};
static const int dtypes[] = {TL_DTYPE_F32, TL_DTYPE_F64, TL_DTYPE_BF16, TL_DTYPE_F16};

static void test_names(void **state)
{
	static const char *const names[TL_OP_KINDS] = {
	    [TL_OP_GEMM] = "gemm",           [TL_OP_ELEMENTWISE] = "elementwise",
	    [TL_OP_ALLREDUCE] = "allreduce", [TL_OP_REDUCE_SCATTER] = "reduce_scatter",
	    [TL_OP_ALLGATHER] = "allgather", [TL_OP_ALLTOALL] = "alltoall",
	    [TL_OP_SEND] = "send",           [TL_OP_RECV] = "recv",
	    [TL_OP_WAIT] = "wait",           [TL_OP_OPTIMIZER] = "optimizer",
	    [TL_OP_BROADCAST] = "broadcast", [TL_OP_SENDRECV] = "sendrecv",
	};

	(void)state;
	for (int k = 0; k < TL_OP_KINDS; k++) {
		bool comm = k != TL_OP_GEMM && k != TL_OP_ELEMENTWISE && k != TL_OP_WAIT &&
		            k != TL_OP_OPTIMIZER;
		assert_string_equal(tl_op_kind_name((enum tl_op_kind)k), names[k]);
		assert_int_equal(tl_op_is_comm((enum tl_op_kind)k), comm);
		const struct tl_coll *d = tl_coll_get((enum tl_op_kind)k);
		assert_int_equal(d != NULL, comm);
		if (d) {
			assert_int_equal(d->kind, k);
			assert_ptr_equal(tl_coll_find(names[k]), d);
		}
	}
	assert_null(tl_coll_find("gemm"));
	assert_null(tl_coll_find("all_reduce"));
	assert_string_equal(tl_op_kind_name(TL_OP_KINDS), "?");
	/* nccl-tests' redop and root columns */
	assert_string_equal(tl_coll_get(TL_OP_ALLREDUCE)->redop, "sum");
	assert_string_equal(tl_coll_get(TL_OP_REDUCE_SCATTER)->redop, "sum");
	assert_string_equal(tl_coll_get(TL_OP_ALLGATHER)->redop, "none");
	assert_int_equal(tl_coll_get(TL_OP_BROADCAST)->root, 0);
	assert_int_equal(tl_coll_get(TL_OP_ALLREDUCE)->root, -1);
}

/* nccl-tests' doc/PERFORMANCE.md: 2(n-1)/n, (n-1)/n, 1. */
static void test_factors(void **state)
{
	(void)state;
	for (uint64_t n = 1; n <= 64; n++) {
		double r = (double)n;
		assert_true(tl_busbw_factor(TL_OP_ALLREDUCE, n) == 2 * (r - 1) / r);
		assert_true(tl_busbw_factor(TL_OP_REDUCE_SCATTER, n) == (r - 1) / r);
		assert_true(tl_busbw_factor(TL_OP_ALLGATHER, n) == (r - 1) / r);
		assert_true(tl_busbw_factor(TL_OP_ALLTOALL, n) == (r - 1) / r);
		assert_true(tl_busbw_factor(TL_OP_BROADCAST, n) == 1);
		assert_true(tl_busbw_factor(TL_OP_SENDRECV, n) == 1);
		assert_true(tl_busbw_factor(TL_OP_SEND, n) == 1);
		assert_true(tl_busbw_factor(TL_OP_RECV, n) == 1);
	}
	assert_true(tl_busbw_factor(TL_OP_ALLREDUCE, 4) == 1.5);
	assert_true(tl_busbw_factor(TL_OP_ALLGATHER, 8) == 0.875);
	assert_true(tl_busbw_factor(TL_OP_GEMM, 8) == 1);
}

static bool blocks(enum tl_op_kind k)
{
	return k == TL_OP_REDUCE_SCATTER || k == TL_OP_ALLGATHER || k == TL_OP_ALLTOALL;
}

/* nccl-tests' counting: bytes is the larger buffer, in whole elements, and in whole blocks per
 * rank where each rank gets one; input and output as each collective has them. */
static void test_counts(void **state)
{
	static const uint64_t sizes[] = {0, 1, 7, 8, 12, 100, 4096, 1000003, UINT64_C(1) << 34};

	(void)state;
	for (size_t k = 0; k < ARRAY_LEN(comm_kinds); k++)
		for (size_t d = 0; d < ARRAY_LEN(dtypes); d++)
			for (uint64_t n = 1; n <= 9; n++)
				for (size_t s = 0; s < ARRAY_LEN(sizes); s++) {
					enum tl_op_kind kind = comm_kinds[k];
					uint64_t e = tl_dtype_bytes(dtypes[d]), b = sizes[s];
					struct tl_coll_counts c;
					tl_coll_get(kind)->counts(b, e, n, &c);
					uint64_t elems = b / e;
					uint64_t per = blocks(kind) ? elems / n : elems;
					uint64_t count = blocks(kind) ? per * n : elems;
					assert_int_equal(c.param, per);
					assert_int_equal(c.count, count);
					assert_int_equal(c.bytes, count * e);
					assert_true(c.bytes <= b &&
					            b - c.bytes < e * (blocks(kind) ? n : 1));
					uint64_t send = kind == TL_OP_ALLGATHER ? per
					                : kind == TL_OP_RECV    ? 0
					                                        : count;
					uint64_t recv = kind == TL_OP_REDUCE_SCATTER ? per
					                : kind == TL_OP_SEND         ? 0
					                                             : count;
					assert_int_equal(c.send, send);
					assert_int_equal(c.recv, recv);
				}
	/* the examples nccl-tests prints: 1 MiB of floats on 4 ranks */
	struct tl_coll_counts c;
	tl_coll_get(TL_OP_REDUCE_SCATTER)->counts(1 << 20, 4, 4, &c);
	assert_int_equal(c.param, 65536);
	assert_int_equal(c.send, 262144);
	tl_coll_get(TL_OP_ALLTOALL)->counts(100, 4, 3, &c);
	assert_int_equal(c.bytes, 96);
	assert_int_equal(c.param, 8);
}

/* Every partial sum of the pattern over up to 64 ranks is exact in bf16 and f16, and
 * tl_coll_value_sum is the sum. */
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
					sum += tl_coll_value(r, i, it);
				assert_int_equal(tl_coll_value_sum(n, i, it), sum);
			}
}

#define MAXN 6
#define MAXE 64

/* What each collective leaves at element i of rank r's output, moved here from the ranks'
 * inputs (loaded as doubles): the collective's semantics, written apart from coll.c. */
static double moved(enum tl_op_kind kind, double in[MAXN][MAXE], uint64_t n, uint64_t p, uint64_t r,
                    uint64_t i)
{
	double v = 0;

	switch (kind) {
	case TL_OP_ALLREDUCE:
		for (uint64_t s = 0; s < n; s++)
			v += in[s][i];
		return v;
	case TL_OP_REDUCE_SCATTER:
		for (uint64_t s = 0; s < n; s++)
			v += in[s][r * p + i];
		return v;
	case TL_OP_ALLGATHER:
		return in[i / p][i % p];
	case TL_OP_ALLTOALL:
		return in[i / p][r * p + i % p];
	case TL_OP_BROADCAST:
		return in[0][i];
	default: /* sendrecv: from the previous rank; recv: from rank 0 */
		return kind == TL_OP_RECV ? in[0][i] : in[(r + n - 1) % n][i];
	}
}

/*
 * Run kind on n ranks in memory, in dtype, each rank's buffers filled by tl_check_fill, and
 * verify every rank's output. in_place: input and output in one buffer, at the descriptor's
 * offsets, or MPI's for reduce_scatter (result_first). Returns the wrong elements in all.
 */
static uint64_t simulate(enum tl_op_kind kind, int dtype, uint64_t n, bool in_place,
                         bool result_first, int corrupt_rank)
{
	const struct tl_coll *d = tl_coll_get(kind);
	unsigned char inbuf[MAXN][MAXE * 8], outbuf[MAXN][MAXE * 8];
	double in[MAXN][MAXE] = {{0}};
	uint64_t e = tl_dtype_bytes(dtype), wrong = 0;
	struct tl_check c[MAXN];

	for (uint64_t r = 0; r < n; r++) {
		/* recv receives from world rank 0 (the sender at index 0) */
		c[r] = (struct tl_check){
		    .coll = d, .n = n, .me = r, .from = 0, .it = 5, .dtype = dtype};
		d->counts(MAXE / 2 * e, e, n, &c[r].c);
	}
	uint64_t p = c[0].c.param;
	for (uint64_t r = 0; r < n; r++) {
		unsigned char *x = inbuf[r], *y = outbuf[r];
		if (in_place) {
			x = outbuf[r] + (d->send_in_place_at_rank ? r * p * e : 0);
			y = outbuf[r] + (d->recv_in_place_at_rank && !result_first ? r * p * e : 0);
		}
		memset(outbuf[r], 0x5a, sizeof(outbuf[r]));
		/* a send's rank fills its input alone; a receive, its output */
		tl_check_fill(&c[r], kind == TL_OP_RECV ? NULL : x, kind == TL_OP_SEND ? NULL : y);
		for (uint64_t i = 0; i < c[r].c.send; i++)
			in[r][i] = tl_dtype_load(x, dtype, i);
		if (kind == TL_OP_RECV) /* what the sender, world rank 0, sent */
			for (uint64_t i = 0; i < c[r].c.recv; i++)
				in[0][i] = tl_coll_value(0, i, 5);
	}
	for (uint64_t r = 0; r < n; r++) {
		unsigned char *y =
		    outbuf[r] +
		    (in_place && d->recv_in_place_at_rank && !result_first ? r * p * e : 0);
		for (uint64_t i = 0; i < c[r].c.recv; i++)
			tl_dtype_store(y, dtype, i, moved(kind, in, n, p, r, i));
		if ((int)r == corrupt_rank && c[r].c.recv)
			tl_dtype_store(y, dtype, c[r].c.recv - 1, -7);
		struct tl_check_miss miss;
		wrong += tl_check_verify(&c[r], y, &miss);
	}
	return wrong;
}

static void test_expected(void **state)
{
	(void)state;
	for (size_t k = 0; k < ARRAY_LEN(comm_kinds); k++)
		for (size_t d = 0; d < ARRAY_LEN(dtypes); d++)
			for (uint64_t n = 1; n <= MAXN; n++) {
				enum tl_op_kind kind = comm_kinds[k];
				if (kind == TL_OP_SEND)
					continue; /* receives nothing */
				for (int place = 0; place < 3; place++) {
					bool in_place = place > 0, first = place == 2;
					if (in_place && kind == TL_OP_RECV)
						continue;
					uint64_t w =
					    simulate(kind, dtypes[d], n, in_place, first, -1);
					if (w)
						fail_msg(
						    "%s, %s, n %" PRIu64 ", %s: %" PRIu64 " wrong",
						    tl_op_kind_name(kind), tl_dtype_name(dtypes[d]),
						    n, in_place ? "in place" : "out of place", w);
					assert_int_equal(simulate(kind, dtypes[d], n, in_place,
					                          first, (int)(n - 1)),
					                 1);
				}
			}
}

static void test_dtypes(void **state)
{
	double buf[4];

	(void)state;
	for (size_t d = 0; d < ARRAY_LEN(dtypes); d++) {
		tl_dtype_store(buf, dtypes[d], 3, 191.0);
		tl_dtype_store(buf, dtypes[d], 0, -1.0);
		assert_true(tl_dtype_load(buf, dtypes[d], 3) == 191.0);
		assert_true(tl_dtype_load(buf, dtypes[d], 0) == -1.0);
		assert_int_equal(tl_dtype_from_name(tl_dtype_name(dtypes[d])), dtypes[d]);
	}
	assert_string_equal(tl_dtype_name(TL_DTYPE_BF16), "bfloat16");
	assert_string_equal(tl_dtype_name(TL_DTYPE_F32), "float");
	assert_string_equal(tl_dtype_name(TL_DTYPE_F64), "double");
	assert_string_equal(tl_dtype_name(TL_DTYPE_F16), "half");
	assert_int_equal(tl_dtype_bytes(TL_DTYPE_F64), 8);
	assert_int_equal(tl_dtype_bytes(TL_DTYPE_BF16), 2);
	assert_int_equal(tl_dtype_from_name("f32"), TL_DTYPE_F32);
	assert_int_equal(tl_dtype_from_name("float64"), TL_DTYPE_F64);
	assert_int_equal(tl_dtype_from_name("float16"), TL_DTYPE_F16);
	assert_int_equal(tl_dtype_from_name("int8"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_names),    cmocka_unit_test(test_factors),
	    cmocka_unit_test(test_counts),   cmocka_unit_test(test_pattern_exact),
	    cmocka_unit_test(test_expected), cmocka_unit_test(test_dtypes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
