#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration: the command line. --help, --version and --help-job exit 0; a bad option, a second
# job file, a missing or unreadable job file and a bad --set exit 2 with a message, alone and
# under mpirun (only rank 0 prints). Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"

for opt in --help -h; do
	run_trainload help 0 "$opt"
	expect_rc help 0
	expect_in help.out "Usage: trainload [options] [JOBFILE]"
	expect_in help.out "--set SECTION.KEY=VALUE"
	expect_in help.out "Exit status: 0 ok, 1 run failed, 2 bad input, 3 watchdog timeout."
	expect_empty help.err
done

for opt in --version -V; do
	run_trainload version 0 "$opt"
	expect_rc version 0
	grep -E -q '^trainload [0-9]+\.[0-9]+\.[0-9]+' version.out || { show version; fail "no version"; }
	[ "$(wc -l <version.out)" -eq 1 ] || { show version; fail "--version prints more than a line"; }
	if [ -n "${TL_VERSION:-}" ]; then
		[ "$(cat version.out)" = "trainload $TL_VERSION" ] ||
			{ show version; fail "--version is not 'trainload $TL_VERSION'"; }
	fi
	expect_empty version.err
done

run_trainload helpjob 0 --help-job
expect_rc helpjob 0
for section in model parallel run sweep; do
	expect_in helpjob.out "[$section]"
done
for key in layers hidden heads kv_heads ffn_hidden mlp vocab seq tied_embeddings tp pp cp ep dp \
	zero sequence_parallel microbatch global_batch grad_accum schedule overlap bucket_mb steps \
	warmup compute_dtype comm_dtype recompute memory backend bind threads_per_rank check \
	timeout_s straggler_pct op min_bytes max_bytes factor iters group; do
	grep -E -q "^  $key +[^ ]" helpjob.out || { show helpjob; fail "--help-job lacks $key"; }
done
expect_empty helpjob.err

# Under mpirun too: every rank exits 0 and only rank 0 prints.
run_trainload version2 2 --version
expect_rc version2 0
[ "$(wc -l <version2.out)" -eq 1 ] || { show version2; fail "--version printed by more than rank 0"; }

# Bad command lines: exit 2, one message, nothing on stdout.
run_bad unknown 0 "trainload: unknown option --bogus" --bogus
expect_in unknown.err "Try 'trainload --help'."
run_bad short 0 "trainload: unknown option -x" -x
run_bad noarg 0 "trainload: option -s needs a value" -s
run_bad noarg_o 0 "trainload: option --output needs a value" --output
run_bad noarg_o2 0 "trainload: option -o needs a value" -o
# the option as typed, not getopt's short name for it
run_bad novalue 0 "trainload: option --dry-run takes no value (got '--dry-run=yes')" --dry-run=yes
# "--set run.steps 5": one error, naming the fix, and "5" not taken for a job file
run_bad setspace 0 "trainload: --set run.steps: expected SECTION.KEY=VALUE (did you mean --set run.steps=5?)" \
	--set run.steps 5
expect_not_in setspace.err "cannot open job file"
[ "$(wc -l <setspace.err)" -eq 1 ] || { show setspace; fail "more than one message for --set run.steps 5"; }
run_bad second 0 "trainload: one job file at most (got 'b.job' too)" a.job b.job
run_bad missing 0 "nonexistent.job: cannot open job file: No such file or directory" nonexistent.job
mkdir -p adir
run_bad dir 0 "adir: is a directory, not a job file" adir
run_bad setsyntax 0 "--set noequals: expected section.key=value (e.g. parallel.tp=2)" --set noequals
run_bad setkey 0 "--set run.stepz: unknown key 'stepz' in [run] (did you mean 'steps'?)" \
	--set run.stepz=3
run_bad setrange 0 "--set run.steps: key 'steps' in [run] is 0, outside its range 1..1073741824" \
	--set run.steps=0
run_bad setresolve 0 "--set parallel.dp: dp*tp*pp*cp = 5*1*1*1 must equal the 1 ranks of this run" \
	--set parallel.dp=5

# Options that act only beside others are refused, naming the option as typed, before any work.
for opt in "--ranks 8" "--ranks-per-node 4" "--rank 1" "--json"; do
	# shellcheck disable=SC2086
	run_bad dryonly 0 "trainload: ${opt%% *} acts only with --dry-run" $opt
done
for opt in "-o x.json" "--output x.json"; do
	# shellcheck disable=SC2086
	run_bad notdry 0 "trainload: ${opt%% *} writes nothing with --dry-run" --dry-run $opt
done
[ ! -e x.json ] || fail "a dry run wrote x.json"
# those that merely do nothing in a dry run are warned about: a run and its dry run may share
# their options
for opt in "-q" "--peak-tflops 1" "--timeout 5" "--progress 1"; do
	# shellcheck disable=SC2086
	run_trainload idle 0 --dry-run $opt
	expect_rc idle 0
	expect_in idle.err "trainload: warning: ${opt%% *} does nothing with --dry-run"
	expect_in idle.out "# trainload "
done
run_bad sweeponly 0 "trainload: --rank-agg acts only on a collective sweep" --rank-agg max
run_bad sweeponly2 0 "trainload: --min-busbw acts only on a collective sweep" --min-busbw 1
run_bad nopeak 0 "trainload: --peak-tflops does nothing in a collective sweep" sweep --peak-tflops 1

# --dry-run under a launcher: printed once, for the launcher's world (and ranks per node)
run_trainload dry2 2 --dry-run
expect_rc dry2 0
[ "$(count_in dry2.out '# trainload ')" -eq 1 ] || { show dry2; fail "the dry run is printed more than once under mpirun"; }
expect_in dry2.out "dry run: job gpt-tiny on 2 ranks = dp 2 x pp 1 x tp 1 (cp 1, ep 1), 2 ranks per node"
need_jq
run_trainload dry2r 2 --dry-run --ranks 8 --json
expect_rc dry2r 0
jq_true dry2r.out '.world.ranks == 8'

# All input errors at once: the file's and the overrides'.
printf '[run]\nstepz = 1\n' >two.job
run_bad both 0 "two.job:2: unknown key 'stepz' in [run] (did you mean 'steps'?)" two.job --set model.layer=2
expect_in both.err "--set model.layer: unknown key 'layer' in [model] (did you mean 'layers'?)"

for n in 2 4; do
	run_bad unknown$n "$n" "trainload: unknown option --bogus" --bogus
	run_bad second$n "$n" "trainload: one job file at most (got 'b.job' too)" a.job b.job
	run_bad setresolve$n "$n" "--set parallel.dp: dp*tp*pp*cp = 3*1*1*1 must equal the $n ranks of this run" \
		--set parallel.dp=3
done
echo ok
