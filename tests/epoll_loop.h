/* SPDX-License-Identifier: MIT */
/* epoll_loop.h - a small epoll loop driven by qio: the example of
 * docs/epoll.md, built and run by the test suite (test_epoll_loop.cpp).
 *
 * The loop watches the program's descriptors for reading, each with its
 * own handler, and qio's channels for writing only while qio says they
 * have output (qio_set_interest). Each pass sleeps no longer than
 * qio_timeout_ms() allows, then calls qio_flush(). Linux only (epoll). */
#ifndef QIO_TESTS_EPOLL_LOOP_H
#define QIO_TESTS_EPOLL_LOOP_H

#ifdef __cplusplus
extern "C" {
#endif

struct epoll_loop;

/* Called when a watched descriptor is readable, or has hung up or failed. */
typedef void (*epoll_loop_read_fn)(int fd, void *arg);

/* A loop for descriptors below max_descriptors; it installs itself as
 * qio's interest handler. Returns NULL with errno set on failure. */
struct epoll_loop *epoll_loop_create(int max_descriptors);

/* Calls on_readable(fd, arg) whenever fd is readable; NULL stops that.
 * A qio channel needs no call: the loop watches it for writing on its
 * own. Returns 0 or an errno value. */
int epoll_loop_watch(struct epoll_loop *loop, int fd, epoll_loop_read_fn on_readable, void *arg);

/* One pass: waits for readiness, at most longest_ms (-1: as long as qio
 * allows) and never longer than qio_timeout_ms(); calls the read handlers
 * of the descriptors that are ready; then qio_flush(). Returns the number
 * of ready descriptors, or -1 with errno set if epoll_wait failed. */
int epoll_loop_run_once(struct epoll_loop *loop, int longest_ms);

/* Descriptors watched for writing right now. */
int epoll_loop_writers(const struct epoll_loop *loop);

/* The epoll descriptor, for inspection. */
int epoll_loop_fd(const struct epoll_loop *loop);

/* Removes the interest handler and frees the loop. */
void epoll_loop_destroy(struct epoll_loop *loop);

#ifdef __cplusplus
}
#endif

#endif /* QIO_TESTS_EPOLL_LOOP_H */
