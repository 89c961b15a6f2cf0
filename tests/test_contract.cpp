// SPDX-License-Identifier: MIT
// test_contract.cpp - qio's behaviour contract, point by point,
// through the C API: order, exactly once, buffering, never blocking, never
// SIGPIPE, sticky errors, re-entrancy, counting, gathering; then the memo's
// sample, a 10 MB backlog, cancellation, pruning, qio_fdset and qio_wait.
//
// Each test runs on a fixture of support.hpp (CApiEngine, CApiChannel, or
// their Tracking forms below), which starts with qio_init() and ends with
// qio_term(); a test whose requests point at its own objects declares a
// TerminateAtExit after them. Waiting is on real events (poll on the peer,
// a reader thread), bounded in time; a Watchdog ends the program if a qio
// call blocks.
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "support.hpp"

using qio_test::AstRecorder;
using qio_test::CApiChannel;
using qio_test::CApiEngine;
using qio_test::configure_channel;
using qio_test::Fd;
using qio_test::FdPair;
using qio_test::TerminateAtExit;
using qio_test::Watchdog;
using Clock = std::chrono::steady_clock;

namespace {

// ---- descriptors ---------------------------------------------------------------

// "socket" (AF_UNIX socketpair), "tcp" (loopback) or "pipe".
FdPair connected_pair(const std::string& kind) {
  if (kind == "tcp")
    return qio_test::tcp_pair();
  if (kind == "pipe")
    return qio_test::pipe_pair();
  return qio_test::socket_pair();
}

// ---- data ----------------------------------------------------------------------

// `size` bytes that differ from any shifted copy of themselves, so a lost,
// repeated or reordered byte shows.
std::string pattern(std::size_t size, unsigned seed) {
  std::string bytes(size, '\0');
  std::uint32_t state = seed * 2654435761u + 1;
  for (char& byte : bytes) {
    state = state * 1664525u + 1013904223u;
    byte = static_cast<char>(state >> 24);
  }
  return bytes;
}

// Flushes and reads the peer until nothing is pending and `expected` bytes
// arrived, the peer hits end of file, or `limit` passes. Waits only on the
// peer becoming readable.
std::string flush_until_delivered(int peer, std::size_t expected,
                                  std::chrono::milliseconds limit = std::chrono::seconds(8)) {
  std::string received;
  const auto deadline = Clock::now() + limit;
  while ((qio_pend() > 0 || received.size() < expected) && Clock::now() < deadline) {
    qio_flush();
    pollfd readable{peer, POLLIN, 0};
    ::poll(&readable, 1, 10);
    if (!qio_test::drain_available(peer, received))
      break;
  }
  return received;
}

// ---- ASTs ----------------------------------------------------------------------

// One request's AST history; pass its address as ast_arg. `sequence`
// orders AST calls across every request of a test.
struct Request {
  int calls = 0;
  int error_code = -1;
  int channel = -1;
  int operation = 0;
  char* buffer = nullptr;
  int length = -1;
  std::string data;
  int sequence = -1;
  bool during_queueing = false;
};

int ast_sequence = 0;
bool queueing_now = false; // true while a test is inside qio_write/read/seek

void reset_tracking() {
  ast_sequence = 0;
  queueing_now = false;
}

void track(int error_code, int channel, int operation, char* buffer, int length,
           void* ast_arg) {
  auto* request = static_cast<Request*>(ast_arg);
  ++request->calls;
  request->error_code = error_code;
  request->channel = channel;
  request->operation = operation;
  request->buffer = buffer;
  request->length = length;
  if (buffer != nullptr && length > 0 && operation != QIO_SEEK)
    request->data.assign(buffer, static_cast<std::size_t>(length));
  request->sequence = ast_sequence++;
  request->during_queueing = queueing_now;
}

// Queueing calls that note they are running, so an AST from inside shows.
int write_tracked(int fd, const char* bytes, int length, Request& request) {
  queueing_now = true;
  const int result = qio_write(fd, bytes, length, track, &request);
  queueing_now = false;
  return result;
}
int write_tracked(int fd, const std::string& bytes, Request& request) {
  return write_tracked(fd, bytes.data(), static_cast<int>(bytes.size()), request);
}
// Unbuffered channels keep the caller's pointer: string literals (static
// storage) and named strings only, never temporaries.
template <std::size_t Size>
int write_tracked(int fd, const char (&literal)[Size], Request& request) {
  return write_tracked(fd, literal, static_cast<int>(Size - 1), request);
}
int write_tracked(int fd, std::string&& bytes, Request& request) = delete;
int read_tracked(int fd, char* buffer, int length, Request& request) {
  queueing_now = true;
  const int result = qio_read(fd, buffer, length, track, &request);
  queueing_now = false;
  return result;
}
int seek_tracked(int fd, off_t offset, Request& request) {
  queueing_now = true;
  const int result = qio_seek(fd, offset, track, &request);
  queueing_now = false;
  return result;
}

// The fixtures for tests that track requests: tracking starts afresh.
struct TrackingEngine : CApiEngine {
  TrackingEngine() { reset_tracking(); }
};
struct TrackingChannel : CApiChannel {
  TrackingChannel() { reset_tracking(); }
};

// Checks that `requests` got their ASTs once each, in this order.
void check_once_in_order(const std::vector<Request*>& requests) {
  int previous = -1;
  for (std::size_t i = 0; i < requests.size(); ++i) {
    CAPTURE(i);
    CHECK(requests[i]->calls == 1);
    CHECK_FALSE(requests[i]->during_queueing);
    CHECK(requests[i]->sequence > previous);
    previous = requests[i]->sequence;
  }
}

// ---- signals ---------------------------------------------------------------------

bool sigpipe_pending() {
  sigset_t pending;
  sigemptyset(&pending);
  ::sigpending(&pending);
  return sigismember(&pending, SIGPIPE) == 1;
}

bool sigpipe_blocked() {
  sigset_t mask;
  ::pthread_sigmask(SIG_BLOCK, nullptr, &mask);
  return sigismember(&mask, SIGPIPE) == 1;
}

// SIGPIPE at its default disposition (which kills the process), with the
// thread's mask as the test wants it; both restored afterwards.
class DefaultSigpipe {
public:
  explicit DefaultSigpipe(bool blocked) {
    struct sigaction action {};
    action.sa_handler = SIG_DFL;
    sigemptyset(&action.sa_mask);
    ::sigaction(SIGPIPE, &action, &previous_action_);
    sigset_t sigpipe_only;
    sigemptyset(&sigpipe_only);
    sigaddset(&sigpipe_only, SIGPIPE);
    ::pthread_sigmask(blocked ? SIG_BLOCK : SIG_UNBLOCK, &sigpipe_only, &previous_mask_);
  }
  ~DefaultSigpipe() {
    // Whatever the test left pending must not fire when the mask returns.
    sigset_t sigpipe_only;
    sigemptyset(&sigpipe_only);
    sigaddset(&sigpipe_only, SIGPIPE);
    const timespec no_wait{0, 0};
    if (sigpipe_pending())
      ::sigtimedwait(&sigpipe_only, nullptr, &no_wait);
    ::pthread_sigmask(SIG_SETMASK, &previous_mask_, nullptr);
    ::sigaction(SIGPIPE, &previous_action_, nullptr);
  }
  DefaultSigpipe(const DefaultSigpipe&) = delete;
  DefaultSigpipe& operator=(const DefaultSigpipe&) = delete;

private:
  struct sigaction previous_action_ {};
  sigset_t previous_mask_{};
};

bool is_broken_connection(int error_code) {
  return error_code == EPIPE || error_code == ECONNRESET;
}

} // namespace

// ==== 1. Order =======================================================================

