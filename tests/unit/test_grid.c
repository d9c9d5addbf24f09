/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The parallel grid (src/grid.c), held to the Megatron layout written out here independently:
 *   rank = tp + TP·(cp + CP·(dp + DP·pp))          (tp varies fastest, pp slowest)
 * A group of kind g holds the ranks that agree with this one on every coordinate but g's. Expert
 * groups are carved out of the data-parallel group: EP = ep consecutive dp indices (dp / ep
 * equal), EDP = the ranks holding the same experts (dp % ep equal); DPCP = the dp and cp ranks
 * together (the same tp and pp: what holds the same weights with context parallelism). Every
 * grid up to
 * tp 4 x cp 2 x dp 4 x pp 3 with every ep that divides dp, every rank, every group.
 */
#include "config.h"

#include <inttypes.h>

#include "tl_test.h"
#include "trainload/grid.h"

struct dims {
	uint64_t tp, cp, dp, pp, ep;
};

static struct tl_grid make_grid(const struct dims *d, uint64_t ranks_per_node)
{
	struct tl_job job;
	struct tl_grid grid;

	assert_int_equal(tl_job_init(&job), 0);
	job.tp = d->tp;
	job.cp = d->cp;
	job.dp = d->dp;
	job.pp = d->pp;
	job.ep = d->ep;
	tl_grid_init(&grid, &job, d->tp * d->cp * d->dp * d->pp, ranks_per_node);
	tl_job_free(&job);
	return grid;
}

/* The coordinates of a rank, written out from the layout above. */
static void coords_of(const struct dims *d, uint64_t r, uint64_t out[4])
{
	out[0] = r % d->tp;
	out[1] = r / d->tp % d->cp;
	out[2] = r / (d->tp * d->cp) % d->dp;
	out[3] = r / (d->tp * d->cp * d->dp);
}

/* Whether ranks a and b are in the same group of kind g. */
static bool same_group(const struct dims *d, uint64_t a, uint64_t b, int g)
{
	uint64_t x[4], y[4];

	coords_of(d, a, x);
	coords_of(d, b, y);
	switch (g) {
	case TL_GROUP_WORLD:
		return true;
	case TL_GROUP_TP:
		return x[1] == y[1] && x[2] == y[2] && x[3] == y[3];
	case TL_GROUP_CP:
		return x[0] == y[0] && x[2] == y[2] && x[3] == y[3];
	case TL_GROUP_DP:
		return x[0] == y[0] && x[1] == y[1] && x[3] == y[3];
	case TL_GROUP_PP:
		return x[0] == y[0] && x[1] == y[1] && x[2] == y[2];
	case TL_GROUP_EP: /* consecutive dp indices: the same block of ep */
		return x[0] == y[0] && x[1] == y[1] && x[3] == y[3] && x[2] / d->ep == y[2] / d->ep;
	case TL_GROUP_EDP: /* the same experts: the same place inside the block */
		return x[0] == y[0] && x[1] == y[1] && x[3] == y[3] && x[2] % d->ep == y[2] % d->ep;
	case TL_GROUP_DPCP:
		return x[0] == y[0] && x[3] == y[3];
	}
	fail_msg("no group %d", g);
	return false;
}

static uint64_t expected_size(const struct dims *d, int g)
{
	switch (g) {
	case TL_GROUP_TP:
		return d->tp;
	case TL_GROUP_CP:
		return d->cp;
	case TL_GROUP_DP:
		return d->dp;
	case TL_GROUP_PP:
		return d->pp;
	case TL_GROUP_EP:
		return d->ep;
	case TL_GROUP_EDP:
		return d->dp / d->ep;
	case TL_GROUP_DPCP:
		return d->dp * d->cp;
	default:
		return d->tp * d->cp * d->dp * d->pp;
	}
}

static const int all_groups[] = {TL_GROUP_WORLD, TL_GROUP_TP, TL_GROUP_CP,  TL_GROUP_DP,
                                 TL_GROUP_PP,    TL_GROUP_EP, TL_GROUP_EDP, TL_GROUP_DPCP};

