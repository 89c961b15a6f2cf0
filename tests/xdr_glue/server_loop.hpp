// SPDX-License-Identifier: MIT
// server_loop.hpp - the RPC server driven turn by turn on the test's own
// thread, on a fake clock: for tests of time (timeouts, the accept
// back-off) and of what happens between turns (deferred replies). Clients
// are plain loopback sockets the test writes and reads itself, between
// turns, so nothing races.
#ifndef XDR_GLUE_TESTS_SERVER_LOOP_HPP
#define XDR_GLUE_TESTS_SERVER_LOOP_HPP

#include <linux/sockios.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/select.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <system_error>
#include <vector>

#include "rpc_support.hpp"

namespace rpc_test {

// Time that moves only when the test moves it.
class FakeClock {
public:
  std::chrono::steady_clock::time_point now() const { return now_; }
  void advance(std::chrono::milliseconds by) { now_ += by; }

private:
  std::chrono::steady_clock::time_point now_{std::chrono::hours(1000)};
};

// True if `fd` has bytes (or end of file) to read now.
inline bool readable_now(int fd) {
  pollfd readiness{fd, POLLIN, 0};
  return ::poll(&readiness, 1, 0) == 1;
}

// The server's end of loopback TCP connection `client`, found among this
// process's descriptors (the driven server runs here); -1 if none.
inline int server_end_of(int client) {
  sockaddr_in mine{};
  socklen_t length = sizeof mine;
  if (::getsockname(client, reinterpret_cast<sockaddr*>(&mine), &length) != 0)
    return -1;
  for (int fd = 0; fd < FD_SETSIZE; ++fd) {
    sockaddr_in peer{};
    socklen_t peer_length = sizeof peer;
    if (fd != client && ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_length) == 0 &&
        peer.sin_family == AF_INET && peer.sin_port == mine.sin_port)
      return fd;
  }
  return -1;
}

// True once all that `client` sent has reached the server's socket (the
// kernel acknowledged it) and the server has read it.
inline bool server_read_everything(int client) {
  const int server_end = server_end_of(client);
  int unacknowledged = -1;
  int unread = -1;
  return server_end >= 0 && ::ioctl(client, SIOCOUTQ, &unacknowledged) == 0 &&
         unacknowledged == 0 && ::ioctl(server_end, FIONREAD, &unread) == 0 && unread == 0;
}

class DrivenServer {
public:
  explicit DrivenServer(xdr_glue::rpc::ServerOptions options = {},
                        const Registration& also_register = {}) {
    listener_ = listen_on_loopback(port_);
    options.clock = [this] { return clock.now(); };
    options.on_close = [this](int, std::error_code reason) { close_reasons.push_back(reason); };
    server_ = std::make_unique<xdr_glue::rpc::Server>(engine_, std::move(options));
    register_test_program(*server_, observed_);
    if (also_register)
      also_register(*server_);
    REQUIRE_FALSE(server_->add_listener(listener_.get()));
  }
  DrivenServer(const DrivenServer&) = delete;
  DrivenServer& operator=(const DrivenServer&) = delete;

  xdr_glue::rpc::Server& server() { return *server_; }
  std::uint16_t port() const { return port_; }
  int listener() const { return listener_.get(); }

  // One turn of the loop: select, waiting up to `wait` for readiness,
  // then process and flush. Returns whether select found anything ready.
  bool turn(std::chrono::milliseconds wait = std::chrono::milliseconds(0)) {
    fd_set readable;
    fd_set writable;
    FD_ZERO(&readable);
    FD_ZERO(&writable);
    const int count = server_->fill_fdsets(readable, writable);
    timeval timeout{0, static_cast<suseconds_t>(wait.count() * 1000)};
    const int ready = ::select(count, &readable, &writable, nullptr, &timeout);
    if (ready < 0)
      FD_ZERO(&readable);
    server_->process(readable);
    engine_.flush();
    ++turns;
    return ready > 0;
  }

  // Turns until `done()` holds, each waiting up to 10 ms for something to
  // be ready; false if it does not hold within 1,000 turns.
  bool turn_until(const std::function<bool()>& done) {
    for (int attempt = 0; attempt < 1000; ++attempt) {
      if (done())
        return true;
      turn(std::chrono::milliseconds(10));
    }
    return done();
  }

  FakeClock clock;
  std::vector<std::error_code> close_reasons;
  std::size_t turns = 0;

private:
  std::uint16_t port_ = 0;
  Fd listener_;
  qio::Engine engine_;
  Observed observed_;
  std::unique_ptr<xdr_glue::rpc::Server> server_;
};

} // namespace rpc_test

#endif // XDR_GLUE_TESTS_SERVER_LOOP_HPP
