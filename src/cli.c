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
#include "trainload/doctor.h"
#include "trainload/dryrun.h"
#include "trainload/exec.h"
#include "trainload/model.h"
#include "trainload/log.h"
#include "trainload/progress.h"
#include "trainload/sweep.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: trainload [options] [JOBFILE]\n"
		"       mpirun -np N trainload [options] [JOBFILE]\n"
		"       mpirun -np N trainload sweep [options] [JOBFILE]\n"
		"       mpirun -np N trainload doctor [options] [JOBFILE]\n"
		"\n"
		"Runs the GEMMs and collectives of a transformer training step on every rank, step\n"
		"after step, and reports how long they took. Without JOBFILE it runs a built-in\n"
		"small GPT-style job (see --help-job for its keys and defaults). \"sweep\" runs a\n"
		"collective sweep like nccl-tests' instead (a [sweep] job; without JOBFILE:\n"
		"allreduce from 8 B to 64 MiB, doubling, on the world). \"doctor\" finds the slow\n"
		"node or link of the allocation (trainload doctor --help).\n"
		"\n"
		"Options:\n"
		"  -s, --set SECTION.KEY=VALUE  override a job key (repeatable), e.g. --set "
		"run.steps=5\n"
		"  -o, --output FILE.json       write the result document to FILE.json and one line\n"
		"                               per finished step to FILE.jsonl; refused while\n"
		"                               another run writes them, or when they hold an\n"
		"                               earlier run's result\n"
		"      --force                  replace an earlier run's result at --output\n"
		"  -q, --quiet                  no summary on stdout and no progress lines (with\n"
		"                               no -o, nothing is kept: a warning says so)\n"
		"      --progress N|Ns          a progress line on stderr every N steps (sweep:\n"
		"                               sizes) or N seconds, also with -q (the same as\n"
		"                               --set run.log_interval=...; default 10s)\n"
		"      --timeout S              watchdog: when no op finishes for S seconds, print\n"
		"                               where every stuck rank is and exit 3 (the same as\n"
		"                               --set run.timeout_s=S; 0: off)\n"
		"      --peak-tflops X          peak TFLOP/s per rank for MFU (default: the\n"
		"                               hardware's: a GPU's datasheet figure, a CPU's\n"
		"                               measured clock x FMA width x FMA units)\n"
		"  -n, --dry-run                print the plan of one rank and exit: no MPI, no\n"
		"                               hardware work (under mpirun: printed once)\n"
		"      --ranks N                dry run: the world size (default: the launcher's,\n"
		"                               else 1)\n"
		"      --ranks-per-node K       dry run: ranks per node, to tell which groups cross\n"
		"                               nodes (default: the launcher's, if it says)\n"
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
		"Options that would be ignored are refused as bad input: --ranks, --rank, --json\n"
		"without --dry-run; -o with it; --rank-agg, --min-busbw outside a sweep;\n"
		"--peak-tflops in one. Those that do nothing with --dry-run are warned about.\n"
		"\n"
		"Exit status: 0 ok, 1 run failed, 2 bad input, 3 watchdog timeout.\n"
		"See trainload(1) and trainload-job(5).\n");
}

/* How the user spelled the option getopt_long has just returned (c, with optarg): "--output"
 * (or the abbreviation typed, without any "=value"), else "-o". The spelling points into argv;
 * short ones into a static table. */
static const char *typed_name(char **argv, int c, const char *arg, char *buf, size_t len)
{
	/* The option's word is the last one getopt read, or the one before its separate value. */
	const char *word = argv[optind - 1];

	if (arg && arg == word && optind >= 2)
		word = argv[optind - 2];
	if (!strncmp(word, "--", 2)) {
		snprintf(buf, len, "%.*s", (int)strcspn(word, "="), word);
		return buf;
	}
	snprintf(buf, len, "-%c", c);
	return buf;
}

/* "--X Y" as "--set Y=V": the same as --set section.key=value, where it stands among the --set.
 * *owned keeps the text to free. */
static int set_alias(struct tl_cli *cli, const char *key, const char *value, const char *typed,
		     char **owned)
{
	size_t len = strlen(key) + strlen(value) + 2;

	if (*owned) {
		tl_err("trainload: %s given twice\n", typed);
		return TL_EINPUT;
	}
	if (!(*owned = malloc(len)))
		return TL_ENOMEM;
	snprintf(*owned, len, "%s=%s", key, value);
	cli->sets[cli->nsets++] = *owned;
	return 0;
}

/* Parse argv into cli; returns 0, 1 when the program should exit 0 at once (help, version),
 * or TL_EINPUT. */
