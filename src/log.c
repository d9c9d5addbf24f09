/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>

#include "trainload/log.h"

static int log_rank;

void tl_diag_add(struct tl_diag *d, const char *where, const char *fmt, ...)
{
	char body[1024];
	va_list ap;

	if (d->count >= TL_DIAG_MAX) {
		d->dropped++;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);

	size_t len = strlen(body) + (where ? strlen(where) + 2 : 0) + 1;
	char *msg = malloc(len);
	if (!msg) {
		d->dropped++;
		return;
	}
	if (where)
		snprintf(msg, len, "%s: %s", where, body);
	else
		snprintf(msg, len, "%s", body);
	d->msg[d->count++] = msg;
}

void tl_diag_print(const struct tl_diag *d)
{
	for (int i = 0; i < d->count; i++)
		fprintf(stderr, "%s\n", d->msg[i]);
	if (d->dropped)
		fprintf(stderr, "(%d more errors not shown)\n", d->dropped);
}

void tl_diag_free(struct tl_diag *d)
{
	for (int i = 0; i < d->count; i++)
		free(d->msg[i]);
	d->count = 0;
	d->dropped = 0;
}

void tl_log_set_rank(int rank)
{
	log_rank = rank;
}

int tl_log_rank(void)
{
	return log_rank;
}

/* The first of vars (a NULL-terminated list) that is set and not empty, or NULL. */
static const char *first_set(const char *const *vars)
{
	for (; *vars; vars++) {
		const char *v = getenv(*vars);
		if (v && *v)
			return v;
	}
	return NULL;
}

/* Listed in the order launchers set them; the first one present wins. */
static const char *const rank_vars[] = { "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK",
					 "SLURM_PROCID", NULL };

int tl_launcher_rank(void)
{
	const char *v = first_set(rank_vars);
	return v ? atoi(v) : 0;
}

bool tl_launched(void)
{
	return first_set(rank_vars) != NULL;
}

/* A count from the first of vars that holds a plain positive number (Slurm's per-node lists
 * such as "2(x3)" are not one); 0 when none does. */
static uint64_t launcher_count(const char *const *vars)
{
	for (; *vars; vars++) {
		const char *v = getenv(*vars);
		char *end;
		unsigned long long n = v ? strtoull(v, &end, 10) : 0;
		if (v && *v && !*end && n > 0)
			return n;
	}
	return 0;
}

uint64_t tl_launcher_size(void)
{
	static const char *const vars[] = { "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS",
					    NULL };
	return launcher_count(vars);
}

uint64_t tl_launcher_local_size(void)
{
	static const char *const vars[] = { "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS",
					    "SLURM_NTASKS_PER_NODE", NULL };
	return launcher_count(vars);
}

void tl_out(const char *fmt, ...)
{
	va_list ap;

	if (log_rank != 0)
		return;
	va_start(ap, fmt);
	vfprintf(stdout, fmt, ap);
	va_end(ap);
}

void tl_err(const char *fmt, ...)
{
	va_list ap;

	if (log_rank != 0)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

void tl_stderr_drain(void)
{
	/* On Linux, FIONREAD on either end of a pipe counts the bytes not yet read from it. */
	const struct timespec tick = { .tv_nsec = 10 * 1000 * 1000 };
	int unread;
	for (double waited = 0; waited < 1.0; waited += 0.01) {
		if (ioctl(2, FIONREAD, &unread) != 0 || unread <= 0)
			return;
		nanosleep(&tick, NULL);
	}
}
