/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the cpu backend (src/backends/cpu.c) takes from its peak module (src/backends/cpu_peak.c).
 * Private to the backend.
 */
#ifndef TRAINLOAD_BACKENDS_CPU_H
#define TRAINLOAD_BACKENDS_CPU_H

#include "trainload/peak.h"

/* This rank's hardware peak on cores cores for dtype (enum tl_dtype): the measured clock × FMA
 * width × FMA units × 2 (src/backends/cpu_peak.c); about 0.1 s of one core's work. */
void tl_cpu_peak(int cores, int dtype, struct tl_hw_peak *out);

#endif
