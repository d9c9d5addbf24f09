#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration (issue 5): collective sweeps like nccl-tests (src/sweep.c), under mpirun.
#   - `trainload sweep` without a file: the table from 8 B to 1 MiB, #wrong 0 on every row, exit 0,
#     the JSON document's collectives;
#   - every op once at 2 ranks, blocking and not; allreduce on the tp groups of a 4-rank tp=2
#     layout, sendrecv on the cp groups of a cp=2 one; bf16 allreduce through the user-defined
#     sum, correct;
#   - TRAINLOAD_TEST_CORRUPT=1 (for testing only) makes rank 1 flip an element it received: exit
#     1, #wrong > 0 and rank 1 named; --min-busbw 1e9: exit 1 naming the op;
#   - one rank without mpirun; --dry-run lists the sizes as counted;
#   - bad sweep keys exit 2 naming the key (tests/data/bad has the file:line cases).
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
need_jq

# rows LABEL: the table rows of LABEL.out (the lines that do not start with '#').
rows() {
	grep -v '^#' "$1.out"
}

# all_right LABEL N: N table rows, every one with #wrong 0.
all_right() {
	got=$(rows "$1" | wc -l)
	[ "$got" -eq "$2" ] || { show "$1"; fail "$1: $got table rows, expected $2"; }
	bad=$(rows "$1" | awk '$8 != 0' | wc -l)
	[ "$bad" -eq 0 ] || { show "$1"; fail "$1: $bad rows with #wrong other than 0"; }
}

# --- the shorthand, the table and the document ---------------------------------------------
run_trainload short 2 sweep --set sweep.max_bytes=1Mi --set sweep.iters=5 --output s.json
expect_rc short 0
all_right short 18
[ "$(rows short | head -n 1 | awk '{ print $1, $2, $3, $4 }')" = "8 2 float sum" ] ||
	{ show short; fail "first row is not 8 B, 2 floats, sum"; }
[ "$(rows short | tail -n 1 | awk '{ print $1, $2 }')" = "1048576 262144" ] ||
	{ show short; fail "last row is not 1 MiB"; }
rows short | grep -E -q '^ +[0-9]+ +[0-9]+ +float +sum +[0-9]+\.[0-9] +[0-9]+\.[0-9]{2} +[0-9]+\.[0-9]{2} +0$' ||
	{ show short; fail "rows do not have nccl-tests' columns"; }
expect_in short.out "# conventions: GB = 1e9; time = mean per iteration, max over ranks"
expect_in short.out "# group world of 2 ranks"
expect_in short.out "# dtype f32  blocking yes  warmup 5  iters 5  check every 1 iteration(s)  cache rotation off"
expect_in short.out "#       size         count      type   redop       time    algbw    busbw  #wrong"
expect_in short.out "# Avg bus bandwidth    : "
expect_in short.out "(allreduce, mean over sizes >= 1 MiB)"
jq_true s.json '.schema == 1 and (.trainload_version | length) > 0 and (.job | has("sweep")) and (.job | has("model") | not)'
jq_true s.json '.world.ranks == 2 and (.environment.hosts | length) > 0 and (.environment.mpi_version | length) > 0'
jq_true s.json '(.collectives | length) == 18 and all(.collectives[]; .op == "allreduce" and .group == "world" and .group_size == 2 and .dtype == "f32" and .blocking == true and .wrong == 0)'
jq_true s.json 'all(.collectives[]; .time_us > 0 and .time_us_min <= .time_us_p50 and .time_us_p50 <= .time_us_p95 and .time_us_p95 <= .time_us_max and .count * 4 == .bytes)'
# busbw = algbw x 2(n-1)/n = algbw for n = 2; algbw = bytes / time
jq_true s.json 'all(.collectives[]; ((.busbw_gbps - .algbw_gbps) | fabs) < 1e-9 and ((.algbw_gbps - .bytes / .time_us / 1e3) | fabs) <= 1e-6 * .algbw_gbps)'
[ ! -e s.jsonl ] || fail "a sweep wrote s.jsonl"

# --- every op, blocking and not, at 2 ranks ----------------------------------------------------
ops=allreduce,reduce_scatter,allgather,alltoall,broadcast,sendrecv
for b in yes no; do
	run_trainload ops-$b 2 sweep --set sweep.op=$ops --set sweep.max_bytes=64Ki \
		--set sweep.iters=3 --set sweep.warmup_iters=1 --set sweep.blocking=$b --rank-agg avg
	expect_rc ops-$b 0
	all_right ops-$b 84
	for op in allreduce reduce_scatter allgather alltoall broadcast sendrecv; do
		expect_in ops-$b.out "# $op on 2 ranks"
		expect_in ops-$b.out "($op, mean over all sizes: none >= 1 MiB)"
	done
	expect_in ops-$b.out "time = mean per iteration, avg over ranks"
	expect_in ops-$b.out "blocking $b"
	[ "$(rows ops-$b | awk '$4 == "none"' | wc -l)" -eq 56 ] || { show ops-$b; fail "redop none rows"; }
