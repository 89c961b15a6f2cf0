// SPDX-License-Identifier: MIT
// writer_plain.cpp - the writers without a library: limit, naive and a
// hand-written contiguous queue.
#include <poll.h>    // poll
#include <sys/uio.h> // writev
#include <unistd.h>  // write, close

#include <algorithm> // std::clamp, std::min
#include <bit>       // std::bit_ceil
#include <cerrno>    // EINTR
#include <cstring>   // std::memcpy, std::strerror
#include <vector>    // ByteRing's storage

#include <fmt/format.h>

#include "own_queue.hpp"
#include "writers.hpp"

namespace bench {
namespace {

// A ring of bytes whose capacity is a power of two, so a stream position
// maps to an index with a mask.
class ByteRing {
public:
  explicit ByteRing(std::size_t capacity) : bytes_(std::bit_ceil(capacity)) {}

  bool has_room(std::size_t length) const noexcept { return bytes_.size() - held() >= length; }
  std::size_t held() const noexcept { return static_cast<std::size_t>(queued_ - sent_); }

  void append(const char* data, std::size_t length) noexcept {
    const std::size_t at = index(queued_);
    queued_ += length;
    if (at + length <= bytes_.size()) [[likely]] {
      std::memcpy(bytes_.data() + at, data, length);
      return;
    }
    const std::size_t first = bytes_.size() - at;
    std::memcpy(bytes_.data() + at, data, first);
    std::memcpy(bytes_.data(), data + first, length - first);
  }
  // Sends what the ring holds until the descriptor is full; false (with
  // `error` set) on a hard error.
  bool send(int fd, std::string& error) {
    while (held() > 0) {
      iovec vectors[2];
      const ssize_t wrote = ::writev(fd, vectors, gather(vectors));
      if (wrote < 0 && errno == EINTR)
        continue;
      if (wrote < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return true;
      if (wrote < 0) {
        error = fmt::format("writev: {}", std::strerror(errno));
        return false;
      }
      sent_ += static_cast<std::size_t>(wrote);
    }
    return true;
  }

private:
  // The unsent bytes as at most two iovecs; returns how many.
  int gather(iovec (&vectors)[2]) noexcept {
    const std::size_t at = index(sent_);
    const std::size_t first = std::min(held(), bytes_.size() - at);
    vectors[0] = {bytes_.data() + at, first};
    vectors[1] = {bytes_.data(), held() - first};
    return vectors[1].iov_len > 0 ? 2 : 1;
  }

  std::size_t index(std::uint64_t position) const noexcept {
    return static_cast<std::size_t>(position & (bytes_.size() - 1));
  }
  std::vector<char> bytes_;
  std::uint64_t queued_ = 0;
  std::uint64_t sent_ = 0;
};

// Writes all of `length` bytes on a blocking descriptor; false (with
// `error` set) on failure.
bool write_fully(int fd, const char* data, std::size_t length, std::string& error) {
  while (length > 0) {
    const ssize_t wrote = ::write(fd, data, length);
    if (wrote < 0 && errno == EINTR)
      continue;
    if (wrote < 0) {
      error = fmt::format("write: {}", std::strerror(errno));
      return false;
    }
    data += wrote;
    length -= static_cast<std::size_t>(wrote);
  }
  return true;
}

} // namespace

void wait_writable(int fd) {
  pollfd writable{fd, POLLOUT, 0};
  ::poll(&writable, 1, -1);
}

std::string_view implementation_name(Implementation implementation) noexcept {
  switch (implementation) {
  case Implementation::limit:
    return "limit";
  case Implementation::limit_1m:
    return "limit-1M";
  case Implementation::naive:
    return "naive";
  case Implementation::contiguous:
    return "contiguous";
  case Implementation::qio:
    return "qio";
  case Implementation::qio_ast:
    return "qio+AST";
  case Implementation::libevent:
    return "libevent";
  case Implementation::evbuffer:
    return "evbuffer";
  case Implementation::libuv:
    return "libuv";
  case Implementation::libuv_tick:
    return "libuv-tick";
  }
  return "?";
}

WriterResult run_writer(Implementation implementation, int fd, const Workload& workload) {
  switch (implementation) {
  case Implementation::limit:
    return write_limit(fd, workload);
  case Implementation::limit_1m:
    return write_limit_1m(fd, workload);
  case Implementation::naive:
    return write_naive(fd, workload);
  case Implementation::contiguous:
    return write_contiguous(fd, workload);
  case Implementation::qio:
    return write_qio(fd, workload, false);
  case Implementation::qio_ast:
    return write_qio(fd, workload, true);
  case Implementation::libevent:
    return write_libevent(fd, workload);
  case Implementation::evbuffer:
    return write_evbuffer(fd, workload);
  case Implementation::libuv:
    return write_libuv(fd, workload);
  case Implementation::libuv_tick:
    return write_libuv_tick(fd, workload);
  }
  ::close(fd);
  return {0, 0, "unknown implementation"};
}

namespace {

// Blocking writes of `chunk` bytes until the deadline.
WriterResult write_chunks(int fd, const Workload& workload, std::size_t chunk) {
  const Pattern& pattern = Pattern::instance();
  WriterResult result;
  // At least one chunk, however slow the start (valgrind translating code).
  do {
    if (!write_fully(fd, pattern.at(result.bytes), chunk, result.error))
      break;
    result.bytes += chunk;
  } while (Clock::now() < workload.deadline);
  result.messages = result.bytes / workload.message_size;
  ::close(fd);
  return result;
}

} // namespace

WriterResult write_limit(int fd, const Workload& workload) {
  return write_chunks(fd, workload, 64 * 1024);
}

WriterResult write_limit_1m(int fd, const Workload& workload) {
  return write_chunks(fd, workload, 1024 * 1024);
}

WriterResult write_naive(int fd, const Workload& workload) {
  // Read the clock about once per 64 KiB, and at least every 64 messages.
  const std::size_t batch = std::clamp<std::size_t>(64 * 1024 / workload.message_size, 1, 64);
  MessageStream stream(workload.message_size);
  WriterResult result;
  bool failed = false;
  do {
    for (std::size_t i = 0; i < batch && !failed; ++i)
      failed = !write_fully(fd, stream.next(), workload.message_size, result.error);
  } while (!failed && Clock::now() < workload.deadline);
  result.messages = stream.messages();
  result.bytes = stream.bytes();
  ::close(fd);
  return result;
}

WriterResult write_contiguous(int fd, const Workload& workload) {
  ByteRing ring(workload.backlog_bytes);
  return run_own_queue(fd, workload, ring);
}

} // namespace bench
