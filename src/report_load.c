/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Result files read back for trainload-report. Every file given ends up in the inputs with a
 * state: complete, partial (a run killed before its JSON, a JSON cut short, a run interrupted),
 * a sweep, or unusable with the reason; none is dropped silently. A partial run's finished steps
 * come from its JSONL, whose first line says what was run (src/run.c writes it before the first
 * step).
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "trainload/job.h"
#include "trainload/metrics.h"
#include "trainload/report.h"
#include "trainload/result.h"

/* The [parallel] keys that change with the world size in a scaling series; the rest of the
 * job names the curve. */
static const char *const scaling_keys[] = { "dp", "global_batch", "grad_accum" };
/* [run] keys that change how a run is measured, not what it runs. */
static const char *const measuring_keys[] = { "steps",	 "warmup",	  "check",
					      "timeout_s", "straggler_pct", "log_interval" };

const char *tl_run_state_name(enum tl_run_state state)
{
	static const char *const names[] = { "complete", "partial", "sweep", "unusable" };
	return names[state];
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && !strcmp(s + n - m, suffix);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	return slash ? slash + 1 : path;
}

static void set_why(struct tl_run *run, enum tl_run_state state, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void set_why(struct tl_run *run, enum tl_run_state state, const char *fmt, ...)
{
	va_list ap;

	run->state = state;
	va_start(ap, fmt);
	vsnprintf(run->why, sizeof(run->why), fmt, ap);
	va_end(ap);
}

/* The job's curve: the hash of the job without the keys that scale or only measure. */
static void curve_key(const json_t *job, char out[17])
{
	json_t *copy = json_deep_copy(job);
	json_t *par = json_object_get(copy, "parallel"), *run = json_object_get(copy, "run");

	for (size_t i = 0; i < sizeof(scaling_keys) / sizeof(*scaling_keys); i++)
		json_object_del(par, scaling_keys[i]);
	for (size_t i = 0; i < sizeof(measuring_keys) / sizeof(*measuring_keys); i++)
		json_object_del(run, measuring_keys[i]);
	tl_json_hash(copy, out);
	json_decref(copy);
}

static double num(const json_t *obj, const char *key)
{
	return json_number_value(json_object_get(obj, key));
}

/* A count: a non-negative integer member, 0 when it is missing, negative or not an integer
 * (the files are users': fuzz/report.c feeds anything). */
static uint64_t count(const json_t *obj, const char *key)
{
	const json_t *v = json_object_get(obj, key);
	return json_is_integer(v) && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v)
							       : 0;
}

/* The p-th percentile of one field of every step, path given as (object key, key or NULL). */
static double steps_percentile(const json_t *steps, const char *outer, const char *inner,
			       const char *innermost, double p)
{
	size_t n = json_array_size(steps), i;
	double *v = malloc((n ? n : 1) * sizeof(*v)), result;
	json_t *step;

	if (!v)
		return 0;
	json_array_foreach (steps, i, step) {
		const json_t *x = json_object_get(step, outer);
		if (inner)
			x = json_object_get(x, inner);
		if (innermost)
			x = json_object_get(x, innermost);
		v[i] = json_number_value(x);
	}
	result = tl_percentile(v, n, p);
	free(v);
	return result;
}

/* The figures at the median step, from the steps themselves, so that complete and partial runs
 * are computed alike (a complete run's summary holds the same numbers). */
static void figures(struct tl_run *run)
{
	const json_t *steps = json_object_get(run->doc, "steps");
	struct tl_run_figures *f = &run->fig;

	f->steps = json_array_size(steps);
	if (!f->steps)
		return;
	f->p50 = steps_percentile(steps, "time_s", NULL, NULL, 50);
	f->p95 = steps_percentile(steps, "time_s", NULL, NULL, 95);
	f->compute = steps_percentile(steps, "breakdown_s", "compute", NULL, 50);
	f->comm_exposed = steps_percentile(steps, "breakdown_s", "comm_exposed", NULL, 50);
	f->bubble = steps_percentile(steps, "breakdown_s", "bubble", NULL, 50);
	f->optimizer = steps_percentile(steps, "breakdown_s", "optimizer", NULL, 50);
	f->other = steps_percentile(steps, "breakdown_s", "other", NULL, 50);
	for (int g = 0; g < TL_SHOWN_GROUPS; g++)
		f->comm[g] = steps_percentile(steps, "breakdown_s", "comm_exposed_by_group",
					      tl_grid_group_name(tl_shown_groups[g]), 50);
	f->tokens_per_s = tl_tokens_per_s(run->tokens_per_step, f->p50);
	f->model_tflops_per_rank = tl_model_tflops_per_rank(run->model_flops_per_step, f->p50,
							    run->ranks);
	f->mfu = tl_mfu(run->model_flops_per_step, f->p50, run->ranks,
			run->peak_tflops_per_rank * 1e12);
	f->exposed_share = f->p50 > 0 ? f->comm_exposed / f->p50 : 0;
}

