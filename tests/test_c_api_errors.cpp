// SPDX-License-Identifier: MIT
// test_c_api_errors.cpp - every documented error of every qio_* function.
//
// The C API is one process-wide queue set: each test runs on a fixture of
// support.hpp (CApiEngine or CApiChannel), which starts it with qio_init()
// and cancels what it left queued with qio_term() while the fixture's
// recorder and descriptors still exist.
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "support.hpp"

using qio_test::AstRecorder;
using qio_test::CApiChannel;
using qio_test::CApiEngine;
using qio_test::Fd;
using qio_test::FdPair;

namespace {

// Runs `action` with descriptor `target` (1 or 2) sent to a temporary file
// and returns what was written there. `action` must not throw (use CHECK,
// not REQUIRE, inside it), or the descriptor would stay redirected.
std::string capture_output(int target, const std::function<void()>& action) {
  std::fflush(nullptr);
  Fd capture = qio_test::temporary_file();
  const Fd saved(::dup(target));
  REQUIRE(saved.get() >= 0);
  REQUIRE(::dup2(capture.get(), target) == target);
  action();
  std::fflush(nullptr);
  REQUIRE(::dup2(saved.get(), target) == target);
  std::string text;
  char buffer[4096];
  ssize_t n;
  off_t offset = 0;
  while ((n = ::pread(capture.get(), buffer, sizeof buffer, offset)) > 0) {
    text.append(buffer, static_cast<std::size_t>(n));
    offset += n;
  }
  return text;
}

// The whole content of a stdio stream written so far.
std::string contents_of(std::FILE* stream) {
  std::fflush(stream);
  std::rewind(stream);
  std::string text;
  char buffer[4096];
  std::size_t n;
  while ((n = std::fread(buffer, 1, sizeof buffer, stream)) > 0)
    text.append(buffer, n);
  return text;
}

// Whether some line of `text` contains both `first` and `second`.
bool has_line_with(const std::string& text, const std::string& first,
                   const std::string& second) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line))
    if (line.find(first) != std::string::npos && line.find(second) != std::string::npos)
      return true;
  return false;
}

// A descriptor that is not a configured channel, of the kind named, and
// the objects that keep it so for the test's duration.
struct NotAChannel {
  FdPair pair;
  int fd = -1;
};

NotAChannel make_not_a_channel(const std::string& kind) {
  NotAChannel result;
  result.pair = qio_test::socket_pair();
  if (kind == "negative") {
    result.fd = -1;
  } else if (kind == "most negative") {
    result.fd = INT_MIN;
  } else if (kind == "closed") {
    result.fd = qio_test::unopened_descriptor();
  } else if (kind == "far beyond any open descriptor") {
    result.fd = 1 << 24;
  } else if (kind == "open but never configured") {
    result.fd = result.pair.local.get();
  } else if (kind == "terminated") {
    result.fd = result.pair.local.get();
    REQUIRE(qio_configure(result.fd, 1, 1, -1) == 0);
    REQUIRE(qio_termc(result.fd) == 0);
  }
  return result;
}

constexpr char some_bytes[] = "some bytes";
constexpr int some_length = sizeof some_bytes - 1;

} // namespace

// ---- qio_configure ------------------------------------------------------------

TEST_CASE_METHOD(CApiEngine, "qio_configure refuses a descriptor that is not open with EBADF",
                 "[qio][errors][configure]") {
  const std::string kind = GENERATE(as<std::string>{}, "negative", "most negative",
                                    "closed", "far beyond any open descriptor");
  CAPTURE(kind);
  NotAChannel target = make_not_a_channel(kind);
  CAPTURE(target.fd);
  CHECK(qio_configure(target.fd, 1, 1, -1) == EBADF);
  CHECK(qio_write(target.fd, some_bytes, some_length, nullptr, nullptr) == EBADF);
  CHECK(qio_pend() == 0);
}

TEST_CASE_METHOD(CApiEngine, "qio_configure refuses a max_outstanding of 0 or below -1 with EINVAL",
                 "[qio][errors][configure]") {
  FdPair pair = qio_test::socket_pair();
  const int fd = pair.local.get();
  const int flags_before = ::fcntl(fd, F_GETFL);

  const int max_outstanding = GENERATE(0, -2, -3, -1000, INT_MIN);
  CAPTURE(max_outstanding);
  CHECK(qio_configure(fd, 1, 1, max_outstanding) == EINVAL);

  // Nothing happened: not a channel, descriptor untouched.
  CHECK(qio_write(fd, some_bytes, some_length, nullptr, nullptr) == EBADF);
  CHECK(::fcntl(fd, F_GETFL) == flags_before);
}

TEST_CASE_METHOD(CApiEngine, "qio_configure checks max_outstanding before the descriptor",
                 "[qio][errors][configure]") {
  const int closed = qio_test::unopened_descriptor();
  CHECK(qio_configure(closed, 1, 1, 0) == EINVAL);
  CHECK(qio_configure(-1, 1, 1, -2) == EINVAL);
  CHECK(qio_configure(closed, 1, 1, -1) == EBADF);
}

