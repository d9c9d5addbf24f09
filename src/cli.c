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
#include "trainload/dryrun.h"
#include "trainload/exec.h"
#include "trainload/model.h"
#include "trainload/log.h"
#include "trainload/sweep.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: trainload [options] [JOBFILE]\n"
		"       mpirun -np N trainload [options] [JOBFILE]\n"
		"       mpirun -np N trainload sweep [options] [JOBFILE]\n"
		"\n"
		"Runs the GEMMs and collectives of a transformer training step on every rank, step\n"
		"after step, and reports how long they took. Without JOBFILE it runs a built-in\n"
		"small GPT-style job (see --help-job for its keys and defaults). \"sweep\" runs a\n"
		"collective sweep like nccl-tests' instead (a [sweep] job; without JOBFILE:\n"
		"allreduce from 8 B to 64 MiB, doubling, on the world).\n"
		"\n"
		"Options:\n"
		"  -s, --set SECTION.KEY=VALUE  override a job key (repeatable), e.g. --set "
		"run.steps=5\n"
		"  -o, --output FILE.json       write the result document to FILE.json and one line\n"
		"                               per finished step to FILE.jsonl; refused while\n"
		"                               another run writes them, or when they hold an\n"
		"                               earlier run's result\n"
		"      --force                  replace an earlier run's result at --output\n"
		"  -q, --quiet                  no summary on stdout\n"
		"      --timeout S              watchdog: when no op finishes for S seconds, print\n"
		"                               where every stuck rank is and exit 3 (the same as\n"
		"                               --set run.timeout_s=S; 0: off)\n"
		"      --peak-tflops X          peak TFLOP/s per rank for MFU (default: measured\n"
		"                               by a calibration GEMM after the steps)\n"
		"  -n, --dry-run                print the plan of one rank and exit: no MPI, no\n"
		"                               hardware work\n"
		"      --ranks N                dry run: the world size (default 1)\n"
		"      --ranks-per-node K       dry run: ranks per node, to tell which groups cross\n"
		"                               nodes\n"
		"      --rank R                 dry run: whose plan to print (default 0)\n"
		"      --json                   dry run: print JSON (the job, world and plan keys\n"
		"                               of a run's result, and more)\n"
		"      --rank-agg max|avg|min   sweep: how each size's time per iteration is\n"
		"                               reduced over ranks (default max: the slowest)\n"
		"      --min-busbw GBPS         sweep: exit 1 when an op's mean busbw over sizes\n"
		"                               >= 1 MiB is below GBPS (as NCCL_TESTS_MIN_BW)\n"
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
	enum { OPT_HELP_JOB = 256, OPT_RANKS, OPT_RANKS_PER_NODE, OPT_RANK, OPT_JSON, OPT_PEAK, OPT_RANK_AGG,
	       OPT_MIN_BUSBW, OPT_TIMEOUT, OPT_FORCE };
	static const struct option longopts[] = {
		{ "set", required_argument, NULL, 's' },
		{ "output", required_argument, NULL, 'o' },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help-job", no_argument, NULL, OPT_HELP_JOB },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "ranks", required_argument, NULL, OPT_RANKS },
		{ "ranks-per-node", required_argument, NULL, OPT_RANKS_PER_NODE },
		{ "rank", required_argument, NULL, OPT_RANK },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "peak-tflops", required_argument, NULL, OPT_PEAK },
		{ "rank-agg", required_argument, NULL, OPT_RANK_AGG },
		{ "min-busbw", required_argument, NULL, OPT_MIN_BUSBW },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	bool print = tl_log_rank() == 0;
	int c, index = 0;

	cli->sets = calloc((size_t)argc, sizeof(*cli->sets));
	if (!cli->sets)
		return TL_ENOMEM;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "s:o:qnhV", longopts, &index)) != -1) {
		switch (c) {
		case 'n':
			cli->dry_run = true;
			break;
		case OPT_RANKS:
		case OPT_RANKS_PER_NODE:
		case OPT_RANK: {
			uint64_t *dst = c == OPT_RANKS		? &cli->dry.ranks
					: c == OPT_RANKS_PER_NODE ? &cli->dry.ranks_per_node
								  : &cli->dry.rank;
			const char *why = NULL;
			if (tl_parse_uint(optarg, dst, &why) ||
			    (c != OPT_RANK && (*dst == 0 || *dst > TL_MAX_RANKS))) {
				tl_err("trainload: --%s %s: %s\n", longopts[index].name, optarg,
				       why ? why : "out of range (1 .. 2^32)");
				return TL_EINPUT;
			}
			break;
		}
		case OPT_JSON:
			cli->dry.json = true;
			break;
		case OPT_PEAK: {
			char *end;
			cli->peak_tflops = strtod(optarg, &end);
			if (*end || !(cli->peak_tflops > 0 && cli->peak_tflops < 1e9)) {
				tl_err("trainload: --peak-tflops %s: expected a positive number\n",
				       optarg);
				return TL_EINPUT;
			}
			break;
		}
		case OPT_RANK_AGG:
			if (!strcmp(optarg, "max")) {
				cli->rank_agg = TL_RANK_AGG_MAX;
			} else if (!strcmp(optarg, "avg")) {
				cli->rank_agg = TL_RANK_AGG_AVG;
			} else if (!strcmp(optarg, "min")) {
				cli->rank_agg = TL_RANK_AGG_MIN;
			} else {
				tl_err("trainload: --rank-agg %s: expected max, avg or min\n", optarg);
				return TL_EINPUT;
			}
			break;
		case OPT_MIN_BUSBW: {
			char *end;
			cli->min_busbw = strtod(optarg, &end);
			if (*end || !(cli->min_busbw >= 0 && cli->min_busbw < 1e15)) {
				tl_err("trainload: --min-busbw %s: expected a number of GB/s\n",
				       optarg);
				return TL_EINPUT;
			}
			break;
		}
		case OPT_TIMEOUT: {
			/* The same as --set run.timeout_s=S, where it stands among the --set. */
			size_t len = strlen(optarg) + sizeof("run.timeout_s=");
			if (cli->timeout_set) {
				tl_err("trainload: --timeout given twice\n");
				return TL_EINPUT;
			}
			cli->timeout_set = malloc(len);
			if (!cli->timeout_set)
				return TL_ENOMEM;
			snprintf(cli->timeout_set, len, "run.timeout_s=%s", optarg);
			cli->sets[cli->nsets++] = cli->timeout_set;
			break;
		}
		case 's':
			cli->sets[cli->nsets++] = optarg;
			break;
		case 'o':
			/* An empty name would become the hidden ./.jsonl and ./.tmp. */
			if (!*optarg || optarg[strlen(optarg) - 1] == '/') {
				tl_err("trainload: --output '%s': expected a file name (FILE.json)\n",
				       optarg);
				return TL_EINPUT;
			}
			cli->output = optarg;
			break;
		case OPT_FORCE:
			cli->force = true;
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
	/* getopt has moved the words that are not options to the end, in order. */
	if (optind < argc && !strcmp(argv[optind], "sweep")) {
		cli->sweep = true;
		optind++;
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
	/* "trainload sweep": a sweep job whatever the file holds ([model] in it is refused). */
	if (cli->sweep)
		job->has_sweep = true;
	if (cli->job_file)
		tl_job_parse_file(job, cli->job_file, diag);
	for (int i = 0; i < cli->nsets; i++)
		tl_job_set(job, cli->sets[i], diag);
	return diag->count + diag->dropped ? TL_EINPUT : 0;
}

/* A process that no launcher started is a world of one rank: its job can be checked in full
 * before MPI starts, so that bad input never waits on MPI_Init (a singleton MPI_Init can take
 * seconds where the host name does not resolve). tl_run checks it again, the same way. */
static int check_alone(struct tl_job *job, struct tl_diag *diag)
{
	struct tl_model model;
	int rc = tl_job_resolve(job, 1, diag);

	if (!rc)
		rc = tl_exec_check(job, diag);
	if (!rc && !job->has_sweep) /* a sweep has no model */
		rc = tl_model_build(&model, job, diag);
	return rc;
}

int tl_main(int argc, char **argv)
{
	struct tl_cli cli = { .argc = argc, .argv = argv, .dry = { .ranks = 1 } };
	struct tl_job job = { 0 };
	struct tl_diag diag = { 0 };
	int rc, status;

	/* Until MPI is up, the launcher's environment says which rank prints. */
	tl_log_set_rank(tl_launcher_rank());
	rc = parse_args(&cli, argc, argv);
	if (rc == 1) {
		free(cli.sets);
		free(cli.timeout_set);
		return TL_EXIT_OK;
	}
	if (!rc)
		rc = tl_cli_load_job(&cli, &job, &diag);
	if (!rc && cli.dry_run)
		rc = tl_dry_run(&job, &cli.dry, stdout, &diag);
	else if (!rc && !tl_launched())
		rc = check_alone(&job, &diag);
	if (cli.dry_run || (rc && !tl_launched())) {
		/* No MPI needed: a dry run, or bad input in a process that no launcher started. */
		if (rc && tl_log_rank() == 0)
			tl_diag_print(&diag);
		status = !rc ? TL_EXIT_OK : rc == TL_EINPUT ? TL_EXIT_BAD_INPUT : TL_EXIT_RUN_FAILED;
	} else {
		/* Under a launcher even bad input goes through MPI, so that all ranks agree and
		 * exit together once the message is out (a rank exiting first could get the
		 * launcher to kill the one printing it). */
		status = tl_run(&cli, rc ? NULL : &job, &diag);
	}
	tl_diag_free(&diag);
	tl_job_free(&job);
	free(cli.sets);
	free(cli.timeout_set);
	return status;
}
