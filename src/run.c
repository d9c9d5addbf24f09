/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A run (include/trainload/run.h): MPI up, the job resolved against the world (every rank reaches
 * the same verdict without communicating), the plan built, the watchdog started, the backend
 * initialised, then the executor's work, and the results written by rank 0 as they come.
 *
 * A training job's plan is one step, run for the warm-up and measured steps; a sweep's plan
 * holds every point of every test, each point warmed up, timed and checked (tl_exec_repeat).
 * Each step's or row's JSONL line is written whole as it ends (a write that fails stops the
 * run), so a run killed on any rank keeps what it finished; SIGINT or SIGTERM has rank 0 write
 * the document from what it holds at once, and ends the work after the step or row under way
 * with a final document that says so. Both go through the same backend, executor, watchdog,
 * output and error paths.
 */
#include "config.h"

#include <cblas.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <mpi.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backends/registry.h"
#include "mpi_check.h"
#include "trainload/backend.h"
#include "trainload/check.h"
#include "trainload/clock.h"
#include "trainload/exec.h"
#include "trainload/interrupt.h"
#include "trainload/metrics.h"
#include "trainload/model.h"
#include "trainload/plan.h"
#include "trainload/probe.h"
#include "trainload/progress.h"
#include "trainload/result.h"
#include "trainload/run.h"
#include "trainload/stats.h"
#include "trainload/sweep.h"
#include "trainload/sweep_out.h"
#include "trainload/topo.h"
#include "trainload/watchdog.h"

struct run {
	const struct tl_run_opts *cli;
	struct tl_job *job;
	struct tl_model model;
	struct tl_grid grid;
	struct tl_plan plan;
	struct tl_sweep sweep;           /* a sweep's tests, rows and points; its plan */
	struct tl_sweep_result *results; /* rank 0: one per point of the sweep */
	struct tl_backend backend;
	struct tl_exec exec;
	struct tl_skew skew; /* the arrival/transfer split of the step's collectives */
	struct tl_step *measured; /* this rank's own record of each measured step */
	size_t nmeasured;
	struct tl_result result;
	struct tl_rank_info me;
	uint64_t node_memory;
	double start; /* when MPI_Init returned */
	struct tl_diag diag; /* input errors found once MPI is up */
	struct tl_step *gathered; /* rank 0: one record per rank */
	char *hosts;
	uint32_t *node_of_rank; /* rank 0: each rank's host, numbered in order of first rank */
	struct tl_output out; /* rank 0, with --output */
	/* Rank 0: what the signal thread (on_signal) shares with the steps: result's steps, ranks
	 * and figures, and the document's file. holding: from the JSONL's header to the final
	 * document, when a signal has the document written from what is held. */
	pthread_mutex_t held;
	bool holding;
	bool ranks_gathered; /* rank_info holds the ranks' measurements, not only where they ran */
	int rank, ranks;
	uint64_t check_wrong; /* run.check, sweep.check: wrong elements, all ranks */
	int below_min_busbw;  /* a sweep's test was below --min-busbw */
	int oversubscribed; /* this rank shares a core with another */
	struct tl_progress progress; /* rank 0's progress lines on stderr */
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

/* Rank 0 opens the output; every rank learns whether that worked. */
static int open_outputs(struct run *run)
{
	int ok = 1;

	if (run->rank == 0 && run->cli->output) {
		pthread_mutex_lock(&run->held);
		ok = tl_output_open(&run->out, run->cli->output, true, run->cli->force) == 0;
		pthread_mutex_unlock(&run->held);
	}
	TL_MPI_CHECK(MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD));
	return ok ? 0 : TL_EINPUT;
}

/* What a sweep's output reads of the run. */
static struct tl_sweep_out sweep_out(const struct run *run, const struct tl_result *r)
{
	return (struct tl_sweep_out){ .job = run->job, .sw = &run->sweep, .r = r,
				      .agg = run->cli->rank_agg, .results = run->results };
}

