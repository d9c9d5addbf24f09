/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The parallel grid: rank → (tp, cp, dp, pp) coordinates and the members of every group, as
 * Megatron lays them out. tp varies fastest, so a tensor-parallel group stays inside a node;
 * then cp, then dp, then pp. Expert-parallel groups are carved out of the data-parallel group:
 * ep consecutive dp indices form one (the expert-data-parallel group links the ranks holding
 * the same experts). Pure, and O(group size) per query: never O(world).
 */
#ifndef TRAINLOAD_GRID_H
#define TRAINLOAD_GRID_H

#include <stdbool.h>
#include <stdint.h>

#include "trainload/job.h"

/* The groups a rank belongs to. TL_GROUP_* of job.h, plus the expert-data-parallel one and the
 * data-parallel one with its context-parallel ranks (the dp·cp ranks that hold the same weights,
 * over which Megatron reduces gradients when cp > 1). */
#define TL_GROUP_EDP (TL_GROUP_CP + 1)
#define TL_GROUP_DPCP (TL_GROUP_EDP + 1)
#define TL_GRID_GROUPS (TL_GROUP_DPCP + 1)

struct tl_grid {
	uint64_t tp, cp, dp, pp, ep, world;
	uint64_t ranks_per_node; /* 0: unknown (every group is taken as inside one node) */
	/* Each world rank's node as the launcher placed the ranks (a run's hosts, numbered), or
	 * NULL: nodes then follow from ranks_per_node, the ranks filling node after node. */
	const uint32_t *node_of_rank;
};

struct tl_coords {
	uint64_t tp, cp, dp, pp;
	uint64_t ep;  /* index inside the expert-parallel group */
	uint64_t edp; /* index inside the expert-data-parallel group */
};

/* Grid of a resolved job on world ranks. */
void tl_grid_init(struct tl_grid *grid, const struct tl_job *job, uint64_t world,
		  uint64_t ranks_per_node);

void tl_grid_coords(const struct tl_grid *grid, uint64_t rank, struct tl_coords *c);
uint64_t tl_grid_rank(const struct tl_grid *grid, const struct tl_coords *c);

/* Size of a group (TL_GROUP_*, TL_GROUP_EDP or TL_GROUP_DPCP); the world for TL_GROUP_WORLD. */
uint64_t tl_grid_group_size(const struct tl_grid *grid, int group);
/* This rank's index inside its group. */
uint64_t tl_grid_group_index(const struct tl_grid *grid, uint64_t rank, int group);
/* The i-th member of rank's group, in group order (ascending world rank). */
uint64_t tl_grid_group_member(const struct tl_grid *grid, uint64_t rank, int group, uint64_t i);
/* Members of a group are an arithmetic progression of world ranks: the step between two (0 for
 * a group of one). */
uint64_t tl_grid_group_stride(const struct tl_grid *grid, uint64_t rank, int group);
/* How many nodes rank's group spans: by node_of_rank where it is set (O(n log n) in the group
 * size n), else by ranks_per_node (O(n); 1 when it is unknown). 0: out of memory. */
uint64_t tl_grid_group_nodes(const struct tl_grid *grid, uint64_t rank, int group);
/* Whether rank's group spans more than one node (tl_grid_group_nodes). */
bool tl_grid_group_crosses_nodes(const struct tl_grid *grid, uint64_t rank, int group);

/* Nodes the world spans (ranks_per_node given), or 0 when unknown. */
uint64_t tl_grid_nodes(const struct tl_grid *grid);

/* "tp", "dp", … "edp" and "dp_cp". */
const char *tl_grid_group_name(int group);

/* The groups that a dry run and a result list (their grid key), in this order: tp, cp, dp, pp,
 * ep, edp, dp_cp. */
#define TL_GRID_LISTED 7
extern const int tl_grid_listed[TL_GRID_LISTED];

#endif
