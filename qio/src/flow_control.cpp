// SPDX-License-Identifier: MIT
// flow_control.cpp - what a slow consumer costs, bounded and retired:
// statistics, hard/soft/stall limits, the engine-wide limit, watermarks,
// close after drain and loop integration.
//
// Nothing here sits on the enqueue short path: a channel with a hard limit,
// or an engine with a total limit or an interest handler, takes the general
// path (plain_writes is false); everything else is checked at flush time,
// against the clock the flush read once (flush_now_ms_).
#include "engine_state.hpp"

#include <sys/socket.h> // SHUT_WR
#include <time.h>       // CLOCK_MONOTONIC

#include <algorithm> // std::min, std::max
#include <cerrno>    // errno values
#include <climits>   // INT_MAX

#include "dispatch.hpp"
#include "error.hpp"
#include "trace.hpp"

namespace qio::detail {

std::int64_t EngineState::now_ms() const {
  timespec now{};
  system_.clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1000 + now.tv_nsec / 1000000;
}

void EngineState::update_all_plain_writes() noexcept {
  for (const auto& channel : channels_by_fd_)
    if (channel)
      channel->update_plain_writes(watches_writes());
}

// ---- statistics --------------------------------------------------------------

std::error_code EngineState::stats(int fd, ChannelStats& out) const {
  const Channel* channel = find(fd);
  if (!channel)
    return error_of(EBADF);
  const std::size_t queued = static_cast<std::size_t>(channel->output.unsent_bytes());
  out.queued_bytes = queued;
  out.queued_requests = channel->pending_requests();
  out.peak_queued_bytes = std::max(channel->peak_queued_bytes, queued);
  out.bytes_written = channel->bytes_written;
  out.requests_completed = channel->requests_completed;
  out.write_calls = channel->write_calls;
  out.stalled_ms = 0;
  if (queued > 0 && channel->progress_ms >= 0)
    out.stalled_ms = static_cast<long>(std::max<std::int64_t>(0, now_ms() - channel->progress_ms));
  return {};
}

// Output became pending: the stall clock starts; none pending: it stops.
void EngineState::note_progress(Channel& channel, std::int64_t now) noexcept {
  if (channel.output.unsent_bytes() == 0)
    channel.progress_ms = -1;
  else if (channel.progress_ms < 0)
    channel.progress_ms = now;
}

// ---- limits --------------------------------------------------------------------

std::error_code EngineState::set_limits(int fd, std::size_t max_queued_bytes,
                                        std::size_t soft_queued_bytes, int soft_ms,
                                        int stall_ms) {
  Channel* channel = find(fd);
  if (!channel)
    return error_of(EBADF);
  if (soft_ms < 0 || stall_ms < 0)
    return error_of(EINVAL);
  ChannelOptions& options = channel->options;
  options.max_queued_bytes = max_queued_bytes;
  options.soft_queued_bytes = soft_queued_bytes;
  options.soft_ms = soft_ms;
  options.stall_ms = stall_ms;
  channel->soft_since_ms = -1;
  channel->progress_ms = -1; // the stall clock starts at the next flush
  channel->has_limits = options.max_outstanding != unlimited || max_queued_bytes != unlimited;
  channel->update_plain_writes(watches_writes());
  if (trace_)
    trace_sink_.print("qio: limits on channel {}: hard {}, soft {} for {} ms, stall {} ms", fd,
                      max_queued_bytes == unlimited ? 0 : max_queued_bytes,
                      soft_queued_bytes == unlimited ? 0 : soft_queued_bytes, soft_ms, stall_ms);
  return {};
}

void EngineState::set_total_limit(std::size_t max_total_queued_bytes) {
  total_limit_ = max_total_queued_bytes;
  total_queued_bytes_ = 0;
  if (total_limit_ != unlimited)
    for (const auto& channel : channels_by_fd_)
      if (channel)
        total_queued_bytes_ += static_cast<std::size_t>(channel->output.unsent_bytes());
  update_all_plain_writes();
  if (trace_)
    trace_sink_.print("qio: total limit {}", total_limit_ == unlimited ? 0 : total_limit_);
}

// Redis's client eviction: the channel holding the most goes first.
bool EngineState::make_room_in_total(Channel& writer, std::size_t length) {
  while (total_queued_bytes_ + length > total_limit_) {
    Channel* largest = nullptr;
    for (const auto& channel : channels_by_fd_)
      if (channel && channel->write_error == 0 &&
          (largest == nullptr || channel->output.unsent_bytes() > largest->output.unsent_bytes()))
        largest = channel.get();
    if (largest == nullptr || largest->output.unsent_bytes() == 0) {
      largest = &writer; // nothing left to evict: the writer cannot fit
    }
    if (trace_)
      trace_sink_.print("qio: total limit reached: channel {} fails with ENOBUFS ({} bytes)",
                        largest->fd, largest->output.unsent_bytes());
    fail_channel(*largest, ENOBUFS, true);
    if (largest == &writer)
      return false;
  }
  return true;
}

void EngineState::fail_channel(Channel& channel, int error, bool deferred) {
  if (trace_)
    trace_sink_.print("qio: channel {} fails with {}: {} request(s), {} unsent byte(s)",
                      channel.fd, error_text(error_of(error)), channel.pending_requests(),
                      channel.output.unsent_bytes());
  channel.note_peak();
  const std::size_t first = notices_.size();
  std::vector<std::unique_ptr<char[]>> dropped;
  dropped.reserve(channel.output.segment_count());
  take_requests(channel, false, error);
  const std::uint64_t unsent_before = channel.output.unsent_bytes();
  // Every block goes, sent ones too: the notices point into them, and may
  // be delivered after this flush (deferred) or after the channel is gone.
  channel.output.discard_all(dropped);
  channel.writes.restart_at(channel.output.queued_position());
  unsent_dropped(unsent_before);
  channel.write_error = error;
  channel.failing_writes = true;
  channel.soft_since_ms = -1;
  channel.progress_ms = -1;
  channel.update_plain_writes(watches_writes());
  if (channel.closing)
    finish_close(channel, error);
  if (deferred) {
    // Inside the write that evicted it: callbacks wait for the next flush.
    deferred_notices_.insert(deferred_notices_.end(),
                             notices_.begin() + static_cast<std::ptrdiff_t>(first), notices_.end());
    notices_.resize(first);
    for (auto& block : dropped)
      deferred_storage_.push_back(std::move(block));
    if (interest_ && channel.attached)
      update_interest(channel);
    return;
  }
  // The caller's Delivery hands the callbacks pointers into these bytes.
  for (auto& block : dropped)
    released_storage_.push_back(std::move(block));
  if (channel.attached) {
    report_water(channel);
    if (channel.attached && interest_)
      update_interest(channel);
  }
}

// Delivers the completions of channels a write evicted, then reports the
// watermark falls their eviction caused.
void EngineState::deliver_deferred() {
  if (deferred_notices_.empty())
    return;
  Delivery delivery(*this);
  notices_.insert(notices_.end(), deferred_notices_.begin(), deferred_notices_.end());
  deferred_notices_.clear();
  const std::vector<std::unique_ptr<char[]>> storage = std::move(deferred_storage_);
  deferred_storage_.clear();
  delivery.run();
  if (water_channels_ == 0)
    return;
  std::vector<int> fallen;
  for (const auto& channel : channels_by_fd_)
    if (channel && channel->water_callback && channel->above_high_water)
      fallen.push_back(channel->fd);
  for (const int fd : fallen)
    if (Channel* channel = find(fd))
      report_water(*channel);
}

// Soft limit, stall and close deadline, checked after the channel's flush
// has sent what it could, so bytes that moved in this flush count.
void EngineState::check_deadlines(Channel& channel, std::int64_t now) {
  note_progress(channel, now);
  const ChannelOptions& options = channel.options;
  const std::uint64_t queued = channel.output.unsent_bytes();
  Delivery delivery(*this);
  if (options.soft_queued_bytes != unlimited && channel.write_error == 0) {
    if (queued <= options.soft_queued_bytes)
      channel.soft_since_ms = -1;
    else if (channel.soft_since_ms < 0)
      channel.soft_since_ms = now;
    if (channel.soft_since_ms >= 0 && now - channel.soft_since_ms >= options.soft_ms) {
      fail_channel(channel, ENOBUFS, false);
      delivery.run();
      return;
    }
  }
  if (options.stall_ms > 0 && channel.write_error == 0 && channel.progress_ms >= 0 &&
      now - channel.progress_ms >= options.stall_ms) {
    fail_channel(channel, ETIMEDOUT, false);
    delivery.run();
    return;
  }
  if (channel.closing) {
    if (channel.pending_writes() == 0 && channel.inputs.empty())
      finish_close(channel, channel.write_error);
    else if (channel.close_deadline_ms >= 0 && now >= channel.close_deadline_ms)
      fail_channel(channel, ETIMEDOUT, false);
  }
  delivery.run();
}

// ---- watermarks ------------------------------------------------------------------

std::error_code EngineState::set_watermark(int fd, std::size_t high, std::size_t low,
                                           StoredCallback callback, CallbackAbi abi) {
  Channel* channel = find(fd);
  if (!channel)
    return error_of(EBADF);
  if (callback && low > high)
    return error_of(EINVAL);
  if (bool(channel->water_callback) != bool(callback))
    water_channels_ += callback ? 1 : static_cast<std::size_t>(-1);
  channel->water_callback = callback;
  channel->water_abi = abi;
  channel->high_water = callback ? high : 0;
  channel->low_water = callback ? low : 0;
  channel->above_high_water = false;
  if (trace_)
    trace_sink_.print("qio: watermark on channel {}: {}", fd,
                      callback ? fmt::format("high {}, low {}", high, low) : std::string("none"));
  return {};
}

// Reports a crossing, if there is one: a rise to the high mark, or, after
// one, a fall to the low mark. The callback may do anything, including
// terminating this channel.
void EngineState::report_water(Channel& channel) {
  if (!channel.water_callback)
    return;
  const std::uint64_t queued = channel.output.unsent_bytes();
  bool above;
  if (!channel.above_high_water && queued >= channel.high_water)
    above = true;
  else if (channel.above_high_water && queued <= channel.low_water)
    above = false;
  else
    return;
  channel.above_high_water = above;
  channel.note_peak();
  if (trace_)
    trace_sink_.print("qio: channel {} {} its {} watermark ({} bytes queued)", channel.fd,
                      above ? "rose to" : "fell to", above ? "high" : "low", queued);
  const StoredCallback callback = channel.water_callback;
  callback.invoke_water(channel.water_abi, channel.fd, above,
                        static_cast<std::size_t>(queued));
}

// Every rise since the last flush, before any callback of this flush.
void EngineState::report_rises() {
  std::vector<int> risen;
  for (const ListNode* node = pending_channels_.next; node != &pending_channels_;
       node = node->next) {
    const Channel& channel = static_cast<const Channel&>(*node);
    if (channel.water_callback && !channel.above_high_water &&
        channel.output.unsent_bytes() >= channel.high_water)
      risen.push_back(channel.fd);
  }
  for (const int fd : risen)
    if (Channel* channel = find(fd))
      report_water(*channel);
}

// ---- close after drain -------------------------------------------------------------

std::error_code EngineState::close(int fd, int timeout_ms, StoredCallback callback,
                                   CallbackAbi abi) {
  Channel* channel = find(fd);
  if (!channel)
    return error_of(EBADF);
  if (timeout_ms < -1)
    return error_of(EINVAL);
  if (channel->closing)
    return error_of(EPIPE);
  DispatchScope scope(*this);
  deliver_deferred(); // an eviction's completions come before the reads'
  if ((channel = find(fd)) == nullptr)
    return error_of(EBADF);
  Delivery delivery(*this);
  // Pending reads are cancelled; seeks stay in their place among the
  // writes. The one allocation comes first; putting a seek back where one
  // was just taken needs none.
  notices_.reserve(notices_.size() + channel->inputs.size());
  for (std::size_t left = channel->inputs.size(); left > 0; --left) {
    const InputRequest request = channel->inputs.pop_front();
    if (request.operation == Operation::seek) {
      channel->inputs.push_back_reserved(request);
      continue;
    }
    --pending_requests_;
    ++channel->requests_completed;
    notices_.push_back({{error_of(ECANCELED), fd, Operation::read, request.buffer, 0},
                        request.callback,
                        request.abi});
  }
  channel->closing = true;
  channel->close_callback = callback;
  channel->close_abi = abi;
  channel->close_deadline_ms = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
  channel->update_plain_writes(watches_writes());
  ++pending_requests_;
  mark_pending(*channel);
  if (trace_)
    trace_sink_.print("qio: close channel {} after {} unsent byte(s), timeout {} ms", fd,
                      channel->output.unsent_bytes(), timeout_ms);
  delivery.run();
  return {};
}

// The end of a close: the descriptor shut down (for writing, after a clean
// drain of a socket) and closed, the channel removed, the close's callback
// collected after every write's.
void EngineState::finish_close(Channel& channel, int error) {
  const int fd = channel.fd;
  // The loop hears of it while the descriptor is still open (epoll_ctl).
  if (channel.wants_write && interest_) {
    channel.wants_write = false;
    interest_.invoke_interest(interest_abi_, fd, false);
  }
  if (error == 0 && channel.kind == DescriptorKind::socket)
    system_.shutdown(fd, SHUT_WR);
  system_.close(fd);
  channel.closing = false;
  --pending_requests_;
  notices_.push_back({{error_of(error), fd, Operation::close, nullptr, 0},
                      channel.close_callback,
                      channel.close_abi});
  if (trace_)
    trace_sink_.print("qio: channel {} closed: {}", fd, error_text(error_of(error)));
  detach(channel);
}

// ---- loop integration ------------------------------------------------------------------

void EngineState::set_interest(StoredCallback callback, CallbackAbi abi) {
  interest_ = callback;
  interest_abi_ = abi;
  update_all_plain_writes();
  for (const auto& channel : channels_by_fd_)
    if (channel) {
      channel->wants_write = false;
      if (interest_)
        update_interest(*channel);
    }
}

void EngineState::update_interest(Channel& channel) {
  const bool want = channel.output.unsent_bytes() > 0;
  if (want == channel.wants_write)
    return;
  channel.wants_write = want;
  interest_.invoke_interest(interest_abi_, channel.fd, want);
}

int EngineState::timeout_ms() const {
  if (!deferred_notices_.empty())
    return 0;
  std::int64_t soonest = -1;
  std::int64_t now = -1;
  for (const ListNode* node = pending_channels_.next; node != &pending_channels_;
       node = node->next) {
    const Channel& channel = static_cast<const Channel&>(*node);
    if (!channel.has_timed_limits())
      continue;
    if (now < 0)
      now = now_ms();
    const ChannelOptions& options = channel.options;
    // A failed channel has no limit left to break, but may still close.
    const std::uint64_t queued = channel.write_error != 0 ? 0 : channel.output.unsent_bytes();
    auto consider = [&](std::int64_t deadline) {
      const std::int64_t wait = std::max<std::int64_t>(0, deadline - now);
      soonest = soonest < 0 ? wait : std::min(soonest, wait);
    };
    if (options.soft_queued_bytes != unlimited && queued > options.soft_queued_bytes)
      consider(channel.soft_since_ms < 0 ? now : channel.soft_since_ms + options.soft_ms);
    if (options.stall_ms > 0 && queued > 0)
      consider(channel.progress_ms < 0 ? now : channel.progress_ms + options.stall_ms);
    if (channel.closing && channel.pending_writes() == 0 && channel.inputs.empty())
      consider(now); // drained: the next flush closes it
    else if (channel.closing && channel.close_deadline_ms >= 0)
      consider(channel.close_deadline_ms);
  }
  return static_cast<int>(std::min<std::int64_t>(soonest, INT_MAX));
}

} // namespace qio::detail
