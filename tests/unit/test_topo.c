/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Placement (tl_topo_place) held to exact cpusets on hwloc synthetic topologies, where PU, core,
 * NUMA node and package numbers are known: on "pack:2 numa:2 core:8 pu:2" core c holds PUs 2c
 * and 2c+1, NUMA node n cores 8n to 8n+7, package p NUMA nodes 2p and 2p+1. The expected tables
 * were written from that arithmetic, not from the code: ranks dealt round-robin over packages,
 * then over a package's NUMA nodes, then contiguous blocks of cores, PU 0 of each.
 *
 * Also: the launcher's binding kept or replaced under bind = auto, explicit thread counts, the
 * report tl_topo_apply makes (on a synthetic topology, which cannot be bound, so nothing here
 * changes this process's binding), and discovery of the real machine.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "trainload/job.h"
#include "trainload/log.h"
#include "trainload/topo.h"

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const char big[] = "pack:2 numa:2 core:8 pu:2";

/* One rank's expected placement. */
struct expect {
	const char *cpuset;
	int threads;
	const char *numa;
	bool oversubscribed;
};

static const struct expect core_1[] = {
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30,"
	  "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62",
	  32, "0-3", false },
};
static const struct expect core_2[] = {
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 16, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 16, "2-3", false },
};
static const struct expect core_4[] = {
	{ "0,2,4,6,8,10,12,14", 8, "0", false },
	{ "32,34,36,38,40,42,44,46", 8, "2", false },
	{ "16,18,20,22,24,26,28,30", 8, "1", false },
	{ "48,50,52,54,56,58,60,62", 8, "3", false },
};
static const struct expect core_8[] = {
	{ "0,2,4,6", 4, "0", false },
	{ "32,34,36,38", 4, "2", false },
	{ "16,18,20,22", 4, "1", false },
	{ "48,50,52,54", 4, "3", false },
	{ "8,10,12,14", 4, "0", false },
	{ "40,42,44,46", 4, "2", false },
	{ "24,26,28,30", 4, "1", false },
	{ "56,58,60,62", 4, "3", false },
};
static const struct expect core_32[] = {
	{ "0", 1, "0", false },
	{ "32", 1, "2", false },
	{ "16", 1, "1", false },
	{ "48", 1, "3", false },
	{ "2", 1, "0", false },
	{ "34", 1, "2", false },
	{ "18", 1, "1", false },
	{ "50", 1, "3", false },
	{ "4", 1, "0", false },
	{ "36", 1, "2", false },
	{ "20", 1, "1", false },
	{ "52", 1, "3", false },
	{ "6", 1, "0", false },
	{ "38", 1, "2", false },
	{ "22", 1, "1", false },
	{ "54", 1, "3", false },
	{ "8", 1, "0", false },
	{ "40", 1, "2", false },
	{ "24", 1, "1", false },
	{ "56", 1, "3", false },
	{ "10", 1, "0", false },
	{ "42", 1, "2", false },
	{ "26", 1, "1", false },
	{ "58", 1, "3", false },
	{ "12", 1, "0", false },
	{ "44", 1, "2", false },
	{ "28", 1, "1", false },
	{ "60", 1, "3", false },
	{ "14", 1, "0", false },
	{ "46", 1, "2", false },
	{ "30", 1, "1", false },
	{ "62", 1, "3", false },
};
static const struct expect core_33[] = {
	{ "0", 1, "0", true },
	{ "32", 1, "2", false },
	{ "16", 1, "1", false },
	{ "48", 1, "3", false },
	{ "0", 1, "0", true },
	{ "34", 1, "2", false },
	{ "18", 1, "1", false },
	{ "50", 1, "3", false },
	{ "2", 1, "0", false },
	{ "36", 1, "2", false },
	{ "20", 1, "1", false },
	{ "52", 1, "3", false },
	{ "4", 1, "0", false },
	{ "38", 1, "2", false },
	{ "22", 1, "1", false },
	{ "54", 1, "3", false },
	{ "6", 1, "0", false },
	{ "40", 1, "2", false },
	{ "24", 1, "1", false },
	{ "56", 1, "3", false },
	{ "8", 1, "0", false },
	{ "42", 1, "2", false },
	{ "26", 1, "1", false },
	{ "58", 1, "3", false },
	{ "10", 1, "0", false },
	{ "44", 1, "2", false },
	{ "28", 1, "1", false },
	{ "60", 1, "3", false },
	{ "12", 1, "0", false },
	{ "46", 1, "2", false },
	{ "30", 1, "1", false },
	{ "62", 1, "3", false },
	{ "14", 1, "0", false },
};
static const struct expect numa_1[] = {
	{ "0,2,4,6,8,10,12,14", 8, "0", false },
};
static const struct expect numa_2[] = {
	{ "0,2,4,6,8,10,12,14", 8, "0", false },
	{ "32,34,36,38,40,42,44,46", 8, "2", false },
};
static const struct expect numa_4[] = {
	{ "0,2,4,6,8,10,12,14", 8, "0", false },
	{ "32,34,36,38,40,42,44,46", 8, "2", false },
	{ "16,18,20,22,24,26,28,30", 8, "1", false },
	{ "48,50,52,54,56,58,60,62", 8, "3", false },
};
static const struct expect numa_8[] = {
	{ "0,2,4,6,8,10,12,14", 4, "0", false },
	{ "32,34,36,38,40,42,44,46", 4, "2", false },
	{ "16,18,20,22,24,26,28,30", 4, "1", false },
	{ "48,50,52,54,56,58,60,62", 4, "3", false },
	{ "0,2,4,6,8,10,12,14", 4, "0", false },
	{ "32,34,36,38,40,42,44,46", 4, "2", false },
	{ "16,18,20,22,24,26,28,30", 4, "1", false },
	{ "48,50,52,54,56,58,60,62", 4, "3", false },
};
static const struct expect numa_32[] = {
	{ "0,2,4,6,8,10,12,14", 1, "0", false },
	{ "32,34,36,38,40,42,44,46", 1, "2", false },
	{ "16,18,20,22,24,26,28,30", 1, "1", false },
	{ "48,50,52,54,56,58,60,62", 1, "3", false },
	{ "0,2,4,6,8,10,12,14", 1, "0", false },
	{ "32,34,36,38,40,42,44,46", 1, "2", false },
	{ "16,18,20,22,24,26,28,30", 1, "1", false },
	{ "48,50,52,54,56,58,60,62", 1, "3", false },
	{ "0,2,4,6,8,10,12,14", 1, "0", false },
	{ "32,34,36,38,40,42,44,46", 1, "2", false },
	{ "16,18,20,22,24,26,28,30", 1, "1", false },
	{ "48,50,52,54,56,58,60,62", 1, "3", false },
	{ "0,2,4,6,8,10,12,14", 1, "0", false },
	{ "32,34,36,38,40,42,44,46", 1, "2", false },
	{ "16,18,20,22,24,26,28,30", 1, "1", false },
	{ "48,50,52,54,56,58,60,62", 1, "3", false },
	{ "0,2,4,6,8,10,12,14", 1, "0", false },
	{ "32,34,36,38,40,42,44,46", 1, "2", false },
	{ "16,18,20,22,24,26,28,30", 1, "1", false },
	{ "48,50,52,54,56,58,60,62", 1, "3", false },
	{ "0,2,4,6,8,10,12,14", 1, "0", false },
	{ "32,34,36,38,40,42,44,46", 1, "2", false },
	{ "16,18,20,22,24,26,28,30", 1, "1", false },
	{ "48,50,52,54,56,58,60,62", 1, "3", false },
	{ "0,2,4,6,8,10,12,14", 1, "0", false },
	{ "32,34,36,38,40,42,44,46", 1, "2", false },
	{ "16,18,20,22,24,26,28,30", 1, "1", false },
	{ "48,50,52,54,56,58,60,62", 1, "3", false },
	{ "0,2,4,6,8,10,12,14", 1, "0", false },
	{ "32,34,36,38,40,42,44,46", 1, "2", false },
	{ "16,18,20,22,24,26,28,30", 1, "1", false },
	{ "48,50,52,54,56,58,60,62", 1, "3", false },
};
static const struct expect numa_33[] = {
	{ "0,2,4,6,8,10,12,14", 1, "0", true },
	{ "32,34,36,38,40,42,44,46", 1, "2", false },
	{ "16,18,20,22,24,26,28,30", 1, "1", false },
	{ "48,50,52,54,56,58,60,62", 1, "3", false },
	{ "0,2,4,6,8,10,12,14", 1, "0", true },
	{ "32,34,36,38,40,42,44,46", 1, "2", false },
	{ "16,18,20,22,24,26,28,30", 1, "1", false },
	{ "48,50,52,54,56,58,60,62", 1, "3", false },
	{ "0,2,4,6,8,10,12,14", 1, "0", true },
	{ "32,34,36,38,40,42,44,46", 1, "2", false },
	{ "16,18,20,22,24,26,28,30", 1, "1", false },
	{ "48,50,52,54,56,58,60,62", 1, "3", false },
	{ "0,2,4,6,8,10,12,14", 1, "0", true },
	{ "32,34,36,38,40,42,44,46", 1, "2", false },
	{ "16,18,20,22,24,26,28,30", 1, "1", false },
	{ "48,50,52,54,56,58,60,62", 1, "3", false },
	{ "0,2,4,6,8,10,12,14", 1, "0", true },
	{ "32,34,36,38,40,42,44,46", 1, "2", false },
	{ "16,18,20,22,24,26,28,30", 1, "1", false },
	{ "48,50,52,54,56,58,60,62", 1, "3", false },
	{ "0,2,4,6,8,10,12,14", 1, "0", true },
	{ "32,34,36,38,40,42,44,46", 1, "2", false },
	{ "16,18,20,22,24,26,28,30", 1, "1", false },
	{ "48,50,52,54,56,58,60,62", 1, "3", false },
	{ "0,2,4,6,8,10,12,14", 1, "0", true },
	{ "32,34,36,38,40,42,44,46", 1, "2", false },
	{ "16,18,20,22,24,26,28,30", 1, "1", false },
	{ "48,50,52,54,56,58,60,62", 1, "3", false },
	{ "0,2,4,6,8,10,12,14", 1, "0", true },
	{ "32,34,36,38,40,42,44,46", 1, "2", false },
	{ "16,18,20,22,24,26,28,30", 1, "1", false },
	{ "48,50,52,54,56,58,60,62", 1, "3", false },
	{ "0,2,4,6,8,10,12,14", 1, "0", true },
};
static const struct expect package_1[] = {
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 16, "0-1", false },
};
static const struct expect package_2[] = {
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 16, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 16, "2-3", false },
};
static const struct expect package_4[] = {
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 8, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 8, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 8, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 8, "2-3", false },
};
static const struct expect package_8[] = {
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 4, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 4, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 4, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 4, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 4, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 4, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 4, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 4, "2-3", false },
};
static const struct expect package_32[] = {
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", false },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
};
static const struct expect package_33[] = {
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", true },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", true },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", true },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", true },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", true },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", true },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", true },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", true },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", true },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", true },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", true },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", true },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", true },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", true },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", true },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", true },
	{ "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 1, "2-3", false },
	{ "0,2,4,6,8,10,12,14,16,18,20,22,24,26,28,30", 1, "0-1", true },
};
static const struct expect none_1[] = { { "0-63", 32, "0-3", false } };
static const struct expect none_2[] = { { "0-63", 16, "0-3", false } };
static const struct expect none_4[] = { { "0-63", 8, "0-3", false } };
static const struct expect none_8[] = { { "0-63", 4, "0-3", false } };
static const struct expect none_32[] = { { "0-63", 1, "0-3", false } };
static const struct expect none_33[] = { { "0-63", 1, "0-3", false } };

