// SPDX-License-Identifier: MIT
// record_writer.cpp - an xdrrec stream whose writer queues on a qio::Engine.
#include "xdr_glue/record_writer.hpp"
#include "error.hpp"

#include <cerrno>  // EINVAL, EIO
#include <limits>  // std::numeric_limits
#include <new>     // std::bad_alloc
#include <vector>  // std::vector, records encoded in memory

#include "record_queue.hpp"
#include "transports.hpp"

namespace xdr_glue {

RecordWriter::RecordWriter(qio::Engine& engine, int fd, unsigned send_size)
    : queue_(std::make_shared<detail::RecordQueue>(detail::engine_transport(engine), fd)) {
  // xdrrec_create reports running out of memory only by leaving the
  // stream untouched.
  stream_.x_ops = nullptr;
  xdrrec_create(&stream_, send_size, 0, this, &read_nothing, &write_buffer);
  if (stream_.x_ops == nullptr)
    throw std::bad_alloc();
  stream_.x_op = XDR_ENCODE;
}

RecordWriter::~RecordWriter() { XDR_DESTROY(&stream_); }

int RecordWriter::write_buffer(void* writer, void* bytes, int length) {
  RecordWriter& self = *static_cast<RecordWriter*>(writer);
  self.refusal_ =
      self.queue_->accept({static_cast<const char*>(bytes), static_cast<std::size_t>(length)});
  return self.refusal_ ? -1 : length;
}

// Input goes through RecordReader: decoding from this stream fails at once
// instead of reading the descriptor behind the engine's back.
int RecordWriter::read_nothing(void*, void*, int) { return -1; }

std::error_code RecordWriter::refusal_or_io() const noexcept {
  return refusal_ ? refusal_ : error_of(EIO);
}

std::error_code RecordWriter::write_record(xdrproc_t encode, void* object) {
  const unsigned long size = xdr_sizeof(encode, object);
  if (size > std::numeric_limits<u_int>::max())
    return error_of(EINVAL);
  std::vector<char> encoded(size);
  XDR memory;
  xdrmem_create(&memory, encoded.data(), static_cast<u_int>(size), XDR_ENCODE);
  const bool encoded_ok = encode(&memory, object) != 0;
  XDR_DESTROY(&memory);
  if (!encoded_ok)
    return error_of(EINVAL);
  return write_record(encoded);
}

std::error_code RecordWriter::write_record(std::span<const char> encoded) {
  if (encoded.size() > std::numeric_limits<u_int>::max())
    return error_of(EINVAL);
  refusal_.clear();
  if (!XDR_PUTBYTES(&stream_, encoded.data(), static_cast<u_int>(encoded.size())))
    return refusal_or_io();
  return end_record();
}

std::error_code RecordWriter::end_record() {
  refusal_.clear();
  if (xdrrec_endofrecord(&stream_, TRUE))
    return {};
  return refusal_or_io();
}

std::error_code RecordWriter::prune(std::size_t* records_dropped) {
  std::size_t dropped = 0;
  const std::error_code error = queue_->prune(dropped);
  if (records_dropped != nullptr)
    *records_dropped = dropped;
  return error;
}

std::size_t RecordWriter::queued_bytes() const noexcept { return queue_->queued_bytes(); }

std::size_t RecordWriter::queued_memory() const noexcept { return queue_->queued_memory(); }

std::error_code RecordWriter::error() const noexcept { return queue_->write_error(); }

} // namespace xdr_glue
