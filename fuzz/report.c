/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target "report": one result file, as bytes, through what trainload-report does with
 * it: read (tl_report_read_doc), group, fit and project (tl_report_build, which rebuilds the
 * run's job and plans at larger worlds), and the Markdown, CSV and JSON writers. The same bytes
 * are read twice, as two runs, so that grouping and fitting see more than one point. Run by
 * fuzz/run.sh report SECONDS.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "report_write.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tl_report_inputs in = { 0 };
	struct tl_report rep;
	static const uint64_t project[] = { 64 };
	FILE *out = fopen("/dev/null", "w");

	in.runs = calloc(2, sizeof(*in.runs));
	if (!out || !in.runs)
		goto done;
	for (size_t i = 0; i < 2; i++) {
		in.runs[i].path = strdup(i ? "b.json" : "a.json");
		if (!in.runs[i].path)
			goto done;
		in.count++;
		tl_report_read_doc(&in.runs[i], in.runs[i].path, (const char *)data, size);
	}
	if (tl_report_build(&rep, &in, TL_SCALING_AUTO, project, 1) == 0) {
		char *missing[] = { "1 node: job 1 FAILED" };
		tl_report_write_md(&rep, &in, missing, 1, out);
		tl_report_write_csv(&rep, &in, out);
		tl_report_write_json(&rep, &in, missing, 1, out);
	}
	tl_report_free(&rep);
done:
	tl_report_inputs_free(&in);
	if (out)
		fclose(out);
	return 0;
}
