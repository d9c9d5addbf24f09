#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration: the built-in default job under mpirun --oversubscribe -np 4; the summary, the JSON document and
# its JSONL (tests/mpi/lib-run.sh). Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
. "$TL_SRCDIR/mpi/lib-run.sh"

check_default_run 4
