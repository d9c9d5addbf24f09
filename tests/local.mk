# SPDX-License-Identifier: BSD-3-Clause
# Included by the top-level Makefile.am: the test suite that `make check` runs.
#
#   tests/unit/test_*      cmocka unit tests of the pure library (libtlcore.la)
#   tests/depgraph.sh      the include/call graph of the modules has no circle (nm, tsort)
#   tests/bad-jobs.sh      every tests/data/bad/*.job must exit 2 naming its line, at 1, 2, 4 ranks,
#                          and so must the per-key cases tests/bad-keys.sh generates
#   tests/mpi/*.sh         integration runs of src/trainload, alone and under mpirun
#   tests/report/*.sh      trainload-report on runs made in the test and on fixed result files
#   tests/slurm/*.sh       slurm/ scripts against a private Slurm that lib-slurm.sh starts
#                          (munged, slurmctld, 2 slurmd), skipped when Slurm is not installed
#   tests/cluster/*.sh     across the nodes of a virtual cluster that lib-cluster.sh starts (network
#                          namespaces with their own hostnames, shaped links, Slurm on them),
#                          skipped where namespaces cannot be made (not root)
#   tests/cuda/cuda.sh     backend = cuda: refused without --with-cuda, skipped (77) without a GPU
#
# Scripts run through tests/run-test.sh (the LOG_COMPILER of .sh tests), which sets the
# environment (Open MPI as root, paths to the binary and the data, a scratch directory) and
# prints the exact command it ran, so that a failure can be rerun by hand. Test logs are in
# tests/**/*.log.

TL_UNIT_TESTS = tests/unit/test_job tests/unit/test_model tests/unit/test_grid \
	tests/unit/test_plan tests/unit/test_schedule tests/unit/test_result \
	tests/unit/test_exec tests/unit/test_topo tests/unit/test_bf16 \
	tests/unit/test_sweep tests/unit/test_report tests/unit/test_gpu \
	tests/unit/test_progress tests/unit/test_peak tests/unit/test_log tests/unit/test_coll \
	tests/unit/test_operands tests/unit/test_doctor
if TL_CUDA
TL_UNIT_TESTS += tests/unit/test_cuda
endif

# Replays of the fuzz targets (fuzz/README.md): fuzz/TARGET.c with a main() that runs files.
TL_FUZZ_REPLAYS = tests/fuzz/replay-job tests/fuzz/replay-report

check_PROGRAMS = $(TL_UNIT_TESTS) $(TL_FUZZ_REPLAYS)

# The pure library alone: job, model, grid, plan, metrics, result and dry-run code link
# without MPI, BLAS or hwloc.
TL_UNIT_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(INIH_CFLAGS) $(JANSSON_CFLAGS)
TL_UNIT_LDADD = libtlcore.la $(CMOCKA_LIBS) $(INIH_LIBS) $(JANSSON_LIBS)

# test_model reads the shipped jobs/*.job; the path is compiled in, so that the program also
# runs by hand from the build directory (and out of tree under `make distcheck`).
tests_unit_test_job_SOURCES = tests/unit/test_job.c tests/unit/tl_test.h
tests_unit_test_job_CFLAGS = $(TL_UNIT_CFLAGS)
tests_unit_test_job_LDADD = $(TL_UNIT_LDADD)

tests_unit_test_model_SOURCES = tests/unit/test_model.c tests/unit/tl_test.h
tests_unit_test_model_CFLAGS = $(TL_UNIT_CFLAGS) -DTL_TEST_JOBS_DIR='"$(abs_top_srcdir)/jobs"'
tests_unit_test_model_LDADD = $(TL_UNIT_LDADD)

tests_unit_test_grid_SOURCES = tests/unit/test_grid.c tests/unit/tl_test.h
tests_unit_test_grid_CFLAGS = $(TL_UNIT_CFLAGS)
tests_unit_test_grid_LDADD = $(TL_UNIT_LDADD)

tests_unit_test_plan_SOURCES = tests/unit/test_plan.c tests/unit/tl_test.h
tests_unit_test_plan_CFLAGS = $(TL_UNIT_CFLAGS) -DTL_TEST_JOBS_DIR='"$(abs_top_srcdir)/jobs"'
tests_unit_test_plan_LDADD = $(TL_UNIT_LDADD)

