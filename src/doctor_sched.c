/* SPDX-License-Identifier: BSD-3-Clause */
/* The doctor's link schedule (include/trainload/doctor.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "trainload/doctor.h"
#include "trainload/log.h"

static const char *const mode_names[] = {"auto", "tournament", "ring"};

int tl_links_mode_parse(const char *word, enum tl_links_mode *mode)
{
	for (int i = 0; i < (int)(sizeof(mode_names) / sizeof(*mode_names)); i++)
		if (!strcmp(word, mode_names[i])) {
			*mode = (enum tl_links_mode)i;
			return 0;
		}
	return -1;
}

const char *tl_links_mode_name(enum tl_links_mode mode)
{
	return mode_names[mode];
}

enum tl_links_mode tl_links_mode_pick(enum tl_links_mode mode, uint32_t nodes)
{
	if (mode != TL_LINKS_AUTO)
		return mode;
	return nodes <= TL_LINKS_TOURNAMENT_MAX_NODES ? TL_LINKS_TOURNAMENT : TL_LINKS_RING;
}

/* Room for rounds rounds of at most pairs pairs in all. */
static int sched_alloc(struct tl_link_sched *s, uint32_t nodes, uint32_t rounds, size_t pairs)
{
	*s = (struct tl_link_sched){.nodes = nodes};
	/* start[rounds + 1]: where the round being filled ends */
	s->start = calloc((size_t)rounds + 2, sizeof(*s->start));
	s->pairs = calloc(pairs + 1, sizeof(*s->pairs));
	if (!s->start || !s->pairs) {
		tl_link_sched_free(s);
		return TL_ENOMEM;
	}
	return 0;
}

static void add_pair(struct tl_link_sched *s, uint32_t a, uint32_t b)
{
	s->pairs[s->start[s->rounds + 1]++] = (struct tl_pair){a < b ? a : b, a < b ? b : a};
}

/* Close the round being filled: the next one starts where it ends. */
static void end_round(struct tl_link_sched *s)
{
	s->rounds++;
	s->start[s->rounds + 1] = s->start[s->rounds];
}

int tl_links_tournament(uint32_t nodes, struct tl_link_sched *s)
{
	/* Odd N plays as N + 1 with a phantom: whoever meets it rests that round. */
	uint32_t m = nodes % 2 ? nodes + 1 : nodes, rounds = nodes > 1 ? m - 1 : 0;
	int rc = sched_alloc(s, nodes, rounds, (size_t)nodes * (nodes > 0 ? nodes - 1 : 0) / 2);

	if (rc)
		return rc;
	/* The circle method: m - 1 sits still, the others turn one place a round; in round r it
	 * meets r, and r - i meets r + i. */
	for (uint32_t r = 0; r < rounds; r++) {
		if (m - 1 < nodes)
			add_pair(s, r, m - 1);
		for (uint32_t i = 1; i < m / 2; i++)
			add_pair(s, (r + i) % (m - 1), (r + (m - 1) - i) % (m - 1));
		end_round(s);
	}
	return 0;
}

int tl_links_ring(uint32_t nodes, struct tl_link_sched *s)
{
	uint32_t links = nodes < 2 ? 0 : nodes == 2 ? 1 : nodes;
	uint32_t rounds = links == 0 ? 0 : links == 1 ? 1 : nodes % 2 ? 3 : 2;
	int rc = sched_alloc(s, nodes, rounds, links);

	if (rc || !links)
		return rc;
	/* Even links i ↔ i+1 first, then the odd ones; with odd N the closing link N-1 ↔ 0
	 * would share node 0 with link 0, so it has a round of its own. */
	for (uint32_t parity = 0; parity < 2; parity++) {
		for (uint32_t i = parity; i + 1 < nodes; i += 2)
			add_pair(s, i, i + 1);
		if (parity == 1 && nodes > 2 && nodes % 2 == 0)
			add_pair(s, nodes - 1, 0);
		if (s->start[s->rounds + 1] > s->start[s->rounds])
			end_round(s);
	}
	if (nodes > 2 && nodes % 2) {
		add_pair(s, nodes - 1, 0);
		end_round(s);
	}
	return 0;
}

int tl_links_probes(uint32_t nodes, const bool *slow, struct tl_link_sched *s)
{
	bool *on_slow = calloc((size_t)nodes + 1, sizeof(*on_slow));
	uint32_t *want = calloc((size_t)nodes * 2 + 1, sizeof(*want)); /* endpoint, healthy */
	uint32_t nwant = 0, healthy = 0, links = nodes < 2 ? 0 : nodes == 2 ? 1 : nodes;
	int rc = TL_ENOMEM;

	if (!on_slow || !want)
		goto out;
	for (uint32_t i = 0; i < links; i++)
		if (slow[i])
			on_slow[i] = on_slow[(i + 1) % nodes] = true;
	for (uint32_t i = 0; i < nodes; i++)
		healthy += !on_slow[i];
	rc = sched_alloc(s, nodes, nodes, healthy ? nodes : 0);
	if (rc || !healthy)
		goto out;
	/* Endpoints and their good peers, the healthy nodes dealt out in turn. */
	for (uint32_t i = 0, h = 0; i < nodes; i++) {
		if (!on_slow[i])
			continue;
		while (on_slow[h % nodes])
			h++;
		want[2 * nwant] = i;
		want[2 * nwant + 1] = h++ % nodes;
		nwant++;
	}
	/* Greedy rounds: each takes the pending pairs whose nodes are still free in it. */
	bool *busy = on_slow; /* reused: no longer needed */
	uint32_t left = nwant;
	while (left) {
		memset(busy, 0, (size_t)nodes * sizeof(*busy));
		for (uint32_t k = 0; k < nwant; k++) {
			uint32_t a = want[2 * k], b = want[2 * k + 1];
			if (a == UINT32_MAX || busy[a] || busy[b])
				continue;
			busy[a] = busy[b] = true;
			add_pair(s, a, b);
			want[2 * k] = UINT32_MAX;
			left--;
		}
		end_round(s);
	}
out:
	free(on_slow);
	free(want);
	return rc;
}

void tl_link_sched_free(struct tl_link_sched *s)
{
	free(s->start);
	free(s->pairs);
	*s = (struct tl_link_sched){0};
}
