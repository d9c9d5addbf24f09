#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration (issue 17): a full disk loses nothing silently. The output goes to a small tmpfs
# that the test mounts (root only: skipped otherwise) and fills, leaving a few pages free:
#   - the JSONL fills mid-run: the run stops at once (exit 1) naming the file and the error,
#     long before its 100000 steps; the JSONL holds whole lines only (the header, then the
#     steps from 0), and no temporary file is left; alone and on 2 ranks;
#   - the JSONL fits but the document does not: exit 1 naming the document, no FILE.json.tmp
#     left, the JSONL whole.
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
need_jq

if [ "$(id -u)" -ne 0 ]; then
	echo "skip: mounting a tmpfs needs root"
	exit 77
fi
disk=$(mktemp -d "${TMPDIR:-/tmp}/tl-disk-full.XXXXXX") || fail "mktemp"
if ! mount -t tmpfs -o size=1m,mode=0755 tmpfs "$disk" 2>mount.err; then
	rmdir "$disk"
	echo "skip: cannot mount a tmpfs: $(cat mount.err)"
	exit 77
fi
# unmounted on every way out
trap 'umount "$disk" 2>/dev/null; rmdir "$disk" 2>/dev/null' EXIT
trap 'exit 1' INT TERM HUP

job=$TL_SRCDIR/data/good/tiny.job

# fill_leaving PAGES: a filler file takes all of the tmpfs but PAGES pages.
fill_leaving() {
	rm -f "$disk"/*
	set -- "$1" "$(stat -f -c %S "$disk")"
	avail=$(stat -f -c %a "$disk")
	head -c $(((avail - $1) * $2)) /dev/zero >"$disk/filler" || fail "cannot fill $disk"
	echo "$disk: $(stat -f -c %a "$disk") pages of $2 bytes free"
}

# whole_lines FILE: every line is whole JSON: the header, then the steps from 0.
whole_lines() {
	"$JQ" -e -s '(.[0] | has("job")) and ([.[1:][].step] == [range(0; length - 1)])' "$1" \
		>/dev/null || { tail -c 600 "$1"; fail "$1 is not whole lines of the header and steps"; }
}

# no_temporary: nothing but the filler and the outputs named.
no_temporary() {
	ls -A "$disk" >files.list
	[ "$(cat files.list)" = "$(printf '%s\n' "$@" | sort)" ] || { cat files.list; fail "files left in $disk"; }
}

# --- the JSONL fills: the run stops at once --------------------------------------------------
for n in 0 2; do
	fill_leaving 2 # the header (some 2 kB) and a few steps of 270 bytes each
	run_trainload full$n "$n" --quiet --set run.steps=100000 --output "$disk/r.json" "$job"
	expect_rc full$n 1
	expect_in full$n.err "trainload: cannot write $disk/r.jsonl: No space left on device (it keeps the "
	expect_in full$n.err "bytes of whole lines written before)"
	whole_lines "$disk/r.jsonl"
	steps=$(($(wc -l <"$disk/r.jsonl") - 1))
	[ "$steps" -ge 1 ] && [ "$steps" -lt 100 ] || fail "full$n: $steps steps in the JSONL"
	no_temporary filler r.jsonl
	echo "ok: full$n: stopped after $steps steps, the JSONL whole"
done

# --- the document does not fit ---------------------------------------------------------------
fill_leaving 1 # the JSONL of 3 steps (under 3 kB), not the document (some 6 kB)
run_trainload doc 0 --quiet --set run.steps=3 --output "$disk/d.json" "$job"
expect_rc doc 1
expect_in doc.err "trainload: cannot write $disk/d.json: No space left on device"
whole_lines "$disk/d.jsonl"
[ "$(wc -l <"$disk/d.jsonl")" -eq 4 ] || fail "doc: d.jsonl does not hold the header and 3 steps"
no_temporary filler d.jsonl
echo "ok: doc: the document refused by the disk, no temporary file, the JSONL whole"
