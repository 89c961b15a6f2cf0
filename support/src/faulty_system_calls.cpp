// SPDX-License-Identifier: MIT
// faulty_system_calls.cpp - which calls fail, and how.
#include "support/faulty_system_calls.hpp"

#include <sys/socket.h> // msghdr
#include <sys/uio.h>    // iovec

#include <algorithm> // std::min
#include <cerrno>    // EINTR, EAGAIN, ENOBUFS, EPIPE, ECONNRESET
#include <numeric>   // std::accumulate
#include <utility>   // std::pair, a fault and its rate

namespace support {
namespace {

// The errno a failing fault sets; 0 for none and a short transfer.
int error_of(Fault fault) noexcept {
  switch (fault) {
  case Fault::interrupted:
    return EINTR;
  case Fault::would_block:
    return EAGAIN;
  case Fault::no_buffers:
    return ENOBUFS;
  case Fault::broken_pipe:
    return EPIPE;
  case Fault::connection_reset:
    return ECONNRESET;
  case Fault::none:
  case Fault::short_transfer:
    break;
  }
  return 0;
}

} // namespace

std::uint64_t FaultCounts::total() const noexcept {
  return std::accumulate(counts_.begin() + 1, counts_.end(), std::uint64_t{0});
}

void FaultySystemCalls::inject_at_random(std::uint64_t seed, FaultRates output,
                                         FaultRates input) {
  random_.seed(seed);
  random_faults_ = true;
  output_rates_ = output;
  input_rates_ = input;
}

// One roll out of 100,000 picks the fault; a short transfer is shortened
// later, by a second draw, once the length is known.
Injection FaultySystemCalls::draw(const FaultRates& rates) {
  unsigned roll = static_cast<unsigned>(random_() % 100'000);
  const std::pair<Fault, unsigned> bands[] = {
      {Fault::connection_reset, rates.connection_reset}, {Fault::interrupted, rates.interrupted},
      {Fault::would_block, rates.would_block},           {Fault::no_buffers, rates.no_buffers},
      {Fault::short_transfer, rates.short_transfer}};
  for (const auto& [fault, rate] : bands) {
    if (roll < rate)
      return {fault};
    roll -= rate;
  }
  return {};
}

Injection FaultySystemCalls::next_output_injection() {
  if (!script.empty()) {
    const Injection next = script.front();
    script.pop_front();
    return next;
  }
  return random_faults_ ? draw(output_rates_) : Injection{};
}

// How many of `length` bytes a short transfer passes on: `asked`, or at
// random 1 to length - 1 when `asked` is 0; all of them when fewer than 2.
std::size_t FaultySystemCalls::shortened(std::size_t asked, std::size_t length) {
  if (length < 2)
    return length;
  return asked != 0 ? asked : 1 + static_cast<std::size_t>(random_() % (length - 1));
}

template <class Call>
ssize_t FaultySystemCalls::output(const iovec* vectors, int count, const Call& call) {
  std::size_t offered = 0;
  for (int index = 0; index < count; ++index)
    offered += vectors[index].iov_len;
  if (log_output_calls) {
    vector_counts.push_back(count);
    offered_bytes.push_back(offered);
  }
  const Injection injection = next_output_injection();
  if (const int error = error_of(injection.fault); error != 0) {
    output_faults_.add(injection.fault);
    errno = error;
    return -1;
  }
  std::size_t room = injection.fault == Fault::short_transfer
                         ? shortened(injection.bytes, offered)
                         : offered;
  if (room >= offered)
    return call(vectors, count);
  output_faults_.add(Fault::short_transfer);
  std::vector<iovec> prefix;
  for (int index = 0; index < count && room > 0; ++index) {
    iovec piece = vectors[index];
    piece.iov_len = std::min(piece.iov_len, room);
    room -= piece.iov_len;
    prefix.push_back(piece);
  }
  return call(prefix.data(), static_cast<int>(prefix.size()));
}

template <class Call> ssize_t FaultySystemCalls::input(std::size_t length, const Call& call) {
  const Injection injection = random_faults_ ? draw(input_rates_) : Injection{};
  if (const int error = error_of(injection.fault); error != 0) {
    input_faults_.add(injection.fault);
    errno = error;
    return -1;
  }
  const std::size_t room =
      injection.fault == Fault::short_transfer ? shortened(0, length) : length;
  if (room < length)
    input_faults_.add(Fault::short_transfer);
  return call(room);
}

ssize_t FaultySystemCalls::writev(int fd, const iovec* vectors, int count) {
  ++writev_calls;
  return output(vectors, count, [&](const iovec* passed, int passed_count) {
    return SystemCalls::writev(fd, passed, passed_count);
  });
}

ssize_t FaultySystemCalls::sendmsg(int fd, const msghdr* message, int flags) {
  ++sendmsg_calls;
  last_send_flags = flags;
  return output(message->msg_iov, static_cast<int>(message->msg_iovlen),
                [&](const iovec* passed, int passed_count) {
                  msghdr copy = *message;
                  copy.msg_iov = const_cast<iovec*>(passed);
                  copy.msg_iovlen = static_cast<std::size_t>(passed_count);
                  return SystemCalls::sendmsg(fd, &copy, flags);
                });
}

ssize_t FaultySystemCalls::recv(int fd, void* buffer, std::size_t length, int flags) {
  return input(length,
               [&](std::size_t room) { return SystemCalls::recv(fd, buffer, room, flags); });
}

ssize_t FaultySystemCalls::read(int fd, void* buffer, std::size_t length) {
  return input(length, [&](std::size_t room) { return SystemCalls::read(fd, buffer, room); });
}

int FaultySystemCalls::poll(pollfd* fds, nfds_t count, int timeout_ms) {
  ++poll_calls;
  return SystemCalls::poll(fds, count, timeout_ms);
}

int FaultySystemCalls::thread_sigmask(int how, const sigset_t* set, sigset_t* old_set) {
  ++thread_sigmask_calls;
  return SystemCalls::thread_sigmask(how, set, old_set);
}

int FaultySystemCalls::sigpending(sigset_t* set) {
  ++sigpending_calls;
  return SystemCalls::sigpending(set);
}

int FaultySystemCalls::sigtimedwait(const sigset_t* set, siginfo_t* info,
                                    const timespec* timeout) {
  ++sigtimedwait_calls;
  return SystemCalls::sigtimedwait(set, info, timeout);
}

} // namespace support
