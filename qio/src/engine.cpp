// SPDX-License-Identifier: MIT
// engine.cpp - queueing, flushing, completing and cancelling requests.
//
// Data flow: write() appends bytes to the channel's OutputQueue and an
// 8-byte end position to write_ends (plus a callback record if it has one),
// and links the channel on the pending list. flush() visits only pending
// channels: send_output() gathers unsent bytes into one writev/sendmsg,
// complete_writes() completes every write whose end position has been sent,
// complete_next_input() performs reads and seeks. Callbacks run only there
// or in cancellation, always after the request has left every queue, so a
// callback may call anything, including terminate() on its own channel.
#include "engine_state.hpp"

#include <fmt/format.h>

#include <limits.h> // IOV_MAX
#include <poll.h>   // POLLIN, POLLOUT

#include <algorithm> // std::reverse
#include <cerrno>    // errno values
#include <chrono>    // wait() deadlines
#include <limits>    // std::numeric_limits
#include <new>       // std::bad_alloc

#include "trace.hpp"

namespace qio::detail {
namespace {

std::error_code error_of(int value) noexcept {
  return {value, std::generic_category()};
}

const char* kind_name(DescriptorKind kind) noexcept {
  switch (kind) {
  case DescriptorKind::socket:
    return "socket";
  case DescriptorKind::regular_file:
    return "file";
  case DescriptorKind::stream:
    return "stream";
  }
  return "unknown";
}

std::string limit_text(std::size_t limit) {
  return limit == unlimited ? std::string("none") : std::to_string(limit);
}

} // namespace

class EngineState::DispatchScope {
public:
  explicit DispatchScope(EngineState& engine) : engine_(engine) {
    ++engine_.dispatch_depth_;
  }
  ~DispatchScope() {
    if (--engine_.dispatch_depth_ == 0)
      engine_.retired_.clear();
  }
  DispatchScope(const DispatchScope&) = delete;
  DispatchScope& operator=(const DispatchScope&) = delete;

private:
  EngineState& engine_;
};

EngineState::~EngineState() {
  // Callbacks may configure channels while others are cancelled.
  while (std::any_of(channels_by_fd_.begin(), channels_by_fd_.end(),
                     [](const auto& channel) { return channel != nullptr; }))
    terminate_all();
}

std::size_t EngineState::pending(int fd) const noexcept {
  const Channel* channel = find(fd);
  return channel ? channel->pending_requests() : 0;
}

// ---- queueing ------------------------------------------------------------

std::error_code EngineState::configure(int fd, const ChannelOptions& options) {
  if (options.max_outstanding == 0 || options.max_queued_bytes == 0)
    return error_of(EINVAL);
  if (fd < 0)
    return error_of(EBADF);
  Channel* existing = find(fd);
  std::unique_ptr<Channel> created;
  if (!existing) {
    created = std::make_unique<Channel>(&block_pool_);
    created->fd = fd;
  }
  Channel& channel = existing ? *existing : *created;
  const ChannelOptions previous = channel.options;
  channel.options = options;
  if (const std::error_code error = inspect_descriptor(system_, channel)) {
    channel.options = previous;
    return error;
  }
  channel.write_error = 0;
  channel.failing_writes = false;
  channel.has_limits = options.max_outstanding != unlimited || options.max_queued_bytes != unlimited;
  if (created) {
    if (static_cast<std::size_t>(fd) >= channels_by_fd_.size())
      channels_by_fd_.resize(static_cast<std::size_t>(fd) + 1);
    channels_by_fd_[static_cast<std::size_t>(fd)] = std::move(created);
  }
  if (trace_)
    trace_sink_.print("qio: configure channel {} ({}, {}blocking, {}buffered, "
                      "max_outstanding {}, max_queued_bytes {})",
                      fd, kind_name(channel.kind),
                      channel.descriptor_nonblocking ? "non-" : "",
                      options.buffered ? "" : "un",
                      limit_text(options.max_outstanding),
                      limit_text(options.max_queued_bytes));
  return {};
}

// Out of line and exception-free: it sits on the inline enqueue path.
void EngineState::trace_write(int fd, std::size_t bytes, bool with_callback) const noexcept {
  char line[96];
  std::snprintf(line, sizeof line, "qio: write queued on channel %d: %zu bytes%s", fd, bytes,
                with_callback ? ", with AST" : "");
  trace_sink_.line(line);
}

std::error_code EngineState::enqueue_input(Channel& channel, const InputRequest& request) {
  if (const int refused = channel.has_limits ? admit(channel, 0) : 0)
    return error_of(refused);
  try {
    channel.inputs.push_back(request);
  } catch (const std::bad_alloc&) {
    return error_of(ENOMEM);
  }
  ++pending_requests_;
  mark_pending(channel);
  if (trace_)
    trace_sink_.print("qio: {} queued on channel {}: {} {}",
                      operation_name(request.operation), channel.fd,
                      request.operation == Operation::seek ? "offset" : "length",
                      request.operation == Operation::seek
                          ? static_cast<long long>(request.offset)
                          : static_cast<long long>(request.length));
  return {};
}

std::error_code EngineState::read(int fd, std::span<char> buffer,
                                  StoredCallback callback, CallbackAbi abi) {
  Channel* channel = find(fd);
  if (!channel)
    return error_of(EBADF);
  if ((buffer.data() == nullptr && !buffer.empty()) ||
      buffer.size() > largest_request)
    return error_of(EINVAL);
  InputRequest request;
  request.operation = Operation::read;
  request.buffer = buffer.data();
  request.length = buffer.size();
  request.writes_before = channel->writes_queued;
  request.position_before = channel->output.queued_position();
  request.callback = callback;
  request.abi = abi;
  return enqueue_input(*channel, request);
}

std::error_code EngineState::seek(int fd, off_t offset, StoredCallback callback,
                                  CallbackAbi abi) {
  Channel* channel = find(fd);
  if (!channel)
    return error_of(EBADF);
  if (offset < 0)
    return error_of(EINVAL);
  InputRequest request;
  request.operation = Operation::seek;
  request.offset = offset;
  request.writes_before = channel->writes_queued;
  request.position_before = channel->output.queued_position();
  request.callback = callback;
  request.abi = abi;
  return enqueue_input(*channel, request);
}

// ---- flushing ------------------------------------------------------------

void EngineState::flush_all() {
  DispatchScope scope(*this);
  if (!pending_channels_.linked())
    return;
  // Take the whole pending list: channels that still have work after their
  // turn, and channels that callbacks give new work, go back on it.
  ListNode batch;
  batch.link_before(*pending_channels_.next);
  pending_channels_.unlink();
  while (batch.next != &batch) {
    Channel& channel = static_cast<Channel&>(*batch.next);
    channel.unlink();
    flush_channel(channel);
    if (channel.attached)
      mark_pending(channel);
  }
  batch.unlink();
}

std::error_code EngineState::flush_one(int fd) {
  Channel* channel = find(fd);
  if (!channel)
    return error_of(EBADF);
  DispatchScope scope(*this);
  flush_channel(*channel);
  if (channel->attached)
    mark_pending(*channel);
  return {};
}

// Alternates sending and completing until the channel can do no more now.
// A callback may flush again: the nested call leaves this channel alone.
void EngineState::flush_channel(Channel& channel) {
  if (channel.dispatching)
    return;
  channel.dispatching = true;
  bool progress = true;
  while (progress && channel.attached && channel.pending_requests() > 0) {
    progress = send_output(channel);
    progress |= complete_writes(channel);
    if (channel.attached)
      progress |= complete_next_input(channel);
  }
  channel.dispatching = false;
  if (channel.attached)
    channel.output.release_sent();
}

// Sends unsent bytes, many requests per system call, until the descriptor
// is full. Returns whether anything happened (bytes moved, or a hard error).
bool EngineState::send_output(Channel& channel) {
  if (channel.write_error != 0)
    return false;
  iovec vectors[IOV_MAX];
  bool moved = false;
  for (;;) {
    std::size_t offered = 0;
    const int count = channel.output.gather(vectors, IOV_MAX, channel.output_limit(), &offered);
    if (count == 0)
      return moved;
    const IoResult result = transmit(system_, channel, vectors, count);
    if (result.status == IoResult::Status::later)
      return moved;
    if (result.status == IoResult::Status::failed) {
      channel.write_error = result.error.value();
      if (trace_)
        trace_sink_.print("qio: channel {} write failed: {}", channel.fd,
                          error_text(result.error));
      return true;
    }
    if (trace_) {
      trace_sink_.print("qio: channel {} wrote {} bytes", channel.fd, result.bytes);
      hex_dump(trace_sink_, vectors, count, result.bytes);
    }
    channel.output.mark_sent(result.bytes);
    moved = true;
    // A socket or pipe that took less is full: asking again now would only
    // earn EAGAIN. A regular file is never full in that sense.
    if (result.bytes < offered && channel.kind != DescriptorKind::regular_file)
      return moved;
  }
}

// Pops the front write and describes its completion with `error`.
EngineState::Notice EngineState::take_write(Channel& channel,
                                            const std::error_code& error) {
  const std::uint64_t entry = channel.write_ends.pop_front();
  const std::uint64_t start = channel.completed_position;
  const std::uint64_t end = entry & write_end_mask;
  channel.completed_position = end;
  --pending_requests_;
  Notice notice{{error, channel.fd, Operation::write, nullptr,
                 static_cast<std::size_t>(channel.written_part(start, end))},
                {},
                CallbackAbi::cpp};
  if (entry & write_has_callback) {
    const WriteCallbackRecord record = channel.write_callbacks.pop_front();
    notice.completion.buffer = record.data;
    notice.callback = record.callback;
    notice.abi = (entry & write_callback_is_c) ? CallbackAbi::c : CallbackAbi::cpp;
  }
  return notice;
}

// On a regular file, writes queued after a pending read or seek wait for
// it: returns how many writes may complete before the front input.
std::uint64_t EngineState::write_limit(const Channel& channel) const noexcept {
  if (channel.kind == DescriptorKind::regular_file && !channel.inputs.empty())
    return channel.inputs.front().writes_before;
  return std::numeric_limits<std::uint64_t>::max();
}

// Completes, in order, every write whose bytes have all been sent. Once the
// channel has a hard error, the first write not wholly sent and all after it
// fail (see fail_queued_writes).
bool EngineState::complete_writes(Channel& channel) {
  const std::uint64_t limit = write_limit(channel);
  bool completed = false;
  while (!channel.write_ends.empty() && channel.writes_completed() < limit) {
    const bool unsent =
        (channel.write_ends.front() & write_end_mask) > channel.output.sent_position();
    if (unsent || channel.failing_writes) {
      if (channel.write_error == 0)
        break;
      fail_queued_writes(channel);
      return true;
    }
    completed = true;
    if (!(channel.write_ends.front() & write_has_callback) && !trace_) {
      // Nothing to call or report: account for it and move on.
      channel.completed_position = channel.write_ends.pop_front() & write_end_mask;
      --pending_requests_;
      continue;
    }
    const Notice notice = take_write(channel, {});
    deliver(notice.completion, notice.callback, notice.abi);
    if (!channel.attached)
      return true;
  }
  return completed;
}

// Fails every queued write up to the write limit with the channel's error.
// All are taken off the queue, and their unsent bytes dropped, before any
// callback runs: a callback that reconfigures the channel (clearing the
// error) must not let a failed write's bytes go out after all.
void EngineState::fail_queued_writes(Channel& channel) {
  const std::error_code error = error_of(channel.write_error);
  const std::uint64_t limit = write_limit(channel);
  std::vector<Notice> notices;
  notices.reserve(channel.write_ends.size()); // the one step that may throw
  while (!channel.write_ends.empty() && channel.writes_completed() < limit)
    notices.push_back(take_write(channel, error));
  channel.output.skip_to(channel.completed_position);
  channel.failing_writes = true;
  notify(notices);
}

// Performs the front read or seek if its turn has come and the descriptor
// is ready. Returns whether it completed.
bool EngineState::complete_next_input(Channel& channel) {
  if (channel.inputs.empty())
    return false;
  const InputRequest& front = channel.inputs.front();
  if (channel.kind == DescriptorKind::regular_file &&
      channel.writes_completed() < front.writes_before)
    return false;
  // A zero-length read has nothing to wait for; a read(2) of 0 bytes would
  // look like end of file on some descriptors and block on others.
  const bool empty_read = front.operation == Operation::read && front.length == 0;
  const IoResult result = empty_read ? IoResult{} : perform_input(system_, channel, front);
  if (result.status == IoResult::Status::later)
    return false;
  finish_input(channel, result);
  return true;
}

void EngineState::finish_input(Channel& channel, const IoResult& result) {
  const InputRequest request = channel.inputs.pop_front();
  --pending_requests_;
  const bool is_read = request.operation == Operation::read;
  if (trace_ && is_read && result.bytes > 0) {
    trace_sink_.print("qio: channel {} read {} bytes", channel.fd, result.bytes);
    hex_dump(trace_sink_, request.buffer, result.bytes);
  }
  const Completion completion{result.error, channel.fd, request.operation,
                              is_read ? request.buffer : nullptr,
                              is_read ? result.bytes : 0};
  deliver(completion, request.callback, request.abi);
}

void EngineState::deliver(const Completion& completion, StoredCallback callback,
                          CallbackAbi abi) {
  if (trace_)
    trace_completion(trace_sink_, completion);
  if (callback)
    callback.invoke(abi, completion);
}

// ---- waiting ---------------------------------------------------------------

std::error_code EngineState::wait(int fd, int timeout_ms) {
  Channel* channel = find(fd);
  if (!channel)
    return error_of(EBADF);
  if (timeout_ms < -1)
    return error_of(EINVAL);
  if (channel->dispatching)
    return error_of(EDEADLK);
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    flush_one(fd);
    channel = find(fd);
    if (channel == nullptr)
      return {}; // a callback terminated it: nothing is pending any more
    if (channel->pending_requests() == 0)
      return error_of(channel->write_error);
    int remaining_ms = -1;
    if (timeout_ms >= 0) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0)
        return error_of(ETIMEDOUT);
      remaining_ms = static_cast<int>(left.count());
    }
    short events = 0;
    if (channel->output.unsent_bytes() > 0)
      events |= POLLOUT;
    if (!channel->inputs.empty())
      events |= POLLIN;
    // A regular file is always ready; zero-length writes need no readiness.
    if (channel->kind == DescriptorKind::regular_file || events == 0)
      continue;
    pollfd readiness{fd, events, 0};
    system_.poll(&readiness, 1, remaining_ms); // EINTR: just go round again
  }
}