TEST_CASE_METHOD(CApiChannel, "lowering max_outstanding below the queue length cancels nothing "
                 "and refuses requests until the queue drains below it",
                 "[qio][errors][configure][limits]") {
  char buffers[3][4];
  for (auto& buffer : buffers) // reads: they stay pending, nothing to read
    REQUIRE(qio_read(fd, buffer, sizeof buffer, AstRecorder::record, &recorder) == 0);
  REQUIRE(qio_configure(fd, 1, 1, 2) == 0);
  CHECK(qio_pendc(fd) == 3);
  CHECK(recorder.calls.empty());
  CHECK(qio_write(fd, "x", 1, AstRecorder::record, &recorder) == EAGAIN);

  REQUIRE(::write(pair.remote.get(), "a", 1) == 1);
  qio_flush(); // one read completes: 2 left, still at the limit
  REQUIRE(recorder.calls.size() == 1);
  CHECK(qio_write(fd, "x", 1, AstRecorder::record, &recorder) == EAGAIN);
  REQUIRE(::write(pair.remote.get(), "b", 1) == 1);
  qio_flush(); // 1 left: below the limit
  REQUIRE(recorder.calls.size() == 2);
  CHECK(qio_write(fd, "x", 1, AstRecorder::record, &recorder) == 0);
  CHECK(qio_write(fd, "y", 1, AstRecorder::record, &recorder) == EAGAIN);
}

TEST_CASE_METHOD(CApiEngine, "qio_configure accepts -1 and any positive max_outstanding",
                 "[qio][errors][configure]") {
  FdPair pair = qio_test::socket_pair();
  const int fd = pair.local.get();
  const int max_outstanding = GENERATE(-1, 1, 2, 1000, INT_MAX);
  CAPTURE(max_outstanding);
  CHECK(qio_configure(fd, 1, 1, max_outstanding) == 0);
  CHECK(qio_write(fd, some_bytes, some_length, nullptr, nullptr) == 0);
  CHECK(qio_pendc(fd) == 1);
}

TEST_CASE_METHOD(CApiEngine, "qio_configure sets O_NONBLOCK only when asked and leaves it "
                 "otherwise",
                 "[qio][errors][configure]") {
  FdPair pair = qio_test::socket_pair();
  const int fd = pair.local.get();
  REQUIRE((::fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);

  SECTION("nonblocking = 1 sets O_NONBLOCK") {
    REQUIRE(qio_configure(fd, 1, 1, -1) == 0);
    CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
  }
  SECTION("nonblocking = 0 leaves a blocking descriptor blocking") {
    REQUIRE(qio_configure(fd, 0, 1, -1) == 0);
    CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);
  }
  SECTION("nonblocking = 0 on reconfiguration does not clear O_NONBLOCK") {
    REQUIRE(qio_configure(fd, 1, 1, -1) == 0);
    REQUIRE(qio_configure(fd, 0, 1, -1) == 0);
    CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
  }
}

TEST_CASE_METHOD(CApiEngine, "qio_configure on a channel succeeds again and changes its settings "
                 "for later requests",
                 "[qio][errors][configure]") {
  FdPair& pair = open_channel(qio_test::socket_pair(), {.max_outstanding = 1});
  const int fd = pair.local.get();
  REQUIRE(qio_write(fd, "a", 1, AstRecorder::record, &recorder) == 0);
  REQUIRE(qio_write(fd, "b", 1, AstRecorder::record, &recorder) == EAGAIN);

  SECTION("a higher max_outstanding admits more requests") {
    REQUIRE(qio_configure(fd, 1, 1, 3) == 0);
    CHECK(qio_write(fd, "b", 1, AstRecorder::record, &recorder) == 0);
    CHECK(qio_write(fd, "c", 1, AstRecorder::record, &recorder) == 0);
    CHECK(qio_write(fd, "d", 1, AstRecorder::record, &recorder) == EAGAIN);
    CHECK(qio_pendc(fd) == 3);
  }
  SECTION("-1 lifts the limit") {
    REQUIRE(qio_configure(fd, 1, 1, -1) == 0);
    for (int i = 0; i < 100; ++i)
      REQUIRE(qio_write(fd, "x", 1, nullptr, nullptr) == 0);
    CHECK(qio_pendc(fd) == 101);
  }
  SECTION("switching to unbuffered keeps the caller's pointer for later writes only") {
    REQUIRE(qio_configure(fd, 1, 0, -1) == 0);
    char caller_bytes[] = "unbuffered";
    REQUIRE(qio_write(fd, caller_bytes, 10, AstRecorder::record, &recorder) == 0);
    qio_flush();
    REQUIRE(recorder.calls.size() == 2);
    CHECK(recorder.calls[0].data == "a");
    CHECK(recorder.calls[1].buffer == caller_bytes);
    CHECK(recorder.calls[1].data == "unbuffered");
    std::string received;
    qio_test::drain_available(pair.remote.get(), received);
    CHECK(received == "aunbuffered");
  }
  SECTION("queued requests survive reconfiguration") {
    REQUIRE(qio_configure(fd, 1, 1, -1) == 0);
    CHECK(qio_pendc(fd) == 1);
    qio_flush();
    REQUIRE(recorder.calls.size() == 1);
    CHECK(recorder.calls[0].error_code == 0);
    CHECK(recorder.calls[0].data == "a");
  }
}

