/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The executor. Every op is timed and its time attributed: GEMMs and elementwise passes to
 * compute, the optimizer pass to optimizer, blocking collectives, the start of non-blocking ones,
 * the progress calls between compute ops and the waits to exposed communication of their group,
 * pipeline (pp) receives to bubble; what remains of the step is other (the executor's own work).
 * Non-blocking ops are progressed (tested) after every compute op, so that an MPI library
 * without an asynchronous progress thread still overlaps them with backward. A backend that
 * runs compute on a device reports the device's time of each call (device_time), which then
 * counts as compute instead of the host's; the host's launch and synchronisation fall to other.
 *
 * Each op is announced to the watchdog as it is entered and as it finishes; with run.check, the
 * checked steps' communication is filled and compared outside the timed calls.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainload/check.h"
#include "trainload/clock.h"
#include "trainload/exec.h"
#include "trainload/watchdog.h"

/* While communication is outstanding, a GEMM is split into row blocks of at least this many
 * FLOPs (some 10 ms of a core's f32 GEMM) and rows, so that an MPI library without a progress
 * thread still moves data during a long one; a shorter GEMM runs whole, as the BLAS runs it
 * best, and the test after every op progresses the communication often enough. (Splitting
 * every GEMM of 1e8 FLOPs in four cost the BLAS more than the extra tests gained: each block
 * packs B again.) */
#define TL_EXEC_CHUNK_FLOPS 1e9
#define TL_EXEC_CHUNK_ROWS 128
/* run.check: wrong results named per rank before the rest are only counted. */
#define TL_EXEC_CHECK_NAMED 8
/* tl_exec_alone: calls of each non-blocking collective, the best kept for dp hidden; all but
 * the first (which lines the ranks up) are its transfer time. */
#define TL_EXEC_ALONE_RUNS 3

/* One stat per distinct (kind, group, bytes, blocking) of the plan's communication. */
static int index_stats(struct tl_exec *ex)
{
	const struct tl_plan *plan = ex->plan;

	ex->op_stat = malloc((plan->count + 1) * sizeof(*ex->op_stat));
	ex->stats = calloc(plan->count + 1, sizeof(*ex->stats));
	if (!ex->op_stat || !ex->stats)
		return TL_ENOMEM;
	for (size_t i = 0; i < plan->count; i++) {
		const struct tl_op *op = &plan->ops[i];
		int k;

		ex->op_stat[i] = -1;
		if (!tl_op_is_comm(op->kind))
			continue;
		for (k = 0; k < ex->nstats; k++) {
			const struct tl_coll_stat *st = &ex->stats[k];
			if (st->kind == (int)op->kind && st->group == op->group &&
			    st->bytes == op->bytes && st->nonblocking == op->nonblocking)
				break;
		}
		if (k == ex->nstats)
			ex->stats[ex->nstats++] = (struct tl_coll_stat){
				.kind = (int)op->kind, .group = op->group, .bytes = op->bytes,
				.nonblocking = op->nonblocking, .min_s = 1e300
			};
		ex->op_stat[i] = k;
	}
	return 0;
}

int tl_exec_init(struct tl_exec *ex, struct tl_backend *be, const struct tl_plan *plan)
{
	size_t slots = (size_t)plan->reqs + 1;

	memset(ex, 0, sizeof(*ex));
	ex->be = be;
	ex->plan = plan;
	ex->open = calloc(slots, sizeof(*ex->open));
	ex->group = calloc(slots, sizeof(*ex->group));
	ex->done_early = calloc(slots, sizeof(*ex->done_early));
	ex->started = calloc(slots, sizeof(*ex->started));
	ex->slot_stat = calloc(slots, sizeof(*ex->slot_stat));
	ex->slot_op = calloc(slots, sizeof(*ex->slot_op));
	ex->arrive_s = calloc(plan->count + 1, sizeof(*ex->arrive_s));
	ex->done_s = calloc(plan->count + 1, sizeof(*ex->done_s));
	ex->host = "?";
	if (!ex->open || !ex->group || !ex->done_early || !ex->started || !ex->slot_stat ||
	    !ex->slot_op || !ex->arrive_s || !ex->done_s)
		return TL_ENOMEM;
	return index_stats(ex);
}

void tl_exec_fini(struct tl_exec *ex)
{
	free(ex->open);
	free(ex->group);
	free(ex->done_early);
	free(ex->started);
	free(ex->slot_stat);
	free(ex->slot_op);
	free(ex->op_stat);
	free(ex->stats);
	free(ex->arrive_s);
	free(ex->done_s);
	memset(ex, 0, sizeof(*ex));
}

static void record(struct tl_exec *ex, int stat, double seconds)
{
	struct tl_coll_stat *st = &ex->stats[stat];

	if (!ex->measuring)
		return;
	st->count++;
	st->time_s += seconds;
	if (seconds < st->min_s)
		st->min_s = seconds;
	if (seconds > st->max_s)
		st->max_s = seconds;
}

/* Whether this step's communication is checked. */
static bool checking(const struct tl_exec *ex)
{
	return ex->check && ex->be->ops->check_verify && ex->step % (int64_t)ex->check == 0;
}

/* Compare what a completed op received with the pattern of seed; the first wrong element is
 * named with the op. */
static void verify_op(struct tl_exec *ex, const struct tl_op *op, uint64_t seed)
{
	struct tl_check_miss miss;
	uint64_t wrong;
	char where[96];

	if (op->kind == TL_OP_SEND)
		return;
	wrong = ex->be->ops->check_verify(ex->be, op, seed, &miss);
	if (!wrong)
		return;
	ex->wrong += wrong;
	if (++ex->wrong_ops > TL_EXEC_CHECK_NAMED) {
		if (ex->wrong_ops == TL_EXEC_CHECK_NAMED + 1)
			fprintf(stderr, "trainload: rank %" PRIu64 " (%s): check: more wrong results; "
				"counted, not named\n", ex->plan->rank, ex->host);
		return;
	}
	if (op->phase == TL_PHASE_SWEEP)
		snprintf(where, sizeof(where), "sweep, iteration %" PRIu64 "%s", seed,
			 op->in_place ? ", in place" : "");
	else
		snprintf(where, sizeof(where), "step %" PRId64 ", microbatch %d, layer %d, %s",
			 ex->step, op->microbatch, op->layer, tl_phase_name(op->phase));
	fprintf(stderr,
		"trainload: rank %" PRIu64 " (%s): check: %s: %s of %" PRIu64 " B over %s: %" PRIu64
		" wrong elements (first at %" PRIu64 ": %g, expected %g)\n",
		ex->plan->rank, ex->host, where, tl_op_kind_name(op->kind), op->bytes,
		tl_grid_group_name(op->group), wrong, miss.index,
		miss.got, miss.want);
}

/* A training step's op, when this step is checked. */
static void verify(struct tl_exec *ex, const struct tl_op *op)
{
	if (checking(ex))
		verify_op(ex, op, (uint64_t)ex->step);
}

/* Op i of the plan, when it is a collective, was arrived at (blocked on) at arrive and seen
 * complete at done: the one place where the arrival/transfer split is measured. */
static void arrived(struct tl_exec *ex, size_t i, double arrive, double done)
{
	enum tl_op_kind kind = ex->plan->ops[i].kind;

	if (kind != TL_OP_SEND && kind != TL_OP_RECV) {
		ex->arrive_s[i] = arrive;
		ex->done_s[i] = done;
	}
}

/* A started op has completed: its slot is free, its time recorded. Its data is checked after
 * the caller has taken the time. */
static void complete(struct tl_exec *ex, int req, double now)
{
	for (int i = 0; i < ex->nopen; i++) {
		if (ex->open[i] == req) {
			ex->open[i] = ex->open[--ex->nopen];
			break;
		}
	}
	record(ex, ex->slot_stat[req], now - ex->started[req]);
}

/* Test every started op once; the time goes to its group's exposed communication. */
static int progress(struct tl_exec *ex, struct tl_step *step)
{
	for (int i = 0; i < ex->nopen; i++) {
		int req = ex->open[i], done = 0;
		double t0 = tl_now_s();
		int rc = ex->be->ops->coll_test(ex->be, req, &done);
		double t1 = tl_now_s();
		step->comm_exposed_s[ex->group[req]] += t1 - t0;
		if (rc)
			return rc;
		if (done) {
			ex->done_early[req] = 1;
			complete(ex, req, t1);
			arrived(ex, ex->slot_op[req], t1, t1);
			verify(ex, &ex->plan->ops[ex->slot_op[req]]);
			tl_watchdog_leave();
			i--; /* complete() moved the last open slot here */
		}
	}
	return 0;
}

/* The device's time of the compute call just made, or -1 where the host clock times it. */
static double device_time(struct tl_exec *ex)
{
	return ex->be->ops->device_time ? ex->be->ops->device_time(ex->be) : -1;
}

/*
 * A GEMM, split into row blocks while communication is outstanding so that it can be progressed
 * in between (an MPI library without a progress thread moves data only inside its calls).
 * *device_s sums the device's time of the blocks (-1: none reported).
 */
static int run_gemm(struct tl_exec *ex, const struct tl_op *op, struct tl_step *step,
		    double *device_s)
{
	uint64_t m = op->gemm.m, chunks = 1;

	*device_s = -1;
	if (ex->nopen) {
		uint64_t by_flops = (uint64_t)((double)tl_gemm_flops(&op->gemm) / TL_EXEC_CHUNK_FLOPS);
		uint64_t by_rows = m / TL_EXEC_CHUNK_ROWS;
		chunks = by_flops < by_rows ? by_flops : by_rows;
		if (chunks < 1)
			chunks = 1;
	}
	for (uint64_t c = 0; c < chunks; c++) {
		int rc = ex->be->ops->gemm(ex->be, op, m * c / chunks, m * (c + 1) / chunks);
		if (rc)
			return rc;
		double d = device_time(ex);
		if (d >= 0)
			*device_s = (*device_s < 0 ? 0 : *device_s) + d;
		if (c + 1 < chunks) {
			rc = progress(ex, step);
			if (rc)
				return rc;
		}
	}
	return 0;
}

/* Tell the watchdog where this rank is. */
static void enter(const struct tl_exec *ex, const struct tl_op *op)
{
	bool comm = tl_op_is_comm(op->kind);
	struct tl_where w = {
		.what = tl_op_kind_name(op->kind), .phase = tl_phase_name(op->phase),
		.group = comm || op->kind == TL_OP_WAIT ? op->group : -1,
		.compute = !comm && op->kind != TL_OP_WAIT,
		.step = ex->measuring ? ex->step - (int64_t)ex->warmup : ex->step,
		.warmup = !ex->measuring,
		.microbatch = op->microbatch, .layer = op->layer,
		.peer = op->kind == TL_OP_SEND || op->kind == TL_OP_RECV ? op->peer : -1,
		.bytes = comm ? op->bytes : 0,
	};

	if (op->kind == TL_OP_WAIT) {
		const struct tl_op *started = &ex->plan->ops[ex->slot_op[op->req]];
		w.waits = tl_op_kind_name(started->kind);
		w.bytes = started->bytes;
		w.peer = started->kind == TL_OP_SEND || started->kind == TL_OP_RECV ? started->peer
										     : -1;
	}
	tl_watchdog_enter(&w);
}

static int run_op(struct tl_exec *ex, const struct tl_op *op, struct tl_step *step)
{
	struct tl_backend *be = ex->be;
	double t0, dt, device_s;
	int rc;

	enter(ex, op);
	if (op->kind == TL_OP_GEMM && tl_watchdog_stall_due(ex->step))
		tl_watchdog_stall(); /* TRAINLOAD_TEST_STALL: for testing only */
	if (tl_op_is_comm(op->kind) && checking(ex))
		be->ops->check_fill(be, op, (uint64_t)ex->step);
	t0 = tl_now_s();
	switch (op->kind) {
	case TL_OP_GEMM: {
		/* Progress calls between its row blocks count as communication, not compute. */
		double comm_before = tl_step_comm_exposed(step);
		rc = run_gemm(ex, op, step, &device_s);
		dt = device_s >= 0 ? device_s
				   : tl_now_s() - t0 - (tl_step_comm_exposed(step) - comm_before);
		step->compute_s += dt;
		step->gemm_s += dt;
		step->gemm_flops += (double)tl_gemm_flops(&op->gemm);
		break;
	}
	case TL_OP_ELEMENTWISE:
	case TL_OP_OPTIMIZER:
		rc = be->ops->pass(be, op);
		device_s = device_time(ex);
		dt = device_s >= 0 ? device_s : tl_now_s() - t0;
		if (op->kind == TL_OP_OPTIMIZER)
			step->optimizer_s += dt;
		else
			step->compute_s += dt;
		break;
	case TL_OP_WAIT:
		rc = 0;
		if (!ex->done_early[op->req]) {
			rc = be->ops->coll_wait(be, op->req);
			double now = tl_now_s();
			complete(ex, op->req, now);
			arrived(ex, ex->slot_op[op->req], t0, now);
		}
		step->comm_exposed_s[op->group] += tl_now_s() - t0;
		if (!rc && !ex->done_early[op->req])
			verify(ex, &ex->plan->ops[ex->slot_op[op->req]]);
		break;
	default: /* communication */
		if (op->nonblocking) {
			int req = op->req;
			rc = be->ops->coll_start(be, op);
			ex->group[req] = op->group;
			ex->done_early[req] = 0;
			ex->started[req] = t0;
			ex->slot_stat[req] = ex->op_stat[op - ex->plan->ops];
			ex->slot_op[req] = (size_t)(op - ex->plan->ops);
			ex->open[ex->nopen++] = req;
		} else {
			rc = be->ops->coll_run(be, op);
		}
		dt = tl_now_s() - t0;
		if (!op->nonblocking) {
			record(ex, ex->op_stat[op - ex->plan->ops], dt);
			arrived(ex, (size_t)(op - ex->plan->ops), t0, t0 + dt);
		}
		if (op->kind == TL_OP_RECV && op->group == TL_GROUP_PP)
			step->bubble_s += dt;
		else
			step->comm_exposed_s[op->group] += dt;
		if (!rc && !op->nonblocking)
			verify(ex, op);
		break;
	}
	if (rc)
		return rc;
	tl_watchdog_leave();
	step->ops[op->kind]++;
	if (ex->nopen && (op->kind == TL_OP_GEMM || op->kind == TL_OP_ELEMENTWISE))
		return progress(ex, step);
	return 0;
}

int tl_exec_step(struct tl_exec *ex, struct tl_step *step)
{
	const struct tl_plan *plan = ex->plan;
	double start = tl_now_s();

	memset(step, 0, sizeof(*step));
	for (size_t i = 0; i < plan->count; i++) {
		int rc = run_op(ex, &plan->ops[i], step);
		if (rc)
			return rc;
	}
	step->time_s = tl_now_s() - start;
	step->other_s = step->time_s - step->compute_s - tl_step_comm_exposed(step) -
			step->bubble_s - step->optimizer_s;
	ex->step++;
	return 0;
}

int tl_exec_alone(struct tl_exec *ex, double *dp_alone_s)
{
	const struct tl_plan *plan = ex->plan;

	*dp_alone_s = 0;
	for (size_t i = 0; i < plan->count; i++) {
		const struct tl_op *op = &plan->ops[i];
		struct tl_coll_stat *st = &ex->stats[ex->op_stat[i]];
		double best = 0;
		if (!op->nonblocking || !tl_op_is_comm(op->kind) || op->kind == TL_OP_SEND ||
		    op->kind == TL_OP_RECV)
			continue;
		for (int run = 0; run < TL_EXEC_ALONE_RUNS; run++) {
			enter(ex, op);
			double t0 = tl_now_s();
			int rc = ex->be->ops->coll_start(ex->be, op);
			if (!rc)
				rc = ex->be->ops->coll_wait(ex->be, op->req);
			if (rc)
				return rc;
			double dt = tl_now_s() - t0;
			tl_watchdog_leave();
			if (run == 0 || dt < best)
				best = dt;
			/* The first call lines the ranks up: its time holds their arrival skew. */
			if (run > 0) {
				st->transfer_s += dt;
				st->transfer_count++;
			}
		}
		if (op->phase == TL_PHASE_GRAD_SYNC)
			*dp_alone_s += best;
	}
	return 0;
}

/* ---- repeated ranges (sweeps) ---- */

/* One op of a repeated range, as the backend runs it. */
static int call(struct tl_exec *ex, const struct tl_op *op)
{
	struct tl_backend *be = ex->be;

	if (op->kind == TL_OP_WAIT)
		return be->ops->coll_wait(be, op->req);
	if (!op->nonblocking)
		return be->ops->coll_run(be, op);
	ex->slot_op[op->req] = (size_t)(op - ex->plan->ops);
	return be->ops->coll_start(be, op);
}

/* How many waits from ops[i] on are for slots that follow each other (the waits of a window),
 * at most n - i. */
static size_t wait_run(const struct tl_op *ops, size_t i, size_t n)
{
	size_t k = i;

	while (k < n && ops[k].kind == TL_OP_WAIT && ops[k].req == ops[i].req + (int)(k - i))
		k++;
	return k - i;
}

/* One iteration of r: its ops in turn, consecutive waits for consecutive slots in one call where
 * the backend can (OSU's MPI_Waitall of a window). Checked, all of them are filled first (a
 * window's messages land in one buffer while others are still being posted), and each is
 * verified once it has completed. */
static int iterate(struct tl_exec *ex, const struct tl_repeat *r, uint64_t seed)
{
	const struct tl_op *ops = ex->plan->ops + r->first;

	for (size_t i = 0; r->check && i < r->count; i++)
		if (ops[i].kind != TL_OP_WAIT)
			ex->be->ops->check_fill(ex->be, &ops[i], seed);
	for (size_t i = 0; i < r->count;) {
		size_t waits = ex->be->ops->coll_wait_range ? wait_run(ops, i, r->count) : 0;
		int rc = waits > 1 ? ex->be->ops->coll_wait_range(ex->be, ops[i].req, (int)waits)
				   : call(ex, &ops[i]);
		if (rc)
			return rc;
		size_t done = waits > 1 ? waits : 1;
		for (size_t k = i; r->check && k < i + done; k++) {
			if (ops[k].kind == TL_OP_WAIT)
				verify_op(ex, &ex->plan->ops[ex->slot_op[ops[k].req]], seed);
			else if (!ops[k].nonblocking)
				verify_op(ex, &ops[k], seed);
		}
		i += done;
	}
	return 0;
}

int tl_exec_repeat(struct tl_exec *ex, const struct tl_repeat *r)
{
	const struct tl_op *first = &ex->plan->ops[r->first];
	struct tl_repeat run = *r;
	int rc = 0;

	if (r->stamps)
		r->stamps[0] = tl_now_s();
	if (!r->count)
		return 0;
	run.check = r->check && ex->be->ops->check_verify; /* backends that move no data */
	if (r->stamps) {
		/* Back to back: the watchdog hears of the start and of each iteration's end. */
		ex->step = (int64_t)r->iter0;
		enter(ex, first);
		if (tl_watchdog_stall_due(ex->step))
			tl_watchdog_stall(); /* TRAINLOAD_TEST_STALL: for testing only */
		r->stamps[0] = tl_now_s();
		for (uint64_t k = 0; k < r->iters && !rc; k++) {
			rc = iterate(ex, &run, r->iter0 + k);
			r->stamps[k + 1] = tl_now_s();
			tl_watchdog_leave();
		}
		return rc;
	}
	for (uint64_t k = 0; k < r->iters && !rc; k++) {
		ex->step = (int64_t)(r->iter0 + k);
		enter(ex, first);
		if (tl_watchdog_stall_due(ex->step))
			tl_watchdog_stall(); /* TRAINLOAD_TEST_STALL: for testing only */
		rc = iterate(ex, &run, r->iter0 + k);
		if (!rc)
			tl_watchdog_leave();
	}
	return rc;
}
