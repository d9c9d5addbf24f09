/* SPDX-License-Identifier: BSD-3-Clause */
/* The doctor's fleet judgement and verdict (include/trainload/doctor.h). Pure. */
#include "config.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "trainload/doctor.h"
#include "trainload/grid.h"
#include "trainload/metrics.h"
#include "trainload/plan.h"

/* σ of a normal distribution in units of its median absolute deviation. */
#define MAD_TO_SIGMA 1.4826

void tl_fleet_judge(const double *values, size_t n, size_t skip, struct tl_fleet *f)
{
	double *kept = calloc(n + 1, sizeof(*kept)), *dev = calloc(n + 1, sizeof(*dev));
	size_t k = 0;

	*f = (struct tl_fleet){0};
	if (!kept || !dev) {
		free(kept);
		free(dev);
		return; /* not judged: names nothing */
	}
	for (size_t i = 0; i < n; i++)
		if (i != skip)
			kept[k++] = values[i];
	f->n = k;
	f->median = tl_percentile(kept, k, 50);
	for (size_t i = 0; i < k; i++)
		dev[i] = fabs(kept[i] - f->median);
	f->sigma = MAD_TO_SIGMA * tl_percentile(dev, k, 50);
	free(kept);
	free(dev);
	/* the member judged makes the fleet's TL_FLEET_MIN */
	if (k + (skip < n) < TL_FLEET_MIN || f->median <= 0)
		return;
	double margin = fmax(fmin(TL_FLEET_SIGMAS * f->sigma, TL_FLEET_CEILING * f->median),
	                     TL_FLEET_FLOOR * f->median);
	f->limit = f->median - margin;
}

bool tl_fleet_slow(const struct tl_fleet *f, double value)
{
	return f->limit > 0 && value < f->limit;
}

const char *tl_verdict_name(enum tl_verdict v)
{
	static const char *const names[] = {"ok", "slow", "failed", "not judged"};
	return names[v];
}

static const char *const metric_names[TL_NODE_METRICS] = {"gemm", "triad", "link"};

double tl_doctor_link_bw(const struct tl_doctor_link *l)
{
	return fmin(l->bw_ab, l->bw_ba);
}

/* Member skip of v (skip >= n: not a member) judged against the others. */
static enum tl_verdict judged(const double *v, size_t n, size_t skip, double value, bool failed)
{
	struct tl_fleet f;

	if (failed)
		return TL_VERDICT_FAILED;
	tl_fleet_judge(v, n, skip, &f);
	if (f.limit <= 0)
		return TL_VERDICT_UNJUDGED;
	return tl_fleet_slow(&f, value) ? TL_VERDICT_SLOW : TL_VERDICT_OK;
}

static bool node_named(const struct tl_doctor_node *n)
{
	for (int m = 0; m < TL_NODE_METRICS; m++)
		if (n->verdict[m] == TL_VERDICT_SLOW || n->verdict[m] == TL_VERDICT_FAILED)
			return true;
	return false;
}

/* Each node's link figure: the median of the bandwidths of the links it is on. */
static void node_link_figures(struct tl_doctor *d, double *v)
{
	for (uint32_t i = 0; i < d->nnodes; i++) {
		size_t k = 0;
		for (size_t j = 0; j < d->nlinks; j++) {
			const struct tl_doctor_link *l = &d->links[j];
			if (!l->failed && (l->pair.a == i || l->pair.b == i))
				v[k++] = tl_doctor_link_bw(l);
		}
		d->nodes[i].value[TL_NODE_LINK] = k ? tl_percentile(v, k, 50) : 0;
	}
}

