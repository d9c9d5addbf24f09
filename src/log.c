/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/* Listed in the order launchers set them; the first one present wins. */
static const char *launcher_rank_var(void)
{
	static const char *const vars[] = { "OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK",
					    "SLURM_PROCID" };

	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);
		if (v && *v)
			return v;
	}
	return NULL;
}

int tl_launcher_rank(void)
{
	const char *v = launcher_rank_var();
	return v ? atoi(v) : 0;
}

bool tl_launched(void)
{
	return launcher_rank_var() != NULL;
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
