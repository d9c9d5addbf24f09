/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <hwloc.h>
#include <stdio.h>
#include <string.h>

#include "trainload/log.h"
#include "trainload/topo.h"

int tl_topo_discover(struct tl_topo *topo)
{
	hwloc_topology_t t;
	hwloc_bitmap_t set;

	memset(topo, 0, sizeof(*topo));
	if (hwloc_topology_init(&t) || hwloc_topology_load(t))
		return TL_ERUN;
	topo->cores = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_CORE);
	topo->pus = hwloc_get_nbobjs_by_type(t, HWLOC_OBJ_PU);
	topo->memory_bytes = hwloc_get_root_obj(t)->total_memory;

	set = hwloc_bitmap_alloc();
	if (set && hwloc_get_cpubind(t, set, HWLOC_CPUBIND_PROCESS) == 0) {
		topo->bound_pus = hwloc_bitmap_weight(set);
		hwloc_bitmap_list_snprintf(topo->cpuset, sizeof(topo->cpuset), set);
	} else {
		topo->bound_pus = topo->pus;
		snprintf(topo->cpuset, sizeof(topo->cpuset), "?");
	}
	hwloc_bitmap_free(set);
	hwloc_topology_destroy(t);
	if (topo->cores < 1)
		topo->cores = topo->pus > 0 ? topo->pus : 1;
	return 0;
}
