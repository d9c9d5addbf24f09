#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Why reduce-scatter was slow here (issue 13), shown with the plain loop (bench/mpi-loop) and
# the sweep side by side: at 2 ranks, MPI_Reduce_scatter_block and, for reference,
# MPI_Allreduce of the same bytes, each with glibc's allocator as it comes ("glibc": for
# trainload, GLIBC_TUNABLES set empty, which makes it leave the allocator alone) and with glibc
# told to keep what is freed ("keep": MALLOC_MMAP_MAX_=0, no block given back to the kernel by
# munmap; MALLOC_TRIM_THRESHOLD_, nor by trimming the heap; what trainload itself asks of
# glibc). For each it prints the time per call (the mean, max over ranks, and the median call)
# and the page faults per call of the rank that faults most: the loop counts them around its
# timed calls; for the sweep, the faults of a run of 2N timed calls less those of a run of N,
# over its out-of-place and in-place columns (2N).
#
#   bench/reduce-scatter.sh [SIZES] [N]    (default 1M 16M 64M, N = 20; needs /usr/bin/time, jq)
set -euo pipefail
# shellcheck source=bench/lib-bench.sh
. "$(dirname "$0")/lib-bench.sh"
sizes=${1:-1048576 16777216 67108864}
n=${2:-20}

# faults ENV PROGRAM...: the most page faults of a rank over the whole run.
faults() {
	# shellcheck disable=SC2206
	fa_env=($1)
	shift
	# shellcheck disable=SC2016 # expanded by the shell each rank starts
	mpirun --oversubscribe -np 2 "${fa_env[@]}" -x TL_FAULTS="$tmp/f" sh -c \
		'exec /usr/bin/time -o "$TL_FAULTS.${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}" -f %R "$@"' \
		sh "$@" >"$tmp/out" 2>/dev/null || true
	cat "$tmp"/f.* | sort -n | tail -n 1
	rm -f "$tmp"/f.*
}

echo "# reduce-scatter against allreduce: $("$top/src/trainload" --version), $(nproc) cores, $(date -u '+%F %H:%M UTC')"
echo "# uptime: $(uptime)"
printf '  %-6s %-15s %-6s %9s %12s %12s %14s\n' prog op malloc bytes mean_us median_us faults/call
for size in $sizes; do
	for op in reduce_scatter allreduce; do
		for alloc in glibc keep; do
			env_args="-x GLIBC_TUNABLES="
			[ "$alloc" = keep ] && env_args="${keep[*]}"
			# the plain loop counts its own faults (getrusage around the timed calls)
			# shellcheck disable=SC2086
			mpirun --oversubscribe -np 2 $env_args "$top/bench/mpi-loop" "$op" "$size" \
				"$n" >"$tmp/out"
			read -r _ _ mean p50 perc <"$tmp/out"
			printf '  %-6s %-15s %-6s %9d %12.1f %12.1f %14.1f\n' loop "$op" "$alloc" "$size" \
				"$mean" "$p50" "$perc"
			# the sweep, out of place (its in-place column runs too, after it)
			sw=(sweep -q --force -o "$tmp/s.json" --set sweep.op="$op" -b "$size" -e "$size" -w 2 -c 0
				--set run.bind=none)
			f1=$(faults "$env_args" "$top/src/trainload" "${sw[@]}" -n "$n")
			f2=$(faults "$env_args" "$top/src/trainload" "${sw[@]}" -n "$((2 * n))")
			printf '  %-6s %-15s %-6s %9d %12.1f %12.1f %14.1f\n' sweep "$op" "$alloc" "$size" \
				"$(jq '.collectives[0].time_us' "$tmp/s.json")" \
				"$(jq '.collectives[0].time_us_p50' "$tmp/s.json")" \
				"$(awk "BEGIN{print ($f2 - $f1) / (2 * $n)}")"
		done
	done
done
echo "# uptime: $(uptime)"
