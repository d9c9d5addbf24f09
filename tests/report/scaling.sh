#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# trainload-report on real runs made here: the tiny job at 1, 2 and 4 ranks becomes a Markdown
# report and plots with one command; speedup, efficiency and MFU in the report are recomputed
# from the result files; a repeat is aggregated (mean, min, max, count); every run's provenance
# and warnings are shown; overlapped collectives get no bandwidth; a sweep gets its own table and
# busbw plot and is not listed as missing; --scaling strong on weak data is warned about; the
# plots' script holds titles and ideal series; a truncated result is named as partial, a run
# killed before its JSON (JSONL only) is used as partial, gnuplot's absence is said and the
# tables still written, and bad usage exits 2. Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
need_jq
job=$TL_SRCDIR/data/good/tiny.job

for n in 1 2 4; do
	run_trainload run$n "$n" "$job" --quiet --set run.steps=3 --output r$n.json
	expect_rc run$n 0
done
# a repeat at 2 ranks, and a small sweep
run_trainload run2b 2 "$job" --quiet --set run.steps=3 --output r2b.json
expect_rc run2b 0
run_trainload sweep 2 sweep --quiet --set sweep.max_bytes=1Ki --set sweep.iters=2 --output sweep.json
expect_rc sweep 0
# A result cut short (a copy that failed half-way): no JSONL beside it, no finished step.
head -c 2000 r2.json >cut.json

# --- one command: the Markdown report and the plots -----------------------------------------
run md "$TRAINLOAD_REPORT" --output report.md --plot plots r1.json r2.json r4.json cut.json
expect_rc md 0
expect_empty md.out
grep -q '^## tiny (job [0-9a-f]\{16\}): weak scaling, 3 run(s)$' report.md || { cat report.md; fail "no weak-scaling section for tiny with 3 runs"; }
grep -q '^| cut.json | partial | cut.json:[0-9]*: cut short: .*no finished step' report.md || { cat report.md; fail "cut.json is not named as partial"; }
expect_in md.err "cut.json: partial"
for section in '### Scaling' '### Runs' '### Provenance' '### Warnings' '### Where the time goes' '### Collectives' '### Model of the step' '### Projection' '## Stragglers' '## Missing and partial runs'; do
	grep -q "^$section" report.md || fail "report.md lacks '$section'"
done
grep -q '^Conventions: .*GB = 1e9.*MFU = model FLOPs per step' report.md || fail "report.md does not state its conventions"
# the scaling table: one row per scale, in order of ranks
rows=$(sed -n '/^### Scaling/,/^### Runs/p' report.md | grep -c '^| 1 | [124] |')
[ "$rows" -eq 3 ] || { cat report.md; fail "scaling table has $rows rows, expected 3"; }
# every run's provenance: when it started, on what CPU, with which command
need_jq
for n in 1 2 4; do
	started=$(jq_get r$n.json .environment.start_time)
	echo "$started" | grep -E -q '^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z$' ||
		fail "r$n.json: start_time '$started' is not ISO 8601 UTC"
	grep -q "^| r$n.json | 1 | $n | $started | 3 | " report.md || { cat report.md; fail "no Runs row for r$n.json with its start time"; }
	expect_in report.md "- r$n.json: \`$(jq_get r$n.json .environment.command_line)\`"
done
cpu=$(jq_get r1.json '.environment.cpu_model')
grep -q "^| r1.json | [^|]* | $cpu | none | $TL_VERSION | " report.md || { cat report.md; fail "no Provenance row for r1.json naming its CPU"; }
# the dp allreduce is overlapped with backward: its time is no link speed
grep -q '^| 2 | allreduce | dp | 2 | yes | 1 | [0-9]* | [0-9.]* | overlapped | overlapped |$' report.md ||
	{ cat report.md; fail "the overlapped allreduce is shown with a bandwidth"; }

