/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * trainload doctor (include/trainload/doctor.h, docs/doctor.md): on every rank of the job's
 * layout, the job's GEMMs and a STREAM triad, all nodes at once; then the links between nodes in
 * rounds of disjoint pairs, one rank per node (the others idle); then a collective on every group
 * of the layout. Rank 0 gathers, judges (src/doctor_verdict.c) and reports.
 *
 * Between phases and rounds the ranks meet at a checkpoint that rank 0 holds to a deadline
 * (--timeout): a rank that does not arrive, stopped or dead, is named with its host, and the job
 * ends with exit status 3. Inside a phase, the watchdog (src/watchdog.c) does the same for a rank
 * stuck with a peer, whose host its record names.
 */
/* sched_getaffinity, CPU_COUNT */
#define _GNU_SOURCE
#include "config.h"

#include <cblas.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <mpi.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backends/registry.h"
#include "mpi_check.h"
#include "trainload/backend.h"
#include "trainload/cli.h"
#include "trainload/doctor.h"
#include "trainload/exec.h"
#include "trainload/hostlist.h"
#include "trainload/log.h"
#include "trainload/metrics.h"
#include "trainload/result.h"
#include "trainload/stats.h"
#include "trainload/watchdog.h"

#define HOST_LEN 64
/* Without --timeout: how long a checkpoint waits for a rank, and the watchdog's timeout_s. */
#define DEFAULT_TIMEOUT_S 60
/* Link phase: message size and how long each direction of a link is measured (at least one
 * message), full and --quick. */
#define LINK_BYTES          (1u << 20)
#define LINK_BYTES_QUICK    (256u << 10)
#define LINK_BUDGET_S       0.3
#define LINK_BUDGET_QUICK_S 0.1
#define LATENCY_REPS        10
/* Compute phase: distinct GEMM shapes of the plan timed; each of them, and the triad, runs again
 * and again for this long (once at least) in each of a few windows (sustained()). */
#define GEMM_SHAPES            4
#define GEMM_SHAPES_QUICK      2
#define COMPUTE_BUDGET_S       0.3
#define COMPUTE_BUDGET_QUICK_S 0.1
#define COMPUTE_WINDOWS        3
/* Collectives: timed runs after one warm-up, the best kept; --quick times one run, no warm-up
 * (a group over a slow link can take seconds a run). */
#define REPS 2
/* Triad arrays: elements of each of a, b, c (8 bytes each). */
#define TRIAD_ELEMS       (2u << 20)
#define TRIAD_ELEMS_QUICK (512u << 10)
/* The groups of the layout whose collectives are timed, in this order. */
static const int coll_groups[] = {TL_GROUP_TP, TL_GROUP_CP, TL_GROUP_DP, TL_GROUP_EP};
#define NCOLL ((int)(sizeof(coll_groups) / sizeof(*coll_groups)))

enum { TAG_LATENCY = 70, TAG_DATA, TAG_ACK, TAG_ARRIVE };

struct opts {
	struct tl_cli cli; /* the job: file and --set */
	const char *exclude_list;
	bool quick;
	enum tl_links_mode links;
	uint64_t timeout_s;
	char why[256]; /* bad input found on the command line */
};

/* What a leader measured on one link, from its side. */
struct link_rec {
	uint32_t me, peer, round;
	int32_t probe, failed_in; /* failed_in: what it received was wrong */
	double bw_out;            /* bytes/s, me → peer */
	double latency_s;
};

/* One rank's collective on one group. */
struct coll_rec {
	int32_t group, kind, valid;
	uint32_t first; /* the group's first world rank: its key */
	uint64_t bytes, size;
	double time_s; /* best of the repetitions */
};

struct doc {
	struct opts *o;
	const struct tl_job *job;
	struct tl_model model;
	struct tl_grid grid;
	struct tl_plan plan;
	struct tl_backend be;
	int rank, ranks;
	uint32_t nodes, my_node;
	bool leader;
	MPI_Comm leaders;        /* one rank per node, ranked by node */
	char (*hosts)[HOST_LEN]; /* per rank */
	uint32_t *node_of_rank;
	uint32_t *leader_of_node;          /* world rank */
	char (*link_phase)[HOST_LEN + 32]; /* per node: "doctor link with HOST" (watchdog) */
	struct link_rec *links;            /* mine */
	size_t nlinks, cap_links;
	struct tl_doctor d; /* rank 0 */
	double start;
};

static void usage(FILE *out)
{
	fprintf(
	    out,
	    "Usage: mpirun -np N trainload doctor [options] [JOBFILE]\n"
	    "       srun trainload doctor [options] [JOBFILE]\n"
	    "\n"
	    "Finds the slow node or link of an allocation: every node runs the job's GEMMs and a\n"
	    "STREAM triad at once; then one rank per node measures point-to-point bandwidth and\n"
	    "latency to other nodes in rounds of disjoint pairs; then every group of the job's\n"
	    "layout (tp, cp, dp, ep) runs its largest collective. Each figure is judged against\n"
	    "the fleet's median and spread (MAD). Without JOBFILE: the built-in default job.\n"
	    "\n"
	    "Options:\n"
	    "  -s, --set SECTION.KEY=VALUE  override a job key (repeatable)\n"
	    "  -o, --output FILE.json       write every measurement and verdict to FILE.json\n"
	    "      --exclude-list FILE      write the named hosts as a Slurm hostlist expression\n"
	    "                               (node[3,7-8]; empty when none) for sbatch --exclude\n"
	    "      --links auto|tournament|ring  which pairs measure their link: every pair in\n"
	    "                               N-1 rounds, or the ring in 2-3 rounds and probes of\n"
	    "                               its slow links (default auto: tournament up to %d\n"
	    "                               nodes)\n"
	    "      --quick                  smaller and fewer measurements: a pre-job check\n"
	    "      --timeout S              a rank that makes no progress for S seconds is named\n"
	    "                               and the job ends with exit status 3 (default %d)\n"
	    "  -q, --quiet                  no table on stdout\n"
	    "  -h, --help                   this text\n"
	    "\n"
	    "Exit status: 0 healthy, 1 something named (or the run failed), 2 bad input,\n"
	    "3 a rank hung or died (named). See trainload(1), docs/doctor.md.\n",
	    TL_LINKS_TOURNAMENT_MAX_NODES, DEFAULT_TIMEOUT_S);
}

