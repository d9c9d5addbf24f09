#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration: trainload across the 4 nodes of a virtual cluster (tests/cluster/lib-cluster.sh;
# skipped, exit 77, where namespaces cannot be made), Open MPI over TCP between the nodes:
#   - 4 nodes x 1 rank: the summary's header and the JSON name 4 nodes and their hosts, each
#     rank on the node it was placed on (node1..node4) and bound to that node's cores;
#   - the groups that cross nodes, in the run's JSON (grid, from the ranks' real hosts), are
#     those a dry run with --ranks-per-node names: tp 2 across 4 nodes x 1 rank (tp and dp
#     cross), and 2 nodes x 2 ranks (tp inside a node, dp across);
#   - placed round-robin instead (mpirun --map-by node), the run says tp crosses nodes where the
#     dry run, which fills node after node, says it does not: the run's answer is the hosts'.
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
. "$TL_SRCDIR/cluster/lib-cluster.sh"
need_jq

job=$TL_SRCDIR/data/good/tiny.job
cluster_up 4

# crossing FILE: the groups' crosses_nodes, as one line of jq's compact JSON
crossing() {
	"$JQ" -c '.grid.groups | map_values(.crosses_nodes)' "$1"
}

# --- 4 nodes x 1 rank -------------------------------------------------------------------------
cluster_mpirun run4 4 ppr:1:node "$TRAINLOAD" "$job" --set parallel.tp=2 --set run.steps=2 \
	--set run.warmup=1 --output r4.json
expect_rc run4 0
expect_in run4.out "# nodes 4 (node1,node2,node3,node4)  backend cpu"
expect_in run4.out "ranks 4 = dp 2 x pp 1 x tp 2"
jq_true r4.json '.world.nodes == 4 and .world.ranks == 4 and .environment.hosts == "node1,node2,node3,node4"'
jq_true r4.json '[.ranks[].host] == ["node1", "node2", "node3", "node4"]'
# each rank bound inside its node, to the cores the node was given
for k in 1 2 3 4; do
	cpus=$(sed -n 's/^cpus=//p' "$CLUSTER_DIR/node/node$k")
	jq_true r4.json '.ranks[$k - 1].cpuset == $cpus' --argjson k "$k" --arg cpus "$cpus"
done
run dry4 "$TRAINLOAD" --dry-run --json --ranks 4 --ranks-per-node 1 --set parallel.tp=2 "$job"
expect_rc dry4 0
jq_true r4.json '.grid.ranks_per_node == 1 and .grid.rank == 0'
jq_true r4.json '.grid.groups | .tp.crosses_nodes and .dp.crosses_nodes and (.pp.crosses_nodes | not)'
[ "$(crossing r4.json)" = "$(crossing dry4.out)" ] ||
	fail "4 x 1: the run says $(crossing r4.json), the dry run $(crossing dry4.out)"
[ "$("$JQ" -c '.grid | del(.groups[].crosses_nodes)' r4.json)" = \
	"$("$JQ" -c '.grid | del(.groups[].crosses_nodes)' dry4.out)" ] ||
	fail "4 x 1: the run's grid differs from the dry run's beyond crosses_nodes"

# --- 2 nodes x 2 ranks, node after node ---------------------------------------------------------
cluster_mpirun run22 4 ppr:2:node "$TRAINLOAD" "$job" --set parallel.tp=2 --set run.steps=2 \
	--set run.warmup=1 --output r22.json
expect_rc run22 0
expect_in run22.out "# nodes 2 (node1,node2)  backend cpu"
jq_true r22.json '[.ranks[].host] == ["node1", "node1", "node2", "node2"] and .world.nodes == 2'
run dry22 "$TRAINLOAD" --dry-run --json --ranks 4 --ranks-per-node 2 --set parallel.tp=2 "$job"
expect_rc dry22 0
jq_true r22.json '.grid.ranks_per_node == 2 and (.grid.groups.tp.crosses_nodes | not) and .grid.groups.dp.crosses_nodes'
[ "$(crossing r22.json)" = "$(crossing dry22.out)" ] ||
	fail "2 x 2: the run says $(crossing r22.json), the dry run $(crossing dry22.out)"

# --- 2 nodes x 2 ranks, round-robin ---------------------------------------------------------
cluster_mpirun runrr 4 node -H node1,node2 "$TRAINLOAD" "$job" --set parallel.tp=2 \
	--set run.steps=2 --set run.warmup=1 --output rr.json
expect_rc runrr 0
jq_true rr.json '[.ranks[].host] == ["node1", "node2", "node1", "node2"] and .grid.ranks_per_node == 2'
jq_true rr.json '.grid.groups.tp.crosses_nodes and (.grid.groups.dp.crosses_nodes | not)'
[ "$(crossing rr.json)" != "$(crossing dry22.out)" ] ||
	fail "round-robin: the run agrees with a dry run that fills node after node"
echo "ok: 4 nodes named in the header and the JSON; the run's and the dry run's crossing groups agree, and differ where mpirun placed ranks round-robin"
