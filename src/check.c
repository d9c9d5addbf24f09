/* SPDX-License-Identifier: BSD-3-Clause */
/* Checking what a communication op delivered (include/trainload/check.h). */
#include "config.h"

#include <stdlib.h>

#include "trainload/check.h"
#include "trainload/dtype.h"

static bool corrupt;

void tl_check_set_rank(int world_rank)
{
	const char *v = getenv("TRAINLOAD_TEST_CORRUPT");

	corrupt = v && *v && atoi(v) == world_rank;
}

void tl_check_fill(const struct tl_check *c, void *in, void *out)
{
	if (out)
		for (uint64_t i = 0; i < c->c.recv; i++)
			tl_dtype_store(out, c->dtype, i, -1.0);
	if (!in || (c->coll->root >= 0 && c->me != (uint64_t)c->coll->root))
		return;
	for (uint64_t i = 0; i < c->c.send; i++)
		tl_dtype_store(in, c->dtype, i, tl_coll_value(c->me, i, c->it));
}

uint64_t tl_check_verify(const struct tl_check *c, void *out, struct tl_check_miss *miss)
{
	uint64_t wrong = 0;

	if (corrupt && c->c.recv)
		tl_dtype_store(out, c->dtype, 0, tl_dtype_load(out, c->dtype, 0) + 1.0);
	for (uint64_t i = 0; i < c->c.recv; i++) {
		double got = tl_dtype_load(out, c->dtype, i);
		double want = c->coll->expected(&c->c, c->n, c->me, c->from, i, c->it);
		if (got != want && !wrong++)
			*miss = (struct tl_check_miss){.index = i, .got = got, .want = want};
	}
	return wrong;
}