/* 0, 1 (help: exit 0) or TL_EINPUT with o->why set. */
static int parse(struct opts *o, int argc, char **argv)
{
	enum { OPT_EXCLUDE = 256, OPT_LINKS, OPT_QUICK, OPT_TIMEOUT };
	static const struct option longopts[] = {
	    {"set", required_argument, NULL, 's'},
	    {"output", required_argument, NULL, 'o'},
	    {"exclude-list", required_argument, NULL, OPT_EXCLUDE},
	    {"links", required_argument, NULL, OPT_LINKS},
	    {"quick", no_argument, NULL, OPT_QUICK},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int c;

	o->cli.sets = calloc((size_t)argc + 1, sizeof(*o->cli.sets));
	if (!o->cli.sets)
		return TL_ENOMEM;
	o->timeout_s = DEFAULT_TIMEOUT_S;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":s:o:qh", longopts, NULL)) != -1) {
		const char *why = NULL;
		switch (c) {
		case 's':
			o->cli.sets[o->cli.nsets++] = optarg;
			break;
		case 'o':
			if (!*optarg || optarg[strlen(optarg) - 1] == '/') {
				snprintf(o->why, sizeof(o->why),
				         "--output '%s': expected a file name (FILE.json)", optarg);
				return TL_EINPUT;
			}
			o->cli.run.output = optarg;
			break;
		case OPT_EXCLUDE:
			if (!*optarg) {
				snprintf(o->why, sizeof(o->why),
				         "--exclude-list '': expected a file name");
				return TL_EINPUT;
			}
			o->exclude_list = optarg;
			break;
		case OPT_LINKS:
			if (tl_links_mode_parse(optarg, &o->links)) {
				snprintf(o->why, sizeof(o->why),
				         "--links %s: expected auto, tournament or ring", optarg);
				return TL_EINPUT;
			}
			break;
		case OPT_QUICK:
			o->quick = true;
			break;
		case OPT_TIMEOUT:
			if (tl_parse_uint(optarg, &o->timeout_s, &why) || o->timeout_s == 0 ||
			    o->timeout_s > 86400) {
				snprintf(o->why, sizeof(o->why), "--timeout %s: %s", optarg,
				         why ? why : "expected 1 to 86400 seconds");
				return TL_EINPUT;
			}
			break;
		case 'q':
			o->cli.run.quiet = true;
			break;
		case 'h':
			if (tl_log_rank() == 0)
				usage(stdout);
			return 1;
		case ':':
			snprintf(o->why, sizeof(o->why), "option %s needs a value",
			         argv[optind - 1]);
			return TL_EINPUT;
		default:
			snprintf(o->why, sizeof(o->why),
			         "unknown option %s (try 'trainload doctor "
			         "--help')",
			         argv[optind - 1]);
			return TL_EINPUT;
		}
	}
	if (optind < argc)
		o->cli.job_file = argv[optind++];
	if (optind < argc) {
		snprintf(o->why, sizeof(o->why), "one job file at most (got '%s' too)",
		         argv[optind]);
		return TL_EINPUT;
	}
	return 0;
}

/* ---- checkpoints ---- */

/*
 * Every rank arrives; rank 0 waits for the others until timeout_s has passed, and names those
 * that did not arrive (a stopped or dead rank) with their hosts, writes what it can, and ends
 * the job (exit 3). The others wait for rank 0's word to go on.
 */