// ---- cancelling --------------------------------------------------------------

// Takes requests off the channel in reverse order and returns the ones with
// callbacks, in request order, completed with ECANCELED. With
// `keep_partial_write`, writes whose bytes have begun to go out stay queued.
std::vector<EngineState::Notice> EngineState::take_requests(Channel& channel,
                                                            bool keep_partial_write) {
  const std::error_code cancelled = error_of(ECANCELED);
  std::vector<Notice> notices;
  notices.reserve(channel.pending_requests()); // the one step that may throw
  auto write_started = [&channel] {
    const std::size_t count = channel.write_ends.size();
    const std::uint64_t start =
        count > 1 ? channel.write_ends[count - 2] & write_end_mask
                  : channel.completed_position;
    return start < channel.output.sent_position();
  };
  for (;;) {
    // The last request in queue order: an input queued after the last write,
    // or else that write.
    const bool have_write = !channel.write_ends.empty() &&
                            !(keep_partial_write && write_started());
    const bool input_is_last =
        !channel.inputs.empty() &&
        (!have_write || channel.inputs.back().writes_before >= channel.writes_queued);
    if (input_is_last) {
      const InputRequest request = channel.inputs.pop_back();
      --pending_requests_;
      if (request.callback)
        notices.push_back({{cancelled, channel.fd, request.operation,
                            request.operation == Operation::read ? request.buffer : nullptr, 0},
                           request.callback,
                           request.abi});
    } else if (have_write) {
      const std::uint64_t entry = channel.write_ends.pop_back();
      const std::uint64_t end = entry & write_end_mask;
      const std::uint64_t start = channel.write_ends.empty()
                                      ? channel.completed_position
                                      : channel.write_ends.back() & write_end_mask;
      --channel.writes_queued;
      --pending_requests_;
      if (entry & write_has_callback) {
        const WriteCallbackRecord record = channel.write_callbacks.pop_back();
        notices.push_back({{cancelled, channel.fd, Operation::write, record.data,
                            static_cast<std::size_t>(channel.written_part(start, end))},
                           record.callback,
                           (entry & write_callback_is_c) ? CallbackAbi::c : CallbackAbi::cpp});
      }
    } else {
      break;
    }
  }
  std::reverse(notices.begin(), notices.end());
  return notices;
}