done

# --- allreduce on the tp groups of a 4-rank tp=2 layout --------------------------------------
run_trainload tp 4 sweep --set parallel.tp=2 --set sweep.group=tp --set sweep.max_bytes=64Ki \
	--set sweep.iters=3 --output tp.json
expect_rc tp 0
all_right tp 14
expect_in tp.out "ranks 4 = dp 2 x pp 1 x tp 2"
expect_in tp.out "# group tp of 2 ranks: 2 group(s) sweeping at once"
jq_true tp.json 'all(.collectives[]; .group == "tp" and .group_size == 2) and .world.tp == 2'

# --- sendrecv on the context-parallel groups of a 4-rank cp=2 layout --------------------------
run_trainload cp 4 sweep --set parallel.cp=2 --set sweep.group=cp --set sweep.op=sendrecv \
	--set sweep.max_bytes=64Ki --set sweep.iters=3 --output cp.json
expect_rc cp 0
expect_in cp.out "# group cp of 2 ranks: 2 group(s) sweeping at once"
jq_true cp.json 'all(.collectives[]; .group == "cp" and .group_size == 2 and .wrong == 0)
	and (.collectives | length) > 0 and .world.cp == 2 and .world.dp == 2'

# --- bf16 through the user-defined sum; rotation among buffers -------------------------------
run_trainload bf16 2 sweep --set sweep.dtype=bf16 --set sweep.max_bytes=256Ki --set sweep.iters=3 \
	--set sweep.rotate_mb=4
expect_rc bf16 0
all_right bf16 16
rows bf16 | awk '$3 != "bfloat16" { exit 1 }' || { show bf16; fail "type is not bfloat16"; }
expect_in bf16.out "cache rotation on (4 MB"

# --- a wrong element is caught -------------------------------------------------------------
echo "+ export TRAINLOAD_TEST_CORRUPT=1"
TRAINLOAD_TEST_CORRUPT=1
export TRAINLOAD_TEST_CORRUPT
run_trainload corrupt 2 sweep --set sweep.max_bytes=1Ki --set sweep.iters=2
unset TRAINLOAD_TEST_CORRUPT
expect_rc corrupt 1
bad=$(rows corrupt | awk '$8 > 0' | wc -l)
[ "$bad" -eq 8 ] || { show corrupt; fail "corrupt: $bad rows with #wrong > 0, expected all 8"; }
expect_in corrupt.err "trainload: rank 1 ("
expect_in corrupt.err "wrong elements (first at 0:"
expect_in corrupt.err "collective results are not correct"

# --- --min-busbw ----------------------------------------------------------------------------
run_trainload minbw 2 sweep --set sweep.min_bytes=1Mi --set sweep.max_bytes=1Mi \
	--set sweep.iters=2 --min-busbw 1e9
expect_rc minbw 1
expect_in minbw.err "trainload: allreduce: mean busbw "
expect_in minbw.err "over sizes >= 1 MiB is below --min-busbw 1e+09"

# --- one rank without mpirun; a dry run lists the sizes as counted ----------------------------
run_trainload alone 0 sweep --set sweep.op=allreduce,alltoall --set sweep.max_bytes=64 \
	--set sweep.iters=2 --quiet --output alone.json
expect_rc alone 0
expect_empty alone.out
jq_true alone.json '(.collectives | length) == 8 and all(.collectives[]; .group_size == 1 and .wrong == 0)'
run_trainload dry 0 sweep --dry-run --ranks 8 --set parallel.tp=2 --set sweep.group=tp \
	--set sweep.op=allgather --set sweep.max_bytes=64
expect_rc dry 0
expect_in dry.out "# sweep on group tp of 2 ranks (8 ranks in all), float"
expect_in dry.out "allgather: 8 16 32 64"

# --- bad input exits 2 ----------------------------------------------------------------------
run_bad badop 2 "--set sweep.op: unknown collective 'alreduce' in key 'op' of [sweep] (did you mean 'allreduce'?)" \
	sweep --set sweep.op=alreduce
run_bad badagg 0 "trainload: --rank-agg median: expected max, avg or min" sweep --rank-agg median
echo "ok: collective sweeps"