/* A table of one entry holds for every rank (bind = none: nobody is placed). */
struct place_case {
	int bind, ranks;
	const struct expect *want;
	size_t nwant;
};

#define CASE(b, n, table) { TL_BIND_##b, n, table, ARRAY_LEN(table) }

static const struct place_case big_cases[] = {
	CASE(CORE, 1, core_1),       CASE(CORE, 2, core_2),       CASE(CORE, 4, core_4),
	CASE(CORE, 8, core_8),       CASE(CORE, 32, core_32),     CASE(CORE, 33, core_33),
	/* auto with no launcher binding known places as core */
	CASE(AUTO, 1, core_1),       CASE(AUTO, 2, core_2),       CASE(AUTO, 4, core_4),
	CASE(AUTO, 8, core_8),       CASE(AUTO, 32, core_32),     CASE(AUTO, 33, core_33),
	CASE(NUMA, 1, numa_1),       CASE(NUMA, 2, numa_2),       CASE(NUMA, 4, numa_4),
	CASE(NUMA, 8, numa_8),       CASE(NUMA, 32, numa_32),     CASE(NUMA, 33, numa_33),
	CASE(PACKAGE, 1, package_1), CASE(PACKAGE, 2, package_2), CASE(PACKAGE, 4, package_4),
	CASE(PACKAGE, 8, package_8), CASE(PACKAGE, 32, package_32),
	CASE(PACKAGE, 33, package_33),
	CASE(NONE, 1, none_1),       CASE(NONE, 2, none_2),       CASE(NONE, 4, none_4),
	CASE(NONE, 8, none_8),       CASE(NONE, 32, none_32),     CASE(NONE, 33, none_33),
};

