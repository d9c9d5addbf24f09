/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A sweep's plan (include/trainload/sweep.h): its tests, the sizes, and for each point the ops of
 * one iteration on this rank, as the executor repeats them. Pure: no MPI, so that unit tests
 * hold it on one core.
 *
 * A collective's point is its one call (blocking), or its start and its wait (sweep.blocking =
 * no), on every rank of the group. A point-to-point test's point is OSU's iteration: latency, a
 * send and a receive each way between indices 0 and 1; bw, a window of non-blocking sends from 0,
 * their waits and a one-element acknowledgement from 1 (so that the window has arrived before
 * the next one starts); bibw, a window each way at once; mbw_mr, bw's iteration between index i
 * and i + n/2 for every i < n/2 at once. Ranks a test leaves out sit its points out.
 */
#include "config.h"

#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainload/sweep.h"

/* Message tags of the point-to-point tests. */
#define TAG_DATA 1
#define TAG_ACK  2

static const char *const p2p_names[TL_P2PS] = {
    [TL_P2P_LATENCY] = "latency",
    [TL_P2P_BW] = "bw",
    [TL_P2P_BIBW] = "bibw",
    [TL_P2P_MBW_MR] = "mbw_mr",
};

/* Every name sweep.op takes: the collectives', then the point-to-point tests'. */
static const enum tl_op_kind swept[] = {TL_OP_ALLREDUCE, TL_OP_REDUCE_SCATTER, TL_OP_ALLGATHER,
                                        TL_OP_ALLTOALL,  TL_OP_BROADCAST,      TL_OP_SENDRECV};
#define NSWEPT (sizeof(swept) / sizeof(swept[0]))

static struct tl_sweep_test test_at(size_t k)
{
	if (k < NSWEPT)
		return (struct tl_sweep_test){.coll = tl_coll_get(swept[k])};
	return (struct tl_sweep_test){.p2p = (int)(k - NSWEPT)};
}

const char *tl_sweep_test_name(const struct tl_sweep_test *t)
{
	if (t->coll)
		return t->coll->name;
	return t->p2p >= 0 && t->p2p < TL_P2PS ? p2p_names[t->p2p] : "?";
}

static bool same_test(const struct tl_sweep_test *a, const struct tl_sweep_test *b)
{
	return a->coll == b->coll && (a->coll || a->p2p == b->p2p);
}

/* The name of sweep.op's item tok: a test, with a "did you mean" when it is none. */
static int parse_one(const struct tl_job *job, const char *tok, struct tl_sweep_test *out,
                     struct tl_diag *diag)
{
	size_t best = 0, best_d = SIZE_MAX;

	for (size_t k = 0; k < NSWEPT + TL_P2PS; k++) {
		struct tl_sweep_test t = test_at(k);
		const char *name = tl_sweep_test_name(&t);
		size_t d = tl_job_edit_distance(tok, name);
		if (!strcmp(tok, name)) {
			*out = t;
			return 0;
		}
		if (d < best_d) {
			best_d = d;
			best = k;
		}
	}
	struct tl_sweep_test b = test_at(best);
	if (best_d <= 3)
		tl_job_blame(job, "sweep", "op", diag,
		             "unknown test '%s' in key 'op' of [sweep] (did you mean '%s'?)", tok,
		             tl_sweep_test_name(&b));
	else
		tl_job_blame(job, "sweep", "op", diag,
		             "unknown test '%s' in key 'op' of [sweep] (collectives: allreduce, "
		             "reduce_scatter, allgather, alltoall, broadcast, sendrecv; "
		             "point-to-point: latency, bw, bibw, mbw_mr)",
		             tok);
	return TL_EINPUT;
}

