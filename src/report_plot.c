/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --plot DIR: gnuplot draws the scaling study. The data (report-N.dat, predicted-N.dat and
 * sweeps.dat) and the script (report.gp) are written to DIR and kept, so that a user can restyle
 * a picture with `cd DIR && gnuplot report.gp`; gnuplot runs in DIR and writes each picture as
 * .svg and .png:
 *   throughput    tokens/s against nodes (or ranks on one node), with the ideal line
 *   efficiency    scaling efficiency, with the ideal 100% line inside the frame
 *   breakdown[-N] where the time goes, stacked, one bar per scale (the parts that are zero left
 *                 out of the bars and the legend)
 *   predicted[-N] predicted against measured step time, the extrapolated region shaded
 *   busbw         busbw against message size (log-log), one line per sweep, op and group
 * Every title says the job, the scaling mode, the hardware and the date; legends sit outside
 * the data; repeated runs of a scale are drawn at their mean with their min and max as bars.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report_write.h"
#include "trainload/metrics.h"

/* gnuplot's exit status when it could not be started at all. */
#define NOT_FOUND 127

/* Columns of report-N.dat: x ranks nodes tokens/s (mean, at the min and max step time) ideal
 * efficiency% (mean, min, max), then the breakdown parts (compute, tl_shown_groups' comm,
 * bubble, optimizer, other: PARTS of them). */
enum {
	COL_X = 1,
	COL_TOK = 4,
	COL_TOK_LO,
	COL_TOK_HI,
	COL_IDEAL,
	COL_EFF,
	COL_EFF_LO,
	COL_EFF_HI,
	COL_PART0
};
#define PARTS (TL_SHOWN_GROUPS + 4)

static FILE *open_in(const char *dir, const char *name)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char *path = malloc(len);
	FILE *f = NULL;

	if (path) {
		snprintf(path, len, "%s/%s", dir, name);
		if (!(f = fopen(path, "w")))
			fprintf(stderr, "trainload-report: cannot write %s: %s\n", path,
			        strerror(errno));
		free(path);
	}
	return f;
}

/* DIR/STEM-N.dat, the data of job N (index + 1). */
static FILE *open_data(const char *dir, const char *stem, size_t index)
{
	char file[64];

	snprintf(file, sizeof(file), "%s-%zu.dat", stem, index + 1);
	return open_in(dir, file);
}

/* Text from result files inside a gnuplot double-quoted string: quotes and backslashes
 * escaped, control characters (a newline would end the command) left out. Enhanced text is off
 * in the script, so '_' and '^' print as they are. */
static const char *quoted(const char *name, char *buf, size_t len)
{
	size_t out = 0;

	for (const char *p = name ? name : "?"; *p && out + 3 < len; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			continue;
		if (*p == '"' || *p == '\\')
			buf[out++] = '\\';
		buf[out++] = *p;
	}
	buf[out] = '\0';
	return buf;
}

static const char *part_name(int k)
{
	static const char *const others[] = {"compute", "bubble", "optimizer", "other"};

	if (k == 0)
		return others[0];
	if (k <= TL_SHOWN_GROUPS)
		return tl_comm_part_names[k - 1];
	return others[k - TL_SHOWN_GROUPS];
}

static double part_value(const struct tl_run_figures *f, int k)
{
	if (k == 0)
		return f->compute;
	if (k <= TL_SHOWN_GROUPS)
		return f->comm[k - 1];
	return k == TL_SHOWN_GROUPS + 1   ? f->bubble
	       : k == TL_SHOWN_GROUPS + 2 ? f->optimizer
	                                  : f->other;
}

/* One colour per part of the breakdown, in the tables' order (compute, tp cp pp dp ep comm,
 * bubble, optimizer, other): gnuplot's own cycle repeats after eight. */
static const char *const part_colours[PARTS] = {"#4477aa", "#ee6677", "#228833",
                                                "#ccbb44", "#66ccee", "#aa3377",
                                                "#bbbbbb", "#222222", "#ee8866"};

/* What every plot's x axis counts: nodes once some run spans more than one, else ranks. */
struct axis {
	bool nodes;
};

static int x_of(const struct axis *ax, int ranks, int nodes)
{
	return ax->nodes ? nodes : ranks;
}

