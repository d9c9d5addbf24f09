/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the cuda backend's parts share: the dtype mappings (src/backends/cuda_types.c, pure, so
 * they are unit-tested without a GPU) and the kernels nvcc compiles
 * (src/backends/cuda_kernels.cu). Private: it needs the CUDA headers.
 */
#ifndef TRAINLOAD_BACKENDS_CUDA_H
#define TRAINLOAD_BACKENDS_CUDA_H

#include <stddef.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <nccl.h>

#ifdef __cplusplus
extern "C" {
#endif

/* How cublasGemmEx runs a GEMM of compute_dtype (enum tl_dtype): A, B and C all of type ab,
 * accumulated in compute with alpha and beta of type scale. bf16 and f16 accumulate in f32 on
 * the tensor cores, as mixed-precision training does; f32 is plain f32 (no TF32). */
struct tl_cuda_gemm_types {
	cudaDataType_t ab, scale;
	cublasComputeType_t compute;
};

/* 0, or -1 for a dtype the cuda backend does not compute in (f64). */
int tl_cuda_gemm_types(int compute_dtype, struct tl_cuda_gemm_types *out);

/* NCCL's type for a comm_dtype; 0, or -1 for a dtype it does not know. */
int tl_cuda_nccl_type(int comm_dtype, ncclDataType_t *out);

/* Rows [row_begin, row_end) of row-major C (m×n) = op(A) (m×k) · op(B) (k×n), as cuBLAS's
 * column-major call computes them: Cᵀ = op(B)ᵀ · op(A)ᵀ, so B is cuBLAS's first operand and A
 * its second. Leading dimensions are those of the whole row-major matrices as stored (A:
 * trans_a ? m : k, B: trans_b ? k : n, C: n); a_off and c_off are where the rows start in A and
 * C, in elements (A stored transposed, k×m, starts row_begin columns in). */
struct tl_cuda_gemm_call {
	cublasOperation_t op_first, op_second; /* of B, then A */
	int m, n, k;                           /* cuBLAS's: n, the rows, k */
	int ld_first, ld_second, ldc;
	size_t a_off, c_off;
};
void tl_cuda_gemm_call(int row_begin, int row_end, int m, int n, int k, int trans_a,
		       int trans_b, struct tl_cuda_gemm_call *out);

/* Kernels, on stream: convert n elements between dtypes (rounding to nearest even), or set n
 * elements to value. cudaSuccess or the launch's error. */
cudaError_t tl_cuda_convert(void *dst, int dst_dtype, const void *src, int src_dtype, size_t n,
			    cudaStream_t stream);
cudaError_t tl_cuda_fill(void *dst, int dtype, double value, size_t n, cudaStream_t stream);

#ifdef __cplusplus
}
#endif

#endif
