/* SPDX-License-Identifier: BSD-3-Clause */
/* trainload-report's outputs: the Markdown report, the CSV scaling table, the JSON document,
 * and the gnuplot pictures. */
#ifndef TRAINLOAD_REPORT_WRITE_H
#define TRAINLOAD_REPORT_WRITE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "trainload/report.h"

/* Every convention the report's figures follow, stated in each output's header. */
extern const char tl_report_conventions[];

/* The runs of a group at one world size, repeats aggregated: the step time's mean, min and max
 * over them, and the figures of the mean step. */
struct tl_report_scale {
	int ranks, nodes;
	uint64_t dp;
	size_t runs;                       /* how many runs */
	size_t first;                      /* index of its first run in the group's runs */
	double p50_mean, p50_min, p50_max; /* of the runs' p50 step times */
	double tokens_per_s, model_tflops_per_rank; /* at the mean step time */
	double mfu_mean;                   /* over the runs whose peak is known; 0: none is */
	double exposed_share;              /* mean share of exposed communication */
	double speedup, efficiency;        /* of the mean, against the smallest scale's mean */
	bool oversubscribed;               /* any of its runs */
};

/* Group g's scales, smallest first, into out (room for g->count); returns how many. */
size_t tl_report_scales(const struct tl_report_group *g, const struct tl_report_inputs *in,
			struct tl_report_scale *out);

/* Whether a run did not give all it should, and is listed among missing and partial runs (and
 * on stderr): partial and unusable ones. A sweep is complete in its own way, with a section of
 * its own. */
bool tl_report_listed(const struct tl_run *r);

/* When --scaling overrode what the runs' batches say: the warning, else NULL. */
const char *tl_report_scaling_warning(const struct tl_report_group *g);

/* missing: --missing lines (points that never produced a file), listed as such. */
void tl_report_write_md(const struct tl_report *rep, const struct tl_report_inputs *in,
			char *const *missing, size_t nmissing, FILE *out);
void tl_report_write_csv(const struct tl_report *rep, const struct tl_report_inputs *in,
			 FILE *out);
void tl_report_write_json(const struct tl_report *rep, const struct tl_report_inputs *in,
			  char *const *missing, size_t nmissing, FILE *out);

/* Draw throughput and efficiency against ranks (with the ideal lines) and each job's stacked
 * breakdown into dir, as SVG and PNG, with gnuplot; the data and the script stay beside them.
 * 0 when drawn; 1 when gnuplot is missing (said on stderr); -1 on another failure. */
int tl_report_plot(const struct tl_report *rep, const struct tl_report_inputs *in, const char *dir);

#endif
