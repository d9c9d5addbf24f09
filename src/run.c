/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A run (include/trainload/run.h): MPI up, the job resolved against the world (every rank reaches
 * the same verdict without communicating), the plan built, the watchdog started, the backend
 * initialised, then the executor's work, and the results written by rank 0 as they come.
 *
 * A training job's plan is one step, run for the warm-up and measured steps; each step's JSONL
 * line is flushed as it ends. A sweep's plan holds every point of every test; each point is
 * warmed up, timed and checked (tl_exec_repeat), and each row's JSONL line flushed as it ends.
 * So a run killed on any rank keeps what it finished, and SIGINT or SIGTERM ends the work early
 * with a final document that says so. Both go through the same backend, executor, watchdog and
 * error paths.
 */
#include "config.h"

#include <cblas.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <mpi.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/registry.h"
#include "mpi_check.h"
#include "trainload/backend.h"
#include "trainload/check.h"
#include "trainload/clock.h"
#include "trainload/exec.h"
#include "trainload/metrics.h"
#include "trainload/model.h"
#include "trainload/plan.h"
#include "trainload/result.h"
#include "trainload/run.h"
#include "trainload/stats.h"
#include "trainload/sweep.h"
#include "trainload/sweep_out.h"
#include "trainload/topo.h"
#include "trainload/watchdog.h"

/* SIGINT or SIGTERM arrived: the steps stop at the end of the current one, on every rank, and
 * rank 0 writes what they measured with "status": "interrupted". */
static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* While the steps run (on: true) the first SIGINT or SIGTERM only asks them to stop; a second
 * one, or one outside the steps, ends the process as usual, so a rank stuck for good can
 * still be stopped. */
