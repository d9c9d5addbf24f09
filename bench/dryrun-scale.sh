#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Dry-run cost against world size: the plan of one rank must stay O(layers × microbatches),
# never O(world). For the two largest shipped jobs, from about 1,000 to about 1,000,000 ranks,
# with a fixed number of microbatches per data-parallel rank (weak scaling of the batch), it
# prints the wall time and peak RSS of `trainload --dry-run --json`, best of 3 runs.
# Target (issue 3): under 0.5 s and under 64 MiB at every size, flat in N.
#
#   bench/dryrun-scale.sh [path/to/trainload]      (needs GNU time: Debian package "time")
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${1:-$top/src/trainload}
[ -x /usr/bin/time ] || { echo "bench: needs /usr/bin/time (apt-get install time)" >&2; exit 1; }

# job, ranks per data-parallel replica (tp·pp), microbatches per step, data-parallel sizes
cases=("gpt3-175b 96 64 11 43 171 683 2731 10923" "megatron-1t 512 64 2 8 32 128 512 2048")
printf '# trainload dry-run scale: %s on %s\n' "$("$bin" --version)" "$(uname -n)"
printf '# %-12s %10s %8s %8s %10s %10s\n' job ranks dp ops wall_s peak_MiB
for c in "${cases[@]}"; do
	read -r job per accum dps <<<"$c"
	for dp in $dps; do
		ranks=$((per * dp))
		best_s="" best_kb=""
		for _ in 1 2 3; do
			out=$(/usr/bin/time -f '%e %M' "$bin" --dry-run --json --ranks "$ranks" \
				--ranks-per-node 8 --rank $((ranks - 1)) \
				--set parallel.global_batch=auto --set parallel.grad_accum="$accum" \
				"$top/jobs/$job.job" 2>&1 >/tmp/trainload-dryrun.$$.json)
			read -r s kb <<<"$out"
			if [ -z "$best_s" ] || awk "BEGIN{exit !($s < $best_s)}"; then best_s=$s; fi
			if [ -z "$best_kb" ] || [ "$kb" -lt "$best_kb" ]; then best_kb=$kb; fi
		done
		ops=$(jq '[.plan.ops_per_step[]] | add' /tmp/trainload-dryrun.$$.json)
		printf '  %-12s %10d %8d %8d %10.2f %10.1f\n' "$job" "$ranks" "$dp" "$ops" "$best_s" \
			"$(awk "BEGIN{print $best_kb/1024}")"
	done
done
rm -f /tmp/trainload-dryrun.$$.json
