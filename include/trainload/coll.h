/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The kinds of op a plan holds and, for each kind that communicates, its one descriptor (as
 * nccl-tests keeps one small file per collective): the name, the element counts of a call on n
 * ranks and where its buffers lie when it runs in place, the bytes it is said to move (the
 * larger of input and output, as nccl-tests counts), its busbw factor, and the value a correct
 * call leaves at each received element for the data checks. The plan, the executor, the sweep,
 * the checks, the results and the report all read it; each backend has one case per kind for
 * its call. Adding a collective is one descriptor here plus one case per backend. Pure.
 */
#ifndef TRAINLOAD_COLL_H
#define TRAINLOAD_COLL_H

#include <stdbool.h>
#include <stdint.h>

enum tl_op_kind {
	TL_OP_GEMM,
	TL_OP_ELEMENTWISE,
	TL_OP_ALLREDUCE,
	TL_OP_REDUCE_SCATTER,
	TL_OP_ALLGATHER,
	TL_OP_ALLTOALL,
	TL_OP_SEND,
	TL_OP_RECV,
	TL_OP_WAIT,
	TL_OP_OPTIMIZER,
	TL_OP_BROADCAST, /* from index 0 of the group */
	TL_OP_SENDRECV,  /* a ring exchange: send to the next index of the group, receive from the
	                    previous one */
	TL_OP_KINDS
};

/* "gemm", "allreduce", ... as job files, the JSON and messages spell them. */
const char *tl_op_kind_name(enum tl_op_kind kind);
/* Whether an op kind moves data between ranks (has a descriptor). */
bool tl_op_is_comm(enum tl_op_kind kind);

/* The element counts of one call, as one rank of the group sees them. */
struct tl_coll_counts {
	uint64_t bytes; /* the larger of input and output, in whole elements: nccl-tests' size */
	uint64_t count; /* elements of bytes */
	uint64_t param; /* the count the call takes (nccl-tests' count column): per rank for
	                   reduce_scatter, allgather and alltoall, else count */
	uint64_t send, recv; /* elements of the input and of the output */
};

struct tl_coll {
	enum tl_op_kind kind;
	const char *name;
	const char *redop; /* nccl-tests' redop column: "sum" for reductions, else "none" */
	int root;          /* nccl-tests' root column: the root's index, -1 for none */
	/* busbw = algbw × this on n ranks (nccl-tests' doc/PERFORMANCE.md): the share of the
	 * bytes that crosses each rank's link in an optimal algorithm. */
	double (*busbw_factor)(uint64_t n);
	/* The counts of a call whose larger buffer holds bytes (rounded down to what is moved:
	 * whole elements, and a whole number per rank where each rank gets a block). */
	void (*counts)(uint64_t bytes, uint64_t elem, uint64_t n, struct tl_coll_counts *c);
	/* In place, input and output share one buffer of max(send, recv) elements: where the
	 * input and the output start in it, in blocks of param elements times the rank's index
	 * (false: at 0), as nccl-tests and NCCL lay it out. MPI differs for reduce_scatter,
	 * whose result starts at 0 (src/backends/operands.c). */
	bool send_in_place_at_rank, recv_in_place_at_rank;
	/* The pattern value (tl_coll_value) a correct call leaves at element i of the output of
	 * index me of n, in iteration it; from is the sender's index where there is one sender
	 * (recv: its world rank). */
	double (*expected)(const struct tl_coll_counts *c, uint64_t n, uint64_t me, uint64_t from,
	                   uint64_t i, uint64_t it);
};

/* The descriptor of a communicating kind; NULL for the others. */
const struct tl_coll *tl_coll_get(enum tl_op_kind kind);
/* The descriptor named name ("allreduce"); NULL when none is. */
const struct tl_coll *tl_coll_find(const char *name);
/* busbw / algbw of kind on n ranks (1 for kinds that do not communicate). */
double tl_busbw_factor(enum tl_op_kind kind, uint64_t n);

/*
 * The data pattern of checks: what sender r puts at element i in iteration it. Small integers
 * (0..3), so that any sum of them over up to 64 ranks (at most 192) is exact in bf16 (8
 * significant bits), f16, f32 and f64, in whatever order a library adds them.
 */
static inline unsigned tl_coll_value(uint64_t r, uint64_t i, uint64_t it)
{
	return (unsigned)((r * 7 + i * 3 + it) % 4);
}
/* The sum over r = 0 .. n-1 of tl_coll_value(r, i, it), in O(1). */
uint64_t tl_coll_value_sum(uint64_t n, uint64_t i, uint64_t it);

#endif
