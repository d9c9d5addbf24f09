#!/bin/sh
# SPDX-License-Identifier: BSD-3-Clause
# Integration (issue 8): run.check = N in training runs. Every N-th step each collective and
# pipeline message carries the seeded pattern of include/trainload/check.h and every received
# element is compared with its expected value:
#   - layouts that use every kind of communication (dp allreduce in buckets, pipeline send and
#     recv, tensor-parallel allreduce and, with sequence parallelism, allgather and
#     reduce-scatter, ZeRO-1 with bf16 gradients, ZeRO-3, MoE alltoall, the context-parallel
#     ring with the dp·cp gradient reduction, the interleaved schedule's messages) check clean:
#     exit 0, 0 wrong elements in the summary and in the JSON, per rank;
#   - TRAINLOAD_TEST_CORRUPT=1 (for testing only) makes rank 1 change an element it received:
#     exit 1, rank 1 and its host named with the op, counted on rank 1 alone.
# Runs through tests/run-test.sh.
. "$TL_SRCDIR/lib.sh"
need_jq

job=$TL_SRCDIR/data/good/tiny.job

# clean LABEL N ARGS...: a checked run on N ranks finds nothing wrong.
clean() {
	c_label=$1
	c_n=$2
	shift 2
	run_trainload "$c_label" "$c_n" --output "$c_label.json" "$@" "$job"
	expect_rc "$c_label" 0
	expect_in "$c_label.out" "# check: collective results of every"
	expect_in "$c_label.out" "step(s): 0 wrong elements"
	expect_not_in "$c_label.err" "wrong"
	jq_true "$c_label.json" '.status == "completed" and .summary.check_wrong_elements == 0 and
		([.ranks[].check_wrong_elements] | all(. == 0)) and .job.run.check > 0'
	echo "ok: $c_label"
}

clean dp 2 --set run.check=1
clean pp 2 --set run.check=1 --set parallel.pp=2
clean tp-sp 2 --set run.check=2 --set parallel.tp=2 --set parallel.sequence_parallel=yes
clean zero1-bf16 2 --set run.check=1 --set parallel.zero=1 --set run.comm_dtype=bf16
clean zero3 2 --set run.check=1 --set parallel.zero=3
clean moe 2 --set run.check=1 --set model.experts=2 --set parallel.ep=2
clean tp-pp 4 --set run.check=1 --set parallel.tp=2 --set parallel.pp=2
clean cp 4 --set run.check=1 --set parallel.cp=2 --set parallel.pp=2 --set parallel.grad_accum=2
clean cp-dp 4 --set run.check=1 --set parallel.cp=2 --set run.recompute=selective
clean interleaved 2 --set run.check=1 --set model.layers=4 --set parallel.pp=2 \
	--set parallel.schedule=interleaved --set parallel.virtual_stages=2 --set parallel.grad_accum=2
# The ring and the dp·cp reduction were among the checked ops.
jq_true cp-dp.json '[.collectives[] | select(.group == "cp" or .group == "dp_cp")] | length == 3'
# The pattern reached the gradient buckets: the dp allreduce was among the checked ops.
jq_true dp.json '[.collectives[] | select(.op == "allreduce" and .group == "dp")] | length > 0'

TRAINLOAD_TEST_CORRUPT=1 run_trainload corrupt 2 --output corrupt.json --set run.check=2 \
	--set parallel.pp=2 "$job"
expect_rc corrupt 1
expect_in corrupt.err "trainload: rank 1 ("
expect_in corrupt.err "): check: step 0, microbatch 0, layer -1, forward: recv of 65536 B over pp: 1 wrong elements (first at 0:"
expect_in corrupt.err "trainload: check: "
expect_in corrupt.err "wrong elements in all: collective results are not correct"
expect_not_in corrupt.err "trainload: rank 0 ("
expect_in corrupt.out "wrong elements; rank 1 ("
jq_true corrupt.json '.ranks[0].check_wrong_elements == 0 and .ranks[1].check_wrong_elements > 0
	and .summary.check_wrong_elements == .ranks[1].check_wrong_elements'
