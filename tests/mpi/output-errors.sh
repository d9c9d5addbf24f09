#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration: an output that cannot be written is bad input (exit 2), found before any step
# runs, on every rank together and quickly (a 30 s limit: a rank left waiting would hang), and so
# is an empty name. An output that holds an earlier run's result (a document, or the steps of a
# killed run in its JSONL) is kept: refused without --force. An output that another run is
# writing (it holds the lock on its JSONL) is refused even with --force; the run that holds it
# keeps a JSONL of its own steps alone. With --force, an existing FILE.json is left as it was
# until the run ends: untouched by a run that fails, replaced whole by one that succeeds.
# Runs through tests/run-test.sh.
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

# An empty name (which became the hidden ./.jsonl and ./.tmp), and a directory's.
for n in 0 2; do
	run_bad empty$n "$n" "trainload: --output '': expected a file name (FILE.json)" --output ''
	run_bad slash$n "$n" "trainload: --output 'out.d/': expected a file name (FILE.json)" \
		--output out.d/
done
ls -A >files.list
grep -q '^\.' files.list && { cat files.list; fail "hidden files left behind"; }

# --- an earlier run's result is kept ---------------------------------------------------------
need_jq
printf '{"sentinel": true}\n' >keep.json
cp keep.json keep.orig
for n in 0 2; do
	run_bad exists$n "$n" "trainload: keep.json already holds the result of an earlier run: --force replaces it, or choose another --output" \
		--output keep.json --set run.steps=1
done
cmp -s keep.json keep.orig || { cat keep.json; fail "a refused run changed keep.json"; }
[ ! -e keep.jsonl ] || fail "a refused run left keep.jsonl"
# A killed run's steps, without a document
printf '{"schema": 1}\n{"step": 0}\n' >killed.jsonl
cp killed.jsonl killed.orig
run_bad killed 2 "trainload: killed.jsonl already holds the result of an earlier run (its finished steps): --force replaces it" \
	--output killed.json --set run.steps=1
cmp -s killed.jsonl killed.orig || fail "a refused run changed killed.jsonl"
[ ! -e killed.json ] || fail "a refused run wrote killed.json"
# An empty JSONL is no result.
: >empty.jsonl
run_trainload emptyjsonl 0 --quiet --set run.steps=1 --output empty.json
expect_rc emptyjsonl 0
jq_true empty.json '.summary.steps_measured == 1'

# --- with --force, an existing FILE.json is not truncated before the run ends ---------------
# A run that fails after the outputs were checked (its memory does not fit the node): the old
# document stays as it was, and the JSONL it created (empty) is removed.
run_bad toobig 2 "exceeds its" --force --output keep.json --set model.hidden=256k \
	--set model.heads=8 --set run.steps=1
cmp -s keep.json keep.orig || { cat keep.json; fail "a failed run changed keep.json"; }
[ ! -e keep.json.tmp ] || fail "a failed run left keep.json.tmp"
[ ! -e keep.jsonl ] || fail "a failed run left keep.jsonl"

# While a run goes on, the old document is whole; once it ends, the new one replaces it. The
# run has far more steps than the test waits for, so that it is always watched while it goes
# on: once it has finished a step, it is stopped with SIGINT, and ends with its document.
"$TRAINLOAD" --quiet --force --set run.steps=100000 --set run.warmup=0 --set model.layers=1 \
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

# --- two runs with one output: the second is refused while the first goes on -----------------
job=$TL_SRCDIR/data/good/tiny.job
"$TRAINLOAD" --quiet --set run.steps=100000 --output shared.json "$job" >first.out 2>first.err &
first=$!
trap '[ -z "$first" ] || kill -KILL "$first" 2>/dev/null' EXIT
i=0
while [ "$i" -lt 300 ] && [ "$(cat shared.jsonl 2>/dev/null | wc -l)" -lt 3 ]; do
	sleep 0.1
	i=$((i + 1))
done
kill -0 "$first" 2>/dev/null || { cat first.err; fail "the first run ended early"; }
for n in 0 2; do
	run_bad shared$n "$n" "trainload: shared.json is in use: another trainload run with --output shared.json is still going (it holds the lock on shared.jsonl); wait for it to end, or choose another --output" \
		--force --output shared.json --set run.steps=2 "$job"
done
kill -TERM "$first"
wait "$first"
rc=$?
first=
[ "$rc" -eq 1 ] || { cat first.err; fail "the interrupted first run exited $rc"; }
# the JSONL is the first run's alone: its header, then its steps from 0, each once
"$JQ" -e -s '(.[0] | has("job")) and ([.[1:][].step] == [range(0; length - 1)])' shared.jsonl \
	>/dev/null || { head -c 800 shared.jsonl; fail "shared.jsonl mixes two runs"; }
jq_true shared.json '.status == "interrupted" and .summary.steps_measured == $n' \
	--argjson n "$(($(wc -l <shared.jsonl) - 1))"
echo "ok: a second run with the first's output refused, the first's result whole"

# --- the summary cannot be written (standard output on a full device): exit 1, the document
# still whole ----------------------------------------------------------------------------------
echo "+ $TRAINLOAD --set run.steps=1 --output sum.json $job >/dev/full 2>sum.err"
"$TRAINLOAD" --set run.steps=1 --output sum.json "$job" >/dev/full 2>sum.err
rc=$?
[ "$rc" -eq 1 ] || { cat sum.err; fail "a summary that could not be written: exit $rc"; }
expect_in sum.err "trainload: cannot write the summary on standard output: No space left on device"
jq_true sum.json '.status == "completed" and .summary.steps_measured == 1'
echo "ok: a summary lost to a full device: exit 1, the document whole"