void EngineState::notify(const std::vector<Notice>& notices) {
  for (const Notice& notice : notices)
    deliver(notice.completion, notice.callback, notice.abi);
}

void EngineState::retire(std::unique_ptr<Channel> channel) {
  retired_.push_back(std::move(channel));
}

std::error_code EngineState::prune(int fd) {
  Channel* channel = find(fd);
  if (!channel)
    return error_of(EBADF);
  DispatchScope scope(*this);
  std::vector<std::unique_ptr<char[]>> dropped;
  dropped.reserve(channel->output.segment_count());
  std::vector<Notice> notices = take_requests(*channel, true);
  const std::uint64_t kept_end = channel->write_ends.empty()
                                     ? channel->completed_position
                                     : channel->write_ends.back() & write_end_mask;
  // Bytes of cancelled buffered writes stay alive until their callbacks ran.
  channel->output.truncate(kept_end, dropped);
  if (trace_)
    trace_sink_.print("qio: prune channel {}: {} request(s) with AST cancelled", fd,
                      notices.size());
  notify(notices);
  return {};
}

std::error_code EngineState::terminate(int fd) {
  Channel* channel = find(fd);
  if (!channel)
    return error_of(EBADF);
  DispatchScope scope(*this);
  // The two steps that may throw come first, before anything changes.
  retired_.reserve(retired_.size() + 1);
  const std::vector<Notice> notices = take_requests(*channel, false);
  std::unique_ptr<Channel> detached = std::move(channels_by_fd_[static_cast<std::size_t>(fd)]);
  detached->unlink();
  detached->attached = false;
  // A flush of this channel may be on the stack (a callback terminating its
  // own channel): the object lives until the outermost dispatch returns.
  retire(std::move(detached));
  if (trace_)
    trace_sink_.print("qio: terminate channel {}: {} request(s) with AST cancelled", fd,
                      notices.size());
  notify(notices);
  return {};
}

