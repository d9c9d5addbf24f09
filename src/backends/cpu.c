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
 * pieces: consecutive slices for allreduce, broadcast and point-to-point, and for the per-rank
 * collectives a derived type that takes the same slice of every rank's block; a non-blocking op
 * then holds several requests in its slot (two per piece for a sendrecv).
 *
 * In place (a sweep's in-place calls, the allreduce of gradient buckets), the input is
 * MPI_IN_PLACE and MPI's conventions hold: a reduce_scatter's result starts the buffer, and a
 * broadcast has one buffer, so that its out-of-place calls are the same MPI_Bcast. MPI before 4.0
 * has no non-blocking MPI_Sendrecv_replace: a non-blocking in-place sendrecv runs the blocking
 * one when it is started.
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

#include <mpi.h>

#include "mpi_check.h"
#include "trainload/backend.h"
#include "trainload/check.h"
#include "trainload/clock.h"

#include "backends/cpu.h"
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

/* The one mapping of dtypes to MPI: MPI has no 16-bit float, so bf16 and f16 travel as 2-byte
 * integers and reduce with the user-defined sum. */
static MPI_Datatype mpi_type(int dtype)
{
	switch (dtype) {
	case TL_DTYPE_F64:
		return MPI_DOUBLE;
	case TL_DTYPE_BF16:
	case TL_DTYPE_F16:
		return MPI_UINT16_T;
	default:
		return MPI_FLOAT;
	}
}

static int make_types(struct cpu *cpu)
{
	static MPI_User_function *const fns[] = { [TL_DTYPE_F32] = sum_f32,
						   [TL_DTYPE_F64] = sum_f64,
						   [TL_DTYPE_BF16] = sum_bf16,
						   [TL_DTYPE_F16] = sum_f16 };
	int dtype = cpu->o.comm_dtype;

	if (dtype < TL_DTYPE_F32 || dtype > TL_DTYPE_F16)
		return TL_ERUN;
	cpu->type = mpi_type(dtype);
	TL_MPI_CHECK(MPI_Op_create(fns[dtype], 1, &cpu->user_sum));
	cpu->user_sum_made = true;
	/* MPI's own sum where MPI knows the type: it is exact on the checks' small integers and
	 * what users compare with. */
	cpu->sum = dtype == TL_DTYPE_F32 || dtype == TL_DTYPE_F64 ? MPI_SUM : cpu->user_sum;
	return 0;
}

/* Split parent into the group (TL_GROUP_* or TL_GROUP_EDP) that world rank belongs to, ranked
 * by index in the group, with MPI_ERRORS_RETURN. Collective over parent. */
static int group_comm(const struct tl_grid *grid, uint64_t rank, int group, MPI_Comm parent,
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
	static const int groups[] = { TL_GROUP_TP, TL_GROUP_CP,	 TL_GROUP_DP,  TL_GROUP_PP,
				      TL_GROUP_EP, TL_GROUP_EDP, TL_GROUP_DPCP };
	int world = 0;

	TL_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &world));
	if ((uint64_t)world != grid->world) {
		fprintf(stderr, "trainload: rank %d: the grid has %llu ranks, MPI %d\n",
			world_rank(), (unsigned long long)grid->world, world);
		return TL_ERUN;
	}
	TL_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &cpu->comm[TL_GROUP_WORLD]));
	TL_MPI_CHECK(MPI_Comm_set_errhandler(cpu->comm[TL_GROUP_WORLD], MPI_ERRORS_RETURN));
	cpu->index[TL_GROUP_WORLD] = plan->rank;
	cpu->size[TL_GROUP_WORLD] = (uint64_t)world;
	/* Every rank splits for every group, in the same order: MPI_Comm_split is collective. */
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		int g = groups[i], size = 0, index = 0;
		uint64_t me = tl_grid_group_index(grid, plan->rank, g);
		int rc = group_comm(grid, plan->rank, g, cpu->comm[TL_GROUP_WORLD], &cpu->comm[g]);

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

