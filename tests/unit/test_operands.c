/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Where every op's operands lie (src/backends/operands.c), without allocating: the regions'
 * sizes against the model's figures and the plan's ops, the gradient buckets tiling the
 * gradients in the order backward fills them, each weight's gradient block where its bucket
 * reduces it, the counts of every communication op as the collective table gives them, a
 * sweep's out-of-place and in-place layouts in MPI's and NCCL's conventions, its buffer sets,
 * and spans that wrap around.
 */
#include "config.h"

#include <inttypes.h>

#include "backends/operands.h"
#include "tl_test.h"
#include "trainload/grid.h"
#include "trainload/plan.h"
#include "trainload/sweep.h"

struct setup {
	struct tl_model model;
	struct tl_grid grid;
	struct tl_plan plan;
	struct operands o;
};

/* The default job with sets, rank's plan on world ranks, its operands. */
static void lay_out(struct ctx *c, const char *const *sets, uint64_t world, uint64_t rank,
                    struct setup *s)
{
	ctx_reset(c);
	set_all(c, sets);
	assert_int_equal(tl_job_resolve(&c->job, world, &c->diag), 0);
	assert_int_equal(tl_model_build(&s->model, &c->job, &c->diag), 0);
	tl_grid_init(&s->grid, &c->job, world, 0);
	assert_int_equal(tl_plan_build(&s->plan, &c->job, &s->model, &s->grid, rank), 0);
	assert_int_equal(
	    tl_operands_plan(&s->o, &c->job, &s->model, &s->grid, &s->plan, TL_LAYOUT_MPI), 0);
}

static void done(struct setup *s)
{
	tl_operands_free(&s->o);
	tl_plan_free(&s->plan);
}

/* With memory = full every region holds at least the model's figure, and every op's spans lie
 * within their regions, in whole lines. */
static void test_regions(void **state)
{
	struct ctx *c = *state;
	struct setup s;

	lay_out(c, (const char *const[]){"parallel.overlap=no", NULL}, 2, 0, &s);
	assert_true(s.o.r[R_WEIGHTS].size >= s.model.weight_bytes);
	assert_true(s.o.r[R_GRADS].size >= s.model.grad_bytes);
	assert_true(s.o.r[R_OPTIM].size >= s.model.optimizer_bytes);
	assert_true(s.o.r[R_ACT].size >= s.model.activation_bytes);
	for (int r = 0; r < R_COUNT; r++)
		assert_int_equal(s.o.r[r].size % 64, 0);
	for (size_t i = 0; i < s.plan.count; i++) {
		const struct operand *co = &s.o.ops[i];
		const struct span *sp[] = {&co->x, &co->y, &co->z};
		for (int k = 0; k < 3; k++)
			if (sp[k]->fixed && sp[k]->len)
				assert_true(sp[k]->off + sp[k]->len <= s.o.r[sp[k]->region].size);
	}
	/* no comm_dtype of its own: nothing is staged */
	assert_int_equal(s.o.r[R_STAGE].size, 0);
	done(&s);
}

/*
 * The data-parallel buckets reduce the gradients in place, bucket after bucket with neither gap
 * nor overlap, over all of them; the weight-gradient GEMMs write their blocks inside; and each
 * communication op's counts are the collective table's for its group.
 */
static void test_buckets(void **state)
{
	struct ctx *c = *state;
	struct setup s;

	lay_out(c, (const char *const[]){"parallel.bucket_mb=1", "model.layers=2", NULL}, 4, 1, &s);
	uint64_t next = 0, elem = s.o.elem, n = 4;
	for (size_t i = 0; i < s.plan.count; i++) {
		const struct tl_op *op = &s.plan.ops[i];
		const struct operand *co = &s.o.ops[i];
		if (tl_op_is_comm(op->kind)) {
			struct tl_coll_counts want;
			tl_coll_get(op->kind)->counts(op->bytes, s.o.comm_elem, n, &want);
			assert_memory_equal(&co->c, &want, sizeof(want));
			assert_int_equal(co->count, want.param);
		}
		if (op->kind != TL_OP_ALLREDUCE || op->phase != TL_PHASE_GRAD_SYNC)
			continue;
		assert_int_equal(co->x.region, R_GRADS);
		assert_true(co->in_place);
		assert_memory_equal(&co->x, &co->y, sizeof(co->x));
		assert_int_equal(co->x.off, next);
		assert_int_equal(co->x.off, op->offset);
		next += co->x.len;
	}
	/* the buckets cover the rank's parameters' gradients */
	assert_int_equal(next, s.plan.comm_bytes[TL_GROUP_DP]);
	for (size_t i = 0; i < s.plan.count; i++) {
		const struct tl_op *op = &s.plan.ops[i];
		const struct operand *co = &s.o.ops[i];
		if (op->kind != TL_OP_GEMM || !op->gemm.weight || op->pass != TL_GEMM_GRAD_B)
			continue;
		assert_int_equal(co->z.region, R_GRADS);
		assert_true(co->z.off + co->z.len <= next);
		assert_int_equal(co->z.len, op->gemm.m * op->gemm.n * op->gemm.batch * elem);
	}
	done(&s);
}