/* What the pictures show, for their titles: the jobs with their scaling modes, the hardware
 * and the dates of their runs. */
struct about {
	char jobs[256];
	char hardware[160];
	char dates[40];
};

static void about_runs(const struct tl_report *rep, const struct tl_report_inputs *in, size_t only,
                       struct about *a)
{
	char first[11] = "", last[11] = "", hw[160] = "";
	bool mixed = false;
	size_t used = 0;

	*a = (struct about){0};
	for (size_t g = 0; g < rep->count; g++) {
		const struct tl_report_group *grp = &rep->groups[g];
		if (only != SIZE_MAX && g != only)
			continue;
		used += (size_t)snprintf(a->jobs + used,
		                         used < sizeof(a->jobs) ? sizeof(a->jobs) - used : 0,
		                         "%s%s (%s scaling)", used ? ", " : "", grp->model_name,
		                         grp->scaling == TL_SCALING_STRONG ? "strong" : "weak");
		for (size_t i = 0; i < grp->count; i++) {
			const json_t *env =
			    json_object_get(in->runs[grp->runs[i]].doc, "environment");
			const char *gpu = json_string_value(json_object_get(env, "gpu_model"));
			const char *cpu = json_string_value(json_object_get(env, "cpu_model"));
			const char *when = json_string_value(json_object_get(env, "start_time"));
			const char *model = gpu && *gpu ? gpu : cpu && *cpu ? cpu : NULL;
			if (model && !*hw)
				snprintf(hw, sizeof(hw), "%s", model);
			else if (model && strcmp(hw, model))
				mixed = true;
			if (when && strlen(when) >= 10) {
				if (!*first || strncmp(when, first, 10) < 0)
					snprintf(first, sizeof(first), "%.10s", when);
				if (!*last || strncmp(when, last, 10) > 0)
					snprintf(last, sizeof(last), "%.10s", when);
			}
		}
	}
	snprintf(a->hardware, sizeof(a->hardware), "%s",
	         mixed ? "mixed hardware"
	         : *hw ? hw
	               : "hardware not recorded");
	if (!*first)
		snprintf(a->dates, sizeof(a->dates), "date not recorded");
	else if (strcmp(first, last))
		snprintf(a->dates, sizeof(a->dates), "%s to %s", first, last);
	else
		snprintf(a->dates, sizeof(a->dates), "%s", first);
}

/* The legend under the plot, off the data, in rows of at most three entries, with room for
 * them under the axis label. */
static void key_below(FILE *gp, size_t entries)
{
	size_t rows = (entries + 2) / 3;

	fprintf(gp, "set key below center horizontal maxcols 3\nset bmargin %.1f\n",
	        4.0 + 1.2 * (double)(rows ? rows : 1));
}

/* set title "WHAT: jobs\nhardware, dates" */
static void title(FILE *gp, const char *what, const struct about *a)
{
	char jobs[512], hw[320], dates[80];

	fprintf(gp, "set title \"%s: %s\\n%s, %s\"\n", what, quoted(a->jobs, jobs, sizeof(jobs)),
	        quoted(a->hardware, hw, sizeof(hw)), quoted(a->dates, dates, sizeof(dates)));
}

/* One job's table, one row per scale (repeats at their mean, with their spread). Which parts
 * of the breakdown are ever more than 0.1% of the step goes to nonzero[PARTS]; the largest
 * efficiency (percent) is returned through *eff_max. */
