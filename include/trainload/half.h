/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The 16-bit float formats: conversions between float and bf16 or IEEE 754 binary16 (f16), and
 * their sums. MPI has no 16-bit floating-point type, so bf16 and f16 travel as 2-byte integers
 * and are reduced by a user-defined op that adds in float and rounds back, as a GPU's bf16 or
 * f16 reduction does. Any dtype's access, sum and conversion: include/trainload/dtype.h.
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

#endif
