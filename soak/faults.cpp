// SPDX-License-Identifier: MIT
// faults.cpp - which calls fail, and how.
#include "faults.hpp"

#include <sys/socket.h> // msghdr
#include <sys/uio.h>    // iovec

#include <algorithm> // std::min
#include <cerrno>    // EINTR, EAGAIN, ECONNRESET
#include <vector>    // std::vector, a shortened copy of the iovec array

namespace soak {

// Out of every 100,000 calls. A reset ends its connection, so it is rare;
// the others only make qio try again or carry on with less.
namespace rate {
constexpr unsigned shorten = 10'000;
constexpr unsigned interrupt = 3'000;
constexpr unsigned would_block = 3'000;
constexpr unsigned reset = 25;
} // namespace rate

FaultySystemCalls::Fault FaultySystemCalls::pick() {
  unsigned roll = static_cast<unsigned>(random_() % 100'000);
  if (roll < rate::reset)
    return Fault::reset;
  roll -= rate::reset;
  if (roll < rate::interrupt)
    return Fault::interrupt;
  roll -= rate::interrupt;
  if (roll < rate::would_block)
    return Fault::would_block;
  roll -= rate::would_block;
  return roll < rate::shorten ? Fault::shorten : Fault::none;
}

// A length from 1 to length - 1 (length >= 2).
std::size_t FaultySystemCalls::shorter(std::size_t length) {
  return 1 + static_cast<std::size_t>(random_() % (length - 1));
}

// A fault that fails the call outright: counts it in `counters` (EINTR,
// EAGAIN, ECONNRESET) and sets errno. False for none or a shortened call.
bool FaultySystemCalls::fails(Fault fault, FailureCounters counters) {
  switch (fault) {
  case Fault::interrupt:
    ++counters.interrupts;
    errno = EINTR;
    return true;
  case Fault::would_block:
    ++counters.would_block;
    errno = EAGAIN;
    return true;
  case Fault::reset:
    ++counters.resets;
    errno = ECONNRESET;
    return true;
  case Fault::shorten:
  case Fault::none:
    break;
  }
  return false;
}

ssize_t FaultySystemCalls::sendmsg(int fd, const msghdr* message, int flags) {
  const Fault fault = pick();
  if (fails(fault, {counts_.write_interrupts, counts_.write_would_block, counts_.write_resets}))
    return -1;
  std::size_t total = 0;
  for (std::size_t i = 0; i < message->msg_iovlen; ++i)
    total += message->msg_iov[i].iov_len;
  if (fault != Fault::shorten || total < 2)
    return SystemCalls::sendmsg(fd, message, flags);
  ++counts_.short_writes;
  std::size_t room = shorter(total);
  std::vector<iovec> vectors;
  for (std::size_t i = 0; i < message->msg_iovlen && room > 0; ++i) {
    iovec piece = message->msg_iov[i];
    piece.iov_len = std::min(piece.iov_len, room);
    room -= piece.iov_len;
    vectors.push_back(piece);
  }
  msghdr shortened = *message;
  shortened.msg_iov = vectors.data();
  shortened.msg_iovlen = vectors.size();
  return SystemCalls::sendmsg(fd, &shortened, flags);
}

ssize_t FaultySystemCalls::recv(int fd, void* buffer, std::size_t length, int flags) {
  const Fault fault = pick();
  if (fails(fault, {counts_.read_interrupts, counts_.read_would_block, counts_.read_resets}))
    return -1;
  if (fault != Fault::shorten || length < 2)
    return SystemCalls::recv(fd, buffer, length, flags);
  ++counts_.short_reads;
  return SystemCalls::recv(fd, buffer, shorter(length), flags);
}

} // namespace soak
