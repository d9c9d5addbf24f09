/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The cuda backend's pure parts, which need the CUDA headers but no GPU
 * (src/backends/cuda_types.c): the cuBLAS and NCCL types of each dtype, and the column-major
 * cuBLAS call that computes rows of a row-major GEMM, held to a host reference. The reference
 * runs that call's arguments through a plain column-major GEMM (what cublasGemmEx computes, by
 * its documentation) and compares with a plain row-major GEMM, for every transpose and for row
 * blocks as the executor splits GEMMs. Small integers: every sum is exact.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "backends/cuda.h"
#include "trainload/job.h"

static void test_gemm_types(void **state)
{
	(void)state;
	struct tl_cuda_gemm_types t;

	assert_int_equal(tl_cuda_gemm_types(TL_DTYPE_BF16, &t), 0);
	assert_int_equal(t.ab, CUDA_R_16BF);
	assert_int_equal(t.scale, CUDA_R_32F);
	assert_int_equal(t.compute, CUBLAS_COMPUTE_32F);
	assert_int_equal(tl_cuda_gemm_types(TL_DTYPE_F16, &t), 0);
	assert_int_equal(t.ab, CUDA_R_16F);
	assert_int_equal(t.scale, CUDA_R_32F);
	assert_int_equal(t.compute, CUBLAS_COMPUTE_32F);
	assert_int_equal(tl_cuda_gemm_types(TL_DTYPE_F32, &t), 0);
	assert_int_equal(t.ab, CUDA_R_32F);
	assert_int_equal(t.compute, CUBLAS_COMPUTE_32F); /* not TF32: f32 means f32 */
	assert_int_equal(tl_cuda_gemm_types(TL_DTYPE_F64, &t), -1);
	assert_int_equal(tl_cuda_gemm_types(TL_DTYPE_SAME, &t), -1);
}

static void test_nccl_types(void **state)
{
	(void)state;
	ncclDataType_t t;

	assert_int_equal(tl_cuda_nccl_type(TL_DTYPE_BF16, &t), 0);
	assert_int_equal(t, ncclBfloat16);
	assert_int_equal(tl_cuda_nccl_type(TL_DTYPE_F16, &t), 0);
	assert_int_equal(t, ncclFloat16);
	assert_int_equal(tl_cuda_nccl_type(TL_DTYPE_F32, &t), 0);
	assert_int_equal(t, ncclFloat32);
	assert_int_equal(tl_cuda_nccl_type(TL_DTYPE_F64, &t), 0);
	assert_int_equal(t, ncclFloat64);
	assert_int_equal(tl_cuda_nccl_type(TL_DTYPE_SAME, &t), -1);
}

/* cublasGemmEx with alpha 1, beta 0: C = op(X)·op(Y), all column-major. */
static void col_gemm(cublasOperation_t opx, cublasOperation_t opy, int m, int n, int k,
		     const double *x, int ldx, const double *y, int ldy, double *c, int ldc)
{
	for (int i = 0; i < m; i++)
		for (int j = 0; j < n; j++) {
			double sum = 0;
			for (int l = 0; l < k; l++) {
				double a = opx == CUBLAS_OP_N ? x[i + l * ldx] : x[l + i * ldx];
				double b = opy == CUBLAS_OP_N ? y[l + j * ldy] : y[j + l * ldy];
				sum += a * b;
			}
			c[i + j * ldc] = sum;
		}
}

enum { M = 5, N = 3, K = 4 };

static void test_gemm_call(void **state)
{
	(void)state;
	double a[M * K], b[K * N], want[M * N], got[M * N];
	static const int blocks[][2] = { { 0, M }, { 0, 2 }, { 2, 5 }, { 4, 5 } };

	for (int i = 0; i < M * K; i++)
		a[i] = (double)(i % 7) - 3;
	for (int i = 0; i < K * N; i++)
		b[i] = (double)(i % 5) - 2;
	for (int ta = 0; ta < 2; ta++)
		for (int tb = 0; tb < 2; tb++) {
			/* row-major, A stored m×k (k×m transposed), B k×n (n×k transposed) */
			for (int r = 0; r < M; r++)
				for (int c = 0; c < N; c++) {
					double sum = 0;
					for (int l = 0; l < K; l++)
						sum += (ta ? a[l * M + r] : a[r * K + l]) *
						       (tb ? b[c * K + l] : b[l * N + c]);
					want[r * N + c] = sum;
				}
			for (size_t bl = 0; bl < sizeof(blocks) / sizeof(blocks[0]); bl++) {
				struct tl_cuda_gemm_call call;
				int rb = blocks[bl][0], re = blocks[bl][1];

				memset(got, 0, sizeof(got));
				tl_cuda_gemm_call(rb, re, M, N, K, ta, tb, &call);
				assert_int_equal(call.m, N);
				assert_int_equal(call.n, re - rb);
				assert_int_equal(call.k, K);
				col_gemm(call.op_first, call.op_second, call.m, call.n, call.k, b,
					 call.ld_first, a + call.a_off, call.ld_second,
					 got + call.c_off, call.ldc);
				for (int r = 0; r < M; r++)
					for (int c = 0; c < N; c++) {
						double w = r >= rb && r < re ? want[r * N + c] : 0;
						if (got[r * N + c] != w)
							fail_msg("trans_a %d trans_b %d rows %d-%d: C[%d][%d] "
								 "= %g, expected %g", ta, tb, rb, re, r, c,
								 got[r * N + c], w);
					}
			}
		}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gemm_types),
		cmocka_unit_test(test_nccl_types),
		cmocka_unit_test(test_gemm_call),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
