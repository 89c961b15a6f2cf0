// SPDX-License-Identifier: MIT
// writer_libuv.cpp - libuv's loop fed two ways: uv_write per message, each
// message a heap copy freed in its write callback, as libuv's users must do
// (uv_write does not copy); and a tick's messages coalesced into one heap
// block, as its users send small messages.
#include <sys/socket.h> // getsockopt, SO_DOMAIN
#include <unistd.h>     // close

#include <algorithm> // std::max
#include <cstdlib>   // std::malloc, std::free
#include <cstring>   // std::memcpy

#include <fmt/format.h>

#include "libuv_copy.hpp"
#include "writers.hpp"

namespace {

// A write request's callback; the request heads the heap block that holds
// its bytes.
void release_request(uv_write_t* request, int status) {
  auto& tally = *static_cast<UvTally*>(request->data);
  ++tally.completed;
  if (status < 0 && tally.first_error == 0)
    tally.first_error = status;
  std::free(request);
}

} // namespace

extern "C" int qio_bench_uv_write_copy(uv_stream_t* stream, const char* data, std::size_t size,
                                       UvTally* tally) {
  auto* request = static_cast<uv_write_t*>(std::malloc(sizeof(uv_write_t) + size));
  if (request == nullptr)
    return UV_ENOMEM;
  char* copy = reinterpret_cast<char*>(request + 1);
  std::memcpy(copy, data, size);
  request->data = tally;
  const uv_buf_t buffer = uv_buf_init(copy, static_cast<unsigned>(size));
  const int error = uv_write(request, stream, &buffer, 1, release_request);
  if (error != 0)
    std::free(request);
  return error;
}

namespace bench {
namespace {

// How a writer hands one tick's messages to libuv: returns 0 or a libuv
// error, and counts the write requests it queued in `requests`.
using Produce = int (*)(uv_stream_t* stream, MessageStream& messages, std::size_t backlog,
                        UvTally& tally, std::uint64_t& requests);

// Queues messages until libuv holds `backlog` unwritten bytes, or has been
// handed that many in this tick: uv_write writes at once while its queue is
// empty, so what it holds may stay at 0 as long as the reader keeps up.
int produce_per_message(uv_stream_t* stream, MessageStream& messages, std::size_t backlog,
                        UvTally& tally, std::uint64_t& requests) {
  const std::size_t size = messages.message_size();
  for (std::size_t handed = 0; handed < backlog && uv_stream_get_write_queue_size(stream) < backlog;
       handed += size) {
    if (const int error = qio_bench_uv_write_copy(stream, messages.next(), size, &tally))
      return error;
    ++requests;
  }
  return 0;
}

// Copies as many messages as bring what libuv holds up to `backlog` into
// one heap block after a uv_write_t, offers them with uv_try_write (which
// refuses while earlier writes are queued) and queues what it did not
// take with uv_write, the block freed in the callback.
int produce_coalesced(uv_stream_t* stream, MessageStream& messages, std::size_t backlog,
                      UvTally& tally, std::uint64_t& requests) {
  const std::size_t size = messages.message_size();
  const std::size_t held = uv_stream_get_write_queue_size(stream);
  if (held >= backlog)
    return 0;
  const std::size_t length = std::max<std::size_t>(1, (backlog - held) / size) * size;
  auto* request = static_cast<uv_write_t*>(std::malloc(sizeof(uv_write_t) + length));
  if (request == nullptr)
    return UV_ENOMEM;
  char* bytes = reinterpret_cast<char*>(request + 1);
  for (std::size_t at = 0; at < length; at += size)
    std::memcpy(bytes + at, messages.next(), size);
  uv_buf_t buffer = uv_buf_init(bytes, static_cast<unsigned>(length));
  const int tried = uv_try_write(stream, &buffer, 1);
  const std::size_t taken = tried > 0 ? static_cast<std::size_t>(tried) : 0;
  if (taken == length || (tried < 0 && tried != UV_EAGAIN)) {
    std::free(request);
    return taken == length ? 0 : tried;
  }
  request->data = &tally;
  buffer = uv_buf_init(bytes + taken, static_cast<unsigned>(length - taken));
  const int error = uv_write(request, stream, &buffer, 1, release_request);
  if (error != 0)
    std::free(request);
  else
    ++requests;
  return error;
}

bool is_unix_socket(int fd) {
  int domain = 0;
  socklen_t length = sizeof domain;
  return ::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0 && domain == AF_UNIX;
}

// The stream handle: a pipe for an AF_UNIX socket, TCP otherwise.
union StreamHandle {
  uv_pipe_t pipe;
  uv_tcp_t tcp;
};

int open_stream(uv_loop_t* loop, StreamHandle& handle, int fd) {
  if (is_unix_socket(fd)) {
    uv_pipe_init(loop, &handle.pipe, 0);
    return uv_pipe_open(&handle.pipe, fd);
  }
  uv_tcp_init(loop, &handle.tcp);
  return uv_tcp_open(&handle.tcp, fd);
}

// Runs the loop until every request has called back or one failed.
void drive(uv_loop_t* loop, uv_stream_t* stream, Produce produce, MessageStream& messages,
           const Workload& workload, UvTally& tally, WriterResult& result) {
  bool producing = true;
  std::uint64_t requests = 0;
  while (tally.first_error == 0 && (producing || tally.completed < requests)) {
    if (producing) {
      if (const int error = produce(stream, messages, workload.backlog_bytes, tally, requests)) {
        result.error = fmt::format("uv_write: {}", uv_strerror(error));
        break;
      }
      producing = Clock::now() < workload.deadline;
    }
    const bool must_wait =
        !producing || uv_stream_get_write_queue_size(stream) >= workload.backlog_bytes;
    uv_run(loop, must_wait ? UV_RUN_ONCE : UV_RUN_NOWAIT);
  }
  if (result.error.empty() && tally.first_error != 0)
    result.error = fmt::format("uv_write callback: {}", uv_strerror(tally.first_error));
}

// Opens a stream on `fd` and drives it with `produce` until every message
// has been written or a write failed.
WriterResult write_with(int fd, const Workload& workload, Produce produce) {
  WriterResult result;
  uv_loop_t loop;
  if (uv_loop_init(&loop) != 0) {
    ::close(fd);
    return {0, 0, "uv_loop_init failed"};
  }
  StreamHandle handle;
  auto* stream = reinterpret_cast<uv_stream_t*>(&handle);
  UvTally tally;
  MessageStream messages(workload.message_size);
  if (const int error = open_stream(&loop, handle, fd)) {
    result.error = fmt::format("uv open: {}", uv_strerror(error));
    ::close(fd);
  } else {
    drive(&loop, stream, produce, messages, workload, tally, result);
  }
  // Closing the handle closes the descriptor and cancels what is left.
  uv_close(reinterpret_cast<uv_handle_t*>(stream), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  result.messages = messages.messages();
  result.bytes = messages.bytes();
  return result;
}

} // namespace

WriterResult write_libuv(int fd, const Workload& workload) {
  return write_with(fd, workload, produce_per_message);
}

WriterResult write_libuv_tick(int fd, const Workload& workload) {
  return write_with(fd, workload, produce_coalesced);
}

} // namespace bench
