# SPDX-License-Identifier: BSD-3-Clause
# Parsers of nccl-tests' output, written against nccl-tests' own (tests/data/nccl-tests/
# all_reduce_perf.txt) in the three ways scripts in the wild read it, so that tests/mpi/sweep.sh
# can hold trainload's sweeps to them. Each prints one line per table row: the size, the
# out-of-place busbw and the in-place busbw. Sourced after tests/lib.sh. POSIX sh.

# nccl_fixed FILE: by fixed field positions, as a script that indexes nccl-tests' fields does
# (awk '{print $8}'): size is field 1, busbw fields 8 and 12.
nccl_fixed() {
	awk '!/^#/ && NF { print $1, $8, $12 }' "$1"
}

# nccl_regex FILE: by a 13-field regular expression over each row (size count type redop root,
# then time algbw busbw #wrong twice), as parsers that match whole rows do.
nccl_regex() {
	sed -E -n 's/^ *([0-9]+) +[0-9]+ +[a-z0-9_]+ +[a-z]+ +-?[0-9]+ +[0-9.]+ +[0-9.]+ +([0-9.]+) +[^ ]+ +[0-9.]+ +[0-9.]+ +([0-9.]+) +[^ ]+ *$/\1 \2 \3/p' "$1"
}

# nccl_header FILE: by the names of the header's columns: the field under "size", and under the
# first and the second "busbw" (the header's "#" is not a column).
nccl_header() {
	awk '
		!cols && /^#/ && / size / && / busbw / {
			for (i = 2; i <= NF; i++) {
				if ($i == "size")
					s = i - 1
				if ($i == "busbw")
					b[++nb] = i - 1
			}
			cols = 1
			next
		}
		cols && !/^#/ && NF { print $s, $b[1], $b[2] }' "$1"
}

# nccl_avg FILE: the number of "# Avg bus bandwidth : X", which must be all there is after the
# colon (as parsers that convert the rest of the line take it); fails otherwise.
nccl_avg() {
	awk -F' : ' '/^# Avg bus bandwidth +: / {
		v = $2
		sub(/ +$/, "", v)
		if (v !~ /^[0-9]+(\.[0-9]*)?([eE][-+]?[0-9]+)?$/)
			exit 1
		print v
	}' "$1"
}

# nccl_oob FILE: "N OK" or "N FAILED" of "# Out of bounds values : N OK".
nccl_oob() {
	sed -E -n 's/^# Out of bounds values : ([0-9]+) (OK|FAILED)$/\1 \2/p' "$1"
}
