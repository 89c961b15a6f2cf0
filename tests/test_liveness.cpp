// SPDX-License-Identifier: MIT
// test_liveness.cpp - no descriptor kind and no peer can hold a flush: a
// blocking terminal is written without blocking, a flush stops at its budget
// however much a peer sends or a file takes, and datagrams keep their
// boundaries however many are queued.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <stdlib.h>     // posix_openpt, grantpt, unlockpt, ptsname
#include <sys/socket.h>
#include <termios.h>    // cfmakeraw, tcsetattr
#include <unistd.h>

#include <cerrno>
#include <string>
#include <vector>

#include "engine_state.hpp" // FlushBudget: the limits the flush promises
#include "system_calls.hpp"
#include "qio/engine.hpp"
#include "support.hpp"

namespace {

using qio::detail::FlushBudget;
using qio_test::Fd;

// Counts the calls that move data, so a test can say how much one flush did.
class CountingSystemCalls : public qio::detail::SystemCalls {
public:
  int reads = 0;
  int writes = 0;
  std::size_t bytes_written = 0;

  ssize_t recv(int fd, void* buffer, std::size_t length, int flags) override {
    ++reads;
    return SystemCalls::recv(fd, buffer, length, flags);
  }
  ssize_t writev(int fd, const iovec* vectors, int count) override {
    ++writes;
    const ssize_t written = SystemCalls::writev(fd, vectors, count);
    if (written > 0)
      bytes_written += static_cast<std::size_t>(written);
    return written;
  }
  ssize_t sendmsg(int fd, const msghdr* message, int flags) override {
    ++writes;
    return SystemCalls::sendmsg(fd, message, flags);
  }
};

// A pseudo-terminal: `master` is the side nobody reads until the test says.
struct Pty {
  Fd master;
  Fd slave;
};

Pty open_pty(bool raw) {
  const int master = ::posix_openpt(O_RDWR | O_NOCTTY);
  REQUIRE(master >= 0);
  REQUIRE(::grantpt(master) == 0);
  REQUIRE(::unlockpt(master) == 0);
  const int slave = ::open(::ptsname(master), O_RDWR | O_NOCTTY);
  REQUIRE(slave >= 0);
  if (raw) {
    termios settings{};
    REQUIRE(::tcgetattr(slave, &settings) == 0);
    ::cfmakeraw(&settings);
    REQUIRE(::tcsetattr(slave, TCSANOW, &settings) == 0);
  }
  return {Fd(master), Fd(slave)};
}

// Re-queues a read into its own buffer from its completion, as the
// qio_read reference page's example does, counting what arrives.
struct EndlessReader {
  qio::Engine* engine = nullptr;
  int fd = -1;
  char buffer[16] = {};
  std::size_t completions = 0;

  void on_completion(const qio::Completion& completion) {
    ++completions;
    if (!completion.error && completion.length > 0)
      (void)engine->read(fd, buffer, qio::Callback::to(*this));
  }
};

} // namespace

TEST_CASE("a blocking terminal whose other side never reads does not hold a flush; everything "
          "arrives once it does",
          "[qio][liveness][terminal]") {
  const qio_test::Watchdog watchdog(60);
  const bool raw = GENERATE(false, true);
  CAPTURE(raw);
  Pty pty = open_pty(raw);
  const int fd = pty.slave.get();
  const int flags_before = ::fcntl(fd, F_GETFL);
  REQUIRE((flags_before & O_NONBLOCK) == 0);

  qio::Engine engine;
  qio::ChannelOptions options;
  options.nonblocking = false; // the descriptor stays blocking
  REQUIRE_FALSE(engine.configure(fd, options));
  // No newline: a cooked terminal would turn each into two bytes.
  std::string sent;
  for (int i = 0; i < 256 * 1024; ++i)
    sent.push_back(static_cast<char>('a' + i % 26));
  for (std::size_t at = 0; at < sent.size(); at += 1000)
    REQUIRE_FALSE(engine.write(
        fd, std::span(sent).subspan(at, std::min<std::size_t>(1000, sent.size() - at))));

  engine.flush(); // must return: the terminal takes only what fits
  engine.flush();
  CHECK(engine.pending(fd) > 0);
  CHECK(::fcntl(fd, F_GETFL) == flags_before); // the description's flags are its own again

  std::string received;
  while (received.size() < sent.size()) {
    engine.flush();
    qio_test::drain_available(pty.master.get(), received);
  }
  CHECK(received.size() == sent.size());
  CHECK(received == sent);
  CHECK(engine.pending(fd) == 0);
  CHECK(::fcntl(fd, F_GETFL) == flags_before);
}