static void catch_signals(bool on)
{
	struct sigaction sa = { .sa_handler = on ? on_signal : SIG_DFL,
				.sa_flags = on ? SA_RESETHAND : 0 };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

struct run {
	const struct tl_run_opts *cli;
	struct tl_job *job;
	struct tl_model model;
	struct tl_grid grid;
	struct tl_plan plan;
	struct tl_sweep sweep;            /* a sweep's tests, rows and points; its plan */
	struct tl_sweep_result *results;  /* rank 0: one per point of the sweep */
	struct tl_backend backend;
	struct tl_exec exec;
	struct tl_result result;
	struct tl_rank_info me;
	uint64_t node_memory;
	double start; /* when MPI_Init returned */
	struct tl_diag diag; /* input errors found once MPI is up */
	struct tl_step *gathered; /* rank 0: one record per rank */
	char *hosts;
	FILE *jsonl;
	int rank, ranks;
	uint64_t check_wrong; /* run.check, sweep.check: wrong elements, all ranks */
	int below_min_busbw;  /* a sweep's test was below --min-busbw */
	int oversubscribed; /* this rank shares a core with another */
};

/* Resolve, build the model and plan: pure work that every rank does alike, so that all of them
 * agree on bad input without a message between them. */
static int prepare(struct run *run)
{
	struct tl_diag *diag = &run->diag;
	int rc = tl_job_resolve(run->job, (uint64_t)run->ranks, diag);

	if (!rc)
		rc = tl_backend_check(run->job, diag);
	if (rc)
		return rc;
	tl_grid_init(&run->grid, run->job, (uint64_t)run->ranks, 0);
	/* A sweep has no model: its plan is its points'. */
	if (run->job->has_sweep)
		return tl_sweep_build(&run->sweep, run->job, &run->grid, (uint64_t)run->rank, diag);
	rc = tl_model_build(&run->model, run->job, diag);
	if (!rc) {
		rc = tl_plan_build_diag(&run->plan, run->job, &run->model, &run->grid,
					(uint64_t)run->rank, diag);
	}
	return rc;
}

/* Whether any rank failed (rc != 0); the first that did prints its messages. Collective. */
static bool any_rank_failed(struct run *run, int rc)
{
	int first = rc ? run->rank : INT_MAX, any;

	MPI_Allreduce(&first, &any, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
	if (any != INT_MAX && run->rank == any)
		tl_diag_print(&run->diag);
	return any != INT_MAX;
}

/* JSONL path: FILE.json → FILE.jsonl; any other name gets ".jsonl" appended. */
static char *jsonl_path(const char *output)
{
	size_t len = strlen(output);
	char *p = malloc(len + 7);

	if (!p)
		return NULL;
	if (len > 5 && !strcmp(output + len - 5, ".json"))
		snprintf(p, len + 7, "%sl", output);
	else
		snprintf(p, len + 7, "%s.jsonl", output);
	return p;
}

/* Rank 0 opens the output; every rank learns whether that worked. */
static int open_outputs(struct run *run)
{
	int ok = 1;

	if (run->rank == 0 && run->cli->output) {
		/* The result document is written at the end, through a temporary file and a
		 * rename, so that an earlier result of the same name is never half-overwritten;
		 * here it is only checked that it can be. */
		const char *out = run->cli->output;
		char *dir = strdup(out), *path = jsonl_path(out);
		struct stat st;
		bool exists = stat(out, &st) == 0;
		bool writable = dir && access(dirname(dir), W_OK) == 0 &&
				(!exists || (S_ISREG(st.st_mode) && access(out, W_OK) == 0));
		if (exists && !S_ISREG(st.st_mode)) {
			tl_err("trainload: cannot write %s: not a regular file\n", out);
			ok = 0;
		} else if (!writable) {
			tl_err("trainload: cannot write %s: %m\n", out);
			ok = 0;
		} else if (!path || !(run->jsonl = fopen(path, "w"))) {
			tl_err("trainload: cannot write %s: %m\n", path ? path : out);
			ok = 0;
		}
		free(dir);
		free(path);
	}
	TL_MPI_CHECK(MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD));
	return ok ? 0 : TL_EINPUT;
}

/*
 * Place this rank on its node and bind it there (DESIGN.md §8), then size the BLAS thread pool to
 * the placement. Every local rank sees the others' bindings as the launcher left them, so that
 * bind = auto keeps them or replaces them on every rank of the node alike.
 */
static int place_rank(struct run *run, MPI_Comm local, int local_rank, int local_size)
{
	struct tl_topo topo;
	struct tl_topo_place place;
	struct tl_topo_binding bound = { 0 };
	char *lists = NULL;
	const char **launcher = NULL;
	int rc;

	if (tl_topo_discover(&topo)) {
		fprintf(stderr, "trainload: rank %d (%s): hwloc cannot read the topology\n",
			run->rank, run->me.host);
		return TL_ERUN;
	}
	lists = malloc((size_t)local_size * TL_TOPO_LIST_MAX);
	launcher = malloc((size_t)local_size * sizeof(*launcher));
	if (!lists || !launcher) {
		rc = TL_ENOMEM;
		goto out;
	}
	rc = MPI_Allgather(topo.cpuset, TL_TOPO_LIST_MAX, MPI_CHAR, lists, TL_TOPO_LIST_MAX,
			   MPI_CHAR, local);
	if (rc != MPI_SUCCESS) {
		tl_mpi_report(rc, "MPI_Allgather(bindings)", __FILE__, __LINE__);
		rc = TL_ERUN;
		goto out;
	}
	for (int i = 0; i < local_size; i++)
		launcher[i] = lists + (size_t)i * TL_TOPO_LIST_MAX;

	rc = tl_topo_place(topo.hw, local_rank, local_size, run->job->bind,
			   (int)run->job->threads_per_rank, launcher, &place);
	if (!rc)
		rc = tl_topo_apply(topo.hw, &place, &bound);
	else
		snprintf(bound.note, sizeof(bound.note), "no placement for local rank %d of %d (%s)",
			 local_rank, local_size, rc == TL_ENOMEM ? "out of memory" : "bad topology");
	tl_topo_place_free(&place);
	if (rc) {
		fprintf(stderr, "trainload: rank %d (%s): %s\n", run->rank, run->me.host,
			bound.note);
		goto out;
	}
	openblas_set_num_threads(bound.threads);
	run->node_memory = topo.memory_bytes;
	run->result.env.llc_bytes = topo.llc_bytes;

	snprintf(run->me.cpuset, sizeof(run->me.cpuset), "%s", bound.cpuset);
	snprintf(run->me.numa, sizeof(run->me.numa), "%s", bound.numa);
	snprintf(run->me.binding, sizeof(run->me.binding), "%s", bound.binding);
	run->me.threads = bound.threads;
	run->oversubscribed = bound.oversubscribed;
out:
	free(lists);
	free(launcher);
	tl_topo_free(&topo);
	return rc;
}

/* Hosts, node count, binding, threads, library versions. */
static int collect_environment(struct run *run)
{
	struct tl_env *env = &run->result.env;
	MPI_Comm local;
	int local_rank, local_size, first_on_node, len, any_oversubscribed, rc;

	TL_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL,
					 &local));
	MPI_Comm_set_errhandler(local, MPI_ERRORS_RETURN);
	TL_MPI_CHECK(MPI_Comm_rank(local, &local_rank));
	TL_MPI_CHECK(MPI_Comm_size(local, &local_size));
	run->me.local_rank = local_rank;
	rc = place_rank(run, local, local_rank, local_size);
	MPI_Comm_free(&local);
	if (rc)
		return rc;
	/* What memory = full (or a sweep's buffers) will allocate must fit on the node; every
	 * rank learns of any node where it does not, before anything is allocated. (A backend
	 * that holds it on a device checks it there.) */
	const struct tl_job *job = run->job;
	bool sweep = job->has_sweep;
	uint64_t planned = sweep ? run->sweep.memory_bytes : run->model.memory_bytes_per_rank;
	int too_big = (sweep || job->memory == TL_MEMORY_FULL) &&
		      !(run->backend.ops->caps & TL_BACKEND_DEVICE_MEMORY) &&
		      (double)planned * local_size > (double)run->node_memory;
	int any_too_big;
	TL_MPI_CHECK(MPI_Allreduce(&too_big, &any_too_big, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
	if (too_big && local_rank == 0)
		tl_job_blame(job, sweep ? "sweep" : "run",
			     sweep ? (job->rotate_mb ? "rotate_mb" : "max_bytes") : "memory",
			     &run->diag,
			     "planned memory per rank %.3g GB x %d ranks on %s exceeds its %.3g GB%s",
			     (double)planned / 1e9, local_size, run->me.host,
			     (double)run->node_memory / 1e9,
			     sweep ? " (the sweep's largest buffers, rotation included)"
				   : " (memory = lean reuses buffers and runs in less)");
	if (any_too_big)
		return TL_EINPUT;
	first_on_node = local_rank == 0;
	TL_MPI_CHECK(MPI_Allreduce(&first_on_node, &env->nodes, 1, MPI_INT, MPI_SUM,
				   MPI_COMM_WORLD));
	TL_MPI_CHECK(MPI_Allreduce(&run->oversubscribed, &any_oversubscribed, 1, MPI_INT, MPI_MAX,
				   MPI_COMM_WORLD));
	if (any_oversubscribed)
		tl_err("trainload: more ranks than cores on a node: ranks share cores "
		       "(oversubscribed; ranks[].binding says which)\n");

	tl_slurm_read(&env->slurm);
	MPI_Get_library_version(env->mpi_version, &len);
	env->mpi_version[strcspn(env->mpi_version, ",\n")] = '\0';
	/* openblas_get_config() reads "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH …". */
	const char *config = openblas_get_config();
	if (!strncmp(config, "OpenBLAS ", 9))
		config += 9;
	snprintf(env->blas_version, sizeof(env->blas_version), "%.*s", (int)strcspn(config, " "),
		 config);
	snprintf(env->blas_config, sizeof(env->blas_config), "%s", openblas_get_config());
	snprintf(env->blas_core, sizeof(env->blas_core), "%s", openblas_get_corename());

	size_t used = 0;
	for (int i = 0; i < run->cli->argc; i++)
		used += (size_t)snprintf(env->command_line + used,
					 used < sizeof(env->command_line)
						 ? sizeof(env->command_line) - used
						 : 0,
					 "%s%s", i ? " " : "", run->cli->argv[i]);
	return 0;
}

/* Gather every rank's description to rank 0 and list the distinct hosts. */
static int gather_ranks(struct run *run)
{
	struct tl_rank_info *all = NULL;

	run->me.pid = (int)getpid();
	if (run->job->has_sweep)
		run->me.group = (int)tl_grid_group_member(&run->grid, (uint64_t)run->rank,
							  run->job->sweep_group, 0);

	if (run->rank == 0) {
		all = calloc((size_t)run->ranks, sizeof(*all));
		run->hosts = calloc((size_t)run->ranks, sizeof(all->host) + 1);
		if (!all || !run->hosts)
			return TL_ENOMEM;
	}
	TL_MPI_CHECK(MPI_Gather(&run->me, (int)sizeof(run->me), MPI_BYTE, all,
				(int)sizeof(run->me), MPI_BYTE, 0, MPI_COMM_WORLD));
	if (run->rank != 0)
		return 0;
	run->result.rank_info = all;
	for (int i = 0; i < run->ranks; i++) {
		bool seen = false;
		for (int j = 0; j < i && !seen; j++)
			seen = !strcmp(all[i].host, all[j].host);
		if (!seen) {
			if (*run->hosts)
				strcat(run->hosts, ",");
			strcat(run->hosts, all[i].host);
		}
	}
	run->result.env.hosts = run->hosts;
	return 0;
}

static void progress(const struct run *run, uint64_t step, uint64_t total, double time_s)
{
	if (run->rank != 0 || run->cli->quiet || !isatty(STDERR_FILENO))
		return;
	fprintf(stderr, "\r# step %llu/%llu  %.4f s ", (unsigned long long)step,
		(unsigned long long)total, time_s);
	if (step == total)
		fputc('\n', stderr);
}

/* One line of the JSONL, flushed at once so that a killed run keeps it; value is consumed. */
static void jsonl_append(FILE *jsonl, json_t *value)
{
	json_dumpf(value, jsonl, JSON_COMPACT);
	fputc('\n', jsonl);
	fflush(jsonl);
	json_decref(value);
}

/* A signal on any rank stops every rank after the step or row under way. Collective. */
static int stop_if_interrupted(struct run *run)
{
	int stop = interrupted, any_stop = 0;

	TL_MPI_CHECK(MPI_Allreduce(&stop, &any_stop, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
	run->result.interrupted = any_stop;
	return 0;
}

/* Warm-up and measured steps; rank 0 keeps the slowest rank's record of each measured one. */
static int run_steps(struct run *run)
{
	const struct tl_job *job = run->job;
	uint64_t total = job->warmup + job->steps;
	struct tl_step mine;
	struct tl_rank_info *me = &run->me;

	if (run->rank == 0) {
		run->gathered = calloc((size_t)run->ranks, sizeof(*run->gathered));
		run->result.steps = calloc(job->steps, sizeof(*run->result.steps));
		run->result.step_rank = calloc(job->steps, sizeof(*run->result.step_rank));
		if (!run->gathered || !run->result.steps || !run->result.step_rank)
			return TL_ENOMEM;
	}
	if (run->jsonl)
		jsonl_append(run->jsonl, tl_result_header_json(&run->result));
	run->result.env.startup_s = tl_now_s() - run->start;
	/* A step under way when a signal comes is finished and kept. */
	for (uint64_t s = 0; s < total && !run->result.interrupted; s++) {
		run->exec.measuring = s >= job->warmup;
		int rc = tl_exec_step(&run->exec, &mine);
		if (rc)
			return rc;
		/* Gathered outside the timed region: it costs the run time, never the step. */
		rc = tl_stats_gather_step(&mine, run->gathered, MPI_COMM_WORLD);
		if (rc)
			return rc;
		rc = stop_if_interrupted(run);
		if (rc)
			return rc;
		progress(run, s + 1, total, mine.time_s);
		if (s < job->warmup)
			continue;
		me->gemm_s += mine.gemm_s;
		me->gemm_flops += mine.gemm_flops;
		me->compute_s += mine.compute_s;
		me->bubble_s += mine.bubble_s;
		me->optimizer_s += mine.optimizer_s;
		for (int g = 0; g < TL_GROUPS; g++)
			me->comm_exposed_s[g] += mine.comm_exposed_s[g];
		memcpy(me->ops_per_step, mine.ops, sizeof(mine.ops));
		if (run->rank != 0)
			continue;
		size_t i = run->result.nsteps++;
		size_t worst = tl_slowest(run->gathered, (size_t)run->ranks);
		run->result.steps[i] = run->gathered[worst];
		run->result.step_rank[i] = (int)worst;
		if (run->jsonl)
			jsonl_append(run->jsonl, tl_step_json(&run->result, i));
	}
	me->check_wrong = run->exec.wrong;
	/* Every rank learns of any wrong element, for the exit status. */
	TL_MPI_CHECK(MPI_Allreduce(&me->check_wrong, &run->check_wrong, 1, MPI_UINT64_T, MPI_SUM,
				   MPI_COMM_WORLD));
	return 0;
}

/* The peak resident memory of the steps (before the calibration's own buffers). Linux reports
 * it in KiB. */
static void record_peak_rss(struct tl_rank_info *me)
{
	struct rusage usage;

	if (getrusage(RUSAGE_SELF, &usage) == 0)
		me->peak_rss_bytes = (uint64_t)usage.ru_maxrss * 1024;
}

/* MFU's denominator: --peak-tflops, or the median of the ranks' calibration GEMMs (a median, so
 * that one slow rank does not flatter everyone's MFU). With --peak-tflops no GEMM runs. */
static int calibrate(struct run *run)
{
	double *all = NULL;
	int rc = run->cli->peak_tflops > 0
			 ? 0
			 : run->backend.ops->calibrate(&run->backend, &run->me.peak_flops);

	if (rc)
		return rc;
	if (run->rank == 0 && !(all = malloc((size_t)run->ranks * sizeof(*all))))
		return TL_ENOMEM;
	TL_MPI_CHECK(MPI_Gather(&run->me.peak_flops, 1, MPI_DOUBLE, all, 1, MPI_DOUBLE, 0,
				MPI_COMM_WORLD));
	if (run->rank == 0) {
		run->result.peak_given = run->cli->peak_tflops > 0;
		run->result.peak_flops_per_rank = run->result.peak_given
							  ? run->cli->peak_tflops * 1e12
							  : tl_percentile(all, (size_t)run->ranks, 50);
	}
	free(all);
	return 0;
}

/* One point of a sweep, on every rank: warm-up iterations, then (once every rank is done with
 * them) the timed ones, back to back, then the checked ones; res (rank 0) gets the figures. */
static int run_point(struct run *run, const struct tl_sweep_point *pt, double *stamps,
		     struct tl_sweep_result *res)
{
	const struct tl_job *job = run->job;
	struct tl_repeat rep = { .first = pt->first, .count = pt->count,
				 .iters = job->warmup_iters };
	uint64_t wrong = run->exec.wrong;
	int rc = tl_exec_repeat(&run->exec, &rep);

	if (rc)
		return rc;
	/* Every group starts timing together, as nccl-tests' barrier after its warm-up. */
	TL_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
	rep.iter0 = job->warmup_iters;
	rep.iters = job->iters;
	rep.stamps = stamps;
	rc = tl_exec_repeat(&run->exec, &rep);
	if (!rc && job->sweep_check) {
		rep.iter0 += job->iters;
		rep.iters = job->sweep_check;
		rep.stamps = NULL;
		rep.check = true;
		rc = tl_exec_repeat(&run->exec, &rep);
	}
	if (!rc)
		rc = tl_stats_sweep_point(stamps, job->iters, pt->count > 0, run->exec.wrong - wrong,
					  run->cli->rank_agg, res, MPI_COMM_WORLD);
	return rc;
}

/* Rank 0, after test t: its mean busbw against --min-busbw. */
static void judge_test(struct run *run, const struct tl_sweep_out *o, int t, size_t done)
{
	size_t n_large, n_all;
	double large = tl_sweep_mean_busbw(o, t, done, true, &n_large);
	double all = tl_sweep_mean_busbw(o, t, done, false, &n_all);
	double avg = n_large ? large : all;
	const char *over = n_large ? "sizes >= 1 MiB" : "all sizes (none >= 1 MiB)";

	if (run->cli->min_busbw <= 0 || !run->sweep.tests[t].coll || avg >= run->cli->min_busbw)
		return;
	fprintf(stderr, "trainload: %s: mean busbw %.3f GB/s over %s is below --min-busbw %g\n",
		tl_sweep_test_name(&run->sweep.tests[t]), avg, over, run->cli->min_busbw);
	run->below_min_busbw = 1;
}

/* A sweep: every row's points through the executor, the row printed and appended to the JSONL
 * as it ends; every rank learns the wrong elements and the verdict on --min-busbw. */
static int run_sweep(struct run *run)
{
	const struct tl_sweep *sw = &run->sweep;
	double *stamps = calloc(run->job->iters + 1, sizeof(*stamps));
	FILE *out = run->rank == 0 && !run->cli->quiet ? stdout : NULL;
	struct tl_sweep_out o = { .job = run->job, .sw = sw, .r = &run->result,
				  .agg = run->cli->rank_agg };
	int rc = 0;

	run->results = calloc(sw->npoints + 1, sizeof(*run->results));
	if (!stamps || !run->results) {
		free(stamps);
		return TL_ENOMEM;
	}
	o.results = run->results;
	if (run->jsonl)
		jsonl_append(run->jsonl, tl_sweep_header_json(&o));
	if (out)
		tl_sweep_print_header(&o, out);
	run->result.env.startup_s = tl_now_s() - run->start;
	for (int t = 0; t < sw->ntests && !rc && !run->result.interrupted; t++) {
		if (out)
			tl_sweep_print_test(&o, t, out);
		for (size_t r = sw->test_rows[t];
		     r < sw->test_rows[t + 1] && !rc && !run->result.interrupted; r++) {
			const struct tl_sweep_row *row = &sw->rows[r];
			for (int k = 0; k < row->npoints && !rc; k++)
				rc = run_point(run, &sw->points[row->point[k]], stamps,
					       &run->results[row->point[k]]);
			if (rc)
				break;
			run->result.nsteps = r + 1; /* rows done */
			if (out)
				tl_sweep_print_row(&o, r, out);
			if (run->jsonl)
				jsonl_append(run->jsonl, tl_sweep_row_json(&o, r));
			rc = stop_if_interrupted(run);
		}
		if (rc || run->rank != 0)
			continue;
		if (out)
			tl_sweep_print_end(&o, t, run->result.nsteps, out);
		run->check_wrong += tl_sweep_wrong(&o, t, run->result.nsteps);
		judge_test(run, &o, t, run->result.nsteps);
	}
	free(stamps);
	if (rc)
		return rc;
	TL_MPI_CHECK(MPI_Bcast(&run->check_wrong, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD));
	TL_MPI_CHECK(MPI_Bcast(&run->below_min_busbw, 1, MPI_INT, 0, MPI_COMM_WORLD));
	return 0;
}

/* Rank 0 writes the sweep's document. */
static int report_sweep(struct run *run)
{
	struct tl_sweep_out o = { .job = run->job, .sw = &run->sweep, .r = &run->result,
				  .agg = run->cli->rank_agg, .results = run->results };
	int rc = 0;

	if (run->rank != 0 || !run->cli->output)
		return 0;
	json_t *doc = tl_sweep_json(&o, run->result.nsteps, run->result.interrupted);
	rc = tl_json_write(doc, run->cli->output);
	json_decref(doc);
	return rc;
}

static int report(struct run *run)
{
	int rc = gather_ranks(run);

	if (!rc)
		rc = tl_stats_gather_colls(run->exec.stats, run->exec.nstats, &run->result.colls,
					   &run->result.ncolls, MPI_COMM_WORLD);
	if (rc || run->rank != 0)
		return rc;
	if (!run->cli->quiet) {
		tl_result_print(&run->result, stdout);
		fflush(stdout);
	}
	if (run->cli->output) {
		json_t *doc = tl_result_json(&run->result);
		rc = tl_json_write(doc, run->cli->output);
		json_decref(doc);
	}
	return rc;
}

static void cleanup(struct run *run)
{
	tl_watchdog_stop();
	tl_exec_fini(&run->exec);
	if (run->backend.ops)
		run->backend.ops->fini(&run->backend);
	if (run->jsonl)
		fclose(run->jsonl);
	tl_plan_free(&run->plan);
	tl_sweep_free(&run->sweep);
	free(run->results);
	free(run->gathered);
	free(run->result.steps);
	free(run->result.step_rank);
	free(run->result.rank_info);
	free(run->result.colls);
	free(run->hosts);
}

/*
 * Ask glibc to keep what is freed: no block handed back to the kernel (neither unmapped nor
 * trimmed from the heap), so that a buffer an MPI library allocates for each call (Open MPI's
 * reduce_scatter_block: the whole input, on one rank) comes back from memory already mapped,
 * instead of being mapped fresh and page-faulted, page by page, on every call. Without this, how
 * long such a collective takes depends on the process's allocation history (glibc's mmap
 * threshold moves with what was freed before), so that the same call took up to twice as long
 * in a sweep or a run as in a plain loop (docs/PERFORMANCE.md §8). A user's own MALLOC_* or
 * GLIBC_TUNABLES settings win.
 */
static void keep_freed_memory(void)
{
#if defined(__GLIBC__) && defined(M_MMAP_MAX) && defined(M_TRIM_THRESHOLD)
	if (getenv("MALLOC_MMAP_MAX_") || getenv("MALLOC_TRIM_THRESHOLD_") ||
	    getenv("MALLOC_MMAP_THRESHOLD_") || getenv("GLIBC_TUNABLES"))
		return;
	/* A block too large for the heap is still mapped: glibc falls back on mmap. */
	mallopt(M_MMAP_MAX, 0);
	mallopt(M_TRIM_THRESHOLD, INT_MAX);
#endif
}

int tl_run(const struct tl_run_opts *cli, struct tl_job *job, struct tl_diag *input)
{
	struct run run = { .cli = cli, .job = job, .start = tl_now_s() };
	int rc;

	keep_freed_memory();
	if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
		fprintf(stderr, "trainload: MPI_Init failed\n");
		return TL_EXIT_RUN_FAILED;
	}
	double mpi_init_s = tl_now_s() - run.start;
	run.start = tl_now_s();
	MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
	MPI_Comm_rank(MPI_COMM_WORLD, &run.rank);
	MPI_Comm_size(MPI_COMM_WORLD, &run.ranks);
	tl_log_set_rank(run.rank);
	tl_check_set_rank(run.rank);
	run.me.rank = run.rank;
	snprintf(run.me.host, sizeof(run.me.host), "?");
	gethostname(run.me.host, sizeof(run.me.host) - 1);

	/* Ranks that could not read their command line or job file, or resolve and plan the
	 * job, say so; the first of them prints why, and all exit 2 together. */
	if (!job) {
		run.diag = *input;
		*input = (struct tl_diag){ 0 };
	}
	rc = job ? prepare(&run) : TL_EINPUT;
	if (any_rank_failed(&run, rc))
		rc = TL_EINPUT;
	if (!rc)
		rc = open_outputs(&run);
	if (rc) {
		tl_diag_free(&run.diag);
		cleanup(&run);
		MPI_Finalize();
		return TL_EXIT_BAD_INPUT;
	}
	run.result = (struct tl_result){ .job = job, .model = &run.model, .plan = &run.plan,
					 .ranks = run.ranks, .grid = &run.grid };
	run.result.env.mpi_init_s = mpi_init_s;
	bool sweep = job->has_sweep;
	const struct tl_plan *plan = sweep ? &run.sweep.plan : &run.plan;
	run.me.stage = (int)plan->coords.pp;
	run.backend.ops = tl_backend_find(tl_job_enum_name("run", "backend", job->backend));
	/* From here on, a rank that makes no progress for timeout_s ends the job (exit 3). */
	rc = tl_watchdog_start(job->timeout_s, run.rank, run.me.host, &run.grid);
	if (!rc)
		rc = collect_environment(&run);
	if (!rc)
		rc = run.backend.ops->init(&run.backend, job, sweep ? NULL : &run.model, &run.grid,
					   plan);
	if (!rc && run.backend.ops->device)
		run.backend.ops->device(&run.backend, &run.me.gpu);
	if (!rc)
		rc = tl_exec_init(&run.exec, &run.backend, plan);
	run.exec.check = sweep ? 0 : job->check;
	run.exec.host = run.me.host;
	/* A sweep names every rank's host and device before its first point. */
	if (!rc && sweep)
		rc = gather_ranks(&run);
	catch_signals(true);
	if (!rc)
		rc = sweep ? run_sweep(&run) : run_steps(&run);
	catch_signals(false);
	record_peak_rss(&run.me);
	/* The calibration GEMM runs after the steps: it then costs the run nothing before its
	 * first step, and it measures the node in the state the steps left it in. */
	if (!rc && !sweep)
		rc = calibrate(&run);
	if (!rc)
		rc = sweep ? report_sweep(&run) : report(&run);
	if (rc == TL_EINPUT) {
		/* Bad input that needed the world to be seen: every rank knows, all exit 2. The
		 * rank that saw it prints it. */
		tl_diag_print(&run.diag);
		tl_diag_free(&run.diag);
		cleanup(&run);
		MPI_Finalize();
		return TL_EXIT_BAD_INPUT;
	}
	if (rc) {
		/* One rank's failure ends the job; no rank is left waiting in a collective. */
		fprintf(stderr, "trainload: rank %d (%s): run failed (%s)\n", run.rank,
			run.me.host, rc == TL_ENOMEM ? "out of memory" : "see above");
		MPI_Abort(MPI_COMM_WORLD, TL_EXIT_RUN_FAILED);
	}
	/* A wrong element on any rank, steps cut short or a sweep below --min-busbw fail the run
	 * (exit 1). */
	uint64_t wrong = run.check_wrong;
	if (wrong && run.rank == 0)
		fprintf(stderr, "trainload: check: %" PRIu64 " wrong elements in all: collective "
			"results are not correct (the ranks that saw them are named above)\n",
			wrong);
	if (run.result.interrupted && run.rank == 0)
		fprintf(stderr, "trainload: interrupted after %zu measured %s%s\n",
			run.result.nsteps, sweep ? "rows" : "steps",
			cli->output ? " (the result says \"status\": \"interrupted\")" : "");
	int status = wrong || run.result.interrupted || run.below_min_busbw ? TL_EXIT_RUN_FAILED
									     : TL_EXIT_OK;
	cleanup(&run);
	MPI_Finalize();
	return status;
}
