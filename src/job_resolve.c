/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Resolving a job against a world size: fill every "auto", then check the combinations that no
 * single key can check alone. Each error names the file and line of the key it blames (or the
 * --set that gave it), so that the user knows what to change.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "trainload/job.h"
#include "trainload/progress.h"

void tl_job_blame(const struct tl_job *job, const char *section, const char *key,
		  struct tl_diag *diag, const char *fmt, ...)
{
	char where[600], msg[1024];
	va_list ap;

	tl_job_where(job, tl_job_option(section, key), where, sizeof(where));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	tl_diag_add(diag, where, "%s", msg);
}

bool tl_job_was_set(const struct tl_job *job, const char *section, const char *key)
{
	return job->set_line[tl_job_option(section, key) - tl_job_options] != 0;
}

const char *tl_job_batch_key(const struct tl_job *job)
{
	return tl_job_was_set(job, "parallel", "grad_accum") &&
			       !tl_job_was_set(job, "parallel", "global_batch")
		       ? "grad_accum"
		       : "global_batch";
}

/* Report an error blamed on section.key. */
#define BLAME(section, key, ...) tl_job_blame(job, section, key, diag, __VA_ARGS__)

static void resolve_model(struct tl_job *job, struct tl_diag *diag)
{
	if (job->kv_heads == 0)
		job->kv_heads = job->heads;
	if (job->ffn_hidden == 0) {
		if (job->mlp == TL_MLP_GELU) {
			job->ffn_hidden = 4 * job->hidden;
		} else {
			/* 8/3·h, rounded up to a multiple of 256 as Llama's multiple_of does. */
			uint64_t f = (8 * job->hidden + 2) / 3;
			job->ffn_hidden = (f + 255) / 256 * 256;
		}
	}
	if (job->hidden % job->heads)
		BLAME("model", "heads",
		      "heads = %" PRIu64 " does not divide hidden = %" PRIu64
		      " (each head needs hidden/heads dimensions)",
		      job->heads, job->hidden);
	if (job->kv_heads > job->heads || job->heads % job->kv_heads)
		BLAME("model", "kv_heads",
		      "kv_heads = %" PRIu64 " does not divide heads = %" PRIu64, job->kv_heads,
		      job->heads);
	if (job->experts && job->topk > job->experts)
		BLAME("model", "topk", "topk = %" PRIu64 " exceeds experts = %" PRIu64, job->topk,
		      job->experts);
}

/* The groups' layout, which training jobs and sweeps share: tp·pp·cp divides the world, dp
 * fills it, ep divides dp. Returns false when the layout itself does not resolve. */
static bool resolve_layout(struct tl_job *job, uint64_t world, struct tl_diag *diag)
{
	uint64_t model_ranks;

	if (__builtin_mul_overflow(job->tp, job->pp, &model_ranks) ||
	    __builtin_mul_overflow(model_ranks, job->cp, &model_ranks) || model_ranks > world ||
	    world % model_ranks) {
		BLAME("parallel", "tp",
		      "tp*pp*cp = %" PRIu64 "*%" PRIu64 "*%" PRIu64 " does not divide the %" PRIu64
		      " ranks of this run",
		      job->tp, job->pp, job->cp, world);
		return false;
	}
	if (job->dp == 0) {
		job->dp = world / model_ranks;
	} else if (job->dp != world / model_ranks) {
		BLAME("parallel", "dp",
		      "dp*tp*pp*cp = %" PRIu64 "*%" PRIu64 "*%" PRIu64 "*%" PRIu64
		      " must equal the %" PRIu64 " ranks of this run",
		      job->dp, job->tp, job->pp, job->cp, world);
		return false;
	}
	if (job->dp % job->ep)
		BLAME("parallel", "ep",
		      "ep = %" PRIu64 " does not divide dp = %" PRIu64
		      " (expert groups are carved out of the data-parallel ranks)",
		      job->ep, job->dp);
	return true;
}

