/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include <string.h>

#include "trainload/cli.h"
#include "trainload/doctor.h"
#include "trainload/log.h"

/* "trainload doctor" is a program of its own over the same job files (it uses the command
 * line's job loading): dispatched here, so that cli and doctor do not call each other. */
int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "doctor")) {
		/* Until MPI is up, the launcher's environment says which rank prints. */
		tl_log_set_rank(tl_launcher_rank());
		return tl_doctor_main(argc - 1, argv + 1);
	}
	return tl_main(argc, argv);
}