tests_unit_test_schedule_SOURCES = tests/unit/test_schedule.c tests/unit/tl_test.h
tests_unit_test_schedule_CFLAGS = $(TL_UNIT_CFLAGS)
tests_unit_test_schedule_LDADD = $(TL_UNIT_LDADD)

# src/result.c is in libtlcore.la and must link without libtrainload.la (MPI, BLAS).
tests_unit_test_result_SOURCES = tests/unit/test_result.c tests/unit/tl_test.h
tests_unit_test_result_CFLAGS = $(TL_UNIT_CFLAGS)
tests_unit_test_result_LDADD = $(TL_UNIT_LDADD)

# The executor and the backend registry (src/exec.c, src/backends/) are in libtrainload.la.
tests_unit_test_exec_SOURCES = tests/unit/test_exec.c tests/unit/tl_test.h
tests_unit_test_exec_CFLAGS = $(TL_UNIT_CFLAGS)
tests_unit_test_exec_LDADD = libtrainload.la $(TL_UNIT_LDADD)

# src/report_load.c and src/report_scale.c are in libtlcore.la: trainload-report needs no MPI.
tests_unit_test_report_SOURCES = tests/unit/test_report.c tests/unit/tl_test.h
tests_unit_test_report_CFLAGS = $(TL_UNIT_CFLAGS)
tests_unit_test_report_LDADD = $(TL_UNIT_LDADD)

# The collective table and the checks (src/coll.c, src/check.c, src/dtype.c): libtlcore.la.
tests_unit_test_coll_SOURCES = tests/unit/test_coll.c tests/unit/tl_test.h
tests_unit_test_coll_CFLAGS = $(TL_UNIT_CFLAGS)
tests_unit_test_coll_LDADD = $(TL_UNIT_LDADD)

# Where each op's operands lie (src/backends/operands.c, libtrainload.la): no MPI called.
tests_unit_test_operands_SOURCES = tests/unit/test_operands.c tests/unit/tl_test.h
tests_unit_test_operands_CFLAGS = $(TL_UNIT_CFLAGS)
tests_unit_test_operands_LDADD = libtrainload.la $(TL_UNIT_LDADD)

# src/sweep_plan.c is in libtlcore.la: the sweep's plan needs no MPI.
tests_unit_test_sweep_SOURCES = tests/unit/test_sweep.c tests/unit/tl_test.h
tests_unit_test_sweep_CFLAGS = $(TL_UNIT_CFLAGS)
tests_unit_test_sweep_LDADD = $(TL_UNIT_LDADD)

tests_unit_test_progress_SOURCES = tests/unit/test_progress.c tests/unit/tl_test.h
tests_unit_test_progress_CFLAGS = $(TL_UNIT_CFLAGS)
tests_unit_test_progress_LDADD = $(TL_UNIT_LDADD)

tests_unit_test_log_SOURCES = tests/unit/test_log.c tests/unit/tl_test.h
tests_unit_test_log_CFLAGS = $(TL_UNIT_CFLAGS)
tests_unit_test_log_LDADD = $(TL_UNIT_LDADD) -lpthread

# The doctor's schedule, judgement, verdict and hostlists (libtlcore.la: no MPI).
tests_unit_test_doctor_SOURCES = tests/unit/test_doctor.c
tests_unit_test_doctor_CFLAGS = $(TL_UNIT_CFLAGS)
tests_unit_test_doctor_LDADD = $(TL_UNIT_LDADD)

tests_unit_test_peak_SOURCES = tests/unit/test_peak.c tests/unit/tl_test.h
tests_unit_test_peak_CFLAGS = $(TL_UNIT_CFLAGS)
tests_unit_test_peak_LDADD = $(TL_UNIT_LDADD)

tests_unit_test_bf16_SOURCES = tests/unit/test_bf16.c
tests_unit_test_bf16_CFLAGS = $(TL_UNIT_CFLAGS)
tests_unit_test_bf16_LDADD = $(TL_UNIT_LDADD)

# GPU choice (src/gpu.c, libtrainload.la) needs hwloc's bitmaps only, no GPU and no CUDA.
tests_unit_test_gpu_SOURCES = tests/unit/test_gpu.c
tests_unit_test_gpu_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(HWLOC_CFLAGS)
tests_unit_test_gpu_LDADD = libtrainload.la $(CMOCKA_LIBS) $(HWLOC_LIBS)

