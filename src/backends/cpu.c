/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The cpu backend: GEMMs through OpenBLAS (cblas_sgemm/dgemm), collectives and pipeline
 * messages through MPI, memory passes with memcpy.
 *
 * Communicators. One per group of the grid (tp, cp, dp, pp, ep, edp), split from a duplicate of
 * MPI_COMM_WORLD by the world rank of the group's first member, keyed by the index in the group,
 * so that MPI's rank in a group communicator is the grid's index. Pipeline messages name a world
 * rank (op->peer) and go over the world duplicate, apart from every collective.
 *
 * Checking (run.check). On a checked step each communication op's input is filled with the
 * seeded pattern of include/trainload/check.h and its output with -1, and what arrives is
 * compared; for this, pipeline sends get a region of their own and ZeRO-2/3 buckets do not wrap
 * (so a checked run holds all of the gradients, as ZeRO-0/1 does): src/backends/operands.c.
 *
 * Memory. Operands lie in the regions of src/backends/operands.h; init allocates each and
 * writes every page of it. Peak RSS with memory = full is thus about the model's
 * memory_bytes_per_rank plus the GEMM scratch, the communication buffers and the libraries' own.
 *
 * Element counts. A count above TL_CPU_MPI_CHUNK_ELEMS (INT_MAX, MPI's int counts) is sent in
 * pieces: consecutive slices for allreduce and point-to-point, and for the per-rank collectives a
 * derived type that takes the same slice of every rank's block; a non-blocking op then holds
 * several requests in its slot.
 *
 * comm_dtype. f32 and f64 reduce with MPI_SUM on MPI_FLOAT / MPI_DOUBLE. bf16 and f16 travel
 * as 2-byte integers and reduce with a user-defined, commutative MPI_Op that converts to float,
 * adds and rounds to nearest even (src/half.c); so do the pieces of a chunked reduction of any
 * dtype, since MPI_SUM refuses derived types.
 */
#include "config.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_check.h"
#include "backends/cpu.h"
#include "trainload/backend.h"
#include "trainload/check.h"
#include "trainload/clock.h"
#include "trainload/exec.h"
#include "trainload/half.h"

#include "backends/operands.h"
/* Largest element count passed to one MPI call. Builds may lower it to exercise the chunked
 * paths with small messages. */
#ifndef TL_CPU_MPI_CHUNK_ELEMS
#define TL_CPU_MPI_CHUNK_ELEMS INT_MAX
#endif
/* A request slot: the MPI requests of the op started in it. */
struct slot {
	MPI_Request *reqs;
	int n;
	const struct tl_op *op;
};

struct cpu {
	const struct tl_plan *plan;
	struct operands o; /* where every op's operands lie, and the regions */
	bool f64;
	MPI_Datatype type; /* one comm_dtype element */
	MPI_Op sum;        /* for whole-element counts: MPI_SUM where MPI knows the type */
	MPI_Op user_sum;   /* the user-defined sum, for bf16/f16 and for derived types */
	bool user_sum_made;
	MPI_Comm comm[TL_GRID_GROUPS]; /* [TL_GROUP_WORLD]: the world duplicate, for sends */
	struct slot *slots;
	MPI_Request *reqs; /* every slot's requests, one allocation */
	uint64_t index[TL_GRID_GROUPS], size[TL_GRID_GROUPS]; /* this rank in each group */
};

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static int world_rank(void)
{
	int rank = -1;

	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	return rank;
}

/* ---- user-defined reductions ---- */

/* MPI passes either the element type itself or a chunk's derived type: size / element bytes
 * contiguous elements at the start of each extent. */
static void user_sum(void *in, void *inout, const int *len, const MPI_Datatype *type, int dtype)
{
	MPI_Count size = 0;
	MPI_Aint lb = 0, extent = 0;
	size_t elem = tl_dtype_bytes(dtype);

	MPI_Type_size_x(*type, &size);
	MPI_Type_get_extent(*type, &lb, &extent);
	if ((MPI_Aint)size == extent) {
		tl_dtype_sum(in, inout, dtype, (size_t)*len * (size_t)size / elem);
		return;
	}
	for (size_t i = 0; i < (size_t)*len; i++)
		tl_dtype_sum((char *)in + i * (size_t)extent, (char *)inout + i * (size_t)extent,
			     dtype, (size_t)size / elem);
}

static void sum_f32(void *in, void *inout, int *len, MPI_Datatype *type)
{
	user_sum(in, inout, len, type, TL_DTYPE_F32);
}

static void sum_f64(void *in, void *inout, int *len, MPI_Datatype *type)
{
	user_sum(in, inout, len, type, TL_DTYPE_F64);
}

static void sum_bf16(void *in, void *inout, int *len, MPI_Datatype *type)
{
	user_sum(in, inout, len, type, TL_DTYPE_BF16);
}

static void sum_f16(void *in, void *inout, int *len, MPI_Datatype *type)
{
	user_sum(in, inout, len, type, TL_DTYPE_F16);
}

static int make_types(struct cpu *cpu)
{
	MPI_User_function *fn;

	switch (cpu->o.comm_dtype) {
	case TL_DTYPE_F64:
		cpu->type = MPI_DOUBLE;
		fn = sum_f64;
		break;
	case TL_DTYPE_BF16:
		cpu->type = MPI_UINT16_T;
		fn = sum_bf16;
		break;
	case TL_DTYPE_F16:
		cpu->type = MPI_UINT16_T;
		fn = sum_f16;
		break;
	default:
		cpu->type = MPI_FLOAT;
		fn = sum_f32;
		break;
	}
	TL_MPI_CHECK(MPI_Op_create(fn, 1, &cpu->user_sum));
	cpu->user_sum_made = true;
	cpu->sum = cpu->o.comm_dtype == TL_DTYPE_F32 || cpu->o.comm_dtype == TL_DTYPE_F64
			   ? MPI_SUM
			   : cpu->user_sum;
	return 0;
}

int tl_cpu_sum_op(int dtype, MPI_Datatype *type, MPI_Op *op)
{
	static MPI_User_function *const fns[] = { [TL_DTYPE_F32] = sum_f32,
						   [TL_DTYPE_F64] = sum_f64,
						   [TL_DTYPE_BF16] = sum_bf16,
						   [TL_DTYPE_F16] = sum_f16 };

	if (dtype < TL_DTYPE_F32 || dtype > TL_DTYPE_F16)
		return TL_EINPUT;
	*type = dtype == TL_DTYPE_F64	? MPI_DOUBLE
		: dtype == TL_DTYPE_F32 ? MPI_FLOAT
					: MPI_UINT16_T;
	TL_MPI_CHECK(MPI_Op_create(fns[dtype], 1, op));
	return 0;
}

int tl_cpu_group_comm(const struct tl_grid *grid, uint64_t rank, int group, MPI_Comm parent,
		      MPI_Comm *out)
{
	uint64_t first = tl_grid_group_member(grid, rank, group, 0);
	uint64_t me = tl_grid_group_index(grid, rank, group);

	TL_MPI_CHECK(MPI_Comm_split(parent, (int)first, (int)me, out));
	TL_MPI_CHECK(MPI_Comm_set_errhandler(*out, MPI_ERRORS_RETURN));
	return 0;
}

/* ---- communicators ---- */

static int make_comms(struct cpu *cpu, const struct tl_grid *grid, const struct tl_plan *plan)
{
	static const int groups[] = { TL_GROUP_TP, TL_GROUP_CP, TL_GROUP_DP,
				      TL_GROUP_PP, TL_GROUP_EP, TL_GROUP_EDP };
	int world = 0;

	TL_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &world));
	if ((uint64_t)world != grid->world) {
		fprintf(stderr, "trainload: rank %d: the grid has %llu ranks, MPI %d\n",
			world_rank(), (unsigned long long)grid->world, world);
		return TL_ERUN;
	}
	TL_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &cpu->comm[TL_GROUP_WORLD]));
	TL_MPI_CHECK(MPI_Comm_set_errhandler(cpu->comm[TL_GROUP_WORLD], MPI_ERRORS_RETURN));
	/* Every rank splits for every group, in the same order: MPI_Comm_split is collective. */
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		int g = groups[i], size = 0, index = 0;
		uint64_t me = tl_grid_group_index(grid, plan->rank, g);
		int rc = tl_cpu_group_comm(grid, plan->rank, g, cpu->comm[TL_GROUP_WORLD],
					   &cpu->comm[g]);

		if (rc)
			return rc;
		TL_MPI_CHECK(MPI_Comm_size(cpu->comm[g], &size));
		TL_MPI_CHECK(MPI_Comm_rank(cpu->comm[g], &index));
		cpu->index[g] = me;
		cpu->size[g] = (uint64_t)size;
		if ((uint64_t)size != tl_grid_group_size(grid, g) || (uint64_t)index != me) {
			fprintf(stderr,
				"trainload: rank %d: %s communicator has rank %d of %d, the grid "
				"says %llu of %llu\n",
				world_rank(), tl_grid_group_name(g), index, size,
				(unsigned long long)me,
				(unsigned long long)tl_grid_group_size(grid, g));
			return TL_ERUN;
		}
	}
	return 0;
}

