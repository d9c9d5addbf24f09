/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The hardware's peak FLOP/s per rank, MFU's denominator as Megatron's and PaLM's papers use it
 * (DESIGN.md §5): a GPU's datasheet figure for the compute dtype (dense, no sparsity), or a
 * CPU core's measured clock × FMA width × FMA units × 2 FLOP per FMA, times the rank's cores.
 * And the BLAS kernel check: OpenBLAS picks its kernels by CPU model and falls back to an old,
 * narrow one on models it does not know. Pure: the measuring is the backends' (cpu_peak.c).
 */
#ifndef TRAINLOAD_PEAK_H
#define TRAINLOAD_PEAK_H

#include <stdbool.h>
#include <stddef.h>

/* Where MFU's peak per rank comes from. */
enum tl_peak_source {
	TL_PEAK_UNKNOWN,    /* no hardware peak: MFU falls back to the calibrated BLAS peak */
	TL_PEAK_GIVEN,      /* --peak-tflops */
	TL_PEAK_DATASHEET,  /* a GPU's datasheet, by device name and dtype */
	TL_PEAK_CPU_CLOCK,  /* a CPU's measured clock × FMA width × FMA units */
	TL_PEAK_CALIBRATED, /* the BLAS calibration GEMM (no hardware peak known) */
};

/* As the JSON's summary.peak_source spells it: "unknown", "--peak-tflops", "datasheet",
 * "cpu-clock", "calibrated". */
const char *tl_peak_source_name(enum tl_peak_source source);

/* The widest vector FMA a CPU has, in bits of a register: 0 (none known), 128, 256 or 512. */
enum tl_cpu_isa { TL_ISA_UNKNOWN = 0, TL_ISA_SSE = 128, TL_ISA_AVX2 = 256, TL_ISA_AVX512 = 512 };

/* One rank's hardware peak, as its backend derives it. */
struct tl_hw_peak {
	double flops_per_s; /* 0: unknown */
	enum tl_peak_source source;
	int isa;       /* CPUs: enum tl_cpu_isa, for the BLAS kernel check; GPUs: 0 */
	char how[224]; /* the derivation in words, as the summary prints it */
};

/* A GPU's dense datasheet TFLOP/s for compute dtype (enum tl_dtype: bf16, f16, f32 without
 * TF32) by its device name ("NVIDIA H100 80GB HBM3"); 0 when the name or dtype is not in the
 * table. *model gets the table's name for it ("H100 SXM"). */
double tl_peak_gpu_tflops(const char *device, int dtype, const char **model);

/* The GPU rule as a struct tl_hw_peak (source datasheet, or unknown with a how that says to
 * give --peak-tflops). */
void tl_peak_gpu(const char *device, int dtype, struct tl_hw_peak *out);

/* A CPU's: cores × clock × FMA units × width / element bits × 2; fills out with the
 * derivation. fma_units is what was measured (FMAs of the widest width retired per cycle),
 * rounded to a whole number of units. */
void tl_peak_cpu(int cores, double clock_hz, int isa, double fma_per_cycle, int dtype,
                 struct tl_hw_peak *out);

/* The BLAS kernel check: when OpenBLAS's kernel (openblas_get_corename(), "Prescott") is for a
 * narrower ISA than the CPU has, the kernel to select instead with OPENBLAS_CORETYPE
 * ("SkylakeX" on AVX-512, "Haswell" on AVX2); NULL when the kernel fits the CPU or either is
 * unknown. */
const char *tl_peak_blas_kernel_advice(const char *kernel, int isa);

/* A kernel's ISA (enum tl_cpu_isa) by its OpenBLAS name; TL_ISA_UNKNOWN for names not known
 * to be x86 kernels. */
int tl_peak_kernel_isa(const char *kernel);

#endif
