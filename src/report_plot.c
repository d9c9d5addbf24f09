/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * --plot DIR: gnuplot draws the scaling curve. The data (report-N.dat, one per job) and the
 * script (report.gp) are written to DIR and kept, so that a user can restyle a picture with
 * `cd DIR && gnuplot report.gp`; gnuplot runs in DIR and writes throughput, efficiency and
 * breakdown as .svg and .png.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report_write.h"

/* gnuplot's exit status when it could not be started at all. */
#define NOT_FOUND 127

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

/* A model's name inside a gnuplot single-quoted string: a quote doubled, control characters
 * (a newline would end the command) left out. The names come from result files. */
static const char *quoted(const char *name, char *buf, size_t len)
{
	size_t out = 0;

	for (const char *p = name; *p && out + 3 < len; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			continue;
		if (*p == '\'')
			buf[out++] = '\'';
		buf[out++] = *p;
	}
	buf[out] = '\0';
	return buf;
}

/* One job's table: ranks, tokens/s, ideal tokens/s, efficiency %, then the breakdown. */
static int write_data(const struct tl_report_group *g, const struct tl_report_inputs *in,
		      const char *dir, size_t index)
{
	const struct tl_run *base = &in->runs[g->runs[g->base]];
	char file[32], name[160];

	snprintf(file, sizeof(file), "report-%zu.dat", index + 1);
	FILE *f = open_in(dir, file);
	if (!f)
		return -1;
	fprintf(f, "# %s (job %s), %s scaling\n# ranks tokens/s ideal efficiency%% compute",
		quoted(g->model_name, name, sizeof(name)), g->key,
		g->scaling == TL_SCALING_STRONG ? "strong" : "weak");
	for (int k = 0; k < TL_SHOWN_GROUPS; k++)
		fprintf(f, " %s", tl_grid_group_name(tl_shown_groups[k]));
	fprintf(f, " bubble optimizer other\n");
	for (size_t i = 0; i < g->count; i++) {
		const struct tl_run *r = &in->runs[g->runs[i]];
		const struct tl_run_figures *fig = &r->fig;
		fprintf(f, "%d %.6g %.6g %.6g %.6g", r->ranks, fig->tokens_per_s,
			base->fig.tokens_per_s * r->ranks / base->ranks, 100 * g->efficiency[i],
			fig->compute);
		for (int k = 0; k < TL_SHOWN_GROUPS; k++)
			fprintf(f, " %.6g", fig->comm[k]);
		fprintf(f, " %.6g %.6g %.6g\n", fig->bubble, fig->optimizer, fig->other);
	}
	return fclose(f) ? -1 : 0;
}

static void plot_lines(FILE *gp, const struct tl_report *rep, int column, bool ideal)
{
	char name[160];

	fprintf(gp, "plot ");
	for (size_t g = 0; g < rep->count; g++) {
		const char *sep = g ? ", \\\n     " : "";
		fprintf(gp, "%s'report-%zu.dat' using 1:%d with linespoints lw 2 pt 7 lc %zu title "
			    "'%s'",
			sep, g + 1, column, g + 1, quoted(rep->groups[g].model_name, name, sizeof(name)));
		if (ideal)
			fprintf(gp, ", \\\n     'report-%zu.dat' using 1:3 with lines dt 2 lc %zu "
				    "title '%s ideal'",
				g + 1, g + 1, quoted(rep->groups[g].model_name, name, sizeof(name)));
	}
	if (!ideal)
		fprintf(gp, ", \\\n     100 with lines dt 2 lc 'grey' title 'ideal'");
	fprintf(gp, "\n");
}

/* One colour per part of the breakdown, in the tables' order (compute, tp cp pp dp ep comm,
 * bubble, optimizer, other): gnuplot's own cycle repeats after eight. */
static const char *const part_colours[] = { "#4477aa", "#ee6677", "#228833", "#ccbb44",
					    "#66ccee", "#aa3377", "#bbbbbb", "#222222", "#ee8866" };