TEST_CASE_METHOD(CApiEngine, "writes reach the descriptor byte for byte in the order queued and "
                 "their ASTs fire in request order",
                 "[qio][contract][order]") {
  const Watchdog watchdog(30);
  const std::string kind = GENERATE(as<std::string>{}, "socket", "tcp", "pipe");
  const int buffered = GENERATE(0, 1);
  CAPTURE(kind, buffered);
  FdPair& pair = open_channel(connected_pair(kind), {.buffered = buffered});
  const int fd = pair.local.get();

  // Sizes around block boundaries, zero-length writes, and writes larger
  // than a socket buffer, so some complete only after several flushes.
  const std::vector<std::size_t> sizes = {1,    0,     17,   4095, 4096,   4097, 0,
                                          65535, 65536, 65537, 300000, 3,   1,    0,
                                          9000, 1024,  700000, 5};
  std::vector<std::string> messages;
  std::string expected;
  for (int round = 0; round < 3; ++round)
    for (std::size_t size : sizes) {
      messages.push_back(pattern(size, static_cast<unsigned>(messages.size())));
      expected += messages.back();
    }
  const TerminateAtExit terminate_at_exit; // unbuffered writes point into `messages`
  for (const std::string& message : messages)
    REQUIRE(qio_write(fd, message.data(), static_cast<int>(message.size()),
                      AstRecorder::record, &recorder) == 0);
  CHECK(recorder.calls.empty());

  const std::string received = flush_until_delivered(pair.remote.get(), expected.size());
  CHECK(qio_pend() == 0);
  CHECK(received.size() == expected.size());
  CHECK(received == expected);
  REQUIRE(recorder.calls.size() == messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) {
    CAPTURE(i);
    CHECK(recorder.calls[i].error_code == 0);
    CHECK(recorder.calls[i].channel == fd);
    CHECK(recorder.calls[i].operation == QIO_WRITE);
    CHECK(recorder.calls[i].length == static_cast<int>(messages[i].size()));
    CHECK(recorder.calls[i].data == messages[i]);
  }
}

TEST_CASE_METHOD(TrackingEngine, "a pending socket read does not hold back writes queued after it",
                 "[qio][contract][order]") {
  const std::string kind = GENERATE(as<std::string>{}, "socket", "tcp");
  CAPTURE(kind);
  FdPair& pair = open_channel(connected_pair(kind));
  const int fd = pair.local.get();
  Request read_request, first_write, second_write;
  const TerminateAtExit terminate_at_exit;
  char buffer[64] = {};
  REQUIRE(read_tracked(fd, buffer, sizeof buffer, read_request) == 0);
  REQUIRE(write_tracked(fd, "ping", first_write) == 0);
  REQUIRE(write_tracked(fd, "PING", second_write) == 0);

  // The read stays pending, so this waits for the bytes, not for qio_pend.
  std::string received;
  for (int attempt = 0; attempt < 1000 && received.size() < 8; ++attempt) {
    qio_flush();
    pollfd readable{pair.remote.get(), POLLIN, 0};
    ::poll(&readable, 1, 10);
    qio_test::drain_available(pair.remote.get(), received);
  }
  CHECK(received == "pingPING");
  CHECK(first_write.calls == 1);
  CHECK(second_write.calls == 1);
  CHECK(first_write.sequence < second_write.sequence);
  CHECK(read_request.calls == 0);
  CHECK(qio_pendc(fd) == 1);

  // The read completes once the peer answers, with what arrived.
  REQUIRE(::write(pair.remote.get(), "pong", 4) == 4);
  for (int attempt = 0; attempt < 1000 && read_request.calls == 0; ++attempt) {
    pollfd readable{fd, POLLIN, 0};
    ::poll(&readable, 1, 10);
    qio_flush();
  }
  REQUIRE(read_request.calls == 1);
  CHECK(read_request.error_code == 0);
  CHECK(read_request.operation == QIO_READ);
  CHECK(read_request.buffer == buffer);
  CHECK(read_request.length == 4);
  CHECK(std::string(buffer, 4) == "pong");
  CHECK(qio_pend() == 0);
}

TEST_CASE_METHOD(TrackingChannel, "a queued read completes with the bytes available, then with "
                 "length 0 at end of file",
                 "[qio][contract][order]") {
  Request first, second;
  const TerminateAtExit terminate_at_exit;
  REQUIRE(::write(pair.remote.get(), "abc", 3) == 3);
  pair.remote.reset();
  char first_buffer[16], second_buffer[16];
  REQUIRE(read_tracked(fd, first_buffer, sizeof first_buffer, first) == 0);
  REQUIRE(read_tracked(fd, second_buffer, sizeof second_buffer, second) == 0);
  CHECK(first.calls == 0);
  for (int i = 0; i < 10 && qio_pend() > 0; ++i)
    qio_flush();
  check_once_in_order({&first, &second});
  CHECK(first.error_code == 0);
  CHECK(first.data == "abc");
  CHECK(second.error_code == 0);
  CHECK(second.length == 0);
  CHECK(second.buffer == second_buffer);
}

TEST_CASE_METHOD(TrackingEngine, "on a regular file writes, seeks and reads run strictly in queue "
                 "order",
                 "[qio][contract][order]") {
  const int buffered = GENERATE(0, 1);
  CAPTURE(buffered);
  const int fd = open_file_channel({.buffered = buffered});
  std::vector<Request> requests(10);
  const TerminateAtExit terminate_at_exit;

  // If a later write overtook an earlier read, the read would see it.
  const std::string hello = "hello world", there = "there", bang = "!";
  char first_read[8] = {}, second_read[16] = {};
  REQUIRE(write_tracked(fd, hello, requests[0]) == 0);
  REQUIRE(seek_tracked(fd, 6, requests[1]) == 0);
  REQUIRE(read_tracked(fd, first_read, 5, requests[2]) == 0);     // "world"
  REQUIRE(seek_tracked(fd, 6, requests[3]) == 0);
  REQUIRE(write_tracked(fd, there, requests[4]) == 0);            // "hello there"
  REQUIRE(seek_tracked(fd, 0, requests[5]) == 0);
  REQUIRE(read_tracked(fd, second_read, 11, requests[6]) == 0);   // "hello there"
  REQUIRE(write_tracked(fd, bang, requests[7]) == 0);             // at offset 11
  REQUIRE(seek_tracked(fd, 20, requests[8]) == 0);
  REQUIRE(write_tracked(fd, "end", requests[9]) == 0); // at offset 20
  CHECK(qio_pendc(fd) == 10);

  for (int i = 0; i < 100 && qio_pend() > 0; ++i)
    qio_flush();
  CHECK(qio_pend() == 0);
  std::vector<Request*> in_order;
  for (Request& request : requests) {
    CHECK(request.error_code == 0);
    in_order.push_back(&request);
  }
  check_once_in_order(in_order);
  CHECK(std::string(first_read, 5) == "world");
  CHECK(requests[2].length == 5);
  CHECK(std::string(second_read, 11) == "hello there");
  CHECK(requests[6].length == 11);

  char content[32] = {};
  const ssize_t size = ::pread(fd, content, sizeof content, 0);
  CHECK(std::string(content, static_cast<std::size_t>(std::max<ssize_t>(size, 0))) ==
        std::string("hello there!\0\0\0\0\0\0\0\0end", 23));
}

TEST_CASE_METHOD(CApiEngine, "on a message-oriented socket every write is sent as a message of "
                 "its own",
                 "[qio][contract][order]") {
  const int type = GENERATE(SOCK_SEQPACKET, SOCK_DGRAM);
  CAPTURE(type);
  FdPair& pair = open_channel(qio_test::socket_pair(type));
  const int fd = pair.local.get();
  char record[65536];

  SECTION("record boundaries are kept") {
    for (const char* message : {"abc", "de", "fghi"})
      REQUIRE(qio_write(fd, message, static_cast<int>(std::strlen(message)),
                        AstRecorder::record, &recorder) == 0);
    qio_flush();
    std::vector<std::string> received;
    ssize_t n;
    while ((n = ::recv(pair.remote.get(), record, sizeof record, MSG_DONTWAIT)) > 0)
      received.emplace_back(record, static_cast<std::size_t>(n));
    CHECK(received == std::vector<std::string>{"abc", "de", "fghi"});
  }
  SECTION("writes that each fit in a message never fail together for being too long") {
    // 64 messages of 4 KiB: together more than one message may hold.
    const std::string message = pattern(4096, 8);
    for (int i = 0; i < 64; ++i)
      REQUIRE(qio_write(fd, message.data(), static_cast<int>(message.size()),
                        AstRecorder::record, &recorder) == 0);
    int delivered = 0;
    for (int round = 0; round < 100 && qio_pend() > 0; ++round) {
      qio_flush();
      while (::recv(pair.remote.get(), record, sizeof record, MSG_DONTWAIT) > 0)
        ++delivered;
    }
    CHECK(recorder.calls.size() == 64u);
    int failures = 0;
    for (const auto& call : recorder.calls)
      failures += call.error_code != 0 ? 1 : 0;
    CHECK(failures == 0);
    CHECK(delivered == 64);
  }
}

