/* SPDX-License-Identifier: BSD-3-Clause */
/* Slurm hostlist expressions (include/trainload/hostlist.h). */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainload/hostlist.h"

/* Longer trailing numbers than this are taken as part of the name: they would not fit. */
#define MAX_DIGITS 18

struct host {
	const char *name;
	size_t prefix_len; /* up to the trailing number */
	unsigned long long num;
	bool has_num;
	int width; /* zero-padded to this many digits; 0: not padded */
	bool done; /* already written in a term */
};

static int cmp_ull(const void *a, const void *b)
{
	unsigned long long x = *(const unsigned long long *)a, y = *(const unsigned long long *)b;

	return x < y ? -1 : x > y;
}

static bool same_class(const struct host *a, const struct host *b)
{
	return a->has_num && b->has_num && a->prefix_len == b->prefix_len && a->width == b->width &&
	       !strncmp(a->name, b->name, a->prefix_len);
}

/* Append to the growing string *out (of *len bytes used, *cap allocated); false: no memory. */
static bool append(char **out, size_t *len, size_t *cap, const char *text, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t want = (*len + n + 1) * 2;
		char *grown = realloc(*out, want);
		if (!grown)
			return false;
		*out = grown;
		*cap = want;
	}
	memcpy(*out + *len, text, n);
	*len += n;
	(*out)[*len] = '\0';
	return true;
}

/* Parse every host; a number without a leading zero joins a padded class of its width ("node10"
 * beside "node09": both are node[09-10], as %02d prints them). */
static void parse(const char *const *hosts, size_t n, struct host *h)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(hosts[i]), d = len;
		while (d > 0 && hosts[i][d - 1] >= '0' && hosts[i][d - 1] <= '9')
			d--;
		h[i] = (struct host){.name = hosts[i], .prefix_len = len};
		if (d < len && len - d <= MAX_DIGITS) {
			h[i].prefix_len = d;
			h[i].has_num = true;
			h[i].num = strtoull(hosts[i] + d, NULL, 10);
			h[i].width = hosts[i][d] == '0' && len - d > 1 ? (int)(len - d) : 0;
		}
	}
	for (size_t i = 0; i < n; i++) {
		size_t digits = strlen(h[i].name) - h[i].prefix_len;
		for (size_t j = 0; h[i].has_num && !h[i].width && j < n; j++)
			if (h[j].width == (int)digits && h[j].prefix_len == h[i].prefix_len &&
			    !strncmp(h[i].name, h[j].name, h[i].prefix_len))
				h[i].width = h[j].width;
	}
}

char *tl_hostlist_compress(const char *const *hosts, size_t n)
{
	struct host *h = calloc(n + 1, sizeof(*h));
	unsigned long long *nums = calloc(n + 1, sizeof(*nums));
	char *out = NULL, buf[96];
	size_t len = 0, cap = 0;
	bool ok = h && nums && append(&out, &len, &cap, "", 0);

	if (ok)
		parse(hosts, n, h);
	for (size_t i = 0; ok && i < n; i++) {
		if (h[i].done)
			continue;
		if (len)
			ok = append(&out, &len, &cap, ",", 1);
		size_t k = 0;
		for (size_t j = i; j < n; j++)
			if (!h[j].done && (j == i || same_class(&h[i], &h[j]) ||
			                   (!h[i].has_num && !strcmp(h[i].name, h[j].name)))) {
				nums[k++] = h[j].num;
				h[j].done = true;
			}
		if (!h[i].has_num) {
			ok = ok && append(&out, &len, &cap, h[i].name, strlen(h[i].name));
			continue;
		}
		qsort(nums, k, sizeof(*nums), cmp_ull);
		size_t u = 0; /* distinct numbers */
		for (size_t j = 0; j < k; j++)
			if (!u || nums[j] != nums[u - 1])
				nums[u++] = nums[j];
		ok = ok && append(&out, &len, &cap, h[i].name, h[i].prefix_len);
		if (ok && u > 1)
			ok = append(&out, &len, &cap, "[", 1);
		for (size_t j = 0; ok && j < u;) {
			size_t e = j;
			while (e + 1 < u && nums[e + 1] == nums[e] + 1)
				e++;
			int w = snprintf(buf, sizeof(buf), "%s%0*llu", j ? "," : "", h[i].width,
			                 nums[j]);
			if (e > j)
				w += snprintf(buf + w, sizeof(buf) - (size_t)w, "-%0*llu",
				              h[i].width, nums[e]);
			ok = append(&out, &len, &cap, buf, (size_t)w);
			j = e + 1;
		}
		if (ok && u > 1)
			ok = append(&out, &len, &cap, "]", 1);
	}
	free(h);
	free(nums);
	if (!ok) {
		free(out);
		return NULL;
	}
	return out;
}
