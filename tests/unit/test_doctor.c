/* SPDX-License-Identifier: BSD-3-Clause */
/* The doctor's pure parts: link schedules, fleet judgement, verdicts, Slurm hostlists. */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "trainload/doctor.h"
#include "trainload/hostlist.h"

/* ---- schedules ---- */

/* Every round's pairs are disjoint and in range; returns how often each pair a<b appears in
 * seen[a * n + b]. */
static void check_rounds(const struct tl_link_sched *s, uint32_t n, int *seen)
{
	int *busy = calloc(n + 1, sizeof(*busy));

	assert_non_null(busy);
	for (uint32_t r = 0; r < s->rounds; r++) {
		memset(busy, 0, (n + 1) * sizeof(*busy));
		assert_true(s->start[r + 1] > s->start[r]); /* no empty round */
		for (uint32_t k = s->start[r]; k < s->start[r + 1]; k++) {
			struct tl_pair p = s->pairs[k];
			assert_true(p.a < p.b && p.b < n);
			assert_int_equal(busy[p.a]++, 0);
			assert_int_equal(busy[p.b]++, 0);
			seen[p.a * n + p.b]++;
		}
	}
	free(busy);
}

static void tournament_covers_every_pair_once(void **state)
{
	(void)state;
	for (uint32_t n = 1; n <= 17; n++) {
		struct tl_link_sched s;
		int *seen = calloc((size_t)n * n, sizeof(*seen));
		assert_non_null(seen);
		assert_int_equal(tl_links_tournament(n, &s), 0);
		/* N-1 rounds of N/2 pairs for even N; N rounds of (N-1)/2 with a bye for odd N
		 * (N = 1: nothing to measure). */
		uint32_t rounds = n == 1 ? 0 : n % 2 ? n : n - 1;
		assert_int_equal(s.rounds, rounds);
		for (uint32_t r = 0; r < s.rounds; r++)
			assert_int_equal(s.start[r + 1] - s.start[r], n / 2);
		assert_int_equal(s.start[s.rounds], n * (n - 1) / 2);
		check_rounds(&s, n, seen);
		for (uint32_t a = 0; a < n; a++)
			for (uint32_t b = a + 1; b < n; b++)
				assert_int_equal(seen[a * n + b], 1);
		free(seen);
		tl_link_sched_free(&s);
	}
}

static void tournament_four_nodes(void **state)
{
	struct tl_link_sched s;
	/* The circle method with node 3 fixed: round r meets r, and r+1 meets r+2 (mod 3). */
	static const struct tl_pair want[] = {{0, 3}, {1, 2}, {1, 3}, {0, 2}, {2, 3}, {0, 1}};

	(void)state;
	assert_int_equal(tl_links_tournament(4, &s), 0);
	assert_int_equal(s.rounds, 3);
	for (size_t k = 0; k < 6; k++) {
		assert_int_equal(s.pairs[k].a, want[k].a);
		assert_int_equal(s.pairs[k].b, want[k].b);
	}
	tl_link_sched_free(&s);
}

static void ring_rounds(void **state)
{
	(void)state;
	/* nodes → rounds, links */
	static const uint32_t cases[][3] = {{0, 0, 0}, {1, 0, 0}, {2, 1, 1}, {3, 3, 3},
	                                    {4, 2, 4}, {5, 3, 5}, {8, 2, 8}, {1001, 3, 1001}};
	for (size_t c = 0; c < sizeof(cases) / sizeof(*cases); c++) {
		uint32_t n = cases[c][0];
		struct tl_link_sched s;
		int *seen = calloc((size_t)n * n + 1, sizeof(*seen));
		assert_non_null(seen);
		assert_int_equal(tl_links_ring(n, &s), 0);
		assert_int_equal(s.rounds, cases[c][1]);
		assert_int_equal(s.start[s.rounds], cases[c][2]);
		check_rounds(&s, n, seen);
		/* exactly the ring's links: i, i+1 mod n */
		for (uint32_t i = 0; n > 1 && i < (n == 2 ? 1 : n); i++) {
			uint32_t a = i, b = (i + 1) % n;
			assert_int_equal(seen[(a < b ? a : b) * n + (a < b ? b : a)], 1);
		}
		free(seen);
		tl_link_sched_free(&s);
	}
}

