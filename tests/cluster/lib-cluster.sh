# SPDX-License-Identifier: BSD-3-Clause
# A virtual cluster on this machine, for the tests: N "nodes", each a network namespace with its
# own hostname (node1 .. nodeN), joined by a bridge through links shaped with tc, with a CPU
# quota of its own (cgroup) and its own cores (taskset). Open MPI runs across them through an rsh
# agent (tests/cluster/agent), and Slurm with one slurmd per node. Nothing is mocked: mpirun, its
# daemons, hwloc, the TCP transport, the kernel's shaping and Slurm are the real ones.
# Sourced after tests/lib.sh (and tests/slurm/lib-slurm.sh for cluster_slurm_start); needs
# TL_SRCDIR (tests/ of the source tree). POSIX sh; root.
#
#   cluster_up N [RATE]     start nodes node1..nodeN; RATE (e.g. 200mbit, 1gbit) shapes every
#                           link; skip (exit 77) where namespaces cannot be made; cluster_down
#                           runs when the script exits, however it exits
#   cluster_down            stop and remove everything cluster_up (and the functions below)
#                           made: Slurm, every process on the nodes, namespaces, links, tc state,
#                           cgroups, the state folder; safe to call twice
#   cluster_addr NODE       NODE's address (10.213.I.K for nodeK of instance I)
#   cluster_exec NODE CMD...  run CMD on NODE (its namespaces, cores and cgroup), in the current
#                           folder; its exit status is CMD's
#   cluster_pids NODE [COMM]  the PIDs of the processes on NODE (named COMM), one a line: to
#                           kill -STOP or kill a rank mid-run
#   cluster_shape NODE RATE|off   shape NODE's link to RATE both ways (tbf on both ends of its
#                           veth: the node's upload and its download, as a full-duplex switch
#                           port); applies at once, also while traffic flows
#   cluster_shape_pair A B RATE|off   slow only the path between A and B (both ways) to RATE:
#                           an htb class on each node's upload, picked by a u32 filter on the
#                           other's address; their other paths keep their link rate
#   cluster_cap_cpu NODE PERCENT|off  cap what runs on NODE (now and later) to PERCENT of one CPU
#                           (cgroup v1 cpu.cfs_quota_us, or v2 cpu.max); returns 77 where
#                           neither is available
#   cluster_mpirun_args [MAP]  mpirun's options to run across the nodes: the hostfile, the agent,
#                           TCP on the cluster's subnet only, ranks placed by --map-by MAP
#                           (default ppr:1:node: one per node; ppr:2:node: two per node, node
#                           after node; node: round-robin); add -np N and the program
#   cluster_mpirun LABEL N MAP CMD...  CMD on N ranks placed by MAP across the nodes, through
#                           run (tests/lib.sh)
#   cluster_tcp_mbps FROM TO BYTES  send BYTES over TCP from node FROM to node TO; print the
#                           rate the receiver saw, in Mbit/s (1e6 bit/s)
#   cluster_leftovers       after cluster_down: print whatever of the last instance is still
#                           there (namespaces, links, cgroups, processes); nothing when clean
#   cluster_reap            remove what instances whose owner has died (SIGKILL) left behind;
#                           cluster_up does it too, for the index it claims
#   cluster_why_not         why no cluster can be made here (not root, a tool missing, no
#                           namespaces), or nothing: for a caller that wants to know before
#   cluster_slurm_start     Slurm on the nodes: munged and slurmctld in this namespace (the
#                           controller on the bridge's address), one slurmd -N NODE on each
#                           node; exports SLURM_CONF (tests/slurm/lib-slurm.sh does the rest)
#                           and, for the jobs' ranks (sbatch's --export=ALL), the Open MPI
#                           settings cluster_mpirun_args gives mpirun, as OMPI_MCA_* variables
#
# After cluster_up: CLUSTER_NODES ("node1 node2 ..."), CLUSTER_HOSTS ("node1,node2,..."),
# CLUSTER_SUBNET (10.213.I.0/24), CLUSTER_HEAD (the bridge's address, where mpirun and slurmctld
# listen), CLUSTER_AGENT (the agent: "$CLUSTER_AGENT node2 CMD" from any program), CLUSTER_DIR
# (state: the hostfile, and node/NODE with the node's holder PID, cores, cgroup, namespace,
# veth and address, which the agent reads), exported.
# Settings, read by cluster_up: CLUSTER_SLOTS (slots per node in the hostfile, 1; mpirun runs
# oversubscribed, so it only matters to a --map-by that fills slots),
# CLUSTER_CPUS_PER_NODE (cores each node gets, taken round-robin from the cores this shell may
# use; default: those cores / N, at least 1).
#
# Instances: every instance claims an index I (1..200) by creating its bridge tlcI (atomic: a
# second `ip link add` of the same name fails), under a lock so that a dead instance's leftovers
# (an owner PID that is gone, written in the bridge's alias) are reaped before the index is
# taken again. Its names all carry I: namespaces tlcI-nodeK, veths tlcInK, cgroups tlcI-nodeK,
# subnet 10.213.I.0/24, Slurm ports from 21000 + 4I. So tests run side by side (make -j) and
# beside other users of this machine. Traffic only ever goes to addresses inside the instance.