/* An integer member (false when missing or not an integer). */
static bool integer(const json_t *obj, const char *key, json_int_t *v)
{
	const json_t *x = json_object_get(obj, key);

	if (!json_is_integer(x))
		return false;
	*v = json_integer_value(x);
	return true;
}

/* A count the document must hold: a positive integer; otherwise why, into run. */
static bool positive(struct tl_run *run, const char *name, const json_t *obj, const char *where,
		     const char *key, json_int_t *v)
{
	json_int_t x = 0;

	if (!integer(obj, key, &x) || x < 1) {
		char got[64];
		const json_t *j = json_object_get(obj, key);
		if (json_is_integer(j))
			snprintf(got, sizeof(got), "%" JSON_INTEGER_FORMAT, json_integer_value(j));
		else
			snprintf(got, sizeof(got), "%s", j ? "not an integer" : "missing");
		set_why(run, TL_RUN_UNUSABLE, "%s: %s.%s = %s: not a positive count", name, where,
			key, got);
		return false;
	}
	if (v)
		*v = x;
	return true;
}

static int by_number(const void *a, const void *b)
{
	json_int_t x = *(const json_int_t *)a, y = *(const json_int_t *)b;
	return (x > y) - (x < y);
}

/* The first number that numbers[0..n) holds twice (sorting them), or -1. */
static json_int_t twice(json_int_t *numbers, size_t n)
{
	qsort(numbers, n, sizeof(*numbers), by_number);
	for (size_t i = 1; i < n; i++)
		if (numbers[i] == numbers[i - 1])
			return numbers[i];
	return -1;
}

/*
 * Whether the document can be what a run wrote, and if not why (run unusable): every count
 * positive; world.ranks = dp·tp·pp·cp, and the job's [parallel] the same as the world's; the
 * nodes no more than the ranks; each rank listed once and in range.
 */
static bool consistent(struct tl_run *run, const char *name)
{
	const json_t *doc = run->doc, *world = json_object_get(doc, "world");
	const json_t *job = json_object_get(doc, "job"), *par = json_object_get(job, "parallel");
	const json_t *model = json_object_get(job, "model"), *plan = json_object_get(doc, "plan");
	static const char *const dims[] = { "dp", "tp", "pp", "cp" };
	static const char *const sizes[] = { "layers", "hidden", "heads", "seq", "vocab" };
	json_int_t ranks, nodes, product = 1, v, w;
	bool fits = true;

	if (!positive(run, name, world, "world", "ranks", &ranks))
		return false;
	for (size_t i = 0; i < sizeof(dims) / sizeof(*dims); i++) {
		if (!json_object_get(world, dims[i]) && !strcmp(dims[i], "cp"))
			continue; /* cp: added beside the first keys */
		if (!positive(run, name, world, "world", dims[i], &v))
			return false;
		fits = fits && !__builtin_mul_overflow(product, v, &product);
	}
	if (!fits || product != ranks) {
		char got[32] = "more than 64 bits hold";
		if (fits)
			snprintf(got, sizeof(got), "%" JSON_INTEGER_FORMAT, product);
		set_why(run, TL_RUN_UNUSABLE, "%s: world.ranks = %" JSON_INTEGER_FORMAT
			" but world's dp*tp*pp*cp = %s", name, ranks, got);
		return false;
	}
	for (size_t i = 0; i < sizeof(dims) / sizeof(*dims); i++) {
		if (integer(par, dims[i], &w) && integer(world, dims[i], &v) && w != v) {
			set_why(run, TL_RUN_UNUSABLE, "%s: job.parallel.%s = %" JSON_INTEGER_FORMAT
				" but world.%s = %" JSON_INTEGER_FORMAT, name, dims[i], w, dims[i], v);
			return false;
		}
	}
	if (json_object_get(world, "nodes")) {
		if (!positive(run, name, world, "world", "nodes", &nodes))
			return false;
		if (nodes > ranks) {
			set_why(run, TL_RUN_UNUSABLE, "%s: world.nodes = %" JSON_INTEGER_FORMAT
				", more than its %" JSON_INTEGER_FORMAT " ranks", name, nodes, ranks);
			return false;
		}
	}
	for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++)
		if (!positive(run, name, model, "job.model", sizes[i], NULL))
			return false;
	if (!positive(run, name, plan, "plan", "tokens_per_step", NULL) ||
	    !positive(run, name, plan, "plan", "microbatches", NULL))
		return false;

	/* each rank once, in range */
	const json_t *list = json_object_get(doc, "ranks"), *e;
	size_t n = json_array_size(list), i;
	json_int_t *numbers = malloc((n ? n : 1) * sizeof(*numbers));
	if (!numbers)
		return false;
	json_array_foreach (list, i, e) {
		if (!integer(e, "rank", &numbers[i]) || numbers[i] < 0 || numbers[i] >= ranks) {
			set_why(run, TL_RUN_UNUSABLE, "%s: ranks[%zu].rank is not a rank of 0 to %"
				JSON_INTEGER_FORMAT, name, i, ranks - 1);
			free(numbers);
			return false;
		}
	}
	v = twice(numbers, n);
	free(numbers);
	if (v >= 0)
		set_why(run, TL_RUN_UNUSABLE, "%s: rank %" JSON_INTEGER_FORMAT " is listed twice in "
			"ranks", name, v);
	return v < 0;
}

