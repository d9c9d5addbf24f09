/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The hardware peak and the BLAS kernel check (src/peak.c): datasheet figures by device name and
 * dtype, a CPU's clock x FMA width x FMA units x 2 against hand arithmetic, and which OpenBLAS
 * kernels are narrower than the CPU. Pure: nothing is measured here.
 */
#include "config.h"

#include <math.h>
#include <string.h>

#include "tl_test.h"
#include "trainload/peak.h"

static void test_gpu_table(void **state)
{
	const char *model;
	static const struct {
		const char *device;
		int dtype;
		double tflops;
		const char *model;
	} cases[] = {
	    /* the names cudaGetDeviceProperties reports */
	    {"NVIDIA H100 80GB HBM3", TL_DTYPE_BF16, 989.4, "H100 SXM"},
	    {"NVIDIA H100 80GB HBM3", TL_DTYPE_F32, 66.9, "H100 SXM"},
	    {"NVIDIA H100 PCIe", TL_DTYPE_F16, 756.5, "H100 PCIe"},
	    {"NVIDIA H100 NVL", TL_DTYPE_BF16, 835.5, "H100 NVL"},
	    {"NVIDIA H200", TL_DTYPE_BF16, 989.4, "H200 SXM"},
	    /* GH200 contains "H200", L40S contains "L4": the specific name wins */
	    {"NVIDIA GH200 480GB", TL_DTYPE_BF16, 989.4, "GH200"},
	    {"NVIDIA L40S", TL_DTYPE_BF16, 362.05, "L40S"},
	    {"NVIDIA L4", TL_DTYPE_BF16, 121.0, "L4"},
	    {"NVIDIA A100-SXM4-80GB", TL_DTYPE_BF16, 312.0, "A100"},
	    {"NVIDIA A100-PCIE-40GB", TL_DTYPE_F32, 19.5, "A100"},
	    {"AMD Instinct MI300X", TL_DTYPE_BF16, 1307.4, "MI300X"},
	    /* V100 has no bf16 tensor cores */
	    {"Tesla V100-SXM2-32GB", TL_DTYPE_BF16, 0, "V100 SXM2"},
	};

	(void)state;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		double got = tl_peak_gpu_tflops(cases[i].device, cases[i].dtype, &model);
		if (got != cases[i].tflops || !model || strcmp(model, cases[i].model))
			fail_msg("%s: %g TFLOP/s (%s), expected %g (%s)", cases[i].device, got,
			         model ? model : "none", cases[i].tflops, cases[i].model);
	}
	assert_true(tl_peak_gpu_tflops("NVIDIA GeForce RTX 3090", TL_DTYPE_BF16, &model) == 0);
	assert_null(model);
}

static void test_gpu_peak(void **state)
{
	struct tl_hw_peak p;

	(void)state;
	tl_peak_gpu("NVIDIA H100 80GB HBM3", TL_DTYPE_BF16, &p);
	assert_int_equal(p.source, TL_PEAK_DATASHEET);
	assert_true(p.flops_per_s == 989.4e12);
	assert_string_equal(p.how, "H100 SXM datasheet, bf16 dense: 989.4 TFLOP/s");
	tl_peak_gpu("NVIDIA GeForce RTX 3090", TL_DTYPE_F16, &p);
	assert_int_equal(p.source, TL_PEAK_UNKNOWN);
	assert_true(p.flops_per_s == 0);
	assert_string_equal(
	    p.how, "no datasheet figure for f16 in NVIDIA GeForce RTX 3090: give --peak-tflops");
}

/* cores x clock x FMA units x lanes x 2: f32 has 16 lanes in 512 bits, f64 8. */
static void test_cpu_peak(void **state)
{
	struct tl_hw_peak p;

	(void)state;
	tl_peak_cpu(4, 3.0e9, TL_ISA_AVX512, 1.9, TL_DTYPE_F32, &p);
	assert_int_equal(p.source, TL_PEAK_CPU_CLOCK);
	assert_true(fabs(p.flops_per_s - 4 * 3.0e9 * 2 * 16 * 2) < 1);
	assert_string_equal(p.how, "4 cores x 3.00 GHz (measured) x 512-bit FMA x 2 units "
	                           "(measured 1.90/cycle) x 2 = 64 f32 FLOP/cycle/core");
	tl_peak_cpu(4, 3.0e9, TL_ISA_AVX512, 1.9, TL_DTYPE_F64, &p);
	assert_true(fabs(p.flops_per_s - 4 * 3.0e9 * 2 * 8 * 2) < 1);
	/* AVX2, one unit measured (a Zen 1 or an Atom core) */
	tl_peak_cpu(1, 2.0e9, TL_ISA_AVX2, 1.1, TL_DTYPE_F32, &p);
	assert_true(fabs(p.flops_per_s - 2.0e9 * 1 * 8 * 2) < 1);
	/* what cannot be derived is unknown, and says why */
	tl_peak_cpu(1, 2.0e9, TL_ISA_AVX2, 0.4, TL_DTYPE_F32, &p);
	assert_int_equal(p.source, TL_PEAK_UNKNOWN);
	assert_true(p.flops_per_s == 0);
	assert_string_equal(p.how, "unknown (FMA throughput measured at 0.40 per cycle)");
	tl_peak_cpu(1, 0, TL_ISA_UNKNOWN, 0, TL_DTYPE_F32, &p);
	assert_string_equal(p.how, "unknown on this CPU (no x86 vector FMA)");
}

static void test_blas_kernel(void **state)
{
	(void)state;
	/* OpenBLAS 0.3.21 on a CPU model it does not know falls back to Prescott (SSE3) */
	assert_string_equal(tl_peak_blas_kernel_advice("Prescott", TL_ISA_AVX512), "SkylakeX");
	/* Zen 4 has AVX-512; 0.3.21 picks its AVX2 Zen kernel */
	assert_string_equal(tl_peak_blas_kernel_advice("Zen", TL_ISA_AVX512), "SkylakeX");
	assert_string_equal(tl_peak_blas_kernel_advice("Sandybridge", TL_ISA_AVX2), "Haswell");
	assert_string_equal(tl_peak_blas_kernel_advice("prescott", TL_ISA_AVX2), "Haswell");
	/* the kernel fits the CPU, or either is not known: nothing to say */
	assert_null(tl_peak_blas_kernel_advice("SkylakeX", TL_ISA_AVX512));
	assert_null(tl_peak_blas_kernel_advice("Cooperlake", TL_ISA_AVX512));
	assert_null(tl_peak_blas_kernel_advice("Haswell", TL_ISA_AVX2));
	assert_null(tl_peak_blas_kernel_advice("NEOVERSEN1", TL_ISA_AVX512));
	assert_null(tl_peak_blas_kernel_advice("Prescott", TL_ISA_UNKNOWN));
	assert_null(tl_peak_blas_kernel_advice(NULL, TL_ISA_AVX512));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gpu_table),
	    cmocka_unit_test(test_gpu_peak),
	    cmocka_unit_test(test_cpu_peak),
	    cmocka_unit_test(test_blas_kernel),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