/* ---- request slots ---- */

/* MPI calls an op needs: one, or one per piece of TL_CPU_MPI_CHUNK_ELEMS. */
static int pieces(uint64_t count)
{
	return (int)((count + TL_CPU_MPI_CHUNK_ELEMS - 1) / TL_CPU_MPI_CHUNK_ELEMS);
}

/* A slot per request the plan numbers, with room for every piece of the op started in it; and
 * the pipeline tags checked against this MPI's MPI_TAG_UB. */
static int make_slots(struct cpu *cpu, const struct tl_plan *plan)
{
	int rc = 0, tag_ub = INT_MAX, *attr = NULL, found = 0, nreqs = 0;

	TL_MPI_CHECK(MPI_Comm_get_attr(MPI_COMM_WORLD, MPI_TAG_UB, &attr, &found));
	if (found && attr)
		tag_ub = *attr;
	cpu->slots = calloc((size_t)plan->reqs + 1, sizeof(*cpu->slots));
	if (!cpu->slots)
		return TL_ENOMEM;
	for (size_t i = 0; i < plan->count && !rc; i++) {
		const struct tl_op *op = &plan->ops[i];

		if (!tl_op_is_comm(op->kind))
			continue;
		bool p2p = op->kind == TL_OP_SEND || op->kind == TL_OP_RECV;
		if (p2p && op->tag > tag_ub) {
			fprintf(stderr, "trainload: rank %d: pipeline tag %d exceeds this "
				"MPI's MPI_TAG_UB %d (too many microbatches)\n",
				world_rank(), op->tag, tag_ub);
			rc = TL_ERUN;
		}
		if (op->nonblocking && op->req >= 0 && op->req < plan->reqs) {
			cpu->slots[op->req].n = pieces(cpu->o.ops[i].count);
			nreqs += cpu->slots[op->req].n;
		} else if (op->nonblocking) {
			rc = TL_ERUN;
		}
	}
	if (rc)
		return rc;
	cpu->reqs = malloc(((size_t)nreqs + 1) * sizeof(*cpu->reqs));
	if (!cpu->reqs)
		return TL_ENOMEM;
	for (int s = 0, next = 0; s < plan->reqs; s++) {
		cpu->slots[s].reqs = cpu->reqs + next;
		for (int k = 0; k < cpu->slots[s].n; k++)
			cpu->slots[s].reqs[k] = MPI_REQUEST_NULL;
		next += cpu->slots[s].n;
	}
	return 0;
}

