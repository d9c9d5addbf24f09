#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration (issues 5, 13): collective sweeps in nccl-tests' layout, run by the executor.
#   - three parsers of nccl-tests' output (tests/mpi/lib-nccl.sh), written against its own
#     (tests/data/nccl-tests), read that sample right, and read `trainload sweep`'s the same,
#     as its JSON says; its header lines, "# Using devices" block (one line per rank), the
#     in-place columns, "# Out of bounds values" and "# Avg bus bandwidth" with nothing after;
#   - nccl-tests' flags are the job keys (-b 1M = min_bytes = 1Mi ...), and bad ones exit 2
#     naming the flag;
#   - every collective out of place and in place, #wrong 0, on 1 (alone), 2 and 4 ranks,
#     blocking and not; the tp groups of a 4-rank layout, sendrecv on the cp groups of a cp=2
#     one; bf16 with rotation;
#   - TRAINLOAD_TEST_CORRUPT=1 (for testing only): rank 1's received data changed: exit 1,
#     #wrong > 0 in both columns, rank 1 named, "FAILED"; --min-busbw: exit 1;
#   - the JSON keeps the keys it had and names every rank's host; the JSONL has a line a row;
#   - a size that is not a whole number of elements is rounded and said so (issue 17);
#   - bad sweep keys exit 2 naming the key.
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
. "$TL_SRCDIR/mpi/lib-nccl.sh"
need_jq

# rows LABEL: the table rows of LABEL.out (the lines that do not start with '#').
rows() {
	grep -v '^#' "$1.out"
}

# all_right LABEL N: N table rows, #wrong 0 in both columns of every one.
all_right() {
	got=$(rows "$1" | wc -l)
	[ "$got" -eq "$2" ] || { show "$1"; fail "$1: $got table rows, expected $2"; }
	bad=$(rows "$1" | awk '$9 != 0 || $13 != 0' | wc -l)
	[ "$bad" -eq 0 ] || { show "$1"; fail "$1: $bad rows with #wrong other than 0"; }
}

# --- the parsers, on nccl-tests' own output --------------------------------------------------
sample=$TL_SRCDIR/data/nccl-tests/all_reduce_perf.txt
for p in nccl_fixed nccl_regex nccl_header; do
	$p "$sample" >"sample.$p"
	[ "$(wc -l <"sample.$p")" -eq 31 ] || { cat "sample.$p"; fail "$p: not 31 rows of the sample"; }
	[ "$(head -n 1 "sample.$p")" = "8 0.00 0.00" ] || fail "$p: first row $(head -n 1 "sample.$p")"
	[ "$(tail -n 1 "sample.$p")" = "8589934592 338.82 337.35" ] || fail "$p: last row"
	[ "$(sed -n 18p "sample.$p")" = "1048576 9.68 9.49" ] || fail "$p: 1 MiB row"
done
[ "$(nccl_avg "$sample")" = "70.742" ] || fail "nccl_avg does not read the sample"
[ "$(nccl_oob "$sample")" = "0 OK" ] || fail "nccl_oob does not read the sample"
# and they tell a table without the root column from one with it: the fixed one reads #wrong
printf '%s\n' '#       size         count      type   redop     time   algbw   busbw #wrong' \
	'     1048576        262144     float     sum    118.9    8.82    8.82      0' >noroot.txt
[ "$(nccl_fixed noroot.txt)" = "1048576 0 " ] || fail "the fixed parser on a table without root"
[ -z "$(nccl_regex noroot.txt)" ] || fail "the regex parser on a table without root"
printf '# Avg bus bandwidth    : 8.82 GB/s (allreduce)\n' >avgtext.txt
! nccl_avg avgtext.txt >/dev/null || fail "nccl_avg accepts text after the number"

# --- the shorthand, on 2 ranks: nccl-tests' layout, read by the parsers ----------------------
run_trainload short 2 sweep -b 8 -e 1M -n 5 -w 2 --output s.json
expect_rc short 0
all_right short 18
[ "$(rows short | head -n 1 | awk '{ print $1, $2, $3, $4, $5 }')" = "8 2 float sum -1" ] ||
	{ show short; fail "first row is not 8 B, 2 floats, sum, root -1"; }
[ "$(rows short | tail -n 1 | awk '{ print $1, $2 }')" = "1048576 262144" ] ||
	{ show short; fail "last row is not 1 MiB"; }