# --- the figures are the result files' ------------------------------------------------------
run js "$TRAINLOAD_REPORT" --format json r1.json r2.json r4.json
expect_rc js 0
cp js.out report.json
for n in 1 2 4; do
	jq_true report.json '
		(.groups[0].runs[] | select(.ranks == $n)) as $r |
		($one[0].summary.step_time_s.p50) as $t1 | ($res[0].summary.step_time_s.p50) as $tn |
		def close(a; b): ((a - b) | fabs) <= 1e-9 * (b | fabs) + 1e-12;
		close($r.step_time_s.p50; $tn) and
		close($r.efficiency; $t1 / $tn) and
		close($r.speedup; $n * $t1 / $tn) and
		close($r.mfu; $res[0].summary.mfu) and
		close($r.tokens_per_s; $res[0].summary.tokens_per_s) and
		close($r.model_tflops_per_rank; $res[0].summary.model_tflops_per_rank) and
		close($r.exposed_comm_share; $res[0].summary.breakdown_s.comm_exposed / $tn)' \
		--argjson n "$n" --slurpfile one r1.json --slurpfile res r$n.json
done
jq_true report.json '.groups | length == 1 and .[0].scaling == "weak" and ([.[0].runs[].ranks] == [1, 2, 4])'
# the fit saw the 2- and 4-rank runs' one bucket each, by its blocking transfer time (the
# run's transfer_us: the overlapped time in the steps holds compute), inside one node (which
# way noise tilts two points is not for a test to say: only that neither term is negative);
# predictions start with the measured scales, and past them, where the 4 ranks of a node no
# longer hold the data-parallel group, they are refused in words: nothing measured across nodes
jq_true r4.json '.collectives[0] | .nonblocking and .transfer_us > 0 and .group_nodes == 1'
jq_true report.json '.groups[0].fits | length == 1 and (.[0] | .op == "allreduce" and .group == "dp" and .points == 2 and .sweep_points == 0 and .ranks_per_node == 0 and .group_sizes == [2, 4] and .alpha_s >= 0 and .beta_s_per_byte >= 0 and .alpha_s + .beta_s_per_byte > 0)'
jq_true report.json '[.groups[0].projection[].ranks] == [1, 2, 4, 8, 16, 32, 64] and ([.groups[0].projection[0:3][] | .measured_s > 0 and .ok and .basis == "measured" and .predicted_s > 0] | all)'
jq_true report.json '[.groups[0].projection[3:][] | (.ok | not) and .basis == "refused" and (.why | test("^allreduce over dp would cross [0-9]+ nodes, and it was measured inside a node only: no projection prices a cross-node group with intra-node data"))] | all'

# --- repeats: one row per scale, the mean of the runs' step times with their min and max -------
run rep "$TRAINLOAD_REPORT" --format json r1.json r2.json r2b.json r4.json
expect_rc rep 0
jq_true rep.out '[.groups[0].scales[] | [.ranks, .runs]] == [[1, 1], [2, 2], [4, 1]]'
jq_true rep.out '
	def close(a; b): ((a - b) | fabs) <= 1e-9 * (b | fabs) + 1e-12;
	($a[0].summary.step_time_s.p50) as $x | ($b[0].summary.step_time_s.p50) as $y |
	($one[0].summary.step_time_s.p50) as $t1 |
	(.groups[0].scales[1]) as $s |
	close($s.step_p50_s.mean; ($x + $y) / 2) and close($s.step_p50_s.min; [$x, $y] | min) and
	close($s.step_p50_s.max; [$x, $y] | max) and close($s.efficiency; $t1 / (($x + $y) / 2)) and
	close($s.tokens_per_s; $a[0].plan.tokens_per_step / (($x + $y) / 2)) and
	close(.groups[0].projection[1].measured_s; ($x + $y) / 2)' \
	--slurpfile a r2.json --slurpfile b r2b.json --slurpfile one r1.json
run repmd "$TRAINLOAD_REPORT" r1.json r2.json r2b.json r4.json
expect_rc repmd 0
grep -q '^| 1 | 2 | 2 | 2 | [0-9.]* | [0-9.]* | [0-9.]* | ' repmd.out || { cat repmd.out; fail "no aggregated row of 2 runs at 2 ranks"; }

