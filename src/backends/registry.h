/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The registry of backends (as IOR's): every backend this program knows, whether or not this
 * build has it, found by the name a job gives it. Apart from include/trainload/backend.h, so
 * that the backends, which implement that interface, do not depend on the list of them.
 */
#ifndef TRAINLOAD_BACKENDS_REGISTRY_H
#define TRAINLOAD_BACKENDS_REGISTRY_H

#include "trainload/backend.h"

/* The backend a job names; NULL when this build lacks it. */
const struct tl_backend_ops *tl_backend_find(const char *name);

/* Refuse (into diag, naming the keys) what the job's backend cannot run: a backend this build
 * lacks (saying how to get it), and what its check hook refuses. Pure: called on every rank,
 * alone before MPI starts and again under it. 0 or TL_EINPUT. */
int tl_backend_check(const struct tl_job *job, struct tl_diag *diag);

#endif
