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
run_bad noarg_o 0 "trainload: option -o needs a value" --output
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
