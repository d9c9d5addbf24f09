/* SPDX-License-Identifier: BSD-3-Clause */
/* The watchdog (include/trainload/watchdog.h). */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <mpi.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "trainload/clock.h"
#include "trainload/log.h"
#include "trainload/watchdog.h"

/* The members of a stuck group that are listed by rank; larger groups are summarised. */
#define TL_WATCHDOG_LIST_MAX 16

static struct {
	bool on;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;
	double timeout_s;
	double limit_s;        /* under lock: the stage's timeout (timeout_s during the steps) */
	int rank;
	char host[64];
	const struct tl_grid *grid;
	struct tl_where where; /* under lock */
	double entered;        /* when where was entered */
	double progress;       /* when an op last finished (or the watchdog started) */
	bool stalled;          /* TRAINLOAD_TEST_STALL stopped this rank */
	int64_t stall_step;    /* this rank's TRAINLOAD_TEST_STALL step, or -1 */
	char stall_stage[32];  /* this rank's TRAINLOAD_TEST_STALL stage, or "" */
	unsigned stall_stage_s; /* and how long it lingers there */
} wd = { .lock = PTHREAD_MUTEX_INITIALIZER, .wake = PTHREAD_COND_INITIALIZER,
	 .stall_step = -1 };

/* "step 3, microbatch 0, layer 1, forward" for the fields that are set. */
static void describe(const struct tl_where *w, char *buf, size_t len)
{
	size_t used = 0;

#define ADD(...)                                                                                 \
	do {                                                                                     \
		if (used < len)                                                                  \
			used += (size_t)snprintf(buf + used, len - used, __VA_ARGS__);           \
	} while (0)
	buf[0] = '\0';
	if (w->step >= 0)
		ADD("%sstep %" PRId64, w->warmup ? "warm-up " : "", w->step);
	if (w->microbatch >= 0)
		ADD("%smicrobatch %" PRId64, used ? ", " : "", w->microbatch);
	if (w->layer >= 0)
		ADD("%slayer %" PRId64, used ? ", " : "", w->layer);
	if (w->phase)
		ADD("%s%s", used ? ", " : "", w->phase);
#undef ADD
}

/* "ranks 0,1" of the group of a communication op (or "rank 3" for a send/recv). */
static void members(const struct tl_where *w, char *buf, size_t len)
{
	size_t used = 0;
	uint64_t n;

	buf[0] = '\0';
	if (w->peer >= 0) {
		snprintf(buf, len, " with rank %" PRId64, w->peer);
		return;
	}
	if (w->group < 0 || !wd.grid)
		return;
	n = tl_grid_group_size(wd.grid, w->group);
	used += (size_t)snprintf(buf, len, " over %s (%" PRIu64 " ranks", tl_grid_group_name(w->group),
				 n);
	for (uint64_t i = 0; i < n && i < TL_WATCHDOG_LIST_MAX && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%" PRIu64, i ? "," : ": ",
					 tl_grid_group_member(wd.grid, (uint64_t)wd.rank, w->group, i));
	if (used < len)
		snprintf(buf + used, len - used, "%s)", n > TL_WATCHDOG_LIST_MAX ? ",..." : "");
}

static void fire(double idle)
{
	struct tl_where w = wd.where;
	double in_op = tl_now_s() - wd.entered;
	char place[160], with[256], bytes[48] = "";

	describe(&w, place, sizeof(place));
	members(&w, with, sizeof(with));
	if (w.bytes)
		snprintf(bytes, sizeof(bytes), " of %" PRIu64 " B", w.bytes);
	char limit[64] = "";

	if (wd.limit_s > wd.timeout_s)
		snprintf(limit, sizeof(limit), ", %g s outside the steps", wd.limit_s);
	fprintf(stderr,
		"trainload: rank %d (%s): watchdog: no op finished for %.1f s (timeout_s = %g%s): "
		"stuck in %s%s%s%s%s (%s)%s%s, entered %.1f s ago\n",
		wd.rank, wd.host, idle, wd.timeout_s, limit, w.what ? w.what : "?",
		w.waits ? " for " : "",
		w.waits ? w.waits : "", bytes, with,
		wd.stalled    ? "stalled on purpose by TRAINLOAD_TEST_STALL"
		: w.compute ? "computing: waits for no other rank"
			    : "waiting for the other ranks",
		*place ? ", " : "", place, in_op);
	fflush(stderr);
}