CLUSTER_INDEX=
CLUSTER_DIR=
CLUSTER_LAST_INDEX=
CLUSTER_LAST_DIR=
CLUSTER_HOLDERS=
CLUSTER_MAX_INSTANCES=200
CLUSTER_NET_BASE=10.213

# Why the virtual cluster cannot run here, or nothing.
cluster_why_not() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "the virtual cluster makes network namespaces, veths, a bridge and cgroups: it needs root"
		return
	fi
	for cw_prog in ip tc nsenter unshare setsid taskset flock hostname perl; do
		if ! command -v "$cw_prog" >/dev/null 2>&1; then
			echo "$cw_prog not found (packages iproute2, util-linux, hostname, perl-base)"
			return
		fi
	done
	if ! ip netns add "tlc-probe$$" 2>/dev/null; then
		echo "cannot create a network namespace here (ip netns add failed: a container without CAP_SYS_ADMIN?)"
		return
	fi
	ip netns del "tlc-probe$$"
	if ! unshare --uts true 2>/dev/null; then
		echo "cannot create a UTS namespace here (unshare --uts failed): nodes could not have hostnames"
	fi
}

# The cores this shell may run on, one per line ("0-3,8" → 0 1 2 3 8).
_cl_cpus() {
	sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status | tr ',' '\n' |
		awk -F- '{ hi = NF > 1 ? $2 : $1; for (c = $1; c <= hi; c++) print c }'
}

# RATE (NUMBER followed by bit, kbit, mbit or gbit, as tc reads them) in bit/s.
_cl_bits() {
	cb_n=${1%%[a-z]*}
	cb_unit=${1#"$cb_n"}
	case $cb_n in '' | *[!0-9]*) fail "rate '$1': expected a whole number and bit, kbit, mbit or gbit" ;; esac
	case $cb_unit in
	bit) echo "$cb_n" ;;
	kbit) echo $((cb_n * 1000)) ;;
	mbit) echo $((cb_n * 1000000)) ;;
	gbit) echo $((cb_n * 1000000000)) ;;
	*) fail "rate '$1': expected a whole number and bit, kbit, mbit or gbit" ;;
	esac
}

# tbf's and htb's burst for RATE: one millisecond of the rate, at least 64 KiB (less starves
# TCP at high rates).
_cl_burst() {
	cu_b=$(($(_cl_bits "$1") / 8 / 1000))
	[ "$cu_b" -ge 65536 ] || cu_b=65536
	echo "$cu_b"
}

# PID's start time (clock ticks since boot): with the PID, it names a process uniquely.
_cl_start_time() {
	sed 's/^.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f20
}

# The cgroup hierarchy with a CPU quota: v1's cpu controller, or v2's where it is enabled at the
# root. Prints "v1 DIR" or "v2 DIR"; nothing where there is neither.
_cl_cgroup_root() {
	if [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ]; then
		echo "v1 /sys/fs/cgroup/cpu"
	elif grep -q -w cpu /sys/fs/cgroup/cgroup.controllers 2>/dev/null; then
		# Children get the cpu controller only if the root hands it down.
		grep -q -w cpu /sys/fs/cgroup/cgroup.subtree_control ||
			echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
		grep -q -w cpu /sys/fs/cgroup/cgroup.subtree_control && echo "v2 /sys/fs/cgroup"
	fi
}