// ---- qio_write and qio_read ----------------------------------------------------

TEST_CASE_METHOD(CApiEngine, "qio_write, qio_read and qio_seek refuse a descriptor that is not a "
                 "channel with EBADF",
                 "[qio][errors][write][read][seek]") {
  const std::string kind =
      GENERATE(as<std::string>{}, "negative", "most negative", "closed",
               "far beyond any open descriptor", "open but never configured", "terminated");
  CAPTURE(kind);
  NotAChannel target = make_not_a_channel(kind);
  char buffer[16];

  CHECK(qio_write(target.fd, some_bytes, some_length, AstRecorder::record, &recorder) ==
        EBADF);
  CHECK(qio_write(target.fd, some_bytes, -1, AstRecorder::record, &recorder) == EBADF);
  CHECK(qio_write(target.fd, nullptr, 5, AstRecorder::record, &recorder) == EBADF);
  CHECK(qio_read(target.fd, buffer, sizeof buffer, AstRecorder::record, &recorder) == EBADF);
  CHECK(qio_read(target.fd, buffer, -1, AstRecorder::record, &recorder) == EBADF);
  CHECK(qio_seek(target.fd, 0, AstRecorder::record, &recorder) == EBADF);
  CHECK(qio_seek(target.fd, -1, AstRecorder::record, &recorder) == EBADF);
  qio_flush();
  CHECK(qio_pend() == 0);
  CHECK(recorder.calls.empty());
}

TEST_CASE_METHOD(CApiEngine, "qio_write validates its length and buffer", "[qio][errors][write]") {
  const int buffered = GENERATE(0, 1);
  FdPair& pair = open_channel(qio_test::socket_pair(), {.buffered = buffered});
  const int fd = pair.local.get();

  // Which buffer to pass: "bytes" or "null"; the length; the result.
  const auto [buffer_kind, length, expected] = GENERATE(table<std::string, int, int>({
      {"bytes", -1, EINVAL},
      {"bytes", INT_MIN, EINVAL},
      {"null", 1, EINVAL},
      {"null", INT_MAX, EINVAL},
      {"null", -1, EINVAL},
      {"null", 0, 0},
      {"bytes", 0, 0},
      {"bytes", some_length, 0},
  }));
  CAPTURE(buffered, buffer_kind, length);
  const char* buffer = buffer_kind == "null" ? nullptr : some_bytes;
  CHECK(qio_write(fd, buffer, length, AstRecorder::record, &recorder) == expected);
  CHECK(qio_pendc(fd) == (expected == 0 ? 1 : 0));

  // An accepted write completes once with its length; a refused one never.
  qio_flush();
  if (expected == 0) {
    REQUIRE(recorder.calls.size() == 1);
    CHECK(recorder.calls[0].error_code == 0);
    CHECK(recorder.calls[0].length == length);
    CHECK(recorder.calls[0].operation == QIO_WRITE);
  } else {
    CHECK(recorder.calls.empty());
  }
  std::string received;
  qio_test::drain_available(pair.remote.get(), received);
  CHECK(received == std::string(expected == 0 && length > 0 ? some_bytes : ""));
}

TEST_CASE_METHOD(CApiEngine, "qio_read validates its length and buffer", "[qio][errors][read]") {
  // A regular file: a read there always completes (0 bytes at end of file).
  const int fd = open_file_channel();
  char buffer[16];

  const auto [buffer_kind, length, expected] = GENERATE(table<std::string, int, int>({
      {"bytes", -1, EINVAL},
      {"bytes", INT_MIN, EINVAL},
      {"null", 1, EINVAL},
      {"null", -1, EINVAL},
      {"null", 0, 0},
      {"bytes", 0, 0},
      {"bytes", 16, 0},
  }));
  CAPTURE(buffer_kind, length);
  char* target = buffer_kind == "null" ? nullptr : buffer;
  CHECK(qio_read(fd, target, length, AstRecorder::record, &recorder) == expected);
  CHECK(qio_pendc(fd) == (expected == 0 ? 1 : 0));
  qio_flush();
  if (expected == 0) {
    REQUIRE(recorder.calls.size() == 1);
    CHECK(recorder.calls[0].operation == QIO_READ);
    CHECK(recorder.calls[0].error_code == 0);
    CHECK(recorder.calls[0].length == 0); // empty file: end of file
    CHECK(recorder.calls[0].buffer == target);
  } else {
    CHECK(recorder.calls.empty());
  }
}

