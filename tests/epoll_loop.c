/* SPDX-License-Identifier: MIT */
/* epoll_loop.c - a small epoll loop driven by qio (see epoll_loop.h and
 * docs/epoll.md, which quotes this file). */
#include "epoll_loop.h"

#include <errno.h>     /* errno, EINTR, EINVAL */
#include <stdlib.h>    /* calloc, free */
#include <sys/epoll.h> /* epoll_create1, epoll_ctl, epoll_wait */
#include <unistd.h>    /* close */

#include <qio/qio.h>

/* What the loop knows of one descriptor. */
struct watch {
    epoll_loop_read_fn on_readable; /* NULL: not watched for reading */
    void *arg;
    int wants_write;                /* what qio's interest handler said last */
    unsigned registered;            /* its events in the epoll set; 0: not in it */
};

struct epoll_loop {
    int epoll_fd;
    int max_descriptors;
    int writers; /* descriptors registered with EPOLLOUT */
    struct watch *watches; /* indexed by descriptor */
};

/* Brings the epoll set in line with what the descriptor needs: EPOLLIN
 * while it has a read handler, EPOLLOUT while qio has output for it. A
 * descriptor that needs neither leaves the set, so a peer that hung up
 * cannot keep waking the loop with EPOLLHUP. */
static int update_watch(struct epoll_loop *loop, int fd)
{
    struct watch *watch = &loop->watches[fd];
    unsigned wanted = (watch->on_readable ? (unsigned)EPOLLIN : 0u) |
                      (watch->wants_write ? (unsigned)EPOLLOUT : 0u);
    struct epoll_event event = {.events = wanted, .data = {.fd = fd}};
    int op = wanted == 0 ? EPOLL_CTL_DEL : watch->registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;

    if (wanted == watch->registered)
        return 0;
    /* A DEL that fails found the descriptor closed: epoll forgot it then. */
    if (epoll_ctl(loop->epoll_fd, op, fd, &event) != 0 && op != EPOLL_CTL_DEL)
        return errno;
    loop->writers += ((wanted & EPOLLOUT) != 0) - ((watch->registered & EPOLLOUT) != 0);
    watch->registered = wanted;
    return 0;
}

/* qio's interest handler. It must not call qio, and need not: it only
 * changes what epoll watches. A channel that qio_close closed with output
 * still queued is reported after the close, when epoll has already
 * forgotten the descriptor, so the error is ignored. */
static void on_interest(int channel, int want_write, void *arg)
{
    struct epoll_loop *loop = arg;

    if (channel < 0 || channel >= loop->max_descriptors)
        return; /* beyond the table: such a channel must be flushed by other means */
    loop->watches[channel].wants_write = want_write;
    (void)update_watch(loop, channel);
}

struct epoll_loop *epoll_loop_create(int max_descriptors)
{
    struct epoll_loop *loop;

    if (max_descriptors <= 0) {
        errno = EINVAL;
        return NULL;
    }
    loop = calloc(1, sizeof *loop);
    if (loop == NULL)
        return NULL;
    loop->max_descriptors = max_descriptors;
    loop->watches = calloc((size_t)max_descriptors, sizeof *loop->watches);
    loop->epoll_fd = loop->watches != NULL ? epoll_create1(EPOLL_CLOEXEC) : -1;
    if (loop->epoll_fd < 0) { /* errno from calloc or epoll_create1 */
        free(loop->watches);
        free(loop);
        return NULL;
    }
    qio_set_interest(on_interest, loop); /* reports the channels with output now */
    return loop;
}

int epoll_loop_watch(struct epoll_loop *loop, int fd, epoll_loop_read_fn on_readable, void *arg)
{
    if (fd < 0 || fd >= loop->max_descriptors)
        return EINVAL;
    loop->watches[fd].on_readable = on_readable;
    loop->watches[fd].arg = arg;
    return update_watch(loop, fd);
}

int epoll_loop_run_once(struct epoll_loop *loop, int longest_ms)
{
    struct epoll_event events[64];
    int timeout_ms = qio_timeout_ms(); /* -1: no deadline in qio */
    int ready;
    int i;

    if (timeout_ms < 0 || (longest_ms >= 0 && longest_ms < timeout_ms))
        timeout_ms = longest_ms;
    ready = epoll_wait(loop->epoll_fd, events, 64, timeout_ms);
    if (ready < 0 && errno != EINTR)
        return -1;
    for (i = 0; i < ready; i++) {
        int fd = events[i].data.fd;
        struct watch *watch = &loop->watches[fd];

        /* EPOLLOUT needs nothing here: the flush below writes. A handler
         * may have unwatched this descriptor earlier in this pass. */
        if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && watch->on_readable)
            watch->on_readable(fd, watch->arg);
    }
    /* Every pass: writes what the descriptors take, checks limits and
     * deadlines, reports watermarks, calls ASTs. Cheap with nothing to do. */
    qio_flush();
    return ready < 0 ? 0 : ready;
}

int epoll_loop_writers(const struct epoll_loop *loop)
{
    return loop->writers;
}

int epoll_loop_fd(const struct epoll_loop *loop)
{
    return loop->epoll_fd;
}

void epoll_loop_destroy(struct epoll_loop *loop)
{
    qio_set_interest(NULL, NULL);
    close(loop->epoll_fd);
    free(loop->watches);
    free(loop);
}