static void resolve_parallel(struct tl_job *job, uint64_t world, struct tl_diag *diag)
{
	if (!resolve_layout(job, world, diag))
		return;
	if (job->heads % job->tp)
		BLAME("parallel", "tp", "tp = %" PRIu64 " does not divide heads = %" PRIu64,
		      job->tp, job->heads);
	if (job->kv_heads % job->tp)
		BLAME("parallel", "tp", "tp = %" PRIu64 " does not divide kv_heads = %" PRIu64,
		      job->tp, job->kv_heads);
	if (job->layers % job->pp)
		BLAME("parallel", "pp", "pp = %" PRIu64 " does not divide layers = %" PRIu64,
		      job->pp, job->layers);
	if (job->ep > 1 && (job->experts == 0 || job->experts % job->ep))
		BLAME("parallel", "ep", "ep = %" PRIu64 " does not divide experts = %" PRIu64,
		      job->ep, job->experts);

	uint64_t per_step; /* sequences one microbatch round moves across all dp ranks */
	if (__builtin_mul_overflow(job->microbatch, job->dp, &per_step)) {
		BLAME("parallel", "microbatch", "microbatch*dp does not fit in 64 bits");
		return;
	}
	if (job->global_batch == 0) {
		if (job->grad_accum == 0)
			job->grad_accum = 1;
		if (__builtin_mul_overflow(per_step, job->grad_accum, &job->global_batch))
			BLAME("parallel", "grad_accum",
			      "microbatch*dp*grad_accum does not fit in 64 bits");
		return;
	}
	if (job->global_batch % per_step) {
		BLAME("parallel", "global_batch",
		      "global_batch = %" PRIu64 " is not a multiple of microbatch*dp = %" PRIu64
		      "*%" PRIu64,
		      job->global_batch, job->microbatch, job->dp);
		return;
	}
	uint64_t accum = job->global_batch / per_step;
	if (job->grad_accum && job->grad_accum != accum)
		BLAME("parallel", "grad_accum",
		      "grad_accum = %" PRIu64 " disagrees with global_batch/(microbatch*dp) = %" PRIu64,
		      job->grad_accum, accum);
	job->grad_accum = accum;
}

/* The progress interval; what each backend can run is its own to say (its check hook,
 * src/backends/registry.c). */
static void resolve_run(struct tl_job *job, struct tl_diag *diag)
{
	struct tl_progress_every every;
	const char *why;

	if (tl_progress_parse(job->log_interval, &every, &why))
		BLAME("run", "log_interval", "log_interval = '%s': %s", job->log_interval, why);
	if (job->comm_dtype == TL_DTYPE_SAME)
		job->comm_dtype = job->compute_dtype;
}

/* Context parallelism splits each sequence into 2*cp chunks, two per rank, as Megatron does to
 * balance causal attention over the ring. */
static void resolve_cp(struct tl_job *job, struct tl_diag *diag)
{
	if (job->cp > 1 && job->seq % (2 * job->cp))
		BLAME("parallel", "cp",
		      "cp = %" PRIu64 ": seq = %" PRIu64 " is not a multiple of 2*cp = %" PRIu64
		      " (each rank holds two of 2*cp chunks of every sequence)",
		      job->cp, job->seq, 2 * job->cp);
}

/* Megatron's interleaved 1F1B: virtual_stages model chunks per stage, each of
 * layers/(pp*virtual_stages) layers, the microbatches taken pp at a time. */
static void resolve_schedule(struct tl_job *job, struct tl_diag *diag)
{
	if (job->schedule != TL_SCHEDULE_INTERLEAVED) {
		if (job->virtual_stages > 1)
			BLAME("parallel", "virtual_stages",
			      "virtual_stages = %" PRIu64 " needs schedule = interleaved",
			      job->virtual_stages);
		return;
	}
	if (job->pp < 2) {
		BLAME("parallel", "schedule", "schedule = interleaved needs pp > 1");
		return;
	}
	if (job->layers % (job->pp * job->virtual_stages))
		BLAME("parallel", "virtual_stages",
		      "pp*virtual_stages = %" PRIu64 "*%" PRIu64 " does not divide layers = %" PRIu64,
		      job->pp, job->virtual_stages, job->layers);
	if (job->grad_accum % job->pp)
		BLAME("parallel", tl_job_batch_key(job),
		      "schedule = interleaved needs the microbatches per step (%" PRIu64
		      ") to be a multiple of pp = %" PRIu64,
		      job->grad_accum, job->pp);
}

/* What no part of this version can plan: refused for runs and dry runs alike. The backends
 * refuse, in the same way, what they cannot run (tl_backend_check). */
static void refuse_unplannable(struct tl_job *job, struct tl_diag *diag)
{
	/* Expert gradients would reduce over the dp and cp ranks together, a group the grid does
	 * not carve out of the expert-data-parallel one. */
	if (job->cp > 1 && job->experts)
		BLAME("parallel", "cp",
		      "context parallelism (cp > 1) with experts > 0 is not implemented yet");
}

int tl_job_resolve(struct tl_job *job, uint64_t world_ranks, struct tl_diag *diag)
{
	int before = diag->count + diag->dropped;

	if (job->has_model && job->has_sweep) {
		tl_diag_add(diag, job->source,
			    "a job holds either [model] (a training step) or [sweep] (a collective "
			    "sweep), not both");
		return TL_EINPUT;
	}
	if (job->has_sweep) {
		/* A sweep has no model: only the layout of its groups counts here, and its own
		 * keys when its plan is built (tl_sweep_build). */
		resolve_layout(job, world_ranks, diag);
		if (job->global_batch == 0 && job->grad_accum == 0)
			job->grad_accum = 1;
	} else {
		resolve_model(job, diag);
		resolve_parallel(job, world_ranks, diag);
		resolve_cp(job, diag);
		if (job->grad_accum)
			resolve_schedule(job, diag);
	}
	resolve_run(job, diag);
	refuse_unplannable(job, diag);
	return diag->count + diag->dropped > before ? TL_EINPUT : 0;
}
