// SPDX-License-Identifier: MIT
// loopback.hpp - the demos' TCP connections, always on 127.0.0.1.
//
// Socket buffer sizes can be fixed (SO_SNDBUF/SO_RCVBUF, set before the
// connection exists so they also fix TCP's window): the demos do that so
// that "more than the socket buffers hold" means the same on every machine,
// whatever its TCP autotuning limits are.
#ifndef QIO_DEMO_LOOPBACK_HPP
#define QIO_DEMO_LOOPBACK_HPP

#include <cstdint> // std::uint16_t, ports
#include <utility> // std::exchange

namespace demo {

// Owns a descriptor and closes it.
class UniqueFd {
public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  // Gives the descriptor up without closing it.
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset() noexcept;

private:
  int fd_ = -1;
};

// Buffer sizes to ask the kernel for; 0 leaves its default (and autotuning).
struct SocketBuffers {
  int send = 0;
  int receive = 0;
};

// A listening socket on 127.0.0.1:`port` (0: the kernel picks one; see
// local_port). Accepted connections inherit `buffers`. Throws
// std::system_error naming the step that failed.
UniqueFd listen_on_loopback(std::uint16_t port, SocketBuffers buffers = {});

// The port a socket is bound to. Throws std::system_error.
std::uint16_t local_port(int socket);

// A blocking connection to 127.0.0.1:`port`. Throws std::system_error.
UniqueFd connect_to_loopback(std::uint16_t port, SocketBuffers buffers = {});

// Accepts one connection, waiting at most `timeout_ms`. Throws
// std::system_error (ETIMEDOUT if nobody came).
UniqueFd accept_within(int listener, int timeout_ms);

// Both ends of one loopback TCP connection, each with `buffers`.
struct ConnectedPair {
  UniqueFd first;
  UniqueFd second;
};
ConnectedPair connect_loopback_pair(SocketBuffers buffers);

} // namespace demo

#endif // QIO_DEMO_LOOPBACK_HPP
