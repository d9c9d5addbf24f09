/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * tl_stderr_drain (src/log.c): a rank about to abort waits until the launcher has read what it
 * wrote to stderr. Here stderr is a pipe that a thread reads only after a pause; when the drain
 * returns, the pipe holds nothing: the message reached its reader before the (would-be) abort.
 */
#include "config.h"

#include <pthread.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "tl_test.h"
#include "trainload/log.h"

static const char message[] = "trainload: rank 1 (node1): run failed (out of memory)\n";

struct late_reader {
	int fd;
	char got[sizeof(message)];
	size_t len;
};

/* Reads the pipe after 50 ms, as a busy launcher would. */
static void *read_late(void *arg)
{
	struct late_reader *r = arg;
	const struct timespec pause = {.tv_nsec = 50 * 1000 * 1000};
	nanosleep(&pause, NULL);
	ssize_t n;
	while (r->len < sizeof(message) - 1 &&
	       (n = read(r->fd, r->got + r->len, sizeof(message) - 1 - r->len)) > 0)
		r->len += (size_t)n;
	return NULL;
}

static void test_drain_waits_for_reader(void **state)
{
	int p[2];
	int saved = dup(2);
	struct late_reader r = {0};
	pthread_t reader;
	int unread = -1;

	(void)state;
	assert_true(saved >= 0);
	assert_int_equal(pipe(p), 0);
	r.fd = p[0];
	assert_int_equal(dup2(p[1], 2), 2);
	assert_int_equal(write(2, message, strlen(message)), (ssize_t)strlen(message));
	assert_int_equal(pthread_create(&reader, NULL, read_late, &r), 0);
	tl_stderr_drain();
	assert_int_equal(ioctl(2, FIONREAD, &unread), 0);
	dup2(saved, 2);
	close(saved);
	pthread_join(reader, NULL);
	close(p[0]);
	close(p[1]);
	assert_int_equal(unread, 0);
	assert_int_equal(r.len, strlen(message));
	assert_memory_equal(r.got, message, strlen(message));
}

/* stderr that is no pipe (here /dev/null) returns at once: nothing to wait for. */
static void test_drain_no_pipe(void **state)
{
	(void)state;
	int saved = dup(2);
	FILE *null = fopen("/dev/null", "w");
	assert_non_null(null);
	dup2(fileno(null), 2);
	tl_stderr_drain();
	dup2(saved, 2);
	close(saved);
	fclose(null);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_drain_waits_for_reader),
	    cmocka_unit_test(test_drain_no_pipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