/* Every check of one grid. */
static void check_grid(const struct dims *d)
{
	struct tl_grid grid = make_grid(d, 0);
	uint64_t world = d->tp * d->cp * d->dp * d->pp;
	char what[96];

	snprintf(what, sizeof(what),
	         "tp %" PRIu64 " cp %" PRIu64 " dp %" PRIu64 " pp %" PRIu64 " ep %" PRIu64, d->tp,
	         d->cp, d->dp, d->pp, d->ep);
	assert_int_equal(grid.world, world);
	for (uint64_t r = 0; r < world; r++) {
		struct tl_coords c;
		uint64_t want[4];
		tl_grid_coords(&grid, r, &c);
		coords_of(d, r, want);
		if (c.tp != want[0] || c.cp != want[1] || c.dp != want[2] || c.pp != want[3])
			fail_msg("%s: rank %" PRIu64 " has coords tp %" PRIu64 " cp %" PRIu64
			         " dp %" PRIu64 " pp %" PRIu64 ", expected %" PRIu64 " %" PRIu64
			         " %" PRIu64 " %" PRIu64,
			         what, r, c.tp, c.cp, c.dp, c.pp, want[0], want[1], want[2],
			         want[3]);
		assert_int_equal(c.ep, c.dp % d->ep);
		assert_int_equal(c.edp, c.dp / d->ep);
		/* round trip */
		assert_int_equal(tl_grid_rank(&grid, &c), r);
		/* tp varies fastest: the next rank is the next tp index, unless it wraps */
		if (r + 1 < world) {
			struct tl_coords n;
			tl_grid_coords(&grid, r + 1, &n);
			if (c.tp + 1 < d->tp)
				assert_true(n.tp == c.tp + 1 && n.cp == c.cp && n.dp == c.dp &&
				            n.pp == c.pp);
			else
				assert_int_equal(n.tp, 0);
		}

		for (size_t k = 0; k < ARRAY_LEN(all_groups); k++) {
			int g = all_groups[k];
			uint64_t n = tl_grid_group_size(&grid, g);
			uint64_t idx = tl_grid_group_index(&grid, r, g);
			if (n != expected_size(d, g))
				fail_msg("%s: group %s has size %" PRIu64 ", expected %" PRIu64,
				         what, tl_grid_group_name(g), n, expected_size(d, g));
			assert_true(idx < n);
			assert_int_equal(tl_grid_group_member(&grid, r, g, idx), r);
			uint64_t count = 0, prev = 0;
			for (uint64_t i = 0; i < n; i++) {
				uint64_t m = tl_grid_group_member(&grid, r, g, i);
				assert_true(m < world);
				/* members ascend */
				if (i && m <= prev)
					fail_msg("%s: %s group of rank %" PRIu64 ": member %" PRIu64
					         " = %" PRIu64 " after %" PRIu64,
					         what, tl_grid_group_name(g), r, i, m, prev);
				prev = m;
				/* they are the ranks the layout puts together */
				if (!same_group(d, r, m, g))
					fail_msg("%s: rank %" PRIu64 " is in rank %" PRIu64
					         "'s %s group",
					         what, m, r, tl_grid_group_name(g));
				/* and they all agree on the list, and on their own index */
				assert_int_equal(tl_grid_group_index(&grid, m, g), i);
				for (uint64_t j = 0; j < n; j++)
					assert_int_equal(tl_grid_group_member(&grid, m, g, j),
					                 tl_grid_group_member(&grid, r, g, j));
			}
			/* every rank that belongs with r is listed: the group is complete */
			for (uint64_t m = 0; m < world; m++)
				count += same_group(d, r, m, g);
			assert_int_equal(count, n);
			/* ranks_per_node unknown: no group crosses nodes */
			assert_false(tl_grid_group_crosses_nodes(&grid, r, g));
		}
	}
	assert_int_equal(tl_grid_nodes(&grid), 0);
}

