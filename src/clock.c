/* SPDX-License-Identifier: BSD-3-Clause */
/* The clock (include/trainload/clock.h). */
#include "config.h"

#include <time.h>

#include "trainload/clock.h"

double tl_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