/* Each step numbered once, from 0 up, with a positive time. jsonl: its steps came from one. */
static bool steps_consistent(struct tl_run *run, const char *name, bool jsonl)
{
	const json_t *steps = json_object_get(run->doc, "steps"), *e;
	size_t n = json_array_size(steps), i;
	json_int_t *numbers = malloc((n ? n : 1) * sizeof(*numbers)), dup;

	if (!numbers)
		return false;
	json_array_foreach (steps, i, e) {
		const json_t *t = json_object_get(e, "time_s");
		if (!integer(e, "step", &numbers[i]) || numbers[i] < 0) {
			set_why(run, TL_RUN_UNUSABLE, "%s: steps[%zu] has no step number (a count "
				"from 0)", name, i);
			free(numbers);
			return false;
		}
		if (!json_is_number(t) || !(json_number_value(t) > 0) ||
		    !isfinite(json_number_value(t))) {
			set_why(run, TL_RUN_UNUSABLE, "%s: step %" JSON_INTEGER_FORMAT ": time_s is "
				"%s, not a positive number of seconds", name, numbers[i],
				json_is_number(t) ? "zero or negative" : t ? "not a number" : "missing");
			free(numbers);
			return false;
		}
	}
	dup = twice(numbers, n);
	free(numbers);
	if (dup >= 0)
		set_why(run, TL_RUN_UNUSABLE, "%s: step %" JSON_INTEGER_FORMAT " appears twice%s",
			name, dup, jsonl ? " (two runs wrote to one JSONL?)" : "");
	return dup < 0;
}

