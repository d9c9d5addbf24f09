/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * A CPU core's hardware peak, measured (include/trainload/peak.h): the clock from a chain of
 * dependent integer adds (one cycle each on every x86 core of the last fifteen years), and the
 * FMA units from the throughput of independent FMAs of the widest vector the CPU has, in cycles
 * of that clock. Measuring both, rather than reading a frequency table, takes turbo, a VM's
 * clock and a part's unit count as they are; the rounding to whole units keeps noise out.
 * The scalar clock is the one measured: parts that lower their clock under AVX-512 get a peak
 * they cannot reach, which their MFU then shows. Both loops are timed in the thread's CPU time,
 * best of a few, so that a busy node slows the measurement, not the figure.
 */
#include "config.h"

#include <stdint.h>
#include <time.h>

#include "backends/cpu.h"
#include "trainload/peak.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

/* This thread's CPU time: a loop preempted by another process (a shared node, oversubscribed
 * ranks) is timed for the cycles it ran, not for the wait. */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Repetitions of each measurement; the best counts (interruptions only ever slow one). */
#define REPEATS 5
/* Loop iterations per repetition: a few ms each at 3 GHz. */
#define ITERS UINT64_C(2000000)
/* Independent FMA chains: enough to keep two units of four-cycle latency busy. */
#define CHAINS 12

#if defined(__x86_64__)
/* Cycles per second: ITERS iterations of 8 dependent register adds take 8·ITERS cycles (the loop
 * counter is a chain of its own, run beside it). Adds of an immediate would not do: Golden
 * Cove and later fold chains of them at rename, several per cycle. */
static double clock_hz(void)
{
	double best = 0;

	for (int r = 0; r < REPEATS; r++) {
		uint64_t x = 0, n = ITERS, one = 1;
		double t0 = now_s();
		__asm__ volatile("1:\n\t"
		                 "add %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\t"
		                 "add %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\tadd %2, %0\n\t"
		                 "dec %1\n\t"
		                 "jnz 1b\n\t"
		                 : "+r"(x), "+r"(n)
		                 : "r"(one));
		double t = now_s() - t0;
		if (t > 0 && 8.0 * ITERS / t > best)
			best = 8.0 * ITERS / t;
	}
	return best;
}

/* Where the FMA loops leave their sum, so that no FMA can be left out. */
static volatile float sink;

/* Seconds for ITERS rounds of CHAINS independent FMAs of one width, each chain in a register of
 * its own (named: an array would go through memory). */
#define FMA_LOOP(vec, set1, fmadd, add)                                                            \
	do {                                                                                       \
		vec mul = set1(1.0000001f), inc = set1(1e-7f);                                     \
		vec a0 = set1(0), a1 = set1(1), a2 = set1(2), a3 = set1(3), a4 = set1(4),          \
		    a5 = set1(5), a6 = set1(6), a7 = set1(7), a8 = set1(8), a9 = set1(9),          \
		    a10 = set1(10), a11 = set1(11);                                                \
		for (uint64_t i = 0; i < ITERS; i++) {                                             \
			a0 = fmadd(a0, mul, inc), a1 = fmadd(a1, mul, inc);                        \
			a2 = fmadd(a2, mul, inc), a3 = fmadd(a3, mul, inc);                        \
			a4 = fmadd(a4, mul, inc), a5 = fmadd(a5, mul, inc);                        \
			a6 = fmadd(a6, mul, inc), a7 = fmadd(a7, mul, inc);                        \
			a8 = fmadd(a8, mul, inc), a9 = fmadd(a9, mul, inc);                        \
			a10 = fmadd(a10, mul, inc), a11 = fmadd(a11, mul, inc);                    \
		}                                                                                  \
		a0 = add(add(add(a0, a1), add(a2, a3)), add(add(a4, a5), add(a6, a7)));            \
		sink = add(a0, add(add(a8, a9), add(a10, a11)))[0];                                \
	} while (0)

__attribute__((target("avx512f"))) static double fma512_s(void)
{
	double t0 = now_s();

	FMA_LOOP(__m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps);
	return now_s() - t0;
}

__attribute__((target("avx2,fma"))) static double fma256_s(void)
{
	double t0 = now_s();

	FMA_LOOP(__m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps);
	return now_s() - t0;
}

static int cpu_isa(void)
{
	__builtin_cpu_init();
	if (__builtin_cpu_supports("avx512f"))
		return TL_ISA_AVX512;
	if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
		return TL_ISA_AVX2;
	return TL_ISA_UNKNOWN;
}

void tl_cpu_peak(int cores, int dtype, struct tl_hw_peak *out)
{
	int isa = cpu_isa();
	double hz = clock_hz(), best = 0;

	for (int r = 0; isa && r < REPEATS; r++) {
		double t = isa == TL_ISA_AVX512 ? fma512_s() : fma256_s();
		double per_cycle = t > 0 ? (double)CHAINS * ITERS / (t * hz) : 0;
		if (per_cycle > best)
			best = per_cycle;
	}
	tl_peak_cpu(cores, hz, isa, best, dtype, out);
}
#else
void tl_cpu_peak(int cores, int dtype, struct tl_hw_peak *out)
{
	tl_peak_cpu(cores, 0, TL_ISA_UNKNOWN, 0, dtype, out);
}
#endif