static const char *bind_name(int bind)
{
	static const char *const names[] = { "auto", "core", "numa", "package", "none" };
	return names[bind];
}

static int topo_setup(void **state)
{
	struct tl_topo *t = calloc(1, sizeof(*t));

	if (!t || tl_topo_synthetic(t, big) != 0)
		return -1;
	*state = t;
	return 0;
}

static int topo_teardown(void **state)
{
	struct tl_topo *t = *state;

	tl_topo_free(t);
	free(t);
	return 0;
}

static void list(char *buf, size_t size, hwloc_const_bitmap_t set)
{
	assert_true(hwloc_bitmap_list_snprintf(buf, size, set) < (int)size);
}

/* Place rank r of n and check it against want, naming the case when it differs. */
static void check_place(hwloc_topology_t hw, int bind, int threads, int r, int n,
			const char *const *launcher, const struct expect *want,
			struct tl_topo_place *p)
{
	char cpuset[512], numa[64];

	assert_int_equal(tl_topo_place(hw, r, n, bind, threads, launcher, p), 0);
	list(cpuset, sizeof(cpuset), p->cpuset);
	list(numa, sizeof(numa), p->nodeset);
	if (strcmp(cpuset, want->cpuset) || p->threads != want->threads ||
	    strcmp(numa, want->numa) || p->oversubscribed != want->oversubscribed)
		fail_msg("bind=%s threads=%d rank %d of %d: got cpuset %s threads %d numa %s%s; "
			 "want %s threads %d numa %s%s (%s)",
			 bind_name(bind), threads, r, n, cpuset, p->threads, numa,
			 p->oversubscribed ? " oversubscribed" : "", want->cpuset, want->threads,
			 want->numa, want->oversubscribed ? " oversubscribed" : "", p->note);
}

