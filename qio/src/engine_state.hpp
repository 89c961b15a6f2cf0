// SPDX-License-Identifier: MIT
// engine_state.hpp - the engine's private state and its queue logic.
#ifndef QIO_SRC_ENGINE_STATE_HPP
#define QIO_SRC_ENGINE_STATE_HPP

#include <cstddef> // std::size_t
#include <sys/types.h> // ssize_t

#include <cerrno>  // errno values returned by the inline queueing path
#include <cstdio>  // std::FILE
#include <limits>  // std::numeric_limits
#include <new>     // std::bad_alloc
#include <memory>  // std::unique_ptr
#include <span>    // std::span
#include <vector>  // std::vector

#include "callback.hpp"
#include "channel.hpp"
#include "trace.hpp"

namespace qio::detail {

class EngineState {
public:
  explicit EngineState(SystemCalls& system) : system_(system) {}
  ~EngineState();
  EngineState(const EngineState&) = delete;
  EngineState& operator=(const EngineState&) = delete;

  std::error_code configure(int fd, const ChannelOptions& options);
  // Queues a write; returns 0 or an errno value. Inline (below): this is
  // the enqueue hot path, shared by the C and C++ APIs.
  int write(int fd, std::span<const char> data, StoredCallback callback,
            CallbackAbi abi);
  std::error_code read(int fd, std::span<char> buffer,
                       StoredCallback callback, CallbackAbi abi);
  std::error_code seek(int fd, off_t offset, StoredCallback callback,
                       CallbackAbi abi);

  void flush_all();
  std::error_code flush_one(int fd);
  std::error_code wait(int fd, int timeout_ms);
  std::error_code prune(int fd);
  std::error_code terminate(int fd);
  void terminate_all();

  std::size_t pending() const noexcept { return pending_requests_; }
  std::size_t pending(int fd) const noexcept;
  Channel* find(int fd) const noexcept {
    if (fd < 0 || static_cast<std::size_t>(fd) >= channels_by_fd_.size())
      return nullptr;
    return channels_by_fd_[static_cast<std::size_t>(fd)].get();
  }
  int fill_fdset(fd_set& write_mask) const noexcept;
  std::size_t fill_pollfds(std::span<pollfd> fds) const noexcept;
  std::error_code dump(std::FILE* out) const;
  void set_trace(bool enabled) noexcept { trace_ = enabled; }
  void set_trace_handler(TraceHandler handler, void* argument) noexcept {
    trace_sink_.set_handler(handler, argument);
  }

private:
  // Calls `visit(channel)` for each channel with pending writes.
  template <class Visit> void for_each_pending_output(Visit visit) const;
  // Requests taken off a channel whose callbacks are still to be called.
  struct Notice {
    Completion completion;
    StoredCallback callback;
    CallbackAbi abi;
  };
  // Keeps the engine marked busy (and retired channels alive) while any
  // callback may be running.
  class DispatchScope;

  int admit(const Channel& channel, std::size_t bytes) const noexcept;
  std::error_code enqueue_input(Channel& channel, const InputRequest& request);
  void mark_pending(Channel& channel) noexcept {
    if (!channel.linked() && channel.pending_requests() > 0)
      channel.link_before(pending_channels_);
  }
  void trace_write(int fd, std::size_t bytes, bool with_callback) const noexcept;

  void flush_channel(Channel& channel);
  bool send_output(Channel& channel);
  bool complete_writes(Channel& channel);
  void fail_queued_writes(Channel& channel);
  std::uint64_t write_limit(const Channel& channel) const noexcept;
  bool complete_next_input(Channel& channel);
  void finish_input(Channel& channel, const IoResult& result);

  std::vector<Notice> take_requests(Channel& channel, bool keep_partial_write);
  Notice take_write(Channel& channel, const std::error_code& error);
  void notify(const std::vector<Notice>& notices);
  void deliver(const Completion& completion, StoredCallback callback,
               CallbackAbi abi);
  void retire(std::unique_ptr<Channel> channel);

  SystemCalls& system_;
  BlockPool block_pool_; // declared before the channels: it outlives them
  std::vector<std::unique_ptr<Channel>> channels_by_fd_;
  ListNode pending_channels_; // channels with requests not yet completed
  std::size_t pending_requests_ = 0;
  // Terminated channels a callback on the stack may still point into;
  // freed when the outermost dispatch ends.
  std::vector<std::unique_ptr<Channel>> retired_;
  int dispatch_depth_ = 0;
  bool trace_ = false;
  TraceSink trace_sink_; // where the trace goes while trace_ is on
};

// The most bytes one request may carry: no system call could move more.
inline constexpr std::size_t largest_request =
    static_cast<std::size_t>(std::numeric_limits<ssize_t>::max());

// Whether the channel may take one more request of `bytes` output bytes:
// 0, EAGAIN (a limit is reached for now) or EMSGSIZE (it never could fit,
// so EAGAIN would have the caller retry forever).
inline int EngineState::admit(const Channel& channel, std::size_t bytes) const noexcept {
  const ChannelOptions& options = channel.options;
  if (channel.pending_requests() >= options.max_outstanding)
    return EAGAIN;
  if (bytes > options.max_queued_bytes)
    return EMSGSIZE;
  // Requests that queue no bytes (reads, seeks, empty writes) pass; the
  // subtraction is written so a limit lowered below the unsent bytes
  // cannot wrap.
  if (bytes != 0 && channel.output.unsent_bytes() > options.max_queued_bytes - bytes)
    return EAGAIN;
  return 0;
}

inline int EngineState::write(int fd, std::span<const char> data,
                              StoredCallback callback, CallbackAbi abi) {
  Channel* channel = find(fd);
  if (channel == nullptr)
    return EBADF;
  if ((data.data() == nullptr && !data.empty()) || data.size() > largest_request)
    return EINVAL;
  if (channel->write_error != 0)
    return channel->write_error;
  if (channel->has_limits)
    if (const int refused = admit(*channel, data.size()))
      return refused;
  char* stored = const_cast<char*>(data.data());
  try {
    // Room in the rings first: once bytes are queued nothing may fail.
    channel->write_ends.reserve_one();
    if (callback)
      channel->write_callbacks.reserve_one();
    if (!channel->options.buffered)
      channel->output.append_reference(stored, data.size());
    else if ((stored = channel->output.append_copy(data.data(), data.size())) == nullptr &&
             !data.empty())
      return ENOMEM;
  } catch (const std::bad_alloc&) {
    return ENOMEM;
  }
  std::uint64_t entry = channel->output.queued_position();
  if (callback) {
    channel->write_callbacks.push_back_reserved({stored, callback});
    entry |= write_has_callback | (abi == CallbackAbi::c ? write_callback_is_c : 0);
  }
  channel->write_ends.push_back_reserved(entry);
  ++channel->writes_queued;
  ++pending_requests_;
  mark_pending(*channel);
  if (trace_) [[unlikely]]
    trace_write(fd, data.size(), bool(callback));
  return 0;
}

} // namespace qio::detail

#endif // QIO_SRC_ENGINE_STATE_HPP