/* What every usable document must hold; run->doc is set. */
static void interpret(struct tl_run *run, const char *name, bool jsonl)
{
	json_t *doc = run->doc, *job = json_object_get(doc, "job");
	json_t *world = json_object_get(doc, "world"), *plan = json_object_get(doc, "plan");
	json_t *schema = json_object_get(doc, "schema");

	if (!json_is_object(doc) || !json_is_integer(schema)) {
		set_why(run, TL_RUN_UNUSABLE, "%s: not a trainload result (no schema)", name);
		return;
	}
	if (json_integer_value(schema) != TL_RESULT_SCHEMA) {
		set_why(run, TL_RUN_UNUSABLE, "%s: schema %lld (this trainload-report reads %d)",
			name, (long long)json_integer_value(schema), TL_RESULT_SCHEMA);
		return;
	}
	if (json_is_object(json_object_get(job, "sweep"))) {
		set_why(run, TL_RUN_SWEEP, "a collective sweep: its points join the collective fits");
		return;
	}
	json_t *model = json_object_get(job, "model"), *par = json_object_get(job, "parallel");
	if (!json_is_object(model) || !json_is_object(par) || !json_is_object(world) ||
	    !json_is_object(plan) || !json_is_array(json_object_get(doc, "steps"))) {
		set_why(run, TL_RUN_UNUSABLE, "%s: lacks job, world, plan or steps", name);
		return;
	}
	if (!consistent(run, name) || !steps_consistent(run, name, jsonl))
		return;
	if (count(world, "ranks") > INT_MAX) {
		set_why(run, TL_RUN_UNUSABLE, "%s: world.ranks = %" PRIu64 ", more than the %d ranks "
			"a report handles", name, count(world, "ranks"), INT_MAX);
		return;
	}
	curve_key(job, run->key);
	run->model_name = json_string_value(json_object_get(model, "name"));
	if (!run->model_name)
		run->model_name = "?";
	run->ranks = (int)count(world, "ranks");
	run->nodes = (int)count(world, "nodes");
	run->dp = count(world, "dp");
	run->global_batch = count(par, "global_batch");
	run->tokens_per_step = count(plan, "tokens_per_step");
	run->model_flops_per_step = num(plan, "model_flops_per_step");
	run->peak_tflops_per_rank = num(json_object_get(doc, "summary"), "peak_tflops_per_rank");

	const char *status = json_string_value(json_object_get(doc, "status"));
	if (run->state == TL_RUN_COMPLETE && !json_is_object(json_object_get(doc, "summary")))
		set_why(run, TL_RUN_PARTIAL, "no summary: the run did not finish");
	else if (run->state == TL_RUN_COMPLETE && status && strcmp(status, "completed"))
		set_why(run, TL_RUN_PARTIAL, "status %s", status);
	figures(run);
	if (!run->fig.steps && run->state == TL_RUN_COMPLETE)
		set_why(run, TL_RUN_UNUSABLE, "%s: no step in its steps (a run that finished has "
			"one at least)", name);
	else if (!run->fig.steps && run->state != TL_RUN_UNUSABLE)
		set_why(run, run->state, "%s%sno finished step", run->why, *run->why ? "; " : "");
}

/* Why jansson could not read a document of size bytes, and whether it was cut short: input
 * that ends where the file does, with the document unfinished. A parse that stopped before the
 * end met binary data (jansson takes a NUL byte for the end) or data after the document. */
static bool unread(const json_error_t *err, size_t size, char *why, size_t len)
{
	enum json_error_code code = json_error_code(err);

	if (code == json_error_premature_end_of_input && (size_t)err->position >= size) {
		snprintf(why, len, "%s", size ? "cut short: " : "empty: no JSON document in it");
		return size > 0;
	}
	if (code == json_error_end_of_input_expected)
		snprintf(why, len, "data after the JSON document: ");
	else if (code == json_error_premature_end_of_input || code == json_error_null_character)
		snprintf(why, len, "binary data (a NUL byte): not JSON");
	else
		snprintf(why, len, "not JSON: ");
	return false;
}

/* What jansson made of a document of size bytes (doc, or NULL and err). */
static void take_doc(struct tl_run *run, const char *name, json_t *doc, const json_error_t *err,
		     size_t size)
{
	char why[96];

	run->state = TL_RUN_COMPLETE;
	run->doc = doc;
	if (!doc) {
		bool cut = unread(err, size, why, sizeof(why));
		bool text = why[strlen(why) - 1] == ' '; /* jansson's words follow */
		set_why(run, cut ? TL_RUN_PARTIAL : TL_RUN_UNUSABLE, "%s:%d: %s%s", name, err->line,
			why, text ? err->text : "");
		return;
	}
	interpret(run, name, false);
}

void tl_report_read_doc(struct tl_run *run, const char *name, const char *text, size_t len)
{
	json_error_t err;

	take_doc(run, name, json_loadb(text, len, 0, &err), &err, len);
}

/* A JSONL: its header line, then steps. Only the last line may be cut short (by a kill), and is
 * then skipped; a line that is not JSON anywhere else makes the file unusable. */
