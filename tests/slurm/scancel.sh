#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration (issue 17): scancel on a running job, on a private Slurm of 1 simulated node
# (tests/slurm/lib-slurm.sh; skipped, exit 77, without Slurm). slurm/trainload.sbatch runs 2
# ranks under srun --mpi=pmix; rank 1 stops for good in its fourth step (TRAINLOAD_TEST_STALL), as
# behind a step that takes longer than the job has left. scancel has Slurm send every task
# SIGTERM (and SIGKILL KillWait later): the document must be there, written by rank 0 from the 2
# steps it held, the JSONL whole, the job CANCELLED.
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
. "$TL_SRCDIR/slurm/lib-slurm.sh"
need_jq

SBATCH_SCRIPT=$TL_SRCDIR/../slurm/trainload.sbatch
job=$TL_SRCDIR/data/good/tiny.job
TRAINLOAD_TEST_STALL=1:3
export TRAINLOAD TRAINLOAD_TEST_STALL

slurm_start 1

run submit sbatch --parsable --ntasks=2 --cpus-per-task=1 "$SBATCH_SCRIPT" "$job" \
	--quiet --set run.steps=100000 --set run.warmup=1
expect_rc submit 0
id=$(cut -d';' -f1 submit.out)
r=results/tiny-1n-$id.json
i=0
while [ "$(cat "${r}l" 2>/dev/null | wc -l)" -lt 3 ]; do
	[ "$i" -lt $((SLURM_TIMEOUT * 10)) ] ||
		{ cat "trainload-$id.out" 2>/dev/null; fail "job $id: no 2 steps in ${r}l"; }
	sleep 0.1
	i=$((i + 1))
done
sleep 1 # rank 0 waits in the step that never ends
run cancel scancel "$id"
expect_rc cancel 0
t=0
while ! [ -e "$r" ] && [ "$t" -lt $((SLURM_TIMEOUT * 10)) ]; do
	sleep 0.1
	t=$((t + 1))
done
echo "job $id: the document $((t / 10)).$((t % 10)) s after scancel"
slurm_wait "$id"
case $SLURM_STATE in CANCELLED*) ;; *) fail "job $id: $SLURM_STATE $SLURM_EXIT, expected CANCELLED" ;; esac
[ -s "$r" ] || { cat "trainload-$id.out"; ls -la results; fail "job $id: no document after scancel"; }
[ "$(wc -l <"${r}l")" -eq 3 ] || fail "${r}l: not the header and the 2 steps"
tail -n +2 "${r}l" | "$JQ" -c . >steps.jsonl
"$JQ" -c '.steps[]' "$r" >steps.json
cmp -s steps.jsonl steps.json || { diff steps.jsonl steps.json; fail "$r: its steps are not the JSONL's"; }
jq_true "$r" '.status == "interrupted" and .interrupted_by.signal == "SIGTERM" and
	.summary.steps_measured == 2 and .environment.slurm.job_id == $id' --arg id "$id"
ls results >files.list
[ "$(cat files.list)" = "$(printf '%s\n' "tiny-1n-$id.json" "tiny-1n-$id.jsonl")" ] ||
	{ cat files.list; fail "files left in results"; }
echo "ok: scancel of job $id: the document of the 2 steps rank 0 held"