int tl_sweep_parse_ops(const struct tl_job *job, struct tl_sweep_test *tests, struct tl_diag *diag)
{
	char list[TL_SWEEP_OPS_MAX];
	int count = 0, bad = 0;
	char *tok = list;

	snprintf(list, sizeof(list), "%s", job->sweep_op);
	for (;;) {
		char *comma = strchr(tok, ','), *end;
		if (comma)
			*comma = '\0';
		tok += strspn(tok, " \t");
		end = tok + strlen(tok);
		while (end > tok && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		struct tl_sweep_test t;
		if (!*tok) {
			tl_job_blame(job, "sweep", "op", diag,
			             "key 'op' of [sweep] has an empty name%s",
			             comma ? " (two commas in a row, or one at an end)" : "");
			bad = 1;
		} else if (parse_one(job, tok, &t, diag)) {
			bad = 1;
		} else {
			bool dup = false;
			for (int k = 0; k < count; k++)
				dup |= same_test(&tests[k], &t);
			if (!dup && count < TL_SWEEP_TESTS_MAX)
				tests[count++] = t;
		}
		if (!comma)
			break;
		tok = comma + 1;
	}
	return bad ? TL_EINPUT : count;
}

size_t tl_sweep_sizes(const struct tl_job *job, uint64_t *sizes, size_t cap)
{
	size_t n = 0;

	for (uint64_t s = job->min_bytes; s && s <= job->max_bytes && n <= TL_SWEEP_POINTS_MAX;) {
		if (sizes && n < cap)
			sizes[n] = s;
		n++;
		uint64_t next;
		if (job->step ? __builtin_add_overflow(s, job->step, &next)
		              : __builtin_mul_overflow(s, job->factor, &next))
			break;
		s = next;
	}
	return n;
}

uint64_t tl_sweep_p2p_messages(const struct tl_job *job, int p2p)
{
	switch (p2p) {
	case TL_P2P_LATENCY:
		return 2;
	case TL_P2P_BIBW:
		return 2 * job->window;
	default:
		return job->window;
	}
}

uint64_t tl_sweep_p2p_pairs(const struct tl_sweep *sw, int p2p)
{
	return p2p == TL_P2P_MBW_MR ? sw->pairs : 1;
}

/* ---- building ---- */

struct builder {
	struct tl_sweep *sw;
	const struct tl_job *job;
	const struct tl_grid *grid;
	uint64_t rank;
	int rc;
	uint64_t send_bytes, recv_bytes; /* the largest buffers a point needs, sets included */
};

static void push(struct builder *b, const struct tl_op *op)
{
	if (!b->rc)
		b->rc = tl_plan_push(&b->sw->plan, op);
}

static struct tl_op sweep_op(const struct builder *b, enum tl_op_kind kind, uint64_t bytes)
{
	return (struct tl_op){.kind = kind,
	                      .phase = TL_PHASE_SWEEP,
	                      .group = b->job->sweep_group,
	                      .layer = -1,
	                      .microbatch = -1,
	                      .bytes = bytes,
	                      .peer = -1,
	                      .req = -1};
}

static void wait_op(struct builder *b, int req)
{
	struct tl_op w = sweep_op(b, TL_OP_WAIT, 0);

	w.req = req;
	push(b, &w);
}

/* A message to or from the group's index peer: blocking, or started in slot req. */
static void message(struct builder *b, enum tl_op_kind kind, uint64_t peer, uint64_t bytes, int tag,
                    int req)
{
	struct tl_op op = sweep_op(b, kind, bytes);

	op.group = TL_GROUP_WORLD;
	op.peer = (int64_t)tl_grid_group_member(b->grid, b->rank, b->job->sweep_group, peer);
	op.tag = tag;
	if (req >= 0) {
		op.nonblocking = true;
		op.req = req;
	}
	push(b, &op);
}

/* bw's iteration on one side of a pair: a window of messages, then the acknowledgement. */
static void window(struct builder *b, bool sender, uint64_t peer, uint64_t bytes, uint64_t elem)
{
	int w = (int)b->job->window;

	for (int k = 0; k < w; k++)
		message(b, sender ? TL_OP_SEND : TL_OP_RECV, peer, bytes, TAG_DATA, k);
	for (int k = 0; k < w; k++)
		wait_op(b, k);
	message(b, sender ? TL_OP_RECV : TL_OP_SEND, peer, elem, TAG_ACK, -1);
}

/* The ops of one iteration of a point-to-point test on this rank (none: it sits out). */
static void p2p_ops(struct builder *b, int p2p, uint64_t bytes, uint64_t elem)
{
	uint64_t me = b->sw->group_index, pairs = b->sw->pairs;
	int w = (int)b->job->window;

	switch (p2p) {
	case TL_P2P_LATENCY:
		if (me > 1)
			return;
		for (int leg = 0; leg < 2; leg++)
			message(b, (leg == 0) == (me == 0) ? TL_OP_SEND : TL_OP_RECV, 1 - me, bytes,
			        TAG_DATA, -1);
		return;
	case TL_P2P_BW:
		if (me <= 1)
			window(b, me == 0, 1 - me, bytes, elem);
		return;
	case TL_P2P_BIBW:
		if (me > 1)
			return;
		for (int k = 0; k < w; k++)
			message(b, TL_OP_RECV, 1 - me, bytes, TAG_DATA, k);
		for (int k = 0; k < w; k++)
			message(b, TL_OP_SEND, 1 - me, bytes, TAG_DATA, w + k);
		for (int k = 0; k < 2 * w; k++)
			wait_op(b, k);
		return;
	default: /* TL_P2P_MBW_MR */
		if (me < pairs)
			window(b, true, me + pairs, bytes, elem);
		else if (me < 2 * pairs)
			window(b, false, me - pairs, bytes, elem);
		return;
	}
}

static uint64_t lines(uint64_t bytes)
{
	return (bytes + 63) & ~(uint64_t)63;
}

/* The buffers a point needs: input and output, in sets of rotate_mb MB or more (as
 * src/backends/operands.c lays them). 0 when the sizes overflow. */
static void need(struct builder *b, uint64_t in, uint64_t out, bool one_buffer)
{
	uint64_t x = lines(in), y = lines(out), big = x > y ? x : y;
	uint64_t footprint = one_buffer ? big : x + y, sets = 1, mb = b->job->rotate_mb;

	if (mb && footprint)
		sets = (mb * 1000000 + footprint - 1) / footprint;
	if (one_buffer) {
		if (sets * big > b->recv_bytes)
			b->recv_bytes = sets * big;
		return;
	}
	if (sets * x > b->send_bytes)
		b->send_bytes = sets * x;
	if (sets * y > b->recv_bytes)
		b->recv_bytes = sets * y;
}

/* One point of row: its ops, appended to the plan. */
static void add_point(struct builder *b, struct tl_sweep_row *row, bool in_place)
{
	struct tl_sweep *sw = b->sw;
	struct tl_sweep_point *pt = &sw->points[sw->npoints];
	uint64_t elem = tl_dtype_bytes(b->job->sweep_dtype);

	*pt = (struct tl_sweep_point){
	    .row = (size_t)(row - sw->rows), .in_place = in_place, .first = sw->plan.count};
	row->point[row->npoints++] = sw->npoints++;
	if (row->test.coll) {
		struct tl_op op = sweep_op(b, row->test.coll->kind, row->c.bytes);
		op.in_place = in_place;
		if (!b->job->blocking) {
			op.nonblocking = true;
			op.req = 0;
		}
		push(b, &op);
		if (!b->job->blocking)
			wait_op(b, 0);
		need(b, row->c.send * elem, row->c.recv * elem, in_place);
	} else {
		p2p_ops(b, row->test.p2p, row->c.bytes, elem);
		need(b, row->c.bytes, row->c.bytes, false);
	}
	pt->count = sw->plan.count - pt->first;
}

static void add_test(struct builder *b, const struct tl_sweep_test *t, const uint64_t *sizes,
                     size_t nsizes)
{
	struct tl_sweep *sw = b->sw;
	uint64_t elem = tl_dtype_bytes(b->job->sweep_dtype), last = 0;
	/* A point-to-point message is a send: counted as one, whatever the group's size. */
	const struct tl_coll *d = t->coll ? t->coll : tl_coll_get(TL_OP_SEND);

	for (size_t k = 0; k < nsizes && !b->rc; k++) {
		struct tl_coll_counts c;
		d->counts(sizes[k], elem, sw->group_size, &c);
		/* Sizes that round to nothing or to the size before say nothing new. */
		if (c.bytes == 0 || c.bytes == last)
			continue;
		last = c.bytes;
		struct tl_sweep_row *row = &sw->rows[sw->nrows++];
		*row = (struct tl_sweep_row){.test = *t, .requested = sizes[k], .c = c};
		add_point(b, row, false);
		if (t->coll)
			add_point(b, row, true);
	}
}

/* The keys a sweep's plan depends on, blamed where they were set. */
static void check_keys(const struct tl_job *job, const struct tl_sweep *sw, struct tl_diag *diag)
{
	if (job->min_bytes > job->max_bytes)
		tl_job_blame(job, "sweep", "max_bytes", diag,
		             "max_bytes = %" PRIu64 " is below min_bytes = %" PRIu64,
		             job->max_bytes, job->min_bytes);
	else if (tl_sweep_sizes(job, NULL, 0) > TL_SWEEP_POINTS_MAX)
		tl_job_blame(job, "sweep", job->step ? "step" : "factor", diag,
		             "the sweep from min_bytes to max_bytes has more than %d sizes",
		             TL_SWEEP_POINTS_MAX);
	for (int t = 0; t < sw->ntests; t++)
		if (!sw->tests[t].coll && sw->group_size < 2)
			tl_job_blame(job, "sweep", "op", diag,
			             "%s is a point-to-point test: it needs groups of at least 2 "
			             "ranks (sweep.group %s has %" PRIu64 ")",
			             tl_sweep_test_name(&sw->tests[t]),
			             tl_job_enum_name("sweep", "group", job->sweep_group),
			             sw->group_size);
}

int tl_sweep_build(struct tl_sweep *sw, const struct tl_job *job, const struct tl_grid *grid,
                   uint64_t rank, struct tl_diag *diag)
{
	struct builder b = {.sw = sw, .job = job, .grid = grid, .rank = rank};
	int before = diag->count + diag->dropped;
	uint64_t *sizes = NULL;

	memset(sw, 0, sizeof(*sw));
	sw->group_size = tl_grid_group_size(grid, job->sweep_group);
	sw->group_index = tl_grid_group_index(grid, rank, job->sweep_group);
	sw->pairs = sw->group_size / 2;
	sw->plan.rank = rank;
	tl_grid_coords(grid, rank, &sw->plan.coords);
	int n = tl_sweep_parse_ops(job, sw->tests, diag);
	sw->ntests = n > 0 ? n : 0;
	check_keys(job, sw, diag);
	if (diag->count + diag->dropped > before)
		return TL_EINPUT;

	/* At most a row per size and test, and two points a row. */
	size_t nsizes = tl_sweep_sizes(job, NULL, 0), most = nsizes * (size_t)sw->ntests + 1;
	sizes = calloc(nsizes + 1, sizeof(*sizes));
	sw->test_rows = calloc((size_t)sw->ntests + 1, sizeof(*sw->test_rows));
	sw->rows = calloc(most, sizeof(*sw->rows));
	sw->points = calloc(2 * most, sizeof(*sw->points));
	if (!sizes || !sw->test_rows || !sw->rows || !sw->points) {
		free(sizes);
		return TL_ENOMEM;
	}
	tl_sweep_sizes(job, sizes, nsizes);
	for (int t = 0; t < sw->ntests && !b.rc; t++) {
		add_test(&b, &sw->tests[t], sizes, nsizes);
		sw->test_rows[t + 1] = sw->nrows;
	}
	free(sizes);
	/* Every point-to-point window has a slot per message; a non-blocking collective one. */
	for (size_t i = 0; i < sw->plan.count; i++)
		if (sw->plan.ops[i].req >= sw->plan.reqs)
			sw->plan.reqs = sw->plan.ops[i].req + 1;
	if (!b.rc && __builtin_add_overflow(b.send_bytes, b.recv_bytes, &sw->memory_bytes)) {
		tl_job_blame(job, "sweep", job->rotate_mb ? "rotate_mb" : "max_bytes", diag,
		             "the sweep's buffers do not fit in 64 bits");
		return TL_EINPUT;
	}
	return b.rc;
}

void tl_sweep_free(struct tl_sweep *sw)
{
	tl_plan_free(&sw->plan);
	free(sw->rows);
	free(sw->points);
	free(sw->test_rows);
	memset(sw, 0, sizeof(*sw));
}

size_t tl_sweep_rounded(const struct tl_sweep *sw, const struct tl_job *job, int t, char *buf,
                        size_t len)
{
	size_t nsizes = tl_sweep_sizes(job, NULL, 0), found = 0, used = 0, r = sw->test_rows[t];
	uint64_t *sizes = calloc(nsizes + 1, sizeof(*sizes));

	if (len)
		buf[0] = '\0';
	if (!sizes)
		return 0;
	tl_sweep_sizes(job, sizes, nsizes);
	for (size_t k = 0; k < nsizes; k++) {
		bool kept = r < sw->test_rows[t + 1] && sw->rows[r].requested == sizes[k];
		uint64_t moved = kept ? sw->rows[r++].c.bytes : 0;
		if (kept && moved == sizes[k])
			continue;
		found++;
		char one[64];
		if (kept)
			snprintf(one, sizeof(one), "%" PRIu64 " B -> %" PRIu64 " B", sizes[k],
			         moved);
		else
			snprintf(one, sizeof(one), "%" PRIu64 " B -> left out", sizes[k]);
		if (used < len)
			used += (size_t)snprintf(buf + used, len - used, "%s%s",
			                         found > 1 ? ", " : "", one);
	}
	free(sizes);
	return found;
}
