/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the cpu backend shares with the collective sweep (src/sweep.c), so that a sweep runs on
 * the very communicators and reductions a training step uses. Private: it needs mpi.h.
 */
#ifndef TRAINLOAD_BACKENDS_CPU_H
#define TRAINLOAD_BACKENDS_CPU_H

#include <mpi.h>
#include <stdint.h>

#include "trainload/grid.h"
#include "trainload/peak.h"

/* The MPI type that carries dtype (enum tl_dtype) and a new commutative sum over it: for bf16
 * and f16 the only correct one, since MPI has no 16-bit float. Free *op with MPI_Op_free. */
int tl_cpu_sum_op(int dtype, MPI_Datatype *type, MPI_Op *op);

/* Split parent into the group (TL_GROUP_* or TL_GROUP_EDP) that world rank belongs to, ranked
 * by index in the group, with MPI_ERRORS_RETURN. Collective over parent. */
int tl_cpu_group_comm(const struct tl_grid *grid, uint64_t rank, int group, MPI_Comm parent,
		      MPI_Comm *out);

/* This rank's hardware peak on cores cores for dtype (enum tl_dtype): the measured clock × FMA
 * width × FMA units × 2 (src/backends/cpu_peak.c); about 0.1 s of one core's work. */
void tl_cpu_peak(int cores, int dtype, struct tl_hw_peak *out);

#endif