// Terminates the channels that exist now; channels that callbacks configure
// meanwhile are left alone, whatever their descriptor numbers.
void EngineState::terminate_all() {
  DispatchScope scope(*this);
  std::vector<const Channel*> existing;
  for (const auto& channel : channels_by_fd_)
    if (channel)
      existing.push_back(channel.get());
  for (const Channel* channel : existing) {
    const int fd = channel->fd;
    if (find(fd) == channel)
      terminate(fd);
  }
}

// ---- inspecting ----------------------------------------------------------------

template <class Visit>
void EngineState::for_each_pending_output(Visit visit) const {
  for (const ListNode* node = pending_channels_.next; node != &pending_channels_;
       node = node->next) {
    const Channel& channel = static_cast<const Channel&>(*node);
    if (!channel.write_ends.empty())
      visit(channel);
  }
}

int EngineState::fill_fdset(fd_set& write_mask) const noexcept {
  int highest = -1;
  for_each_pending_output([&](const Channel& channel) {
    if (channel.fd >= FD_SETSIZE)
      return; // FD_SET past the set's end would write out of bounds
    FD_SET(channel.fd, &write_mask);
    highest = std::max(highest, channel.fd);
  });
  return highest + 1;
}

std::size_t EngineState::fill_pollfds(std::span<pollfd> fds) const noexcept {
  std::size_t count = 0;
  for_each_pending_output([&](const Channel& channel) {
    if (count < fds.size())
      fds[count] = pollfd{channel.fd, POLLOUT, 0};
    ++count;
  });
  return count;
}

