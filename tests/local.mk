# SPDX-License-Identifier: BSD-3-Clause
# Included by the top-level Makefile.am.
TESTS =
check_PROGRAMS =
