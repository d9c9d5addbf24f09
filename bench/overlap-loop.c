/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A plain loop of GEMMs with one MPI_Iallreduce progressed by MPI_Test between them: the
 * reference that trainload's data-parallel overlap is held to (bench/executor.sh).
 *
 *   mpirun -np N overlap-loop BYTES GEMMS M N K [REPS]
 *
 * Each rank runs GEMMS single-precision GEMMs C[M×N] = A[M×K]·B[K×N] (OpenBLAS, its thread
 * count from the environment) and, over MPI_COMM_WORLD, an in-place MPI_Iallreduce of BYTES of
 * floats (in place, as gradient buckets are reduced). Three timings, each the median of REPS
 * rounds (default 5) after one warm-up round of each, every round started after a barrier:
 *   gemm   the GEMMs alone
 *   comm   the allreduce alone: MPI_Iallreduce then MPI_Wait
 *   blocking  the same allreduce with the blocking MPI_Allreduce (what overlap = no runs)
 *   both   MPI_Iallreduce, then the GEMMs with one MPI_Test after each, then MPI_Wait
 * and prints them with the share of the allreduce hidden behind the GEMMs and start_s, the time
 * of the MPI_Iallreduce call itself in the comm rounds (in place, an MPI may copy the buffer),
 * hidden = (gemm + comm - both) / comm (1: all of it; 0: none), max over ranks of each time.
 * The three interleave round by round, so that a change in the machine's load touches all three:
 *
 *   overlap-loop bytes 33554432 gemms 40 gemm_s 0.0612 comm_s 0.0101 blocking_s 0.0090
 *     both_s 0.0652 hidden 0.60 start_s 0.00421                   (one line, wrapped here)
 *
 * Buffers are written once before the first round, so that no page is the kernel's zero page.
 */
#include <cblas.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { GEMM_ONLY, COMM_ONLY, BLOCKING, BOTH, TIMINGS };

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The time of a round, max over ranks; *start_s: of its MPI_Iallreduce call alone. */
static double round_time(int what, int gemms, int m, int n, int k, const float *a, const float *b,
                         float *c, float *grad, int count, double *start_s)
{
	MPI_Request req = MPI_REQUEST_NULL;
	int done = 0;
	double started = 0;

	MPI_Barrier(MPI_COMM_WORLD);
	double t0 = MPI_Wtime();
	if (what == BLOCKING)
		MPI_Allreduce(MPI_IN_PLACE, grad, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
	else if (what != GEMM_ONLY)
		MPI_Iallreduce(MPI_IN_PLACE, grad, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &req);
	started = MPI_Wtime() - t0;
	for (int g = 0; (what == GEMM_ONLY || what == BOTH) && g < gemms; g++) {
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n,
		            0.0f, c, n);
		if (what == BOTH && !done)
			MPI_Test(&req, &done, MPI_STATUS_IGNORE);
	}
	MPI_Wait(&req, MPI_STATUS_IGNORE);
	double mine[2] = { MPI_Wtime() - t0, started }, worst[2] = { 0, 0 };
	MPI_Allreduce(mine, worst, 2, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
	*start_s = worst[1];
	return worst[0];
}

int main(int argc, char **argv)
{
	int rank;

	MPI_Init(&argc, &argv);
	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	if (argc < 6) {
		if (!rank)
			fprintf(stderr, "usage: overlap-loop BYTES GEMMS M N K [REPS]\n");
		MPI_Finalize();
		return 2;
	}
	long bytes = atol(argv[1]);
	int gemms = atoi(argv[2]), m = atoi(argv[3]), n = atoi(argv[4]), k = atoi(argv[5]);
	int reps = argc > 6 ? atoi(argv[6]) : 5;
	int count = (int)(bytes / (long)sizeof(float));
	float *a = malloc((size_t)m * k * sizeof(float)),
	      *b = malloc((size_t)k * n * sizeof(float));
	float *c = malloc((size_t)m * n * sizeof(float)),
	      *grad = malloc((size_t)count * sizeof(float));
	double *t = malloc((size_t)TIMINGS * reps * sizeof(double)), median[TIMINGS];
	double *starts = malloc((size_t)reps * sizeof(double)), start_s;

	if (!a || !b || !c || !grad || !t || !starts || reps < 1) {
		fprintf(stderr, "overlap-loop: out of memory\n");
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	for (long i = 0; i < (long)m * k; i++)
		a[i] = 1e-3f * (float)(i % 7);
	for (long i = 0; i < (long)k * n; i++)
		b[i] = 1e-3f * (float)(i % 5);
	memset(c, 0, (size_t)m * n * sizeof(float));
	memset(grad, 0, (size_t)count * sizeof(float));
	/* The timings interleave, round by round, so that a machine whose load changes changes
	 * them all alike. */
	for (int what = 0; what < TIMINGS; what++)
		round_time(what, gemms, m, n, k, a, b, c, grad, count, &start_s); /* warm-up */
	for (int r = 0; r < reps; r++) {
		for (int what = 0; what < TIMINGS; what++) {
			t[what * reps + r] =
			    round_time(what, gemms, m, n, k, a, b, c, grad, count, &start_s);
			if (what == COMM_ONLY)
				starts[r] = start_s;
		}
	}
	for (int what = 0; what < TIMINGS; what++) {
		qsort(t + what * reps, (size_t)reps, sizeof(*t), cmp_double);
		median[what] = t[what * reps + reps / 2];
	}
	qsort(starts, (size_t)reps, sizeof(*starts), cmp_double);
	if (!rank)
		printf("overlap-loop bytes %ld gemms %d gemm_s %.4f comm_s %.4f blocking_s %.4f "
		       "both_s %.4f hidden %.2f start_s %.5f\n",
		       bytes, gemms, median[GEMM_ONLY], median[COMM_ONLY], median[BLOCKING],
		       median[BOTH],
		       (median[GEMM_ONLY] + median[COMM_ONLY] - median[BOTH]) / median[COMM_ONLY],
		       starts[reps / 2]);
	free(a);
	free(b);
	free(c);
	free(grad);
	free(t);
	free(starts);
	MPI_Finalize();
	return 0;
}
