/* SPDX-License-Identifier: BSD-3-Clause */
/* Checking what a collective delivered (include/trainload/check.h). */
#include "config.h"

#include <stdlib.h>

#include "trainload/check.h"

static bool corrupt;

void tl_check_set_rank(int world_rank)
{
	const char *v = getenv("TRAINLOAD_TEST_CORRUPT");

	corrupt = v && *v && atoi(v) == world_rank;
}

static double expected(const struct tl_check *c, uint64_t i)
{
	if (c->op == TL_SWEEP_SENDRECV)
		return tl_sweep_value(c->from, i, c->it);
	return tl_sweep_expected(c->op, &c->pt, c->n, c->me, i, c->it);
}

void tl_check_fill(const struct tl_check *c, void *sb, void *rb)
{
	if (rb && !c->in_place)
		for (uint64_t i = 0; i < c->pt.recv_elems; i++)
			tl_dtype_store(rb, c->dtype, i, -1.0);
	if (c->op == TL_SWEEP_BROADCAST) {
		/* In place: the root's buffer is both. */
		if (c->me == 0 && rb)
			for (uint64_t i = 0; i < c->pt.recv_elems; i++)
				tl_dtype_store(rb, c->dtype, i,
					       tl_sweep_send_value(c->op, &c->pt, 0, i, c->it));
		return;
	}
	if (sb)
		for (uint64_t i = 0; i < c->pt.send_elems; i++)
			tl_dtype_store(sb, c->dtype, i,
				       tl_sweep_send_value(c->op, &c->pt, c->me, i, c->it));
}

uint64_t tl_check_verify(const struct tl_check *c, void *rb, struct tl_check_miss *miss)
{
	uint64_t wrong = 0;

	if (corrupt && c->pt.recv_elems)
		tl_dtype_store(rb, c->dtype, 0, tl_dtype_load(rb, c->dtype, 0) + 1.0);
	for (uint64_t i = 0; i < c->pt.recv_elems; i++) {
		double got = tl_dtype_load(rb, c->dtype, i), want = expected(c, i);
		if (got != want && !wrong++)
			*miss = (struct tl_check_miss){ .index = i, .got = got, .want = want };
	}
	return wrong;
}