static void test_layout(void **state)
{
	static const uint64_t eps[] = {1, 2, 4};
	int grids = 0;

	(void)state;
	for (uint64_t tp = 1; tp <= 4; tp++)
		for (uint64_t cp = 1; cp <= 2; cp++)
			for (uint64_t dp = 1; dp <= 4; dp++)
				for (uint64_t pp = 1; pp <= 3; pp++)
					for (size_t e = 0; e < ARRAY_LEN(eps); e++) {
						struct dims d = {tp, cp, dp, pp, eps[e]};
						if (dp % eps[e])
							continue;
						check_grid(&d);
						grids++;
					}
	print_message("  %d grids\n", grids);
}

/* Some groups written out in full. */
static void test_examples(void **state)
{
	(void)state;
	/* tp 2 x dp 4 x pp 2, ep 2: 16 ranks */
	struct dims d = {2, 1, 4, 2, 2};
	struct tl_grid g = make_grid(&d, 0);
	static const struct {
		uint64_t rank;
		int group;
		uint64_t members[4];
	} rows[] = {
	    {0, TL_GROUP_TP, {0, 1}},       {5, TL_GROUP_TP, {4, 5}},
	    {0, TL_GROUP_DP, {0, 2, 4, 6}}, {11, TL_GROUP_DP, {9, 11, 13, 15}},
	    {3, TL_GROUP_PP, {3, 11}},      {0, TL_GROUP_EP, {0, 2}}, /* dp 0 and 1 */
	    {4, TL_GROUP_EP, {4, 6}},                                 /* dp 2 and 3 */
	    {0, TL_GROUP_EDP, {0, 4}}, /* dp 0 and 2 hold the same experts */
	    {7, TL_GROUP_EDP, {3, 7}}, /* tp 1, dp 3 and 1 */
	    {13, TL_GROUP_EDP, {9, 13}},
	};
	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		uint64_t n = tl_grid_group_size(&g, rows[i].group);
		for (uint64_t k = 0; k < n; k++)
			if (tl_grid_group_member(&g, rows[i].rank, rows[i].group, k) !=
			    rows[i].members[k])
				fail_msg("row %zu: rank %" PRIu64 "'s %s group member %" PRIu64
				         " is %" PRIu64 ", expected %" PRIu64,
				         i, rows[i].rank, tl_grid_group_name(rows[i].group), k,
				         tl_grid_group_member(&g, rows[i].rank, rows[i].group, k),
				         rows[i].members[k]);
	}
	struct tl_coords c;
	tl_grid_coords(&g, 13, &c); /* 13 = 1 + 2·(2 + 4·1) */
	assert_true(c.tp == 1 && c.cp == 0 && c.dp == 2 && c.pp == 1 && c.ep == 0 && c.edp == 1);
}

/* Whether the group of rank r crosses nodes, from its members' nodes. */
static bool crosses(const struct tl_grid *g, uint64_t r, int group, uint64_t per_node)
{
	uint64_t n = tl_grid_group_size(g, group), node = tl_grid_group_member(g, r, group, 0);

	for (uint64_t i = 1; i < n; i++)
		if (tl_grid_group_member(g, r, group, i) / per_node != node / per_node)
			return true;
	return false;
}