/* ---- allocation ---- */

static int allocate(struct cpu *cpu)
{
	for (int i = 0; i < R_COUNT; i++) {
		struct region *r = &cpu->o.r[i];
		void *p = NULL;

		if (!r->size)
			continue;
		if (r->size > SIZE_MAX || posix_memalign(&p, 64, (size_t)r->size)) {
			char what[96];
			snprintf(what, sizeof(what), "posix_memalign(%s buffer, %llu bytes)",
				 tl_region_names[i], (unsigned long long)r->size);
			tl_rank_report(what, __FILE__, __LINE__, "out of memory");
			return TL_ENOMEM;
		}
		r->base = p;
		/* Write every page, so that the memory is the rank's from the start (and first
		 * touched by this rank's thread, on its NUMA node). Weights, GEMM inputs and
		 * send buffers get small finite values; the rest zeros, which stay small
		 * whatever is summed into them. */
		int dtype = tl_operands_fill_dtype(&cpu->o, i);
		if (dtype == TL_DTYPE_SAME)
			memset(p, 0, (size_t)r->size);
		else
			tl_dtype_fill(p, dtype, 1e-3, (size_t)(r->size / tl_dtype_bytes(dtype)));
	}
	return 0;
}

static int cpu_init(struct tl_backend *be, const struct tl_job *job, const struct tl_model *model,
		    const struct tl_grid *grid, const struct tl_plan *plan)
{
	struct cpu *cpu = calloc(1, sizeof(*cpu));
	int rc;

	if (!cpu)
		return TL_ENOMEM;
	be->priv = cpu;
	for (int g = 0; g < TL_GRID_GROUPS; g++)
		cpu->comm[g] = MPI_COMM_NULL;
	cpu->plan = plan;
	cpu->f64 = job->compute_dtype == TL_DTYPE_F64;
	if (job->compute_dtype != TL_DTYPE_F32 && job->compute_dtype != TL_DTYPE_F64)
		return TL_ERUN; /* tl_job_resolve refuses these for the cpu backend */
	rc = tl_operands_plan(&cpu->o, job, model, grid, plan);
	if (!rc)
		rc = make_types(cpu);
	if (!rc)
		rc = make_comms(cpu, grid, plan);
	if (!rc)
		rc = make_slots(cpu, plan);
	if (!rc)
		rc = allocate(cpu);
	return rc;
}