TEST_CASE_METHOD(CApiChannel, "a zero-length read completes with length 0 when its turn comes, "
                 "with nothing to read",
                 "[qio][errors][read]") {
  char buffer[1];
  const int use_null = GENERATE(0, 1);
  CAPTURE(use_null);
  REQUIRE(qio_read(fd, use_null ? nullptr : buffer, 0, AstRecorder::record, &recorder) == 0);
  CHECK(recorder.calls.empty());
  qio_flush();
  REQUIRE(recorder.calls.size() == 1);
  CHECK(recorder.calls[0].error_code == 0);
  CHECK(recorder.calls[0].length == 0);
  CHECK(recorder.calls[0].buffer == (use_null ? nullptr : buffer));
  CHECK(qio_pendc(fd) == 0);
}

TEST_CASE_METHOD(CApiEngine, "a request the descriptor's access mode refuses is accepted and "
                 "completes through its AST with EBADF, blocking or not",
                 "[qio][errors][read][write]") {
  // read(2) on a pipe's write end, or write(2) on its read end, fails at
  // once with EBADF, whether or not the descriptor is blocking.
  FdPair& pipe = keep(qio_test::pipe_pair());
  const int nonblocking = GENERATE(0, 1);
  CAPTURE(nonblocking);
  char buffer[8];

  SECTION("a read on the write end") {
    const int fd = pipe.local.get();
    REQUIRE(qio_configure(fd, nonblocking, 1, -1) == 0);
    CHECK(qio_read(fd, buffer, sizeof buffer, AstRecorder::record, &recorder) == 0);
    CHECK(qio_wait(fd, 500) == 0);
    REQUIRE(recorder.calls.size() == 1);
    CHECK(recorder.calls[0].error_code == EBADF);
    CHECK(recorder.calls[0].operation == QIO_READ);
    CHECK(recorder.calls[0].length == 0);
    CHECK(recorder.calls[0].buffer == buffer);
    // A read error is not a sticky write error.
    CHECK(qio_write(fd, "ok", 2, nullptr, nullptr) == 0);
  }
  SECTION("a write on the read end") {
    const int fd = pipe.remote.get();
    REQUIRE(qio_configure(fd, nonblocking, 1, -1) == 0);
    CHECK(qio_write(fd, "nowhere", 7, AstRecorder::record, &recorder) == 0);
    CHECK(qio_wait(fd, 500) == EBADF); // the sticky write error
    REQUIRE(recorder.calls.size() == 1);
    CHECK(recorder.calls[0].error_code == EBADF);
    CHECK(recorder.calls[0].operation == QIO_WRITE);
    CHECK(recorder.calls[0].length == 0);
    CHECK(qio_write(fd, "again", 5, nullptr, nullptr) == EBADF);
  }
}

TEST_CASE_METHOD(CApiEngine, "a queue at max_outstanding refuses every request with EAGAIN, "
                 "queues nothing, and accepts again after a completion",
                 "[qio][errors][write][read][seek][limits]") {
  const int max_outstanding = GENERATE(1, 2, 5);
  CAPTURE(max_outstanding);
  FdPair& pair = open_channel(qio_test::socket_pair(), {.max_outstanding = max_outstanding});
  const int fd = pair.local.get();

  std::string expected;
  for (int i = 0; i < max_outstanding; ++i) {
    // Appended, not `"m" + std::to_string(i) + ";"`: GCC 12 at -O3 warns
    // (-Wrestrict) inside libstdc++'s operator+ for that form.
    std::string message = "m";
    message += std::to_string(i);
    message += ';';
    REQUIRE(qio_write(fd, message.data(), static_cast<int>(message.size()),
                      AstRecorder::record, &recorder) == 0);
    expected += message;
  }
  char buffer[16];
  CHECK(qio_write(fd, "refused", 7, AstRecorder::record, &recorder) == EAGAIN);
  CHECK(qio_write(fd, nullptr, 0, AstRecorder::record, &recorder) == EAGAIN);
  CHECK(qio_read(fd, buffer, sizeof buffer, AstRecorder::record, &recorder) == EAGAIN);
  CHECK(qio_seek(fd, 0, AstRecorder::record, &recorder) == EAGAIN);
  CHECK(qio_pendc(fd) == max_outstanding);
  CHECK(recorder.calls.empty());

  qio_flush();
  CHECK(qio_pendc(fd) == 0);
  CHECK(recorder.calls.size() == static_cast<std::size_t>(max_outstanding));
  std::string received;
  qio_test::drain_available(pair.remote.get(), received);
  CHECK(received == expected); // nothing of the refused requests

  CHECK(qio_write(fd, "again", 5, AstRecorder::record, &recorder) == 0);
  qio_flush();
  received.clear();
  qio_test::drain_available(pair.remote.get(), received);
  CHECK(received == "again");
}