static void probes_localize_slow_ring_links(void **state)
{
	struct tl_link_sched s;
	bool slow[8] = {false};
	int seen[64] = {0};

	(void)state;
	/* 8 nodes, ring link 2 (nodes 2-3) slow: nodes 2 and 3 each meet a healthy node. */
	slow[2] = true;
	assert_int_equal(tl_links_probes(8, slow, &s), 0);
	assert_int_equal(s.rounds, 1);
	assert_int_equal(s.start[1], 2);
	check_rounds(&s, 8, seen);
	assert_int_equal(seen[0 * 8 + 2], 1); /* 2 meets 0, 3 meets 1: the first healthy ones */
	assert_int_equal(seen[1 * 8 + 3], 1);
	tl_link_sched_free(&s);

	/* links 1 and 2 slow (nodes 1, 2, 3: node 2 on both): three endpoints, healthy nodes 0,
	 * 4, 5, 6, 7 dealt in turn: 1-0, 2-4, 3-5, one round. */
	slow[1] = true;
	memset(seen, 0, sizeof(seen));
	assert_int_equal(tl_links_probes(8, slow, &s), 0);
	assert_int_equal(s.rounds, 1);
	check_rounds(&s, 8, seen);
	assert_int_equal(seen[0 * 8 + 1], 1);
	assert_int_equal(seen[2 * 8 + 4], 1);
	assert_int_equal(seen[3 * 8 + 5], 1);
	tl_link_sched_free(&s);

	/* 4 nodes, links 0 and 1 slow (nodes 0, 1, 2): one healthy node (3) meets all three,
	 * one round each. */
	bool slow4[4] = {true, true, false, false};
	memset(seen, 0, sizeof(seen));
	assert_int_equal(tl_links_probes(4, slow4, &s), 0);
	assert_int_equal(s.rounds, 3);
	check_rounds(&s, 4, seen);
	assert_int_equal(seen[0 * 4 + 3] + seen[1 * 4 + 3] + seen[2 * 4 + 3], 3);
	tl_link_sched_free(&s);

	/* every node on a slow link: nothing to probe against */
	bool all[4] = {true, false, true, false};
	assert_int_equal(tl_links_probes(4, all, &s), 0);
	assert_int_equal(s.rounds, 0);
	tl_link_sched_free(&s);
}

static void mode_parse_and_pick(void **state)
{
	enum tl_links_mode m;

	(void)state;
	assert_int_equal(tl_links_mode_parse("ring", &m), 0);
	assert_int_equal(m, TL_LINKS_RING);
	assert_int_equal(tl_links_mode_parse("star", &m), -1);
	assert_int_equal(tl_links_mode_pick(TL_LINKS_AUTO, 64), TL_LINKS_TOURNAMENT);
	assert_int_equal(tl_links_mode_pick(TL_LINKS_AUTO, 65), TL_LINKS_RING);
	assert_int_equal(tl_links_mode_pick(TL_LINKS_TOURNAMENT, 1000), TL_LINKS_TOURNAMENT);
	assert_string_equal(tl_links_mode_name(TL_LINKS_TOURNAMENT), "tournament");
}

/* ---- fleet ---- */

