#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration: backend = cuda (tests/data/good/cuda-tiny.job). A build without CUDA refuses it:
# exit 2, naming the file, line and key and how to rebuild. A build with it, on a machine where
# no GPU is visible, fails cleanly (exit 1, saying so, no hang) and the test then skips (77).
# With one GPU: a GPT-style run in bf16, f16 and f32, with comm_dtype conversions and
# memory = lean, and its GPU, MFU and breakdown in the JSON and the summary; with two or more,
# the same job over tp 2, dp 2 (NCCL collectives, overlapped buckets) and pp 2 (NCCL send/recv),
# each rank on a GPU of its own. Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
need_jq

job=$TL_SRCDIR/data/good/cuda-tiny.job
run_trainload probe 0 "$job" --output probe.json
if [ "$RC" -eq 2 ]; then
	# Built without CUDA. The key's line: "backend = cuda" is line 17 of the job.
	expect_in probe.err "cuda-tiny.job:17: backend = cuda needs a trainload built with CUDA: rebuild it with ./configure --with-cuda"
	[ "$(count_in probe.err 'rebuild it')" -eq 1 ] || { show probe; fail "message not printed once"; }
	expect_empty probe.out
	[ ! -e probe.json ] || fail "a refused job wrote its result"
	# under mpirun too: every rank exits 2, rank 0 says why
	run_bad probe2 2 "cuda-tiny.job:17: backend = cuda needs a trainload built with CUDA" "$job"
	exit 0
fi
if [ "$RC" -eq 1 ] && grep -F -q "backend = cuda, but no GPU is visible" probe.err; then
	expect_empty probe.out
	echo "built with CUDA, no GPU visible: skipped"
	exit 77
fi
expect_rc probe 0

# --- one GPU, one rank, alone (no mpirun) --------------------------------------------------
jq_true probe.json '.job.run.backend == "cuda" and .job.run.compute_dtype == "bf16"'
jq_true probe.json '.ranks[0].gpu.name | length > 0'
jq_true probe.json '.ranks[0].gpu.pci_bus_id | test("^[0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\\.[0-9]$")'
jq_true probe.json '.ranks[0].gpu.numa_node == null or .ranks[0].gpu.numa_node >= 0'
# a bf16 GEMM of 8192^3 on any GPU of the last years runs above 10 TFLOP/s
jq_true probe.json '.summary.peak_tflops_per_rank > 10'
jq_true probe.json '.summary.mfu > 0 and .summary.mfu < 1'
jq_true probe.json '.ranks[0].gemm_gflops > 0'
# the parts of each step add up to it; compute is the events' time, so no more than the step
jq_true probe.json 'all(.steps[]; (.breakdown_s | add) - .time_s | fabs < 1e-6 * .time_s + 1e-9)'
jq_true probe.json 'all(.steps[]; .breakdown_s.compute > 0 and .breakdown_s.compute <= .time_s)'
jq_true probe.json '.ranks[0].ops_per_step.gemm == .plan.ops_per_step.gemm'
expect_in probe.out "backend cuda"
expect_in probe.out "# gpus  $(jq_get probe.json '.ranks[0].gpu.name') on 1 of 1 ranks: rank 0 $(jq_get probe.json '.ranks[0].gpu.pci_bus_id')"

for set in "run.compute_dtype=f16" "run.compute_dtype=f32" "run.comm_dtype=f32" \
	"run.memory=lean" "run.recompute=full"; do
	run_trainload one 0 "$job" --set "$set" --output one.json
	expect_rc one 0
	jq_true one.json '.summary.step_time_s.p50 > 0 and .summary.mfu > 0'
done

# a plan larger than any GPU (some 320 billion parameters): refused before anything is allocated
run_bad toobig 0 "GB free of" "$job" --set model.layers=400 --set model.hidden=8192 \
	--set model.heads=64
expect_in toobig.err "cuda-tiny.job: rank 0 needs "

# --- two GPUs or more: NCCL between ranks --------------------------------------------------
ngpus=$(jq_get probe.json '.ranks[0].gpu.gpus_visible')
if [ "$ngpus" -lt 2 ]; then
	echo "one GPU: the multi-rank runs need two"
	exit 0
fi
for layout in "parallel.tp=2" "parallel.grad_accum=1 run.comm_dtype=f32" \
	"parallel.pp=2 parallel.grad_accum=4" "parallel.zero=1"; do
	sets=
	for s in $layout; do sets="$sets --set $s"; done
	# shellcheck disable=SC2086
	run_trainload multi 2 "$job" $sets --output multi.json
	expect_rc multi 0
	jq_true multi.json '.world.ranks == 2'
	jq_true multi.json '[.ranks[].gpu.pci_bus_id] | unique | length == 2'
	jq_true multi.json '.collectives | length > 0'
	jq_true multi.json 'all(.collectives[]; .time_us > 0)'
done