std::error_code EngineState::dump(std::FILE* out) const {
  try {
    std::size_t channels = 0;
    for (const auto& channel : channels_by_fd_)
      channels += channel ? 1 : 0;
    fmt::print(out, "qio: {} channel(s), {} request(s) pending\n", channels,
               pending_requests_);
    for (const auto& channel : channels_by_fd_) {
      if (!channel)
        continue;
      const ChannelOptions& options = channel->options;
      fmt::print(out,
                 "channel {}: {}, {}blocking, {}buffered, max_outstanding {}, "
                 "max_queued_bytes {}, {} unsent byte(s), write error: {}\n",
                 channel->fd, kind_name(channel->kind),
                 channel->descriptor_nonblocking ? "non-" : "",
                 options.buffered ? "" : "un", limit_text(options.max_outstanding),
                 limit_text(options.max_queued_bytes), channel->output.unsent_bytes(),
                 channel->write_error ? error_text(error_of(channel->write_error)) : "none");
      std::uint64_t start = channel->completed_position;
      for (std::size_t i = 0; i < channel->write_ends.size(); ++i) {
        const std::uint64_t entry = channel->write_ends[i];
        const std::uint64_t end = entry & write_end_mask;
        fmt::print(out, "  write  length {:>8}  done {:>8}  AST {}\n", end - start,
                   channel->written_part(start, end),
                   (entry & write_has_callback) ? "yes" : "no");
        start = end;
      }
      for (std::size_t i = 0; i < channel->inputs.size(); ++i) {
        const InputRequest& request = channel->inputs[i];
        fmt::print(out, "  {:<5}  {} {:>8}  done {:>8}  AST {}\n",
                   operation_name(request.operation),
                   request.operation == Operation::seek ? "offset" : "length",
                   request.operation == Operation::seek
                       ? static_cast<long long>(request.offset)
                       : static_cast<long long>(request.length),
                   0, request.callback ? "yes" : "no");
      }
    }
    if (std::fflush(out) != 0)
      return error_of(EIO);
  } catch (const std::exception&) {
    return error_of(EIO);
  }
  return {};
}

} // namespace qio::detail

