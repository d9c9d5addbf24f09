/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "mpi_check.h"
#include "trainload/exec.h"
#include "trainload/metrics.h"
#include "trainload/probe.h"

/* A node's value in round r from every node's inbound rates (in[node][dir][r], dir 0: from the
 * left neighbour, 1: from the right one). */
static void node_round(const double *in, int n, int me, int r, double *down, double *up)
{
#define IN(node, dir) in[((size_t)(node)*2 + (dir)) * TL_PROBE_ROUNDS + (size_t)r]
	int right = (me + 1) % n, left = (me + n - 1) % n;
	double a = IN(me, 0), b = IN(me, 1);
	/* What goes out to the right is the right neighbour's "from the left", and so on. */
	double c = IN(right, 0), d = IN(left, 1);
#undef IN
	*down = a > b ? a : b;
	*up = c > d ? c : d;
}

/* The leaders' exchanges: rates[dir][round] of what arrived, in MB/s. */
static int exchange(MPI_Comm leaders, int n, int me, char *send, char *recv, double *rates)
{
	for (int r = 0; r < TL_PROBE_ROUNDS; r++)
		for (int dir = 0; dir < 2; dir++) {
			int to = dir ? (me + n - 1) % n : (me + 1) % n;
			int from = dir ? (me + 1) % n : (me + n - 1) % n;
			MPI_Request req[2];
			TL_MPI_CHECK(MPI_Barrier(leaders));
			double t0 = tl_now_s();
			TL_MPI_CHECK(
			    MPI_Irecv(recv, TL_PROBE_BYTES, MPI_BYTE, from, r, leaders, &req[0]));
			TL_MPI_CHECK(
			    MPI_Isend(send, TL_PROBE_BYTES, MPI_BYTE, to, r, leaders, &req[1]));
			TL_MPI_CHECK(MPI_Wait(&req[0], MPI_STATUS_IGNORE));
			double dt = tl_now_s() - t0;
			TL_MPI_CHECK(MPI_Wait(&req[1], MPI_STATUS_IGNORE));
			rates[dir * TL_PROBE_ROUNDS + r] = dt > 0 ? TL_PROBE_BYTES / dt / 1e6 : 0;
		}
	return 0;
}

/* Node leader me of n: its link from everyone's rates. */
static int leader(MPI_Comm leaders, int n, int me, struct tl_link *link)
{
	char *send = malloc(TL_PROBE_BYTES), *recv = malloc(TL_PROBE_BYTES);
	double *all = malloc((size_t)n * 2 * TL_PROBE_ROUNDS * sizeof(*all));
	double mine[2 * TL_PROBE_ROUNDS], v[TL_PROBE_ROUNDS];
	int rc = TL_ENOMEM;

	/* Every leader learns of any that could not allocate: none of them exchanges. */
	int ok = send && recv && all, all_ok = 0;
	TL_MPI_CHECK(MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, leaders));
	if (all_ok) {
		memset(send, 1, TL_PROBE_BYTES);
		memset(recv, 0, TL_PROBE_BYTES);
		rc = exchange(leaders, n, me, send, recv, mine);
	}
	if (!rc) {
		rc = MPI_Allgather(mine, 2 * TL_PROBE_ROUNDS, MPI_DOUBLE, all, 2 * TL_PROBE_ROUNDS,
		                   MPI_DOUBLE, leaders);
		if (rc != MPI_SUCCESS) {
			tl_mpi_report(rc, "MPI_Allgather(link probe)", __FILE__, __LINE__);
			rc = TL_ERUN;
		}
	}
	if (!rc) {
		for (int r = 0; r < TL_PROBE_ROUNDS; r++) {
			double down, up;
			node_round(all, n, me, r, &down, &up);
			v[r] = down < up ? down : up;
			if (down > link->in_mbps)
				link->in_mbps = down;
			if (up > link->out_mbps)
				link->out_mbps = up;
		}
		link->mbps = link->in_mbps < link->out_mbps ? link->in_mbps : link->out_mbps;
		link->noise_mbps = tl_robust_sigma(v, TL_PROBE_ROUNDS);
		link->nodes = n;
	}
	free(send);
	free(recv);
	free(all);
	return rc;
}

int tl_link_probe(struct tl_link *link)
{
	MPI_Comm local, leaders;
	int local_rank, n = 0, me = 0, rc = 0;
	double figures[5] = {0};

	memset(link, 0, sizeof(*link));
	TL_MPI_CHECK(
	    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local));
	MPI_Comm_set_errhandler(local, MPI_ERRORS_RETURN);
	TL_MPI_CHECK(MPI_Comm_rank(local, &local_rank));
	TL_MPI_CHECK(
	    MPI_Comm_split(MPI_COMM_WORLD, local_rank == 0 ? 0 : MPI_UNDEFINED, 0, &leaders));
	if (leaders != MPI_COMM_NULL) {
		MPI_Comm_set_errhandler(leaders, MPI_ERRORS_RETURN);
		TL_MPI_CHECK(MPI_Comm_size(leaders, &n));
		TL_MPI_CHECK(MPI_Comm_rank(leaders, &me));
		if (n >= 3)
			rc = leader(leaders, n, me, link);
		MPI_Comm_free(&leaders);
		figures[0] = link->in_mbps;
		figures[1] = link->out_mbps;
		figures[2] = link->mbps;
		figures[3] = link->noise_mbps;
		figures[4] = link->nodes;
	}
	/* A failed leader returns before this: run.c then ends the job for all. */
	if (!rc)
		rc = MPI_Bcast(figures, 5, MPI_DOUBLE, 0, local) == MPI_SUCCESS ? 0 : TL_ERUN;
	MPI_Comm_free(&local);
	*link = (struct tl_link){.in_mbps = figures[0],
	                         .out_mbps = figures[1],
	                         .mbps = figures[2],
	                         .noise_mbps = figures[3],
	                         .nodes = (int)figures[4]};
	return rc;
}
