/* SPDX-License-Identifier: BSD-3-Clause */
/* The op kinds and the collective descriptors (include/trainload/coll.h). */
#include "config.h"

#include <string.h>

#include "trainload/coll.h"

/* ---- busbw factors (nccl-tests' doc/PERFORMANCE.md) ---- */

/* An allreduce moves each byte out and back in: 2(n-1)/n of it crosses each link. */
static double factor_allreduce(uint64_t n)
{
	double ranks = (double)(n ? n : 1);

	return 2.0 * (ranks - 1) / ranks;
}

/* Each rank exchanges a block with every other one: (n-1)/n of the bytes cross its link. */
static double factor_blocks(uint64_t n)
{
	double ranks = (double)(n ? n : 1);

	return (ranks - 1) / ranks;
}

/* Every byte crosses one link once. */
static double factor_one(uint64_t n)
{
	(void)n;
	return 1.0;
}

/* ---- counts ---- */

/* Input and output the same size. */
static void counts_whole(uint64_t bytes, uint64_t elem, uint64_t n, struct tl_coll_counts *c)
{
	(void)n;
	c->count = c->param = c->send = c->recv = bytes / elem;
	c->bytes = c->count * elem;
}

/* A block per rank: bytes is the whole of the larger buffer, and send and recv its count until
 * the callers below make one of them a block. */
static void counts_blocks(uint64_t bytes, uint64_t elem, uint64_t n, struct tl_coll_counts *c)
{
	c->param = bytes / elem / (n ? n : 1);
	c->count = c->send = c->recv = c->param * (n ? n : 1);
	c->bytes = c->count * elem;
}

static void counts_reduce_scatter(uint64_t bytes, uint64_t elem, uint64_t n,
                                  struct tl_coll_counts *c)
{
	counts_blocks(bytes, elem, n, c);
	c->recv = c->param;
}

static void counts_allgather(uint64_t bytes, uint64_t elem, uint64_t n, struct tl_coll_counts *c)
{
	counts_blocks(bytes, elem, n, c);
	c->send = c->param;
}

/* A send receives nothing, a receive sends nothing. */
static void counts_send(uint64_t bytes, uint64_t elem, uint64_t n, struct tl_coll_counts *c)
{
	counts_whole(bytes, elem, n, c);
	c->recv = 0;
}

static void counts_recv(uint64_t bytes, uint64_t elem, uint64_t n, struct tl_coll_counts *c)
{
	counts_whole(bytes, elem, n, c);
	c->send = 0;
}

/* ---- expected values ---- */

uint64_t tl_coll_value_sum(uint64_t n, uint64_t i, uint64_t it)
{
	/* (7r + c) mod 4 = (3r + c) mod 4 takes every residue once in four consecutive r. */
	uint64_t sum = 6 * (n / 4);

	for (uint64_t r = 0; r < n % 4; r++)
		sum += tl_coll_value(r, i, it);
	return sum;
}

static double expect_allreduce(const struct tl_coll_counts *c, uint64_t n, uint64_t me,
                               uint64_t from, uint64_t i, uint64_t it)
{
	(void)c;
	(void)me;
	(void)from;
	return (double)tl_coll_value_sum(n, i, it);
}

/* Rank me's block of the sum. */
static double expect_reduce_scatter(const struct tl_coll_counts *c, uint64_t n, uint64_t me,
                                    uint64_t from, uint64_t i, uint64_t it)
{
	(void)from;
	return (double)tl_coll_value_sum(n, me * c->param + i, it);
}

/* Block r is rank r's input. */
static double expect_allgather(const struct tl_coll_counts *c, uint64_t n, uint64_t me,
                               uint64_t from, uint64_t i, uint64_t it)
{
	uint64_t p = c->param ? c->param : 1;

	(void)n;
	(void)me;
	(void)from;
	return tl_coll_value(i / p, i % p, it);
}

/* Block r is block me of rank r's input. */
static double expect_alltoall(const struct tl_coll_counts *c, uint64_t n, uint64_t me,
                              uint64_t from, uint64_t i, uint64_t it)
{
	uint64_t p = c->param ? c->param : 1;

	(void)n;
	(void)from;
	return tl_coll_value(i / p, me * p + i % p, it);
}

static double expect_broadcast(const struct tl_coll_counts *c, uint64_t n, uint64_t me,
                               uint64_t from, uint64_t i, uint64_t it)
{
	(void)c;
	(void)n;
	(void)me;
	(void)from;
	return tl_coll_value(0, i, it);
}

