/* SPDX-License-Identifier: BSD-3-Clause */
/* Node topology through hwloc: cores, the rank's binding, memory. */
#ifndef TRAINLOAD_TOPO_H
#define TRAINLOAD_TOPO_H

#include <stddef.h>
#include <stdint.h>

struct tl_topo {
	int cores;             /* physical cores of the node */
	int pus;               /* hardware threads of the node */
	int bound_pus;         /* hardware threads this process may run on */
	uint64_t memory_bytes; /* the node's memory */
	char cpuset[256];      /* this process's binding, as a list ("0-3,8") */
};

/* Discover the node this process runs on; 0 or TL_ERUN. */
int tl_topo_discover(struct tl_topo *topo);

#endif
