/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * trainload doctor (docs/doctor.md): which node or link of an allocation is sick. The pure part:
 * the link schedule (which node pairs measure their link in which round), the fleet judgement
 * (a value against the fleet's median and robust spread) and the verdict (slow node, slow link,
 * slow group), with its table and JSON. No MPI here: src/doctor.c measures, on the ranks.
 */
#ifndef TRAINLOAD_DOCTOR_H
#define TRAINLOAD_DOCTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* ---- the link schedule ---- */

enum tl_links_mode { TL_LINKS_AUTO, TL_LINKS_TOURNAMENT, TL_LINKS_RING };

/* auto takes the tournament (every pair: N-1 rounds) up to this many nodes, the ring (2 or 3
 * rounds, then probes of the slow links) above. */
#define TL_LINKS_TOURNAMENT_MAX_NODES 64

struct tl_pair {
	uint32_t a, b; /* node indices, a < b */
};

/* Rounds of disjoint pairs: round r is pairs[start[r] .. start[r + 1]). */
struct tl_link_sched {
	uint32_t nodes;
	uint32_t rounds;
	uint32_t *start; /* rounds + 1 entries */
	struct tl_pair *pairs;
};

/* "auto", "tournament", "ring": 0, or -1 for another word. */
int tl_links_mode_parse(const char *word, enum tl_links_mode *mode);
const char *tl_links_mode_name(enum tl_links_mode mode);
/* The mode auto stands for at this many nodes. */
enum tl_links_mode tl_links_mode_pick(enum tl_links_mode mode, uint32_t nodes);

/*
 * The round-robin tournament (the circle method): every pair of nodes exactly once, ⌊N/2⌋
 * disjoint pairs per round, N-1 rounds for even N; odd N has N rounds of (N-1)/2 pairs, one node
 * resting (the bye) in each. Returns 0 or TL_ENOMEM.
 */
int tl_links_tournament(uint32_t nodes, struct tl_link_sched *s);
/* The ring i ↔ i+1 (mod N): 2 rounds of disjoint pairs for even N, 3 for odd N (the closing link
 * alone), 1 link for N = 2, none for N < 2. Each pair measures both directions. */
int tl_links_ring(uint32_t nodes, struct tl_link_sched *s);
/*
 * After the ring: the probes that localize each slow ring link. Each endpoint of a slow link is
 * paired with a node on no slow link (the healthy nodes, in turn), so that every endpoint gets a
 * third measurement against a known-good peer: a slow NIC is slow there too, a slow link is not.
 * Pairs are packed greedily into rounds of disjoint pairs. slow[i] marks ring link i (between
 * i and i+1 mod N). No probe is possible when every node is on a slow link (s has no rounds).
 */
int tl_links_probes(uint32_t nodes, const bool *slow, struct tl_link_sched *s);
void tl_link_sched_free(struct tl_link_sched *s);

/* ---- the fleet judgement ---- */

/* A fleet needs this many members before one of them can be told apart from the rest. */
#define TL_FLEET_MIN 3
/* Robust spread: σ = 1.4826 · MAD (the normal distribution's σ for a MAD); a value is slow past
 * this many σ below the median ... */
#define TL_FLEET_SIGMAS 4.0
/* ... and more than this fraction of the median below it: a quiet fleet (MAD near 0) names
 * nothing within this of the median, however many σ that is ... */
#define TL_FLEET_FLOOR 0.5
/* ... while a value more than this fraction of the median below it is slow however noisy the
 * fleet: the σ term never asks for more (a node at a tenth of its peers is slow even where its
 * three peers spread widely). */
#define TL_FLEET_CEILING 0.8

struct tl_fleet {
	size_t n; /* members judged */
	double median;
	double sigma; /* 1.4826 · MAD */
	double limit; /* values below it are slow (higher is better); 0 with fewer than
	               * TL_FLEET_MIN members: not judged */
};

/* The fleet of n values (n may be 0) but values[skip] (skip >= n: all of them). A member is
 * judged against the fleet without itself (leave-one-out): a sick member of a small fleet would
 * otherwise widen the very spread it is judged by. */
void tl_fleet_judge(const double *values, size_t n, size_t skip, struct tl_fleet *f);
/* Whether value is slow in fleet f. */
bool tl_fleet_slow(const struct tl_fleet *f, double value);

/* ---- the measurements and the verdict ---- */

