#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration (issue 7): slurm/trainload-scaling on a private Slurm of 2 simulated nodes
# (tests/slurm/lib-slurm.sh; skipped, exit 77, without Slurm). Two studies at 1 and 2 nodes of
# one task each, submitted together:
#   - ok/: srun --mpi=pmix; both points COMPLETED, and the report job (afterany on both) writes
#     the Markdown report with a row for each point, and its plots where gnuplot is installed;
#   - bad/: TRAINLOAD_LAUNCHER=mpirun and tp = 2, which 1 rank cannot hold: the 1-node point
#     exits 2 (FAILED), the study goes on, and the report lists that point as missing with its
#     Slurm state while the 2-node point is in its table; a 3-node point, which sbatch refuses
#     on this 2-node cluster, is listed as not submitted;
#   - cut/: one point cancelled (scancel) while it runs: CANCELLED, and the report lists its JSONL
#     as partial and the point as missing with that state.
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
. "$TL_SRCDIR/slurm/lib-slurm.sh"
need_jq

STUDY=${TRAINLOAD%/src/trainload}/slurm/trainload-scaling
job=$TL_SRCDIR/data/good/tiny.job
OMPI_MCA_btl_tcp_if_include=lo
OMPI_MCA_oob_tcp_if_include=lo
export OMPI_MCA_btl_tcp_if_include OMPI_MCA_oob_tcp_if_include

slurm_start 2

run ok "$STUDY" --nodes 1,2 --ntasks-per-node=1 --results ok "$job" \
	--set run.steps=2 --set run.warmup=0
expect_rc ok 0
run bad env TRAINLOAD_LAUNCHER=mpirun "$STUDY" --nodes 1,2,3 --ntasks-per-node=1 --results bad \
	"$job" --set run.steps=2 --set run.warmup=0 --set parallel.tp=2
expect_rc bad 0
run cut "$STUDY" --nodes 1 --ntasks-per-node=1 --results cut "$job" --set run.steps=100000
expect_rc cut 0
expect_in bad.err "trainload-scaling: 3 nodes: not submitted: sbatch: error: Batch job submission failed: Node count specification invalid"

ok1=$(study_point ok 1)
ok2=$(study_point ok 2)
okr=$(study_report_job ok)
[ -n "$ok1" ] && [ -n "$ok2" ] && [ -n "$okr" ] || { show ok; fail "ok: the study did not print the job ids"; }
okmd=$TL_TMP/ok/tiny-scaling-$ok1.md
expect_in ok.out "trainload-scaling: report job $okr (after $ok1:$ok2): report $okmd, plots in $TL_TMP/ok/tiny-scaling-$ok1/"
bad1=$(study_point bad 1)
bad2=$(study_point bad 2)
badr=$(study_report_job bad)
[ -n "$bad1" ] && [ -n "$bad2" ] && [ -n "$badr" ] || { show bad; fail "bad: the study did not print the job ids"; }
badmd=$TL_TMP/bad/tiny-scaling-$bad1.md
expect_in bad.out "trainload-scaling: report job $badr (after $bad1:$bad2): report $badmd"

slurm_expect "$ok1" "COMPLETED 0:0" "ok/tiny-1n-$ok1.out"
slurm_expect "$ok2" "COMPLETED 0:0" "ok/tiny-2n-$ok2.out"
slurm_expect "$okr" "COMPLETED 0:0" "ok/tiny-scaling-$ok1.out"
slurm_expect "$bad1" "FAILED 2:0" "bad/tiny-1n-$bad1.out"
slurm_expect "$bad2" "COMPLETED 0:0" "bad/tiny-2n-$bad2.out"
slurm_expect "$badr" "COMPLETED 0:0" "bad/tiny-scaling-$bad1.out"

# --- what the study left: results, job logs, the points file --------------------------------
jq_true "ok/tiny-1n-$ok1.json" '.environment.slurm | .job_id == $id and .nodes == 1' --arg id "$ok1"
jq_true "ok/tiny-2n-$ok2.json" '.environment.slurm | .job_id == $id and .nodes == 2 and .nodelist == "n[1-2]"' --arg id "$ok2"
expect_in "ok/tiny-2n-$ok2.out" "launcher srun, result $TL_TMP/ok/tiny-2n-$ok2.json"
expect_in "bad/tiny-2n-$bad2.out" "launcher mpirun, result $TL_TMP/bad/tiny-2n-$bad2.json"
expect_in "bad/tiny-1n-$bad1.out" "tp*pp*cp = 2*1*1 does not divide the 1 ranks"
[ ! -e "bad/tiny-1n-$bad1.json" ] || fail "the failed point wrote a result"
expect_in "ok/tiny-scaling-$ok1.points" "point 2 $ok2 $TL_TMP/ok/tiny-2n-$ok2.json"

