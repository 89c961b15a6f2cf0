// SPDX-License-Identifier: MIT
// loopback.cpp - listening, connecting and accepting on 127.0.0.1.
#include "loopback.hpp"

#include <arpa/inet.h>   // htons, htonl
#include <netinet/in.h>  // sockaddr_in, INADDR_LOOPBACK
#include <netinet/tcp.h> // TCP_NODELAY
#include <poll.h>        // poll, waiting for a client
#include <sys/socket.h>  // socket, bind, listen, connect, accept
#include <unistd.h>      // close

#include <cerrno>       // errno, ETIMEDOUT
#include <system_error> // std::system_error

namespace demo {
namespace {

[[noreturn]] void fail(const char* step, int error = errno) {
  throw std::system_error(error, std::generic_category(), step);
}

sockaddr_in loopback_address(std::uint16_t port) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return address;
}

UniqueFd new_tcp_socket(SocketBuffers buffers) {
  UniqueFd socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (socket.get() < 0)
    fail("socket");
  if (buffers.send > 0 &&
      ::setsockopt(socket.get(), SOL_SOCKET, SO_SNDBUF, &buffers.send, sizeof buffers.send) != 0)
    fail("setsockopt(SO_SNDBUF)");
  if (buffers.receive > 0 && ::setsockopt(socket.get(), SOL_SOCKET, SO_RCVBUF, &buffers.receive,
                                          sizeof buffers.receive) != 0)
    fail("setsockopt(SO_RCVBUF)");
  return socket;
}

} // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    reset();
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

void UniqueFd::reset() noexcept {
  if (fd_ >= 0)
    ::close(std::exchange(fd_, -1));
}

UniqueFd listen_on_loopback(std::uint16_t port, SocketBuffers buffers) {
  UniqueFd listener = new_tcp_socket(buffers);
  const int on = 1;
  // A port the user named may still be in TIME_WAIT from a previous run.
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  const sockaddr_in address = loopback_address(port);
  if (::bind(listener.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
    fail("bind");
  if (::listen(listener.get(), 64) != 0)
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

UniqueFd connect_to_loopback(std::uint16_t port, SocketBuffers buffers) {
  UniqueFd socket = new_tcp_socket(buffers);
  // Records go out as soon as they are written, so latencies are the
  // program's and not Nagle's.
  const int on = 1;
  ::setsockopt(socket.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  const sockaddr_in address = loopback_address(port);
  int result;
  do
    result = ::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address);
  while (result != 0 && errno == EINTR);
  if (result != 0)
    fail("connect");
  return socket;
}

UniqueFd accept_within(int listener, int timeout_ms) {
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
  const int on = 1;
  ::setsockopt(connection.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  return connection;
}

ConnectedPair connect_loopback_pair(SocketBuffers buffers) {
  const UniqueFd listener = listen_on_loopback(0, buffers);
  UniqueFd first = connect_to_loopback(local_port(listener.get()), buffers);
  UniqueFd second = accept_within(listener.get(), 5000);
  return {std::move(first), std::move(second)};
}

} // namespace demo
