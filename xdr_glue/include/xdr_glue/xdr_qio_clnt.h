/* SPDX-License-Identifier: MIT */
/* xdr_glue/xdr_qio_clnt.h - an asynchronous ONC RPC client whose calls are
 * queued through qio (the C API, on qio's process-wide engine; the C++
 * form is xdr_glue/rpc_client.hpp).
 *
 * xdr_qio_clnt_call() encodes a call as one record, queues it on a qio
 * channel and returns at once; qio_flush() sends it, and a server that
 * stops reading never blocks the program. xdr_qio_clnt_poll(), called when
 * the socket is readable and on every tick, reads the replies that have
 * arrived without blocking, matches each to its call by xid (replies may
 * come in any order), decodes its results and runs the call's `done`
 * routine; it also expires timeouts. Every accepted call gets exactly one
 * `done` call, only from xdr_qio_clnt_poll or xdr_qio_clnt_destroy.
 * Everything here must be called from one thread, as qio's C API.
 *
 * Conventions: xdr_qio_clnt_call returns 0 or an errno value; the others
 * say what they return. Reference pages: docs/reference/xdr_qio_clnt_*.md.
 */
#ifndef XDR_GLUE_XDR_QIO_CLNT_H
#define XDR_GLUE_XDR_QIO_CLNT_H

#include "xdr_glue/export.h" /* XDR_GLUE_EXPORT, what libxdr_glue exports */
#include <rpc/rpc.h> /* rpcprog_t, xdrproc_t, struct rpc_err (libtirpc) */

#ifdef __cplusplus
extern "C" {
#endif

typedef struct xdr_qio_clnt xdr_qio_clnt;

/* A call's completion routine.
 *   status  status->re_status says how the call ended: RPC_SUCCESS;
 *           RPC_PROGUNAVAIL, RPC_PROGVERSMISMATCH (re_vers: the server's
 *           range), RPC_PROCUNAVAIL, RPC_CANTDECODEARGS (the server could
 *           not decode the arguments), RPC_SYSTEMERROR, RPC_VERSMISMATCH
 *           (re_vers), RPC_AUTHERROR (re_why); RPC_CANTDECODERES (the
 *           results did not decode with xres: the connection and the other
 *           calls go on); RPC_TIMEDOUT; RPC_CANTSEND (re_errno: why the
 *           call's record could not be written); RPC_CANTRECV (re_errno:
 *           0 at end of file, ECONNRESET or another read error, EPROTO or
 *           EMSGSIZE for a malformed or oversize reply, ECANCELED for calls
 *           still pending at xdr_qio_clnt_destroy). clnt_sperrno and
 *           clnt_sperror accept it. Valid during the call only.
 *   result  on RPC_SUCCESS the caller's own `result` pointer, holding the
 *           decoded results (release them with xdr_free); otherwise NULL.
 *   arg     the `arg` given to xdr_qio_clnt_call. */
typedef void (*xdr_qio_reply_fn)(const struct rpc_err *status, void *result,
                                 void *arg);

/* Creates a client of program `prog`, version `vers`, over `channel`: a
 * connected stream socket already configured with qio_configure (best
 * with max_outstanding -1: a limit makes calls fail with EAGAIN when it is
 * reached). Calls carry AUTH_NONE credentials.
 *   max_reply  the largest reply record accepted, in record bytes
 *              (fragments summed, record marks not counted; a reply of
 *              exactly max_reply bytes is accepted; 0: 1 MiB). Checked
 *              across fragments from the record marks, before the bytes
 *              are stored.
 * The client does not own the descriptor. To learn whether `channel` is
 * configured it flushes it once, as qio_flushc does.
 * Returns the client, or NULL with errno EBADF (not a qio channel) or
 * ENOMEM. */
XDR_GLUE_EXPORT xdr_qio_clnt *xdr_qio_clnt_create(int channel, rpcprog_t prog, rpcvers_t vers,
                                  unsigned max_reply);

/* Encodes a call of procedure `proc` (arguments encoded from `args` by
 * `xargs`, a fresh xid) as one record, queues it on the channel and
 * returns at once; it never blocks and never calls `done`. The record
 * goes out when qio flushes the channel.
 *   result      where `xres` decodes the results (best zeroed); it must
 *               stay valid until `done` runs.
 *   timeout_ms  milliseconds on CLOCK_MONOTONIC after which the call
 *               completes with RPC_TIMEDOUT (checked by poll); -1: none.
 *   done, arg   the completion routine and its argument.
 * Returns 0, or EINVAL (NULL clnt, xargs, xres or done; timeout_ms below
 * -1; arguments that xargs fails to encode, or longer than 2 GiB), EAGAIN
 * (the channel's max_outstanding refused the record: nothing was queued),
 * ENOMEM, EBADF (the channel was removed), the channel's sticky write
 * error (EPIPE, ECONNRESET...), or EPIPE once the connection has failed. */
XDR_GLUE_EXPORT int xdr_qio_clnt_call(xdr_qio_clnt *clnt, rpcproc_t proc, xdrproc_t xargs,
                      void *args, xdrproc_t xres, void *result,
                      int timeout_ms, xdr_qio_reply_fn done, void *arg);

/* Reads whatever the socket holds without blocking, completes the calls
 * whose replies are whole, completes calls whose records could not be
 * written (RPC_CANTSEND), and expires timeouts. Call it when
 * xdr_qio_clnt_fd() is readable and on every tick. A reply whose xid
 * matches no pending call (a late answer to a timed-out call) is dropped.
 * A malformed stream, an oversize reply, end of file or a read error fails
 * the connection: every pending call completes with RPC_CANTRECV.
 * Returns the number of calls it completed, or -1 with errno set once the
 * connection has failed (EPIPE: the server ended it; EPROTO, EMSGSIZE; or
 * the read error), from that poll on; errno EINVAL if clnt is NULL. Called
 * from a `done` routine it does nothing and returns 0 (or -1 as above). */
XDR_GLUE_EXPORT int xdr_qio_clnt_poll(xdr_qio_clnt *clnt);

/* Calls accepted and not yet completed (0 if clnt is NULL). */
XDR_GLUE_EXPORT int xdr_qio_clnt_pending(const xdr_qio_clnt *clnt);

/* The channel, to watch for readability (-1 if clnt is NULL). */
XDR_GLUE_EXPORT int xdr_qio_clnt_fd(const xdr_qio_clnt *clnt);

/* Completes every pending call with RPC_CANTRECV and re_errno ECANCELED
 * (calls whose replies arrived but were not yet taken by poll included),
 * then frees the client. It neither closes the descriptor nor removes the
 * qio channel: calls already queued still go out when qio flushes; call
 * qio_termc (and close) as with xdrrec. Must not be called from a `done`
 * routine of the same client. NULL is ignored. */
XDR_GLUE_EXPORT void xdr_qio_clnt_destroy(xdr_qio_clnt *clnt);

#ifdef __cplusplus
}
#endif

#endif /* XDR_GLUE_XDR_QIO_CLNT_H */
