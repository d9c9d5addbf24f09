#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration (issue 8): a rank that fails ends the job with exit status 1 and never leaves the
# others waiting. The failure is real: one rank runs under `ulimit -v` (1.2 GB of address space)
# while the job's memory = full needs some 2.4 GB per rank, so its allocation fails; the other
# ranks have gone on to their first collective. The failing rank prints its rank, host, the
# call and the source line.
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"

job=$TL_SRCDIR/data/good/tiny.job
var=$(rank_var) || exit 1

# limited LABEL N R: N ranks, rank R under the address-space limit; must exit 1 in time.
limited() {
	# shellcheck disable=SC2016
	run_launched "$1" "$2" sh -c \
		'eval "r=\${$1:-}"; if [ "$r" = "$0" ]; then ulimit -v 1200000; fi; shift 2; exec "$@"' \
		"$3" "$var" x "$TRAINLOAD" --quiet --set model.hidden=1536 --set model.layers=4 "$job"
	expect_rc "$1" 1
	expect_in "$1.err" "trainload: rank $3 ("
	expect_in "$1.err" "): posix_memalign("
	# The source line as the compiler saw the file (a VPATH build prefixes ../).
	expect_in "$1.err" "bytes) failed at "
	expect_in "$1.err" "src/backends/cpu.c:"
	expect_in "$1.err" ": out of memory"
	expect_in "$1.err" "): run failed (out of memory)"
	[ "$(count_in "$1.err" "run failed")" -eq 1 ] || { show "$1"; fail "$1: another rank failed"; }
	echo "ok: $1"
}

# ASan reserves terabytes of address space: ulimit -v cannot be used on such a build.
if nm "$TRAINLOAD" 2>/dev/null | grep -q __asan_init; then
	echo "skip: $TRAINLOAD is built with AddressSanitizer"
	exit 77
fi

limited np2 2 1
limited np4 4 2
