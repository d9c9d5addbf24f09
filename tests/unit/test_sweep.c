/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A sweep's plan (src/sweep_plan.c): the names sweep.op takes and its errors, the size list, the
 * rows as nccl-tests counts them (and the rounding they say so of), the ops of each point on
 * every rank (collectives on all, point-to-point tests on the pairs OSU's tests use), the
 * buffers a rank holds, and the keys refused with the file and line.
 */
#include "config.h"

#include <inttypes.h>

#include "tl_test.h"
#include "trainload/grid.h"
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

	set_all(c, (const char *const[]){"sweep.min_bytes=100", "sweep.max_bytes=350",
	                                 "sweep.step=100", NULL});
	n = tl_sweep_sizes(&c->job, sizes, ARRAY_LEN(sizes));
	assert_int_equal(n, 3);
	assert_int_equal(sizes[0], 100);
	assert_int_equal(sizes[1], 200);
	assert_int_equal(sizes[2], 300);

	set_all(c, (const char *const[]){"sweep.step=0", "sweep.factor=3", NULL});
	n = tl_sweep_sizes(&c->job, sizes, ARRAY_LEN(sizes));
	assert_int_equal(n, 2);
	assert_int_equal(sizes[1], 300);

	/* min = max: one size; cap smaller than the count still counts them all. */
	set_all(c, (const char *const[]){"sweep.min_bytes=1Mi", "sweep.max_bytes=1Mi", NULL});
	assert_int_equal(tl_sweep_sizes(&c->job, NULL, 0), 1);
}

static void test_ops(void **state)
{
	struct ctx *c = *state;
	struct tl_sweep_test t[TL_SWEEP_TESTS_MAX];

	set_all(c, (const char *const[]){"sweep.op= allreduce, sendrecv,allreduce,latency ,"
	                                 "broadcast,mbw_mr",
	                                 NULL});
	assert_int_equal(tl_sweep_parse_ops(&c->job, t, &c->diag), 5);
	assert_int_equal(t[0].coll->kind, TL_OP_ALLREDUCE);
	assert_int_equal(t[1].coll->kind, TL_OP_SENDRECV);
	assert_null(t[2].coll);
	assert_int_equal(t[2].p2p, TL_P2P_LATENCY);
	assert_int_equal(t[3].coll->kind, TL_OP_BROADCAST);
	assert_int_equal(t[4].p2p, TL_P2P_MBW_MR);
	assert_string_equal(tl_sweep_test_name(&t[4]), "mbw_mr");
	assert_int_equal(c->diag.count, 0);

	set_all(c, (const char *const[]){"sweep.op=allgather,reduce_scater,bibw", NULL});
	assert_int_equal(tl_sweep_parse_ops(&c->job, t, &c->diag), TL_EINPUT);
	expect_msgs(&c->diag, "--set sweep.op: unknown test 'reduce_scater' in key 'op' of "
	                      "[sweep] (did you mean 'reduce_scatter'?)");

	/* an empty name: two commas, or one at an end (issue 17: refused, not skipped) */
	static const char *const empties[] = {"sweep.op=allreduce,,allgather", "sweep.op=,bw",
	                                      "sweep.op=allreduce, ,bw", "sweep.op=allreduce,"};
	for (size_t i = 0; i < ARRAY_LEN(empties); i++) {
		ctx_reset(c);
		set_all(c, (const char *const[]){empties[i], NULL});
		assert_int_equal(tl_sweep_parse_ops(&c->job, t, &c->diag), TL_EINPUT);
		expect_has(&c->diag, "--set sweep.op: key 'op' of [sweep] has an empty name");
	}
	/* far from every name: the list */
	ctx_reset(c);
	set_all(c, (const char *const[]){"sweep.op=gemm_bandwidth", NULL});
	assert_int_equal(tl_sweep_parse_ops(&c->job, t, &c->diag), TL_EINPUT);
	expect_has(&c->diag, "(collectives: allreduce, reduce_scatter, allgather, alltoall, "
	                     "broadcast, sendrecv; point-to-point: latency, bw, bibw, mbw_mr)");
}