static void read_jsonl(struct tl_run *run, const char *path, FILE *f)
{
	char *line = NULL, why[96];
	size_t cap = 0, lineno = 0;
	ssize_t len;
	json_t *steps = json_array();
	bool cut = false;

	run->state = TL_RUN_PARTIAL;
	while (run->state != TL_RUN_UNUSABLE && (len = getline(&line, &cap, f)) > 0) {
		json_error_t err;
		json_t *rec = json_loadb(line, (size_t)len, 0, &err);
		bool whole = line[len - 1] == '\n';

		lineno++;
		if (!rec) {
			if (unread(&err, (size_t)len, why, sizeof(why)) && !whole) {
				cut = true; /* the last line, cut short */
				continue;
			}
			set_why(run, TL_RUN_UNUSABLE, "%s:%zu: %s%s", path, lineno, why,
				why[strlen(why) - 1] == ' ' ? err.text : "");
			continue;
		}
		if (lineno == 1 && json_object_get(rec, "job")) {
			run->doc = rec;
			continue;
		}
		if (json_object_get(rec, "step"))
			json_array_append(steps, rec);
		json_decref(rec);
	}
	free(line);
	if (run->state == TL_RUN_UNUSABLE || !run->doc) {
		if (!run->doc)
			set_why(run, TL_RUN_UNUSABLE, "%s: no header line (written by trainload "
				"before 0.1.0's JSONL header?)", path);
		json_decref(run->doc);
		run->doc = NULL;
		json_decref(steps);
		return;
	}
	json_object_set_new(run->doc, "steps", steps);
	interpret(run, path, true);
	if (run->state != TL_RUN_UNUSABLE)
		set_why(run, TL_RUN_PARTIAL, "no JSON document; %zu finished step(s) in the JSONL%s",
			run->fig.steps, cut ? " (its last line, cut short, skipped)" : "");
}

static struct tl_run *add_run(struct tl_report_inputs *in, const char *path)
{
	struct tl_run *grown = realloc(in->runs, (in->count + 1) * sizeof(*grown));

	if (!grown)
		return NULL;
	in->runs = grown;
	struct tl_run *run = &in->runs[in->count];
	*run = (struct tl_run){ .path = strdup(path) };
	if (!run->path)
		return NULL;
	in->count++;
	return run;
}

static int load_file(struct tl_report_inputs *in, const char *path)
{
	struct tl_run *run = add_run(in, path);
	struct stat st;

	if (!run)
		return -1;
	if (stat(path, &st) != 0) {
		set_why(run, TL_RUN_UNUSABLE, "%s: %s", path, strerror(errno));
		return 0;
	}
	/* Read no further than a result can be: a FIFO would wait for ever, a device go on. */
	if (S_ISDIR(st.st_mode)) {
		set_why(run, TL_RUN_UNUSABLE, "%s: a directory %s", path,
			has_suffix(path, "/") ? "with no .json or .jsonl file in it"
					      : "inside one given: only a given directory's own "
						"files are read");
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		set_why(run, TL_RUN_UNUSABLE, "%s: not a regular file (%s)", path,
			S_ISFIFO(st.st_mode) ? "a FIFO" : S_ISCHR(st.st_mode) ? "a device" : "special");
		return 0;
	}
	if ((uint64_t)st.st_size > TL_REPORT_FILE_MAX) {
		set_why(run, TL_RUN_UNUSABLE, "%s: %lld bytes, more than the %d GiB a result is read "
			"up to", path, (long long)st.st_size, (int)(TL_REPORT_FILE_MAX >> 30));
		return 0;
	}
	FILE *file = fopen(path, "r");
	if (!file) {
		set_why(run, TL_RUN_UNUSABLE, "%s: %s", path, strerror(errno));
		return 0;
	}
	if (has_suffix(path, ".jsonl")) {
		read_jsonl(run, path, file);
		fclose(file);
		return 0;
	}
	json_error_t err;
	take_doc(run, path, json_loadf(file, 0, &err), &err, (size_t)st.st_size);
	fclose(file);
	if (run->state != TL_RUN_PARTIAL || run->fig.steps)
		return 0;
	/* A JSON cut short: the JSONL beside it may hold the finished steps. */
	char *jl = tl_jsonl_path(path);
	FILE *f = jl ? fopen(jl, "r") : NULL;
	if (f) {
		struct tl_run from_jsonl = { 0 };
		read_jsonl(&from_jsonl, jl, f);
		fclose(f);
		if (from_jsonl.state == TL_RUN_PARTIAL && from_jsonl.fig.steps) {
			char why[sizeof(run->why)];
			snprintf(why, sizeof(why), "%.100s; %zu step(s) from %.100s", run->why,
				 from_jsonl.fig.steps, jl);
			json_decref(run->doc);
			free(run->path);
			*run = from_jsonl;
			run->path = strdup(path);
			set_why(run, TL_RUN_PARTIAL, "%s", why);
		} else
			json_decref(from_jsonl.doc);
	}
	if (!run->fig.steps) {
		char why[2 * sizeof(run->why)];
		snprintf(why, sizeof(why), "%.160s; no finished step (no %.80s beside it)", run->why,
			 jl ? base_name(jl) : "JSONL");
		set_why(run, TL_RUN_PARTIAL, "%s", why);
	}
	free(jl);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct tl_run *)a)->path, ((const struct tl_run *)b)->path);
}

