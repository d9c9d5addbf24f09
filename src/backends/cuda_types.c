/* SPDX-License-Identifier: BSD-3-Clause */
/* The cuda backend's dtype mappings and cuBLAS's view of a row-major GEMM (backends/cuda.h). */
#include "config.h"

#include "backends/cuda.h"
#include "trainload/job.h"

int tl_cuda_gemm_types(int compute_dtype, struct tl_cuda_gemm_types *out)
{
	switch (compute_dtype) {
	case TL_DTYPE_BF16:
		*out = (struct tl_cuda_gemm_types){ CUDA_R_16BF, CUDA_R_32F, CUBLAS_COMPUTE_32F };
		return 0;
	case TL_DTYPE_F16:
		*out = (struct tl_cuda_gemm_types){ CUDA_R_16F, CUDA_R_32F, CUBLAS_COMPUTE_32F };
		return 0;
	case TL_DTYPE_F32:
		*out = (struct tl_cuda_gemm_types){ CUDA_R_32F, CUDA_R_32F, CUBLAS_COMPUTE_32F };
		return 0;
	default:
		return -1;
	}
}

int tl_cuda_nccl_type(int comm_dtype, ncclDataType_t *out)
{
	switch (comm_dtype) {
	case TL_DTYPE_BF16:
		*out = ncclBfloat16;
		return 0;
	case TL_DTYPE_F16:
		*out = ncclFloat16;
		return 0;
	case TL_DTYPE_F32:
		*out = ncclFloat32;
		return 0;
	case TL_DTYPE_F64:
		*out = ncclFloat64;
		return 0;
	default:
		return -1;
	}
}

void tl_cuda_gemm_call(int row_begin, int row_end, int m, int n, int k, int trans_a,
		       int trans_b, struct tl_cuda_gemm_call *out)
{
	int lda = trans_a ? m : k;

	*out = (struct tl_cuda_gemm_call){
		.op_first = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
		.op_second = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N,
		.m = n,
		.n = row_end - row_begin,
		.k = k,
		.ld_first = trans_b ? k : n,
		.ld_second = lda,
		.ldc = n,
		.a_off = trans_a ? (size_t)row_begin : (size_t)row_begin * (size_t)lda,
		.c_off = (size_t)row_begin * (size_t)n,
	};
}
