#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The virtual cluster (tests/cluster/lib-cluster.sh) measured, and trainload measured on it:
#   cost       the time to bring up and tear down N = 2, 4, 8 nodes (links shaped), and to
#              start Slurm on 4 (ROUNDS times each)
#   busbw      trainload sweep, allreduce of 16 MiB on 4 nodes x 1 rank with 200 Mbit links:
#              busbw against the link rate, Open MPI's default algorithm and the ring forced
#              (coll_tuned_allreduce_algorithm 4), ROUNDS rounds, the two interleaved
#   stragglers the default job on 4 nodes x 1 rank with 1 Gbit links, healthy, with node3's link
#              cut to 100 Mbit and with node2's CPU capped at CAP% of a core (25; a node's
#              fair share on 2 cores is 50%): what the summary's stragglers section says,
#              ROUNDS times each
#   projection the default job at 1, 2, 4 and 8 nodes x 1 rank with 200 Mbit links, 4 measured
#              steps each; trainload-report fitted on the runs at 1, 2 and 4 nodes projects 8
#              (--project 8), against the 8-node run: ROUNDS rounds
#
#   bench/vcluster.sh [cost|busbw|stragglers|projection|all] [ROUNDS] [CAP]
#                                                    (root; default all 3 25; jq)
# Sweep results are read from the sweep's JSON (--output), not its text table.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
what=${1:-all}
rounds=${2:-3}
cap=${3:-25}
TL_SRCDIR=$top/tests
TRAINLOAD=$top/src/trainload
TRAINLOAD_REPORT=$top/src/trainload-report
MPIRUN=$(command -v mpirun)
JQ=$(command -v jq)
OMPI_ALLOW_RUN_AS_ROOT=1
OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
TL_TIMEOUT=600 # lib.sh's run: a sweep at 200 Mbit takes tens of seconds
export TL_TIMEOUT
export TL_SRCDIR TRAINLOAD OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
. "$TL_SRCDIR/lib.sh"
. "$TL_SRCDIR/slurm/lib-slurm.sh"
. "$TL_SRCDIR/cluster/lib-cluster.sh"
work=$(mktemp -d)
cd "$work" || exit 1

now() {
	date +%s.%N
}

