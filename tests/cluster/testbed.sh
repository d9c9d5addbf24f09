#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The virtual cluster itself (tests/cluster/lib-cluster.sh; skipped, exit 77, where namespaces
# cannot be made), measured with a plain TCP transfer between its nodes:
#   - 3 nodes, each with its hostname, its address and its cores;
#   - links shaped at 100 Mbit carry about that (70% to 110%, best of 3), where unshaped they
#     carry gigabits; node2's link reshaped to 10 Mbit carries about 10 both ways;
#   - node1 <-> node3 slowed to 10 Mbit as a pair: that path both ways carries about 10, while
#     node1 -> node2 and node3 -> node2 keep 100;
#   - node2's CPU capped at 5% of a core: a busy loop there needs at least 1.5 s to use 0.1 s of
#     CPU (the quota allows 5 ms per 100 ms period), and its cgroup counts throttled periods (a
#     busy machine slows the loop but does not make it pass: at 5%, only a load above 40 on
#     this machine's 2 cores would keep it under its quota);
#   - a second instance beside the first claims another index and subnet;
#   - an instance whose owner was killed (SIGKILL: no trap ran) is reaped by cluster_reap;
#   - cluster_down leaves no namespace, link, cgroup, process or folder; a process still running
#     on a node is ended.
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
. "$TL_SRCDIR/cluster/lib-cluster.sh"

cluster_up 3 100mbit

