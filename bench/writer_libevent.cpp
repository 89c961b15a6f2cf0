// SPDX-License-Identifier: MIT
// writer_libevent.cpp - bufferevent_write per message on libevent's loop.
//
// Library defaults throughout, as its users run it: among them, a
// bufferevent writes at most 16 KiB per call unless told otherwise
// (bufferevent_set_max_single_write).
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <unistd.h> // close

#include <cstring> // std::strerror
#include <memory>  // std::unique_ptr

#include <fmt/format.h>

#include "writers.hpp"

namespace bench {
namespace {

struct BaseDeleter {
  void operator()(event_base* base) const noexcept { event_base_free(base); }
};
struct BuffereventDeleter {
  void operator()(bufferevent* buffered) const noexcept { bufferevent_free(buffered); }
};

void record_error(bufferevent*, short events, void* argument) {
  if (events & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
    const int error = EVUTIL_SOCKET_ERROR();
    *static_cast<std::string*>(argument) =
        fmt::format("bufferevent: {}", error ? std::strerror(error) : "end of file");
  }
}

// Queues messages until the output buffer holds `backlog` bytes.
void produce(bufferevent* buffered, evbuffer* output, MessageStream& stream, std::size_t backlog) {
  const std::size_t size = stream.message_size();
  for (std::size_t held = evbuffer_get_length(output); held < backlog; held += size)
    bufferevent_write(buffered, stream.next(), size);
}

} // namespace

WriterResult write_libevent(int fd, const Workload& workload) {
  WriterResult result;
  evutil_make_socket_nonblocking(fd);
  std::unique_ptr<event_base, BaseDeleter> base(event_base_new());
  std::unique_ptr<bufferevent, BuffereventDeleter> buffered(
      base ? bufferevent_socket_new(base.get(), fd, BEV_OPT_CLOSE_ON_FREE) : nullptr);
  if (!buffered) {
    ::close(fd);
    return {0, 0, "libevent: cannot create the event base or bufferevent"};
  }
  bufferevent_setcb(buffered.get(), nullptr, nullptr, record_error, &result.error);
  bufferevent_enable(buffered.get(), EV_WRITE);
  evbuffer* output = bufferevent_get_output(buffered.get());
  MessageStream stream(workload.message_size);
  bool producing = true;
  while (result.error.empty() && (producing || evbuffer_get_length(output) > 0)) {
    if (producing) {
      produce(buffered.get(), output, stream, workload.backlog_bytes);
      producing = Clock::now() < workload.deadline;
    }
    const bool must_wait = !producing || evbuffer_get_length(output) >= workload.backlog_bytes;
    event_base_loop(base.get(), must_wait ? EVLOOP_ONCE : EVLOOP_NONBLOCK);
  }
  result.messages = stream.messages();
  result.bytes = stream.bytes();
  return result;
}

} // namespace bench
