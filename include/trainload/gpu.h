/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Which GPU each rank of a node drives (the cuda backend, one rank per GPU). Pure: it works on
 * cpusets given as list strings ("0-15,32-47"), so that the choice is unit-tested without a GPU
 * and every rank of a node reaches the same answer from the same lists without talking.
 */
#ifndef TRAINLOAD_GPU_H
#define TRAINLOAD_GPU_H

#include "trainload/log.h"

/*
 * Choose a GPU for each of nranks local ranks, in local-rank order: a rank takes, among the GPUs
 * no rank has taken yet, the one whose local cpuset (gpu_sets[g]: the cores hwloc places next to
 * its PCI slot) shares the most PUs with the rank's own cpuset (rank_sets[r]), the lowest index
 * on a tie. Ranks with no binding (their set is the whole node, or "" for unknown) thus take
 * the GPUs in index order, and a rank bound to a socket takes a GPU of that socket while one is
 * free. Once every GPU is taken, the next rank starts a new round (GPUs are then shared, which
 * the caller reports). A "" GPU set means no locality known: close to every core.
 * choice[r] gets rank r's GPU. Returns 0, TL_EINPUT (an unreadable list, ngpus or nranks < 1)
 * or TL_ENOMEM.
 */
int tl_gpu_assign(const char *const *gpu_sets, int ngpus, const char *const *rank_sets,
		  int nranks, int *choice);

#endif