/* ZeRO-1 with bf16 gradients: each bucket converted into the staging region, reduce-scattered
 * into its shard (1/dp of it, at 1/dp of its offset), and the updated shards gathered back. */
static void test_zero(void **state)
{
	struct ctx *c = *state;
	struct setup s;
	int rs = 0, ag = 0;

	lay_out(c, (const char *const[]){"parallel.zero=1", "run.comm_dtype=bf16", NULL}, 2, 0, &s);
	assert_int_equal(s.o.comm_elem, 2);
	for (size_t i = 0; i < s.plan.count; i++) {
		const struct tl_op *op = &s.plan.ops[i];
		const struct operand *co = &s.o.ops[i];
		if (op->kind == TL_OP_REDUCE_SCATTER && op->phase == TL_PHASE_GRAD_SYNC) {
			rs++;
			assert_int_equal(co->conv, CONV_BEFORE);
			assert_int_equal(co->x.region, R_STAGE);
			assert_int_equal(co->z.region, R_GRADS);
			assert_int_equal(co->z.len, co->x.len * 2); /* f32 from bf16 */
			assert_int_equal(co->y.region, R_SHARD);
			assert_int_equal(co->y.off, co->x.off / 2);
			assert_int_equal(co->y.len * 2, co->x.len);
			assert_false(co->in_place);
		}
		if (op->kind == TL_OP_ALLGATHER && op->phase == TL_PHASE_OPTIMIZER) {
			ag++;
			assert_int_equal(co->x.region, R_SHARD);
			assert_int_equal(co->conv, CONV_AFTER);
			assert_int_equal(co->z.region, R_WEIGHTS);
		}
	}
	assert_true(rs > 0);
	assert_true(ag > 0);
	done(&s);
}

/* A sweep's layouts: out of place from send to recv; in place within recv, where the
 * descriptor says (NCCL) or MPI does; and sets of buffers with rotate_mb. */