/* ---- compute ---- */

static int cpu_gemm(struct tl_backend *be, const struct tl_op *op, uint64_t row_begin,
		    uint64_t row_end)
{
	struct cpu *cpu = be->priv;
	const struct operand *co = &cpu->o.ops[op - cpu->plan->ops];
	const struct tl_gemm *g = &op->gemm;
	uint64_t elem = cpu->o.elem;

	if (row_end <= row_begin || row_end > g->m)
		return row_end <= g->m ? 0 : TL_ERUN;
	int m = (int)(row_end - row_begin), n = (int)g->n, k = (int)g->k;
	int lda = op->trans_a ? (int)g->m : k, ldb = op->trans_b ? k : n, ldc = n;
	enum CBLAS_TRANSPOSE ta = op->trans_a ? CblasTrans : CblasNoTrans;
	enum CBLAS_TRANSPOSE tb = op->trans_b ? CblasTrans : CblasNoTrans;
	char *a = tl_operands_at(&cpu->o, &co->x), *b = tl_operands_at(&cpu->o, &co->y), *c = tl_operands_at(&cpu->o, &co->z);
	uint64_t a_step = g->m * g->k * elem, b_step = g->k * g->n * elem,
		 c_step = g->m * g->n * elem;

	/* Rows of C, and of op(A), start row_begin rows in; A stored transposed (k×m) starts
	 * row_begin columns in. */
	a += (op->trans_a ? row_begin : row_begin * (uint64_t)lda) * elem;
	c += row_begin * (uint64_t)ldc * elem;
	for (uint64_t i = 0; i < g->batch; i++) {
		if (cpu->f64)
			cblas_dgemm(CblasRowMajor, ta, tb, m, n, k, 1.0, (const double *)a, lda,
				    (const double *)b, ldb, 0.0, (double *)c, ldc);
		else
			cblas_sgemm(CblasRowMajor, ta, tb, m, n, k, 1.0f, (const float *)a, lda,
				    (const float *)b, ldb, 0.0f, (float *)c, ldc);
		a += a_step;
		b += b_step;
		c += c_step;
	}
	return 0;
}

