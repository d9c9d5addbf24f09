#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Every fuzz target of fuzz/targets, built with the ordinary compiler as tests/fuzz/replay-TARGET
# (tests/fuzz-replay.c), runs every crasher kept in fuzz/regress/TARGET and every file of its
# seed corpus once: none may crash (or, under --enable-sanitizers, trip ASan or UBSan).
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"

top=$TL_SRCDIR/..
bin=$(dirname "$TRAINLOAD")/../tests/fuzz
grep -v '^#' "$top/fuzz/targets" | while read -r target sources corpus; do
	[ -n "$target" ] || continue
	[ -x "$bin/replay-$target" ] || fail "$bin/replay-$target not built (tests/local.mk)"
	: >"$target.files"
	for path in $corpus; do
		[ -e "$top/$path" ] || fail "fuzz/targets: $target: no $path"
		find "$top/$path" -type f ! -name '*.log' >>"$target.files"
	done
	n=$(wc -l <"$target.files")
	[ "$n" -ge 10 ] || fail "$target: only $n corpus files"
	# shellcheck disable=SC2046
	run "$target" "$bin/replay-$target" $(cat "$target.files")
	expect_rc "$target" 0
	expect_in "$target.out" "$n inputs replayed"
	echo "ok: $target: $n inputs ($sources)"
done
