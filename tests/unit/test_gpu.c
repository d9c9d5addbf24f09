/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * GPU choice (tl_gpu_assign, src/gpu.c) on made-up nodes: a GPU's cpuset is the cores hwloc
 * places next to its PCI slot, a rank's the cores it is bound to. The expected choices follow
 * from the rule, worked by hand: in local-rank order, the free GPU sharing the most PUs with the
 * rank, the lowest index on a tie; a new round once all are taken.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "trainload/gpu.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define MAX_RANKS 8

struct row {
	const char *what;
	int ngpus, nranks;
	const char *gpus[MAX_RANKS];
	const char *ranks[MAX_RANKS];
	int want[MAX_RANKS];
};

static void test_assign(void **state)
{
	(void)state;
	static const struct row rows[] = {
		{ "no locality known, ranks unbound: by local rank", 4, 4,
		  { "", "", "", "" }, { "", "", "", "" }, { 0, 1, 2, 3 } },
		/* two sockets of 8 cores, GPUs 0-1 on socket 0, 2-3 on socket 1; ranks dealt
		 * round-robin over the sockets, as tl_topo_place deals them */
		{ "ranks alternate sockets", 4, 4,
		  { "0-7", "0-7", "8-15", "8-15" }, { "0-3", "8-11", "4-7", "12-15" },
		  { 0, 2, 1, 3 } },
		{ "GPU 0 on the second socket", 2, 2,
		  { "8-15", "0-7" }, { "0-7", "8-15" }, { 1, 0 } },
		{ "ranks on the whole node: ties, index order", 4, 4,
		  { "0-7", "0-7", "8-15", "8-15" }, { "0-15", "0-15", "0-15", "0-15" },
		  { 0, 1, 2, 3 } },
		{ "a socket's GPUs taken: the next closest", 4, 3,
		  { "0-7", "8-15", "8-15", "8-15" }, { "0-3", "4-7", "8-15" }, { 0, 1, 2 } },
		{ "more ranks than GPUs: a second round", 2, 4,
		  { "0-7", "8-15" }, { "0-3", "4-7", "8-11", "12-15" }, { 0, 1, 1, 0 } },
		{ "one GPU visible to each rank (CUDA_VISIBLE_DEVICES)", 1, 2,
		  { "0-7" }, { "0-3", "8-11" }, { 0, 0 } },
		{ "binding unknown on one rank", 2, 2,
		  { "0-7", "8-15" }, { "", "8-15" }, { 0, 1 } },
	};

	for (size_t i = 0; i < ARRAY_LEN(rows); i++) {
		const struct row *r = &rows[i];
		int got[MAX_RANKS] = { 0 };
		assert_int_equal(tl_gpu_assign(r->gpus, r->ngpus, r->ranks, r->nranks, got), 0);
		for (int k = 0; k < r->nranks; k++)
			if (got[k] != r->want[k])
				fail_msg("%s: rank %d got GPU %d, expected %d", r->what, k, got[k],
					 r->want[k]);
	}
}

static void test_bad(void **state)
{
	(void)state;
	const char *gpus[] = { "0-7", "nonsense" }, *ranks[] = { "0-3" };
	int got[1] = { -1 };

	assert_int_equal(tl_gpu_assign(gpus, 2, ranks, 1, got), TL_EINPUT);
	assert_int_equal(tl_gpu_assign(gpus, 0, ranks, 1, got), TL_EINPUT);
	assert_int_equal(tl_gpu_assign(gpus, 1, ranks, 0, got), TL_EINPUT);
	ranks[0] = "3-x";
	assert_int_equal(tl_gpu_assign(gpus, 1, ranks, 1, got), TL_EINPUT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_assign),
		cmocka_unit_test(test_bad),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
