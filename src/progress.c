/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Progress lines (include/trainload/progress.h). Megatron prints a line every --log-interval
 * iterations, fio every --status-interval seconds; run.log_interval takes either.
 */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "trainload/log.h"
#include "trainload/progress.h"

int tl_progress_parse(const char *spec, struct tl_progress_every *every, const char **why)
{
	char *end;
	double v = strtod(spec, &end);

	*every = (struct tl_progress_every){0};
	*why = "expected N (steps), Ns (seconds) or 0 (first and last step only)";
	if (end == spec || !(v >= 0 && v <= 1e9) || *spec == '-' || *spec == '+')
		return TL_EINPUT;
	if (!strcmp(end, "s")) {
		every->seconds = v;
		return 0;
	}
	if (*end || v != floor(v))
		return TL_EINPUT;
	every->steps = (uint64_t)v;
	return 0;
}

void tl_progress_start(struct tl_progress *p, FILE *out, bool tty, const char *spec, double now_s)
{
	const char *why;

	*p = (struct tl_progress){.out = out, .tty = tty, .start_s = now_s, .last_s = now_s};
	if (tl_progress_parse(spec, &p->every, &why))
		p->every = (struct tl_progress_every){0};
}

void tl_progress_note(struct tl_progress *p, const char *fmt, ...)
{
	va_list ap;

	if (!p->out)
		return;
	fputs("# ", p->out);
	va_start(ap, fmt);
	vfprintf(p->out, fmt, ap);
	va_end(ap);
	fputc('\n', p->out);
	fflush(p->out);
}

bool tl_progress_due(struct tl_progress *p, uint64_t done, uint64_t total, double now_s)
{
	bool due = done <= 1 || done >= total ||
	           (p->every.steps && done - p->last >= p->every.steps) ||
	           (p->every.seconds > 0 && now_s - p->last_s >= p->every.seconds);

	if (due) {
		p->last = done;
		p->last_s = now_s;
	}
	return due && p->out;
}

const char *tl_progress_duration(double seconds, char *buf, size_t len)
{
	double s = seconds > 0 ? seconds : 0;

	if (s < 60)
		snprintf(buf, len, "%.1f s", s);
	else if (s < 3600)
		snprintf(buf, len, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
	else
		snprintf(buf, len, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
	return buf;
}

void tl_progress_step(struct tl_progress *p, uint64_t done, uint64_t total, uint64_t warmup,
                      double step_s, double tokens_per_s, double now_s)
{
	char elapsed[32], eta[32], tok[32];

	if (!p->out)
		return;
	/* On a terminal every step; elsewhere only the due ones (which also marks them). */
	if (!tl_progress_due(p, done, total, now_s) && !p->tty)
		return;
	double spent = now_s - p->start_s;
	snprintf(tok, sizeof(tok), "%.0f", tokens_per_s);
	if (done >= total)
		snprintf(eta, sizeof(eta), "done");
	else
		tl_progress_duration(spent / (double)done * (double)(total - done), eta,
		                     sizeof(eta));
	fprintf(p->out,
	        "%s# step %" PRIu64 "/%" PRIu64 "%s  elapsed %s  last step %.4f s  %s tokens/s  "
	        "ETA %s",
	        p->tty ? "\r" : "", done, total, done <= warmup ? " (warm-up)" : "",
	        tl_progress_duration(spent, elapsed, sizeof(elapsed)), step_s, tok, eta);
	/* A terminal's line is ended by the last step; a log's at once. */
	if (!p->tty || done >= total)
		fputc('\n', p->out);
	else
		fputs("   ", p->out); /* covers what a longer previous line left */
	fflush(p->out);
}