// ==== 2. Exactly once ===============================================================

TEST_CASE_METHOD(TrackingEngine, "every accepted request gets exactly one AST, never from inside "
                 "the call that queued it",
                 "[qio][contract][once]") {
  FdPair& pair = open_channel(qio_test::socket_pair());
  const int socket_fd = pair.local.get();
  const int file_fd = open_file_channel();
  std::vector<Request> requests(8);
  const TerminateAtExit terminate_at_exit;
  // Everything could complete at once: the peer has already sent data, and
  // a regular file is always ready.
  REQUIRE(::write(pair.remote.get(), "incoming", 8) == 8);
  char socket_buffer[8], file_buffer[8];
  REQUIRE(write_tracked(socket_fd, "one", requests[0]) == 0);
  REQUIRE(read_tracked(socket_fd, socket_buffer, sizeof socket_buffer, requests[1]) == 0);
  REQUIRE(write_tracked(socket_fd, nullptr, 0, requests[2]) == 0);
  REQUIRE(write_tracked(socket_fd, "two", requests[3]) == 0);
  REQUIRE(write_tracked(file_fd, "file", requests[4]) == 0);
  REQUIRE(seek_tracked(file_fd, 0, requests[5]) == 0);
  REQUIRE(read_tracked(file_fd, file_buffer, sizeof file_buffer, requests[6]) == 0);
  REQUIRE(write_tracked(file_fd, "more", requests[7]) == 0);
  for (const Request& request : requests)
    CHECK(request.calls == 0);
  CHECK(qio_pend() == 8);

  int expected_error = 0;
  SECTION("completed by qio_flush") {
    for (int i = 0; i < 100 && qio_pend() > 0; ++i)
      qio_flush();
  }
  SECTION("completed by qio_flushc and qio_wait") {
    CHECK(qio_flushc(socket_fd) == 0);
    CHECK(qio_wait(file_fd, 1000) == 0);
    CHECK(qio_wait(socket_fd, 1000) == 0);
  }
  SECTION("cancelled by qio_termc") {
    CHECK(qio_termc(socket_fd) == 0);
    CHECK(qio_termc(file_fd) == 0);
    expected_error = ECANCELED;
  }
  SECTION("cancelled by qio_term") {
    CHECK(qio_term() == 0);
    expected_error = ECANCELED;
  }
  SECTION("cancelled by qio_init") {
    CHECK(qio_init() == 0);
    expected_error = ECANCELED;
  }
  SECTION("cancelled by qio_prune") {
    CHECK(qio_prune(socket_fd) == 0);
    CHECK(qio_prune(file_fd) == 0);
    expected_error = ECANCELED;
  }
  // Nothing more may come, whatever is called afterwards.
  qio_flush();
  qio_term();
  qio_flush();
  CHECK(qio_pend() == 0);
  for (std::size_t i = 0; i < requests.size(); ++i) {
    CAPTURE(i);
    CHECK(requests[i].calls == 1);
    CHECK(requests[i].error_code == expected_error);
    CHECK_FALSE(requests[i].during_queueing);
  }
  // Per channel, in request order (writes and reads on the socket are
  // independent; on the file everything is in order).
  check_once_in_order({&requests[0], &requests[2], &requests[3]});
  check_once_in_order({&requests[4], &requests[5], &requests[6], &requests[7]});
  if (expected_error == 0) {
    CHECK(requests[1].data == "incoming");
    CHECK(requests[6].data == "file");
  }
}

TEST_CASE_METHOD(TrackingChannel, "a write that fails completes exactly once with its error",
                 "[qio][contract][once]") {
  const DefaultSigpipe sigpipe(false);
  Request failed;
  const TerminateAtExit terminate_at_exit;
  pair.remote.reset();
  REQUIRE(write_tracked(fd, "lost", failed) == 0);
  CHECK(failed.calls == 0);
  qio_flush();
  qio_flush();
  qio_term();
  CHECK(failed.calls == 1);
  CHECK(is_broken_connection(failed.error_code));
}

// ==== 3. Buffered and unbuffered channels ==========================================

TEST_CASE_METHOD(TrackingChannel, "a buffered channel copies at qio_write, so the caller may "
                 "reuse its buffer at once",
                 "[qio][contract][buffers]") {
  Request first, second, empty;
  const TerminateAtExit terminate_at_exit;
  char scratch[32];
  std::strcpy(scratch, "original bytes");
  REQUIRE(write_tracked(fd, scratch, 14, first) == 0);
  std::memset(scratch, 'X', sizeof scratch); // the caller reuses its buffer at once
  std::strcpy(scratch, "second message");
  REQUIRE(write_tracked(fd, scratch, 14, second) == 0);
  std::memset(scratch, 'Y', sizeof scratch);
  REQUIRE(write_tracked(fd, scratch, 0, empty) == 0);

  const std::string received = flush_until_delivered(pair.remote.get(), 28);
  CHECK(received == "original bytessecond message");
  check_once_in_order({&first, &second, &empty});
  CHECK(first.data == "original bytes"); // the copy, valid during the AST
  CHECK(first.buffer != scratch);
  CHECK(second.data == "second message");
  CHECK(second.buffer != scratch);
  CHECK(empty.length == 0);
  CHECK(empty.buffer == nullptr); // a zero-length buffered write has no copy
}

TEST_CASE_METHOD(TrackingEngine, "an unbuffered channel keeps the caller's buffer until the AST "
                 "and hands back the same pointer",
                 "[qio][contract][buffers]") {
  FdPair& pair = open_channel(qio_test::socket_pair(), {.buffered = 0});
  const int fd = pair.local.get();
  Request first, empty, cancelled;
  const TerminateAtExit terminate_at_exit;
  char caller_bytes[] = "queued text";
  char empty_bytes[] = "";
  REQUIRE(write_tracked(fd, caller_bytes, 11, first) == 0);
  REQUIRE(write_tracked(fd, empty_bytes, 0, empty) == 0);
  // No copy was made: what the buffer holds when the flush runs is sent.
  std::memcpy(caller_bytes, "QUEUED", 6);

  SECTION("on completion") {
    const std::string received = flush_until_delivered(pair.remote.get(), 11);
    CHECK(received == "QUEUED text");
    check_once_in_order({&first, &empty});
    CHECK(first.error_code == 0);
    CHECK(first.buffer == caller_bytes);
    CHECK(first.length == 11);
    CHECK(empty.buffer == empty_bytes);
    CHECK(empty.length == 0);
  }
  SECTION("on cancellation") {
    char later_bytes[] = "never sent";
    REQUIRE(write_tracked(fd, later_bytes, 10, cancelled) == 0);
    CHECK(qio_termc(fd) == 0);
    CHECK(first.buffer == caller_bytes);
    CHECK(empty.buffer == empty_bytes);
    CHECK(cancelled.buffer == later_bytes);
    CHECK(cancelled.error_code == ECANCELED);
    check_once_in_order({&first, &empty, &cancelled});
  }
}

// ==== 4. Never block ===============================================================

TEST_CASE_METHOD(CApiEngine, "qio_write, qio_flush and qio_flushc never block on a blocking "
                 "socket or pipe whose peer does not read",
                 "[qio][contract][never-block]") {
  const Watchdog watchdog(20);
  const std::string kind = GENERATE(as<std::string>{}, "socket", "tcp", "pipe");
  CAPTURE(kind);
  FdPair& pair = open_channel(connected_pair(kind), {.nonblocking = 0});
  const int fd = pair.local.get();
  REQUIRE((::fcntl(fd, F_GETFL) & O_NONBLOCK) == 0); // really left blocking

  std::string expected;
  auto slowest = Clock::duration::zero();
  auto timed = [&slowest](auto call) {
    const auto started = Clock::now();
    const int result = call();
    slowest = std::max(slowest, Clock::now() - started);
    return result;
  };
  // Far more than any socket or pipe buffer (loopback TCP buffers grow to
  // several megabytes), in pieces of every size up to two pipe buffers.
  std::mt19937 sizes(7);
  while (expected.size() < (12u << 20)) {
    const std::string piece =
        pattern(std::uniform_int_distribution<std::size_t>(1, 140000)(sizes),
                static_cast<unsigned>(expected.size()));
    expected += piece;
    CHECK(timed([&] {
            return qio_write(fd, piece.data(), static_cast<int>(piece.size()),
                             AstRecorder::record, &recorder);
          }) == 0);
    CHECK(timed([] { return qio_flush(); }) == 0);
    CHECK(timed([fd] { return qio_flushc(fd); }) == 0);
  }
  CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count() < 1000);
  CHECK(qio_pendc(fd) > 0); // the peer's buffers are full
  CHECK((::fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);

  const std::string received = flush_until_delivered(pair.remote.get(), expected.size());
  CHECK(qio_pend() == 0);
  CHECK(received.size() == expected.size());
  CHECK(received == expected);
  for (const auto& call : recorder.calls)
    CHECK(call.error_code == 0);
}

