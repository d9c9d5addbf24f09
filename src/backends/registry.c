/* SPDX-License-Identifier: BSD-3-Clause */
/* The registry of backends (src/backends/registry.h). */
#include "config.h"

#include <string.h>

#include "backends/registry.h"

static const struct tl_backend_ops *const registry[] = {
    &tl_backend_cpu,
    &tl_backend_cuda,
    &tl_backend_null,
};

static const struct tl_backend_ops *known(const char *name)
{
	for (size_t i = 0; i < sizeof(registry) / sizeof(registry[0]); i++)
		if (!strcmp(registry[i]->name, name))
			return registry[i];
	return NULL;
}

const struct tl_backend_ops *tl_backend_find(const char *name)
{
	const struct tl_backend_ops *ops = known(name);

	return ops && !ops->missing ? ops : NULL;
}

int tl_backend_check(const struct tl_job *job, struct tl_diag *diag)
{
	int before = diag->count + diag->dropped;
	const char *name = tl_job_enum_name("run", "backend", job->backend);
	const struct tl_backend_ops *ops = known(name);

	if (!ops) {
		tl_job_blame(job, "run", "backend", diag, "backend = %s is not known", name);
		return TL_EINPUT;
	}
	if (ops->check)
		ops->check(job, diag);
	if (ops->missing)
		tl_job_blame(job, "run", "backend", diag,
		             "backend = %s needs a trainload built with %s "
		             "(--dry-run plans it)",
		             name, ops->missing);
	return diag->count + diag->dropped > before ? TL_EINPUT : 0;
}