static void checkpoint(struct doc *dc, const char *stage)
{
	int go = 1;

	tl_watchdog_stage(stage, true);
	if (dc->rank != 0) {
		int one = 1;
		MPI_Send(&one, 1, MPI_INT, 0, TAG_ARRIVE, MPI_COMM_WORLD);
		MPI_Bcast(&go, 1, MPI_INT, 0, MPI_COMM_WORLD);
		return;
	}
	MPI_Request *req = calloc((size_t)dc->ranks, sizeof(*req));
	int *in = calloc((size_t)dc->ranks, sizeof(*in)), all = 0;
	double until = tl_now_s() + (double)dc->o->timeout_s;
	struct timespec nap = {0, 2000000};

	if (!req || !in) {
		fprintf(stderr, "trainload doctor: out of memory\n");
		MPI_Abort(MPI_COMM_WORLD, TL_EXIT_RUN_FAILED);
	}
	req[0] = MPI_REQUEST_NULL;
	for (int r = 1; r < dc->ranks; r++)
		MPI_Irecv(&in[r], 1, MPI_INT, r, TAG_ARRIVE, MPI_COMM_WORLD, &req[r]);
	/* MPI_Test each (MPI_Testall with MPI_STATUSES_IGNORE trips gcc's -Wstringop-overflow
	 * under MPICH's headers); a completed request becomes MPI_REQUEST_NULL. */
	while (!all && tl_now_s() < until) {
		all = 1;
		for (int r = 1; r < dc->ranks; r++) {
			int done = 0;
			MPI_Test(&req[r], &done, MPI_STATUS_IGNORE);
			all &= done;
		}
		if (!all)
			nanosleep(&nap, NULL);
	}
	if (!all) {
		size_t used = 0, cap = sizeof(dc->d.hang);
		used += (size_t)snprintf(dc->d.hang, cap,
		                         "did not reach the end of %s in %" PRIu64 " s:", stage,
		                         dc->o->timeout_s);
		for (int r = 1; r < dc->ranks && used < cap; r++) {
			int done = 0;
			MPI_Test(&req[r], &done, MPI_STATUS_IGNORE);
			if (!done)
				used += (size_t)snprintf(dc->d.hang + used, cap - used,
				                         " rank %d (%s)", r, dc->hosts[r]);
		}
		fprintf(stderr, "trainload doctor: %s: hung or dead\n", dc->d.hang);
		/* The hosts that did not arrive are what a resubmission must avoid. */
		if (dc->o->exclude_list) {
			const char **bad = calloc((size_t)dc->ranks + 1, sizeof(*bad));
			size_t n = 0;
			for (int r = 1; bad && r < dc->ranks; r++) {
				int done = 0;
				MPI_Test(&req[r], &done, MPI_STATUS_IGNORE);
				if (!done)
					bad[n++] = dc->hosts[r];
			}
			char *expr = bad ? tl_hostlist_compress(bad, n) : NULL;
			FILE *f = expr ? fopen(dc->o->exclude_list, "w") : NULL;
			if (f) {
				fprintf(f, "%s\n", expr);
				fclose(f);
			}
			free(expr);
			free(bad);
		}
		tl_stderr_drain();
		MPI_Abort(MPI_COMM_WORLD, TL_EXIT_WATCHDOG);
	}
	free(req);
	free(in);
	MPI_Bcast(&go, 1, MPI_INT, 0, MPI_COMM_WORLD);
}

/* ---- compute ---- */

static struct tl_where where_of(const char *what, const char *phase)
{
	return (struct tl_where){.what = what,
	                         .phase = phase,
	                         .group = -1,
	                         .step = -1,
	                         .microbatch = -1,
	                         .layer = -1,
	                         .peer = -1};
}

/*
 * Run work (a GEMM or a triad pass) once as a warm-up, then in COMPUTE_WINDOWS windows, each
 * running it again and again until budget_s has passed; the seconds per run of the best window
 * (the device's own where it reports them). A window spans several periods of a CPU quota, which
 * it so cannot hide; the best of a few is the node's, not the moments its cores were busy with
 * someone else's work.
 */
static int sustained(struct doc *dc, const struct tl_op *gemm, double *a, const double *b,
                     const double *c, size_t n, double *per_run_s)
{
	double budget = dc->o->quick ? COMPUTE_BUDGET_QUICK_S : COMPUTE_BUDGET_S, best = 0;
	struct tl_where w = where_of(gemm ? "gemm" : "triad", "doctor compute");

	w.compute = true;
	for (int win = -1; win < COMPUTE_WINDOWS; win++) { /* -1: the warm-up */
		double spent = 0;
		uint64_t runs = 0;
		while (runs == 0 || (win >= 0 && spent < budget)) {
			tl_watchdog_enter(&w);
			double t0 = tl_now_s();
			int rc = 0;
			if (gemm)
				rc = dc->be.ops->gemm(&dc->be, gemm, 0, gemm->gemm.m);
			else
				for (size_t k = 0; k < n; k++)
					a[k] = b[k] + 3.0 * c[k];
			double t = gemm && dc->be.ops->device_time
			               ? dc->be.ops->device_time(&dc->be)
			               : tl_now_s() - t0;
			tl_watchdog_leave();
			if (rc)
				return rc;
			spent += t;
			runs++;
		}
		double per_run = spent / (double)runs;
		if (win >= 0 && (best == 0 || per_run < best))
			best = per_run;
	}
	*per_run_s = best;
	return 0;
}

/* The GEMM rate of the job's own shapes: the plan's first distinct GEMMs, each sustained. */
static int gemm_rate(struct doc *dc, double *flops_per_s)
{
	const struct tl_op *shapes[GEMM_SHAPES];
	int nshapes = 0, max = dc->o->quick ? GEMM_SHAPES_QUICK : GEMM_SHAPES;
	double flops = 0, secs = 0;

	for (size_t i = 0; i < dc->plan.count && nshapes < max; i++) {
		const struct tl_op *op = &dc->plan.ops[i];
		bool seen = op->kind != TL_OP_GEMM;
		for (int j = 0; !seen && j < nshapes; j++)
			seen = shapes[j]->gemm.m == op->gemm.m && shapes[j]->gemm.n == op->gemm.n &&
			       shapes[j]->gemm.k == op->gemm.k &&
			       shapes[j]->gemm.batch == op->gemm.batch &&
			       shapes[j]->trans_a == op->trans_a &&
			       shapes[j]->trans_b == op->trans_b;
		if (!seen)
			shapes[nshapes++] = op;
	}
	for (int j = 0; j < nshapes; j++) {
		const struct tl_op *op = shapes[j];
		double t;
		int rc = sustained(dc, op, NULL, NULL, NULL, 0, &t);
		if (rc)
			return rc;
		flops += 2.0 * (double)op->gemm.m * (double)op->gemm.n * (double)op->gemm.k *
		         (double)op->gemm.batch;
		secs += t;
	}
	*flops_per_s = secs > 0 ? flops / secs : 0;
	return 0;
}

