# shellcheck shell=bash
# SPDX-License-Identifier: BSD-3-Clause
# What the MPI benchmark scripts share; sourced by bash after `set -euo pipefail`: top (the
# build tree), tmp (a scratch folder removed on exit), mpirun (2 ranks, oversubscribed), keep
# (mpirun's options that set glibc's allocator as trainload sets it for itself: nothing freed is
# given back to the kernel, so that a collective's per-call scratch buffer is not mapped and
# faulted afresh each call; the plain loop runs with them, so that both measure MPI, not
# glibc's history: bench/reduce-scatter.sh shows that part), and median (of the numbers on
# standard input, one a line).
# shellcheck disable=SC2034 # used by the scripts that source this
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# shellcheck disable=SC2034 # used by the scripts that source this
mpirun=(mpirun --oversubscribe -np 2)
# shellcheck disable=SC2034 # used by the scripts that source this
keep=(-x MALLOC_MMAP_MAX_=0 -x MALLOC_TRIM_THRESHOLD_=2147483647)
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }
