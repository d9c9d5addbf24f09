#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
#
# Generates the per-key part of the bad-input matrix from the option table, as `trainload
# --help-job` prints it: for every key of every section, a job file for each way its value can
# be wrong (wrong type, negative, below and above its range, zero where its range starts at 1,
# past 64 bits, multiplied past 64 bits by a suffix, a fraction, an exponent or hexadecimal where
# a count goes, hexadecimal where a number goes, empty, set twice), each with the exact
# message it must give, naming its line and key. Sourced by tests/bad-jobs.sh, which writes
# the files into generated/keys/ and runs them:
#   KEY-CASE.job            one key, one case: run alone (no MPI: it is all parsing)
#   SECTION-CASE.job        every key of a section in that case at once: run at 2 ranks, and
#                           every message must be there (errors are all collected, gcc-style)
# Uses: TRAINLOAD, fail (tests/lib.sh).

# One line per key: SECTION KEY KIND LO HI DEFAULT ENUM (KIND: uint, number, bool, enum,
# string; "-" for what does not apply; ENUM comma-separated).
"$TRAINLOAD" --help-job | awk '
/^\[[a-z]+\]$/ { section = substr($0, 2, length($0) - 2); next }
/^  [a-z_]+ / {
	key = $1; type = $2; def = $0
	sub(/.*\(default /, "", def); sub(/\)$/, "", def)
	lo = "-"; hi = "-"; list = "-"
	if (type == "integer" || type == "number") {
		split($3, r, "\\.\\."); lo = r[1]; hi = r[2]
		kind = type == "integer" ? "uint" : "number"
	} else if (type == "yes|no") {
		kind = "bool"
	} else if (type == "string") {
		kind = "string"
	} else {
		kind = "enum"; list = type; gsub(/\|/, ", ", list)
	}
	print section, key, kind, lo, hi, def, list
}' >keys.list
[ "$(wc -l <keys.list)" -ge 40 ] || fail "trainload --help-job lists $(wc -l <keys.list) keys"

mkdir -p generated/keys
long=$(printf '%0150d' 0 | tr 0 x)
# case VALUE MESSAGE (for the key in $section, $key): one case, added to both files.
add_case() {
	ac_case=$1
	ac_value=$2
	ac_msg=$3
	ac_one=generated/keys/$section-$key-$ac_case.job
	printf '[%s]\n%s = %s\n# ranks: 0\n# expect: %s:2: %s\n' "$section" "$key" "$ac_value" \
		"$ac_one" "$ac_msg" >"$ac_one"
	ac_all=generated/keys/$section-all-$ac_case
	[ -f "$ac_all.body" ] || printf '[%s]\n' "$section" >"$ac_all.body"
	printf '%s = %s\n' "$key" "$ac_value" >>"$ac_all.body"
	printf '# expect: %s.job:%d: %s\n' "$ac_all" "$(wc -l <"$ac_all.body")" "$ac_msg" \
		>>"$ac_all.expect"
}

while read -r section key kind lo hi def list; do
	where="for key '$key' in [$section]"
	in_key="key '$key' in [$section]"
	case $kind in
	uint)
		add_case type x "bad value 'x' $where: expected an unsigned integer"
		add_case fraction 2.5 "bad value '2.5' $where: expected a whole number: a fraction or an exponent is not accepted"
		add_case exponent 1e3 "bad value '1e3' $where: expected a whole number: a fraction or an exponent is not accepted"
		add_case hex 0x10 "bad value '0x10' $where: hexadecimal is not accepted: write the number in decimal"
		add_case negative -1 "bad value '-1' $where: negative values are not allowed"
		add_case digits 18446744073709551616 \
			"bad value '18446744073709551616' $where: does not fit in 64 bits"
		add_case suffix 20000000T "bad value '20000000T' $where: does not fit in 64 bits"
		add_case above $((hi + 1)) "$in_key is $((hi + 1)), outside its range $lo..$hi"
		if [ "$lo" -ge 1 ]; then
			add_case zero 0 "$in_key is 0, outside its range $lo..$hi"
		fi
		;;
	number)
		add_case type fast "bad value 'fast' $where: expected a number"
		add_case hex 0x10 "bad value '0x10' $where: expected a decimal number (hexadecimal is not accepted)"
		add_case negative -1 "$in_key is -1, outside its range $lo..$hi"
		add_case above $((hi + 1)) "$in_key is $((hi + 1)), outside its range $lo..$hi"
		;;
	bool)
		add_case type maybe "bad value 'maybe' $where: expected yes or no"
		;;
	enum)
		add_case type nosuch "bad value 'nosuch' $where: expected one of $list"
		;;
	string)
		add_case long "$long" "value of $in_key is longer than"
		;;
	esac
	add_case empty "" "empty value $where"
	# Set twice: the second line is the error.
	dup=generated/keys/$section-$key-duplicate.job
	printf '[%s]\n%s = %s\n%s = %s\n# ranks: 0\n# expect: %s:3: duplicate %s (first set at line 2)\n' \
		"$section" "$key" "$def" "$key" "$def" "$dup" "$in_key" >"$dup"
	# A key of this section misspelt: an unknown key, named with its section.
	typo=generated/keys/$section-$key-typo.job
	printf '[%s]\n%sx = 1\n# ranks: 0\n# expect: %s:2: unknown key %s in [%s]\n' \
		"$section" "$key" "$typo" "'${key}x'" "$section" >"$typo"
done <keys.list

for body in generated/keys/*.body; do
	all=${body%.body}
	{ cat "$body"; echo "# ranks: 2"; cat "$all.expect"; } >"$all.job"
	rm -f "$body" "$all.expect"
done
