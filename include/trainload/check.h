/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Checking what a collective delivered, the one way the sweep ([sweep] check) and training runs
 * ([run] check) do it: the senders' buffers hold the seeded pattern of include/trainload/sweep.h
 * (tl_sweep_value: a function of the sender's index in its group, the element and the
 * iteration), the receive buffers -1 (which no correct result holds), and every received element
 * is compared with the value a correct op leaves. Pure: the callers do the communication.
 */
#ifndef TRAINLOAD_CHECK_H
#define TRAINLOAD_CHECK_H

#include <stdbool.h>
#include <stdint.h>

#include "trainload/sweep.h"

/* One checked call, as one rank sees it. */
struct tl_check {
	enum tl_sweep_op op;
	struct tl_sweep_point pt;
	uint64_t n;    /* group size */
	uint64_t me;   /* this rank's index in the group */
	uint64_t from; /* sendrecv: the sender's index (training: its world rank) */
	uint64_t it;   /* iteration (sweep) or step (training): the pattern's seed */
	int dtype;     /* enum tl_dtype of the buffers */
	bool in_place; /* send and receive buffer are one (allreduce of gradient buckets) */
};

/* The first element that differs, for the message. */
struct tl_check_miss {
	uint64_t index;
	double got, want;
};

/* Fill the buffers before the call: the pattern to send (sb may be NULL when nothing is sent),
 * -1 where the results land (rb may be NULL when nothing is received). */
void tl_check_fill(const struct tl_check *c, void *sb, void *rb);

/* After the call: how many of the recv_elems elements of rb differ from what a correct op
 * leaves; *miss gets the first of them. */
uint64_t tl_check_verify(const struct tl_check *c, void *rb, struct tl_check_miss *miss);

/* For testing only: TRAINLOAD_TEST_CORRUPT=RANK makes that world rank change the first element
 * it received before verifying, to prove that a wrong element is seen and reported. Call once
 * per process, with the world rank, before the first tl_check_verify. */
void tl_check_set_rank(int world_rank);

#endif
