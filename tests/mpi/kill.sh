#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration (issues 8, 17): a run killed or interrupted keeps what it measured.
#   - SIGKILL of rank 1 of 2 under the launcher: the job ends (non-zero), and FILE.jsonl holds
#     every step that had finished, one whole JSON line each after its header, numbered from 0,
#     and trainload-report reads it as a partial run; where the launcher ends rank 0 with
#     SIGTERM (Open MPI), rank 0 also writes the document from the steps it holds;
#   - SIGTERM of rank 1 of 2: every rank stops after the step under way, rank 0 writes FILE.json
#     with "status": "interrupted" and the steps that ran (as many as FILE.jsonl has), exit 1;
#   - SIGINT of one process without a launcher: the same; trainload-report reads both as partial;
#   - SIGTERM and SIGINT to the launcher itself (what Ctrl-C, `timeout` and most wrappers send)
#     while a step never ends (rank 1 stalled for good by TRAINLOAD_TEST_STALL): the document is
#     on disk before the launcher is done with the ranks (Open MPI's mpirun follows its SIGTERM
#     by SIGKILL 1 s later), written from the steps rank 0 held while the step was still under
#     way; a second signal ends a launcher that waits for its ranks (Hydra).
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
need_jq

job=$TL_SRCDIR/data/good/tiny.job
PID=
# No run outlives the test, however it ends.
trap '[ -z "$PID" ] || kill_tree "$PID"' EXIT
# Far more steps than the test waits for: a run that ends by itself is a failure.
long="--quiet --set run.steps=100000 --set run.warmup=1"

# start LABEL N: trainload in the background on N ranks (0: alone); PID is the launcher's (or
# trainload's).
start() {
	st_label=$1
	if [ "$2" -eq 0 ]; then
		set -- "$TRAINLOAD"
	else
		launcher_family >/dev/null || exit 1
		# shellcheck disable=SC2046
		set -- "$MPIRUN" $(mpirun_cmd "$2") "$TRAINLOAD"
	fi
	echo "+ $(quote "$@") $long --output $st_label.json $job &"
	# shellcheck disable=SC2086
	"$@" $long --output "$st_label.json" "$job" >"$st_label.out" 2>"$st_label.err" &
	PID=$!
}

# finish LABEL: wait for the run (at most TL_TIMEOUT seconds); RC its exit status.
finish() {
	fi_t=0
	while kill -0 "$PID" 2>/dev/null; do
		[ "$fi_t" -lt $((TL_TIMEOUT * 10)) ] || { show "$1"; fail "$1: a hang"; }
		sleep 0.1
		fi_t=$((fi_t + 1))
	done
	wait "$PID"
	RC=$?
	PID= # gone: its number may soon be another process's
	echo "$1: exit status $RC"
}

# whole_steps LABEL: LABEL.jsonl is a header line (job, world, plan), then one whole step per
# line, numbered 0, 1, …; prints the count of steps.
whole_steps() {
	"$JQ" -e -s '.[0] | has("job") and (has("step") | not)' "$1.jsonl" >/dev/null ||
		{ show "$1"; head -c 600 "$1.jsonl"; fail "$1.jsonl: its first line is not the header"; }
	tail -n +2 "$1.jsonl" | "$JQ" -e -s 'length > 0 and ([.[].step] == [range(0; length)])' >/dev/null ||
		{ show "$1"; head -c 600 "$1.jsonl"; fail "$1.jsonl: not one whole step per line"; }
	echo $(($(wc -l <"$1.jsonl") - 1))
}

# held_document LABEL N: LABEL.json is the document a signal had rank 0 write: interrupted, by
# a signal, its N steps the JSONL's first N, the ranks' places but not their figures.
held_document() {
	tail -n +2 "$1.jsonl" | head -n "$2" | "$JQ" -c . >"$1.steps.jsonl"
	"$JQ" -c '.steps[]' "$1.json" >"$1.steps.json"
	cmp -s "$1.steps.jsonl" "$1.steps.json" ||
		{ diff "$1.steps.jsonl" "$1.steps.json"; fail "$1.json: its steps are not the JSONL's"; }
	jq_true "$1.json" '.status == "interrupted" and .summary.steps_measured == $n and
		(.interrupted_by.signal | test("^SIG(TERM|INT)$")) and
		.interrupted_by.ranks_gathered == false and
		([.ranks[].rank] == [range(.world.ranks)]) and all(.ranks[]; has("host") and
		(has("gemm_gflops") | not))' --argjson n "$2"
}

