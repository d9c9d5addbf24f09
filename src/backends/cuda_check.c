/* SPDX-License-Identifier: BSD-3-Clause */
/* What the cuda backend runs (src/backends/cuda_check.h). */
#include "config.h"

#include "backends/cuda_check.h"
#include "trainload/backend.h"

/* cuBLAS computes bf16, f16 and f32 here, never f64. */
int tl_cuda_check(const struct tl_job *job, struct tl_diag *diag)
{
	if (job->compute_dtype != TL_DTYPE_F64)
		return 0;
	tl_job_blame(job, "run", "compute_dtype", diag,
	             "compute_dtype f64 needs backend = cpu (cuda: bf16, f16, f32)");
	return TL_EINPUT;
}

#ifndef TL_HAVE_CUDA
const struct tl_backend_ops tl_backend_cuda = {
    .name = "cuda",
    .check = tl_cuda_check,
    .missing = "CUDA: rebuild it with ./configure --with-cuda",
};
#endif