static void copy_host(void *ctx, char *dst, const char *src, uint64_t len)
{
	(void)ctx;
	memcpy(dst, src, (size_t)len);
}

static int cpu_pass(struct tl_backend *be, const struct tl_op *op)
{
	struct cpu *cpu = be->priv;

	if (op->kind == TL_OP_ELEMENTWISE)
		tl_operands_stream(&cpu->o.r[R_ACT], op->bytes, copy_host, NULL);
	else /* the optimizer: all its bytes, through its state (wrapping where they exceed it) */
		tl_operands_stream(&cpu->o.r[cpu->o.lean ? R_ACT : R_OPTIM], op->bytes, copy_host,
				   NULL);
	return 0;
}

/* ---- communication ---- */

static void convert(struct cpu *cpu, const struct span *to, int to_dtype, const struct span *from,
		    int from_dtype)
{
	tl_dtype_convert(tl_operands_at(&cpu->o, to), to_dtype, tl_operands_at(&cpu->o, from), from_dtype,
			 (size_t)(to->len / tl_dtype_bytes(to_dtype)));
}

/* A derived type for one piece of a per-rank block: cnt elements, one block (per elements) to
 * the next, so that one call moves the same slice of every rank's block. */
static int piece_type(struct cpu *cpu, int cnt, uint64_t per, MPI_Datatype *type)
{
	MPI_Datatype run;

	TL_MPI_CHECK(MPI_Type_contiguous(cnt, cpu->type, &run));
	TL_MPI_CHECK(MPI_Type_create_resized(run, 0, (MPI_Aint)(per * cpu->o.comm_elem), type));
	MPI_Type_free(&run);
	TL_MPI_CHECK(MPI_Type_commit(type));
	return 0;
}

/* One MPI call of op on elements [done, done + cnt) (of each rank's block); blocking when req
 * is NULL. */
