#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration (issue 15): trainload doctor on the 4 nodes of a virtual cluster
# (tests/cluster/lib-cluster.sh; skipped, exit 77, where namespaces cannot be made), one rank per
# node, links shaped at 50 Mbit:
#   - healthy, twice in a row: exit 0, nothing named, an empty exclude list; the JSON holds the
#     4 nodes, the 6 links of the tournament (every pair once) and a collective on the dp group;
#   - node3's link at 1/10 (5 Mbit): exit 1, node3 named for its link and nothing else named,
#     its three links put down to it; the exclude list is exactly "node3";
#   - only the path node2 <-> node4 at 1/10: exit 1, that link named, no node called slow, the
#     exclude list empty; with --links ring (where node2 and node4 are no ring neighbours: the
#     ring is healthy) and a ring link slowed instead (node1 <-> node2), the probes clear both
#     ends and the link alone is named;
#   - node2's CPU capped at 5% of a CPU (the others share 2 cores with this machine's load):
#     exit 1, node2 named for compute (its GEMM rate or triad) and no other host named; its links, which its starved CPU slows too over TCP, put down to it;
#   - node3's rank stopped (SIGSTOP) mid-doctor: exit 3 within the timeout, node3 named;
#     killed (SIGKILL): a non-zero exit, node3 named.
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
. "$TL_SRCDIR/cluster/lib-cluster.sh"
need_jq

job=$TL_SRCDIR/data/good/tiny.job
# a quarter of tiny.job's gradients (0.5 MB): its dp allreduce crosses a slowed link in seconds
small="--set model.hidden=64 --set model.vocab=256 --set run.threads_per_rank=1"
# Every node on every core: nodes pinned to one core each would share it in pairs, and whatever
# else this machine runs on one core would make its two nodes slower than the other two.
# shellcheck disable=SC2034 # read by cluster_up
CLUSTER_CPUS_PER_NODE=$(_cl_cpus | wc -l)
cluster_up 4 50mbit

# doctor LABEL [OPTION...]: trainload doctor on 4 nodes x 1 rank, JSON in LABEL.json and the
# exclude list in LABEL.exclude. The healthy runs are full ones; the faults are found by --quick
# ones, the pre-job check.
doctor() {
	dl=$1
	shift
	# shellcheck disable=SC2086
	cluster_mpirun "$dl" 4 ppr:1:node "$TRAINLOAD" doctor "$job" $small --timeout 15 \
		--output "$dl.json" --exclude-list "$dl.exclude" "$@"
}

# named LABEL: the JSON's bad hosts and the links named on their own (slow or failed, not put
# down to a node), one line ("node3 | node2-node4")
named() {
	"$JQ" -r '[.bad_hosts[]] + ["|"] + [.links[] | select((.verdict == "slow" or .verdict == "failed") and (.explained | not)) | .a + "-" + .b] | join(" ")' "$1.json"
}

# --- healthy, twice --------------------------------------------------------------------------
for i in 1 2; do
	doctor healthy$i
	expect_rc healthy$i 0
	expect_in healthy$i.out "doctor: healthy: 4 nodes, 6 links, 1 groups; nothing named"
	jq_true healthy$i.json '.healthy and (.nodes | length) == 4 and (.links | length) == 6'
	jq_true healthy$i.json '[.nodes[].host] == ["node1", "node2", "node3", "node4"]'
	# every pair once, each measured both ways, never above the link rate (50 Mbit = 6.25 MB/s;
	# how far below depends on this machine's load)
	jq_true healthy$i.json '[.links[] | .a + "-" + .b] | sort == ["node1-node2", "node1-node3", "node1-node4", "node2-node3", "node2-node4", "node3-node4"]'
	jq_true healthy$i.json '[.links[] | .a_to_b_bytes_per_s, .b_to_a_bytes_per_s | . > 0.5e6 and . < 7e6] | all'
	jq_true healthy$i.json '.groups | length == 1 and .[0].group == "dp" and .[0].ranks == 4 and .[0].busbw_bytes_per_s > 0'
	[ ! -s healthy$i.exclude ] || fail "healthy: the exclude list holds '$(cat healthy$i.exclude)'"
done

# --- node3's link at 1/10 --------------------------------------------------------------------
cluster_shape node3 5mbit
doctor slownic --quick
cluster_shape node3 50mbit
expect_rc slownic 1
[ "$(named slownic)" = "node3 |" ] || fail "node3 slow: named '$(named slownic)', not 'node3 |'"
jq_true slownic.json '.nodes[] | select(.host == "node3") | .link_verdict == "slow" and .gemm_verdict != "slow"'
jq_true slownic.json '[.links[] | select(.a == "node3" or .b == "node3") | .verdict == "slow" and .explained] | all'
[ "$(cat slownic.exclude)" = node3 ] || fail "node3 slow: the exclude list holds '$(cat slownic.exclude)'"
expect_in slownic.out "doctor: named: node node3 (link slow: every link slow, its NIC or port)"