/* STREAM's triad a = b + s·c, sustained: 24 bytes moved per element. */
static int triad_rate(struct doc *dc, double *bytes_per_s)
{
	size_t n = dc->o->quick ? TRIAD_ELEMS_QUICK : TRIAD_ELEMS;
	double *a = malloc(n * sizeof(*a)), *b = malloc(n * sizeof(*b)),
	       *c = malloc(n * sizeof(*c)), t = 0;
	int rc = TL_ENOMEM;

	if (a && b && c) {
		for (size_t i = 0; i < n; i++) {
			a[i] = 0;
			b[i] = 1.0;
			c[i] = 2.0;
		}
		rc = sustained(dc, NULL, a, b, c, n, &t);
	}
	/* What the triad wrote is checked (and so cannot be optimised away). */
	bool wrong = !rc && a[n / 2] != 7.0;
	*bytes_per_s = !rc && t > 0 && !wrong ? 24.0 * (double)n / t : 0;
	free(a);
	free(b);
	free(c);
	return rc;
}

/* ---- links ---- */

/* The bytes a node sends: a pattern of its index, so that the receiver can check them. */
static unsigned char pattern(size_t i, uint32_t node)
{
	return (unsigned char)(i * 7u + node * 13u + 1u);
}

/* Latency: half the best round trip of a small message. */
static double latency(MPI_Comm comm, int peer, bool first)
{
	char byte = 0;
	double best = 0;

	for (int i = 0; i < LATENCY_REPS; i++) {
		double t0 = tl_now_s();
		if (first) {
			MPI_Send(&byte, 1, MPI_CHAR, peer, TAG_LATENCY, comm);
			MPI_Recv(&byte, 1, MPI_CHAR, peer, TAG_LATENCY, comm, MPI_STATUS_IGNORE);
		} else {
			MPI_Recv(&byte, 1, MPI_CHAR, peer, TAG_LATENCY, comm, MPI_STATUS_IGNORE);
			MPI_Send(&byte, 1, MPI_CHAR, peer, TAG_LATENCY, comm);
		}
		double t = (tl_now_s() - t0) / 2;
		if (i == 0 || t < best)
			best = t;
	}
	return best;
}

/*
 * One direction: the sender sends messages, each acknowledged, until its budget is spent (two at
 * least), then an empty one that ends it. Its rate is the best message's: on a shared machine a
 * message may wait for a CPU that is busy elsewhere, which says nothing of the link, while a slow
 * link slows every message. On the receiver: whether the data was wrong.
 */
static double stream(MPI_Comm comm, int peer, bool sending, unsigned char *buf, size_t bytes,
                     double budget_s, uint32_t peer_node, int *wrong)
{
	char ack = 0;
	double t0 = tl_now_s(), best = 0;

	if (sending) {
		for (int i = 0; i < 2 || tl_now_s() - t0 < budget_s; i++) {
			double m0 = tl_now_s();
			MPI_Send(buf, (int)bytes, MPI_BYTE, peer, TAG_DATA, comm);
			MPI_Recv(&ack, 1, MPI_CHAR, peer, TAG_ACK, comm, MPI_STATUS_IGNORE);
			double t = tl_now_s() - m0;
			if (t > 0 && (double)bytes / t > best)
				best = (double)bytes / t;
		}
		MPI_Send(buf, 0, MPI_BYTE, peer, TAG_DATA, comm);
		return best;
	}
	for (;;) {
		MPI_Status st;
		int got = 0;
		MPI_Recv(buf, (int)bytes, MPI_BYTE, peer, TAG_DATA, comm, &st);
		MPI_Get_count(&st, MPI_BYTE, &got);
		if (got == 0)
			return 0;
		for (size_t i = 0; i < (size_t)got && !*wrong; i++)
			*wrong = buf[i] != pattern(i, peer_node);
		*wrong |= (size_t)got != bytes;
		MPI_Send(&ack, 1, MPI_CHAR, peer, TAG_ACK, comm);
	}
}

/*
 * The doctor's own point-to-point transfer between two node leaders, in both directions: the
 * backend's send and recv ops serve the pipeline's peers of the job's grid, not any pair of
 * nodes, so the link phase calls MPI here (to move onto the p2p descriptors once they exist).
 */
static int tl_doctor_p2p_link(struct doc *dc, uint32_t peer_node, uint32_t round, bool probe,
                              unsigned char *out, unsigned char *in, size_t bytes)
{
	struct link_rec rec = {
	    .me = dc->my_node, .peer = peer_node, .round = round, .probe = probe};
	bool first = dc->my_node < peer_node;
	double budget = dc->o->quick ? LINK_BUDGET_QUICK_S : LINK_BUDGET_S;
	int wrong = 0, peer = (int)peer_node;
	struct tl_where w = where_of("link", dc->link_phase[peer_node]);

	w.peer = dc->leader_of_node[peer_node];
	w.bytes = bytes;
	tl_watchdog_enter(&w);
	rec.latency_s = latency(dc->leaders, peer, first);
	for (int dir = 0; dir < 2; dir++) {
		bool sending = (dir == 0) == first;
		double bw = stream(dc->leaders, peer, sending, sending ? out : in, bytes, budget,
		                   peer_node, &wrong);
		if (sending)
			rec.bw_out = bw;
		tl_watchdog_leave();
	}
	rec.failed_in = wrong;
	if (dc->nlinks == dc->cap_links) {
		size_t cap = dc->cap_links ? 2 * dc->cap_links : 16;
		struct link_rec *grown = realloc(dc->links, cap * sizeof(*grown));
		if (!grown)
			return TL_ENOMEM;
		dc->links = grown;
		dc->cap_links = cap;
	}
	dc->links[dc->nlinks++] = rec;
	return 0;
}