// ---- the public class: a thin forwarder --------------------------------------

namespace qio {

using detail::CallbackAbi;
using detail::StoredCallback;

Engine::Engine() : Engine(detail::real_system_calls()) {}
Engine::Engine(detail::SystemCalls& system_calls)
    : state_(std::make_unique<detail::EngineState>(system_calls)) {}
Engine::~Engine() = default;

std::error_code Engine::configure(int fd, const ChannelOptions& options) {
  return state_->configure(fd, options);
}
std::error_code Engine::write(int fd, std::span<const char> data, Callback callback) {
  const int error = state_->write(fd, data, StoredCallback::from(callback), CallbackAbi::cpp);
  return error == 0 ? std::error_code() : std::error_code(error, std::generic_category());
}
std::error_code Engine::read(int fd, std::span<char> buffer, Callback callback) {
  return state_->read(fd, buffer, StoredCallback::from(callback), CallbackAbi::cpp);
}
std::error_code Engine::seek(int fd, off_t offset, Callback callback) {
  return state_->seek(fd, offset, StoredCallback::from(callback), CallbackAbi::cpp);
}
void Engine::flush() { state_->flush_all(); }
std::error_code Engine::flush(int fd) { return state_->flush_one(fd); }
std::error_code Engine::wait(int fd, int timeout_ms) { return state_->wait(fd, timeout_ms); }
std::size_t Engine::pending() const noexcept { return state_->pending(); }
std::size_t Engine::pending(int fd) const noexcept { return state_->pending(fd); }
bool Engine::is_channel(int fd) const noexcept { return state_->find(fd) != nullptr; }
std::error_code Engine::options(int fd, ChannelOptions& out) const {
  const detail::Channel* channel = state_->find(fd);
  if (!channel)
    return {EBADF, std::generic_category()};
  out = channel->options;
  return {};
}
std::error_code Engine::prune(int fd) { return state_->prune(fd); }
std::error_code Engine::terminate(int fd) { return state_->terminate(fd); }
void Engine::terminate() { state_->terminate_all(); }
int Engine::fill_fdset(fd_set& write_mask) const noexcept {
  return state_->fill_fdset(write_mask);
}
std::size_t Engine::fill_pollfds(std::span<pollfd> fds) const noexcept {
  return state_->fill_pollfds(fds);
}
std::error_code Engine::dump(std::FILE* out) const { return state_->dump(out); }
void Engine::set_trace(bool enabled) noexcept { state_->set_trace(enabled); }
void Engine::set_trace_handler(TraceHandler handler, void* argument) noexcept {
  state_->set_trace_handler(handler, argument);
}

} // namespace qio
