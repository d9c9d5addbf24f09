/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bf16 and f16 by bit manipulation, so that the results do not depend on whether the compiler
 * and CPU know __bf16 or _Float16, and every rounding case is visible here.
 */
#include "config.h"

#include <string.h>

#include "trainload/half.h"

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
