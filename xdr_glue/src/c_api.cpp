// SPDX-License-Identifier: MIT
// c_api.cpp - the xdr_qio_* functions: the C++ record queue and reader
// behind qio's process-wide engine.
//
// The C writer has no object of its own to hang state on (the XDR handle
// is the caller's, and xdr_destroy would not tell us), so the record
// bookkeeping of each channel lives in a table indexed by descriptor, as
// qio's own C channels do.
#include "xdr_glue/xdr_qio.h"

#include <fcntl.h>  // fcntl, is a descriptor open
#include <unistd.h> // read, for decoding through an xdr_qio_create stream

#include <cerrno>  // errno values
#include <climits> // INT_MAX
#include <cstdint> // std::intptr_t, the handle
#include <memory>  // std::shared_ptr
#include <new>     // std::bad_alloc
#include <vector>  // std::vector, the table

#include "qio/qio.h"
#include "record_queue.hpp"
#include "transports.hpp"
#include "xdr_glue/record_reader.hpp"

struct xdr_qio_reader {
  explicit xdr_qio_reader(int fd, xdr_glue::ReaderLimits limits) : reader(fd, limits) {}
  xdr_glue::RecordReader reader;
};

namespace {

using xdr_glue::detail::RecordQueue;

// Never destroyed, like qio's process engine: at exit, chunks still queued
// there may refer to these queues.
std::vector<std::shared_ptr<RecordQueue>>& channel_queues() {
  static auto* const queues = new std::vector<std::shared_ptr<RecordQueue>>();
  return *queues;
}

// The channel's queue, created on first use; nullptr if `channel` is not
// an open descriptor, which also keeps the table within the descriptor
// limit. Throws std::bad_alloc.
RecordQueue* queue_for(int channel) {
  auto& queues = channel_queues();
  const auto index = static_cast<std::size_t>(channel);
  if (index >= queues.size()) {
    if (::fcntl(channel, F_GETFD) < 0)
      return nullptr;
    queues.resize(index + 1);
  }
  if (!queues[index])
    queues[index] =
        std::make_shared<RecordQueue>(xdr_glue::detail::process_engine_transport(), channel);
  return queues[index].get();
}

int channel_of(void* handle) noexcept {
  return static_cast<int>(reinterpret_cast<std::intptr_t>(handle));
}

// xdrrec's reader for xdr_qio_create streams: one read(2), as the classic
// TCP readers do; end of file and errors (EAGAIN included) fail the decode.
int read_channel(void* handle, void* buffer, int length) {
  for (;;) {
    const ssize_t count = ::read(channel_of(handle), buffer, static_cast<std::size_t>(length));
    if (count > 0)
      return static_cast<int>(count);
    if (count == 0 || errno != EINTR)
      return -1;
  }
}

} // namespace

extern "C" {

void* xdr_qio_handle(int channel) {
  return reinterpret_cast<void*>(static_cast<std::intptr_t>(channel));
}

int xdr_qio_create(XDR* xdrs, int channel, unsigned sendsize, unsigned recvsize) {
  if (xdrs == nullptr)
    return EINVAL;
  if (channel < 0)
    return EBADF;
  try {
    RecordQueue* queue = queue_for(channel);
    if (queue == nullptr)
      return EBADF;
    queue->start_new_stream();
  } catch (const std::bad_alloc&) {
    return ENOMEM;
  }
  xdrs->x_ops = nullptr; // xdrrec_create reports ENOMEM only by leaving it
  xdrrec_create(xdrs, sendsize, recvsize, xdr_qio_handle(channel), &read_channel,
                &xdr_qio_writeit);
  if (xdrs->x_ops == nullptr)
    return ENOMEM;
  xdrs->x_op = XDR_ENCODE;
  return 0;
}

int xdr_qio_writeit(void* handle, void* buf, int len) {
  const int channel = channel_of(handle);
  int error = 0;
  if (len < 0 || (buf == nullptr && len > 0))
    error = EINVAL;
  else if (channel < 0)
    error = EBADF;
  else {
    try {
      RecordQueue* queue = queue_for(channel);
      error = queue == nullptr
                  ? EBADF
                  : queue->accept({static_cast<const char*>(buf), static_cast<std::size_t>(len)})
                        .value();
    } catch (const std::bad_alloc&) {
      error = ENOMEM;
    }
  }
  if (error == 0)
    return len;
  errno = error;
  return -1;
}

int xdr_qio_prune(int channel, unsigned* records_dropped) {
  if (records_dropped != nullptr)
    *records_dropped = 0;
  if (channel < 0)
    return EBADF;
  std::size_t dropped = 0;
  int error = 0;
  try {
    RecordQueue* queue = queue_for(channel);
    error = queue == nullptr ? EBADF : queue->prune(dropped).value();
  } catch (const std::bad_alloc&) {
    return ENOMEM;
  }
  if (records_dropped != nullptr)
    *records_dropped = dropped > UINT_MAX ? UINT_MAX : static_cast<unsigned>(dropped);
  return error;
}

xdr_qio_reader* xdr_qio_reader_create(int channel, unsigned max_record) {
  if (channel < 0) {
    errno = EBADF;
    return nullptr;
  }
  xdr_glue::ReaderLimits limits;
  limits.max_record = max_record; // 0 picks the default
  try {
    return new xdr_qio_reader(channel, limits);
  } catch (const std::bad_alloc&) {
    errno = ENOMEM;
    return nullptr;
  }
}

int xdr_qio_reader_fill(xdr_qio_reader* reader) {
  if (reader == nullptr)
    return EINVAL;
  try {
    return reader->reader.fill().value();
  } catch (const std::bad_alloc&) {
    return ENOMEM;
  }
}

int xdr_qio_reader_next(xdr_qio_reader* reader, xdrproc_t decode, void* object) {
  if (reader == nullptr || decode == nullptr || object == nullptr)
    return EINVAL;
  return reader->reader.decode(decode, object).value();
}

void xdr_qio_reader_destroy(xdr_qio_reader* reader) { delete reader; }

} // extern "C"
