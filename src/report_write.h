/* SPDX-License-Identifier: BSD-3-Clause */
/* trainload-report's outputs: the Markdown report, the CSV scaling table, the JSON document,
 * and the gnuplot pictures. */
#ifndef TRAINLOAD_REPORT_WRITE_H
#define TRAINLOAD_REPORT_WRITE_H

#include <stdio.h>

#include "trainload/report.h"

/* Every convention the report's figures follow, stated in each output's header. */
extern const char tl_report_conventions[];

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
