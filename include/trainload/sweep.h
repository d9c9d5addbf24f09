/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Collective sweeps (DESIGN.md §3 [sweep]): each op over a range of sizes, on the communicators
 * a training job with the same [parallel] layout uses, reported in nccl-tests' layout.
 *
 * The arithmetic (op names, the size list, per-rank counts, the data pattern and the values a
 * correct collective leaves) is pure and lives in src/sweep_plan.c (libtlcore), so that unit
 * tests hold it without MPI. The run itself (src/sweep.c) uses MPI.
 */
#ifndef TRAINLOAD_SWEEP_H
#define TRAINLOAD_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trainload/job.h"
#include "trainload/log.h"

enum tl_sweep_op {
	TL_SWEEP_ALLREDUCE,
	TL_SWEEP_REDUCE_SCATTER,
	TL_SWEEP_ALLGATHER,
	TL_SWEEP_ALLTOALL,
	TL_SWEEP_BROADCAST,
	TL_SWEEP_SENDRECV,
	TL_SWEEP_OPS
};

/* How --rank-agg reduces each rank's mean time per iteration. */
enum tl_rank_agg { TL_RANK_AGG_MAX, TL_RANK_AGG_AVG, TL_RANK_AGG_MIN };

const char *tl_sweep_op_name(enum tl_sweep_op op); /* "allreduce", … as in the job file */
/* busbw / algbw of op over n ranks, from the one table of factors (tl_busbw_factor). */
double tl_sweep_busbw_factor(enum tl_sweep_op op, uint64_t n);
/* Whether op reduces (its redop is "sum"; otherwise "none"). */
bool tl_sweep_op_reduces(enum tl_sweep_op op);

/* Parse sweep.op (a comma list) into ops[] (at most TL_SWEEP_OPS, duplicates dropped); each bad
 * name is blamed on the key with a "did you mean". Returns the count, or TL_EINPUT. */
int tl_sweep_parse_ops(const struct tl_job *job, enum tl_sweep_op *ops, struct tl_diag *diag);

/* The sizes of the sweep: min_bytes, then × factor (or + step when step > 0), up to max_bytes.
 * Writes at most cap sizes into sizes (NULL: just count); returns how many there are. */
size_t tl_sweep_sizes(const struct tl_job *job, uint64_t *sizes, size_t cap);

/* One sweep point of op on a group of n ranks for a requested size, counted as nccl-tests
 * counts: bytes is the larger of a rank's input and output, rounded down to what is moved. */
struct tl_sweep_point {
	uint64_t bytes;     /* the larger of input and output, as moved (0: nothing to move) */
	uint64_t count;     /* elements of bytes */
	uint64_t chunk;     /* elements per peer (reduce_scatter, allgather, alltoall), or count */
	uint64_t send_elems, recv_elems; /* buffer sizes, in elements */
};
void tl_sweep_point(enum tl_sweep_op op, uint64_t bytes, uint64_t elem_bytes, uint64_t n,
		    struct tl_sweep_point *pt);

/*
 * The data pattern: what rank index r of a group puts at element i in iteration it. Small
 * integers (0..3), so that any sum of them over up to 64 ranks (at most 192) is exact in bf16
 * (8 significant bits), f16, f32 and f64, in whatever order the MPI library adds them.
 */
static inline unsigned tl_sweep_value(uint64_t r, uint64_t i, uint64_t it)
{
	return (unsigned)((r * 7 + i * 3 + it) % 4);
}
/* Sum over r = 0..n-1 of tl_sweep_value(r, i, it), in O(1). */
uint64_t tl_sweep_value_sum(uint64_t n, uint64_t i, uint64_t it);
/* What rank index me of n finds at element i of its receive buffer after op in iteration it,
 * given pt; the pattern being sent is tl_sweep_value of the sender's index. */
double tl_sweep_expected(enum tl_sweep_op op, const struct tl_sweep_point *pt, uint64_t n,
			 uint64_t me, uint64_t i, uint64_t it);
/* The pattern of element i of rank me's send buffer (for alltoall, reduce_scatter: element i
 * of the whole buffer). */
unsigned tl_sweep_send_value(enum tl_sweep_op op, const struct tl_sweep_point *pt, uint64_t me,
			     uint64_t i, uint64_t it);

/* The [sweep] checks that need the world size (ops, sizes, the [parallel] layout); called by
 * tl_job_resolve for a sweep job. */
void tl_sweep_resolve(struct tl_job *job, uint64_t world, struct tl_diag *diag);

struct tl_cli;
struct tl_env;
/* Run the sweep of a resolved job under MPI (already initialised), print (rank 0) and write
 * --output; returns the exit status (enum tl_exit). Collective over MPI_COMM_WORLD. */
int tl_sweep_run(const struct tl_cli *cli, const struct tl_job *job, const struct tl_env *env,
		 int nodes);

#endif