TEST_CASE_METHOD(CApiEngine, "reads count toward max_outstanding and one completion frees exactly "
                 "one slot",
                 "[qio][errors][limits]") {
  const int fd = open_channel(qio_test::socket_pair(), {.max_outstanding = 2}).local.get();
  char buffer[16];
  REQUIRE(qio_read(fd, buffer, sizeof buffer, AstRecorder::record, &recorder) == 0);
  REQUIRE(qio_write(fd, "w1", 2, AstRecorder::record, &recorder) == 0);
  CHECK(qio_write(fd, "w2", 2, AstRecorder::record, &recorder) == EAGAIN);

  qio_flush(); // the write completes; the read waits for data
  REQUIRE(recorder.calls.size() == 1);
  CHECK(recorder.calls[0].operation == QIO_WRITE);
  CHECK(qio_pendc(fd) == 1);
  CHECK(qio_write(fd, "w2", 2, AstRecorder::record, &recorder) == 0);
  CHECK(qio_write(fd, "w3", 2, AstRecorder::record, &recorder) == EAGAIN);
}

// ---- qio_seek --------------------------------------------------------------------

TEST_CASE_METHOD(CApiEngine, "qio_seek refuses a negative offset with EINVAL",
                 "[qio][errors][seek]") {
  const int fd = open_file_channel();
  const off_t offset = GENERATE(off_t{-1}, off_t{-4096}, std::numeric_limits<off_t>::min());
  CAPTURE(offset);
  CHECK(qio_seek(fd, offset, AstRecorder::record, &recorder) == EINVAL);
  CHECK(qio_pendc(fd) == 0);
  qio_flush();
  CHECK(recorder.calls.empty());
}

TEST_CASE_METHOD(CApiEngine, "a seek on a descriptor that cannot seek is accepted and its AST "
                 "gets ESPIPE",
                 "[qio][errors][seek]") {
  const std::string kind = GENERATE(as<std::string>{}, "socket", "pipe");
  CAPTURE(kind);
  FdPair& pair = open_channel(kind == "socket" ? qio_test::socket_pair() : qio_test::pipe_pair());
  const int fd = pair.local.get();
  CHECK(qio_seek(fd, 10, AstRecorder::record, &recorder) == 0);
  CHECK(recorder.calls.empty()); // not from inside the queueing call
  qio_flush();
  REQUIRE(recorder.calls.size() == 1);
  CHECK(recorder.calls[0].error_code == ESPIPE);
  CHECK(recorder.calls[0].operation == QIO_SEEK);
  CHECK(recorder.calls[0].channel == fd);
  CHECK(recorder.calls[0].length == 0);
  CHECK(recorder.calls[0].buffer == nullptr);
  CHECK(qio_pendc(fd) == 0);
}

TEST_CASE_METHOD(CApiEngine, "a seek on a regular file completes with no error, length 0 and no "
                 "buffer",
                 "[qio][errors][seek]") {
  const int fd = open_file_channel();
  REQUIRE(qio_seek(fd, 1234, AstRecorder::record, &recorder) == 0);
  qio_flush();
  REQUIRE(recorder.calls.size() == 1);
  CHECK(recorder.calls[0].error_code == 0);
  CHECK(recorder.calls[0].operation == QIO_SEEK);
  CHECK(recorder.calls[0].length == 0);
  CHECK(recorder.calls[0].buffer == nullptr);
  CHECK(::lseek(fd, 0, SEEK_CUR) == 1234);
}

// ---- qio_flushc, qio_termc, qio_prune, qio_wait, qio_pendc -----------------------

TEST_CASE_METHOD(CApiEngine, "every function refuses or ignores a descriptor that is not a channel",
                 "[qio][errors]") {
  const std::string kind =
      GENERATE(as<std::string>{}, "negative", "most negative", "closed",
               "far beyond any open descriptor", "open but never configured", "terminated");
  CAPTURE(kind);
  NotAChannel target = make_not_a_channel(kind);
  const int local = target.pair.local.get();
  const int flags_before = ::fcntl(local, F_GETFL);
  char buffer[8];

  CHECK(qio_write(target.fd, some_bytes, some_length, AstRecorder::record, &recorder) ==
        EBADF);
  CHECK(qio_read(target.fd, buffer, sizeof buffer, AstRecorder::record, &recorder) == EBADF);
  CHECK(qio_seek(target.fd, 0, AstRecorder::record, &recorder) == EBADF);
  CHECK(qio_flushc(target.fd) == EBADF);
  CHECK(qio_termc(target.fd) == EBADF);
  CHECK(qio_prune(target.fd) == EBADF);
  CHECK(qio_wait(target.fd, 0) == EBADF);
  CHECK(qio_wait(target.fd, -1) == EBADF); // must not wait forever either
  CHECK(qio_wait(target.fd, -2) == EBADF); // EBADF comes before argument checks
  CHECK(qio_pendc(target.fd) == 0);
  CHECK(qio_pend() == 0);
  CHECK(qio_flush() == 0);
  fd_set mask;
  FD_ZERO(&mask);
  CHECK(qio_fdset(&mask) == 0);
  CHECK_FALSE(FD_ISSET(local, &mask));
  CHECK(qio_term() == 0);
  CHECK(recorder.calls.empty());
  // None of them touched the descriptor.
  CHECK(::fcntl(local, F_GETFL) == flags_before);
}

