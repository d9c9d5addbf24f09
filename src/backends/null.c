/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The null backend: every op succeeds at once and does nothing. It lets the executor, the plan
 * walk and the accounting be tested without BLAS or a second rank.
 */
#include "config.h"

#include <inttypes.h>

#include "trainload/backend.h"

/* It moves no data, so it cannot check any. */
static int null_check(const struct tl_job *job, struct tl_diag *diag)
{
	int before = diag->count + diag->dropped;

	if (job->check > 0)
		tl_job_blame(job, "run", "check", diag, "check = %" PRIu64 " needs a backend that "
			     "moves data (backend = null moves none)", job->check);
	if (job->has_sweep && job->sweep_check > 0)
		tl_job_blame(job, "sweep", "check", diag, "check = %" PRIu64 " needs a backend "
			     "that moves data (backend = null moves none; -c 0 turns it off)",
			     job->sweep_check);
	return diag->count + diag->dropped > before ? TL_EINPUT : 0;
}

static int null_init(struct tl_backend *be, const struct tl_job *job, const struct tl_model *model,
		     const struct tl_grid *grid, const struct tl_plan *plan)
{
	(void)job;
	(void)model;
	(void)grid;
	(void)plan;
	be->priv = NULL;
	return 0;
}

static int null_gemm(struct tl_backend *be, const struct tl_op *op, uint64_t row_begin,
		     uint64_t row_end)
{
	(void)be;
	(void)op;
	(void)row_begin;
	(void)row_end;
	return 0;
}

static int null_pass(struct tl_backend *be, const struct tl_op *op)
{
	(void)be;
	(void)op;
	return 0;
}

static int null_coll_run(struct tl_backend *be, const struct tl_op *op)
{
	(void)be;
	(void)op;
	return 0;
}

static int null_coll_start(struct tl_backend *be, const struct tl_op *op)
{
	(void)be;
	(void)op;
	return 0;
}

static int null_coll_test(struct tl_backend *be, int req, int *done)
{
	(void)be;
	(void)req;
	*done = 1;
	return 0;
}

static int null_coll_wait(struct tl_backend *be, int req)
{
	(void)be;
	(void)req;
	return 0;
}

/* A nominal peak, so that MFU stays finite; nothing is measured. */
static int null_calibrate(struct tl_backend *be, double *flops_per_s)
{
	(void)be;
	*flops_per_s = 1e12;
	return 0;
}

static void null_fini(struct tl_backend *be)
{
	(void)be;
}

const struct tl_backend_ops tl_backend_null = {
	.name = "null",
	.check = null_check,
	.init = null_init,
	.gemm = null_gemm,
	.pass = null_pass,
	.coll_run = null_coll_run,
	.coll_start = null_coll_start,
	.coll_test = null_coll_test,
	.coll_wait = null_coll_wait,
	.calibrate = null_calibrate,
	.fini = null_fini,
};
