/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Backends run the plan's ops on hardware, behind one small ops table (as fio's I/O engines):
 * cpu (OpenBLAS + MPI), cuda (cuBLAS + NCCL, in builds configured --with-cuda) and null (does
 * nothing, so the executor and its accounting can be tested alone). The executor times every
 * call; backends do the work and nothing else. Every call returns once its work is done (or,
 * for coll_start, under way), so that the host clock around a call is the time it took; a
 * backend that hands work to a device also reports the device's own time (device_time).
 */
#ifndef TRAINLOAD_BACKEND_H
#define TRAINLOAD_BACKEND_H

#include "trainload/grid.h"
#include "trainload/job.h"
#include "trainload/log.h"
#include "trainload/model.h"
#include "trainload/plan.h"

struct tl_backend;
struct tl_check_miss;
struct tl_hw_peak;

/* The device a rank drives, as reported (ranks[].gpu); all empty for host backends. */
struct tl_device {
	char name[96];       /* "NVIDIA H100 80GB HBM3" */
	char pci_bus_id[32]; /* "0000:19:00.0" */
	int numa_node;       /* the NUMA node next to its PCI slot, -1 when unknown */
	int gpus_visible;    /* GPUs the rank could see (CUDA_VISIBLE_DEVICES) */
};

/* What a backend can do, beyond the hooks it fills in (caps). */
enum {
	/* It holds the plan's buffers in a device's memory and checks their fit there itself
	 * (the run then does not hold them to the node's memory). */
	TL_BACKEND_DEVICE_MEMORY = 1 << 0,
};

struct tl_backend_ops {
	const char *name; /* as the job's run.backend spells it */
	unsigned caps;    /* TL_BACKEND_* */
	/* Set where this build lacks the backend (its table then has name, check and this
	 * alone): how to get it, for the message that refuses it. */
	const char *missing;

	/* Refuse, into diag and blaming the keys (tl_job_blame), what this backend cannot run
	 * of a resolved job; pure, called on every rank before MPI starts, and by the registry
	 * whether or not this build has the backend. Returns 0 or TL_EINPUT. */
	int (*check)(const struct tl_job *job, struct tl_diag *diag);

	/* Called once on every rank, collectively: create a communicator for every group of the
	 * grid, and allocate (and touch) the buffers the plan's ops need; with memory = full
	 * also the model's weights, gradients, optimizer state and activations, so that the
	 * rank holds what training would. model is NULL for a sweep's plan (its ops move
	 * sweep.dtype). Returns 0 or a negative TL_E*. */
	int (*init)(struct tl_backend *be, const struct tl_job *job, const struct tl_model *model,
		    const struct tl_grid *grid, const struct tl_plan *plan);

	/* Optional (NULL: none): the host memory init would allocate on this rank for the plan,
	 * in bytes, found without allocating it, so that a plan a node cannot hold is refused
	 * (exit 2, naming the key) before any rank allocates. Called on every rank. Returns 0 or a
	 * negative TL_E*. */
	int (*host_bytes)(const struct tl_job *job, const struct tl_model *model,
			  const struct tl_grid *grid, const struct tl_plan *plan, uint64_t *bytes);

	/* Run rows [row_begin, row_end) of C of one TL_OP_GEMM (all of its batch), with the op's
	 * shapes and transposes; [0, op->gemm.m) is the whole GEMM. The executor splits long
	 * GEMMs this way to progress outstanding communication in between. */
	int (*gemm)(struct tl_backend *be, const struct tl_op *op, uint64_t row_begin,
		    uint64_t row_end);

	/* Run one memory pass (TL_OP_ELEMENTWISE, TL_OP_OPTIMIZER): read and write op->bytes in
	 * all, streaming through memory. */
	int (*pass)(struct tl_backend *be, const struct tl_op *op);

	/* Run a collective, send or recv op to completion with the blocking call (MPI libraries
	 * tune blocking collectives apart from non-blocking ones, so this is not start + wait).
	 * Every kind with a descriptor in include/trainload/coll.h, out of place or in place
	 * (op->in_place, a sweep's); a sweep calls an op many times, and a backend may rotate
	 * among buffer sets from one call to the next (src/backends/operands.h). */
	int (*coll_run)(struct tl_backend *be, const struct tl_op *op);

	/* Start a collective or send without waiting for it, in request slot op->req (the plan
	 * numbers them 0 .. plan->reqs - 1). */
	int (*coll_start)(struct tl_backend *be, const struct tl_op *op);

	/* Progress the op started in slot req; *done becomes 1 once it has completed (and the
	 * slot is free again). */
	int (*coll_test)(struct tl_backend *be, int req, int *done);

	/* Block until the op started in slot req completes. */
	int (*coll_wait)(struct tl_backend *be, int req);

	/* Optional (NULL: coll_wait on each in turn): block until the ops started in slots
	 * [first, first + count) all complete, with one call, as OSU's bandwidth tests wait for
	 * their window (MPI_Waitall); a sweep's consecutive waits use it. */
	int (*coll_wait_range)(struct tl_backend *be, int first, int count);

	/* The peak GEMM rate of this rank, in FLOP/s, measured with a calibration GEMM of the
	 * job's compute_dtype and the rank's threads, best of a few runs (MFU's denominator). */
	int (*calibrate)(struct tl_backend *be, double *flops_per_s);

	/* Optional (NULL: not known): the hardware's peak FLOP/s of this rank in the job's
	 * compute_dtype and how it is derived (include/trainload/peak.h): a GPU's datasheet, a
	 * CPU's measured clock x FMA width x FMA units. MFU's denominator, as the field's papers
	 * use it; called once after the steps, on every rank at the same time. */
	void (*hw_peak)(struct tl_backend *be, struct tl_hw_peak *out);

	/* Optional (NULL for host backends, whose calls the executor's host clock times): how
	 * long the device ran the work of the last gemm or pass call, in seconds, from events
	 * recorded around it on the device. The executor counts it as that op's compute time;
	 * what the host spent beyond it (launch, synchronisation) falls to other. */
	double (*device_time)(struct tl_backend *be);

	/* Optional (NULL for host backends): the device this rank drives, once init is done. */
	void (*device)(struct tl_backend *be, struct tl_device *out);

	/* Data checking (run.check, sweep.check), called by the executor outside its timed calls,
	 * and NULL in a backend that moves no data. check_fill: before a communication op (not a
	 * wait) is next issued, fill its input with the pattern of step (include/trainload/
	 * check.h) and its output with -1. check_verify: once the op has completed, return how
	 * many received elements differ from what a correct op leaves, the first in *miss. */
	void (*check_fill)(struct tl_backend *be, const struct tl_op *op, uint64_t step);
	uint64_t (*check_verify)(struct tl_backend *be, const struct tl_op *op, uint64_t step,
				 struct tl_check_miss *miss);

	/* Free everything init allocated; collective. */
	void (*fini)(struct tl_backend *be);
};

struct tl_backend {
	const struct tl_backend_ops *ops;
	void *priv; /* the backend's own state */
};

extern const struct tl_backend_ops tl_backend_cpu;
extern const struct tl_backend_ops tl_backend_cuda; /* name and check alone without CUDA */
extern const struct tl_backend_ops tl_backend_null;

#endif
