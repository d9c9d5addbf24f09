/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A plain OpenBLAS loop over the GEMMs of one rank's step, as `trainload --dry-run --json`
 * lists them (gemm_shapes): the reference that trainload's in-run GEMM rate is held to.
 *
 *   gemm-standalone DRYRUN.json THREADS STEPS [f32|f64 [ROTATE_MIB]]
 *
 * Prints the GEMM time of one step (the mean of STEPS after one warm-up pass, as trainload's own
 * rate is a mean over its measured steps) and the rate, one line.
 *
 * Operands hold small finite values, written before the first pass, as trainload's do: a buffer
 * that was only allocated reads as the kernel's zero page, one 4 KiB page that every read of A
 * and B then finds in L1, which made this loop some 7% faster than any real step could be.
 * Without ROTATE_MIB every GEMM reuses one A, B and C, so that operands that fit stay in cache
 * (the cache-warm reference, as nccl-tests' buffers are). With it, each call takes the next A, B
 * and C from a buffer of ROTATE_MIB MiB (IMB's off_cache): given the dry run's
 * memory_bytes_per_rank_max, no operand is in cache from its last use unless a step's memory fits
 * the cache, which is how a step finds each layer's weights.
 */
#include <cblas.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct shape {
	int m, n, k, batch, count, ta, tb;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static size_t round64(size_t bytes)
{
	return (bytes + 63) & ~(size_t)63;
}

int main(int argc, char **argv)
{
	json_error_t err;
	json_t *doc, *shapes, *s;
	size_t i, nshapes, call_max = 0, elem, rotate;
	double flops = 0, total = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: %s DRYRUN.json THREADS STEPS [f32|f64 [ROTATE_MIB]]\n",
			argv[0]);
		return 2;
	}
	doc = json_load_file(argv[1], 0, &err);
	shapes = doc ? json_object_get(doc, "gemm_shapes") : NULL;
	if (!json_is_array(shapes)) {
		fprintf(stderr, "%s: no gemm_shapes (%s)\n", argv[1], err.text);
		return 2;
	}
	int threads = atoi(argv[2]), steps = atoi(argv[3]);
	int f64 = argc > 4 && !strcmp(argv[4], "f64");
	elem = f64 ? sizeof(double) : sizeof(float);
	rotate = argc > 5 ? (size_t)strtoull(argv[5], NULL, 10) << 20 : 0;
	openblas_set_num_threads(threads);

	nshapes = json_array_size(shapes);
	struct shape *sh = calloc(nshapes ? nshapes : 1, sizeof(*sh));
	if (!sh)
		return 1;
	json_array_foreach(shapes, i, s) {
		struct shape *x = &sh[i];
		x->m = (int)json_integer_value(json_object_get(s, "m"));
		x->n = (int)json_integer_value(json_object_get(s, "n"));
		x->k = (int)json_integer_value(json_object_get(s, "k"));
		x->batch = (int)json_integer_value(json_object_get(s, "batch"));
		x->count = (int)json_integer_value(json_object_get(s, "count_per_step"));
		x->ta = json_is_true(json_object_get(s, "trans_a"));
		x->tb = json_is_true(json_object_get(s, "trans_b"));
		size_t one = round64((size_t)x->m * x->k * elem) + round64((size_t)x->k * x->n * elem) +
			     round64((size_t)x->m * x->n * elem);
		call_max = one * x->batch > call_max ? one * x->batch : call_max;
		flops += 2.0 * x->m * x->n * x->k * x->batch * x->count;
	}
	size_t arena = rotate > call_max ? rotate : call_max, at = 0;
	char *mem = malloc(arena);
	if (!mem)
		return 1;
	for (size_t e = 0; e < arena / elem; e++) {
		double v = 1e-3 * (double)(1 + e % 251);
		if (f64)
			((double *)mem)[e] = v;
		else
			((float *)mem)[e] = (float)v;
	}
	for (int step = 0; step < steps + 1; step++) {
		double t0 = now();
		for (i = 0; i < nshapes; i++) {
			const struct shape *x = &sh[i];
			size_t a_len = round64((size_t)x->m * x->k * elem),
			       b_len = round64((size_t)x->k * x->n * elem),
			       c_len = round64((size_t)x->m * x->n * elem);
			int lda = x->ta ? x->m : x->k, ldb = x->tb ? x->k : x->n;
			for (int rep = 0; rep < x->count; rep++)
				for (int j = 0; j < x->batch; j++) {
					if (!rotate || at + a_len + b_len + c_len > arena)
						at = 0;
					char *A = mem + at, *B = A + a_len, *C = B + b_len;
					if (rotate)
						at += a_len + b_len + c_len;
					if (f64)
						cblas_dgemm(CblasRowMajor, x->ta ? CblasTrans : CblasNoTrans,
							    x->tb ? CblasTrans : CblasNoTrans, x->m, x->n,
							    x->k, 1.0, (double *)A, lda, (double *)B, ldb,
							    0.0, (double *)C, x->n);
					else
						cblas_sgemm(CblasRowMajor, x->ta ? CblasTrans : CblasNoTrans,
							    x->tb ? CblasTrans : CblasNoTrans, x->m, x->n,
							    x->k, 1.0f, (float *)A, lda, (float *)B, ldb,
							    0.0f, (float *)C, x->n);
				}
		}
		if (step > 0) /* the first pass warms up */
			total += now() - t0;
	}
	double mean = total / steps;
	printf("gemm_s_per_step %.6f gflops %.2f\n", mean, flops / mean / 1e9);
	free(mem);
	free(sh);
	json_decref(doc);
	return 0;
}
