/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The executor. Every op is timed and its time attributed: GEMMs and elementwise passes to
 * compute, the optimizer pass to optimizer, blocking collectives, the start of non-blocking ones,
 * the progress calls between compute ops and the waits to exposed communication of their group,
 * pipeline receives to bubble; what remains of the step is other (the executor's own work).
 * Non-blocking ops are progressed (tested) after every compute op, so that an MPI library
 * without an asynchronous progress thread still overlaps them with backward.
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

double tl_step_comm_exposed(const struct tl_step *step)
{
	double sum = 0;

	for (int g = 0; g < TL_GROUPS; g++)
		sum += step->comm_exposed_s[g];
	return sum;
}

int tl_exec_init(struct tl_exec *ex, struct tl_backend *be, const struct tl_plan *plan)
{
	memset(ex, 0, sizeof(*ex));
	ex->be = be;
	ex->plan = plan;
	ex->open = calloc((size_t)plan->reqs + 1, sizeof(*ex->open));
	ex->group = calloc((size_t)plan->reqs + 1, sizeof(*ex->group));
	ex->done_early = calloc((size_t)plan->reqs + 1, sizeof(*ex->done_early));
	return ex->open && ex->group && ex->done_early ? 0 : TL_ENOMEM;
}

void tl_exec_fini(struct tl_exec *ex)
{
	free(ex->open);
	free(ex->group);
	free(ex->done_early);
	memset(ex, 0, sizeof(*ex));
}

/* Test every started op once; the time goes to its group's exposed communication. */
static int progress(struct tl_exec *ex, struct tl_step *step)
{
	for (int i = 0; i < ex->nopen; i++) {
		int req = ex->open[i], done = 0;
		double t0 = tl_now_s();
		int rc = ex->be->ops->coll_test(ex->be, req, &done);
		step->comm_exposed_s[ex->group[req]] += tl_now_s() - t0;
		if (rc)
			return rc;
		if (done) {
			ex->done_early[req] = 1;
			ex->open[i--] = ex->open[--ex->nopen];
		}
	}
	return 0;
}

/*
 * A GEMM, split into row blocks while communication is outstanding so that it can be progressed
 * in between (an MPI library without a progress thread moves data only inside its calls).
 */
static int run_gemm(struct tl_exec *ex, const struct tl_op *op, struct tl_step *step)
{
	uint64_t m = op->gemm.m, chunks = 1;

	if (ex->nopen && (double)tl_gemm_flops(&op->gemm) >= TL_EXEC_CHUNK_FLOPS)
		chunks = m < TL_EXEC_GEMM_CHUNKS ? m : TL_EXEC_GEMM_CHUNKS;
	for (uint64_t c = 0; c < chunks; c++) {
		int rc = ex->be->ops->gemm(ex->be, op, m * c / chunks, m * (c + 1) / chunks);
		if (rc)
			return rc;
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
	double t0 = tl_now_s(), dt;
	int rc;

	switch (op->kind) {
	case TL_OP_GEMM:
		rc = run_gemm(ex, op, step);
		dt = tl_now_s() - t0;
		step->compute_s += dt;
		step->gemm_s += dt;
		step->gemm_flops += (double)tl_gemm_flops(&op->gemm);
		break;
	case TL_OP_ELEMENTWISE:
		rc = be->ops->pass(be, op);
		step->compute_s += tl_now_s() - t0;
		break;
	case TL_OP_OPTIMIZER:
		rc = be->ops->pass(be, op);
		step->optimizer_s += tl_now_s() - t0;
		break;
	case TL_OP_WAIT:
		rc = 0;
		if (!ex->done_early[op->req]) {
			rc = be->ops->coll_wait(be, op->req);
			for (int i = 0; i < ex->nopen; i++)
				if (ex->open[i] == op->req)
					ex->open[i--] = ex->open[--ex->nopen];
		}
		step->comm_exposed_s[op->group] += tl_now_s() - t0;
		break;
	default: /* communication */
		if (op->nonblocking) {
			rc = be->ops->coll_start(be, op);
			ex->group[op->req] = op->group;
			ex->done_early[op->req] = 0;
			ex->open[ex->nopen++] = op->req;
		} else {
			rc = be->ops->coll_run(be, op);
		}
		dt = tl_now_s() - t0;
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

	LATER(job->backend == TL_BACKEND_CUDA, "run", "backend", "backend = cuda");
	LATER(job->bind != TL_BIND_AUTO && job->bind != TL_BIND_NONE, "run", "bind",
	      "binding by trainload (bind = core, numa or package)");
	LATER(job->check > 0, "run", "check", "collective result checking (check > 0)");
	LATER(job->timeout_s > 0, "run", "timeout_s", "the watchdog (timeout_s > 0)");
	LATER(tl_job_was_set(job, "run", "straggler_pct"), "run", "straggler_pct",
	      "straggler detection");
#undef LATER
	return diag->count + diag->dropped > before ? TL_EINPUT : 0;
}
