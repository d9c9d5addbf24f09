#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration: an output that cannot be written is bad input (exit 2), found before any step
# runs, on every rank together and quickly (a 30 s limit: a rank left waiting would hang).
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"

TL_TIMEOUT=30
for n in 0 1 2; do
	run_bad nodir$n "$n" "trainload: cannot write /nonexistent/dir/r.json" \
		--output /nonexistent/dir/r.json --set run.steps=1
	expect_not_in nodir$n.out "# trainload"
done

# The output is a directory.
mkdir -p out.d
run_bad isdir 2 "trainload: cannot write out.d" --output out.d --set run.steps=1

# The JSON can be written but its JSONL cannot.
mkdir -p x.jsonl
run_bad nojsonl 2 "trainload: cannot write x.jsonl" --output x.json --set run.steps=1
echo ok
