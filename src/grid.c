/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <stdlib.h>

#include "trainload/grid.h"

void tl_grid_init(struct tl_grid *grid, const struct tl_job *job, uint64_t world,
		  uint64_t ranks_per_node)
{
	*grid = (struct tl_grid){ .tp = job->tp, .cp = job->cp, .dp = job->dp, .pp = job->pp,
				  .ep = job->ep, .world = world, .ranks_per_node = ranks_per_node };
}

void tl_grid_coords(const struct tl_grid *grid, uint64_t rank, struct tl_coords *c)
{
	c->tp = rank % grid->tp;
	rank /= grid->tp;
	c->cp = rank % grid->cp;
	rank /= grid->cp;
	c->dp = rank % grid->dp;
	c->pp = rank / grid->dp;
	c->ep = c->dp % grid->ep;
	c->edp = c->dp / grid->ep;
}

uint64_t tl_grid_rank(const struct tl_grid *grid, const struct tl_coords *c)
{
	return c->tp + grid->tp * (c->cp + grid->cp * (c->dp + grid->dp * c->pp));
}

uint64_t tl_grid_group_size(const struct tl_grid *grid, int group)
{
	switch (group) {
	case TL_GROUP_TP:
		return grid->tp;
	case TL_GROUP_CP:
		return grid->cp;
	case TL_GROUP_DP:
		return grid->dp;
	case TL_GROUP_PP:
		return grid->pp;
	case TL_GROUP_EP:
		return grid->ep;
	case TL_GROUP_EDP:
		return grid->dp / grid->ep;
	case TL_GROUP_DPCP:
		return grid->dp * grid->cp;
	default:
		return grid->world;
	}
}

uint64_t tl_grid_group_index(const struct tl_grid *grid, uint64_t rank, int group)
{
	struct tl_coords c;

	tl_grid_coords(grid, rank, &c);
	switch (group) {
	case TL_GROUP_TP:
		return c.tp;
	case TL_GROUP_CP:
		return c.cp;
	case TL_GROUP_DP:
		return c.dp;
	case TL_GROUP_PP:
		return c.pp;
	case TL_GROUP_EP:
		return c.ep;
	case TL_GROUP_EDP:
		return c.edp;
	case TL_GROUP_DPCP:
		return c.cp + grid->cp * c.dp;
	default:
		return rank;
	}
}

uint64_t tl_grid_group_member(const struct tl_grid *grid, uint64_t rank, int group, uint64_t i)
{
	struct tl_coords c;

	tl_grid_coords(grid, rank, &c);
	switch (group) {
	case TL_GROUP_TP:
		c.tp = i;
		break;
	case TL_GROUP_CP:
		c.cp = i;
		break;
	case TL_GROUP_DP:
		c.dp = i;
		break;
	case TL_GROUP_PP:
		c.pp = i;
		break;
	case TL_GROUP_EP:
		c.dp = c.edp * grid->ep + i;
		break;
	case TL_GROUP_EDP:
		c.dp = i * grid->ep + c.ep;
		break;
	case TL_GROUP_DPCP:
		c.cp = i % grid->cp;
		c.dp = i / grid->cp;
		break;
	default:
		return i;
	}
	return tl_grid_rank(grid, &c);
}

const int tl_grid_listed[TL_GRID_LISTED] = { TL_GROUP_TP, TL_GROUP_CP, TL_GROUP_DP,
					       TL_GROUP_PP, TL_GROUP_EP, TL_GROUP_EDP,
					       TL_GROUP_DPCP };

uint64_t tl_grid_group_stride(const struct tl_grid *grid, uint64_t rank, int group)
{
	if (tl_grid_group_size(grid, group) < 2)
		return 0;
	return tl_grid_group_member(grid, rank, group, 1) -
	       tl_grid_group_member(grid, rank, group, 0);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

uint64_t tl_grid_group_nodes(const struct tl_grid *grid, uint64_t rank, int group)
{
	uint64_t n = tl_grid_group_size(grid, group), nodes = 1;

	if (grid->node_of_rank) {
		uint32_t *node = malloc(n * sizeof(*node));
		if (!node)
			return 0;
		for (uint64_t i = 0; i < n; i++)
			node[i] = grid->node_of_rank[tl_grid_group_member(grid, rank, group, i)];
		qsort(node, n, sizeof(*node), cmp_u32);
		for (uint64_t i = 1; i < n; i++)
			nodes += node[i] != node[i - 1];
		free(node);
		return nodes;
	}
	if (!grid->ranks_per_node)
		return 1;
	/* Members ascend with their index: a new node wherever the node number changes. */
	for (uint64_t i = 1; i < n; i++)
		nodes += tl_grid_group_member(grid, rank, group, i) / grid->ranks_per_node !=
			 tl_grid_group_member(grid, rank, group, i - 1) / grid->ranks_per_node;
	return nodes;
}

bool tl_grid_group_crosses_nodes(const struct tl_grid *grid, uint64_t rank, int group)
{
	return tl_grid_group_nodes(grid, rank, group) > 1;
}

uint64_t tl_grid_nodes(const struct tl_grid *grid)
{
	if (!grid->ranks_per_node)
		return 0;
	return (grid->world + grid->ranks_per_node - 1) / grid->ranks_per_node;
}

const char *tl_grid_group_name(int group)
{
	static const char *const names[TL_GRID_GROUPS] = {
		[TL_GROUP_WORLD] = "world", [TL_GROUP_TP] = "tp", [TL_GROUP_DP] = "dp",
		[TL_GROUP_PP] = "pp",       [TL_GROUP_EP] = "ep", [TL_GROUP_CP] = "cp",
		[TL_GROUP_EDP] = "edp",     [TL_GROUP_DPCP] = "dp_cp",
	};
	return group >= 0 && group < TL_GRID_GROUPS ? names[group] : "?";
}
