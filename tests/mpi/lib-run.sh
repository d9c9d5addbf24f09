# SPDX-License-Identifier: BSD-3-Clause
# The checks of one run of the built-in default job (DESIGN.md §6), shared by run-1rank.sh and
# run-np*.sh; sourced after tests/lib.sh. POSIX sh.

# The job-file keys that --help-job lists, as "section.key", sorted, [sweep] left out.
help_job_keys() {
	"$TRAINLOAD" --help-job | awk '
		/^\[/ { sec = substr($0, 2, length($0) - 2); next }
		/^  [^ ]/ { if (sec != "sweep") print sec "." $1 }' | sort
}

# check_default_run N: the default job, 3 measured steps after 1 warm-up, on N ranks (0: alone,
# without mpirun); its summary, its JSON document and its JSONL; then --quiet.
check_default_run() {
	n=$1
	ranks=$n
	[ "$n" -eq 0 ] && ranks=1
	need_jq

	version=$("$TRAINLOAD" --version | sed -n 's/^trainload //p')
	[ -n "$version" ] || fail "trainload --version printed no version"
	[ -z "${TL_VERSION:-}" ] || [ "$version" = "$TL_VERSION" ] ||
		fail "trainload --version says $version, configure says $TL_VERSION"

	wall0=$(date +%s.%N)
	run_trainload run "$n" --set run.steps=3 --set run.warmup=1 --output r.json
	expect_rc run 0
	wall=$(echo "$wall0 $(date +%s.%N)" | awk '{ print $2 - $1 }')

	# --- the summary on stdout (rank 0 only) -------------------------------------------
	head=$(head -n 1 run.out)
	want="# trainload $version  job gpt-tiny (l=4 h=256 a=8 s=256 V=8192)  ranks $ranks = dp $ranks x pp 1 x tp 1 (ep 1)"
	[ "$head" = "$want" ] || { show run; fail "summary header is '$head', expected '$want'"; }
	[ "$(count_in run.out '# trainload ')" -eq 1 ] || { show run; fail "summary printed more than once"; }
	expect_in run.out "# nodes 1 ("
	expect_in run.out "backend cpu  OpenBLAS "
	expect_in run.out "f32/f32"
	# provenance: when (ISO 8601, UTC) and on what
	grep -E -q '^# started 20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z  cpu ' run.out ||
		{ show run; fail "no '# started' line"; }
	expect_in run.out "# conventions: step time = slowest rank; GB = 1e9; model FLOPs"
	expect_in run.out "# steps 3 measured after 1 warm-up; global batch $ranks x seq 256 = $((ranks * 256)) tokens per step"
	cols=$(grep -F 'step_p50' run.out | tr -s ' ' | sed 's/^ //')
	[ "$cols" = "step_p50 step_p95 tokens/s TFLOP/s/rank MFU peak/rank GEMM GFLOP/s/rank" ] ||
		{ show run; fail "summary columns are '$cols'"; }
	# the row under the column names: p50 s p95 s tokens/s TFLOP/s MFU% peak TFLOP/s (source)
	# GFLOP/s (min X)
	row=$(awk '/step_p50/ { getline; print; exit }' run.out | tr -s ' ' | sed 's/^ //')
	echo "$row" | grep -E -q '^[0-9]+\.[0-9]{4} s [0-9]+\.[0-9]{4} s [0-9,]+ [0-9]+\.[0-9]{4} [0-9]+\.[0-9]% [0-9]+\.[0-9]{4} TFLOP/s \((calibrated|cpu-clock)\) [0-9]+\.[0-9]{2} \(min [0-9]+\.[0-9]{2}\)$' ||
		{ show run; fail "summary row '$row' does not have the columns' formats"; }
	expect_in run.out "# where the time goes (slowest rank, p50 of each part, seconds; X_comm: exposed communication of group X; bubble: pipeline wait)"
	# exposed communication of each group of more than one rank: dp here
	grep -E -q '^  compute [0-9.]+ ( [a-z]+_comm [0-9.]+)*  bubble [0-9.]+ \(planned 0\.000 of the step\)  optimizer [0-9.]+  other -?[0-9.]+$' run.out ||
		{ show run; fail "no breakdown line"; }
	# how MFU's peak is derived, and the BLAS peak beside it
	expect_in run.out "# peak/rank: "
	expect_in run.out "# BLAS peak/rank "
	if [ "$ranks" -gt 1 ]; then
		expect_in run.out " dp_comm "
		expect_in run.out "# collectives (time: mean per op, max over ranks)"
		grep -E -q '^  allreduce +dp +'"$ranks"' +29677568 +yes ' run.out ||
			{ show run; fail "no line for the dp allreduce in the collectives table"; }
	else
		expect_not_in run.out "_comm "
		expect_not_in run.out "# collectives"
	fi
	expect_in run.out "# stragglers"

	# --- the JSON document ------------------------------------------------------------
	[ -s r.json ] || fail "r.json not written"
	"$JQ" -e . r.json >/dev/null || fail "r.json is not valid JSON"
	jq_true r.json '.schema == 1'
	jq_true r.json '.trainload_version == $v' --arg v "$version"
	jq_true r.json '(.job | keys) == ["model", "parallel", "run"]'
	got=$("$JQ" -r '.job | to_entries[] | .key as $s | .value | keys[] | "\($s).\(.)"' r.json | sort)
	want=$(help_job_keys)
	[ -n "$want" ] || fail "--help-job lists no keys"
	if [ "$got" != "$want" ]; then
		echo "$want" >keys.help
		echo "$got" >keys.json
		diff keys.help keys.json
		fail "the JSON job's keys differ from --help-job's (< help, > json)"
	fi
	jq_true r.json '.world == {ranks: $n, nodes: 1, tp: 1, pp: 1, dp: $n, cp: 1, ep: 1}' --argjson n "$ranks"
	jq_true r.json '.job.parallel | .dp == $n and .global_batch == $n and .grad_accum == 1 and .microbatch == 1' --argjson n "$ranks"
	jq_true r.json '.job.run | .steps == 3 and .warmup == 1 and .comm_dtype == "f32" and .backend == "cpu"'
	jq_true r.json '.job.model | .name == "gpt-tiny" and .kv_heads == .heads and .ffn_hidden == 4 * .hidden'

	# summary: steps, percentiles in order, and the ones that three steps pin down
	jq_true r.json '.summary.steps_measured == 3 and (.steps | length) == 3'
	jq_true r.json '[.steps[].step] == [0, 1, 2]'
	jq_true r.json '.summary.step_time_s | all(.p50, .p95, .min, .max; type == "number") and .min > 0 and .min <= .p50 and .p50 <= .p95 and .p95 <= .max'
	jq_true r.json '[.steps[].time_s] as $t | .summary.step_time_s | .min == ($t | min) and .max == ($t | max) and .p50 == ($t | sort | .[1])'
	jq_true r.json '([.steps[].time_s] | sort) as $t | ($t[1] + 0.9 * ($t[2] - $t[1])) as $p95 | (.summary.step_time_s.p95 - $p95) | (if . < 0 then -. else . end) <= 1e-12'
	jq_true r.json '.summary | all(.tokens_per_s, .model_tflops_per_rank, .mfu, .peak_tflops_per_rank; type == "number") and (.peak_source == "calibrated" or .peak_source == "cpu-clock")'
	# the hardware peak where it is known, the calibrated BLAS peak beside it
	jq_true r.json '.summary | .blas_peak_tflops_per_rank > 0 and (.warnings | type) == "array" and (.hardware_peak_how | length) > 0'
	jq_true r.json '.summary | if .peak_source == "cpu-clock" then .peak_tflops_per_rank == .hardware_peak_tflops_per_rank and (.blas_share_of_hardware_peak - .blas_peak_tflops_per_rank / .hardware_peak_tflops_per_rank | fabs) < 1e-9 else .peak_tflops_per_rank == .blas_peak_tflops_per_rank end'
	# MFU against that peak (DESIGN.md §5): model FLOPs / p50 / (ranks x peak)
	jq_true r.json '.summary | .peak_tflops_per_rank > 0 and .mfu > 0'
	jq_true r.json '(.plan.model_flops_per_step / .summary.step_time_s.p50 / $n / (.summary.peak_tflops_per_rank * 1e12)) as $x | ((.summary.mfu - $x) / $x) | (if . < 0 then -. else . end) < 1e-9' --argjson n "$ranks"
	jq_true r.json 'all(.ranks[]; .peak_tflops > 0)'
	jq_true r.json '.summary.breakdown_s | keys == ["bubble", "comm_exposed", "comm_exposed_by_group", "compute", "optimizer", "other"] and (.comm_exposed_by_group | keys) == ["cp", "dp", "ep", "pp", "tp"]'
	jq_true r.json '(.plan.tokens_per_step / .summary.step_time_s.p50) as $x | ((.summary.tokens_per_s - $x) / $x) | (if . < 0 then -. else . end) < 1e-9'
	jq_true r.json '(.plan.model_flops_per_step / .summary.step_time_s.p50 / $n / 1e12) as $x | ((.summary.model_tflops_per_rank - $x) / $x) | (if . < 0 then -. else . end) < 1e-9' --argjson n "$ranks"
	# Each part of a step is measured apart and `other` is what is left (so the parts add up
	# to the step by definition): held to what is counted apart from them instead. No part
	# is counted twice (other is not negative); the steps fit in the run's wall-clock time,
	# read here; compute holds the plan's GEMMs, which no rank runs four times faster than
	# the calibration GEMM's peak; and a rank's own totals are its steps'.
	jq_true r.json 'all(.steps[]; (.breakdown_s | keys) == ["bubble", "comm_exposed", "comm_exposed_by_group", "compute", "optimizer", "other"])'
	jq_true r.json 'all(.steps[]; .breakdown_s.other >= -1e-9 * .time_s and .breakdown_s.other <= .time_s)'
	jq_true r.json '([.steps[].time_s] | add) <= $wall' --argjson wall "$wall"
	jq_true r.json '(.plan.hardware_flops_per_step / $n / (4 * .summary.peak_tflops_per_rank * 1e12)) as $least | all(.steps[]; .breakdown_s.compute >= $least)' --argjson n "$ranks"
	jq_true r.json '.summary.steps_measured as $s | all(.ranks[]; .per_step_s.compute > 0 and .per_step_s.compute * $s <= ([$doc[0].steps[].time_s] | add) * 1.000001)' --slurpfile doc r.json
	# exposed communication is the sum of the groups'
	jq_true r.json 'all(.steps[]; .breakdown_s | ((.comm_exposed - ([.comm_exposed_by_group[]] | add)) | if . < 0 then -. else . end) <= 1e-9)'
	jq_true r.json 'all(.steps[]; .breakdown_s.compute > 0 and .breakdown_s.compute <= .time_s and .slowest_rank >= 0 and .slowest_rank < $n)' --argjson n "$ranks"

	# the plan: closed forms of DESIGN.md §4 from the job's own values (MHA, gelu, f = 4h)
	jq_true r.json '.job.model as $m | .job.parallel.global_batch as $B | .plan.model_flops_per_step == 72 * $B * $m.seq * $m.layers * $m.hidden * $m.hidden + 12 * $B * $m.seq * $m.seq * $m.layers * $m.hidden + 6 * $B * $m.seq * $m.hidden * $m.vocab'
	jq_true r.json '.plan.model_flops_per_step == 8858370048 * $n' --argjson n "$ranks"
	jq_true r.json '.plan.hardware_flops_per_step == .plan.model_flops_per_step'
	jq_true r.json '.job.model as $m | .plan.params_total == 12 * $m.layers * $m.hidden * $m.hidden + 13 * $m.layers * $m.hidden + ($m.vocab + $m.seq) * $m.hidden + 2 * $m.hidden + (if $m.tied_embeddings then 0 else $m.vocab * $m.hidden end)'
	jq_true r.json '.plan.params_total == 7419392 and .plan.params_per_rank_max == .plan.params_total'
	jq_true r.json '.plan | .tokens_per_step == $n * 256 and .microbatches == 1 and .bubble_fraction == 0 and .rank == 0' --argjson n "$ranks"
	jq_true r.json '(.plan.ops_per_step | keys) == ["allgather", "allreduce", "alltoall", "broadcast", "elementwise", "gemm", "optimizer", "recv", "reduce_scatter", "send", "sendrecv"]'
	jq_true r.json '(.plan.comm_bytes_per_step | keys) == ["cp", "dp", "ep", "pp", "tp"]'
	# 1 microbatch × (4 layers × 3 × 6 GEMMs + 3 for the logits)
	jq_true r.json '.plan.ops_per_step.gemm == 75'
	if [ "$ranks" -gt 1 ]; then
		jq_true r.json '.plan.ops_per_step.allreduce == 1 and .plan.comm_bytes_per_step.dp == .plan.params_per_rank_max * 4'
	else
		jq_true r.json '.plan.ops_per_step.allreduce == 0 and .plan.comm_bytes_per_step.dp == 0'
	fi
	jq_true r.json '.plan.comm_bytes_per_step | .tp == 0 and .pp == 0 and .ep == 0 and .cp == 0'
	# elementwise passes and one optimizer pass; no pipeline or tensor-parallel traffic
	jq_true r.json '.plan.ops_per_step | .elementwise > 0 and .optimizer == 1 and .send == 0 and .recv == 0 and .reduce_scatter == 0 and .allgather == 0 and .alltoall == 0 and .broadcast == 0 and .sendrecv == 0'
	# memory: weights, gradients (f32) and 12 bytes of optimizer state a parameter, activations
	jq_true r.json '.plan | .memory_bytes_per_rank.weights == 4 * .params_per_rank_max and .memory_bytes_per_rank.gradients == 4 * .params_per_rank_max and .memory_bytes_per_rank.optimizer == 12 * .params_per_rank_max and .memory_bytes_per_rank_max == ([.memory_bytes_per_rank[]] | add)'

	# every rank, with what it measured
	jq_true r.json '(.ranks | length) == $n and [.ranks[].rank] == [range($n)]' --argjson n "$ranks"
	# what each rank executed is its plan, kind by kind
	jq_true r.json '.plan.ops_per_step as $p | all(.ranks[]; .ops_per_step == $p)'
	jq_true r.json 'all(.ranks[]; .threads >= 1 and .gemm_gflops > 0 and (.host | length) > 0 and (.cpuset | type) == "string" and .stage == 0 and .peak_rss_bytes > 0)'

	# how it was obtained
	jq_true r.json '.environment | (.job_hash | test("^[0-9a-f]{16}$")) and (.command_line | contains("run.steps=3")) and (.mpi_version | length) > 0 and (.blas_version | length) > 0 and (.hosts | length) > 0 and .startup_s >= 0'
	jq_true r.json '.environment | (.start_time | test("^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z$")) and (.cpu_model | type) == "string" and (.oversubscribed | type) == "boolean" and .gpu_model == null and (.blas_core | length) > 0'
	# more ranks than hardware threads: ranks share cores, and the result says so
	if [ "$ranks" -gt "$(nproc)" ]; then
		jq_true r.json '.environment.oversubscribed and (.summary.warnings | any(test("oversubscribed")))'
		expect_in run.out "oversubscribed (ranks share cores)"
	fi
	# the result is written whole at the end: no temporary file is left
	[ ! -e r.json.tmp ] || fail "r.json.tmp left behind"

	# --- the JSONL beside it: a header (the document's job, world and plan), then one line
	# per measured step, the document's steps --------------------------------------------
	[ -f r.jsonl ] || fail "r.jsonl not written"
	lines=$(wc -l <r.jsonl)
	[ "$lines" -eq 4 ] || { cat r.jsonl; fail "r.jsonl has $lines lines, expected 1 + 3"; }
	head -n 1 r.jsonl >header.json
	jq_true header.json '$doc[0] as $d | .schema == $d.schema and .job == $d.job and .world == $d.world and .plan == $d.plan and (has("steps") | not)' --slurpfile doc r.json
	tail -n +2 r.jsonl | "$JQ" -c . >steps.jsonl || fail "r.jsonl is not JSON lines"
	"$JQ" -c '.steps[]' r.json >steps.json
	cmp -s steps.jsonl steps.json || { diff steps.json steps.jsonl; fail "r.jsonl differs from r.json's steps"; }

	# --- the summary's figures are the document's ---------------------------------------
	p50=$(awk '/step_p50/ { getline; print $1; exit }' run.out)
	p95=$(awk '/step_p50/ { getline; print $3; exit }' run.out)
	tok=$(awk '/step_p50/ { getline; print $5; exit }' run.out | tr -d ,)
	jp50=$(jq_get r.json '.summary.step_time_s.p50' | awk '{ printf "%.4f", $1 }')
	jp95=$(jq_get r.json '.summary.step_time_s.p95' | awk '{ printf "%.4f", $1 }')
	jtok=$(jq_get r.json '.summary.tokens_per_s' | awk '{ printf "%.0f", $1 }')
	[ "$p50 $p95 $tok" = "$jp50 $jp95 $jtok" ] ||
		fail "summary says p50 $p50 p95 $p95 tokens/s $tok; JSON says $jp50 $jp95 $jtok"

	# --- --quiet: nothing on stdout, the files still written; MFU against a given peak -----
	run_trainload quiet "$n" --quiet --set run.steps=2 --set run.warmup=0 --peak-tflops 0.5 --output q.json
	expect_rc quiet 0
	expect_empty quiet.out
	jq_true q.json '.summary.steps_measured == 2 and (.steps | length) == 2 and .job.run.warmup == 0 and .world.ranks == $n' --argjson n "$ranks"
	jq_true q.json '.summary | .peak_source == "--peak-tflops" and .peak_tflops_per_rank == 0.5'
	jq_true q.json '.summary | (.model_tflops_per_rank / 0.5) as $x | ((.mfu - $x) / $x) | (if . < 0 then -. else . end) < 1e-9'
	[ "$(wc -l <q.jsonl)" -eq 3 ] || fail "q.jsonl does not have 1 + 2 lines"
	echo "ok: default job on $ranks rank(s)$([ "$n" -eq 0 ] && echo ', without mpirun')"
}
