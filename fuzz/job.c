/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target "job": one job file, as bytes, through everything the pure library does
 * with a job before any rank runs: parse (tl_job_parse_stream), resolve against a world of
 * 1 to 256 ranks, the resolved job as JSON and the model's arithmetic. Run by fuzz/run.sh job SECONDS.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>

#include "fuzz.h"
#include "trainload/job.h"
#include "trainload/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tl_job job;
	struct tl_diag diag = { 0 };
	struct tl_model model;
	FILE *in;

	if (size == 0 || tl_job_init(&job))
		return 0;
	/* fmemopen of 0 bytes fails; the first byte picks the world size. */
	in = fmemopen((void *)data, size, "r");
	if (in && !tl_job_parse_stream(&job, in, "fuzz.job", &diag) &&
	    !tl_job_resolve(&job, (uint64_t)data[0] + 1, &diag)) {
		/* The resolved job as JSON: every value formatted back. */
		json_decref(tl_job_to_json(&job));
		if (!job.has_sweep)
			tl_model_build(&model, &job, &diag);
	}
	if (in)
		fclose(in);
	tl_diag_free(&diag);
	tl_job_free(&job);
	return 0;
}
