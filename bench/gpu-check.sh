#!/bin/bash
# SPDX-License-Identifier: BSD-3-Clause
# The GPU check of the cuda backend, in one go, on a machine with one GPU and the CUDA toolkit and
# nothing else (no MPI, hwloc, OpenBLAS, jansson, inih, cmocka, pkg-config; no network): builds
# trainload --with-cuda from bench/gpu-deps/ (made beforehand by bench/gpu-deps.sh on a
# development machine, carried with the tree), then runs
#   0. a tiny job on the cpu backend, alone, without mpirun: Open MPI's singleton start from the
#      relocated prefix (it spawns orted from there), apart from anything GPU;
#   1. the cuda unit tests and tests/cuda/cuda.sh (bf16, f16, f32, comm_dtype conversion, lean);
#   2. a plain cuBLAS loop of bf16 8192^3 GEMMs (bench/cuda-loop gemm), the reference;
#   3. a single-rank GPT-style job (jobs/megatron-1.7b.job at a global batch of 8, bf16, full
#      recompute), alone, without mpirun (Open MPI's singleton start): step time, tokens/s, MFU,
#      and its calibration GEMM (8192^3 bf16), held to at least 85% of the plain loop;
#   4. a one-rank NCCL allreduce sweep, 8 B to 256 MiB (bench/cuda-loop nccl), values checked;
#   5. trainload's own sweep on the cuda backend, one rank: allreduce, reduce_scatter,
#      allgather, broadcast and sendrecv, 8 B to 256 MiB, out of place and in place, checked,
#      in nccl-tests' layout; its 256 MiB allreduce against step 4's;
# and prints a short table last; exits 1 when a step fails. Estimated 2-3 minutes on an H100
# (not yet run on one: 20 s without a GPU on a 2-core VM, build included).
#
#   bench/gpu-check.sh [CUDA_DIR]          (default /usr/local/cuda; run from anywhere)
#
# Scratch in ${TMPDIR:-/tmp}/trainload-gpu (removed first); logs are kept there.
set -u
here=$(cd "$(dirname "$0")" && pwd)
deps=$here/gpu-deps
cuda=${1:-/usr/local/cuda}
work=${TMPDIR:-/tmp}/trainload-gpu
start=$(date +%s)

say() { echo "# gpu-check $(($(date +%s) - start))s: $*"; }
die() { echo "gpu-check: $*" >&2; exit 1; }

if [ ! -f "$deps/root.tar.xz" ] || [ ! -f "$deps/trainload.tar.gz" ]; then
	die "$deps lacks root.tar.xz or trainload.tar.gz: run bench/gpu-deps.sh on a development machine first"
fi
[ -x "$cuda/bin/nvcc" ] || die "no CUDA toolkit in $cuda (give its prefix)"

{ rm -rf "$work" && mkdir -p "$work/root" "$work/build"; } || die "cannot make $work"
tar -C "$work/root" -xJf "$deps/root.tar.xz" || die "cannot unpack root.tar.xz"
tar -C "$work" -xzf "$deps/trainload.tar.gz" || die "cannot unpack trainload.tar.gz"
src=$(echo "$work"/trainload-*)

# The relocated Debian prefix: Open MPI finds its own files through OPAL_PREFIX (its helpers,
# orted for a singleton start, its components), PMIx through PMIX_INSTALL_PREFIX, pkg-config
# prefixes every path of the .pc files with the sysroot.
P=$work/root
lib=$P/usr/lib/x86_64-linux-gnu
export PATH=$P/usr/bin:$cuda/bin:$PATH
export LD_LIBRARY_PATH=$lib:$P/lib/x86_64-linux-gnu:$lib/openmpi/lib:$lib/pmix2/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export OPAL_PREFIX=$P/usr
export PMIX_INSTALL_PREFIX=$lib/pmix2
export PKG_CONFIG_LIBDIR=$lib/pkgconfig:$P/usr/share/pkgconfig
export PKG_CONFIG_SYSROOT_DIR=$P
# Debian's headers count on the compiler's multiarch and system directories, which are now under
# $P: name them, as system directories (their warnings are not ours).
export CPPFLAGS="-isystem $P/usr/include -isystem $P/usr/include/x86_64-linux-gnu"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# One node: no network transports to probe, and processes started locally (the default launcher
# wants ssh, which such a machine may lack, even for a singleton's orted).
# Components whose libraries (InfiniBand PSM) are not carried are left out without a word.
export OMPI_MCA_btl=self,vader OMPI_MCA_plm=isolated OMPI_MCA_mca_base_component_show_load_errors=0

