#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration (issue 8): a run killed mid-way keeps what it measured.
#   - SIGKILL of rank 1 of 2 under mpirun: the job ends (non-zero), and FILE.jsonl holds every
#     step that had finished, one whole JSON line each after its header, numbered from 0, and
#     trainload-report reads it as a partial run;
#   - SIGTERM of rank 1 of 2: every rank stops after the step under way, rank 0 writes FILE.json
#     with "status": "interrupted" and the steps that ran (as many as FILE.jsonl has), exit 1;
#   - SIGINT of one process without mpirun: the same; trainload-report reads both as partial.
# Every run it starts in the background is killed, with all its processes, on every way out
# (a trap), and a rank is found by the variable any launcher sets (Open MPI, PMIx, MPICH's
# Hydra, Slurm), among all of the launcher's descendants (Hydra's ranks are its grandchildren).
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
need_jq

job=$TL_SRCDIR/data/good/tiny.job
# Far more steps than the test waits for: a run that ends by itself is a failure.
long="--quiet --set run.steps=100000 --set run.warmup=1"

# descendants PID: every process under PID, from /proc (ps is not on a minimal system): field 4
# of /proc/P/stat, after the command name in parentheses, is the parent's pid.
descendants() {
	for st in /proc/[0-9]*/stat; do
		sed -n 's/^\([0-9]*\) (.*) [A-Za-z] \([0-9]*\) .*/\1 \2/p' "$st" 2>/dev/null
	done | awk -v root="$1" '
		{ parent[$1] = $2 }
		END {
			for (p in parent) {
				for (q = parent[p]; q != "" && q > 1; q = parent[q])
					if (q == root) { print p; break }
			}
		}'
}

# On any way out, no process of ours is left: the background run and everything under it.
PID=
cleanup() {
	[ -n "$PID" ] || return 0
	for p in $(descendants "$PID") "$PID"; do
		kill -9 "$p" 2>/dev/null
	done
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# start LABEL N: trainload in the background on N ranks (0: alone); PID is mpirun's (or its).
start() {
	st_label=$1
	if [ "$2" -eq 0 ]; then
		echo "+ $TRAINLOAD $long --output $st_label.json $job &"
		# shellcheck disable=SC2086
		"$TRAINLOAD" $long --output "$st_label.json" "$job" >"$st_label.out" 2>"$st_label.err" &
	else
		echo "+ $MPIRUN $(mpirun_cmd "$2") $TRAINLOAD $long --output $st_label.json $job &"
		# shellcheck disable=SC2046,SC2086
		"$MPIRUN" $(mpirun_cmd "$2") "$TRAINLOAD" $long --output "$st_label.json" "$job" \
			>"$st_label.out" 2>"$st_label.err" &
	fi
	PID=$!
}

# wait_lines FILE N: until FILE has N lines (at most TL_TIMEOUT seconds).
wait_lines() {
	wl_t=0
	while [ "$(cat "$1" 2>/dev/null | wc -l)" -lt "$2" ]; do
		[ "$wl_t" -lt $((TL_TIMEOUT * 10)) ] || { kill -9 "$PID"; fail "$1: fewer than $2 lines"; }
		sleep 0.1
		wl_t=$((wl_t + 1))
	done
}

# rank_pid R: the pid of world rank R among the launcher's descendants: the process whose
# environment names rank R in a launcher's variable, and which runs trainload.
rank_pid() {
	for rp in $(descendants "$PID"); do
		[ "$(readlink "/proc/$rp/exe" 2>/dev/null)" = "$(readlink -f "$TRAINLOAD")" ] || continue
		if tr '\0' '\n' <"/proc/$rp/environ" 2>/dev/null |
			grep -E -qx "(OMPI_COMM_WORLD_RANK|PMIX_RANK|PMI_RANK|SLURM_PROCID)=$1"; then
			echo "$rp"
			return
		fi
	done
}

# finish LABEL: wait for the run (at most TL_TIMEOUT seconds); RC its exit status.
finish() {
	fi_t=0
	while kill -0 "$PID" 2>/dev/null; do
		[ "$fi_t" -lt $((TL_TIMEOUT * 10)) ] || { kill -9 "$PID"; show "$1"; fail "$1: a hang"; }
		sleep 0.1
		fi_t=$((fi_t + 1))
	done
	wait "$PID"
	RC=$?
	PID= # ended: nothing left for the trap to kill
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

# --- SIGKILL of a rank: the finished steps stay ---------------------------------------------
start sigkill 2
wait_lines sigkill.jsonl 4 # the header and 3 steps
victim=$(rank_pid 1)
[ -n "$victim" ] || fail "no rank 1 among mpirun's children"
kill -KILL "$victim"
finish sigkill
[ "$RC" -ne 0 ] || { show sigkill; fail "sigkill: exit status 0 after a rank was killed"; }
n=$(whole_steps sigkill)
[ "$n" -ge 3 ] || fail "sigkill: $n steps kept, at least 3 had finished"
[ ! -e sigkill.json ] || fail "sigkill: a final document, though rank 0 never got to write it"
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
wait_lines sigterm.jsonl 4 # the header and 3 steps
victim=$(rank_pid 1)
[ -n "$victim" ] || fail "no rank 1 among mpirun's children"
kill -TERM "$victim"
finish sigterm
interrupted sigterm

start sigint 0
wait_lines sigint.jsonl 4 # the header and 3 steps
kill -INT "$PID"
finish sigint
interrupted sigint

# A run that ends by itself says so.
run_trainload done 0 --quiet --set run.steps=2 --output done.json "$job"
expect_rc done 0
jq_true done.json '.status == "completed"'