static void *watch(void *arg)
{
	/* A few looks per timeout, at most one a second. */
	double period = wd.timeout_s / 4 < 1.0 ? wd.timeout_s / 4 : 1.0;

	(void)arg;
	pthread_mutex_lock(&wd.lock);
	while (!wd.stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		double t = (double)until.tv_sec + 1e-9 * (double)until.tv_nsec + period;
		until.tv_sec = (time_t)t;
		until.tv_nsec = (long)((t - (double)until.tv_sec) * 1e9);
		int rc = pthread_cond_timedwait(&wd.wake, &wd.lock, &until);
		if (wd.stop || (rc && rc != ETIMEDOUT))
			break;
		double idle = tl_now_s() - wd.progress;
		if (idle < wd.limit_s)
			continue;
		fire(idle);
		pthread_mutex_unlock(&wd.lock);
		/* Let the other stuck ranks speak before the job goes down. */
		struct timespec grace = { .tv_sec = (time_t)TL_WATCHDOG_GRACE_S };
		nanosleep(&grace, NULL);
		tl_stderr_drain();
		MPI_Abort(MPI_COMM_WORLD, TL_EXIT_WATCHDOG);
		_exit(TL_EXIT_WATCHDOG); /* in case MPI_Abort returns */
	}
	pthread_mutex_unlock(&wd.lock);
	return NULL;
}

int tl_watchdog_start(uint64_t timeout_s, int rank, const char *host, const struct tl_grid *grid)
{
	const char *stall = getenv("TRAINLOAD_TEST_STALL");
	int stall_rank;
	long long stall_step;

	unsigned stage_s;
	char stage[sizeof(wd.stall_stage)];

	if (stall && sscanf(stall, "%d:%31[a-z ]:%u", &stall_rank, stage, &stage_s) == 3 &&
	    stall_rank == rank) {
		snprintf(wd.stall_stage, sizeof(wd.stall_stage), "%s", stage);
		wd.stall_stage_s = stage_s;
	} else if (stall && sscanf(stall, "%d:%lld", &stall_rank, &stall_step) == 2 &&
		   stall_rank == rank) {
		wd.stall_step = stall_step;
	}
	if (timeout_s == 0)
		return 0;
	wd.timeout_s = (double)timeout_s;
	wd.rank = rank;
	wd.grid = grid;
	snprintf(wd.host, sizeof(wd.host), "%s", host);
	wd.stop = false;
	wd.on = true;
	tl_watchdog_stage("start-up", false);
	if (pthread_create(&wd.thread, NULL, watch, NULL)) {
		fprintf(stderr, "trainload: rank %d (%s): pthread_create failed at %s:%d: "
			"no watchdog\n", rank, host, __FILE__, __LINE__);
		wd.on = false;
		return TL_ERUN;
	}
	return 0;
}

void tl_watchdog_stop(void)
{
	if (!wd.on)
		return;
	pthread_mutex_lock(&wd.lock);
	wd.stop = true;
	pthread_cond_signal(&wd.wake);
	pthread_mutex_unlock(&wd.lock);
	pthread_join(wd.thread, NULL);
	wd.on = false;
}

void tl_watchdog_enter(const struct tl_where *where)
{
	if (!wd.on)
		return;
	pthread_mutex_lock(&wd.lock);
	wd.where = *where;
	wd.entered = tl_now_s();
	wd.limit_s = wd.timeout_s;
	pthread_mutex_unlock(&wd.lock);
}

void tl_watchdog_stage(const char *stage, bool waits)
{
	if (!wd.on)
		return;
	double now = tl_now_s();
	pthread_mutex_lock(&wd.lock);
	wd.where = (struct tl_where){ .what = stage, .group = -1, .compute = !waits, .step = -1,
				      .microbatch = -1, .layer = -1, .peer = -1 };
	wd.entered = wd.progress = now;
	wd.limit_s = wd.timeout_s > TL_WATCHDOG_STAGE_S ? wd.timeout_s : TL_WATCHDOG_STAGE_S;
	pthread_mutex_unlock(&wd.lock);
	if (*wd.stall_stage && !strcmp(stage, wd.stall_stage))
		sleep(wd.stall_stage_s); /* TRAINLOAD_TEST_STALL: for testing only */
}

void tl_watchdog_leave(void)
{
	if (!wd.on)
		return;
	double now = tl_now_s();
	pthread_mutex_lock(&wd.lock);
	wd.progress = now;
	pthread_mutex_unlock(&wd.lock);
}

bool tl_watchdog_stall_due(int64_t step)
{
	return wd.stall_step >= 0 && step == wd.stall_step;
}

void tl_watchdog_stall(void)
{
	pthread_mutex_lock(&wd.lock);
	wd.stalled = true;
	wd.where.compute = true;
	pthread_mutex_unlock(&wd.lock);
	for (;;)
		pause();
}