static void fleet_median_mad_floor(void **state)
{
	struct tl_fleet f;
	/* median 100; deviations 0, 2, 2, 4, 90 → MAD 2, σ 2.9652; 4σ = 11.86 < floor 50 */
	static const double v[] = {100, 98, 102, 104, 10};

	(void)state;
	tl_fleet_judge(v, 5, SIZE_MAX, &f);
	assert_float_equal(f.median, 100, 1e-12);
	assert_float_equal(f.sigma, 1.4826 * 2, 1e-12);
	assert_float_equal(f.limit, 50, 1e-12);
	assert_true(tl_fleet_slow(&f, 10));
	assert_false(tl_fleet_slow(&f, 51));

	/* a noisy fleet: MAD 30 → σ 44.478, 4σ = 177.9, more than the ceiling's 80% of the
	 * median: the margin is 80, and only what is below a fifth of the median is slow */
	static const double noisy[] = {100, 130, 70, 160, 40};
	tl_fleet_judge(noisy, 5, SIZE_MAX, &f);
	assert_float_equal(f.limit, 20, 1e-12);
	assert_true(tl_fleet_slow(&f, 19));
	assert_false(tl_fleet_slow(&f, 40));

	/* a quiet fleet, all equal: MAD 0; the floor names only what is below half */
	static const double quiet[] = {7, 7, 7, 7};
	tl_fleet_judge(quiet, 4, SIZE_MAX, &f);
	assert_float_equal(f.sigma, 0, 0);
	assert_float_equal(f.limit, 3.5, 1e-12);
	assert_false(tl_fleet_slow(&f, 6.9));

	/* two members: nobody can be told apart */
	tl_fleet_judge(v, 2, SIZE_MAX, &f);
	assert_float_equal(f.limit, 0, 0);
	assert_false(tl_fleet_slow(&f, 1));
	tl_fleet_judge(v, 2, 1, &f); /* one judged against the other */
	assert_float_equal(f.limit, 0, 0);

	/* leave-one-out: four nodes, one at a third, one 34% fast (a virtual cluster's GEMM rates
	 * in GFLOP/s). All four: median 1.833, MAD (0.007 + 0.62) / 2 → 4σ = 1.86 > 80% of the
	 * median: slow only below a fifth of it, and 0.58 is not. Without the slow one:
	 * median 1.84, MAD 0.014 → 4σ = 0.083 < the floor: limit 0.92, and 0.58 is slow. */
	static const double four[] = {1.826, 0.58, 1.84, 2.45};
	tl_fleet_judge(four, 4, SIZE_MAX, &f);
	assert_float_equal(f.median, 1.833, 1e-12);
	assert_float_equal(f.limit, 1.833 * 0.2, 1e-12); /* the ceiling's margin */
	assert_false(tl_fleet_slow(&f, 0.58));
	tl_fleet_judge(four, 4, 1, &f);
	assert_int_equal(f.n, 3);
	assert_float_equal(f.median, 1.84, 1e-12);
	assert_float_equal(f.sigma, 1.4826 * 0.014, 1e-9);
	assert_float_equal(f.limit, 0.92, 1e-12);
	assert_true(tl_fleet_slow(&f, 0.58));
	/* the fast one against the others: median 1.826, MAD 0.014; not slow */
	tl_fleet_judge(four, 4, 3, &f);
	assert_false(tl_fleet_slow(&f, 2.45));
}

/* ---- verdicts ---- */

/* A doctor of n nodes with healthy compute, every pair of the tournament measured at link_bw;
 * the caller slows what it wants. */
static struct tl_doctor *healthy(uint32_t n, double link_bw)
{
	struct tl_doctor *d = calloc(1, sizeof(*d));
	struct tl_link_sched s;