# The cuda backend's dtype mappings and cuBLAS's view of a row-major GEMM, held to a host
# reference: no GPU needed (src/backends/cuda_types.c).
if TL_CUDA
tests_unit_test_cuda_SOURCES = tests/unit/test_cuda.c
tests_unit_test_cuda_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(CUDA_CFLAGS)
tests_unit_test_cuda_LDADD = libtrainload.la $(CMOCKA_LIBS)
endif

tests_fuzz_replay_job_SOURCES = tests/fuzz-replay.c fuzz/job.c fuzz/fuzz.h
tests_fuzz_replay_job_CFLAGS = $(TL_UNIT_CFLAGS)
tests_fuzz_replay_job_LDADD = $(TL_UNIT_LDADD)
tests_fuzz_replay_report_SOURCES = tests/fuzz-replay.c fuzz/report.c fuzz/fuzz.h
tests_fuzz_replay_report_CFLAGS = $(TL_UNIT_CFLAGS)
tests_fuzz_replay_report_LDADD = $(TL_UNIT_LDADD)

tests_unit_test_topo_SOURCES = tests/unit/test_topo.c
tests_unit_test_topo_CFLAGS = $(AM_CFLAGS) $(CMOCKA_CFLAGS) $(HWLOC_CFLAGS)
tests_unit_test_topo_LDADD = libtrainload.la $(CMOCKA_LIBS) $(HWLOC_LIBS)

# One bad job file per error class; each begins with "# expect: <substring of the message>".
# tests/bad-jobs.sh refuses to run when a file in tests/data/bad is missing from this list.
TL_BAD_JOBS = \
	tests/data/bad/unknown-key.job \
	tests/data/bad/unknown-key-other-section.job \
	tests/data/bad/unknown-section.job \
	tests/data/bad/key-before-section.job \
	tests/data/bad/duplicate-key.job \
	tests/data/bad/bad-enum.job \
	tests/data/bad/bad-bool.job \
	tests/data/bad/bad-string.job \
	tests/data/bad/bad-number.job \
	tests/data/bad/out-of-range-min.job \
	tests/data/bad/out-of-range-max.job \
	tests/data/bad/negative.job \
	tests/data/bad/overflow-digits.job \
	tests/data/bad/overflow-suffix.job \
	tests/data/bad/unknown-suffix.job \
	tests/data/bad/auto-not-allowed.job \
	tests/data/bad/empty-value.job \
	tests/data/bad/syntax-error.job \
	tests/data/bad/long-line.job \
	tests/data/bad/no-settings.job \
	tests/data/bad/three-errors.job \
	tests/data/bad/model-and-sweep.job \
	tests/data/bad/hidden-heads.job \
	tests/data/bad/kv-heads.job \
	tests/data/bad/heads-tp.job \
	tests/data/bad/kv-heads-tp.job \
	tests/data/bad/layers-pp.job \
	tests/data/bad/world-tp.job \
	tests/data/bad/dp-world.job \
	tests/data/bad/global-batch.job \
	tests/data/bad/grad-accum.job \
	tests/data/bad/topk-experts.job \
	tests/data/bad/ep-dp.job \
	tests/data/bad/compute-dtype.job \
	tests/data/bad/cuda-f64.job \
	tests/data/bad/model-overflow.job \
	tests/data/bad/check-null.job \
	tests/data/bad/ep-experts.job \
	tests/data/bad/batch-overflow.job \
	tests/data/bad/sweep-points.job \
	tests/data/bad/ffn-tp.job \
	tests/data/bad/memory-node.job \
	tests/data/bad/memory-lean.job \
	tests/data/bad/memory-steps.job \
	tests/data/bad/not-implemented-cp.job \
	tests/data/bad/cp-seq.job \
	tests/data/bad/interleaved.job \
	tests/data/bad/virtual-stages.job \
	tests/data/bad/sweep-op.job \
	tests/data/bad/sweep-op-empty.job \
	tests/data/bad/sweep-min-max.job \
	tests/data/bad/sweep-layout.job \
	tests/data/bad/sweep-dtype.job \
	tests/data/bad/syntax-errors.job \
	tests/data/bad/unterminated-section.job \
	tests/data/bad/section-text.job \
	tests/data/bad/plan-too-large.job

