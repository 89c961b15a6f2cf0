// SPDX-License-Identifier: MIT
// bench.hpp - what every qio-bench case shares: the clock, the byte pattern
// the writers send and the reader checks, and the shape of one timed run.
#ifndef QIO_BENCH_BENCH_HPP
#define QIO_BENCH_BENCH_HPP

#include <chrono>  // steady_clock, the only clock the bench reads
#include <cstddef> // std::size_t
#include <cstdint> // std::uint64_t
#include <string>  // error texts
#include <vector>  // Pattern's storage

namespace bench {

using Clock = std::chrono::steady_clock;

// Seconds between two instants, as a double.
inline double seconds_between(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double>(end - start).count();
}

constexpr double mebibyte = 1024.0 * 1024.0;

// The byte at stream position p is p % period: every message is a slice of
// one precomputed buffer, so producing a message costs no work, and the
// reader can check any chunk with one memcmp. The period is prime, so no
// message size lines up with it and a lost or repeated message shows.
class Pattern {
public:
  static constexpr std::size_t period = 251;
  // The longest slice at() serves: a message, a limit writer's chunk (up
  // to 1 MiB) or a reader's chunk.
  static constexpr std::size_t longest_slice = 1024 * 1024;

  static const Pattern& instance();
  // The bytes that belong at stream position `position` and after.
  const char* at(std::uint64_t position) const noexcept {
    return bytes_.data() + position % period;
  }

private:
  Pattern();
  std::vector<char> bytes_;
};

// Hands out consecutive messages of one size from the pattern, keeping the
// stream position's remainder incrementally (no division per message).
class MessageStream {
public:
  explicit MessageStream(std::size_t message_size);
  const char* next() noexcept {
    const char* message = base_ + offset_;
    offset_ += step_;
    if (offset_ >= Pattern::period)
      offset_ -= Pattern::period;
    ++messages_;
    return message;
  }
  std::size_t message_size() const noexcept { return size_; }
  std::uint64_t messages() const noexcept { return messages_; }
  std::uint64_t bytes() const noexcept { return messages_ * size_; }

private:
  const char* base_;
  std::size_t size_;
  std::size_t step_; // size_ % period
  std::size_t offset_ = 0;
  std::uint64_t messages_ = 0;
};

// One timed run of a writer: produce messages of `message_size` bytes until
// `deadline` (checked between ticks, so a run ends on a message boundary),
// letting the library under test hold at most `backlog_bytes` unsent.
struct Workload {
  std::size_t message_size = 64;
  Clock::time_point deadline;
  std::size_t backlog_bytes = 1024 * 1024;
};

// What a writer reports; the reader's byte count must equal `bytes`.
struct WriterResult {
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  std::string error; // empty on success
};

// Resident set size of this process now, in bytes (0 if unknown).
std::size_t resident_bytes();

// "CALL: the text of errno now", for a system call that just failed.
std::string errno_text(const char* call);

} // namespace bench

#endif // QIO_BENCH_BENCH_HPP
