// SPDX-License-Identifier: MIT
// write_queue.hpp - a channel's queued write requests, in order.
//
// A channel's writes are one byte stream (OutputQueue); this queue says
// where each request's bytes begin and end and what to call when they are
// written. Consecutive writes of the same length without a callback - a
// program sending fixed-size packets, the common case - share one 8-byte
// WriteRun with a count, so queueing one costs two additions and no
// memory; every request's boundaries stay exact (start + i * length), so
// completion counts, pruning and message boundaries are as precise as with
// one entry per request. A write with a callback is a run of one.
#ifndef QIO_SRC_WRITE_QUEUE_HPP
#define QIO_SRC_WRITE_QUEUE_HPP

#include <cstddef> // std::size_t
#include <cstdint> // std::uint32_t, std::uint64_t

#include "callback.hpp"
#include "ring.hpp"

namespace qio::detail {

// One or more consecutive write requests of `length` bytes each.
class WriteRun {
public:
  // Requests of this length or longer keep their length in the queue's
  // side ring, so a run stays 8 bytes.
  static constexpr std::uint64_t long_length = UINT32_MAX;
  static constexpr std::uint32_t most_requests = (1u << 30) - 1;

  static WriteRun single(std::uint64_t length, bool has_callback, CallbackAbi abi) noexcept {
    WriteRun run;
    run.length_ = length >= long_length ? UINT32_MAX : static_cast<std::uint32_t>(length);
    // The ABI matters only with a callback; a run without one stays open
    // to writes from either API.
    run.count_and_flags_ =
        1 | (has_callback ? callback_flag | (abi == CallbackAbi::c ? c_abi_flag : 0) : 0);
    return run;
  }

  std::uint32_t count() const noexcept { return count_and_flags_ & most_requests; }
  bool has_callback() const noexcept { return (count_and_flags_ & callback_flag) != 0; }
  CallbackAbi abi() const noexcept {
    return (count_and_flags_ & c_abi_flag) ? CallbackAbi::c : CallbackAbi::cpp;
  }
  bool has_long_length() const noexcept { return length_ == UINT32_MAX; }
  std::uint32_t short_length() const noexcept { return length_; }

  // Whether one more write of `length` bytes without a callback may join.
  bool can_take(std::uint64_t length) const noexcept {
    return length == length_ && count_and_flags_ < most_requests;
  }
  void add_one() noexcept { ++count_and_flags_; }
  void remove(std::uint32_t requests) noexcept { count_and_flags_ -= requests; }

private:
  static constexpr std::uint32_t callback_flag = 1u << 31;
  static constexpr std::uint32_t c_abi_flag = 1u << 30;

  std::uint32_t length_ = 0;
  std::uint32_t count_and_flags_ = 0;
};

// A write's place in the byte stream: [start, end).
struct WriteSpan {
  std::uint64_t start = 0;
  std::uint64_t end = 0;
  bool has_callback = false;
  CallbackAbi abi = CallbackAbi::cpp;
};

// The runs in order. The queue does not count requests (the channel does,
// as writes queued minus writes completed) nor track where the last one ends
// (the output stream's queued position): the hot path updates neither.
class WriteQueue {
public:
  bool empty() const noexcept { return runs_.empty(); }
  // Where the front request's bytes start: every byte before it is complete.
  std::uint64_t front_start() const noexcept { return front_start_; }