# --- SIGKILL of a rank: the finished steps stay ---------------------------------------------
start sigkill 2
wait_lines "$PID" sigkill.jsonl 4 sigkill.err # the header and 3 steps
victim=$(rank_pid "$PID" 1)
[ -n "$victim" ] || fail "no rank 1 among the launcher's descendants"
kill -KILL "$victim"
finish sigkill
[ "$RC" -ne 0 ] || { show sigkill; fail "sigkill: exit status 0 after a rank was killed"; }
n=$(whole_steps sigkill)
[ "$n" -ge 3 ] || fail "sigkill: $n steps kept, at least 3 had finished"
if [ -e sigkill.json ]; then
	# the launcher ended rank 0 with SIGTERM: it wrote what it held
	held_document sigkill "$(jq_get sigkill.json '.summary.steps_measured')"
	rm sigkill.json
fi
# trainload-report uses the JSONL of the killed run as a partial run with those steps
run report "$TRAINLOAD_REPORT" sigkill.jsonl
expect_rc report 0
expect_in report.out "| sigkill.jsonl | partial | no JSON document; $n finished step(s) in the JSONL |"
echo "ok: sigkill: $n steps kept, a partial run to trainload-report"

# --- SIGTERM of a rank: every rank stops, the document says so ----------------------------
# interrupted LABEL: the document of an interrupted run agrees with its JSONL.
interrupted() {
	expect_rc "$1" 1
	expect_in "$1.err" "trainload: interrupted after"
	n=$(whole_steps "$1")
	jq_true "$1.json" '.status == "interrupted" and .summary.steps_measured == $n and
		(.steps | length) == $n and $n < 100000' --argjson n "$n"
	run "$1-report" "$TRAINLOAD_REPORT" "$1.json"
	expect_rc "$1-report" 0
	expect_in "$1-report.out" "| $1.json | partial | status interrupted |"
	echo "ok: $1: $n steps in the document, a partial run to trainload-report"
}

start sigterm 2
wait_lines "$PID" sigterm.jsonl 4 sigterm.err # the header and 3 steps
victim=$(rank_pid "$PID" 1)
[ -n "$victim" ] || fail "no rank 1 among the launcher's descendants"
kill -TERM "$victim"
finish sigterm
interrupted sigterm

start sigint 0
wait_lines "$PID" sigint.jsonl 4 sigint.err # the header and 3 steps
kill -INT "$PID"
finish sigint
interrupted sigint

# --- SIGTERM and SIGINT to the launcher during a step that never ends ------------------------
# Rank 1 stops for good at its first GEMM of the fourth step (warm-up step 0, then measured
# steps 0 and 1 finish; measured step 2 never does): rank 0 waits for it in the step's
# allreduce, as it would behind a long step.
for sig in TERM INT; do
	label=launcher-$sig
	TRAINLOAD_TEST_STALL=1:3
	export TRAINLOAD_TEST_STALL
	start "$label" 2
	unset TRAINLOAD_TEST_STALL
	wait_lines "$PID" "$label.jsonl" 3 "$label.err" # the header and the 2 steps that finish
	sleep 1 # rank 0 is in the step that never ends
	kill "-$sig" "$PID"
	# the document, before the launcher is done (a second signal ends one that waits)
	t=0
	while ! [ -e "$label.json" ] && kill -0 "$PID" 2>/dev/null && [ "$t" -lt $((TL_TIMEOUT * 10)) ]; do
		sleep 0.1
		t=$((t + 1))
	done
	[ -e "$label.json" ] || { show "$label"; fail "$label: no document after SIG$sig to the launcher"; }
	[ "$(wc -l <"$label.jsonl")" -eq 3 ] || fail "$label: the JSONL grew: the step under way ended"
	echo "$label: the document after about $((t / 10)).$((t % 10)) s, the step still under way"
	sleep 5
	kill -0 "$PID" 2>/dev/null && kill "-$sig" "$PID"
	finish "$label"
	# Hydra's own exit status, once it was signalled and its ranks ended by a second signal,
	# varies (0 and 15 seen): only Open MPI's is held to non-zero; the document is what counts.
	[ "$RC" -ne 0 ] || [ "$(launcher_family)" = hydra ] || { show "$label"; fail "$label: exit status 0"; }
	[ "$(whole_steps "$label")" -eq 2 ] || fail "$label: the JSONL does not hold the 2 steps"
	held_document "$label" 2
	ls "$label".* >files.list
	[ "$(cat files.list)" = "$(printf '%s\n' "$label.err" "$label.json" "$label.jsonl" "$label.out" \
		"$label.steps.json" "$label.steps.jsonl")" ] || { cat files.list; fail "$label: files left behind"; }
	run "$label-report" "$TRAINLOAD_REPORT" "$label.json"
	expect_rc "$label-report" 0
	expect_in "$label-report.out" "| $label.json | partial | status interrupted |"
	echo "ok: $label: the document of the 2 steps rank 0 held"
done

# A run that ends by itself says so.
run_trainload done 0 --quiet --set run.steps=2 --output done.json "$job"
expect_rc done 0
jq_true done.json '.status == "completed"'
