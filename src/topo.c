/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Node topology, placement and binding (include/trainload/topo.h).
 *
 * Placement walks down the node: packages, then the NUMA domains of the chosen package, dealing
 * the node's ranks out round-robin, each domain taking a share in proportion to its cores. The
 * domain a rank lands in is then cut into contiguous blocks of cores, one per rank. Only whole
 * cores are counted ("units": the node's PUs where hwloc sees no cores), so that SMT siblings
 * are never mistaken for room for another rank.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <unistd.h>

#include "trainload/job.h"
#include "trainload/log.h"
#include "trainload/topo.h"

static const char *const bind_names[] = {
	[TL_BIND_AUTO] = "auto",       [TL_BIND_CORE] = "core", [TL_BIND_NUMA] = "numa",
	[TL_BIND_PACKAGE] = "package", [TL_BIND_NONE] = "none",
};

/* Cores, or PUs on a machine (or VM) where hwloc reports no cores. */
static hwloc_obj_type_t unit_type(hwloc_topology_t hw)
{
	return hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_CORE) > 0 ? HWLOC_OBJ_CORE : HWLOC_OBJ_PU;
}

/* Units wholly inside set. */
static int units_inside(hwloc_topology_t hw, hwloc_const_cpuset_t set)
{
	return hwloc_get_nbobjs_inside_cpuset_by_type(hw, set, unit_type(hw));
}

/* Units set touches: a launcher that bound a rank to one PU of a core gave it one core. */
static int units_touched(hwloc_topology_t hw, hwloc_const_cpuset_t set)
{
	hwloc_obj_t o = NULL;
	int n = 0;

	while ((o = hwloc_get_next_obj_covering_cpuset_by_type(hw, set, unit_type(hw), o)))
		n++;
	return n;
}

/* The PUs the node lets this process use. */
static hwloc_const_cpuset_t node_set(hwloc_topology_t hw)
{
	return hwloc_topology_get_allowed_cpuset(hw);
}

/*
 * A list string that fits size: hwloc's own when it does, else cut at a comma with ",..." so that
 * a reader sees it is incomplete instead of reading a wrong set.
 */
static void list_fit(char *buf, size_t size, hwloc_const_bitmap_t set)
{
	char *full = NULL;

	if (hwloc_bitmap_list_asprintf(&full, set) < 0 || !full) {
		snprintf(buf, size, "?");
		return;
	}
	if (strlen(full) < size) {
		snprintf(buf, size, "%s", full);
	} else {
		full[size - 4] = '\0';
		char *comma = strrchr(full, ',');
		if (comma)
			*comma = '\0';
		snprintf(buf, size, "%s,...", full);
	}
	free(full);
}

/* synthetic: a described topology, not this machine (so the kernel's figures do not apply). */
static void fill(struct tl_topo *topo, bool synthetic)
{
	hwloc_topology_t hw = topo->hw;
	static const hwloc_obj_type_t caches[] = { HWLOC_OBJ_L5CACHE, HWLOC_OBJ_L4CACHE,
						   HWLOC_OBJ_L3CACHE, HWLOC_OBJ_L2CACHE,
						   HWLOC_OBJ_L1CACHE };

	topo->cores = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_CORE);
	topo->pus = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_PU);
	topo->numa_nodes = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_NUMANODE);
	topo->packages = hwloc_get_nbobjs_by_type(hw, HWLOC_OBJ_PACKAGE);
	topo->memory_bytes = hwloc_get_root_obj(hw)->total_memory;
	/* hwloc adds up the NUMA nodes' memory from sysfs, which some virtual machines report
	 * short (one here claims 4.6 GB of its 24); the kernel's own total is the floor. */
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	if (!synthetic && pages > 0 && page > 0 &&
	    (uint64_t)pages * (uint64_t)page > topo->memory_bytes)
		topo->memory_bytes = (uint64_t)pages * (uint64_t)page;
	if (topo->cores < 1)
		topo->cores = topo->pus > 0 ? topo->pus : 1;
	if (topo->packages < 1)
		topo->packages = 1;
	/* The model string hwloc reads from the CPU (x86 CPUID, /proc/cpuinfo elsewhere). */
	hwloc_obj_t pkg = hwloc_get_obj_by_type(hw, HWLOC_OBJ_PACKAGE, 0);
	const char *model = hwloc_obj_get_info_by_name(pkg ? pkg : hwloc_get_root_obj(hw),
							"CPUModel");
	snprintf(topo->cpu_model, sizeof(topo->cpu_model), "%s", model ? model : "");
	for (size_t i = 0; i < sizeof(caches) / sizeof(caches[0]); i++) {
		int n = hwloc_get_nbobjs_by_type(hw, caches[i]);
		if (n > 0) {
			topo->llc_bytes = hwloc_get_obj_by_type(hw, caches[i], 0)->attr->cache.size;
			topo->llc_count = n;
			break;
		}
	}

	/* A synthetic topology is no process's: its binding is unknown, not the whole node. */
	topo->bound_pus = topo->pus;
	if (!hwloc_topology_is_thissystem(hw))
		return;
	hwloc_bitmap_t set = hwloc_bitmap_alloc();
	if (set && hwloc_get_cpubind(hw, set, HWLOC_CPUBIND_PROCESS) == 0) {
		hwloc_bitmap_and(set, set, node_set(hw));
		topo->bound_pus = hwloc_bitmap_weight(set);
		/* Exact or nothing: the node's ranks parse it back to judge the launcher's. */
		if (hwloc_bitmap_list_snprintf(topo->cpuset, sizeof(topo->cpuset), set) >=
		    (int)sizeof(topo->cpuset))
			topo->cpuset[0] = '\0';
	}
	hwloc_bitmap_free(set);
}

