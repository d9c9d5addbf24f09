/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The clock every timing reads: monotonic wall-clock time, in seconds. A leaf utility: it uses
 * nothing of trainload's, so that the executor, the backends and the watchdog all read the same
 * clock without depending on one another.
 */
#ifndef TRAINLOAD_CLOCK_H
#define TRAINLOAD_CLOCK_H

/* Seconds since an arbitrary start (CLOCK_MONOTONIC): only differences mean anything. */
double tl_now_s(void);

#endif