static int run_rounds(struct doc *dc, const struct tl_link_sched *s, uint32_t first_round,
                      bool probe)
{
	size_t bytes = dc->o->quick ? LINK_BYTES_QUICK : LINK_BYTES;
	unsigned char *out = NULL, *in = NULL;
	int rc = 0;

	if (dc->leader && (!(out = malloc(bytes)) || !(in = malloc(bytes)))) {
		free(out);
		return TL_ENOMEM;
	}
	for (size_t i = 0; out && i < bytes; i++)
		out[i] = pattern(i, dc->my_node);
	for (uint32_t r = 0; r < s->rounds && !rc; r++) {
		checkpoint(dc, "doctor link round");
		for (uint32_t k = s->start[r]; dc->leader && k < s->start[r + 1] && !rc; k++) {
			struct tl_pair p = s->pairs[k];
			if (p.a == dc->my_node || p.b == dc->my_node)
				rc = tl_doctor_p2p_link(dc, p.a == dc->my_node ? p.b : p.a,
				                        first_round + r, probe, out, in, bytes);
		}
	}
	free(out);
	free(in);
	return rc;
}

/* Rank 0 takes the leaders' link records into d->links (a pair's two records make one link). */
static int gather_links(struct doc *dc)
{
	int total = 0;
	void *bytes = NULL;

	if (!dc->leader)
		return 0;
	int rc = tl_stats_gather_bytes(dc->links, (int)(dc->nlinks * sizeof(*dc->links)), &bytes,
	                               &total, dc->leaders);
	dc->nlinks = 0; /* the next stage's records are new ones */
	if (rc || dc->rank != 0)
		return rc;
	const struct link_rec *all = bytes;
	struct tl_doctor *d = &dc->d;
	size_t nrec = (size_t)total / sizeof(*all);
	for (size_t i = 0; i < nrec; i++) {
		const struct link_rec *x = &all[i];
		uint32_t a = x->me < x->peer ? x->me : x->peer, b = x->me ^ x->peer ^ a;
		struct tl_doctor_link *l = NULL;
		for (size_t j = 0; j < d->nlinks && !l; j++)
			if (d->links[j].pair.a == a && d->links[j].pair.b == b &&
			    d->links[j].round == x->round)
				l = &d->links[j];
		if (!l) {
			if (d->nlinks == d->cap_links) {
				size_t cap = d->cap_links ? 2 * d->cap_links : 16;
				struct tl_doctor_link *grown =
				    realloc(d->links, cap * sizeof(*grown));
				if (!grown)
					goto nomem;
				d->links = grown;
				d->cap_links = cap;
			}
			l = &d->links[d->nlinks++];
			*l = (struct tl_doctor_link){
			    .pair = {a, b}, .round = x->round, .probe = x->probe};
		}
		if (x->me == a)
			l->bw_ab = x->bw_out;
		else
			l->bw_ba = x->bw_out;
		if (x->me == a || l->latency_s == 0 || x->latency_s < l->latency_s)
			l->latency_s = x->latency_s;
		l->failed |= x->failed_in != 0;
	}
	free(bytes);
	return 0;
nomem:
	free(bytes);
	return TL_ENOMEM;
}

/* The ring's links found slow among themselves, each against the others; rank 0. */
static void slow_ring_links(struct doc *dc, bool *slow)
{
	struct tl_doctor *d = &dc->d;
	uint32_t links = dc->nodes == 2 ? 1 : dc->nodes;
	double *v = calloc(d->nlinks + 1, sizeof(*v));

	for (size_t j = 0; v && j < d->nlinks; j++)
		v[j] = tl_doctor_link_bw(&d->links[j]);
	for (size_t j = 0; v && j < d->nlinks; j++) {
		const struct tl_doctor_link *l = &d->links[j];
		/* ring link i joins i and i+1; the closing one joins 0 and N-1 */
		uint32_t i = l->pair.b == l->pair.a + 1 ? l->pair.a : l->pair.b;
		struct tl_fleet f;
		tl_fleet_judge(v, d->nlinks, j, &f);
		if (i < links && (l->failed || tl_fleet_slow(&f, v[j])))
			slow[i] = true;
	}
	free(v);
}

static int link_phase(struct doc *dc)
{
	enum tl_links_mode mode = tl_links_mode_pick(dc->o->links, dc->nodes);
	struct tl_link_sched s;
	int rc = mode == TL_LINKS_RING ? tl_links_ring(dc->nodes, &s)
	                               : tl_links_tournament(dc->nodes, &s);

	dc->d.links_mode = mode;
	if (rc)
		return rc;
	rc = run_rounds(dc, &s, 0, false);
	uint32_t rounds = s.rounds;
	tl_link_sched_free(&s);
	checkpoint(dc, "doctor link gather");
	if (!rc)
		rc = gather_links(dc);
	if (rc || mode != TL_LINKS_RING)
		return rc;
	/* The ring's slow links: rank 0 picks the probes, every rank learns them. */
	uint32_t npairs = 0;
	/* at most N probe pairs and N round markers, two numbers each */
	uint32_t *flat = calloc((size_t)dc->nodes * 4 + 2, sizeof(*flat));
	if (!flat)
		return TL_ENOMEM;
	if (dc->rank == 0) {
		bool *slow = calloc((size_t)dc->nodes + 1, sizeof(*slow));
		if (slow)
			slow_ring_links(dc, slow);
		if (!slow || tl_links_probes(dc->nodes, slow, &s)) {
			free(slow);
			free(flat);
			return TL_ENOMEM;
		}
		/* rounds as lists of pairs, a round ending at an a == b marker */
		for (uint32_t r = 0; r < s.rounds; r++) {
			for (uint32_t k = s.start[r]; k < s.start[r + 1]; k++) {
				flat[2 * npairs] = s.pairs[k].a;
				flat[2 * npairs++ + 1] = s.pairs[k].b;
			}
			flat[2 * npairs] = flat[2 * npairs + 1] = 0;
			npairs++;
		}
		tl_link_sched_free(&s);
		free(slow);
	}
	MPI_Bcast(&npairs, 1, MPI_UINT32_T, 0, MPI_COMM_WORLD);
	uint32_t *all = realloc(flat, ((size_t)npairs * 2 + 2) * sizeof(*all));
	if (!all) {
		free(flat);
		return TL_ENOMEM;
	}
	MPI_Bcast(all, (int)npairs * 2, MPI_UINT32_T, 0, MPI_COMM_WORLD);
	struct tl_link_sched probes = {.nodes = dc->nodes};
	probes.start = calloc((size_t)npairs + 2, sizeof(*probes.start));
	probes.pairs = calloc((size_t)npairs + 1, sizeof(*probes.pairs));
	if (!probes.start || !probes.pairs) {
		free(all);
		tl_link_sched_free(&probes);
		return TL_ENOMEM;
	}
	for (uint32_t k = 0, n = 0; k < npairs; k++) {
		if (all[2 * k] == all[2 * k + 1]) {
			probes.start[++probes.rounds] = n;
			continue;
		}
		probes.pairs[n++] = (struct tl_pair){all[2 * k], all[2 * k + 1]};
	}
	free(all);
	rc = run_rounds(dc, &probes, rounds, true);
	tl_link_sched_free(&probes);
	checkpoint(dc, "doctor probe gather");
	if (!rc)
		rc = gather_links(dc);
	return rc;
}