static void test_place_table(void **state)
{
	struct tl_topo *t = *state;

	for (size_t i = 0; i < ARRAY_LEN(big_cases); i++) {
		const struct place_case *c = &big_cases[i];
		for (int r = 0; r < c->ranks; r++) {
			struct tl_topo_place p;
			check_place(t->hw, c->bind, 0, r, c->ranks, NULL,
				    &c->want[c->nwant == 1 ? 0 : (size_t)r], &p);
			assert_int_equal(p.kept, false);
			assert_int_equal(p.bind, c->bind == TL_BIND_AUTO ? TL_BIND_CORE : c->bind);
			tl_topo_place_free(&p);
		}
	}
}

/* Core binding: no two ranks share a PU while cores remain, all the node is used, and ranks 0 and
 * 1 sit on different packages. */
static void test_core_spread(void **state)
{
	struct tl_topo *t = *state;
	static const int counts[] = { 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 31, 32 };
	hwloc_obj_t pack0 = hwloc_get_obj_by_type(t->hw, HWLOC_OBJ_PACKAGE, 0);

	for (size_t i = 0; i < ARRAY_LEN(counts); i++) {
		int n = counts[i];
		hwloc_bitmap_t seen = hwloc_bitmap_alloc();
		for (int r = 0; r < n; r++) {
			struct tl_topo_place p;
			assert_int_equal(tl_topo_place(t->hw, r, n, TL_BIND_CORE, 0, NULL, &p), 0);
			if (hwloc_bitmap_intersects(seen, p.cpuset))
				fail_msg("%d ranks: rank %d overlaps an earlier rank", n, r);
			hwloc_bitmap_or(seen, seen, p.cpuset);
			assert_false(p.oversubscribed);
			assert_int_equal(p.threads, hwloc_bitmap_weight(p.cpuset));
			if (n >= 2 && r < 2)
				assert_int_equal(hwloc_bitmap_isincluded(p.cpuset, pack0->cpuset),
						 r == 0);
			tl_topo_place_free(&p);
		}
		/* Every core used, by PU 0 of it. */
		assert_int_equal(hwloc_bitmap_weight(seen), 32);
		hwloc_bitmap_free(seen);
	}
}

