/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A sweep's output (src/sweep_out.c): rank 0's text, in nccl-tests' layout for collectives and
 * OSU's for point-to-point tests, and its JSON, a run document's keys where they apply
 * (schema, trainload_version, conventions, job, world, environment, ranks, collectives,
 * status). Pure: it formats what the ranks measured.
 */
#ifndef TRAINLOAD_SWEEP_OUT_H
#define TRAINLOAD_SWEEP_OUT_H

#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "trainload/result.h"
#include "trainload/sweep.h"

/* What a sweep's output speaks of. */
struct tl_sweep_out {
	const struct tl_job *job;
	const struct tl_sweep *sw;
	const struct tl_result *r; /* the environment and every rank's place (rank_info) */
	int agg;                   /* enum tl_rank_agg */
	const struct tl_sweep_result *results; /* one per point (sw->npoints) */
};

/* The conventions a sweep's output states. */
extern const char tl_sweep_conventions[];

/* The header: our lines, then nccl-tests' ("# nThread ...", "# Using devices" and a line per
 * rank). */
void tl_sweep_print_header(const struct tl_sweep_out *o, FILE *out);
/* Test t's title and column headers (nccl-tests' three lines, or OSU's "# Size" line). */
void tl_sweep_print_test(const struct tl_sweep_out *o, int t, FILE *out);
/* Row r, once its points' results are in. */
void tl_sweep_print_row(const struct tl_sweep_out *o, size_t r, FILE *out);
/* Test t's closing lines over its rows before done: nccl-tests' "# Out of bounds values" and
 * "# Avg bus bandwidth", then ours. */
void tl_sweep_print_end(const struct tl_sweep_out *o, int t, size_t done, FILE *out);

/* A collective row's algbw and busbw in GB/s (nccl-tests' definitions, include/trainload/
 * coll.h), and a point-to-point row's figure (one-way latency in us, or MB/s over all pairs). */
double tl_sweep_algbw_gbps(const struct tl_sweep_row *row, const struct tl_sweep_result *res);
double tl_sweep_busbw_gbps(const struct tl_sweep_out *o, const struct tl_sweep_row *row,
                           const struct tl_sweep_result *res);
double tl_sweep_p2p_value(const struct tl_sweep_out *o, const struct tl_sweep_row *row,
                          const struct tl_sweep_result *res);
/* The mean busbw of test t's rows before done, out of place and in place (large: sizes of
 * 1 MiB or more only); *counted gets how many went into it. 0 when none did. */
double tl_sweep_mean_busbw(const struct tl_sweep_out *o, int t, size_t done, bool large,
                           size_t *counted);
/* Wrong elements of test t's rows before done. */
uint64_t tl_sweep_wrong(const struct tl_sweep_out *o, int t, size_t done);

/* Row r as an entry of "collectives" (and a line of the JSONL). */
json_t *tl_sweep_row_json(const struct tl_sweep_out *o, size_t r);
/* What is known before the first point (the JSONL's first line; the document starts so). */
json_t *tl_sweep_header_json(const struct tl_sweep_out *o);
/* The document, with the rows before done. */
json_t *tl_sweep_json(const struct tl_sweep_out *o, size_t done, bool interrupted);

#endif
