#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Build a libFuzzer target (fuzz/targets) with clang, ASan and UBSan, and fuzz it.
#
#   fuzz/run.sh TARGET SECONDS      fuzz for SECONDS; new crashers land in fuzz/regress/TARGET
#   fuzz/run.sh TARGET replay       run every file of the corpus once (no fuzzing)
#
# Needs a configured tree (./configure has written config.h, in the source tree or in
# $BUILDDIR) and the packages of fuzz/packages.debian. The build and the growing corpus live in
# fuzz/work/TARGET (not tracked). Set CC to another clang with libFuzzer if clang-14 is not it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
target=${1:?usage: fuzz/run.sh TARGET SECONDS|replay}
how=${2:?usage: fuzz/run.sh TARGET SECONDS|replay}
builddir=${BUILDDIR:-$top}
cc=${CC:-clang-14}
line=$(grep -E "^$target[[:space:]]" "$top/fuzz/targets") ||
	{ echo "fuzz/run.sh: no target '$target' in fuzz/targets" >&2; exit 2; }
read -r _ vars corpus <<<"$line"
[ -f "$builddir/config.h" ] ||
	{ echo "fuzz/run.sh: no config.h in $builddir: run ./configure (or set BUILDDIR)" >&2; exit 2; }

# The sources Makefile.am lists in those variables (continuation lines joined).
srcs=
for var in ${vars//,/ }; do
	srcs="$srcs $(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$top/Makefile.am" |
		sed -n "s/^$var *= *//p" | tr -s ' \t' '\n' | grep '\.c$')"
done
[ -n "${srcs// /}" ] || { echo "fuzz/run.sh: no sources in Makefile.am's $vars" >&2; exit 2; }
work=$top/fuzz/work/$target
mkdir -p "$work/corpus" "$top/fuzz/regress/$target"
# shellcheck disable=SC2046,SC2086
"$cc" -g -O1 -std=gnu11 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I"$builddir" -I"$top/include" -I"$top/src" $(pkg-config --cflags inih jansson) \
	-o "$work/fuzz-$target" "$top/fuzz/$target.c" $(printf "$top/%s " $srcs) \
	$(pkg-config --libs inih jansson) -lm

# Seeds: every file under the corpus paths (copied, so that fuzzing never writes to them).
for path in $corpus; do
	find "$top/$path" -type f ! -name '*.log' -exec cp -t "$work/corpus" {} + 2>/dev/null || true
done
cd "$work"
if [ "$how" = replay ]; then
	exec ./"fuzz-$target" -runs=0 corpus
fi
# -max_len: the largest seed, and at least 4096 (job files are short, result documents are
# not); longer inputs only slow the search down. Crashers (crash-*, leak-*, timeout-*) are
# written to the regression folder, which make check replays.
max_len=$(find corpus -type f -printf '%s\n' | sort -n | tail -n 1)
[ "${max_len:-0}" -ge 4096 ] || max_len=4096
exec ./"fuzz-$target" -max_total_time="$how" -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$top/fuzz/regress/$target/" corpus