/* threads_per_rank set: core gives exactly that many cores, SMT siblings only past the cores. */
static void test_explicit_threads(void **state)
{
	struct tl_topo *t = *state;
	static const struct {
		int bind, threads, ranks, rank;
		struct expect want;
	} cases[] = {
		{ TL_BIND_CORE, 2, 4, 0, { "0,2", 2, "0", false } },
		{ TL_BIND_CORE, 2, 4, 1, { "32,34", 2, "2", false } },
		{ TL_BIND_CORE, 2, 4, 2, { "16,18", 2, "1", false } },
		{ TL_BIND_CORE, 2, 4, 3, { "48,50", 2, "3", false } },
		/* two ranks of a NUMA node, 3 cores each, packed from its first core */
		{ TL_BIND_CORE, 3, 8, 4, { "6,8,10", 3, "0", false } },
		/* more threads than cores: both PUs of each core */
		{ TL_BIND_CORE, 2, 32, 0, { "0-1", 2, "0", false } },
		{ TL_BIND_CORE, 2, 32, 31, { "62-63", 2, "3", false } },
		{ TL_BIND_CORE, 12, 4, 1, { "32-47", 12, "2", false } },
		/* a lone rank wanting 12 cores gets the node's first 12 */
		{ TL_BIND_CORE, 12, 1, 0, { "0,2,4,6,8,10,12,14,16,18,20,22", 12, "0-1", false } },
		{ TL_BIND_NUMA, 16, 1, 0, { "0-15", 16, "0", false } },
		{ TL_BIND_NUMA, 4, 1, 0, { "0,2,4,6,8,10,12,14", 4, "0", false } },
		{ TL_BIND_PACKAGE, 3, 2, 1,
		  { "32,34,36,38,40,42,44,46,48,50,52,54,56,58,60,62", 3, "2-3", false } },
		{ TL_BIND_NONE, 5, 4, 2, { "0-63", 5, "0-3", false } },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct tl_topo_place p;
		check_place(t->hw, cases[i].bind, cases[i].threads, cases[i].rank, cases[i].ranks,
			    NULL, &cases[i].want, &p);
		tl_topo_place_free(&p);
	}
}

