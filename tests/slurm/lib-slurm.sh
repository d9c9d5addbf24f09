# SPDX-License-Identifier: BSD-3-Clause
# A private single-machine Slurm for the tests: munged, slurmctld and one slurmd per simulated
# node, all state in a short temporary folder, stopped by their recorded PIDs when the script
# exits. Sourced after tests/lib.sh. POSIX sh.
#
#   slurm_start NODES   start a cluster of NODES simulated nodes n1..nNODES (2 CPUs each, one
#                       partition "debug"), export SLURM_CONF for the clients; exit 77 (skip)
#                       when Slurm is not installed or we are not root
#   slurm_wait ID       wait until job ID has ended; SLURM_STATE and SLURM_EXIT hold its
#                       JobState and ExitCode ("COMPLETED" "0:0")
#   slurm_state ID      print job ID's "JobState ExitCode" now
#   slurm_submit LABEL SBATCH-ARGS...  sbatch --parsable through run (tests/lib.sh); ID holds
#                       the job id
#   slurm_expect ID "STATE EXIT" LOG  wait for job ID; it must end so ("COMPLETED 0:0"); LOG
#                       (its output) is shown otherwise
#   study_point LABEL N the job id trainload-scaling printed (in LABEL.out) for N nodes
#   study_report_job LABEL  the id of that study's report job
#   report_row FILE NODES RANKS RUN  FILE (a report) lists RUN (complete) in its runs table, and
#                       has a scaling row of one run for NODES and RANKS
#
# Debian's slurmd is built with --enable-multiple-slurmd, so several slurmd run on one machine,
# each on its own port with `slurmd -N NAME`. Jobs get TRAINLOAD* and OMPI_* variables through
# sbatch's default --export=ALL.
#
# The virtual cluster (tests/cluster/lib-cluster.sh) starts the same daemons with slurm_boot on
# nodes of its own: slurm_need, slurm_ports, slurm_mem, slurm_boot and slurm_stop serve both.

: "${SLURM_TIMEOUT:=90}" # seconds a job may take before the test fails

SLURM_DIR=
SLURM_PIDS=

slurm_need() {
	PATH=$PATH:/usr/sbin
	export PATH
	for sn_prog in munged slurmctld slurmd sbatch scontrol sinfo srun; do
		if ! command -v "$sn_prog" >/dev/null 2>&1; then
			echo "SKIP: $sn_prog not found: the Slurm tests need the Debian packages munge," \
				"slurmctld, slurmd and slurm-client (packages.debian)"
			exit 77
		fi
	done
	if [ "$(id -u)" -ne 0 ]; then
		echo "SKIP: the Slurm tests start slurmd, which runs jobs as any user: they need root"
		exit 77
	fi
}

# slurm_ports N [FIRST]: a port base such that base .. base+N+1 are not in use (no socket in
# /proc/net/tcp*), tried from FIRST on: test scripts run in parallel under make -j, each with its
# own cluster.
slurm_ports() {
	sp_n=$1
	sp_base=${2:-$((17000 + ($$ % 400) * 8))}
	sp_tries=0
	while [ $sp_tries -lt 50 ]; do
		sp_busy=
		sp_p=$sp_base
		while [ "$sp_p" -le $((sp_base + sp_n + 1)) ]; do
			sp_hex=$(printf ':%04X ' "$sp_p")
			if cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk '{ print $2 " " }' |
				grep -q -F -e "$sp_hex"; then
				sp_busy=1
			fi
			sp_p=$((sp_p + 1))
		done
		[ -z "$sp_busy" ] && { echo "$sp_base"; return 0; }
		sp_base=$((sp_base + 8))
		[ $sp_base -lt 22000 ] || sp_base=17000
		sp_tries=$((sp_tries + 1))
	done
	fail "no free ports for the private Slurm"
}

# The RealMemory each node may declare: 90% of what slurmd sees (more drains the node).
slurm_mem() {
	sm_mem=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
	[ -n "$sm_mem" ] || fail "slurmd -C printed no RealMemory"
	echo $((sm_mem * 9 / 10))
}

# The PID in a pid file, once the daemon has written it (it daemonizes first).
slurm_pid_of() {
	spo_i=0
	while [ $spo_i -lt 50 ]; do
		if [ -s "$1" ]; then
			cat "$1"
			return 0
		fi
		sleep 0.1
		spo_i=$((spo_i + 1))
	done
	return 1
}

