#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration (issue 15): trainload doctor on one machine, alone and under the launcher.
#   - bad input exits 2 with one message (rank 0's) naming what was wrong: an unknown --links
#     word, --timeout 0, an unknown option, a --set key, a job file's bad key with its line;
#   - --help exits 0;
#   - 2 ranks on this one host: exit 0, one node (nothing to compare it with: not judged, so
#     nothing named), no links, the dp group's allreduce measured, an empty exclude list.
# tests/cluster/doctor.sh finds faults across nodes. Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
need_jq

job=$TL_SRCDIR/data/good/tiny.job

for n in 0 2; do
	run_bad links$n $n "trainload doctor: --links star: expected auto, tournament or ring" \
		doctor --links star "$job"
	run_bad timeout$n $n "trainload doctor: --timeout 0: expected 1 to 86400 seconds" \
		doctor --timeout 0 "$job"
	run_bad option$n $n "trainload doctor: unknown option --bogus (try 'trainload doctor --help')" \
		doctor --bogus "$job"
	run_bad set$n $n "--set run.bogus: unknown key 'bogus' in [run]" doctor --set run.bogus=1 "$job"
	run_bad file$n $n "unknown-key.job:4: unknown key 'micro_batch' in [parallel]" \
		doctor "$TL_SRCDIR/data/bad/unknown-key.job"
done

run_trainload help 0 doctor --help
expect_rc help 0
expect_in help.out "Usage: mpirun -np N trainload doctor [options] [JOBFILE]"
expect_in help.out "--exclude-list FILE"

run_trainload two 2 doctor "$job" --quick --output two.json --exclude-list two.exclude
expect_rc two 0
expect_in two.out "doctor: healthy: 1 nodes, 0 links, 1 groups; nothing named"
jq_true two.json '.healthy and (.nodes | length) == 1 and (.links | length) == 0 and .bad_hosts == []'
jq_true two.json '.nodes[0].gemm_flops_per_s > 0 and .nodes[0].triad_bytes_per_s > 0 and .nodes[0].gemm_verdict == "not judged"'
jq_true two.json '.groups == [.groups[0]] and .groups[0].group == "dp" and .groups[0].ranks == 2 and .groups[0].op == "allreduce" and .groups[0].busbw_bytes_per_s > 0'
[ -f two.exclude ] && [ ! -s two.exclude ] || fail "healthy: the exclude list is missing or holds '$(cat two.exclude)'"
echo "ok: doctor's bad input exits 2 naming it, once; 2 ranks on one host are healthy"