TEST_CASE_METHOD(CApiChannel, "qio_wait refuses a timeout below -1 with EINVAL and leaves the "
                 "queue alone",
                 "[qio][errors][wait]") {
  REQUIRE(qio_write(fd, some_bytes, some_length, AstRecorder::record, &recorder) == 0);
  const int timeout_ms = GENERATE(-2, -3, -1000, INT_MIN);
  CAPTURE(timeout_ms);
  CHECK(qio_wait(fd, timeout_ms) == EINVAL);
  CHECK(qio_pendc(fd) == 1);
  CHECK(recorder.calls.empty());
}

TEST_CASE_METHOD(CApiChannel, "qio_wait gives up with ETIMEDOUT when the peer does not read",
                 "[qio][errors][wait]") {
  const qio_test::Watchdog watchdog(20);
  // Far more than a socket buffer holds, so the peer must read for it to finish.
  const std::string big(8 << 20, 'q');
  REQUIRE(qio_write(fd, big.data(), static_cast<int>(big.size()), AstRecorder::record,
                    &recorder) == 0);

  const int timeout_ms = GENERATE(0, 1, 50, 200);
  CAPTURE(timeout_ms);
  using Clock = std::chrono::steady_clock;
  const auto started = Clock::now();
  CHECK(qio_wait(fd, timeout_ms) == ETIMEDOUT);
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  CHECK(elapsed >= timeout_ms);
  CHECK(elapsed < timeout_ms + 3000);
  CHECK(qio_pendc(fd) == 1);
  CHECK(recorder.calls.empty());
}

TEST_CASE_METHOD(CApiEngine, "qio_pendc is 0 for a descriptor that is not a channel",
                 "[qio][errors][pend]") {
  const std::string kind =
      GENERATE(as<std::string>{}, "negative", "most negative", "closed",
               "far beyond any open descriptor", "open but never configured", "terminated");
  CAPTURE(kind);
  // Another channel with work must not leak into the answer (opened first,
  // so the "closed" number stays closed).
  FdPair& busy = open_channel(qio_test::socket_pair());
  NotAChannel target = make_not_a_channel(kind);
  REQUIRE(qio_write(busy.local.get(), some_bytes, some_length, nullptr, nullptr) == 0);
  CHECK(qio_pendc(target.fd) == 0);
  CHECK(qio_pend() == 1);
}

// ---- qio_fdset, qio_dump, qio_init, qio_termc --------------------------------------

TEST_CASE_METHOD(CApiChannel, "qio_fdset with a NULL mask returns -1 and sets errno to EINVAL",
                 "[qio][errors][fdset]") {
  REQUIRE(qio_write(fd, some_bytes, some_length, nullptr, nullptr) == 0);
  errno = 0;
  CHECK(qio_fdset(nullptr) == -1);
  CHECK(errno == EINVAL);
  CHECK(qio_pend() == 1);
}

TEST_CASE_METHOD(CApiEngine, "qio_dump describes every channel and its queued requests",
                 "[qio][errors][dump]") {
  FdPair& first = open_channel(qio_test::socket_pair(), {.max_outstanding = 7});
  FdPair& second = open_channel(qio_test::socket_pair(), {.buffered = 0});
  REQUIRE(qio_write(first.local.get(), "twelve bytes", 12, AstRecorder::record, &recorder) ==
          0);
  REQUIRE(qio_write(first.local.get(), "abc", 3, nullptr, nullptr) == 0);
  char buffer[321];
  REQUIRE(qio_read(second.local.get(), buffer, sizeof buffer, AstRecorder::record,
                   &recorder) == 0);

  auto check_description = [&](const std::string& text) {
    CAPTURE(text);
    CHECK(text.find("channel " + std::to_string(first.local.get())) != std::string::npos);
    CHECK(text.find("channel " + std::to_string(second.local.get())) != std::string::npos);
    CHECK(has_line_with(text, "write", "12"));  // the first write and its length
    CHECK(has_line_with(text, "write", "3"));   // the second write
    CHECK(has_line_with(text, "read", "321"));  // the read and its length
    CHECK(text.find("unbuffered") != std::string::npos);
    CHECK(text.find("AST yes") != std::string::npos);
    CHECK(text.find("AST no") != std::string::npos);
  };

  SECTION("to a stream") {
    std::FILE* stream = std::tmpfile();
    REQUIRE(stream != nullptr);
    CHECK(qio_dump(stream) == 0);
    const std::string text = contents_of(stream);
    std::fclose(stream);
    check_description(text);
  }
  SECTION("NULL means stdout") {
    int result = -1;
    const std::string text = capture_output(STDOUT_FILENO, [&] { result = qio_dump(nullptr); });
    CHECK(result == 0);
    check_description(text);
  }
  SECTION("a stream that cannot be written gives EIO") {
    std::FILE* full = std::fopen("/dev/full", "w");
    if (full == nullptr) {
      WARN("no /dev/full here: the EIO case is not exercised");
      return;
    }
    CHECK(qio_dump(full) == EIO);
    std::fclose(full);
  }
  // Dumping changes nothing.
  CHECK(qio_pend() == 3);
  CHECK(recorder.calls.empty());
}

