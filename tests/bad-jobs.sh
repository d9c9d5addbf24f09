#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Every bad job file must make trainload exit 2 with a message that names its line, on every
# rank count, before any rank does work. Runs through tests/run-test.sh.
#
# A file in tests/data/bad begins with one or more lines
#     # expect: <substring of the message on stderr>
# and, optionally,
#     # ranks: 2 4
# (the rank counts it is run at; default "1 2 4"; 1 means both alone, without mpirun, and under
# `mpirun -np 1`; 0 alone only). Each run must: exit with status 2; have every expected substring on stderr,
# the first one exactly once (only rank 0 prints); print nothing on stdout.
#
# Files that git holds awkwardly (a NUL byte, CRLF line ends, a huge line) are written here
# instead, and so is the per-key part of the matrix (tests/bad-keys.sh, from the option table).
# Paths that are no job file at all (empty, a directory, missing, a FIFO, /dev/zero) are checked
# alone and at 2 ranks with their message.
#
# Under mpirun, errors found before MPI starts are still printed by rank 0 alone, and every rank
# exits 2 together (run_bad, tests/lib.sh, takes no retry).
. "$TL_SRCDIR/lib.sh"

datadir=$TL_SRCDIR/data/bad

# Every file in the directory must be listed in tests/local.mk, or `make distcheck` would
# neither ship nor run it.
if [ -n "${TL_BAD_JOBS:-}" ]; then
	for f in "$datadir"/*.job; do
		case " $TL_BAD_JOBS " in
		*" tests/data/bad/$(basename "$f") "*) ;;
		*) fail "$f is not listed in TL_BAD_JOBS in tests/local.mk" ;;
		esac
	done
	set -- $TL_BAD_JOBS
	files=
	for f in "$@"; do
		files="$files $TL_SRCDIR/${f#tests/}"
	done
else
	files=$(ls "$datadir"/*.job)
fi

# Generated cases.
mkdir -p generated
printf '# expect: :4: binary data (byte 0x00): not a job file\n[run]\nsteps = 2\nab\000cd\nwarmup = 1\n' \
	>generated/binary-nul.job
printf '# expect: :2: binary data (byte 0x01): not a job file\n\001\002\003\004\n' \
	>generated/binary-control.job
printf '# expect: :4: bad value %s for key %s in [run]: expected an unsigned integer\r\n[run]\r\nsteps = 2\r\nwarmup = x\r\n' \
	"'x'" "'warmup'" >generated/crlf-error.job
# A UTF-8 byte-order mark before the first section: its keys still count (and are checked).
printf '\357\273\277[run]\nstepz = 3\n# expect: :2: unknown key %s in [run] (did you mean %s?)\n' \
	"'stepz'" "'steps'" >generated/bom.job
# A huge line: a megabyte without a line end is refused, not read into memory.
{
	printf '[run]\nsteps = '
	head -c 1000000 /dev/zero | tr '\0' 7
	printf '\n# expect: :2: line too long (1000008 characters, at most 198)\n'
} >generated/huge-line.job
files="$files $TL_TMP/generated/binary-nul.job $TL_TMP/generated/binary-control.job"
files="$files $TL_TMP/generated/crlf-error.job $TL_TMP/generated/bom.job"
files="$files $TL_TMP/generated/huge-line.job"
. "$TL_SRCDIR/bad-keys.sh"
files="$files $(ls "$TL_TMP"/generated/keys/*.job)"

cr=$(printf '\r')

# check_run LABEL FILE RANKS: one run of FILE at RANKS (0: without mpirun) and its checks.
check_run() {
	cr_label=$1
	cr_file=$2
	sed -n 's/^# expect: //p' "$cr_file" | tr -d '\r' >"$cr_label.expect"
	[ -s "$cr_label.expect" ] || fail "$cr_file has no '# expect:' line"
	run_bad "$cr_label" "$3" "$(head -n 1 "$cr_label.expect")" "$cr_file"
	while IFS= read -r cr_want; do
		expect_in "$cr_label.err" "$cr_want"
	done <"$cr_label.expect"
	if grep -q "$cr" "$cr_label.err"; then
		show "$cr_label"
		fail "$cr_label: a carriage return in the message"
	fi
	echo "ok: $cr_label"
}

# check_file FILE: every run of one file.
check_file() {
	cf_file=$1
	[ -f "$cf_file" ] || fail "$cf_file: no such file"
	cf_base=$(basename "$cf_file" .job)
	cf_ranks=$(sed -n 's/^# ranks: //p' "$cf_file" | tr -d '\r' | head -n 1)
	[ -n "$cf_ranks" ] || cf_ranks="1 2 4"
	echo "== $cf_base (ranks: $cf_ranks)"
	for cf_n in $cf_ranks; do
		if [ "$cf_n" -le 1 ]; then
			check_run "$cf_base.alone" "$cf_file" 0
		fi
		if [ "$cf_n" -ge 1 ]; then
			check_run "$cf_base.np$cf_n" "$cf_file" "$cf_n"
		fi
	done
}

# check_path LABEL PATH MESSAGE: a path that holds no job file, alone and at 2 ranks.
check_path() {
	for cp_n in 0 2; do
		run_bad "$1.np$cp_n" "$cp_n" "$2: $3" "$2"
		echo "ok: $1.np$cp_n"
	done
}
: >generated/empty.job
check_path empty "$TL_TMP/generated/empty.job" \
	"empty job file (a job file needs at least one key = value line)" >paths.log 2>&1 ||
	echo empty >>failed.list
check_path directory "$TL_TMP/generated" "is a directory, not a job file" >>paths.log 2>&1 ||
	echo directory >>failed.list
check_path missing "$TL_TMP/generated/missing.job" \
	"cannot open job file: No such file or directory" >>paths.log 2>&1 ||
	echo missing >>failed.list
# A FIFO (no writer: opening it to read would wait for ever) and /dev/zero (an endless line).
mkfifo generated/fifo.job
check_path fifo "$TL_TMP/generated/fifo.job" "is a FIFO, not a job file" >>paths.log 2>&1 ||
	echo fifo >>failed.list
check_path zero /dev/zero "is a character device, not a job file" >>paths.log 2>&1 ||
	echo zero >>failed.list

# Open MPI takes a second or two to end a job in which a rank exited non-zero, mostly waiting:
# the files are checked by TL_PARALLEL workers at once (default 8), each file's output in
# FILE.log, printed in order at the end.
: "${TL_PARALLEL:=8}"
w=0
while [ "$w" -lt "$TL_PARALLEL" ]; do
	(
		k=0
		for file in $files; do
			if [ $((k % TL_PARALLEL)) -eq "$w" ]; then
				log=$(basename "$file" .job).log
				(check_file "$file") >"$log" 2>&1 || echo "$file" >>failed.list
			fi
			k=$((k + 1))
		done
	) &
	w=$((w + 1))
done
wait

cat paths.log
for file in $files; do
	cat "$(basename "$file" .job).log"
done
echo
checked=$(cat ./*.log | grep -c '^ok: ')
echo "$checked runs checked"
if [ -s failed.list ]; then
	fail "$(wc -l <failed.list) file(s) failed: $(tr '\n' ' ' <failed.list)"
fi
