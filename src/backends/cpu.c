/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The cpu backend: GEMMs through OpenBLAS (cblas_sgemm/dgemm), collectives through MPI.
 *
 * Buffers: activations and other operands come from scratch buffers sized for the largest op and
 * reused; the weights and their gradients live in one region each, of the rank's real parameter
 * count, laid out layer by layer. With memory = full every weight GEMM reads its own weights and
 * every weight-gradient GEMM writes its own gradients, as training does; with memory = lean all
 * layers share one layer's weights (the gradient region stays full size, since the data-parallel
 * allreduce sums all of it).
 */
#include "config.h"

#include <cblas.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mpi_check.h"
#include "trainload/backend.h"

/* Largest element count passed to one MPI call (MPI counts are int). */
#define MPI_CHUNK_ELEMS (INT_MAX / 2)

struct cpu {
	const struct tl_plan *plan;
	bool f64;
	size_t elem;      /* compute element size */
	MPI_Datatype comm_type;
	size_t comm_elem; /* comm element size */
	MPI_Comm comm[TL_GRID_GROUPS];
	void *a, *b, *c;  /* scratch operands */
	void *weights, *grads;
	uint64_t weight_elems;
	uint64_t *weight_off; /* per plan op: offset of its weight operand, in elements */
	void *comm_buf;       /* collective payloads: the gradients, for the dp allreduce */
	uint64_t comm_buf_bytes;
	void *stream_src, *stream_dst; /* memory passes copy from one to the other */
	uint64_t stream_bytes;
	MPI_Request *reqs;    /* one per request slot of the plan */
	int nreqs;
};

static void *alloc_touched(uint64_t bytes, double value, bool f64)
{
	size_t n = bytes ? (size_t)bytes : 1;
	void *p = NULL;

	if (posix_memalign(&p, 64, n))
		return NULL;
	/* Small, finite values: no denormals, no overflow, whatever the GEMMs compute. */
	if (f64)
		for (size_t i = 0; i < n / sizeof(double); i++)
			((double *)p)[i] = value;
	else
		for (size_t i = 0; i < n / sizeof(float); i++)
			((float *)p)[i] = (float)value;
	return p;
}

/* Weight offsets: each (layer, GEMM name) gets its own k×n block, in order of first use. */
static int assign_weights(struct cpu *cpu, const struct tl_plan *plan, bool lean)
{
	struct key {
		int layer;
		const char *name;
		uint64_t off;
	} *keys = calloc(plan->count, sizeof(*keys));
	size_t nkeys = 0;
	uint64_t cursor = 0;

	cpu->weight_off = calloc(plan->count ? plan->count : 1, sizeof(*cpu->weight_off));
	if (!keys || !cpu->weight_off) {
		free(keys);
		return TL_ENOMEM;
	}
	for (size_t i = 0; i < plan->count; i++) {
		const struct tl_op *op = &plan->ops[i];
		if (op->kind != TL_OP_GEMM || !op->gemm.weight)
			continue;
		/* Lean: every layer uses layer 0's weights. */
		int layer = lean && op->layer >= 0 ? 0 : op->layer;
		size_t k;
		for (k = 0; k < nkeys; k++)
			if (keys[k].layer == layer && !strcmp(keys[k].name, op->gemm.name))
				break;
		if (k == nkeys) {
			/* The forward shape's B is k×n; a backward op's is derived from it. */
			uint64_t block = op->pass == TL_GEMM_GRAD_B ? op->gemm.m * op->gemm.n
				       : op->pass == TL_GEMM_GRAD_A ? op->gemm.n * op->gemm.k
								    : op->gemm.k * op->gemm.n;
			keys[nkeys++] = (struct key){ layer, op->gemm.name, cursor };
			cursor += block;
		}
		cpu->weight_off[i] = keys[k].off;
	}
	cpu->weight_elems = cursor;
	free(keys);
	return 0;
}

