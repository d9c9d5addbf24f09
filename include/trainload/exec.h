/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The executor: walks one rank's plan through a backend, timing every op, and attributes the
 * step's time to compute, exposed communication per group, pipeline bubble, optimizer and other,
 * so that these add up to the step (DESIGN.md §5).
 */
#ifndef TRAINLOAD_EXEC_H
#define TRAINLOAD_EXEC_H

#include "trainload/backend.h"
#include "trainload/grid.h"
#include "trainload/plan.h"

#define TL_GROUPS TL_GRID_GROUPS

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

/* Refuse (into diag, naming the key) what this executor cannot run yet. */
int tl_exec_check(const struct tl_job *job, struct tl_diag *diag);

/* Monotonic wall-clock time in seconds. */
double tl_now_s(void);

/* The executor of one plan on one backend; its state lives across steps. */
struct tl_exec {
	struct tl_backend *be;
	const struct tl_plan *plan;
	int *open;        /* request slots started and not yet complete */
	int nopen;
	int *group;       /* per slot: the group its op talks in */
	char *done_early; /* per slot: completed while progressing, before its wait */
};

int tl_exec_init(struct tl_exec *ex, struct tl_backend *be, const struct tl_plan *plan);
void tl_exec_fini(struct tl_exec *ex);

/* Run one step of the plan; fills step. */
int tl_exec_step(struct tl_exec *ex, struct tl_step *step);

/* The sum of a step's exposed communication over all groups. */
double tl_step_comm_exposed(const struct tl_step *step);

#endif
