/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * trainload's command line: options, the job (file, overrides), then the run. Everything found
 * wrong with the input is reported before MPI starts where it can be, and otherwise before any
 * rank allocates or communicates, with exit status 2 on every rank.
 *
 * After the word "sweep", nccl-tests' flags work as they do there (-b -e -i -f -n -w -c -d -a
 * -z -o -R -g -t -J, sizes with K, M, G = 2^10, 2^20, 2^30): each stands for a [sweep] key, set
 * in command-line order among the --set overrides. Two letters then mean what nccl-tests means:
 * -n is the iteration count (--dry-run stays), and -o takes a reduction (sum) where nccl-tests
 * would, a file name (--output) otherwise.
 */
#include "config.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/registry.h"
#include "trainload/cli.h"
#include "trainload/dryrun.h"
#include "trainload/log.h"
#include "trainload/model.h"
#include "trainload/progress.h"
#include "trainload/run.h"
#include "trainload/sweep.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: trainload [options] [JOBFILE]\n"
		"       mpirun -np N trainload [options] [JOBFILE]\n"
		"       mpirun -np N trainload sweep [options] [nccl-tests flags] [JOBFILE]\n"
		"       mpirun -np N trainload doctor [options] [JOBFILE]\n"
		"\n"
		"Runs the GEMMs and collectives of a transformer training step on every rank, step\n"
		"after step, and reports how long they took. Without JOBFILE it runs a built-in\n"
		"small GPT-style job (see --help-job for its keys and defaults). \"sweep\" runs a\n"
		"sweep of collectives in nccl-tests' layout, or OSU-style point-to-point tests (a\n"
		"[sweep] job; without JOBFILE: allreduce from 8 B to 64 MiB, doubling, on the world).\n"
		"\"doctor\" finds the slow node or link of the allocation (trainload doctor\n"
		"--help).\n"
		"\n"
		"Options:\n"
		"  -s, --set SECTION.KEY=VALUE  override a job key (repeatable), e.g. --set "
		"run.steps=5\n"
		"  -o, --output FILE.json       write the result document to FILE.json and one line\n"
		"                               per finished step (or sweep row) to FILE.jsonl;\n"
		"                               refused while another run writes them, or when\n"
		"                               they hold an earlier run's result\n"
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
		"                               hardware work (under mpirun: printed once; after\n"
		"                               \"sweep\": --dry-run only)\n"
		"      --ranks N                dry run: the world size (default: the launcher's,\n"
		"                               else 1)\n"
		"      --ranks-per-node K       dry run: ranks per node, to tell which groups cross\n"
		"                               nodes (default: the launcher's, if it says)\n"
		"      --rank R                 dry run: whose plan to print (default 0)\n"
		"      --json                   dry run: print JSON (the job, world and plan keys\n"
		"                               of a run's result, and more)\n"
		"      --rank-agg max|avg|min|rank0  sweep: how each size's time per iteration is\n"
		"                               reduced over ranks (default max: the slowest)\n"
		"      --min-busbw GBPS         sweep: exit 1 when a collective's mean busbw over\n"
		"                               sizes >= 1 MiB is below GBPS (as NCCL_TESTS_MIN_BW)\n"
		"      --help-job               list every job-file key with its default and range\n"
		"  -h, --help                   this text\n"
		"  -V, --version                print the version\n"
		"\n"
		"nccl-tests' flags, after \"sweep\" (sizes take K, M, G = 2^10, 2^20, 2^30):\n"
		"  -b, --minbytes SIZE          sweep.min_bytes\n"
		"  -e, --maxbytes SIZE          sweep.max_bytes\n"
		"  -i, --stepbytes SIZE         sweep.step (sizes grow by SIZE)\n"
		"  -f, --stepfactor F           sweep.factor (sizes grow by x F; F >= 2)\n"
		"  -n, --iters N                sweep.iters: timed iterations per size\n"
		"  -w, --warmup_iters N         sweep.warmup_iters\n"
		"  -c, --check N                sweep.check: checked iterations per size (0: off)\n"
		"  -d, --datatype T             sweep.dtype: float, double, half, bfloat16\n"
		"  -a, --average 0|1|2|3        --rank-agg rank0, avg, min, max\n"
		"  -z, --blocking 0|1           sweep.blocking: 0 no (start, then wait), 1 yes\n"
		"  -o, --op sum                 the reduction (sum only); any other word: --output\n"
		"  -J, --output_file FILE.json  --output\n"
		"  -R, --local_register 0       buffer registration: none\n"
		"  -g, --ngpus 1, -t, --nthreads 1   one device per rank, one thread\n"
		"\n"
		"Options that would be ignored are refused as bad input: --ranks, --rank, --json\n"
		"without --dry-run; -o with it; --rank-agg, --min-busbw outside a sweep;\n"
		"--peak-tflops in one. Those that do nothing with --dry-run are warned about.\n"
		"\n"
		"Exit status: 0 ok, 1 run failed, 2 bad input, 3 watchdog timeout.\n"
		"See trainload(1), trainload-sweep(1) and trainload-job(5).\n");
}

