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
 * and prints them with the share of the allreduce hidden behind the GEMMs,
 * hidden = (gemm + comm - both) / comm (1: all of it; 0: none), max over ranks of each time.
 * The three interleave round by round, so that a change in the machine's load touches all three:
 *
 *   overlap-loop bytes 33554432 gemms 40 gemm_s 0.0612 comm_s 0.0101 blocking_s 0.0090
 *     both_s 0.0652 hidden 0.60                                   (one line, wrapped here)
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

static double round_time(int what, int gemms, int m, int n, int k, const float *a, const float *b,
                         float *c, float *grad, int count)
{
	MPI_Request req = MPI_REQUEST_NULL;
	int done = 0;

	MPI_Barrier(MPI_COMM_WORLD);
	double t0 = MPI_Wtime();
	if (what == BLOCKING)
		MPI_Allreduce(MPI_IN_PLACE, grad, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
	else if (what != GEMM_ONLY)
		MPI_Iallreduce(MPI_IN_PLACE, grad, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &req);
	for (int g = 0; (what == GEMM_ONLY || what == BOTH) && g < gemms; g++) {
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1.0f, a, k, b, n,
		            0.0f, c, n);
		if (what == BOTH && !done)
			MPI_Test(&req, &done, MPI_STATUS_IGNORE);
	}
	MPI_Wait(&req, MPI_STATUS_IGNORE);
	double mine = MPI_Wtime() - t0, worst = 0;
	MPI_Allreduce(&mine, &worst, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
	return worst;
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

	if (!a || !b || !c || !grad || !t || reps < 1) {
		fprintf(stderr, "overlap-loop: out of memory\n");
		MPI_Abort(MPI_COMM_WORLD, 1);
	}
	for (long i = 0; i < (long)m * k; i++)
		a[i] = 1e-3f * (float)(i % 7);
	for (long i = 0; i < (long)k * n; i++)
		b[i] = 1e-3f * (float)(i % 5);
	memset(c, 0, (size_t)m * n * sizeof(float));
	memset(grad, 0, (size_t)count * sizeof(float));
	/* The three timings interleave, round by round, so that a machine whose load changes
	 * changes all three alike. */
	for (int what = 0; what < TIMINGS; what++)
		round_time(what, gemms, m, n, k, a, b, c, grad, count); /* warm-up */
	for (int r = 0; r < reps; r++)
		for (int what = 0; what < TIMINGS; what++)
			t[what * reps + r] = round_time(what, gemms, m, n, k, a, b, c, grad, count);
	for (int what = 0; what < TIMINGS; what++) {
		qsort(t + what * reps, (size_t)reps, sizeof(*t), cmp_double);
		median[what] = t[what * reps + reps / 2];
	}
	if (!rank)
		printf("overlap-loop bytes %ld gemms %d gemm_s %.4f comm_s %.4f blocking_s %.4f "
		       "both_s %.4f hidden %.2f\n",
		       bytes, gemms, median[GEMM_ONLY], median[COMM_ONLY], median[BLOCKING],
		       median[BOTH],
		       (median[GEMM_ONLY] + median[COMM_ONLY] - median[BOTH]) / median[COMM_ONLY]);
	free(a);
	free(b);
	free(c);
	free(grad);
	free(t);
	MPI_Finalize();
	return 0;
}
