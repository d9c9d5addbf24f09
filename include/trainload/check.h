/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Checking what a communication op delivered, the one way sweeps and training runs ([run] check)
 * do it: the senders' inputs hold the seeded pattern of include/trainload/coll.h (tl_coll_value:
 * a function of the sender's index, the element and the iteration), the outputs -1 (which no
 * correct result holds), and every received element is compared with the value the
 * collective's descriptor says a correct call leaves. Pure: the callers do the communication.
 */
#ifndef TRAINLOAD_CHECK_H
#define TRAINLOAD_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "trainload/coll.h"

/* One checked call, as one rank sees it. */
struct tl_check {
	const struct tl_coll *coll;
	struct tl_coll_counts c;
	uint64_t n;    /* group size */
	uint64_t me;   /* this rank's index in the group (send, recv: its world rank) */
	uint64_t from; /* recv: the sender's world rank */
	uint64_t it;   /* iteration (sweep) or step (training): the pattern's seed */
	int dtype;     /* enum tl_dtype of the buffers */
};

/* The first element that differs, for the message. */
struct tl_check_miss {
	uint64_t index;
	double got, want;
};

/* Fill the buffers before the call: -1 where the results land (out may be NULL when nothing is
 * received), then the pattern this rank sends (in may be NULL when it sends nothing; only the
 * root sends in a broadcast). In place, the input lies within the output, and is written last. */
void tl_check_fill(const struct tl_check *c, void *in, void *out);

/* After the call: how many of the c.recv elements of out differ from what a correct call
 * leaves; *miss gets the first of them. */
uint64_t tl_check_verify(const struct tl_check *c, void *out, struct tl_check_miss *miss);

/* For testing only: TRAINLOAD_TEST_CORRUPT=RANK makes that world rank change the first element
 * it received before verifying, to prove that a wrong element is seen and reported. Call once
 * per process, with the world rank, before the first tl_check_verify. */
void tl_check_set_rank(int world_rank);

#endif