/* ---- collectives on the layout's groups ---- */

static int coll_phase(struct doc *dc, struct coll_rec *mine)
{
	int runs = dc->o->quick ? 1 : 1 + REPS, first_timed = dc->o->quick ? 0 : 1;

	for (int g = 0; g < NCOLL; g++) {
		int group = coll_groups[g];
		const struct tl_op *big = NULL;
		uint64_t size = tl_grid_group_size(&dc->grid, group);

		mine[g] = (struct coll_rec){.group = group};
		for (size_t i = 0; size > 1 && i < dc->plan.count; i++) {
			const struct tl_op *op = &dc->plan.ops[i];
			if (op->group == group && op->kind >= TL_OP_ALLREDUCE &&
			    op->kind <= TL_OP_ALLTOALL && (!big || op->bytes > big->bytes))
				big = op;
		}
		checkpoint(dc, "doctor collectives");
		if (!big)
			continue;
		struct tl_where w = where_of(tl_op_kind_name(big->kind), "doctor collectives");
		w.group = group;
		w.bytes = big->bytes;
		double best = 0;
		for (int r = 0; r < runs; r++) {
			tl_watchdog_enter(&w);
			double t0 = tl_now_s();
			int rc = dc->be.ops->coll_run(&dc->be, big);
			double t = tl_now_s() - t0;
			tl_watchdog_leave();
			if (rc)
				return rc;
			if (r >= first_timed && (best == 0 || t < best))
				best = t;
		}
		mine[g] = (struct coll_rec){.group = group,
		                            .kind = (int32_t)big->kind,
		                            .valid = 1,
		                            .first = (uint32_t)tl_grid_group_member(
		                                &dc->grid, (uint64_t)dc->rank, group, 0),
		                            .bytes = big->bytes,
		                            .size = size,
		                            .time_s = best};
	}
	return 0;
}

/* Rank 0: the groups, each timed by its slowest member. */
static int take_groups(struct doc *dc, const struct coll_rec *all)
{
	struct tl_doctor *d = &dc->d;

	d->groups = calloc((size_t)dc->ranks * NCOLL + 1, sizeof(*d->groups));
	if (!d->groups)
		return TL_ENOMEM;
	for (int r = 0; r < dc->ranks; r++)
		for (int g = 0; g < NCOLL; g++) {
			const struct coll_rec *x = &all[r * NCOLL + g];
			struct tl_doctor_group *G = NULL;
			if (!x->valid)
				continue;
			for (size_t j = 0; j < d->ngroups && !G; j++)
				if (d->groups[j].group == x->group &&
				    d->groups[j].index == x->first)
					G = &d->groups[j];
			if (!G) {
				G = &d->groups[d->ngroups++];
				*G = (struct tl_doctor_group){.group = x->group,
				                              .index = x->first,
				                              .kind = x->kind,
				                              .bytes = x->bytes,
				                              .size = x->size};
			}
			if (x->time_s > G->busbw) /* the slowest member's time, for now */
				G->busbw = x->time_s;
			size_t len = strlen(G->hosts);
			if (!strstr(G->hosts, dc->hosts[r]) &&
			    len + HOST_LEN + 2 < sizeof(G->hosts))
				snprintf(G->hosts + len, sizeof(G->hosts) - len, "%s%s",
				         len ? "," : "", dc->hosts[r]);
		}
	/* Groups are numbered in the order met (by first rank), as the grid's indices run. */
	uint32_t count[TL_GRID_GROUPS] = {0};
	for (size_t j = 0; j < d->ngroups; j++) {
		struct tl_doctor_group *G = &d->groups[j];
		double t = G->busbw;
		G->busbw = t > 0 ? (double)G->bytes / t *
		                       tl_busbw_factor((enum tl_op_kind)G->kind, G->size)
		                 : 0;
		G->index = count[G->group]++;
	}
	return 0;
}

/* ---- the whole ---- */

