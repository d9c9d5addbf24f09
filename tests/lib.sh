# SPDX-License-Identifier: BSD-3-Clause
# Shell helpers for trainload's script tests; sourced, after tests/run-test.sh has set
# TRAINLOAD, TL_SRCDIR, TL_TMP, JQ and MPIRUN. POSIX sh.

set -u

# Seconds any one command may take before it counts as a hang.
: "${TL_TIMEOUT:=60}"

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# The arguments, quoted where needed, as one line a shell would read back.
quote() {
	q_out=
	for q_a in "$@"; do
		case $q_a in
		'' | *[!A-Za-z0-9_./=:,+@%-]*) q_a="'$(printf '%s' "$q_a" | sed "s/'/'\\\\''/g")'" ;;
		esac
		q_out="$q_out${q_out:+ }$q_a"
	done
	printf '%s' "$q_out"
}

# run LABEL CMD...: print the command, run it under timeout with stdout in LABEL.out and
# stderr in LABEL.err; RC holds its exit status. A timeout fails the test.
run() {
	r_label=$1
	shift
	echo "+ $(quote timeout "$TL_TIMEOUT" "$@") >$r_label.out 2>$r_label.err"
	timeout -k 5 "$TL_TIMEOUT" "$@" >"$r_label.out" 2>"$r_label.err"
	RC=$?
	if [ "$RC" -eq 124 ] || [ "$RC" -eq 137 ]; then
		show "$r_label"
		fail "timed out after $TL_TIMEOUT s (a hang?): $(quote "$@")"
	fi
}

# mpirun's options for N ranks: oversubscribed past one rank, so that the tests run on machines
# with fewer cores than ranks.
mpirun_cmd() {
	if [ "$1" -gt 1 ]; then
		printf '%s' "--oversubscribe -np $1"
	else
		printf '%s' "-np $1"
	fi
}

# run_trainload LABEL N ARGS...: trainload on N ranks (0: no mpirun) through run().
run_trainload() {
	rt_label=$1
	rt_n=$2
	shift 2
	if [ "$rt_n" -eq 0 ]; then
		run "$rt_label" "$TRAINLOAD" "$@"
	else
		[ -n "$MPIRUN" ] || fail "mpirun not found"
		# shellcheck disable=SC2046
		run "$rt_label" "$MPIRUN" $(mpirun_cmd "$rt_n") "$TRAINLOAD" "$@"
	fi
}

# Print a command's captured output.
show() {
	echo "--- $1.out (stdout):"
	cat "$1.out" 2>/dev/null
	echo "--- $1.err (stderr):"
	cat "$1.err" 2>/dev/null
	echo "---"
}

expect_rc() {
	if [ "$RC" -ne "$2" ]; then
		show "$1"
		fail "$1: exit status $RC, expected $2"
	fi
}

# expect_in LABEL.out|LABEL.err STRING: the file contains STRING (fixed string).
expect_in() {
	if ! grep -F -q -e "$2" "$1"; then
		show "${1%.*}"
		fail "${1}: does not contain: $2"
	fi
}

expect_not_in() {
	if grep -F -q -e "$2" "$1"; then
		show "${1%.*}"
		fail "${1}: contains: $2"
	fi
}

# count_in FILE STRING: how many lines of FILE contain STRING.
count_in() {
	grep -F -c -e "$2" "$1"
}

expect_empty() {
	if [ -s "$1" ]; then
		show "${1%.*}"
		fail "$1 is not empty"
	fi
}

need_jq() {
	[ -n "$JQ" ] && [ -x "$JQ" ] || fail "jq not found: the JSON checks need it (apt-get install jq)"
}

# jq_true FILE EXPR [ARGS...]: EXPR (with jq ARGS such as --argjson) is true of FILE.
jq_true() {
	jt_file=$1
	jt_expr=$2
	shift 2
	if ! "$JQ" -e "$@" "$jt_expr" "$jt_file" >/dev/null 2>jq.err; then
		echo "--- jq $(quote "$@" "$jt_expr") $jt_file gives:"
		"$JQ" "$@" "$jt_expr" "$jt_file" 2>&1 | head -n 20
		cat jq.err
		fail "$jt_file: not true: $jt_expr"
	fi
}

# jq_get FILE EXPR: the raw value of EXPR in FILE.
jq_get() {
	"$JQ" -r "$2" "$1"
}

# Under a launcher, input found bad before MPI starts (a bad option, a bad job file) is agreed on
# through MPI: rank 0 prints it and every rank exits 2 together, so that mpirun cannot kill rank 0
# before its message is out. run_bad therefore takes no retry: a run whose message is lost fails.

# run_bad LABEL N MESSAGE ARGS...: trainload on N ranks (0: alone) must exit 2, print MESSAGE
# on stderr exactly once (rank 0 only) and nothing on stdout.
run_bad() {
	rb_label=$1
	rb_n=$2
	rb_msg=$3
	shift 3
	run_trainload "$rb_label" "$rb_n" "$@"
	expect_rc "$rb_label" 2
	expect_in "$rb_label.err" "$rb_msg"
	rb_count=$(count_in "$rb_label.err" "$rb_msg")
	if [ "$rb_count" -ne 1 ]; then
		show "$rb_label"
		fail "$rb_label: the message is printed $rb_count times, expected once (rank 0 only)"
	fi
	expect_empty "$rb_label.out"
}

# wait_lines PID FILE N: wait up to 30 s for FILE to hold N lines while process PID (started in
# the background) runs; fails, showing ERR if given as a 4th argument, when PID ends first or
# the lines do not come.
wait_lines() {
	wl_i=0
	while [ "$wl_i" -lt 300 ] && [ "$(cat "$2" 2>/dev/null | wc -l)" -lt "$3" ]; do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
		wl_i=$((wl_i + 1))
	done
	[ "$(cat "$2" 2>/dev/null | wc -l)" -ge "$3" ] && kill -0 "$1" 2>/dev/null && return 0
	[ -z "${4:-}" ] || cat "$4"
	fail "$2: not $3 lines within 30 s while process $1 ran"
}

# stop_and_wait PID SIGNAL: send SIGNAL, then wait up to 30 s for PID to end; sets rc to its
# exit status.
stop_and_wait() {
	kill -"$2" "$1"
	sw_i=0
	while kill -0 "$1" 2>/dev/null; do
		[ "$sw_i" -lt 300 ] || fail "process $1 did not end within 30 s of SIG$2"
		sleep 0.1
		sw_i=$((sw_i + 1))
	done
	rc=0
	wait "$1" || rc=$?
}