enum {
	OPT_HELP_JOB = 256,
	OPT_RANKS,
	OPT_RANKS_PER_NODE,
	OPT_RANK,
	OPT_JSON,
	OPT_PEAK,
	OPT_RANK_AGG,
	OPT_MIN_BUSBW,
	OPT_TIMEOUT,
	OPT_DRY_RUN,
	OPT_PROGRESS,
	OPT_FORCE,
};

static const struct option longopts[] = {
	{ "set", required_argument, NULL, 's' },
	{ "output", required_argument, NULL, 'o' },
	{ "force", no_argument, NULL, OPT_FORCE },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help-job", no_argument, NULL, OPT_HELP_JOB },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
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
	/* nccl-tests' names (sweeps) */
	{ "minbytes", required_argument, NULL, 'b' },
	{ "maxbytes", required_argument, NULL, 'e' },
	{ "stepbytes", required_argument, NULL, 'i' },
	{ "stepfactor", required_argument, NULL, 'f' },
	{ "iters", required_argument, NULL, 'n' },
	{ "warmup_iters", required_argument, NULL, 'w' },
	{ "check", required_argument, NULL, 'c' },
	{ "datatype", required_argument, NULL, 'd' },
	{ "average", required_argument, NULL, 'a' },
	{ "blocking", required_argument, NULL, 'z' },
	{ "op", required_argument, NULL, 'o' },
	{ "output_file", required_argument, NULL, 'J' },
	{ "local_register", required_argument, NULL, 'R' },
	{ "ngpus", required_argument, NULL, 'g' },
	{ "nthreads", required_argument, NULL, 't' },
	{ NULL, 0, NULL, 0 },
};

/* The leading ':' has getopt tell a missing value (':') from an unknown option ('?'). */
#define TRAIN_SHORT ":s:o:qnhV"
#define SWEEP_SHORT ":s:o:qhVb:e:i:f:n:w:c:d:a:z:J:R:g:t:"
/* Short options that take a value in either mode. */
#define VALUED "soeb" "ifnwcdazJRgt"

/*
 * Whether the command line is a sweep's: its first word that is not an option (nor an option's
 * value, with the options of both modes) is "sweep". Its flags then are nccl-tests'.
 */
static bool sweep_words(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--"))
			return i + 1 < argc && !strcmp(argv[i + 1], "sweep");
		if (a[0] != '-' || !a[1])
			return !strcmp(a, "sweep");
		if (a[1] == '-') {
			for (const struct option *o = longopts; o->name; o++)
				if (!strcmp(a + 2, o->name) && o->has_arg == required_argument)
					i++;
		} else if (!a[2] && strchr(VALUED, a[1])) {
			i++;
		}
	}
	return false;
}

/* Keep a --set the command line made (freed with the cli). */
static int own_set(struct tl_cli *cli, const char *key, const char *value)
{
	size_t len = strlen(key) + strlen(value) + 2;
	char *set = malloc(len);

	if (!set)
		return TL_ENOMEM;
	snprintf(set, len, "%s=%s", key, value);
	cli->owned[cli->nowned++] = set;
	cli->sets[cli->nsets++] = set;
	return 0;
}

/* "--X Y" as "--set KEY=Y", where it stands among the --set; *given keeps its entry, so that
 * the option is refused when given twice. */
static int set_alias(struct tl_cli *cli, const char *key, const char *value, const char *typed,
		     const char **given)
{
	if (*given) {
		tl_err("trainload: %s given twice\n", typed);
		return TL_EINPUT;
	}
	if (own_set(cli, key, value))
		return TL_ENOMEM;
	*given = cli->sets[cli->nsets - 1];
	return 0;
}

/* How the user spelled the option getopt_long has just returned (c, with optarg): "--output"
 * (or the abbreviation typed, without any "=value"), else "-o". */
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