/* Hosts of every rank; nodes numbered by first rank; the leaders' communicator. */
static int place(struct doc *dc)
{
	char me[HOST_LEN] = "?";

	gethostname(me, sizeof(me) - 1);
	dc->hosts = calloc((size_t)dc->ranks, sizeof(*dc->hosts));
	dc->node_of_rank = calloc((size_t)dc->ranks, sizeof(*dc->node_of_rank));
	dc->leader_of_node = calloc((size_t)dc->ranks, sizeof(*dc->leader_of_node));
	dc->link_phase = calloc((size_t)dc->ranks, sizeof(*dc->link_phase));
	if (!dc->hosts || !dc->node_of_rank || !dc->leader_of_node || !dc->link_phase)
		return TL_ENOMEM;
	TL_MPI_CHECK(
	    MPI_Allgather(me, HOST_LEN, MPI_CHAR, dc->hosts, HOST_LEN, MPI_CHAR, MPI_COMM_WORLD));
	for (int r = 0; r < dc->ranks; r++) {
		int j = 0;
		while (j < r && strcmp(dc->hosts[r], dc->hosts[j]))
			j++;
		if (j == r) {
			dc->leader_of_node[dc->nodes] = (uint32_t)r;
			snprintf(dc->link_phase[dc->nodes], sizeof(*dc->link_phase),
			         "doctor link with %s", dc->hosts[r]);
			dc->node_of_rank[r] = dc->nodes++;
		} else {
			dc->node_of_rank[r] = dc->node_of_rank[j];
		}
	}
	dc->my_node = dc->node_of_rank[dc->rank];
	dc->leader = dc->leader_of_node[dc->my_node] == (uint32_t)dc->rank;
	dc->grid.node_of_rank = dc->node_of_rank;
	TL_MPI_CHECK(MPI_Comm_split(MPI_COMM_WORLD, dc->leader ? 0 : MPI_UNDEFINED,
	                            (int)dc->my_node, &dc->leaders));
	if (dc->leaders != MPI_COMM_NULL)
		MPI_Comm_set_errhandler(dc->leaders, MPI_ERRORS_RETURN);
	/* The BLAS threads: run.threads_per_rank, or (auto) this rank's share of the cores it may
	 * run on. */
	cpu_set_t set;
	MPI_Comm local;
	int local_size = 1;
	TL_MPI_CHECK(
	    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local));
	MPI_Comm_size(local, &local_size);
	MPI_Comm_free(&local);
	int cores = sched_getaffinity(0, sizeof(set), &set) == 0 ? CPU_COUNT(&set) : 1;
	int share = cores / local_size > 1 ? cores / local_size : 1;
	openblas_set_num_threads(dc->job->threads_per_rank ? (int)dc->job->threads_per_rank
	                                                   : share);
	return 0;
}

/* Rank 0: node figures from every rank's (the median of a node's ranks). */
static int take_nodes(struct doc *dc, const double *fig)
{
	struct tl_doctor *d = &dc->d;
	double *v = calloc((size_t)dc->ranks + 1, sizeof(*v));

	d->nnodes = dc->nodes;
	d->nodes = calloc(dc->nodes, sizeof(*d->nodes));
	if (!v || !d->nodes) {
		free(v);
		return TL_ENOMEM;
	}
	for (uint32_t n = 0; n < dc->nodes; n++) {
		snprintf(d->nodes[n].host, sizeof(d->nodes[n].host), "%s",
		         dc->hosts[dc->leader_of_node[n]]);
		for (int m = 0; m < 2; m++) {
			size_t k = 0;
			for (int r = 0; r < dc->ranks; r++)
				if (dc->node_of_rank[r] == n)
					v[k++] = fig[3 * r + m];
			d->nodes[n].value[m] = tl_percentile(v, k, 50);
		}
		for (int r = 0; r < dc->ranks; r++)
			if (dc->node_of_rank[r] == n && fig[3 * r + 2] != 0)
				d->nodes[n].failed = true;
	}
	free(v);
	return 0;
}

static int report(struct doc *dc)
{
	struct tl_doctor *d = &dc->d;
	int rc = 0;

	tl_doctor_judge(d);
	d->elapsed_s = tl_now_s() - dc->start;
	if (!dc->o->cli.run.quiet)
		tl_doctor_print(d, stdout);
	else {
		char *s = tl_doctor_summary(d);
		if (s && tl_doctor_unhealthy(d))
			fprintf(stderr, "trainload %s\n", s);
		free(s);
	}
	fflush(stdout);
	if (dc->o->cli.run.output) {
		json_t *doc = tl_doctor_json(d);
		rc = doc ? tl_json_write(doc, dc->o->cli.run.output) : TL_ENOMEM;
		json_decref(doc);
	}
	if (dc->o->exclude_list) {
		size_t n;
		const char **bad = tl_doctor_bad_hosts(d, &n);
		char *expr = bad ? tl_hostlist_compress(bad, n) : NULL;
		FILE *f = expr ? fopen(dc->o->exclude_list, "w") : NULL;
		if (!f || fprintf(f, "%s%s", expr, *expr ? "\n" : "") < 0 || fclose(f)) {
			fprintf(stderr, "trainload doctor: cannot write %s\n", dc->o->exclude_list);
			rc = TL_EIO;
		}
		free(expr);
		free(bad);
	}
	return rc;
}