# _cl_teardown I DIR: remove instance I, whose state folder is DIR (maybe gone): what
# cluster_down does, and what reaping a dead instance does. Everything is found by the
# instance's names, so that nothing depends on the memory of the shell that made it.
_cl_teardown() {
	ct_i=$1
	ct_dir=$2
	# Slurm's controller and munged run in this namespace: by their pid files, if they are still
	# what was started (slurm_stop has already stopped them in an orderly way, when it could).
	for ct_pf in "$ct_dir"/slurm/run/*.pid; do
		[ -f "$ct_pf" ] || continue
		ct_p=$(cat "$ct_pf")
		case $(cat "/proc/$ct_p/comm" 2>/dev/null) in
		munged | slurmctld) stop_pids "$ct_p" ;;
		esac
	done
	# Every process on a node: holders, slurmd and its steps, MPI daemons and ranks.
	for ct_ns in $(ip netns list | awk -v p="tlc$ct_i-" 'index($1, p) == 1 { print $1 }'); do
		# shellcheck disable=SC2046
		stop_pids $(ip netns pids "$ct_ns" 2>/dev/null)
		ip netns del "$ct_ns"
	done
	for ct_l in /sys/class/net/tlc"$ct_i"n*; do
		[ -e "$ct_l" ] && ip link del "${ct_l##*/}" 2>/dev/null
	done
	# shellcheck disable=SC2046 # "v1 DIR" into $1 and $2
	set -- $(_cl_cgroup_root)
	if [ $# -eq 2 ]; then
		for ct_cg in "$2"/tlc"$ct_i"-*; do
			[ -d "$ct_cg" ] || continue
			# Whatever joined the node's cgroup is the node's, in its namespace or not.
			# shellcheck disable=SC2046
			stop_pids $(cat "$ct_cg/cgroup.procs" 2>/dev/null)
			ct_k=0
			# A process that has just been killed leaves its cgroup a moment later.
			while ! rmdir "$ct_cg" 2>/dev/null && [ $ct_k -lt 50 ]; do
				sleep 0.1
				ct_k=$((ct_k + 1))
			done
			[ ! -d "$ct_cg" ] || echo "# virtual cluster: cannot remove cgroup $ct_cg" >&2
		done
	fi
	case $ct_dir in /tmp/tl-vc.*) rm -rf "$ct_dir" ;; esac
	# Last: the bridge is the instance's claim on its index.
	ip link del "tlc$ct_i" 2>/dev/null
}

