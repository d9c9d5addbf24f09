#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration: an output that cannot be written is bad input (exit 2), found before any step
# runs, on every rank together and quickly (a 30 s limit: a rank left waiting would hang).
# An existing FILE.json is left as it was until the run ends: untouched by a run that fails,
# replaced whole by one that succeeds. Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"

TL_TIMEOUT=30
for n in 0 1 2; do
	run_bad nodir$n "$n" "trainload: cannot write /nonexistent/dir/r.json" \
		--output /nonexistent/dir/r.json --set run.steps=1
	expect_not_in nodir$n.out "# trainload"
done

# The output is a directory.
mkdir -p out.d
run_bad isdir 2 "trainload: cannot write out.d" --output out.d --set run.steps=1

# The JSON can be written but its JSONL cannot.
mkdir -p x.jsonl
run_bad nojsonl 2 "trainload: cannot write x.jsonl" --output x.json --set run.steps=1

# --- an existing FILE.json is not truncated before the run ends ------------------------------
need_jq
printf '{"sentinel": true}\n' >keep.json
cp keep.json keep.orig

# A run that fails after the outputs were checked (its memory does not fit the node): the old
# document stays as it was.
run_bad toobig 2 "exceeds its" --output keep.json --set model.hidden=256k --set model.heads=8 \
	--set run.steps=1
cmp -s keep.json keep.orig || { cat keep.json; fail "a failed run changed keep.json"; }
[ ! -e keep.json.tmp ] || fail "a failed run left keep.json.tmp"

# While a run goes on, the old document is whole; once it ends, the new one replaces it. The
# run has far more steps than the test waits for, so that it is always watched while it goes
# on: once it has finished a step, it is stopped with SIGINT, and ends with its document.
"$TRAINLOAD" --quiet --set run.steps=100000 --set run.warmup=0 --set model.layers=1 \
	--output keep.json >live.out 2>live.err &
pid=$!
trap 'kill -9 "$pid" 2>/dev/null' EXIT
wait_lines "$pid" keep.jsonl 2 live.err
cmp -s keep.json keep.orig || fail "keep.json changed while the run went on"
stop_and_wait "$pid" INT
[ "$rc" -eq 1 ] || { cat live.err; fail "the stopped run exited $rc, expected 1 (interrupted)"; }
jq_true keep.json '.schema == 1 and .status == "interrupted" and .summary.steps_measured >= 1 and (.steps | length) == .summary.steps_measured'
[ ! -e keep.json.tmp ] || fail "keep.json.tmp left behind"
echo "ok: keep.json whole while the run went on, replaced when it ended"