static int write_data(const struct tl_report_group *g, const struct tl_report_inputs *in,
                      const struct tl_report_scale *sc, size_t n, const struct axis *ax,
                      const char *dir, size_t index, bool *nonzero, double *eff_max)
{
	char name[160];
	FILE *f = open_data(dir, "report", index);

	if (!f)
		return -1;
	fprintf(f,
	        "# %s (job %s), %s scaling; a row per scale: the mean of its runs, with the "
	        "figures at the min and max step time\n# %s ranks nodes tokens/s tokens/s_lo "
	        "tokens/s_hi ideal efficiency%% efficiency%%_lo efficiency%%_hi",
	        quoted(g->model_name, name, sizeof(name)), g->key,
	        g->scaling == TL_SCALING_STRONG ? "strong" : "weak", ax->nodes ? "nodes" : "ranks");
	for (int k = 0; k < PARTS; k++)
		fprintf(f, " %s", part_name(k));
	fputc('\n', f);
	for (size_t i = 0; i < n; i++) {
		const struct tl_run *first = &in->runs[g->runs[sc[i].first]];
		double s_lo, e_lo, s_hi, e_hi, parts[PARTS] = {0};
		/* the slowest run gives the lowest throughput and efficiency */
		tl_scaling_figures(g->scaling, (uint64_t)sc[0].ranks, sc[0].p50_mean,
		                   (uint64_t)sc[i].ranks, sc[i].p50_max, &s_lo, &e_lo);
		tl_scaling_figures(g->scaling, (uint64_t)sc[0].ranks, sc[0].p50_mean,
		                   (uint64_t)sc[i].ranks, sc[i].p50_min, &s_hi, &e_hi);
		for (size_t r = 0; r < sc[i].runs; r++)
			for (int k = 0; k < PARTS; k++)
				parts[k] += part_value(&in->runs[g->runs[sc[i].first + r]].fig, k) /
				            (double)sc[i].runs;
		fprintf(f, "%d %d %d %.6g %.6g %.6g %.6g %.6g %.6g %.6g",
		        x_of(ax, sc[i].ranks, sc[i].nodes), sc[i].ranks, sc[i].nodes,
		        sc[i].tokens_per_s, tl_tokens_per_s(first->tokens_per_step, sc[i].p50_max),
		        tl_tokens_per_s(first->tokens_per_step, sc[i].p50_min),
		        sc[0].tokens_per_s * sc[i].ranks / sc[0].ranks, 100 * sc[i].efficiency,
		        100 * e_lo, 100 * e_hi);
		for (int k = 0; k < PARTS; k++) {
			fprintf(f, " %.6g", parts[k]);
			/* a part too thin to see at any scale stays out of the legend too */
			nonzero[k] |= parts[k] > 1e-3 * sc[i].p50_mean;
		}
		fputc('\n', f);
		*eff_max = fmax(*eff_max, 100 * e_hi);
	}
	return fclose(f) ? -1 : 0;
}

/* predicted-N.dat: x, predicted step, measured step (mean, min, max; "?" where not measured).
 * The largest measured x goes to *x_measured, the next predicted one to *x_next (0: none), the
 * largest to *x_last. */
static int write_predicted(const struct tl_report_group *g, const struct tl_report_scale *sc,
                           size_t n, const struct axis *ax, const char *dir, size_t index,
                           double *x_measured, double *x_next, double *x_last)
{
	FILE *f = open_data(dir, "predicted", index);

	if (!f)
		return -1;
	fprintf(f, "# %s predicted_s measured_s measured_s_min measured_s_max\n",
	        ax->nodes ? "nodes" : "ranks");
	*x_measured = *x_next = *x_last = 0;
	for (size_t i = 0; i < g->npredictions; i++) {
		const struct tl_prediction *p = &g->predictions[i];
		const struct tl_report_scale *m = NULL;
		if (!p->ok)
			continue;
		for (size_t k = 0; k < n && !m; k++)
			if ((uint64_t)sc[k].ranks == p->ranks)
				m = &sc[k];
		double x = x_of(ax, (int)p->ranks, m ? m->nodes : (int)p->nodes);
		fprintf(f, "%g %.6g", x, p->step_s);
		if (m)
			fprintf(f, " %.6g %.6g %.6g\n", m->p50_mean, m->p50_min, m->p50_max);
		else
			fprintf(f, " ? ? ?\n");
		if (m)
			*x_measured = fmax(*x_measured, x);
		*x_last = fmax(*x_last, x);
	}
	/* predictions come measured scales first, then the projected ones, each in order */
	for (size_t i = 0; i < g->npredictions; i++) {
		const struct tl_prediction *p = &g->predictions[i];
		double x = x_of(ax, (int)p->ranks, (int)p->nodes);
		if (p->ok && x > *x_measured && (!*x_next || x < *x_next))
			*x_next = x;
	}
	return fclose(f) ? -1 : 0;
}

/* sweeps.dat: one block (gnuplot's index) per sweep, op and group: bytes and busbw. The titles
 * of the blocks are written to the script; returns how many blocks, or -1. */
