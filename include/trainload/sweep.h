/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Sweeps (DESIGN.md §3 [sweep]): each test, a collective of include/trainload/coll.h (as
 * nccl-tests runs one) or a point-to-point test (as OSU's osu_latency, osu_bw, osu_bibw and
 * osu_mbw_mr), over a range of sizes, on the groups a training job with the same [parallel]
 * layout has. A sweep is a plan of ops that the ordinary executor runs through the backends
 * (src/run.c, tl_exec_repeat): for each point, warm-up iterations, then the timed ones back to
 * back with nothing between them, then the checked ones, apart from the timed.
 *
 * Building the plan, the sizes and the checks of the keys are pure (src/sweep_plan.c); so is the
 * output, in nccl-tests' and OSU's layouts and as JSON (src/sweep_out.c).
 */
#ifndef TRAINLOAD_SWEEP_H
#define TRAINLOAD_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trainload/coll.h"
#include "trainload/grid.h"
#include "trainload/job.h"
#include "trainload/log.h"
#include "trainload/plan.h"

/* The point-to-point tests, as OSU's. */
enum tl_p2p {
	TL_P2P_LATENCY, /* ping-pong between indices 0 and 1; one-way time (osu_latency) */
	TL_P2P_BW,      /* a window of messages 0 -> 1, then an acknowledgement (osu_bw) */
	TL_P2P_BIBW,    /* a window each way at once (osu_bibw) */
	TL_P2P_MBW_MR,  /* index i < n/2 to i + n/2, all pairs at once (osu_mbw_mr) */
	TL_P2PS
};

/* One test of a sweep. */
struct tl_sweep_test {
	const struct tl_coll *coll; /* a collective (nccl-tests' layout); NULL: a p2p test */
	int p2p;                    /* enum tl_p2p, when coll is NULL */
};

/* How --rank-agg (nccl-tests' -a) reduces each rank's mean time per iteration. */
enum tl_rank_agg { TL_RANK_AGG_MAX, TL_RANK_AGG_AVG, TL_RANK_AGG_MIN, TL_RANK_AGG_RANK0 };

/* Tests a sweep may hold (sweep.op). */
#define TL_SWEEP_TESTS_MAX 16
/* A sweep of more sizes than this is a typo in step, not a measurement anyone waits for. */
#define TL_SWEEP_POINTS_MAX 10000

/* "allreduce", ..., "latency", "bw", "bibw", "mbw_mr": as sweep.op spells it. */
const char *tl_sweep_test_name(const struct tl_sweep_test *t);

/* Parse sweep.op (a comma list; spaces around names are ignored) into tests (at most
 * TL_SWEEP_TESTS_MAX, duplicates dropped). A bad or empty name is blamed on the key, with a
 * "did you mean". Returns the count, or TL_EINPUT. */
int tl_sweep_parse_ops(const struct tl_job *job, struct tl_sweep_test *tests, struct tl_diag *diag);

/* The sizes asked for: min_bytes, then × factor (or + step when step > 0), up to max_bytes.
 * Writes at most cap of them into sizes (NULL: just count); returns how many there are. */
size_t tl_sweep_sizes(const struct tl_job *job, uint64_t *sizes, size_t cap);

/* A row of output: a test at one size. A collective's row has an out-of-place and an in-place
 * point; a point-to-point test's, one. */
struct tl_sweep_row {
	struct tl_sweep_test test;
	uint64_t requested;      /* the size asked for */
	struct tl_coll_counts c; /* as moved: of one call, or one message of a p2p test */
	size_t point[2];
	int npoints;
};

/* A point: what the executor repeats, iteration after iteration. */
struct tl_sweep_point {
	size_t row;
	bool in_place;
	size_t first, count; /* this rank's ops of one iteration (count 0: it sits this one out) */
};

/* What a point measured, over all ranks. Times are seconds per iteration. */
struct tl_sweep_result {
	double time_s; /* as reported: the ranks' means reduced by --rank-agg */
	/* The means of the ranks that took part: smallest, average, largest (IMB's t_min,
	 * t_avg, t_max), and rank 0's. */
	double rank_min_s, rank_avg_s, rank_max_s, rank0_s;
	/* Each iteration's slowest rank, over the iterations: min, p50, p95, max. */
	double iter_min_s, iter_p50_s, iter_p95_s, iter_max_s;
	uint64_t wrong; /* elements the checked iterations found wrong, all ranks */
	int active;     /* ranks that took part */
};

struct tl_sweep {
	struct tl_sweep_test tests[TL_SWEEP_TESTS_MAX];
	int ntests;
	size_t *test_rows; /* [ntests + 1]: test t's rows are test_rows[t] .. test_rows[t+1]-1 */
	struct tl_sweep_row *rows;
	size_t nrows;
	struct tl_sweep_point *points;
	size_t npoints;
	uint64_t group_size, group_index; /* this rank's group of sweep.group */
	uint64_t pairs;                   /* mbw_mr: group_size / 2 */
	uint64_t memory_bytes;            /* the buffers a rank holds, rotation included */
	struct tl_plan plan;              /* this rank's ops, every point's in turn */
};

/*
 * Build rank's sweep of a resolved job on grid: its tests, rows and points, and the plan whose
 * ops they name. The keys that need the tests or the world are checked here (empty or unknown
 * names, min_bytes above max_bytes, too many sizes, a point-to-point test on a group of one
 * rank, buffers whose size overflows); each error names the file, line and key. Sizes that a
 * test cannot move exactly are rounded down to whole elements (and whole blocks per rank), as
 * nccl-tests does, and the output says so (tl_sweep_rounded); sizes that round to nothing or to
 * the size before are left out. Returns 0, TL_EINPUT or TL_ENOMEM.
 */
int tl_sweep_build(struct tl_sweep *sw, const struct tl_job *job, const struct tl_grid *grid,
                   uint64_t rank, struct tl_diag *diag);
void tl_sweep_free(struct tl_sweep *sw);

/* Test t's requested sizes that were rounded or left out, as "12 B -> 8 B, 4 B -> none", at
 * most len bytes; 0 when all were moved as asked. Returns how many there were. */
size_t tl_sweep_rounded(const struct tl_sweep *sw, const struct tl_job *job, int t, char *buf,
                        size_t len);

/* Iterations of a point-to-point test: messages each of its pairs moves in one (latency: the
 * ping and the pong; bw: the window; bibw: the window each way), and its pairs. */
uint64_t tl_sweep_p2p_messages(const struct tl_job *job, int p2p);
uint64_t tl_sweep_p2p_pairs(const struct tl_sweep *sw, int p2p);

#endif
