/* SPDX-License-Identifier: BSD-3-Clause */
/* Element types (include/trainload/dtype.h). */
#include "config.h"

#include <string.h>

#include "trainload/dtype.h"
#include "trainload/half.h"

static const struct {
	int dtype;
	const char *job, *nccl, *nccl_alias;
	uint64_t bytes;
} types[] = {
    {TL_DTYPE_F32, "f32", "float", "float32", 4},
    {TL_DTYPE_F64, "f64", "double", "float64", 8},
    {TL_DTYPE_BF16, "bf16", "bfloat16", "bfloat16", 2},
    {TL_DTYPE_F16, "f16", "half", "float16", 2},
};

#define NTYPES (sizeof(types) / sizeof(types[0]))

static int find(int dtype)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (types[i].dtype == dtype)
			return (int)i;
	return -1;
}

uint64_t tl_dtype_bytes(int dtype)
{
	int i = find(dtype);

	return i < 0 ? 4 : types[i].bytes;
}

const char *tl_dtype_name(int dtype)
{
	int i = find(dtype);

	return i < 0 ? "?" : types[i].nccl;
}

int tl_dtype_from_name(const char *name)
{
	for (size_t i = 0; i < NTYPES; i++)
		if (!strcmp(name, types[i].job) || !strcmp(name, types[i].nccl) ||
		    !strcmp(name, types[i].nccl_alias))
			return types[i].dtype;
	return -1;
}

double tl_dtype_load(const void *buf, int dtype, uint64_t i)
{
	switch (dtype) {
	case TL_DTYPE_F64:
		return ((const double *)buf)[i];
	case TL_DTYPE_BF16:
		return tl_bf16_to_float(((const uint16_t *)buf)[i]);
	case TL_DTYPE_F16:
		return tl_f16_to_float(((const uint16_t *)buf)[i]);
	default:
		return ((const float *)buf)[i];
	}
}

void tl_dtype_store(void *buf, int dtype, uint64_t i, double v)
{
	switch (dtype) {
	case TL_DTYPE_F64:
		((double *)buf)[i] = v;
		break;
	case TL_DTYPE_BF16:
		((uint16_t *)buf)[i] = tl_bf16_from_float((float)v);
		break;
	case TL_DTYPE_F16:
		((uint16_t *)buf)[i] = tl_f16_from_float((float)v);
		break;
	default:
		((float *)buf)[i] = (float)v;
		break;
	}
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

static int known(int dtype)
{
	return find(dtype) >= 0;
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
		tl_dtype_store(dst, dst_dtype, i, tl_dtype_load(src, src_dtype, i));
	return 0;
}

int tl_dtype_fill(void *dst, int dtype, double value, size_t n)
{
	if (!known(dtype))
		return -1;
	if (n == 0)
		return 0;
	tl_dtype_store(dst, dtype, 0, value);
	/* Doubling copies: fast for regions of gigabytes, and every page gets written. */
	size_t elem = tl_dtype_bytes(dtype), done = 1;
	while (done < n) {
		size_t len = done < n - done ? done : n - done;
		memcpy((char *)dst + done * elem, dst, len * elem);
		done += len;
	}
	return 0;
}