static void judge_nodes(struct tl_doctor *d, double *v)
{
	for (int m = 0; m < TL_NODE_METRICS; m++) {
		size_t k = 0;
		bool judge = m != TL_NODE_LINK || d->nlinks;
		for (uint32_t i = 0; i < d->nnodes; i++)
			if (!d->nodes[i].failed)
				v[k++] = d->nodes[i].value[m];
		tl_fleet_judge(v, judge ? k : 0, SIZE_MAX, &d->node_fleet[m]);
		for (uint32_t i = 0, at = 0; i < d->nnodes; i++) {
			struct tl_doctor_node *n = &d->nodes[i];
			n->verdict[m] =
			    judge ? judged(v, k, n->failed ? SIZE_MAX : at, n->value[m], n->failed)
			          : TL_VERDICT_UNJUDGED;
			at += !n->failed;
		}
	}
	for (uint32_t i = 0; i < d->nnodes; i++) {
		struct tl_doctor_node *n = &d->nodes[i];
		n->link_explained = n->verdict[TL_NODE_LINK] == TL_VERDICT_SLOW &&
		                    (n->verdict[TL_NODE_GEMM] == TL_VERDICT_SLOW ||
		                     n->verdict[TL_NODE_TRIAD] == TL_VERDICT_SLOW);
	}
}

/* A link between nodes whose links are not slow: the reference of the others. */
static bool reference_link(const struct tl_doctor *d, const struct tl_doctor_link *l)
{
	return !l->failed && d->nodes[l->pair.a].verdict[TL_NODE_LINK] != TL_VERDICT_SLOW &&
	       d->nodes[l->pair.b].verdict[TL_NODE_LINK] != TL_VERDICT_SLOW;
}

static void judge_links(struct tl_doctor *d, double *v)
{
	size_t k = 0;

	for (size_t j = 0; j < d->nlinks; j++)
		if (reference_link(d, &d->links[j]))
			v[k++] = tl_doctor_link_bw(&d->links[j]);
	tl_fleet_judge(v, k, SIZE_MAX, &d->link_fleet);
	for (size_t j = 0, at = 0; j < d->nlinks; j++) {
		struct tl_doctor_link *l = &d->links[j];
		bool ref = reference_link(d, l);
		l->verdict = judged(v, k, ref ? at : SIZE_MAX, tl_doctor_link_bw(l), l->failed);
		at += ref;
		l->explained = l->verdict == TL_VERDICT_SLOW && (node_named(&d->nodes[l->pair.a]) ||
		                                                 node_named(&d->nodes[l->pair.b]));
	}
}

/* Groups of one kind (group, op, bytes, size) are peers. */
static bool peers(const struct tl_doctor_group *x, const struct tl_doctor_group *y)
{
	return x->group == y->group && x->kind == y->kind && x->bytes == y->bytes &&
	       x->size == y->size;
}

/* Whether a named node is among the group's hosts. */
static bool holds_named(const struct tl_doctor *d, const struct tl_doctor_group *g)
{
	for (uint32_t i = 0; i < d->nnodes; i++) {
		size_t len = strlen(d->nodes[i].host);
		const char *p = g->hosts;
		if (!node_named(&d->nodes[i]))
			continue;
		while ((p = strstr(p, d->nodes[i].host))) {
			if ((p == g->hosts || p[-1] == ',') && (p[len] == ',' || !p[len]))
				return true;
			p += len;
		}
	}
	return false;
}

static void judge_groups(struct tl_doctor *d, double *v)
{
	for (size_t j = 0; j < d->ngroups; j++) {
		struct tl_doctor_group *g = &d->groups[j];
		size_t k = 0, at = SIZE_MAX;
		for (size_t i = 0; i < d->ngroups; i++)
			if (peers(g, &d->groups[i]) && !d->groups[i].failed) {
				at = i == j ? k : at;
				v[k++] = d->groups[i].busbw;
			}
		g->verdict = judged(v, k, at, g->busbw, g->failed);
		g->explained = g->verdict == TL_VERDICT_SLOW && holds_named(d, g);
	}
}

void tl_doctor_judge(struct tl_doctor *d)
{
	size_t most = d->nnodes > d->nlinks ? d->nnodes : d->nlinks;
	double *v = calloc((most > d->ngroups ? most : d->ngroups) + 1, sizeof(*v));

	if (!v)
		return;
	node_link_figures(d, v);
	judge_nodes(d, v);
	judge_links(d, v);
	judge_groups(d, v);
	free(v);
}

static bool link_named(const struct tl_doctor_link *l)
{
	return (l->verdict == TL_VERDICT_SLOW && !l->explained) || l->verdict == TL_VERDICT_FAILED;
}

