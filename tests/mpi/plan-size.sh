#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration: a plan too large to hold is bad input, said clearly, with exit status 2, never a
# crash, a hang or a silent exit: an absurd size is refused before anything is allocated (dry
# run, alone and under mpirun; tests/data/bad/plan-too-large.job does it at 1, 2 and 4 ranks),
# and a plan that passes that bound but finds no memory for its ops (under `ulimit -v`) is
# refused as well. Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"

too_large="microbatches x 1000 layers per stage make one rank's plan too large (at most 100000;"

# 404 microbatches a step of 1000 layers (dry run), 101 or 202 of them (runs)
run_bad dry 0 "404 $too_large" --dry-run --set model.layers=1000 --set parallel.global_batch=404
run_bad dryjson 0 "101 $too_large" --dry-run --json --ranks 4 --set model.layers=1000 \
	--set parallel.global_batch=404
run_bad alone 0 "404 $too_large" --set model.layers=1000 --set parallel.global_batch=404
run_bad np2 2 "202 $too_large" --set model.layers=1000 --set parallel.global_batch=404
# at the bound itself it is planned
run_trainload bound 0 --dry-run --set model.layers=1000 --set parallel.global_batch=100
expect_rc bound 0
expect_in bound.out "microbatches 100 per data-parallel rank"

# --- no memory for the plan's ops ----------------------------------------------------------
# The plan at the bound (10^5 microbatch-layers, millions of ops, hundreds of MB) in a process
# allowed 250 MB of address space. OpenBLAS spins when its threads' buffers cannot be had:
# one thread. A small dry run under the same limit must work, or this part cannot be checked
# here.
OPENBLAS_NUM_THREADS=1
export OPENBLAS_NUM_THREADS
limit=250000
run small sh -c 'ulimit -v "$0" && exec "$@"' "$limit" "$TRAINLOAD" --dry-run
if [ "$RC" -ne 0 ]; then
	show small
	echo "SKIP: a dry run does not start in $limit KB of address space here"
else
	run nomem sh -c 'ulimit -v "$0" && exec "$@"' "$limit" "$TRAINLOAD" --dry-run \
		--set model.layers=1000 --set parallel.global_batch=100
	expect_rc nomem 2
	expect_in nomem.err "out of memory"
	expect_empty nomem.out
fi
echo ok