TEST_CASE_METHOD(CApiEngine, "qio_dump with no channels succeeds", "[qio][errors][dump]") {
  std::FILE* stream = std::tmpfile();
  REQUIRE(stream != nullptr);
  CHECK(qio_dump(stream) == 0);
  std::fclose(stream);
}

TEST_CASE_METHOD(CApiEngine, "qio_init resets qio_util_debug and cancels everything pending",
                 "[qio][errors][init]") {
  const int fd = keep(qio_test::socket_pair()).local.get();
  const std::string trace = capture_output(STDERR_FILENO, [&] {
    qio_util_debug = 1;
    CHECK(qio_configure(fd, 1, 1, -1) == 0);
    CHECK(qio_write(fd, "traced", 6, AstRecorder::record, &recorder) == 0);
    CHECK(qio_init() == 0);
  });
  CHECK(qio_util_debug == 0);
  CHECK_FALSE(trace.empty());
  REQUIRE(recorder.calls.size() == 1);
  CHECK(recorder.calls[0].error_code == ECANCELED);
  CHECK(qio_pend() == 0);
  CHECK(qio_write(fd, "x", 1, nullptr, nullptr) == EBADF);
  // With the flag cleared nothing is traced any more.
  const std::string quiet = capture_output(STDERR_FILENO, [&] {
    CHECK(qio_configure(fd, 1, 1, -1) == 0);
    CHECK(qio_write(fd, "quiet", 5, nullptr, nullptr) == 0);
    qio_flush();
  });
  CHECK(quiet.empty());
}

TEST_CASE_METHOD(CApiEngine, "with qio_util_debug set, calls and completions are traced to stderr "
                 "with a hex dump of the data",
                 "[qio][errors][debug]") {
  const int fd = keep(qio_test::socket_pair()).local.get();
  const std::string trace = capture_output(STDERR_FILENO, [&] {
    qio_util_debug = 1;
    CHECK(qio_configure(fd, 1, 1, -1) == 0);
    CHECK(qio_write(fd, "HEXD", 4, nullptr, nullptr) == 0);
    qio_flush();
    qio_util_debug = 0;
  });
  CAPTURE(trace);
  CHECK(trace.find(std::to_string(fd)) != std::string::npos);
  CHECK(trace.find("48 45 58 44") != std::string::npos); // "HEXD" in hex
}

TEST_CASE("qio_version is the headers' QIO_VERSION_STRING, made of the three version numbers",
          "[qio][version]") {
  const std::string from_numbers = std::to_string(QIO_VERSION_MAJOR) + "." +
                                   std::to_string(QIO_VERSION_MINOR) + "." +
                                   std::to_string(QIO_VERSION_PATCH);
  CHECK(std::string(QIO_VERSION_STRING) == from_numbers);
  CHECK(std::string(qio_version()) == QIO_VERSION_STRING);
}

namespace {

// The lines a trace handler was given, in order.
struct TraceLines {
  std::vector<std::string> lines;
  static void record(const char* line, void* argument) {
    static_cast<TraceLines*>(argument)->lines.emplace_back(line);
  }
  std::string joined() const {
    std::string text;
    for (const std::string& line : lines)
      text += line + '\n';
    return text;
  }
};

} // namespace

TEST_CASE_METHOD(CApiEngine, "qio_set_trace_handler routes the trace to the program's handler, "
                 "line by line, and NULL restores stderr",
                 "[qio][errors][debug]") {
  const int fd = keep(qio_test::socket_pair()).local.get();
  TraceLines handled;
  const std::string on_stderr = capture_output(STDERR_FILENO, [&] {
    qio_set_trace_handler(TraceLines::record, &handled);
    qio_util_debug = 1;
    CHECK(qio_configure(fd, 1, 1, -1) == 0);
    CHECK(qio_write(fd, "HEXD", 4, nullptr, nullptr) == 0);
    qio_flush();
    qio_util_debug = 0;
  });
  CAPTURE(handled.lines);
  CHECK(on_stderr.empty());
  CHECK(handled.joined().find("write queued on channel " + std::to_string(fd)) !=
        std::string::npos);
  CHECK(handled.joined().find("48 45 58 44") != std::string::npos); // "HEXD" in hex
  for (const std::string& line : handled.lines)
    CHECK(line.find('\n') == std::string::npos);

  const std::size_t lines_before = handled.lines.size();
  const std::string restored = capture_output(STDERR_FILENO, [&] {
    qio_set_trace_handler(nullptr, nullptr);
    qio_util_debug = 1;
    CHECK(qio_write(fd, "back", 4, nullptr, nullptr) == 0);
    qio_flush();
    qio_util_debug = 0;
  });
  CAPTURE(restored);
  CHECK(handled.lines.size() == lines_before);
  CHECK(restored.find("write queued on channel " + std::to_string(fd) + ": 4 bytes\n") !=
        std::string::npos);
  CHECK(restored.find("|back|") != std::string::npos);
}

