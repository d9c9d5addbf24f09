/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * bf16 and f16 (include/trainload/half.h): round to nearest even at every boundary that has one
 * (ties, overflow, subnormals), NaN and infinity, exhaustive round trips, and the sums the MPI
 * reduction ops do.
 */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "trainload/half.h"
#include "trainload/job.h"

struct round_case {
	float in;
	uint16_t want;
};

static void test_bf16_round_to_nearest_even(void **state)
{
	static const struct round_case cases[] = {
		{ 0.0f, 0x0000 },
		{ -0.0f, 0x8000 },
		{ 1.0f, 0x3f80 },
		{ -2.0f, 0xc000 },
		/* 1 + 2^-8 lies halfway between 1 (even) and 1 + 2^-7 (odd): down. */
		{ 1.0f + 0x1p-8f, 0x3f80 },
		/* 1 + 3·2^-8 lies halfway between 1 + 2^-7 (odd) and 1 + 2^-6 (even): up. */
		{ 1.0f + 3 * 0x1p-8f, 0x3f82 },
		/* Just above and below a tie go to the nearer neighbour. */
		{ 1.0f + 0x1p-8f + 0x1p-20f, 0x3f81 },
		{ 1.0f + 0x1p-8f - 0x1p-20f, 0x3f80 },
		{ 256.0f + 1.0f, 0x4380 }, /* 257: a tie at 256's 2-unit ulp, down to 256 */
		{ 3.0f, 0x4040 },
		/* The largest finite bf16 is 0x7f7f; half an ulp more rounds to infinity. */
		{ 0x1.fep127f, 0x7f7f },
		{ 0x1.ffp127f, 0x7f80 },
		{ INFINITY, 0x7f80 },
		{ -INFINITY, 0xff80 },
		/* Subnormals are kept, rounded like the rest. */
		{ 0x1p-133f, 0x0001 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint16_t got = tl_bf16_from_float(cases[i].in);
		if (got != cases[i].want)
			fail_msg("bf16(%a) = %#06x, want %#06x", (double)cases[i].in, got,
				 cases[i].want);
	}
}

static void test_f16_round_to_nearest_even(void **state)
{
	static const struct round_case cases[] = {
		{ 0.0f, 0x0000 },
		{ -0.0f, 0x8000 },
		{ 1.0f, 0x3c00 },
		{ -2.0f, 0xc000 },
		{ 0.5f, 0x3800 },
		/* Ties at 1's ulp of 2^-10: 1 + 2^-11 down to 1; 1 + 3·2^-11 up to 1 + 2^-9. */
		{ 1.0f + 0x1p-11f, 0x3c00 },
		{ 1.0f + 3 * 0x1p-11f, 0x3c02 },
		{ 1.0f + 0x1p-11f + 0x1p-20f, 0x3c01 },
		{ 2048.0f + 1.0f, 0x6800 }, /* 2049: a tie, down to 2048 */
		{ 2048.0f + 3.0f, 0x6802 }, /* 2051: a tie, up to 2052 */
		/* 65504 is the largest finite f16; 65520 (half an ulp more) ties to infinity. */
		{ 65504.0f, 0x7bff },
		{ 65519.0f, 0x7bff },
		{ 65520.0f, 0x7c00 },
		{ 1e6f, 0x7c00 },
		{ -1e6f, 0xfc00 },
		{ INFINITY, 0x7c00 },
		{ -INFINITY, 0xfc00 },
		/* The smallest normal, and the subnormals below it (units of 2^-24). */
		{ 0x1p-14f, 0x0400 },
		{ 0x1p-24f, 0x0001 },
		{ 0x1p-25f, 0x0000 },            /* a tie between 0 (even) and 1 */
		{ 0x1p-25f + 0x1p-40f, 0x0001 }, /* just past it */
		{ 0x1p-26f, 0x0000 },
		{ 3 * 0x1p-25f, 0x0002 },        /* 1.5 units: a tie, up to 2 */
		{ 5 * 0x1p-25f, 0x0002 },        /* 2.5 units: a tie, down to 2 */
		{ -3 * 0x1p-24f, 0x8003 },
		/* Rounding up out of the subnormals lands on the smallest normal. */
		{ 0x1p-14f - 0x1p-26f, 0x0400 },
		{ 0x3ffp-24f, 0x03ff },
		{ 1e-3f, 0x1419 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint16_t got = tl_f16_from_float(cases[i].in);
		if (got != cases[i].want)
			fail_msg("f16(%a) = %#06x, want %#06x", (double)cases[i].in, got,
				 cases[i].want);
	}
}

static void test_nan(void **state)
{
	(void)state;
	assert_true(isnan(tl_bf16_to_float(tl_bf16_from_float(NAN))));
	assert_true(isnan(tl_bf16_to_float(tl_bf16_from_float(-NAN))));
	assert_true(isnan(tl_f16_to_float(tl_f16_from_float(NAN))));
	/* A NaN whose payload sits only in the dropped bits must not become infinity. */
	float low_payload;
	uint32_t bits = 0x7f800001u;
	memcpy(&low_payload, &bits, sizeof(bits));
	assert_true(isnan(tl_bf16_to_float(tl_bf16_from_float(low_payload))));
	assert_true(isnan(tl_f16_to_float(tl_f16_from_float(low_payload))));
	/* The largest-payload NaN must not carry into the sign. */
	bits = 0x7fffffffu;
	memcpy(&low_payload, &bits, sizeof(bits));
	assert_int_equal(tl_bf16_from_float(low_payload) & 0x8000, 0);
	assert_true(isnan(tl_bf16_to_float(0x7fc0)));
	assert_true(isnan(tl_f16_to_float(0x7e00)));
	assert_true(isinf(tl_f16_to_float(0x7c00)));
	assert_true(isinf(tl_bf16_to_float(0xff80)) && tl_bf16_to_float(0xff80) < 0);
}

/* Every 16-bit pattern that is not a NaN comes back unchanged through float. */
static void test_round_trip_exhaustive(void **state)
{
	(void)state;
	for (uint32_t h = 0; h <= 0xffff; h++) {
		float b = tl_bf16_to_float((uint16_t)h), f = tl_f16_to_float((uint16_t)h);
		if (!isnan(b) && tl_bf16_from_float(b) != h)
			fail_msg("bf16 %#06x -> %a -> %#06x", h, (double)b, tl_bf16_from_float(b));
		if (!isnan(f) && tl_f16_from_float(f) != h)
			fail_msg("f16 %#06x -> %a -> %#06x", h, (double)f, tl_f16_from_float(f));
		if (isnan(b) != ((h & 0x7fff) > 0x7f80))
			fail_msg("bf16 %#06x: NaN-ness", h);
		if (isnan(f) != ((h & 0x7fff) > 0x7c00))
			fail_msg("f16 %#06x: NaN-ness", h);
	}
	/* f16 values are exact in float: check a few against their meaning. */
	assert_true(tl_f16_to_float(0x0001) == 0x1p-24f);
	assert_true(tl_f16_to_float(0x03ff) == 0x3ffp-24f);
	assert_true(tl_f16_to_float(0x7bff) == 65504.0f);
	assert_true(tl_f16_to_float(0xc000) == -2.0f);
}

static void test_sums(void **state)
{
	uint16_t a[8], b[8];
	const float x[8] = { 1, 2, 0.5f, -3, 256, 1e-3f, 65504, -0.0f };
	const float y[8] = { 2, 2, 0.25f, 3, 1, 0, 65504, -0.0f };

	(void)state;
	for (int i = 0; i < 8; i++) {
		a[i] = tl_bf16_from_float(x[i]);
		b[i] = tl_bf16_from_float(y[i]);
	}
	tl_bf16_sum(a, b, 8);
	assert_true(tl_bf16_to_float(b[0]) == 3.0f);
	assert_true(tl_bf16_to_float(b[1]) == 4.0f);
	assert_true(tl_bf16_to_float(b[2]) == 0.75f);
	assert_true(tl_bf16_to_float(b[3]) == 0.0f);
	assert_true(tl_bf16_to_float(b[4]) == 256.0f); /* 257 ties to even */
	assert_int_equal(b[5], tl_bf16_from_float(1e-3f));
	assert_int_equal(b[7], 0x8000); /* -0 + -0 = -0 */

	for (int i = 0; i < 8; i++) {
		a[i] = tl_f16_from_float(x[i]);
		b[i] = tl_f16_from_float(y[i]);
	}
	tl_f16_sum(a, b, 8);
	assert_true(tl_f16_to_float(b[0]) == 3.0f);
	assert_true(tl_f16_to_float(b[2]) == 0.75f);
	assert_true(tl_f16_to_float(b[4]) == 257.0f); /* exact in f16 */
	assert_int_equal(b[6], 0x7c00);               /* 65504 + 65504 overflows */

	/* A known total: 1 + 2 + … + 64 = 2080, exact in bf16 (2080 = 0x820 has 7 significant
	 * bits) and in f16, whatever the order, since every partial sum is exact too. */
	uint16_t accb = tl_bf16_from_float(0), acch = tl_f16_from_float(0);
	for (int i = 1; i <= 64; i++) {
		uint16_t vb = tl_bf16_from_float((float)i), vh = tl_f16_from_float((float)i);
		tl_bf16_sum(&vb, &accb, 1);
		tl_f16_sum(&vh, &acch, 1);
	}
	assert_true(tl_f16_to_float(acch) == 2080.0f);
	/* bf16 has 8 significant bits: partial sums above 256 round; the total stays within
	 * a few ulps of 2080. */
	assert_true(fabsf(tl_bf16_to_float(accb) - 2080.0f) <= 4 * 16.0f);

	/* Infinity absorbs, and inf - inf is NaN. */
	uint16_t inf = 0x7f80, ninf = 0xff80, one = tl_bf16_from_float(1);
	tl_bf16_sum(&one, &inf, 1);
	assert_int_equal(inf, 0x7f80);
	tl_bf16_sum(&inf, &ninf, 1);
	assert_true(isnan(tl_bf16_to_float(ninf)));
}

static void test_dtype_helpers(void **state)
{
	float f[5] = { 1, -2, 0.5f, 1e-3f, 3.0f };
	double d[5];
	uint16_t h[5], bf[5];
	float back[5];

	(void)state;
	assert_int_equal(tl_dtype_convert(d, TL_DTYPE_F64, f, TL_DTYPE_F32, 5), 0);
	assert_true(d[3] == (double)1e-3f);
	assert_int_equal(tl_dtype_convert(h, TL_DTYPE_F16, d, TL_DTYPE_F64, 5), 0);
	assert_int_equal(h[3], 0x1419);
	assert_int_equal(tl_dtype_convert(bf, TL_DTYPE_BF16, f, TL_DTYPE_F32, 5), 0);
	assert_int_equal(bf[0], 0x3f80);
	assert_int_equal(tl_dtype_convert(back, TL_DTYPE_F32, bf, TL_DTYPE_BF16, 5), 0);
	assert_true(back[1] == -2.0f && back[4] == 3.0f);
	assert_int_equal(tl_dtype_convert(back, TL_DTYPE_F32, h, TL_DTYPE_F16, 5), 0);
	assert_true(back[2] == 0.5f);
	assert_int_equal(tl_dtype_sum(f, back, TL_DTYPE_F32, 5), 0);
	assert_true(back[2] == 1.0f);
	assert_int_equal(tl_dtype_sum(bf, h, TL_DTYPE_SAME, 5), -1);

	uint16_t fill[1000];
	assert_int_equal(tl_dtype_fill(fill, TL_DTYPE_BF16, 1e-3, 1000), 0);
	for (int i = 0; i < 1000; i++)
		assert_int_equal(fill[i], tl_bf16_from_float(1e-3f));
	double dfill[37];
	assert_int_equal(tl_dtype_fill(dfill, TL_DTYPE_F64, 0.25, 37), 0);
	for (int i = 0; i < 37; i++)
		assert_true(dfill[i] == 0.25);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bf16_round_to_nearest_even),
		cmocka_unit_test(test_f16_round_to_nearest_even),
		cmocka_unit_test(test_nan),
		cmocka_unit_test(test_round_trip_exhaustive),
		cmocka_unit_test(test_sums),
		cmocka_unit_test(test_dtype_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