  // Whether a write of `length` bytes without a callback may join the last
  // run (the hot path: then it costs no memory).
  bool can_join(std::uint64_t length) const noexcept {
    return open_run_ != nullptr && open_run_->can_take(length);
  }
  // Adds such a write, after can_join said it may.
  void join_last_run() noexcept { open_run_->add_one(); }
  // Makes room for one more run of `length`-byte requests, so push cannot
  // fail. Growing the ring moves the runs: the open run is found again.
  void reserve_one(std::uint64_t length) {
    runs_.reserve_one();
    if (open_run_ != nullptr)
      open_run_ = &runs_.back();
    if (length >= WriteRun::long_length)
      long_lengths_.reserve_one();
  }
  // Whether push needs no reserve_one first (a request shorter than 4 GiB).
  bool has_room() const noexcept { return runs_.has_room(); }
  // Adds a run of one request after reserve_one made room.
  void push(std::uint64_t length, bool has_callback, CallbackAbi abi) noexcept {
    const WriteRun run = WriteRun::single(length, has_callback, abi);
    runs_.push_back_reserved(run);
    if (run.has_long_length()) [[unlikely]]
      long_lengths_.push_back_reserved(length);
    // A long request's run holds the sentinel length, which a write of
    // exactly that many bytes would match: it stays closed.
    open_run_ = has_callback || run.has_long_length() ? nullptr : &runs_.back();
  }

  // The front run: how many of its requests are wholly before `sent`, its
  // request length, and whether it has a callback.
  const WriteRun& front_run() const noexcept { return runs_.front(); }
  std::uint64_t front_length() const noexcept { return length_of(runs_.front(), true); }
  // Completes `requests` requests at the front (of the front run).
  void pop_front(std::uint32_t requests) noexcept {
    WriteRun& front = runs_.front();
    front_start_ += requests * front_length();
    if (requests < front.count()) {
      front.remove(requests);
      return;
    }
    if (open_run_ == &front)
      open_run_ = nullptr;
    if (front.has_long_length())
      long_lengths_.pop_front();
    runs_.pop_front();
  }
  // Takes the last request, which ends at `back_end`, off the queue and
  // says where it was.
  WriteSpan pop_back(std::uint64_t back_end) noexcept {
    WriteRun& back = runs_.back();
    const std::uint64_t length = length_of(back, false);
    const WriteSpan span{back_end - length, back_end, back.has_callback(), back.abi()};
    if (back.count() > 1) {
      back.remove(1);
    } else {
      if (back.has_long_length())
        long_lengths_.pop_back();
      runs_.pop_back();
      open_run_ = nullptr;
    }
    return span;
  }
  // After every request was taken off, the next one starts at `position`
  // (the stream moved on: bytes of requests cut short were dropped).
  void restart_at(std::uint64_t position) noexcept { front_start_ = position; }
  // Where the last request, which ends at `back_end`, starts.
  std::uint64_t back_start(std::uint64_t back_end) const noexcept {
    return back_end - length_of(runs_.back(), false);
  }
  // See Ring::trim; only an empty queue's rings are trimmed.
  void trim(std::size_t kept_slots) noexcept {
    runs_.trim(kept_slots);
    long_lengths_.trim(kept_slots);
  }
  // Calls visit(span) for every request, front to back (for dumps).
  template <class Visit> void for_each(Visit visit) const {
    std::uint64_t start = front_start_;
    std::size_t long_index = 0;
    for (std::size_t i = 0; i < runs_.size(); ++i) {
      const WriteRun& run = runs_[i];
      const std::uint64_t length =
          run.has_long_length() ? long_lengths_[long_index++] : run.short_length();
      for (std::uint32_t k = 0; k < run.count(); ++k, start += length)
        visit(WriteSpan{start, start + length, run.has_callback(), run.abi()});
    }
  }

private:
  std::uint64_t length_of(const WriteRun& run, bool at_front) const noexcept {
    if (!run.has_long_length())
      return run.short_length();
    return at_front ? long_lengths_.front() : long_lengths_[long_lengths_.size() - 1];
  }

  Ring<WriteRun> runs_;
  // Lengths of requests too long for a run's 32-bit field, in queue order.
  Ring<std::uint64_t> long_lengths_;
  // The last run, while writes without a callback may still join it.
  WriteRun* open_run_ = nullptr;
  std::uint64_t front_start_ = 0;
};

} // namespace qio::detail

#endif // QIO_SRC_WRITE_QUEUE_HPP