/* The files to read: directories expanded to their *.json and *.jsonl, duplicates dropped,
 * and a .jsonl dropped when its .json is there too (the JSON reads it when it needs to). */
/* dir/name (dir/ when name is ""), malloc'd. */
static char *joined(const char *dir, const char *name)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char *full = malloc(len);

	if (full)
		snprintf(full, len, "%s%s%s", dir, has_suffix(dir, "/") ? "" : "/", name);
	return full;
}

/* Append name (taken over; NULL: out of memory) to list; false when out of memory. */
static bool push(char ***list, size_t *n, size_t *cap, char *name)
{
	if (name && *n == *cap) {
		char **grown = realloc(*list, (*cap = 2 * *cap + 16) * sizeof(**list));
		if (!grown) {
			free(name);
			return false;
		}
		*list = grown;
	}
	if (name)
		(*list)[(*n)++] = name;
	return name != NULL;
}

static char **free_list(char **list, size_t n)
{
	for (size_t j = 0; j < n; j++)
		free(list[j]);
	free(list);
	return NULL;
}

static char **expand(char *const *paths, size_t npaths, size_t *count)
{
	char **list = NULL;
	size_t n = 0, cap = 0;

	for (size_t i = 0; i < npaths; i++) {
		struct stat st;
		DIR *dir = stat(paths[i], &st) == 0 && S_ISDIR(st.st_mode) ? opendir(paths[i]) : NULL;
		struct dirent *e;
		size_t before = n;
		bool ok = true;

		if (!dir)
			ok = push(&list, &n, &cap, strdup(paths[i]));
		while (ok && dir && (e = readdir(dir)))
			if (has_suffix(e->d_name, ".json") || has_suffix(e->d_name, ".jsonl"))
				ok = push(&list, &n, &cap, joined(paths[i], e->d_name));
		/* A directory with no result in it is said to be so ("DIR/"), not passed over. */
		if (ok && dir && n == before)
			ok = push(&list, &n, &cap, joined(paths[i], ""));
		if (dir)
			closedir(dir);
		if (!ok)
			return free_list(list, n);
	}
	if (n)
		qsort(list, n, sizeof(*list), by_name);
	bool *drop = calloc(n ? n : 1, sizeof(*drop));
	if (!drop)
		return free_list(list, n);
	for (size_t i = 0; i < n; i++) {
		drop[i] = i && !strcmp(list[i - 1], list[i]);
		if (!drop[i] && has_suffix(list[i], ".jsonl")) {
			size_t len = strlen(list[i]);
			for (size_t j = 0; j < n && !drop[i]; j++)
				drop[i] = strlen(list[j]) == len - 1 &&
					  !strncmp(list[j], list[i], len - 1);
		}
	}
	size_t kept = 0;
	for (size_t i = 0; i < n; i++) {
		if (drop[i])
			free(list[i]);
		else
			list[kept++] = list[i];
	}
	free(drop);
	*count = kept;
	return list ? list : calloc(1, sizeof(*list));
}

int tl_report_load(struct tl_report_inputs *in, char *const *paths, size_t npaths)
{
	size_t n = 0;
	char **files = expand(paths, npaths, &n);
	int rc = files ? 0 : -1;

	for (size_t i = 0; i < n; i++) {
		if (!rc)
			rc = load_file(in, files[i]);
		free(files[i]);
	}
	free(files);
	if (in->count)
		qsort(in->runs, in->count, sizeof(*in->runs), by_path);
	return rc;
}

void tl_report_inputs_free(struct tl_report_inputs *in)
{
	for (size_t i = 0; i < in->count; i++) {
		free(in->runs[i].path);
		json_decref(in->runs[i].doc);
	}
	free(in->runs);
	*in = (struct tl_report_inputs){ 0 };
}