int tl_topo_discover(struct tl_topo *topo)
{
	memset(topo, 0, sizeof(*topo));
	if (hwloc_topology_init(&topo->hw))
		return TL_ERUN;
	if (hwloc_topology_load(topo->hw)) {
		tl_topo_free(topo);
		return TL_ERUN;
	}
	fill(topo, false);
	return 0;
}

int tl_topo_synthetic(struct tl_topo *topo, const char *description)
{
	memset(topo, 0, sizeof(*topo));
	if (hwloc_topology_init(&topo->hw))
		return TL_ERUN;
	if (hwloc_topology_set_synthetic(topo->hw, description) || hwloc_topology_load(topo->hw)) {
		tl_topo_free(topo);
		return TL_EINPUT;
	}
	fill(topo, true);
	return 0;
}

void tl_topo_free(struct tl_topo *topo)
{
	if (topo->hw)
		hwloc_topology_destroy(topo->hw);
	topo->hw = NULL;
}

/* The parts of set that each object of one type holds, those with units in them, in hwloc's
 * logical order, each once (a DDR and an HBM node over the same cores are one domain). */
struct parts {
	hwloc_bitmap_t *set;
	int count;
};

static void parts_free(struct parts *p)
{
	for (int i = 0; i < p->count; i++)
		hwloc_bitmap_free(p->set[i]);
	free(p->set);
	p->set = NULL;
	p->count = 0;
}

/* 0 with p->count parts, or 0 with none when the objects do not split set cleanly (overlapping
 * domains: then the level is skipped rather than guessed at). */
static int split(hwloc_topology_t hw, hwloc_const_cpuset_t set, hwloc_obj_type_t type,
		 struct parts *p)
{
	int max = hwloc_get_nbobjs_by_type(hw, type);
	hwloc_obj_t o = NULL;

	p->count = 0;
	p->set = max > 0 ? calloc((size_t)max, sizeof(*p->set)) : NULL;
	if (max > 0 && !p->set)
		return TL_ENOMEM;
	while ((o = hwloc_get_next_obj_by_type(hw, type, o))) {
		hwloc_bitmap_t part = hwloc_bitmap_alloc();
		bool dup = false, clash = false;

		if (!part)
			goto nomem;
		hwloc_bitmap_and(part, o->cpuset, set);
		for (int i = 0; i < p->count && !dup && !clash; i++) {
			dup = hwloc_bitmap_isequal(part, p->set[i]);
			clash = !dup && hwloc_bitmap_intersects(part, p->set[i]);
		}
		if (clash) {
			hwloc_bitmap_free(part);
			parts_free(p);
			return 0;
		}
		if (dup || units_inside(hw, part) == 0)
			hwloc_bitmap_free(part);
		else
			p->set[p->count++] = part;
	}
	return 0;
nomem:
	parts_free(p);
	return TL_ENOMEM;
}

/*
 * Deal m ranks over the parts in proportion to their units (largest remainder), then hand them
 * out round-robin among the parts that still have room, and say where position k went. With no
 * more ranks than units, no part gets more ranks than units: floor(m·u/U) + 1 ≤ u whenever
 * m·u/U is not whole, and only such parts get a remainder.
 */