static int parse_args(struct tl_cli *cli, int argc, char **argv)
{
	enum { OPT_HELP_JOB = 256, OPT_RANKS, OPT_RANKS_PER_NODE, OPT_RANK, OPT_JSON, OPT_PEAK, OPT_RANK_AGG,
	       OPT_MIN_BUSBW, OPT_TIMEOUT, OPT_PROGRESS, OPT_FORCE };
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
		{ "progress", required_argument, NULL, OPT_PROGRESS },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	/* Which entry of cli->typed an option fills (-1: none). */
	static const struct {
		int opt, given;
	} gives[] = {
		{ 'o', TL_GIVEN_OUTPUT },	      { 'q', TL_GIVEN_QUIET },
		{ OPT_TIMEOUT, TL_GIVEN_TIMEOUT },    { OPT_PEAK, TL_GIVEN_PEAK },
		{ OPT_PROGRESS, TL_GIVEN_PROGRESS },  { OPT_RANKS, TL_GIVEN_RANKS },
		{ OPT_RANKS_PER_NODE, TL_GIVEN_RANKS_PER_NODE },
		{ OPT_RANK, TL_GIVEN_RANK },	      { OPT_JSON, TL_GIVEN_JSON },
		{ OPT_RANK_AGG, TL_GIVEN_RANK_AGG },  { OPT_MIN_BUSBW, TL_GIVEN_MIN_BUSBW },
	};
	/* Room for the spellings of the options in cli->typed. */
	static char spelled[TL_GIVEN_COUNT][64];
	bool print = tl_log_rank() == 0;
	int c, rc;
	char name[64];

	cli->sets = calloc((size_t)argc, sizeof(*cli->sets));
	if (!cli->sets)
		return TL_ENOMEM;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":s:o:qnhV", longopts, NULL)) != -1) {
		const char *typed = c == '?' || c == ':'
					    ? NULL
					    : typed_name(argv, c, optarg, name, sizeof(name));
		for (size_t i = 0; typed && i < sizeof(gives) / sizeof(*gives); i++)
			if (gives[i].opt == c) {
				snprintf(spelled[gives[i].given], sizeof(spelled[0]), "%s", typed);
				cli->typed[gives[i].given] = spelled[gives[i].given];
			}
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
				tl_err("trainload: %s %s: %s\n", typed, optarg,
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
				tl_err("trainload: %s %s: expected a positive number\n", typed,
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
				tl_err("trainload: %s %s: expected max, avg or min\n", typed, optarg);
				return TL_EINPUT;
			}
			break;
		case OPT_MIN_BUSBW: {
			char *end;
			cli->min_busbw = strtod(optarg, &end);
			if (*end || !(cli->min_busbw >= 0 && cli->min_busbw < 1e15)) {
				tl_err("trainload: %s %s: expected a number of GB/s\n", typed,
				       optarg);
				return TL_EINPUT;
			}
			break;
		}
		case OPT_TIMEOUT:
			rc = set_alias(cli, "run.timeout_s", optarg, typed, &cli->timeout_set);
			if (rc)
				return rc;
			break;
		case OPT_PROGRESS: {
			struct tl_progress_every every;
			const char *why;
			if (tl_progress_parse(optarg, &every, &why)) {
				tl_err("trainload: %s %s: %s\n", typed, optarg, why);
				return TL_EINPUT;
			}
			rc = set_alias(cli, "run.log_interval", optarg, typed, &cli->progress_set);
			if (rc)
				return rc;
			break;
		}
		case 's':
			/* "--set run.steps 5": the value went to the next word, which would
			 * otherwise be taken for the job file. */
			if (!strchr(optarg, '=') && optind < argc && argv[optind][0] != '-') {
				tl_err("trainload: %s %s: expected SECTION.KEY=VALUE (did you mean "
				       "%s %s=%s?)\n",
				       typed, optarg, typed, optarg, argv[optind]);
				return TL_EINPUT;
			}
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
		case ':': /* a value missing: name the option as typed */
			tl_err("trainload: option %s needs a value\n",
			       !strncmp(argv[optind - 1], "--", 2)
				       ? argv[optind - 1]
				       : (snprintf(name, sizeof(name), "-%c", optopt), name));
			tl_err("Try 'trainload --help'.\n");
			return TL_EINPUT;
		default: {
			/* A long option given a value it does not take ("--dry-run=yes") has
			 * optopt set to its short name: name the word typed instead. */
			const char *word = argv[optind - 1];
			if (optopt && !strncmp(word, "--", 2) && strchr(word, '='))
				tl_err("trainload: option %.*s takes no value (got '%s')\n",
				       (int)strcspn(word, "="), word, word);
			else if (optopt && strncmp(word, "--", 2))
				tl_err("trainload: unknown option -%c\n", optopt);
			else
				tl_err("trainload: unknown option %s\n", word);
			tl_err("Try 'trainload --help'.\n");
			return TL_EINPUT;
		}
		}
	}
	cli->progress = !cli->quiet || cli->progress_set;
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

