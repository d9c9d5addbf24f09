#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration: progress lines on stderr (run.log_interval, --progress). Under mpirun rank 0's
# stderr is a pipe, as in a batch log: the warm-up and the calibration announce themselves, the
# first and the last step get a line, and --progress N one every N steps; -q turns them off
# unless --progress is given; a sweep announces its sizes; on a terminal the step line is
# rewritten in place. Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
job=$TL_SRCDIR/data/good/tiny.job

# --- a batch log: 2 ranks, the default interval (10 s): first and last step ------------------
run_trainload log 2 "$job" --set run.steps=3 --set run.warmup=1 --output r.json
expect_rc log 0
expect_in log.err "# warm-up: 1 step(s), not measured, then 3 measured"
grep -E -q '^# step 1/4 \(warm-up\)  elapsed [0-9.]+ s  last step [0-9]+\.[0-9]{4} s  [0-9]+ tokens/s  ETA [0-9.]+ s$' log.err ||
	{ show log; fail "no line for the first (warm-up) step"; }
grep -E -q '^# step 4/4  elapsed [0-9.]+ s  last step [0-9]+\.[0-9]{4} s  [0-9]+ tokens/s  ETA done$' log.err ||
	{ show log; fail "no line for the last step"; }
[ "$(count_in log.err '# step ')" -eq 2 ] || { show log; fail "expected two step lines (rank 0's, first and last)"; }
expect_in log.err "# calibration: a square GEMM on every rank"
# no carriage return: a log is not a terminal
if tr -d '\n' <log.err | grep -q "$(printf '\r')"; then show log; fail "a carriage return in a batch log"; fi

# --- --progress 1: every step --------------------------------------------------------------
run_trainload every 2 "$job" --set run.steps=3 --set run.warmup=1 --progress 1 --peak-tflops 1 --output e.json
expect_rc every 0
for s in 1 2 3 4; do
	expect_in every.err "# step $s/4"
done
expect_not_in every.err "# calibration"

# --- -q: none; -q --progress: there ----------------------------------------------------------
run_trainload quiet 2 "$job" --quiet --output q.json
expect_rc quiet 0
expect_empty quiet.out
expect_empty quiet.err
run_trainload quietp 2 "$job" -q --progress 2 --output qp.json
expect_rc quietp 0
expect_empty quietp.out
expect_in quietp.err "# step 1/3 (warm-up)"
expect_in quietp.err "# step 3/3"

# --- -q without -o: warned, once ----------------------------------------------------------------
run_trainload nothing 2 "$job" -q
expect_rc nothing 0
expect_in nothing.err "trainload: warning: -q without -o: no summary and no result file"
[ "$(count_in nothing.err 'warning: -q')" -eq 1 ] || { show nothing; fail "the warning is printed more than once"; }

# --- a sweep announces its sizes ------------------------------------------------------------------
run_trainload sweep 2 sweep -q --progress 1 --set sweep.max_bytes=64 --set sweep.iters=2 --output s.json
expect_rc sweep 0
expect_in sweep.err "# sweep: 1 op(s) x 4 sizes, 8 B to 64 B, 5 warm-up + 2 timed iterations each"
for b in 8 16 32 64; do
	expect_in sweep.err "# sweep: allreduce $b B, size"
done
expect_in sweep.err "size 4 of 4"
# a sweep's result carries the same provenance as a run's
need_jq
jq_true s.json '.environment | (.start_time | test("^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z$")) and (.cpu_model | type) == "string" and (.oversubscribed | type) == "boolean" and (.command_line | contains("sweep")) and (.hosts | length) > 0'

# --- a bad interval names what was typed -------------------------------------------------------
run_bad badp 0 "trainload: --progress 5m: expected N (steps), Ns (seconds) or 0" "$job" --progress 5m
run_bad badset 0 "--set run.log_interval: log_interval = '-3': expected N (steps), Ns" "$job" --set run.log_interval=-3

# --- a terminal: the line is rewritten in place (script(1) gives the run a terminal) ---------------
if command -v script >/dev/null 2>&1; then
	run tty script -qec "$(quote "$TRAINLOAD" "$job" --set run.steps=3 --set run.warmup=0 --peak-tflops 1)" /dev/null
	expect_rc tty 0
	cr=$(printf '\r')
	grep -q "${cr}# step 1/3  elapsed" tty.out || { show tty; fail "no in-place line for step 1"; }
	grep -q "${cr}# step 2/3  elapsed" tty.out || { show tty; fail "no in-place line for step 2"; }
fi
echo ok
