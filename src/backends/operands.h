/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Where the operands of every op of a rank's plan lie, shared by the backends that hold real
 * buffers (cpu, cuda), so that both allocate the same footprint and address it alike; each
 * backend allocates the regions in its own memory (host or device) and does the work.
 *
 * Memory. Operands live in regions; init works out, from the plan, where every op's operands lie
 * and how large each region must be, then allocates and writes every page of each:
 *   weights    memory = full: at least the model's weight_bytes. Each weight GEMM (one per
 *              layer and GEMM name, and per expert for MoE) reads its own block. The blocks sit
 *              where the layer's parameters sit in the data-parallel buckets: in the order
 *              backward produces gradients (head, layers last to first, embedding; expert
 *              weights after all dense ones), so a parameter has one place in the weights, in
 *              the gradients and in the buckets that reduce it. memory = lean: the blocks of one
 *              layer, which every layer reads.
 *   grads      compute_dtype gradients, written by the weight-gradient GEMMs at the same
 *              places. memory = full: at least grad_bytes (ZeRO-2/3: see shard). It is the
 *              buffer the data-parallel reduction works on (in place for the allreduce), so
 *              memory = lean keeps it as large as that reduction needs.
 *   stage      only when comm_dtype differs from compute_dtype: the gradients converted to
 *              comm_dtype before each bucket's reduction (as a bf16 compression hook does), laid
 *              out as the buckets are; the ZeRO-1/2 allgathers land here, and are converted into
 *              the weights with memory = full.
 *   shard      ZeRO: what the reduce-scatters leave this rank (each bucket's shard at its own
 *              place, so outstanding reductions never write the same memory), which the
 *              allgathers after the optimizer gather into the weights. ZeRO-2/3 keep only
 *              this shard of the gradients: with memory = full it holds grad_bytes, and the
 *              gradient region is no larger than one bucket or gradient block needs.
 *   send, recv tensor-, expert-, pipeline-parallel and ZeRO-3 traffic, in comm_dtype: inputs from
 *              send, outputs to recv, each sized for the largest op; only the allreduce of
 *              gradient buckets runs in place (in place). A sweep's ops (sweep.dtype): out of
 *              place from send to recv, in place within recv, repeated in sets with rotate_mb.
 *   optimizer  memory = full: the model's optimizer_bytes, which the optimizer pass streams.
 *   act        memory = full: the model's activation_bytes, which elementwise passes stream
 *              through, each starting where the last one stopped. memory = lean: a scratch of
 *              the largest elementwise pass, which also serves the optimizer pass.
 *   a, b, c    GEMM scratch, sized for the largest GEMM.
 * Peak RSS (or device memory) with memory = full is thus about the model's memory_bytes_per_rank plus the GEMM
 * scratch, the communication buffers and the libraries' own. Regions smaller than the offsets
 * that address them (memory = lean; ZeRO-2/3 gradients; ZeRO-3 weights, of which the model
 * counts a shard) are wrapped around: an operand that does not fit where its offset says is
 * moved to a place that does, 64-byte aligned, as a sharded trainer reuses one bucket's or one
 * layer's worth of memory; operands may then share memory, which is harmless as no value is
 * checked. Everything is filled with small finite values or zeros, so that no GEMM or
 * reduction meets a subnormal, an infinity or a NaN, whatever the number of steps.
 *
 * Element counts. An op's `bytes` is its payload per rank (the larger of input and output);
 * its counts are the collective descriptor's for its group (include/trainload/coll.h): whole
 * elements, and for reduce-scatter (output), allgather (input) and alltoall (per peer) a whole
 * number per rank. What rounding drops is not sent.
 */
#ifndef TRAINLOAD_BACKENDS_OPERANDS_H
#define TRAINLOAD_BACKENDS_OPERANDS_H

#include <stdbool.h>
#include <stdint.h>

#include "trainload/check.h"
#include "trainload/coll.h"
#include "trainload/grid.h"
#include "trainload/job.h"
#include "trainload/model.h"
#include "trainload/plan.h"

enum region_id {
	R_WEIGHTS,
	R_GRADS,
	R_STAGE,
	R_SHARD,
	R_SEND,
	R_PSEND, /* run.check: pipeline sends, apart from the other sends */
	R_RECV,
	R_OPTIM,
	R_ACT,
	R_A,
	R_B,
	R_C,
	R_COUNT
};

extern const char *const tl_region_names[R_COUNT];