/* bind = auto and none against what the launcher did, on 4 local ranks. */
static void test_launcher(void **state)
{
	struct tl_topo *t = *state;
	static const char *const by_core[] = { "0-1", "2-3", "4-5", "6-7" };
	static const char *const by_pu[] = { "0", "1", "2", "3" };
	static const char *const by_package[] = { "0-31", "32-63", "0-31", "32-63" };
	static const char *const whole[] = { "0-63", "0-63", "0-63", "0-63" };
	static const char *const only_mine[] = { "8-15", NULL, "", NULL };
	static const char *const unknown[] = { "", "", "", "" };
	static const struct {
		const char *what;
		int bind, rank;
		const char *const *launcher;
		bool kept;
		struct expect want;
		const char *note; /* a part of the note */
	} cases[] = {
		{ "one core each", TL_BIND_AUTO, 3, by_core, true, { "6-7", 1, "0", false },
		  "disjoint" },
		{ "one PU each", TL_BIND_AUTO, 1, by_pu, true, { "1", 1, "0", false }, "disjoint" },
		{ "two per package", TL_BIND_AUTO, 1, by_package, false,
		  { "32,34,36,38,40,42,44,46", 8, "2", false }, "overlaps" },
		{ "unbound", TL_BIND_AUTO, 2, whole, false,
		  { "16,18,20,22,24,26,28,30", 8, "1", false }, "whole node" },
		{ "only mine known", TL_BIND_AUTO, 0, only_mine, true, { "8-15", 4, "0", false },
		  "not checked" },
		{ "unknown", TL_BIND_AUTO, 0, unknown, false,
		  { "0,2,4,6,8,10,12,14", 8, "0", false }, "not known" },
		{ "none keeps one core", TL_BIND_NONE, 2, by_core, false, { "4-5", 1, "0", false },
		  "bind = none" },
		{ "none on the whole node", TL_BIND_NONE, 2, whole, false,
		  { "0-63", 8, "0-3", false }, "bind = none" },
		/* two ranks on a package: half of its 16 cores each */
		{ "none, two per package", TL_BIND_NONE, 1, by_package, false,
		  { "32-63", 8, "2-3", false }, "bind = none" },
	};

	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct tl_topo_place p;
		check_place(t->hw, cases[i].bind, 0, cases[i].rank, 4, cases[i].launcher,
			    &cases[i].want, &p);
		if (p.kept != cases[i].kept || !strstr(p.note, cases[i].note))
			fail_msg("%s: kept %d, note \"%s\"", cases[i].what, p.kept, p.note);
		tl_topo_place_free(&p);
	}
}

static void test_bad_arguments(void **state)
{
	struct tl_topo *t = *state;
	static const char *const garbage[] = { "0-1", "x-y" };
	struct tl_topo_place p;

	assert_int_equal(tl_topo_place(t->hw, 2, 2, TL_BIND_CORE, 0, NULL, &p), TL_EINPUT);
	tl_topo_place_free(&p);
	assert_int_equal(tl_topo_place(t->hw, 0, 0, TL_BIND_CORE, 0, NULL, &p), TL_EINPUT);
	tl_topo_place_free(&p);
	assert_int_equal(tl_topo_place(t->hw, 0, 1, 17, 0, NULL, &p), TL_EINPUT);
	tl_topo_place_free(&p);
	assert_int_equal(tl_topo_place(t->hw, 0, 2, TL_BIND_AUTO, 0, garbage, &p), TL_EINPUT);
	tl_topo_place_free(&p);
}

/* The smallest node: two single-PU cores. */
static void test_two_cores(void **state)
{
	struct tl_topo t;
	static const struct expect want[] = { { "0", 1, "0", false }, { "1", 1, "0", false } };
	static const struct expect shared[] = { { "0", 1, "0", true }, { "0", 1, "0", true },
						{ "1", 1, "0", true }, { "1", 1, "0", true } };

	(void)state;
	assert_int_equal(tl_topo_synthetic(&t, "pack:1 core:2 pu:1"), 0);
	assert_int_equal(t.cores, 2);
	for (int bind = TL_BIND_AUTO; bind <= TL_BIND_CORE; bind++)
		for (int r = 0; r < 2; r++) {
			struct tl_topo_place p;
			check_place(t.hw, bind, 0, r, 2, NULL, &want[r], &p);
			tl_topo_place_free(&p);
		}
	/* 4 ranks on 2 cores, as with mpirun --oversubscribe here: two per core. */
	for (int r = 0; r < 4; r++) {
		struct tl_topo_place p;
		check_place(t.hw, TL_BIND_CORE, 0, r, 4, NULL, &shared[r], &p);
		assert_non_null(strstr(p.note, "4 local ranks on 2 cores"));
		tl_topo_place_free(&p);
	}
	tl_topo_free(&t);
}

