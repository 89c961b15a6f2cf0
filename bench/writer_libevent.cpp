// SPDX-License-Identifier: MIT
// writer_libevent.cpp - libevent's two ways to queue output: a bufferevent
// on its event loop, and a raw evbuffer written by the program itself.
//
// Library defaults throughout, as its users run it: among them, a
// bufferevent writes at most 16 KiB per call unless told otherwise
// (bufferevent_set_max_single_write), and evbuffer_write at most 128
// chains.
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <unistd.h> // close

#include <algorithm> // std::max
#include <cerrno>    // EAGAIN
#include <cstring>   // std::strerror
#include <memory>    // std::unique_ptr
#include <utility>   // std::move

#include <fmt/format.h>

#include "own_queue.hpp"
#include "writers.hpp"

namespace bench {
namespace {

struct BaseDeleter {
  void operator()(event_base* base) const noexcept { event_base_free(base); }
};
struct BuffereventDeleter {
  void operator()(bufferevent* buffered) const noexcept { bufferevent_free(buffered); }
};

// One evbuffer as the program's own queue (see run_own_queue), holding at
// most `backlog` bytes.
class EvbufferQueue {
public:
  explicit EvbufferQueue(std::size_t backlog) : buffer_(evbuffer_new()), backlog_(backlog) {}
  ~EvbufferQueue() {
    if (buffer_ != nullptr)
      evbuffer_free(buffer_);
  }
  EvbufferQueue(const EvbufferQueue&) = delete;
  EvbufferQueue& operator=(const EvbufferQueue&) = delete;

  bool created() const noexcept { return buffer_ != nullptr; }
  bool has_room(std::size_t length) const noexcept { return held() + length <= backlog_; }
  std::size_t held() const noexcept { return evbuffer_get_length(buffer_); }
  void append(const char* message, std::size_t length) noexcept {
    evbuffer_add(buffer_, message, length);
  }
  bool send(int fd, std::string& error) {
    while (held() > 0) {
      if (evbuffer_write(buffer_, fd) >= 0)
        continue;
      const int code = EVUTIL_SOCKET_ERROR();
      if (code == EINTR)
        continue;
      if (code == EAGAIN || code == EWOULDBLOCK)
        return true;
      error = fmt::format("evbuffer_write: {}", std::strerror(code));
      return false;
    }
    return true;
  }

private:
  evbuffer* buffer_;
  std::size_t backlog_;
};

void record_error(bufferevent*, short events, void* argument) {
  if (std::string failure = bufferevent_failure(events); !failure.empty())
    *static_cast<std::string*>(argument) = std::move(failure);
}

// Queues messages until the output buffer holds `backlog` bytes.
void produce(bufferevent* buffered, evbuffer* output, MessageStream& stream, std::size_t backlog) {
  const std::size_t size = stream.message_size();
  for (std::size_t held = evbuffer_get_length(output); held < backlog; held += size)
    bufferevent_write(buffered, stream.next(), size);
}

} // namespace

std::string bufferevent_failure(short events) {
  if (!(events & (BEV_EVENT_ERROR | BEV_EVENT_EOF)))
    return {};
  const int error = EVUTIL_SOCKET_ERROR();
  return fmt::format("bufferevent: {}", error ? std::strerror(error) : "end of file");
}

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

WriterResult write_evbuffer(int fd, const Workload& workload) {
  EvbufferQueue queue(std::max<std::size_t>(workload.backlog_bytes, workload.message_size));
  if (!queue.created()) {
    ::close(fd);
    return {0, 0, "libevent: cannot create an evbuffer"};
  }
  return run_own_queue(fd, workload, queue);
}

} // namespace bench