TEST_CASE_METHOD(TrackingEngine, "a read queued on a blocking descriptor with nothing to read "
                 "does not block the flush",
                 "[qio][contract][never-block]") {
  const Watchdog watchdog(10);
  const std::string kind = GENERATE(as<std::string>{}, "socket", "pipe");
  CAPTURE(kind);
  FdPair& pair = keep(connected_pair(kind));
  // A pipe reads from its read end (remote), a socket from its own end.
  const int fd = kind == "pipe" ? pair.remote.get() : pair.local.get();
  Request read_request;
  const TerminateAtExit terminate_at_exit;
  configure_channel(fd, {.nonblocking = 0});
  REQUIRE((::fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);
  char buffer[16];
  REQUIRE(read_tracked(fd, buffer, sizeof buffer, read_request) == 0);
  CHECK(qio_flush() == 0);
  CHECK(qio_flushc(fd) == 0);
  CHECK(qio_wait(fd, 10) == ETIMEDOUT);
  CHECK(read_request.calls == 0);

  const int writer = kind == "pipe" ? pair.local.get() : pair.remote.get();
  REQUIRE(::write(writer, "data", 4) == 4);
  CHECK(qio_wait(fd, 5000) == 0);
  CHECK(read_request.calls == 1);
  CHECK(read_request.data == "data");
}

// ==== 5. Never SIGPIPE ===============================================================

TEST_CASE_METHOD(TrackingEngine, "a write to a closed peer completes with EPIPE and never raises "
                 "SIGPIPE",
                 "[qio][contract][sigpipe]") {
  const Watchdog watchdog(10);
  const std::string kind = GENERATE(as<std::string>{}, "socket", "tcp", "pipe");
  const int nonblocking = GENERATE(0, 1);
  // The program's mask: SIGPIPE deliverable, blocked, or blocked with one
  // of its own already pending (which qio must leave there).
  const std::string mask = GENERATE(as<std::string>{}, "unblocked", "blocked",
                                    "blocked with one pending");
  CAPTURE(kind, nonblocking, mask);
  const DefaultSigpipe sigpipe(mask != "unblocked");
  if (mask == "blocked with one pending")
    REQUIRE(::pthread_kill(::pthread_self(), SIGPIPE) == 0);
  REQUIRE(sigpipe_pending() == (mask == "blocked with one pending"));

  FdPair& pair = open_channel(connected_pair(kind), {.nonblocking = nonblocking});
  const int fd = pair.local.get();
  std::vector<Request> requests(50);
  const TerminateAtExit terminate_at_exit;
  pair.remote.reset();

  // TCP may accept a first write after the peer closed (the peer answers it
  // with a reset), so writes go on until one fails.
  std::size_t failed = requests.size();
  for (std::size_t i = 0; i < requests.size() && failed == requests.size(); ++i) {
    REQUIRE(write_tracked(fd, "to nobody", requests[i]) == 0);
    qio_flush();
    CHECK(requests[i].calls == 1);
    if (requests[i].error_code != 0)
      failed = i;
    else {
      pollfd reset{fd, POLLIN, 0};
      ::poll(&reset, 1, 100);
    }
  }
  REQUIRE(failed < requests.size());
  CAPTURE(failed, requests[failed].error_code);
  CHECK(is_broken_connection(requests[failed].error_code));
  CHECK(requests[failed].operation == QIO_WRITE);
  CHECK(requests[failed].channel == fd);
  if (kind != "tcp")
    CHECK(failed == 0u);
  // Still running, and the signal state is as the program left it.
  CHECK(sigpipe_pending() == (mask == "blocked with one pending"));
  CHECK(sigpipe_blocked() == (mask != "unblocked"));
}

// ==== 6. Sticky write errors =======================================================

TEST_CASE_METHOD(TrackingEngine, "after a hard write error every later write completes with that "
                 "error and qio_write returns it until qio_configure or qio_termc",
                 "[qio][contract][sticky]") {
  const DefaultSigpipe sigpipe(false);
  const std::string kind = GENERATE(as<std::string>{}, "socket", "pipe");
  CAPTURE(kind);
  FdPair& pair = open_channel(connected_pair(kind));
  const int fd = pair.local.get();
  Request first, second, third, after_clearing;
  const TerminateAtExit terminate_at_exit;
  pair.remote.reset();
  REQUIRE(write_tracked(fd, "first", first) == 0);
  REQUIRE(write_tracked(fd, "second", second) == 0);
  REQUIRE(write_tracked(fd, "third", third) == 0);
  qio_flush();

  check_once_in_order({&first, &second, &third});
  const int error = first.error_code;
  CAPTURE(error);
  CHECK(is_broken_connection(error));
  CHECK(second.error_code == error);
  CHECK(third.error_code == error);
  CHECK(qio_pendc(fd) == 0);

  // Sticky: refused with the same error, and nothing is queued.
  CHECK(qio_write(fd, "refused", 7, track, &after_clearing) == error);
  CHECK(qio_write(fd, nullptr, 0, nullptr, nullptr) == error);
  CHECK(qio_pendc(fd) == 0);
  qio_flush();
  CHECK(after_clearing.calls == 0);
  CHECK(qio_wait(fd, 100) == error); // docs/design.md: qio_wait reports it too

  SECTION("qio_configure clears it") {
    REQUIRE(qio_configure(fd, 1, 1, -1) == 0);
  }
  SECTION("qio_termc clears it") {
    REQUIRE(qio_termc(fd) == 0);
    CHECK(qio_write(fd, "x", 1, nullptr, nullptr) == EBADF);
    REQUIRE(qio_configure(fd, 1, 1, -1) == 0);
  }
  CHECK(write_tracked(fd, "accepted", after_clearing) == 0);
  CHECK(qio_pendc(fd) == 1);
  qio_flush(); // the peer is still gone: it fails afresh, once
  CHECK(after_clearing.calls == 1);
  CHECK(is_broken_connection(after_clearing.error_code));
}

TEST_CASE_METHOD(TrackingChannel, "a write cut short by a hard error reports the part that was "
                 "written",
                 "[qio][contract][sticky]") {
  const DefaultSigpipe sigpipe(false);
  Request big, later;
  const TerminateAtExit terminate_at_exit;
  const std::string message = pattern(4 << 20, 1);
  REQUIRE(write_tracked(fd, message, big) == 0);
  REQUIRE(write_tracked(fd, "later", later) == 0);
  qio_flush(); // part of the big write goes out; the socket is then full
  REQUIRE(big.calls == 0);
  std::string received;
  qio_test::drain_available(pair.remote.get(), received);
  REQUIRE(received.size() > 0);
  REQUIRE(received.size() < message.size());
  pair.remote.reset();
  qio_flush();

  check_once_in_order({&big, &later});
  CHECK(is_broken_connection(big.error_code));
  CHECK(big.length == static_cast<int>(received.size()));
  CHECK(later.error_code == big.error_code);
  CHECK(later.length == 0);
  CHECK(received == message.substr(0, received.size()));
}

// ==== 7. Re-entrancy ================================================================

namespace {

// An AST that queues the next message of a chain on its own channel.
struct Chain {
  int fd = -1;
  int remaining = 0;
  int completions = 0;
  int refusals = 0;
  std::string sent;

  static void next(int error_code, int, int, char*, int, void* ast_arg) {
    auto* self = static_cast<Chain*>(ast_arg);
    ++self->completions;
    if (error_code != 0 || self->remaining == 0)
      return;
    --self->remaining;
    char message[32];
    const int length = std::snprintf(message, sizeof message, "link %d;", self->remaining);
    if (qio_write(self->fd, message, length, next, self) == 0)
      self->sent.append(message, static_cast<std::size_t>(length));
    else
      ++self->refusals;
  }
};

// An AST that terminates a channel (its own or another) and records the result;
// optionally configures it again and queues a write on it.
struct Terminator {
  int target = -1;
  int result = -1;
  bool reconfigure = false;
  int reconfigure_result = -1;
  int write_result = -1;
  Request* rewritten = nullptr;

  static void fire(int, int, int, char*, int, void* ast_arg) {
    auto* self = static_cast<Terminator*>(ast_arg);
    self->result = qio_termc(self->target);
    if (self->reconfigure) {
      self->reconfigure_result = qio_configure(self->target, 1, 1, -1);
      self->write_result = qio_write(self->target, "reborn", 6, track, self->rewritten);
    }
  }
};

} // namespace

TEST_CASE_METHOD(CApiChannel, "an AST may queue more writes on its own channel during a flush",
                 "[qio][contract][reentrancy]") {
  // Buffered (the fixture's setting): each AST's message lives in its own
  // stack frame.
  Chain chain;
  const TerminateAtExit terminate_at_exit;
  chain.fd = fd;
  chain.remaining = 500;
  chain.sent = "start;";
  REQUIRE(qio_write(fd, "start;", 6, Chain::next, &chain) == 0);

  std::string expected = "start;";
  for (int link = 499; link >= 0; --link)
    expected += "link " + std::to_string(link) + ";";

  SECTION("driven by qio_flush") {
    const std::string received = flush_until_delivered(pair.remote.get(), expected.size());
    CHECK(received == expected);
  }
  SECTION("driven by qio_wait") {
    // Each link is its own send, so the peer must read while qio_wait runs.
    const Watchdog watchdog(10);
    std::string received;
    std::thread reader(
        [&] { received = qio_test::read_exactly(pair.remote.get(), expected.size()); });
    CHECK(qio_wait(fd, 5000) == 0);
    reader.join();
    CHECK(received == expected);
  }
  CHECK(chain.sent == expected);
  CHECK(chain.remaining == 0);
  CHECK(chain.refusals == 0);
  CHECK(chain.completions == 501);
  CHECK(qio_pend() == 0);
}

TEST_CASE_METHOD(TrackingEngine, "an AST that terminates another channel cancels that channel's "
                 "requests exactly once",
                 "[qio][contract][reentrancy]") {
  FdPair& first = open_channel(qio_test::socket_pair());
  FdPair& other = open_channel(qio_test::socket_pair());
  const int fd = first.local.get();
  const int other_fd = other.local.get();
  Terminator terminator;
  Request big, small, read_request, trailing, after;
  const TerminateAtExit terminate_at_exit;
  terminator.target = other_fd;
  const std::string message = pattern(4 << 20, 2);
  char buffer[16];

  auto queue_other = [&] {
    REQUIRE(write_tracked(other_fd, message, big) == 0);
    REQUIRE(write_tracked(other_fd, "small", small) == 0);
    REQUIRE(read_tracked(other_fd, buffer, sizeof buffer, read_request) == 0);
    REQUIRE(write_tracked(other_fd, "trailing", trailing) == 0);
  };
  bool other_started = false;
  SECTION("the other channel is flushed later in the same pass") {
    REQUIRE(qio_write(fd, "go", 2, Terminator::fire, &terminator) == 0);
    REQUIRE(write_tracked(fd, "after", after) == 0);
    queue_other();
    qio_flush();
  }
  SECTION("the other channel was flushed earlier and is partly written") {
    queue_other();
    REQUIRE(qio_flushc(other_fd) == 0);
    other_started = true;
    REQUIRE(qio_write(fd, "go", 2, Terminator::fire, &terminator) == 0);
    REQUIRE(write_tracked(fd, "after", after) == 0);
    qio_flush();
  }
  SECTION("only the terminating channel is flushed") {
    queue_other();
    REQUIRE(qio_flushc(other_fd) == 0);
    other_started = true;
    REQUIRE(qio_write(fd, "go", 2, Terminator::fire, &terminator) == 0);
    REQUIRE(write_tracked(fd, "after", after) == 0);
    CHECK(qio_flushc(fd) == 0);
  }
  CHECK(terminator.result == 0);
  // The other channel's requests: cancelled once each, in queue order.
  check_once_in_order({&big, &small, &read_request, &trailing});
  for (Request* request : {&big, &small, &read_request, &trailing})
    CHECK(request->error_code == ECANCELED);
  std::string received;
  qio_test::drain_available(other.remote.get(), received);
  CHECK(big.length == static_cast<int>(received.size()));
  CHECK((received.size() > 0) == other_started);
  CHECK(received == message.substr(0, received.size()));
  CHECK(small.length == 0);
  CHECK(read_request.length == 0);
  CHECK(qio_pendc(other_fd) == 0);
  CHECK(qio_write(other_fd, "x", 1, nullptr, nullptr) == EBADF);
  // The terminating channel carries on.
  for (int i = 0; i < 10 && qio_pend() > 0; ++i)
    qio_flush();
  CHECK(after.calls == 1);
  CHECK(after.error_code == 0);
  CHECK(qio_test::read_exactly(first.remote.get(), 7) == "goafter");
  qio_term();
  check_once_in_order({&big, &small, &read_request, &trailing});
}

TEST_CASE_METHOD(TrackingChannel, "an AST that terminates its own channel cancels the rest of its "
                 "queue exactly once",
                 "[qio][contract][reentrancy]") {
  Terminator terminator;
  Request second, read_request, third, reborn;
  const TerminateAtExit terminate_at_exit;
  terminator.target = fd;
  terminator.rewritten = &reborn;
  SECTION("and stops there") {}
  SECTION("and configures it again and queues a write") { terminator.reconfigure = true; }
  char buffer[8];
  REQUIRE(qio_write(fd, "first;", 6, Terminator::fire, &terminator) == 0);
  REQUIRE(write_tracked(fd, "second;", second) == 0);
  REQUIRE(read_tracked(fd, buffer, sizeof buffer, read_request) == 0);
  REQUIRE(write_tracked(fd, "third;", third) == 0);
  qio_flush();

  CHECK(terminator.result == 0);
  check_once_in_order({&second, &read_request, &third});
  for (Request* request : {&second, &read_request, &third})
    CHECK(request->error_code == ECANCELED);
  // Writes already on their way report how much went: the stream the peer
  // sees is exactly what the ASTs account for.
  std::string received;
  qio_test::drain_available(pair.remote.get(), received);
  const std::string accounted = std::string("first;") +
                                std::string("second;").substr(0, second.length) +
                                std::string("third;").substr(0, third.length);
  CHECK(received == accounted);

  if (terminator.reconfigure) {
    CHECK(terminator.reconfigure_result == 0);
    CHECK(terminator.write_result == 0);
    CHECK(reborn.calls == 0);
    CHECK(qio_wait(fd, 5000) == 0);
    CHECK(reborn.calls == 1);
    CHECK(reborn.error_code == 0);
    received.clear();
    qio_test::drain_available(pair.remote.get(), received);
    CHECK(received == "reborn");
  } else {
    CHECK(qio_pendc(fd) == 0);
    CHECK(qio_write(fd, "x", 1, nullptr, nullptr) == EBADF);
  }
  qio_term();
  check_once_in_order({&second, &read_request, &third});
}

namespace {

// An AST that calls a function taking no channel (qio_term, qio_init) or
// one on its own channel (qio_prune), and records the result.
struct Canceller {
  int (*action)(int channel) = nullptr;
  int result = -1;

  static void fire(int, int channel, int, char*, int, void* ast_arg) {
    auto* self = static_cast<Canceller*>(ast_arg);
    self->result = self->action(channel);
  }
};

} // namespace

TEST_CASE_METHOD(TrackingEngine, "an AST may call qio_term or qio_init during a flush, cancelling "
                 "every channel once",
                 "[qio][contract][reentrancy]") {
  FdPair& first = open_channel(qio_test::socket_pair());
  FdPair& second = open_channel(qio_test::socket_pair());
  FdPair& third = open_channel(qio_test::socket_pair());
  Canceller canceller;
  std::vector<Request> requests(6);
  const TerminateAtExit terminate_at_exit;
  SECTION("qio_term") { canceller.action = [](int) { return qio_term(); }; }
  SECTION("qio_init") { canceller.action = [](int) { return qio_init(); }; }
  REQUIRE(write_tracked(first.local.get(), "1a", requests[0]) == 0);
  REQUIRE(write_tracked(second.local.get(), "2a", requests[1]) == 0);
  REQUIRE(qio_write(second.local.get(), "2b", 2, Canceller::fire, &canceller) == 0);
  REQUIRE(write_tracked(second.local.get(), "2c", requests[2]) == 0);
  REQUIRE(write_tracked(third.local.get(), "3a", requests[3]) == 0);
  char buffer[8];
  REQUIRE(read_tracked(third.local.get(), buffer, sizeof buffer, requests[4]) == 0);
  REQUIRE(read_tracked(first.local.get(), buffer, sizeof buffer, requests[5]) == 0);

  qio_flush();
  CHECK(canceller.result == 0);
  CHECK(qio_pend() == 0);
  // Completed before the AST ran, or cancelled by it: once either way.
  for (std::size_t i = 0; i < requests.size(); ++i) {
    CAPTURE(i);
    CHECK(requests[i].calls == 1);
  }
  CHECK(requests[1].error_code == 0);
  CHECK(requests[4].error_code == ECANCELED); // nothing to read
  CHECK(requests[5].error_code == ECANCELED);
  CHECK(requests[3].error_code == ECANCELED); // the third channel's turn never came
  for (const FdPair* pair : {&first, &second, &third})
    CHECK(qio_write(pair->local.get(), "x", 1, nullptr, nullptr) == EBADF);
  qio_flush();
  qio_term();
  for (const Request& request : requests)
    CHECK(request.calls == 1);
}

namespace {

// An AST that configures a channel and queues a write on it.
struct Configurer {
  int target = -1;
  int configure_result = -1;
  int write_result = -1;

  static void fire(int, int, int, char*, int, void* ast_arg) {
    auto* self = static_cast<Configurer*>(ast_arg);
    self->configure_result = qio_configure(self->target, 1, 1, -1);
    self->write_result = qio_write(self->target, "new", 3, nullptr, nullptr);
  }
};

} // namespace

TEST_CASE_METHOD(CApiEngine, "a channel that an AST configures during qio_term stays configured",
                 "[qio][contract][reentrancy]") {
  FdPair& low = open_channel(qio_test::socket_pair());
  FdPair& high = open_channel(qio_test::socket_pair());
  Configurer configurer;
  const TerminateAtExit terminate_at_exit;
  // The AST runs while the higher descriptor is cancelled and configures
  // the lower one, which qio_term has already passed.
  REQUIRE(high.local.get() > low.local.get());
  configurer.target = low.local.get();
  REQUIRE(qio_write(high.local.get(), "old", 3, Configurer::fire, &configurer) == 0);
  CHECK(qio_term() == 0);
  CHECK(configurer.configure_result == 0);
  CHECK(configurer.write_result == 0);
  CHECK(qio_pendc(low.local.get()) == 1);
  CHECK(qio_pendc(high.local.get()) == 0);
  CHECK(qio_wait(low.local.get(), 5000) == 0);
  CHECK(qio_test::read_exactly(low.remote.get(), 3) == "new");
}

TEST_CASE_METHOD(TrackingChannel, "an AST may prune its own channel during a flush",
                 "[qio][contract][reentrancy]") {
  const Watchdog watchdog(20);
  Canceller pruner;
  pruner.action = qio_prune;
  Request small, big, cancelled;
  const TerminateAtExit terminate_at_exit;
  const std::string message = pattern(4 << 20, 9);
  REQUIRE(qio_write(fd, "prune;", 6, Canceller::fire, &pruner) == 0);
  REQUIRE(write_tracked(fd, "small;", small) == 0);
  REQUIRE(write_tracked(fd, message, big) == 0);
  REQUIRE(write_tracked(fd, "cancelled;", cancelled) == 0);

  // The first flush sends the small writes and part of the big one, then
  // the first AST prunes: what has begun to go out stays.
  std::string received;
  qio_flush();
  CHECK(pruner.result == 0);
  CHECK(cancelled.calls == 1);
  CHECK(cancelled.error_code == ECANCELED);
  received = flush_until_delivered(pair.remote.get(), 12 + message.size());
  check_once_in_order({&small, &big});
  CHECK(small.error_code == 0);
  CHECK(big.error_code == 0);
  CHECK(received.size() == 12 + message.size());
  CHECK(received == "prune;small;" + message);
}

namespace {

// An AST that flushes from inside a flush, and records what it got.
struct NestedFlusher {
  int own = -1;
  int flush_result = -1;
  int flushc_result = -1;
  int write_result = -1;

  static void fire(int, int, int, char*, int, void* ast_arg) {
    auto* self = static_cast<NestedFlusher*>(ast_arg);
    self->write_result = qio_write(self->own, "nested;", 7, nullptr, nullptr);
    self->flush_result = qio_flush();
    self->flushc_result = qio_flushc(self->own);
  }
};

} // namespace

TEST_CASE_METHOD(TrackingEngine, "an AST may call qio_flush and qio_flushc during a flush",
                 "[qio][contract][reentrancy]") {
  FdPair& first = open_channel(qio_test::socket_pair());
  FdPair& second = open_channel(qio_test::socket_pair());
  NestedFlusher flusher;
  std::vector<Request> requests(4);
  const TerminateAtExit terminate_at_exit;
  flusher.own = first.local.get();
  REQUIRE(write_tracked(first.local.get(), "a1;", requests[0]) == 0);
  REQUIRE(qio_write(first.local.get(), "a2;", 3, NestedFlusher::fire, &flusher) == 0);
  REQUIRE(write_tracked(first.local.get(), "a3;", requests[1]) == 0);
  REQUIRE(write_tracked(second.local.get(), "b1;", requests[2]) == 0);
  REQUIRE(write_tracked(second.local.get(), "b2;", requests[3]) == 0);

  SECTION("outer qio_flush") { qio_flush(); }
  SECTION("outer qio_flushc") { CHECK(qio_flushc(first.local.get()) == 0); }
  for (int i = 0; i < 10 && qio_pend() > 0; ++i)
    qio_flush();

  CHECK(flusher.write_result == 0);
  CHECK(flusher.flush_result == 0);
  CHECK(flusher.flushc_result == 0);
  check_once_in_order({&requests[0], &requests[1]});
  check_once_in_order({&requests[2], &requests[3]});
  CHECK(qio_pend() == 0);
  CHECK(qio_test::read_exactly(first.remote.get(), 16) == "a1;a2;a3;nested;");
  CHECK(qio_test::read_exactly(second.remote.get(), 6) == "b1;b2;");
}

// ==== 8. Counting =====================================================================

TEST_CASE_METHOD(CApiEngine, "qio_pend counts the requests not yet completed on every channel",
                 "[qio][contract][pend]") {
  FdPair& writer = open_channel(qio_test::socket_pair());
  FdPair& reader = open_channel(qio_test::socket_pair());
  const int file = open_file_channel();
  CHECK(qio_pend() == 0);

  REQUIRE(qio_write(writer.local.get(), "a", 1, nullptr, nullptr) == 0);
  REQUIRE(qio_write(writer.local.get(), "b", 1, nullptr, nullptr) == 0);
  char buffers[3][8];
  for (auto& buffer : buffers)
    REQUIRE(qio_read(reader.local.get(), buffer, sizeof buffer, nullptr, nullptr) == 0);
  REQUIRE(qio_seek(file, 3, nullptr, nullptr) == 0);
  REQUIRE(qio_write(file, "c", 1, nullptr, nullptr) == 0);
  CHECK(qio_pend() == 7);
  CHECK(qio_pendc(writer.local.get()) == 2);
  CHECK(qio_pendc(reader.local.get()) == 3);
  CHECK(qio_pendc(file) == 2);

  qio_flush(); // everything but the reads, which have nothing to read
  CHECK(qio_pend() == 3);
  CHECK(qio_pendc(writer.local.get()) == 0);
  CHECK(qio_pendc(file) == 0);

  REQUIRE(::write(reader.remote.get(), "x", 1) == 1);
  qio_flush(); // one read takes the byte
  CHECK(qio_pend() == 2);
  CHECK(qio_termc(reader.local.get()) == 0);
  CHECK(qio_pend() == 0);
}

// ==== 9. Gathering ====================================================================

TEST_CASE_METHOD(CApiEngine, "one qio_flush delivers many small queued writes",
                 "[qio][contract][gathering]") {
  const int buffered = GENERATE(0, 1);
  CAPTURE(buffered);
  FdPair& pair = open_channel(qio_test::socket_pair(), {.buffered = buffered});
  const int fd = pair.local.get();
  // 2000 messages (more than IOV_MAX) of 13 to 40 bytes: about 50 KB, which
  // a socketpair takes at once.
  std::vector<std::string> messages;
  std::string expected;
  for (int i = 0; i < 2000; ++i) {
    messages.push_back("message " + std::to_string(i) + std::string(static_cast<std::size_t>(i % 28), '.') + ";");
    expected += messages.back();
  }
  const TerminateAtExit terminate_at_exit; // unbuffered writes point into `messages`
  for (const std::string& message : messages)
    REQUIRE(qio_write(fd, message.data(), static_cast<int>(message.size()),
                      AstRecorder::record, &recorder) == 0);
  CHECK(qio_pend() == 2000);

  CHECK(qio_flush() == 0);
  CHECK(qio_pend() == 0);
  CHECK(recorder.calls.size() == messages.size());
  CHECK(qio_test::read_exactly(pair.remote.get(), expected.size()) == expected);
}

// ==== The memo's sample =============================================================

TEST_CASE_METHOD(CApiEngine, "the memo's sample: 100 queued messages all arrive intact and in "
                 "order",
                 "[qio][contract][memo]") {
  const Watchdog watchdog(10);
  const std::string kind = GENERATE(as<std::string>{}, "socket", "tcp");
  CAPTURE(kind);
  FdPair& pair = keep(connected_pair(kind));
  const int connection = pair.local.get();

  // As in the memo: configure, queue 100 messages, flush until none pend.
  REQUIRE(qio_configure(connection, 1, 1, -1) == 0);
  std::string expected;
  char buffer[64];
  for (int i = 0; i < 100; i++) {
    std::snprintf(buffer, sizeof buffer, "%d queued writes never block the data server.\n", i);
    REQUIRE(qio_write(connection, buffer, static_cast<int>(std::strlen(buffer)), nullptr,
                      nullptr) == 0);
    expected += buffer;
    std::memset(buffer, '#', sizeof buffer); // the buffer is reused at once
  }
  CHECK(qio_pend() == 100);
  while (qio_pend() > 0)
    qio_flush();

  const std::string received = qio_test::read_exactly(pair.remote.get(), expected.size());
  CHECK(received == expected);
  std::string extra;
  qio_test::drain_available(pair.remote.get(), extra);
  CHECK(extra.empty());
}

// ==== A backlog of 10 MB ============================================================

TEST_CASE_METHOD(CApiEngine, "10 MB queued to a peer that does not read never blocks, and all of "
                 "it arrives once the peer reads",
                 "[qio][contract][backlog]") {
  const Watchdog watchdog(30);
  const std::string kind = GENERATE(as<std::string>{}, "socket", "pipe");
  const int buffered = GENERATE(0, 1);
  CAPTURE(kind, buffered);
  FdPair& pair = open_channel(connected_pair(kind), {.buffered = buffered});
  const int fd = pair.local.get();

  // One source the unbuffered writes point into; pieces of random size.
  const std::string source = pattern(10 << 20, 3);
  const TerminateAtExit terminate_at_exit; // unbuffered writes point into `source`
  std::mt19937 sizes(11);
  std::size_t queued = 0;
  int requests = 0;
  auto slowest = Clock::duration::zero();
  while (queued < source.size()) {
    const std::size_t size = std::min(source.size() - queued,
                                      std::uniform_int_distribution<std::size_t>(1, 50000)(sizes));
    const auto started = Clock::now();
    REQUIRE(qio_write(fd, source.data() + queued, static_cast<int>(size), AstRecorder::record,
                      &recorder) == 0);
    qio_flush();
    slowest = std::max(slowest, Clock::now() - started);
    queued += size;
    ++requests;
  }
  CHECK(std::chrono::duration_cast<std::chrono::milliseconds>(slowest).count() < 1000);
  CHECK(qio_pend() > 0);
  CHECK(recorder.calls.size() < static_cast<std::size_t>(requests));

  const std::string received = flush_until_delivered(pair.remote.get(), source.size());
  CHECK(qio_pend() == 0);
  CHECK(received.size() == source.size());
  CHECK(received == source);
  REQUIRE(recorder.calls.size() == static_cast<std::size_t>(requests));
  std::size_t position = 0;
  bool all_intact = true;
  for (const auto& call : recorder.calls) {
    all_intact = all_intact && call.error_code == 0 &&
                 call.data == source.substr(position, static_cast<std::size_t>(call.length));
    if (buffered == 0)
      all_intact = all_intact && call.buffer == source.data() + position;
    position += static_cast<std::size_t>(call.length);
  }
  CHECK(all_intact);
  CHECK(position == source.size());
}

// ==== Cancellation ====================================================================

TEST_CASE_METHOD(TrackingEngine, "qio_term and qio_termc cancel pending requests with ECANCELED, "
                 "a partly written one reporting the bytes written",
                 "[qio][contract][cancel]") {
  const int buffered = GENERATE(0, 1);
  CAPTURE(buffered);
  FdPair& pair = open_channel(qio_test::socket_pair(), {.buffered = buffered});
  const int fd = pair.local.get();
  Request first_read, big, small, second_read;
  const std::string message = pattern(4 << 20, 4);
  const TerminateAtExit terminate_at_exit;
  char first_buffer[16], second_buffer[16];
  REQUIRE(read_tracked(fd, first_buffer, sizeof first_buffer, first_read) == 0);
  REQUIRE(write_tracked(fd, message, big) == 0);
  REQUIRE(write_tracked(fd, "small", small) == 0);
  REQUIRE(read_tracked(fd, second_buffer, sizeof second_buffer, second_read) == 0);
  qio_flush(); // the big write goes out in part
  REQUIRE(big.calls == 0);

  SECTION("qio_termc") { CHECK(qio_termc(fd) == 0); }
  SECTION("qio_term") { CHECK(qio_term() == 0); }
  SECTION("qio_init") { CHECK(qio_init() == 0); }

  CHECK(qio_pend() == 0);
  check_once_in_order({&first_read, &big, &small, &second_read}); // queue order
  for (Request* request : {&first_read, &big, &small, &second_read})
    CHECK(request->error_code == ECANCELED);
  std::string received;
  qio_test::drain_available(pair.remote.get(), received);
  CHECK(received.size() > 0);
  CHECK(received.size() < message.size());
  CHECK(big.length == static_cast<int>(received.size()));
  CHECK(received == message.substr(0, received.size()));
  CHECK(small.length == 0);
  CHECK(first_read.length == 0);
  CHECK(first_read.buffer == first_buffer);
  CHECK(second_read.buffer == second_buffer);
  if (buffered == 0)
    CHECK(big.buffer == message.data());
  else
    CHECK(big.buffer != message.data());
  CHECK(qio_write(fd, "x", 1, nullptr, nullptr) == EBADF);
}

TEST_CASE_METHOD(TrackingEngine, "qio_prune keeps a partly written write and cancels the rest, so "
                 "the peer sees the kept write whole followed by later writes",
                 "[qio][contract][prune]") {
  const Watchdog watchdog(20);
  const int buffered = GENERATE(0, 1);
  CAPTURE(buffered);
  FdPair& pair = open_channel(qio_test::socket_pair(), {.buffered = buffered});
  const int fd = pair.local.get();
  Request big, small, read_request, trailing, later;
  const std::string message = pattern(4 << 20, 5);
  const TerminateAtExit terminate_at_exit;
  char buffer[16];
  REQUIRE(write_tracked(fd, message, big) == 0);
  REQUIRE(write_tracked(fd, "small", small) == 0);
  REQUIRE(read_tracked(fd, buffer, sizeof buffer, read_request) == 0);
  REQUIRE(write_tracked(fd, "trailing", trailing) == 0);
  qio_flush(); // the big write goes out in part
  REQUIRE(big.calls == 0);

  CHECK(qio_prune(fd) == 0);
  CHECK(qio_pendc(fd) == 1);
  CHECK(big.calls == 0);
  check_once_in_order({&small, &read_request, &trailing});
  for (Request* request : {&small, &read_request, &trailing}) {
    CHECK(request->error_code == ECANCELED);
    CHECK(request->length == 0);
  }
  CHECK(small.data.empty());

  const std::string later_text = "later";
  REQUIRE(write_tracked(fd, later_text, later) == 0);
  const std::string received =
      flush_until_delivered(pair.remote.get(), message.size() + later_text.size());
  CHECK(received.size() == message.size() + later_text.size());
  CHECK(received == message + later_text);
  check_once_in_order({&big, &later});
  CHECK(big.error_code == 0);
  CHECK(big.length == static_cast<int>(message.size()));
  CHECK(later.error_code == 0);
}

TEST_CASE_METHOD(TrackingChannel, "qio_prune with nothing partly written cancels every queued "
                 "request",
                 "[qio][contract][prune]") {
  Request first, second, later;
  const TerminateAtExit terminate_at_exit;
  REQUIRE(write_tracked(fd, "first", first) == 0);
  REQUIRE(write_tracked(fd, "second", second) == 0);
  CHECK(qio_prune(fd) == 0);
  CHECK(qio_pendc(fd) == 0);
  check_once_in_order({&first, &second});
  CHECK(first.error_code == ECANCELED);
  CHECK(second.error_code == ECANCELED);
  CHECK(first.length == 0);      // nothing of it was written
  CHECK(first.buffer != nullptr); // qio's copy, valid during the AST
  REQUIRE(write_tracked(fd, "later", later) == 0);
  const std::string received = flush_until_delivered(pair.remote.get(), 5);
  CHECK(received == "later");
  CHECK(later.calls == 1);
}

// ==== qio_fdset ======================================================================

TEST_CASE_METHOD(CApiEngine, "qio_fdset adds the channels with pending output and returns the "
                 "highest + 1",
                 "[qio][contract][fdset]") {
  FdPair& idle = open_channel(qio_test::socket_pair());
  FdPair& first = open_channel(qio_test::socket_pair());
  FdPair& reading = open_channel(qio_test::socket_pair());
  FdPair& second = open_channel(qio_test::socket_pair());
  REQUIRE(qio_write(first.local.get(), "a", 1, nullptr, nullptr) == 0);
  REQUIRE(qio_write(second.local.get(), "b", 1, nullptr, nullptr) == 0);
  char buffer[8];
  REQUIRE(qio_read(reading.local.get(), buffer, sizeof buffer, nullptr, nullptr) == 0);

  fd_set mask;
  FD_ZERO(&mask);
  FD_SET(idle.remote.get(), &mask); // bits already set stay set
  const int highest = std::max(first.local.get(), second.local.get());
  CHECK(qio_fdset(&mask) == highest + 1);
  CHECK(FD_ISSET(first.local.get(), &mask));
  CHECK(FD_ISSET(second.local.get(), &mask));
  CHECK_FALSE(FD_ISSET(idle.local.get(), &mask));
  CHECK_FALSE(FD_ISSET(reading.local.get(), &mask)); // a read is not output
  CHECK(FD_ISSET(idle.remote.get(), &mask));

  qio_flush();
  FD_ZERO(&mask);
  CHECK(qio_fdset(&mask) == 0);
  CHECK_FALSE(FD_ISSET(first.local.get(), &mask));
  CHECK_FALSE(FD_ISSET(second.local.get(), &mask));
}

TEST_CASE_METHOD(CApiEngine, "qio_fdset skips a descriptor at or above FD_SETSIZE",
                 "[qio][contract][fdset]") {
  constexpr int high = 1500;
  static_assert(high >= FD_SETSIZE, "the test needs a descriptor fd_set cannot hold");
  rlimit limit{};
  REQUIRE(::getrlimit(RLIMIT_NOFILE, &limit) == 0);
  if (limit.rlim_cur <= static_cast<rlim_t>(high)) {
    if (limit.rlim_max != RLIM_INFINITY && limit.rlim_max <= static_cast<rlim_t>(high)) {
      WARN("RLIMIT_NOFILE's hard limit is " << limit.rlim_max
                                            << ": cannot open descriptor " << high
                                            << ", test not run");
      return;
    }
    limit.rlim_cur = high + 1;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &limit) == 0);
  }
  FdPair& low = keep(qio_test::socket_pair());
  FdPair& pair = keep(qio_test::socket_pair());
  REQUIRE(::dup2(pair.local.get(), high) == high);
  keep(Fd(high));
  configure_channel(high);
  REQUIRE(qio_write(high, "high", 4, nullptr, nullptr) == 0);

  // Room after the fd_set, to see a bit set out of bounds.
  struct Guarded {
    fd_set mask;
    unsigned char after[512];
  } guarded;
  std::memset(&guarded, 0, sizeof guarded);
  CHECK(qio_fdset(&guarded.mask) == 0);
  REQUIRE(qio_configure(low.local.get(), 1, 1, -1) == 0);
  REQUIRE(qio_write(low.local.get(), "low", 3, nullptr, nullptr) == 0);
  CHECK(qio_fdset(&guarded.mask) == low.local.get() + 1);
  CHECK(FD_ISSET(low.local.get(), &guarded.mask));
  const unsigned char zeros[512] = {};
  CHECK(std::memcmp(guarded.after, zeros, sizeof zeros) == 0);

  // Flushed by other means: qio_flush reaches it.
  qio_flush();
  CHECK(qio_pend() == 0);
  CHECK(qio_test::read_exactly(pair.remote.get(), 4) == "high");
  CHECK(qio_test::read_exactly(low.remote.get(), 3) == "low");
}

