/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The numbers users quote, each defined once (DESIGN.md §5). Pure.
 *
 * Collective bandwidths follow nccl-tests (doc/PERFORMANCE.md there): algbw = bytes / time,
 * with bytes the larger of input and output; busbw = algbw × the collective's factor
 * (include/trainload/coll.h), which makes it comparable to the hardware's link bandwidth
 * whatever the group size. GB = 1e9 bytes.
 */
#ifndef TRAINLOAD_METRICS_H
#define TRAINLOAD_METRICS_H

#include <stddef.h>
#include <stdint.h>


/* algbw in GB/s of bytes moved in seconds (0 when seconds is 0). */
double tl_algbw_gbps(uint64_t bytes, double seconds);

/* The p-th percentile (0..100) of n values, interpolating linearly between the two nearest
 * ranks (numpy's default); values is not modified. 0 when n is 0. */
double tl_percentile(const double *values, size_t n, double p);

/* A robust standard deviation of n values: 1.4826 x their median absolute deviation from the
 * median (σ for normally distributed values, untouched by a few outliers). 0 when n < 2. */
double tl_robust_sigma(const double *values, size_t n);

/* Tokens per second: tokens of one step (global batch × sequence) / step time; 0 when step_s
 * is 0. */
double tl_tokens_per_s(uint64_t tokens_per_step, double step_s);

/* Achieved model TFLOP/s per rank: model FLOPs per step / step time / ranks / 1e12. */
double tl_model_tflops_per_rank(double model_flops_per_step, double step_s, int ranks);

/* Model FLOPs utilisation: model FLOPs per step / step time / (ranks × peak FLOP/s per rank). */
double tl_mfu(double model_flops_per_step, double step_s, int ranks, double peak_flops_per_rank);

/* Least-squares fit of time = alpha + beta · bytes over n points; beta in seconds per byte.
 * With one distinct size alpha is 0 and beta = mean time / bytes. Neither is ever negative: when
 * the best line has alpha < 0, the fit is through the origin (beta = Σxy/Σx²); when beta < 0,
 * alpha is the mean time and beta 0. Returns 0, or -1 when n is 0. */
int tl_fit_alpha_beta(const double *bytes, const double *seconds, size_t n, double *alpha,
		      double *beta);

#endif
