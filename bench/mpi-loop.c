/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A plain MPI loop of one blocking collective on MPI_COMM_WORLD: the reference that trainload's
 * in-run collective times are held to.
 *
 *   mpirun -np N mpi-loop OP BYTES ITERS [ROTATE_MB]
 *   OP: allreduce (out of place, as nccl-tests times it), allreduce_inplace (MPI_IN_PLACE, as a
 *       trainload run reduces its gradients), reduce_scatter, allgather, alltoall
 *
 * BYTES is the payload as nccl-tests (and trainload) count it: the larger of input and output.
 * With ROTATE_MB, each call uses the next buffers of a region of that size (as IMB's off_cache),
 * so that the data comes from memory, not from a cache the previous call warmed, as it does in a
 * training step, where GEMMs run between collectives. Prints the mean time per call in
 * microseconds, max over ranks, after ITERS/10 warm-up calls.
 */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
	int rank, n;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	MPI_Comm_size(MPI_COMM_WORLD, &n);
	if (argc < 4) {
		if (!rank)
			fprintf(stderr, "usage: mpi-loop OP BYTES ITERS\n");
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
	double t0 = 0;

	/* Write every page: calloc's untouched pages all map the kernel's one zero page, which
	 * a collective that only reads its input would then read from cache, too fast. */
	for (size_t i = 0; i < stride * copies; i++) {
		in_all[i] = (float)(i % 7);
		out_all[i] = 0.0f;
	}
	for (int i = 0; i < warm + iters; i++) {
		float *in = in_all + stride * (size_t)(i % copies);
		float *out = out_all + stride * (size_t)(i % copies);
		if (i == warm) {
			MPI_Barrier(MPI_COMM_WORLD);
			t0 = MPI_Wtime();
		}
		if (!strcmp(op, "allreduce"))
			MPI_Allreduce(in, out, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
		else if (!strcmp(op, "allreduce_inplace"))
			MPI_Allreduce(MPI_IN_PLACE, in, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
		else if (!strcmp(op, "reduce_scatter"))
			MPI_Reduce_scatter_block(in, out, part, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
		else if (!strcmp(op, "allgather"))
			MPI_Allgather(in, part, MPI_FLOAT, out, part, MPI_FLOAT, MPI_COMM_WORLD);
		else if (!strcmp(op, "alltoall"))
			MPI_Alltoall(in, part, MPI_FLOAT, out, part, MPI_FLOAT, MPI_COMM_WORLD);
	}
	double mine = (MPI_Wtime() - t0) / iters, worst;
	MPI_Reduce(&mine, &worst, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
	if (!rank)
		printf("%s %ld %.2f\n", op, bytes, worst * 1e6);
	free(in_all);
	free(out_all);
	MPI_Finalize();
	return 0;
}
