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

# alive PID: the process is there and not a zombie (PID 1 here may reap orphans late, so an
# exited daemon can linger as one for seconds).
alive() {
	al_state=$(sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$al_state" ] && [ "$al_state" != Z ] && [ "$al_state" != X ]
}

# stop_pids PID...: TERM, then KILL what is left after 5 s; returns when all are gone (10 s at
# most), naming on stderr any that are not.
stop_pids() {
	[ $# -gt 0 ] || return 0
	kill -TERM "$@" 2>/dev/null
	sp_i=0
	while [ $sp_i -lt 100 ]; do
		sp_left=
		for sp_p in "$@"; do
			alive "$sp_p" && sp_left="$sp_left $sp_p"
		done
		[ -n "$sp_left" ] || return 0
		# shellcheck disable=SC2086
		[ $sp_i -eq 50 ] && kill -KILL $sp_left 2>/dev/null
		sleep 0.1
		sp_i=$((sp_i + 1))
	done
	echo "# processes$sp_left did not end" >&2
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

# The launcher's family, from its --version: "openmpi" (Open MPI's mpirun) or "hydra" (the
# MPICH family's mpiexec: MPICH, Intel MPI, MVAPICH); read once, as the script starts.
case ${MPIRUN:+$("$MPIRUN" --version 2>&1)} in
*"Open MPI"* | *OpenRTE*) TL_LAUNCHER_FAMILY=openmpi ;;
*HYDRA* | *"Intel(R) MPI"* | *MVAPICH*) TL_LAUNCHER_FAMILY=hydra ;;
*) TL_LAUNCHER_FAMILY= ;;
esac

launcher_family() {
	[ -n "$MPIRUN" ] || fail "mpirun not found"
	[ -n "$TL_LAUNCHER_FAMILY" ] ||
		fail "$MPIRUN: neither Open MPI's mpirun nor MPICH's Hydra (see $MPIRUN --version)"
	echo "$TL_LAUNCHER_FAMILY"
}

# The variable in which the launcher gives each rank its world rank.
rank_var() {
	case $(launcher_family) in
	openmpi) echo OMPI_COMM_WORLD_RANK ;;
	*) echo PMI_RANK ;;
	esac
}

# The launcher's options for N ranks. Open MPI refuses more ranks than cores without
# --oversubscribe, so that the tests run on machines with fewer cores than ranks; Hydra never
# refuses.
mpirun_cmd() {
	if [ "$1" -gt 1 ] && [ "$(launcher_family)" = openmpi ]; then
		printf '%s' "--oversubscribe -np $1"
	else
		printf '%s' "-np $1"
	fi
}

# descendants PID: the pids of PID's descendants, children first, at most 4 generations down
# (Open MPI's ranks are mpirun's children; Hydra's are children of its hydra_pmi_proxy). Read
# from /proc: ps is not on a minimal system.
descendants() {
	# field 4 of /proc/PID/stat, after the command name in parentheses, is the parent's pid
	ds_table=$(for ds_st in /proc/[0-9]*/stat; do
		sed -n 's/^\([0-9]*\) (.*) [A-Za-z] \([0-9]*\) .*/\1 \2/p' "$ds_st" 2>/dev/null
	done)
	ds_family=$1
	for _ in 1 2 3 4; do
		ds_next=
		for ds_parent in $ds_family; do
			ds_next="$ds_next $(echo "$ds_table" | awk -v p="$ds_parent" '$2 == p { print $1 }')"
		done
		echo $ds_next
		ds_family=$ds_next
		[ -n "$(echo $ds_family)" ] || return 0
	done
}

# rank_pid LAUNCHER_PID R: the pid of world rank R among the launcher's descendants, found by
# the launcher's rank variable in their environment.
rank_pid() {
	rp_var=$(rank_var) || return
	for rp in $(descendants "$1"); do
		if tr '\0' '\n' <"/proc/$rp/environ" 2>/dev/null | grep -qx "$rp_var=$2"; then
			echo "$rp"
			return
		fi
	done
}

# kill_tree PID: SIGKILL to PID and all its descendants (a launcher killed alone can leave its
# ranks running: Hydra's proxy keeps them), for a test's way out.
kill_tree() {
	kt_all="$1 $(descendants "$1")"
	# shellcheck disable=SC2086
	kill -KILL $kt_all 2>/dev/null
	return 0
}

# run_launched LABEL N CMD...: CMD on N ranks under the launcher (0: alone) through run().
run_launched() {
	rl_label=$1
	rl_n=$2
	shift 2
	if [ "$rl_n" -eq 0 ]; then
		run "$rl_label" "$@"
	else
		launcher_family >/dev/null || exit 1
		# shellcheck disable=SC2046
		run "$rl_label" "$MPIRUN" $(mpirun_cmd "$rl_n") "$@"
	fi
}

# run_trainload LABEL N ARGS...: trainload on N ranks (0: no launcher) through run().
run_trainload() {
	rt_label=$1
	rt_n=$2
	shift 2
	run_launched "$rt_label" "$rt_n" "$TRAINLOAD" "$@"
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

# wait_lines PID FILE N [ERR]: wait up to TL_TIMEOUT seconds for FILE to hold N lines while
# process PID (started in the background) runs; fails, showing ERR if given, when PID ends
# first or the lines do not come.
wait_lines() {
	wl_i=0
	while [ "$wl_i" -lt $((TL_TIMEOUT * 10)) ] && [ "$(cat "$2" 2>/dev/null | wc -l)" -lt "$3" ]; do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.1
		wl_i=$((wl_i + 1))
	done
	[ "$(cat "$2" 2>/dev/null | wc -l)" -ge "$3" ] && kill -0 "$1" 2>/dev/null && return 0
	[ -z "${4:-}" ] || cat "$4"
	fail "$2: not $3 lines within $TL_TIMEOUT s while process $1 ran"
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