static int write_sweeps(const struct tl_report_inputs *in, const char *dir, FILE *titles)
{
	FILE *f = NULL;
	int blocks = 0;
	char op_name[64], group[64], file[160];

	for (size_t i = 0; i < in->count; i++) {
		const json_t *c, *prev = NULL;
		size_t j;
		if (in->runs[i].state != TL_RUN_SWEEP)
			continue;
		json_array_foreach(json_object_get(in->runs[i].doc, "collectives"), j, c)
		{
			const char *op = json_string_value(json_object_get(c, "op"));
			const char *grp = json_string_value(json_object_get(c, "group"));
			double bytes = json_number_value(json_object_get(c, "bytes"));
			double busbw = json_number_value(json_object_get(c, "busbw_gbps"));
			if (!op || !grp || !(bytes > 0) || !(busbw > 0))
				continue;
			if (!f && !(f = open_in(dir, "sweeps.dat")))
				return -1;
			if (!prev || strcmp(op, json_string_value(json_object_get(prev, "op"))) ||
			    strcmp(grp, json_string_value(json_object_get(prev, "group")))) {
				if (blocks++)
					fprintf(f, "\n\n");
				fprintf(f, "# %s: %s on %s\n", in->runs[i].path, op, grp);
				snprintf(group, sizeof(group), "%s of %lld", grp,
				         (long long)json_integer_value(
				             json_object_get(c, "group_size")));
				const char *slash = strrchr(in->runs[i].path, '/');
				fprintf(titles, "%s\"%s %s (%s)\"", blocks > 1 ? ", " : "",
				        quoted(op, op_name, sizeof(op_name)), group,
				        quoted(slash ? slash + 1 : in->runs[i].path, file,
				               sizeof(file)));
			}
			prev = c;
			fprintf(f, "%.0f %.6g\n", bytes, busbw);
		}
	}
	if (f && fclose(f))
		return -1;
	return blocks;
}

static void plot_scaling(FILE *gp, const struct tl_report *rep, bool efficiency)
{
	char name[160];

	fprintf(gp, "plot ");
	for (size_t g = 0; g < rep->count; g++) {
		const char *sep = g ? ", \\\n     " : "";
		quoted(rep->groups[g].model_name, name, sizeof(name));
		/* the measured points at their mean, with bars from the slowest to the fastest
		 * repeat */
		fprintf(gp,
		        "%s'report-%zu.dat' using 1:%d:%d:%d with yerrorlines lw 2 pt 7 ps 1.2 "
		        "lc %zu title \"%s\"",
		        sep, g + 1, efficiency ? COL_EFF : COL_TOK,
		        efficiency ? COL_EFF_LO : COL_TOK_LO, efficiency ? COL_EFF_HI : COL_TOK_HI,
		        g + 1, name);
		if (!efficiency)
			fprintf(
			    gp,
			    ", \\\n     'report-%zu.dat' using 1:%d with lines dt 2 lw 2 lc %zu "
			    "title \"%s, ideal\"",
			    g + 1, COL_IDEAL, g + 1, name);
	}
	if (efficiency)
		fprintf(
		    gp,
		    ", \\\n     100 with lines dt 2 lw 2 lc rgb '#555555' title 'ideal (100%%)'");
	fprintf(gp, "\n");
}

static void plot_breakdown(FILE *gp, size_t g, const bool *nonzero)
{
	bool first = true;

	fprintf(gp, "plot ");
	for (int k = 0; k < PARTS; k++) {
		if (!nonzero[k])
			continue;
		fprintf(gp, "%s'report-%zu.dat' using %d%s lc rgb '%s' title '%s'",
		        first ? "" : ", ", g + 1, COL_PART0 + k, first ? ":xtic(1)" : "",
		        part_colours[k], part_name(k));
		first = false;
	}
	if (first) /* every part zero: an empty frame rather than a script error */
		fprintf(gp, "'report-%zu.dat' using %d:xtic(1) lc rgb '%s' notitle", g + 1,
		        COL_PART0, part_colours[0]);
	fprintf(gp, "\n");
}

