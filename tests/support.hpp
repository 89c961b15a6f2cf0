// SPDX-License-Identifier: MIT
// support.hpp - shared fixtures for the Catch2 suite: descriptors that close
// themselves (support/'s, named for the tests), a peer reader, and a
// recorder for C ASTs.
#ifndef QIO_TESTS_SUPPORT_HPP
#define QIO_TESTS_SUPPORT_HPP

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "qio/qio.h"
#include "support/loopback.hpp"
#include "support/unique_fd.hpp"

namespace qio_test {

// An owned descriptor, closed on destruction.
using Fd = support::UniqueFd;

struct FdPair {
  Fd local;  // the end the test queues on
  Fd remote; // the peer's end
};

inline FdPair socket_pair(int type = SOCK_STREAM) {
  support::ConnectedPair pair = support::unix_socket_pair(type);
  return {std::move(pair.first), std::move(pair.second)};
}

// local = write end, remote = read end.
inline FdPair pipe_pair() {
  support::ConnectedPair pair = support::pipe_pair();
  return {std::move(pair.first), std::move(pair.second)};
}

// A connected loopback TCP pair: local = client, remote = accepted server.
inline FdPair tcp_pair() {
  support::ConnectedPair pair = support::connect_loopback_pair();
  return {std::move(pair.first), std::move(pair.second)};
}

// An unlinked temporary regular file, open read-write.
inline Fd temporary_file() {
  char name[] = "/tmp/qio-test-XXXXXX";
  const int fd = ::mkstemp(name);
  if (fd < 0)
    std::abort();
  ::unlink(name);
  return Fd(fd);
}

// Reads whatever `fd` has now (non-blocking) and appends it to `out`;
// returns false at end of file.
inline bool drain_available(int fd, std::string& out) {
  char buffer[65536];
  for (;;) {
    pollfd readiness{fd, POLLIN, 0};
    if (::poll(&readiness, 1, 0) <= 0)
      return true;
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n == 0)
      return false;
    if (n < 0)
      return errno == EINTR || errno == EAGAIN;
    out.append(buffer, static_cast<std::size_t>(n));
  }
}

// Reads exactly `count` bytes, blocking.
inline std::string read_exactly(int fd, std::size_t count) {
  std::string out;
  char buffer[65536];
  while (out.size() < count) {
    const ssize_t n = ::read(fd, buffer, std::min(sizeof buffer, count - out.size()));
    if (n <= 0)
      break;
    out.append(buffer, static_cast<std::size_t>(n));
  }
  return out;
}

// One AST call as the C API reported it.
struct AstCall {
  int error_code;
  int channel;
  int operation;
  char* buffer;
  int length;
  void* ast_arg;
  std::string data; // the buffer's first `length` bytes, copied during the call
};

// Pass &recorder as ast_arg and AstRecorder::record as the AST.
struct AstRecorder {
  std::vector<AstCall> calls;

  static void record(int error_code, int channel, int operation, char* buffer, int length,
                     void* ast_arg) {
    auto* self = static_cast<AstRecorder*>(ast_arg);
    std::string data;
    if (buffer != nullptr && length > 0 && operation != QIO_SEEK)
      data.assign(buffer, static_cast<std::size_t>(length));
    self->calls.push_back({error_code, channel, operation, buffer, length, ast_arg, data});
  }
};

} // namespace qio_test

// ---- Fixtures for test_c_api_errors.cpp and test_contract.cpp ----------------

#include <signal.h> // sigaction, alarm's SIGALRM

namespace qio_test {

// A descriptor number that is not open right now (take it after opening
// everything else the test needs, or the number may be reused).
inline int unopened_descriptor() {
  const int fd = ::open("/dev/null", O_RDONLY);
  if (fd < 0)
    std::abort();
  ::close(fd);
  return fd;
}

// Ends the process with a message if it is still running after `seconds`:
// a qio call that blocks becomes a failed test program, never a hang.
class Watchdog {
public:
  explicit Watchdog(unsigned seconds) {
    struct sigaction action {};
    action.sa_handler = &Watchdog::expired;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGALRM, &action, &previous_);
    ::alarm(seconds);
  }
  ~Watchdog() {
    ::alarm(0);
    ::sigaction(SIGALRM, &previous_, nullptr);
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

private:
  static void expired(int) {
    static const char message[] = "watchdog: the test blocked; aborting the program\n";
    [[maybe_unused]] const ssize_t ignored = ::write(STDERR_FILENO, message, sizeof message - 1);
    ::_exit(3);
  }
  struct sigaction previous_ {};
};

// Declared after the objects that ASTs point to: cancels whatever the test
// left queued (qio_term) while those objects are still alive, even when an
// assertion throws.
struct TerminateAtExit {
  TerminateAtExit() = default;
  ~TerminateAtExit() { qio_term(); }
  TerminateAtExit(const TerminateAtExit&) = delete;
  TerminateAtExit& operator=(const TerminateAtExit&) = delete;
};

} // namespace qio_test

#endif // QIO_TESTS_SUPPORT_HPP
