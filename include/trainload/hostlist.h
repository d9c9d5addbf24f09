/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Slurm hostlist expressions, as sbatch --exclude, scontrol and sinfo read them: "node[3,7-8]",
 * "gpu[01-02],login1" (numbers keep their zero padding, hosts of different prefixes or padding
 * are separate terms). Pure: a leaf utility.
 */
#ifndef TRAINLOAD_HOSTLIST_H
#define TRAINLOAD_HOSTLIST_H

#include <stddef.h>

/* The hosts (any order, duplicates allowed) as one compressed expression: hosts sharing a
 * prefix and a number width are folded into one bracket of sorted, merged ranges, terms in
 * order of their first host. A malloc'd string ("" for no hosts), or NULL when out of memory. */
char *tl_hostlist_compress(const char *const *hosts, size_t n);

#endif