static bool group_named(const struct tl_doctor_group *g)
{
	return (g->verdict == TL_VERDICT_SLOW && !g->explained) || g->verdict == TL_VERDICT_FAILED;
}

bool tl_doctor_unhealthy(const struct tl_doctor *d)
{
	for (uint32_t i = 0; i < d->nnodes; i++)
		if (node_named(&d->nodes[i]))
			return true;
	for (size_t j = 0; j < d->nlinks; j++)
		if (link_named(&d->links[j]))
			return true;
	for (size_t j = 0; j < d->ngroups; j++)
		if (group_named(&d->groups[j]))
			return true;
	return *d->hang != '\0';
}

const char **tl_doctor_bad_hosts(const struct tl_doctor *d, size_t *n)
{
	const char **hosts = calloc((size_t)d->nnodes + 1, sizeof(*hosts));

	*n = 0;
	for (uint32_t i = 0; hosts && i < d->nnodes; i++)
		if (node_named(&d->nodes[i]))
			hosts[(*n)++] = d->nodes[i].host;
	return hosts;
}

/* ---- output ---- */

/* A metric's value in the unit the table prints it in. */
static void metric_unit(int m, double *scale, const char **unit)
{
	*scale = m == TL_NODE_GEMM ? 1e9 : 1e6;
	*unit = m == TL_NODE_GEMM ? "GFLOP/s" : "MB/s";
}

static void row(FILE *out, const char *who, const char *what, double value, double median,
                double scale, const char *unit, enum tl_verdict v, const char *note)
{
	char val[32], med[32], dist[16] = "-";

	snprintf(val, sizeof(val), "%.4g %s", value / scale, unit);
	snprintf(med, sizeof(med), "%.4g %s", median / scale, unit);
	if (median > 0 && v != TL_VERDICT_FAILED)
		snprintf(dist, sizeof(dist), "%+.1f%%", 100.0 * (value - median) / median);
	fprintf(out, "%-24s %-22s %16s %16s %9s  %s%s\n", who, what,
	        v == TL_VERDICT_FAILED ? "-" : val, median > 0 ? med : "-", dist,
	        tl_verdict_name(v), note);
}

void tl_doctor_print(const struct tl_doctor *d, FILE *out)
{
	char who[300], what[64];
	double scale;
	const char *unit;

	fprintf(out, "# trainload doctor: %" PRIu32 " nodes, links by %s (%zu measured)%s\n",
	        d->nnodes, tl_links_mode_name(d->links_mode), d->nlinks, d->quick ? ", quick" : "");
	fprintf(
	    out,
	    "# slow: more than %g%% below the fleet median (the others') and %g sigma (1.4826 x "
	    "MAD), or more than %g%% below it; MB = 1e6 bytes\n",
	    100 * TL_FLEET_FLOOR, TL_FLEET_SIGMAS, 100 * TL_FLEET_CEILING);
	fprintf(out, "%-24s %-22s %16s %16s %9s  %s\n", "# host", "measurement", "value",
	        "fleet median", "distance", "verdict");
	for (uint32_t i = 0; i < d->nnodes; i++)
		for (int m = 0; m < TL_NODE_METRICS; m++) {
			const struct tl_doctor_node *n = &d->nodes[i];
			metric_unit(m, &scale, &unit);
			snprintf(what, sizeof(what), "%s%s", metric_names[m],
			         m == TL_NODE_LINK ? " (median)" : "");
			row(out, n->host, what, n->value[m], d->node_fleet[m].median, scale, unit,
			    n->verdict[m],
			    m == TL_NODE_LINK && n->link_explained ? " (its compute's)" : "");
		}
	for (size_t j = 0; j < d->nlinks; j++) {
		const struct tl_doctor_link *l = &d->links[j];
		snprintf(who, sizeof(who), "%s-%s", d->nodes[l->pair.a].host,
		         d->nodes[l->pair.b].host);
		snprintf(what, sizeof(what), "link%s, %.3g us", l->probe ? " probe" : "",
		         l->latency_s * 1e6);
		row(out, who, what, tl_doctor_link_bw(l), d->link_fleet.median, 1e6, "MB/s",
		    l->verdict, l->explained ? " (its slow node's)" : "");
	}
	for (size_t j = 0; j < d->ngroups; j++) {
		const struct tl_doctor_group *g = &d->groups[j];
		double median;
		double *v = calloc(d->ngroups + 1, sizeof(*v));
		size_t k = 0;
		for (size_t i = 0; v && i < d->ngroups; i++)
			if (peers(g, &d->groups[i]))
				v[k++] = d->groups[i].busbw;
		median = v ? tl_percentile(v, k, 50) : 0;
		free(v);
		snprintf(who, sizeof(who), "%s %" PRIu32 " (%s)", tl_grid_group_name(g->group),
		         g->index, g->hosts);
		snprintf(what, sizeof(what), "%s %" PRIu64 " B busbw",
		         tl_op_kind_name((enum tl_op_kind)g->kind), g->bytes);
		row(out, who, what, g->busbw, median, 1e6, "MB/s", g->verdict,
		    g->explained ? " (holds a slow node)" : "");
	}
	char *summary = tl_doctor_summary(d);
	if (summary)
		fprintf(out, "%s\n", summary);
	free(summary);
}