/* Keep how the user spelled an option that means something only beside others (cli->typed). */
static void remember(struct tl_cli *cli, int given, const char *typed)
{
	static char spelled[TL_GIVEN_COUNT][64];

	snprintf(spelled[given], sizeof(spelled[0]), "%s", typed);
	cli->typed[given] = spelled[given];
}

/* --output (or -J, or -o where it names a file): an empty name would become the hidden
 * ./.jsonl and ./.tmp. */
static int set_output(struct tl_cli *cli, const char *arg, const char *typed)
{
	if (!*arg || arg[strlen(arg) - 1] == '/') {
		tl_err("trainload: %s '%s': expected a file name (FILE.json)\n", typed, arg);
		return TL_EINPUT;
	}
	cli->run.output = arg;
	remember(cli, TL_GIVEN_OUTPUT, typed);
	return 0;
}

/* A size as nccl-tests reads it: a number, optionally with K, M or G (2^10, 2^20, 2^30, either
 * case), that comes to a whole number of bytes. */
static int parse_size(const char *s, uint64_t *out, const char **why)
{
	char *end;
	double v = strtod(s, &end), unit = 1;

	const char *bad = "expected a size in bytes, with K, M or G (2^10, 2^20, 2^30)";

	if (end == s || v < 0 || !isfinite(v)) {
		*why = bad;
		return TL_EINPUT;
	}
	switch (*end) {
	case 'k':
	case 'K':
		unit = 0x1p10;
		end++;
		break;
	case 'm':
	case 'M':
		unit = 0x1p20;
		end++;
		break;
	case 'g':
	case 'G':
		unit = 0x1p30;
		end++;
		break;
	default:
		break;
	}
	if (*end) {
		*why = bad;
		return TL_EINPUT;
	}
	v *= unit;
	if (v != floor(v) || v >= 0x1p63) {
		*why = "not a whole number of bytes";
		return TL_EINPUT;
	}
	*out = (uint64_t)v;
	return 0;
}

/* nccl-tests' flags that stand for a [sweep] key, and whether they take a size. */
static const struct {
	char flag;
	const char *key;
	bool size;
} keyed[] = {
	{ 'b', "min_bytes", true }, { 'e', "max_bytes", true },	  { 'i', "step", true },
	{ 'f', "factor", false },   { 'n', "iters", false },	  { 'w', "warmup_iters", false },
	{ 'c', "check", false },
};

/* A keyed flag's value, parsed and held to its key's range; the message names the flag. */
static int keyed_flag(struct tl_cli *cli, int c, const char *arg, const char *typed)
{
	for (size_t k = 0; k < sizeof(keyed) / sizeof(keyed[0]); k++) {
		if (keyed[k].flag != c)
			continue;
		const struct tl_option *opt = tl_job_option("sweep", keyed[k].key);
		const char *why = NULL;
		uint64_t v;
		char set[64], num[32];
		if (keyed[k].size ? parse_size(arg, &v, &why) : tl_parse_uint(arg, &v, &why))
			;
		else if (v < opt->min || v > opt->max)
			why = "out of range";
		if (why) {
			tl_err("trainload: %s %s: %s (sweep.%s: %llu .. %llu)\n", typed, arg, why,
			       keyed[k].key, (unsigned long long)opt->min,
			       (unsigned long long)opt->max);
			return TL_EINPUT;
		}
		snprintf(set, sizeof(set), "sweep.%s", keyed[k].key);
		snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
		/* A factor ends a fixed step, as nccl-tests' -f does. */
		if (c == 'f' && own_set(cli, "sweep.step", "0"))
			return TL_ENOMEM;
		return own_set(cli, set, num);
	}
	return TL_EINPUT;
}

/* One of nccl-tests' flags (typed: as the user spelled it): the [sweep] key it stands for, or
 * an option. */