	assert_non_null(d);
	d->nnodes = n;
	d->nodes = calloc(n, sizeof(*d->nodes));
	assert_int_equal(tl_links_tournament(n, &s), 0);
	d->nlinks = s.start[s.rounds];
	d->links = calloc(d->nlinks + 1, sizeof(*d->links));
	assert_true(d->nodes && d->links);
	for (uint32_t i = 0; i < n; i++) {
		snprintf(d->nodes[i].host, sizeof(d->nodes[i].host), "node%u", i + 1);
		d->nodes[i].value[TL_NODE_GEMM] = 50e9 * (1 + 0.01 * i);
		d->nodes[i].value[TL_NODE_TRIAD] = 10e9 * (1 - 0.01 * i);
	}
	for (size_t k = 0; k < d->nlinks; k++)
		d->links[k] = (struct tl_doctor_link){.pair = s.pairs[k],
		                                      .bw_ab = link_bw * (1 + 0.02 * (double)k),
		                                      .bw_ba = link_bw,
		                                      .latency_s = 50e-6};
	tl_link_sched_free(&s);
	return d;
}

static void doctor_free(struct tl_doctor *d)
{
	free(d->nodes);
	free(d->links);
	free(d->groups);
	free(d);
}

static struct tl_doctor_link *link_of(struct tl_doctor *d, uint32_t a, uint32_t b)
{
	for (size_t k = 0; k < d->nlinks; k++)
		if (d->links[k].pair.a == a && d->links[k].pair.b == b)
			return &d->links[k];
	fail();
	return NULL;
}

static void verdict_healthy(void **state)
{
	struct tl_doctor *d = healthy(4, 25e6);
	size_t n;

	(void)state;
	tl_doctor_judge(d);
	assert_false(tl_doctor_unhealthy(d));
	for (uint32_t i = 0; i < 4; i++)
		for (int m = 0; m < TL_NODE_METRICS; m++)
			assert_int_equal(d->nodes[i].verdict[m], TL_VERDICT_OK);
	const char **bad = tl_doctor_bad_hosts(d, &n);
	assert_int_equal(n, 0);
	free(bad);
	char *sum = tl_doctor_summary(d);
	assert_string_equal(sum, "doctor: healthy: 4 nodes, 6 links, 0 groups; nothing named");
	free(sum);
	doctor_free(d);
}

/* node3 (index 2) at 1/10 on every link: node3 is a slow node for its links, no link named on
 * its own, no other node named. */
static void verdict_slow_node_link(void **state)
{
	struct tl_doctor *d = healthy(4, 25e6);
	size_t n;

	(void)state;
	for (size_t k = 0; k < d->nlinks; k++)
		if (d->links[k].pair.a == 2 || d->links[k].pair.b == 2)
			d->links[k].bw_ab = d->links[k].bw_ba = 2.5e6;
	tl_doctor_judge(d);
	assert_true(tl_doctor_unhealthy(d));
	assert_float_equal(d->nodes[2].value[TL_NODE_LINK], 2.5e6, 1e-3);
	assert_int_equal(d->nodes[2].verdict[TL_NODE_LINK], TL_VERDICT_SLOW);
	assert_int_equal(d->nodes[2].verdict[TL_NODE_GEMM], TL_VERDICT_OK);
	for (uint32_t i = 0; i < 4; i++)
		if (i != 2)
			assert_int_equal(d->nodes[i].verdict[TL_NODE_LINK], TL_VERDICT_OK);
	/* the reference is the links between the other three: 25 MB/s */
	assert_float_equal(d->link_fleet.median, 25e6, 1e-3);
	assert_int_equal(d->link_fleet.n, 3);
	for (size_t k = 0; k < d->nlinks; k++) {
		bool on3 = d->links[k].pair.a == 2 || d->links[k].pair.b == 2;
		assert_int_equal(d->links[k].verdict, on3 ? TL_VERDICT_SLOW : TL_VERDICT_OK);
		assert_int_equal(d->links[k].explained, on3);
	}
	const char **bad = tl_doctor_bad_hosts(d, &n);
	assert_int_equal(n, 1);
	assert_string_equal(bad[0], "node3");
	free(bad);
	char *sum = tl_doctor_summary(d);
	assert_string_equal(sum, "doctor: named: node node3 (link slow: every link slow, its NIC "
	                         "or port)");
	free(sum);
	doctor_free(d);
}

