/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bf16 and f16 by bit manipulation, so that the results do not depend on whether the compiler
 * and CPU know __bf16 or _Float16, and every rounding case is visible here.
 */
#include "config.h"

#include <string.h>

#include "trainload/half.h"
#include "trainload/job.h"
#include "trainload/model.h"

static uint32_t float_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

static float bits_float(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

uint16_t tl_bf16_from_float(float f)
{
	uint32_t u = float_bits(f);

	/* NaN: keep the sign and the top of the payload, and set the quiet bit, so that the
	 * rounding below cannot carry a NaN into infinity. */
	if ((u & 0x7fffffffu) > 0x7f800000u)
		return (uint16_t)((u >> 16) | 0x0040u);
	/* Round to nearest even on the 16 bits dropped: add just under half, plus the lowest
	 * kept bit (a tie then rounds up only from an odd value). A carry out of the mantissa
	 * bumps the exponent, which is right, up to infinity. */
	u += 0x7fffu + ((u >> 16) & 1u);
	return (uint16_t)(u >> 16);
}

float tl_bf16_to_float(uint16_t h)
{
	return bits_float((uint32_t)h << 16);
}

uint16_t tl_f16_from_float(float f)
{
	uint32_t u = float_bits(f);
	uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
	uint32_t a = u & 0x7fffffffu;

	if (a > 0x7f800000u) /* NaN: quiet, with the payload's top bits */
		return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
	/* 65520 = 65504 + half an ulp is a tie whose even neighbour is infinity. */
	if (a >= 0x477ff000u)
		return (uint16_t)(sign | 0x7c00u);
	if (a < 0x38800000u) { /* below 2^-14, the smallest normal: subnormal or zero */
		/* Below 2^-25 (half the smallest subnormal) everything rounds to zero; 2^-25
		 * itself is a tie that goes to the even zero, in the general path below. */
		if (a < 0x33000000u)
			return sign;
		uint32_t e = a >> 23;                        /* 102 .. 112 */
		uint32_t mant = (a & 0x7fffffu) | 0x800000u; /* value = mant · 2^(e-150) */
		uint32_t shift = 126 - e;                    /* to units of 2^-24: 14 .. 24 */
		uint32_t r = mant >> shift, rem = mant & ((1u << shift) - 1);
		uint32_t half = 1u << (shift - 1);
		if (rem > half || (rem == half && (r & 1u)))
			r++; /* may reach 0x400, the smallest normal, which encodes right */
		return (uint16_t)(sign | r);
	}
	/* Normal: rebias the exponent from 127 to 15, then round the 13 dropped bits as bf16
	 * does its 16. */
	a -= 0x38000000u;
	a += 0xfffu + ((a >> 13) & 1u);
	return (uint16_t)(sign | (a >> 13));
}

float tl_f16_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
	uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;

	if (e == 0x1f) /* infinity, NaN */
		return bits_float(sign | 0x7f800000u | (m << 13));
	if (e == 0) { /* zero, subnormal: m · 2^-24, exact in float */
		float v = (float)m * 0x1p-24f;
		return sign ? -v : v;
	}
	return bits_float(sign | ((e + 112) << 23) | (m << 13));
}

void tl_bf16_sum(const uint16_t *in, uint16_t *inout, size_t n)
{
	for (size_t i = 0; i < n; i++)
		inout[i] = tl_bf16_from_float(tl_bf16_to_float(in[i]) + tl_bf16_to_float(inout[i]));
}

void tl_f16_sum(const uint16_t *in, uint16_t *inout, size_t n)
{
	for (size_t i = 0; i < n; i++)
		inout[i] = tl_f16_from_float(tl_f16_to_float(in[i]) + tl_f16_to_float(inout[i]));
}

int tl_dtype_sum(const void *in, void *inout, int dtype, size_t n)
{
	switch (dtype) {
	case TL_DTYPE_F32: {
		const float *x = in;
		float *y = inout;
		for (size_t i = 0; i < n; i++)
			y[i] += x[i];
		return 0;
	}
	case TL_DTYPE_F64: {
		const double *x = in;
		double *y = inout;
		for (size_t i = 0; i < n; i++)
			y[i] += x[i];
		return 0;
	}
	case TL_DTYPE_BF16:
		tl_bf16_sum(in, inout, n);
		return 0;
	case TL_DTYPE_F16:
		tl_f16_sum(in, inout, n);
		return 0;
	default:
		return -1;
	}
}

/* Widening to double is exact for every format; narrowing goes through float (see half.h). */
static double load(const void *p, int dtype, size_t i)
{
	switch (dtype) {
	case TL_DTYPE_F32:
		return ((const float *)p)[i];
	case TL_DTYPE_F64:
		return ((const double *)p)[i];
	case TL_DTYPE_BF16:
		return tl_bf16_to_float(((const uint16_t *)p)[i]);
	default:
		return tl_f16_to_float(((const uint16_t *)p)[i]);
	}
}

static void store(void *p, int dtype, size_t i, double v)
{
	switch (dtype) {
	case TL_DTYPE_F32:
		((float *)p)[i] = (float)v;
		break;
	case TL_DTYPE_F64:
		((double *)p)[i] = v;
		break;
	case TL_DTYPE_BF16:
		((uint16_t *)p)[i] = tl_bf16_from_float((float)v);
		break;
	default:
		((uint16_t *)p)[i] = tl_f16_from_float((float)v);
		break;
	}
}

static int known(int dtype)
{
	return dtype == TL_DTYPE_F32 || dtype == TL_DTYPE_F64 || dtype == TL_DTYPE_BF16 ||
	       dtype == TL_DTYPE_F16;
}

int tl_dtype_convert(void *dst, int dst_dtype, const void *src, int src_dtype, size_t n)
{
	if (!known(dst_dtype) || !known(src_dtype))
		return -1;
	if (dst_dtype == src_dtype) {
		if (dst != src)
			memcpy(dst, src, n * tl_dtype_bytes(dst_dtype));
		return 0;
	}
	/* The conversions the backend does on every step get their own loops, so that the
	 * compiler sees a fixed format on each side. */
	if (src_dtype == TL_DTYPE_F32 && dst_dtype == TL_DTYPE_BF16) {
		const float *s = src;
		uint16_t *d = dst;
		for (size_t i = 0; i < n; i++)
			d[i] = tl_bf16_from_float(s[i]);
		return 0;
	}
	if (src_dtype == TL_DTYPE_F32 && dst_dtype == TL_DTYPE_F16) {
		const float *s = src;
		uint16_t *d = dst;
		for (size_t i = 0; i < n; i++)
			d[i] = tl_f16_from_float(s[i]);
		return 0;
	}
	if (src_dtype == TL_DTYPE_BF16 && dst_dtype == TL_DTYPE_F32) {
		const uint16_t *s = src;
		float *d = dst;
		for (size_t i = 0; i < n; i++)
			d[i] = tl_bf16_to_float(s[i]);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		store(dst, dst_dtype, i, load(src, src_dtype, i));
	return 0;
}

int tl_dtype_fill(void *dst, int dtype, double value, size_t n)
{
	if (!known(dtype))
		return -1;
	if (n == 0)
		return 0;
	store(dst, dtype, 0, value);
	/* Doubling copies: fast for regions of gigabytes, and every page gets written. */
	size_t elem = tl_dtype_bytes(dtype), done = 1;
	while (done < n) {
		size_t len = done < n - done ? done : n - done;
		memcpy((char *)dst + done * elem, dst, len * elem);
		done += len;
	}
	return 0;
}