# --- warnings: a result whose peak is below what its step did, and a flagged GEMM twin --------
"$JQ" '.summary.peak_tflops_per_rank = 1e-6 | .summary.peak_source = "--peak-tflops" | .twin.gemm = {rank: 1, predicted_s: 1, measured_s: 2, ratio: 2, flagged: true} | .environment.oversubscribed = true' r2.json >hot.json
run hot "$TRAINLOAD_REPORT" hot.json
expect_rc hot 0
expect_in hot.out "- hot.json: MFU "
expect_in hot.out "is above 100%: the step did more than the peak per rank (1e-06 TFLOP/s, --peak-tflops) allows; the peak given with --peak-tflops is too low"
expect_in hot.out "- hot.json: GEMM twin: rank 1's GEMMs took 2.00x the time the calibrated BLAS rate predicts"
expect_in hot.out "- hot.json: ranks share cores (oversubscribed)"

# --- --scaling strong on weak data: said -------------------------------------------------------
run strong "$TRAINLOAD_REPORT" --scaling strong r1.json r2.json r4.json
expect_rc strong 0
expect_in strong.out "**Warning:** --scaling strong was asked, but the global batch grows with the data-parallel ranks (weak-scaling data)"
run strongj "$TRAINLOAD_REPORT" --format json --scaling strong r1.json r2.json
jq_true strongj.out '.groups[0] | .scaling == "strong" and .data_scaling == "weak" and (.scaling_warning | startswith("--scaling strong was asked"))'

# --- a sweep: its own table and plot, not a missing run ----------------------------------------
run sw "$TRAINLOAD_REPORT" --plot swplots r1.json r2.json sweep.json
expect_rc sw 0
expect_in sw.out "## Collective sweeps"
expect_in sw.out "### sweep.json: allreduce on world of 2 ranks (f32, blocking; started $(jq_get sweep.json .environment.start_time))"
sizes=$("$JQ" '.collectives | length' sweep.json)
[ "$(sed -n '/^### sweep.json/,/^## /p' sw.out | grep -c '^| [0-9]')" -eq "$sizes" ] || { cat sw.out; fail "the sweep table does not have a row per size"; }
expect_not_in sw.out "| sweep.json | sweep |"
expect_not_in sw.err "sweep.json"
[ -s swplots/busbw.svg ] && [ -s swplots/busbw.png ] || fail "no busbw plot for the sweep"
[ "$(grep -c '^[0-9]' swplots/sweeps.dat)" -eq "$sizes" ] || fail "swplots/sweeps.dat does not hold every size"
grep -q "^set title \"Bus bandwidth against message size (sweeps)" swplots/report.gp || fail "the busbw plot has no title"
grep -q "^set logscale x 2" swplots/report.gp || fail "busbw is not drawn against a log size axis"

# --- another job among them: its own table ------------------------------------------------
run_trainload other 0 "$job" --quiet --set run.steps=2 --set model.layers=3 --output other.json
expect_rc other 0
run mixed "$TRAINLOAD_REPORT" --format json r1.json r2.json other.json
expect_rc mixed 0
jq_true mixed.out '(.groups | length) == 2 and ([.groups[] | .runs | length] | sort) == [1, 2] and .groups[0].job != .groups[1].job'

# --- CSV: the scaling table, one row per run ---------------------------------------------------
run csv "$TRAINLOAD_REPORT" -f csv r4.json r1.json r2.json
expect_rc csv 0
head -n 1 csv.out | grep -q '^job,model,scaling,nodes,ranks,dp,steps,step_p50_s' || fail "CSV header"
[ "$(tail -n +2 csv.out | cut -d, -f5 | tr '\n' ' ')" = "1 2 4 " ] || { cat csv.out; fail "CSV rows are not the 1, 2, 4-rank runs in order"; }