char *tl_doctor_summary(const struct tl_doctor *d)
{
	size_t cap =
	    256 + (size_t)d->nnodes * 160 + (d->nlinks + d->ngroups) * 200 + strlen(d->hang);
	char *s = malloc(cap);
	size_t used = 0;

	if (!s)
		return NULL;
#define ADD(...)                                                                                   \
	do {                                                                                       \
		if (used < cap)                                                                    \
			used += (size_t)snprintf(s + used, cap - used, __VA_ARGS__);               \
	} while (0)
	if (!tl_doctor_unhealthy(d)) {
		ADD("doctor: healthy: %" PRIu32 " nodes, %zu links, %zu groups; nothing named",
		    d->nnodes, d->nlinks, d->ngroups);
		return s;
	}
	ADD("doctor: named:");
	const char *sep = " ";
	for (uint32_t i = 0; i < d->nnodes; i++) {
		const struct tl_doctor_node *n = &d->nodes[i];
		if (!node_named(n))
			continue;
		ADD("%snode %s (", sep, n->host);
		const char *inner = "";
		for (int m = 0; m < TL_NODE_METRICS; m++)
			if ((n->verdict[m] == TL_VERDICT_SLOW &&
			     !(m == TL_NODE_LINK && n->link_explained)) ||
			    n->verdict[m] == TL_VERDICT_FAILED) {
				ADD("%s%s %s", inner, metric_names[m],
				    tl_verdict_name(n->verdict[m]));
				inner = ", ";
			}
		ADD("%s)", n->link_explained ? "; its links slow too, put down to its compute"
		           : n->verdict[TL_NODE_LINK] == TL_VERDICT_SLOW
		               ? ": every link slow, its NIC or port"
		               : "");
		sep = "; ";
	}
	for (size_t j = 0; j < d->nlinks; j++) {
		const struct tl_doctor_link *l = &d->links[j];
		if (link_named(l)) {
			ADD("%slink %s-%s (%s: %s)", sep, d->nodes[l->pair.a].host,
			    d->nodes[l->pair.b].host, tl_verdict_name(l->verdict),
			    l->verdict == TL_VERDICT_FAILED
			        ? "wrong data"
			        : "this pair only: cable or switch path");
			sep = "; ";
		}
	}
	for (size_t j = 0; j < d->ngroups; j++) {
		const struct tl_doctor_group *g = &d->groups[j];
		if (group_named(g)) {
			ADD("%sgroup %s %" PRIu32 " (%s: %s)", sep, tl_grid_group_name(g->group),
			    g->index, g->hosts, tl_verdict_name(g->verdict));
			sep = "; ";
		}
	}
	if (*d->hang)
		ADD("%shang: %s", sep, d->hang);
#undef ADD
	return s;
}

static json_t *fleet_json(const struct tl_fleet *f)
{
	return json_pack("{s:I, s:f, s:f}", "members", (json_int_t)f->n, "median", f->median,
	                 "sigma", f->sigma);
}