# The script tests that start ranks through the MPI launcher (mpirun, mpiexec): what a build with
# another MPI family runs beside the unit tests (.ci/run: MPICH).
TL_LAUNCHER_TESTS = \
	tests/bad-jobs.sh \
	tests/mpi/cli.sh \
	tests/mpi/progress.sh \
	tests/mpi/run-1rank.sh \
	tests/mpi/run-np1.sh \
	tests/mpi/run-np2.sh \
	tests/mpi/run-np4.sh \
	tests/mpi/overrides.sh \
	tests/mpi/output-errors.sh \
	tests/mpi/disk-full.sh \
	tests/mpi/dryrun.sh \
	tests/mpi/plan-size.sh \
	tests/mpi/grids.sh \
	tests/mpi/sweep.sh \
	tests/mpi/p2p.sh \
	tests/mpi/watchdog.sh \
	tests/mpi/check.sh \
	tests/mpi/kill.sh \
	tests/mpi/rank-error.sh \
	tests/mpi/doctor.sh \
	tests/report/scaling.sh

# The rest need no launcher of their own: fixed files, srun and PMIx (Slurm), a GPU.
TL_SCRIPT_TESTS = \
	$(TL_LAUNCHER_TESTS) \
	tests/depgraph.sh \
	tests/fuzz-replay.sh \
	tests/report/golden.sh \
	tests/slurm/scaling-cli.sh \
	tests/slurm/sbatch.sh \
	tests/slurm/scaling.sh \
	tests/cluster/testbed.sh \
	tests/cluster/run.sh \
	tests/cluster/attribution.sh \
	tests/cluster/overlap.sh \
	tests/cluster/slurm.sh \
	tests/cluster/doctor.sh \
	tests/cluster/doctor-slurm.sh \
	tests/slurm/scancel.sh \
	tests/cuda/cuda.sh

TESTS = $(TL_UNIT_TESTS) $(TL_SCRIPT_TESTS)

TEST_EXTENSIONS = .sh
SH_LOG_COMPILER = $(SHELL) $(top_srcdir)/tests/run-test.sh

# What the scripts need to know about the build; run-test.sh makes the paths absolute.
AM_TESTS_ENVIRONMENT = \
	top_srcdir='$(top_srcdir)'; top_builddir='$(top_builddir)'; \
	TL_VERSION='$(PACKAGE_VERSION)'; JQ='$(JQ)'; MPIRUN='$(MPIRUN)'; \
	TL_BAD_JOBS='$(TL_BAD_JOBS)'; \
	export top_srcdir top_builddir TL_VERSION JQ MPIRUN TL_BAD_JOBS;

EXTRA_DIST += \
	tests/run-test.sh tests/lib.sh tests/mpi/lib-run.sh tests/mpi/lib-nccl.sh \
	tests/data/nccl-tests/all_reduce_perf.txt tests/data/nccl-tests/SOURCE.md \
	tests/slurm/lib-slurm.sh tests/bad-keys.sh \
	tests/cluster/lib-cluster.sh tests/cluster/agent tests/cluster/tcp-rate.pl tests/cluster/vcluster \
	fuzz/README.md fuzz/run.sh fuzz/targets fuzz/packages.debian $(TL_FUZZ_REGRESS) \
	$(TL_SCRIPT_TESTS) $(TL_BAD_JOBS) tests/data/good/tiny.job $(TL_REPORT_FILES) \
	tests/data/good/cuda-tiny.job

# Result files of the golden report (tests/report/golden.sh).
TL_REPORT_FILES = \
	tests/data/report/allreduce-sweep.json \
	tests/data/report/cpu-small-1r.json \
	tests/data/report/cpu-small-2r-killed.json \
	tests/data/report/cpu-small-2r.json \
	tests/data/report/cpu-small-4r.json \
	tests/data/report/future-schema.json \
	tests/data/report/golden.md

# Crashers the fuzzers found, kept as regression inputs (tests/fuzz-replay.sh).
TL_FUZZ_REGRESS = fuzz/regress/job/.keep fuzz/regress/report/.keep \
	fuzz/regress/report/crash-71baa1f0f1c2bf497938e2c8ed2ee2be1c066801

# Scratch directories of failed script tests (passing ones remove their own).
clean-local: tl-clean-tests
tl-clean-tests:
	-rm -rf tests/tmp
.PHONY: tl-clean-tests