static int deal(hwloc_topology_t hw, const struct parts *p, int m, int k, int *part, int *pos,
		int *quota_out)
{
	int n = p->count;
	long long *units = calloc((size_t)n, sizeof(*units));
	int *quota = calloc((size_t)n, sizeof(*quota));
	int *given = calloc((size_t)n, sizeof(*given));
	bool *bumped = calloc((size_t)n, sizeof(*bumped));
	long long total = 0;
	int left = m, rc = 0;

	*part = *pos = *quota_out = 0;

	if (!units || !quota || !given || !bumped) {
		rc = TL_ENOMEM;
		goto out;
	}
	for (int i = 0; i < n; i++)
		total += units[i] = units_inside(hw, p->set[i]);
	for (int i = 0; i < n; i++) {
		quota[i] = (int)(m * units[i] / total);
		left -= quota[i];
	}
	for (; left > 0; left--) {
		int best = -1;
		for (int i = 0; i < n; i++)
			if (!bumped[i] &&
			    (best < 0 || m * units[i] % total > m * units[best] % total))
				best = i;
		bumped[best] = true;
		quota[best]++;
	}
	for (int j = 0, next = 0; j <= k; j++, next = (next + 1) % n) {
		while (given[next] >= quota[next])
			next = (next + 1) % n;
		if (j == k) {
			*part = next;
			*pos = given[next];
		}
		given[next]++;
	}
	*quota_out = quota[*part];
out:
	free(units);
	free(quota);
	free(given);
	free(bumped);
	return rc;
}

/* Add to out the first per_unit PUs of each unit of set from first to first + count - 1. */
static void take_units(hwloc_topology_t hw, hwloc_const_cpuset_t set, int first, int count,
		       int per_unit, hwloc_bitmap_t out)
{
	hwloc_obj_t o = NULL;

	for (int i = 0; (o = hwloc_get_next_obj_inside_cpuset_by_type(hw, set, unit_type(hw), o));
	     i++) {
		if (i < first)
			continue;
		if (i >= first + count)
			break;
		int taken = 0;
		for (int id = hwloc_bitmap_first(o->cpuset); id >= 0 && taken < per_unit;
		     id = hwloc_bitmap_next(o->cpuset, id)) {
			if (hwloc_bitmap_isset(node_set(hw), (unsigned)id)) {
				hwloc_bitmap_set(out, (unsigned)id);
				taken++;
			}
		}
	}
}

/* What the launcher did, as far as this rank can tell. */
struct verdict {
	bool sensible;     /* every known binding a proper part of the node, no two overlapping */
	bool others_known; /* some other local rank's binding was known */
	int sharers;       /* known bindings that overlap this rank's, its own included */
};

/*
 * The launcher's bindings: mine gets this rank's (empty when not known). All entries are judged,
 * not only this rank's, so that every rank of the node reaches the same verdict.
 */
static int launcher_verdict(hwloc_topology_t hw, int local_rank, int local_ranks,
			    const char *const *launcher, hwloc_bitmap_t mine, struct verdict *v,
			    char *why, size_t why_size)
{
	hwloc_bitmap_t seen = hwloc_bitmap_alloc(), one = hwloc_bitmap_alloc();
	int rc = 0;

	*v = (struct verdict){ .sharers = 1 };
	hwloc_bitmap_zero(mine);
	snprintf(why, why_size, "the launcher's binding is not known");
	if (!seen || !one) {
		rc = TL_ENOMEM;
		goto out;
	}
	if (!launcher || !launcher[local_rank] || !*launcher[local_rank])
		goto out;
	if (hwloc_bitmap_list_sscanf(mine, launcher[local_rank])) {
		rc = TL_EINPUT;
		goto out;
	}
	hwloc_bitmap_and(mine, mine, node_set(hw));
	v->sensible = true;
	for (int i = 0; i < local_ranks; i++) {
		if (!launcher[i] || !*launcher[i])
			continue;
		if (hwloc_bitmap_list_sscanf(one, launcher[i])) {
			rc = TL_EINPUT;
			goto out;
		}
		hwloc_bitmap_and(one, one, node_set(hw));
		if (i != local_rank) {
			v->others_known = true;
			v->sharers += hwloc_bitmap_intersects(one, mine);
		}
		if (!v->sensible)
			continue;
		bool none = hwloc_bitmap_iszero(one);
		if (none || hwloc_bitmap_isequal(one, node_set(hw))) {
			v->sensible = false;
			snprintf(why, why_size, "local rank %d is bound to %s", i,
				 none ? "no PU of this node" : "the whole node");
		} else if (hwloc_bitmap_intersects(one, seen)) {
			v->sensible = false;
			snprintf(why, why_size, "local rank %d's binding overlaps another's", i);
		}
		hwloc_bitmap_or(seen, seen, one);
	}
out:
	hwloc_bitmap_free(seen);
	hwloc_bitmap_free(one);
	return rc;
}

static int at_least_1(int n)
{
	return n > 0 ? n : 1;
}