/* only node2 ↔ node4 slow: the link is named, neither node. */
static void verdict_slow_pair(void **state)
{
	struct tl_doctor *d = healthy(4, 25e6);
	size_t n;

	(void)state;
	struct tl_doctor_link *l = link_of(d, 1, 3);
	l->bw_ab = l->bw_ba = 2.5e6;
	tl_doctor_judge(d);
	assert_true(tl_doctor_unhealthy(d));
	for (uint32_t i = 0; i < 4; i++)
		for (int m = 0; m < TL_NODE_METRICS; m++)
			assert_int_equal(d->nodes[i].verdict[m], TL_VERDICT_OK);
	assert_int_equal(l->verdict, TL_VERDICT_SLOW);
	assert_false(l->explained);
	const char **bad = tl_doctor_bad_hosts(d, &n);
	assert_int_equal(n, 0);
	free(bad);
	char *sum = tl_doctor_summary(d);
	assert_string_equal(sum, "doctor: named: link node2-node4 (slow: this pair only: cable or "
	                         "switch path)");
	free(sum);
	doctor_free(d);
}

/* node2's GEMM at a fifth: node2 named for compute, its links fine. A failed data check names
 * the link as failed. */
static void verdict_slow_compute_and_failed(void **state)
{
	struct tl_doctor *d = healthy(4, 25e6);
	size_t n;

	(void)state;
	d->nodes[1].value[TL_NODE_GEMM] = 10e9;
	tl_doctor_judge(d);
	assert_int_equal(d->nodes[1].verdict[TL_NODE_GEMM], TL_VERDICT_SLOW);
	assert_int_equal(d->nodes[1].verdict[TL_NODE_TRIAD], TL_VERDICT_OK);
	assert_int_equal(d->nodes[1].verdict[TL_NODE_LINK], TL_VERDICT_OK);
	const char **bad = tl_doctor_bad_hosts(d, &n);
	assert_int_equal(n, 1);
	assert_string_equal(bad[0], "node2");
	free(bad);
	char *sum = tl_doctor_summary(d);
	assert_string_equal(sum, "doctor: named: node node2 (gemm slow)");
	free(sum);

	/* its links slow too (a starved CPU drives TCP slowly): put down to its compute */
	for (size_t k = 0; k < d->nlinks; k++)
		if (d->links[k].pair.a == 1 || d->links[k].pair.b == 1)
			d->links[k].bw_ab = d->links[k].bw_ba = 10e6;
	tl_doctor_judge(d);
	assert_int_equal(d->nodes[1].verdict[TL_NODE_LINK], TL_VERDICT_SLOW);
	assert_true(d->nodes[1].link_explained);
	assert_true(link_of(d, 0, 1)->explained);
	sum = tl_doctor_summary(d);
	assert_string_equal(sum, "doctor: named: node node2 (gemm slow; its links slow too, put "
	                         "down to its compute)");
	free(sum);
	bad = tl_doctor_bad_hosts(d, &n);
	assert_int_equal(n, 1);
	free(bad);

	for (size_t k = 0; k < d->nlinks; k++)
		d->links[k].bw_ab = d->links[k].bw_ba = 25e6;
	d->nodes[1].value[TL_NODE_GEMM] = 50e9;
	link_of(d, 0, 1)->failed = true;
	tl_doctor_judge(d);
	assert_int_equal(link_of(d, 0, 1)->verdict, TL_VERDICT_FAILED);
	assert_true(tl_doctor_unhealthy(d));
	doctor_free(d);
}

