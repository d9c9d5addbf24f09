#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The point-to-point twin of bench/sweep-vs-loop.sh: at 2 ranks, the sweep's latency and bw
# tests against bench/mpi-loop's plain ping-pong (MPI_Send then MPI_Recv, and back) and
# windowed bandwidth loop (64 MPI_Isend, MPI_Waitall, a one-float acknowledgement) of the same
# size, interleaved in each round; each figure the median of ROUNDS. Target: at least 95%
# (latency: loop / sweep; bandwidth: sweep / loop). The check is off in the sweep (-c 0), as the
# loops check nothing; the sweep's window is the loop's (64). The loop's allocator is set as
# trainload's (lib-bench.sh's keep).
#
#   bench/p2p-vs-loop.sh [ROUNDS] [SIZES]   (default 3; 8 1K 64K 1M 4M; needs jq)
set -euo pipefail
# shellcheck source=bench/lib-bench.sh
. "$(dirname "$0")/lib-bench.sh"
rounds=${1:-3}
sizes=${2:-8 1024 65536 1048576 4194304}

echo "# trainload sweep (latency, bw) vs plain MPI loops: $("$top/src/trainload" --version), $(nproc) cores, $(date -u '+%F %H:%M UTC')"
echo "# uptime: $(uptime)"
printf '  %-8s %9s %12s %12s %7s\n' test bytes loop sweep ratio
for test in latency bw; do
	iters=1000
	[ "$test" = bw ] && iters=50
	for size in $sizes; do
		: >"$tmp/l"
		: >"$tmp/s"
		for _ in $(seq "$rounds"); do
			# latency: one-way us; bw: MB/s (1e6 bytes)
			"${mpirun[@]}" "${keep[@]}" "$top/bench/mpi-loop" "$test" "$size" $iters | awk '{ print $5 }' >>"$tmp/l"
			"${mpirun[@]}" "$top/src/trainload" sweep -q --force -o "$tmp/s.json" --set sweep.op="$test" \
				-b "$size" -e "$size" -n $iters -w $((iters / 10 + 1)) -c 0
			jq '.collectives[0] | .latency_us // .bandwidth_mbps' "$tmp/s.json" >>"$tmp/s"
		done
		l=$(median <"$tmp/l") s=$(median <"$tmp/s")
		if [ "$test" = latency ]; then
			r=$(awk "BEGIN{print 100*$l/$s}")
		else
			r=$(awk "BEGIN{print 100*$s/$l}")
		fi
		printf '  %-8s %9d %12.2f %12.2f %6.1f%%\n' "$test" "$size" "$l" "$s" "$r"
	done
done
echo "# uptime: $(uptime)"
