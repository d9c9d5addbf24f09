/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * SIGINT and SIGTERM (Ctrl-C, `timeout`, `scancel`, a Slurm time limit, and what mpirun and
 * srun send their ranks when they get one), dealt with in a thread of their own rather than
 * in a signal handler, so that what they start can do real work: rank 0 writes the run's
 * document from the steps it already holds, at once, even in the middle of a long step.
 *
 * What the launchers do (docs/RELIABILITY.md has the measurements): Open MPI 4.1's mpirun, on
 * SIGINT or SIGTERM, sends its ranks SIGCONT at once, SIGTERM 1 s later and SIGKILL 1 s after
 * that; MPICH's Hydra forwards the signal itself at once and waits for the ranks; Slurm sends
 * SIGTERM and, KillWait (30 s by default) later, SIGKILL. The document must therefore be on
 * disk within a second of SIGTERM, whatever the ranks are doing.
 *
 * tl_interrupt_start installs a handler for both that only writes the signal's number down a
 * pipe (whichever thread the kernel picks, OpenBLAS's and MPI's included); the thread reads it
 * and calls the function that tl_interrupt_on set, which returns whether the process carries
 * on. If it does, the first signal only asks the steps to stop (tl_interrupt_requested) and a
 * second one ends the process as usual; if it does not, or no function is set, the signal ends
 * the process as usual at once.
 */
#ifndef TRAINLOAD_INTERRUPT_H
#define TRAINLOAD_INTERRUPT_H

#include <stdbool.h>

/* Called in the signal thread with the signal's number; returns true to carry on. */
typedef bool (*tl_interrupt_fn)(int sig, void *arg);

/* Take SIGINT and SIGTERM in the signal thread from now on; 0 or TL_ERUN. */
int tl_interrupt_start(void);
/* The handler of the signals that come from now on (NULL: none). */
void tl_interrupt_on(tl_interrupt_fn fn, void *arg);
/* Whether a signal asked the run to stop. */
bool tl_interrupt_requested(void);

#endif
