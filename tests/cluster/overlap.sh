#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration: the data-parallel reductions' own time, across 2 nodes of a virtual cluster
# (tests/cluster/lib-cluster.sh; skipped, exit 77, where namespaces cannot be made) whose links
# are shaped to 100 Mbit/s, so that the link, not the machine, sets what a reduction takes:
#   - overlap = no: the step's blocking dp time is at least what the dp bytes need on that link;
#   - overlap = yes: the same for dp_alone_s, the time the step's non-blocking reductions take
#     alone (what the summary's dp hidden is judged against), which is also no more than a few
#     times it (a figure that counted waits for a slow rank, or the reductions of more steps than
#     one, would be); dp_hidden_share is in [0, 1] and the summary prints it.
# The bound: an allreduce of S bytes over 2 ranks has each rank receive at least
# 2 (n-1)/n S = S, whatever the algorithm; at R bit/s that takes S * 8 / R. tbf lets a burst of
# 64 KiB through at the machine's speed, hence the 0.8.
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
. "$TL_SRCDIR/cluster/lib-cluster.sh"
need_jq

rate_bits=100000000
job=$TL_SRCDIR/data/good/tiny.job
cluster_up 2 100mbit

for ov in no yes; do
	cluster_mpirun "ov-$ov" 2 ppr:1:node "$TRAINLOAD" "$job" --set parallel.overlap=$ov \
		--set parallel.bucket_policy=ddp --set run.steps=2 --set run.warmup=1 \
		--peak-tflops 1 --output "ov-$ov.json"
	expect_rc "ov-$ov" 0
	jq_true "ov-$ov.json" '.world.nodes == 2'
done
# the dp bytes of one step: the sum of its buckets, as the plan lists them
run dry "$TRAINLOAD" --dry-run --json --ranks 2 --set parallel.bucket_policy=ddp "$job"
expect_rc dry 0
bytes=$("$JQ" '[.gradient_buckets[] | select(.group == "dp") | .bytes] | add' dry.out)
[ "$bytes" -gt 1000000 ] || fail "the tiny job's dp buckets hold $bytes bytes, expected over 1 MB"
floor=$(awk -v b="$bytes" -v r="$rate_bits" 'BEGIN { printf "%.6f", 0.8 * b * 8 / r }')
ceiling=$(awk -v f="$floor" 'BEGIN { printf "%.6f", 5 * f / 0.8 + 0.2 }')
echo "# $bytes dp bytes a step: at least $floor s on the link, at most $ceiling s taken as sane"

jq_true ov-no.json '.summary.breakdown_s.comm_exposed_by_group.dp >= $floor' --argjson floor "$floor"
jq_true ov-no.json '.summary.dp_hidden_share == null'
expect_not_in ov-no.out "# dp hidden"
jq_true ov-yes.json '.summary.dp_alone_s >= $floor and .summary.dp_alone_s <= $ceiling' \
	--argjson floor "$floor" --argjson ceiling "$ceiling"
jq_true ov-yes.json '.summary.dp_hidden_share >= 0 and .summary.dp_hidden_share <= 1'
expect_in ov-yes.out "# dp hidden "
echo "ok: across 2 nodes at 100 Mbit/s the dp reductions take what their bytes need on the link, blocking and alone"
