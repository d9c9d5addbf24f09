/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The executor (src/exec.c) and what the backends refuse (src/backends/registry.c).
 *
 * tl_exec_step is driven through a recording backend that spends a known time in each call:
 * every op of the plan must reach the backend exactly once, in plan order (a GEMM as row blocks
 * that cover it), every started op must be completed once, the step's op counts must be the
 * plan's, and each part of the breakdown must hold at least the time the backend spent in the
 * calls that belong to it (compute: GEMMs and elementwise passes; each group's exposed
 * communication: its blocking collectives; bubble: pipeline receives; optimizer), counted
 * here, apart from the executor. tl_exec_repeat runs a sweep's points on the null backend and
 * on the recording one. The refusals name the file and line of the key that asks for what the
 * backend cannot do (or its --set), and all of them are reported at once.
 */
#include "config.h"

#include <inttypes.h>

#include "backends/registry.h"
#include "tl_test.h"
#include "trainload/clock.h"
#include "trainload/exec.h"
#include "trainload/grid.h"
#include "trainload/plan.h"
#include "trainload/sweep.h"

/* ---- what the backends refuse ---- */

/* Parse text, resolve it at world ranks (which must succeed), then check it for running. */
static int check_text(struct ctx *c, const char *text, uint64_t world)
{
	ctx_reset(c);
	if (parse_str(c, text) != 0) {
		diag_dump(&c->diag);
		fail_msg("job text refused by the parser: %s", text);
	}
	if (tl_job_resolve(&c->job, world, &c->diag) != 0) {
		diag_dump(&c->diag);
		fail_msg("job refused by tl_job_resolve at %" PRIu64 " ranks: %s", world, text);
	}
	return tl_backend_check(&c->job, &c->diag);
}

#define NO_DATA(n) "check = " n " needs a backend that moves data (backend = null moves none"
#define REBUILD                                                                                    \
	"backend = cuda needs a trainload built with CUDA: rebuild it with ./configure "           \
	"--with-cuda (--dry-run plans it)"

/* backend = cuda: runs in a build with it (configure --with-cuda), refused with the way to get
 * it in one without; f64 is refused in either, by the cuda backend's own check. */