/* What each job's pictures need besides the data. */
struct job_plot {
	bool nonzero[PARTS];
	double x_measured, x_next, x_last; /* predicted-N: extrapolation past x_measured */
};

static void write_script(FILE *gp, const struct tl_report *rep, const struct tl_report_inputs *in,
                         const struct axis *ax, const struct job_plot *jobs, double eff_max,
                         int sweep_blocks, const char *sweep_titles)
{
	static const char *const terminals[][2] = {
	    {"svg size 900,560 dynamic background rgb 'white' font 'sans,12'", "svg"},
	    {"pngcairo size 900,560 font 'sans,11'", "png"},
	};
	const char *xlabel = ax->nodes ? "nodes" : "ranks";
	struct about all;

	about_runs(rep, in, SIZE_MAX, &all);
	fprintf(gp,
	        "# Written by trainload-report %s; run it in this folder: gnuplot report.gp\n"
	        "set grid\nset datafile missing '?'\n",
	        PACKAGE_VERSION);
	for (size_t t = 0; t < 2; t++) {
		fprintf(gp, "\nset terminal %s\nset termoption noenhanced\n", terminals[t][0]);
		/* log-log: the ideal line of a weak or strong curve is straight */
		fprintf(gp,
		        "set output 'throughput.%s'\nset xlabel '%s'\nset ylabel 'tokens/s'\n"
		        "set logscale xy 2\n",
		        terminals[t][1], xlabel);
		key_below(gp, 2 * rep->count);
		title(gp, "Throughput", &all);
		plot_scaling(gp, rep, false);
		/* the ideal 100% line inside the frame, not on its edge */
		fprintf(gp,
		        "set output 'efficiency.%s'\nset ylabel 'scaling efficiency (%%)'\n"
		        "unset logscale y\nset yrange [0:%g]\n",
		        terminals[t][1], fmax(120, ceil(eff_max * 1.15 / 10) * 10));
		key_below(gp, rep->count + 1);
		title(gp, "Scaling efficiency", &all);
		plot_scaling(gp, rep, true);
		fprintf(gp, "set yrange [*:*]\n");
		for (size_t g = 0; g < rep->count; g++) {
			char suffix[24] = "";
			struct about one;
			about_runs(rep, in, g, &one);
			if (g)
				snprintf(suffix, sizeof(suffix), "-%zu", g + 1);
			fprintf(
			    gp,
			    "set output 'breakdown%s.%s'\nunset logscale\n"
			    "set style data histograms\nset style histogram rowstacked\n"
			    "set style fill solid 0.85 border -1\nset boxwidth 0.6\n"
			    "set key outside right top vertical\nset bmargin\nset ylabel 'seconds "
			    "per step (slowest rank, p50 of each part)'\nset xlabel '%s'\n",
			    suffix, terminals[t][1], xlabel);
			title(gp, "Where the time goes", &one);
			plot_breakdown(gp, g, jobs[g].nonzero);
			fprintf(gp, "set style data linespoints\n");
			if (!(jobs[g].x_last > 0))
				continue;
			/* predicted against measured; what lies past the last measured scale is
			 * extrapolation, and shaded as such */
			fprintf(gp,
			        "set output 'predicted%s.%s'\nset logscale x 2\n"
			        "set ylabel 'step time (s)'\nset yrange [0:*]\n",
			        suffix, terminals[t][1]);
			key_below(gp, 2);
			if (jobs[g].x_next > 0 && jobs[g].x_measured > 0) {
				/* halfway (on the log axis) between the last measured scale and
				 * the first projected one */
				double from = sqrt(jobs[g].x_measured * jobs[g].x_next);
				fprintf(
				    gp,
				    "set xrange [*:%g]\n"
				    "set object 1 rect from first %g, graph 0 to graph 1, graph "
				    "1 behind fillcolor rgb '#e8e8e8' fillstyle solid 1.0 "
				    "noborder\nset label 1 'extrapolated' at first %g, graph 0.95 "
				    "offset 1,0 textcolor rgb '#666666'\n",
				    jobs[g].x_last * 1.5, from, from);
			}
			title(gp, "Predicted and measured step time", &one);
			fprintf(
			    gp,
			    "plot 'predicted-%zu.dat' using 1:2 with linespoints lw 2 pt 6 "
			    "lc rgb '#4477aa' title 'predicted (the report''s model)', '' using "
			    "1:3:4:5 with yerrorbars pt 7 ps 1.3 lc rgb '#ee6677' title "
			    "'measured (mean, min-max)'\n"
			    "unset object 1\nunset label 1\nset xrange [*:*]\nset yrange [*:*]\n",
			    g + 1);
		}
		if (sweep_blocks > 0) {
			fprintf(gp,
			        "set output 'busbw.%s'\nset logscale x 2\nset logscale y 10\n"
			        "set xlabel 'message size (bytes; k, M, G: binary)'\n"
			        "set format x '%%.0b%%B'\nset ylabel 'busbw (GB/s)'\n",
			        terminals[t][1]);
			key_below(gp, (size_t)sweep_blocks);
			char hw[320], dates[80];
			fprintf(gp,
			        "set title \"Bus bandwidth against message size (sweeps)\\n%s, "
			        "%s\"\n",
			        quoted(all.hardware, hw, sizeof(hw)),
			        quoted(all.dates, dates, sizeof(dates)));
			fprintf(gp, "array sweep_titles[%d] = [%s]\n", sweep_blocks, sweep_titles);
			fprintf(gp,
			        "plot for [i=0:%d] 'sweeps.dat' index i using 1:2 with "
			        "linespoints lw 2 pt 7 title sweep_titles[i+1]\n"
			        "set format x '%% h'\nunset logscale\n",
			        sweep_blocks - 1);
		}
	}
}

