/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The pure arithmetic of a collective sweep (include/trainload/sweep.h): op names, the size
 * list, per-rank counts as nccl-tests counts them, the data pattern and the values a correct
 * collective leaves. No MPI, so that unit tests hold it on one core.
 */
#include "config.h"

#include <inttypes.h>
#include <limits.h>
#include <string.h>

#include "trainload/metrics.h"
#include "trainload/model.h"
#include "trainload/sweep.h"

/* A sweep of more points than this is a typo in step, not a measurement anyone waits for. */
#define TL_SWEEP_POINTS_MAX 10000

static const char *const op_names[TL_SWEEP_OPS] = {
	[TL_SWEEP_ALLREDUCE] = "allreduce", [TL_SWEEP_REDUCE_SCATTER] = "reduce_scatter",
	[TL_SWEEP_ALLGATHER] = "allgather", [TL_SWEEP_ALLTOALL] = "alltoall",
	[TL_SWEEP_BROADCAST] = "broadcast", [TL_SWEEP_SENDRECV] = "sendrecv",
};

const char *tl_sweep_op_name(enum tl_sweep_op op)
{
	return op < TL_SWEEP_OPS ? op_names[op] : "?";
}

double tl_sweep_busbw_factor(enum tl_sweep_op op, uint64_t n)
{
	/* The factors live in metrics.c alone; broadcast and a ring exchange move each byte over
	 * one link, as a send does. */
	static const enum tl_op_kind kind[TL_SWEEP_OPS] = {
		[TL_SWEEP_ALLREDUCE] = TL_OP_ALLREDUCE,
		[TL_SWEEP_REDUCE_SCATTER] = TL_OP_REDUCE_SCATTER,
		[TL_SWEEP_ALLGATHER] = TL_OP_ALLGATHER, [TL_SWEEP_ALLTOALL] = TL_OP_ALLTOALL,
		[TL_SWEEP_BROADCAST] = TL_OP_SEND,      [TL_SWEEP_SENDRECV] = TL_OP_SEND,
	};
	return tl_busbw_factor(kind[op], n);
}

bool tl_sweep_op_reduces(enum tl_sweep_op op)
{
	return op == TL_SWEEP_ALLREDUCE || op == TL_SWEEP_REDUCE_SCATTER;
}

int tl_sweep_parse_ops(const struct tl_job *job, enum tl_sweep_op *ops, struct tl_diag *diag)
{
	char list[TL_SWEEP_OPS_MAX];
	int count = 0, bad = 0;

	snprintf(list, sizeof(list), "%s", job->sweep_op);
	for (char *save = NULL, *tok = strtok_r(list, ", \t", &save); tok;
	     tok = strtok_r(NULL, ", \t", &save)) {
		int found = -1, best = 0;
		size_t best_d = SIZE_MAX;

		for (int k = 0; k < TL_SWEEP_OPS; k++) {
			size_t d = tl_job_edit_distance(tok, op_names[k]);
			if (!strcmp(tok, op_names[k]))
				found = k;
			if (d < best_d) {
				best_d = d;
				best = k;
			}
		}
		if (found < 0) {
			if (best_d <= 3)
				tl_job_blame(job, "sweep", "op",
					     diag, "unknown collective '%s' in key 'op' of [sweep] "
					     "(did you mean '%s'?)", tok, op_names[best]);
			else
				tl_job_blame(job, "sweep", "op", diag,
					     "unknown collective '%s' in key 'op' of [sweep] "
					     "(allreduce, reduce_scatter, allgather, alltoall, "
					     "broadcast, sendrecv)", tok);
			bad = 1;
			continue;
		}
		bool dup = false;
		for (int k = 0; k < count; k++)
			dup |= ops[k] == (enum tl_sweep_op)found;
		if (!dup)
			ops[count++] = (enum tl_sweep_op)found;
	}
	if (!bad && count == 0) {
		tl_job_blame(job, "sweep", "op", diag, "key 'op' of [sweep] names no collective");
		bad = 1;
	}
	return bad ? TL_EINPUT : count;
}

size_t tl_sweep_sizes(const struct tl_job *job, uint64_t *sizes, size_t cap)
{
	size_t n = 0;

	for (uint64_t s = job->min_bytes; s && s <= job->max_bytes && n <= TL_SWEEP_POINTS_MAX;) {
		if (sizes && n < cap)
			sizes[n] = s;
		n++;
		uint64_t next;
		if (job->step ? __builtin_add_overflow(s, job->step, &next)
			      : __builtin_mul_overflow(s, job->factor, &next))
			break;
		s = next;
	}
	return n;
}

void tl_sweep_point(enum tl_sweep_op op, uint64_t bytes, uint64_t elem_bytes, uint64_t n,
		    struct tl_sweep_point *pt)
{
	uint64_t elems = bytes / elem_bytes;