static void test_sweep(void **state)
{
	struct ctx *c = *state;
	struct tl_grid g;
	struct tl_sweep sw;
	struct operands mpi, nccl;
	const uint64_t kib = 1024;

	assert_int_equal(sweep_of(c,
	                          (const char *const[]){"sweep.op=reduce_scatter,allgather,broadcast",
	                                                "sweep.min_bytes=64Ki", "sweep.max_bytes=64Ki",
	                                                "sweep.rotate_mb=1", "sweep.dtype=bf16", NULL},
	                          4, 3, &g, &sw),
	                 0);
	assert_int_equal(tl_operands_plan(&mpi, &c->job, NULL, &g, &sw.plan, TL_LAYOUT_MPI), 0);
	assert_int_equal(tl_operands_plan(&nccl, &c->job, NULL, &g, &sw.plan, TL_LAYOUT_NCCL), 0);
	assert_int_equal(mpi.comm_elem, 2); /* the sweep's dtype, not comm_dtype */
	/* points: reduce_scatter oop, ip; allgather oop, ip; broadcast oop, ip */
	assert_int_equal(sw.npoints, 6);
	const struct operand *rs = &mpi.ops[sw.points[0].first];
	assert_int_equal(rs->x.region, R_SEND);
	assert_int_equal(rs->y.region, R_RECV);
	assert_int_equal(rs->x.len, 64 * kib);
	assert_int_equal(rs->y.len, 16 * kib);
	assert_false(rs->in_place);
	/* out of place: 80 KiB a set, 13 sets make 1 MB */
	assert_int_equal(rs->sets, 13);
	assert_int_equal(rs->x_step, 64 * kib);
	assert_int_equal(rs->y_step, 16 * kib);
	/* in place, index 3 of 4: MPI leaves the result at the start, NCCL at block 3 */
	const struct operand *rsi = &mpi.ops[sw.points[1].first];
	const struct operand *rsn = &nccl.ops[sw.points[1].first];
	assert_true(rsi->in_place && rsn->in_place);
	assert_int_equal(rsi->x.region, R_RECV);
	assert_int_equal(rsi->x.off, 0);
	assert_int_equal(rsi->y.off, 0);
	assert_int_equal(rsn->y.off, 3 * 16 * kib);
	assert_int_equal(rsi->sets, 16); /* 64 KiB a set */
	/* allgather in place: the input is block 3 of the output, in either */
	const struct operand *agi = &mpi.ops[sw.points[3].first];
	assert_int_equal(agi->x.off, 3 * 16 * kib);
	assert_int_equal(agi->y.off, 0);
	assert_int_equal(agi->y.len, 64 * kib);
	assert_int_equal(nccl.ops[sw.points[3].first].x.off, 3 * 16 * kib);
	/* broadcast: MPI has one buffer even out of place; NCCL two */
	const struct operand *bm = &mpi.ops[sw.points[4].first];
	const struct operand *bn = &nccl.ops[sw.points[4].first];
	assert_true(bm->in_place);
	assert_memory_equal(&bm->x, &bm->y, sizeof(bm->x));
	assert_false(bn->in_place);
	assert_int_equal(bn->x.region, R_SEND);
	/* the regions hold every set, and agree with what the sweep told the node-memory check */
	assert_true(mpi.r[R_RECV].size >= rsi->sets * rsi->y_step);
	assert_int_equal(mpi.r[R_SEND].size + mpi.r[R_RECV].size, sw.memory_bytes);
	/* call k uses set k % sets */
	char *in0, *out0, *in1, *out1, *in13, *out13;
	mpi.r[R_SEND].base = (char *)0x100000;
	mpi.r[R_RECV].base = (char *)0x10000000;
	tl_operands_io(&mpi, sw.points[0].first, 0, &in0, &out0);
	tl_operands_io(&mpi, sw.points[0].first, 1, &in1, &out1);
	tl_operands_io(&mpi, sw.points[0].first, 13, &in13, &out13);
	assert_int_equal(in1 - in0, 64 * kib);
	assert_int_equal(out1 - out0, 16 * kib);
	assert_ptr_equal(in13, in0);
	assert_ptr_equal(out13, out0);
	tl_operands_free(&mpi);
	tl_operands_free(&nccl);
	tl_sweep_free(&sw);
}

/* The pieces a memory pass copies, as offsets in its region (based at 0x1000). */
struct pieces {
	uint64_t dst[8], src[8], len[8];
	int n;
};

static void record(void *ctx, char *dst, const char *src, uint64_t len)
{
	struct pieces *p = ctx;

	if (p->n < 8) {
		p->dst[p->n] = (uint64_t)(uintptr_t)(dst - (char *)0x1000);
		p->src[p->n] = (uint64_t)(uintptr_t)(src - (const char *)0x1000);
		p->len[p->n++] = len;
	}
}

/* A span that does not fit where its offset says is moved to a place that does, 64-byte
 * aligned; a memory pass streams through half the region, from where the last one stopped. */
static void test_wrap(void **state)
{
	struct operands o = {0};
	struct span far = {.region = R_ACT, .fixed = false, .off = 1000, .len = 300};
	char *got;

	(void)state;
	o.r[R_ACT].size = 1024;
	o.r[R_ACT].base = (char *)0x1000;
	got = tl_operands_at(&o, &far);
	assert_true(got >= o.r[R_ACT].base);
	assert_true(got + far.len <= o.r[R_ACT].base + o.r[R_ACT].size);
	assert_int_equal((uintptr_t)(got - o.r[R_ACT].base) % 64, 0);
	far.off = 64;
	assert_ptr_equal(tl_operands_at(&o, &far), o.r[R_ACT].base + 64);

	/* passes of 800 and 400 bytes: 400 copied from the first half to the second, then 112 to
	 * the half's end and 88 from its start again */
	struct pieces p = {0};
	tl_operands_stream(&o.r[R_ACT], 800, record, &p);
	tl_operands_stream(&o.r[R_ACT], 400, record, &p);
	assert_int_equal(p.n, 3);
	static const uint64_t want[3][3] = {{512, 0, 400}, {912, 400, 112}, {512, 0, 88}};
	for (int i = 0; i < 3; i++) {
		assert_int_equal(p.dst[i], want[i][0]);
		assert_int_equal(p.src[i], want[i][1]);
		assert_int_equal(p.len[i], want[i][2]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)
	    T(test_regions), T(test_buckets), T(test_zero), T(test_sweep), T(test_wrap),
#undef T
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
