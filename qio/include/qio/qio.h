/* SPDX-License-Identifier: MIT */
/* qio.h - queued, non-blocking output for select-loop programs (the C API).
 *
 * A program configures a descriptor as a qio "channel", queues requests on
 * it and returns to its work; qio_flush(), called from the program's select
 * loop, moves queued data whenever the descriptor can take it and calls each
 * request's completion routine (its "AST", after VMS's asynchronous system
 * traps). Nothing here ever blocks the caller and nothing raises SIGPIPE.
 *
 * Conventions: unless a function says otherwise it returns 0 on success or
 * an errno value (EBADF, EINVAL, ...) on failure, and leaves errno as it was
 * (qio_fdset and qio_pollfds, which return counts, set errno on failure).
 * ENOMEM from any function means memory ran out and nothing was changed.
 * All functions act on one process-wide queue set and must be called from
 * one thread (the C++ API, qio/engine.hpp, offers independent engines).
 * Every accepted request gets exactly one AST call, and only from
 * qio_flush, qio_flushc, qio_wait, qio_prune, qio_term, qio_termc,
 * qio_close (the reads it cancels) or qio_init: never from inside the call
 * that queued it. Requests still
 * pending when the process exits get none (call qio_term first to cancel
 * them). Nothing but qio_wait blocks. Full reference: docs/reference/.
 */
#ifndef QIO_QIO_H
#define QIO_QIO_H

#include <poll.h>       /* struct pollfd, for qio_pollfds */
#include <stddef.h>     /* size_t, for the flow-control calls */
#include <stdio.h>      /* FILE, for qio_dump */
#include <sys/select.h> /* fd_set, for qio_fdset */
#include <sys/types.h>  /* off_t, for qio_seek */

#include "qio/export.h"  /* QIO_EXPORT, what libqio exports */
#include "qio/version.h" /* QIO_VERSION_MAJOR, _MINOR, _PATCH, _STRING */

