#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# The LOG_COMPILER of trainload's script tests (tests/local.mk):
#     sh tests/run-test.sh tests/mpi/run-np2.sh
# Sets up what every script needs and prints the exact command it runs, so that a failed test
# can be rerun by hand from the log:
#   TRAINLOAD   the built binary ($top_builddir/src/trainload)
#   TRAINLOAD_REPORT  the built $top_builddir/src/trainload-report
#   TL_SRCDIR   the source tree's tests/ (scripts, data: `make distcheck` builds out of tree)
#   TL_TMP      an empty scratch directory, the script's working directory; removed when the
#               script passes, kept (and named) when it fails
#   JQ, MPIRUN  from configure (jq and mpirun in PATH otherwise)
#   OMPI_ALLOW_RUN_AS_ROOT*  so that Open MPI runs in containers that run as root
set -u

if [ $# -lt 1 ]; then
	echo "usage: $0 TEST-SCRIPT [ARGS...]" >&2
	exit 99
fi
script=$1
shift

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=.}"
abs_top_srcdir=$(cd "$top_srcdir" && pwd) || exit 99
abs_top_builddir=$(cd "$top_builddir" && pwd) || exit 99
abs_script=$(cd "$(dirname "$script")" && pwd)/$(basename "$script") || exit 99

name=$(basename "$script" .sh)
case $abs_script in
*/tests/mpi/*) name=mpi-$name ;;
*/tests/report/*) name=report-$name ;;
*/tests/slurm/*) name=slurm-$name ;;
*/tests/cluster/*) name=cluster-$name ;;
esac

TRAINLOAD=$abs_top_builddir/src/trainload
TRAINLOAD_REPORT=$abs_top_builddir/src/trainload-report
TL_SRCDIR=$abs_top_srcdir/tests
TL_TMP=$abs_top_builddir/tests/tmp/$name
: "${JQ:=}"
: "${MPIRUN:=}"
[ -n "$JQ" ] || JQ=$(command -v jq || true)
[ -n "$MPIRUN" ] || MPIRUN=$(command -v mpirun || true)
: "${TL_VERSION:=}"
: "${TL_BAD_JOBS:=}"

rm -rf "$TL_TMP" && mkdir -p "$TL_TMP" || exit 99

cmd="cd '$TL_TMP' && OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"
cmd="$cmd TRAINLOAD='$TRAINLOAD' TRAINLOAD_REPORT='$TRAINLOAD_REPORT' TL_SRCDIR='$TL_SRCDIR'"
cmd="$cmd TL_TMP='$TL_TMP' JQ='$JQ' MPIRUN='$MPIRUN' TL_VERSION='$TL_VERSION'"
# TL_BAD_JOBS (the list of bad job files in tests/local.mk) is left out of the command to keep
# it short; without it, bad-jobs.sh runs every file in tests/data/bad.
cmd="$cmd ${SHELL:-/bin/sh} '$abs_script'"
for arg in "$@"; do
	cmd="$cmd '$arg'"
done
echo "# rerun by hand:"
echo "$cmd"
echo

OMPI_ALLOW_RUN_AS_ROOT=1
OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
export TRAINLOAD TRAINLOAD_REPORT TL_SRCDIR TL_TMP JQ MPIRUN TL_VERSION TL_BAD_JOBS

(cd "$TL_TMP" && exec ${SHELL:-/bin/sh} "$abs_script" "$@")
rc=$?
if [ $rc -eq 0 ]; then
	rm -rf "$TL_TMP"
	rmdir "$abs_top_builddir/tests/tmp" 2>/dev/null
else
	echo
	echo "# exit status $rc; scratch files kept in $TL_TMP"
fi
exit $rc