static int call(struct cpu *cpu, const struct tl_op *op, char *in, char *out, uint64_t done,
		int cnt, MPI_Request *req)
{
	const struct operand *co = &cpu->o.ops[op - cpu->plan->ops];
	MPI_Comm comm = cpu->comm[op->group];
	MPI_Datatype type = cpu->type, whole = cpu->type;
	MPI_Op sum = cpu->sum;
	uint64_t off = done * cpu->o.comm_elem;
	int count = cnt, rc;
	bool chunked = co->count > TL_CPU_MPI_CHUNK_ELEMS;

	switch (op->kind) {
	case TL_OP_ALLREDUCE: {
		void *src = in == out ? MPI_IN_PLACE : in + off;
		if (req)
			TL_MPI_CHECK(MPI_Iallreduce(src, out + off, cnt, type, sum, comm, req));
		else
			TL_MPI_CHECK(MPI_Allreduce(src, out + off, cnt, type, sum, comm));
		return 0;
	}
	case TL_OP_SEND:
		comm = cpu->comm[TL_GROUP_WORLD];
		if (req)
			TL_MPI_CHECK(MPI_Isend(in + off, cnt, type, (int)op->peer, op->tag, comm,
					       req));
		else
			TL_MPI_CHECK(MPI_Send(in + off, cnt, type, (int)op->peer, op->tag, comm));
		return 0;
	case TL_OP_RECV:
		comm = cpu->comm[TL_GROUP_WORLD];
		if (req)
			TL_MPI_CHECK(MPI_Irecv(out + off, cnt, type, (int)op->peer, op->tag, comm,
					       req));
		else
			TL_MPI_CHECK(MPI_Recv(out + off, cnt, type, (int)op->peer, op->tag, comm,
					      MPI_STATUS_IGNORE));
		return 0;
	default:
		break;
	}
	/* Per-rank blocks: a piece is a slice of each, through a derived type (which MPI_SUM
	 * refuses, hence the user-defined sum). */
	if (chunked) {
		rc = piece_type(cpu, cnt, co->count, &whole);
		if (rc)
			return rc;
		count = 1;
		sum = cpu->user_sum;
	}
	const char *what;
	switch (op->kind) {
	case TL_OP_REDUCE_SCATTER:
		what = req ? "MPI_Ireduce_scatter_block" : "MPI_Reduce_scatter_block";
		rc = req ? MPI_Ireduce_scatter_block(in + off, out + off, count, whole, sum, comm,
						     req)
			 : MPI_Reduce_scatter_block(in + off, out + off, count, whole, sum, comm);
		break;
	case TL_OP_ALLGATHER:
		what = req ? "MPI_Iallgather" : "MPI_Allgather";
		rc = req ? MPI_Iallgather(in + off, cnt, type, out + off, count, whole, comm, req)
			 : MPI_Allgather(in + off, cnt, type, out + off, count, whole, comm);
		break;
	default: /* TL_OP_ALLTOALL */
		what = req ? "MPI_Ialltoall" : "MPI_Alltoall";
		rc = req ? MPI_Ialltoall(in + off, count, whole, out + off, count, whole, comm, req)
			 : MPI_Alltoall(in + off, count, whole, out + off, count, whole, comm);
		break;
	}
	/* A type may be freed while a non-blocking call that uses it is under way. */
	if (chunked)
		MPI_Type_free(&whole);
	if (rc != MPI_SUCCESS) {
		tl_mpi_report(rc, what, __FILE__, __LINE__);
		return TL_ERUN;
	}
	return 0;
}

/* Issue an op: blocking when reqs is NULL, else one request per piece into reqs. */
static int issue(struct cpu *cpu, const struct tl_op *op, MPI_Request *reqs)
{
	const struct operand *co = &cpu->o.ops[op - cpu->plan->ops];
	char *in = tl_operands_at(&cpu->o, &co->x), *out = tl_operands_at(&cpu->o, &co->y);
	int n = 0;

	if (co->conv == CONV_BEFORE)
		convert(cpu, &co->x, cpu->o.comm_dtype, &co->z, cpu->o.compute_dtype);
	for (uint64_t done = 0; done < co->count; n++) {
		int cnt = (int)min_u64(co->count - done, TL_CPU_MPI_CHUNK_ELEMS);
		int rc = call(cpu, op, in, out, done, cnt, reqs ? &reqs[n] : NULL);
		if (rc)
			return rc;
		done += (uint64_t)cnt;
	}
	return 0;
}

/* What an op does once its data has arrived: the gathered weights into compute_dtype. */
static void finish(struct cpu *cpu, const struct tl_op *op)
{
	const struct operand *co = &cpu->o.ops[op - cpu->plan->ops];

	if (co->conv == CONV_AFTER)
		convert(cpu, &co->z, cpu->o.compute_dtype, &co->y, cpu->o.comm_dtype);
}

static int cpu_coll_run(struct tl_backend *be, const struct tl_op *op)
{
	struct cpu *cpu = be->priv;
	int rc = issue(cpu, op, NULL);

	if (!rc)
		finish(cpu, op);
	return rc;
}

static int cpu_coll_start(struct tl_backend *be, const struct tl_op *op)
{
	struct cpu *cpu = be->priv;

	if (op->req < 0 || op->req >= cpu->plan->reqs)
		return TL_ERUN;
	cpu->slots[op->req].op = op;
	return issue(cpu, op, cpu->slots[op->req].reqs);
}

