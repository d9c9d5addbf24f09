#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# What a fault costs a run's result (docs/RELIABILITY.md):
#   1. SIGTERM and SIGINT to the launcher (or to trainload alone) while a step is under way that
#      takes STEP_S seconds or more: the time from the signal to the document on disk, to the
#      launcher's exit, and how many steps the document holds of those finished;
#   2. the same with many steps held (a document of STEPS_HELD steps written at once);
#   3. a full disk (a tmpfs of 1 MiB the script mounts; root only): the steps run before the
#      JSONL's write failed, and the time from that failure to the exit.
# Usage: bench/interrupt.sh [TRAINLOAD [LAUNCHER...]]
#   TRAINLOAD  the trainload program (default: src/trainload beside this script)
#   LAUNCHER   mpirun-like launchers to time, each as "PROGRAM" (default: mpirun, and
#              mpirun.mpich when it is there: run it with a trainload built for that MPI, e.g.
#              bench/interrupt.sh build-mpich/src/trainload mpirun.mpich)
# Each case runs ROUNDS times (default 3) and prints each round. Needs jq.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$top/src/trainload}
shift || true
launchers=("$@")
if [ ${#launchers[@]} -eq 0 ]; then
	launchers=(mpirun)
fi
rounds=${ROUNDS:-3}
job=$top/tests/data/good/tiny.job
tmp=$(mktemp -d)
disk=
cleanup() {
	[ -z "$disk" ] || { umount "$disk" 2>/dev/null; rmdir "$disk"; }
	rm -rf "$tmp"
}
trap cleanup EXIT
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

now() { date +%s.%N; }
lines() { cat "$1" 2>/dev/null | wc -l; }

# interrupt LABEL SIG WAIT_LINES CMD...: start CMD (its --output is $tmp/r.json), wait until the
# JSONL has WAIT_LINES lines and 0.5 s more, send SIG to it, and print the times.
interrupt() {
	local label=$1 sig=$2 want=$3
	shift 3
	rm -f "$tmp"/r.json*
	"$@" --output "$tmp/r.json" >"$tmp/out" 2>&1 &
	local pid=$! t0 doc= n=0
	while [ "$(lines "$tmp/r.jsonl")" -lt "$want" ]; do sleep 0.01; done
	sleep 0.5
	local held=$(($(lines "$tmp/r.jsonl") - 1))
	t0=$(now)
	kill "-$sig" "$pid"
	while kill -0 "$pid" 2>/dev/null; do
		if [ -z "$doc" ] && [ -e "$tmp/r.json" ]; then doc=$(now); fi
		sleep 0.005
		n=$((n + 1))
		# a launcher that waits for its ranks (Hydra), behind a step that never ends: a
		# second signal after 5 s
		[ "$n" -ne 1000 ] || kill "-$sig" "$pid" 2>/dev/null || true
	done
	wait "$pid" || true
	[ -n "$doc" ] || { [ -e "$tmp/r.json" ] && doc=$(now); } || true
	local end=$(now)
	printf '  %-34s %-4s %6d %10s %9.3f %9s\n' "$label" "$sig" "$held" \
		"$([ -n "$doc" ] && awk "BEGIN{printf \"%.3f\", $doc - $t0}" || echo none)" \
		"$(awk "BEGIN{print $end - $t0}")" \
		"$([ -e "$tmp/r.json" ] && jq -r '"\(.summary.steps_measured) \(.interrupted_by.signal // "end")"' "$tmp/r.json" | tr ' ' / || echo -)"
}

echo "# trainload interruption and full-disk costs: $("$bin" --version), $(nproc) cores, $(uname -n), $(date -u +%F)"
echo "# load: $(uptime | sed 's/.*load average/load average/')"
echo "## 1. a signal during a step that never ends (rank 1 stalled at step 3 by TRAINLOAD_TEST_STALL)"
echo "#  case                               sig  held  doc_after_s  exit_s  doc_steps/by"
for launcher in "${launchers[@]}"; do
	extra=()
	case $("$launcher" --version 2>&1) in *"Open MPI"*) extra=(--oversubscribe) ;; esac
	for sig in TERM INT; do
		for _ in $(seq "$rounds"); do
			TRAINLOAD_TEST_STALL=1:3 interrupt "$launcher -np 2" "$sig" 3 \
				"$launcher" "${extra[@]}" -np 2 "$bin" --quiet --set run.steps=100000 \
				--set run.warmup=1 --peak-tflops 1 "$job"
		done
	done
done
for sig in TERM INT; do
	for _ in $(seq "$rounds"); do
		TRAINLOAD_TEST_STALL=0:3 interrupt "alone" "$sig" 3 \
			"$bin" --quiet --set run.steps=100000 --set run.warmup=1 --peak-tflops 1 "$job"
	done
done

held=${STEPS_HELD:-10000}
echo "## 2. SIGTERM with $held steps held (alone, tiny.job: the document holds them all)"
for _ in $(seq "$rounds"); do
	interrupt "alone, $held steps" TERM $((held + 1)) \
		"$bin" --quiet --set run.steps=1000000 --set run.warmup=0 --set run.backend=null "$job"
done

echo "## 3. a full disk: the output on a tmpfs of 1 MiB with 2 pages free"
if [ "$(id -u)" -ne 0 ]; then
	echo "  skipped: mounting a tmpfs needs root"
	exit 0
fi
disk=$(mktemp -d)
mount -t tmpfs -o size=1m tmpfs "$disk"
echo "#  case             exit  steps_in_jsonl  jsonl_bytes  exit_after_failure_s"
for launcher in "" "${launchers[@]}"; do
	for _ in $(seq "$rounds"); do
		rm -f "$disk"/*
		bs=$(stat -f -c %S "$disk")
		head -c $((($(stat -f -c %a "$disk") - 2) * bs)) /dev/zero >"$disk/filler"
		cmd=("$bin")
		if [ -n "$launcher" ]; then
			extra=()
			case $("$launcher" --version 2>&1) in *"Open MPI"*) extra=(--oversubscribe) ;; esac
			cmd=("$launcher" "${extra[@]}" -np 2 "$bin")
		fi
		rc=0
		"${cmd[@]}" --quiet --set run.steps=100000 --output "$disk/r.json" "$job" \
			>"$tmp/out" 2>&1 || rc=$?
		end=$(now)
		mtime=$(stat -c %.9Y "$disk/r.jsonl") # the failed write taken back
		printf '  %-16s %4d %15d %12d %18.3f\n' "${launcher:-alone}" "$rc" \
			$(($(lines "$disk/r.jsonl") - 1)) "$(stat -c %s "$disk/r.jsonl")" \
			"$(awk "BEGIN{print $end - $mtime}")"
	done
done