/* Threads over the units of set: one PU per unit, more when threads asks for more than units. */
static int pus_per_unit(int threads, int units)
{
	return threads > units && units > 0 ? (threads + units - 1) / units : 1;
}

int tl_topo_place(hwloc_topology_t hw, int local_rank, int local_ranks, int bind, int threads,
		  const char *const *launcher, struct tl_topo_place *place)
{
	hwloc_bitmap_t domain = NULL;
	struct parts parts = { 0 };
	int m = local_ranks, k = local_rank, rc = 0;
	size_t len;

	memset(place, 0, sizeof(*place));
	if (local_ranks < 1 || local_rank < 0 || local_rank >= local_ranks || threads < 0 ||
	    bind < TL_BIND_AUTO || bind > TL_BIND_NONE)
		return TL_EINPUT;
	place->cpuset = hwloc_bitmap_alloc();
	place->nodeset = hwloc_bitmap_alloc();
	domain = hwloc_bitmap_dup(node_set(hw));
	if (!place->cpuset || !place->nodeset || !domain) {
		rc = TL_ENOMEM;
		goto out;
	}
	place->bind = bind;

	if (bind == TL_BIND_AUTO || bind == TL_BIND_NONE) {
		struct verdict v;
		rc = launcher_verdict(hw, local_rank, local_ranks, launcher, place->cpuset, &v,
				      place->note, sizeof(place->note));
		if (rc)
			goto out;
		if (bind == TL_BIND_NONE) {
			/* Unbound, it may run anywhere the launcher lets it, and its threads are its
			 * share of that: with the whole node, a share among all the node's ranks. */
			bool whole = hwloc_bitmap_iszero(place->cpuset) ||
				     hwloc_bitmap_isequal(place->cpuset, node_set(hw));
			if (whole)
				hwloc_bitmap_copy(place->cpuset, node_set(hw));
			int units = units_touched(hw, place->cpuset);
			int sharers = whole ? local_ranks : v.sharers;
			place->threads = threads ? threads : at_least_1(units / sharers);
			snprintf(place->note, sizeof(place->note), "not bound (bind = none)");
			goto nodes;
		}
		if (v.sensible) {
			place->kept = true;
			place->threads = threads ? threads : units_touched(hw, place->cpuset);
			snprintf(place->note, sizeof(place->note),
				 "kept the launcher's binding: a proper subset of the node%s",
				 v.others_known ? ", disjoint from the other local ranks'"
						: "; overlap with other local ranks' not checked "
						  "(their bindings are not known here)");
			goto nodes;
		}
		/* Placed as core; say why, keeping the reason the verdict gave. */
		char why[sizeof(place->note)];
		snprintf(why, sizeof(why), "%s", place->note);
		snprintf(place->note, sizeof(place->note), "auto: %.200s, so placed by core", why);
		hwloc_bitmap_zero(place->cpuset);
		place->bind = TL_BIND_CORE;
	}

	/* Down the node: packages, then NUMA domains. A lone rank under core binding stops where it
	 * is, with the whole domain to itself; numa and package binding go to their level. */
	static const hwloc_obj_type_t levels[] = { HWLOC_OBJ_PACKAGE, HWLOC_OBJ_NUMANODE };
	int nlevels = place->bind == TL_BIND_PACKAGE ? 1 : 2;
	for (int l = 0; l < nlevels; l++) {
		if (place->bind == TL_BIND_CORE && m == 1)
			break;
		int part, pos, quota;
		rc = split(hw, domain, levels[l], &parts);
		if (rc)
			goto out;
		if (parts.count > 1) {
			rc = deal(hw, &parts, m, k, &part, &pos, &quota);
			if (rc)
				goto out;
			hwloc_bitmap_copy(domain, parts.set[part]);
			m = quota;
			k = pos;
		}
		parts_free(&parts);
	}

	int c = units_inside(hw, domain);
	if (place->bind == TL_BIND_NUMA || place->bind == TL_BIND_PACKAGE) {
		place->threads = threads ? threads : at_least_1(c / m);
		take_units(hw, domain, 0, c, pus_per_unit(place->threads, c), place->cpuset);
		place->oversubscribed = m > c;
	} else if (m <= c) {
		/* Blocks of exactly threads cores when they fit, else the domain cut evenly. */
		bool exact = threads && (long long)m * threads <= c;
		int first = exact ? k * threads : (int)((long long)k * c / m);
		int count = exact ? threads : (int)((long long)(k + 1) * c / m) - first;
		place->threads = threads ? threads : count;
		take_units(hw, domain, first, count, pus_per_unit(place->threads, count),
			   place->cpuset);
	} else {
		/* More ranks than cores: neighbours share, each core by at most ceil(m/c) ranks. */
		int unit = (int)((long long)k * c / m);
		place->oversubscribed = (k > 0 && (long long)(k - 1) * c / m == unit) ||
					(k + 1 < m && (long long)(k + 1) * c / m == unit);
		place->threads = threads ? threads : 1;
		take_units(hw, domain, unit, 1, pus_per_unit(place->threads, 1), place->cpuset);
	}
	if (place->oversubscribed) {
		len = strlen(place->note);
		snprintf(place->note + len, sizeof(place->note) - len,
			 "%s%d local ranks on %d cores: this rank shares its cores",
			 len ? "; " : "", local_ranks, units_inside(hw, node_set(hw)));
	}

nodes:
	if (hwloc_bitmap_iszero(place->cpuset)) {
		rc = TL_ERUN; /* a topology with no PU we may use */
		goto out;
	}
	hwloc_cpuset_to_nodeset(hw, place->cpuset, place->nodeset);
	len = strlen(place->note);
	if (place->threads > hwloc_bitmap_weight(place->cpuset))
		snprintf(place->note + len, sizeof(place->note) - len,
			 "%s%d threads on %d PUs", len ? "; " : "", place->threads,
			 hwloc_bitmap_weight(place->cpuset));
out:
	parts_free(&parts);
	hwloc_bitmap_free(domain);
	return rc;
}