/* Groups: judged against peers of the same kind; one holding a slow node is explained. */
static void verdict_groups(void **state)
{
	struct tl_doctor *d = healthy(4, 25e6);

	(void)state;
	d->ngroups = 4;
	d->groups = calloc(4, sizeof(*d->groups));
	assert_non_null(d->groups);
	static const char *const hosts[] = {"node1", "node2", "node3", "node4"};
	for (uint32_t g = 0; g < 4; g++) {
		d->groups[g] = (struct tl_doctor_group){
		    .group = 1, .index = g, .kind = 2, .bytes = 1 << 20, .size = 2, .busbw = 5e9};
		snprintf(d->groups[g].hosts, sizeof(d->groups[g].hosts), "%s", hosts[g]);
	}
	d->groups[2].busbw = 1e9;
	tl_doctor_judge(d);
	assert_int_equal(d->groups[2].verdict, TL_VERDICT_SLOW);
	assert_false(d->groups[2].explained);
	assert_int_equal(d->groups[0].verdict, TL_VERDICT_OK);
	assert_true(tl_doctor_unhealthy(d));
	/* node3 slow in GEMM: its group's slowness is put down to it */
	d->nodes[2].value[TL_NODE_GEMM] = 1e9;
	tl_doctor_judge(d);
	assert_true(d->groups[2].explained);
	doctor_free(d);
}

/* ---- hostlists ---- */

static void hostlist(void **state)
{
	static const struct {
		const char *hosts[8];
		const char *want;
	} cases[] = {
	    {{"node3"}, "node3"},
	    {{"node8", "node3", "node7"}, "node[3,7-8]"},
	    {{"node1", "node2", "node3", "node5", "node2"}, "node[1-3,5]"},
	    {{"gpu01", "gpu02", "login1", "gpu10"}, "gpu[01-02,10],login1"},
	    {{"node09", "node10", "node11"}, "node[09-11]"},
	    {{"node9", "node10"}, "node[9-10]"},
	    {{"a", "b1", "a", "rack1-n4", "rack1-n3"}, "a,b1,rack1-n[3-4]"},
	    {{"n007", "n7"}, "n007,n7"},
	};

	(void)state;
	for (size_t c = 0; c < sizeof(cases) / sizeof(*cases); c++) {
		size_t n = 0;
		while (n < 8 && cases[c].hosts[n])
			n++;
		char *got = tl_hostlist_compress(cases[c].hosts, n);
		assert_non_null(got);
		assert_string_equal(got, cases[c].want);
		free(got);
	}
	char *none = tl_hostlist_compress(NULL, 0);
	assert_string_equal(none, "");
	free(none);
}

static void json_has_every_measurement(void **state)
{
	struct tl_doctor *d = healthy(3, 25e6);

	(void)state;
	tl_doctor_judge(d);
	json_t *doc = tl_doctor_json(d);
	assert_int_equal(json_array_size(json_object_get(doc, "nodes")), 3);
	assert_int_equal(json_array_size(json_object_get(doc, "links")), 3);
	assert_true(json_is_true(json_object_get(doc, "healthy")));
	json_t *l = json_array_get(json_object_get(doc, "links"), 0);
	/* the tournament of 3 starts with node2-node3 (node1 rests: the bye) */
	assert_string_equal(json_string_value(json_object_get(l, "a")), "node2");
	assert_string_equal(json_string_value(json_object_get(l, "b")), "node3");
	assert_float_equal(json_real_value(json_object_get(l, "bytes_per_s")), 25e6, 1e-3);
	json_decref(doc);
	doctor_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(tournament_covers_every_pair_once),
	    cmocka_unit_test(tournament_four_nodes),
	    cmocka_unit_test(ring_rounds),
	    cmocka_unit_test(probes_localize_slow_ring_links),
	    cmocka_unit_test(mode_parse_and_pick),
	    cmocka_unit_test(fleet_median_mad_floor),
	    cmocka_unit_test(verdict_healthy),
	    cmocka_unit_test(verdict_slow_node_link),
	    cmocka_unit_test(verdict_slow_pair),
	    cmocka_unit_test(verdict_slow_compute_and_failed),
	    cmocka_unit_test(verdict_groups),
	    cmocka_unit_test(hostlist),
	    cmocka_unit_test(json_has_every_measurement),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
