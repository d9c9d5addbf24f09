/* SPDX-License-Identifier: BSD-3-Clause */
/* GPU choice from PCI locality (include/trainload/gpu.h). */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>

#include <hwloc.h>

#include "trainload/gpu.h"
#include "trainload/log.h"

/* A list string as a bitmap; "" is an empty bitmap (unknown). */
static int parse(const char *list, hwloc_bitmap_t set)
{
	if (!list || !*list) {
		hwloc_bitmap_zero(set);
		return 0;
	}
	return hwloc_bitmap_list_sscanf(set, list) < 0 ? TL_EINPUT : 0;
}

int tl_gpu_assign(const char *const *gpu_sets, int ngpus, const char *const *rank_sets,
		  int nranks, int *choice)
{
	hwloc_bitmap_t *gpu = NULL, mine = hwloc_bitmap_alloc(), common = hwloc_bitmap_alloc();
	bool *taken = NULL;
	int rc = 0, free_left = ngpus;

	if (ngpus < 1 || nranks < 1) {
		rc = TL_EINPUT;
		goto out;
	}
	gpu = calloc((size_t)ngpus, sizeof(*gpu));
	taken = calloc((size_t)ngpus, sizeof(*taken));
	if (!gpu || !taken || !mine || !common) {
		rc = TL_ENOMEM;
		goto out;
	}
	for (int g = 0; g < ngpus && !rc; g++) {
		gpu[g] = hwloc_bitmap_alloc();
		rc = !gpu[g] ? TL_ENOMEM : parse(gpu_sets[g], gpu[g]);
	}
	for (int r = 0; r < nranks && !rc; r++) {
		int best = -1, best_score = -1;

		rc = parse(rank_sets[r], mine);
		if (free_left == 0) { /* a new round: the GPUs are shared from here on */
			for (int g = 0; g < ngpus; g++)
				taken[g] = false;
			free_left = ngpus;
		}
		for (int g = 0; g < ngpus && !rc; g++) {
			if (taken[g])
				continue;
			/* An unknown set on either side: no GPU is closer than another. */
			int score = 0;
			if (!hwloc_bitmap_iszero(mine) && !hwloc_bitmap_iszero(gpu[g])) {
				hwloc_bitmap_and(common, mine, gpu[g]);
				score = hwloc_bitmap_weight(common);
			}
			if (score > best_score) {
				best = g;
				best_score = score;
			}
		}
		if (!rc) {
			choice[r] = best;
			taken[best] = true;
			free_left--;
		}
	}
out:
	for (int g = 0; gpu && g < ngpus; g++)
		if (gpu[g])
			hwloc_bitmap_free(gpu[g]);
	free(gpu);
	free(taken);
	if (mine)
		hwloc_bitmap_free(mine);
	if (common)
		hwloc_bitmap_free(common);
	return rc;
}
