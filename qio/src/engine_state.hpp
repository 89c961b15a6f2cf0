// SPDX-License-Identifier: MIT
// engine_state.hpp - the engine's private state and its queue logic.
#ifndef QIO_SRC_ENGINE_STATE_HPP
#define QIO_SRC_ENGINE_STATE_HPP

#include <cstddef> // std::size_t
#include <sys/types.h> // ssize_t

#include <cerrno>  // errno values returned by the inline queueing path
#include <algorithm> // std::min
#include <cstdio>  // std::FILE
#include <cstring> // std::memcpy
#include <limits>  // std::numeric_limits
#include <new>     // std::bad_alloc
#include <memory>  // std::unique_ptr
#include <span>    // std::span
#include <vector>  // std::vector

#include "callback.hpp"
#include "channel.hpp"
#include "trace.hpp"

namespace qio::detail {

// The most bytes one request may carry: no system call could move more.
inline constexpr std::size_t largest_request =
    static_cast<std::size_t>(std::numeric_limits<ssize_t>::max());

// How much one flush may do on one channel before it moves on, so a peer
// that floods a socket (while a callback re-queues a read) or a huge
// backlog on a fast file cannot hold a select-loop tick. What is left
// waits for the next flush; wait() flushes until done.
struct FlushBudget {
  static constexpr int system_calls = 64;             // reads and writes that moved data
  static constexpr std::size_t bytes = 4 * 1024 * 1024; // written and read
  static constexpr int completions = 4096;            // requests completed one by one

  int calls_left = system_calls;
  std::size_t bytes_left = bytes;
  int completions_left = completions;

  bool left() const noexcept {
    return calls_left > 0 && bytes_left > 0 && completions_left > 0;
  }
  void spend_call(std::size_t moved) noexcept {
    --calls_left;
    bytes_left -= std::min(bytes_left, moved);
  }
};

class EngineState {
public:
  explicit EngineState(SystemCalls& system) : system_(system) {}
  ~EngineState();
  EngineState(const EngineState&) = delete;
  EngineState& operator=(const EngineState&) = delete;

  // Which of the options configure() applies: all (the C++ API), or only
  // the descriptor settings, keeping limits and watermark (qio_configure,
  // whose limits and watermark are set by their own calls).
  enum class Settings { all, descriptor };
  std::error_code configure(int fd, const ChannelOptions& options,
                            Settings settings = Settings::all);
  // Queues a write; returns 0 or an errno value. Inline (below): this is
  // the enqueue hot path, shared by the C and C++ APIs.
  template <CallbackAbi abi>
  int write(int fd, std::span<const char> data, StoredCallback callback);
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
    if (static_cast<unsigned>(fd) >= channel_slots_)
      return nullptr;
    return channels_by_fd_[static_cast<std::size_t>(fd)].get();
  }
  std::error_code options(int fd, ChannelOptions& out) const;
  int fill_fdset(fd_set& write_mask) const noexcept;
  std::size_t fill_pollfds(std::span<pollfd> fds) const noexcept;
  std::error_code dump(std::FILE* out) const;
  // The C API follows qio_util_debug with this at every call.
  void set_trace(bool enabled) noexcept { trace_ = enabled; }
  bool tracing() const noexcept { return trace_; }
  void set_trace_handler(TraceHandler handler, void* argument) noexcept {
    trace_sink_.set_handler(handler, argument);
  }

  // ---- flow control (flow_control.cpp)
  std::error_code stats(int fd, ChannelStats& out) const;
  // Hard, soft and stall limits; `unlimited` / 0 for none.
  std::error_code set_limits(int fd, std::size_t max_queued_bytes, std::size_t soft_queued_bytes,
                             int soft_ms, int stall_ms);
  void set_total_limit(std::size_t max_total_queued_bytes);
  // A null callback removes the watermark.
  std::error_code set_watermark(int fd, std::size_t high, std::size_t low,
                                StoredCallback callback, CallbackAbi abi);
  std::error_code close(int fd, int timeout_ms, StoredCallback callback, CallbackAbi abi);
  void set_interest(StoredCallback callback, CallbackAbi abi);
  int timeout_ms() const;

private:
  // Calls `visit(channel)` for each channel with pending writes.
  template <class Visit> void for_each_pending_output(Visit visit) const;
  // A request taken off its channel whose completion is still to be
  // delivered (its callback called, and traced when tracing).
  struct Notice {
    Completion completion;
    StoredCallback callback;
    CallbackAbi abi;
  };
  // Keeps the engine marked busy (and retired channels alive) while any
  // callback may be running.
  class DispatchScope;
  class Delivery;

  bool write_plain(Channel& channel, const char* data, std::size_t length) noexcept;
  // The ABI is a template argument so the call passes everything in
  // registers and the short path can jump to it.
  template <CallbackAbi abi>
  int write_general(Channel& channel, const char* data, std::size_t length,
                    StoredCallback callback);
  template <CallbackAbi abi>
  int write_with_callback(Channel& channel, const char* data, std::size_t length,
                          StoredCallback callback);
  int admit(const Channel& channel, std::size_t bytes) const noexcept;
  std::error_code enqueue_input(Channel& channel, const InputRequest& request);
  void mark_pending(Channel& channel) noexcept {
    if (!channel.linked() && channel.pending_requests() > 0)
      channel.link_before(pending_channels_);
  }
  void trace_write(int fd, std::size_t bytes, bool with_callback) const noexcept;

