#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# The executor's numbers (issue 4), each measured side by side with its reference in one run of
# this script, interleaved, so that the machine's state is the same for both:
#   compute  the GEMM rate inside a 1-rank run vs bench/gemm-standalone over the same shapes
#            (from --dry-run --json) and thread count, with its operands cache-warm (one A, B
#            and C for every call) and rotated through the step's memory (the plan's
#            memory_bytes_per_rank_max: no operand in cache from its last use), between which
#            a step's GEMMs fall (each layer's own weights; activations just written); target
#            >= 97% of the warm loop
#   comm     each blocking collective's mean time inside a 2-rank run (the fastest rank's mean:
#            the last to arrive waits for no one) vs bench/mpi-loop of the same call and payload
#            on the same two ranks, with cache-warm buffers (nccl-tests, OSU) and with buffers
#            rotated through 256 MiB (IMB's off_cache), between which a training step's
#            collectives fall: GEMMs run between them; target within 5%
#   overhead the step's "other" (step time minus its timed ops) as a share of the step, and
#            MPI_Init / our start-up to the first step; targets < 1% and < 0.3 s
#   overlap  the overlap job (below) on 2 ranks, overlap = yes vs no, beside bench/overlap-loop
#            (GEMMs with a 32 MiB MPI_Iallreduce progressed by MPI_Test) in the same round, on
#            one node and (as root, where namespaces can be made) across two nodes of the
#            virtual cluster with a link of OVERLAP_LINK (default 4gbit) between them:
#            step time, dp exposed, the share of the dp reductions' own time hidden (the
#            summary's dp hidden; the loop's (gemm + comm - both) / comm), and the overlap run's
#            GEMM rate vs gemm-standalone on its shapes; targets: yes faster than no, hidden
#            >= 50%, GEMM rate >= 97%. On one node, run once with the MPI's defaults and, with
#            Open MPI, once with coll_libnbc_iallreduce_algorithm=3 (reduce-scatter + allgather:
#            libnbc's default below 4 ranks, or in place, is a binomial reduce and broadcast);
#            there the reduction's copies and sums are work for the cores that compute, so
#            what hides is little (docs/PERFORMANCE.md §5)
#   memory   peak RSS of 1-rank runs with memory = full vs the plan's memory_bytes_per_rank_max;
#            target within 10% + 32 MiB
# Leaves OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE as the environment has them.
#
#   bench/executor.sh [ROUNDS [SECTION...]]   (ROUNDS default 3; SECTIONS compute comm overhead
#                                              overlap memory, all by default; needs jq; run on
#                                              a quiet machine)
set -euo pipefail
# shellcheck source=bench/lib-bench.sh
. "$(dirname "$0")/lib-bench.sh"
bin=$top/src/trainload
rounds=${1:-3}
sections=${*:2}
want() { [ -z "$sections" ] || case " $sections " in *" $1 "*) true ;; *) false ;; esac; }

echo "# trainload executor benchmarks: $("$bin" --version), $(nproc) cores, $(uname -n), $(date -u +%F)"
echo "# $(lscpu | sed -n 's/^Model name: *//p'), OpenBLAS core ${OPENBLAS_CORETYPE:-auto}, $(mpirun --version | head -1)"

if want compute; then
echo "## compute: GEMM GFLOP/s in a 1-rank run vs a plain OpenBLAS loop, 1 thread, 20 steps (median of $rounds)"
printf '  %-14s %10s %12s %7s %12s %7s\n' job trainload warm_loop ratio rotated_loop ratio
for job in default cpu-small; do
	"$bin" --dry-run --json "$top/jobs/$job.job" >"$tmp/$job.dry.json"
	mib=$(jq '.plan.memory_bytes_per_rank_max / 1048576 | ceil' "$tmp/$job.dry.json")
	: >"$tmp/in"; : >"$tmp/alone"; : >"$tmp/rotated"
	for _ in $(seq "$rounds"); do
		"$bin" -q --force -o "$tmp/r.json" --set run.threads_per_rank=1 --set run.steps=20 \
			--peak-tflops 1 "$top/jobs/$job.job"
		jq '.ranks[0].gemm_gflops' "$tmp/r.json" >>"$tmp/in"
		OPENBLAS_NUM_THREADS=1 "$top/bench/gemm-standalone" "$tmp/$job.dry.json" 1 20 |
			awk '{print $4}' >>"$tmp/alone"
		OPENBLAS_NUM_THREADS=1 "$top/bench/gemm-standalone" "$tmp/$job.dry.json" 1 20 f32 \
			"$mib" | awk '{print $4}' >>"$tmp/rotated"
	done
	a=$(median <"$tmp/in") b=$(median <"$tmp/alone") c=$(median <"$tmp/rotated")
	printf '  %-14s %10.2f %12.2f %6.1f%% %12.2f %6.1f%%\n' "$job" "$a" "$b" \
		"$(awk "BEGIN{print 100*$a/$b}")" "$c" "$(awk "BEGIN{print 100*$a/$c}")"