static void write_script(FILE *gp, const struct tl_report *rep)
{
	static const char *const terminals[][2] = {
		{ "svg size 800,500 dynamic background rgb 'white'", "svg" },
		{ "pngcairo size 800,500", "png" },
	};
	char name[160];

	fprintf(gp, "# Written by trainload-report %s; run it in this folder: gnuplot report.gp\n"
		    "set grid\nset xlabel 'ranks'\n",
		PACKAGE_VERSION);
	for (size_t t = 0; t < 2; t++) {
		fprintf(gp, "\nset terminal %s\n", terminals[t][0]);
		/* log-log: the ideal line of a weak or strong curve is straight */
		fprintf(gp, "set output 'throughput.%s'\nset ylabel 'tokens/s'\n"
			    "set logscale xy 2\nset key inside left top\n"
			    "set title 'Throughput (tokens per second) against ranks'\n",
			terminals[t][1]);
		plot_lines(gp, rep, 2, true);
		fprintf(gp, "set output 'efficiency.%s'\nset ylabel 'efficiency (%%)'\n"
			    "unset logscale y\n"
			    "set title 'Scaling efficiency against ranks'\nset yrange [0:*]\n",
			terminals[t][1]);
		plot_lines(gp, rep, 4, false);
		fprintf(gp, "set yrange [*:*]\n");
		for (size_t g = 0; g < rep->count; g++) {
			char suffix[24] = "";
			if (g)
				snprintf(suffix, sizeof(suffix), "-%zu", g + 1);
			fprintf(gp, "set output 'breakdown%s.%s'\nunset logscale x\n"
				    "set style data histograms\nset style histogram rowstacked\n"
				    "set style fill solid 0.8 border -1\nset boxwidth 0.6\n"
				    "unset logscale y\n"
				    "set key outside right top\nset ylabel 'seconds per step'\n"
				    "set xlabel 'ranks'\nset title 'Where the time goes: %s'\n",
				suffix, terminals[t][1],
				quoted(rep->groups[g].model_name, name, sizeof(name)));
			fprintf(gp, "plot 'report-%zu.dat' using 5:xtic(1) lc rgb '%s' title "
				    "'compute'",
				g + 1, part_colours[0]);
			for (int k = 0; k < TL_SHOWN_GROUPS; k++)
				fprintf(gp, ", '' using %d lc rgb '%s' title '%s comm'", 6 + k,
					part_colours[1 + k], tl_grid_group_name(tl_shown_groups[k]));
			fprintf(gp, ", '' using %d lc rgb '%s' title 'bubble', '' using %d lc rgb '%s' "
				    "title 'optimizer', '' using %d lc rgb '%s' title 'other'\n",
				6 + TL_SHOWN_GROUPS, part_colours[1 + TL_SHOWN_GROUPS],
				7 + TL_SHOWN_GROUPS, part_colours[2 + TL_SHOWN_GROUPS],
				8 + TL_SHOWN_GROUPS, part_colours[3 + TL_SHOWN_GROUPS]);
			fprintf(gp, "set style data linespoints\n");
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
	if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
		fprintf(stderr, "trainload-report: cannot create %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (!rep->count) {
		fprintf(stderr, "trainload-report: no usable run: nothing to plot\n");
		return -1;
	}
	for (size_t g = 0; g < rep->count; g++)
		if (write_data(&rep->groups[g], in, dir, g))
			return -1;
	FILE *gp = open_in(dir, "report.gp");
	if (!gp)
		return -1;
	write_script(gp, rep);
	if (fclose(gp))
		return -1;
	int status = run_gnuplot(dir);
	if (status == NOT_FOUND) {
		fprintf(stderr, "trainload-report: gnuplot not found (Debian: apt-get install "
				"gnuplot-nox): no plots drawn; the data and report.gp are in %s\n",
			dir);
		return 1;
	}
	if (status != 0) {
		fprintf(stderr, "trainload-report: gnuplot failed (status %d) in %s\n", status, dir);
		return -1;
	}
	return 0;
}
