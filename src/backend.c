/* SPDX-License-Identifier: BSD-3-Clause */
/* The backend registry: every backend this build has, by the name a job gives it. */
#include "config.h"

#include <string.h>

#include "trainload/backend.h"

static const struct tl_backend_ops *const registry[] = {
	&tl_backend_cpu,
#ifdef TL_HAVE_CUDA
	&tl_backend_cuda,
#endif
	&tl_backend_null,
};

const struct tl_backend_ops *tl_backend_find(const char *name)
{
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
		if (!strcmp(registry[i]->name, name))
			return registry[i];
	return NULL;
}
