/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the cuda backend runs, decided without the CUDA toolkit, so that every build refuses a
 * job it could never run with the reason, whether or not it has the backend: its check hook,
 * and in a build without CUDA its stand-in ops table (name, check and how to get it).
 */
#ifndef TRAINLOAD_BACKENDS_CUDA_CHECK_H
#define TRAINLOAD_BACKENDS_CUDA_CHECK_H

#include "trainload/job.h"
#include "trainload/log.h"

/* The cuda backend's check hook (include/trainload/backend.h). */
int tl_cuda_check(const struct tl_job *job, struct tl_diag *diag);

#endif