# _cl_reap_one I: if instance I's owner (in its bridge's alias: "trainload-cluster PID START
# DIR") is dead, remove what it left; true when it did. Under the lock.
_cl_reap_one() {
	# shellcheck disable=SC2046
	set -- "$1" $(cat "/sys/class/net/tlc$1/ifalias" 2>/dev/null)
	[ "${2:-}" = trainload-cluster ] && [ $# -eq 5 ] || return 1
	if alive "$3" && [ "$(_cl_start_time "$3")" = "$4" ]; then
		return 1
	fi
	echo "# virtual cluster: reaping instance $1 of pid $3, which is gone ($5)"
	_cl_teardown "$1" "$5"
}

_cl_lock() {
	exec 8>>/tmp/tl-cluster.lock
	flock -w 60 8 || fail "virtual cluster: /tmp/tl-cluster.lock held for 60 s"
}

_cl_unlock() {
	flock -u 8
	exec 8>&-
}

# Claim a free index: create its bridge. An index whose owner is dead is reaped and taken.
_cl_claim() {
	_cl_lock
	cc_i=$(($$ % CLUSTER_MAX_INSTANCES + 1))
	cc_tries=0
	while [ $cc_tries -lt $CLUSTER_MAX_INSTANCES ]; do
		if ! ip link add "tlc$cc_i" type bridge 2>/dev/null; then
			_cl_reap_one "$cc_i" && continue
		elif [ -n "$(ip -o addr show to "$CLUSTER_NET_BASE.$cc_i.0/24")" ]; then
			ip link del "tlc$cc_i" # its subnet is someone else's here
		else
			ip link set dev "tlc$cc_i" alias \
				"trainload-cluster $$ $(_cl_start_time $$) $CLUSTER_DIR" &&
				CLUSTER_INDEX=$cc_i
			break
		fi
		cc_i=$((cc_i % CLUSTER_MAX_INSTANCES + 1))
		cc_tries=$((cc_tries + 1))
	done
	_cl_unlock
	[ -n "$CLUSTER_INDEX" ] || fail "virtual cluster: no free instance index (1..$CLUSTER_MAX_INSTANCES)"
}

cluster_reap() {
	_cl_lock
	for cr_br in /sys/class/net/tlc*; do
		cr_i=${cr_br##*/tlc}
		case $cr_i in '' | *[!0-9]*) continue ;; esac
		_cl_reap_one "$cr_i"
	done
	_cl_unlock
}

# _cl_node K HOST CPUS: make node K named HOST on cores CPUS.
_cl_node() {
	cn_k=$1
	cn_host=$2
	cn_cpus=$3
	cn_ns=tlc$CLUSTER_INDEX-node$cn_k
	cn_veth=tlc${CLUSTER_INDEX}n$cn_k
	ip netns add "$cn_ns" || fail "ip netns add $cn_ns"
	ip link add "$cn_veth" type veth peer name eth0 netns "$cn_ns" &&
		ip link set "$cn_veth" master "tlc$CLUSTER_INDEX" up &&
		ip -n "$cn_ns" addr add "$CLUSTER_NET.$cn_k/24" dev eth0 &&
		ip -n "$cn_ns" link set eth0 up &&
		ip -n "$cn_ns" link set lo up || fail "cannot wire node $cn_host ($cn_ns)"
	# The holder: a sleeper that holds the node's hostname (UTS namespace) and mount namespace,
	# which later commands join through the agent. ip netns exec mounts the namespace's own
	# /sys, without the cgroup file systems under it: they are mounted again as they are here
	# (the same hierarchies; slurmd will not start without them, as on a real node). In a
	# session of its own and off the test's terminal and pipes. Its 6 hours bound what a test
	# killed by SIGKILL leaves running.
	cn_pidfile=$CLUSTER_DIR/node/$cn_host.holder
	cn_mounts=$(awk '$2 ~ "^/sys/fs/cgroup(/|$)" { print $3, $2, $4 }' /proc/self/mounts)
	setsid ip netns exec "$cn_ns" unshare --uts -- sh -c '
		hostname "$2" || exit 1
		echo "$3" | while read -r t p o; do
			[ -z "$t" ] || { mkdir -p "$p" && mount -t "$t" -o "$o" "$t" "$p"; }
		done
		echo $$ >"$1"
		exec sleep 21600' sh "$cn_pidfile" "$cn_host" "$cn_mounts" \
		</dev/null >/dev/null 2>"$CLUSTER_DIR/node/$cn_host.log" &
	cn_i=0
	while [ ! -s "$cn_pidfile" ]; do
		cn_i=$((cn_i + 1))
		[ $cn_i -lt 100 ] ||
			fail "node $cn_host: its holder did not start in 10 s: $(cat "$CLUSTER_DIR/node/$cn_host.log")"
		sleep 0.1
	done
	cn_pid=$(cat "$cn_pidfile")
	CLUSTER_HOLDERS="$CLUSTER_HOLDERS $cn_pid"
	cn_cg=
	if [ -n "$CLUSTER_CGROUP" ]; then
		cn_cg=${CLUSTER_CGROUP#* }/$cn_ns
		# A container may show the hierarchy read-only: then no node gets a CPU quota.
		if ! mkdir "$cn_cg" 2>/dev/null; then
			echo "# virtual cluster: cannot create cgroup $cn_cg: no CPU caps" >&2
			CLUSTER_CGROUP=
			cn_cg=
		fi
	fi
	printf 'holder=%s\ncpus=%s\ncgroup=%s\nns=%s\nveth=%s\naddr=%s\n' "$cn_pid" "$cn_cpus" \
		"$cn_cg" "$cn_ns" "$cn_veth" "$CLUSTER_NET.$cn_k" >"$CLUSTER_DIR/node/$cn_host"
	echo "$cn_host slots=${CLUSTER_SLOTS:-1}" >>"$CLUSTER_DIR/hostfile"
}

cluster_up() {
	cu_n=$1
	cu_rate=${2:-}
	case $cu_n in '' | *[!0-9]*) fail "cluster_up: node count '$cu_n'" ;; esac
	[ "$cu_n" -ge 1 ] && [ "$cu_n" -le 250 ] || fail "cluster_up: 1 to 250 nodes, not $cu_n"
	[ -z "$cu_rate" ] || _cl_bits "$cu_rate" >/dev/null
	cu_why=$(cluster_why_not)
	if [ -n "$cu_why" ]; then
		echo "SKIP: $cu_why"
		exit 77
	fi
	# Short: Slurm's unix sockets live under it (lib-slurm.sh).
	CLUSTER_DIR=$(mktemp -d /tmp/tl-vc.XXXXXX) || fail "mktemp"
	# a+x: munged refuses a socket under a folder that not everyone may enter.
	chmod 755 "$CLUSTER_DIR" && mkdir "$CLUSTER_DIR/node" "$CLUSTER_DIR/shape" ||
		fail "cannot fill $CLUSTER_DIR"
	cp "$TL_SRCDIR/cluster/agent" "$CLUSTER_DIR/agent" && chmod 755 "$CLUSTER_DIR/agent" ||
		fail "cannot copy the agent into $CLUSTER_DIR"
	CLUSTER_AGENT=$CLUSTER_DIR/agent
	trap cluster_down EXIT
	trap 'exit 1' INT TERM HUP
	_cl_claim
	CLUSTER_LAST_INDEX=$CLUSTER_INDEX
	CLUSTER_LAST_DIR=$CLUSTER_DIR
	CLUSTER_NET=$CLUSTER_NET_BASE.$CLUSTER_INDEX
	CLUSTER_SUBNET=$CLUSTER_NET.0/24
	CLUSTER_HEAD=$CLUSTER_NET.254
	ip addr add "$CLUSTER_HEAD/24" dev "tlc$CLUSTER_INDEX" &&
		ip link set "tlc$CLUSTER_INDEX" up || fail "cannot set up the bridge tlc$CLUSTER_INDEX"
	CLUSTER_CGROUP=$(_cl_cgroup_root)

	cu_cpus=$(_cl_cpus | tr '\n' ' ')
	# shellcheck disable=SC2086
	set -- $cu_cpus
	cu_ncpu=$#
	cu_per=${CLUSTER_CPUS_PER_NODE:-$((cu_ncpu / cu_n))}
	[ "$cu_per" -ge 1 ] || cu_per=1
	[ "$cu_per" -le "$cu_ncpu" ] || cu_per=$cu_ncpu
	CLUSTER_NODES=
	cu_k=1
	while [ $cu_k -le "$cu_n" ]; do
		# Cores (k-1)*per .. k*per-1 of the list, round-robin.
		cu_list=
		cu_j=0
		while [ $cu_j -lt "$cu_per" ]; do
			# shellcheck disable=SC2086
			set -- $cu_cpus
			shift $((((cu_k - 1) * cu_per + cu_j) % cu_ncpu))
			cu_list="$cu_list${cu_list:+,}$1"
			cu_j=$((cu_j + 1))
		done
		_cl_node "$cu_k" "node$cu_k" "$cu_list"
		CLUSTER_NODES="$CLUSTER_NODES${CLUSTER_NODES:+ }node$cu_k"
		cu_k=$((cu_k + 1))
	done
	CLUSTER_HOSTS=$(echo "$CLUSTER_NODES" | tr ' ' ',')
	export CLUSTER_DIR CLUSTER_NODES CLUSTER_HOSTS CLUSTER_SUBNET CLUSTER_HEAD CLUSTER_AGENT

	# Every node reaches the head: a connection to a closed port there is refused (not lost).
	for cu_node in $CLUSTER_NODES; do
		[ -z "$cu_rate" ] || cluster_shape "$cu_node" "$cu_rate"
		cluster_exec "$cu_node" perl -MIO::Socket::INET -e \
			'IO::Socket::INET->new(PeerAddr => $ARGV[0], PeerPort => 9, Timeout => 5) or $!{ECONNREFUSED} or die "$!\n"' \
			"$CLUSTER_HEAD" || fail "node $cu_node cannot reach the head $CLUSTER_HEAD"
	done
	echo "# virtual cluster $CLUSTER_INDEX: $cu_n node(s) $CLUSTER_HOSTS on $CLUSTER_SUBNET (head $CLUSTER_HEAD)," \
		"links ${cu_rate:-unshaped}, cgroup ${CLUSTER_CGROUP:-none}, state in $CLUSTER_DIR"
}

cluster_down() {
	cd_rc=$?
	[ -n "$CLUSTER_DIR" ] || return 0
	if [ -n "${SLURM_DIR:-}" ]; then
		slurm_stop "$cd_rc"
	fi
	if [ -n "$CLUSTER_INDEX" ]; then
		_cl_teardown "$CLUSTER_INDEX" "$CLUSTER_DIR"
	else
		rm -rf "$CLUSTER_DIR" # no index was claimed
	fi
	CLUSTER_INDEX=
	CLUSTER_DIR=
	return 0
}

cluster_leftovers() {
	cl_i=$CLUSTER_LAST_INDEX
	[ -n "$cl_i" ] || return 0
	ip netns list | awk -v p="tlc$cl_i-" 'index($1, p) == 1 { print "namespace " $1 }'
	for cl_l in /sys/class/net/tlc"$cl_i" /sys/class/net/tlc"$cl_i"n*; do
		[ -e "$cl_l" ] && echo "link ${cl_l##*/}"
	done
	# shellcheck disable=SC2046 # "v1 DIR" into $1 and $2
	set -- $(_cl_cgroup_root)
	if [ $# -eq 2 ]; then
		for cl_cg in "$2"/tlc"$cl_i"-*; do
			[ -d "$cl_cg" ] && echo "cgroup $cl_cg"
		done
	fi
	# The holders, and any process started with the state folder on its command line (Slurm's
	# daemons name their configuration or socket there).
	for cl_p in $CLUSTER_HOLDERS $(grep -l -s -F -e "$CLUSTER_LAST_DIR/" /proc/[0-9]*/cmdline |
		cut -d/ -f3); do
		[ "$cl_p" != $$ ] && alive "$cl_p" &&
			echo "process $cl_p ($(tr '\0' ' ' <"/proc/$cl_p/cmdline" 2>/dev/null))"
	done
	[ ! -e "$CLUSTER_LAST_DIR" ] || echo "folder $CLUSTER_LAST_DIR"
	return 0
}

# The node file's value of KEY for NODE.
_cl_get() {
	[ -r "$CLUSTER_DIR/node/$1" ] || fail "no node '$1' in the virtual cluster ($CLUSTER_HOSTS)"
	sed -n "s/^$2=//p" "$CLUSTER_DIR/node/$1"
}

cluster_addr() {
	_cl_get "$1" addr
}

cluster_exec() {
	ce_node=$1
	shift
	"$CLUSTER_AGENT" "$ce_node" "$(quote "$@")"
}

cluster_pids() {
	cp_ns=$(_cl_get "$1" ns)
	for cp_p in $(ip netns pids "$cp_ns"); do
		[ $# -lt 2 ] || [ "$(cat "/proc/$cp_p/comm" 2>/dev/null)" = "$2" ] || continue
		alive "$cp_p" && echo "$cp_p"
	done
}

# Rebuild NODE's qdiscs from its shape state: $CLUSTER_DIR/shape/NODE.rate (the link's rate) and
# NODE.pairs (lines "PEER-ADDRESS RATE"). The download end (the veth in this namespace) carries
# the link's tbf; the upload end (eth0 in the node) carries the link's tbf too, or, where some
# pair is slowed, an htb whose default class is the link and whose pair classes a u32 filter on
# the destination picks.
_cl_apply_shape() {
	ca_node=$1
	ca_ns=$(_cl_get "$ca_node" ns)
	ca_veth=$(_cl_get "$ca_node" veth)
	ca_rate=$(cat "$CLUSTER_DIR/shape/$ca_node.rate" 2>/dev/null)
	ca_pairs=$CLUSTER_DIR/shape/$ca_node.pairs
	if [ -n "$ca_rate" ]; then
		tc qdisc replace dev "$ca_veth" root tbf rate "$ca_rate" burst "$(_cl_burst "$ca_rate")" \
			latency 50ms || fail "tc: cannot shape $ca_veth to $ca_rate"
	else
		tc qdisc del dev "$ca_veth" root 2>/dev/null
	fi
	if [ -s "$ca_pairs" ]; then
		# Unshaped, the link's class still needs a rate: one far above any veth's.
		ca_top=${ca_rate:-100gbit}
		ca_b=$(_cl_burst "$ca_top")
		tc -n "$ca_ns" qdisc del dev eth0 root 2>/dev/null
		# quantum: what a class may send per round; htb's default (rate / 10) is too big for
		# fast links and it says so.
		tc -n "$ca_ns" qdisc add dev eth0 root handle 1: htb default 10 &&
			tc -n "$ca_ns" class add dev eth0 parent 1: classid 1:1 htb rate "$ca_top" \
				ceil "$ca_top" burst "$ca_b" cburst "$ca_b" quantum 60000 &&
			tc -n "$ca_ns" class add dev eth0 parent 1:1 classid 1:10 htb rate "$ca_top" \
				ceil "$ca_top" burst "$ca_b" cburst "$ca_b" quantum 60000 ||
			fail "tc: cannot set up htb on $ca_node"
		ca_c=100
		while read -r ca_peer ca_prate; do
			ca_pb=$(_cl_burst "$ca_prate")
			tc -n "$ca_ns" class add dev eth0 parent 1:1 classid "1:$ca_c" htb rate "$ca_prate" \
				ceil "$ca_prate" burst "$ca_pb" cburst "$ca_pb" quantum 60000 &&
				tc -n "$ca_ns" filter add dev eth0 parent 1: protocol ip prio 1 u32 \
					match ip dst "$ca_peer/32" flowid "1:$ca_c" ||
				fail "tc: cannot slow $ca_node's path to $ca_peer"
			ca_c=$((ca_c + 1))
		done <"$ca_pairs"
	elif [ -n "$ca_rate" ]; then
		# replace, not del + add: a link reshaped mid-run drops no queued packet.
		if tc -n "$ca_ns" qdisc show dev eth0 | grep -q '^qdisc htb'; then
			tc -n "$ca_ns" qdisc del dev eth0 root
		fi
		tc -n "$ca_ns" qdisc replace dev eth0 root tbf rate "$ca_rate" \
			burst "$(_cl_burst "$ca_rate")" latency 50ms || fail "tc: cannot shape $ca_node to $ca_rate"
	else
		tc -n "$ca_ns" qdisc del dev eth0 root 2>/dev/null
	fi
	return 0
}

cluster_shape() {
	_cl_get "$1" ns >/dev/null
	if [ "$2" = off ]; then
		rm -f "$CLUSTER_DIR/shape/$1.rate"
	else
		_cl_bits "$2" >/dev/null
		echo "$2" >"$CLUSTER_DIR/shape/$1.rate"
	fi
	_cl_apply_shape "$1"
}

cluster_shape_pair() {
	[ "$1" != "$2" ] || fail "cluster_shape_pair: $1 twice"
	[ "$3" = off ] || _cl_bits "$3" >/dev/null
	csp_a=$(cluster_addr "$1")
	csp_b=$(cluster_addr "$2")
	# set -- A B RATE, then each node's rule towards the other
	for csp_side in "$1 $csp_b" "$2 $csp_a"; do
		csp_node=${csp_side% *}
		csp_peer=${csp_side#* }
		csp_f=$CLUSTER_DIR/shape/$csp_node.pairs
		{ grep -v "^$csp_peer " "$csp_f" 2>/dev/null; [ "$3" = off ] || echo "$csp_peer $3"; } \
			>"$csp_f.new"
		mv "$csp_f.new" "$csp_f"
		_cl_apply_shape "$csp_node"
	done
}

cluster_cap_cpu() {
	ccc_cg=$(_cl_get "$1" cgroup)
	if [ -z "$ccc_cg" ]; then
		echo "# virtual cluster: no cgroup with a CPU quota here (neither v1's cpu controller nor v2's)" >&2
		return 77
	fi
	if [ "$2" = off ]; then
		ccc_q=-1
	else
		case $2 in '' | *[!0-9]*) fail "cluster_cap_cpu: PERCENT '$2'" ;; esac
		ccc_q=$(($2 * 1000))
	fi
	case $CLUSTER_CGROUP in
	v1\ *)
		echo 100000 >"$ccc_cg/cpu.cfs_period_us" &&
			echo "$ccc_q" >"$ccc_cg/cpu.cfs_quota_us" || fail "cannot cap $1's CPU ($ccc_cg)"
		;;
	v2\ *)
		[ "$ccc_q" -ge 0 ] || ccc_q=max
		echo "$ccc_q 100000" >"$ccc_cg/cpu.max" || fail "cannot cap $1's CPU ($ccc_cg)"
		;;
	esac
}

# The Open MPI settings of every launch across the nodes, NAME=VALUE: TCP on the cluster's subnet
# only (ob1 over tcp, vader within a node); and, since the nodes share this machine's cores and
# ranks that spin in MPI waits starve the other nodes, mpi_yield_when_idle. Without these, 2 of 12
# srun launches of 4 ranks crashed in Open MPI 4.1.4's TCP transport here; with them, none.
cluster_ompi_mca() {
	printf '%s\n' pml=ob1 btl=self,vader,tcp "btl_tcp_if_include=$CLUSTER_SUBNET" \
		"oob_tcp_if_include=$CLUSTER_SUBNET" mpi_yield_when_idle=1
}

cluster_mpirun_args() {
	case $CLUSTER_DIR in *[!A-Za-z0-9_./-]*) fail "virtual cluster: odd characters in $CLUSTER_DIR" ;; esac
	# Each daemon's hwloc sees the whole machine: without --bind-to none, Open MPI binds every
	# node's rank to core 0; the agent's taskset gives each node its own cores instead.
	printf '%s' "--hostfile $CLUSTER_DIR/hostfile --mca plm rsh --mca plm_rsh_agent $CLUSTER_AGENT" \
		" --mca plm_rsh_no_tree_spawn 1"
	for cma_kv in $(cluster_ompi_mca); do
		printf ' --mca %s %s' "${cma_kv%%=*}" "${cma_kv#*=}"
	done
	printf '%s' " --bind-to none --oversubscribe --map-by ${1:-ppr:1:node}"
}

