/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The executor: walks one rank's plan through a backend, timing every op, and attributes the
 * step's time to compute, exposed communication per group, pipeline bubble, optimizer and other,
 * so that these add up to the step (DESIGN.md §5).
 */
#ifndef TRAINLOAD_EXEC_H
#define TRAINLOAD_EXEC_H

#include "trainload/backend.h"
#include "trainload/clock.h"
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
	/* The part of comm_exposed_s spent before the last rank of the group arrived at the
	 * collective (waiting for a late peer), and how late this rank itself arrived after the
	 * first one, summed over the step's collectives (filled by tl_skew_step, src/stats.c;
	 * 0 without it). comm_exposed_s - comm_wait_s is the transfer. */
	double comm_wait_s[TL_GROUPS];
	double comm_late_s[TL_GROUPS];
};

/*
 * Timings of one kind of communication op of the plan (same kind, group, payload and blocking
 * or not), summed over the measured steps. A non-blocking op's time runs from its start until
 * the executor sees it complete (in a progress test or its wait).
 */
struct tl_coll_stat {
	int kind;       /* enum tl_op_kind */
	int group;      /* TL_GROUP_* or TL_GROUP_EDP */
	uint64_t bytes; /* payload, as the plan counts it */
	int nonblocking;
	uint64_t count; /* ops timed */
	double time_s;  /* their total time */
	double min_s, max_s;
	/* Merged over ranks (tl_stats_gather_colls) only: count is the largest of the ranks'
	 * counts, and these the largest and the smallest of their mean times. The rank that
	 * arrives last at a collective waits for no one, so the smallest is the closest to the
	 * collective's own cost, without the time early ranks spend waiting for late ones. */
	double slowest_rank_mean_s, fastest_rank_mean_s;
	/* The collective's blocking transfer time, without the wait for late ranks: the scaling
	 * model's input (DESIGN.md §7). A blocking op's is its time after the last rank of the
	 * group arrived (tl_skew_step, measured steps); a non-blocking one's, whose time in the
	 * steps holds the compute it overlapped, comes from calls of it made back to back after
	 * the steps, each started and at once waited for (tl_exec_alone): the same MPI
	 * call as in the steps (a library runs its non-blocking collectives with algorithms of
	 * their own), with nothing to overlap. Summed over transfer_count calls; merged over
	 * ranks, transfer_s is the largest of the ranks' means per call. */
	uint64_t transfer_count;
	double transfer_s;
};

/* The executor of one plan on one backend; its state lives across steps. */
struct tl_exec {
	struct tl_backend *be;
	const struct tl_plan *plan;
	int *open;          /* request slots started and not yet complete */
	int nopen;
	int *group;         /* per slot: the group its op talks in */
	char *done_early;   /* per slot: completed while progressing, before its wait */
	double *started;    /* per slot: when its op started */
	int *slot_stat;     /* per slot: the stat its op counts in */
	int *op_stat;       /* per op: index into stats, -1 for ops that do not communicate */
	struct tl_coll_stat *stats;
	int nstats;
	int measuring;      /* collect stats (off during warm-up) */
	size_t *slot_op;    /* per slot: the index of the op started in it */
	int64_t step;       /* the step under way, from 0, warm-up steps included */
	uint64_t warmup;    /* warm-up steps: the watchdog numbers the measured ones from 0, as the
			     * JSONL does */
	/* run.check: every check-th step (from step 0) the backend fills each communication
	 * op's buffers with a seeded pattern and compares what arrives (include/trainload/
	 * check.h), outside the timed calls. 0: off. */
	uint64_t check;
	uint64_t wrong;     /* elements found wrong so far */
	uint64_t wrong_ops; /* ops that received any */
	const char *host;   /* for messages */
	/* Per op of the plan, for collectives (not sends and receives), this step: when this
	 * rank arrived, i.e. began to block on it (the blocking call, or the wait of a
	 * non-blocking one; a non-blocking one found complete while progressing arrives then),
	 * and when it saw it complete; host clock. tl_skew_step compares the arrivals across
	 * the group to split the exposed time into wait and transfer. */
	double *arrive_s, *done_s;
};

int tl_exec_init(struct tl_exec *ex, struct tl_backend *be, const struct tl_plan *plan);
void tl_exec_fini(struct tl_exec *ex);

/* Run one step of the plan; fills step. */
int tl_exec_step(struct tl_exec *ex, struct tl_step *step);

/*
 * The plan's non-blocking collectives once more, after the steps, each alone: started and
 * waited for at once, a few times back to back (the same MPI call as in the steps: a library
 * runs its non-blocking collectives with algorithms of their own), with nothing to overlap.
 * For two readers: their transfer times (struct tl_coll_stat: the scaling model's input), and
 * the step's data-parallel gradient reductions summed, the best of the calls of each, into
 * *dp_alone_s (0 when the step starts none): what the step's exposed dp time is held to, for
 * the share of it that overlapping hid (the summary's dp hidden). Collective, as the step is.
 */
int tl_exec_alone(struct tl_exec *ex, double *dp_alone_s);

/*
 * What a sweep asks of the executor (tl_exec_repeat): ops [first, first + count) of the plan,
 * iters times in a row, as one iteration after another.
 */
struct tl_repeat {
	size_t first, count;
	uint64_t iters;
	uint64_t iter0; /* the first iteration's number: the watchdog's step, the check's seed */
	/* stamps (iters + 1 entries): timed, back to back with nothing between the iterations
	 * but a clock read into stamps[k + 1] after iteration k (stamps[0] before the first) and
	 * the watchdog's note of progress. NULL: untimed, each iteration announced to the
	 * watchdog, where TRAINLOAD_TEST_STALL may stop it. */
	double *stamps;
	/* Checked: before each iteration every communication op of it is filled with the pattern
	 * of its number, and what each received is verified once it completes (untimed); wrong
	 * elements add up in ex->wrong. */
	bool check;
};

/* Run r through the backend. Only communication ops and waits may be in the range; no
 * statistics are kept (the caller has the stamps). 0 or the backend's error. */
int tl_exec_repeat(struct tl_exec *ex, const struct tl_repeat *r);

/* The sum of a step's exposed communication over all groups (inline: the pure result code
 * uses it without the executor). */
static inline double tl_step_comm_exposed(const struct tl_step *step)
{
	double sum = 0;

	for (int g = 0; g < TL_GROUPS; g++)
		sum += step->comm_exposed_s[g];
	return sum;
}

#endif
