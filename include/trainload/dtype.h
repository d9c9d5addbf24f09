/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Element types, in one place: the names job files and nccl-tests give them, their size, and
 * element access, fill, sum and conversion in any of them. Pure: no MPI, no BLAS. What a backend
 * passes to its library for a dtype (MPI_FLOAT, ncclBfloat16, ...) is that backend's one mapping
 * (src/backends/cpu.c, src/backends/cuda_types.c).
 *
 * bf16 and f16 go through include/trainload/half.h: narrowing rounds to nearest even, overflow
 * gives infinity, NaN stays NaN; f64 to bf16 or f16 goes through float (see half.h).
 */
#ifndef TRAINLOAD_DTYPE_H
#define TRAINLOAD_DTYPE_H

#include <stddef.h>
#include <stdint.h>

/* TL_DTYPE_SAME is comm_dtype's "same as compute"; a resolved job never holds it. */
enum tl_dtype { TL_DTYPE_SAME, TL_DTYPE_F32, TL_DTYPE_F64, TL_DTYPE_BF16, TL_DTYPE_F16 };

/* Bytes of one element (4 for an unknown dtype). */
uint64_t tl_dtype_bytes(int dtype);

/* nccl-tests' name of a dtype, as its tables print it: float, double, bfloat16, half. */
const char *tl_dtype_name(int dtype);

/* The dtype a name stands for: a job file's (f32, f64, bf16, f16) or nccl-tests' -d names
 * (float, double, bfloat16, half, float32, float64, float16); -1 for any other. */
int tl_dtype_from_name(const char *name);

/* Element i of buf, widened to double (exact for every dtype), and stored back rounded. */
double tl_dtype_load(const void *buf, int dtype, uint64_t i);
void tl_dtype_store(void *buf, int dtype, uint64_t i, double v);

/* inout[i] = round(in[i] + inout[i]) for n elements: f32 and f64 add natively, bf16 and f16 in
 * float, as a GPU's reduction does. Returns 0, or -1 for a dtype it does not know. */
int tl_dtype_sum(const void *in, void *inout, int dtype, size_t n);

/* Convert n elements from src (src_dtype) to dst (dst_dtype); the buffers must not overlap
 * unless the dtypes are equal and dst == src. Returns 0, or -1 for an unknown dtype. */
int tl_dtype_convert(void *dst, int dst_dtype, const void *src, int src_dtype, size_t n);

/* Set n elements of dst to value, converted to dtype. Returns 0, or -1 for an unknown dtype. */
int tl_dtype_fill(void *dst, int dtype, double value, size_t n);

#endif