static int cpu_init(struct tl_backend *be, const struct tl_job *job, const struct tl_model *model,
		    const struct tl_grid *grid, const struct tl_plan *plan)
{
	struct cpu *cpu = calloc(1, sizeof(*cpu));
	uint64_t a = 0, b = 0, c = 0;
	int rc;

	(void)model;
	(void)grid;
	if (!cpu)
		return TL_ENOMEM;
	be->priv = cpu;
	cpu->plan = plan;
	cpu->f64 = job->compute_dtype == TL_DTYPE_F64;
	cpu->elem = cpu->f64 ? sizeof(double) : sizeof(float);
	cpu->comm_type = job->comm_dtype == TL_DTYPE_F64 ? MPI_DOUBLE : MPI_FLOAT;
	cpu->comm_elem = job->comm_dtype == TL_DTYPE_F64 ? sizeof(double) : sizeof(float);

	for (int g = 0; g < TL_GRID_GROUPS; g++)
		cpu->comm[g] = MPI_COMM_NULL;
	cpu->nreqs = plan->reqs;
	cpu->reqs = malloc(((size_t)plan->reqs + 1) * sizeof(*cpu->reqs));
	if (!cpu->reqs)
		return TL_ENOMEM;
	for (int r = 0; r < cpu->nreqs; r++)
		cpu->reqs[r] = MPI_REQUEST_NULL;
	/* This version runs data parallelism only: the dp group is the world. */
	for (int g = 0; g < TL_GRID_GROUPS; g++) {
		TL_MPI_CHECK(MPI_Comm_dup(MPI_COMM_WORLD, &cpu->comm[g]));
		TL_MPI_CHECK(MPI_Comm_set_errhandler(cpu->comm[g], MPI_ERRORS_RETURN));
	}

	for (size_t i = 0; i < plan->count; i++) {
		const struct tl_op *op = &plan->ops[i];
		if (op->kind == TL_OP_GEMM) {
			const struct tl_gemm *g = &op->gemm;
			uint64_t ab = g->m * g->k * g->batch, bb = g->k * g->n * g->batch,
				 cb = g->m * g->n * g->batch;
			a = ab > a ? ab : a;
			b = bb > b ? bb : b;
			c = cb > c ? cb : c;
		} else if (op->kind == TL_OP_ELEMENTWISE || op->kind == TL_OP_OPTIMIZER) {
			if (op->bytes / 2 > cpu->stream_bytes)
				cpu->stream_bytes = op->bytes / 2;
		} else if (op->offset + op->bytes > cpu->comm_buf_bytes) {
			cpu->comm_buf_bytes = op->offset + op->bytes;
		}
	}
	rc = assign_weights(cpu, plan, job->memory == TL_MEMORY_LEAN);
	if (rc)
		return rc;
	cpu->a = alloc_touched(a * cpu->elem, 1e-3, cpu->f64);
	cpu->b = alloc_touched(b * cpu->elem, 1e-3, cpu->f64);
	cpu->c = alloc_touched(c * cpu->elem, 0.0, cpu->f64);
	cpu->weights = alloc_touched(cpu->weight_elems * cpu->elem, 1e-3, cpu->f64);
	/* The gradients the GEMMs write are the ones the data-parallel allreduce sums: one region,
	 * as large as the larger of the two. */
	uint64_t grad_bytes = cpu->weight_elems * cpu->elem;
	if (cpu->comm_buf_bytes > grad_bytes)
		grad_bytes = cpu->comm_buf_bytes;
	cpu->grads = alloc_touched(grad_bytes, 1e-3, cpu->f64);
	cpu->comm_buf = cpu->grads;
	cpu->stream_src = alloc_touched(cpu->stream_bytes, 1e-3, false);
	cpu->stream_dst = alloc_touched(cpu->stream_bytes, 0.0, false);
	if (!cpu->a || !cpu->b || !cpu->c || !cpu->weights || !cpu->grads || !cpu->stream_src ||
	    !cpu->stream_dst)
		return TL_ENOMEM;
	return 0;
}