struct region {
	char *base;
	uint64_t size;   /* bytes allocated */
	uint64_t floor;  /* memory = full: the model's figure, held whether or not ops address it */
	uint64_t need;   /* what the ops address */
	uint64_t cursor; /* memory passes: where the next one starts */
};

/* len bytes at off in a region. Unless fixed, an operand that does not fit wraps around. */
struct span {
	uint8_t region;
	bool fixed;
	uint64_t off, len;
};

enum { CONV_NONE, CONV_BEFORE, CONV_AFTER };

/* Whose in-place conventions the layout follows (they differ in two places: see
 * sweep_operands in operands.c). */
enum tl_layout { TL_LAYOUT_MPI, TL_LAYOUT_NCCL };

/* What the analysis worked out for one op of the plan. */
struct operand {
	struct span x, y, z; /* GEMM: A, B, C; communication: input, output, the other side of
				 a conversion (before: z → x, after: y → z) */
	struct tl_coll_counts c; /* communication: the descriptor's counts for its group */
	uint64_t n, me;          /* communication: its group's size and this rank's index in it
				    (point-to-point: 2 and the world rank, as checks count them) */
	uint64_t count;      /* communication: the count the call takes (c.param) */
	uint8_t conv;
	bool in_place;       /* input and output share one buffer (MPI_IN_PLACE for MPI) */
	/* Sweeps with rotate_mb: sets copies of x and y, x_step and y_step bytes apart; call k
	 * uses set k % sets (tl_operands_io). The backend counts the calls. */
	uint64_t sets, x_step, y_step;
	uint64_t calls;
};


/* Every region and the operands of every op of one rank's plan. */
struct operands {
	uint64_t rank; /* world rank, for messages */
	enum tl_layout layout;
	int compute_dtype, comm_dtype;
	size_t elem, comm_elem; /* bytes of one compute_dtype and one comm_dtype element */
	bool lean, staged;      /* memory = lean; comm_dtype differs from compute_dtype */
	struct region r[R_COUNT];
	struct operand *ops; /* one per op of the plan */
};

/*
 * Work out where every op's operands lie and how large each region must be (r[].size: the
 * larger of the model's figure with memory = full and what the ops address, in whole 64-byte
 * lines; 0 for a region nothing uses). Nothing is allocated but o->ops. GEMM dimensions above
 * INT_MAX (BLAS and cuBLAS take int) are TL_ERUN, with a message. model is NULL for a sweep's
 * plan, whose ops move sweep.dtype and place no weights. 0 or a negative TL_E*.
 */
int tl_operands_plan(struct operands *o, const struct tl_job *job, const struct tl_model *model,
		     const struct tl_grid *grid, const struct tl_plan *plan, enum tl_layout layout);
void tl_operands_free(struct operands *o);

/* The address of a span in its region's base (host or device), wrapped around where it does not
 * fit. */
char *tl_operands_at(const struct operands *o, const struct span *s);

/* Op i as a check sees it (include/trainload/check.h), for the pattern of seed. */
struct tl_check tl_operands_check(const struct operands *o, const struct tl_plan *plan, size_t i,
				  uint64_t seed);

/* What a check writes before op i's next call, in this order: its output with -1, then its input
 * with the pattern of seed (a staged op's input is converted from the gradients as it is issued:
 * those get the pattern, in compute_dtype; a broadcast's root alone has an input). Each fill is
 * bytes at at, written by tl_check_fill(&c, input ? buf : NULL, input ? NULL : buf). Returns
 * how many fills there are (0 to 2). */
struct tl_fill {
	char *at;
	uint64_t bytes;
	bool input;
	struct tl_check c;
};
int tl_operands_fills(const struct operands *o, const struct tl_plan *plan, size_t i,
		      uint64_t seed, struct tl_fill fills[2]);

/* The input and output of op i for its call number call (0, 1, ...): the buffer set that call
 * rotates to, wrapped around like tl_operands_at. */
void tl_operands_io(const struct operands *o, size_t i, uint64_t call, char **in, char **out);

/* The dtype a region is filled with (small finite values), or TL_DTYPE_SAME for zeros. */
int tl_operands_fill_dtype(const struct operands *o, int region);

/* A memory pass of bytes through region r: bytes/2 copied from one half of it to the other,
 * starting where the last pass stopped and wrapping around, so that successive passes stream
 * through different memory. copy(ctx, dst, src, len) does each piece. */
void tl_operands_stream(struct region *r, uint64_t bytes,
			void (*copy)(void *ctx, char *dst, const char *src, uint64_t len),
			void *ctx);

#endif