/* From the previous index of the ring. */
static double expect_sendrecv(const struct tl_coll_counts *c, uint64_t n, uint64_t me,
                              uint64_t from, uint64_t i, uint64_t it)
{
	(void)c;
	(void)from;
	return tl_coll_value((me + n - 1) % (n ? n : 1), i, it);
}

/* From the one sender named. */
static double expect_from(const struct tl_coll_counts *c, uint64_t n, uint64_t me, uint64_t from,
                          uint64_t i, uint64_t it)
{
	(void)c;
	(void)n;
	(void)me;
	return tl_coll_value(from, i, it);
}

/* ---- the table ---- */

/* Indexed by kind; the kinds that do not communicate have no entry (name NULL). */
static const struct tl_coll colls[TL_OP_KINDS] = {
    [TL_OP_ALLREDUCE] = {.kind = TL_OP_ALLREDUCE,
                         .name = "allreduce",
                         .redop = "sum",
                         .root = -1,
                         .busbw_factor = factor_allreduce,
                         .counts = counts_whole,
                         .expected = expect_allreduce},
    [TL_OP_REDUCE_SCATTER] = {.kind = TL_OP_REDUCE_SCATTER,
                              .name = "reduce_scatter",
                              .redop = "sum",
                              .root = -1,
                              .busbw_factor = factor_blocks,
                              .counts = counts_reduce_scatter,
                              .recv_in_place_at_rank = true,
                              .expected = expect_reduce_scatter},
    [TL_OP_ALLGATHER] = {.kind = TL_OP_ALLGATHER,
                         .name = "allgather",
                         .redop = "none",
                         .root = -1,
                         .busbw_factor = factor_blocks,
                         .counts = counts_allgather,
                         .send_in_place_at_rank = true,
                         .expected = expect_allgather},
    [TL_OP_ALLTOALL] = {.kind = TL_OP_ALLTOALL,
                        .name = "alltoall",
                        .redop = "none",
                        .root = -1,
                        .busbw_factor = factor_blocks,
                        .counts = counts_blocks,
                        .expected = expect_alltoall},
    [TL_OP_BROADCAST] = {.kind = TL_OP_BROADCAST,
                         .name = "broadcast",
                         .redop = "none",
                         .root = 0,
                         .busbw_factor = factor_one,
                         .counts = counts_whole,
                         .expected = expect_broadcast},
    [TL_OP_SENDRECV] = {.kind = TL_OP_SENDRECV,
                        .name = "sendrecv",
                        .redop = "none",
                        .root = -1,
                        .busbw_factor = factor_one,
                        .counts = counts_whole,
                        .expected = expect_sendrecv},
    [TL_OP_SEND] = {.kind = TL_OP_SEND,
                    .name = "send",
                    .redop = "none",
                    .root = -1,
                    .busbw_factor = factor_one,
                    .counts = counts_send,
                    .expected = expect_from},
    [TL_OP_RECV] = {.kind = TL_OP_RECV,
                    .name = "recv",
                    .redop = "none",
                    .root = -1,
                    .busbw_factor = factor_one,
                    .counts = counts_recv,
                    .expected = expect_from},
};

/* The kinds that do not communicate. */
static const char *const other_names[TL_OP_KINDS] = {
    [TL_OP_GEMM] = "gemm",
    [TL_OP_ELEMENTWISE] = "elementwise",
    [TL_OP_WAIT] = "wait",
    [TL_OP_OPTIMIZER] = "optimizer",
};

const struct tl_coll *tl_coll_get(enum tl_op_kind kind)
{
	return (unsigned)kind < TL_OP_KINDS && colls[kind].name ? &colls[kind] : NULL;
}

const struct tl_coll *tl_coll_find(const char *name)
{
	for (int k = 0; k < TL_OP_KINDS; k++)
		if (colls[k].name && !strcmp(colls[k].name, name))
			return &colls[k];
	return NULL;
}

const char *tl_op_kind_name(enum tl_op_kind kind)
{
	const struct tl_coll *c = tl_coll_get(kind);

	if (c)
		return c->name;
	return (unsigned)kind < TL_OP_KINDS && other_names[kind] ? other_names[kind] : "?";
}

bool tl_op_is_comm(enum tl_op_kind kind)
{
	return tl_coll_get(kind) != NULL;
}

double tl_busbw_factor(enum tl_op_kind kind, uint64_t n)
{
	const struct tl_coll *c = tl_coll_get(kind);

	return c ? c->busbw_factor(n) : 1.0;
}
