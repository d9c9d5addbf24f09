/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The plans of all ranks of a world, together: whatever one rank's plan says, the others must
 * answer. For every rank of small worlds (tp x pp x dp up to 4 x 2 x 2 and 1 x 4 x 2; 2 x 2 x 2
 * with every combination of ZeRO 0..3, sequence parallelism, MoE over ep = 2, gelu and swiglu,
 * recompute, overlap, 1F1B and GPipe, grad_accum 1..4; context parallelism cp 2 and 4 and the
 * interleaved schedule with 2 and 4 model chunks, with the other settings rotating):
 *  (a) pipeline sends and receives pair up between neighbouring stages (and, interleaved, from
 *      the last stage back to the first), context-parallel ones between neighbours of the cp
 *      ring: per (source, destination, tag), the same number, the same bytes, in the same
 *      order;
 *  (b) the members of every group instance issue the same collectives (kind, bytes, blocking or
 *      not) in the same order, as MPI requires on one communicator;
 *  (c) no deadlock: all ranks' op lists are executed together with MPI's semantics, round-robin,
 *      until every rank is done:
 *        - a blocking collective completes once every member of its group has reached it (the
 *          members' n-th collective on that communicator, blocking or started);
 *        - a non-blocking collective is started at once; its wait completes once every member
 *          has started it;
 *        - a send is buffered: started at once; its wait completes once the receiver has
 *          completed the matching receive (the n-th receive of that source and tag matches
 *          the n-th send, as MPI does not let messages overtake);
 *        - a receive completes once the matching send has been started; a started one, in its
 *          wait;
 *      if no rank can advance, the test fails naming every stuck rank and the op it is stuck on.
 */
#include "config.h"

#include <inttypes.h>

#include "tl_test.h"
#include "trainload/grid.h"
#include "trainload/plan.h"

/* Failures end the test (fail_msg), except while the simulator is tested on plans made to fail:
 * then they are counted in soft_failures and the check returns. */
static bool soft;
static int soft_failures;
#define FAIL(...)                                                                                  \
	do {                                                                                       \
		if (!soft)                                                                         \
			fail_msg(__VA_ARGS__);                                                     \
		print_message(__VA_ARGS__);                                                        \
		print_message("\n");                                                               \
		soft_failures++;                                                                   \
		return;                                                                            \
	} while (0)

static const int comm_groups[] = {TL_GROUP_TP, TL_GROUP_CP,  TL_GROUP_DP,  TL_GROUP_PP,
                                  TL_GROUP_EP, TL_GROUP_EDP, TL_GROUP_DPCP};

struct sim_world {
	struct ctx *c;
	struct tl_model model;
	struct tl_grid grid;
	uint64_t n;
	struct tl_plan *plans;
	char what[256];
};

static bool is_coll(enum tl_op_kind k)
{
	return k == TL_OP_ALLREDUCE || k == TL_OP_REDUCE_SCATTER || k == TL_OP_ALLGATHER ||
	       k == TL_OP_ALLTOALL;
}

static void describe(const struct tl_op *op, char *buf, size_t len)
{
	snprintf(buf, len,
	         "%s %s (group %s, microbatch %d, layer %d, %" PRIu64 " bytes%s, peer %" PRId64
	         ", tag %d, req %d)",
	         op->nonblocking ? "started" : "blocking", tl_op_kind_name(op->kind),
	         tl_grid_group_name(op->group), op->microbatch, op->layer, op->bytes,
	         op->nonblocking ? ", non-blocking" : "", op->peer, op->tag, op->req);
}

/* ------------------------------------------------------------------------------------------ */
/* (a) sends and receives                                                                     */

static void check_p2p(const struct sim_world *w)
{
	for (uint64_t r = 0; r < w->n; r++) {
		const struct tl_plan *p = &w->plans[r];
		struct tl_coords me;
		tl_grid_coords(&w->grid, r, &me);
		for (size_t i = 0; i < p->count; i++) {
			const struct tl_op *op = &p->ops[i];
			if (op->kind != TL_OP_SEND && op->kind != TL_OP_RECV)
				continue;
			/* a neighbouring stage (same tp, cp, dp coordinates, pp one apart, or from
			 * the last to the first with model chunks), or a neighbour in the cp ring
			 * (same tp, dp, pp) */
			struct tl_coords peer;
			assert_true(op->peer >= 0 && (uint64_t)op->peer < w->n);
			tl_grid_coords(&w->grid, (uint64_t)op->peer, &peer);
			uint64_t pp = w->grid.pp, cp = w->grid.cp;
			bool wraps = w->model.chunks > 1;
			bool stage = op->group == TL_GROUP_PP && peer.cp == me.cp &&
			             ((peer.pp + 1) % pp == me.pp || (me.pp + 1) % pp == peer.pp) &&
			             (wraps || peer.pp + 1 == me.pp || me.pp + 1 == peer.pp);
			bool ring = op->group == TL_GROUP_CP && peer.pp == me.pp &&
			            ((peer.cp + 1) % cp == me.cp || (me.cp + 1) % cp == peer.cp);
			if (peer.tp != me.tp || peer.dp != me.dp || !(stage || ring))
				FAIL("%s: rank %" PRIu64 " op %zu talks to rank %" PRId64
				     ", not a neighbouring stage or cp rank",
				     w->what, r, i, op->peer);
		}
		/* every (peer, tag) channel out of r against the receives at the peer */
		for (size_t i = 0; i < p->count; i++) {
			const struct tl_op *s = &p->ops[i];
			if (s->kind != TL_OP_SEND)
				continue;
			/* the first send of a channel checks the whole channel */
			bool seen = false;
			for (size_t k = 0; k < i && !seen; k++)
				seen = p->ops[k].kind == TL_OP_SEND && p->ops[k].peer == s->peer &&
				       p->ops[k].tag == s->tag;
			if (seen)
				continue;
			const struct tl_plan *q = &w->plans[s->peer];
			size_t a = 0, b = 0;
			for (;;) {
				while (a < p->count &&
				       !(p->ops[a].kind == TL_OP_SEND &&
				         p->ops[a].peer == s->peer && p->ops[a].tag == s->tag))
					a++;
				while (b < q->count &&
				       !(q->ops[b].kind == TL_OP_RECV &&
				         q->ops[b].peer == (int64_t)r && q->ops[b].tag == s->tag))
					b++;
				if (a == p->count && b == q->count)
					break;
				if (a == p->count || b == q->count)
					FAIL("%s: rank %" PRIu64 " -> rank %" PRId64 " tag %d: %s",
					     w->what, r, s->peer, s->tag,
					     a == p->count ? "a receive without its send"
					                   : "a send without its receive");
				if (p->ops[a].bytes != q->ops[b].bytes)
					FAIL("%s: rank %" PRIu64 " -> rank %" PRId64
					     " tag %d: sends %" PRIu64 " bytes, receives %" PRIu64,
					     w->what, r, s->peer, s->tag, p->ops[a].bytes,
					     q->ops[b].bytes);
				a++;
				b++;
			}
		}
		/* and every receive has a sender that sends on that channel */
		for (size_t i = 0; i < p->count; i++) {
			const struct tl_op *op = &p->ops[i];
			if (op->kind != TL_OP_RECV)
				continue;
			const struct tl_plan *q = &w->plans[op->peer];
			bool found = false;
			for (size_t k = 0; k < q->count && !found; k++)
				found = q->ops[k].kind == TL_OP_SEND &&
				        q->ops[k].peer == (int64_t)r && q->ops[k].tag == op->tag;
			if (!found)
				FAIL("%s: rank %" PRIu64 " receives tag %d from rank %" PRId64
				     ", which never sends it",
				     w->what, r, op->tag, op->peer);
		}
	}
}

/* ------------------------------------------------------------------------------------------ */
/* (b) collectives                                                                             */

static void check_collectives(const struct sim_world *w)
{
	for (uint64_t r = 0; r < w->n; r++) {
		const struct tl_plan *p = &w->plans[r];
		for (size_t g = 0; g < ARRAY_LEN(comm_groups); g++) {
			int grp = comm_groups[g];
			uint64_t first = tl_grid_group_member(&w->grid, r, grp, 0);
			if (first == r)
				continue;
			const struct tl_plan *q = &w->plans[first];
			size_t a = 0, b = 0, n = 0;
			for (;; n++) {
				while (a < p->count &&
				       !(is_coll(p->ops[a].kind) && p->ops[a].group == grp))
					a++;
				while (b < q->count &&
				       !(is_coll(q->ops[b].kind) && q->ops[b].group == grp))
					b++;
				if (a == p->count && b == q->count)
					break;
				char x[256] = "(none)", y[256] = "(none)";
				if (a < p->count)
					describe(&p->ops[a], x, sizeof(x));
				if (b < q->count)
					describe(&q->ops[b], y, sizeof(y));
				if (a == p->count || b == q->count ||
				    p->ops[a].kind != q->ops[b].kind ||
				    p->ops[a].bytes != q->ops[b].bytes ||
				    p->ops[a].nonblocking != q->ops[b].nonblocking)
					FAIL("%s: %s group of rank %" PRIu64
					     ": collective %zu differs:\n  rank %" PRIu64
					     ": %s\n  rank %" PRIu64 ": %s",
					     w->what, tl_grid_group_name(grp), r, n, r, x, first,
					     y);
				a++;
				b++;
			}
		}
	}
}

/* ------------------------------------------------------------------------------------------ */
/* (c) execution                                                                               */

/* What a started request waits for. */
enum req_kind { REQ_COLL, REQ_SEND, REQ_RECV };
struct req {
	enum req_kind kind;
	size_t inst;    /* collective: its group instance */
	uint64_t seq;   /* collective: its place in the instance's order */
	size_t chan;    /* send, receive: its channel */
	uint64_t index; /* send, receive: its place in the channel */
};

struct sim {
	const struct sim_world *w;
	size_t ninst, ntags;
	uint64_t *issued;   /* [rank][instance]: collectives issued */
	uint64_t *sent;     /* [channel]: sends started */
	uint64_t *posted;   /* [channel]: receives posted */
	uint64_t *received; /* [channel]: receives completed */
	size_t *pc;         /* [rank] */
	int64_t *arrived;   /* [rank]: seq of the blocking collective it waits in, or -1 */
	struct req **reqs;  /* [rank][req] */
};

static size_t instance(const struct sim *s, uint64_t rank, int group)
{
	return (size_t)group * s->w->n + tl_grid_group_member(&s->w->grid, rank, group, 0);
}

static size_t channel(const struct sim *s, uint64_t src, uint64_t dst, int tag)
{
	assert_true(tag >= 0 && (size_t)tag < s->ntags);
	return (src * s->w->n + dst) * s->ntags + (size_t)tag;
}

/* Whether every member of rank's group has issued collective seq on the instance. */
static bool all_issued(const struct sim *s, uint64_t rank, int group, size_t inst, uint64_t seq)
{
	uint64_t n = tl_grid_group_size(&s->w->grid, group);

	for (uint64_t i = 0; i < n; i++) {
		uint64_t m = tl_grid_group_member(&s->w->grid, rank, group, i);
		if (s->issued[m * s->ninst + inst] <= seq)
			return false;
	}
	return true;
}

/* Advance rank as far as it goes; whether anything changed. */
static bool advance(struct sim *s, uint64_t r)
{
	const struct tl_plan *p = &s->w->plans[r];
	bool moved = false;

	while (s->pc[r] < p->count) {
		const struct tl_op *op = &p->ops[s->pc[r]];
		if (is_coll(op->kind)) {
			size_t inst = instance(s, r, op->group);
			uint64_t *mine = &s->issued[r * s->ninst + inst];
			if (op->nonblocking) {
				assert_true(op->req >= 0 && op->req < p->reqs);
				s->reqs[r][op->req] = (struct req){.inst = inst, .seq = (*mine)++};
			} else {
				if (s->arrived[r] < 0) {
					s->arrived[r] = (int64_t)(*mine)++;
					moved = true;
				}
				if (!all_issued(s, r, op->group, inst, (uint64_t)s->arrived[r]))
					return moved;
				s->arrived[r] = -1;
			}
		} else if (op->kind == TL_OP_SEND) {
			assert_true(op->nonblocking && op->req >= 0 && op->req < p->reqs);
			size_t ch = channel(s, r, (uint64_t)op->peer, op->tag);
			s->reqs[r][op->req] =
			    (struct req){.kind = REQ_SEND, .chan = ch, .index = s->sent[ch]++};
		} else if (op->kind == TL_OP_RECV && op->nonblocking) {
			assert_true(op->req >= 0 && op->req < p->reqs);
			size_t ch = channel(s, (uint64_t)op->peer, r, op->tag);
			s->reqs[r][op->req] =
			    (struct req){.kind = REQ_RECV, .chan = ch, .index = s->posted[ch]++};
		} else if (op->kind == TL_OP_RECV) {
			size_t ch = channel(s, (uint64_t)op->peer, r, op->tag);
			if (s->sent[ch] <= s->posted[ch])
				return moved;
			s->posted[ch]++;
			s->received[ch]++;
		} else if (op->kind == TL_OP_WAIT) {
			assert_true(op->req >= 0 && op->req < p->reqs);
			const struct req *q = &s->reqs[r][op->req];
			if (q->kind == REQ_SEND ? s->received[q->chan] <= q->index
			    : q->kind == REQ_RECV
			        ? s->sent[q->chan] <= q->index
			        : !all_issued(s, r, (int)(q->inst / s->w->n), q->inst, q->seq))
				return moved;
			if (q->kind == REQ_RECV)
				s->received[q->chan]++;
		}
		/* GEMMs, elementwise passes and the optimizer complete alone */
		s->pc[r]++;
		moved = true;
	}
	return moved;
}

static void simulate(const struct sim_world *w)
{
	struct sim s = {.w = w, .ninst = TL_GRID_GROUPS * w->n};
	int maxtag = 0;

	for (uint64_t r = 0; r < w->n; r++)
		for (size_t i = 0; i < w->plans[r].count; i++)
			if (w->plans[r].ops[i].tag > maxtag)
				maxtag = w->plans[r].ops[i].tag;
	s.ntags = (size_t)maxtag + 1;
	s.issued = calloc(w->n * s.ninst, sizeof(*s.issued));
	s.sent = calloc(w->n * w->n * s.ntags, sizeof(*s.sent));
	s.received = calloc(w->n * w->n * s.ntags, sizeof(*s.received));
	s.posted = calloc(w->n * w->n * s.ntags, sizeof(*s.posted));
	s.pc = calloc(w->n, sizeof(*s.pc));
	s.arrived = calloc(w->n, sizeof(*s.arrived));
	s.reqs = calloc(w->n, sizeof(*s.reqs));
	assert_true(s.issued && s.sent && s.received && s.posted && s.pc && s.arrived && s.reqs);
	for (uint64_t r = 0; r < w->n; r++) {
		s.arrived[r] = -1;
		s.reqs[r] = calloc((size_t)w->plans[r].reqs + 1, sizeof(**s.reqs));
		assert_non_null(s.reqs[r]);
	}

	for (;;) {
		bool moved = false, done = true;
		for (uint64_t r = 0; r < w->n; r++) {
			moved |= advance(&s, r);
			done &= s.pc[r] == w->plans[r].count;
		}
		if (done)
			break;
		if (moved)
			continue;
		/* nobody can advance: name them all */
		print_message("%s: DEADLOCK; stuck ranks:\n", w->what);
		for (uint64_t r = 0; r < w->n; r++) {
			char d[256];
			if (s.pc[r] == w->plans[r].count) {
				print_message("  rank %" PRIu64 ": done\n", r);
				continue;
			}
			const struct tl_op *op = &w->plans[r].ops[s.pc[r]];
			const struct tl_op *waited = NULL;
			for (size_t i = 0; op->kind == TL_OP_WAIT && i < w->plans[r].count; i++)
				if (w->plans[r].ops[i].nonblocking &&
				    w->plans[r].ops[i].req == op->req)
					waited = &w->plans[r].ops[i];
			describe(waited ? waited : op, d, sizeof(d));
			print_message("  rank %" PRIu64 " (stage %" PRIu64
			              "): op %zu of %zu, %s%s\n",
			              r, w->plans[r].coords.pp, s.pc[r], w->plans[r].count,
			              waited ? "waits for the " : "", d);
		}
		soft_failures += soft;
		if (!soft)
			fail_msg("%s: deadlock (ranks and ops above)", w->what);
		break;
	}
	/* every message was received */
	for (size_t ch = 0; ch < w->n * w->n * s.ntags && !soft; ch++)
		assert_int_equal(s.sent[ch], s.received[ch]);

	for (uint64_t r = 0; r < w->n; r++)
		free(s.reqs[r]);
	free(s.reqs);
	free(s.arrived);
	free(s.pc);
	free(s.received);
	free(s.posted);
	free(s.sent);
	free(s.issued);
}

/* ------------------------------------------------------------------------------------------ */

struct config {
	uint64_t tp, pp, dp, zero, accum;
	bool sp, moe, gpipe, overlap;
	const char *mlp, *recompute;
	uint64_t moe_every;
	uint64_t cp, chunks; /* 0 stands for 1 */
};

static uint64_t checked_worlds, checked_plans;

static void check_config(struct ctx *c, const struct config *k)
{
	uint64_t cp = k->cp ? k->cp : 1, chunks = k->chunks ? k->chunks : 1;
	struct sim_world w = {.c = c, .n = k->tp * k->pp * k->dp * cp};
	char sets[24][64];
	const char *list[25];
	int n = 0;

#define SET(...) snprintf(sets[n], sizeof(sets[n]), __VA_ARGS__), list[n] = sets[n], n++
	SET("model.layers=%" PRIu64, 4 * chunks);
	SET("parallel.cp=%" PRIu64, cp);
	if (chunks > 1 || k->chunks)
		SET("parallel.schedule=interleaved"),
		    SET("parallel.virtual_stages=%" PRIu64, chunks);
	SET("model.hidden=256");
	SET("model.heads=4");
	SET("model.seq=16");
	SET("model.vocab=256");
	SET("model.mlp=%s", k->mlp);
	SET("parallel.tp=%" PRIu64, k->tp);
	SET("parallel.pp=%" PRIu64, k->pp);
	SET("parallel.zero=%" PRIu64, k->zero);
	SET("parallel.grad_accum=%" PRIu64, k->accum);
	SET("parallel.sequence_parallel=%s", k->sp ? "yes" : "no");
	if (!k->chunks)
		SET("parallel.schedule=%s", k->gpipe ? "gpipe" : "1f1b");
	SET("parallel.overlap=%s", k->overlap ? "yes" : "no");
	SET("parallel.bucket_mb=1");
	SET("run.recompute=%s", k->recompute);
	if (k->moe)
		SET("model.experts=4"), SET("parallel.ep=2"),
		    SET("model.moe_every=%" PRIu64, k->moe_every);
#undef SET
	list[n] = NULL;
	resolved_job(c, w.n, list);
	if (tl_model_build(&w.model, &c->job, &c->diag)) {
		diag_dump(&c->diag);
		fail_msg("tl_model_build refused the job");
	}
	tl_grid_init(&w.grid, &c->job, w.n, 0);
	snprintf(w.what, sizeof(w.what),
	         "tp %" PRIu64 " pp %" PRIu64 " dp %" PRIu64 " cp %" PRIu64 " zero %" PRIu64
	         " m %" PRIu64 " %s v %" PRIu64 "%s %s%s recompute %s%s",
	         k->tp, k->pp, k->dp, cp, k->zero, k->accum,
	         k->chunks  ? "interleaved"
	         : k->gpipe ? "gpipe"
	                    : "1f1b",
	         chunks, k->sp ? " sp" : "", k->mlp, k->moe ? " moe ep 2" : "", k->recompute,
	         k->overlap ? "" : " overlap no");
	w.plans = calloc(w.n, sizeof(*w.plans));
	assert_non_null(w.plans);
	for (uint64_t r = 0; r < w.n; r++)
		if (tl_plan_build(&w.plans[r], &c->job, &w.model, &w.grid, r))
			fail_msg("%s: no plan for rank %" PRIu64, w.what, r);

	check_p2p(&w);
	check_collectives(&w);
	simulate(&w);

	for (uint64_t r = 0; r < w.n; r++)
		tl_plan_free(&w.plans[r]);
	free(w.plans);
	checked_worlds++;
	checked_plans += w.n;
}

static const char *const mlps[] = {"gelu", "swiglu"};
static const char *const recomputes[] = {"none", "selective", "full"};

/* Many grids, with the other settings rotating through their values. */
static void test_grids(void **state)
{
	struct ctx *c = *state;
	static const uint64_t grids[][3] = {
	    /* tp, pp, dp */
	    {1, 1, 1}, {2, 1, 1}, {4, 1, 1}, {1, 2, 1}, {1, 4, 1}, {1, 1, 2}, {2, 2, 1},
	    {1, 2, 2}, {2, 1, 2}, {4, 2, 1}, {4, 1, 2}, {1, 4, 2}, {4, 2, 2},
	};
	unsigned i = 0;

	checked_worlds = checked_plans = 0;
	for (size_t g = 0; g < ARRAY_LEN(grids); g++)
		for (int gpipe = 0; gpipe <= 1; gpipe++)
			for (uint64_t accum = 1; accum <= 4; accum++)
				for (uint64_t zero = 0; zero <= 3; zero++, i++) {
					struct config k = {
					    .tp = grids[g][0],
					    .pp = grids[g][1],
					    .dp = grids[g][2],
					    .zero = zero,
					    .accum = accum,
					    .gpipe = gpipe,
					    .mlp = mlps[i % 2],
					    .recompute = recomputes[i / 2 % 3],
					    .sp = grids[g][0] > 1 && i / 3 % 2,
					    .overlap = i % 5 != 0,
					    .moe = grids[g][2] % 2 == 0 && i % 3 != 0,
					    .moe_every = 1 + i % 2,
					};
					check_config(c, &k);
				}
	print_message("  %" PRIu64 " worlds, %" PRIu64 " rank plans\n", checked_worlds,
	              checked_plans);
}

/* tp 2 x pp 2 x dp 2: every combination. */
static void test_2x2x2(void **state)
{
	struct ctx *c = *state;

	checked_worlds = checked_plans = 0;
	for (uint64_t zero = 0; zero <= 3; zero++)
		for (uint64_t accum = 1; accum <= 4; accum++)
			for (int gpipe = 0; gpipe <= 1; gpipe++)
				for (int sp = 0; sp <= 1; sp++)
					for (int moe = 0; moe <= 1; moe++)
						for (size_t m = 0; m < ARRAY_LEN(mlps); m++)
							for (size_t rc = 0;
							     rc < ARRAY_LEN(recomputes); rc++)
								for (int ov = 0; ov <= 1; ov++) {
									struct config k = {
									    .tp = 2,
									    .pp = 2,
									    .dp = 2,
									    .zero = zero,
									    .accum = accum,
									    .gpipe = gpipe,
									    .sp = sp,
									    .moe = moe,
									    .moe_every = 1,
									    .mlp = mlps[m],
									    .recompute =
									        recomputes[rc],
									    .overlap = ov,
									};
									check_config(c, &k);
								}
	print_message("  %" PRIu64 " worlds, %" PRIu64 " rank plans\n", checked_worlds,
	              checked_plans);
}

/* Context parallelism and the interleaved schedule, over grids of up to 16 ranks, with the
 * other settings rotating through their values (MoE only without cp, which refuses it). */
static void test_cp_interleaved(void **state)
{
	struct ctx *c = *state;
	static const uint64_t grids[][5] = {
	    /* tp, pp, dp, cp, chunks (0: 1F1B) */
	    {1, 1, 1, 2, 0}, {1, 1, 1, 4, 0}, {2, 1, 1, 2, 0}, {1, 2, 1, 2, 0}, {1, 1, 2, 2, 0},
	    {2, 2, 2, 2, 0}, {1, 2, 1, 1, 2}, {1, 2, 1, 1, 1}, {1, 4, 1, 1, 2}, {2, 2, 1, 1, 4},
	    {1, 2, 2, 1, 2}, {1, 2, 1, 2, 2}, {2, 2, 2, 1, 2}, {1, 4, 1, 2, 2},
	};
	unsigned i = 0;

	checked_worlds = checked_plans = 0;
	for (size_t g = 0; g < ARRAY_LEN(grids); g++)
		for (uint64_t accum = 1; accum <= 3; accum++)
			for (uint64_t zero = 0; zero <= 3; zero++, i++) {
				uint64_t pp = grids[g][1];
				struct config k = {
				    .tp = grids[g][0],
				    .pp = pp,
				    .dp = grids[g][2],
				    .cp = grids[g][3],
				    .chunks = grids[g][4],
				    .zero = zero,
				    /* interleaved: a multiple of pp microbatches */
				    .accum = grids[g][4] ? accum * pp : accum,
				    .mlp = mlps[i % 2],
				    .recompute = recomputes[i / 2 % 3],
				    .sp = grids[g][0] > 1 && i / 3 % 2,
				    .overlap = i % 5 != 0,
				    .moe = grids[g][3] == 1 && grids[g][2] % 2 == 0 && i % 3 != 0,
				    .moe_every = 1 + i % 2,
				};
				check_config(c, &k);
			}
	print_message("  %" PRIu64 " worlds, %" PRIu64 " rank plans\n", checked_worlds,
	              checked_plans);
}

/* The checks themselves find what they look for, and name it: two ranks whose receives wait
 * for each other, a collective that only one member of a group reaches, a send without its
 * receive. */
static void test_checks_catch(void **state)
{
	struct ctx *c = *state;
	struct sim_world w = {.c = c, .n = 2};
	struct tl_plan plans[2];
	struct tl_op recv0 = {
	    .kind = TL_OP_RECV, .group = TL_GROUP_PP, .peer = 1, .tag = 0, .bytes = 8, .req = -1};
	struct tl_op recv1 = {
	    .kind = TL_OP_RECV, .group = TL_GROUP_PP, .peer = 0, .tag = 1, .bytes = 8, .req = -1};
	struct tl_op send0 = {.kind = TL_OP_SEND,
	                      .group = TL_GROUP_PP,
	                      .peer = 1,
	                      .tag = 1,
	                      .bytes = 8,
	                      .nonblocking = true,
	                      .req = 0};
	struct tl_op send1 = {.kind = TL_OP_SEND,
	                      .group = TL_GROUP_PP,
	                      .peer = 0,
	                      .tag = 0,
	                      .bytes = 8,
	                      .nonblocking = true,
	                      .req = 0};
	struct tl_op wait = {.kind = TL_OP_WAIT, .req = 0};
	struct tl_op ops0[] = {recv0, send0, wait};
	struct tl_op ops1[] = {recv1, send1, wait};

	resolved_job(c, 2, (const char *const[]){"parallel.pp=2", NULL});
	tl_grid_init(&w.grid, &c->job, 2, 0);
	memset(plans, 0, sizeof(plans));
	plans[0] = (struct tl_plan){.ops = ops0, .count = 3, .reqs = 1};
	plans[1] = (struct tl_plan){.ops = ops1, .count = 3, .reqs = 1, .coords.pp = 1};
	w.plans = plans;
	soft = true;
	soft_failures = 0;
	snprintf(w.what, sizeof(w.what), "receive cycle (made to deadlock)");
	check_p2p(&w);
	assert_int_equal(soft_failures, 0);
	simulate(&w);
	assert_int_equal(soft_failures, 1);

	/* the sends first: no deadlock */
	struct tl_op ops2[] = {send0, recv0, wait};
	struct tl_op ops3[] = {send1, recv1, wait};
	plans[0].ops = ops2;
	plans[1].ops = ops3;
	soft_failures = 0;
	snprintf(w.what, sizeof(w.what), "sends first");
	simulate(&w);
	assert_int_equal(soft_failures, 0);

	/* a send whose receive is missing, and one of another size */
	struct tl_op ops4[] = {send0, wait};
	struct tl_op big = recv1;
	big.bytes = 16;
	plans[0] = (struct tl_plan){.ops = ops4, .count = 2, .reqs = 1};
	plans[1] = (struct tl_plan){.ops = &big, .count = 1, .coords.pp = 1};
	soft_failures = 0;
	snprintf(w.what, sizeof(w.what), "sizes differ (made to fail)");
	check_p2p(&w);
	assert_int_equal(soft_failures, 1);
	plans[1].count = 0;
	snprintf(w.what, sizeof(w.what), "no receive (made to fail)");
	check_p2p(&w);
	simulate(&w); /* the send's wait never completes */
	assert_int_equal(soft_failures, 3);

	/* a dp allreduce that rank 1 never reaches */
	resolved_job(c, 2, (const char *const[]){NULL});
	tl_grid_init(&w.grid, &c->job, 2, 0);
	struct tl_op ar = {.kind = TL_OP_ALLREDUCE, .group = TL_GROUP_DP, .bytes = 8, .req = -1};
	struct tl_op gemm = {.kind = TL_OP_GEMM, .req = -1};
	plans[0] = (struct tl_plan){.ops = &ar, .count = 1};
	plans[1] = (struct tl_plan){.ops = &gemm, .count = 1};
	soft_failures = 0;
	snprintf(w.what, sizeof(w.what), "lone collective (made to fail)");
	check_collectives(&w);
	simulate(&w);
	assert_int_equal(soft_failures, 2);

	/* both reach it: fine, blocking or started and waited */
	struct tl_op nb = ar;
	nb.nonblocking = true;
	nb.req = 0;
	struct tl_op ops5[] = {nb, gemm, wait};
	plans[1] = (struct tl_plan){.ops = ops5, .count = 3, .reqs = 1};
	soft_failures = 0;
	snprintf(w.what, sizeof(w.what), "blocking against non-blocking (made to fail)");
	check_collectives(&w); /* MPI: the same collective, blocking on one and not the other */
	assert_int_equal(soft_failures, 1);
	plans[0] = (struct tl_plan){.ops = ops5, .count = 3, .reqs = 1};
	soft_failures = 0;
	snprintf(w.what, sizeof(w.what), "both started");
	check_collectives(&w);
	simulate(&w);
	assert_int_equal(soft_failures, 0);
	soft = false;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, ctx_setup, ctx_teardown)
	    T(test_checks_catch),
	    T(test_grids),
	    T(test_2x2x2),
	    T(test_cp_interleaved),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
