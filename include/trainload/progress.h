/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Progress lines on stderr while a run works (DESIGN.md §6): a line every run.log_interval steps
 * or seconds that batch logs keep (Slurm's .out file, mpirun's piped stderr), and on a terminal
 * one line rewritten in place after every step. Pure: the caller reads the clock and says
 * whether stderr is a terminal, so that the decisions and the text are unit-tested.
 */
#ifndef TRAINLOAD_PROGRESS_H
#define TRAINLOAD_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* run.log_interval as written: "N" (every N steps or sweep sizes), "Ns" (every N seconds), or
 * "0" (no interval lines: only the first and the last). */
struct tl_progress_every {
	uint64_t steps;
	double seconds;
};

/* Parse spec into *every; 0, or TL_EINPUT with *why saying what is wrong. */
int tl_progress_parse(const char *spec, struct tl_progress_every *every, const char **why);

struct tl_progress {
	FILE *out; /* NULL: progress is off (-q without --progress, or not rank 0) */
	bool tty;  /* out is a terminal: every step rewrites one line in place */
	struct tl_progress_every every;
	double start_s; /* when the work began */
	double last_s;  /* when the last line was printed */
	uint64_t last;  /* how many units of work were done then */
};

/* Start counting at now_s; out NULL turns every call into nothing. spec is run.log_interval,
 * already checked (an unreadable one counts as "0"). */
void tl_progress_start(struct tl_progress *p, FILE *out, bool tty, const char *spec, double now_s);

/* A one-off line (warm-up, calibration, a sweep's plan), printed whole: "# text". */
void tl_progress_note(struct tl_progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Whether a line is due once done of total units are done at now_s: the first and the last
 * always, and then every every.steps units or every.seconds seconds. Printing it is the
 * caller's (tl_progress_step or its own); marks it printed. */
bool tl_progress_due(struct tl_progress *p, uint64_t done, uint64_t total, double now_s);

/* The line of training steps: step done of total (the first warmup of them unmeasured), the
 * elapsed time, the last step's time (the slowest rank's) and tokens per second, and the
 * time left at the mean step time so far. On a terminal every step rewrites it in place;
 * elsewhere it is printed when due. */
void tl_progress_step(struct tl_progress *p, uint64_t done, uint64_t total, uint64_t warmup,
                      double step_s, double tokens_per_s, double now_s);

/* seconds as people read a duration: "8.2 s", "3m05s", "2h07m". */
const char *tl_progress_duration(double seconds, char *buf, size_t len);

#endif
