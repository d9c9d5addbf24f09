/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * trainload's command line: options, the job (file, overrides), then the run. Everything found
 * wrong with the input is reported before MPI starts where it can be, and otherwise before any
 * rank allocates or communicates, with exit status 2 on every rank.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainload/cli.h"
#include "trainload/log.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: trainload [options] [JOBFILE]\n"
		"       mpirun -np N trainload [options] [JOBFILE]\n"
		"\n"
		"Runs the GEMMs and collectives of a transformer training step on every rank, step\n"
		"after step, and reports how long they took. Without JOBFILE it runs a built-in\n"
		"small GPT-style job (see --help-job for its keys and defaults).\n"
		"\n"
		"Options:\n"
		"  -s, --set SECTION.KEY=VALUE  override a job key (repeatable), e.g. --set "
		"run.steps=5\n"
		"  -o, --output FILE.json       write the result document to FILE.json and one line\n"
		"                               per finished step to FILE.jsonl\n"
		"  -q, --quiet                  no summary on stdout\n"
		"      --help-job               list every job-file key with its default and range\n"
		"  -h, --help                   this text\n"
		"  -V, --version                print the version\n"
		"\n"
		"Exit status: 0 ok, 1 run failed, 2 bad input, 3 watchdog timeout.\n"
		"See trainload(1) and trainload-job(5).\n");
}

/* Parse argv into cli; returns 0, 1 when the program should exit 0 at once (help, version),
 * or TL_EINPUT. */
static int parse_args(struct tl_cli *cli, int argc, char **argv)
{
	enum { OPT_HELP_JOB = 256 };
	static const struct option longopts[] = {
		{ "set", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help-job", no_argument, NULL, OPT_HELP_JOB },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	bool print = tl_log_rank() == 0;
	int c;

	cli->sets = calloc((size_t)argc, sizeof(*cli->sets));
	if (!cli->sets)
		return TL_ENOMEM;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "s:o:qhV", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			cli->sets[cli->nsets++] = optarg;
			break;
		case 'o':
			cli->output = optarg;
			break;
		case 'q':
			cli->quiet = true;
			break;
		case OPT_HELP_JOB:
			if (print)
				tl_job_print_help(stdout);
			return 1;
		case 'h':
			if (print)
				usage(stdout);
			return 1;
		case 'V':
			if (print)
				printf("trainload %s\n", PACKAGE_VERSION);
			return 1;
		default:
			if (optopt && strchr("so", optopt))
				tl_err("trainload: option -%c needs a value\n", optopt);
			else if (optopt)
				tl_err("trainload: unknown option -%c\n", optopt);
			else
				tl_err("trainload: unknown option %s\n", argv[optind - 1]);
			tl_err("Try 'trainload --help'.\n");
			return TL_EINPUT;
		}
	}
	if (optind < argc)
		cli->job_file = argv[optind++];
	if (optind < argc) {
		tl_err("trainload: one job file at most (got '%s' too)\n", argv[optind]);
		return TL_EINPUT;
	}
	return 0;
}

int tl_cli_load_job(const struct tl_cli *cli, struct tl_job *job, struct tl_diag *diag)
{
	int rc = tl_job_init(job);

	if (rc)
		return rc;
	if (cli->job_file)
		tl_job_parse_file(job, cli->job_file, diag);
	for (int i = 0; i < cli->nsets; i++)
		tl_job_set(job, cli->sets[i], diag);
	return diag->count + diag->dropped ? TL_EINPUT : 0;
}

int tl_main(int argc, char **argv)
{
	struct tl_cli cli = { .argc = argc, .argv = argv };
	struct tl_job job;
	struct tl_diag diag = { 0 };
	int rc, status;

	/* Until MPI is up, the launcher's environment says which rank prints. */
	tl_log_set_rank(tl_launcher_rank());
	rc = parse_args(&cli, argc, argv);
	if (rc) {
		free(cli.sets);
		return rc == 1 ? TL_EXIT_OK : TL_EXIT_BAD_INPUT;
	}
	rc = tl_cli_load_job(&cli, &job, &diag);
	if (rc) {
		if (tl_log_rank() == 0)
			tl_diag_print(&diag);
		status = TL_EXIT_BAD_INPUT;
	} else {
		status = tl_run(&cli, &job);
	}
	tl_diag_free(&diag);
	tl_job_free(&job);
	free(cli.sets);
	return status;
}