done
fi

if want comm; then
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
		"${mpirun[@]}" "$bin" -q --force -o "$tmp/c.json" --set run.steps=10 --peak-tflops 1 $args
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
fi

if want overhead; then
echo "## overhead: the default job on 2 ranks (median of $rounds)"
: >"$tmp/other"; : >"$tmp/init"; : >"$tmp/start"
for _ in $(seq "$rounds"); do
	"${mpirun[@]}" "$bin" -q --force -o "$tmp/o.json" --peak-tflops 1
	jq '.summary.breakdown_s.other / .summary.step_time_s.p50 * 100' "$tmp/o.json" >>"$tmp/other"
	jq '.environment.mpi_init_s' "$tmp/o.json" >>"$tmp/init"
	jq '.environment.startup_s' "$tmp/o.json" >>"$tmp/start"
done
printf '  other %.3f%% of the step; MPI_Init %.3f s; MPI_Init return to first step %.3f s\n' \
	"$(median <"$tmp/other")" "$(median <"$tmp/init")" "$(median <"$tmp/start")"
fi

if want overlap; then
# The overlap job: cpu-small's shapes (h 384, s 256, gelu) with 12 layers and a vocabulary of
# 2048, so that the word embedding, whose gradient comes last and cannot be hidden, is 4% of the
# 88 MB of gradients; DDP's buckets of 4 MiB. About a third of the step is data-parallel.
ovjob=(--set model.layers=12 --set model.vocab=2048 --set parallel.bucket_policy=ddp
	--set parallel.bucket_mb=4 "$top/jobs/cpu-small.job")
"$bin" --dry-run --json --ranks 2 "${ovjob[@]}" >"$tmp/ov.dry.json"
# LABEL GEMMS MPIRUN...: ROUNDS rounds of overlap = yes, overlap = no and the loop (GEMMS GEMMs
# of 256x1024x256 around a 32 MiB MPI_Iallreduce, enough to cover it) launched by MPIRUN...
overlap_rounds() {
	local label=$1 gemms=$2
	shift 2
	: >"$tmp/ov-yes"; : >"$tmp/ov-no"; : >"$tmp/loop"; : >"$tmp/gemm-alone"
	for _ in $(seq "$rounds"); do
		for ov in yes no; do
			"$@" "$bin" -q --force -o "$tmp/ov-$ov.json" --set run.threads_per_rank=1 \
				--set parallel.overlap=$ov --peak-tflops 1 "${ovjob[@]}"
			jq -r '[.summary.step_time_s.p50, .summary.breakdown_s.comm_exposed_by_group.dp,
				.summary.dp_alone_s, (.summary.dp_hidden_share // 0),
				([.ranks[].gemm_gflops] | add / length)] | @tsv' "$tmp/ov-$ov.json" \
				>>"$tmp/ov-$ov"
		done
		OPENBLAS_NUM_THREADS=1 "$@" -x OPENBLAS_NUM_THREADS \
			"$top/bench/overlap-loop" 33554432 "$gemms" 256 1024 256 5 >>"$tmp/loop"
		OPENBLAS_NUM_THREADS=1 "$top/bench/gemm-standalone" "$tmp/ov.dry.json" 1 5 |
			awk '{print $4}' >>"$tmp/gemm-alone"
	done
	echo "# $label"
	printf '  %-26s %9s %9s %9s %7s %8s\n' "" step_s dp_exp_s alone_s hidden "GEMM/alone"
	for ov in yes no; do
		printf '  %-26s %9.4f %9.4f %9.4f %6.0f%% %7.1f%%\n' "trainload overlap = $ov" \
			"$(cut -f1 "$tmp/ov-$ov" | median)" "$(cut -f2 "$tmp/ov-$ov" | median)" \
			"$(cut -f3 "$tmp/ov-$ov" | median)" \
			"$(cut -f4 "$tmp/ov-$ov" | awk '{print 100 * $1}' | median)" \
			"$(awk '{print $5}' "$tmp/ov-$ov" | paste - "$tmp/gemm-alone" |
				awk '{print 100 * $1 / $2}' | median)"
	done
	# the loop's gemm_s, comm_s (non-blocking alone), blocking_s, both_s, hidden
	printf '  %-26s %9.4f %9s %9.4f %6.0f%%   (GEMMs alone %.4f s, blocking %.4f s)\n' \
		"overlap-loop, 32 MiB" "$(awk '{print $13}' "$tmp/loop" | median)" - \
		"$(awk '{print $9}' "$tmp/loop" | median)" \
		"$(awk '{print 100 * $15}' "$tmp/loop" | median)" \
		"$(awk '{print $7}' "$tmp/loop" | median)" "$(awk '{print $11}' "$tmp/loop" | median)"
}
echo "## overlap: 12-layer cpu-small, V 2048, DDP buckets of 4 MiB, 2 ranks, 1 thread each, and the plain loop (median of $rounds)"
echo "#  hidden = 1 - dp exposed / the dp reductions alone (trainload); (gemm + comm - both) / comm (loop)"
echo "#  step_s of the loop: both_s; alone_s: the non-blocking collective alone; uptime: $(uptime | sed 's/.*load/load/')"
# One node: the two ranks share memory and the machine's cores, so the reduction's copies and sums
# are work for the cores that run the GEMMs.
overlap_rounds "one node, shared memory, the MPI's defaults" 40 "${mpirun[@]}"
if mpirun --version 2>&1 | grep -q "Open MPI"; then
	overlap_rounds "one node, Open MPI with --mca coll_libnbc_iallreduce_algorithm 3" 40 \
		"${mpirun[@]}" --mca coll_libnbc_iallreduce_algorithm 3
