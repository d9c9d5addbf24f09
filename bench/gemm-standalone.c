/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A plain OpenBLAS loop over the GEMMs of one rank's step, as `trainload --dry-run --json`
 * lists them (gemm_shapes): the reference that trainload's in-run GEMM rate is held to.
 *
 *   gemm-standalone DRYRUN.json THREADS STEPS [f32|f64]
 *
 * Prints the GEMM time of one step (the mean of STEPS after one warm-up pass, as trainload's own
 * rate is a mean over its measured steps) and the rate, one line.
 */
#include <cblas.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	json_error_t err;
	json_t *doc, *shapes;
	int threads, steps, f64;
	size_t i, max_a = 1, max_b = 1, max_c = 1, elem;
	double flops = 0, total = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: %s DRYRUN.json THREADS STEPS [f32|f64]\n", argv[0]);
		return 2;
	}
	doc = json_load_file(argv[1], 0, &err);
	shapes = doc ? json_object_get(doc, "gemm_shapes") : NULL;
	if (!json_is_array(shapes)) {
		fprintf(stderr, "%s: no gemm_shapes (%s)\n", argv[1], err.text);
		return 2;
	}
	threads = atoi(argv[2]);
	steps = atoi(argv[3]);
	f64 = argc > 4 && !strcmp(argv[4], "f64");
	elem = f64 ? sizeof(double) : sizeof(float);
	openblas_set_num_threads(threads);

	json_t *s;
	json_array_foreach(shapes, i, s) {
		size_t m = json_integer_value(json_object_get(s, "m"));
		size_t n = json_integer_value(json_object_get(s, "n"));
		size_t k = json_integer_value(json_object_get(s, "k"));
		size_t b = json_integer_value(json_object_get(s, "batch"));
		size_t c = json_integer_value(json_object_get(s, "count_per_step"));
		max_a = m * k * b > max_a ? m * k * b : max_a;
		max_b = k * n * b > max_b ? k * n * b : max_b;
		max_c = m * n * b > max_c ? m * n * b : max_c;
		flops += 2.0 * m * n * k * b * c;
	}
	char *A = calloc(max_a, elem), *B = calloc(max_b, elem), *C = calloc(max_c, elem);
	if (!A || !B || !C)
		return 1;
	for (int step = 0; step < steps + 1; step++) {
		double t0 = now();
		json_array_foreach(shapes, i, s) {
			int m = (int)json_integer_value(json_object_get(s, "m"));
			int n = (int)json_integer_value(json_object_get(s, "n"));
			int k = (int)json_integer_value(json_object_get(s, "k"));
			int b = (int)json_integer_value(json_object_get(s, "batch"));
			int c = (int)json_integer_value(json_object_get(s, "count_per_step"));
			int ta = json_is_true(json_object_get(s, "trans_a"));
			int tb = json_is_true(json_object_get(s, "trans_b"));
			int lda = ta ? m : k, ldb = tb ? k : n;
			for (int rep = 0; rep < c; rep++)
				for (int j = 0; j < b; j++) {
					size_t oa = (size_t)j * m * k, ob = (size_t)j * k * n,
					       oc = (size_t)j * m * n;
					if (f64)
						cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
							    tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0,
							    (double *)A + oa, lda, (double *)B + ob, ldb,
							    0.0, (double *)C + oc, n);
					else
						cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
							    tb ? CblasTrans : CblasNoTrans, m, n, k, 1.0f,
							    (float *)A + oa, lda, (float *)B + ob, ldb,
							    0.0f, (float *)C + oc, n);
				}
		}
		if (step > 0) /* the first pass warms up */
			total += now() - t0;
	}
	double mean = total / steps;
	printf("gemm_s_per_step %.6f gflops %.2f\n", mean, flops / mean / 1e9);
	free(A);
	free(B);
	free(C);
	json_decref(doc);
	return 0;
}