# --- the plots: valid SVG and PNG, a point per run --------------------------------------------
for name in throughput efficiency breakdown predicted; do
	[ -s "plots/$name.svg" ] && [ -s "plots/$name.png" ] || fail "plots/$name.svg or .png missing"
	xmllint --noout "plots/$name.svg" || fail "plots/$name.svg is not valid XML"
	[ "$(head -c 8 "plots/$name.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || fail "plots/$name.png is not a PNG"
done
# gnuplot draws point type 7 as gpPt6: one per run, and one in the key
for name in throughput efficiency; do
	points=$(grep -o "xlink:href='#gpPt6'" "plots/$name.svg" | wc -l)
	[ "$points" -eq 4 ] || fail "plots/$name.svg has $points points, expected 3 runs + 1 in the key"
done
[ "$(grep -vc '^#' plots/report-1.dat)" -eq 3 ] || fail "plots/report-1.dat does not hold 3 runs"
# titles that say what, which job and scaling mode, on what and when; the ideal series
date=$(jq_get r1.json .environment.start_time | cut -c1-10)
for what in Throughput 'Scaling efficiency' 'Where the time goes' 'Predicted and measured step time'; do
	grep -q "^set title \"$what: tiny (weak scaling)\\\\n$cpu, $date\"" plots/report.gp ||
		{ grep '^set title' plots/report.gp; fail "no title '$what: tiny (weak scaling)' with $cpu and $date"; }
done
grep -q "using 1:7 with lines dt 2 .* title \"tiny, ideal\"" plots/report.gp || fail "no ideal throughput line"
grep -q "100 with lines dt 2 .* title 'ideal (100%)'" plots/report.gp || fail "no ideal efficiency line"
# the ideal line inside the frame: the y range reaches past 100% (at least 120%; more where a
# run on a busy machine measured an efficiency above 100%)
sed -n 's/^set yrange \[0:\([0-9]*\)\]$/\1/p' plots/report.gp | awk '$1 >= 120 { ok = 1 } END { exit !ok }' ||
	fail "the efficiency plot's y range ends at its ideal line"
# nothing past the measured scales is priced on one node's data, so no region is shaded as
# extrapolated (tests/cluster/attribution.sh has one); the legend off the data, zero parts left
# out of the breakdown
! grep -q "^set object 1 rect" plots/report.gp || fail "a region shaded as extrapolated where nothing was"
grep -q "^set key below center horizontal" plots/report.gp || fail "no legend below the plot"
! grep -q "title 'tp_comm'" plots/report.gp || fail "tp_comm, zero here, is in the breakdown's legend"
grep -q "title 'compute'" plots/report.gp || fail "compute is not in the breakdown's legend"

# --- a run killed before its JSON: the JSONL alone is used, as partial ----------------------
mkdir killed && cp r2.jsonl killed/r2.jsonl && cp r1.json killed/
run jl "$TRAINLOAD_REPORT" killed
expect_rc jl 0
grep -q '^| r2.jsonl | 1 | 2 | [^|]* | 3 | .* | partial |$' jl.out || { cat jl.out; fail "the JSONL-only run is not a partial row of 3 steps"; }
grep -q '^| killed/r2.jsonl | partial | no JSON document; 3 finished step(s) in the JSONL |$' jl.out || { cat jl.out; fail "killed/r2.jsonl not listed as partial"; }

# --- without gnuplot: said, and the report still written --------------------------------------
run nognuplot env PATH=/nonexistent "$TRAINLOAD_REPORT" --plot noplots r1.json r2.json
expect_rc nognuplot 0
expect_in nognuplot.err "gnuplot not found (Debian: apt-get install gnuplot-nox)"
grep -q '^### Scaling' nognuplot.out || fail "no report without gnuplot"
[ -s noplots/report.gp ] && [ ! -e noplots/throughput.svg ] || fail "noplots/ should hold the script and no picture"

# --- bad usage and nothing usable: exit 2 -----------------------------------------------------
run badfmt "$TRAINLOAD_REPORT" --format xml r1.json
expect_rc badfmt 2
expect_in badfmt.err "trainload-report: --format: 'xml' is not md, csv or json"
run noargs "$TRAINLOAD_REPORT"
expect_rc noargs 2
expect_in noargs.err "no result files given"
run none "$TRAINLOAD_REPORT" cut.json nosuch.json --missing "2 nodes: job 17 FAILED"
expect_rc none 2
expect_in none.err "no usable run among the 2 file(s)"
grep -q '^| nosuch.json | unusable | nosuch.json: No such file or directory |$' none.out || { cat none.out; fail "nosuch.json not listed"; }
grep -q '^| | missing | 2 nodes: job 17 FAILED |$' none.out || fail "--missing not listed"
echo ok
