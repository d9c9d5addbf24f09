/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The executor: walks one rank's plan through a backend, timing every op, and attributes the
 * step's time to compute, exposed communication per group, pipeline bubble, optimizer and other,
 * so that these add up to the step (DESIGN.md §5).
 */
#ifndef TRAINLOAD_EXEC_H
#define TRAINLOAD_EXEC_H

#include "trainload/backend.h"
#include "trainload/plan.h"

#define TL_GROUPS (TL_GROUP_CP + 1)

/* What one rank did in one step. All times in seconds. */
struct tl_step {
	double time_s;
	double compute_s;                 /* GEMMs and elementwise passes */
	double comm_exposed_s[TL_GROUPS]; /* blocked in communication, per group */
	double bubble_s;                  /* waiting in pipeline receives */
	double optimizer_s;
	double other_s;                   /* time_s minus all of the above */
	double gemm_s;                    /* GEMMs alone (for the GEMM rate) */
	double gemm_flops;
	uint64_t ops[TL_OP_KINDS];        /* ops executed, by kind */
};

/* Monotonic wall-clock time in seconds. */
double tl_now_s(void);

/* Run one step of plan through be; fills step. */
int tl_exec_step(struct tl_backend *be, const struct tl_plan *plan, struct tl_step *step);

/* The sum of a step's exposed communication over all groups. */
double tl_step_comm_exposed(const struct tl_step *step);

#endif
