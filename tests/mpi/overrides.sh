#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration: a job file (tests/data/good/tiny.job) with --set overrides; the overrides show in
# the JSON document's job, and the plan follows them. Also: a CRLF job file, full recompute, the
# null backend, and an output name without .json. Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
need_jq

job=$TL_SRCDIR/data/good/tiny.job

# tiny.job: l=2 h=128 a=4 s=64 V=1000 tied, microbatch 2, grad_accum 2, 2 steps after 1 warm-up.
# Overridden: 3 layers, 3 steps. At 2 ranks: global batch 2·2·2 = 8, 2 microbatches a step.
run_trainload file 2 "$job" --set model.layers=3 --set run.steps=3 --output f.json
expect_rc file 0
expect_in file.out "job tiny (l=3 h=128 a=4 s=64 V=1000)  ranks 2 = dp 2 x pp 1 x tp 1"
jq_true f.json '.job.model | .name == "tiny" and .layers == 3 and .hidden == 128 and .heads == 4 and .seq == 64 and .vocab == 1000 and .tied_embeddings == true'
jq_true f.json '.job.parallel | .microbatch == 2 and .grad_accum == 2 and .global_batch == 8 and .dp == 2'
jq_true f.json '.job.run | .steps == 3 and .warmup == 1'
jq_true f.json '.summary.steps_measured == 3 and (.steps | length) == 3'
jq_true f.json '.plan.microbatches == 2 and .plan.tokens_per_step == 8 * 64'
# 2 microbatches × (3 layers × 3 × 6 GEMMs + 3)
jq_true f.json '.plan.ops_per_step.gemm == 114 and .plan.ops_per_step.allreduce == 1'
jq_true f.json 'all(.ranks[]; .ops_per_step.gemm == 114)'
# 72Bslh² + 12Bs²lh + 6BshV with B=8 s=64 l=3 h=128 V=1000
jq_true f.json '.plan.model_flops_per_step == 72 * 8 * 64 * 3 * 128 * 128 + 12 * 8 * 64 * 64 * 3 * 128 + 6 * 8 * 64 * 128 * 1000'
# 12lh² + 13lh + (V+s)h + 2h, tied
jq_true f.json '.plan.params_total == 731264 and .plan.comm_bytes_per_step.dp == 731264 * 4'
jq_true f.json '.environment.command_line | contains("model.layers=3")'
[ "$(wc -l <f.jsonl)" -eq 4 ] || fail "f.jsonl does not have 1 + 3 lines"

# The same job file with CRLF line ends runs alike (alone, without mpirun).
sed 's/$/\r/' "$job" >crlf.job
grep -q "$(printf '\r')" crlf.job || fail "could not write a CRLF file"
run_trainload crlf 0 crlf.job --output c.json
expect_rc crlf 0
jq_true c.json '.job.model.name == "tiny" and .job.model.layers == 2 and .job.run.steps == 2'
jq_true c.json '.plan.ops_per_step.gemm == 2 * (2 * 3 * 6 + 3)'

# Full recompute: hardware FLOPs = 96Bslh² + 16Bs²lh + 6BshV; each layer's forward runs again.
run_trainload full 0 "$job" --set run.recompute=full --quiet --output full.json
expect_rc full 0
expect_empty full.out
jq_true full.json '.job.run.recompute == "full"'
jq_true full.json '.plan.hardware_flops_per_step == 96 * 4 * 64 * 2 * 128 * 128 + 16 * 4 * 64 * 64 * 2 * 128 + 6 * 4 * 64 * 128 * 1000'
jq_true full.json '.plan.model_flops_per_step == 72 * 4 * 64 * 2 * 128 * 128 + 12 * 4 * 64 * 64 * 2 * 128 + 6 * 4 * 64 * 128 * 1000'
jq_true full.json '.plan.ops_per_step.gemm == 2 * (2 * 3 * 6 + 3 + 2 * 6) and .ranks[0].ops_per_step.gemm == .plan.ops_per_step.gemm'

# The null backend runs the plan's ops without work; the accounting is the same.
run_trainload null 2 "$job" --set run.backend=null --output n.json
expect_rc null 0
jq_true n.json '.job.run.backend == "null" and .plan.ops_per_step.gemm == 78'
jq_true n.json 'all(.ranks[]; .ops_per_step.gemm == 78 and .ops_per_step.allreduce == 1)'

# An output name without .json: the JSONL is NAME.jsonl.
run_trainload plain 0 "$job" --quiet --output result.out
expect_rc plain 0
jq_true result.out '.schema == 1'
[ "$(wc -l <result.out.jsonl)" -eq 3 ] || fail "result.out.jsonl does not have 1 + 2 lines"
echo ok