/* Rank 0: the document from what the run holds, written (under held). A signal's document is
 * written from the steps (a sweep's rows) done so far, with the ranks as far as they were
 * gathered. */
static int write_document(struct run *run, int sig)
{
	struct tl_result r = run->result;

	if (sig) {
		r.interrupted = true;
		r.interrupted_by = sig == SIGINT ? "SIGINT" : "SIGTERM";
	}
	r.ranks_unmeasured = !run->ranks_gathered;
	struct tl_sweep_out o = sweep_out(run, &r);
	json_t *doc = run->job->has_sweep ? tl_sweep_json(&o, r.nsteps, r.interrupted)
					  : tl_result_json(&r);
	int rc = tl_json_write_as(doc, run->cli->output, !sig);
	json_decref(doc);
	return rc;
}

/*
 * SIGINT or SIGTERM (src/interrupt.c calls this in its thread). While the run holds steps
 * (holding), rank 0 writes the document from them at once, since mpirun may follow with SIGKILL
 * a second later, and every rank carries on to the end of the step under way, where the ranks
 * agree to stop. Before that there is nothing to keep: the process ends, rank 0 having removed
 * the JSONL it created and never wrote to.
 */
static bool on_signal(int sig, void *arg)
{
	struct run *run = arg;

	pthread_mutex_lock(&run->held);
	bool go_on = run->holding;
	if (go_on && run->rank == 0 && run->cli->output)
		write_document(run, sig);
	if (!go_on && run->out.jsonl_created && !run->out.jsonl_bytes)
		unlink(run->out.jsonl_path);
	pthread_mutex_unlock(&run->held);
	return go_on;
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
	snprintf(run->result.env.cpu_model, sizeof(run->result.env.cpu_model), "%s",
		 topo.cpu_model);

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

/*
 * What the ranks of a node will hold must fit in its memory: each rank's buffers for its plan,
 * as its backend would allocate them (memory = full: the model's weights, gradients, optimizer
 * state and activations besides; lean: less, but one layer's weights and the largest op's
 * buffers), and on rank 0 the measured steps' records (TL_STEP_HELD_BYTES each). Every rank
 * learns of any node where they do not, before anything is allocated; the node's first rank
 * blames the key: run.steps when the records alone do not fit, run.memory otherwise. (A device
 * backend holds the plan on its device and checks it there.) Collective.
 */
static int check_node_memory(struct run *run, MPI_Comm local, int local_rank, int local_size)
{
	const struct tl_job *job = run->job;
	bool sweep = job->has_sweep;
	uint64_t buffers = 0;
	int rc = 0;

	if (sweep && !(run->backend.ops->caps & TL_BACKEND_DEVICE_MEMORY))
		buffers = run->sweep.memory_bytes;
	else if (!sweep && run->backend.ops->host_bytes)
		rc = run->backend.ops->host_bytes(job, &run->model, &run->grid, &run->plan,
						  &buffers);
	double mine[2] = { (double)buffers,
			   run->rank == 0 && !job->has_sweep
				   ? (double)job->steps * TL_STEP_HELD_BYTES
				   : 0.0 },
	       node[2];
	int too_big, any_too_big;
	TL_MPI_CHECK(MPI_Allreduce(mine, node, 2, MPI_DOUBLE, MPI_SUM, local));
	too_big = node[0] + node[1] > (double)run->node_memory;
	TL_MPI_CHECK(MPI_Allreduce(&too_big, &any_too_big, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
	if (rc || !any_too_big)
		return rc;
	if (too_big && local_rank == 0 && node[1] > (double)run->node_memory)
		tl_job_blame(job, "run", "steps", &run->diag,
			     "steps = %" PRIu64 ": rank 0 would hold %.4g GB of step records (%d "
			     "bytes a step), more than the %.3g GB of %s",
			     job->steps, node[1] / 1e9, TL_STEP_HELD_BYTES,
			     (double)run->node_memory / 1e9, run->me.host);
	else if (too_big && local_rank == 0 && sweep)
		tl_job_blame(job, "sweep", job->rotate_mb ? "rotate_mb" : "max_bytes", &run->diag,
			     "planned memory per rank %.3g GB x %d ranks on %s exceeds its %.3g GB "
			     "(the sweep's largest buffers, rotation included)",
			     node[0] / local_size / 1e9, local_size, run->me.host,
			     (double)run->node_memory / 1e9);
	else if (too_big && local_rank == 0)
		tl_job_blame(job, "run", "memory", &run->diag,
			     "planned memory per rank %.3g GB x %d ranks on %s exceeds its %.3g GB%s",
			     node[0] / local_size / 1e9, local_size, run->me.host,
			     (double)run->node_memory / 1e9,
			     job->memory == TL_MEMORY_FULL
				     ? " (memory = lean reuses buffers and runs in less)"
				     : ", even with memory = lean (one layer's weights and the "
				       "largest op's buffers)");
	return TL_EINPUT;
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
	if (!rc)
		rc = check_node_memory(run, local, local_rank, local_size);
	MPI_Comm_free(&local);
	if (rc)
		return rc;
	first_on_node = local_rank == 0;
	TL_MPI_CHECK(MPI_Allreduce(&first_on_node, &env->nodes, 1, MPI_INT, MPI_SUM,
				   MPI_COMM_WORLD));
	TL_MPI_CHECK(MPI_Allreduce(&run->oversubscribed, &any_oversubscribed, 1, MPI_INT, MPI_MAX,
				   MPI_COMM_WORLD));
	env->oversubscribed = any_oversubscribed;
	if (any_oversubscribed)
		tl_err("trainload: more ranks than cores on a node: ranks share cores "
		       "(oversubscribed; ranks[].binding says which)\n");

	tl_slurm_read(&env->slurm);
	/* MPI_Get_library_version writes up to MPI_MAX_LIBRARY_VERSION_STRING bytes: 8192 under
	 * MPICH, which fills some 2,000 of them. */
	char *library = malloc(MPI_MAX_LIBRARY_VERSION_STRING);
	if (!library)
		return TL_ENOMEM;
	TL_MPI_CHECK(MPI_Get_library_version(library, &len));
	tl_env_set_mpi_version(env, library);
	free(library);
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

/* Gather every rank's description to rank 0: before the steps (where each rank runs), and after
 * them (what each measured). The first time, list the distinct hosts and place the ranks on them
 * in the grid (which groups cross nodes, ranks per node where every node holds as many). The
 * array is replaced under held, so that a signal's document reads a whole one. */
static int gather_ranks(struct run *run, bool measured)
{
	struct tl_rank_info *all = NULL;
	uint32_t nodes = 0, *count = NULL;

	run->me.pid = (int)getpid();
	if (run->job->has_sweep)
		run->me.group = (int)tl_grid_group_member(&run->grid, (uint64_t)run->rank,
							  run->job->sweep_group, 0);
	if (run->rank == 0 && !(all = calloc((size_t)run->ranks, sizeof(*all))))
		return TL_ENOMEM;
	TL_MPI_CHECK(MPI_Gather(&run->me, (int)sizeof(run->me), MPI_BYTE, all,
				(int)sizeof(run->me), MPI_BYTE, 0, MPI_COMM_WORLD));
	if (run->rank != 0)
		return 0;
	pthread_mutex_lock(&run->held);
	struct tl_rank_info *before = run->result.rank_info;
	run->result.rank_info = all;
	run->ranks_gathered = measured;
	pthread_mutex_unlock(&run->held);
	free(before);
	if (run->hosts)
		return 0;
	run->hosts = calloc((size_t)run->ranks, sizeof(all->host) + 1);
	run->node_of_rank = calloc((size_t)run->ranks, sizeof(*run->node_of_rank));
	count = calloc((size_t)run->ranks, sizeof(*count));
	if (!run->hosts || !run->node_of_rank || !count) {
		free(count);
		return TL_ENOMEM;
	}
	for (int i = 0; i < run->ranks; i++) {
		int j = 0;
		while (j < i && strcmp(all[i].host, all[j].host))
			j++;
		if (j == i) {
			run->node_of_rank[i] = nodes++;
			if (*run->hosts)
				strcat(run->hosts, ",");
			strcat(run->hosts, all[i].host);
		} else {
			run->node_of_rank[i] = run->node_of_rank[j];
		}
		count[run->node_of_rank[i]]++;
	}
	run->result.env.hosts = run->hosts;
	run->grid.node_of_rank = run->node_of_rank;
	run->grid.ranks_per_node = count[0];
	for (uint32_t n = 1; n < nodes; n++)
		if (count[n] != count[0])
			run->grid.ranks_per_node = 0;
	free(count);
	return 0;
}

/* A measured step: added to this rank's totals and kept for its judgement; on rank 0, the
 * slowest rank's record (gathered[worst]) goes into the result and the JSONL. */
static int keep_step(struct run *run, const struct tl_step *mine, size_t worst)
{
	struct tl_rank_info *me = &run->me;

	me->gemm_s += mine->gemm_s;
	me->gemm_flops += mine->gemm_flops;
	me->compute_s += mine->compute_s;
	me->bubble_s += mine->bubble_s;
	me->optimizer_s += mine->optimizer_s;
	for (int g = 0; g < TL_GROUPS; g++) {
		me->comm_exposed_s[g] += mine->comm_exposed_s[g];
		me->comm_wait_s[g] += mine->comm_wait_s[g];
		me->comm_late_s[g] += mine->comm_late_s[g];
	}
	memcpy(me->ops_per_step, mine->ops, sizeof(mine->ops));
	run->measured[run->nmeasured++] = *mine;
	if (run->rank != 0)
		return 0;
	size_t i = run->result.nsteps;
	run->result.steps[i] = run->gathered[worst];
	run->result.step_rank[i] = (int)worst;
	pthread_mutex_lock(&run->held);
	run->result.nsteps++;
	pthread_mutex_unlock(&run->held);
	/* A line that cannot be written stops the run at once (exit 1), rather than at its end
	 * with steps missing. */
	if (run->out.jsonl_fd >= 0)
		return tl_output_append(&run->out, tl_step_json(&run->result, i));
	return 0;
}

/* A signal on any rank stops every rank after the step or row under way. Collective. */
static int stop_if_interrupted(struct run *run)
{
	int stop = tl_interrupt_requested(), any_stop = 0;

	TL_MPI_CHECK(MPI_Allreduce(&stop, &any_stop, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
	pthread_mutex_lock(&run->held);
	run->result.interrupted = any_stop;
	pthread_mutex_unlock(&run->held);
	return 0;
}

/* From the JSONL's header on, a signal has rank 0 write the document from what it holds; the
 * start-up ends here. */
static int start_holding(struct run *run, json_t *header)
{
	int rc = 0;

	pthread_mutex_lock(&run->held);
	if (run->out.jsonl_fd >= 0)
		rc = tl_output_append(&run->out, header);
	else
		json_decref(header);
	run->holding = true;
	pthread_mutex_unlock(&run->held);
	if (rc)
		return rc;
	double startup_s = tl_now_s() - run->start;
	pthread_mutex_lock(&run->held);
	run->result.env.startup_s = startup_s;
	pthread_mutex_unlock(&run->held);
	tl_progress_start(&run->progress, run->rank == 0 && run->cli->progress ? stderr : NULL,
			  isatty(STDERR_FILENO), run->job->log_interval, tl_now_s());
	return 0;
}

/* Warm-up and measured steps; rank 0 keeps the slowest rank's record of each measured one, and
 * writes it to the JSONL as the step ends. */
static int run_steps(struct run *run)
{
	const struct tl_job *job = run->job;
	uint64_t total = job->warmup + job->steps;
	struct tl_step mine;
	struct tl_rank_info *me = &run->me;
	int rc = 0;

	run->measured = calloc(job->steps + 1, sizeof(*run->measured));
	if (!run->measured)
		return TL_ENOMEM;
	if (run->rank == 0) {
		run->gathered = calloc((size_t)run->ranks, sizeof(*run->gathered));
		run->result.steps = calloc(job->steps, sizeof(*run->result.steps));
		run->result.step_rank = calloc(job->steps, sizeof(*run->result.step_rank));
		if (!run->gathered || !run->result.steps || !run->result.step_rank)
			return TL_ENOMEM;
	}
	rc = start_holding(run, tl_result_header_json(&run->result));
	if (rc)
		return rc;
	if (job->warmup)
		tl_progress_note(&run->progress,
				 "warm-up: %" PRIu64 " step(s), not measured, then %" PRIu64
				 " measured",
				 job->warmup, job->steps);
	/* The first step, too, starts on every rank at once (the others start after an
	 * agreement: see below). */
	TL_MPI_CHECK(MPI_Barrier(MPI_COMM_WORLD));
	/* A step under way when a signal comes is finished and kept. */
	for (uint64_t s = 0; s < total && !run->result.interrupted; s++) {
		run->exec.measuring = s >= job->warmup;
		rc = tl_exec_step(&run->exec, &mine);
		if (!rc)
			rc = tl_skew_step(&run->skew, &run->exec, &mine);
		if (rc)
			return rc;
		/* Gathered outside the timed region: it costs the run time, never the step. */
		rc = tl_stats_gather_step(&mine, run->gathered, MPI_COMM_WORLD);
		if (rc)
			return rc;
		/* rank 0: the step's record, the slowest rank's */
		size_t worst = run->rank == 0 ? tl_slowest(run->gathered, (size_t)run->ranks) : 0;
		if (run->rank == 0) {
			double time_s = run->gathered[worst].time_s;
			tl_progress_step(&run->progress, s + 1, total, job->warmup, time_s,
					 tl_tokens_per_s(run->model.tokens_per_step, time_s),
					 tl_now_s());
		}
		if (s >= job->warmup && (rc = keep_step(run, &mine, worst)))
			return rc;
		/* A signal on any rank stops every rank after this step. Last, after rank 0's
		 * writing: every rank leaves it at once, so the next step starts on all of them
		 * together, and no rank waits in it for rank 0's bookkeeping (which would count
		 * as rank 0 arriving late). */
		rc = stop_if_interrupted(run);
		if (rc)
			return rc;
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

/* MFU's denominator (DESIGN.md §5) and the BLAS peak beside it. Every rank runs the calibration
 * GEMM (its BLAS peak; skipped with --peak-tflops) and derives its hardware peak; rank 0 takes
 * the median of each over the ranks, so that one slow rank flatters nobody. MFU's peak is
 * --peak-tflops, else the hardware's, else (hardware unknown) the BLAS peak. */
static int calibrate(struct run *run)
{
	const struct tl_backend_ops *ops = run->backend.ops;
	struct tl_hw_peak hw = { .source = TL_PEAK_UNKNOWN };
	bool given = run->cli->peak_tflops > 0;
	double *blas = NULL, *hws = NULL;
	int rc = 0;

	if (!given)
		tl_progress_note(&run->progress, "calibration: a square GEMM on every rank for the "
						 "BLAS peak (about a second)");
	if (!given)
		rc = ops->calibrate(&run->backend, &run->me.peak_flops);
	if (!rc && ops->hw_peak)
		ops->hw_peak(&run->backend, &hw);
	run->me.hw_peak_flops = hw.flops_per_s;
	if (rc)
		return rc;
	if (run->rank == 0 && (!(blas = malloc((size_t)run->ranks * sizeof(*blas))) ||
			       !(hws = malloc((size_t)run->ranks * sizeof(*hws))))) {
		free(blas);
		return TL_ENOMEM;
	}
	TL_MPI_CHECK(MPI_Gather(&run->me.peak_flops, 1, MPI_DOUBLE, blas, 1, MPI_DOUBLE, 0,
				MPI_COMM_WORLD));
	TL_MPI_CHECK(MPI_Gather(&hw.flops_per_s, 1, MPI_DOUBLE, hws, 1, MPI_DOUBLE, 0,
				MPI_COMM_WORLD));
	if (run->rank == 0) {
		struct tl_result *r = &run->result;
		pthread_mutex_lock(&run->held);
		r->blas_peak_flops_per_rank = tl_percentile(blas, (size_t)run->ranks, 50);
		r->hw_peak = hw;
		r->hw_peak.flops_per_s =
			hw.flops_per_s > 0 ? tl_percentile(hws, (size_t)run->ranks, 50) : 0;
		r->peak_source = given			      ? TL_PEAK_GIVEN
				 : r->hw_peak.flops_per_s > 0 ? r->hw_peak.source
							      : TL_PEAK_CALIBRATED;
		r->peak_flops_per_rank = given			      ? run->cli->peak_tflops * 1e12
					 : r->hw_peak.flops_per_s > 0 ? r->hw_peak.flops_per_s
								      : r->blas_peak_flops_per_rank;
		pthread_mutex_unlock(&run->held);
	}
	free(blas);
	free(hws);
	return 0;
}

/* Rank 0, once its text is printed: the text flushed and the document written. A summary
 * redirected to a full disk is an output lost too (exit 1); the document is still written. */
static int end_outputs(struct run *run)
{
	int rc = 0;

	if (!run->cli->quiet && (fflush(stdout) != 0 || ferror(stdout))) {
		tl_err("trainload: cannot write the summary on standard output: %s\n",
		       strerror(errno));
		rc = TL_EIO;
	}
	/* The run's own document replaces any a signal had written; no signal writes after it. */
	pthread_mutex_lock(&run->held);
	if (run->cli->output && write_document(run, 0))
		rc = TL_EIO;
	run->holding = false;
	pthread_mutex_unlock(&run->held);
	return rc;
}

static int report(struct run *run)
{
	struct tl_coll_stat *colls = NULL;
	int ncolls = 0, rc;

	tl_watchdog_stage("gather", true);
	rc = gather_ranks(run, true);

	if (!rc)
		rc = tl_stats_gather_colls(run->exec.stats, run->exec.nstats, &colls, &ncolls,
					   MPI_COMM_WORLD);
	if (rc || run->rank != 0)
		return rc;
	tl_watchdog_stage("report", false);
	pthread_mutex_lock(&run->held);
	run->result.colls = colls;
	run->result.ncolls = ncolls;
	pthread_mutex_unlock(&run->held);
	if (!run->cli->quiet)
		tl_result_print(&run->result, stdout);
	return end_outputs(run);
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

/* Rank 0: the progress line of row r, when one is due. */
static void sweep_progress(struct run *run, size_t r)
{
	const struct tl_sweep *sw = &run->sweep;
	double now = tl_now_s();
	char t[32];

	if (!run->progress.out || !tl_progress_due(&run->progress, r + 1, sw->nrows, now))
		return;
	fprintf(run->progress.out, "# sweep: %s %" PRIu64 " B, size %zu of %zu  elapsed %s\n",
		tl_sweep_test_name(&sw->rows[r].test), sw->rows[r].c.bytes, r + 1, sw->nrows,
		tl_progress_duration(now - run->progress.start_s, t, sizeof(t)));
}

/* A sweep: every row's points through the executor, the row printed and appended to the JSONL
 * as it ends; every rank learns the wrong elements and the verdict on --min-busbw. */
static int run_sweep(struct run *run)
{
	const struct tl_sweep *sw = &run->sweep;
	const struct tl_job *job = run->job;
	double *stamps = calloc(job->iters + 1, sizeof(*stamps));
	FILE *out = run->rank == 0 && !run->cli->quiet ? stdout : NULL;
	struct tl_sweep_out o;
	int rc = 0;

	run->results = calloc(sw->npoints + 1, sizeof(*run->results));
	if (!stamps || !run->results) {
		free(stamps);
		return TL_ENOMEM;
	}
	o = sweep_out(run, &run->result);
	rc = start_holding(run, run->rank == 0 ? tl_sweep_header_json(&o) : json_object());
	if (!rc && out)
		tl_sweep_print_header(&o, out);
	tl_progress_note(&run->progress,
			 "sweep: %d op(s) x %zu sizes, %" PRIu64 " B to %" PRIu64 " B, %" PRIu64
			 " warm-up + %" PRIu64 " timed iterations each",
			 sw->ntests, tl_sweep_sizes(job, NULL, 0), job->min_bytes, job->max_bytes,
			 job->warmup_iters, job->iters);
	for (int t = 0; t < sw->ntests && !rc && !run->result.interrupted; t++) {
		if (out)
			tl_sweep_print_test(&o, t, out);
		for (size_t r = sw->test_rows[t];
		     r < sw->test_rows[t + 1] && !rc && !run->result.interrupted; r++) {
			const struct tl_sweep_row *row = &sw->rows[r];
			sweep_progress(run, r);
			for (int k = 0; k < row->npoints && !rc; k++)
				rc = run_point(run, &sw->points[row->point[k]], stamps,
					       &run->results[row->point[k]]);
			if (rc)
				break;
			pthread_mutex_lock(&run->held);
			run->result.nsteps = r + 1; /* rows done */
			pthread_mutex_unlock(&run->held);
			if (out)
				tl_sweep_print_row(&o, r, out);
			/* A line that cannot be written stops the sweep at once (exit 1). */
			if (run->out.jsonl_fd >= 0 &&
			    (rc = tl_output_append(&run->out, tl_sweep_row_json(&o, r))))
				break;
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

/* Rank 0 writes the sweep's document (its table went out row by row). */
static int report_sweep(struct run *run)
{
	if (run->rank != 0)
		return 0;
	tl_watchdog_stage("report", false);
	/* After the tables, on lines of their own (nccl-tests' parsers skip "#" lines). */
	if (!run->cli->quiet && run->me.link.nodes >= 3)
		tl_print_stragglers(&run->result, stdout);
	return end_outputs(run);
}

static void cleanup(struct run *run)
{
	/* A signal from here on ends the process as usual, once the signal thread is done. */
	tl_interrupt_on(NULL, NULL);
	tl_watchdog_stop();
	tl_exec_fini(&run->exec);
	tl_skew_fini(&run->skew);
	free(run->measured);
	if (run->backend.ops)
		run->backend.ops->fini(&run->backend);
	tl_output_close(&run->out);
	tl_plan_free(&run->plan);
	tl_sweep_free(&run->sweep);
	free(run->results);
	free(run->gathered);
	free(run->result.steps);
	free(run->result.step_rank);
	free(run->result.rank_info);
	free(run->result.colls);
	free(run->hosts);
	free(run->node_of_rank);
	pthread_mutex_destroy(&run->held);
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
	struct run run = { .cli = cli, .job = job, .start = tl_now_s(),
			   .held = PTHREAD_MUTEX_INITIALIZER, .out = { .jsonl_fd = -1 } };
	int rc;

	keep_freed_memory();
	if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
		fprintf(stderr, "trainload: MPI_Init failed\n");
		return TL_EXIT_RUN_FAILED;
	}
	/* After MPI_Init, whose library might set handlers of its own. */
	if (tl_interrupt_start() == 0)
		tl_interrupt_on(on_signal, &run);
	double mpi_init_s = tl_now_s() - run.start;
	run.start = tl_now_s();
	time_t started = time(NULL);
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
					 .ranks = run.ranks, .grid = &run.grid,
					 .peak_source = cli->peak_tflops > 0 ? TL_PEAK_GIVEN
									     : TL_PEAK_UNKNOWN,
					 .peak_flops_per_rank = cli->peak_tflops * 1e12 };
	run.result.env.mpi_init_s = mpi_init_s;
	/* When the run started, in UTC (ISO 8601): every result says when it was obtained. */
	strftime(run.result.env.start_time, sizeof(run.result.env.start_time), "%Y-%m-%dT%H:%M:%SZ",
		 gmtime(&started));
	bool sweep = job->has_sweep;
	const struct tl_plan *plan = sweep ? &run.sweep.plan : &run.plan;
	run.me.stage = (int)plan->coords.pp;
	run.backend.ops = tl_backend_find(tl_job_enum_name("run", "backend", job->backend));
	/* From here on, a rank that makes no progress for timeout_s ends the job (exit 3). */
	rc = tl_watchdog_start(job->timeout_s, run.rank, run.me.host, &run.grid);
	if (!rc)
		rc = collect_environment(&run);
	/* Where every rank runs, for the JSONL's header and a signal's document. */
	if (!rc)
		rc = gather_ranks(&run, false);
	if (!rc)
		rc = run.backend.ops->init(&run.backend, job, sweep ? NULL : &run.model, &run.grid,
					   plan);
	if (!rc && run.backend.ops->device)
		run.backend.ops->device(&run.backend, &run.me.gpu);
	if (!rc)
		rc = tl_exec_init(&run.exec, &run.backend, plan);
	/* The arrival/transfer split of the steps' collectives (a sweep times its own). */
	if (!rc && !sweep)
		rc = tl_skew_init(&run.skew, &run.grid, plan);
	/* A sweep checks in iterations of its own (sweep.check), and the watchdog numbers its
	 * iterations from 0, warm-up ones included, as TRAINLOAD_TEST_STALL does. */
	run.exec.check = sweep ? 0 : job->check;
	run.exec.warmup = sweep ? 0 : job->warmup;
	run.exec.measuring = sweep;
	run.exec.host = run.me.host;
	/* A sweep names every rank's device, as nccl-tests' "# Using devices", before its
	 * first point. */
	if (!rc && sweep && run.me.gpu.name[0])
		rc = gather_ranks(&run, true);
	if (!rc)
		rc = sweep ? run_sweep(&run) : run_steps(&run);
	/* The overlapped collectives alone: their blocking transfer times for the scaling model,
	 * and what the step's dp reductions take without overlap, for the share of them the steps
	 * hid (the summary's dp hidden). None when a signal cut the steps short. */
	if (!rc && !sweep && !run.result.interrupted) {
		tl_watchdog_stage("dp alone", true);
		rc = tl_exec_alone(&run.exec, &run.me.dp_alone_s);
	}
	record_peak_rss(&run.me);
	/* The calibration GEMM runs after the steps: it then costs the run nothing before its
	 * first step, and it measures the node in the state the steps left it in. With
	 * --peak-tflops none runs (calibrate derives the hardware peak alone); when a signal
	 * asked the run to stop, nothing is calibrated. */
	if (!rc && !sweep && !run.result.interrupted) {
		tl_watchdog_stage("calibration", false);
		rc = calibrate(&run);
	}
	/* The nodes' links, for stragglers: after the steps (or the sweep's rows) too, on a quiet
	 * network; not when a signal asked for a quick end. */
	if (!rc && !run.result.interrupted)
		rc = tl_link_probe(&run.me.link);
	/* What stragglers are judged on: this rank's median step and its step-to-step noise (a
	 * sweep's ranks: their node's link alone). */
	if (!rc)
		tl_rank_judge_steps(&run.me, run.measured, run.nmeasured);
	/* A sweep across 3 nodes or more names a slow node's link as a run does: rank 0 learns
	 * every rank's. */
	if (!rc && sweep && run.me.link.nodes >= 3)
		rc = gather_ranks(&run, true);
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
		tl_stderr_drain();
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