/* Rows as nccl-tests counts them: size = the larger buffer as moved, count = the call's. */
static void test_rows(void **state)
{
	struct ctx *c = *state;
	struct tl_grid g;
	struct tl_sweep sw;
	char note[256];

	assert_int_equal(sweep_of(c,
	                       (const char *const[]){"sweep.op=allreduce,allgather,latency",
	                                             "sweep.max_bytes=64", NULL},
	                       4, 0, &g, &sw),
	                 0);
	assert_int_equal(sw.ntests, 3);
	assert_int_equal(sw.group_size, 4);
	/* allreduce: 8 .. 64; allgather on 4 ranks of floats: 16 .. 64 (8 B is not a float per
	 * rank: left out, and said so); latency: 8 .. 64 */
	assert_int_equal(sw.test_rows[1] - sw.test_rows[0], 4);
	assert_int_equal(sw.test_rows[2] - sw.test_rows[1], 3);
	assert_int_equal(sw.test_rows[3] - sw.test_rows[2], 4);
	const struct tl_sweep_row *ag = &sw.rows[sw.test_rows[1]];
	assert_int_equal(ag->c.bytes, 16);
	assert_int_equal(ag->c.param, 1);
	assert_int_equal(ag->npoints, 2);
	assert_int_equal(tl_sweep_rounded(&sw, &c->job, 1, note, sizeof(note)), 1);
	assert_string_equal(note, "8 B -> left out");
	assert_int_equal(tl_sweep_rounded(&sw, &c->job, 0, note, sizeof(note)), 0);
	assert_int_equal(sw.rows[sw.test_rows[2]].npoints, 1);
	tl_sweep_free(&sw);

	/* issue 17: a 12-byte f64 sweep runs 8 bytes, and says so */
	assert_int_equal(sweep_of(c,
	                       (const char *const[]){"sweep.dtype=f64", "sweep.min_bytes=12",
	                                             "sweep.max_bytes=48", NULL},
	                       2, 0, &g, &sw),
	                 0);
	assert_int_equal(sw.nrows, 3); /* 12 -> 8, 24, 48 */
	assert_int_equal(sw.rows[0].requested, 12);
	assert_int_equal(sw.rows[0].c.bytes, 8);
	assert_int_equal(sw.rows[0].c.count, 1);
	assert_int_equal(tl_sweep_rounded(&sw, &c->job, 0, note, sizeof(note)), 1);
	assert_string_equal(note, "12 B -> 8 B");
	tl_sweep_free(&sw);

	/* the same rounding to the size before is left out: 3 ranks, alltoall of 12 and 13 B */
	assert_int_equal(sweep_of(c,
	                       (const char *const[]){"sweep.op=alltoall", "sweep.min_bytes=12",
	                                             "sweep.max_bytes=14", "sweep.step=1", NULL},
	                       3, 0, &g, &sw),
	                 0);
	assert_int_equal(sw.nrows, 1);
	assert_int_equal(sw.rows[0].c.bytes, 12);
	assert_int_equal(tl_sweep_rounded(&sw, &c->job, 0, note, sizeof(note)), 2);
	assert_string_equal(note, "13 B -> left out, 14 B -> left out");
	tl_sweep_free(&sw);
}