# --- only node2 <-> node4 slow --------------------------------------------------------------
cluster_shape_pair node2 node4 5mbit
doctor slowpair --quick
cluster_shape_pair node2 node4 off
expect_rc slowpair 1
[ "$(named slowpair)" = "| node2-node4" ] || fail "node2-node4 slow: named '$(named slowpair)'"
jq_true slowpair.json '[.nodes[] | .gemm_verdict, .triad_verdict, .link_verdict | . != "slow"] | all'
[ ! -s slowpair.exclude ] || fail "a slow pair: the exclude list holds '$(cat slowpair.exclude)'"
expect_in slowpair.out "link node2-node4 (slow: this pair only: cable or switch path)"

# the ring (node1-node2-node3-node4-node1) with a slow ring link: probes clear both ends
cluster_shape_pair node1 node2 5mbit
doctor ring --quick --links ring
cluster_shape_pair node1 node2 off
expect_rc ring 1
[ "$(named ring)" = "| node1-node2" ] || fail "ring, node1-node2 slow: named '$(named ring)'"
jq_true ring.json '.links_schedule == "ring" and ([.links[] | select(.probe | not)] | length) == 4'
# node1 and node2 each meet a node on no slow link (node3, node4) in the probe round
jq_true ring.json '[.links[] | select(.probe) | .a + "-" + .b] | sort == ["node1-node3", "node2-node4"]'

# --- node2's CPU capped ------------------------------------------------------------------------
if cluster_cap_cpu node2 5; then
	doctor capped --quick
	cluster_cap_cpu node2 off
	expect_rc capped 1
	[ "$(named capped)" = "node2 |" ] || fail "node2 capped: named '$(named capped)'"
	# over TCP a starved CPU slows its links too: they are put down to its compute
	# compute: its GEMM rate or its triad (both are its CPU's), whichever the load left clearer
	jq_true capped.json '.nodes[] | select(.host == "node2") | (.gemm_verdict == "slow" or .triad_verdict == "slow") and (.link_verdict == "ok" or .link_explained)'
	expect_in capped.out "doctor: named: node node2 ("
	[ "$(cat capped.exclude)" = node2 ] || fail "node2 capped: the exclude list holds '$(cat capped.exclude)'"
else
	echo "# no CPU cap here: the capped case is not run"
fi

# --- a rank stopped, a rank killed, mid-doctor ---------------------------------------------------
# signalled SIG LABEL: doctor in the background, node3's rank given SIG once the link rounds
# have begun (the table is not out yet: it ends the run)
signalled() {
	sg_sig=$1
	sg_label=$2
	# shellcheck disable=SC2046
	echo "+ mpirun ... doctor --timeout 10 (node3's rank gets SIG$sg_sig) >$sg_label.out 2>$sg_label.err"
	# shellcheck disable=SC2046
	timeout -k 5 "$TL_TIMEOUT" "$MPIRUN" $(cluster_mpirun_args ppr:1:node) -np 4 "$TRAINLOAD" \
		doctor "$job" $small --timeout 10 --exclude-list "$sg_label.exclude" \
		>"$sg_label.out" 2>"$sg_label.err" &
	sg_pid=$!
	sg_t=0
	while [ -z "$(cluster_pids node3 trainload)" ]; do
		[ $sg_t -lt 300 ] || fail "$sg_label: no rank on node3 after 30 s"
		sleep 0.1
		sg_t=$((sg_t + 1))
	done
	# into the link rounds: the compute phase takes about 2 s
	sleep 3
	# shellcheck disable=SC2046
	kill -"$sg_sig" $(cluster_pids node3 trainload)
	sg_start=$(date +%s)
	wait "$sg_pid"
	RC=$?
	sg_took=$(($(date +%s) - sg_start))
	echo "# $sg_label: exit $RC, $sg_took s after SIG$sg_sig"
	# shellcheck disable=SC2046
	kill -CONT $(cluster_pids node3 trainload) 2>/dev/null
	# timeout's 124 (or 137 after its -k): a hang; mpirun's own 137 names a rank's SIGKILL
	[ "$RC" -ne 124 ] && [ "$sg_took" -lt "$TL_TIMEOUT" ] || { show "$sg_label"; fail "$sg_label: a hang"; }
}

signalled STOP stopped
[ "$RC" -eq 3 ] || { show stopped; fail "stopped: exit $RC, not 3"; }
[ "$sg_took" -le 25 ] || fail "stopped: $sg_took s to end, past the 10 s timeout and its grace"
expect_in stopped.err node3
# rank 0 names who did not reach its checkpoint, and writes them as the exclude list; where the
# stopped rank's link partner's watchdog ends the job first, its record names node3 instead
[ ! -s stopped.exclude ] || [ "$(cat stopped.exclude)" = node3 ] ||
	fail "stopped: the exclude list holds '$(cat stopped.exclude)'"

signalled KILL killed
[ "$RC" -ne 0 ] || fail "killed: exit 0"
expect_in killed.err node3
echo "ok: doctor names nothing on a healthy cluster (twice), node3 for its link, the node2-node4 link alone, a slow ring link after its probes, node2 for compute, node3 stopped or killed"
