#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration (issues 7, 18): slurm/trainload-scaling and slurm/trainload.sbatch without a Slurm
# cluster: --dry-run prints one sbatch command per node count and a report job that depends on
# all of them (afterany), with the build tree's programs; --scaling strong holds the batch the
# job has at the largest count; bad usage exits 2 naming what is wrong; without sbatch in PATH
# the study refuses, and the batch script refuses to run outside a Slurm job; the old name,
# trainload-sweep, runs it with a deprecation notice.
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"

top_builddir=${TRAINLOAD%/src/trainload}
STUDY=$top_builddir/slurm/trainload-scaling
SBATCH_SCRIPT=$TL_SRCDIR/../slurm/trainload.sbatch
BASH=$(command -v bash) || fail "bash not found"
job=$TL_SRCDIR/data/good/tiny.job
[ -x "$STUDY" ] || fail "$STUDY not built"

# --- --dry-run: the commands, nothing submitted, no folder made ------------------------------
run dry "$STUDY" --dry-run --nodes 1,2,4 --partition gpu --ntasks-per-node=4 --time=00:05:00 \
	"$job" --set run.steps=3
expect_rc dry 0
[ "$(grep -c '' dry.out)" -eq 4 ] || { show dry; fail "dry run: expected 3 point commands and a report job"; }
[ ! -e results ] || fail "the dry run made the results folder"
for n in 1 2 4; do
	line=$(grep -F -e "sbatch --parsable --nodes=$n " dry.out) || { show dry; fail "no sbatch command for $n nodes"; }
	want="TRAINLOAD=$TRAINLOAD TRAINLOAD_RESULTS=$TL_TMP/results sbatch --parsable --nodes=$n --job-name=tl-tiny-${n}n --output=$TL_TMP/results/tiny-${n}n-%j.out --partition=gpu --ntasks-per-node=4 --time=00:05:00 $(cd "$TL_SRCDIR/../slurm" && pwd)/trainload.sbatch $job --set run.steps=3"
	[ "$line" = "$want" ] || { show dry; fail "$n nodes: the command is
  $line
expected
  $want"; }
done
last=$(tail -n 1 dry.out)
for part in "--partition=gpu" "--ntasks-per-node=4" " --nodes=1 --ntasks=1 " \
	"'--dependency=afterany:<job 1>:<job 2>:<job 4>'" \
	"'--output=$TL_TMP/results/tiny-scaling-<first job>.out'" \
	"'--wrap=$STUDY --report '\\''$TL_TMP/results/tiny-scaling-<first job>.points'\\'''"; do
	case $last in
	*"$part"*) ;;
	*) show dry; fail "the report job's command lacks $part" ;;
	esac
done

# --- --scaling: weak lets the batch grow, strong holds the one of the largest count ------------
# tiny.job: microbatch 2, grad_accum 2; 4 nodes x 2 ranks (trainload.sbatch's default) = dp 8
run strong "$STUDY" --dry-run --nodes 1,4 --scaling strong "$job"
expect_rc strong 0
expect_in strong.out "trainload-scaling: strong scaling: global batch 32 at every node count"
[ "$(count_in strong.out 'trainload.sbatch '"$job"' --set parallel.global_batch=32')" -eq 2 ] ||
	{ show strong; fail "strong: not every point holds global_batch=32"; }
run strong8 "$STUDY" --dry-run --nodes 1,4 --ntasks-per-node=4 --scaling strong "$job"
expect_in strong8.out "global batch 64 at every node count"
run weak "$STUDY" --dry-run --nodes 1,2 --scaling weak "$job"
[ "$(count_in weak.out '--set parallel.global_batch=auto')" -eq 2 ] || { show weak; fail "weak: global_batch not auto"; }

# --- bad usage ------------------------------------------------------------------------------
bad() {
	b_label=$1
	b_msg=$2
	shift 2
	run "$b_label" "$@"
	expect_rc "$b_label" 2
	expect_in "$b_label.err" "$b_msg"
	expect_empty "$b_label.out"
}
bad nodes "--nodes 1,x: expected counts like 1,2,4,8" "$STUDY" --dry-run --nodes 1,x "$job"
bad twice "--nodes 2,1,2: a count is given twice" "$STUDY" --dry-run --nodes 2,1,2 "$job"
bad dash-n "-N2: the node counts are --nodes LIST" "$STUDY" --dry-run -N2 "$job"
bad scaling "--scaling linear: expected weak or strong" "$STUDY" --dry-run --scaling linear "$job"
bad spaced "JOB 00:05:00 not readable (an sbatch option takes its value after '='" \
	"$STUDY" --dry-run --time 00:05:00 "$job"
bad nojob "Usage: trainload-scaling" "$STUDY" --dry-run
# a strong study whose layout does not resolve at the largest count: trainload's message, exit 2
bad layout "tp*pp*cp = 3*1*1 does not divide the 4 ranks" \
	"$STUDY" --dry-run --nodes 1,2 --scaling strong "$job" --set parallel.tp=3

# --- no sbatch: a clear refusal (the check comes before anything else runs) -------------------
mkdir empty-path
run nosbatch env PATH="$TL_TMP/empty-path" "$BASH" "$STUDY" --nodes 1 "$job"
expect_rc nosbatch 2
expect_in nosbatch.err "trainload-scaling: sbatch not found: trainload-scaling submits Slurm jobs and needs Slurm's client commands"

# --- the batch script outside Slurm ---------------------------------------------------------
env -u SLURM_JOB_ID "$BASH" "$SBATCH_SCRIPT" "$job" >outside.out 2>outside.err
RC=$?
expect_rc outside 2
expect_in outside.err "trainload.sbatch: not inside a Slurm job: submit it with sbatch"

run help "$STUDY" --help
expect_rc help 0
expect_in help.out "Usage: trainload-scaling [OPTION...] [SBATCH-OPTION...] JOB [TRAINLOAD-OPTION...]"
run version "$STUDY" --version
[ "$(cat version.out)" = "trainload-scaling ${TL_VERSION:-0.1.0}" ] || { show version; fail "--version"; }

# --- the old name: the same program, with a notice on stderr ------------------------------------
OLD=$top_builddir/slurm/trainload-sweep
[ -x "$OLD" ] || fail "$OLD not built"
run old "$OLD" --dry-run --nodes 1,2,4 --partition gpu --ntasks-per-node=4 --time=00:05:00 \
	"$job" --set run.steps=3
expect_rc old 0
cmp -s dry.out old.out || { diff dry.out old.out; fail "trainload-sweep does not do what trainload-scaling does"; }
expect_in old.err "trainload-sweep: deprecated: this is trainload-scaling now"
run oldv "$OLD" --version
[ "$(cat oldv.out)" = "trainload-scaling ${TL_VERSION:-0.1.0}" ] || { show oldv; fail "trainload-sweep --version"; }
run oldbad "$OLD" --dry-run --nodes 1,x "$job"
expect_rc oldbad 2
expect_in oldbad.err "trainload-scaling: --nodes 1,x: expected counts like 1,2,4,8"
echo "ok: trainload-scaling's dry run, scaling and refusals; trainload-sweep runs it"