expect_in short.out "# nThread 1 nGpus 1 minBytes 8 maxBytes 1048576 step: 2(factor) warmup iters: 2 iters: 5 agg iters: 1 validation: 1 graph: 0"
expect_in short.out "# Using devices"
[ "$(grep -c '^#  Rank  [01] Group  0 Pid ' short.out)" -eq 2 ] ||
	{ show short; fail "not one '# Using devices' line per rank"; }
expect_in short.out "#                                                              out-of-place                       in-place          "
expect_in short.out "#       size         count      type   redop    root     time   algbw   busbw #wrong     time   algbw   busbw #wrong"
expect_in short.out "#        (B)    (elements)                               (us)  (GB/s)  (GB/s)            (us)  (GB/s)  (GB/s)       "
[ "$(nccl_oob short.out)" = "0 OK" ] || { show short; fail "no '# Out of bounds values : 0 OK'"; }
avg=$(nccl_avg short.out) || { show short; fail "text after the Avg bus bandwidth number"; }
expect_in short.out "# trainload: allreduce on 2 ranks: mean busbw "
expect_in short.out "# time = mean per iteration, max over ranks; dtype f32  blocking yes  warmup 2  iters 5  check 1 iteration(s) per size, after the timed ones"
# the three parsers read the same rows, and what they read is the JSON's
for p in nccl_fixed nccl_regex nccl_header; do
	$p short.out >"short.$p"
done
cmp -s short.nccl_fixed short.nccl_regex && cmp -s short.nccl_fixed short.nccl_header ||
	{ show short; paste short.nccl_fixed short.nccl_regex short.nccl_header; fail "the parsers disagree"; }
[ "$(wc -l <short.nccl_fixed)" -eq 18 ] || fail "the parsers read $(wc -l <short.nccl_fixed) rows"
# each busbw as printed is the JSON's to within its printed digits (3 significant, or 2 decimals)
"$JQ" -r '.collectives[] | "\(.bytes) \(.busbw_gbps) \(.in_place.busbw_gbps)"' s.json >short.json.rows
paste -d ' ' short.nccl_fixed short.json.rows | awk '
	function off(p, j) { d = p - j; if (d < 0) d = -d; return d > 0.006 && d > 0.006 * j }
	$1 != $4 || off($2, $5) || off($3, $6) { bad = 1; print "row: " $0 }
	END { exit bad }' || fail "printed busbw differs from the JSON's"
# Avg bus bandwidth: the mean of both columns over all sizes, as nccl-tests'
jq_true s.json '([.collectives[] | .busbw_gbps, .in_place.busbw_gbps] | add / length) as $m | (($m - $a) | fabs) <= 1e-4 * $m + 1e-6' --argjson a "$avg"

# --- the document: the keys it had, every rank's host, the JSONL -----------------------------
jq_true s.json '.schema == 1 and (.trainload_version | length) > 0 and (.job | has("sweep")) and (.job | has("model") | not) and .status == "completed"'
jq_true s.json '.world.ranks == 2 and (.environment.hosts | length) > 0 and (.environment.mpi_version | length) > 0 and (.environment | has("command_line"))'
jq_true s.json '.conventions.time_us == "max" and .conventions.gb == "1e9"'
jq_true s.json '(.ranks | length) == 2 and [.ranks[].rank] == [0, 1] and all(.ranks[]; (.host | length) > 0 and .pid > 0 and (.cpuset | type) == "string")'
jq_true s.json '(.collectives | length) == 18 and all(.collectives[]; .op == "allreduce" and .group == "world" and .group_size == 2 and .dtype == "f32" and .blocking == true and .wrong == 0 and .in_place.wrong == 0 and .checked == true and .redop == "sum" and .root == -1)'
jq_true s.json 'all(.collectives[]; .time_us > 0 and .time_us_min <= .time_us_p50 and .time_us_p50 <= .time_us_p95 and .time_us_p95 <= .time_us_max and .count * 4 == .bytes and .call_count == .count and .requested_bytes == .bytes)'
# -a / --rank-agg: max of the ranks' means by default; min <= avg <= max
jq_true s.json 'all(.collectives[]; .time_us == .time_us_rank_max and .time_us_rank_min <= .time_us_rank_avg and .time_us_rank_avg <= .time_us_rank_max and .ranks_active == 2)'
# busbw = algbw x 2(n-1)/n = algbw for n = 2; algbw = bytes / time
jq_true s.json 'all(.collectives[]; ((.busbw_gbps - .algbw_gbps) | fabs) < 1e-9 and ((.algbw_gbps - .bytes / .time_us / 1e3) | fabs) <= 1e-6 * .algbw_gbps)'
jq_true s.json 'all(.collectives[]; ((.in_place.algbw_gbps - .bytes / .in_place.time_us / 1e3) | fabs) <= 1e-6 * .in_place.algbw_gbps)'
[ "$(wc -l <s.jsonl)" -eq 19 ] || fail "s.jsonl: not a header and 18 rows"
head -n 1 s.jsonl >s.head
jq_true s.head '$d[0] as $d | .job == $d.job and .world == $d.world and .ranks == $d.ranks and (has("collectives") | not)' --slurpfile d s.json
tail -n +2 s.jsonl | "$JQ" -c . >s.rows
"$JQ" -c '.collectives[]' s.json >s.docrows
cmp -s s.rows s.docrows || fail "s.jsonl's rows differ from s.json's"

