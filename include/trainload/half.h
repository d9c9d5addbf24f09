/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Element formats of communicated tensors (run.comm_dtype): conversions between f32, f64, bf16
 * and IEEE 754 binary16 (f16), and the sums the cpu backend's MPI reduction ops do. MPI has no
 * 16-bit floating-point type, so bf16 and f16 travel as 2-byte integers and are reduced by a
 * user-defined op that adds in float and rounds back, as a GPU's bf16 or f16 reduction does.
 * Pure: no MPI, no BLAS, so the rounding is unit-tested on its own.
 *
 * Narrowing conversions round to nearest, ties to even; overflow gives infinity; NaN stays NaN
 * (made quiet, sign kept). f64 → bf16 and f64 → f16 go through float, so a value that lies
 * within half an f32 ulp of a 16-bit tie may round twice; the error stays below one 16-bit ulp.
 */
#ifndef TRAINLOAD_HALF_H
#define TRAINLOAD_HALF_H

#include <stddef.h>
#include <stdint.h>

uint16_t tl_bf16_from_float(float f);
float tl_bf16_to_float(uint16_t h);
uint16_t tl_f16_from_float(float f);
float tl_f16_to_float(uint16_t h);

/* inout[i] = round(in[i] + inout[i]), added in float. */
void tl_bf16_sum(const uint16_t *in, uint16_t *inout, size_t n);
void tl_f16_sum(const uint16_t *in, uint16_t *inout, size_t n);

/* The same for any dtype (enum tl_dtype: TL_DTYPE_F32, _F64, _BF16, _F16); f32 and f64 add
 * natively. Returns 0, or -1 for a dtype it does not know. */
int tl_dtype_sum(const void *in, void *inout, int dtype, size_t n);

/* Convert n elements from src (src_dtype) to dst (dst_dtype); the buffers must not overlap
 * unless the dtypes are equal and dst == src. Returns 0, or -1 for an unknown dtype. */
int tl_dtype_convert(void *dst, int dst_dtype, const void *src, int src_dtype, size_t n);

/* Set n elements of dst to value, converted to dtype. Returns 0, or -1 for an unknown dtype. */
int tl_dtype_fill(void *dst, int dtype, double value, size_t n);

#endif
