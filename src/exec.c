/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The executor. Every op is timed and its time attributed: GEMMs and elementwise passes to
 * compute, the optimizer pass to optimizer, blocking collectives, the start of non-blocking ones,
 * the progress calls between compute ops and the waits to exposed communication of their group,
 * pipeline receives to bubble; what remains of the step is other (the executor's own work).
 * Non-blocking ops are progressed (tested) after every compute op, so that an MPI library
 * without an asynchronous progress thread still overlaps them with backward. A backend that
 * runs compute on a device reports the device's time of each call (device_time), which then
 * counts as compute instead of the host's; the host's launch and synchronisation fall to other.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trainload/exec.h"

/* GEMMs of at least this many FLOPs are split while communication is outstanding, into this
 * many row blocks (a few, so that BLAS keeps its efficiency). */
#define TL_EXEC_CHUNK_FLOPS 1e8
#define TL_EXEC_GEMM_CHUNKS 4

double tl_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

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
	if (!ex->open || !ex->group || !ex->done_early || !ex->started || !ex->slot_stat)
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
	free(ex->op_stat);
	free(ex->stats);
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

/* A started op has completed: its slot is free, its time recorded. */
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
	if (ex->nopen && (double)tl_gemm_flops(&op->gemm) >= TL_EXEC_CHUNK_FLOPS)
		chunks = m < TL_EXEC_GEMM_CHUNKS ? m : TL_EXEC_GEMM_CHUNKS;
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

static int run_op(struct tl_exec *ex, const struct tl_op *op, struct tl_step *step)
{
	struct tl_backend *be = ex->be;
	double t0 = tl_now_s(), dt, device_s;
	int rc;

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
			complete(ex, op->req, tl_now_s());
		}
		step->comm_exposed_s[op->group] += tl_now_s() - t0;
		break;
	default: /* communication */
		if (op->nonblocking) {
			int req = op->req;
			rc = be->ops->coll_start(be, op);
			ex->group[req] = op->group;
			ex->done_early[req] = 0;
			ex->started[req] = t0;
			ex->slot_stat[req] = ex->op_stat[op - ex->plan->ops];
			ex->open[ex->nopen++] = req;
		} else {
			rc = be->ops->coll_run(be, op);
		}
		dt = tl_now_s() - t0;
		if (!op->nonblocking)
			record(ex, ex->op_stat[op - ex->plan->ops], dt);
		if (op->kind == TL_OP_RECV)
			step->bubble_s += dt;
		else
			step->comm_exposed_s[op->group] += dt;
		break;
	}
	if (rc)
		return rc;
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
	return 0;
}
int tl_exec_check(const struct tl_job *job, struct tl_diag *diag)
{
	int before = diag->count + diag->dropped;

#define LATER(cond, section, key, what)                                                          \
	do {                                                                                     \
		if (cond)                                                                        \
			tl_job_blame(job, section, key, diag, "running %s is not implemented yet " \
				     "(--dry-run plans it)", what);                              \
	} while (0)

#ifdef TL_HAVE_CUDA
	LATER(job->has_sweep && job->backend == TL_BACKEND_CUDA, "run", "backend",
	      "a sweep on backend = cuda (NCCL)");
#else
	if (job->backend == TL_BACKEND_CUDA)
		tl_job_blame(job, "run", "backend", diag,
			     "backend = cuda needs a trainload built with CUDA: rebuild it with "
			     "./configure --with-cuda (--dry-run plans it)");
#endif
	LATER(job->check > 0, "run", "check", "collective result checking (check > 0)");
	LATER(job->timeout_s > 0, "run", "timeout_s", "the watchdog (timeout_s > 0)");
#undef LATER
	return diag->count + diag->dropped > before ? TL_EINPUT : 0;
}