/*
 * Options that act only beside others, or not at all beside some. Those whose absence would
 * throw away what the user asked for (a dry run's --ranks starting a real run, -o on a dry run
 * writing nothing) are refused (exit 2); those that merely do nothing are warned about, so that
 * one list of options can serve a run and its dry run. -q without -o is allowed with a warning:
 * the exit status may be all a script wants (a watchdog test, a sweep's --min-busbw).
 */
static int check_combinations(const struct tl_cli *cli, bool sweep)
{
	static const int dry_only[] = { TL_GIVEN_RANKS, TL_GIVEN_RANKS_PER_NODE, TL_GIVEN_RANK,
					TL_GIVEN_JSON };
	static const int idle_on_dry[] = { TL_GIVEN_QUIET, TL_GIVEN_TIMEOUT, TL_GIVEN_PEAK,
					   TL_GIVEN_PROGRESS, TL_GIVEN_RANK_AGG,
					   TL_GIVEN_MIN_BUSBW };
	static const int sweep_only[] = { TL_GIVEN_RANK_AGG, TL_GIVEN_MIN_BUSBW };
	const char *const *typed = cli->typed;

	for (size_t i = 0; i < sizeof(dry_only) / sizeof(*dry_only); i++)
		if (typed[dry_only[i]] && !cli->dry_run) {
			tl_err("trainload: %s acts only with --dry-run (without it the job runs "
			       "for real, on the ranks the launcher started)\n",
			       typed[dry_only[i]]);
			return TL_EINPUT;
		}
	if (typed[TL_GIVEN_OUTPUT] && cli->dry_run) {
		tl_err("trainload: %s writes nothing with --dry-run (--json prints the plan's JSON "
		       "on stdout: redirect it)\n",
		       typed[TL_GIVEN_OUTPUT]);
		return TL_EINPUT;
	}
	for (size_t i = 0; i < sizeof(sweep_only) / sizeof(*sweep_only); i++)
		if (typed[sweep_only[i]] && !sweep && !cli->dry_run) {
			tl_err("trainload: %s acts only on a collective sweep ('trainload sweep' "
			       "or a [sweep] job)\n",
			       typed[sweep_only[i]]);
			return TL_EINPUT;
		}
	if (typed[TL_GIVEN_PEAK] && sweep && !cli->dry_run) {
		tl_err("trainload: %s does nothing in a collective sweep (it has no MFU)\n",
		       typed[TL_GIVEN_PEAK]);
		return TL_EINPUT;
	}
	for (size_t i = 0; i < sizeof(idle_on_dry) / sizeof(*idle_on_dry); i++)
		if (typed[idle_on_dry[i]] && cli->dry_run)
			tl_err("trainload: warning: %s does nothing with --dry-run (a dry run "
			       "measures nothing)\n",
			       typed[idle_on_dry[i]]);
	if (cli->quiet && !cli->output && !cli->dry_run && !(sweep && cli->min_busbw > 0))
		tl_err("trainload: warning: %s without -o: no summary and no result file; only "
		       "the exit status will tell how the run went\n",
		       typed[TL_GIVEN_QUIET]);
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

/* A dry run, also under a launcher: there every rank checks the job alike, so that all exit
 * with one status, but rank 0 alone prints, and the world is the launcher's unless --ranks
 * and --ranks-per-node say otherwise. */
static int dry_run(struct tl_cli *cli, struct tl_job *job, struct tl_diag *diag)
{
	FILE *out = stdout;
	int rc;

	if (tl_launched()) {
		if (!cli->typed[TL_GIVEN_RANKS] && tl_launcher_size())
			cli->dry.ranks = tl_launcher_size();
		if (!cli->typed[TL_GIVEN_RANKS_PER_NODE])
			cli->dry.ranks_per_node = tl_launcher_local_size();
		if (tl_log_rank() != 0 && !(out = fopen("/dev/null", "w")))
			return TL_ERUN;
	}
	rc = tl_dry_run(job, &cli->dry, out, diag);
	if (out != stdout)
		fclose(out);
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
	if (argc > 1 && !strcmp(argv[1], "doctor"))
		return tl_doctor_main(argc - 1, argv + 1);
	rc = parse_args(&cli, argc, argv);
	if (rc == 1) {
		free(cli.sets);
		free(cli.timeout_set);
		free(cli.progress_set);
		return TL_EXIT_OK;
	}
	if (!rc)
		rc = tl_cli_load_job(&cli, &job, &diag);
	if (!rc)
		rc = check_combinations(&cli, job.has_sweep);
	if (!rc && cli.dry_run)
		rc = dry_run(&cli, &job, &diag);
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
	free(cli.progress_set);
	return status;
}
