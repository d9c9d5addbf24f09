/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * trainload-report: result files in, a scaling report out (DESIGN.md §7). No MPI: it runs on a
 * login node or a laptop. Reading is src/report_load.c, the analysis src/report_scale.c, the
 * writers src/report_write.c and the pictures src/report_plot.c.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_write.h"
#include "trainload/job.h"

enum format { FORMAT_MD, FORMAT_CSV, FORMAT_JSON };

/* At most this many --project sizes and --missing lines. */
#define LIST_MAX 64

struct options {
	enum format format;
	enum tl_scaling scaling;
	const char *plot_dir, *output;
	char *missing[LIST_MAX];
	size_t nmissing;
	uint64_t project[LIST_MAX];
	size_t nproject;
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: trainload-report [OPTION]... RESULT...\n"
		"Turn trainload results (FILE.json, a killed run's FILE.jsonl, or folders of them)\n"
		"into a scaling report: per job, the scaling table (repeated runs aggregated),\n"
		"every run's provenance and warnings, where the time goes, the collectives,\n"
		"fitted latency and bandwidth, a projection to larger worlds; the sweeps' busbw\n"
		"tables, the stragglers, and every missing or partial run.\n"
		"\n"
		"  -f, --format md|csv|json   output format (default md: Markdown; csv: the\n"
		"                             scaling table, one row per run; json: everything)\n"
		"  -o, --output FILE          write the report to FILE (default: stdout)\n"
		"  -p, --plot DIR             draw throughput, efficiency, the breakdown and\n"
		"                             predicted against measured step time against\n"
		"                             nodes (ranks on one node), and the sweeps' busbw\n"
		"                             against size, into DIR as SVG and PNG (gnuplot)\n"
		"  -s, --scaling weak|strong|auto\n"
		"                             how to read the runs (default auto: strong when the\n"
		"                             global batch is the same at every scale, else weak)\n"
		"      --project N[,N...]     world sizes (ranks) to project to (default: 2, 4, 8\n"
		"                             and 16 times the largest run)\n"
		"      --missing TEXT         list TEXT as a missing point (a run that wrote no\n"
		"                             file, e.g. \"2 nodes: job 17 FAILED\"); repeatable\n"
		"  -h, --help                 this help\n"
		"  -V, --version              the version\n"
		"\n"
		"Exit status: 0 report written; 1 an output could not be written; 2 bad usage, or\n"
		"no usable run among the inputs (the report listing them is still written).\n"
		"See trainload-report(1).\n");
}

static int bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "trainload-report: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'trainload-report --help'.\n");
	return TL_EXIT_BAD_INPUT;
}

static int parse_project(struct options *o, const char *list)
{
	char *copy = strdup(list), *save = NULL;
	int rc = copy ? 0 : -1;

	for (char *tok = copy ? strtok_r(copy, ",", &save) : NULL; tok && !rc;
	     tok = strtok_r(NULL, ",", &save)) {
		uint64_t n;
		const char *why;
		if (tl_parse_uint(tok, &n, &why) || n == 0 || o->nproject == LIST_MAX)
			rc = -1;
		else
			o->project[o->nproject++] = n;
	}
	free(copy);
	return rc;
}

static int parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "plot", required_argument, NULL, 'p' },
		{ "scaling", required_argument, NULL, 's' },
		{ "project", required_argument, NULL, 'P' },
		{ "missing", required_argument, NULL, 'M' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":f:o:p:s:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!strcmp(optarg, "md"))
				o->format = FORMAT_MD;
			else if (!strcmp(optarg, "csv"))
				o->format = FORMAT_CSV;
			else if (!strcmp(optarg, "json"))
				o->format = FORMAT_JSON;
			else
				return bad_usage("--format: '%s' is not md, csv or json", optarg);
			break;
		case 'o':
			o->output = optarg;
			break;
		case 'p':
			o->plot_dir = optarg;
			break;
		case 's':
			if (!strcmp(optarg, "weak"))
				o->scaling = TL_SCALING_WEAK;
			else if (!strcmp(optarg, "strong"))
				o->scaling = TL_SCALING_STRONG;
			else if (!strcmp(optarg, "auto"))
				o->scaling = TL_SCALING_AUTO;
			else
				return bad_usage("--scaling: '%s' is not weak, strong or auto", optarg);
			break;
		case 'P':
			if (parse_project(o, optarg))
				return bad_usage("--project: '%s' is not a list of world sizes "
						 "(e.g. 64,128,256)",
						 optarg);
			break;
		case 'M':
			if (o->nmissing == LIST_MAX)
				return bad_usage("--missing: more than %d lines", LIST_MAX);
			o->missing[o->nmissing++] = optarg;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case 'V':
			printf("trainload-report %s\n", PACKAGE_VERSION);
			exit(0);
		case ':':
			return bad_usage("%s needs a value", argv[optind - 1]);
		default:
			return bad_usage("unknown option %s", argv[optind - 1]);
		}
	}
	if (optind == argc)
		return bad_usage("%s", "no result files given");
	return 0;
}

static int write_report(const struct options *o, const struct tl_report *rep,
			const struct tl_report_inputs *in)
{
	FILE *out = stdout;

	if (o->output && !(out = fopen(o->output, "w"))) {
		fprintf(stderr, "trainload-report: cannot write %s: %s\n", o->output,
			strerror(errno));
		return -1;
	}
	if (o->format == FORMAT_MD)
		tl_report_write_md(rep, in, o->missing, o->nmissing, out);
	else if (o->format == FORMAT_CSV)
		tl_report_write_csv(rep, in, out);
	else
		tl_report_write_json(rep, in, o->missing, o->nmissing, out);
	if (out != stdout ? fclose(out) != 0 : fflush(out) != 0) {
		fprintf(stderr, "trainload-report: cannot write %s: %s\n",
			o->output ? o->output : "stdout", strerror(errno));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	struct tl_report_inputs in = { 0 };
	struct tl_report rep = { 0 };
	int rc = parse(argc, argv, &o);

	if (rc)
		return rc;
	if (tl_report_load(&in, argv + optind, (size_t)(argc - optind)) ||
	    tl_report_build(&rep, &in, o.scaling, o.project, o.nproject)) {
		fprintf(stderr, "trainload-report: out of memory\n");
		return TL_EXIT_RUN_FAILED;
	}
	for (size_t i = 0; i < in.count; i++)
		if (tl_report_listed(&in.runs[i]))
			fprintf(stderr, "trainload-report: %s: %s: %s\n", in.runs[i].path,
				tl_run_state_name(in.runs[i].state), in.runs[i].why);
	rc = write_report(&o, &rep, &in) ? TL_EXIT_RUN_FAILED : 0;
	if (!rc && o.plot_dir && rep.count && tl_report_plot(&rep, &in, o.plot_dir) < 0)
		rc = TL_EXIT_RUN_FAILED;
	if (!rc && !rep.count) {
		fprintf(stderr, "trainload-report: no usable run among the %zu file(s)\n", in.count);
		rc = TL_EXIT_BAD_INPUT;
	}
	tl_report_free(&rep);
	tl_report_inputs_free(&in);
	return rc;
}