cluster_mpirun() {
	cm_label=$1
	cm_n=$2
	cm_map=$3
	shift 3
	[ -n "$MPIRUN" ] || fail "mpirun not found"
	# shellcheck disable=SC2046
	run "$cm_label" "$MPIRUN" $(cluster_mpirun_args "$cm_map") -np "$cm_n" "$@"
}

cluster_tcp_mbps() {
	ct_to=$(cluster_addr "$2")
	ct_pl=$TL_SRCDIR/cluster/tcp-rate.pl
	cluster_exec "$2" perl "$ct_pl" recv "$ct_to" 7001 >"$CLUSTER_DIR/tcp.out" &
	ct_pid=$!
	cluster_exec "$1" perl "$ct_pl" send "$ct_to" 7001 "$3" || fail "TCP from $1 to $2 failed"
	wait "$ct_pid" || fail "the TCP receiver on $2 failed"
	awk -v want="$3" 'NF == 2 && $1 == want && $2 > 0 { printf "%.1f\n", $1 * 8 / $2 / 1e6; ok = 1 }
		END { exit !ok }' "$CLUSTER_DIR/tcp.out" ||
		fail "TCP from $1 to $2: the receiver saw '$(cat "$CLUSTER_DIR/tcp.out")', not $3 bytes"
}

cluster_slurm_start() {
	slurm_need
	SLURM_DIR=$CLUSTER_DIR/slurm
	mkdir "$SLURM_DIR" || fail "mkdir $SLURM_DIR"
	# shellcheck disable=SC2034 # slurm_boot's
	SLURM_NODE_NAMES=$CLUSTER_NODES
	# Ports in this namespace: the controller's, and the slurmds' (one each in its own node,
	# but checked here too, where nothing else should use it).
	css_base=$(slurm_ports 0 $((21000 + 4 * CLUSTER_INDEX))) || exit 1
	css_mem=$(slurm_mem) || exit 1
	css_lines=
	for css_node in $CLUSTER_NODES; do
		css_lines="$css_lines${css_lines:+
}NodeName=$css_node NodeAddr=$(cluster_addr "$css_node") CPUs=2 RealMemory=$css_mem"
	done
	slurm_boot "$css_base" "$CLUSTER_HEAD" "$css_lines" cluster_exec
	for css_kv in $(cluster_ompi_mca); do
		export "OMPI_MCA_$css_kv"
	done
}
