/* SPDX-License-Identifier: BSD-3-Clause */
/* SIGINT and SIGTERM in a thread of their own (include/trainload/interrupt.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "trainload/interrupt.h"
#include "trainload/log.h"

static struct {
	pthread_mutex_t lock; /* handler and arg */
	tl_interrupt_fn handler;
	void *arg;
	atomic_int signal; /* the first signal taken, 0: none */
	int pipe[2];       /* the signal handler writes the signal's number, the thread reads it */
} in = { .lock = PTHREAD_MUTEX_INITIALIZER, .pipe = { -1, -1 } };

/* Whatever thread the kernel picks (OpenBLAS's and MPI's threads among them), the signal only
 * goes down the pipe: async-signal-safe, and the thread does the rest. */
static void on_signal(int sig)
{
	int saved = errno;
	unsigned char c = (unsigned char)sig;

	if (write(in.pipe[1], &c, 1) != 1) {
		/* nothing to do: the pipe holds signals enough to stop the run */
	}
	errno = saved;
}

static void set_action(void (*action)(int))
{
	struct sigaction sa = { .sa_handler = action, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void *wait_signals(void *unused)
{
	unsigned char c;

	(void)unused;
	for (;;) {
		ssize_t n = read(in.pipe[0], &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != 1)
			return NULL;
		/* Only the first signal goes to the handler: a second one ends the process, so
		 * that a rank stuck for good can still be stopped. */
		pthread_mutex_lock(&in.lock);
		bool go_on = in.handler && in.handler(c, in.arg);
		if (go_on)
			atomic_store(&in.signal, c);
		set_action(SIG_DFL);
		pthread_mutex_unlock(&in.lock);
		if (!go_on)
			raise(c); /* the process ends by the signal, as it would have without us */
	}
}

int tl_interrupt_start(void)
{
	pthread_t thread;

	if (pipe(in.pipe) != 0 || fcntl(in.pipe[0], F_SETFD, FD_CLOEXEC) != 0 ||
	    fcntl(in.pipe[1], F_SETFD, FD_CLOEXEC) != 0 ||
	    pthread_create(&thread, NULL, wait_signals, NULL) != 0) {
		fprintf(stderr, "trainload: cannot start the thread that takes SIGINT and SIGTERM "
			"(a signal will end the run without its document)\n");
		return TL_ERUN;
	}
	pthread_detach(thread);
	set_action(on_signal);
	return 0;
}

void tl_interrupt_on(tl_interrupt_fn fn, void *arg)
{
	pthread_mutex_lock(&in.lock);
	in.handler = fn;
	in.arg = arg;
	pthread_mutex_unlock(&in.lock);
}

bool tl_interrupt_requested(void)
{
	return atomic_load(&in.signal) != 0;
}