/* MPI requests an op needs: one per piece of TL_CPU_MPI_CHUNK_ELEMS (at least one), two per
 * piece for a sendrecv. */
static int requests(enum tl_op_kind kind, uint64_t count)
{
	int pieces = count ? (int)((count + TL_CPU_MPI_CHUNK_ELEMS - 1) / TL_CPU_MPI_CHUNK_ELEMS) : 1;

	return kind == TL_OP_SENDRECV ? 2 * pieces : pieces;
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
			/* Ops that take turns in a slot: room for the largest. */
			struct slot *sl = &cpu->slots[op->req];
			int n = requests(op->kind, cpu->o.ops[i].count);
			sl->n = n > sl->n ? n : sl->n;
		} else if (op->nonblocking) {
			rc = TL_ERUN;
		}
	}
	if (rc)
		return rc;
	for (int sl = 0; sl < plan->reqs; sl++)
		nreqs += cpu->slots[sl].n;
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

/* ---- what it runs ---- */

/* OpenBLAS computes in f32 and f64 alone. */
static int cpu_check(const struct tl_job *job, struct tl_diag *diag)
{
	if (job->compute_dtype == TL_DTYPE_F32 || job->compute_dtype == TL_DTYPE_F64)
		return 0;
	tl_job_blame(job, "run", "compute_dtype", diag,
		     "compute_dtype %s needs backend = cuda (cpu: f32, f64)",
		     tl_job_enum_name("run", "compute_dtype", job->compute_dtype));
	return TL_EINPUT;
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

/* The regions' sizes, as init would allocate them (with memory = lean too, which reuses
 * buffers but still needs one layer's and the largest op's). */
static int cpu_host_bytes(const struct tl_job *job, const struct tl_model *model,
			  const struct tl_grid *grid, const struct tl_plan *plan, uint64_t *bytes)
{
	struct operands o;
	int rc = tl_operands_plan(&o, job, model, grid, plan, TL_LAYOUT_MPI);

	*bytes = 0;
	for (int i = 0; !rc && i < R_COUNT; i++)
		if (__builtin_add_overflow(*bytes, o.r[i].size, bytes))
			*bytes = UINT64_MAX;
	tl_operands_free(&o);
	return rc;
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
		return TL_ERUN; /* cpu_check refuses these */
	rc = tl_operands_plan(&cpu->o, job, model, grid, plan, TL_LAYOUT_MPI);
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
	tl_dtype_convert(tl_operands_at(&cpu->o, to), to_dtype, tl_operands_at(&cpu->o, from),
			 from_dtype, (size_t)(to->len / tl_dtype_bytes(to_dtype)));
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

/* A blocking call's requests, NULL; else the next free ones of the slot. */
#define NB(k) (req ? &req[k] : NULL)

/*
 * One MPI call of op on elements [done, done + cnt) (of each rank's block); blocking when req is
 * NULL, else its requests go to req[0] (and req[1] for a sendrecv). The one case per kind of
 * the collective table (include/trainload/coll.h).
 */
static int call(struct cpu *cpu, const struct tl_op *op, const struct operand *co, char *in,
		char *out, uint64_t done, int cnt, MPI_Request *req)
{
	MPI_Comm comm = cpu->comm[op->group];
	MPI_Datatype type = cpu->type, whole = cpu->type;
	MPI_Op sum = cpu->sum;
	uint64_t off = done * cpu->o.comm_elem, n = cpu->size[op->group];
	int next = (int)((cpu->index[op->group] + 1) % n);
	int prev = (int)((cpu->index[op->group] + n - 1) % n);
	void *src = co->in_place ? MPI_IN_PLACE : in + off;
	int count = cnt, rc = MPI_SUCCESS;
	bool chunked = co->count > TL_CPU_MPI_CHUNK_ELEMS;
	const char *what = tl_op_kind_name(op->kind);

	if (chunked && (op->kind == TL_OP_REDUCE_SCATTER || op->kind == TL_OP_ALLGATHER ||
			op->kind == TL_OP_ALLTOALL)) {
		/* Per-rank blocks: a piece is a slice of each, through a derived type (which
		 * MPI_SUM refuses, hence the user-defined sum). */
		rc = piece_type(cpu, cnt, co->count, &whole);
		if (rc)
			return rc;
		count = 1;
		sum = cpu->user_sum;
	}
	switch (op->kind) {
	case TL_OP_ALLREDUCE:
		rc = req ? MPI_Iallreduce(src, out + off, cnt, type, sum, comm, req)
			 : MPI_Allreduce(src, out + off, cnt, type, sum, comm);
		break;
	case TL_OP_REDUCE_SCATTER:
		rc = req ? MPI_Ireduce_scatter_block(src, out + off, count, whole, sum, comm, req)
			 : MPI_Reduce_scatter_block(src, out + off, count, whole, sum, comm);
		break;
	case TL_OP_ALLGATHER:
		rc = req ? MPI_Iallgather(src, cnt, type, out + off, count, whole, comm, req)
			 : MPI_Allgather(src, cnt, type, out + off, count, whole, comm);
		break;
	case TL_OP_ALLTOALL:
		rc = req ? MPI_Ialltoall(src, count, whole, out + off, count, whole, comm, req)
			 : MPI_Alltoall(src, count, whole, out + off, count, whole, comm);
		break;
	case TL_OP_BROADCAST:
		rc = req ? MPI_Ibcast(out + off, cnt, type, 0, comm, req)
			 : MPI_Bcast(out + off, cnt, type, 0, comm);
		break;
	case TL_OP_SENDRECV:
		if (co->in_place) {
			rc = MPI_Sendrecv_replace(out + off, cnt, type, next, 0, prev, 0, comm,
						  MPI_STATUS_IGNORE);
			if (req)
				req[0] = req[1] = MPI_REQUEST_NULL;
		} else if (req) {
			rc = MPI_Irecv(out + off, cnt, type, prev, 0, comm, &req[0]);
			if (rc == MPI_SUCCESS)
				rc = MPI_Isend(in + off, cnt, type, next, 0, comm, &req[1]);
		} else {
			rc = MPI_Sendrecv(in + off, cnt, type, next, 0, out + off, cnt, type, prev, 0,
					  comm, MPI_STATUS_IGNORE);
		}
		break;
	case TL_OP_SEND:
		/* Point-to-point messages name a world rank: the world duplicate carries them. */
		comm = cpu->comm[TL_GROUP_WORLD];
		rc = req ? MPI_Isend(in + off, cnt, type, (int)op->peer, op->tag, comm, req)
			 : MPI_Send(in + off, cnt, type, (int)op->peer, op->tag, comm);
		break;
	case TL_OP_RECV:
		comm = cpu->comm[TL_GROUP_WORLD];
		rc = req ? MPI_Irecv(out + off, cnt, type, (int)op->peer, op->tag, comm, req)
			 : MPI_Recv(out + off, cnt, type, (int)op->peer, op->tag, comm,
				    MPI_STATUS_IGNORE);
		break;
	default:
		rc = MPI_ERR_OTHER;
		break;
	}
	/* A type may be freed while a non-blocking call that uses it is under way. */
	if (whole != cpu->type)
		MPI_Type_free(&whole);
	if (rc != MPI_SUCCESS) {
		char call_name[64];
		snprintf(call_name, sizeof(call_name), "MPI %s%s of %d elements", req ? "non-blocking " : "",
			 what, cnt);
		tl_mpi_report(rc, call_name, __FILE__, __LINE__);
		return TL_ERUN;
	}
	return 0;
}

/* Issue op i (its next call): blocking when reqs is NULL, else its requests into reqs. */
static int issue(struct cpu *cpu, const struct tl_op *op, MPI_Request *reqs)
{
	size_t i = (size_t)(op - cpu->plan->ops);
	struct operand *co = &cpu->o.ops[i];
	int per = op->kind == TL_OP_SENDRECV ? 2 : 1, n = 0;
	char *in, *out;

	tl_operands_io(&cpu->o, i, co->calls++, &in, &out);
	if (co->conv == CONV_BEFORE)
		convert(cpu, &co->x, cpu->o.comm_dtype, &co->z, cpu->o.compute_dtype);
	uint64_t done = 0;
	do {
		int cnt = (int)min_u64(co->count - done, TL_CPU_MPI_CHUNK_ELEMS);
		int rc = call(cpu, op, co, in, out, done, cnt, reqs ? &reqs[n] : NULL);
		if (rc)
			return rc;
		done += (uint64_t)cnt;
		n += per;
	} while (done < co->count);
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

/* A slot whose op has completed: the op's finish, and the slot free for the next. */
static void release(struct cpu *cpu, struct slot *s)
{
	if (s->op) {
		finish(cpu, s->op);
		s->op = NULL;
	}
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
		TL_MPI_CHECK(tl_mpi_testall(s->n, s->reqs, done));
	if (*done)
		release(cpu, s);
	return 0;
}

/* The slots' requests lie one after another in cpu->reqs (make_slots): one MPI_Waitall. */
static int cpu_coll_wait_range(struct tl_backend *be, int first, int count)
{
	struct cpu *cpu = be->priv;

	if (first < 0 || count < 1 || first + count > cpu->plan->reqs)
		return TL_ERUN;
	struct slot *a = &cpu->slots[first], *z = &cpu->slots[first + count - 1];
	TL_MPI_CHECK(tl_mpi_waitall((int)(z->reqs + z->n - a->reqs), a->reqs));
	for (struct slot *s = a; s <= z; s++)
		release(cpu, s);
	return 0;
}

static int cpu_coll_wait(struct tl_backend *be, int req)
{
	return cpu_coll_wait_range(be, req, 1);
}

/* ---- checking ---- */

static void cpu_check_fill(struct tl_backend *be, const struct tl_op *op, uint64_t step)
{
	struct cpu *cpu = be->priv;
	struct tl_fill f[2];
	int n = tl_operands_fills(&cpu->o, cpu->plan, (size_t)(op - cpu->plan->ops), step, f);

	for (int k = 0; k < n; k++)
		tl_check_fill(&f[k].c, f[k].input ? f[k].at : NULL, f[k].input ? NULL : f[k].at);
}

static uint64_t cpu_check_verify(struct tl_backend *be, const struct tl_op *op, uint64_t step,
				 struct tl_check_miss *miss)
{
	struct cpu *cpu = be->priv;
	size_t i = (size_t)(op - cpu->plan->ops);
	struct tl_check c = tl_operands_check(&cpu->o, cpu->plan, i, step);
	char *in, *out;

	tl_operands_io(&cpu->o, i, cpu->o.ops[i].calls - 1, &in, &out);
	return tl_check_verify(&c, out, miss);
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

static void cpu_hw_peak(struct tl_backend *be, struct tl_hw_peak *out)
{
	const struct cpu *cpu = be->priv;
	int threads = openblas_get_num_threads();

	tl_cpu_peak(threads > 0 ? threads : 1, cpu->o.compute_dtype, out);
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
	.check = cpu_check,
	.init = cpu_init,
	.host_bytes = cpu_host_bytes,
	.gemm = cpu_gemm,
	.pass = cpu_pass,
	.coll_run = cpu_coll_run,
	.coll_start = cpu_coll_start,
	.coll_test = cpu_coll_test,
	.coll_wait = cpu_coll_wait,
	.coll_wait_range = cpu_coll_wait_range,
	.calibrate = cpu_calibrate,
	.hw_peak = cpu_hw_peak,
	.check_fill = cpu_check_fill,
	.check_verify = cpu_check_verify,
	.fini = cpu_fini,
};