static void test_crosses_nodes(void **state)
{
	(void)state;
	/* tp 8 inside an 8-rank node does not cross; dp (stride 8) does; pp too */
	struct dims d = {8, 1, 4, 2, 2};
	struct tl_grid g = make_grid(&d, 8);
	assert_int_equal(tl_grid_nodes(&g), 8);
	for (uint64_t r = 0; r < 64; r++) {
		assert_false(tl_grid_group_crosses_nodes(&g, r, TL_GROUP_TP));
		assert_true(tl_grid_group_crosses_nodes(&g, r, TL_GROUP_DP));
		assert_true(tl_grid_group_crosses_nodes(&g, r, TL_GROUP_PP));
		assert_true(tl_grid_group_crosses_nodes(&g, r, TL_GROUP_EP));
		assert_true(tl_grid_group_crosses_nodes(&g, r, TL_GROUP_EDP));
		assert_true(tl_grid_group_crosses_nodes(&g, r, TL_GROUP_WORLD));
		assert_false(tl_grid_group_crosses_nodes(&g, r, TL_GROUP_CP)); /* one member */
	}

	/* every grid and node size, against the members' nodes */
	static const uint64_t per_node[] = {1, 2, 3, 4, 6, 8, 16};
	for (uint64_t tp = 1; tp <= 4; tp++)
		for (uint64_t dp = 1; dp <= 4; dp++)
			for (uint64_t pp = 1; pp <= 3; pp++)
				for (size_t k = 0; k < ARRAY_LEN(per_node); k++) {
					struct dims e = {tp, 1, dp, pp, dp % 2 ? 1 : 2};
					struct tl_grid h = make_grid(&e, per_node[k]);
					uint64_t world = tp * dp * pp;
					assert_int_equal(tl_grid_nodes(&h),
					                 (world + per_node[k] - 1) / per_node[k]);
					for (uint64_t r = 0; r < world; r++)
						for (size_t i = 0; i < ARRAY_LEN(all_groups); i++) {
							int grp = all_groups[i];
							if (tl_grid_group_crosses_nodes(&h, r,
							                                grp) !=
							    crosses(&h, r, grp, per_node[k]))
								fail_msg("tp %" PRIu64
								         " dp %" PRIu64
								         " pp %" PRIu64 ", %" PRIu64
								         " per node: rank %" PRIu64
								         " group %s",
								         tp, dp, pp, per_node[k], r,
								         tl_grid_group_name(grp));
						}
				}
}

/* Ranks as a launcher really placed them (node_of_rank, a run's hosts): the members' nodes decide,
 * not ranks_per_node. Round-robin placement (mpirun --map-by node) puts a tp pair on two nodes
 * and a dp group of even ranks on one, the reverse of what filling node after node would do. */
static void test_placed_nodes(void **state)
{
	(void)state;
	struct dims d = {2, 1, 4, 1, 1};
	struct tl_grid g = make_grid(&d, 4);
	static const uint32_t round_robin[8] = {0, 1, 0, 1, 0, 1, 0, 1};

	assert_false(tl_grid_group_crosses_nodes(&g, 0, TL_GROUP_TP));
	assert_true(tl_grid_group_crosses_nodes(&g, 0, TL_GROUP_DP));
	g.node_of_rank = round_robin;
	for (uint64_t r = 0; r < 8; r++) {
		assert_true(tl_grid_group_crosses_nodes(&g, r, TL_GROUP_TP));
		assert_false(tl_grid_group_crosses_nodes(&g, r, TL_GROUP_DP));
		assert_true(tl_grid_group_crosses_nodes(&g, r, TL_GROUP_WORLD));
		assert_false(tl_grid_group_crosses_nodes(&g, r, TL_GROUP_CP)); /* one member */
	}
	/* every rank on a node of its own, and all on one node */
	static const uint32_t own[8] = {0, 1, 2, 3, 4, 5, 6, 7}, one[8] = {0};
	g.node_of_rank = own;
	assert_true(tl_grid_group_crosses_nodes(&g, 5, TL_GROUP_TP));
	assert_true(tl_grid_group_crosses_nodes(&g, 5, TL_GROUP_DP));
	g.node_of_rank = one;
	for (size_t i = 0; i < ARRAY_LEN(all_groups); i++)
		assert_false(tl_grid_group_crosses_nodes(&g, 5, all_groups[i]));

	/* placed node after node, they agree with ranks_per_node for every grid and node size */
	static const uint64_t per_node[] = {1, 2, 3, 4, 6};
	uint32_t block[48];
	for (uint64_t tp = 1; tp <= 4; tp++)
		for (uint64_t dp = 1; dp <= 4; dp++)
			for (uint64_t pp = 1; pp <= 3; pp++)
				for (size_t k = 0; k < ARRAY_LEN(per_node); k++) {
					struct dims e = {tp, 1, dp, pp, 1};
					struct tl_grid h = make_grid(&e, per_node[k]), placed = h;
					for (uint64_t r = 0; r < h.world; r++)
						block[r] = (uint32_t)(r / per_node[k]);
					placed.node_of_rank = block;
					for (uint64_t r = 0; r < h.world; r++)
						for (size_t i = 0; i < ARRAY_LEN(all_groups); i++)
							assert_true(
							    tl_grid_group_crosses_nodes(
							        &placed, r, all_groups[i]) ==
							    tl_grid_group_crosses_nodes(
							        &h, r, all_groups[i]));
				}
}

