#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# trainload doctor's own time on the virtual cluster (tests/cluster/lib-cluster.sh): N = 2, 4, 8
# nodes x 1 rank, 1 Gbit links, tests/data/good/tiny.job, a full run and a --quick one at each
# N, ROUNDS times each; prints the wall time of the launch (mpirun to exit), doctor's own
# elapsed_s (MPI_Init to the verdict), its link rounds, and uptime before each N. docs/doctor.md
# holds the figures and the model they feed.
#
#   bench/doctor.sh [ROUNDS] [LINKS]   (root; jq; default 1 round, links auto)
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-1}
links=${2:-auto}
TL_SRCDIR=$top/tests
TRAINLOAD=$top/src/trainload
MPIRUN=$(command -v mpirun)
JQ=$(command -v jq)
OMPI_ALLOW_RUN_AS_ROOT=1
OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
TL_TIMEOUT=600
export TL_TIMEOUT TL_SRCDIR TRAINLOAD MPIRUN JQ OMPI_ALLOW_RUN_AS_ROOT OMPI_ALLOW_RUN_AS_ROOT_CONFIRM
. "$TL_SRCDIR/lib.sh"
. "$TL_SRCDIR/cluster/lib-cluster.sh"
work=$(mktemp -d)
cd "$work" || exit 1

echo "nodes mode wall_s elapsed_s link_rounds links"
for n in 2 4 8; do
	echo "# uptime: $(uptime)"
	cluster_up "$n" 1gbit >/dev/null
	i=0
	while [ $i -lt "$rounds" ]; do
		for mode in full quick; do
			q=
			[ $mode = full ] || q=--quick
			t0=$(date +%s.%N)
			# shellcheck disable=SC2086
			cluster_mpirun "d$n$mode" "$n" ppr:1:node "$TRAINLOAD" doctor \
				"$TL_SRCDIR/data/good/tiny.job" $q --links "$links" -q -o "d$n$mode.json" >/dev/null
			t1=$(date +%s.%N)
			[ "$RC" -le 1 ] || { cat "d$n$mode.err"; exit 1; }
			"$JQ" -r --arg n "$n" --arg m "$mode" --arg w "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" \
				'[$n, $m, ($w | tonumber * 100 | round / 100), (.elapsed_s * 100 | round / 100),
				  ([.links[].round] | max + 1 // 0), (.links | length)] | @tsv' "d$n$mode.json"
		done
		i=$((i + 1))
	done
	cluster_down
done
rm -rf "$work"
