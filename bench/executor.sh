#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The executor's numbers (issue 4), each measured side by side with its reference in one run of
# this script, interleaved, so that the machine's state is the same for both:
#   compute  the GEMM rate inside a 1-rank run vs bench/gemm-standalone over the same shapes
#            (from --dry-run --json) and thread count; target >= 95%
#   comm     each blocking collective's mean time inside a 2-rank run (the fastest rank's mean:
#            the last to arrive waits for no one) vs bench/mpi-loop of the same call and payload
#            on the same two ranks, with cache-warm buffers (nccl-tests, OSU) and with buffers
#            rotated through 256 MiB (IMB's off_cache), between which a training step's
#            collectives fall: GEMMs run between them; target within 5%
#   overhead the step's "other" (step time minus its timed ops) as a share of the step, and
#            MPI_Init / our start-up to the first step; targets < 1% and < 0.3 s
#   overlap  a job whose data-parallel traffic is about a third of the step, overlap = yes vs no
#   memory   peak RSS of 1-rank runs with memory = full vs the plan's memory_bytes_per_rank_max;
#            target within 10% + 32 MiB
# Leaves OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE as the environment has them.
#
#   bench/executor.sh [ROUNDS]        (default 3; needs jq; run on a quiet machine)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=$top/src/trainload
rounds=${1:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpirun=(mpirun --oversubscribe -np 2)
# the plain loop's allocator set as trainload sets its own (bench/lib-bench.sh)
keep=(-x MALLOC_MMAP_MAX_=0 -x MALLOC_TRIM_THRESHOLD_=2147483647)
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

echo "# trainload executor benchmarks: $("$bin" --version), $(nproc) cores, $(uname -n), $(date -u +%F)"
echo "# $(lscpu | sed -n 's/^Model name: *//p'), OpenBLAS core ${OPENBLAS_CORETYPE:-auto}, $(mpirun --version | head -1)"

echo "## compute: GEMM GFLOP/s in a 1-rank run vs a plain OpenBLAS loop, 1 thread (median of $rounds)"
printf '  %-14s %10s %12s %7s\n' job trainload standalone ratio
for job in default cpu-small; do
	"$bin" --dry-run --json "$top/jobs/$job.job" >"$tmp/$job.dry.json"
	: >"$tmp/in"; : >"$tmp/alone"
	for _ in $(seq "$rounds"); do
		"$bin" -q -o "$tmp/r.json" --set run.threads_per_rank=1 --set run.steps=5 \
			--peak-tflops 1 "$top/jobs/$job.job"
		jq '.ranks[0].gemm_gflops' "$tmp/r.json" >>"$tmp/in"
		OPENBLAS_NUM_THREADS=1 "$top/bench/gemm-standalone" "$tmp/$job.dry.json" 1 5 |
			awk '{print $4}' >>"$tmp/alone"
	done
	a=$(median <"$tmp/in") b=$(median <"$tmp/alone")
	printf '  %-14s %10.2f %12.2f %6.1f%%\n' "$job" "$a" "$b" "$(awk "BEGIN{print 100*$a/$b}")"
done

echo "## comm: blocking collective mean time on 2 ranks, in a run vs a plain MPI loop (median of $rounds)"
printf '  %-15s %12s %12s %10s %10s %8s %8s\n' op bytes trainload_us warm_us cold_us /warm /cold
# op, the run's settings that make it a blocking collective of the data-parallel group
cases=("allreduce|--set parallel.overlap=no"
       "reduce_scatter|--set parallel.zero=1 --set parallel.overlap=no"
       "allgather|--set parallel.zero=1 --set parallel.overlap=no"
       "alltoall|--set model.experts=2 --set parallel.ep=2")
for c in "${cases[@]}"; do
	op=${c%%|*} args=${c#*|}
	: >"$tmp/in"; : >"$tmp/warm"; : >"$tmp/cold"
	for _ in $(seq "$rounds"); do
		# shellcheck disable=SC2086
		"${mpirun[@]}" "$bin" -q -o "$tmp/c.json" --set run.steps=10 --peak-tflops 1 $args
		sel=".collectives[] | select(.op == \"$op\" and .nonblocking == false)"
		bytes=$(jq "[$sel | .bytes] | max" "$tmp/c.json")
		jq "$sel | select(.bytes == $bytes) | .time_us_fastest_rank" "$tmp/c.json" |
			head -1 >>"$tmp/in"
		# the run reduces its gradient buckets in place
		loop_op=$op
		[ "$op" = allreduce ] && loop_op=allreduce_inplace
		"${mpirun[@]}" "${keep[@]}" "$top/bench/mpi-loop" "$loop_op" "$bytes" 50 |
			awk '{print $3}' >>"$tmp/warm"
		"${mpirun[@]}" "${keep[@]}" "$top/bench/mpi-loop" "$loop_op" "$bytes" 50 256 |
			awk '{print $3}' >>"$tmp/cold"
	done
	a=$(median <"$tmp/in") w=$(median <"$tmp/warm") c=$(median <"$tmp/cold")
	printf '  %-15s %12d %12.1f %10.1f %10.1f %7.0f%% %7.0f%%\n' "$op" "$bytes" "$a" "$w" "$c" \
		"$(awk "BEGIN{print 100*$a/$w}")" "$(awk "BEGIN{print 100*$a/$c}")"
done

echo "## overhead: the default job on 2 ranks (median of $rounds)"
: >"$tmp/other"; : >"$tmp/init"; : >"$tmp/start"
for _ in $(seq "$rounds"); do
	"${mpirun[@]}" "$bin" -q -o "$tmp/o.json" --peak-tflops 1
	jq '.summary.breakdown_s.other / .summary.step_time_s.p50 * 100' "$tmp/o.json" >>"$tmp/other"
	jq '.environment.mpi_init_s' "$tmp/o.json" >>"$tmp/init"
	jq '.environment.startup_s' "$tmp/o.json" >>"$tmp/start"
done
printf '  other %.3f%% of the step; MPI_Init %.3f s; MPI_Init return to first step %.3f s\n' \
	"$(median <"$tmp/other")" "$(median <"$tmp/init")" "$(median <"$tmp/start")"

echo "## overlap: cpu-small on 2 ranks, data-parallel gradients in 5 MB buckets (median of $rounds)"
echo "#  exposed share = dp time exposed with overlap / dp time exposed without (all of it)"
printf '  %-8s %10s %14s\n' overlap step_p50 dp_exposed_s
for _ in $(seq "$rounds"); do
	for ov in yes no; do
		"${mpirun[@]}" "$bin" -q -o "$tmp/ov-$ov.json" --set parallel.overlap=$ov \
			--set parallel.bucket_mb=5 --peak-tflops 1 "$top/jobs/cpu-small.job"
		jq -r '[.summary.step_time_s.p50, .summary.breakdown_s.comm_exposed_by_group.dp]
			| @tsv' "$tmp/ov-$ov.json" >>"$tmp/ov-$ov"
	done
done
for ov in yes no; do
	step=$(cut -f1 "$tmp/ov-$ov" | median) exp=$(cut -f2 "$tmp/ov-$ov" | median)
	printf '  %-8s %10.4f %14.4f\n' "$ov" "$step" "$exp"
	eval "exp_$ov=$exp"
done
# shellcheck disable=SC2154
printf '  exposed share of dp time with overlap = yes: %.0f%%\n' \
	"$(awk "BEGIN{print 100*$exp_yes/$exp_no}")"

echo "## memory: peak RSS of a 1-rank run with memory = full vs the plan"
printf '  %-14s %14s %14s %14s %8s\n' job plan_MiB rss_MiB bound_MiB within
for job in default cpu-small cpu-swiglu; do
	"$bin" -q -o "$tmp/m.json" --set run.steps=2 --set run.warmup=0 --peak-tflops 1 \
		"$top/jobs/$job.job"
	read -r plan rss <<<"$(jq -r '[.plan.memory_bytes_per_rank_max, .ranks[0].peak_rss_bytes] | @tsv' "$tmp/m.json")"
	awk -v j="$job" -v p="$plan" -v r="$rss" 'BEGIN {
		b = p * 1.10 + 32 * 2^20
		printf "  %-14s %14.1f %14.1f %14.1f %8s\n", j, p / 2^20, r / 2^20, b / 2^20,
			(r <= b && r >= p * 0.9) ? "yes" : "NO" }'
done