TEST_CASE_METHOD(CApiEngine, "qio_termc makes the channel unconfigured and leaves the descriptor "
                 "open and unchanged",
                 "[qio][errors][termc]") {
  const int nonblocking = GENERATE(0, 1);
  CAPTURE(nonblocking);
  FdPair& pair = open_channel(qio_test::socket_pair(), {.nonblocking = nonblocking});
  const int fd = pair.local.get();
  const int status_flags = ::fcntl(fd, F_GETFL);
  const int descriptor_flags = ::fcntl(fd, F_GETFD);
  REQUIRE(status_flags >= 0);
  REQUIRE(qio_write(fd, "sent", 4, AstRecorder::record, &recorder) == 0);
  qio_flush();

  CHECK(qio_termc(fd) == 0);
  CHECK(::fcntl(fd, F_GETFL) == status_flags);
  CHECK(::fcntl(fd, F_GETFD) == descriptor_flags);
  CHECK(qio_write(fd, "x", 1, nullptr, nullptr) == EBADF);
  CHECK(qio_termc(fd) == EBADF);
  CHECK(qio_pendc(fd) == 0);

  // Still open and usable directly, and configurable again.
  REQUIRE(::write(fd, "direct", 6) == 6);
  CHECK(qio_test::read_exactly(pair.remote.get(), 10) == "sentdirect");
  REQUIRE(qio_configure(fd, nonblocking, 1, -1) == 0);
  CHECK(qio_write(fd, "again", 5, nullptr, nullptr) == 0);
  CHECK(qio_wait(fd, 5000) == 0);
  CHECK(qio_test::read_exactly(pair.remote.get(), 5) == "again");
}

TEST_CASE_METHOD(CApiEngine, "qio_term cancels every channel and leaves every descriptor open",
                 "[qio][errors][term]") {
  FdPair& first = open_channel(qio_test::socket_pair());
  const int file = open_file_channel();
  REQUIRE(qio_write(first.local.get(), "a", 1, AstRecorder::record, &recorder) == 0);
  REQUIRE(qio_write(file, "b", 1, AstRecorder::record, &recorder) == 0);
  CHECK(qio_term() == 0);
  CHECK(recorder.calls.size() == 2);
  for (const auto& call : recorder.calls)
    CHECK(call.error_code == ECANCELED);
  CHECK(qio_pend() == 0);
  CHECK(qio_write(first.local.get(), "a", 1, nullptr, nullptr) == EBADF);
  CHECK(qio_write(file, "b", 1, nullptr, nullptr) == EBADF);
  CHECK(::fcntl(first.local.get(), F_GETFL) >= 0);
  CHECK(::fcntl(file, F_GETFL) >= 0);
  CHECK(qio_term() == 0);
  CHECK(recorder.calls.size() == 2);
}

TEST_CASE_METHOD(CApiChannel, "the C API returns errors as values and leaves errno alone",
                 "[qio][errors]") {
  char buffer[4];
  constexpr int marker = 12345;

  const std::string call = GENERATE(as<std::string>{},
                                    "qio_configure on a closed descriptor",
                                    "qio_write with a negative length",
                                    "qio_flush of a seek that fails with ESPIPE",
                                    "qio_flush of a read with nothing to read",
                                    "qio_wait that times out");
  CAPTURE(call);
  int expected = 0;
  int result = -1;
  if (call == "qio_configure on a closed descriptor") {
    const int closed = qio_test::unopened_descriptor();
    errno = marker;
    result = qio_configure(closed, 1, 1, -1);
    expected = EBADF;
  } else if (call == "qio_write with a negative length") {
    errno = marker;
    result = qio_write(fd, "x", -1, nullptr, nullptr);
    expected = EINVAL;
  } else if (call == "qio_flush of a seek that fails with ESPIPE") {
    REQUIRE(qio_seek(fd, 1, AstRecorder::record, &recorder) == 0);
    errno = marker;
    result = qio_flush();
    REQUIRE(recorder.calls.size() == 1);
    CHECK(recorder.calls[0].error_code == ESPIPE);
  } else if (call == "qio_flush of a read with nothing to read") {
    REQUIRE(qio_read(fd, buffer, sizeof buffer, AstRecorder::record, &recorder) == 0);
    errno = marker;
    result = qio_flush();
  } else if (call == "qio_wait that times out") {
    REQUIRE(qio_read(fd, buffer, sizeof buffer, AstRecorder::record, &recorder) == 0);
    errno = marker;
    result = qio_wait(fd, 1);
    expected = ETIMEDOUT;
  }
  CHECK(result == expected);
  CHECK(errno == marker);
}