# --- the reports ----------------------------------------------------------------------------
[ -s "$okmd" ] || { cat "ok/tiny-scaling-$ok1.out"; fail "ok: no report $okmd"; }
report_row "$okmd" 1 1 "tiny-1n-$ok1.json"
report_row "$okmd" 2 2 "tiny-2n-$ok2.json"
expect_in "$okmd" "Inputs: 2 file(s): 2 complete"
expect_not_in "$okmd" "| missing |"
# the runs span nodes: the plots count nodes
grep -q "^set xlabel 'nodes'" "ok/tiny-scaling-$ok1/report.gp" || fail "ok: the plots' x axis is not in nodes"
if command -v gnuplot >/dev/null 2>&1; then
	for plot in throughput efficiency breakdown predicted; do
		[ -s "ok/tiny-scaling-$ok1/$plot.svg" ] && [ -s "ok/tiny-scaling-$ok1/$plot.png" ] ||
			{ ls -l "ok/tiny-scaling-$ok1"; fail "ok: no $plot.svg and .png beside the report"; }
	done
fi

[ -s "$badmd" ] || { cat "bad/tiny-scaling-$bad1.out"; fail "bad: no report $badmd"; }
report_row "$badmd" 2 2 "tiny-2n-$bad2.json"
grep -F -q "tiny-1n-$bad1" "$badmd" && { cat "$badmd"; fail "bad: the failed point has a row"; }
expect_in "$badmd" "| missing | 1 node: job $bad1 FAILED (exit code 2:0) |"
expect_in "$badmd" "| missing | 3 nodes: not submitted: sbatch: error: Batch job submission failed: Node count specification invalid |"
expect_in "bad/tiny-scaling-$bad1.out" "--missing '1 node: job $bad1 FAILED (exit code 2:0)' --missing '3 nodes: not submitted: "
# --- a point cancelled while it runs ---------------------------------------------------------
cut1=$(study_point cut 1)
cutr=$(study_report_job cut)
[ -n "$cut1" ] && [ -n "$cutr" ] || { show cut; fail "cut: the study did not print the job ids"; }
# once it has measured a step (the JSONL's header and a step line)
i=0
while [ "$(cat "cut/tiny-1n-$cut1.jsonl" 2>/dev/null | wc -l)" -lt 2 ]; do
	i=$((i + 1))
	[ $i -lt $((SLURM_TIMEOUT * 10)) ] || { cat "cut/tiny-1n-$cut1.out"; fail "cut: job $cut1 measured no step"; }
	sleep 0.1
done
scancel "$cut1" || fail "scancel $cut1"
slurm_wait "$cut1"
[ "$SLURM_STATE" = CANCELLED ] || { cat "cut/tiny-1n-$cut1.out"; fail "job $cut1: $SLURM_STATE, expected CANCELLED"; }
cutexit=$SLURM_EXIT # 0:15 or 143:0, by when the batch shell saw the signal
slurm_expect "$cutr" "COMPLETED 0:0" "cut/tiny-scaling-$cut1.out"
cutmd=cut/tiny-scaling-$cut1.md
[ -s "$cutmd" ] || { cat "cut/tiny-scaling-$cut1.out"; fail "cut: no report $cutmd"; }
expect_in "$cutmd" "| missing | 1 node: job $cut1 CANCELLED (exit code $cutexit) |"
# scancel sends SIGTERM: trainload writes its document as interrupted (or, if the signal came
# too late for that, the JSONL keeps the finished steps); either is a partial run in the report
grep -E -q "^\| [^|]*/cut/tiny-1n-$cut1\.json \| partial \| status interrupted \||^\| [^|]*/cut/tiny-1n-$cut1\.jsonl \| partial \| no JSON document; [1-9][0-9]* finished step" "$cutmd" || { cat "$cutmd"; fail "cut: its result is not listed as partial"; }

echo "ok: studies at 1,2 nodes and their reports; failed, refused and cancelled points listed with their state"
