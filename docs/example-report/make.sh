#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Regenerates this folder: the cpu-small job at 1, 2 and 4 ranks and an allreduce sweep on
# 2 ranks (results/), then the report (report.md) and its pictures (plots/) that README.md
# shows. Run from the top of a built source tree:  sh docs/example-report/make.sh
# As root, Open MPI needs OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1.
set -eu
out=docs/example-report
rm -rf "$out/results" "$out/plots"
mkdir -p "$out/results"
for n in 1 2 4; do
	# 4 ranks on a 2-core machine share cores: --oversubscribe, and it shows in the curve
	mpirun --oversubscribe -np "$n" src/trainload --quiet \
		--output "$out/results/cpu-small-$n.json" jobs/cpu-small.job
done
mpirun -np 2 src/trainload sweep --quiet --set sweep.min_bytes=1M --set sweep.max_bytes=64M \
	--output "$out/results/allreduce-sweep-2.json"
src/trainload-report --output "$out/report.md" --plot "$out/plots" "$out/results"
# keep the pictures and the data, not the PNG twins (the README shows the SVGs)
rm -f "$out"/plots/*.png
