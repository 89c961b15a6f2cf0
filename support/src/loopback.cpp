// SPDX-License-Identifier: MIT
// loopback.cpp - listening, connecting and accepting on 127.0.0.1, the
// other connected pairs, and the descriptor limit.
#include "support/loopback.hpp"

#include <arpa/inet.h>   // htons, htonl, ntohs
#include <fcntl.h>       // O_CLOEXEC
#include <netinet/tcp.h> // TCP_NODELAY
#include <poll.h>        // poll, waiting for a client
#include <sys/resource.h> // getrlimit, setrlimit
#include <sys/socket.h>  // socket, bind, listen, connect, accept4, socketpair
#include <unistd.h>      // pipe2

#include <cerrno>       // errno, EINTR, ETIMEDOUT
#include <system_error> // std::system_error

namespace support {
namespace {

[[noreturn]] void fail(const char* step, int error = errno) {
  throw std::system_error(error, std::generic_category(), step);
}

const sockaddr* generic(const sockaddr_in& address) {
  return reinterpret_cast<const sockaddr*>(&address);
}

void set_option(int socket, int level, int name, int value, const char* step) {
  if (::setsockopt(socket, level, name, &value, sizeof value) != 0)
    fail(step);
}

void set_no_delay(int socket, const SocketOptions& options) {
  if (options.no_delay)
    set_option(socket, IPPROTO_TCP, TCP_NODELAY, 1, "setsockopt(TCP_NODELAY)");
}

UniqueFd new_socket(int type, const SocketOptions& options) {
  UniqueFd socket(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  if (socket.get() < 0)
    fail("socket");
  if (options.send_buffer > 0)
    set_option(socket.get(), SOL_SOCKET, SO_SNDBUF, options.send_buffer, "setsockopt(SO_SNDBUF)");
  if (options.receive_buffer > 0)
    set_option(socket.get(), SOL_SOCKET, SO_RCVBUF, options.receive_buffer,
               "setsockopt(SO_RCVBUF)");
  return socket;
}

void bind_to_loopback(int socket, std::uint16_t port) {
  const sockaddr_in address = loopback_address(port);
  if (::bind(socket, generic(address), sizeof address) != 0)
    fail("bind");
}

void connect_to(int socket, std::uint16_t port) {
  const sockaddr_in address = loopback_address(port);
  int result;
  do
    result = ::connect(socket, generic(address), sizeof address);
  while (result != 0 && errno == EINTR);
  if (result != 0)
    fail("connect");
}

} // namespace

sockaddr_in loopback_address(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

UniqueFd listen_on_loopback(std::uint16_t port, const SocketOptions& options) {
  UniqueFd listener = new_socket(SOCK_STREAM, options);
  // A port the user named may still be in TIME_WAIT from a previous run.
  set_option(listener.get(), SOL_SOCKET, SO_REUSEADDR, 1, "setsockopt(SO_REUSEADDR)");
  bind_to_loopback(listener.get(), port);
  // As long a backlog as the kernel allows: a test connects thousands of
  // clients before its peer accepts them.
  if (::listen(listener.get(), SOMAXCONN) != 0)
    fail("listen");
  return listener;
}

std::uint16_t local_port(int socket) {
  sockaddr_in address{};
  socklen_t length = sizeof address;
  if (::getsockname(socket, reinterpret_cast<sockaddr*>(&address), &length) != 0)
    fail("getsockname");
  return ntohs(address.sin_port);
}

UniqueFd connect_to_loopback(std::uint16_t port, const SocketOptions& options) {
  UniqueFd socket = new_socket(SOCK_STREAM, options);
  set_no_delay(socket.get(), options);
  connect_to(socket.get(), port);
  return socket;
}

UniqueFd accept_within(int listener, int timeout_ms, const SocketOptions& options) {
  pollfd readiness{listener, POLLIN, 0};
  int ready;
  do
    ready = ::poll(&readiness, 1, timeout_ms);
  while (ready < 0 && errno == EINTR);
  if (ready < 0)
    fail("poll");
  if (ready == 0)
    fail("accept", ETIMEDOUT);
  UniqueFd connection(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  if (connection.get() < 0)
    fail("accept");
  set_no_delay(connection.get(), options);
  return connection;
}

ConnectedPair connect_loopback_pair(const SocketOptions& options) {
  const UniqueFd listener = listen_on_loopback(0, options);
  UniqueFd first = connect_to_loopback(local_port(listener.get()), options);
  UniqueFd second = accept_within(listener.get(), 5000, options);
  return {std::move(first), std::move(second)};
}

ConnectedPair connect_datagram_pair() {
  UniqueFd second = new_socket(SOCK_DGRAM, {});
  bind_to_loopback(second.get(), 0);
  UniqueFd first = new_socket(SOCK_DGRAM, {});
  connect_to(first.get(), local_port(second.get()));
  return {std::move(first), std::move(second)};
}

ConnectedPair unix_socket_pair(int type) {
  int ends[2];
  if (::socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, ends) != 0)
    fail("socketpair");
  return {UniqueFd(ends[0]), UniqueFd(ends[1])};
}

ConnectedPair pipe_pair() {
  int ends[2];
  if (::pipe2(ends, O_CLOEXEC) != 0)
    fail("pipe2");
  return {UniqueFd(ends[1]), UniqueFd(ends[0])};
}

long raise_descriptor_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0)
    return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &limit);
    ::getrlimit(RLIMIT_NOFILE, &limit);
  }
  return limit.rlim_cur == RLIM_INFINITY ? 1L << 30 : static_cast<long>(limit.rlim_cur);
}

} // namespace support
