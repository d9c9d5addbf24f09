#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The Markdown report of a fixed set of result files (tests/data/report: the cpu-small job at
# 1, 2 and 4 ranks, one of them also cut short, a sweep and a result of a future schema) is
# exactly tests/data/report/golden.md. After a deliberate change of the report, regenerate it:
#   cd tests/data/report && ../../../src/trainload-report --project 8,16 *.json >golden.md
. "$TL_SRCDIR/lib.sh"
data=$TL_SRCDIR/data/report
(cd "$data" && "$TRAINLOAD_REPORT" --project 8,16 allreduce-sweep.json cpu-small-1r.json \
	cpu-small-2r-killed.json cpu-small-2r.json cpu-small-4r.json future-schema.json) >got.md 2>got.err
rc=$?
[ "$rc" -eq 0 ] || { cat got.err; fail "trainload-report exited $rc"; }
diff -u "$data/golden.md" got.md || fail "the report differs from tests/data/report/golden.md"
echo ok
