#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Regenerates this folder: the cpu-small job at 1, 2 and 4 ranks (2 ranks twice, a repeat the
# report aggregates) and an allreduce sweep on 2 ranks (results/), then the report (report.md)
# and its pictures (plots/, SVG and PNG) that docs/guide.md shows. Run from the top of a built
# source tree:  sh docs/example-report/make.sh
# As root, Open MPI needs OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1.
set -eu
out=docs/example-report
rm -rf "$out/results" "$out/plots"
mkdir -p "$out/results"
for run in 1 2 2-repeat 4; do
	n=${run%%-*}
	# 4 ranks on a 2-core machine share cores: --oversubscribe, and it shows in the curve
	mpirun --oversubscribe -np "$n" src/trainload --quiet \
		--output "$out/results/cpu-small-$run.json" jobs/cpu-small.job
done
mpirun -np 2 src/trainload sweep --quiet --set sweep.min_bytes=1Ki --set sweep.max_bytes=64Mi \
	--output "$out/results/allreduce-sweep-2.json"
src/trainload-report --output "$out/report.md" --plot "$out/plots" "$out/results"
