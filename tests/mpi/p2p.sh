#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration (issue 13): OSU-style point-to-point tests, run by the executor.
#   - latency, bw and bibw on 2 ranks print OSU's "# Size" / "Latency (us)" or "Bandwidth
#     (MB/s)" columns, a row per size in OSU's format, Validation Pass with the check on;
#   - what the rows say is the JSON's: latency one way (half an iteration), MB/s = bytes x
#     messages per iteration / time / 1e6; the ranks' min <= avg <= max, and -a picks;
#   - mbw_mr on 4 ranks: pairs 0-2 and 1-3, MB/s and Messages/s over both pairs;
#   - a changed element is caught (Fail, exit 1); a test on a group of one rank exits 2.
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
need_jq

rows() {
	grep -v '^#' "$1.out"
}

run_trainload p2p 2 sweep --set sweep.op=latency,bw,bibw -b 4 -e 64K -n 5 -w 2 \
	--set sweep.window=8 --output p.json
expect_rc p2p 0
expect_in p2p.out "# OSU MPI Latency Test (trainload "
expect_in p2p.out "# OSU MPI Bandwidth Test (trainload "
expect_in p2p.out "# OSU MPI Bi-Directional Bandwidth Test (trainload "
# OSU's header: "# Size" in 10 columns, then the figure's name in 20 (and Validation)
expect_in p2p.out "# Size            Latency (us)          Validation"
[ "$(count_in p2p.out '# Size        Bandwidth (MB/s)          Validation')" -eq 2 ] ||
	{ show p2p; fail "the bandwidth tests' header"; }
# 4 B .. 64 KiB: 15 sizes, three tests; every row "%-10d%20.2f" and Pass
[ "$(rows p2p | wc -l)" -eq 45 ] || { show p2p; fail "not 45 rows"; }
rows p2p | grep -E -v -q '^[0-9]+ +[0-9]+\.[0-9]{2} +Pass$' && { show p2p; fail "a row not in OSU's format"; }
[ "$(rows p2p | head -n 1 | cut -c 1-10)" = "4         " ] || { show p2p; fail "size column"; }
[ "$(rows p2p | head -n 1 | cut -c 11-30 | tr -d ' ' | grep -c '^[0-9]*\.[0-9][0-9]$')" -eq 1 ] ||
	{ show p2p; fail "the figure is not in columns 11-30"; }
jq_true p.json '(.collectives | length) == 45 and all(.collectives[]; .wrong == 0 and .group_size == 2 and .ranks_active == 2)'
# latency: one way, half an iteration (a ping and a pong)
jq_true p.json 'all(.collectives[] | select(.op == "latency"); ((.latency_us - .time_us / 2) | fabs) <= 1e-9 * .time_us and .messages_per_iter == 2 and .pairs == 1)'
# bandwidth: OSU's MB/s (1e6 bytes): a window of 8 messages an iteration, twice for bibw
jq_true p.json 'all(.collectives[] | select(.op == "bw"); ((.bandwidth_mbps - .bytes * 8 / .time_us) | fabs) <= 1e-9 * .bandwidth_mbps and .messages_per_iter == 8)'
jq_true p.json 'all(.collectives[] | select(.op == "bibw"); ((.bandwidth_mbps - .bytes * 16 / .time_us) | fabs) <= 1e-9 * .bandwidth_mbps and .messages_per_iter == 16)'
# the rows are the JSON's, as printed (two decimals)
"$JQ" -r '.collectives[] | "\(.bytes) \(.latency_us // .bandwidth_mbps)"' p.json >p.json.rows
rows p2p | awk '{ print $1, $2 }' | paste -d ' ' - p.json.rows |
	awk '$1 != $3 || ($2 - $4 > 0.0051 || $4 - $2 > 0.0051) { bad = 1; print } END { exit bad }' ||
	fail "printed rows differ from the JSON's"
jq_true p.json 'all(.collectives[]; .time_us_rank_min <= .time_us_rank_avg and .time_us_rank_avg <= .time_us_rank_max and .time_us == .time_us_rank_max)'

# -a 2 (min over ranks), as nccl-tests' and IMB's t_min
run_trainload amin 2 sweep --set sweep.op=latency -b 1K -e 1K -n 5 -a 2 --output amin.json -q
expect_rc amin 0
jq_true amin.json '.conventions.time_us == "min" and all(.collectives[]; .time_us == .time_us_rank_min)'

# --- mbw_mr on 4 ranks: two pairs ---------------------------------------------------------
run_trainload mbw 4 sweep --set sweep.op=mbw_mr -b 64 -e 4K -n 3 --set sweep.window=4 \
	--output mbw.json
expect_rc mbw 0
expect_in mbw.out "# OSU MPI Multiple Bandwidth / Message Rate Test (trainload "
expect_in mbw.out "# [ pairs: 2 ] [ window size: 4 ]"
expect_in mbw.out "# Size                    MB/s          Messages/s          Validation"
[ "$(rows mbw | wc -l)" -eq 7 ] || { show mbw; fail "not 7 rows"; }
jq_true mbw.json 'all(.collectives[]; .pairs == 2 and .ranks_active == 4 and ((.bandwidth_mbps - .bytes * 4 * 2 / .time_us) | fabs) <= 1e-9 * .bandwidth_mbps and ((.messages_per_s - .bandwidth_mbps * 1e6 / .bytes) | fabs) <= 1e-6 * .messages_per_s)'
# both columns as printed are the JSON's (two decimals)
"$JQ" -r '.collectives[] | "\(.bytes) \(.bandwidth_mbps) \(.messages_per_s)"' mbw.json >mbw.json.rows
rows mbw | awk '{ print $1, $2, $3 }' | paste -d ' ' - mbw.json.rows |
	awk 'function off(a, b) { d = a - b; if (d < 0) d = -d; return d > 0.0051 }
	     $1 != $4 || off($2, $5) || off($3, $6) { bad = 1; print } END { exit bad }' ||
	fail "the printed MB/s or Messages/s differ from the JSON's"

# --- a changed element: Fail, exit 1 -------------------------------------------------------
echo "+ export TRAINLOAD_TEST_CORRUPT=1"
TRAINLOAD_TEST_CORRUPT=1
export TRAINLOAD_TEST_CORRUPT
run_trainload corrupt 2 sweep --set sweep.op=latency -b 64 -e 64 -n 2
unset TRAINLOAD_TEST_CORRUPT
expect_rc corrupt 1
[ "$(rows corrupt | awk '{ print $3 }')" = "Fail" ] || { show corrupt; fail "no Fail"; }
expect_in corrupt.err "trainload: rank 1 ("
expect_in corrupt.err ": recv of 64 B over world: "

# --- a point-to-point test needs two ranks in its group ------------------------------------
run_bad alone 0 "--set sweep.op: latency is a point-to-point test: it needs groups of at least 2 ranks (sweep.group world has 1)" \
	sweep --set sweep.op=latency
echo "ok: point-to-point tests"
