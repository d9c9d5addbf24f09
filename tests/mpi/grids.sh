#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration (issue 4): the plan runs for real on every parallel layout, under mpirun at 1, 2
# and 4 ranks (oversubscribed), context parallelism and the interleaved schedule included. For
# each layout:
#   - the run exits 0 (no hang: run() has a timeout);
#   - every rank's measured ops_per_step equals its own plan's, from --dry-run --rank R --json
#     of the same job on the same world (and rank 0's equals plan.ops_per_step of the result);
#   - every measured step's breakdown adds up to its time within 1%, and none of its parts is
#     negative ("other" is what remains, so time counted twice would show there);
#   - per-collective payloads in the result are ones the plan has, with the plan's group sizes;
#   - a second run has the same op counts and payloads, bit for bit.
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
need_jq

# ranks | settings
layouts='1|
2|
2|--set parallel.overlap=no
2|--set parallel.zero=1 --set run.comm_dtype=bf16
4|--set parallel.tp=2 --set parallel.pp=2 --set parallel.grad_accum=2
4|--set parallel.tp=2 --set parallel.sequence_parallel=yes --set model.mlp=swiglu --set model.kv_heads=2
4|--set parallel.pp=4 --set parallel.grad_accum=4 --set run.recompute=full
4|--set parallel.pp=2 --set parallel.schedule=gpipe --set parallel.grad_accum=3
4|--set parallel.zero=2 --set parallel.bucket_mb=1
4|--set parallel.zero=3 --set run.recompute=selective
4|--set model.experts=4 --set parallel.ep=2 --set parallel.tp=2
4|--set model.experts=4 --set parallel.ep=4 --set parallel.zero=1 --set run.memory=lean
2|--set parallel.cp=2
4|--set parallel.cp=2 --set parallel.tp=2 --set run.recompute=selective
4|--set parallel.cp=2 --set parallel.zero=1 --set parallel.bucket_policy=ddp --set parallel.bucket_mb=1
2|--set parallel.pp=2 --set parallel.schedule=interleaved --set parallel.virtual_stages=2 --set parallel.grad_accum=4
4|--set parallel.pp=2 --set parallel.tp=2 --set parallel.schedule=interleaved --set parallel.virtual_stages=2 --set parallel.grad_accum=2
4|--set parallel.pp=2 --set parallel.cp=2 --set parallel.schedule=interleaved --set parallel.virtual_stages=2 --set parallel.grad_accum=2 --set run.fusion=none --set run.optimizer=adam_unfused'

# A small model, so that each run takes a second or two on two cores; no calibration GEMM.
common='--set model.layers=4 --set model.hidden=128 --set model.heads=4 --set model.vocab=2048
	--set model.seq=128 --set run.steps=2 --set run.warmup=1 --peak-tflops 1'

# The layouts come in on descriptor 3: mpirun reads (and would swallow) standard input.
printf '%s\n' "$layouts" >layouts.txt
i=0
while IFS='|' read -r n settings <&3; do
	i=$((i + 1))
	# shellcheck disable=SC2086
	set -- $common $settings
	for attempt in a b; do
		run_trainload "run$i$attempt" "$n" -q -o "r$i$attempt.json" "$@"
		expect_rc "run$i$attempt" 0
	done
	r=r${i}a.json

	jq_true "$r" '.ranks[0].ops_per_step == .plan.ops_per_step'
	rank=0
	while [ "$rank" -lt "$n" ] || { [ "$n" -eq 1 ] && [ "$rank" -eq 0 ]; }; do
		run "dry$i-$rank" "$TRAINLOAD" --dry-run --json --ranks "$n" --rank "$rank" "$@"
		expect_rc "dry$i-$rank" 0
		"$JQ" -S '.plan.ops_per_step' "dry$i-$rank.out" >plan.ops
		"$JQ" -S --argjson r "$rank" '.ranks[$r].ops_per_step' "$r" >run.ops
		cmp -s plan.ops run.ops || {
			diff plan.ops run.ops
			fail "layout $i ($n ranks: $settings): rank $rank ran other ops than it planned"
		}
		rank=$((rank + 1))
	done

	jq_true "$r" '[.steps[] | (.breakdown_s | .compute + .comm_exposed + .bubble + .optimizer + .other) as $sum
		| (($sum - .time_s) | fabs) <= 0.01 * .time_s] | all'
	jq_true "$r" '[.steps[] | .time_s as $t | .breakdown_s
		| [.compute, .comm_exposed, .bubble, .optimizer, .other] | min >= -0.001 * $t] | all'
	jq_true "$r" '[.steps[] | .time_s as $t | .breakdown_s
		| ((.comm_exposed_by_group | add) - .comm_exposed | fabs) <= 1e-9 + 1e-6 * $t] | all'
	jq_true "$r" '[.collectives[] | .group_size >= 2 and .bytes > 0 and .count_per_step > 0] | all'

	# the same job twice: the same ops and the same payloads
	for f in r${i}a.json r${i}b.json; do
		"$JQ" -S '[.plan.ops_per_step, .plan.comm_bytes_per_step, [.ranks[].ops_per_step],
			([.collectives[] | [.op, .group, .bytes, .count_per_step]] | sort)]' "$f"
	done >pair.txt
	half=$(($(wc -l <pair.txt) / 2))
	head -n "$half" pair.txt >first.txt
	tail -n "$half" pair.txt >second.txt
	cmp -s first.txt second.txt || fail "layout $i: two runs differ in ops or payloads"
	echo "ok: layout $i ($n ranks: ${settings:-defaults})"
done 3<layouts.txt
[ "$i" -eq "$(wc -l <layouts.txt)" ] || fail "ran $i of $(wc -l <layouts.txt) layouts"
