/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The cuda backend: GEMMs through cuBLAS (cublasGemmEx, in compute_dtype bf16, f16 or f32),
 * collectives and pipeline messages through NCCL, memory passes as device-to-device copies. One
 * rank drives one GPU.
 *
 * GPU choice. The ranks of a node (MPI_COMM_TYPE_SHARED) exchange their cpusets (as bound by
 * then, src/run.c) and each takes a GPU by local rank, preferring the one whose PCI slot hwloc
 * places closest to its cores (tl_gpu_assign). The GPU's name, PCI bus id and NUMA node are
 * reported per rank.
 *
 * Streams. GEMMs and memory passes run on one compute stream; each group's collectives on a
 * stream of their own, so that the data-parallel buckets reduce while backward computes. Every
 * call returns once its work is done, as the executor expects: a GEMM or pass records events
 * around itself and waits for the last (the events' time is what device_time reports), a
 * blocking collective waits for its stream, a non-blocking one records an event that coll_test
 * queries and coll_wait waits for. So all compute has finished before a collective is enqueued
 * and no stream has to wait for another.
 *
 * Communicators. A world communicator (ncclCommInitRank, its id broadcast over MPI), and one
 * per group of the grid split from it (ncclCommSplit, coloured by the group's first member,
 * keyed by the index in the group) so that NCCL's rank in a group is the grid's index. Pipeline
 * messages name world ranks: those to a later stage go over the world communicator, those to an
 * earlier stage over a second world-sized one, each on its own stream. NCCL matches a pair's
 * messages in order and runs one communicator's operations in the order they were enqueued, so
 * with one communicator a stage's non-blocking send ahead of a blocking receive from its
 * neighbour, while the neighbour does the same, would wait on each other; by direction, a chain
 * of messages only ever waits on earlier stages' (or, upstream, later stages') messages.
 *
 * Memory. The operands of src/backends/operands.h, each region allocated with cudaMalloc (never
 * managed memory) and filled on the device, so memory = full holds the plan's footprint on the
 * GPU. A plan that does not fit in the GPU's free memory is refused (exit 2) on every rank.
 * comm_dtype other than compute_dtype is converted by a kernel on the collective's stream.
 *
 * Sweeps. A sweep's plan (include/trainload/sweep.h) runs here as any other: each collective of
 * the table with its NCCL call (alltoall and sendrecv as grouped sends and receives), in place
 * where the op says so (NCCL's layout: src/backends/operands.h), rotating among buffer sets.
 *
 * Checking (run.check, sweep.check). The pattern is made on the host (include/trainload/check.h)
 * in a staging buffer and copied to the op's buffers before it is issued; what arrives is
 * copied back and compared. Both copies lie outside the executor's timed calls.
 */
#include "config.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hwloc.h>
#include <hwloc/cudart.h>

#include "backends/cuda.h"
#include "backends/cuda_check.h"
#include "backends/operands.h"
#include "mpi_check.h"
#include "trainload/backend.h"
#include "trainload/check.h"
#include "trainload/clock.h"
#include "trainload/gpu.h"
#include "trainload/peak.h"
#include "trainload/topo.h"

/* The calibration GEMM: n×n×n in compute_dtype (8192³ bf16 takes about 1.5 ms on an H100),
 * timed in runs of TL_CUDA_CALIB_ITERS back to back, best of TL_CUDA_CALIB_RUNS. */
#define TL_CUDA_CALIB_N 8192
#define TL_CUDA_CALIB_ITERS 10
#define TL_CUDA_CALIB_RUNS 3

/* What the GPU must keep free beyond the regions: cuBLAS's workspace, NCCL's buffers for every
 * communicator and the calibration GEMM's operands. A guess on the safe side (NCCL takes tens
 * of MB per communicator and peer). */
#define TL_CUDA_RESERVE_BYTES (UINT64_C(1) << 30)

struct slot {
	cudaEvent_t done; /* recorded on the op's stream after it */
};

struct cuda {
	const struct tl_plan *plan;
	struct tl_grid grid;
	struct operands o;
	struct tl_device info;
	struct tl_cuda_gemm_types gt;
	ncclDataType_t nccl_type;
	cublasHandle_t blas;
	cudaStream_t compute;
	/* Per group; [TL_GROUP_WORLD]: pipeline messages to later stages. */
	ncclComm_t comm[TL_GRID_GROUPS];
	cudaStream_t stream[TL_GRID_GROUPS];
	ncclComm_t up; /* pipeline messages to earlier stages */
	cudaStream_t up_stream;
	cudaEvent_t start, stop; /* around the last GEMM or pass */
	double last_s;
	cudaError_t copy_err; /* the first failed copy of a memory pass */
	struct slot *slots;
	char *stage;      /* checks: host staging of the largest communication buffer */
	uint64_t stage_bytes;
};

static int world_rank(void)
{
	int rank = -1;

	MPI_Comm_rank(MPI_COMM_WORLD, &rank);
	return rank;
}

/* A failed CUDA, cuBLAS or NCCL call: rank, host, call, error and source line (nccl-tests'). */
static void report(const char *call, const char *error, const char *file, int line)
{
	char host[64] = "?";

	gethostname(host, sizeof(host) - 1);
	fprintf(stderr, "trainload: rank %d (%s): %s failed: %s (%s:%d)\n", world_rank(), host,
		call, error, file, line);
}

#define CUDA_CHECK(call)                                                                         \
	do {                                                                                     \
		cudaError_t tl_e_ = (call);                                                      \
		if (tl_e_ != cudaSuccess) {                                                      \
			report(#call, cudaGetErrorString(tl_e_), __FILE__, __LINE__);           \
			return TL_ERUN;                                                          \
		}                                                                                \
	} while (0)

#define CUBLAS_CHECK(call)                                                                       \
	do {                                                                                     \
		cublasStatus_t tl_s_ = (call);                                                   \
		if (tl_s_ != CUBLAS_STATUS_SUCCESS) {                                            \
			report(#call, cublasGetStatusString(tl_s_), __FILE__, __LINE__);         \
			return TL_ERUN;                                                          \
		}                                                                                \
	} while (0)

#define NCCL_CHECK(call)                                                                         \
	do {                                                                                     \
		ncclResult_t tl_r_ = (call);                                                     \
		if (tl_r_ != ncclSuccess) {                                                      \
			report(#call, ncclGetErrorString(tl_r_), __FILE__, __LINE__);            \
			return TL_ERUN;                                                          \
		}                                                                                \
	} while (0)

/* ---- GPU choice ---- */

/* Where a GPU sits: the cpuset of the closest non-I/O object above its PCI device (hwloc's PCI
 * discovery), or, where hwloc sees no PCI devices, the PCI slot's local_cpus from sysfs; its
 * NUMA node when that cpuset lies in one. */
static void locality(hwloc_topology_t hw, int dev, char *list, size_t size, int *numa)
{
	hwloc_bitmap_t set = hwloc_bitmap_alloc(), nodes = hwloc_bitmap_alloc();
	hwloc_obj_t pci = hwloc_cudart_get_device_pcidev(hw, dev);

	*list = '\0';
	*numa = -1;
	if (!set || !nodes)
		goto out;
	if (pci) {
		hwloc_obj_t above = hwloc_get_non_io_ancestor_obj(hw, pci);
		if (above && above->cpuset)
			hwloc_bitmap_copy(set, above->cpuset);
	} else if (hwloc_cudart_get_device_cpuset(hw, dev, set)) {
		goto out;
	}
	if (hwloc_bitmap_iszero(set) || hwloc_bitmap_isequal(set, hwloc_topology_get_complete_cpuset(hw)))
		goto out; /* no locality: as close to every core */
	if (hwloc_bitmap_list_snprintf(list, size, set) >= (int)size)
		*list = '\0';
	hwloc_cpuset_to_nodeset(hw, set, nodes);
	if (hwloc_bitmap_weight(nodes) == 1)
		*numa = hwloc_bitmap_first(nodes);
out:
	if (set)
		hwloc_bitmap_free(set);
	if (nodes)
		hwloc_bitmap_free(nodes);
}

/* The GPUs this rank sees and the cpusets of the node's ranks → this rank's GPU, set current. */
static int choose_gpu(struct cuda *cu)
{
	hwloc_topology_t hw = NULL;
	hwloc_bitmap_t mine = NULL;
	MPI_Comm local = MPI_COMM_NULL;
	char *gpu_lists = NULL, *rank_lists = NULL, *bus_ids = NULL;
	const char **gpu_sets = NULL, **rank_sets = NULL;
	int *choice = NULL, *numa = NULL, ngpus = 0, local_rank = 0, local_size = 1, rc = TL_ERUN;
	cudaError_t e = cudaGetDeviceCount(&ngpus);

	if (e != cudaSuccess || ngpus < 1) {
		fprintf(stderr, "trainload: rank %d: backend = cuda, but no GPU is visible (%s)\n",
			world_rank(), e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
		return TL_ERUN;
	}
	if (hwloc_topology_init(&hw) ||
	    hwloc_topology_set_io_types_filter(hw, HWLOC_TYPE_FILTER_KEEP_IMPORTANT) ||
	    hwloc_topology_load(hw)) {
		fprintf(stderr, "trainload: rank %d: hwloc cannot read the topology\n",
			world_rank());
		goto out;
	}
	TL_MPI_CHECK(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL,
					 &local));
	TL_MPI_CHECK(MPI_Comm_rank(local, &local_rank));
	TL_MPI_CHECK(MPI_Comm_size(local, &local_size));
	gpu_lists = calloc((size_t)ngpus, TL_TOPO_LIST_MAX);
	rank_lists = calloc((size_t)local_size, TL_TOPO_LIST_MAX);
	bus_ids = calloc((size_t)local_size, sizeof(cu->info.pci_bus_id));
	gpu_sets = calloc((size_t)ngpus, sizeof(*gpu_sets));
	rank_sets = calloc((size_t)local_size, sizeof(*rank_sets));
	choice = calloc((size_t)local_size, sizeof(*choice));
	numa = calloc((size_t)ngpus, sizeof(*numa));
	mine = hwloc_bitmap_alloc();
	if (!gpu_lists || !rank_lists || !bus_ids || !gpu_sets || !rank_sets || !choice || !numa ||
	    !mine) {
		rc = TL_ENOMEM;
		goto out;
	}
	for (int g = 0; g < ngpus; g++) {
		gpu_sets[g] = gpu_lists + (size_t)g * TL_TOPO_LIST_MAX;
		locality(hw, g, gpu_lists + (size_t)g * TL_TOPO_LIST_MAX, TL_TOPO_LIST_MAX,
			 &numa[g]);
	}
	char own[TL_TOPO_LIST_MAX] = "";
	if (hwloc_get_cpubind(hw, mine, HWLOC_CPUBIND_PROCESS) == 0 &&
	    hwloc_bitmap_list_snprintf(own, sizeof(own), mine) >= (int)sizeof(own))
		own[0] = '\0';
	if (MPI_Allgather(own, TL_TOPO_LIST_MAX, MPI_CHAR, rank_lists, TL_TOPO_LIST_MAX, MPI_CHAR,
			  local) != MPI_SUCCESS)
		goto out;
	for (int r = 0; r < local_size; r++)
		rank_sets[r] = rank_lists + (size_t)r * TL_TOPO_LIST_MAX;
	rc = tl_gpu_assign(gpu_sets, ngpus, rank_sets, local_size, choice);
	if (rc)
		goto out;

	int dev = choice[local_rank];
	struct cudaDeviceProp prop;
	rc = TL_ERUN;
	if (cudaSetDevice(dev) != cudaSuccess || cudaGetDeviceProperties(&prop, dev) != cudaSuccess ||
	    cudaDeviceGetPCIBusId(cu->info.pci_bus_id, sizeof(cu->info.pci_bus_id), dev) !=
		    cudaSuccess) {
		fprintf(stderr, "trainload: rank %d: cannot use GPU %d\n", world_rank(), dev);
		goto out;
	}
	snprintf(cu->info.name, sizeof(cu->info.name), "%.*s", (int)sizeof(cu->info.name) - 1,
		 prop.name);
	cu->info.numa_node = numa[dev];
	cu->info.gpus_visible = ngpus;
	/* Ranks may see one GPU each (a launcher's CUDA_VISIBLE_DEVICES): sharing is judged by
	 * the bus ids the ranks ended on, not by device indices. */
	if (MPI_Allgather(cu->info.pci_bus_id, sizeof(cu->info.pci_bus_id), MPI_CHAR, bus_ids,
			  sizeof(cu->info.pci_bus_id), MPI_CHAR, local) != MPI_SUCCESS)
		goto out;
	for (int r = 0; r < local_rank; r++)
		if (!strcmp(bus_ids + (size_t)r * sizeof(cu->info.pci_bus_id), cu->info.pci_bus_id)) {
			fprintf(stderr, "trainload: rank %d: shares GPU %s with another rank of its "
				"node (more ranks than GPUs)\n", world_rank(), cu->info.pci_bus_id);
			break;
		}
	rc = 0;
out:
	if (local != MPI_COMM_NULL)
		MPI_Comm_free(&local);
	if (mine)
		hwloc_bitmap_free(mine);
	if (hw)
		hwloc_topology_destroy(hw);
	free(gpu_lists);
	free(rank_lists);
	free(bus_ids);
	free(gpu_sets);
	free(rank_sets);
	free(choice);
	free(numa);
	return rc;
}

/* ---- communicators ---- */

static int make_comms(struct cuda *cu, const struct tl_grid *grid, const struct tl_plan *plan)
{
	static const int groups[] = { TL_GROUP_TP, TL_GROUP_CP,	 TL_GROUP_DP,  TL_GROUP_PP,
				      TL_GROUP_EP, TL_GROUP_EDP, TL_GROUP_DPCP };
	ncclUniqueId id;
	int world = 0, rank = world_rank();

	TL_MPI_CHECK(MPI_Comm_size(MPI_COMM_WORLD, &world));
	if ((uint64_t)world != grid->world) {
		fprintf(stderr, "trainload: rank %d: the grid has %llu ranks, MPI %d\n", rank,
			(unsigned long long)grid->world, world);
		return TL_ERUN;
	}
	if (rank == 0)
		NCCL_CHECK(ncclGetUniqueId(&id));
	TL_MPI_CHECK(MPI_Bcast(&id, sizeof(id), MPI_BYTE, 0, MPI_COMM_WORLD));
	NCCL_CHECK(ncclCommInitRank(&cu->comm[TL_GROUP_WORLD], world, id, rank));
	/* Every rank splits for every group, in the same order: ncclCommSplit is collective. */
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		int g = groups[i], size = 0, index = 0;
		uint64_t first = tl_grid_group_member(grid, plan->rank, g, 0);
		uint64_t me = tl_grid_group_index(grid, plan->rank, g);

		NCCL_CHECK(ncclCommSplit(cu->comm[TL_GROUP_WORLD], (int)first, (int)me,
					 &cu->comm[g], NULL));
		NCCL_CHECK(ncclCommCount(cu->comm[g], &size));
		NCCL_CHECK(ncclCommUserRank(cu->comm[g], &index));
		if ((uint64_t)size != tl_grid_group_size(grid, g) || (uint64_t)index != me) {
			fprintf(stderr,
				"trainload: rank %d: %s communicator has rank %d of %d, the grid "
				"says %llu of %llu\n",
				rank, tl_grid_group_name(g), index, size, (unsigned long long)me,
				(unsigned long long)tl_grid_group_size(grid, g));
			return TL_ERUN;
		}
	}
	NCCL_CHECK(ncclCommSplit(cu->comm[TL_GROUP_WORLD], 0, rank, &cu->up, NULL));
	return 0;
}

/* ---- memory ---- */

/* Whether the regions, the calibration's operands and TL_CUDA_RESERVE_BYTES fit in the GPU's
 * free memory, agreed on by every rank; a rank that does not fit says so, naming the key, and
 * all return TL_EINPUT. */
static int check_fit(struct cuda *cu, const struct tl_job *job)
{
	size_t free_b = 0, total_b = 0;
	uint64_t calib = 3 * (uint64_t)TL_CUDA_CALIB_N * TL_CUDA_CALIB_N * cu->o.elem;
	uint64_t need = calib + TL_CUDA_RESERVE_BYTES;
	int too_big, any;

	for (int i = 0; i < R_COUNT; i++)
		need += cu->o.r[i].size;
	CUDA_CHECK(cudaMemGetInfo(&free_b, &total_b));
	too_big = need > free_b;
	TL_MPI_CHECK(MPI_Allreduce(&too_big, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD));
	if (too_big) {
		struct tl_diag diag = { 0 };
		tl_job_blame(job, "run", "memory", &diag,
			     "rank %d needs %.3g GB on GPU %s (%s), which has %.3g GB free of %.3g"
			     "%s",
			     world_rank(), (double)need / 1e9, cu->info.pci_bus_id, cu->info.name,
			     (double)free_b / 1e9, (double)total_b / 1e9,
			     job->memory == TL_MEMORY_FULL
				     ? " (memory = lean reuses buffers and runs in less)"
				     : "");
		tl_diag_print(&diag);
		tl_diag_free(&diag);
	}
	return any ? TL_EINPUT : 0;
}

static int allocate(struct cuda *cu)
{
	for (int i = 0; i < R_COUNT; i++) {
		struct region *r = &cu->o.r[i];
		void *p = NULL;

		if (!r->size)
			continue;
		cudaError_t e = cudaMalloc(&p, (size_t)r->size);
		if (e != cudaSuccess) {
			fprintf(stderr, "trainload: rank %d: cannot allocate the %s buffer (%llu "
				"bytes) on the GPU: %s\n", world_rank(), tl_region_names[i],
				(unsigned long long)r->size, cudaGetErrorString(e));
			return TL_ENOMEM;
		}
		r->base = p;
		/* Weights, GEMM inputs and send buffers get small finite values; the rest zeros,
		 * which stay small whatever is summed into them. */
		int dtype = tl_operands_fill_dtype(&cu->o, i);
		if (dtype == TL_DTYPE_SAME)
			CUDA_CHECK(cudaMemsetAsync(p, 0, (size_t)r->size, cu->compute));
		else
			CUDA_CHECK(tl_cuda_fill(p, dtype, 1e-3, (size_t)(r->size / tl_dtype_bytes(dtype)),
						cu->compute));
	}
	CUDA_CHECK(cudaStreamSynchronize(cu->compute));
	return 0;
}

static int cuda_init(struct tl_backend *be, const struct tl_job *job,
		     const struct tl_model *model, const struct tl_grid *grid,
		     const struct tl_plan *plan)
{
	struct cuda *cu = calloc(1, sizeof(*cu));
	int rc;

	if (!cu)
		return TL_ENOMEM;
	be->priv = cu;
	cu->plan = plan;
	cu->grid = *grid;
	cu->info.numa_node = -1;
	if (tl_cuda_gemm_types(job->compute_dtype, &cu->gt))
		return TL_ERUN; /* tl_cuda_check refuses compute_dtype f64 */
	rc = choose_gpu(cu);
	if (!rc)
		rc = tl_operands_plan(&cu->o, job, model, grid, plan, TL_LAYOUT_NCCL);
	if (!rc && tl_cuda_nccl_type(cu->o.comm_dtype, &cu->nccl_type))
		rc = TL_ERUN;
	/* Checks stage the largest input or output on the host. */
	for (size_t i = 0; !rc && i < plan->count; i++) {
		const struct operand *co = &cu->o.ops[i];
		uint64_t big = co->x.len > co->y.len ? co->x.len : co->y.len;
		if (co->conv == CONV_BEFORE && co->z.len > big)
			big = co->z.len;
		if (big > cu->stage_bytes)
			cu->stage_bytes = big;
	}
	if (!rc && (job->check || (job->has_sweep && job->sweep_check)) && cu->stage_bytes &&
	    !(cu->stage = malloc((size_t)cu->stage_bytes)))
		rc = TL_ENOMEM;
	if (!rc)
		rc = check_fit(cu, job);
	if (rc)
		return rc;
	CUDA_CHECK(cudaStreamCreateWithFlags(&cu->compute, cudaStreamNonBlocking));
	for (int g = 0; g < TL_GRID_GROUPS; g++)
		CUDA_CHECK(cudaStreamCreateWithFlags(&cu->stream[g], cudaStreamNonBlocking));
	CUDA_CHECK(cudaStreamCreateWithFlags(&cu->up_stream, cudaStreamNonBlocking));
	CUDA_CHECK(cudaEventCreate(&cu->start));
	CUDA_CHECK(cudaEventCreate(&cu->stop));
	CUBLAS_CHECK(cublasCreate(&cu->blas));
	CUBLAS_CHECK(cublasSetStream(cu->blas, cu->compute));
	cu->slots = calloc((size_t)plan->reqs + 1, sizeof(*cu->slots));
	if (!cu->slots)
		return TL_ENOMEM;
	for (int s = 0; s < plan->reqs; s++)
		CUDA_CHECK(cudaEventCreateWithFlags(&cu->slots[s].done, cudaEventDisableTiming));
	rc = make_comms(cu, grid, plan);
	if (!rc)
		rc = allocate(cu);
	return rc;
}

/* ---- compute ---- */

/* Wait for the stop event of the work just enqueued on the compute stream; its device time. */
static int finish_timed(struct cuda *cu)
{
	float ms = 0;

	CUDA_CHECK(cudaEventRecord(cu->stop, cu->compute));
	CUDA_CHECK(cudaEventSynchronize(cu->stop));
	CUDA_CHECK(cudaEventElapsedTime(&ms, cu->start, cu->stop));
	cu->last_s = 1e-3 * ms;
	return 0;
}

static int cuda_gemm(struct tl_backend *be, const struct tl_op *op, uint64_t row_begin,
		     uint64_t row_end)
{
	struct cuda *cu = be->priv;
	const struct operand *co = &cu->o.ops[op - cu->plan->ops];
	const struct tl_gemm *g = &op->gemm;
	uint64_t elem = cu->o.elem;
	struct tl_cuda_gemm_call c;
	const float one = 1.0f, zero = 0.0f;

	cu->last_s = 0;
	if (row_end <= row_begin || row_end > g->m)
		return row_end <= g->m ? 0 : TL_ERUN;
	tl_cuda_gemm_call((int)row_begin, (int)row_end, (int)g->m, (int)g->n, (int)g->k,
			  op->trans_a, op->trans_b, &c);
	char *a = tl_operands_at(&cu->o, &co->x) + c.a_off * elem,
	     *b = tl_operands_at(&cu->o, &co->y),
	     *cc = tl_operands_at(&cu->o, &co->z) + c.c_off * elem;

	CUDA_CHECK(cudaEventRecord(cu->start, cu->compute));
	if (g->batch == 1)
		CUBLAS_CHECK(cublasGemmEx(cu->blas, c.op_first, c.op_second, c.m, c.n, c.k, &one, b,
					  cu->gt.ab, c.ld_first, a, cu->gt.ab, c.ld_second, &zero,
					  cc, cu->gt.ab, c.ldc, cu->gt.compute,
					  CUBLAS_GEMM_DEFAULT));
	else
		CUBLAS_CHECK(cublasGemmStridedBatchedEx(
			cu->blas, c.op_first, c.op_second, c.m, c.n, c.k, &one, b, cu->gt.ab,
			c.ld_first, (long long)(g->k * g->n), a, cu->gt.ab, c.ld_second,
			(long long)(g->m * g->k), &zero, cc, cu->gt.ab, c.ldc,
			(long long)(g->m * g->n), (int)g->batch, cu->gt.compute,
			CUBLAS_GEMM_DEFAULT));
	return finish_timed(cu);
}

static void copy_device(void *ctx, char *dst, const char *src, uint64_t len)
{
	struct cuda *cu = ctx;
	cudaError_t e = cudaMemcpyAsync(dst, src, (size_t)len, cudaMemcpyDeviceToDevice,
					cu->compute);

	if (e != cudaSuccess && cu->copy_err == cudaSuccess)
		cu->copy_err = e;
}

static int cuda_pass(struct tl_backend *be, const struct tl_op *op)
{
	struct cuda *cu = be->priv;
	int region = op->kind == TL_OP_ELEMENTWISE || cu->o.lean ? R_ACT : R_OPTIM;

	CUDA_CHECK(cudaEventRecord(cu->start, cu->compute));
	tl_operands_stream(&cu->o.r[region], op->bytes, copy_device, cu);
	CUDA_CHECK(cu->copy_err);
	return finish_timed(cu);
}

static double cuda_device_time(struct tl_backend *be)
{
	const struct cuda *cu = be->priv;

	return cu->last_s;
}

/* ---- communication ---- */

/* Enqueue op's next call on its communicator's stream (*stream), conversions included: the one
 * case per kind of the collective table (include/trainload/coll.h). */
static int enqueue(struct cuda *cu, const struct tl_op *op, cudaStream_t *stream)
{
	size_t i = (size_t)(op - cu->plan->ops);
	struct operand *co = &cu->o.ops[i];
	ncclComm_t comm = cu->comm[op->group];
	cudaStream_t s = cu->stream[op->group];
	size_t n = (size_t)co->count, ce = cu->o.comm_elem;
	ncclDataType_t t = cu->nccl_type;
	char *in, *out;
	int size = 0, me = 0;

	tl_operands_io(&cu->o, i, co->calls++, &in, &out);
	if (op->kind == TL_OP_SEND || op->kind == TL_OP_RECV) {
		/* Messages to a higher world rank (a later pipeline stage, or the next rank of the
		 * context-parallel ring) go over the world communicator, those to a lower one over
		 * `up`: both ends agree on it. */
		bool later = (uint64_t)op->peer > cu->plan->rank;
		bool down = op->kind == TL_OP_SEND ? later : !later;
		comm = down ? cu->comm[TL_GROUP_WORLD] : cu->up;
		s = down ? cu->stream[TL_GROUP_WORLD] : cu->up_stream;
	}
	*stream = s;
	if (co->conv == CONV_BEFORE)
		CUDA_CHECK(tl_cuda_convert(in, cu->o.comm_dtype, tl_operands_at(&cu->o, &co->z),
					   cu->o.compute_dtype, (size_t)(co->x.len / ce), s));
	switch (op->kind) {
	case TL_OP_ALLREDUCE:
		NCCL_CHECK(ncclAllReduce(in, out, n, t, ncclSum, comm, s));
		break;
	case TL_OP_REDUCE_SCATTER:
		NCCL_CHECK(ncclReduceScatter(in, out, n, t, ncclSum, comm, s));
		break;
	case TL_OP_ALLGATHER:
		NCCL_CHECK(ncclAllGather(in, out, n, t, comm, s));
		break;
	case TL_OP_BROADCAST:
		NCCL_CHECK(ncclBroadcast(in, out, n, t, 0, comm, s));
		break;
	case TL_OP_ALLTOALL:
		NCCL_CHECK(ncclCommCount(comm, &size));
		NCCL_CHECK(ncclGroupStart());
		for (int p = 0; p < size; p++) {
			NCCL_CHECK(ncclSend(in + (size_t)p * n * ce, n, t, p, comm, s));
			NCCL_CHECK(ncclRecv(out + (size_t)p * n * ce, n, t, p, comm, s));
		}
		NCCL_CHECK(ncclGroupEnd());
		break;
	case TL_OP_SENDRECV:
		NCCL_CHECK(ncclCommCount(comm, &size));
		NCCL_CHECK(ncclCommUserRank(comm, &me));
		NCCL_CHECK(ncclGroupStart());
		NCCL_CHECK(ncclSend(in, n, t, (me + 1) % size, comm, s));
		NCCL_CHECK(ncclRecv(out, n, t, (me + size - 1) % size, comm, s));
		NCCL_CHECK(ncclGroupEnd());
		break;
	case TL_OP_SEND:
		NCCL_CHECK(ncclSend(in, n, t, (int)op->peer, comm, s));
		break;
	default: /* TL_OP_RECV */
		NCCL_CHECK(ncclRecv(out, n, t, (int)op->peer, comm, s));
		break;
	}
	if (co->conv == CONV_AFTER)
		CUDA_CHECK(tl_cuda_convert(tl_operands_at(&cu->o, &co->z), cu->o.compute_dtype, out,
					   cu->o.comm_dtype, (size_t)(co->z.len / cu->o.elem), s));
	return 0;
}

static int cuda_coll_run(struct tl_backend *be, const struct tl_op *op)
{
	struct cuda *cu = be->priv;
	cudaStream_t s;
	int rc = enqueue(cu, op, &s);

	if (rc)
		return rc;
	CUDA_CHECK(cudaStreamSynchronize(s));
	return 0;
}

static int cuda_coll_start(struct tl_backend *be, const struct tl_op *op)
{
	struct cuda *cu = be->priv;
	cudaStream_t s;
	int rc;

	if (op->req < 0 || op->req >= cu->plan->reqs)
		return TL_ERUN;
	rc = enqueue(cu, op, &s);
	if (rc)
		return rc;
	CUDA_CHECK(cudaEventRecord(cu->slots[op->req].done, s));
	return 0;
}

static int cuda_coll_test(struct tl_backend *be, int req, int *done)
{
	struct cuda *cu = be->priv;
	cudaError_t e = cudaEventQuery(cu->slots[req].done);

	*done = e == cudaSuccess;
	if (e == cudaErrorNotReady)
		return 0;
	CUDA_CHECK(e);
	return 0;
}

static int cuda_coll_wait(struct tl_backend *be, int req)
{
	struct cuda *cu = be->priv;

	CUDA_CHECK(cudaEventSynchronize(cu->slots[req].done));
	return 0;
}

/* ---- checking ---- */

/* The check's fills, made on the host's staging buffer and copied to the device. */
static void cuda_check_fill(struct tl_backend *be, const struct tl_op *op, uint64_t step)
{
	struct cuda *cu = be->priv;
	struct tl_fill f[2];
	int n = tl_operands_fills(&cu->o, cu->plan, (size_t)(op - cu->plan->ops), step, f);

	for (int k = 0; k < n; k++) {
		tl_check_fill(&f[k].c, f[k].input ? cu->stage : NULL, f[k].input ? NULL : cu->stage);
		if (cudaMemcpy(f[k].at, cu->stage, (size_t)f[k].bytes, cudaMemcpyHostToDevice) !=
		    cudaSuccess)
			return; /* what verify then reads back is wrong, and counted */
	}
}

static uint64_t cuda_check_verify(struct tl_backend *be, const struct tl_op *op, uint64_t step,
				  struct tl_check_miss *miss)
{
	struct cuda *cu = be->priv;
	size_t i = (size_t)(op - cu->plan->ops);
	struct tl_check c = tl_operands_check(&cu->o, cu->plan, i, step);
	uint64_t len = c.c.recv * cu->o.comm_elem;
	char *in, *out;

	tl_operands_io(&cu->o, i, cu->o.ops[i].calls - 1, &in, &out);
	if (len && cudaMemcpy(cu->stage, out, (size_t)len, cudaMemcpyDeviceToHost) != cudaSuccess) {
		*miss = (struct tl_check_miss){ .got = -1, .want = 0 };
		return c.c.recv; /* nothing could be read back: all of it unverified */
	}
	return tl_check_verify(&c, cu->stage, miss);
}

/* ---- calibration ---- */

/*
 * The peak GEMM rate: TL_CUDA_CALIB_N³ in compute_dtype, the best of TL_CUDA_CALIB_RUNS runs of
 * TL_CUDA_CALIB_ITERS GEMMs back to back, timed by events after a warm-up run, as a plain
 * cuBLAS loop would measure it (bench/gemm-cublas.c). Its buffers are its own, freed before it
 * returns.
 */
static int cuda_calibrate(struct tl_backend *be, double *flops_per_s)
{
	struct cuda *cu = be->priv;
	const int n = TL_CUDA_CALIB_N;
	size_t elems = (size_t)n * (size_t)n, bytes = elems * cu->o.elem;
	const float one = 1.0f, zero = 0.0f;
	void *buf[3] = { NULL, NULL, NULL };
	double best = 0;
	int rc = 0;

	*flops_per_s = 0;
	for (int i = 0; i < 3 && !rc; i++)
		if (cudaMalloc(&buf[i], bytes) != cudaSuccess ||
		    tl_cuda_fill(buf[i], cu->o.compute_dtype, 1e-3, elems, cu->compute) !=
			    cudaSuccess)
			rc = TL_ENOMEM;
	for (int run = 0; run <= TL_CUDA_CALIB_RUNS && !rc; run++) {
		float ms = 0;
		if (cudaEventRecord(cu->start, cu->compute) != cudaSuccess)
			rc = TL_ERUN;
		for (int it = 0; it < TL_CUDA_CALIB_ITERS && !rc; it++)
			if (cublasGemmEx(cu->blas, CUBLAS_OP_N, CUBLAS_OP_N, n, n, n, &one, buf[0],
					 cu->gt.ab, n, buf[1], cu->gt.ab, n, &zero, buf[2],
					 cu->gt.ab, n, cu->gt.compute,
					 CUBLAS_GEMM_DEFAULT) != CUBLAS_STATUS_SUCCESS)
				rc = TL_ERUN;
		if (!rc && (cudaEventRecord(cu->stop, cu->compute) != cudaSuccess ||
			    cudaEventSynchronize(cu->stop) != cudaSuccess ||
			    cudaEventElapsedTime(&ms, cu->start, cu->stop) != cudaSuccess))
			rc = TL_ERUN;
		double rate = ms > 0 ? 2.0 * n * n * (double)n * TL_CUDA_CALIB_ITERS / (1e-3 * ms)
				     : 0;
		if (!rc && run > 0 && rate > best) /* run 0 warms up */
			best = rate;
	}
	for (int i = 0; i < 3; i++)
		cudaFree(buf[i]);
	if (rc)
		fprintf(stderr, "trainload: rank %d: the calibration GEMM (%d^3) failed\n",
			world_rank(), n);
	*flops_per_s = best;
	return rc;
}

static void cuda_hw_peak(struct tl_backend *be, struct tl_hw_peak *out)
{
	const struct cuda *cu = be->priv;

	tl_peak_gpu(cu->info.name, cu->o.compute_dtype, out);
}

static void cuda_device(struct tl_backend *be, struct tl_device *out)
{
	const struct cuda *cu = be->priv;

	*out = cu->info;
}

static void cuda_fini(struct tl_backend *be)
{
	struct cuda *cu = be->priv;

	if (!cu)
		return;
	/* Outstanding work first: a failed run may leave operations enqueued. */
	cudaDeviceSynchronize();
	for (int g = 0; g < TL_GRID_GROUPS; g++)
		if (cu->comm[g] && g != TL_GROUP_WORLD)
			ncclCommDestroy(cu->comm[g]);
	if (cu->up)
		ncclCommDestroy(cu->up);
	if (cu->comm[TL_GROUP_WORLD])
		ncclCommDestroy(cu->comm[TL_GROUP_WORLD]);
	for (int s = 0; cu->slots && s < cu->plan->reqs; s++)
		if (cu->slots[s].done)
			cudaEventDestroy(cu->slots[s].done);
	if (cu->blas)
		cublasDestroy(cu->blas);
	if (cu->start)
		cudaEventDestroy(cu->start);
	if (cu->stop)
		cudaEventDestroy(cu->stop);
	for (int g = 0; g < TL_GRID_GROUPS; g++)
		if (cu->stream[g])
			cudaStreamDestroy(cu->stream[g]);
	if (cu->up_stream)
		cudaStreamDestroy(cu->up_stream);
	if (cu->compute)
		cudaStreamDestroy(cu->compute);
	for (int i = 0; i < R_COUNT; i++)
		if (cu->o.r[i].base)
			cudaFree(cu->o.r[i].base);
	tl_operands_free(&cu->o);
	free(cu->slots);
	free(cu->stage);
	free(cu);
	be->priv = NULL;
}

const struct tl_backend_ops tl_backend_cuda = {
	.name = "cuda",
	.caps = TL_BACKEND_DEVICE_MEMORY,
	.check = tl_cuda_check,
	.init = cuda_init,
	.gemm = cuda_gemm,
	.pass = cuda_pass,
	.coll_run = cuda_coll_run,
	.coll_start = cuda_coll_start,
	.coll_test = cuda_coll_test,
	.coll_wait = cuda_coll_wait,
	.calibrate = cuda_calibrate,
	.hw_peak = cuda_hw_peak,
	.device_time = cuda_device_time,
	.device = cuda_device,
	.check_fill = cuda_check_fill,
	.check_verify = cuda_check_verify,
	.fini = cuda_fini,
};
