/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The option table: every job-file key, its type, range, default and help. Parsing, --set,
 * --help-job, the resolved job's JSON and doc/trainload-job.5 all follow this one table.
 * Section and key names are a contract (DESIGN.md §3): add keys, rename none.
 */
#include "config.h"

#include <float.h>
#include <stddef.h>
#include <stdint.h>

#include "trainload/job.h"

#define OFF(field) offsetof(struct tl_job, field)
#define U(sec, key, field, lo, hi, dflt, text)                                                   \
	{ .section = sec, .name = key, .type = TL_OPT_UINT, .off = OFF(field), .min = lo,        \
	  .max = hi, .def = dflt, .help = text }
#define UAUTO(sec, key, field, lo, hi, text)                                                     \
	{ .section = sec, .name = key, .type = TL_OPT_UINT, .off = OFF(field), .min = lo,        \
	  .max = hi, .flags = TL_OPT_AUTO, .def = "auto", .help = text }
#define B(sec, key, field, dflt, text)                                                           \
	{ .section = sec, .name = key, .type = TL_OPT_BOOL, .off = OFF(field), .def = dflt,      \
	  .help = text }
#define E(sec, key, field, list, dflt, text)                                                     \
	{ .section = sec, .name = key, .type = TL_OPT_ENUM, .off = OFF(field), .names = list,    \
	  .def = dflt, .help = text }
#define S(sec, key, field, dflt, text)                                                           \
	{ .section = sec, .name = key, .type = TL_OPT_STR, .off = OFF(field),                    \
	  .size = sizeof(((struct tl_job *)0)->field), .def = dflt, .help = text }
#define D(sec, key, field, lo, hi, dflt, text)                                                   \
	{ .section = sec, .name = key, .type = TL_OPT_DOUBLE, .off = OFF(field), .dmin = lo,     \
	  .dmax = hi, .def = dflt, .help = text }

/* An upper bound that keeps every product of sizes far from 64-bit overflow on its own; the
 * products themselves are checked when the model is built. */
#define MAX_DIM (UINT64_C(1) << 32)

static const struct tl_opt_enum mlp_names[] = { { "gelu", TL_MLP_GELU },
						{ "swiglu", TL_MLP_SWIGLU },
						{ NULL, 0 } };
static const struct tl_opt_enum schedule_names[] = { { "1f1b", TL_SCHEDULE_1F1B },
						     { "gpipe", TL_SCHEDULE_GPIPE },
						     { "interleaved", TL_SCHEDULE_INTERLEAVED },
						     { NULL, 0 } };
static const struct tl_opt_enum bucket_policy_names[] = { { "megatron", TL_BUCKETS_MEGATRON },
							  { "ddp", TL_BUCKETS_DDP },
							  { NULL, 0 } };
static const struct tl_opt_enum optimizer_names[] = { { "adam_fused", TL_OPTIMIZER_ADAM_FUSED },
						      { "adam_unfused", TL_OPTIMIZER_ADAM_UNFUSED },
						      { "sgd", TL_OPTIMIZER_SGD },
						      { NULL, 0 } };
static const struct tl_opt_enum fusion_names[] = { { "megatron", TL_FUSION_MEGATRON },
						   { "none", TL_FUSION_NONE },
						   { NULL, 0 } };
static const struct tl_opt_enum compute_dtype_names[] = { { "f32", TL_DTYPE_F32 },
							  { "f64", TL_DTYPE_F64 },
							  { "bf16", TL_DTYPE_BF16 },
							  { "f16", TL_DTYPE_F16 },
							  { NULL, 0 } };
static const struct tl_opt_enum comm_dtype_names[] = { { "same", TL_DTYPE_SAME },
						       { "f32", TL_DTYPE_F32 },
						       { "f64", TL_DTYPE_F64 },
						       { "bf16", TL_DTYPE_BF16 },
						       { "f16", TL_DTYPE_F16 },
						       { NULL, 0 } };
static const struct tl_opt_enum recompute_names[] = { { "none", TL_RECOMPUTE_NONE },
						      { "selective", TL_RECOMPUTE_SELECTIVE },
						      { "full", TL_RECOMPUTE_FULL },
						      { NULL, 0 } };
static const struct tl_opt_enum memory_names[] = { { "full", TL_MEMORY_FULL },
						   { "lean", TL_MEMORY_LEAN },
						   { NULL, 0 } };
static const struct tl_opt_enum backend_names[] = { { "cpu", TL_BACKEND_CPU },
						    { "cuda", TL_BACKEND_CUDA },
						    { "null", TL_BACKEND_NULL },
						    { NULL, 0 } };
static const struct tl_opt_enum bind_names[] = { { "auto", TL_BIND_AUTO },
						 { "core", TL_BIND_CORE },
						 { "numa", TL_BIND_NUMA },
						 { "package", TL_BIND_PACKAGE },
						 { "none", TL_BIND_NONE },
						 { NULL, 0 } };