enum tl_verdict { TL_VERDICT_OK, TL_VERDICT_SLOW, TL_VERDICT_FAILED, TL_VERDICT_UNJUDGED };
const char *tl_verdict_name(enum tl_verdict v); /* "ok", "slow", "failed", "not judged" */

/* What a node measures alone, all nodes at once; then its links' figure. */
enum tl_node_metric { TL_NODE_GEMM, TL_NODE_TRIAD, TL_NODE_LINK, TL_NODE_METRICS };

struct tl_doctor_node {
	char host[64];
	double value[TL_NODE_METRICS]; /* GEMM FLOP/s, triad bytes/s, the median of its links'
	                                * bandwidth (bytes/s) */
	bool failed;                   /* a rank of it failed a data check */
	enum tl_verdict verdict[TL_NODE_METRICS];
	bool link_explained; /* its links are slow, and so is its compute: over a transport the
	                      * CPU drives (TCP), a starved CPU is the cause */
};

struct tl_doctor_link {
	struct tl_pair pair;
	uint32_t round;
	bool probe;          /* measured after the ring, to localize a slow ring link */
	double bw_ab, bw_ba; /* bytes/s, a → b and b → a */
	double latency_s;    /* half the round trip of a small message, best of a few */
	bool failed;         /* the data received was wrong */
	enum tl_verdict verdict;
	bool explained; /* slow, but an endpoint is a slow node: the node is named, not it */
};

/* A collective on one group of the job's layout, judged against the other groups of its kind. */
struct tl_doctor_group {
	int group;       /* TL_GROUP_* */
	uint32_t index;  /* which of them */
	char hosts[256]; /* its hosts, comma-separated */
	int kind;        /* enum tl_op_kind */
	uint64_t bytes;
	uint64_t size; /* ranks */
	double busbw;  /* bytes/s */
	bool failed;
	enum tl_verdict verdict;
	bool explained;
};

struct tl_doctor {
	uint32_t nnodes;
	struct tl_doctor_node *nodes;
	size_t nlinks, cap_links;
	struct tl_doctor_link *links;
	size_t ngroups;
	struct tl_doctor_group *groups;
	enum tl_links_mode links_mode; /* as run */
	bool quick;
	struct tl_fleet node_fleet[TL_NODE_METRICS];
	struct tl_fleet link_fleet;
	double elapsed_s;
	char hang[512]; /* "" or what the hang check found: the hosts that did not arrive */
};

/* The link's figure: the slower direction. */
double tl_doctor_link_bw(const struct tl_doctor_link *l);
/*
 * Judge everything (docs/doctor.md, "Verdicts"): each node's GEMM and triad rates against the
 * fleet's; each node's link figure (the median of its links) against the fleet's, so that a node
 * whose links are all slow is a slow node (its NIC, its port), unless its compute is slow too
 * (then its links are put down to its CPU: link_explained); each link against the links
 * between nodes not found slow, and a slow link with a slow endpoint is put down to that node
 * (explained), one without is a slow link (cable, switch port); each group's busbw against the
 * other groups of its kind and size, a slow group explained when it holds a named node. Failed
 * data checks are failed, whatever the speed.
 */
void tl_doctor_judge(struct tl_doctor *d);
/* Something is named: a slow or failed node, link or group that is not explained. */
bool tl_doctor_unhealthy(const struct tl_doctor *d);
/* The hosts the verdict names (nodes slow or failed in any measurement), for an exclude list:
 * a malloc'd array of pointers into d (its count in *n), or NULL with *n = 0. */
const char **tl_doctor_bad_hosts(const struct tl_doctor *d, size_t *n);

/* The table (host, measurement, value, fleet median, distance, verdict) and the summary line. */
void tl_doctor_print(const struct tl_doctor *d, FILE *out);
/* One line: "doctor: healthy: 4 nodes, 6 links, 1 group" or "doctor: named: node3 (slow link
 * bandwidth), link node2-node4 (slow)". Malloc'd; NULL when out of memory. */
char *tl_doctor_summary(const struct tl_doctor *d);
/* Every measurement, with its fleet and verdict. */
json_t *tl_doctor_json(const struct tl_doctor *d);

/* ---- the command ---- */

/* "trainload doctor ...": argv[0] is "doctor". Returns the exit status (0 healthy, 1 something
 * named or failed, 2 bad input, 3 a hang). In src/doctor.c. */
int tl_doctor_main(int argc, char **argv);

#endif
