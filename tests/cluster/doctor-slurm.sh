#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration (issue 15): slurm/doctor.sbatch on Slurm across the 4 nodes of a virtual cluster
# (tests/cluster/lib-cluster.sh; skipped, exit 77, without namespaces or without Slurm), node3's
# link at 1/10 of the others: sbatch --nodes=4 of the script is COMPLETED 0:0, doctor named node3
# (the exclude list holds exactly node3, the JSON names it for its link), and the job then ran
# as a step on the other three nodes, node3 excluded.
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
. "$TL_SRCDIR/slurm/lib-slurm.sh"
. "$TL_SRCDIR/cluster/lib-cluster.sh"
need_jq
slurm_need

SBATCH_SCRIPT=$TL_SRCDIR/../slurm/doctor.sbatch
job=$TL_SRCDIR/data/good/tiny.job
# doctor's options: the pre-job check, on a quarter of tiny.job's gradients (a fast allreduce
# across the slow link), one BLAS thread per rank
TRAINLOAD_DOCTOR_OPTIONS="--quick --timeout 30 --set model.hidden=64 --set model.vocab=256 --set run.threads_per_rank=1"
export TRAINLOAD TRAINLOAD_DOCTOR_OPTIONS

# shellcheck disable=SC2034 # read by cluster_up: every node on every core
CLUSTER_CPUS_PER_NODE=$(_cl_cpus | wc -l)
cluster_up 4 50mbit
cluster_shape node3 5mbit
cluster_slurm_start

slurm_submit doc --nodes=4 --ntasks-per-node=1 "$SBATCH_SCRIPT" "$job" --set run.steps=2 \
	--set run.warmup=1
out=trainload-doctor-$ID.out
slurm_expect "$ID" "COMPLETED 0:0" "$out"
[ "$(cat "results/doctor-$ID.exclude")" = node3 ] ||
	{ cat "$out"; fail "the exclude list holds '$(cat "results/doctor-$ID.exclude")', not node3"; }
jq_true "results/doctor-$ID.json" '.bad_hosts == ["node3"] and (.nodes[] | select(.host == "node3") | .link_verdict == "slow")'
expect_in "$out" "doctor: named: node node3 (link slow"
expect_in "$out" "doctor.sbatch: running the job on the other 3 node(s)"
expect_in "$out" "sbatch --exclude=node3 --nodes=4"
# the job's summary: its ranks on the three other nodes
expect_in "$out" "# nodes 3 (node1,node2,node4)"
echo "ok: doctor.sbatch named node3 and ran the job on node1, node2 and node4"