static const struct tl_opt_enum group_names[] = { { "world", TL_GROUP_WORLD },
						  { "tp", TL_GROUP_TP },
						  { "dp", TL_GROUP_DP },
						  { "pp", TL_GROUP_PP },
						  { "ep", TL_GROUP_EP },
						  { "cp", TL_GROUP_CP },
						  { NULL, 0 } };

const char *const tl_job_sections[] = { "model", "parallel", "run", "sweep", NULL };

/* The defaults of [model] are the built-in default job: a small GPT-style model that runs a
 * step in a fraction of a second on one core. */
const struct tl_option tl_job_options[] = {
	S("model", "name", name, "gpt-tiny", "a name for the model, used in output and file names"),
	U("model", "layers", layers, 1, MAX_DIM, "4", "transformer layers (l)"),
	U("model", "hidden", hidden, 1, MAX_DIM, "256", "hidden size (h)"),
	U("model", "heads", heads, 1, MAX_DIM, "8", "attention heads (a); must divide hidden"),
	UAUTO("model", "kv_heads", kv_heads, 1, MAX_DIM,
	      "key/value heads for grouped-query attention (auto: = heads); must divide heads"),
	UAUTO("model", "ffn_hidden", ffn_hidden, 1, MAX_DIM,
	      "MLP inner size (auto: 4*hidden for gelu, 8/3*hidden rounded up to a multiple of 256 "
	      "for swiglu)"),
	E("model", "mlp", mlp, mlp_names, "gelu", "MLP kind: gelu (two GEMMs) or swiglu (three)"),
	U("model", "vocab", vocab, 1, MAX_DIM, "8192", "vocabulary size (V)"),
	U("model", "seq", seq, 1, MAX_DIM, "256", "sequence length in tokens (s)"),
	B("model", "tied_embeddings", tied_embeddings, "no",
	  "share the input embedding with the output (logits) weights"),
	U("model", "experts", experts, 0, MAX_DIM, "0", "experts per MoE layer (0: dense model)"),
	U("model", "topk", topk, 1, MAX_DIM, "2", "experts each token is routed to"),
	U("model", "moe_every", moe_every, 1, MAX_DIM, "1", "every n-th layer is an MoE layer"),
	D("model", "dropout", dropout, 0.0, 1.0, "0",
	  "dropout probability; above 0 the step adds the dropout passes and their masks"),

	U("parallel", "tp", tp, 1, TL_MAX_RANKS, "1", "tensor-parallel group size"),
	U("parallel", "pp", pp, 1, TL_MAX_RANKS, "1", "pipeline-parallel stages"),
	U("parallel", "cp", cp, 1, TL_MAX_RANKS, "1", "context-parallel group size"),
	U("parallel", "ep", ep, 1, TL_MAX_RANKS, "1",
	  "expert-parallel group size, carved out of the data-parallel ranks (divides dp)"),
	UAUTO("parallel", "dp", dp, 1, TL_MAX_RANKS, "data-parallel size (auto: world/(tp*pp*cp))"),
	U("parallel", "zero", zero, 0, 3, "0", "ZeRO stage: 0 (none), 1, 2 or 3"),
	B("parallel", "sequence_parallel", sequence_parallel, "no",
	  "Megatron sequence parallelism in the tensor-parallel group"),
	U("parallel", "microbatch", microbatch, 1, MAX_DIM, "1", "sequences per microbatch (b)"),
	UAUTO("parallel", "global_batch", global_batch, 1, MAX_DIM,
	      "sequences per step, all data-parallel ranks (auto: microbatch*dp*grad_accum)"),
	UAUTO("parallel", "grad_accum", grad_accum, 1, MAX_DIM,
	      "microbatches per step per data-parallel rank (auto: global_batch/(microbatch*dp), "
	      "or 1)"),
	E("parallel", "schedule", schedule, schedule_names, "1f1b",
	  "pipeline schedule: 1f1b, gpipe or interleaved (Megatron's interleaved 1F1B)"),
	U("parallel", "virtual_stages", virtual_stages, 1, MAX_DIM, "1",
	  "model chunks per pipeline stage with schedule = interleaved (Megatron's virtual "
	  "pipeline stages); bubble (pp-1)/(virtual_stages*m)"),
	B("parallel", "overlap", overlap, "yes",
	  "overlap data-parallel gradient reduction with backward"),
	U("parallel", "bucket_mb", bucket_mb, 1, 1 << 20, "25",
	  "data-parallel gradient bucket size in MiB (2^20 bytes), as DDP's bucket_cap_mb reads it"),
	E("parallel", "bucket_policy", bucket_policy, bucket_policy_names, "megatron",
	  "gradient buckets as megatron (Megatron-LM's DDP) or ddp (PyTorch DDP: first bucket "
	  "1 MiB) fills them"),

	U("run", "steps", steps, 1, 1 << 30, "10", "measured training steps"),
	U("run", "warmup", warmup, 0, 1 << 30, "2", "unmeasured steps run first"),
	E("run", "compute_dtype", compute_dtype, compute_dtype_names, "f32",
	  "GEMM data type: f32 or f64 (cpu); bf16, f16 or f32 (cuda)"),
	E("run", "comm_dtype", comm_dtype, comm_dtype_names, "same",
	  "data type of communicated tensors (same: as compute_dtype)"),
	E("run", "recompute", recompute, recompute_names, "none",
	  "activation recomputation: none, selective (attention core) or full"),
	E("run", "memory", memory, memory_names, "full",
	  "full: allocate what training would hold; lean: reuse buffers across layers"),
	E("run", "backend", backend, backend_names, "cpu",
	  "cpu (OpenBLAS + MPI), cuda (cuBLAS + NCCL) or null (no work, for testing)"),
	E("run", "bind", bind, bind_names, "auto",
	  "rank binding: auto (keep a sensible launcher binding, else core), core, numa, package "
	  "or none"),
	UAUTO("run", "threads_per_rank", threads_per_rank, 1, 4096,
	      "BLAS threads per rank (auto: its share of the cores it is bound to)"),
	U("run", "check", check, 0, 1 << 30, "0", "verify collective results every N steps (0: off)"),
	U("run", "timeout_s", timeout_s, 0, 1 << 30, "0",
	  "watchdog: abort when no op finishes for this many seconds (0: off)"),
	D("run", "straggler_pct", straggler_pct, 0.0, 1000.0, "5",
	  "name ranks this many percent worse than the median in a phase"),
	S("run", "log_interval", log_interval, "10s",
	  "progress lines on stderr: every N steps (sweep: sizes) or every Ns seconds, besides "
	  "the first and the last; 0: those two only (a terminal gets every step in place)"),
	E("run", "optimizer", optimizer, optimizer_names, "adam_fused",
	  "the optimizer pass's bytes per parameter: adam_fused, adam_unfused (torch.optim.Adam, "
	  "one kernel per operation) or sgd (with momentum)"),
	E("run", "fusion", fusion, fusion_names, "megatron",
	  "elementwise passes as megatron (fused kernels) or none (one kernel per operation, as "
	  "eager PyTorch) runs them"),

	S("sweep", "op", sweep_op, "allreduce",
	  "tests to run, comma-separated: the collectives allreduce, reduce_scatter, allgather, "
	  "alltoall, broadcast, sendrecv; the point-to-point tests latency, bw, bibw, mbw_mr "
	  "(as OSU's)"),
	U("sweep", "min_bytes", min_bytes, 1, UINT64_C(1) << 40, "8", "smallest message size"),
	U("sweep", "max_bytes", max_bytes, 1, UINT64_C(1) << 40, "64Mi", "largest message size"),
	U("sweep", "factor", factor, 2, 1024, "2",
	  "size multiplier between sweep points (used when step = 0)"),
	U("sweep", "step", step, 0, UINT64_C(1) << 40, "0",
	  "bytes added between sweep points (0: multiply by factor instead)"),
	U("sweep", "iters", iters, 1, 1 << 30, "20", "timed iterations per size"),
	U("sweep", "warmup_iters", warmup_iters, 0, 1 << 30, "5",
	  "untimed iterations before the timed ones, per size"),
	E("sweep", "dtype", sweep_dtype, compute_dtype_names, "f32",
	  "element type: f32, f64, bf16 or f16 (bf16/f16 reduce with a user-defined MPI op)"),
	B("sweep", "blocking", blocking, "yes",
	  "yes: blocking MPI calls; no: MPI_I* then MPI_Wait, timed together"),
	U("sweep", "check", sweep_check, 0, 1 << 30, "1",
	  "checked iterations per size, run apart from the timed ones, as nccl-tests' -c "
	  "(0: off)"),
	E("sweep", "group", sweep_group, group_names, "world",
	  "communicator to sweep on: world, tp, dp, pp, ep or cp, laid out by [parallel]; every "
	  "group of that kind sweeps at once"),
	U("sweep", "window", window, 1, 1 << 16, "64",
	  "point-to-point bandwidth tests (bw, bibw, mbw_mr): messages in flight per iteration, "
	  "as OSU's window size"),
	U("sweep", "rotate_mb", rotate_mb, 0, 1 << 20, "0",
	  "rotate among buffers totalling at least this many MB (1e6 bytes), so that no "
	  "iteration finds its data in cache; set it above the last-level cache (0: off)"),
};

const size_t tl_job_option_count = sizeof(tl_job_options) / sizeof(tl_job_options[0]);
