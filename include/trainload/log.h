/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Error codes, diagnostics and rank-aware printing.
 *
 * Library code returns 0 or a negative TL_E* and never exits; only main() turns an error into an
 * exit status. Input errors are collected in a struct tl_diag so that a user sees all of them at
 * once, gcc-style ("file:line: message"), before any rank allocates or communicates.
 */
#ifndef TRAINLOAD_LOG_H
#define TRAINLOAD_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum tl_err {
	TL_OK = 0,
	TL_EINPUT = -1,  /* bad job file, option or combination: exit status 2 */
	TL_ENOMEM = -2,  /* allocation failed */
	TL_ERUN = -3,    /* a run-time failure (MPI, BLAS, I/O): exit status 1 */
	TL_EIO = -4,     /* a file could not be read or written */
};

/* Exit statuses of trainload (documented in trainload(1)). */
enum tl_exit {
	TL_EXIT_OK = 0,
	TL_EXIT_RUN_FAILED = 1,
	TL_EXIT_BAD_INPUT = 2,
	TL_EXIT_WATCHDOG = 3,
};

/* At most this many diagnostics are kept; the rest are counted. */
#define TL_DIAG_MAX 64

struct tl_diag {
	char *msg[TL_DIAG_MAX];
	int count;   /* messages kept */
	int dropped; /* messages past TL_DIAG_MAX */
};

/* Append one formatted message; "where" (may be NULL) is prefixed as "where: ". */
void tl_diag_add(struct tl_diag *d, const char *where, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Print every message to stderr, one per line, then a count of the dropped ones. */
void tl_diag_print(const struct tl_diag *d);
void tl_diag_free(struct tl_diag *d);

/*
 * The rank that prints. Set from the launcher's environment before MPI_Init (so that errors found
 * before MPI starts are printed once), and from MPI_Comm_rank after it.
 */
void tl_log_set_rank(int rank);
int tl_log_rank(void);
/* The rank the launcher gave this process (Open MPI, PMIx, Slurm, MPICH), or 0 if none did. */
int tl_launcher_rank(void);
/* Whether a launcher (mpirun, srun) started this process. */
bool tl_launched(void);
/* The world size and the ranks on this node that the launcher announced (Open MPI, MPICH's
 * Hydra, Slurm), or 0 when it did not: what a dry run under mpirun plans for. */
uint64_t tl_launcher_size(void);
uint64_t tl_launcher_local_size(void);

/* Print to stdout/stderr on the printing rank only. */
void tl_out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void tl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * Before a rank ends the job (MPI_Abort): wait, at most a second, until whoever reads this
 * process's stderr through a pipe (the launcher) has read all of it. MPICH's Hydra can take the
 * abort and kill the job before it has drained the rank's pipe, and the message saying why the
 * job failed was then lost (seen once in CI, a rank's out-of-memory report). Returns at once when
 * stderr is no pipe.
 */
void tl_stderr_drain(void);

#endif