/*
 * Uneven packages (a node restricted as a cgroup would): 4 cores in package 0, 2 in package 1.
 * Ranks follow the cores, so package 1 never holds two ranks on a core while package 0 has one
 * free, as a plain round-robin would do with 6 ranks.
 */
static void test_uneven_packages(void **state)
{
	static const struct expect six[] = {
		{ "0", 1, "0", false }, { "4", 1, "1", false }, { "1", 1, "0", false },
		{ "5", 1, "1", false }, { "2", 1, "0", false }, { "3", 1, "0", false },
	};
	static const struct expect three[] = {
		{ "0-1", 2, "0", false }, { "4-5", 2, "1", false }, { "2-3", 2, "0", false },
	};
	hwloc_topology_t hw;
	hwloc_bitmap_t keep = hwloc_bitmap_alloc();

	(void)state;
	assert_int_equal(hwloc_topology_init(&hw), 0);
	assert_int_equal(hwloc_topology_set_synthetic(hw, "pack:2 numa:1 core:4 pu:1"), 0);
	assert_int_equal(hwloc_topology_load(hw), 0);
	hwloc_bitmap_set_range(keep, 0, 5);
	assert_int_equal(hwloc_topology_restrict(hw, keep, 0), 0);
	for (int r = 0; r < 6; r++) {
		struct tl_topo_place p;
		check_place(hw, TL_BIND_CORE, 0, r, 6, NULL, &six[r], &p);
		tl_topo_place_free(&p);
	}
	for (int r = 0; r < 3; r++) {
		struct tl_topo_place p;
		check_place(hw, TL_BIND_CORE, 0, r, 3, NULL, &three[r], &p);
		tl_topo_place_free(&p);
	}
	hwloc_bitmap_free(keep);
	hwloc_topology_destroy(hw);
}

static void test_discover_synthetic(void **state)
{
	struct tl_topo *t = *state, c;

	assert_int_equal(t->cores, 32);
	assert_int_equal(t->pus, 64);
	assert_int_equal(t->numa_nodes, 4);
	assert_int_equal(t->packages, 2);
	assert_string_equal(t->cpuset, ""); /* no process runs on a synthetic node */
	assert_int_equal(t->llc_bytes, 0);

	assert_int_equal(tl_topo_synthetic(&c, "pack:2 l3:2(size=16777216) core:4 pu:2"), 0);
	assert_int_equal(c.llc_bytes, 16 * 1024 * 1024);
	assert_int_equal(c.llc_count, 4);
	tl_topo_free(&c);
	assert_int_equal(tl_topo_synthetic(&c, "pack:2 wat:3"), TL_EINPUT);
}

/*
 * The report. hwloc accepts binding requests on a synthetic topology and carries none out, so
 * apply runs its whole course here without touching this process, as the check around it shows.
 */