slurm_start() {
	ss_nodes=$1
	slurm_need
	# Short: unix sockets of steps live under it, and their paths must stay under 108 bytes.
	SLURM_DIR=$(mktemp -d /tmp/tl-slurm.XXXXXX) || fail "mktemp"
	trap slurm_stop EXIT
	trap 'exit 1' INT TERM HUP
	SLURM_NODE_NAMES=
	i=1
	while [ $i -le "$ss_nodes" ]; do
		SLURM_NODE_NAMES="$SLURM_NODE_NAMES n$i"
		i=$((i + 1))
	done
	ss_base=$(slurm_ports "$ss_nodes") || exit 1
	ss_mem=$(slurm_mem) || exit 1
	slurm_boot "$ss_base" 127.0.0.1 \
		"NodeName=n[1-$ss_nodes] NodeHostname=localhost NodeAddr=127.0.0.1 Port=[$((ss_base + 1))-$((ss_base + ss_nodes))] CPUs=2 RealMemory=$ss_mem" \
		slurm_here
}

# slurm_here NODE CMD...: run CMD here (every simulated node is this machine).
slurm_here() {
	shift
	"$@"
}

# slurm_boot BASE CTLD-ADDR NODE-LINES LAUNCH: start munged, slurmctld (port BASE, reached at
# CTLD-ADDR) and a slurmd (port BASE+1 unless NODE-LINES say otherwise) for each name in
# $SLURM_NODE_NAMES, all state in $SLURM_DIR. NODE-LINES: slurm.conf's NodeName lines; LAUNCH
# NODE CMD... runs CMD on NODE. Returns when every node is idle, with SLURM_CONF exported.
slurm_boot() {
	sb_base=$1
	sb_ctld=$2
	sb_lines=$3
	sb_launch=$4
	d=$SLURM_DIR
	mkdir -p "$d/etc" "$d/ctld" "$d/spool" "$d/tmp" "$d/log" "$d/run" "$d/munge" "$d/munge-key"
	for sb_node in $SLURM_NODE_NAMES; do
		mkdir -p "$d/spool/$sb_node" "$d/tmp/$sb_node"
	done
	chmod 755 "$d" "$d/munge"
	dd if=/dev/urandom of="$d/munge-key/munge.key" bs=1024 count=1 2>/dev/null
	chmod 0400 "$d/munge-key/munge.key"
	# slurmctld takes "localhost" for its own name whatever the machine's hostname is; the
	# address in brackets is where the daemons and the clients reach it. FirstJobId: job ids of
	# their own (from the ports, which no other running instance holds), so that two private
	# Slurms' job 1 never meet: Open MPI names its shared-memory segments in /dev/shm after the
	# host and the PMIx namespace (slurm.pmix.JOB.STEP), and two jobs of one name on one host
	# map each other's segments and crash.
	cat >"$d/etc/slurm.conf" <<EOF
ClusterName=tltest
FirstJobId=$((sb_base * 1000))
SlurmctldHost=localhost($sb_ctld)
SlurmctldPort=$sb_base
SlurmdPort=$((sb_base + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/munge.socket.2
StateSaveLocation=$d/ctld
SlurmdSpoolDir=$d/spool/%n
TmpFS=$d/tmp/%n
SlurmctldPidFile=$d/run/slurmctld.pid
SlurmdPidFile=$d/run/slurmd-%n.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SlurmdParameters=config_overrides
MpiDefault=pmix
EnforcePartLimits=ALL
SchedulerParameters=batch_sched_delay=0
MinJobAge=300
ReturnToService=2
MailProg=/bin/true
KillWait=5
$sb_lines
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
	SLURM_CONF=$d/etc/slurm.conf
	export SLURM_CONF

	munged --socket="$d/munge/munge.socket.2" --key-file="$d/munge-key/munge.key" \
		--pid-file="$d/run/munged.pid" --log-file="$d/log/munged.log" \
		--seed-file="$d/munge/seed" || slurm_fail_start "munged did not start"
	slurm_record munged "$d/run/munged.pid"
	slurmctld -i -f "$SLURM_CONF" || slurm_fail_start "slurmctld did not start"
	slurm_record slurmctld "$d/run/slurmctld.pid"
	sb_n=0
	for sb_node in $SLURM_NODE_NAMES; do
		"$sb_launch" "$sb_node" slurmd -f "$SLURM_CONF" -N "$sb_node" ||
			slurm_fail_start "slurmd $sb_node did not start"
		slurm_record "slurmd $sb_node" "$d/run/slurmd-$sb_node.pid"
		sb_n=$((sb_n + 1))
	done

	# Ready: every node idle, and the controller past its first scheduling pass (it reads
	# SchedulerParameters only then; until then each batch job waits 3 s more).
	i=0
	while :; do
		idle=$(sinfo -h -N -t idle -o '%N' 2>/dev/null | sort -u | wc -l)
		if [ "$idle" -eq "$sb_n" ] && grep -q 'SchedulerParameters=' "$d/log/slurmctld.log"; then
			break
		fi
		i=$((i + 1))
		[ $i -lt 150 ] || slurm_fail_start "the nodes are not idle after 15 s"
		sleep 0.1
	done
	echo "# private Slurm in $d: $sb_n node(s), controller at $sb_ctld:$sb_base, $(sinfo -V)"
}

# slurm_record NAME PIDFILE: remember the daemon's PID at once (it removes its pid file when
# it exits, and we must still be able to stop it).
slurm_record() {
	sr_pid=$(slurm_pid_of "$2") || slurm_fail_start "$1 wrote no pid file $2"
	SLURM_PIDS="$SLURM_PIDS $sr_pid"
	alive "$sr_pid" || slurm_fail_start "$1 (pid $sr_pid) exited"
}

slurm_fail_start() {
	for sf_log in "$SLURM_DIR"/log/*.log; do
		[ -f "$sf_log" ] || continue
		echo "--- $sf_log (last lines):"
		tail -n 15 "$sf_log"
	done
	fail "private Slurm: $1"
}

# scontrol's one-line record of job ID: "JobState ExitCode", or nothing once it is forgotten.
slurm_state() {
	scontrol -o show job "$1" 2>/dev/null |
		sed -n 's/.*JobState=\([A-Z_]*\) .* ExitCode=\([0-9:]*\) .*/\1 \2/p'
}

# Not squeue, which forgets a finished job: scontrol keeps it for MinJobAge (300 s).
slurm_wait() {
	sw_i=0
	while :; do
		# shellcheck disable=SC2046 # split into state and exit code
		set -- "$1" $(slurm_state "$1")
		SLURM_STATE=${2:-}
		SLURM_EXIT=${3:-}
		case $SLURM_STATE in
		PENDING | CONFIGURING | RUNNING | COMPLETING | SUSPENDED | REQUEUED | RESIZING | "") ;;
		*) return 0 ;;
		esac
		sw_i=$((sw_i + 1))
		if [ $sw_i -ge $((SLURM_TIMEOUT * 5)) ]; then
			scontrol show job "$1"
			fail "job $1 still $SLURM_STATE after $SLURM_TIMEOUT s"
		fi
		sleep 0.2
	done
}