json_t *tl_doctor_json(const struct tl_doctor *d)
{
	static const char *const value_keys[TL_NODE_METRICS] = {
	    "gemm_flops_per_s", "triad_bytes_per_s", "link_bytes_per_s"};
	json_t *doc = json_object(), *nodes = json_array(), *links = json_array(),
	       *groups = json_array(), *fleets = json_object();
	char *summary = tl_doctor_summary(d);

	for (uint32_t i = 0; i < d->nnodes; i++) {
		const struct tl_doctor_node *n = &d->nodes[i];
		json_t *o = json_pack("{s:s, s:b, s:b}", "host", n->host, "failed", n->failed,
		                      "link_explained", n->link_explained);
		for (int m = 0; m < TL_NODE_METRICS; m++) {
			char key[48];
			json_object_set_new(o, value_keys[m], json_real(n->value[m]));
			snprintf(key, sizeof(key), "%s_verdict", metric_names[m]);
			json_object_set_new(o, key, json_string(tl_verdict_name(n->verdict[m])));
		}
		json_array_append_new(nodes, o);
	}
	for (size_t j = 0; j < d->nlinks; j++) {
		const struct tl_doctor_link *l = &d->links[j];
		json_array_append_new(
		    links,
		    json_pack("{s:s, s:s, s:I, s:b, s:f, s:f, s:f, s:f, s:b, s:s, s:b}", "a",
		              d->nodes[l->pair.a].host, "b", d->nodes[l->pair.b].host, "round",
		              (json_int_t)l->round, "probe", l->probe, "a_to_b_bytes_per_s",
		              l->bw_ab, "b_to_a_bytes_per_s", l->bw_ba, "bytes_per_s",
		              tl_doctor_link_bw(l), "latency_s", l->latency_s, "failed", l->failed,
		              "verdict", tl_verdict_name(l->verdict), "explained", l->explained));
	}
	for (size_t j = 0; j < d->ngroups; j++) {
		const struct tl_doctor_group *g = &d->groups[j];
		json_array_append_new(
		    groups,
		    json_pack("{s:s, s:I, s:s, s:s, s:I, s:I, s:f, s:b, s:s, s:b}", "group",
		              tl_grid_group_name(g->group), "index", (json_int_t)g->index, "hosts",
		              g->hosts, "op", tl_op_kind_name((enum tl_op_kind)g->kind), "bytes",
		              (json_int_t)g->bytes, "ranks", (json_int_t)g->size,
		              "busbw_bytes_per_s", g->busbw, "failed", g->failed, "verdict",
		              tl_verdict_name(g->verdict), "explained", g->explained));
	}
	for (int m = 0; m < TL_NODE_METRICS; m++)
		json_object_set_new(fleets, value_keys[m], fleet_json(&d->node_fleet[m]));
	json_object_set_new(fleets, "links_bytes_per_s", fleet_json(&d->link_fleet));

	size_t nbad;
	const char **bad = tl_doctor_bad_hosts(d, &nbad);
	json_t *named = json_array();
	for (size_t i = 0; bad && i < nbad; i++)
		json_array_append_new(named, json_string(bad[i]));
	free(bad);

	json_object_set_new(doc, "tool", json_string("trainload doctor"));
	json_object_set_new(doc, "healthy", json_boolean(!tl_doctor_unhealthy(d)));
	json_object_set_new(doc, "summary", json_string(summary ? summary : ""));
	json_object_set_new(doc, "bad_hosts", named);
	json_object_set_new(doc, "hang", json_string(d->hang));
	json_object_set_new(doc, "links_schedule", json_string(tl_links_mode_name(d->links_mode)));
	json_object_set_new(doc, "quick", json_boolean(d->quick));
	json_object_set_new(doc, "elapsed_s", json_real(d->elapsed_s));
	json_object_set_new(doc, "judgement",
	                    json_pack("{s:f, s:f, s:f, s:I}", "sigmas", TL_FLEET_SIGMAS, "ceiling",
	                              TL_FLEET_CEILING, "floor", TL_FLEET_FLOOR, "min_members",
	                              (json_int_t)TL_FLEET_MIN));
	json_object_set_new(doc, "fleets", fleets);
	json_object_set_new(doc, "nodes", nodes);
	json_object_set_new(doc, "links", links);
	json_object_set_new(doc, "groups", groups);
	free(summary);
	return doc;
}
