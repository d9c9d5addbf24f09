/* SPDX-License-Identifier: BSD-3-Clause */
/* What every fuzz target defines (libFuzzer's entry point), and tests/fuzz-replay.c calls. */
#ifndef TRAINLOAD_FUZZ_H
#define TRAINLOAD_FUZZ_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