// ==== qio_wait =======================================================================

TEST_CASE_METHOD(TrackingChannel, "qio_wait returns 0 once a reader drains the channel",
                 "[qio][contract][wait]") {
  const Watchdog watchdog(20);
  Request big;
  const TerminateAtExit terminate_at_exit;
  const std::string message = pattern(6 << 20, 6);
  REQUIRE(write_tracked(fd, message, big) == 0);
  const int timeout_ms = GENERATE(-1, 15000);
  CAPTURE(timeout_ms);

  std::string received;
  std::thread reader([&] { received = qio_test::read_exactly(pair.remote.get(), message.size()); });
  const int result = qio_wait(fd, timeout_ms);
  reader.join();
  CHECK(result == 0);
  CHECK(qio_pendc(fd) == 0);
  CHECK(big.calls == 1);
  CHECK(big.error_code == 0);
  CHECK(big.length == static_cast<int>(message.size()));
  CHECK(received == message);
}

TEST_CASE_METHOD(CApiChannel, "qio_wait with nothing pending returns 0 at once",
                 "[qio][contract][wait]") {
  const int file = open_file_channel();
  CHECK(qio_wait(fd, 0) == 0);
  CHECK(qio_wait(fd, -1) == 0);
  REQUIRE(qio_write(file, "f", 1, nullptr, nullptr) == 0);
  CHECK(qio_wait(file, -1) == 0);
  REQUIRE(qio_write(fd, nullptr, 0, nullptr, nullptr) == 0);
  CHECK(qio_wait(fd, -1) == 0);
}