static int sweep_flag(struct tl_cli *cli, int c, const char *arg, const char *typed)
{
	static const char *const ops[] = { "prod", "min", "max", "avg", "mulsum", "all" };
	static const int aggs[] = { TL_RANK_AGG_RANK0, TL_RANK_AGG_AVG, TL_RANK_AGG_MIN,
				    TL_RANK_AGG_MAX };
	const char *why = NULL;
	uint64_t v;

	switch (c) {
	case 'd': {
		int dtype = tl_dtype_from_name(arg);
		if (dtype < 0) {
			why = "expected float, double, half or bfloat16 (or f32, f64, f16, bf16)";
			break;
		}
		return own_set(cli, "sweep.dtype", tl_job_enum_name("sweep", "dtype", dtype));
	}
	case 'a':
		if (tl_parse_uint(arg, &v, &why) || v > 3) {
			why = "expected 0 (rank 0), 1 (avg), 2 (min) or 3 (max)";
			break;
		}
		cli->run.rank_agg = aggs[v];
		return 0;
	case 'z':
		if (tl_parse_uint(arg, &v, &why) || v > 3) {
			why = "expected 0 (start, then wait) or 1 (blocking calls)";
			break;
		}
		return own_set(cli, "sweep.blocking", v ? "yes" : "no");
	case 'o':
		/* nccl-tests' reduction, where the word is one; else trainload's --output. */
		if (!strcmp(arg, "sum"))
			return 0;
		for (size_t k = 0; k < sizeof(ops) / sizeof(ops[0]); k++)
			if (!strcmp(arg, ops[k]))
				why = "trainload's collectives reduce with sum only";
		if (why)
			break;
		return set_output(cli, arg, typed);
	case 'J':
		return set_output(cli, arg, typed);
	case 'R':
		if (!strcmp(arg, "0"))
			return 0;
		why = "buffer registration is not implemented (-R 0: none)";
		break;
	case 'g':
	case 't':
		if (!strcmp(arg, "1"))
			return 0;
		why = c == 'g' ? "one device per rank: start one rank per GPU (-g 1)"
			       : "one thread per rank: start one rank per GPU (-t 1)";
		break;
	default:
		return keyed_flag(cli, c, arg, typed);
	}
	tl_err("trainload: %s %s: %s\n", typed, arg, why ? why : "bad value");
	return TL_EINPUT;
}

/* Parse argv into cli; returns 0, 1 when the program should exit 0 at once (help, version),
 * or TL_EINPUT. */
