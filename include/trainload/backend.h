/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Backends run the plan's ops on hardware, behind one small ops table (as fio's I/O engines):
 * cpu (OpenBLAS + MPI) and null (does nothing, so the executor and its accounting can be tested
 * alone). The executor times every call; backends do the work and nothing else.
 */
#ifndef TRAINLOAD_BACKEND_H
#define TRAINLOAD_BACKEND_H

#include "trainload/job.h"
#include "trainload/plan.h"

struct tl_backend;


struct tl_backend_ops {
	const char *name; /* as the job's run.backend spells it */

	/* Called once on every rank, collectively: create the communicators and allocate (and
	 * touch) the buffers that the plan's ops need. Returns 0 or a negative TL_E*. */
	int (*init)(struct tl_backend *be, const struct tl_job *job, const struct tl_plan *plan);

	/* Run one TL_OP_GEMM to completion, with the op's shapes and transposes. */
	int (*gemm)(struct tl_backend *be, const struct tl_op *op);

	/* Run one memory pass (TL_OP_ELEMENTWISE, TL_OP_OPTIMIZER): read and write op->bytes in
	 * all, streaming through memory. */
	int (*pass)(struct tl_backend *be, const struct tl_op *op);

	/* Run a collective, send or recv op to completion with the blocking call (MPI libraries
	 * tune blocking collectives apart from non-blocking ones, so this is not start + wait). */
	int (*coll_run)(struct tl_backend *be, const struct tl_op *op);

	/* Start a collective, send or recv op without waiting for it, in request slot op->req
	 * (the plan numbers them 0 .. plan->reqs - 1). */
	int (*coll_start)(struct tl_backend *be, const struct tl_op *op);

	/* Progress the op started in slot req; *done becomes 1 once it has completed (and the
	 * slot is free again). */
	int (*coll_test)(struct tl_backend *be, int req, int *done);

	/* Block until the op started in slot req completes. */
	int (*coll_wait)(struct tl_backend *be, int req);

	/* Free everything init allocated; collective. */
	void (*fini)(struct tl_backend *be);
};

struct tl_backend {
	const struct tl_backend_ops *ops;
	void *priv; /* the backend's own state */
};

/* The registry: the backend a job names, or NULL when this build lacks it. */
const struct tl_backend_ops *tl_backend_find(const char *name);

extern const struct tl_backend_ops tl_backend_cpu;
extern const struct tl_backend_ops tl_backend_null;

#endif