/* Run gnuplot report.gp in dir; its status, or NOT_FOUND. */
static int run_gnuplot(const char *dir)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (chdir(dir) == 0)
			execlp("gnuplot", "gnuplot", "report.gp", (char *)NULL);
		_exit(errno == ENOENT ? NOT_FOUND : 126);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int tl_report_plot(const struct tl_report *rep, const struct tl_report_inputs *in, const char *dir)
{
	struct axis ax = {0};
	struct job_plot *jobs;
	double eff_max = 100;
	char *titles = NULL;
	size_t titles_len = 0;
	int rc = 0, blocks;

	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "trainload-report: cannot create %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (!rep->count) {
		fprintf(stderr, "trainload-report: no usable run: nothing to plot\n");
		return -1;
	}
	for (size_t g = 0; g < rep->count; g++)
		for (size_t i = 0; i < rep->groups[g].count; i++)
			ax.nodes |= in->runs[rep->groups[g].runs[i]].nodes > 1;
	if (!(jobs = calloc(rep->count, sizeof(*jobs))))
		return -1;
	for (size_t g = 0; g < rep->count && !rc; g++) {
		const struct tl_report_group *grp = &rep->groups[g];
		struct tl_report_scale *sc = calloc(grp->count ? grp->count : 1, sizeof(*sc));
		size_t n = sc ? tl_report_scales(grp, in, sc) : 0;
		rc = !sc || write_data(grp, in, sc, n, &ax, dir, g, jobs[g].nonzero, &eff_max) ||
		     write_predicted(grp, sc, n, &ax, dir, g, &jobs[g].x_measured, &jobs[g].x_next,
		                     &jobs[g].x_last);
		free(sc);
	}
	FILE *t = rc ? NULL : open_memstream(&titles, &titles_len);
	blocks = t ? write_sweeps(in, dir, t) : -1;
	if (t)
		fclose(t);
	FILE *gp = blocks < 0 ? NULL : open_in(dir, "report.gp");
	if (gp) {
		write_script(gp, rep, in, &ax, jobs, eff_max, blocks, titles ? titles : "");
		rc = fclose(gp) ? -1 : 0;
	} else {
		rc = -1;
	}
	free(titles);
	free(jobs);
	if (rc)
		return -1;
	int status = run_gnuplot(dir);
	if (status == NOT_FOUND) {
		fprintf(stderr,
		        "trainload-report: gnuplot not found (Debian: apt-get install "
		        "gnuplot-nox): no plots drawn; the data and report.gp are in %s\n",
		        dir);
		return 1;
	}
	if (status != 0) {
		fprintf(stderr, "trainload-report: gnuplot failed (status %d) in %s\n", status,
		        dir);
		return -1;
	}
	return 0;
}
