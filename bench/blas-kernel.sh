#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The BLAS kernel check (issue 18): OpenBLAS picks its kernels by CPU model, and on a model its
# release does not know it falls back to an old, narrow kernel that trainload's summary names
# and warns about. This measures what the kernels deliver here, side by side in one run:
#   - the hardware peak trainload derives (1 rank, 1 thread: measured clock x FMA width x FMA
#     units x 2) and the kernel OpenBLAS picks by itself;
#   - bench/gemm-standalone over the GEMMs of a job's step (--dry-run --json), 1 thread, with
#     OpenBLAS's own pick and with each OPENBLAS_CORETYPE given, interleaved round by round, the
#     best round of each (contention only ever slows a round);
#   - trainload's own summary (MFU, BLAS peak, warnings) with OpenBLAS's pick and with the
#     first kernel given.
# OPENBLAS_CORETYPE is set here, in this benchmark's own commands only; never in tests or CI.
#
#   bench/blas-kernel.sh [ROUNDS [JOB [KERNEL...]]]   (default 5, jobs/cpu-small.job, SkylakeX
#                                                      Haswell Sandybridge Prescott)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/src/trainload
rounds=${1:-5}
job=${2:-$top/jobs/cpu-small.job}
shift $(($# > 2 ? 2 : $#))
kernels=("$@")
[ ${#kernels[@]} -gt 0 ] || kernels=(SkylakeX Haswell Sandybridge Prescott)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
unset OPENBLAS_CORETYPE

echo "# trainload BLAS kernels: $("$bin" --version), $(uname -n), $(date -u +%FT%TZ), load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(grep -o -w -m1 'avx512f' /proc/cpuinfo || echo 'no avx512f')"
"$bin" -q -o "$tmp/own.json" --set run.threads_per_rank=1 --set run.steps=3 --set run.warmup=1 "$job"
own=$(jq -r .environment.blas_core "$tmp/own.json")
peak=$(jq -r '.summary.hardware_peak_tflops_per_rank // 0' "$tmp/own.json")
echo "# OpenBLAS $(jq -r .environment.blas_version "$tmp/own.json") picks: $own; hardware peak/rank: $(jq -r .summary.hardware_peak_how "$tmp/own.json")"

"$bin" --dry-run --json "$job" >"$tmp/plan.json"
names=("$own (own pick)" "${kernels[@]}")
for i in "${!names[@]}"; do : >"$tmp/k$i"; done
for _ in $(seq "$rounds"); do
	for i in "${!names[@]}"; do
		if [ "$i" -eq 0 ]; then
			"$top/bench/gemm-standalone" "$tmp/plan.json" 1 3 >>"$tmp/k$i"
		else
			OPENBLAS_CORETYPE=${names[$i]} "$top/bench/gemm-standalone" "$tmp/plan.json" 1 3 >>"$tmp/k$i"
		fi
	done
done
echo "## bench/gemm-standalone over $(basename "$job")'s GEMMs, 1 thread, best of $rounds"
printf '  %-22s %10s %14s\n' kernel GFLOP/s 'of hw peak'
for i in "${!names[@]}"; do
	best=$(awk '{ print $4 }' "$tmp/k$i" | sort -g | tail -n 1)
	printf '  %-22s %10.2f %13.1f%%\n' "${names[$i]}" "$best" \
		"$(awk -v g="$best" -v p="$peak" 'BEGIN { print (p > 0 ? 100 * g / (1000 * p) : 0) }')"
done

echo "## trainload $(basename "$job"), 1 rank, 1 thread: OpenBLAS's pick, then OPENBLAS_CORETYPE=${kernels[0]}"
# (unset, not empty: OpenBLAS 0.3.21 takes an empty OPENBLAS_CORETYPE for a kernel of its own)
for k in "" "${kernels[0]}"; do
	env ${k:+OPENBLAS_CORETYPE=$k} "$bin" --set run.threads_per_rank=1 --set run.steps=5 "$job" 2>/dev/null |
		grep -E '^# nodes|step_p50|^ +[0-9.]+ s|^# peak/rank|^# BLAS peak|^# warning: OpenBLAS' |
		sed 's/^/  /'
	[ -n "$k" ] || echo "  --"
done