  void flush_channel(Channel& channel);
  bool send_output(Channel& channel, FlushBudget& budget);
  bool complete_writes(Channel& channel, FlushBudget& budget);
  void fail_queued_writes(Channel& channel);
  std::uint64_t write_limit(const Channel& channel) const noexcept;
  void take_front_writes(Channel& channel, std::uint64_t requests,
                         const std::error_code& error);
  bool complete_next_input(Channel& channel, FlushBudget& budget);
  std::uint64_t take_requests(Channel& channel, bool keep_partial_write, int error);
  void reserve_notices(const Channel& channel);
  void deliver(const Notice& notice);
  void retire(std::unique_ptr<Channel> channel);
  void detach(Channel& channel);

  // ---- flow control (flow_control.cpp)
  std::int64_t now_ms() const;
  bool watches_writes() const noexcept {
    return total_limit_ != unlimited || bool(interest_);
  }
  void update_all_plain_writes() noexcept;
  // Soft limit, stall and close deadline, at the end of a channel's flush.
  void check_deadlines(Channel& channel, std::int64_t now);
  void note_progress(Channel& channel, std::int64_t now) noexcept;
  // Fails every pending request with `error`, drops the unsent bytes and
  // makes the error sticky; with `deferred`, the callbacks wait for the
  // next flush (a write that evicted the channel must not run them).
  void fail_channel(Channel& channel, int error, bool deferred);
  void finish_close(Channel& channel, int error);
  void report_rises();
  void report_water(Channel& channel);
  void update_interest(Channel& channel);
  void unsent_dropped(std::uint64_t bytes) noexcept {
    if (total_limit_ != unlimited)
      total_queued_bytes_ -= static_cast<std::size_t>(bytes);
  }
  // Fails channels, the largest first, until `length` more bytes fit the
  // total limit; false if that failed `writer` itself.
  bool make_room_in_total(Channel& writer, std::size_t length);
  void deliver_deferred();

  SystemCalls& system_;
  BlockPool block_pool_; // declared before the channels: it outlives them
  std::vector<std::unique_ptr<Channel>> channels_by_fd_;
  unsigned channel_slots_ = 0; // channels_by_fd_.size(), for find()
  ListNode pending_channels_; // channels with requests not yet completed
  std::size_t pending_requests_ = 0;
  // Completions taken off their channels and not yet delivered. Each
  // Delivery delivers what it collected, in order, after its pass; a
  // callback's own flush collects and delivers after them.
  std::vector<Notice> notices_;
  // Terminated channels a callback on the stack may still point into;
  // freed when the outermost dispatch ends.
  std::vector<std::unique_ptr<Channel>> retired_;
  int dispatch_depth_ = 0;
  bool trace_ = false;
  TraceSink trace_sink_; // where the trace goes while trace_ is on

  // Flow control across channels.
  std::size_t total_limit_ = unlimited;
  std::size_t total_queued_bytes_ = 0; // kept only while total_limit_ is set
  StoredCallback interest_;
  CallbackAbi interest_abi_ = CallbackAbi::cpp;
  std::size_t water_channels_ = 0; // channels with a watermark
  std::int64_t flush_now_ms_ = 0;  // the clock as the current flush read it
  // Completions of channels a write evicted, for the next flush, and the
  // storage of their dropped bytes, which their callbacks are handed.
  std::vector<Notice> deferred_notices_;
  std::vector<std::unique_ptr<char[]>> deferred_storage_;
  // Bytes of channels failed during a flush, freed when it returns.
  std::vector<std::unique_ptr<char[]>> released_storage_;
};

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

// The short path: a buffered write without a callback, on a channel with no
// limit and no error, as long as the writes before it (it joins their run)
// and fitting the tail block. Returns false, having changed nothing, when
// the general path must decide. Every count moves before the copy, so the
// copy is the last call.
inline bool EngineState::write_plain(Channel& channel, const char* data,
                                     std::size_t length) noexcept {
  char* copy;
  if (!channel.plain_writes || !channel.writes.can_join(length) ||
      (copy = channel.output.claim_in_tail(length)) == nullptr)
    return false;
  channel.writes.join_last_run();
  ++channel.writes_queued;
  ++pending_requests_;
  mark_pending(channel);
  std::memcpy(copy, data, length);
  return true;
}

template <CallbackAbi abi>
inline int EngineState::write(int fd, std::span<const char> data, StoredCallback callback) {
  Channel* channel = find(fd);
  if (channel == nullptr)
    return EBADF;
  if (data.data() == nullptr && !data.empty())
    return EINVAL;
  if (callback)
    return write_with_callback<abi>(*channel, data.data(), data.size(), callback);
  if (!trace_ && write_plain(*channel, data.data(), data.size()))
    return 0;
  return write_general<abi>(*channel, data.data(), data.size(), callback);
}

} // namespace qio::detail

#endif // QIO_SRC_ENGINE_STATE_HPP
