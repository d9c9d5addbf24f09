/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <string.h>
#include <time.h>

#include "trainload/exec.h"

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

static int run_op(struct tl_backend *be, const struct tl_op *op, struct tl_step *step)
{
	double t0 = tl_now_s(), dt;
	int rc;

	switch (op->kind) {
	case TL_OP_GEMM:
		rc = be->ops->gemm(be, op);
		dt = tl_now_s() - t0;
		step->compute_s += dt;
		step->gemm_s += dt;
		step->gemm_flops += (double)tl_gemm_flops(&op->gemm);
		break;
	case TL_OP_ALLREDUCE:
	case TL_OP_REDUCE_SCATTER:
	case TL_OP_ALLGATHER:
	case TL_OP_ALLTOALL:
	case TL_OP_SEND:
		rc = be->ops->coll_run(be, op);
		step->comm_exposed_s[op->group] += tl_now_s() - t0;
		break;
	case TL_OP_RECV:
		rc = be->ops->coll_run(be, op);
		step->bubble_s += tl_now_s() - t0;
		break;
	default:
		return TL_ERUN; /* not planned by this version */
	}
	if (rc == 0)
		step->ops[op->kind]++;
	return rc;
}

int tl_exec_step(struct tl_backend *be, const struct tl_plan *plan, struct tl_step *step)
{
	double start = tl_now_s();

	memset(step, 0, sizeof(*step));
	for (size_t i = 0; i < plan->count; i++) {
		int rc = run_op(be, &plan->ops[i], step);
		if (rc)
			return rc;
	}
	step->time_s = tl_now_s() - start;
	step->other_s = step->time_s - step->compute_s - tl_step_comm_exposed(step) -
			step->bubble_s - step->optimizer_s;
	return 0;
}