/* Everything after the input is known good, on every rank. */
static int measure(struct doc *dc)
{
	double fig[3] = {0}, *figs = NULL;
	struct coll_rec mine[NCOLL], *colls = NULL;
	int rc;

	dc->be.ops = tl_backend_find(tl_job_enum_name("run", "backend", dc->job->backend));
	rc = tl_watchdog_start(dc->o->timeout_s, dc->rank, dc->hosts[dc->rank], &dc->grid);
	if (!rc)
		rc = dc->be.ops->init(&dc->be, dc->job, &dc->model, &dc->grid, &dc->plan);
	if (rc)
		return rc;
	checkpoint(dc, "doctor compute");
	rc = gemm_rate(dc, &fig[0]);
	if (!rc)
		rc = triad_rate(dc, &fig[1]);
	if (rc)
		return rc;
	fig[2] = fig[0] <= 0 || fig[1] <= 0; /* a failed check of the triad's result */
	checkpoint(dc, "doctor compute gather");
	if (dc->rank == 0 && !(figs = calloc((size_t)dc->ranks * 3, sizeof(*figs))))
		return TL_ENOMEM;
	TL_MPI_CHECK(MPI_Gather(fig, 3, MPI_DOUBLE, figs, 3, MPI_DOUBLE, 0, MPI_COMM_WORLD));
	if (dc->rank == 0)
		rc = take_nodes(dc, figs);
	free(figs);
	if (!rc)
		rc = link_phase(dc);
	if (!rc)
		rc = coll_phase(dc, mine);
	if (rc)
		return rc;
	checkpoint(dc, "doctor collectives gather");
	if (dc->rank == 0 && !(colls = calloc((size_t)dc->ranks * NCOLL, sizeof(*colls))))
		return TL_ENOMEM;
	TL_MPI_CHECK(MPI_Gather(mine, (int)sizeof(mine), MPI_BYTE, colls, (int)sizeof(mine),
	                        MPI_BYTE, 0, MPI_COMM_WORLD));
	if (dc->rank == 0)
		rc = take_groups(dc, colls);
	free(colls);
	tl_watchdog_stage("doctor report", false);
	if (!rc && dc->rank == 0)
		rc = report(dc);
	return rc;
}

/* The job as for a run: resolved, modelled and planned on this world; 0 or TL_EINPUT. */
static int prepare(struct doc *dc, struct tl_job *job, struct tl_diag *diag)
{
	int rc = tl_cli_load_job(&dc->o->cli, job, diag);

	if (!rc)
		rc = tl_job_resolve(job, (uint64_t)dc->ranks, diag);
	if (!rc && job->has_sweep) {
		tl_diag_add(diag, dc->o->cli.job_file,
		            "trainload doctor needs a training job, "
		            "not a [sweep] job");
		rc = TL_EINPUT;
	}
	if (!rc)
		rc = tl_backend_check(job, diag);
	if (!rc)
		rc = tl_model_build(&dc->model, job, diag);
	if (rc)
		return rc;
	tl_grid_init(&dc->grid, job, (uint64_t)dc->ranks, 0);
	return tl_plan_build_diag(&dc->plan, job, &dc->model, &dc->grid, (uint64_t)dc->rank, diag);
}

static void cleanup(struct doc *dc)
{
	tl_watchdog_stop();
	if (dc->be.ops && dc->be.priv)
		dc->be.ops->fini(&dc->be);
	if (dc->leaders != MPI_COMM_NULL)
		MPI_Comm_free(&dc->leaders);
	tl_plan_free(&dc->plan);
	free(dc->hosts);
	free(dc->node_of_rank);
	free(dc->leader_of_node);
	free(dc->link_phase);
	free(dc->links);
	free(dc->d.nodes);
	free(dc->d.links);
	free(dc->d.groups);
}

int tl_doctor_main(int argc, char **argv)
{
	struct opts o = {.links = TL_LINKS_AUTO};
	struct tl_job job = {0};
	struct tl_diag diag = {0};
	struct doc dc = {.o = &o, .job = &job, .leaders = MPI_COMM_NULL, .start = tl_now_s()};
	int rc = parse(&o, argc, argv), status;

	if (rc == 1 || (rc && !tl_launched())) {
		/* Help, or a bad command line in a process no launcher started: no MPI needed. */
		if (rc != 1)
			fprintf(stderr, "trainload doctor: %s\n", o.why);
		free(o.cli.sets);
		return rc == 1 ? TL_EXIT_OK : TL_EXIT_BAD_INPUT;
	}
	if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
		fprintf(stderr, "trainload doctor: MPI_Init failed\n");
		free(o.cli.sets);
		return TL_EXIT_RUN_FAILED;
	}
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	MPI_Comm_rank(MPI_COMM_WORLD, &dc.rank);
	MPI_Comm_size(MPI_COMM_WORLD, &dc.ranks);
	tl_log_set_rank(dc.rank);
	/* Every rank reads the same command line and job, so all reach the same verdict on it;
	 * rank 0 says why, and all exit 2 together. */
	if (!rc)
		rc = prepare(&dc, &job, &diag);
	int bad = rc != 0, any_bad = 0;
	MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
	if (any_bad) {
		if (dc.rank == 0 && *o.why)
			fprintf(stderr, "trainload doctor: %s\n", o.why);
		else if (dc.rank == 0)
			tl_diag_print(&diag);
		status = TL_EXIT_BAD_INPUT;
	} else {
		rc = place(&dc);
		if (!rc)
			rc = measure(&dc);
		if (rc) {
			fprintf(stderr, "trainload doctor: rank %d (%s): failed (%s)\n", dc.rank,
			        dc.hosts ? dc.hosts[dc.rank] : "?",
			        rc == TL_ENOMEM ? "out of memory" : "see above");
			tl_stderr_drain();
			MPI_Abort(MPI_COMM_WORLD, TL_EXIT_RUN_FAILED);
		}
		int unhealthy = dc.rank == 0 && tl_doctor_unhealthy(&dc.d);
		MPI_Bcast(&unhealthy, 1, MPI_INT, 0, MPI_COMM_WORLD);
		status = unhealthy ? TL_EXIT_RUN_FAILED : TL_EXIT_OK;
	}
	cleanup(&dc);
	tl_diag_free(&diag);
	tl_job_free(&job);
	free(o.cli.sets);
	MPI_Finalize();
	return status;
}