	if (n == 0)
		n = 1;
	switch (op) {
	case TL_SWEEP_REDUCE_SCATTER:
	case TL_SWEEP_ALLGATHER:
	case TL_SWEEP_ALLTOALL:
		/* bytes is the whole of the larger buffer; each peer gets an equal chunk. */
		pt->chunk = elems / n;
		pt->count = pt->chunk * n;
		pt->send_elems = op == TL_SWEEP_ALLGATHER ? pt->chunk : pt->count;
		pt->recv_elems = op == TL_SWEEP_REDUCE_SCATTER ? pt->chunk : pt->count;
		break;
	default:
		pt->chunk = pt->count = pt->send_elems = pt->recv_elems = elems;
		break;
	}
	pt->bytes = pt->count * elem_bytes;
}

uint64_t tl_sweep_value_sum(uint64_t n, uint64_t i, uint64_t it)
{
	/* (7r + c) mod 4 = (3r + c) mod 4 takes every residue once in four consecutive r. */
	uint64_t sum = 6 * (n / 4);

	for (uint64_t r = 0; r < n % 4; r++)
		sum += tl_sweep_value(r, i, it);
	return sum;
}

unsigned tl_sweep_send_value(enum tl_sweep_op op, const struct tl_sweep_point *pt, uint64_t me,
			     uint64_t i, uint64_t it)
{
	(void)op;
	(void)pt;
	return tl_sweep_value(me, i, it);
}

double tl_sweep_expected(enum tl_sweep_op op, const struct tl_sweep_point *pt, uint64_t n,
			 uint64_t me, uint64_t i, uint64_t it)
{
	uint64_t c = pt->chunk ? pt->chunk : 1;

	switch (op) {
	case TL_SWEEP_ALLREDUCE:
		return (double)tl_sweep_value_sum(n, i, it);
	case TL_SWEEP_REDUCE_SCATTER:
		return (double)tl_sweep_value_sum(n, me * c + i, it);
	case TL_SWEEP_ALLGATHER:
		return tl_sweep_value(i / c, i % c, it);
	case TL_SWEEP_ALLTOALL:
		return tl_sweep_value(i / c, me * c + i % c, it);
	case TL_SWEEP_BROADCAST:
		return tl_sweep_value(0, i, it);
	case TL_SWEEP_SENDRECV:
		return tl_sweep_value((me + n - 1) % n, i, it);
	default:
		return -1;
	}
}

void tl_sweep_resolve(struct tl_job *job, uint64_t world, struct tl_diag *diag)
{
	enum tl_sweep_op ops[TL_SWEEP_OPS];
	uint64_t model_ranks;

	tl_sweep_parse_ops(job, ops, diag);
	if (job->min_bytes > job->max_bytes)
		tl_job_blame(job, "sweep", "max_bytes",
			     diag, "max_bytes = %" PRIu64 " is below min_bytes = %" PRIu64,
			     job->max_bytes, job->min_bytes);
	else if (job->max_bytes / tl_dtype_bytes(job->sweep_dtype) > INT_MAX)
		/* MPI counts are int; the sweep does not split its calls into pieces. */
		tl_job_blame(job, "sweep", "max_bytes",
			     diag, "max_bytes = %" PRIu64 " is more than %d elements of %s (MPI "
			     "counts are int)", job->max_bytes, INT_MAX,
			     tl_job_enum_name("sweep", "dtype", job->sweep_dtype));
	else if (tl_sweep_sizes(job, NULL, 0) > TL_SWEEP_POINTS_MAX)
		tl_job_blame(job, "sweep", job->step ? "step" : "factor", diag,
			     "the sweep from min_bytes to max_bytes has more than %d sizes",
			     TL_SWEEP_POINTS_MAX);
	/* The groups come from the [parallel] layout, as a training job's would. */
	if (__builtin_mul_overflow(job->tp, job->pp, &model_ranks) ||
	    __builtin_mul_overflow(model_ranks, job->cp, &model_ranks) || model_ranks > world ||
	    world % model_ranks) {
		tl_job_blame(job, "parallel", "tp",
			     diag, "tp*pp*cp = %" PRIu64 "*%" PRIu64 "*%" PRIu64
			     " does not divide the %" PRIu64 " ranks of this run",
			     job->tp, job->pp, job->cp, world);
		return;
	}
	if (job->dp == 0)
		job->dp = world / model_ranks;
	else if (job->dp != world / model_ranks)
		tl_job_blame(job, "parallel", "dp",
			     diag, "dp*tp*pp*cp = %" PRIu64 "*%" PRIu64 "*%" PRIu64 "*%" PRIu64
			     " must equal the %" PRIu64 " ranks of this run",
			     job->dp, job->tp, job->pp, job->cp, world);
	else if (job->dp % job->ep)
		tl_job_blame(job, "parallel", "ep",
			     diag, "ep = %" PRIu64 " does not divide dp = %" PRIu64
			     " (expert groups are carved out of the data-parallel ranks)",
			     job->ep, job->dp);
	if (job->global_batch == 0 && job->grad_accum == 0)
		job->grad_accum = 1;
}
