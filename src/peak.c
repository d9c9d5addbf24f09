/* SPDX-License-Identifier: BSD-3-Clause */
/* The hardware peak and the BLAS kernel check (include/trainload/peak.h). Pure. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "trainload/job.h"
#include "trainload/model.h"
#include "trainload/peak.h"

const char *tl_peak_source_name(enum tl_peak_source source)
{
	static const char *const names[] = {"unknown", "--peak-tflops", "datasheet", "cpu-clock",
	                                    "calibrated"};
	return names[source];
}

/*
 * Dense TFLOP/s per GPU from the vendors' datasheets (sparsity never counted): bf16 and f16 on
 * the tensor (matrix) cores, f32 as the backends run it (FP32, not TF32). Matched as a substring
 * of the device name, first match wins, so the more specific names come first.
 */
static const struct {
	const char *match, *model;
	double bf16, f16, f32;
} gpus[] = {
    {"GH200", "GH200", 989.4, 989.4, 66.9},
    {"H200 NVL", "H200 NVL", 835.5, 835.5, 60.0},
    {"H200", "H200 SXM", 989.4, 989.4, 66.9},
    {"H100 PCIe", "H100 PCIe", 756.5, 756.5, 51.2},
    {"H100 NVL", "H100 NVL", 835.5, 835.5, 60.0},
    {"H100", "H100 SXM", 989.4, 989.4, 66.9},
    {"H800", "H800 SXM", 989.4, 989.4, 66.9},
    {"A100", "A100", 312.0, 312.0, 19.5},
    {"A800", "A800", 312.0, 312.0, 19.5},
    {"L40S", "L40S", 362.05, 362.05, 91.6},
    {"L4", "L4", 121.0, 121.0, 30.3},
    {"V100", "V100 SXM2", 0, 125.0, 15.7},
    {"MI300X", "MI300X", 1307.4, 1307.4, 163.4},
    {"MI325X", "MI325X", 1307.4, 1307.4, 163.4},
    {"MI250X", "MI250X", 383.0, 383.0, 95.7},
};

double tl_peak_gpu_tflops(const char *device, int dtype, const char **model)
{
	for (size_t i = 0; device && i < sizeof(gpus) / sizeof(*gpus); i++) {
		if (!strstr(device, gpus[i].match))
			continue;
		*model = gpus[i].model;
		return dtype == TL_DTYPE_BF16  ? gpus[i].bf16
		       : dtype == TL_DTYPE_F16 ? gpus[i].f16
		       : dtype == TL_DTYPE_F32 ? gpus[i].f32
		                               : 0;
	}
	*model = NULL;
	return 0;
}

void tl_peak_gpu(const char *device, int dtype, struct tl_hw_peak *out)
{
	const char *model, *type = tl_job_enum_name("run", "compute_dtype", dtype);
	double tflops = tl_peak_gpu_tflops(device, dtype, &model);

	*out = (struct tl_hw_peak){.flops_per_s = tflops * 1e12};
	if (tflops > 0) {
		out->source = TL_PEAK_DATASHEET;
		snprintf(out->how, sizeof(out->how), "%s datasheet, %s dense: %g TFLOP/s", model,
		         type, tflops);
	} else {
		out->source = TL_PEAK_UNKNOWN;
		snprintf(out->how, sizeof(out->how),
		         "no datasheet figure for %s in %s: give --peak-tflops", type,
		         device && *device ? device : "this GPU");
	}
}

void tl_peak_cpu(int cores, double clock_hz, int isa, double fma_per_cycle, int dtype,
                 struct tl_hw_peak *out)
{
	uint64_t elem_bits = 8 * tl_dtype_bytes(dtype);
	int units = (int)lround(fma_per_cycle);

	*out = (struct tl_hw_peak){.isa = isa};
	if (cores < 1 || !(clock_hz > 0) || isa == TL_ISA_UNKNOWN || units < 1 || !elem_bits) {
		out->source = TL_PEAK_UNKNOWN;
		if (isa == TL_ISA_UNKNOWN)
			snprintf(out->how, sizeof(out->how),
			         "unknown on this CPU (no x86 vector FMA)");
		else if (!(clock_hz > 0))
			snprintf(out->how, sizeof(out->how),
			         "unknown (the clock was not measured)");
		else
			snprintf(out->how, sizeof(out->how),
			         "unknown (FMA throughput measured at %.2f per cycle)",
			         fma_per_cycle);
		return;
	}
	double per_cycle = 2.0 * units * (double)isa / (double)elem_bits;
	out->source = TL_PEAK_CPU_CLOCK;
	out->flops_per_s = cores * clock_hz * per_cycle;
	snprintf(out->how, sizeof(out->how),
	         "%d core%s x %.2f GHz (measured) x %d-bit FMA x %d unit%s (measured %.2f/cycle) "
	         "x 2 = %g %s FLOP/cycle/core",
	         cores, cores == 1 ? "" : "s", clock_hz / 1e9, isa, units, units == 1 ? "" : "s",
	         fma_per_cycle, per_cycle, tl_job_enum_name("run", "compute_dtype", dtype));
}

/* OpenBLAS's x86 kernel names (kernel/setparam and driver/others/dynamic.c) and the widest
 * ISA each uses. */
static const struct {
	const char *name;
	int isa;
} kernels[] = {
    {"SkylakeX", TL_ISA_AVX512},  {"Cooperlake", TL_ISA_AVX512}, {"SapphireRapids", TL_ISA_AVX512},
    {"Haswell", TL_ISA_AVX2},     {"Zen", TL_ISA_AVX2},          {"Excavator", TL_ISA_AVX2},
    {"Sandybridge", TL_ISA_SSE},  {"Bulldozer", TL_ISA_SSE},     {"Piledriver", TL_ISA_SSE},
    {"Steamroller", TL_ISA_SSE},  {"Prescott", TL_ISA_SSE},      {"Core2", TL_ISA_SSE},
    {"Penryn", TL_ISA_SSE},       {"Dunnington", TL_ISA_SSE},    {"Nehalem", TL_ISA_SSE},
    {"Atom", TL_ISA_SSE},         {"Barcelona", TL_ISA_SSE},     {"Opteron", TL_ISA_SSE},
    {"Opteron_SSE3", TL_ISA_SSE}, {"Nano", TL_ISA_SSE},          {"Bobcat", TL_ISA_SSE},
    {"Katmai", TL_ISA_SSE},       {"Coppermine", TL_ISA_SSE},    {"Northwood", TL_ISA_SSE},
    {"Banias", TL_ISA_SSE},       {"Athlon", TL_ISA_SSE},
};

int tl_peak_kernel_isa(const char *kernel)
{
	for (size_t i = 0; kernel && i < sizeof(kernels) / sizeof(*kernels); i++)
		if (!strcasecmp(kernel, kernels[i].name))
			return kernels[i].isa;
	return TL_ISA_UNKNOWN;
}

const char *tl_peak_blas_kernel_advice(const char *kernel, int isa)
{
	int has = tl_peak_kernel_isa(kernel);

	if (has == TL_ISA_UNKNOWN || isa <= has)
		return NULL;
	return isa >= TL_ISA_AVX512 ? "SkylakeX" : "Haswell";
}
