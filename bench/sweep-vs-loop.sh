#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Issue 13's number: at 2 ranks, every collective of the sweep at 1, 16 and 64 MiB against
# bench/mpi-loop of the same call, size and ranks: the sweep's out-of-place column against the
# loop's out-of-place call and its in-place column against the loop's in-place call (MPI_IN_PLACE,
# MPI_Sendrecv_replace; MPI_Bcast has one form), with the sweep's check off (-c 0) and on (-c 1,
# one checked iteration per size after the timed ones). The three runs of a size are interleaved
# in each round; each mean is the best of ROUNDS, each median call the median of ROUNDS. Target:
# every ratio at least 95%. Both time warm buffers (no rotation), ITERS timed iterations after
# ITERS/10 + 1 warm-up ones, each rank where mpirun put it (Open MPI binds 2 ranks to a core each;
# run.bind = none keeps that); the figure is the time per call, max over ranks: ratio = loop time
# / sweep time (= the ratio of their busbw), of the means and of the median calls. The loop runs
# with glibc's allocator set as trainload sets it for itself (lib-bench.sh's keep; without it, the
# loop's reduce-scatter at any size and its allreduce at 64 MiB map and fault a scratch buffer
# every call: bench/reduce-scatter.sh). On a machine that other work shares, one descheduling of a
# rank for a few ms multiplies the mean of a run of 20 calls at 1 MiB (5 ms), and how often that
# happens depends on when in the process's life the run comes (the loop's 100 calls right after
# MPI_Init rarely are; its 3000 calls as often as the sweep's): hence the best of ROUNDS and the
# median call; ITERS (default 20, as nccl-tests) sets the timed calls.
#
#   [ITERS=N] bench/sweep-vs-loop.sh [ROUNDS] [OPS] [SIZES]   (default 3, the six collectives,
#                                      1M 16M 64M; needs jq; record uptime with the figures)
set -euo pipefail
# shellcheck source=bench/lib-bench.sh
. "$(dirname "$0")/lib-bench.sh"
rounds=${1:-3}
ops=${2:-allreduce reduce_scatter allgather alltoall broadcast sendrecv}
sizes=${3:-1048576 16777216 67108864}
iters=${ITERS:-20}

echo "# trainload sweep vs plain MPI loop: $("$top/src/trainload" --version), $(nproc) cores, $(date -u '+%F %H:%M UTC')"
echo "# uptime: $(uptime)"
echo "# $iters timed calls; time per call in us, max over ranks: the mean (nccl-tests' figure), the best of"
echo "# $rounds rounds, and the median call, the median of $rounds rounds (both robust to calls stalled by"
echo "# other work on a shared machine); ratio = loop / sweep (the sweep's check off, c0, and on, c1)"
printf '  %-15s %9s %-5s %9s %9s %9s %7s %7s   %9s %9s %9s %7s %7s\n' op bytes place \
	loop sweep_c0 sweep_c1 c0 c1 loop_p50 c0_p50 c1_p50 c0 c1
ratio() { awk "BEGIN{printf \"%.1f%%\", 100*$1/$2}"; }
for op in $ops; do
	for place in oop ip; do
		lop=$op
		[ $place = ip ] && lop=${op}_inplace
		[ "$op" = broadcast ] && lop=broadcast
		key='.collectives[0]'
		[ $place = ip ] && key='.collectives[0].in_place'
		for size in $sizes; do
			for f in lm lp s0m s0p s1m s1p; do : >"$tmp/$f"; done
			for _ in $(seq "$rounds"); do
				"${mpirun[@]}" "${keep[@]}" "$top/bench/mpi-loop" "$lop" "$size" $iters >"$tmp/l"
				awk '{ print $3 }' "$tmp/l" >>"$tmp/lm"
				awk '{ print $4 }' "$tmp/l" >>"$tmp/lp"
				for c in 0 1; do
					"${mpirun[@]}" "$top/src/trainload" sweep -q --force -o "$tmp/s.json" \
						--set sweep.op="$op" -b "$size" -e "$size" -n $iters -w $((iters / 10 + 1)) \
						-c $c --set run.bind=none
					jq "$key.time_us" "$tmp/s.json" >>"$tmp/s${c}m"
					jq "$key.time_us_p50" "$tmp/s.json" >>"$tmp/s${c}p"
				done
			done
			for f in lm s0m s1m; do
				eval "$f=\$(sort -g \"\$tmp/$f\" | head -n 1)"
			done
			for f in lp s0p s1p; do
				eval "$f=\$(median <\"\$tmp/$f\")"
			done
			# shellcheck disable=SC2154
			printf '  %-15s %9d %-5s %9.1f %9.1f %9.1f %7s %7s   %9.1f %9.1f %9.1f %7s %7s\n' \
				"$op" "$size" $place "$lm" "$s0m" "$s1m" "$(ratio "$lm" "$s0m")" \
				"$(ratio "$lm" "$s1m")" "$lp" "$s0p" "$s1p" "$(ratio "$lp" "$s0p")" \
				"$(ratio "$lp" "$s1p")"
		done
	done
done
echo "# uptime: $(uptime)"