/* The ops of one point, on this rank, in order. */
static void expect_ops(const struct tl_sweep *sw, size_t point, const enum tl_op_kind *kinds,
                       size_t n)
{
	const struct tl_sweep_point *pt = &sw->points[point];

	assert_int_equal(pt->count, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(sw->plan.ops[pt->first + i].kind, kinds[i]);
}

static void test_points(void **state)
{
	struct ctx *c = *state;
	struct tl_grid g;
	struct tl_sweep sw;

	/* a collective: one call out of place, one in place; non-blocking: start and wait */
	for (int blocking = 0; blocking < 2; blocking++) {
		assert_int_equal(
		    sweep_of(c,
		          (const char *const[]){
		              "sweep.op=reduce_scatter", "sweep.min_bytes=1Ki",
		              "sweep.max_bytes=1Ki",
		              blocking ? "sweep.blocking=yes" : "sweep.blocking=no", NULL},
		          4, 3, &g, &sw),
		    0);
		assert_int_equal(sw.npoints, 2);
		for (int k = 0; k < 2; k++) {
			const struct tl_sweep_point *pt = &sw.points[k];
			const struct tl_op *op = &sw.plan.ops[pt->first];
			assert_int_equal(pt->in_place, k == 1);
			assert_int_equal(op->in_place, k == 1);
			assert_int_equal(op->kind, TL_OP_REDUCE_SCATTER);
			assert_int_equal(op->phase, TL_PHASE_SWEEP);
			assert_int_equal(op->bytes, 1024);
			assert_int_equal(op->nonblocking, !blocking);
			assert_int_equal(pt->count, blocking ? 1 : 2);
		}
		assert_int_equal(sw.plan.reqs, blocking ? 0 : 1);
		tl_sweep_free(&sw);
	}

	/* latency: a ping-pong between indices 0 and 1 of each group, the others sit out */
	static const enum tl_op_kind ping[] = {TL_OP_SEND, TL_OP_RECV};
	static const enum tl_op_kind pong[] = {TL_OP_RECV, TL_OP_SEND};
	for (uint64_t r = 0; r < 4; r++) {
		assert_int_equal(
		    sweep_of(c,
		          (const char *const[]){"sweep.op=latency", "sweep.min_bytes=64",
		                                "sweep.max_bytes=64", "parallel.tp=2",
		                                "sweep.group=dp", NULL},
		          4, r, &g, &sw),
		    0);
		/* dp groups of tp = 2: {0, 2} and {1, 3} */
		assert_int_equal(sw.group_size, 2);
		expect_ops(&sw, 0, r < 2 ? ping : pong, 2);
		for (int i = 0; i < 2; i++)
			assert_int_equal(sw.plan.ops[i].peer, (int64_t)(r ^ 2));
		tl_sweep_free(&sw);
	}

	/* bw: a window of 4 from index 0, its waits, the acknowledgement back */
	static const enum tl_op_kind bw0[] = {TL_OP_SEND, TL_OP_SEND, TL_OP_SEND,
	                                      TL_OP_SEND, TL_OP_WAIT, TL_OP_WAIT,
	                                      TL_OP_WAIT, TL_OP_WAIT, TL_OP_RECV};
	static const enum tl_op_kind bw1[] = {TL_OP_RECV, TL_OP_RECV, TL_OP_RECV,
	                                      TL_OP_RECV, TL_OP_WAIT, TL_OP_WAIT,
	                                      TL_OP_WAIT, TL_OP_WAIT, TL_OP_SEND};
	for (uint64_t r = 0; r < 3; r++) {
		assert_int_equal(
		    sweep_of(c,
		          (const char *const[]){"sweep.op=bw", "sweep.window=4",
		                                "sweep.min_bytes=64", "sweep.max_bytes=64", NULL},
		          3, r, &g, &sw),
		    0);
		if (r == 2) {
			assert_int_equal(sw.points[0].count, 0);
		} else {
			expect_ops(&sw, 0, r ? bw1 : bw0, ARRAY_LEN(bw0));
			const struct tl_op *ack = &sw.plan.ops[8];
			assert_int_equal(ack->bytes, 4); /* one float */
			assert_int_not_equal(ack->tag, sw.plan.ops[0].tag);
			assert_int_equal(sw.plan.reqs, 4);
		}
		tl_sweep_free(&sw);
	}

	/* bibw: a window each way at once, in slots of their own */
	assert_int_equal(
	    sweep_of(c,
	          (const char *const[]){"sweep.op=bibw", "sweep.window=3", "sweep.min_bytes=64",
	                                "sweep.max_bytes=64", NULL},
	          2, 1, &g, &sw),
	    0);
	assert_int_equal(sw.points[0].count, 12);
	assert_int_equal(sw.plan.reqs, 6);
	assert_int_equal(sw.plan.ops_per_kind[TL_OP_SEND], 3);
	assert_int_equal(sw.plan.ops_per_kind[TL_OP_RECV], 3);
	tl_sweep_free(&sw);

	/* mbw_mr on 5 ranks: pairs 0-2 and 1-3; index 4 sits out */
	for (uint64_t r = 0; r < 5; r++) {
		assert_int_equal(
		    sweep_of(c,
		          (const char *const[]){"sweep.op=mbw_mr", "sweep.window=2",
		                                "sweep.min_bytes=64", "sweep.max_bytes=64", NULL},
		          5, r, &g, &sw),
		    0);
		assert_int_equal(sw.pairs, 2);
		assert_int_equal(tl_sweep_p2p_pairs(&sw, TL_P2P_MBW_MR), 2);
		if (r == 4) {
			assert_int_equal(sw.points[0].count, 0);
		} else {
			assert_int_equal(sw.points[0].count, 5);
			assert_int_equal(sw.plan.ops[0].kind, r < 2 ? TL_OP_SEND : TL_OP_RECV);
			assert_int_equal(sw.plan.ops[0].peer, (int64_t)(r < 2 ? r + 2 : r - 2));
		}
		tl_sweep_free(&sw);
	}
	assert_int_equal(tl_sweep_p2p_messages(&c->job, TL_P2P_LATENCY), 2);
	assert_int_equal(tl_sweep_p2p_messages(&c->job, TL_P2P_BW), 2);
	assert_int_equal(tl_sweep_p2p_messages(&c->job, TL_P2P_BIBW), 4);
}

/* The buffers a rank holds: the largest input and output, in sets of rotate_mb MB or more. */
static void test_memory(void **state)
{
	struct ctx *c = *state;
	struct tl_grid g;
	struct tl_sweep sw;
	const uint64_t mib = UINT64_C(1) << 20;

	assert_int_equal(
	    sweep_of(c, (const char *const[]){"sweep.op=allgather", "sweep.max_bytes=1Mi", NULL}, 4, 0,
	          &g, &sw),
	    0);
	/* out of place: a quarter in, all out; in place: all out */
	assert_int_equal(sw.memory_bytes, mib / 4 + mib);
	tl_sweep_free(&sw);
	assert_int_equal(sweep_of(c,
	                       (const char *const[]){"sweep.op=allreduce", "sweep.max_bytes=1Mi",
	                                             "sweep.rotate_mb=5", NULL},
	                       2, 0, &g, &sw),
	                 0);
	/* out of place, 2 MiB a set: 3 sets (>= 5 MB) of 1 MiB in and out; in place, 1 MiB a
	 * set: 5 sets, in the output's region */
	assert_int_equal(sw.memory_bytes, 3 * mib + 5 * mib);
	tl_sweep_free(&sw);
}

static void test_keys(void **state)
{
	struct ctx *c = *state;
	struct tl_grid g;
	struct tl_sweep sw;

	assert_int_equal(
	    sweep_of(c, (const char *const[]){"sweep.min_bytes=1Mi", "sweep.max_bytes=1Ki", NULL}, 1,
	          0, &g, &sw),
	    TL_EINPUT);
	expect_msgs(&c->diag, "--set sweep.max_bytes: max_bytes = 1024 is below min_bytes = "
	                      "1048576");
	tl_sweep_free(&sw);
	assert_int_equal(sweep_of(c,
	                       (const char *const[]){"sweep.min_bytes=1", "sweep.step=1",
	                                             "sweep.max_bytes=1Mi", NULL},
	                       1, 0, &g, &sw),
	                 TL_EINPUT);
	expect_msgs(&c->diag, "--set sweep.step: the sweep from min_bytes to max_bytes has more "
	                      "than 10000 sizes");
	tl_sweep_free(&sw);
	assert_int_equal(
	    sweep_of(c, (const char *const[]){"sweep.op=allreduce,latency", NULL}, 1, 0, &g, &sw),
	    TL_EINPUT);
	expect_msgs(&c->diag, "--set sweep.op: latency is a point-to-point test: it needs groups "
	                      "of at least 2 ranks (sweep.group world has 1)");
	tl_sweep_free(&sw);
	/* a sweep has no model: tp need not divide heads (8) */
	ctx_reset(c);
	c->job.has_sweep = true;
	set_all(c, (const char *const[]){"parallel.tp=16", NULL});
	assert_int_equal(tl_job_resolve(&c->job, 32, &c->diag), 0);
	assert_int_equal(c->job.dp, 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)
	    T(test_sizes), T(test_ops), T(test_rows), T(test_points), T(test_memory), T(test_keys),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