fi
# Two nodes of the virtual cluster (tests/cluster/lib-cluster.sh), a core each, linked at
# OVERLAP_LINK (default 4gbit): the bytes cross a link, as between the nodes of a cluster, and
# the ranks' cores are left to compute while the link is busy. In a subshell, whose exit takes
# the cluster down.
link=${OVERLAP_LINK:-4gbit}
(
	set +eu
	TL_SRCDIR=$top/tests TRAINLOAD=$bin MPIRUN=$(command -v mpirun) TL_TIMEOUT=600
	export TL_SRCDIR TRAINLOAD TL_TIMEOUT
	# shellcheck source=tests/lib.sh
	. "$top/tests/lib.sh"
	# shellcheck source=tests/cluster/lib-cluster.sh
	. "$top/tests/cluster/lib-cluster.sh"
	why=$(cluster_why_not)
	mpirun --version 2>&1 | grep -q "Open MPI" || why="the virtual cluster's launcher is Open MPI's"
	if [ -n "$why" ]; then
		echo "# two virtual nodes: skipped ($why)"
		exit 0
	fi
	cd "$tmp" && cluster_up 2 "$link" >/dev/null || exit 1
	read -ra launch <<<"$MPIRUN $(cluster_mpirun_args) -np 2"
	[ -n "${OPENBLAS_CORETYPE:-}" ] && launch+=(-x OPENBLAS_CORETYPE)
	set -e
	overlap_rounds "two virtual nodes, 1 rank and 1 core each, links at $link (TCP)" 300 "${launch[@]}"
)
fi

if want memory; then
echo "## memory: peak RSS of a 1-rank run with memory = full vs the plan"
printf '  %-14s %14s %14s %14s %8s\n' job plan_MiB rss_MiB bound_MiB within
for job in default cpu-small cpu-swiglu; do
	"$bin" -q --force -o "$tmp/m.json" --set run.steps=2 --set run.warmup=0 --peak-tflops 1 \
		"$top/jobs/$job.job"
	read -r plan rss <<<"$(jq -r '[.plan.memory_bytes_per_rank_max, .ranks[0].peak_rss_bytes] | @tsv' "$tmp/m.json")"
	awk -v j="$job" -v p="$plan" -v r="$rss" 'BEGIN {
		b = p * 1.10 + 32 * 2^20
		printf "  %-14s %14.1f %14.1f %14.1f %8s\n", j, p / 2^20, r / 2^20, b / 2^20,
			(r <= b && r >= p * 0.9) ? "yes" : "NO" }'
done
fi