say "configure --with-cuda=$cuda"
cd "$work/build" || exit 1
# --disable-werror: another gcc than Debian 12's may warn where it did not; a check is no
# place to stop for that.
"$src/configure" --with-cuda="$cuda" --disable-werror >configure.log 2>&1 || { tail -n 30 configure.log; die "configure failed"; }
say "make"
make -j"$(nproc)" >make.log 2>&1 || { tail -n 40 make.log; die "make failed"; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null |
	sed 's/^/# gpu: /'

say "singleton start: tests/data/good/tiny.job on the cpu backend, no mpirun"
src/trainload "$src/tests/data/good/tiny.job" --quiet --output cpu.json >cpu.out 2>&1
cpu_rc=$?
[ "$cpu_rc" -eq 0 ] || cat cpu.out

say "tests: unit and tests/cuda/cuda.sh"
make -j"$(nproc)" check TESTS="tests/unit/test_cuda tests/unit/test_gpu tests/cuda/cuda.sh" \
	>check.log 2>&1
tests=$(grep -E '^(PASS|FAIL|SKIP|ERROR):' check.log | tr '\n' ' ')
echo "$tests"
grep -q '^PASS: tests/cuda/cuda.sh' check.log || tail -n 30 tests/cuda/cuda.log 2>/dev/null

say "plain cuBLAS loop, bf16 8192^3"
loop=$(bench/cuda-loop gemm 8192 50 bf16 2>&1)
echo "$loop"
loop_tflops=$(echo "$loop" | awk '/^gemm / { print $NF }')

say "trainload, one rank, no mpirun: jobs/megatron-1.7b.job at global batch 8"
src/trainload "$src/jobs/megatron-1.7b.job" --set parallel.global_batch=8 --set run.steps=5 \
	--set run.warmup=2 --output run.json >run.out 2>run.err
run_rc=$?
cat run.out
[ "$run_rc" -eq 0 ] || { cat run.err; }

say "NCCL, one rank, allreduce 8 B to 256 MiB"
bench/cuda-loop nccl 8 268435456 >nccl.out 2>&1
nccl_rc=$?
cat nccl.out

say "trainload sweep on backend = cuda, one rank, 8 B to 256 MiB"
src/trainload sweep --set run.backend=cuda -b 8 -e 256M \
	--set sweep.op=allreduce,reduce_scatter,allgather,broadcast,sendrecv -o sweep.json \
	>sweep.out 2>sweep.err
sweep_rc=$?
cat sweep.out
[ "$sweep_rc" -eq 0 ] || cat sweep.err

# ---- the table ----------------------------------------------------------------------------
jq_or() { [ "$run_rc" -eq 0 ] && jq -r "$1" run.json 2>/dev/null || echo "-"; }
card=$(jq_or '.ranks[0].gpu.name')
[ "$card" != "-" ] || card=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
peak=$(jq_or '.summary.peak_tflops_per_rank')
ratio=$(awk -v a="$peak" -v b="$loop_tflops" 'BEGIN { if (a + 0 > 0 && b + 0 > 0) printf "%.3f", a / b; else print "-" }')
calib_ok=$(awk -v r="$ratio" 'BEGIN { print (r != "-" && r + 0 >= 0.85) ? "ok" : "FAIL" }')
nccl_big=$(awk '$1 == 268435456 { print $5 " us, " $6 " GB/s algbw, wrong " $8 }' nccl.out)
nccl_ok=$([ "$nccl_rc" -eq 0 ] && [ -n "$nccl_big" ] && echo ok || echo FAIL)
run_ok=$([ "$run_rc" -eq 0 ] && echo ok || echo FAIL)
sweep_big=$([ "$sweep_rc" -eq 0 ] && jq -r '[.collectives[] | select(.op == "allreduce")][-1] | "\(.time_us | floor) us, \(.algbw_gbps * 100 | round / 100) GB/s algbw, wrong \(.wrong + .in_place.wrong)"' sweep.json 2>/dev/null)
sweep_ok=$([ "$sweep_rc" -eq 0 ] && [ -n "$sweep_big" ] && echo ok || echo FAIL)
# On a GPU machine tests/cuda/cuda.sh must run, not skip.
tests_ok=$(echo "$tests" | grep -q -E 'FAIL|ERROR|SKIP' && echo FAIL || echo ok)
cpu_ok=$([ "$cpu_rc" -eq 0 ] && echo ok || echo FAIL)

echo
echo "# gpu-check: $card, trainload $(basename "$src" | sed 's/^trainload-//'), $(date -u +%Y-%m-%dT%H:%MZ), $(($(date +%s) - start)) s"
printf '  %-44s %-44s %s\n' "check" "figure" "verdict"
printf '  %-44s %-44s %s\n' "MPI singleton start, cpu backend" "exit $cpu_rc" "$cpu_ok"
printf '  %-44s %-44s %s\n' "unit + tests/cuda/cuda.sh" "$tests" "$tests_ok"
printf '  %-44s %-44s %s\n' "plain cuBLAS bf16 8192^3 (TFLOP/s)" "$loop_tflops" "-"
printf '  %-44s %-44s %s\n' "trainload calibration bf16 8192^3 (TFLOP/s)" "$peak (x$ratio of the loop, >= 0.85)" "$calib_ok"
printf '  %-44s %-44s %s\n' "megatron-1.7b gb 8: step p50 (s)" "$(jq_or '.summary.step_time_s.p50')" "$run_ok"
printf '  %-44s %-44s %s\n' "  tokens/s" "$(jq_or '.summary.tokens_per_s | floor')" "-"
printf '  %-44s %-44s %s\n' "  model TFLOP/s per rank; MFU" "$(jq_or '"\(.summary.model_tflops_per_rank * 10 | round / 10); \(.summary.mfu * 1000 | round / 10)%"')" "-"
printf '  %-44s %-44s %s\n' "  breakdown (s): compute, other" "$(jq_or '"\(.summary.breakdown_s.compute), \(.summary.breakdown_s.other)"')" "-"
printf '  %-44s %-44s %s\n' "NCCL allreduce 1 rank, 256 MiB" "${nccl_big:--}" "$nccl_ok"
printf '  %-44s %-44s %s\n' "trainload sweep, cuda, allreduce 256 MiB" "${sweep_big:--}" "$sweep_ok"
[ "$cpu_ok$tests_ok$calib_ok$run_ok$nccl_ok$sweep_ok" = okokokokokok ]
