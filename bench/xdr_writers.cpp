// SPDX-License-Identifier: MIT
// xdr_writers.cpp - libtirpc's xdrrec on a blocking socket, and xdr_glue's
// two writers over qio, encoding the same numbered bench_records.
#include "xdr_writers.hpp"

#include <sys/select.h> // select
#include <unistd.h>     // write, close

#include <algorithm> // std::min, std::max
#include <cerrno>    // errno, EINTR
#include <cstring>   // std::strerror

#include <fmt/format.h>

#include "qio/engine.hpp"
#include "qio/qio.h"
#include "xdr_glue/record_writer.hpp"
#include "xdr_glue/xdr_qio.h"
#include "writers.hpp" // wait_qio_writable
#include "xdr_record.hpp"

namespace bench {

RecordSource::RecordSource() noexcept {
  for (std::size_t i = 0; i < BENCH_READINGS; ++i)
    record_.readings[i] = static_cast<int>(i * 7919);
  record_.scale = 0.125;
  for (std::size_t i = 0; i < label_length; ++i)
    label_[i] = static_cast<char>('a' + i % 26);
  record_.label = label_;
  for (std::size_t i = 0; i < digest_length; ++i)
    digest_[i] = static_cast<char>(i * 37);
  record_.digest.digest_len = digest_length;
  record_.digest.digest_val = digest_;
}

bool RecordSource::encode(std::uint32_t n, std::array<char, record_bytes>& out) noexcept {
  XDR memory;
  xdrmem_create(&memory, out.data(), static_cast<u_int>(out.size()), XDR_ENCODE);
  const bool encoded = xdr_bench_record(&memory, record(n)) != 0;
  const bool whole = encoded && xdr_getpos(&memory) == record_bytes;
  xdr_destroy(&memory);
  return whole;
}

namespace {

// The blocking writer looks at the clock once per this many records.
constexpr std::uint32_t records_per_clock_check = 64;
// xdrrec's buffer when given 0: libtirpc's default.
constexpr std::size_t xdrrec_buffer_bytes = 4000;

std::string errno_text(const char* what, int error) {
  return fmt::format("{}: {}", what, error != 0 ? std::strerror(error) : "encoding failed");
}

// ---- libtirpc on a blocking socket ----------------------------------------

struct BlockingSink {
  int fd = -1;
  int error = 0;
};

// xdrrec's writer, as classic TCP code writes it: the whole buffer with
// write(2) on the blocking socket, or -1.
int write_to_socket(void* handle, void* data, int length) {
  auto& sink = *static_cast<BlockingSink*>(handle);
  const char* bytes = static_cast<const char*>(data);
  auto left = static_cast<std::size_t>(length);
  while (left > 0) {
    const ssize_t wrote = ::write(sink.fd, bytes, left);
    if (wrote < 0 && errno == EINTR)
      continue;
    if (wrote < 0) {
      sink.error = errno;
      return -1;
    }
    bytes += wrote;
    left -= static_cast<std::size_t>(wrote);
  }
  return length;
}

// The stream only encodes.
int read_nothing(void*, void*, int) { return -1; }

XdrWriterResult write_xdrrec(int fd, const XdrWorkload& workload, bool batched) {
  BlockingSink sink{fd, 0};
  XDR stream;
  stream.x_ops = nullptr; // xdrrec_create reports ENOMEM only by leaving it
  xdrrec_create(&stream, 0, 0, &sink, &read_nothing, &write_to_socket);
  if (stream.x_ops == nullptr) {
    ::close(fd);
    return {0, "xdrrec_create: out of memory"};
  }
  stream.x_op = XDR_ENCODE;
  RecordSource source;
  XdrWriterResult result;
  std::uint32_t n = 0;
  for (bool last = false; !last; ++n) {
    last = n % records_per_clock_check == records_per_clock_check - 1 &&
           Clock::now() >= workload.deadline;
    // The last record is always sent at once, so no byte stays behind.
    if (!xdr_bench_record(&stream, source.record(n)) ||
        !xdrrec_endofrecord(&stream, !batched || last)) {
      result.error = errno_text(fmt::format("xdrrec, record {}", n).c_str(), sink.error);
      break;
    }
  }
  xdr_destroy(&stream);
  ::close(fd);
  result.records = n;
  return result;
}

// ---- xdr_glue over qio ------------------------------------------------------

// How many records to encode this tick: enough to bring what the queue
// holds (`unsent_bytes`, estimated) up to the backlog, rounded up, so a
// tick that finds the queue below the backlog leaves it at or above it and
// the loop then waits instead of spinning on EAGAIN; at least one on the
// last tick, which ends the stream's last record.
std::size_t records_this_tick(std::size_t backlog_bytes, std::size_t unsent_bytes,
                              bool last_tick) {
  const std::size_t room = backlog_bytes - std::min(backlog_bytes, unsent_bytes);
  const std::size_t records = (room + wire_record_bytes - 1) / wire_record_bytes;
  return last_tick ? std::max<std::size_t>(records, 1) : records;
}

XdrWriterResult write_xdr_qio(int fd, const XdrWorkload& workload, bool batched) {
  // As docs/xdr.md's porting guide: non-blocking, buffered, no limit.
  if (const int error = qio_configure(fd, 1, 1, -1)) {
    ::close(fd);
    return {0, errno_text("qio_configure", error)};
  }
  XDR stream;
  if (const int error = xdr_qio_create(&stream, fd, 0, 0)) {
    qio_termc(fd);
    ::close(fd);
    return {0, errno_text("xdr_qio_create", error)};
  }
  // The C API counts requests, not bytes, so the backlog in bytes is
  // estimated from qio_pendc: a record per request, or (batched) one
  // xdrrec buffer. That overestimates the batched backlog about twice:
  // xdrrec hands over a buffer and then, apart, the tail of the record that
  // overran it, so that writer waits at about half the backlog.
  const std::size_t request_bytes = batched ? xdrrec_buffer_bytes : wire_record_bytes;
  const auto unsent_bytes = [fd, request_bytes] {
    return static_cast<std::size_t>(qio_pendc(fd)) * request_bytes;
  };
  RecordSource source;
  XdrWriterResult result;
  std::uint32_t n = 0;
  bool producing = true;
  while (producing || qio_pendc(fd) > 0) {
    if (producing) {
      const bool last_tick = Clock::now() >= workload.deadline;
      const std::size_t records =
          records_this_tick(workload.backlog_bytes, unsent_bytes(), last_tick);
      for (std::size_t i = 0; i < records; ++i, ++n) {
        const bool last = last_tick && i + 1 == records;
        errno = 0; // a failed encode sets none; qio's last EAGAIN must not show
        if (!xdr_bench_record(&stream, source.record(n)) ||
            !xdrrec_endofrecord(&stream, !batched || last)) {
          result.error = errno_text(fmt::format("xdr_qio, record {}", n).c_str(), errno);
          break;
        }
      }
      producing = !last_tick && result.error.empty();
    }
    qio_flush();
    const std::size_t unsent = unsent_bytes();
    if (unsent >= workload.backlog_bytes || (!producing && unsent > 0))
      wait_qio_writable();
  }
  xdr_destroy(&stream);
  qio_termc(fd);
  ::close(fd);
  result.records = n;
  return result;
}

XdrWriterResult write_record_writer(int fd, const XdrWorkload& workload) {
  XdrWriterResult result;
  std::uint32_t n = 0;
  {
    qio::Engine engine; // outlives the writer, declared first
    qio::ChannelOptions options;
    options.buffered = false; // RecordWriter owns a copy of every buffer
    if (const std::error_code error = engine.configure(fd, options)) {
      ::close(fd);
      return {0, errno_text("Engine::configure", error.value())};
    }
    xdr_glue::RecordWriter writer(engine, fd);
    const auto procedure = reinterpret_cast<xdrproc_t>(&xdr_bench_record);
    RecordSource source;
    bool producing = true;
    while (producing || engine.pending(fd) > 0) {
      if (producing) {
        const bool last_tick = Clock::now() >= workload.deadline;
        const std::size_t records =
            records_this_tick(workload.backlog_bytes, writer.queued_bytes(), last_tick);
        for (std::size_t i = 0; i < records; ++i, ++n)
          if (const std::error_code error = writer.write_record(procedure, source.record(n))) {
            result.error = errno_text(fmt::format("RecordWriter, record {}", n).c_str(),
                                      error.value());
            break;
          }
        producing = !last_tick && result.error.empty();
      }
      engine.flush();
      if (writer.queued_bytes() >= workload.backlog_bytes ||
          (!producing && engine.pending(fd) > 0)) {
        fd_set write_mask;
        FD_ZERO(&write_mask);
        const int highest = engine.fill_fdset(write_mask);
        if (highest > 0)
          ::select(highest, nullptr, &write_mask, nullptr, nullptr);
      }
    }
    if (const std::error_code error = writer.error(); error && result.error.empty())
      result.error = errno_text("RecordWriter", error.value());
  }
  ::close(fd);
  result.records = n;
  return result;
}

} // namespace

std::string_view xdr_writer_name(XdrWriter writer) noexcept {
  switch (writer) {
  case XdrWriter::xdrrec:
    return "xdrrec";
  case XdrWriter::xdrrec_batched:
    return "xdrrec-batch";
  case XdrWriter::xdr_qio:
    return "xdr_qio";
  case XdrWriter::xdr_qio_batched:
    return "xdr_qio-batch";
  case XdrWriter::record_writer:
    return "RecordWriter";
  }
  return "?";
}

bool xdr_writer_batches(XdrWriter writer) noexcept {
  return writer == XdrWriter::xdrrec_batched || writer == XdrWriter::xdr_qio_batched;
}

XdrWriter xdr_writer_peer(XdrWriter writer) noexcept {
  return xdr_writer_batches(writer) ? XdrWriter::xdrrec_batched : XdrWriter::xdrrec;
}

XdrWriterResult run_xdr_writer(XdrWriter writer, int fd, const XdrWorkload& workload) {
  switch (writer) {
  case XdrWriter::xdrrec:
  case XdrWriter::xdrrec_batched:
    return write_xdrrec(fd, workload, xdr_writer_batches(writer));
  case XdrWriter::xdr_qio:
  case XdrWriter::xdr_qio_batched:
    return write_xdr_qio(fd, workload, xdr_writer_batches(writer));
  case XdrWriter::record_writer:
    return write_record_writer(fd, workload);
  }
  ::close(fd);
  return {0, "unknown writer"};
}

} // namespace bench
