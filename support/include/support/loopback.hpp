// SPDX-License-Identifier: MIT
// loopback.hpp - connected descriptors for the programs and tests: TCP and
// UDP on 127.0.0.1, AF_UNIX socketpairs and pipes, and room for thousands.
//
// Every function throws std::system_error naming the step that failed
// ("bind", "connect", ...); every descriptor is close-on-exec.
//
// Socket buffer sizes can be fixed (SO_SNDBUF/SO_RCVBUF, set before the
// connection exists so they also fix TCP's window): a program does that so
// that "more than the socket buffers hold" means the same on every
// machine, whatever its TCP autotuning limits are.
#ifndef QIO_SUPPORT_LOOPBACK_HPP
#define QIO_SUPPORT_LOOPBACK_HPP

#include <netinet/in.h> // sockaddr_in

#include <cstdint> // std::uint16_t, ports

#include "support/unique_fd.hpp"

namespace support {

// What to set on a socket; zero or false leaves the kernel's default.
struct SocketOptions {
  int send_buffer = 0;    // SO_SNDBUF (0: the default, and autotuning)
  int receive_buffer = 0; // SO_RCVBUF
  // TCP_NODELAY: each write goes out at once, so a program's latencies are
  // its own and not Nagle's. Off, as the kernel has it, where small writes
  // coalescing is part of what is measured.
  bool no_delay = false;
};

// 127.0.0.1:`port`.
sockaddr_in loopback_address(std::uint16_t port);

// A TCP socket listening on 127.0.0.1:`port` (0: the kernel picks one; see
// local_port). Connections it accepts inherit its buffer sizes.
UniqueFd listen_on_loopback(std::uint16_t port = 0, const SocketOptions& options = {});

// The port a socket is bound to.
std::uint16_t local_port(int socket);

// A blocking TCP connection to 127.0.0.1:`port`.
UniqueFd connect_to_loopback(std::uint16_t port, const SocketOptions& options = {});

// Accepts one connection, waiting at most `timeout_ms` (ETIMEDOUT if nobody
// came); sets `options.no_delay` on it (its buffers come from the listener).
UniqueFd accept_within(int listener, int timeout_ms, const SocketOptions& options = {});

// Two connected descriptors; for a pipe, `first` is the write end.
struct ConnectedPair {
  UniqueFd first;
  UniqueFd second;
};

// Both ends of one loopback TCP connection, each with `options`: `first`
// connected, `second` accepted.
ConnectedPair connect_loopback_pair(const SocketOptions& options = {});

// Two UDP sockets on 127.0.0.1: `second` bound to a port the kernel picks,
// `first` connected to it.
ConnectedPair connect_datagram_pair();

// socketpair(AF_UNIX, `type`).
ConnectedPair unix_socket_pair(int type);

// pipe(): `first` the write end, `second` the read end.
ConnectedPair pipe_pair();

// Raises the soft RLIMIT_NOFILE to the hard limit, for a program or test
// with thousands of connections; returns the soft limit now in force.
long raise_descriptor_limit();

} // namespace support

#endif // QIO_SUPPORT_LOOPBACK_HPP