static int cpu_coll_test(struct tl_backend *be, int req, int *done)
{
	struct cpu *cpu = be->priv;
	struct slot *s = &cpu->slots[req];

	*done = 1;
	if (s->n)
		TL_MPI_CHECK(MPI_Testall(s->n, s->reqs, done, MPI_STATUSES_IGNORE));
	if (*done && s->op) {
		finish(cpu, s->op);
		s->op = NULL;
	}
	return 0;
}

static int cpu_coll_wait(struct tl_backend *be, int req)
{
	struct cpu *cpu = be->priv;
	struct slot *s = &cpu->slots[req];

	if (s->n)
		TL_MPI_CHECK(MPI_Waitall(s->n, s->reqs, MPI_STATUSES_IGNORE));
	if (s->op) {
		finish(cpu, s->op);
		s->op = NULL;
	}
	return 0;
}

/* ---- checking ---- */

/* The op as the check sees it: the sweep's op of the same kind, on this rank's group. Pipeline
 * messages are a sendrecv between world ranks. */
static struct tl_check checked(const struct cpu *cpu, const struct tl_op *op, uint64_t step)
{
	static const enum tl_sweep_op as[TL_OP_KINDS] = {
		[TL_OP_ALLREDUCE] = TL_SWEEP_ALLREDUCE, [TL_OP_REDUCE_SCATTER] = TL_SWEEP_REDUCE_SCATTER,
		[TL_OP_ALLGATHER] = TL_SWEEP_ALLGATHER, [TL_OP_ALLTOALL] = TL_SWEEP_ALLTOALL,
		[TL_OP_SEND] = TL_SWEEP_SENDRECV,	[TL_OP_RECV] = TL_SWEEP_SENDRECV,
	};
	const struct operand *co = &cpu->o.ops[op - cpu->plan->ops];
	bool p2p = op->kind == TL_OP_SEND || op->kind == TL_OP_RECV;
	struct tl_check c = { .op = as[op->kind], .it = step, .dtype = cpu->o.comm_dtype,
			      .n = p2p ? 2 : cpu->size[op->group],
			      .me = p2p ? cpu->plan->rank : cpu->index[op->group],
			      .from = (uint64_t)op->peer, .in_place = co->x.region == co->y.region &&
								 co->x.off == co->y.off };

	tl_sweep_point(c.op, op->bytes, cpu->o.comm_elem, c.n, &c.pt);
	return c;
}

static void cpu_check_fill(struct tl_backend *be, const struct tl_op *op, uint64_t step)
{
	struct cpu *cpu = be->priv;
	const struct operand *co = &cpu->o.ops[op - cpu->plan->ops];
	struct tl_check c = checked(cpu, op, step);

	/* A staged input is converted from the gradients as the op is issued: the pattern goes
	 * there, in compute_dtype (small integers, exact in every dtype). */
	if (co->conv == CONV_BEFORE) {
		struct tl_check src = c;
		src.dtype = cpu->o.compute_dtype;
		src.in_place = false;
		tl_check_fill(&src, tl_operands_at(&cpu->o, &co->z), NULL);
	} else {
		tl_check_fill(&c, op->kind == TL_OP_RECV ? NULL : tl_operands_at(&cpu->o, &co->x), NULL);
	}
	if (op->kind != TL_OP_SEND)
		tl_check_fill(&(struct tl_check){ .op = c.op, .pt = c.pt, .n = c.n, .me = c.me,
						  .dtype = c.dtype, .in_place = c.in_place },
			      NULL, tl_operands_at(&cpu->o, &co->y));
}

static uint64_t cpu_check_verify(struct tl_backend *be, const struct tl_op *op, uint64_t step,
				 struct tl_check_miss *miss)
{
	struct cpu *cpu = be->priv;
	const struct operand *co = &cpu->o.ops[op - cpu->plan->ops];
	struct tl_check c = checked(cpu, op, step);

	return tl_check_verify(&c, tl_operands_at(&cpu->o, &co->y), miss);
}