# --- nccl-tests' flags are the job keys --------------------------------------------------------
run_trainload flags 0 sweep --dry-run --json -b 1M -e 4M -f 4 -n 7 -w 3 -c 2 -d double -z 0 -a 2
expect_rc flags 0
jq_true flags.out '.job.sweep | .min_bytes == 1048576 and .max_bytes == 4194304 and .factor == 4 and .step == 0 and .iters == 7 and .warmup_iters == 3 and .check == 2 and .dtype == "f64" and .blocking == false'
run_trainload keys 0 sweep --dry-run --json --set sweep.min_bytes=1Mi --set sweep.max_bytes=4Mi \
	--set sweep.factor=4 --set sweep.iters=7 --set sweep.warmup_iters=3 --set sweep.check=2 \
	--set sweep.dtype=f64 --set sweep.blocking=no
jq_true flags.out '.job == $k[0].job and .sweep == $k[0].sweep' --slurpfile k keys.out
jq_true flags.out '.sweep.tests == [{op: "allreduce", bytes: [1048576, 4194304]}]'
# -i: a fixed step, as nccl-tests'; 1.5K is a whole number of bytes; in command-line order
run_trainload step 0 sweep --dry-run --json -b 1.5K -e 4K -i 1K
jq_true step.out '.job.sweep | .min_bytes == 1536 and .step == 1024 and .max_bytes == 4096'
jq_true step.out '.sweep.tests[0].bytes == [1536, 2560, 3584]'
run_trainload order 0 sweep --dry-run --json -n 3 --set sweep.iters=9 -w 4
jq_true order.out '.job.sweep | .iters == 9 and .warmup_iters == 4'
# -o: a reduction where nccl-tests takes one, a file otherwise; -J a file
run_trainload redop 0 sweep -b 8 -e 64 -n 2 -w 1 -o sum -J j.json -q
expect_rc redop 0
jq_true j.json '(.collectives | length) == 4'
for bad in "-b 12Q:expected a size in bytes, with K, M or G" "-e 0.3K:not a whole number of bytes" \
	"-n 0:out of range (sweep.iters: 1 .. 1073741824)" "-f 1:out of range" \
	"-d int8:expected float, double, half or bfloat16" "-a 4:expected 0 (rank 0), 1 (avg)" \
	"-z 7:expected 0 (start, then wait) or 1" "-o prod:trainload's collectives reduce with sum only" \
	"-R 1:buffer registration is not implemented" "-g 2:one device per rank"; do
	flag=${bad%%:*}
	label=bad$(echo "$flag" | tr -dc 'a-zA-Z0-9')
	# shellcheck disable=SC2086
	run_bad "$label" 0 "trainload: $flag: ${bad#*:}" sweep $flag
done
run_bad notsweep 0 "trainload: -b is a sweep's flag (trainload sweep ...)" -b 8
run_bad notsweep2 2 "trainload: --minbytes is a sweep's flag (trainload sweep ...)" --minbytes 8

