/* SPDX-License-Identifier: BSD-3-Clause */
#include "config.h"

#include "trainload/cli.h"

int main(int argc, char **argv)
{
	return tl_main(argc, argv);
}
