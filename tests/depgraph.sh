#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# The include/call graph of trainload's modules has no circle (STYLE.md: leaf utilities at the
# bottom, no include or call circles).
#
# A module is a header (include/trainload/X.h, src/X.h, src/backends/Y.h) and the sources that
# define what it declares; a source whose functions no header declares belongs to the header
# its name starts with (src/job_resolve.c: job), and a program's main (src/*main.c) is a module
# of its own. An edge A -> B is drawn when a file of A includes B's header, and when an object
# of A calls a function (or uses a variable) that an object of B defines, as nm reads the built
# objects, so that calls through macros and across files are all seen. tsort then finds any
# circle, and its modules are named. Calls through function pointers (the backend ops table)
# are no edges: that is what the table is for.
# Runs through tests/run-test.sh, after the build (make check builds first).
. "$TL_SRCDIR/lib.sh"

top=$(cd "$TL_SRCDIR/.." && pwd)
build=$(cd "$(dirname "$TRAINLOAD")/.." && pwd)
cd "$top" || exit 1

# The headers, as "path module": trainload/X.h -> X, backends/Y.h -> backends/Y, src/Z.h -> Z.
for h in include/trainload/*.h src/*.h src/backends/*.h; do
	case $h in
	src/backends/*) echo "$h backends/$(basename "$h" .h)" ;;
	*) echo "$h $(basename "$h" .h)" ;;
	esac
done >"$TL_TMP/headers"

# What each header declares: the functions it names before a parenthesis, and its externs.
while read -r h mod; do
	sed -e 's|/\*.*\*/||g' "$h" | grep -v '^ *\*' |
		sed -n -e 's/.*\b\(tl_[a-z0-9_]*\) *(.*/\1/p' -e 's/^extern .*\b\(tl_[a-z0-9_]*\)\( *\[.*\]\)* *;.*/\1/p' |
		awk -v m="$mod" '{ print $1, m }'
done <"$TL_TMP/headers" | sort -u >"$TL_TMP/declared"

# The module a source's name says (the longest header name it starts with, in its folder).
by_name() {
	bn_dir=
	case $1 in src/backends/*) bn_dir=backends/ ;; esac
	bn_stem=$(basename "$1")
	bn_stem=${bn_stem%.*}
	case $bn_stem in
	*main)
		echo "$bn_stem"
		return
		;;
	esac
	awk -v dir="$bn_dir" -v stem="$bn_stem" '
		{ m = $2; if (dir != "" && index(m, dir) != 1) next
		  s = dir == "" ? m : substr(m, length(dir) + 1)
		  if (dir == "" && index(s, "/")) next
		  if ((stem == s || index(stem, s "_") == 1) && length(s) > best) { best = length(s); mod = m } }
		END { print (mod != "" ? mod : dir stem) }' "$TL_TMP/headers"
}

# Objects of the build whose source still exists, as "object source".
(cd "$build" && find src -name '*.o' ! -path '*/.libs/*') | sort | while read -r o; do
	stem=$(basename "$o" .o)
	stem=${stem#*-} # libtlcore_la-job.o is src/job.c's
	for ext in c cu; do
		[ -e "$(dirname "$o")/$stem.$ext" ] && echo "$o $(dirname "$o")/$stem.$ext"
	done
done >"$TL_TMP/objects"
[ -s "$TL_TMP/objects" ] || fail "no objects under $build/src: build first"

# Each source's module: the header of its folder (src/backends/ for the backends, include/ and
# src/ for the rest) that declares most of what it defines (ties: its name's).
: >"$TL_TMP/defs"
: >"$TL_TMP/modules"
while read -r o src; do
	nm -g --defined-only "$build/$o" | awk 'NF == 3 { print $3 }' >"$TL_TMP/syms"
	named=$(by_name "$src")
	case $src in src/backends/*) here=backends ;; *) here= ;; esac
	mod=$(awk -v named="$named" -v here="$here" '
		FNR == NR {
			inside = here == "" ? index($2, "/") == 0 : index($2, here "/") == 1
			if (inside)
				decl[$1] = decl[$1] " " $2
			next
		}
		$1 in decl { n = split(decl[$1], ms, " "); for (i = 1; i <= n; i++) count[ms[i]]++ }
		END {
			best = named; top = count[named] + 0
			for (m in count) if (count[m] > top) { top = count[m]; best = m }
			print best
		}' "$TL_TMP/declared" "$TL_TMP/syms")
	echo "$src $mod" >>"$TL_TMP/modules"
	awk -v m="$mod" '{ print $1, m }' "$TL_TMP/syms" >>"$TL_TMP/defs"
done <"$TL_TMP/objects"
# Sources this build did not compile (the cuda backend without CUDA): by name.
for f in src/*.c src/backends/*.c src/backends/*.cu; do
	grep -q "^$f " "$TL_TMP/modules" || echo "$f $(by_name "$f")" >>"$TL_TMP/modules"
done

edges=$TL_TMP/edges
: >"$edges"
# Include edges, from every header and source.
cat "$TL_TMP/headers" "$TL_TMP/modules" | while read -r f from; do
	sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f" | while read -r inc; do
		case $inc in
		config.h) ;;
		trainload/*) to=${inc#trainload/}; echo "$from ${to%.h}" ;;
		*) echo "$from ${inc%.h}" ;;
		esac
	done
done >>"$edges"
# Call edges, from the objects.
while read -r o src; do
	mod=$(awk -v s="$src" '$1 == s { print $2 }' "$TL_TMP/modules")
	nm -u "$build/$o" | awk '{ print $NF }' >"$TL_TMP/undef"
	awk -v m="$mod" 'FNR == NR { need[$1] = 1; next } ($1 in need) { print m, $2 }' \
		"$TL_TMP/undef" "$TL_TMP/defs"
done <"$TL_TMP/objects" >>"$edges"

# Self-edges say nothing; tsort reports any circle among the rest.
awk '$1 != $2' "$edges" | sort -u >"$edges.sorted"
n=$(wc -l <"$edges.sorted")
[ "$n" -gt 40 ] || fail "only $n edges found: the graph was not read"
if ! tsort "$edges.sorted" >/dev/null 2>"$TL_TMP/loops"; then
	cat "$TL_TMP/loops"
	fail "the include/call graph has a circle (modules above; edges in $edges.sorted)"
fi
echo "ok: $n edges between $(tr ' ' '\n' <"$edges.sorted" | sort -u | wc -l) modules, no circle"
