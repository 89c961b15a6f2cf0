/* SPDX-License-Identifier: MIT */
/* xdr_glue/xdr_qio.h - XDR record streams over qio channels (the C API).
 *
 * Output: xdr_qio_create() makes a libtirpc record stream (xdrrec) whose
 * bytes are queued on a qio channel with qio_write() instead of written:
 * encoding never blocks, and the bytes leave when the program calls
 * qio_flush() from its select loop. Input: an xdr_qio_reader reassembles
 * RFC 5531 record-marked input read without blocking and decodes whole
 * records with any xdrproc_t. Record-aware pruning drops queued records a
 * stalled peer has not started to receive. Everything here uses qio's
 * process-wide engine (qio.h) and, like it, must be called from one thread.
 *
 * Conventions: functions return 0 or an errno value unless they say
 * otherwise; the reader's statuses below are errno values too. Full
 * guide: docs/xdr.md.
 */
#ifndef XDR_GLUE_XDR_QIO_H
#define XDR_GLUE_XDR_QIO_H

#include <errno.h>   /* the errno values the status names stand for */
#include <rpc/rpc.h> /* XDR, xdrproc_t (libtirpc) */

#include "xdr_glue/export.h" /* XDR_GLUE_EXPORT, what libxdr_glue exports */

#ifdef __cplusplus
extern "C" {
#endif

/* Reader statuses (the C++ API, xdr_glue/record_reader.hpp, uses the same
 * values as std::error_code):
 *   XDR_QIO_AGAIN      no whole record yet: fill again when readable;
 *   XDR_QIO_END        the peer ended the stream between records;
 *   XDR_QIO_TRUNCATED  the stream ended inside a record (discarded);
 *   XDR_QIO_TOO_BIG    a record's fragments add up to more than max_record
 *                      (detected from the marks, before storing the bytes);
 *   XDR_QIO_FRAGMENTS  a record has more zero-length fragments than
 *                      allowed (16); fragments that carry bytes are
 *                      bounded only by max_record;
 *   XDR_QIO_DECODE     a whole record did not decode with the xdrproc_t
 *                      given (that record is consumed, the next may be
 *                      fine); any other value is read(2)'s errno.
 * All but XDR_QIO_AGAIN and XDR_QIO_DECODE end the stream for good. */
#define XDR_QIO_AGAIN EAGAIN
#define XDR_QIO_END ENODATA
#define XDR_QIO_TRUNCATED EPIPE
#define XDR_QIO_TOO_BIG EMSGSIZE
#define XDR_QIO_FRAGMENTS EPROTO
#define XDR_QIO_DECODE EBADMSG

/* The default maximum record size, 1 MiB. */
#define XDR_QIO_DEFAULT_MAX_RECORD (1024u * 1024u)

/* ---- output ---------------------------------------------------------- */

/* The handle xdr_qio_writeit() expects for `channel`: the descriptor
 * number itself, carried in the pointer, so it needs no storage and never
 * dangles. */
XDR_GLUE_EXPORT void *xdr_qio_handle(int channel);

/* Makes `xdrs` an XDR_ENCODE record stream (xdrrec_create) whose output is
 * queued on qio channel `channel`.
 *   sendsize  xdrrec's output buffer, so the largest fragment (0: 4000
 *             bytes); longer records go out as several fragments.
 *   recvsize  xdrrec's input buffer (0: 4000 bytes). Decoding through
 *             this stream reads the descriptor directly with read(2): it
 *             suits a descriptor left blocking; on a non-blocking one use
 *             an xdr_qio_reader instead.
 * End each record with xdrrec_endofrecord(xdrs, TRUE): its bytes are then
 * queued, and leave when qio flushes. Every buffer is copied into the
 * queue whatever the channel's buffered setting, since xdrrec reuses its
 * buffer at once. Configure the channel (qio_configure) first, with
 * max_outstanding -1: a refused write fails the record being encoded and
 * leaves the stream unusable. Starts a new record stream on the channel.
 * Release with xdr_destroy(xdrs); queued bytes still go out.
 * Errors: EINVAL (xdrs is NULL), EBADF (not an open descriptor), ENOMEM. */
XDR_GLUE_EXPORT int xdr_qio_create(XDR *xdrs, int channel, unsigned sendsize,
                                   unsigned recvsize);

/* The writer for programs that call xdrrec_create themselves:
 *   xdrrec_create(&xdrs, 0, 0, xdr_qio_handle(sock), my_reader,
 *                 xdr_qio_writeit);
 * `handle` must be xdr_qio_handle(channel). Takes the whole buffer: queues
 * a copy of its `len` bytes on the channel and returns `len`, or returns
 * -1 with errno set (EINVAL, ENOMEM, or qio_write's error: EBADF, EAGAIN,
 * the channel's sticky write error), in which case nothing was queued. */
XDR_GLUE_EXPORT int xdr_qio_writeit(void *handle, void *buf, int len);

/* Record-aware pruning: cancels the channel's queued records that have
 * not started to go out, whole records only. The rest of a record already
 * partly sent is kept, and so is what was queued of a record not yet
 * ended, so a stalled peer resumes on a record boundary and later records
 * follow the ones kept. Only records ended with xdrrec_endofrecord(xdrs,
 * TRUE) are queued; bytes still in xdrrec's buffer are not touched. Other
 * requests on the channel are cancelled as by qio_prune(), so a channel
 * carrying records should carry nothing else, and qio_prune() itself
 * would cut records: use this instead.
 *   records_dropped  if not NULL, receives the number of records dropped.
 * Errors: EBADF (not a qio channel), EBUSY (called from an AST of this same
 * prune). */
XDR_GLUE_EXPORT int xdr_qio_prune(int channel, unsigned *records_dropped);

/* ---- input ------------------------------------------------------------ */

typedef struct xdr_qio_reader xdr_qio_reader;

/* Creates a reader for descriptor `channel` (a qio channel or any other
 * readable descriptor, blocking or not: the reader never waits).
 *   max_record  most bytes in one record, summed over its fragments;
 *               0: XDR_QIO_DEFAULT_MAX_RECORD. Any number of fragments
 *               is accepted, but at most 16 empty ones per record.
 * However small the records, the reader holds at most 2 * max_record + 8
 * bytes of records and their lengths (the records' bytes in one buffer of
 * at most max_record, 4 bytes of length each in 512-byte blocks) and a
 * read buffer of 64 KiB or max_record, whichever is smaller.
 * Returns the reader, or NULL with errno EBADF (channel < 0) or ENOMEM. */
XDR_GLUE_EXPORT xdr_qio_reader *xdr_qio_reader_create(int channel,
                                                      unsigned max_record);

/* Reads what the descriptor holds now, never blocking, until it would
 * block, the stream ends, or complete records not yet taken hold
 * max_record bytes (take them and fill again). Returns 0 while the stream
 * is open, else its final status (see above); records completed before
 * the end are still handed out by xdr_qio_reader_next.
 * Errors: EINVAL (reader is NULL), ENOMEM. */
XDR_GLUE_EXPORT int xdr_qio_reader_fill(xdr_qio_reader *reader);

/* Takes the next complete record and decodes it into `object` (which
 * should start zeroed) with `decode`. Returns 0 (the caller now owns what
 * was decoded: release it with xdr_free(decode, object)), XDR_QIO_AGAIN,
 * XDR_QIO_DECODE (the object has already been freed), the stream's final
 * status once no complete record is left, or EINVAL (a NULL argument). */
XDR_GLUE_EXPORT int xdr_qio_reader_next(xdr_qio_reader *reader,
                                        xdrproc_t decode, void *object);

/* Frees the reader and any partial record; the descriptor stays open. */
XDR_GLUE_EXPORT void xdr_qio_reader_destroy(xdr_qio_reader *reader);

#ifdef __cplusplus
}
#endif

#endif /* XDR_GLUE_XDR_QIO_H */