# --- every collective, out of place and in place, blocking and not; 1, 2 and 4 ranks ---------
ops=allreduce,reduce_scatter,allgather,alltoall,broadcast,sendrecv
for z in 1 0; do
	run_trainload ops$z 2 sweep -b 8 -e 64K -n 3 -w 1 -z $z --set sweep.op=$ops --rank-agg avg \
		--output ops$z.json
	expect_rc ops$z 0
	all_right ops$z 84 # 8 B .. 64 KiB: 14 sizes, 6 ops
	for op in allreduce reduce_scatter allgather alltoall broadcast sendrecv; do
		expect_in ops$z.out "# $op on 2 ranks"
		expect_in ops$z.out "# trainload: $op on 2 ranks: mean busbw "
	done
	[ "$(count_in ops$z.out '# Out of bounds values : 0 OK')" -eq 6 ] || fail "ops$z: not 6 OK"
	expect_in ops$z.out "time = mean per iteration, avg over ranks"
	[ "$(rows ops$z | awk '$4 == "none"' | wc -l)" -eq 56 ] || { show ops$z; fail "redop none rows"; }
	[ "$(rows ops$z | awk '$5 == 0' | wc -l)" -eq 14 ] || { show ops$z; fail "broadcast's root 0"; }
	jq_true ops$z.json 'all(.collectives[]; .time_us == .time_us_rank_avg and .in_place.time_us == .in_place.time_us_rank_avg)'
done
jq_true ops0.json 'all(.collectives[]; .blocking == false)'
# reduce_scatter counts as nccl-tests: size is the input, count each rank's share
jq_true ops1.json '[.collectives[] | select(.op == "reduce_scatter")][1] | .bytes == 16 and .call_count == 2 and .count == 4'

run_trainload alone 0 sweep -b 8 -e 256 -n 2 -w 1 --set sweep.op=$ops --quiet --output alone.json
expect_rc alone 0
expect_empty alone.out
jq_true alone.json '(.collectives | length) == 36 and all(.collectives[]; .group_size == 1 and .wrong == 0 and .in_place.wrong == 0)'

run_trainload four 4 sweep -b 8 -e 4K -n 2 -w 1 --set sweep.op=$ops -z 0 --output four.json
expect_rc four 0
jq_true four.json 'all(.collectives[]; .group_size == 4 and .wrong == 0 and .in_place.wrong == 0 and .checked) and (.ranks | length) == 4'
jq_true four.json '[.collectives[] | select(.op == "allreduce")][0] | ((.busbw_gbps / .algbw_gbps - 1.5) | fabs) < 1e-12'
# 8 B is not a float for each of 4 ranks: left out, and said so
expect_in four.out "# note: 1 size(s) rounded down to what reduce_scatter moves (whole float elements, the same number per rank): 8 B -> left out"
jq_true four.json '[.collectives[] | select(.op == "alltoall")][0] | .bytes == 16 and .call_count == 1'

# --- the tp groups of a 4-rank tp=2 layout; bf16 through the user-defined sum, rotated -------
run_trainload tp 4 sweep --set parallel.tp=2 --set sweep.group=tp -e 64K -n 3 --output tp.json
expect_rc tp 0
all_right tp 14
expect_in tp.out "ranks 4 = dp 2 x pp 1 x tp 2"
expect_in tp.out "# group tp of 2 ranks: 2 group(s) sweeping at once"
[ "$(grep -c '^#  Rank  [0-3] Group  [0-3] Pid' tp.out)" -eq 4 ] || { show tp; fail "devices"; }
jq_true tp.json 'all(.collectives[]; .group == "tp" and .group_size == 2) and .world.tp == 2'

# --- sendrecv on the context-parallel groups of a 4-rank cp=2 layout --------------------------
run_trainload cp 4 sweep --set parallel.cp=2 --set sweep.group=cp --set sweep.op=sendrecv \
	--set sweep.max_bytes=64Ki --set sweep.iters=3 --output cp.json
expect_rc cp 0
expect_in cp.out "# group cp of 2 ranks: 2 group(s) sweeping at once"
jq_true cp.json 'all(.collectives[]; .group == "cp" and .group_size == 2 and .wrong == 0)
	and (.collectives | length) > 0 and .world.cp == 2 and .world.dp == 2'

