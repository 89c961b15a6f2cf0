// SPDX-License-Identifier: MIT
// xdr_glue/record_writer.hpp - XDR record output queued on a qio channel
// (the C++ API; xdr_qio.h has the C form for the process-wide engine).
//
// A RecordWriter is a libtirpc xdrrec stream whose writer, instead of
// write(2), queues the bytes on a qio::Engine channel: encoding never
// blocks, and the bytes leave when the engine flushes. Every buffer xdrrec
// hands over is copied, whatever the channel's buffered option, because
// xdrrec reuses its buffer at once; configuring the channel unbuffered
// avoids the engine copying those copies again.
//
//   qio::Engine engine;
//   engine.configure(socket, {.buffered = false});
//   xdr_glue::RecordWriter writer(engine, socket);
//   writer.write_record((xdrproc_t)xdr_my_reply, &reply);
//   ...
//   engine.flush();              // in the select loop
#ifndef XDR_GLUE_RECORD_WRITER_HPP
#define XDR_GLUE_RECORD_WRITER_HPP

#include <rpc/rpc.h> // XDR, xdrproc_t (libtirpc)

#include <cstddef>      // std::size_t
#include <memory>       // std::shared_ptr, the queue outlives the writer
#include <span>         // std::span, encoded records
#include <system_error> // std::error_code

#include "qio/engine.hpp"
#include "xdr_glue/export.h" // XDR_GLUE_EXPORT, what libxdr_glue exports

namespace xdr_glue {

namespace detail {
class RecordQueue;
} // namespace detail

class RecordWriter {
public:
  // Writes records to channel `fd` of `engine`, which must outlive the
  // writer. `send_size` is xdrrec's buffer size, so the largest fragment
  // (0 or below 100: libtirpc's default, 4000 bytes); longer records go
  // out as several fragments. Throws std::bad_alloc if libtirpc cannot
  // allocate the stream. The channel need not be configured yet, but
  // records fail with EBADF until it is.
  XDR_GLUE_EXPORT RecordWriter(qio::Engine& engine, int fd, unsigned send_size = 0);
  // Destroys the xdrrec stream; bytes already queued still go out (they
  // belong to the engine's queue), bytes of an unfinished record do not.
  XDR_GLUE_EXPORT ~RecordWriter();
  RecordWriter(const RecordWriter&) = delete;
  RecordWriter& operator=(const RecordWriter&) = delete;

  // Encodes `object` with `encode` and queues it as one record. The object
  // is encoded in memory first, so a failing encoder queues nothing.
  // Errors: EINVAL (`encode` returned FALSE), or those of write_record.
  XDR_GLUE_EXPORT std::error_code write_record(xdrproc_t encode, void* object);

  // Queues already-encoded bytes as one record. Errors: EINVAL (more than
  // 4 GiB), ENOMEM, EBADF (not a channel), EAGAIN (a limit of the channel
  // was reached), the channel's sticky write error. A failure after part of
  // a record was queued leaves the stream unusable: close the connection.
  XDR_GLUE_EXPORT std::error_code write_record(std::span<const char> encoded);

  // The xdrrec stream itself (XDR_ENCODE), for encoding piece by piece;
  // end each record with end_record().
  XDR* xdr() noexcept { return &stream_; }
  // Ends the current record and queues what remains of it
  // (xdrrec_endofrecord(xdr(), TRUE)). Errors as write_record.
  XDR_GLUE_EXPORT std::error_code end_record();

  // Drops queued records that have not started to go out, never part of a
  // record: a stalled peer resumes on a record boundary, and later records
  // follow the ones kept. Sets `records_dropped` if not null. Other
  // requests on the channel are cancelled too (qio::Engine::prune), so a
  // channel carrying records should carry nothing else. Errors: EBADF.
  XDR_GLUE_EXPORT std::error_code prune(std::size_t* records_dropped = nullptr);

  // Bytes queued on the channel and not yet written.
  XDR_GLUE_EXPORT std::size_t queued_bytes() const noexcept;
  // The heap those bytes hold: their copies, the writer's record of each
  // buffer xdrrec handed over and qio's of each write, counted at malloc's
  // rounding and the engine's rings at their worst growth slack. A bound
  // on it is a bound on memory, whatever the records' sizes.
  XDR_GLUE_EXPORT std::size_t queued_memory() const noexcept;
  // The first error a queued write completed with (EPIPE, ECONNRESET...),
  // or {}: once set, the peer is gone or the stream is broken.
  XDR_GLUE_EXPORT std::error_code error() const noexcept;

private:
  // xdrrec's writer and reader callbacks; `writer` is this object.
  static int write_buffer(void* writer, void* bytes, int length);
  static int read_nothing(void* writer, void* bytes, int length);
  std::error_code refusal_or_io() const noexcept;

  std::shared_ptr<detail::RecordQueue> queue_;
  std::error_code refusal_; // why the last buffer could not be queued
  XDR stream_;
};

} // namespace xdr_glue

#endif // XDR_GLUE_RECORD_WRITER_HPP
