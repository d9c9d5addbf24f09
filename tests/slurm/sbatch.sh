#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration (issue 7): slurm/trainload.sbatch on a private Slurm of 2 simulated nodes
# (tests/slurm/lib-slurm.sh; skipped, exit 77, without Slurm):
#   - srun --mpi=pmix (the default launcher), 1 node x 2 tasks: COMPLETED 0:0, the result at
#     results/tiny-1n-<jobid>.json with its JSONL, environment.slurm naming the job, its node
#     list, partition and counts, --cpus-per-task as the ranks' threads;
#   - TRAINLOAD_LAUNCHER=mpirun, 2 nodes x 1 task: COMPLETED, 2 ranks on n1 and n2;
#   - a bad job key: FAILED with trainload's exit code 2 and its message in the job's output.
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
. "$TL_SRCDIR/slurm/lib-slurm.sh"
need_jq

SBATCH_SCRIPT=$TL_SRCDIR/../slurm/trainload.sbatch
job=$TL_SRCDIR/data/good/tiny.job
# Open MPI between simulated nodes: ranks on n1 and n2 are "different hosts" to it, on lo.
OMPI_MCA_btl_tcp_if_include=lo
OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_btl_tcp_if_include OMPI_MCA_oob_tcp_if_include TRAINLOAD

slurm_start 2

# All three at once: the controller runs them one after another on the 2 nodes.
slurm_submit srun --cpus-per-task=1 "$SBATCH_SCRIPT" "$job" --set run.steps=3 --set run.warmup=0
a=$ID
TRAINLOAD_LAUNCHER=mpirun
export TRAINLOAD_LAUNCHER
slurm_submit mpirun --nodes=2 --ntasks-per-node=1 --job-name=tl-mpirun \
	"$SBATCH_SCRIPT" "$job" --set run.steps=2 --set run.warmup=0
b=$ID
unset TRAINLOAD_LAUNCHER
slurm_submit badkey --ntasks-per-node=1 "$SBATCH_SCRIPT" "$job" --set run.stepz=2
c=$ID

# --- srun --mpi=pmix ----------------------------------------------------------------------------
slurm_expect "$a" "COMPLETED 0:0" "trainload-$a.out"
r=results/tiny-1n-$a.json
[ -s "$r" ] || { cat "trainload-$a.out"; ls -R results; fail "job $a wrote no $r"; }
expect_in "trainload-$a.out" "trainload.sbatch: job $a on 1 node(s) n1 (partition debug), launcher srun, result $r"
expect_in "trainload-$a.out" "exec srun --mpi=pmix --cpu-bind=none --cpus-per-task=1 $TRAINLOAD --set run.threads_per_rank=1 --output $r"
jq_true "$r" '.environment.slurm == {job_id: $id, job_name: "trainload", nodelist: "n1", partition: "debug", cluster: "tltest", tasks_per_node: "2", nodes: 1, ntasks: 2, cpus_per_task: 1}' --arg id "$a"
jq_true "$r" '.world.ranks == 2 and .summary.steps_measured == 3 and all(.ranks[]; .threads == 1)'
# the JSONL: a header that names the job too (a run killed at its time limit keeps it), a line
# per step
[ "$(wc -l <"${r%.json}.jsonl")" -eq 4 ] || fail "${r%.json}.jsonl does not have 1 + 3 lines"
head -n 1 "${r%.json}.jsonl" >header.json
jq_true header.json '.environment.slurm.job_id == $id and .environment.slurm.nodelist == "n1"' --arg id "$a"

# --- mpirun inside the allocation, across the 2 simulated nodes -------------------------------
slurm_expect "$b" "COMPLETED 0:0" "trainload-$b.out"
r=results/tiny-2n-$b.json
[ -s "$r" ] || { cat "trainload-$b.out"; ls -R results; fail "job $b wrote no $r"; }
expect_in "trainload-$b.out" "launcher mpirun, result $r"
expect_in "trainload-$b.out" "exec mpirun --bind-to none $TRAINLOAD"
jq_true "$r" '.environment.slurm | .job_id == $id and .job_name == "tl-mpirun" and .nodelist == "n[1-2]" and .nodes == 2 and .tasks_per_node == "1(x2)"' --arg id "$b"
# Open MPI starts one daemon per Slurm node, so the two ranks are on two "nodes" to MPI
jq_true "$r" '.world.ranks == 2 and .world.nodes == 2 and .summary.steps_measured == 2'

# --- a bad key: trainload's exit 2 is the job's ----------------------------------------------
slurm_expect "$c" "FAILED 2:0" "trainload-$c.out"
expect_in "trainload-$c.out" "unknown key 'stepz'"
[ ! -e "results/tiny-1n-$c.json" ] || fail "the failed job wrote a result"
echo "ok: trainload.sbatch under srun --mpi=pmix and mpirun; a failed run is FAILED 2:0"
