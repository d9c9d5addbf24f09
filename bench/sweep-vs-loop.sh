#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Issue 5's number: at 2 ranks, for allreduce, reduce_scatter, allgather and alltoall at 1, 16
# and 64 MiB, trainload's sweep busbw against bench/mpi-loop of the same call and size on the
# same two ranks, interleaved in each round; the median of ROUNDS. Target: at least 95%.
# Both time warm buffers (no rotation); busbw = bytes / time x the nccl-tests factor
# (2(n-1)/n for allreduce, (n-1)/n for the others; n = 2).
#
#   bench/sweep-vs-loop.sh [ROUNDS]        (default 3; needs jq; run on an otherwise idle machine)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun=(mpirun --oversubscribe -np 2)
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

echo "# trainload sweep vs plain MPI loop: $("$top/src/trainload" --version), $(nproc) cores, $(date -u +%F)"
printf '  %-15s %10s %14s %14s %7s\n' op bytes sweep_busbw loop_busbw ratio
for op in allreduce reduce_scatter allgather alltoall; do
	factor=0.5
	[ "$op" = allreduce ] && factor=1
	for size in 1048576 16777216 67108864; do
		: >"$tmp/s"; : >"$tmp/l"
		for _ in $(seq "$rounds"); do
			"${mpirun[@]}" "$top/src/trainload" sweep -q --force -o "$tmp/s.json" \
				--set sweep.op="$op" --set sweep.min_bytes="$size" \
				--set sweep.max_bytes="$size" --set sweep.iters=20 --set sweep.check=0
			jq '.collectives[0].busbw_gbps' "$tmp/s.json" >>"$tmp/s"
			"${mpirun[@]}" "$top/bench/mpi-loop" "$op" "$size" 20 |
				awk -v f="$factor" '{print $2 / ($3 * 1e-6) / 1e9 * f}' >>"$tmp/l"
		done
		s=$(median <"$tmp/s") l=$(median <"$tmp/l")
		printf '  %-15s %10d %14.3f %14.3f %6.1f%%\n' "$op" "$size" "$s" "$l" \
			"$(awk "BEGIN{print 100*$s/$l}")"
	done
done
