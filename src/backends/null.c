/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The null backend: every op succeeds at once and does nothing. It lets the executor, the plan
 * walk and the accounting be tested without BLAS or a second rank.
 */
#include "config.h"

#include "trainload/backend.h"

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
