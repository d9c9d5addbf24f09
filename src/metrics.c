/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trainload/metrics.h"

double tl_algbw_gbps(uint64_t bytes, double seconds)
{
	return seconds > 0 ? (double)bytes / seconds / 1e9 : 0.0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double tl_percentile(const double *values, size_t n, double p)
{
	if (n == 0)
		return 0.0;
	double *sorted = malloc(n * sizeof(*sorted));
	if (!sorted)
		return 0.0;
	memcpy(sorted, values, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_double);

	double pos = p / 100.0 * (double)(n - 1);
	size_t lo = (size_t)pos;
	double frac = pos - (double)lo, v = sorted[lo];
	if (lo + 1 < n)
		v += frac * (sorted[lo + 1] - sorted[lo]);
	free(sorted);
	return v;
}

double tl_robust_sigma(const double *values, size_t n)
{
	if (n < 2)
		return 0.0;
	double median = tl_percentile(values, n, 50);
	double *dev = malloc(n * sizeof(*dev));
	if (!dev)
		return 0.0;
	for (size_t i = 0; i < n; i++)
		dev[i] = fabs(values[i] - median);
	double mad = tl_percentile(dev, n, 50);
	free(dev);
	return 1.4826 * mad;
}

double tl_tokens_per_s(uint64_t tokens_per_step, double step_s)
{
	return step_s > 0 ? (double)tokens_per_step / step_s : 0.0;
}

double tl_model_tflops_per_rank(double model_flops_per_step, double step_s, int ranks)
{
	if (step_s <= 0 || ranks <= 0)
		return 0.0;
	return model_flops_per_step / step_s / ranks / 1e12;
}

double tl_mfu(double model_flops_per_step, double step_s, int ranks, double peak_flops_per_rank)
{
	if (step_s <= 0 || ranks <= 0 || peak_flops_per_rank <= 0)
		return 0.0;
	return model_flops_per_step / step_s / ((double)ranks * peak_flops_per_rank);
}

int tl_fit_alpha_beta(const double *bytes, const double *seconds, size_t n, double *alpha,
		      double *beta)
{
	double sx = 0, sy = 0, sxx = 0, sxy = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		sx += bytes[i];
		sy += seconds[i];
		sxx += bytes[i] * bytes[i];
		sxy += bytes[i] * seconds[i];
	}
	double det = (double)n * sxx - sx * sx;
	/* One distinct size (or none larger than zero): all of the time is per byte. */
	if (det <= 1e-12 * sxx * (double)n) {
		*alpha = 0;
		*beta = sx > 0 ? sy / sx : 0;
		return 0;
	}
	*beta = ((double)n * sxy - sx * sy) / det;
	*alpha = (sy - *beta * sx) / (double)n;
	/* Neither a latency nor a time per byte can be negative: noisy points can tilt the
	 * line past zero, and then the best fit with that term at zero is taken. */
	if (*alpha < 0) {
		*alpha = 0;
		*beta = sxy / sxx;
	} else if (*beta < 0) {
		*beta = 0;
		*alpha = sy / (double)n;
	}
	return 0;
}