static void test_cuda(void **state)
{
	struct ctx *c = *state;
#ifdef TL_HAVE_CUDA
	assert_int_equal(check_text(c, "[run]\nbackend = cuda\n", 1), 0);
	assert_int_equal(check_text(c, "[run]\nbackend = cuda\ncompute_dtype = bf16\n", 2), 0);
	assert_int_equal(check_text(c, "[sweep]\nop = allreduce\n[run]\nbackend = cuda\n", 1), 0);
	assert_int_equal(check_text(c, "[run]\nbackend = cuda\ncompute_dtype = f64\n", 1),
	                 TL_EINPUT);
	expect_msgs(&c->diag, "t.job:3: compute_dtype f64 needs backend = cpu (cuda: bf16, f16, "
	                      "f32)");
#else
	assert_int_equal(check_text(c, "[run]\nbackend = cuda\n", 1), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: " REBUILD);
	assert_int_equal(check_text(c, "[run]\nbackend = cuda\ncompute_dtype = bf16\n", 2),
	                 TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: " REBUILD);
	assert_int_equal(check_text(c, "[sweep]\nop = allreduce\n[run]\nbackend = cuda\n", 1),
	                 TL_EINPUT);
	expect_msgs(&c->diag, "t.job:4: " REBUILD);
	/* both reasons at once */
	assert_int_equal(check_text(c, "[run]\nbackend = cuda\ncompute_dtype = f64\n", 1),
	                 TL_EINPUT);
	expect_msgs(&c->diag,
	            "t.job:3: compute_dtype f64 needs backend = cpu (cuda: bf16, f16, f32)",
	            "t.job:2: " REBUILD);
#endif
}

static void test_refused(void **state)
{
	struct ctx *c = *state;

	assert_int_equal(check_text(c, "[run]\ncheck = 5\nbackend = null\n", 1), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: " NO_DATA("5") ")");
	/* a sweep checks its data by default: not on a backend that moves none */
	assert_int_equal(check_text(c, "[sweep]\nop = allreduce\n[run]\nbackend = null\n", 1),
	                 TL_EINPUT);
	expect_msgs(&c->diag, "t.job: " NO_DATA("1") "; -c 0 turns it off)");
	assert_int_equal(check_text(c, "[sweep]\ncheck = 0\n[run]\nbackend = null\n", 1), 0);
	/* OpenBLAS computes in f32 and f64 */
	assert_int_equal(check_text(c, "[run]\ncompute_dtype = bf16\n", 1), TL_EINPUT);
	expect_msgs(&c->diag, "t.job:2: compute_dtype bf16 needs backend = cuda (cpu: f32, f64)");

	/* an override is named as such */
	ctx_reset(c);
	assert_int_equal(tl_job_set(&c->job, "run.check=2", &c->diag), 0);
	assert_int_equal(tl_job_set(&c->job, "run.backend=null", &c->diag), 0);
	assert_int_equal(tl_job_resolve(&c->job, 1, &c->diag), 0);
	assert_int_equal(tl_backend_check(&c->job, &c->diag), TL_EINPUT);
	expect_msgs(&c->diag, "--set run.check: " NO_DATA("2") ")");
}

/* Everything else that resolves runs: every parallel layout the plan has, ZeRO, MoE, sequence
 * parallelism, recompute, a comm_dtype of its own, binding, sweeps. */
static void test_accepted(void **state)
{
	struct ctx *c = *state;
	static const struct {
		const char *text;
		uint64_t world;
	} rows[] = {
	    {"[run]\nsteps = 1\n", 1},
	    {"[parallel]\ntp = 2\n", 2},
	    {"[parallel]\npp = 2\n", 2},
	    {"[parallel]\ntp = 2\npp = 2\nsequence_parallel = yes\n", 8},
	    {"[parallel]\nzero = 1\n", 1},
	    {"[parallel]\nzero = 3\n", 8},
	    {"[model]\nexperts = 8\n", 1},
	    {"[model]\nexperts = 8\n[parallel]\nep = 4\n", 8},
	    {"[run]\ncomm_dtype = bf16\n", 2},
	    {"[run]\ncompute_dtype = f64\ncomm_dtype = f32\n", 2},
	    {"[run]\nbind = core\n", 1},
	    {"[run]\nbind = numa\n", 2},
	    {"[run]\nbind = package\n", 4},
	    {"[run]\nbind = none\nthreads_per_rank = 1\n", 1},
	    {"[run]\nstraggler_pct = 10\n", 2},
	    {"[run]\ncheck = 1\ntimeout_s = 60\n", 4},
	    {"[run]\ncheck = 3\n[parallel]\nzero = 3\n", 2},
	    {"[run]\nrecompute = full\nmemory = lean\n", 1},
	    {"[run]\nrecompute = selective\nbackend = null\n", 2},
	    {"[parallel]\noverlap = no\nbucket_mb = 1\n", 4},
	    {"[parallel]\nschedule = gpipe\nmicrobatch = 2\ngrad_accum = 3\npp = 2\n", 2},
	    {"[model]\nmlp = swiglu\nkv_heads = 2\n", 2},
	    {"[sweep]\nop = allreduce, latency\ndtype = bf16\n", 2},
	    {"[sweep]\nop = alltoall\n[parallel]\ntp = 2\n", 4},
	};

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		if (check_text(c, rows[i].text, rows[i].world) != 0) {
			diag_dump(&c->diag);
			fail_msg("row %zu refused for running: %s", i, rows[i].text);
		}
		assert_int_equal(c->diag.count, 0);
	}
	/* the built-in default job */
	ctx_reset(c);
	assert_int_equal(tl_job_resolve(&c->job, 4, &c->diag), 0);
	assert_int_equal(tl_backend_check(&c->job, &c->diag), 0);
}

/* ---- a backend that records what it is asked, and spends a known time on it ---- */

#define MAX_SLOTS 4096

struct rec {
	const struct tl_plan *plan;
	size_t *calls;  /* per op: coll_run, coll_start or pass calls */
	uint64_t *rows; /* per GEMM: rows covered so far */
	size_t next;    /* the lowest op index the next call may have (plan order) */
	bool out_of_order;
	long open[MAX_SLOTS]; /* per slot: the op started in it, -1 none */
	int tests[MAX_SLOTS]; /* per slot: coll_test calls since the start */
	size_t completed;     /* started ops seen complete */
	size_t ranges, range_slots; /* coll_wait_range calls, and the slots they waited for */
	size_t fills, verifies;
	/* What each call spends, and what was spent, counted here. */
	double gemm_s, pass_s, coll_s;
	double compute_s, optimizer_s, bubble_s, comm_s[TL_GROUPS];
};

static void spin(double s)
{
	double until = tl_now_s() + s;

	while (tl_now_s() < until)
		;
}

static void saw(struct rec *r, const struct tl_op *op)
{
	size_t i = (size_t)(op - r->plan->ops);

	if (i < r->next)
		r->out_of_order = true;
	r->next = i;
}

static int rec_init(struct tl_backend *be, const struct tl_job *job, const struct tl_model *model,
                    const struct tl_grid *grid, const struct tl_plan *plan)
{
	(void)be;
	(void)job;
	(void)model;
	(void)grid;
	(void)plan;
	return 0;
}

static int rec_gemm(struct tl_backend *be, const struct tl_op *op, uint64_t b, uint64_t e)
{
	struct rec *r = be->priv;
	size_t i = (size_t)(op - r->plan->ops);

	saw(r, op);
	assert_int_equal(r->rows[i], b); /* row blocks in order, without gaps */
	assert_true(e > b && e <= op->gemm.m);
	r->rows[i] = e;
	spin(r->gemm_s);
	r->compute_s += r->gemm_s;
	return 0;
}

static int rec_pass(struct tl_backend *be, const struct tl_op *op)
{
	struct rec *r = be->priv;

	saw(r, op);
	r->calls[op - r->plan->ops]++;
	spin(r->pass_s);
	if (op->kind == TL_OP_OPTIMIZER)
		r->optimizer_s += r->pass_s;
	else
		r->compute_s += r->pass_s;
	return 0;
}

static int rec_coll_run(struct tl_backend *be, const struct tl_op *op)
{
	struct rec *r = be->priv;

	saw(r, op);
	r->calls[op - r->plan->ops]++;
	spin(r->coll_s);
	if (op->kind == TL_OP_RECV)
		r->bubble_s += r->coll_s;
	else
		r->comm_s[op->group] += r->coll_s;
	return 0;
}

static int rec_coll_start(struct tl_backend *be, const struct tl_op *op)
{
	struct rec *r = be->priv;

	saw(r, op);
	assert_true(op->req >= 0 && op->req < MAX_SLOTS);
	assert_int_equal(r->open[op->req], -1); /* a slot is free again before its next start */
	r->open[op->req] = op - r->plan->ops;
	r->tests[op->req] = 0;
	r->calls[op - r->plan->ops]++;
	return 0;
}

/* Done at the second test: both the progress path and the wait path are taken. */
static int rec_coll_test(struct tl_backend *be, int req, int *done)
{
	struct rec *r = be->priv;

	assert_int_not_equal(r->open[req], -1);
	*done = ++r->tests[req] >= 2;
	if (*done) {
		r->open[req] = -1;
		r->completed++;
	}
	return 0;
}

static int rec_coll_wait(struct tl_backend *be, int req)
{
	struct rec *r = be->priv;

	assert_int_not_equal(r->open[req], -1); /* never waited for twice */
	r->open[req] = -1;
	r->completed++;
	return 0;
}

static int rec_coll_wait_range(struct tl_backend *be, int first, int count)
{
	struct rec *r = be->priv;

	assert_true(first >= 0 && count > 1 && first + count <= MAX_SLOTS);
	for (int req = first; req < first + count; req++)
		assert_int_equal(rec_coll_wait(be, req), 0);
	r->ranges++;
	r->range_slots += (size_t)count;
	return 0;
}

static int rec_calibrate(struct tl_backend *be, double *flops)
{
	(void)be;
	*flops = 1e12;
	return 0;
}

static void rec_fill(struct tl_backend *be, const struct tl_op *op, uint64_t step)
{
	struct rec *r = be->priv;

	(void)op;
	(void)step;
	r->fills++;
}

static uint64_t rec_verify(struct tl_backend *be, const struct tl_op *op, uint64_t step,
                           struct tl_check_miss *miss)
{
	struct rec *r = be->priv;

	(void)step;
	(void)miss;
	assert_int_not_equal(op->kind, TL_OP_SEND);
	r->verifies++;
	return 0;
}

static void rec_fini(struct tl_backend *be)
{
	(void)be;
}

static const struct tl_backend_ops rec_ops = {
    .name = "recording",
    .init = rec_init,
    .gemm = rec_gemm,
    .pass = rec_pass,
    .coll_run = rec_coll_run,
    .coll_start = rec_coll_start,
    .coll_test = rec_coll_test,
    .coll_wait = rec_coll_wait,
    .coll_wait_range = rec_coll_wait_range,
    .calibrate = rec_calibrate,
    .check_fill = rec_fill,
    .check_verify = rec_verify,
    .fini = rec_fini,
};

static void rec_reset(struct rec *r, const struct tl_plan *plan)
{
	free(r->calls);
	free(r->rows);
	*r = (struct rec){.plan = plan};
	r->calls = calloc(plan->count + 1, sizeof(*r->calls));
	r->rows = calloc(plan->count + 1, sizeof(*r->rows));
	assert_non_null(r->calls);
	assert_non_null(r->rows);
	for (int s = 0; s < MAX_SLOTS; s++)
		r->open[s] = -1;
}

/* Rank's plan of the default job with sets applied, on world ranks. */
static void plan_for(struct ctx *c, const char *const *sets, uint64_t world, uint64_t rank,
                     struct tl_model *m, struct tl_grid *g, struct tl_plan *p)
{
	ctx_reset(c);
	set_all(c, sets);
	assert_int_equal(tl_job_resolve(&c->job, world, &c->diag), 0);
	assert_int_equal(tl_model_build(m, &c->job, &c->diag), 0);
	tl_grid_init(g, &c->job, world, 0);
	assert_int_equal(tl_plan_build(p, &c->job, m, g, rank), 0);
}

/* One step of each layout through the recording backend. */
static void test_step(void **state)
{
	struct ctx *c = *state;
	static const char *const layouts[][6] = {
	    {"model.layers=2", NULL},
	    {"parallel.tp=2", "parallel.sequence_parallel=yes", NULL},
	    {"parallel.pp=2", "parallel.grad_accum=3", NULL},
	    {"parallel.zero=1", "parallel.bucket_mb=1", NULL},
	    {"parallel.zero=3", "parallel.overlap=no", NULL},
	    {"model.experts=4", "parallel.ep=2", NULL},
	};
	struct rec rec = {0};

	for (size_t l = 0; l < ARRAY_LEN(layouts); l++) {
		struct tl_model m;
		struct tl_grid g;
		struct tl_plan p;
		struct tl_backend be = {.ops = &rec_ops, .priv = &rec};
		struct tl_exec ex;
		struct tl_step st;
		uint64_t rank = 1; /* a rank with a pipeline neighbour where there is one */

		plan_for(c, layouts[l], 4, rank, &m, &g, &p);
		rec_reset(&rec, &p);
		rec.gemm_s = 20e-6;
		rec.pass_s = 10e-6;
		rec.coll_s = 30e-6;
		assert_int_equal(tl_exec_init(&ex, &be, &p), 0);
		ex.measuring = 1;
		assert_int_equal(tl_exec_step(&ex, &st), 0);

		size_t started = 0;
		for (size_t i = 0; i < p.count; i++) {
			const struct tl_op *op = &p.ops[i];
			if (op->kind == TL_OP_GEMM)
				assert_int_equal(rec.rows[i], op->gemm.m);
			else if (op->kind != TL_OP_WAIT)
				assert_int_equal(rec.calls[i], 1);
			started += op->nonblocking;
		}
		assert_false(rec.out_of_order);
		assert_int_equal(rec.completed, started);
		for (int s = 0; s < MAX_SLOTS; s++)
			assert_int_equal(rec.open[s], -1);
		for (int k = 0; k < TL_OP_KINDS; k++)
			assert_int_equal(st.ops[k], p.ops_per_kind[k]);
		/* each part holds at least what the backend spent on its calls */
		assert_true(st.compute_s >= rec.compute_s);
		assert_true(st.optimizer_s >= rec.optimizer_s);
		assert_true(st.bubble_s >= rec.bubble_s);
		for (int gr = 0; gr < TL_GROUPS; gr++)
			assert_true(st.comm_exposed_s[gr] >= rec.comm_s[gr]);
		double parts =
		    st.compute_s + st.optimizer_s + st.bubble_s + tl_step_comm_exposed(&st);
		assert_true(parts <= st.time_s);
		assert_true(st.other_s >= 0 && st.other_s <= st.time_s);
		assert_int_equal(ex.step, 1);
		tl_exec_fini(&ex);
		tl_plan_free(&p);
	}
	free(rec.calls);
	free(rec.rows);
}

/* ---- sweeps ---- */

/* Every point of a sweep through the executor and the null backend: the stamps of the timed
 * iterations follow one another, ranks a point-to-point test leaves out have nothing to run,
 * and the watchdog's step is the iteration's number. */
static void test_sweep_null(void **state)
{
	struct ctx *c = *state;
	struct tl_grid g;
	struct tl_sweep sw;
	struct tl_backend be = {.ops = &tl_backend_null};
	struct tl_exec ex;
	double stamps[8];

	assert_int_equal(sweep_of(c,
	          (const char *const[]){"sweep.op=allreduce,alltoall,latency,bw",
	                                "sweep.max_bytes=1Ki", "sweep.iters=7", "sweep.check=0",
	                                "run.backend=null", NULL},
	          4, 2, &g, &sw), 0);
	assert_int_equal(be.ops->init(&be, &c->job, NULL, &g, &sw.plan), 0);
	assert_int_equal(tl_exec_init(&ex, &be, &sw.plan), 0);
	for (size_t i = 0; i < sw.npoints; i++) {
		const struct tl_sweep_point *pt = &sw.points[i];
		const struct tl_sweep_row *row = &sw.rows[pt->row];
		struct tl_repeat warm = {.first = pt->first, .count = pt->count, .iters = 5};
		struct tl_repeat timed = {.first = pt->first,
		                          .count = pt->count,
		                          .iters = 7,
		                          .iter0 = 5,
		                          .stamps = stamps};
		memset(stamps, 0, sizeof(stamps));
		assert_int_equal(tl_exec_repeat(&ex, &warm), 0);
		assert_int_equal(tl_exec_repeat(&ex, &timed), 0);
		/* index 2 of 4 takes part in collectives, not in latency or bw */
		assert_int_equal(pt->count == 0, row->test.coll == NULL);
		if (!pt->count)
			continue;
		for (int k = 0; k < 7; k++)
			assert_true(stamps[k + 1] >= stamps[k] && stamps[k] > 0);
		assert_int_equal(ex.step, 5);
	}
	tl_exec_fini(&ex);
	be.ops->fini(&be);
	tl_sweep_free(&sw);
}

/* A sweep's point through the recording backend: each op called once per iteration; a window's
 * waits in one coll_wait_range call (OSU's MPI_Waitall), a lone wait with coll_wait; checked
 * iterations fill every op of the iteration before its calls and verify each one received. */
static void test_sweep_recorded(void **state)
{
	struct ctx *c = *state;
	struct tl_grid g;
	struct tl_sweep sw;
	struct rec rec = {0};
	struct tl_backend be = {.ops = &rec_ops, .priv = &rec};
	struct tl_exec ex;
	double stamps[4];

	assert_int_equal(sweep_of(c,
	          (const char *const[]){"sweep.op=reduce_scatter,bw,bibw", "sweep.min_bytes=64",
	                                "sweep.max_bytes=64", "sweep.blocking=no", "sweep.window=8",
	                                NULL},
	          2, 1, &g, &sw), 0);
	rec_reset(&rec, &sw.plan);
	assert_int_equal(tl_exec_init(&ex, &be, &sw.plan), 0);
	/* rows: reduce_scatter (out of place, in place), bw, bibw */
	assert_int_equal(sw.nrows, 3);
	assert_int_equal(sw.npoints, 4);
	for (size_t i = 0; i < sw.npoints; i++) {
		const struct tl_sweep_point *pt = &sw.points[i];
		size_t sends = 0, recvs = 0, waits = 0, colls = 0;
		for (size_t k = pt->first; k < pt->first + pt->count; k++) {
			enum tl_op_kind kind = sw.plan.ops[k].kind;
			sends += kind == TL_OP_SEND;
			recvs += kind == TL_OP_RECV;
			waits += kind == TL_OP_WAIT;
			colls += kind == TL_OP_REDUCE_SCATTER;
		}
		struct tl_repeat timed = {
		    .first = pt->first, .count = pt->count, .iters = 3, .stamps = stamps};
		struct tl_repeat check = {
		    .first = pt->first, .count = pt->count, .iters = 2, .check = true};
		size_t fills = rec.fills, verifies = rec.verifies, ranges = rec.ranges,
		       range_slots = rec.range_slots;
		assert_int_equal(tl_exec_repeat(&ex, &timed), 0);
		assert_int_equal(rec.fills, fills); /* nothing of the check in timed iterations */
		assert_int_equal(tl_exec_repeat(&ex, &check), 0);
		for (size_t k = pt->first; k < pt->first + pt->count; k++)
			if (sw.plan.ops[k].kind != TL_OP_WAIT)
				assert_int_equal(rec.calls[k], 5);
		/* every op but the waits is filled; every one that receives is verified */
		assert_int_equal(rec.fills - fills, 2 * (sends + recvs + colls));
		assert_int_equal(rec.verifies - verifies, 2 * (recvs + colls));
		/* 5 iterations: a window's waits in one call each, a lone wait alone */
		assert_int_equal(rec.ranges - ranges, waits > 1 ? 5 : 0);
		assert_int_equal(rec.range_slots - range_slots, waits > 1 ? 5 * waits : 0);
		if (colls) { /* a non-blocking collective: its start and its wait */
			assert_int_equal(waits, 1);
			assert_int_equal(pt->count, 2);
		} else if (sw.rows[pt->row].test.p2p == TL_P2P_BW) {
			/* index 1 receives the window and acknowledges it */
			assert_int_equal(recvs, 8);
			assert_int_equal(sends, 1);
			assert_int_equal(waits, 8);
		} else { /* bibw: a window each way */
			assert_int_equal(recvs, 8);
			assert_int_equal(sends, 8);
			assert_int_equal(waits, 16);
		}
	}
	for (int s = 0; s < MAX_SLOTS; s++)
		assert_int_equal(rec.open[s], -1);
	tl_exec_fini(&ex);
	tl_sweep_free(&sw);
	free(rec.calls);
	free(rec.rows);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)
	    T(test_refused), T(test_accepted),   T(test_cuda),
	    T(test_step),    T(test_sweep_null), T(test_sweep_recorded),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