/* ---- calibration ---- */

static double timed_gemm(const struct cpu *cpu, int n, const void *a, const void *b, void *c)
{
	double t0 = tl_now_s();

	if (cpu->f64)
		cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n,
			    0.0, c, n);
	else
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n,
			    0.0f, c, n);
	return tl_now_s() - t0;
}

/*
 * The peak GEMM rate: a square n×n×n GEMM in compute_dtype on the rank's BLAS threads, best of
 * three runs after a warm-up. One core of a current x86 CPU with AVX2 or AVX-512 does some
 * 50-150 GFLOP/s in f32 (half that in f64), so n = 2048 times the cube root of the threads
 * (1600 for f64) takes about 0.1-0.3 s. If the warm-up falls outside 0.1-0.3 s, n is scaled
 * once so that a run takes about 0.2 s (between 256 and 8192, so the buffers stay below
 * 1.6 GB) and warmed up again. The buffers are the calibration's own, freed before it returns.
 */
static int cpu_calibrate(struct tl_backend *be, double *flops_per_s)
{
	struct cpu *cpu = be->priv;
	int threads = openblas_get_num_threads();
	double t, best = 0;
	int n = (int)((cpu->f64 ? 1600 : 2048) * cbrt(threads > 0 ? threads : 1)) / 64 * 64;
	void *a = NULL, *b = NULL, *c = NULL;

	*flops_per_s = 0;
	for (int attempt = 0; attempt < 2; attempt++) {
		size_t bytes = (size_t)n * (size_t)n * cpu->o.elem;
		free(a);
		free(b);
		free(c);
		a = malloc(bytes);
		b = malloc(bytes);
		c = malloc(bytes);
		if (!a || !b || !c) {
			free(a);
			free(b);
			free(c);
			return TL_ENOMEM;
		}
		tl_dtype_fill(a, cpu->o.compute_dtype, 1e-3, (size_t)n * (size_t)n);
		tl_dtype_fill(b, cpu->o.compute_dtype, 1e-3, (size_t)n * (size_t)n);
		memset(c, 0, bytes);
		t = timed_gemm(cpu, n, a, b, c);
		if (attempt || (t >= 0.1 && t <= 0.3))
			break;
		double scaled = n * cbrt(0.2 / (t > 1e-6 ? t : 1e-6));
		n = (int)fmin(fmax(scaled, 256), 8192) / 64 * 64;
	}
	for (int i = 0; i < 3; i++) {
		t = timed_gemm(cpu, n, a, b, c);
		if (t > 0 && 2.0 * n * n * n / t > best)
			best = 2.0 * n * n * n / t;
	}
	free(a);
	free(b);
	free(c);
	*flops_per_s = best;
	return 0;
}

static void cpu_fini(struct tl_backend *be)
{
	struct cpu *cpu = be->priv;

	if (!cpu)
		return;
	for (int g = 0; g < TL_GRID_GROUPS; g++)
		if (cpu->comm[g] != MPI_COMM_NULL)
			MPI_Comm_free(&cpu->comm[g]);
	if (cpu->user_sum_made)
		MPI_Op_free(&cpu->user_sum);
	for (int i = 0; i < R_COUNT; i++)
		free(cpu->o.r[i].base);
	tl_operands_free(&cpu->o);
	free(cpu->slots);
	free(cpu->reqs);
	free(cpu);
	be->priv = NULL;
}

const struct tl_backend_ops tl_backend_cpu = {
	.name = "cpu",
	.init = cpu_init,
	.gemm = cpu_gemm,
	.pass = cpu_pass,
	.coll_run = cpu_coll_run,
	.coll_start = cpu_coll_start,
	.coll_test = cpu_coll_test,
	.coll_wait = cpu_coll_wait,
	.calibrate = cpu_calibrate,
	.check_fill = cpu_check_fill,
	.check_verify = cpu_check_verify,
	.fini = cpu_fini,
};