static int parse_args(struct tl_cli *cli, int argc, char **argv)
{
	/* Which entry of cli->typed an option fills (-o and -J: set_output, as after "sweep" -o
	 * may be a reduction). */
	static const struct {
		int opt, given;
	} gives[] = {
		{ 'q', TL_GIVEN_QUIET },	      { OPT_TIMEOUT, TL_GIVEN_TIMEOUT },
		{ OPT_PEAK, TL_GIVEN_PEAK },	      { OPT_PROGRESS, TL_GIVEN_PROGRESS },
		{ OPT_RANKS, TL_GIVEN_RANKS },	      { OPT_RANKS_PER_NODE, TL_GIVEN_RANKS_PER_NODE },
		{ OPT_RANK, TL_GIVEN_RANK },	      { OPT_JSON, TL_GIVEN_JSON },
		{ OPT_RANK_AGG, TL_GIVEN_RANK_AGG },  { OPT_MIN_BUSBW, TL_GIVEN_MIN_BUSBW },
		{ 'a', TL_GIVEN_RANK_AGG },
	};
	bool print = tl_log_rank() == 0, sweep = sweep_words(argc, argv);
	int c, rc, index = -1;
	char typed_buf[64];

	/* A word sets at most two keys (-f2: the factor and the step). */
	cli->sets = calloc(2 * (size_t)argc + 2, sizeof(*cli->sets));
	cli->owned = calloc(2 * (size_t)argc + 2, sizeof(*cli->owned));
	if (!cli->sets || !cli->owned)
		return TL_ENOMEM;
	opterr = 0;
	while ((c = getopt_long(argc, argv, sweep ? SWEEP_SHORT : TRAIN_SHORT, longopts,
				&index)) != -1) {
		const char *name = index >= 0 ? longopts[index].name : NULL;
		const char *typed = c == '?' || c == ':' ? NULL
							 : typed_name(argv, c, optarg, typed_buf,
								      sizeof(typed_buf));
		index = -1;
		for (size_t i = 0; typed && i < sizeof(gives) / sizeof(*gives); i++)
			if (gives[i].opt == c)
				remember(cli, gives[i].given, typed);
		if (!sweep && ((c < 256 && strchr("beifwcdazJRgt", c)) ||
			       (name && !strcmp(name, "op")))) {
			tl_err("trainload: %s is a sweep's flag (trainload sweep ...)\n", typed);
			return TL_EINPUT;
		}
		switch (c) {
		case 'n':
			if (sweep) {
				if (sweep_flag(cli, c, optarg, typed))
					return TL_EINPUT;
				break;
			}
			/* fall through */
		case OPT_DRY_RUN:
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
			cli->run.peak_tflops = strtod(optarg, &end);
			if (*end || !(cli->run.peak_tflops > 0 && cli->run.peak_tflops < 1e9)) {
				tl_err("trainload: %s %s: expected a positive number\n", typed,
				       optarg);
				return TL_EINPUT;
			}
			break;
		}
		case OPT_RANK_AGG: {
			static const char *const names[] = { [TL_RANK_AGG_MAX] = "max",
							     [TL_RANK_AGG_AVG] = "avg",
							     [TL_RANK_AGG_MIN] = "min",
							     [TL_RANK_AGG_RANK0] = "rank0" };
			int found = -1;
			for (int k = 0; k <= TL_RANK_AGG_RANK0; k++)
				if (!strcmp(optarg, names[k]))
					found = k;
			if (found < 0) {
				tl_err("trainload: %s %s: expected max, avg, min or rank0\n", typed,
				       optarg);
				return TL_EINPUT;
			}
			cli->run.rank_agg = found;
			break;
		}
		case OPT_MIN_BUSBW: {
			char *end;
			cli->run.min_busbw = strtod(optarg, &end);
			if (*end || !(cli->run.min_busbw >= 0 && cli->run.min_busbw < 1e15)) {
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
			/* --output is always the output; -o and --op after "sweep" are
			 * nccl-tests' reduction where the word is one. */
			if (!sweep || (name && !strcmp(name, "output"))) {
				if (set_output(cli, optarg, typed))
					return TL_EINPUT;
			} else if (sweep_flag(cli, c, optarg, typed)) {
				return TL_EINPUT;
			}
			break;
		case OPT_FORCE:
			cli->run.force = true;
			break;
		case 'q':
			cli->run.quiet = true;
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
				       : (snprintf(typed_buf, sizeof(typed_buf), "-%c", optopt),
					  typed_buf));
			tl_err("Try 'trainload --help'.\n");
			return TL_EINPUT;
		case '?': {
			/* A long option given a value it does not take ("--dry-run=yes") has
			 * optopt set to its short name: name the word typed instead. */
			const char *word = argv[optind - 1];
			if (optopt && !strncmp(word, "--", 2) && strchr(word, '='))
				tl_err("trainload: option %.*s takes no value (got '%s')\n",
				       (int)strcspn(word, "="), word, word);
			else if (optopt && !sweep && strchr("beifwcdazJRgt", optopt))
				tl_err("trainload: -%c is a sweep's flag (trainload sweep ...)\n",
				       optopt);
			else if (optopt && strncmp(word, "--", 2))
				tl_err("trainload: unknown option -%c\n", optopt);
			else
				tl_err("trainload: unknown option %s\n", word);
			tl_err("Try 'trainload --help'.\n");
			return TL_EINPUT;
		}
		default:
			if (sweep_flag(cli, c, optarg, typed))
				return TL_EINPUT;
			break;
		}
	}
	cli->run.progress = !cli->run.quiet || cli->progress_set;
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
	if (cli->run.quiet && !cli->run.output && !cli->dry_run &&
	    !(sweep && cli->run.min_busbw > 0))
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
	struct tl_grid grid;
	struct tl_sweep sw;
	int rc = tl_job_resolve(job, 1, diag);

	if (!rc)
		rc = tl_backend_check(job, diag);
	if (rc)
		return rc;
	if (!job->has_sweep)
		return tl_model_build(&model, job, diag);
	tl_grid_init(&grid, job, 1, 0);
	rc = tl_sweep_build(&sw, job, &grid, 0, diag);
	tl_sweep_free(&sw);
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

static void cli_free(struct tl_cli *cli)
{
	for (int i = 0; i < cli->nowned; i++)
		free(cli->owned[i]);
	free(cli->owned);
	free(cli->sets);
}

int tl_main(int argc, char **argv)
{
	struct tl_cli cli = { .run = { .argc = argc, .argv = argv }, .dry = { .ranks = 1 } };
	struct tl_job job = { 0 };
	struct tl_diag diag = { 0 };
	int rc, status;

	/* Until MPI is up, the launcher's environment says which rank prints. */
	tl_log_set_rank(tl_launcher_rank());
	rc = parse_args(&cli, argc, argv);
	if (rc == 1) {
		cli_free(&cli);
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
		status = tl_run(&cli.run, rc ? NULL : &job, &diag);
	}
	tl_diag_free(&diag);
	tl_job_free(&job);
	cli_free(&cli);
	return status;
}
