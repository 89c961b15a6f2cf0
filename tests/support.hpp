// SPDX-License-Identifier: MIT
// support.hpp - shared fixtures for the Catch2 suite: descriptors that close
// themselves (support/'s, named for the tests), a peer reader, a recorder
// for C ASTs, and the C API's test fixtures (CApiEngine, CApiChannel).
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

// ---- Fixtures for the C API's tests (TEST_CASE_METHOD) ---------------------

#include <catch2/catch.hpp>

#include <deque>

namespace qio_test {

// qio_configure's arguments, named; the defaults are the settings most tests
// use: non-blocking, buffered, any number of outstanding requests.
struct ChannelSettings {
  int nonblocking = 1;
  int buffered = 1;
  int max_outstanding = -1;
};

// Makes `fd` a channel with `settings`; the test cannot go on without it.
inline void configure_channel(int fd, const ChannelSettings& settings = {}) {
  REQUIRE(qio_configure(fd, settings.nonblocking, settings.buffered,
                        settings.max_outstanding) == 0);
}

// The C API's one process-wide engine, fresh for each test:
//   TEST_CASE_METHOD(qio_test::CApiEngine, "...", "[...]") { ... }
// starts with qio_init() and ends with qio_term(). What the fixture holds
// (`recorder`, the descriptors it keeps) outlives that qio_term, so requests
// that point only there are cancelled safely even when an assertion throws.
// The test body's own objects die first: a test whose requests point at its
// locals (an AST argument other than `recorder`, an unbuffered write's
// bytes) still declares a TerminateAtExit after them.
class CApiEngine {
public:
  CApiEngine() { qio_init(); }
  ~CApiEngine() { qio_term(); }
  CApiEngine(const CApiEngine&) = delete;
  CApiEngine& operator=(const CApiEngine&) = delete;

protected:
  // Keeps `pair` (or `fd`) open until after the final qio_term.
  FdPair& keep(FdPair pair) { return kept_pairs_.emplace_back(std::move(pair)); }
  Fd& keep(Fd fd) { return kept_descriptors_.emplace_back(std::move(fd)); }

  // Keeps `pair` and makes its local end a channel.
  FdPair& open_channel(FdPair pair, const ChannelSettings& settings = {}) {
    FdPair& kept = keep(std::move(pair));
    configure_channel(kept.local.get(), settings);
    return kept;
  }

  // Keeps a new temporary file (qio_test::temporary_file) and makes it a
  // channel; returns its descriptor.
  int open_file_channel(const ChannelSettings& settings = {}) {
    const int fd = keep(temporary_file()).get();
    configure_channel(fd, settings);
    return fd;
  }

  // For ASTs: AstRecorder::record with &recorder as ast_arg.
  AstRecorder recorder;

private:
  // Deques: a reference handed out stays valid as more are kept.
  std::deque<FdPair> kept_pairs_;
  std::deque<Fd> kept_descriptors_;
};

// The engine and one channel with the default settings on a socketpair:
// `fd` (pair.local) is the channel, pair.remote its peer.
class CApiChannel : public CApiEngine {
protected:
  FdPair& pair = open_channel(socket_pair());
  const int fd = pair.local.get();
};

} // namespace qio_test

#endif // QIO_TESTS_SUPPORT_HPP
