#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration (issue 8): the watchdog (src/watchdog.c) under real mpirun. TRAINLOAD_TEST_STALL=
# RANK:STEP (for testing only) stops one rank for good at its first GEMM of step STEP:
#   - 2 ranks (dp 2), rank 1 stalls: exit 3 within timeout + 10 s; rank 1 says it is stuck in a
#     gemm, computing; rank 0 that it waits in the data-parallel allreduce of ranks 0,1, which
#     rank 1 had not reached;
#   - 4 ranks (tp 2 x dp 2), rank 3 stalls: rank 2 waits in an allreduce over tp with ranks 2,3;
#   - a sweep at 2 ranks, rank 1 stalls at iteration 3: exit 3, rank 0 named in the allreduce;
#   - one process without mpirun stalls: exit 3;
#   - --timeout on a healthy run changes nothing: exit 0;
#   - the steps are numbered as the JSONL numbers them (measured steps from 0, warm-up steps
#     apart);
#   - outside the steps (start-up, calibration, gathering and writing the results) the watchdog
#     holds each stage to at least 60 s whatever timeout_s: a healthy run with --timeout 1, whose
#     start-up and calibration take longer than that, exits 0.
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"

timeout_s=3
job=$TL_SRCDIR/data/good/tiny.job

# stalled LABEL N STALL ARGS...: a run on N ranks (0: alone) with TRAINLOAD_TEST_STALL=STALL
# must exit 3 within timeout + 20 s (start-up, the steps before the stall, the watchdog's grace
# and the abort: 14 s were seen at a load average of 11 on 2 cores; without the watchdog the run
# would go on until run()'s own limit).
stalled() {
	s_label=$1
	s_n=$2
	s_stall=$3
	shift 3
	s_t0=$(date +%s)
	TRAINLOAD_TEST_STALL=$s_stall run_trainload "$s_label" "$s_n" --quiet --timeout "$timeout_s" "$@"
	s_took=$(($(date +%s) - s_t0))
	expect_rc "$s_label" 3
	[ "$s_took" -le $((timeout_s + 20)) ] ||
		{ show "$s_label"; fail "$s_label: exit 3 after $s_took s, timeout_s is $timeout_s"; }
	echo "ok: $s_label: exit 3 after $s_took s"
}

stalled np2 2 1:2 --set run.steps=4 --set run.warmup=1 "$job"
expect_in np2.err "trainload: rank 1 ("
expect_in np2.err "): watchdog: no op finished for"
# TRAINLOAD_TEST_STALL counts the warm-up step: its step 2 is measured step 1
expect_in np2.err "(timeout_s = $timeout_s): stuck in gemm (stalled on purpose by TRAINLOAD_TEST_STALL), step 1, microbatch 0, layer"
expect_in np2.err "trainload: rank 0 ("
expect_in np2.err "stuck in wait for allreduce of 2131968 B over dp (2 ranks: 0,1) (waiting for the other ranks), step 1, grad_sync"

stalled np4 4 3:1 --set parallel.tp=2 --set run.steps=3 --set run.warmup=0 "$job"
expect_in np4.err "trainload: rank 3 ("
expect_in np4.err "stuck in gemm (stalled on purpose by TRAINLOAD_TEST_STALL), step 1, microbatch 0, layer"
expect_in np4.err "stuck in allreduce of 65536 B over tp (2 ranks: 2,3) (waiting for the other ranks), step 1, microbatch 0, layer"

stalled sweep 2 1:3 sweep --set sweep.max_bytes=1Ki
expect_in sweep.err "stuck in allreduce of 8 B over world (2 ranks: 0,1) (stalled on purpose by TRAINLOAD_TEST_STALL), step 3, sweep"
expect_in sweep.err "trainload: rank 0 ("
expect_in sweep.err "stuck in allreduce of 8 B over world (2 ranks: 0,1) (waiting for the other ranks), step 3, sweep"

stalled alone 0 0:0 "$job"
expect_in alone.err "trainload: rank 0 ("
expect_in alone.err "stuck in gemm (stalled on purpose by TRAINLOAD_TEST_STALL), warm-up step 0, microbatch 0"

run_trainload healthy 2 --quiet --timeout 30 --set run.check=1 "$job"
expect_rc healthy 0
expect_not_in healthy.err "watchdog"

# Outside the steps: start-up, the calibration GEMMs, the gathers and the document are no op of
# a step. Rank 0 lingers 5 s in the calibration stage (TRAINLOAD_TEST_STALL=0:calibration:5),
# past the 3 s the steps' ops are held to, and the run still ends well.
TRAINLOAD_TEST_STALL=0:calibration:5 run_trainload short 2 --quiet --timeout 3 \
	--set run.steps=2 --output short.json "$job"
expect_rc short 0
expect_not_in short.err "watchdog"
jq_true short.json '.status == "completed" and .summary.blas_peak_tflops_per_rank > 0'