void tl_topo_place_free(struct tl_topo_place *place)
{
	hwloc_bitmap_free(place->cpuset);
	hwloc_bitmap_free(place->nodeset);
	place->cpuset = place->nodeset = NULL;
}

int tl_topo_apply(hwloc_topology_t hw, const struct tl_topo_place *place,
		  struct tl_topo_binding *out)
{
	const char *name = bind_names[place->bind];
	bool bound = place->kept;
	size_t len;

	memset(out, 0, sizeof(*out));
	out->threads = place->threads;
	out->kept = place->kept;
	out->oversubscribed = place->oversubscribed;
	snprintf(out->note, sizeof(out->note), "%s", place->note);
	list_fit(out->cpuset, sizeof(out->cpuset), place->cpuset);
	list_fit(out->numa, sizeof(out->numa), place->nodeset);

	if (place->bind == TL_BIND_NONE) {
		snprintf(out->binding, sizeof(out->binding), "none");
	} else if (place->kept) {
		snprintf(out->binding, sizeof(out->binding), "launcher");
	} else if (hwloc_set_cpubind(hw, place->cpuset, HWLOC_CPUBIND_PROCESS) == 0) {
		/* PROCESS: every thread, OpenBLAS's pool (started when the library loaded) and
		 * MPI's progress threads too, not only the calling one. */
		snprintf(out->binding, sizeof(out->binding), "%s (trainload)", name);
		bound = true;
	} else if (errno == ENOSYS) {
		snprintf(out->binding, sizeof(out->binding),
			 "none (%s asked; this system cannot bind)", name);
	} else {
		snprintf(out->note, sizeof(out->note), "cannot bind to PUs %.160s (bind = %s): %s",
			 out->cpuset, name, strerror(errno));
		return TL_ERUN;
	}
	if (out->oversubscribed) {
		len = strlen(out->binding);
		snprintf(out->binding + len, sizeof(out->binding) - len, ", oversubscribed");
	}

	/*
	 * Memory follows the cores. With one NUMA node (or a placement over all of them) a policy
	 * would change nothing but could fail in a container, so none is set. Without the PROCESS
	 * flag hwloc binds this thread on Linux: the one that allocates the buffers; the BLAS
	 * threads run on the same nodes, where the default policy places what they touch.
	 */
	hwloc_const_nodeset_t all = hwloc_topology_get_allowed_nodeset(hw);
	if (!bound || hwloc_bitmap_isincluded(all, place->nodeset))
		return 0;
	if (hwloc_set_membind(hw, place->nodeset, HWLOC_MEMBIND_BIND,
			      HWLOC_MEMBIND_BYNODESET | HWLOC_MEMBIND_NOCPUBIND) == 0) {
		out->membind = true;
		return 0;
	}
	int err = errno;
	if (err != ENOSYS && err != EXDEV && err != EPERM) {
		snprintf(out->note, sizeof(out->note), "cannot bind memory to NUMA node(s) %s: %s",
			 out->numa, strerror(err));
		return TL_ERUN;
	}
	len = strlen(out->binding);
	snprintf(out->binding + len, sizeof(out->binding) - len, ", memory not bound (%s)",
		 strerror(err));
	return 0;
}
