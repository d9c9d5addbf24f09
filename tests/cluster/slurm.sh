#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration: Slurm on the 4 nodes of a virtual cluster (tests/cluster/lib-cluster.sh): one
# slurmd -N nodeK in each node's namespaces, slurmctld and munged here with the controller on
# the bridge's address; skipped (exit 77) without namespaces or without Slurm.
#   - srun across the 4 nodes runs one task on each, with that node's hostname;
#   - sbatch -N 2 of slurm/trainload.sbatch (srun --mpi=pmix): COMPLETED 0:0, its result names
#     node1 and node2 as the hosts of its 2 ranks and the Slurm node list node[1-2];
#   - slurm/trainload-scaling --nodes 1,2,4: each point COMPLETED, with its ranks on as many
#     nodes, and the report job COMPLETED with a scaling row for each point.
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
. "$TL_SRCDIR/slurm/lib-slurm.sh"
. "$TL_SRCDIR/cluster/lib-cluster.sh"
need_jq
slurm_need

SBATCH_SCRIPT=$TL_SRCDIR/../slurm/trainload.sbatch
STUDY=${TRAINLOAD%/src/trainload}/slurm/trainload-scaling
job=$TL_SRCDIR/data/good/tiny.job
export TRAINLOAD

cluster_up 4
cluster_slurm_start

# --- srun across the nodes, from a batch job on node1 -----------------------------------------
slurm_submit hosts --nodes=4 --ntasks-per-node=1 --output=hosts-%j.out \
	--wrap 'srun --mpi=none hostname | sort | tr "\n" " "'
slurm_expect "$ID" "COMPLETED 0:0" "hosts-$ID.out"
[ "$(cat "hosts-$ID.out")" = "node1 node2 node3 node4 " ] ||
	fail "srun on 4 nodes ran on: $(cat "hosts-$ID.out")"

# --- the batch script on 2 nodes --------------------------------------------------------------
slurm_submit two --nodes=2 --ntasks-per-node=1 "$SBATCH_SCRIPT" "$job" --set run.steps=2 \
	--set run.warmup=1
two=$ID
# --- a scaling study at 1, 2 and 4 nodes, at the same time ---------------------------------------
run study "$STUDY" --nodes 1,2,4 --ntasks-per-node=1 --results study "$job" --set run.steps=2 \
	--set run.warmup=1
expect_rc study 0

slurm_expect "$two" "COMPLETED 0:0" "trainload-$two.out"
r=results/tiny-2n-$two.json
expect_in "trainload-$two.out" "trainload.sbatch: job $two on 2 node(s) node[1-2] (partition debug), launcher srun"
jq_true "$r" '.world.nodes == 2 and .environment.hosts == "node1,node2" and [.ranks[].host] == ["node1", "node2"]'
jq_true "$r" '.environment.slurm | .nodelist == "node[1-2]" and .nodes == 2 and .job_id == $id' --arg id "$two"

ids=
for n in 1 2 4; do
	id=$(study_point study "$n")
	[ -n "$id" ] || { show study; fail "the study printed no job for $n node(s)"; }
	slurm_expect "$id" "COMPLETED 0:0" "study/tiny-${n}n-$id.out"
	jq_true "study/tiny-${n}n-$id.json" '.world.nodes == $n and .world.ranks == $n and ([.ranks[].host] | unique | length) == $n' --argjson n "$n"
	ids="$ids $id"
done
set -- $ids
jq_true "study/tiny-4n-$3.json" '.environment.hosts == "node1,node2,node3,node4" and .environment.slurm.nodelist == "node[1-4]"'
rep=$(study_report_job study)
[ -n "$rep" ] || { show study; fail "the study printed no report job"; }
slurm_expect "$rep" "COMPLETED 0:0" "study/tiny-scaling-$1.out"
md=study/tiny-scaling-$1.md
[ -s "$md" ] || { cat "study/tiny-scaling-$1.out"; fail "no report $md"; }
report_row "$md" 1 1 "tiny-1n-$1.json"
report_row "$md" 2 2 "tiny-2n-$2.json"
report_row "$md" 4 4 "tiny-4n-$3.json"
expect_in "$md" "Inputs: 3 file(s): 3 complete"
echo "ok: srun, trainload.sbatch on 2 nodes and trainload-scaling at 1, 2, 4 nodes across namespaced slurmds"
