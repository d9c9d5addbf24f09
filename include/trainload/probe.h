/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The link probe: how fast each node's network carries data into and out of it, so that a slow
 * link is named with its host (DESIGN.md §5). A collective's time cannot say which of its links
 * is slow: every rank of a ring waits for the slowest hop, and the two ends of a slow pair in a
 * recursive exchange look alike. So, after the steps, one rank per node exchanges a message with
 * its two neighbours in a ring of the nodes, in both directions at once (every node sends one
 * message and receives one, so each link carries one flow each way), timing each receive. A
 * node's way in is as fast as the faster of its two inbound paths, its way out as the faster of
 * its two outbound ones (measured by the neighbours): a path is slow when either end is, and only
 * a node whose every path is slow has a slow link. Needs three nodes or more; O(1) rounds
 * whatever their number. The probe measures the network MPI uses between nodes (on the cuda
 * backend, NCCL may take another).
 */
#ifndef TRAINLOAD_PROBE_H
#define TRAINLOAD_PROBE_H

#include <stddef.h>

/* The probe's message and how many times each exchange is made (the best of them is taken:
 * a busy machine only slows a transfer down). */
#define TL_PROBE_BYTES  (2u << 20)
#define TL_PROBE_ROUNDS 5

/* One node's link as the probe saw it; all 0 when not probed (fewer than three nodes). */
struct tl_link {
	double in_mbps, out_mbps; /* MB/s (1e6 bytes/s) */
	double mbps;              /* the slower of the two: what the node's link carries */
	double noise_mbps;        /* spread over the rounds: 1.4826 x their MAD */
	int nodes;                /* nodes probed */
};

/* Collective over the world. Fills *link with the calling rank's node's figures. */
int tl_link_probe(struct tl_link *link);

#endif
