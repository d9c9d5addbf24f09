/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Node topology through hwloc: what the node has, where each of its ranks runs, and binding the
 * rank there.
 *
 * The decision (tl_topo_place) is pure: it reads an hwloc topology and a few numbers and changes
 * nothing, so that unit tests can hold it to exact cpusets on synthetic topologies
 * ("pack:2 numa:2 core:8 pu:2"). Applying it (tl_topo_apply) is the only part that binds.
 *
 * Every local rank computes its own placement from the same topology and the same numbers, so the
 * ranks of a node agree on who goes where without telling each other.
 */
#ifndef TRAINLOAD_TOPO_H
#define TRAINLOAD_TOPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hwloc.h>

/* Room for a cpuset as a list ("0-3,8"), exact, as the ranks of a node exchange it. */
#define TL_TOPO_LIST_MAX 1024

struct tl_topo {
	hwloc_topology_t hw;   /* the loaded topology; tl_topo_free releases it */
	int cores;             /* physical cores of the node (its PUs where hwloc sees no cores) */
	int pus;               /* hardware threads of the node */
	int numa_nodes;        /* NUMA nodes, CPU-less ones (HBM, CXL memory) included */
	int packages;          /* sockets; 1 where hwloc sees none */
	uint64_t memory_bytes; /* the node's memory */
	/* One last-level cache (the highest data or unified level hwloc found, L3 on most CPUs) and
	 * how many of them the node has: what a buffer must exceed to be cold. 0 when hwloc saw no
	 * cache (some VMs, synthetic topologies without caches). */
	uint64_t llc_bytes;
	int llc_count;
	int bound_pus;                 /* hardware threads this process may run on */
	char cpu_model[128];           /* "Intel(R) Xeon(R) Platinum 8480+"; "" when unknown */
	char cpuset[TL_TOPO_LIST_MAX]; /* this process's binding ("" when unknown) */
};

/* Discover the node this process runs on; 0 or TL_ERUN. */
int tl_topo_discover(struct tl_topo *topo);
/* Load a synthetic topology (hwloc_topology_set_synthetic syntax) instead; 0 or TL_EINPUT. */
int tl_topo_synthetic(struct tl_topo *topo, const char *description);
void tl_topo_free(struct tl_topo *topo);

/* Where one rank runs: tl_topo_place's answer. */
struct tl_topo_place {
	hwloc_bitmap_t cpuset;  /* the PUs it runs on */
	hwloc_bitmap_t nodeset; /* the NUMA nodes local to them: where its memory goes */
	int threads;            /* BLAS threads */
	int bind;               /* enum tl_bind as decided: auto has become core or been kept */
	bool kept;              /* the launcher's binding, kept (bind = auto) */
	bool oversubscribed;    /* shares a core with another local rank: more ranks than cores */
	char note[256];         /* how the decision was reached, in words, for the report */
};

/*
 * Decide where local rank local_rank of local_ranks runs on topology hw, for bind (enum tl_bind)
 * and threads (threads_per_rank; 0 = auto). No side effects: it neither reads nor changes any
 * binding, so it works on synthetic topologies alike.
 *
 * launcher: for bind = auto and none, each local rank's binding as the launcher left it (list
 * strings, indexed by local rank; the array or an entry may be NULL or "" when not known). auto
 * keeps the launcher's binding only when every known entry is a proper subset of the node and no
 * two overlap, judged over all entries so that every rank of the node reaches the same verdict;
 * when only this rank's entry is known, overlap cannot be checked and the note says so.
 *
 * Ranks are spread round-robin over packages, then over the NUMA domains of a package (ranks 0
 * and 1 of a 2-package node land on different packages), in proportion to the cores each domain
 * holds, so that no core holds two ranks while another is free. Within its domain a rank gets a
 * contiguous block of cores, one PU per core unless threads asks for more than the cores.
 *   core:    a block of its own cores: exactly threads of them when threads is set, else the
 *            domain's cores divided among its ranks (all the node's for a single rank)
 *   numa:    its whole NUMA domain, shared with the other ranks placed there
 *   package: its whole package, likewise
 *   none:    no binding: the launcher's entry for this rank, or the whole node
 * Threads, when not set, are the cores of the placement divided among the ranks that share it
 * (at least 1). The caller frees *place with tl_topo_place_free, also after an error.
 * Returns 0, TL_EINPUT (bad arguments, an unreadable list), TL_ENOMEM or TL_ERUN.
 */
int tl_topo_place(hwloc_topology_t hw, int local_rank, int local_ranks, int bind, int threads,
		  const char *const *launcher, struct tl_topo_place *place);
void tl_topo_place_free(struct tl_topo_place *place);

/* What a rank reports about its binding; nothing in it names the host. */
struct tl_topo_binding {
	char cpuset[256];  /* the PUs it runs on, as a list ("0-3"); cut at ",..." if too long */
	char numa[64];     /* its NUMA node(s) ("0", "0-1") */
	char binding[128]; /* "core (trainload)", "launcher", "none", and what was refused */
	char note[256];    /* the placement's note, or why applying it failed */
	int threads;
	bool kept;           /* the launcher's binding was kept */
	bool oversubscribed; /* shares a core with another rank */
	bool membind;        /* memory bound to its NUMA node(s) */
};

/*
 * Bind this process as place says: every thread to place->cpuset (unless the binding is kept or
 * bind = none) and memory to place->nodeset (HWLOC_MEMBIND_BIND), and fill *out. A system that
 * refuses memory binding (ENOSYS, EXDEV, EPERM in containers) is tolerated and said so in
 * out->binding; so is one that cannot bind CPUs at all (ENOSYS). Any other failure to bind CPUs
 * is TL_ERUN, with the reason in out->note.
 */
int tl_topo_apply(hwloc_topology_t hw, const struct tl_topo_place *place,
		  struct tl_topo_binding *out);

#endif