# --- nodes ----------------------------------------------------------------------------------
for node in $CLUSTER_NODES; do
	k=${node#node}
	got=$(cluster_exec "$node" hostname)
	[ "$got" = "$node" ] || fail "$node: hostname says '$got'"
	got=$(cluster_exec "$node" ip -o -4 addr show dev eth0 | awk '{ print $4 }')
	[ "$got" = "${CLUSTER_SUBNET%.0/24}.$k/24" ] && [ "$got" = "$(cluster_addr "$node")/24" ] ||
		fail "$node: eth0 has '$got', expected ${CLUSTER_SUBNET%.0/24}.$k/24"
	got=$(cluster_exec "$node" sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)
	want=$(sed -n 's/^cpus=//p' "$CLUSTER_DIR/node/$node")
	[ "$got" = "$want" ] || fail "$node: runs on cores '$got', expected '$want'"
done

# rate FROM TO BYTES RATE-MBIT: the best of 3 transfers is within 70% .. 110% of RATE-MBIT
# (shaping caps it; a busy machine can only lower it)
rate() {
	best=0
	for _ in 1 2 3; do
		got=$(cluster_tcp_mbps "$1" "$2" "$3") || exit 1
		echo "# $1 -> $2: $got Mbit/s (shaped at $4)"
		best=$(echo "$got $best" | awk '{ print ($1 > $2) ? $1 : $2 }')
		echo "$best $4" | awk '{ exit !($1 >= 0.9 * $2) }' && break
	done
	echo "$best $4" | awk '{ exit !($1 >= 0.7 * $2 && $1 <= 1.1 * $2) }' ||
		fail "$1 -> $2 carries $best Mbit/s at best, shaped at $4 Mbit/s"
}

# --- links ----------------------------------------------------------------------------------
rate node1 node2 4000000 100
rate node2 node3 4000000 100
cluster_shape node2 off
cluster_shape node1 off
unshaped=$(cluster_tcp_mbps node1 node2 20000000) || exit 1
echo "# node1 -> node2 unshaped: $unshaped Mbit/s"
[ "${unshaped%.*}" -gt 1000 ] || fail "node1 -> node2 unshaped carries $unshaped Mbit/s, not over 1000"
cluster_shape node1 100mbit
cluster_shape node2 10mbit
rate node1 node2 1000000 10
rate node2 node1 1000000 10
cluster_shape node2 100mbit

# --- one pair ---------------------------------------------------------------------------------
cluster_shape_pair node1 node3 10mbit
rate node1 node3 1000000 10
rate node3 node1 1000000 10
rate node1 node2 4000000 100
rate node3 node2 4000000 100
tc -n "$(sed -n 's/^ns=//p' "$CLUSTER_DIR/node/node1")" filter show dev eth0 | grep -q 'flowid 1:100' ||
	fail "node1 has no filter for its pair"
cluster_shape_pair node1 node3 off
rate node1 node3 4000000 100

# --- CPU cap --------------------------------------------------------------------------------
if cluster_cap_cpu node2 5; then
	wall=$(cluster_exec node2 perl -MTime::HiRes=time -e \
		'my $t = time; 1 while (times)[0] + (times)[1] < 0.1; printf "%.2f\n", time - $t')
	echo "# node2 capped at 5%: a busy loop took $wall s to use 0.1 s of CPU"
	echo "$wall" | awk '{ exit !($1 >= 1.5) }' || fail "node2 capped at 5% used 0.1 s of CPU in $wall s"
	cg=$(sed -n 's/^cgroup=//p' "$CLUSTER_DIR/node/node2")
	throttled=$(sed -n 's/^nr_throttled //p' "$cg/cpu.stat")
	[ "${throttled:-0}" -gt 0 ] || { cat "$cg/cpu.stat"; fail "node2's cgroup $cg was never throttled"; }
	cluster_cap_cpu node2 off
else
	echo "# no cgroup with a CPU quota here: the cap is not tested"
fi

# --- a second instance at once, and one whose owner died ------------------------------------
first=$CLUSTER_LAST_INDEX
second=$( (
	cluster_up 1 >/dev/null
	[ "$(cluster_exec node1 hostname)" = node1 ] || exit 1
	echo "$CLUSTER_INDEX $CLUSTER_SUBNET"
)) || fail "a second instance beside the first did not start"
echo "# second instance: $second (the first: $first)"
[ "${second%% *}" != "$first" ] || fail "the second instance took the first's index $first"
[ "${second#* }" != "$CLUSTER_SUBNET" ] || fail "the second instance took the first's subnet"
[ ! -e "/sys/class/net/tlc${second%% *}" ] || fail "the second instance left its bridge"

# The owner dies by SIGKILL: its trap cannot run, and its nodes stay until someone reaps them.
# shellcheck disable=SC2016
sh -c '. "$TL_SRCDIR/lib.sh"; . "$TL_SRCDIR/cluster/lib-cluster.sh"; cluster_up 2 >/dev/null
	echo "$CLUSTER_INDEX" >dead.index; kill -KILL $$' >/dev/null 2>&1
dead=$(cat dead.index)
[ -n "$(ip netns list | grep "^tlc$dead-node")" ] || fail "the killed instance $dead left nothing to reap"
cluster_reap >reap.out
expect_in reap.out "virtual cluster: reaping instance $dead of pid"
[ -z "$(ip netns list | grep "^tlc$dead-node")" ] && [ ! -e "/sys/class/net/tlc$dead" ] ||
	fail "cluster_reap left instance $dead: $(ip netns list | grep "^tlc$dead-") $(ls -d /sys/class/net/tlc"$dead"* 2>/dev/null)"

# --- teardown ---------------------------------------------------------------------------------
cluster_exec node3 perl -e 'sleep 300' &
i=0
while [ -z "$(cluster_pids node3 perl)" ]; do
	i=$((i + 1))
	[ $i -lt 50 ] || fail "the sleeper on node3 did not start"
	sleep 0.1
done
orphan=$(cluster_pids node3 perl)
cluster_down
left=$(cluster_leftovers)
[ -z "$left" ] || fail "cluster_down left: $left"
! alive "$orphan" || fail "the process $orphan on node3 outlived cluster_down"
wait 2>/dev/null
echo "ok: nodes, shaped and reshaped links, a slow pair, a CPU cap, two instances, reaping, teardown"