slurm_submit() {
	su_label=$1
	shift
	run "$su_label" sbatch --parsable "$@"
	expect_rc "$su_label" 0
	ID=$(cut -d';' -f1 "$su_label.out")
	case $ID in '' | *[!0-9]*) show "$su_label"; fail "sbatch printed no job id" ;; esac
}

slurm_expect() {
	slurm_wait "$1"
	[ "$SLURM_STATE $SLURM_EXIT" = "$2" ] || {
		cat "$3" 2>/dev/null
		fail "job $1: $SLURM_STATE $SLURM_EXIT, expected $2"
	}
}

study_point() {
	sed -n "s/^trainload-scaling: $2 nodes\{0,1\}: job \([0-9]*\), result .*/\1/p" "$1.out"
}

study_report_job() {
	sed -n 's/^trainload-scaling: report job \([0-9]*\) (after \([0-9:]*\)).*/\1/p' "$1.out"
}

# A row of the scaling table: | nodes | ranks | ... | run |
report_row() {
	grep -E -q "^\| $4 \| $2 \| $3 \| [0-9T:-]+Z \|.*\| complete \|\$" "$1" || { cat "$1"; fail "$1: no run row for $2 node(s), $3 rank(s), $4"; }
	grep -E -q "^\| $2 \| $3 \| [0-9]+ \| 1 \| " "$1" || { cat "$1"; fail "$1: no scaling row for $2 node(s), $3 rank(s)"; }
}

# The EXIT trap: cancel every job (running steps outlive slurmd), then TERM the daemons by
# their recorded PIDs, only if they still are what we started. Logs are kept in the test's
# scratch folder when it fails (the script's exit status, or RC when given).
slurm_stop() {
	st_rc=${1:-$?}
	[ -n "$SLURM_DIR" ] || return
	if [ -n "$SLURM_PIDS" ]; then
		scancel --user="$(id -un)" 2>/dev/null
		st_i=0
		while [ -n "$(squeue -h -o %i 2>/dev/null)" ] && [ $st_i -lt 50 ]; do
			sleep 0.1
			st_i=$((st_i + 1))
		done
	fi
	st_ours=
	for st_pid in $SLURM_PIDS; do
		case $(cat "/proc/$st_pid/comm" 2>/dev/null) in
		munged | slurmctld | slurmd) st_ours="$st_ours $st_pid" ;;
		esac
	done
	# shellcheck disable=SC2086
	stop_pids $st_ours
	if [ "$st_rc" -ne 0 ] && [ -n "${TL_TMP:-}" ]; then
		cp -r "$SLURM_DIR/log" "$SLURM_DIR/etc" "$TL_TMP/" 2>/dev/null
		echo "# private Slurm's logs and slurm.conf kept in $TL_TMP/log and $TL_TMP/etc"
	fi
	rm -rf "$SLURM_DIR"
	SLURM_DIR=
	SLURM_PIDS=
}