TEST_CASE("a flush stops at its budget of reads while a peer floods the socket and a callback "
          "re-queues a read; the next flushes go on",
          "[qio][liveness][budget]") {
  const qio_test::Watchdog watchdog(60);
  CountingSystemCalls system;
  qio::Engine engine = qio::detail::Seam::engine_over(system);
  qio_test::FdPair pair = qio_test::socket_pair();
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  // The peer fills the socket: far more 16-byte reads than one budget.
  const std::string flood(64 * 1024, 'f');
  REQUIRE(::write(pair.remote.get(), flood.data(), flood.size()) ==
          static_cast<ssize_t>(flood.size()));

  EndlessReader reader;
  reader.engine = &engine;
  reader.fd = fd;
  REQUIRE_FALSE(engine.read(fd, reader.buffer, qio::Callback::to(reader)));

  engine.flush();
  CHECK(system.reads > 0);
  CHECK(system.reads <= FlushBudget::system_calls);
  CHECK(reader.completions == static_cast<std::size_t>(system.reads));
  CHECK(engine.pending(fd) == 1); // the re-queued read waits for the next tick

  const int first_flush_reads = system.reads;
  engine.flush();
  CHECK(system.reads > first_flush_reads);
  CHECK(system.reads - first_flush_reads <= FlushBudget::system_calls);
  engine.terminate(fd);
}

TEST_CASE("a flush writes at most its byte budget to a regular file; wait() writes it all",
          "[qio][liveness][budget]") {
  CountingSystemCalls system;
  qio::Engine engine = qio::detail::Seam::engine_over(system);
  Fd file = qio_test::temporary_file();
  const int fd = file.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  const std::string chunk(1 << 20, 'x');
  const int chunks = 12;
  for (int i = 0; i < chunks; ++i)
    REQUIRE_FALSE(engine.write(fd, chunk));

  engine.flush();
  CHECK(system.bytes_written == FlushBudget::bytes);
  CHECK(engine.pending(fd) == chunks - FlushBudget::bytes / chunk.size());

  CHECK_FALSE(engine.wait(fd, -1));
  CHECK(system.bytes_written == chunk.size() * chunks);
  CHECK(engine.pending(fd) == 0);
  CHECK(::lseek(fd, 0, SEEK_END) == static_cast<off_t>(chunk.size() * chunks));
}

TEST_CASE("datagrams keep their boundaries and order, runs of one length and mixed lengths "
          "alike, however many are queued",
          "[qio][liveness][datagram]") {
  const qio_test::Watchdog watchdog(60);
  qio::Engine engine;
  qio_test::FdPair pair = qio_test::socket_pair(SOCK_DGRAM);
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  const bool mixed = GENERATE(false, true);
  CAPTURE(mixed);
  constexpr int count = 20000;
  std::vector<std::string> sent;
  for (int i = 0; i < count; ++i) {
    const std::size_t length = mixed ? 1 + static_cast<std::size_t>(i % 7) * 5 : 24;
    std::string message(length, static_cast<char>('A' + i % 26));
    const std::string number = std::to_string(i).substr(0, length);
    message.replace(0, number.size(), number);
    sent.push_back(message);
    REQUIRE_FALSE(engine.write(fd, sent.back()));
  }
  CHECK(engine.pending(fd) == static_cast<std::size_t>(count));

  std::vector<std::string> received;
  char buffer[256];
  while (received.size() < sent.size()) {
    engine.flush();
    for (;;) {
      const ssize_t n = ::recv(pair.remote.get(), buffer, sizeof buffer, MSG_DONTWAIT);
      if (n < 0)
        break;
      received.emplace_back(buffer, static_cast<std::size_t>(n));
    }
  }
  CHECK(engine.pending(fd) == 0);
  REQUIRE(received.size() == sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) {
    CAPTURE(i);
    REQUIRE(received[i] == sent[i]);
  }
}
