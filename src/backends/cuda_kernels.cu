/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The cuda backend's own kernels (backends/cuda.h): a comm_dtype other than compute_dtype needs
 * its gradients converted before they travel and the gathered weights after, and every buffer is
 * filled with small finite values (cudaMemset only writes bytes). Grid-stride loops, so that one
 * launch of a bounded grid covers any size.
 */
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "config.h"
#include "backends/cuda.h"
#include "trainload/job.h"

static __device__ double load(const void *p, int dtype, size_t i)
{
	switch (dtype) {
	case TL_DTYPE_F64:
		return ((const double *)p)[i];
	case TL_DTYPE_BF16:
		return (double)__bfloat162float(((const __nv_bfloat16 *)p)[i]);
	case TL_DTYPE_F16:
		return (double)__half2float(((const __half *)p)[i]);
	default:
		return (double)((const float *)p)[i];
	}
}

static __device__ void store(void *p, int dtype, size_t i, double v)
{
	switch (dtype) {
	case TL_DTYPE_F64:
		((double *)p)[i] = v;
		break;
	case TL_DTYPE_BF16:
		((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn((float)v);
		break;
	case TL_DTYPE_F16:
		((__half *)p)[i] = __float2half_rn((float)v);
		break;
	default:
		((float *)p)[i] = (float)v;
		break;
	}
}

static __global__ void convert_kernel(void *dst, int dst_dtype, const void *src, int src_dtype,
				      size_t n)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x)
		store(dst, dst_dtype, i, load(src, src_dtype, i));
}

static __global__ void fill_kernel(void *dst, int dtype, double value, size_t n)
{
	for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n;
	     i += (size_t)gridDim.x * blockDim.x)
		store(dst, dtype, i, value);
}

/* Enough blocks to fill any current GPU several times over, never more than the work. */
static unsigned blocks(size_t n)
{
	size_t b = (n + 255) / 256;
	return (unsigned)(b < 4096 ? (b ? b : 1) : 4096);
}

extern "C" cudaError_t tl_cuda_convert(void *dst, int dst_dtype, const void *src, int src_dtype,
				       size_t n, cudaStream_t stream)
{
	if (!n)
		return cudaSuccess;
	convert_kernel<<<blocks(n), 256, 0, stream>>>(dst, dst_dtype, src, src_dtype, n);
	return cudaGetLastError();
}

extern "C" cudaError_t tl_cuda_fill(void *dst, int dtype, double value, size_t n,
				    cudaStream_t stream)
{
	if (!n)
		return cudaSuccess;
	fill_kernel<<<blocks(n), 256, 0, stream>>>(dst, dtype, value, n);
	return cudaGetLastError();
}
