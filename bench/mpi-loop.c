/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A plain MPI loop of one call on MPI_COMM_WORLD: the reference that trainload's collective
 * times (in runs and in sweeps) are held to.
 *
 *   mpirun -np N mpi-loop OP BYTES ITERS [ROTATE_MB]
 *   OP: a collective, out of place as nccl-tests' first columns time it: allreduce,
 *       reduce_scatter, allgather, alltoall, broadcast (MPI_Bcast from rank 0), sendrecv (a ring:
 *       to the next rank, from the previous); or in place (MPI_IN_PLACE, MPI_Sendrecv_replace):
 *       allreduce_inplace, reduce_scatter_inplace, allgather_inplace, alltoall_inplace,
 *       sendrecv_inplace; or a point-to-point test between ranks 0 and 1, as OSU's: latency (a
 *       ping-pong; prints the one-way time), bw (64 non-blocking sends, their waits, a
 *       one-float acknowledgement back; prints MB/s, 1e6 bytes).
 *
 * BYTES is the payload as nccl-tests (and trainload) count it: the larger of input and output;
 * for the point-to-point tests, one message. With ROTATE_MB, each call uses the next buffers of a
 * region of that size (as IMB's off_cache), so that the data comes from memory, not from a cache
 * the previous call warmed, as it does in a training step, where GEMMs run between collectives.
 * Prints OP, BYTES, the mean time per call in microseconds (max over ranks of each rank's mean:
 * nccl-tests' figure) and the median over the calls of the slowest rank's time of each call (a
 * figure that a call or two stalled by other work on a shared machine does not move), after
 * ITERS/10 + 1 warm-up calls, then the page faults per timed call of the rank that takes most
 * (getrusage's minor faults: a library that maps fresh memory for a call pays them each time);
 * for latency, the one-way time; for bw, the bandwidth.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#define WINDOW 64

int main(int argc, char **argv)
{
	int rank, n;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &n);
	if (argc < 4) {
		if (!rank)
			fprintf(stderr, "usage: mpi-loop OP BYTES ITERS [ROTATE_MB]\n");
		MPI_Finalize();
		return 2;
	}
	const char *op = argv[1];
	long bytes = atol(argv[2]);
	int iters = atoi(argv[3]), warm = iters / 10 + 1;
	int count = (int)(bytes / (long)sizeof(float)), part = count / n;
	long rotate = argc > 4 ? atol(argv[4]) << 20 : 0;
	int copies = rotate > 2 * bytes ? (int)(rotate / (2 * bytes)) : 1;
	size_t stride = (size_t)count + 16; /* floats; keeps each copy 64-byte aligned */
	float *in_all = calloc(stride * copies, sizeof(float));
	float *out_all = calloc(stride * copies, sizeof(float));
	int next = (rank + 1) % n, prev = (rank + n - 1) % n, peer = rank ^ 1;
	MPI_Request reqs[WINDOW];
	/* Statuses, as osu_bw keeps them (MPI_STATUSES_IGNORE trips gcc 12's stringop-overflow
	 * false alarm on MPICH's definition of it). */
	MPI_Status stats[WINDOW];
	double t0 = 0, *t = calloc((size_t)iters + 1, sizeof(double));
	struct rusage ru0 = {0}, ru1 = {0};
	double *each = calloc((size_t)iters + 1, sizeof(double));

	/* Write every page of both, with values that are not zero: calloc's untouched pages all
	 * map the kernel's one zero page, which a call that reads them (any input; the output of
	 * a broadcast's root and of the in-place calls) would then read from cache, too fast; and
	 * the compiler may drop a store of zero into memory calloc returned. */
	for (size_t i = 0; i < stride * copies; i++) {
		in_all[i] = (float)(i % 7);
		out_all[i] = (float)(i % 5 + 1);
	}
	for (int i = 0; i < warm + iters; i++) {
		float *in = in_all + stride * (size_t)(i % copies);
		float *out = out_all + stride * (size_t)(i % copies);
		if (i == warm) {
			MPI_Barrier(MPI_COMM_WORLD);
			getrusage(RUSAGE_SELF, &ru0);
			t0 = MPI_Wtime();
		}
		if (i >= warm)
			t[i - warm] = MPI_Wtime();
		if (!strcmp(op, "allreduce"))
			MPI_Allreduce(in, out, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
		else if (!strcmp(op, "allreduce_inplace"))
			MPI_Allreduce(MPI_IN_PLACE, in, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
		else if (!strcmp(op, "reduce_scatter"))
			MPI_Reduce_scatter_block(in, out, part, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
		else if (!strcmp(op, "reduce_scatter_inplace"))
			MPI_Reduce_scatter_block(MPI_IN_PLACE, in, part, MPI_FLOAT, MPI_SUM,
			                         MPI_COMM_WORLD);
		else if (!strcmp(op, "allgather"))
			MPI_Allgather(in, part, MPI_FLOAT, out, part, MPI_FLOAT, MPI_COMM_WORLD);
		else if (!strcmp(op, "allgather_inplace"))
			MPI_Allgather(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, out, part, MPI_FLOAT,
			              MPI_COMM_WORLD);
		else if (!strcmp(op, "alltoall"))
			MPI_Alltoall(in, part, MPI_FLOAT, out, part, MPI_FLOAT, MPI_COMM_WORLD);
		else if (!strcmp(op, "alltoall_inplace"))
			MPI_Alltoall(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, out, part, MPI_FLOAT,
			             MPI_COMM_WORLD);
		else if (!strcmp(op, "broadcast"))
			MPI_Bcast(out, count, MPI_FLOAT, 0, MPI_COMM_WORLD);
		else if (!strcmp(op, "sendrecv"))
			MPI_Sendrecv(in, count, MPI_FLOAT, next, 0, out, count, MPI_FLOAT, prev, 0,
			             MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		else if (!strcmp(op, "sendrecv_inplace"))
			MPI_Sendrecv_replace(out, count, MPI_FLOAT, next, 0, prev, 0,
			                     MPI_COMM_WORLD, MPI_STATUS_IGNORE);
		else if (!strcmp(op, "latency") && rank < 2) {
			if (rank == 0) {
				MPI_Send(in, count, MPI_FLOAT, 1, 1, MPI_COMM_WORLD);
				MPI_Recv(out, count, MPI_FLOAT, 1, 1, MPI_COMM_WORLD,
				         MPI_STATUS_IGNORE);
			} else {
				MPI_Recv(out, count, MPI_FLOAT, 0, 1, MPI_COMM_WORLD,
				         MPI_STATUS_IGNORE);
				MPI_Send(in, count, MPI_FLOAT, 0, 1, MPI_COMM_WORLD);
			}
		} else if (!strcmp(op, "bw") && rank < 2) {
			for (int k = 0; k < WINDOW; k++)
				if (rank == 0)
					MPI_Isend(in, count, MPI_FLOAT, peer, 1, MPI_COMM_WORLD,
					          &reqs[k]);
				else
					MPI_Irecv(out, count, MPI_FLOAT, peer, 1, MPI_COMM_WORLD,
					          &reqs[k]);
			MPI_Waitall(WINDOW, reqs, stats);
			if (rank == 0)
				MPI_Recv(out, 1, MPI_FLOAT, peer, 2, MPI_COMM_WORLD,
				         MPI_STATUS_IGNORE);
			else
				MPI_Send(in, 1, MPI_FLOAT, peer, 2, MPI_COMM_WORLD);
		}
	}
	double mine = (MPI_Wtime() - t0) / iters, worst;
	getrusage(RUSAGE_SELF, &ru1);
	double faults = (double)(ru1.ru_minflt - ru0.ru_minflt) / iters, most = 0;
	MPI_Reduce(&faults, &most, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
	t[iters] = t0 + mine * iters;
	for (int k = 0; k < iters; k++)
		t[k] = t[k + 1] - t[k];
	MPI_Reduce(&mine, &worst, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
	MPI_Reduce(t, each, iters, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
	/* the median of the slowest rank's calls, by selection (iters is small) */
	double p50 = 0;
	for (int k = 0; !rank && k < iters; k++) {
		int below = 0, same = 0;
		for (int j = 0; j < iters; j++) {
			below += each[j] < each[k];
			same += each[j] == each[k];
		}
		if (below <= iters / 2 && below + same > iters / 2)
			p50 = each[k];
	}
	if (!rank && !strcmp(op, "latency"))
		printf("%s %ld %.2f one-way_us %.2f p50_us %.2f\n", op, bytes, worst * 1e6,
		       worst * 1e6 / 2, p50 * 1e6);
	else if (!rank && !strcmp(op, "bw"))
		printf("%s %ld %.2f MB/s %.2f p50_us %.2f\n", op, bytes, worst * 1e6,
		       (double)bytes * WINDOW / worst / 1e6, p50 * 1e6);
	else if (!rank)
		printf("%s %ld %.2f %.2f %.1f\n", op, bytes, worst * 1e6, p50 * 1e6, most);
	free(t);
	free(each);
	free(in_all);
	free(out_all);
	MPI_Finalize();
	return 0;
}
