/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Replays inputs through a libFuzzer target (fuzz/TARGET.c) built with the ordinary compiler,
 * so that make check runs every crasher ever found (fuzz/regress/TARGET) and the seed corpus
 * through the target's code, under the sanitizers when configured with them:
 *     tests/fuzz/replay-TARGET FILE...
 * Each file is passed whole, once; a crash is the failure. Prints the count it ran.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../fuzz/fuzz.h"

int main(int argc, char **argv)
{
	int ran = 0;

	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		uint8_t *buf = NULL;
		size_t len = 0, cap = 0, got;

		if (!f) {
			perror(argv[i]);
			return 1;
		}
		do {
			if (len == cap) {
				uint8_t *p = realloc(buf, cap = cap ? 2 * cap : 4096);
				if (!p) {
					fclose(f);
					free(buf);
					return 1;
				}
				buf = p;
			}
			got = fread(buf + len, 1, cap - len, f);
			len += got;
		} while (got);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
		ran++;
	}
	printf("%d inputs replayed\n", ran);
	return 0;
}
