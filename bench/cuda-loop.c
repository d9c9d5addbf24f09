/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Plain cuBLAS and NCCL loops on GPU 0, without MPI or trainload: the references that the cuda
 * backend's calibration GEMM and NCCL path are held to (bench/gpu-check.sh).
 *
 *   cuda-loop gemm N ITERS [bf16|f16|f32]
 *       ITERS cublasGemmEx calls of N×N×N back to back, timed by events after a warm-up of
 *       ITERS; prints the rate, one line: "gemm bf16 8192 TFLOPS 742.1"
 *   cuda-loop nccl MIN_BYTES MAX_BYTES
 *       a one-rank NCCL allreduce (f32, sum, out of place) at sizes MIN..MAX doubling, 5
 *       warm-up and 20 timed calls each, in nccl-tests' layout, with the received values
 *       checked (#wrong: elements not equal to what was sent, as one rank sums to itself)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <nccl.h>

#define CHECK(what, ok)                                                                          \
	do {                                                                                     \
		if (!(ok)) {                                                                     \
			fprintf(stderr, "cuda-loop: %s failed (line %d)\n", what, __LINE__);    \
			exit(1);                                                                 \
		}                                                                                \
	} while (0)

static int gemm(int n, int iters, const char *dtype)
{
	cudaDataType_t t = CUDA_R_16BF;
	size_t elem = 2, elems = (size_t)n * (size_t)n;
	cublasHandle_t h;
	cudaEvent_t start, stop;
	void *a, *b, *c;
	const float one = 1.0f, zero = 0.0f;
	float ms = 0;

	if (!strcmp(dtype, "f16")) {
		t = CUDA_R_16F;
	} else if (!strcmp(dtype, "f32")) {
		t = CUDA_R_32F;
		elem = 4;
	} else if (strcmp(dtype, "bf16")) {
		fprintf(stderr, "cuda-loop: dtype %s: bf16, f16 or f32\n", dtype);
		return 2;
	}
	CHECK("cudaMalloc", cudaMalloc(&a, elems * elem) == cudaSuccess &&
				    cudaMalloc(&b, elems * elem) == cudaSuccess &&
				    cudaMalloc(&c, elems * elem) == cudaSuccess);
	/* Zeros are a valid input of every dtype; the rate does not depend on the values. */
	CHECK("cudaMemset", cudaMemset(a, 0, elems * elem) == cudaSuccess &&
				    cudaMemset(b, 0, elems * elem) == cudaSuccess);
	CHECK("cublasCreate", cublasCreate(&h) == CUBLAS_STATUS_SUCCESS);
	CHECK("cudaEventCreate", cudaEventCreate(&start) == cudaSuccess &&
					 cudaEventCreate(&stop) == cudaSuccess);
	for (int round = 0; round < 2; round++) { /* round 0 warms up */
		cudaEventRecord(start, 0);
		for (int i = 0; i < iters; i++)
			CHECK("cublasGemmEx",
			      cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, a, t, n, b, t,
					   n, &zero, c, t, n, CUBLAS_COMPUTE_32F,
					   CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_SUCCESS);
		cudaEventRecord(stop, 0);
		CHECK("cudaEventSynchronize", cudaEventSynchronize(stop) == cudaSuccess);
	}
	cudaEventElapsedTime(&ms, start, stop);
	printf("gemm %s %d TFLOPS %.1f\n", dtype, n,
	       ms > 0 ? 2.0 * n * n * (double)n * iters / (1e-3 * ms) / 1e12 : 0.0);
	cublasDestroy(h);
	cudaFree(a);
	cudaFree(b);
	cudaFree(c);
	return 0;
}

static int nccl(size_t min_bytes, size_t max_bytes)
{
	ncclComm_t comm;
	int dev = 0;
	cudaStream_t s;
	cudaEvent_t start, stop;
	float *sb, *rb, *host;
	size_t max_elems = max_bytes / sizeof(float);

	CHECK("ncclCommInitAll", ncclCommInitAll(&comm, 1, &dev) == ncclSuccess);
	CHECK("cudaStreamCreate", cudaStreamCreate(&s) == cudaSuccess);
	CHECK("cudaEventCreate", cudaEventCreate(&start) == cudaSuccess &&
					 cudaEventCreate(&stop) == cudaSuccess);
	CHECK("cudaMalloc", cudaMalloc((void **)&sb, max_bytes) == cudaSuccess &&
				    cudaMalloc((void **)&rb, max_bytes) == cudaSuccess);
	host = malloc(max_bytes);
	CHECK("malloc", host != NULL);
	for (size_t i = 0; i < max_elems; i++)
		host[i] = (float)(i % 251);
	CHECK("cudaMemcpy", cudaMemcpy(sb, host, max_bytes, cudaMemcpyHostToDevice) == cudaSuccess);
	printf("#       size    count   type  redop    time   algbw   busbw  #wrong\n");
	printf("#        (B)  (elems)                  (us)  (GB/s)  (GB/s)\n");
	for (size_t bytes = min_bytes; bytes <= max_bytes; bytes *= 2) {
		size_t count = bytes / sizeof(float), wrong = 0;
		float ms = 0;
		CHECK("cudaMemset", cudaMemset(rb, 0xff, bytes) == cudaSuccess);
		for (int i = 0; i < 25; i++) {
			if (i == 5)
				cudaEventRecord(start, s);
			CHECK("ncclAllReduce", ncclAllReduce(sb, rb, count, ncclFloat32, ncclSum, comm,
							     s) == ncclSuccess);
		}
		cudaEventRecord(stop, s);
		CHECK("cudaEventSynchronize", cudaEventSynchronize(stop) == cudaSuccess);
		cudaEventElapsedTime(&ms, start, stop);
		CHECK("cudaMemcpy", cudaMemcpy(host, rb, bytes, cudaMemcpyDeviceToHost) == cudaSuccess);
		for (size_t i = 0; i < count; i++)
			wrong += host[i] != (float)(i % 251);
		double us = 1e3 * ms / 20, algbw = us > 0 ? (double)bytes / us / 1e3 : 0;
		/* busbw = algbw · 2(n−1)/n: 0 for one rank, whose allreduce only copies. */
		printf("  %10zu %8zu  float    sum %7.1f %7.2f %7.2f %7zu\n", bytes, count, us, algbw,
		       0.0, wrong);
		if (wrong)
			return 1;
	}
	ncclCommDestroy(comm);
	free(host);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && !strcmp(argv[1], "gemm"))
		return gemm(atoi(argv[2]), atoi(argv[3]), argc > 4 ? argv[4] : "bf16");
	if (argc == 4 && !strcmp(argv[1], "nccl"))
		return nccl(strtoull(argv[2], NULL, 0), strtoull(argv[3], NULL, 0));
	fprintf(stderr, "usage: %s gemm N ITERS [bf16|f16|f32]\n"
			"       %s nccl MIN_BYTES MAX_BYTES\n", argv[0], argv[0]);
	return 2;
}