static void test_stride(void **state)
{
	(void)state;
	struct dims d = {8, 2, 4, 3, 2};
	struct tl_grid g = make_grid(&d, 0);

	assert_int_equal(tl_grid_group_stride(&g, 77, TL_GROUP_TP), 1);
	assert_int_equal(tl_grid_group_stride(&g, 77, TL_GROUP_CP), 8);
	assert_int_equal(tl_grid_group_stride(&g, 77, TL_GROUP_DP), 16);
	assert_int_equal(tl_grid_group_stride(&g, 77, TL_GROUP_PP), 64);
	assert_int_equal(tl_grid_group_stride(&g, 77, TL_GROUP_EP), 16);  /* 2 consecutive dp */
	assert_int_equal(tl_grid_group_stride(&g, 77, TL_GROUP_EDP), 32); /* every other dp */
	d.tp = 1;
	g = make_grid(&d, 0);
	assert_int_equal(tl_grid_group_stride(&g, 5, TL_GROUP_TP), 0); /* a group of one */
}

/* A large world is planned in O(group size): rank 0 and the last rank of 2^32 ranks. */
static void test_large_world(void **state)
{
	(void)state;
	struct dims d = {8, 1, UINT64_C(1) << 22, 128, 64};
	struct tl_grid g = make_grid(&d, 8);
	uint64_t last = (UINT64_C(1) << 32) - 1;
	struct tl_coords c;

	assert_int_equal(g.world, UINT64_C(1) << 32);
	tl_grid_coords(&g, last, &c);
	assert_true(c.tp == 7 && c.dp == (UINT64_C(1) << 22) - 1 && c.pp == 127);
	assert_int_equal(tl_grid_rank(&g, &c), last);
	assert_int_equal(tl_grid_group_member(&g, last, TL_GROUP_PP, 0), last - 127 * 8 * d.dp);
	assert_int_equal(tl_grid_group_member(&g, last, TL_GROUP_EDP, 0),
	                 tl_grid_group_member(&g, last, TL_GROUP_DP, 63));
	assert_int_equal(tl_grid_nodes(&g), UINT64_C(1) << 29);
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(tl_grid_group_name(TL_GROUP_WORLD), "world");
	assert_string_equal(tl_grid_group_name(TL_GROUP_TP), "tp");
	assert_string_equal(tl_grid_group_name(TL_GROUP_DP), "dp");
	assert_string_equal(tl_grid_group_name(TL_GROUP_PP), "pp");
	assert_string_equal(tl_grid_group_name(TL_GROUP_EP), "ep");
	assert_string_equal(tl_grid_group_name(TL_GROUP_CP), "cp");
	assert_string_equal(tl_grid_group_name(TL_GROUP_EDP), "edp");
	assert_string_equal(tl_grid_group_name(TL_GROUP_DPCP), "dp_cp");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_layout),        cmocka_unit_test(test_examples),
	    cmocka_unit_test(test_crosses_nodes), cmocka_unit_test(test_large_world),
	    cmocka_unit_test(test_names),         cmocka_unit_test(test_placed_nodes),
	    cmocka_unit_test(test_stride),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