#ifdef __cplusplus
extern "C" {
#endif

/* Operation codes passed to an AST (QIO_CLOSE: the AST of qio_close). */
enum { QIO_READ = 1, QIO_WRITE = 2, QIO_SEEK = 3, QIO_CLOSE = 4 };

/* A completion routine.
 *   error_code  0 on success, else an errno value (ECANCELED when the
 *               request was removed by qio_term/qio_termc/qio_prune).
 *   channel     the descriptor the request was queued on.
 *   operation   QIO_READ, QIO_WRITE or QIO_SEEK.
 *   buffer      the request's data: the caller's own pointer on an
 *               unbuffered channel and for reads; on a buffered channel
 *               qio's copy, valid only during the call (NULL for a
 *               zero-length buffered write).
 *   length      bytes transferred (for a seek, 0).
 *   ast_arg     the argument given when the request was queued. */
typedef void (*qio_ast_fn)(int error_code, int channel, int operation,
                           char *buffer, int length, void *ast_arg);

/* Non-zero: trace queued requests, configuration, every system call that
 * moved data (with a hex dump of the bytes), completions, errors, prunes and
 * terminations to stderr, or to the handler qio_set_trace_handler() gave.
 * Read at each call; qio_init() resets it to 0. */
extern QIO_EXPORT int qio_util_debug;

/* Sends the trace to `handler` instead of stderr, one line at a time
 * without its newline, so a program can route it into its own log:
 * handler(line, arg), where `line` is valid during the call only. NULL
 * restores stderr. The handler must not call qio functions. qio_init()
 * leaves it in place. */
QIO_EXPORT void qio_set_trace_handler(void (*handler)(const char *line,
                                                      void *arg),
                                      void *arg);

/* Discards every queue as qio_term() does (pending ASTs get ECANCELED) and
 * resets qio_util_debug to 0. Optional: the package starts initialised.
 * Returns 0. */
QIO_EXPORT int qio_init(void);

/* Makes an open descriptor a channel, or changes an existing channel's
 * settings for requests queued from now on.
 *   nonblocking      non-zero sets O_NONBLOCK on the descriptor (zero leaves
 *                    the descriptor's flags as they are).
 *   buffered         non-zero: qio_write copies the caller's bytes.
 *   max_outstanding  the most requests the queue may hold; -1: no limit.
 * Clears a sticky write error (see qio_write).
 * Errors: EINVAL (max_outstanding is 0 or below -1, checked first), EBADF
 * (descriptor not open), or another errno from fcntl(2)/fstat(2). */
QIO_EXPORT int qio_configure(int channel, int nonblocking, int buffered,
                             int max_outstanding);

/* Queues a read of up to `length` bytes into `buffer`, which must stay
 * valid until the AST. The request completes when at least one byte was
 * read (AST length = bytes read), at end of file (error 0, length 0), or
 * with an errno value.
 * A zero-length read completes with length 0 when its turn comes.
 * Errors: EBADF (not configured), EINVAL (length < 0, or NULL buffer with
 * length > 0), EAGAIN (queue full: max_outstanding), ENOMEM. */
QIO_EXPORT int qio_read(int channel, char *buffer, int length, qio_ast_fn ast,
                        void *ast_arg);

/* Queues a move to absolute byte `offset`. On a descriptor that cannot seek
 * the AST gets ESPIPE. Errors: EBADF, EINVAL (offset < 0), EAGAIN, ENOMEM. */
QIO_EXPORT int qio_seek(int channel, off_t offset, qio_ast_fn ast,
                        void *ast_arg);

/* Queues a write of `length` bytes and returns at once. A zero-length
 * write is legal and completes with length 0.
 * Errors: EBADF (not configured), EINVAL (length < 0, or NULL buffer with
 * length > 0), EAGAIN (queue holds max_outstanding requests; nothing was
 * queued), ENOMEM (no memory for the copy), or, after a hard write error
 * on the channel, that error (sticky until qio_configure or qio_termc). */
QIO_EXPORT int qio_write(int channel, const char *buffer, int length,
                         qio_ast_fn ast, void *ast_arg);

/* Tries to complete pending requests on every channel with work, without
 * blocking, calling ASTs in request order. Returns 0. */
QIO_EXPORT int qio_flush(void);

/* The same for one channel. Errors: EBADF (not configured). */
QIO_EXPORT int qio_flushc(int channel);

/* Requests not yet completed, on all channels. */
QIO_EXPORT int qio_pend(void);

/* Requests not yet completed on one channel (0 if not configured). */
QIO_EXPORT int qio_pendc(int channel);

/* Removes every channel: pending requests' ASTs get ECANCELED (a partly
 * written request reports the bytes already written as its length).
 * Descriptors are neither closed nor changed. Channels that ASTs configure
 * during the call stay configured. Returns 0. */
QIO_EXPORT int qio_term(void);

/* The same for one channel; afterwards it is no longer configured.
 * Errors: EBADF (not configured). */
QIO_EXPORT int qio_termc(int channel);

/* A sample AST: prints one line per completion to stderr. */
QIO_EXPORT void qio_ast(int error_code, int channel, int operation,
                        char *buffer, int length, void *ast_arg);

/* Prints every channel's settings and queued requests to `out` (NULL:
 * stdout). Returns 0, or EIO if writing to `out` failed. */
QIO_EXPORT int qio_dump(FILE *out);

/* Beyond the 1991 package. */

/* The version of the library the program runs with, as "MAJOR.MINOR.PATCH"
 * (QIO_VERSION_STRING is the version of the headers it was built with). */
QIO_EXPORT const char *qio_version(void);

/* Cancels (ECANCELED) every queued request of the channel except a write
 * already partly written, which stays so the byte stream is not cut
 * mid-request; the peer sees it whole, then only later writes. The removed
 * requests' ASTs run at once, so they come before the kept write's: the one
 * exception to request order. Errors: EBADF (not configured). */
QIO_EXPORT int qio_prune(int channel);

/* Flushes the channel, waiting with poll(2) for it to become ready, until
 * nothing is pending on it or `timeout_ms` milliseconds pass (ETIMEDOUT).
 * -1 waits without limit; the analog of VMS $QIOW. Returns 0 once nothing
 * is pending, or the channel's sticky write error if it has one.
 * Errors: EBADF (not configured), EINVAL (timeout_ms < -1), EDEADLK (called
 * from an AST while that channel's own flush is running: it could never
 * finish). */
QIO_EXPORT int qio_wait(int channel, int timeout_ms);

/* Adds to *write_mask every channel with pending output, so a select loop
 * can wait for writability, and returns the highest descriptor added + 1
 * (0 if none). Descriptors >= FD_SETSIZE cannot be put in an fd_set: they
 * are skipped, not counted in the return value, and must be flushed by
 * other means (call qio_flush every tick, or use poll). Returns -1 with
 * errno EINVAL if write_mask is NULL. */
QIO_EXPORT int qio_fdset(fd_set *write_mask);

/* The poll(2) form of qio_fdset, for any descriptor number: fills up to
 * `capacity` entries of `fds` with the channels that have pending output
 * (fd, events = POLLOUT, revents = 0) and returns how many channels have
 * pending output. A result above `capacity` means the array was too small:
 * the first `capacity` were filled; call again with a larger one.
 * Returns -1 with errno EINVAL if capacity < 0, or fds is NULL and
 * capacity > 0. */
QIO_EXPORT int qio_pollfds(struct pollfd *fds, int capacity);

/* Flow control: see what a slow consumer costs, bound it, retire it.
 * Reference: docs/reference/qio_stat.md and the pages it links. */

/* A channel's figures, counted from the qio_configure that made the
 * descriptor a channel (a later qio_configure keeps them). */
struct qio_channel_stats {
    size_t queued_bytes;                   /* accepted by qio_write, not yet written */
    int    queued_requests;                /* the same count as qio_pendc */
    size_t peak_queued_bytes;              /* highest queued_bytes since qio_configure */
    unsigned long long bytes_written;      /* since qio_configure */
    unsigned long long requests_completed; /* since qio_configure, with or without an AST */
    unsigned long long write_calls;        /* write-family system calls made for this channel */
    long   stalled_ms;                     /* output pending and not one byte moved for this long; 0 when none pending */
};
/* Errors: EBADF (not configured), EINVAL (stats is NULL). */
QIO_EXPORT int qio_stat(int channel, struct qio_channel_stats *stats);

struct qio_limits {
    size_t max_queued_bytes;  /* hard: a write that would take queued_bytes above it returns EAGAIN and queues nothing; 0: none */
    size_t soft_queued_bytes; /* soft: queued_bytes above it without a break for soft_ms fails the channel with ENOBUFS; 0: none */
    int    soft_ms;
    int    stall_ms;          /* output pending and no byte moved for stall_ms fails the channel with ETIMEDOUT; 0: none */
};
/* Sets the channel's limits. A failed channel's pending requests get the
 * error (ENOBUFS or ETIMEDOUT) as their AST's error_code, in order; it is
 * then sticky like a hard write error. A single write larger than
 * max_queued_bytes is refused with EMSGSIZE (it could never fit).
 * Errors: EBADF, EINVAL (limits NULL, or a negative time). */
QIO_EXPORT int qio_setlimits(int channel, const struct qio_limits *limits);

/* Bounds the queued bytes of all channels together (0: none). A write
 * that would pass it fails channels with ENOBUFS, the one holding the most
 * first, until it fits; if that is the channel written to, qio_write
 * returns ENOBUFS and queues nothing. Failed requests' ASTs run from the
 * next flush or wait. Returns 0. */
QIO_EXPORT int qio_setlimit_total(size_t max_total_queued_bytes);

/* Watermarks: fn(channel, 1, queued, arg) when the queued bytes rise to
 * `high` or more; fn(channel, 0, queued, arg) when they later fall to
 * `low` or less; strictly alternating, from flushes, waits and the
 * cancelling calls, never from the call that queued (a producer that must
 * know at once calls qio_stat). fn NULL removes them.
 * Errors: EBADF, EINVAL (low > high). */
typedef void (*qio_water_fn)(int channel, int above_high, size_t queued_bytes, void *arg);
QIO_EXPORT int qio_watermark(int channel, size_t high, size_t low, qio_water_fn fn, void *arg);

/* Closes the channel once its queued output is written (a socket is shut
 * down for writing first), then removes it and calls ast (QIO_CLOSE,
 * error 0) after every write's AST. From the call on qio_write, qio_read
 * and qio_seek return EPIPE and pending reads complete with ECANCELED.
 * timeout_ms: -1 none; 0 at the next flush; when it passes, pending
 * writes fail with ETIMEDOUT, the descriptor is closed and ast gets
 * ETIMEDOUT. qio_termc meanwhile cancels, closes, and ast gets ECANCELED.
 * qio_pend counts the close until its AST ran.
 * Errors: EBADF, EINVAL (timeout_ms < -1), EPIPE (already closing). */
QIO_EXPORT int qio_close(int channel, int timeout_ms, qio_ast_fn ast, void *ast_arg);

/* Loop integration (for epoll, libevent or libuv loops): fn(channel, 1,
 * arg) when a channel's unwritten output goes from none to some, and
 * fn(channel, 0, arg) from some to none. Not an AST: it may run inside
 * qio_write and must not call qio functions. NULL removes it. Returns 0. */
typedef void (*qio_interest_fn)(int channel, int want_write, void *arg);
QIO_EXPORT int qio_set_interest(qio_interest_fn fn, void *arg);

/* Milliseconds until a limit, stall or close deadline needs a flush (0:
 * flush now); -1 when there is none. */
QIO_EXPORT int qio_timeout_ms(void);

#ifdef __cplusplus
}
#endif

#endif /* QIO_QIO_H */