# --- bf16 through the user-defined sum; rotation among buffers -------------------------------
run_trainload bf16 2 sweep -d bfloat16 -e 256K -n 3 --set sweep.rotate_mb=4
expect_rc bf16 0
all_right bf16 16
rows bf16 | awk '$3 != "bfloat16" { exit 1 }' || { show bf16; fail "type is not bfloat16"; }
expect_in bf16.out "cache rotation on (4 MB"

# --- a size that is not a whole number of elements: rounded, and said so (issue 17) ----------
run_trainload f64 2 sweep -d double -b 12 -e 48 -n 2 --output f64.json
expect_rc f64 0
expect_in f64.out "# note: 1 size(s) rounded down to what allreduce moves (whole double elements): 12 B -> 8 B"
[ "$(rows f64 | awk '{ print $1 }' | tr '\n' ' ')" = "8 24 48 " ] || { show f64; fail "f64 sizes"; }
jq_true f64.json '.collectives[0] | .requested_bytes == 12 and .bytes == 8 and .count == 1'

# --- a wrong element is caught, in both columns ----------------------------------------------
echo "+ export TRAINLOAD_TEST_CORRUPT=1"
TRAINLOAD_TEST_CORRUPT=1
export TRAINLOAD_TEST_CORRUPT
run_trainload corrupt 2 sweep -e 1K -n 2 -c 2
unset TRAINLOAD_TEST_CORRUPT
expect_rc corrupt 1
bad=$(rows corrupt | awk '$9 > 0 && $13 > 0' | wc -l)
[ "$bad" -eq 8 ] || { show corrupt; fail "corrupt: $bad rows with #wrong > 0 in both columns, expected 8"; }
expect_in corrupt.out "FAILED"
expect_in corrupt.err "trainload: rank 1 ("
expect_in corrupt.err "check: sweep, iteration "
expect_in corrupt.err "wrong elements (first at 0:"
expect_in corrupt.err "collective results are not correct"
expect_not_in corrupt.err "trainload: rank 0 ("

# --- --min-busbw; -c 0: no checks, #wrong N/A ------------------------------------------------
run_trainload minbw 2 sweep -b 1M -e 1M -n 2 -c 0 --min-busbw 1e9
expect_rc minbw 1
expect_in minbw.err "trainload: allreduce: mean busbw "
expect_in minbw.err "over sizes >= 1 MiB is below --min-busbw 1e+09"
[ "$(rows minbw | awk '{ print $9, $13 }')" = "N/A N/A" ] || { show minbw; fail "#wrong with -c 0"; }
expect_in minbw.out "validation: 0 graph: 0"

# --- SIGINT: the sweep stops after the row under way, and its document says so ---------------
# Far more rows than the test waits for: 2250 sizes, each timed 100000 times.
"$TRAINLOAD" sweep -q -b 4 -e 9000 -i 4 -n 100000 -c 0 --output int.json >int.out 2>int.err &
pid=$!
trap 'kill -9 "$pid" 2>/dev/null' EXIT
wait_lines "$pid" int.jsonl 3 int.err
stop_and_wait "$pid" INT
trap - EXIT
[ "$rc" -eq 1 ] || { cat int.err; fail "an interrupted sweep exited $rc, expected 1"; }
expect_in int.err "trainload: interrupted after "
rows_done=$(($(wc -l <int.jsonl) - 1))
jq_true int.json '.status == "interrupted" and (.collectives | length) == $n and $n >= 2 and $n < 2249' --argjson n "$rows_done"

# --- a dry run lists the sizes as counted -------------------------------------------------------
run_trainload dry 0 sweep --dry-run --ranks 8 --set parallel.tp=2 --set sweep.group=tp \
	--set sweep.op=allgather -e 64
expect_rc dry 0
expect_in dry.out "# sweep on group tp of 2 ranks (8 ranks in all), float"
expect_in dry.out "allgather: 8 16 32 64"

# --- bad input exits 2 ------------------------------------------------------------------------
run_bad badop 2 "--set sweep.op: unknown test 'alreduce' in key 'op' of [sweep] (did you mean 'allreduce'?)" \
	sweep --set sweep.op=alreduce
run_bad emptyop 0 "--set sweep.op: key 'op' of [sweep] has an empty name" \
	sweep --set sweep.op=allreduce,,allgather
run_bad badagg 0 "trainload: --rank-agg median: expected max, avg, min or rank0" sweep --rank-agg median
echo "ok: collective sweeps"