median() {
	sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "# virtual cluster bench: $("$TRAINLOAD" --version), $(nproc) cores, $(date -u '+%F %H:%M') UTC"
echo "# load average before: $(cut -d" " -f1-3 /proc/loadavg)"

if [ "$what" = cost ] || [ "$what" = all ]; then
	echo "## cost: bring up (links at 1gbit) and tear down, seconds (each round; median)"
	for n in 2 4 8; do
		: >up.s
		: >down.s
		for _ in $(seq "$rounds"); do
			t0=$(now)
			cluster_up "$n" 1gbit >/dev/null
			t1=$(now)
			cluster_down
			t2=$(now)
			echo "$t1 $t0" | awk '{ print $1 - $2 }' >>up.s
			echo "$t2 $t1" | awk '{ print $1 - $2 }' >>down.s
		done
		printf '  %d nodes  up %s (median %.3f)  down %s (median %.3f)\n' "$n" \
			"$(awk '{ printf "%.3f ", $1 }' up.s)" "$(median <up.s)" \
			"$(awk '{ printf "%.3f ", $1 }' down.s)" "$(median <down.s)"
	done
	: >slurm.s
	for _ in $(seq "$rounds"); do
		cluster_up 4 >/dev/null
		t0=$(now)
		cluster_slurm_start >/dev/null
		t1=$(now)
		cluster_down
		echo "$t1 $t0" | awk '{ print $1 - $2 }' >>slurm.s
	done
	printf '  Slurm on 4 nodes (munged, slurmctld, 4 slurmd, until idle and scheduling)  %s (median %.3f)\n' \
		"$(awk '{ printf "%.3f ", $1 }' slurm.s)" "$(median <slurm.s)"
fi

if [ "$what" = busbw ] || [ "$what" = all ]; then
	echo "## busbw: allreduce 16 MiB, 4 nodes x 1 rank, links 200 Mbit (25 MB/s), trainload sweep"
	cluster_up 4 200mbit >/dev/null
	: >default.b
	: >ring.b
	for _ in $(seq "$rounds"); do
		for alg in default ring; do
			mca=
			[ "$alg" = default ] ||
				mca="--mca coll_tuned_use_dynamic_rules 1 --mca coll_tuned_allreduce_algorithm 4"
			# shellcheck disable=SC2046,SC2086
			run "sweep-$alg" "$MPIRUN" $(cluster_mpirun_args) $mca -np 4 "$TRAINLOAD" sweep -q --force \
				-o "$alg.json" --set sweep.op=allreduce --set sweep.min_bytes=16Mi \
				--set sweep.max_bytes=16Mi --set sweep.iters=5 --set sweep.warmup_iters=1 \
				--set sweep.check=0
			[ "$RC" -eq 0 ] || { show "sweep-$alg"; fail "the sweep failed"; }
			"$JQ" '.collectives[0].busbw_gbps' "$alg.json" >>"$alg.b"
		done
	done
	for alg in default ring; do
		printf '  %-8s busbw MB/s: %s (median %.2f = %.0f%% of the link)\n' "$alg" \
			"$(awk '{ printf "%.2f ", $1 * 1000 }' "$alg.b")" "$(median <"$alg.b" | awk '{ print $1 * 1000 }')" \
			"$(median <"$alg.b" | awk '{ print $1 * 1000 / 25 * 100 }')"
	done
	cluster_down
fi

if [ "$what" = stragglers ] || [ "$what" = all ]; then
	echo "## stragglers: the default job, 4 nodes x 1 rank, links 1 Gbit, 6 measured steps"
	cluster_up 4 1gbit >/dev/null
	for case in healthy node3-link-100mbit "node2-cpu-$cap%"; do
		case $case in
		node3-link-100mbit) cluster_shape node3 100mbit ;;
		node2-cpu-*) cluster_cap_cpu node2 "$cap" ;;
		esac
		for r in $(seq "$rounds"); do
			cluster_mpirun "$case" 4 ppr:1:node "$TRAINLOAD" --set run.steps=6 \
				--set run.warmup=1 -o "$case-$r.json"
			[ "$RC" -eq 0 ] || { show "$case"; fail "the run failed"; }
			printf '  %-20s %d: step p50 %.3f s, dp-exposed %.3f s: %s\n' "$case" "$r" \
				"$("$JQ" '.summary.step_time_s.p50' "$case-$r.json")" \
				"$("$JQ" '.summary.breakdown_s.comm_exposed' "$case-$r.json")" \
				"$(sed -n '/^# stragglers/,$p' "$case.out" | grep -v '^# warning' | tr -s ' ' | tr '\n' ' ')"
		done
		case $case in
		node3-link-100mbit) cluster_shape node3 1gbit ;;
		node2-cpu-*) cluster_cap_cpu node2 off ;;
		esac
	done
	cluster_down
fi
if [ "$what" = projection ] || [ "$what" = all ]; then
	echo "## projection: the default job, N nodes x 1 rank, links 200 Mbit, 4 measured steps;" \
		"fitted on 1, 2 and 4 nodes, 8 projected and measured"
	cluster_up 8 200mbit >/dev/null
	for r in $(seq "$rounds"); do
		for n in 1 2 4 8; do
			cluster_mpirun "proj-$n" "$n" ppr:1:node "$TRAINLOAD" --set run.steps=4 \
				--set run.warmup=1 -o "proj$r-$n.json"
			[ "$RC" -eq 0 ] || { show "proj-$n"; fail "the $n-node run failed"; }
		done
		"$TRAINLOAD_REPORT" --format json --project 8 "proj$r-1.json" "proj$r-2.json" \
			"proj$r-4.json" >"report$r.json" || fail "trainload-report failed"
		"$JQ" -r --argjson r "$r" --slurpfile m "proj$r-8.json" '.groups[0] |
			(.fits[] | select(.op == "allreduce") |
			 "  round \($r): allreduce fit over groups of \(.group_sizes | map(tostring) | join("-")) ranks: gamma \(.gamma), 1/beta \(.bus_gbps * 1000 | . * 100 | round / 100) MB/s, alpha \(.alpha_s * 1e6 | round) us, worst residual \(.residual_max * 1000 | round / 10)%"),
			(.projection[] | select(.ok) |
			 (if .ranks == 8 then $m[0].summary.step_time_s.p50 else .measured_s end) as $t |
			 "    \(.ranks) nodes (\(.basis)): predicted \(.predicted_s * 1000 | round / 1000) s, measured \($t * 1000 | round / 1000) s, error \((.predicted_s - $t) / $t * 1000 | round / 10)%")' \
			"report$r.json"
	done
	cluster_down
fi
echo "# load average after: $(cut -d" " -f1-3 /proc/loadavg)"
cd / && rm -rf "$work"