namespace {

// An AST that waits on its own channel and on another one.
struct Waiter {
  int own = -1;
  int other = -1;
  int own_result = -1;
  int other_result = -1;

  static void fire(int, int, int, char*, int, void* ast_arg) {
    auto* self = static_cast<Waiter*>(ast_arg);
    self->own_result = qio_wait(self->own, 1000);
    self->other_result = qio_wait(self->other, 1000);
  }
};

} // namespace

TEST_CASE_METHOD(CApiEngine, "qio_wait from inside an AST of the same channel returns EDEADLK",
                 "[qio][contract][wait]") {
  const Watchdog watchdog(10);
  FdPair& first = open_channel(qio_test::socket_pair());
  FdPair& second = open_channel(qio_test::socket_pair());
  Waiter waiter;
  const TerminateAtExit terminate_at_exit;
  waiter.own = first.local.get();
  waiter.other = second.local.get();
  REQUIRE(qio_write(first.local.get(), "own", 3, Waiter::fire, &waiter) == 0);
  REQUIRE(qio_write(first.local.get(), "more", 4, nullptr, nullptr) == 0);
  REQUIRE(qio_write(second.local.get(), "other", 5, nullptr, nullptr) == 0);

  SECTION("called from qio_flush") { qio_flush(); }
  SECTION("called from qio_flushc") { CHECK(qio_flushc(first.local.get()) == 0); }
  SECTION("called from qio_wait") { CHECK(qio_wait(first.local.get(), 1000) == 0); }
  CHECK(waiter.own_result == EDEADLK);
  CHECK(waiter.other_result == 0); // another channel can be waited for
  for (int i = 0; i < 10 && qio_pend() > 0; ++i)
    qio_flush();
  CHECK(qio_pend() == 0);
  CHECK(qio_test::read_exactly(first.remote.get(), 7) == "ownmore");
  CHECK(qio_test::read_exactly(second.remote.get(), 5) == "other");
}