static int cpu_gemm(struct tl_backend *be, const struct tl_op *op, uint64_t row_begin,
		    uint64_t row_end)
{
	struct cpu *cpu = be->priv;
	const struct tl_gemm *g = &op->gemm;
	size_t idx = (size_t)(op - cpu->plan->ops);
	int m = (int)(row_end - row_begin), n = (int)g->n, k = (int)g->k;
	int lda = op->trans_a ? (int)g->m : k, ldb = op->trans_b ? k : n, ldc = n;
	char *a = cpu->a, *b = cpu->b, *c = cpu->c;
	size_t a_step = (size_t)g->m * g->k * cpu->elem, b_step = (size_t)g->k * g->n * cpu->elem,
	       c_step = (size_t)g->m * g->n * cpu->elem;

	if (g->weight) {
		char *w = (char *)cpu->weights + cpu->weight_off[idx] * cpu->elem;
		char *dw = (char *)cpu->grads + cpu->weight_off[idx] * cpu->elem;
		/* Forward and input gradient read the weights; the weight gradient writes its
		 * gradient block. */
		if (op->pass == TL_GEMM_GRAD_B)
			c = dw;
		else
			b = w;
	}
	/* Rows of C and of op(A) start row_begin rows (or, transposed, columns) in. */
	a += (op->trans_a ? row_begin : row_begin * (uint64_t)lda) * cpu->elem;
	c += row_begin * (uint64_t)ldc * cpu->elem;
	for (uint64_t i = 0; i < g->batch; i++) {
		if (cpu->f64)
			cblas_dgemm(CblasRowMajor, op->trans_a ? CblasTrans : CblasNoTrans,
				    op->trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0,
				    (const double *)a, lda, (const double *)b, ldb, 0.0, (double *)c,
				    ldc);
		else
			cblas_sgemm(CblasRowMajor, op->trans_a ? CblasTrans : CblasNoTrans,
				    op->trans_b ? CblasTrans : CblasNoTrans, m, n, k, 1.0f,
				    (const float *)a, lda, (const float *)b, ldb, 0.0f, (float *)c,
				    ldc);
		a += a_step;
		b += g->weight ? 0 : b_step;
		c += g->weight && op->pass == TL_GEMM_GRAD_B ? 0 : c_step;
	}
	return 0;
}

/* A memory pass reads half its bytes and writes the other half. */
static int cpu_pass(struct tl_backend *be, const struct tl_op *op)
{
	struct cpu *cpu = be->priv;

	memcpy(cpu->stream_dst, cpu->stream_src, (size_t)(op->bytes / 2));
	return 0;
}

static int cpu_coll_run(struct tl_backend *be, const struct tl_op *op)
{
	struct cpu *cpu = be->priv;
	uint64_t elems = op->bytes / cpu->comm_elem;
	char *buf = (char *)cpu->comm_buf + op->offset;

	if (op->kind != TL_OP_ALLREDUCE)
		return TL_ERUN; /* the only collective this version plans */
	for (uint64_t done = 0; done < elems;) {
		int count = (int)(elems - done < MPI_CHUNK_ELEMS ? elems - done : MPI_CHUNK_ELEMS);
		TL_MPI_CHECK(MPI_Allreduce(MPI_IN_PLACE, buf + done * cpu->comm_elem, count,
					   cpu->comm_type, MPI_SUM, cpu->comm[op->group]));
		done += (uint64_t)count;
	}
	return 0;
}

static int cpu_coll_start(struct tl_backend *be, const struct tl_op *op)
{
	struct cpu *cpu = be->priv;
	uint64_t elems = op->bytes / cpu->comm_elem;

	if (op->kind != TL_OP_ALLREDUCE || elems > MPI_CHUNK_ELEMS || op->req >= cpu->nreqs)
		return TL_ERUN;
	TL_MPI_CHECK(MPI_Iallreduce(MPI_IN_PLACE, (char *)cpu->comm_buf + op->offset, (int)elems,
				    cpu->comm_type, MPI_SUM, cpu->comm[op->group],
				    &cpu->reqs[op->req]));
	return 0;
}

static int cpu_coll_test(struct tl_backend *be, int req, int *done)
{
	struct cpu *cpu = be->priv;

	TL_MPI_CHECK(MPI_Test(&cpu->reqs[req], done, MPI_STATUS_IGNORE));
	return 0;
}

static int cpu_coll_wait(struct tl_backend *be, int req)
{
	struct cpu *cpu = be->priv;

	TL_MPI_CHECK(MPI_Wait(&cpu->reqs[req], MPI_STATUS_IGNORE));
	return 0;
}

static int cpu_calibrate(struct tl_backend *be, double *flops_per_s)
{
	(void)be;
	*flops_per_s = 0;
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
	free(cpu->a);
	free(cpu->b);
	free(cpu->c);
	free(cpu->weights);
	free(cpu->grads);
	free(cpu->stream_src);
	free(cpu->stream_dst);
	free(cpu->reqs);
	free(cpu->weight_off);
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
	.fini = cpu_fini,
};