static void test_apply_report(void **state)
{
	struct tl_topo *t = *state, wide, real;
	struct tl_topo_place p;
	struct tl_topo_binding b;
	static const char *const by_core[] = { "0-1", "2-3" };

	assert_int_equal(tl_topo_discover(&real), 0);
	char before[TL_TOPO_LIST_MAX];
	snprintf(before, sizeof(before), "%s", real.cpuset);
	tl_topo_free(&real);

	assert_int_equal(tl_topo_place(t->hw, 1, 4, TL_BIND_CORE, 0, NULL, &p), 0);
	assert_int_equal(tl_topo_apply(t->hw, &p, &b), 0);
	assert_string_equal(b.cpuset, "32,34,36,38,40,42,44,46");
	assert_string_equal(b.numa, "2");
	assert_string_equal(b.binding, "core (trainload)");
	assert_int_equal(b.threads, 8);
	assert_false(b.kept);
	assert_true(b.membind);
	tl_topo_place_free(&p);

	assert_int_equal(tl_topo_place(t->hw, 1, 2, TL_BIND_AUTO, 0, by_core, &p), 0);
	assert_int_equal(tl_topo_apply(t->hw, &p, &b), 0);
	assert_string_equal(b.cpuset, "2-3");
	assert_true(b.kept);
	assert_int_equal(strncmp(b.binding, "launcher", 8), 0);
	tl_topo_place_free(&p);

	assert_int_equal(tl_topo_place(t->hw, 0, 33, TL_BIND_CORE, 0, NULL, &p), 0);
	assert_int_equal(tl_topo_apply(t->hw, &p, &b), 0);
	assert_non_null(strstr(b.binding, "oversubscribed"));
	assert_true(b.oversubscribed);
	tl_topo_place_free(&p);

	assert_int_equal(tl_topo_place(t->hw, 3, 4, TL_BIND_NONE, 0, NULL, &p), 0);
	assert_int_equal(tl_topo_apply(t->hw, &p, &b), 0);
	assert_string_equal(b.binding, "none");
	assert_string_equal(b.cpuset, "0-63");
	tl_topo_place_free(&p);

	/* A list too long for the report is cut where a reader sees it. */
	assert_int_equal(tl_topo_synthetic(&wide, "pack:1 core:128 pu:2"), 0);
	assert_int_equal(tl_topo_place(wide.hw, 0, 1, TL_BIND_CORE, 0, NULL, &p), 0);
	assert_int_equal(tl_topo_apply(wide.hw, &p, &b), 0);
	assert_int_equal(b.threads, 128);
	assert_true(strlen(b.cpuset) < sizeof(b.cpuset));
	assert_int_equal(strncmp(b.cpuset, "0,2,4,", 6), 0);
	assert_string_equal(b.cpuset + strlen(b.cpuset) - 4, ",...");
	tl_topo_place_free(&p);
	tl_topo_free(&wide);

	assert_int_equal(tl_topo_discover(&real), 0);
	assert_string_equal(real.cpuset, before);
	tl_topo_free(&real);
}

/* The machine the test runs on: discovery works and a lone rank can be placed on it. */
static void test_real_machine(void **state)
{
	struct tl_topo t;
	struct tl_topo_place p;

	(void)state;
	assert_int_equal(tl_topo_discover(&t), 0);
	assert_true(t.cores >= 1);
	assert_true(t.pus >= t.cores);
	assert_true(t.numa_nodes >= 1);
	assert_true(t.packages >= 1);
	assert_true(t.memory_bytes > 0);
	assert_true(t.bound_pus >= 1);
	const char *mine[] = { t.cpuset };
	assert_int_equal(tl_topo_place(t.hw, 0, 1, TL_BIND_AUTO, 0, mine, &p), 0);
	assert_true(p.threads >= 1);
	assert_false(hwloc_bitmap_iszero(p.cpuset));
	tl_topo_place_free(&p);
	tl_topo_free(&t);
}

int main(void)
{
	/* With it set, hwloc would treat the synthetic nodes as this machine and really bind. */
	unsetenv("HWLOC_THISSYSTEM");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_place_table, topo_setup, topo_teardown),
		cmocka_unit_test_setup_teardown(test_core_spread, topo_setup, topo_teardown),
		cmocka_unit_test_setup_teardown(test_explicit_threads, topo_setup, topo_teardown),
		cmocka_unit_test_setup_teardown(test_launcher, topo_setup, topo_teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, topo_setup, topo_teardown),
		cmocka_unit_test(test_two_cores),
		cmocka_unit_test(test_uneven_packages),
		cmocka_unit_test_setup_teardown(test_discover_synthetic, topo_setup,
						topo_teardown),
		cmocka_unit_test_setup_teardown(test_apply_report, topo_setup, topo_teardown),
		cmocka_unit_test(test_real_machine),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
