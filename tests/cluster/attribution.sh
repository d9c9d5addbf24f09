#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# What a cluster engineer is told about a sick node or link, and the scaling model, across the
# nodes of a virtual cluster (tests/cluster/lib-cluster.sh; skipped, exit 77, where namespaces
# cannot be made): one rank per node, links at 1 Gbit, the tiny job with straggler_pct as
# shipped (5%). The nodes share this machine's two cores, and other builds share them too: a
# straggler is named only beyond its phase's noise, so none of what follows is luck.
#   - healthy, 4 nodes: no straggler named; every node's link measured by the link probe;
#   - node3's link cut to 1/10 (100 Mbit both ways): node3 named for its link, no other host
#     named (its neighbours' transfers wait on node3's link and are not theirs); a sweep on
#     the same nodes names node3's link too (text and JSON);
#   - node2's CPU capped at 5% of a core (its fair share is half of one): node2 named for
#     compute (its GEMM rate against the fleet's), no other host named: the ranks that wait for
#     node2 at the gradient allreduce wait (comm_wait), and node2 is the one that arrives late;
#   - the healthy run with runs at 1 and 2 nodes make a report whose model is fitted across
#     nodes to blocking transfer times, with predicted against measured at 1, 2 and 4 nodes and
#     the 8-node row marked as extrapolated, its plot shaded as such.
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
. "$TL_SRCDIR/cluster/lib-cluster.sh"
need_jq

job=$TL_SRCDIR/data/good/tiny.job
cluster_up 4 1gbit

# attribute LABEL N: the tiny job on N nodes x 1 rank, into LABEL.json
attribute() {
	cluster_mpirun "$1" "$2" ppr:1:node "$TRAINLOAD" "$job" --set run.steps=5 \
		--set run.warmup=1 --output "$1.json"
	expect_rc "$1" 0
}

# named FILE: every "host:cause" the run names as a straggler, sorted, on one line
named() {
	"$JQ" -r '[.ranks[] | .host as $h | .stragglers[] | "\($h):\(.cause)"] | unique | join(" ")' "$1"
}

# judged FILE: what each rank was judged on (for a failure's message)
judged() {
	"$JQ" -c '.ranks[] | {host, judged: (.judged | map_values([.value, .sigma_pct])), stragglers}' "$1"
}

# --- healthy --------------------------------------------------------------------------------
attribute healthy 4
[ "$(named healthy.json)" = "" ] || { judged healthy.json; fail "a healthy cluster names $(named healthy.json)"; }
expect_in healthy.out "# stragglers: none"
expect_in healthy.out "# links (2048 KiB both ways around a ring of the 4 nodes, best of 5): median "
jq_true healthy.json '[.ranks[].link | .nodes == 4 and .mbps > 30 and .in_mbps >= .mbps and .out_mbps >= .mbps] | all'

# --- node3's link at 1/10 -------------------------------------------------------------------
cluster_shape node3 100mbit
attribute link 4
# a sweep over the same nodes names the slow link's host too, in its text and its JSON
cluster_mpirun sweep 4 ppr:1:node "$TRAINLOAD" sweep -b 1M -e 1M -n 3 -w 1 --output sweep.json
cluster_shape node3 1gbit
expect_rc sweep 0
grep -q '^  rank 2 (node3, cpus [0-9,-]*) link: link [0-9.]* MB/s, [0-9.]*% below median' sweep.out ||
	{ show sweep; fail "the sweep does not name node3 for its link"; }
jq_true sweep.json '[.stragglers[] | "\(.host):\(.cause)"] == ["node3:link"] and
	([.ranks[].host] == ["node1", "node2", "node3", "node4"])'
[ "$(named link.json)" = "node3:link" ] || { judged link.json; fail "node3's slow link: named '$(named link.json)'"; }
grep -q '^  rank 2 (node3, cpus [0-9,-]*) link: link [0-9.]* MB/s, [0-9.]*% below median' link.out ||
	{ show link; fail "the summary does not name node3 for its link"; }
# 100 Mbit is 12.5 MB/s; the others carry several times that
jq_true link.json '.ranks[2].link.mbps < 15 and ([.ranks[0, 1, 3].link.mbps] | min) > 30'

# --- node2's CPU capped -----------------------------------------------------------------------
cluster_cap_cpu node2 5 || exit 77
attribute cap 4
cluster_cap_cpu node2 off
[ "$(named cap.json)" = "node2:compute" ] || { judged cap.json; fail "node2's capped CPU: named '$(named cap.json)'"; }
grep -q '^  rank 1 (node2, cpus [0-9,-]*) compute: gemm [0-9.]* GFLOP/s, [0-9.]*% below median' cap.out ||
	{ show cap; fail "the summary does not name node2 for compute"; }
# the others wait for node2 at the gradient allreduce: it is the late one, they the waiting ones
# (each waits for the latest arrival, node2, less its own lateness; not held against the
# transfer, which node2's capped CPU slows as well: 0.43 s against a 0.41 s wait in one CI run)
jq_true cap.json '(.ranks[1].per_step_s.comm_late_by_group.dp) as $late |
	.ranks[1].per_step_s.comm_wait_by_group.dp < $late / 2 and
	([.ranks[0, 2, 3] | .per_step_s.comm_late_by_group.dp < $late / 2 and
	  .per_step_s.comm_wait_by_group.dp > $late / 2] | all)'

# --- the scaling model over 1, 2 and 4 nodes --------------------------------------------------
attribute one 1
attribute two 2
run report "$TRAINLOAD_REPORT" --format json --project 8 one.json two.json healthy.json
expect_rc report 0
# fitted across nodes (one rank per node) to the allreduce's blocking transfer times at 2 and 4
jq_true two.json '.collectives[0] | .op == "allreduce" and .group_nodes == 2 and .transfer_us > 0'
jq_true report.out '.groups[0].fits | length == 1 and (.[0] | .op == "allreduce" and .group == "dp" and .ranks_per_node == 1 and .group_sizes == [2, 4] and .nodes == [2, 4] and .points == 2 and .residual_max >= 0)'
jq_true report.out '.groups[0].projection | [.[].ranks] == [1, 2, 4, 8] and
	([.[0:3][] | .ok and .basis == "measured" and .measured_s > 0 and .predicted_s > 0] | all) and
	(.[3] | .ok and .basis == "extrapolated" and .nodes == 8 and
	 (.note | startswith("allreduce over dp of 8 ranks on 8 node(s) extrapolated from groups of 2-4 ranks on 2-4 node(s)")))'
run reportmd "$TRAINLOAD_REPORT" --project 8 --plot plots one.json two.json healthy.json
expect_rc reportmd 0
grep -q '^| 8 | 8 | extrapolated | [0-9.]* |  |  | ' reportmd.out || { cat reportmd.out; fail "no extrapolated 8-node row"; }
grep -q '^| 4 | 4 | measured | [0-9.]* | [0-9.]* | [-+][0-9.]*% | ' reportmd.out || { cat reportmd.out; fail "no predicted-against-measured row at 4 nodes"; }
grep -q "^set object 1 rect from first .* fillcolor rgb '#e8e8e8'" plots/report.gp || fail "the projection's plot does not shade the extrapolation"
echo "ok: healthy names none; node3 named for its link alone (run and sweep); node2 for compute alone; the model fitted across 2 and 4 nodes, 8 extrapolated"
