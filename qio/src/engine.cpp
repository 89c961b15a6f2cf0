// SPDX-License-Identifier: MIT
// engine.cpp - queueing, flushing, completing and cancelling requests.
//
// Data flow: write() appends bytes to the channel's OutputQueue and the
// request to its WriteQueue (a callback record too if it has one), and links
// the channel on the pending list. flush() visits only pending channels,
// each within a FlushBudget: send_output() gathers unsent bytes into one
// writev/sendmsg, complete_writes() takes off every write whose bytes have
// all been sent, complete_next_input() performs reads and seeks. Completed
// and cancelled requests are collected as Notices and delivered together
// after each step (Delivery), always after the requests have left every
// queue, so a callback may call anything, including terminate() on its own
// channel.
#include "engine_state.hpp"

#include <fmt/format.h>

#include <limits.h> // IOV_MAX
#include <poll.h>   // POLLIN, POLLOUT

#include <algorithm> // std::reverse
#include <cerrno>    // errno values
#include <chrono>    // wait() deadlines
#include <limits>    // std::numeric_limits
#include <new>       // std::bad_alloc

#include "dispatch.hpp"
#include "error.hpp"
#include "trace.hpp"

namespace qio::detail {
namespace {

std::string limit_text(std::size_t limit) {
  return limit == unlimited ? std::string("none") : std::to_string(limit);
}

} // namespace

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

std::error_code EngineState::configure(int fd, const ChannelOptions& requested,
                                       Settings settings) {
  if (requested.max_outstanding == 0 || requested.max_queued_bytes == 0)
    return error_of(EINVAL);
  if (settings == Settings::all &&
      (requested.soft_ms < 0 || requested.stall_ms < 0 ||
       (requested.water && requested.low_water > requested.high_water)))
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
  ChannelOptions options = requested;
  if (settings == Settings::descriptor) {
    // Limits stay as their own calls set them.
    options.max_queued_bytes = previous.max_queued_bytes;
    options.soft_queued_bytes = previous.soft_queued_bytes;
    options.soft_ms = previous.soft_ms;
    options.stall_ms = previous.stall_ms;
  }
  channel.options = options;
  if (const std::error_code error = inspect_descriptor(system_, channel)) {
    channel.options = previous;
    return error;
  }
  channel.write_error = 0;
  channel.failing_writes = false;
  channel.has_limits = options.max_outstanding != unlimited || options.max_queued_bytes != unlimited;
  channel.update_plain_writes(watches_writes());
  if (created) {
    if (static_cast<std::size_t>(fd) >= channels_by_fd_.size()) {
      channels_by_fd_.resize(static_cast<std::size_t>(fd) + 1);
      channel_slots_ = static_cast<unsigned>(channels_by_fd_.size());
    }
    channels_by_fd_[static_cast<std::size_t>(fd)] = std::move(created);
  }
  if (settings == Settings::all)
    set_watermark(fd, options.high_water, options.low_water, StoredCallback::from(options.water),
                  CallbackAbi::cpp);
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

// A write with a callback. Its short path: buffered, on a channel with no
// limit and no error, fitting the tail block, with room in both rings; all
// else goes to write_general. Out of line: inlined into write(), its
// register needs would slow the commoner write without a callback.
template <CallbackAbi abi>
int EngineState::write_with_callback(Channel& channel, const char* data, std::size_t length,
                                     StoredCallback callback) {
  char* copy;
  // A zero-length write's callback gets no buffer: the longer path.
  if (trace_ || !channel.plain_writes || length == 0 || !channel.writes.has_room() ||
      !channel.write_callbacks.has_room() ||
      (copy = channel.output.claim_in_tail(length)) == nullptr)
    return write_general<abi>(channel, data, length, callback);
  channel.writes.push(length, true, abi);
  channel.write_callbacks.push_back_reserved({copy, callback});
  ++channel.writes_queued;
  ++pending_requests_;
  mark_pending(channel);
  std::memcpy(copy, data, length);
  return 0;
}

// Every write the short path (write_plain) declines: the first of a run, a
// write with a callback, an unbuffered one, one that needs a new block, or
// one the channel's limits or error must judge.
template <CallbackAbi abi>
int EngineState::write_general(Channel& channel, const char* data, std::size_t length,
                               StoredCallback callback) {
  if (length > largest_request)
    return EINVAL;
  if (channel.closing)
    return EPIPE;
  if (channel.write_error != 0)
    return channel.write_error;
  if (channel.has_limits)
    if (const int refused = admit(channel, length))
      return refused;
  if (total_limit_ != unlimited && length > 0) {
    if (length > total_limit_)
      return EMSGSIZE;
    if (!make_room_in_total(channel, length))
      return ENOBUFS;
  }
  const bool joins = !callback && channel.writes.can_join(length);
  char* stored = const_cast<char*>(data);
  try {
    // Room in the queues first: once bytes are queued nothing may fail.
    if (!joins)
      channel.writes.reserve_one(length);
    if (callback)
      channel.write_callbacks.reserve_one();
    if (!channel.options.buffered)
      channel.output.append_reference(stored, length);
    else if ((stored = channel.output.append_copy(data, length)) == nullptr && length != 0)
      return ENOMEM;
  } catch (const std::bad_alloc&) {
    return ENOMEM;
  }
  if (joins)
    channel.writes.join_last_run();
  else
    channel.writes.push(length, bool(callback), abi);
  if (callback)
    channel.write_callbacks.push_back_reserved({stored, callback});
  ++channel.writes_queued;
  ++pending_requests_;
  mark_pending(channel);
  if (total_limit_ != unlimited)
    total_queued_bytes_ += length;
  if (interest_)
    update_interest(channel);
  if (trace_) [[unlikely]]
    trace_write(channel.fd, length, bool(callback));
  return 0;
}

template int EngineState::write_general<CallbackAbi::c>(Channel&, const char*, std::size_t,
                                                        StoredCallback);
template int EngineState::write_general<CallbackAbi::cpp>(Channel&, const char*, std::size_t,
                                                          StoredCallback);
template int EngineState::write_with_callback<CallbackAbi::c>(Channel&, const char*, std::size_t,
                                                              StoredCallback);
template int EngineState::write_with_callback<CallbackAbi::cpp>(Channel&, const char*,
                                                                std::size_t, StoredCallback);

// Out of line and exception-free: it sits on the enqueue path.
void EngineState::trace_write(int fd, std::size_t bytes, bool with_callback) const noexcept {
  char line[96];
  std::snprintf(line, sizeof line, "qio: write queued on channel %d: %zu bytes%s", fd, bytes,
                with_callback ? ", with AST" : "");
  trace_sink_.line(line);
}

std::error_code EngineState::enqueue_input(Channel& channel, const InputRequest& request) {
  if (channel.closing)
    return error_of(EPIPE);
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
  // Rises first: they come before any callback of this flush.
  if (water_channels_ > 0)
    report_rises();
  deliver_deferred();
  if (!pending_channels_.linked())
    return;
  flush_now_ms_ = now_ms();
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
  if (!channel->above_high_water)
    report_water(*channel); // a rise, before any callback of this flush
  deliver_deferred();
  // A callback may have terminated the channel: look it up again.
  if ((channel = find(fd)) == nullptr)
    return {};
  flush_now_ms_ = now_ms();
  flush_channel(*channel);
  if (channel->attached)
    mark_pending(*channel);
  return {};
}

// Alternates sending and completing until the channel can do no more now,
// or its budget for this flush is spent; then checks its deadlines. A
// callback may flush again: the nested call leaves this channel alone.
void EngineState::flush_channel(Channel& channel) {
  if (channel.dispatching)
    return;
  // Completions of an eviction a callback of this flush caused come before
  // this channel's own.
  if (!deferred_notices_.empty())
    deliver_deferred();
  if (!channel.attached)
    return;
  channel.dispatching = true;
  channel.note_peak();
  note_progress(channel, flush_now_ms_);
  FlushBudget budget;
  bool progress = true;
  // Bytes sent, or dropped by a hard write error: a fall to report, before
  // the callbacks of the writes that made it.
  auto report_output_change = [this](Channel& changed) {
    if (changed.attached)
      report_water(changed);
    if (changed.attached && interest_)
      update_interest(changed);
  };
  while (progress && channel.attached && channel.pending_requests() > 0 && budget.left()) {
    channel.note_peak(); // callbacks may have queued more since
    progress = send_output(channel, budget);
    if (progress)
      report_output_change(channel);
    if (channel.attached && complete_writes(channel, budget)) {
      progress = true;
      report_output_change(channel);
    }
    if (channel.attached)
      progress |= complete_next_input(channel, budget);
  }
  if (channel.attached && (channel.has_timed_limits()))
    check_deadlines(channel, flush_now_ms_);
  note_progress(channel, flush_now_ms_);
  channel.dispatching = false;
  // Inside a callback's flush, a callback further up may still hold a
  // pointer into a block this flush finished with: keep it until the
  // outermost dispatch returns.
  if (channel.attached)
    channel.output.release_sent(dispatch_depth_ > 1 ? &released_storage_ : nullptr);
  if (channel.attached && channel.pending_requests() == 0)
    channel.trim_idle_storage();
}

// Sends unsent bytes, many requests per system call, until the descriptor
// is full or the budget is spent. Returns whether anything happened (bytes
// moved, or a hard error).
bool EngineState::send_output(Channel& channel, FlushBudget& budget) {
  if (channel.write_error != 0)
    return false;
  iovec vectors[IOV_MAX];
  bool moved = false;
  while (budget.left()) {
    std::size_t offered = 0;
    // A message is never cut to fit the budget: it goes whole or next time.
    const std::uint64_t limit =
        channel.keeps_message_boundaries
            ? output_limit(channel)
            : std::min(output_limit(channel), channel.output.sent_position() + budget.bytes_left);
    const int count = channel.output.gather(vectors, IOV_MAX, limit, &offered);
    if (count == 0)
      return moved;
    const IoResult result = transmit(system_, channel, vectors, count);
    channel.write_calls += result.called ? 1 : 0;
    if (result.status == IoResult::Status::later)
      return moved;
    if (result.status == IoResult::Status::failed) {
      channel.write_error = result.error.value();
      channel.update_plain_writes(watches_writes());
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
    channel.bytes_written += result.bytes;
    channel.progress_ms = flush_now_ms_;
    unsent_dropped(result.bytes);
    budget.spend_call(result.bytes);
    moved = true;
    // A descriptor that took less is full: asking again now would only earn
    // EAGAIN.
    if (result.bytes < offered && short_write_means_full(channel))
      return moved;
  }
  return moved;
}

// When reads and seeks are ordered with writes (see the channel driver),
// writes queued after the front input wait for it: returns how many writes
// may have completed before it.
std::uint64_t EngineState::write_limit(const Channel& channel) const noexcept {
  if (inputs_ordered_with_writes(channel) && !channel.inputs.empty())
    return channel.inputs.front().writes_before;
  return std::numeric_limits<std::uint64_t>::max();
}

// Takes `requests` writes (all of the front run or fewer) off the front,
// completed with `error`. A run without a callback goes in one step, with
// nothing to deliver unless tracing.
void EngineState::take_front_writes(Channel& channel, std::uint64_t requests,
                                    const std::error_code& error) {
  const WriteRun& run = channel.writes.front_run();
  pending_requests_ -= requests;
  channel.requests_completed += requests;
  if (!run.has_callback() && !trace_) {
    channel.writes.pop_front(static_cast<std::uint32_t>(requests));
    channel.writes_completed += requests;
    return;
  }
  const std::uint64_t length = channel.writes.front_length();
  for (std::uint64_t i = 0; i < requests; ++i) {
    const std::uint64_t start = channel.completed_position();
    Notice notice{{error, channel.fd, Operation::write, nullptr,
                   static_cast<std::size_t>(channel.written_part(start, start + length))},
                  {},
                  run.abi()};
    if (run.has_callback()) {
      const WriteCallbackRecord record = channel.write_callbacks.pop_front();
      notice.completion.buffer = record.data;
      notice.callback = record.callback;
    }
    channel.writes.pop_front(1);
    ++channel.writes_completed;
    notices_.push_back(notice); // reserve_notices made room
  }
}

// Room for a notice for every request of the channel that could need one,
// so collecting them cannot fail halfway.
void EngineState::reserve_notices(const Channel& channel) {
  const std::size_t needed =
      trace_ ? channel.pending_requests() : channel.write_callbacks.size() + channel.inputs.size();
  notices_.reserve(notices_.size() + needed);
}

// Completes, in order, every write whose bytes have all been sent. Once the
// channel has a hard error, the first write not wholly sent and all after it
// fail (see fail_queued_writes). A write with a callback is delivered before
// the next is taken off: its callback may terminate or prune the channel,
// which then cancels the writes after it, sent or not.
bool EngineState::complete_writes(Channel& channel, FlushBudget& budget) {
  const std::uint64_t limit = write_limit(channel);
  Delivery delivery(*this);
  reserve_notices(channel);
  bool completed = false;
  while (!channel.writes.empty() && channel.writes_completed < limit) {
    const std::uint64_t start = channel.completed_position();
    const std::uint64_t sent = channel.output.sent_position();
    const std::uint64_t length = channel.writes.front_length();
    const bool one_by_one = channel.writes.front_run().has_callback() || trace_;
    std::uint64_t done;
    if (start > sent)
      done = 0;
    else if (one_by_one) // no division on the path of every callback
      done = sent - start >= length ? 1 : 0;
    else
      done = length > 0 ? std::min<std::uint64_t>(channel.writes.front_run().count(),
                                                  (sent - start) / length)
                        : channel.writes.front_run().count();
    done = std::min(done, limit - channel.writes_completed);
    if (done == 0 || channel.failing_writes) {
      if (channel.write_error != 0)
        fail_queued_writes(channel);
      completed |= channel.write_error != 0;
      break;
    }
    take_front_writes(channel, done, {});
    completed = true;
    if (one_by_one) {
      --budget.completions_left;
      delivery.run();
      if (!channel.attached)
        return true;
    }
  }
  delivery.run();
  return completed;
}

// Fails every queued write up to the write limit with the channel's error.
// All are taken off the queue, and their unsent bytes dropped, before any
// callback runs: a callback that reconfigures the channel (clearing the
// error) must not let a failed write's bytes go out after all.
void EngineState::fail_queued_writes(Channel& channel) {
  const std::error_code error = error_of(channel.write_error);
  const std::uint64_t limit = write_limit(channel);
  while (!channel.writes.empty() && channel.writes_completed < limit)
    take_front_writes(channel,
                      std::min<std::uint64_t>(channel.writes.front_run().count(),
                                              limit - channel.writes_completed),
                      error);
  const std::uint64_t unsent_before = channel.output.unsent_bytes();
  channel.output.skip_to(channel.completed_position());
  unsent_dropped(unsent_before - channel.output.unsent_bytes());
  channel.failing_writes = true;
}

// Performs the front read or seek if its turn has come and the descriptor
// is ready. Returns whether it completed.
bool EngineState::complete_next_input(Channel& channel, FlushBudget& budget) {
  if (channel.inputs.empty())
    return false;
  const InputRequest& front = channel.inputs.front();
  if (inputs_ordered_with_writes(channel) && channel.writes_completed < front.writes_before)
    return false;
  // A zero-length read has nothing to wait for; a read(2) of 0 bytes would
  // look like end of file on some descriptors and block on others.
  const bool empty_read = front.operation == Operation::read && front.length == 0;
  const IoResult result = empty_read ? IoResult{} : perform_input(system_, channel, front);
  if (result.status == IoResult::Status::later)
    return false;
  if (!empty_read)
    budget.spend_call(result.bytes);
  --budget.completions_left;
  Delivery delivery(*this);
  notices_.reserve(notices_.size() + 1); // before the request leaves its queue
  const InputRequest request = channel.inputs.pop_front();
  --pending_requests_;
  ++channel.requests_completed;
  const bool is_read = request.operation == Operation::read;
  if (trace_ && is_read && result.bytes > 0) {
    trace_sink_.print("qio: channel {} read {} bytes", channel.fd, result.bytes);
    hex_dump(trace_sink_, request.buffer, result.bytes);
  }
  notices_.push_back({{result.error, channel.fd, request.operation,
                       is_read ? request.buffer : nullptr, is_read ? result.bytes : 0},
                      request.callback,
                      request.abi});
  delivery.run();
  return true;
}

void EngineState::deliver(const Notice& notice) {
  if (trace_)
    trace_completion(trace_sink_, notice.completion);
  if (notice.callback)
    notice.callback.invoke(notice.abi, notice.completion);
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
    // Wake for the engine's own deadlines (soft limit, stall, close) too.
    if (const int engine_deadline = this->timeout_ms(); engine_deadline >= 0)
      remaining_ms = remaining_ms < 0 ? engine_deadline : std::min(remaining_ms, engine_deadline);
    short events = 0;
    if (channel->output.unsent_bytes() > 0)
      events |= POLLOUT;
    if (!channel->inputs.empty())
      events |= POLLIN;
    // Zero-length writes need no readiness; nor does a channel whose flush
    // stopped at its budget with work it can do now.
    if (!waits_for_readiness(*channel) || events == 0)
      continue;
    pollfd readiness{fd, events, 0};
    system_.poll(&readiness, 1, remaining_ms); // EINTR: just go round again
  }
}

// ---- cancelling --------------------------------------------------------------

// Takes requests off the channel in reverse order and collects the ones
// with callbacks (or all, when tracing), in request order, completed with
// `error`. With `keep_partial_write`, writes whose bytes have begun to go
// out stay queued. Returns where the last write kept ends.
std::uint64_t EngineState::take_requests(Channel& channel, bool keep_partial_write,
                                         int error) {
  const std::error_code cancelled = error_of(error);
  const std::size_t pending_before = channel.pending_requests();
  reserve_notices(channel);
  const std::size_t first = notices_.size();
  std::uint64_t back_end = channel.output.queued_position();
  for (;;) {
    // The last request in queue order: an input queued after the last write,
    // or else that write.
    const bool have_write =
        !channel.writes.empty() &&
        !(keep_partial_write && channel.writes.back_start(back_end) < channel.output.sent_position());
    const bool input_is_last =
        !channel.inputs.empty() &&
        (!have_write || channel.inputs.back().writes_before >= channel.writes_queued);
    if (input_is_last) {
      const InputRequest request = channel.inputs.pop_back();
      --pending_requests_;
      if (request.callback || trace_)
        notices_.push_back({{cancelled, channel.fd, request.operation,
                             request.operation == Operation::read ? request.buffer : nullptr, 0},
                            request.callback,
                            request.abi});
    } else if (have_write) {
      const WriteSpan span = channel.writes.pop_back(back_end);
      back_end = span.start;
      --channel.writes_queued;
      --pending_requests_;
      Notice notice{{cancelled, channel.fd, Operation::write, nullptr,
                     static_cast<std::size_t>(channel.written_part(span.start, span.end))},
                    {},
                    span.abi};
      if (span.has_callback) {
        const WriteCallbackRecord record = channel.write_callbacks.pop_back();
        notice.completion.buffer = record.data;
        notice.callback = record.callback;
      }
      if (span.has_callback || trace_)
        notices_.push_back(notice);
    } else {
      break;
    }
  }
  std::reverse(notices_.begin() + static_cast<std::ptrdiff_t>(first), notices_.end());
  channel.requests_completed += pending_before - channel.pending_requests();
  return back_end;
}

void EngineState::retire(std::unique_ptr<Channel> channel) {
  retired_.push_back(std::move(channel));
}

std::error_code EngineState::prune(int fd) {
  Channel* channel = find(fd);
  if (!channel)
    return error_of(EBADF);
  DispatchScope scope(*this);
  deliver_deferred();
  std::vector<std::unique_ptr<char[]>> dropped;
  dropped.reserve(channel->output.segment_count());
  Delivery delivery(*this);
  const std::size_t before = channel->pending_requests();
  const std::uint64_t unsent_before = channel->output.unsent_bytes();
  channel->note_peak();
  const std::uint64_t kept_end = take_requests(*channel, true, ECANCELED);
  // Bytes of cancelled buffered writes stay alive until their callbacks ran.
  channel->output.truncate(kept_end, dropped);
  unsent_dropped(unsent_before - channel->output.unsent_bytes());
  if (trace_)
    trace_sink_.print("qio: prune channel {}: {} request(s) cancelled", fd,
                      before - channel->pending_requests());
  delivery.run();
  if ((channel = find(fd)) != nullptr) {
    report_water(*channel);
    if (channel->attached && interest_)
      update_interest(*channel);
  }
  return {};
}

// Takes the channel out of the table and the pending list; its memory
// lives until the outermost dispatch returns (a flush of it may be on the
// stack: a callback terminating its own channel).
void EngineState::detach(Channel& channel) {
  unsent_dropped(channel.output.unsent_bytes());
  if (channel.water_callback)
    --water_channels_;
  if (channel.wants_write && interest_) {
    channel.wants_write = false;
    interest_.invoke_interest(interest_abi_, channel.fd, false);
  }
  std::unique_ptr<Channel> detached =
      std::move(channels_by_fd_[static_cast<std::size_t>(channel.fd)]);
  detached->unlink();
  detached->attached = false;
  retire(std::move(detached));
}

std::error_code EngineState::terminate(int fd) {
  Channel* channel = find(fd);
  if (!channel)
    return error_of(EBADF);
  DispatchScope scope(*this);
  deliver_deferred();
  // The two steps that may throw come first, before anything changes.
  retired_.reserve(retired_.size() + 1);
  Delivery delivery(*this);
  const std::size_t cancelled = channel->pending_requests();
  take_requests(*channel, false, ECANCELED);
  if (channel->closing) {
    // A close in progress ends here: the descriptor is closed after all.
    finish_close(*channel, ECANCELED);
  } else {
    detach(*channel);
  }
  if (trace_)
    trace_sink_.print("qio: terminate channel {}: {} request(s) cancelled", fd, cancelled);
  delivery.run();
  return {};
}

// Terminates the channels that exist now; channels that callbacks configure
// meanwhile are left alone, whatever their descriptor numbers.
void EngineState::terminate_all() {
  DispatchScope scope(*this);
  deliver_deferred();
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

std::error_code EngineState::options(int fd, ChannelOptions& out) const {
  const Channel* channel = find(fd);
  if (!channel)
    return error_of(EBADF);
  out = channel->options;
  // A watermark the C API set has no C++ callback to show.
  out.high_water = channel->high_water;
  out.low_water = channel->low_water;
  out.water = {};
  if (channel->water_abi == CallbackAbi::cpp)
    out.water = {reinterpret_cast<WaterCallback::Handler>(channel->water_callback.function),
                 channel->water_callback.argument};
  return {};
}

template <class Visit>
void EngineState::for_each_pending_output(Visit visit) const {
  for (const ListNode* node = pending_channels_.next; node != &pending_channels_;
       node = node->next) {
    const Channel& channel = static_cast<const Channel&>(*node);
    if (!channel.writes.empty())
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
      fmt::print(out,
                 "  flow: hard {}, soft {} for {} ms, stall {} ms, watermark {}; "
                 "peak {}, written {} byte(s) in {} call(s), {} completed{}\n",
                 limit_text(options.max_queued_bytes), limit_text(options.soft_queued_bytes),
                 options.soft_ms, options.stall_ms,
                 channel->water_callback
                     ? fmt::format("{}/{} ({})", channel->high_water, channel->low_water,
                                   channel->above_high_water ? "above high" : "below high")
                     : std::string("none"),
                 std::max<std::uint64_t>(channel->peak_queued_bytes, channel->output.unsent_bytes()),
                 channel->bytes_written, channel->write_calls, channel->requests_completed,
                 channel->closing ? ", closing" : "");
      channel->writes.for_each([&](const WriteSpan& span) {
        fmt::print(out, "  write  length {:>8}  done {:>8}  AST {}\n", span.end - span.start,
                   channel->written_part(span.start, span.end),
                   span.has_callback ? "yes" : "no");
      });
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
  const int error = state_->write<CallbackAbi::cpp>(fd, data, StoredCallback::from(callback));
  return detail::error_of(error);
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
  return state_->options(fd, out);
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
std::error_code Engine::stats(int fd, ChannelStats& out) const { return state_->stats(fd, out); }
void Engine::set_total_limit(std::size_t max_total_queued_bytes) noexcept {
  state_->set_total_limit(max_total_queued_bytes);
}
std::error_code Engine::close(int fd, int timeout_ms, Callback callback) {
  return state_->close(fd, timeout_ms, StoredCallback::from(callback), CallbackAbi::cpp);
}
void Engine::set_interest(InterestHandler handler, void* argument) noexcept {
  state_->set_interest({reinterpret_cast<void (*)()>(handler), argument}, CallbackAbi::cpp);
}
int Engine::timeout_ms() const { return state_->timeout_ms(); }

} // namespace qio
