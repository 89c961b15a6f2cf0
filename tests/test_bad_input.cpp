// SPDX-License-Identifier: MIT
// test_bad_input.cpp - bad input at every API, beyond what
// test_c_api_errors.cpp, test_contract.cpp and test_engine.cpp already
// cover: a descriptor closed behind qio's back, reconfiguration with
// requests pending, qio_termc from inside an AST in every kind of dispatch,
// qio_init with requests pending, null buffers and huge lengths and offsets
// through both APIs, and every C++ call on a descriptor that is not a
// channel. Each case checks the documented error, that every accepted
// request completes exactly once, and (in the sanitizer and valgrind runs)
// that nothing leaks.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <functional>
#include <initializer_list>
#include <limits>
#include <span>
#include <string>
#include <system_error>

#include "qio/engine.hpp"
#include "support.hpp"

using qio_test::configure_channel;
using qio_test::Fd;
using qio_test::FdPair;
using qio_test::TerminateAtExit;

namespace {

// Completions counted across the whole test, so order shows.
int completions_so_far = 0;

// One request's completions as its AST saw them. `action`, if set, runs
// inside the first AST call with the channel, and its result is kept.
struct Request {
  int calls = 0;
  int error_code = -1;
  int length = -1;
  char* buffer = nullptr;
  int position = -1;
  std::function<int(int channel)> action;
  int action_result = -1;
};

void record(int error_code, int channel, int, char* buffer, int length, void* ast_arg) {
  auto* request = static_cast<Request*>(ast_arg);
  ++request->calls;
  request->error_code = error_code;
  request->length = length;
  request->buffer = buffer;
  request->position = completions_so_far++;
  if (request->action && request->calls == 1)
    request->action_result = request->action(channel);
}

// The same recorder behind the C++ API.
qio::Callback callback_for(Request& request) {
  return {[](const qio::Completion& completion, void* argument) {
            record(completion.error.value(), completion.channel,
                   static_cast<int>(completion.operation), completion.buffer,
                   static_cast<int>(completion.length), argument);
          },
          &request};
}

// Each request completed exactly once, in the order listed.
void check_once_in_order(std::initializer_list<const Request*> requests) {
  int previous = -1;
  for (const Request* request : requests) {
    CHECK(request->calls == 1);
    CHECK(request->position > previous);
    previous = request->position;
  }
}

std::error_code errc(int value) { return {value, std::generic_category()}; }

// The C API's fixtures (support.hpp), with completions counted afresh.
struct FreshQueues : qio_test::CApiEngine {
  FreshQueues() { completions_so_far = 0; }
};
struct FreshChannel : qio_test::CApiChannel {
  FreshChannel() { completions_so_far = 0; }
};

// A descriptor the test will close itself, behind qio's back, so it is a
// plain number and not an Fd; its peer end (if any) is an Fd.
struct Endpoint {
  int fd = -1;
  Fd peer;
};

Endpoint open_endpoint(const std::string& kind) {
  Endpoint end;
  int fds[2];
  if (kind == "socket") {
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
    end.fd = fds[0];
    end.peer = Fd(fds[1]);
  } else if (kind == "non-blocking pipe" || kind == "blocking pipe") {
    REQUIRE(::pipe(fds) == 0);
    end.fd = fds[1];
    end.peer = Fd(fds[0]);
  } else {
    char name[] = "/tmp/qio-bad-input-XXXXXX";
    end.fd = ::mkstemp(name);
    REQUIRE(end.fd >= 0);
    ::unlink(name);
  }
  return end;
}

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

// Closes `fd` behind qio's back; the test opens nothing afterwards, so the
// number stays free and every later call on it really meets a closed one.
void close_behind_back(int fd) {
  REQUIRE(::close(fd) == 0);
  REQUIRE_FALSE(is_open(fd));
}

void set_small_send_buffer(int fd) {
  const int size = 4096;
  REQUIRE(::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) == 0);
}

constexpr char some_bytes[] = "some bytes";
constexpr int some_length = sizeof some_bytes - 1;

} // namespace

// ==== A descriptor closed behind qio's back ==========================================

TEST_CASE_METHOD(FreshQueues, "a descriptor closed behind qio's back fails each queued request "
                 "exactly once with EBADF, in request order",
                 "[qio][bad_input][closed]") {
  const std::string kind = GENERATE(as<std::string>{}, "socket", "non-blocking pipe",
                                    "blocking pipe", "regular file");
  const std::string driver = GENERATE(as<std::string>{}, "qio_flush", "qio_flushc", "qio_wait");
  const int buffered = GENERATE(0, 1);
  CAPTURE(kind, driver, buffered);
  Endpoint end = open_endpoint(kind);
  const int fd = end.fd;
  Request first, second, read_request, third, seek_request, empty;
  const TerminateAtExit terminate_at_exit;
  REQUIRE(qio_configure(fd, kind != "blocking pipe", buffered, -1) == 0);

  // Reads and seeks only where the descriptor could do them if open.
  const bool can_read = kind == "socket" || kind == "regular file";
  char buffer[16];
  REQUIRE(qio_write(fd, "first;", 6, record, &first) == 0);
  REQUIRE(qio_write(fd, "silent;", 7, nullptr, nullptr) == 0);
  if (can_read)
    REQUIRE(qio_read(fd, buffer, sizeof buffer, record, &read_request) == 0);
  REQUIRE(qio_write(fd, "second;", 7, record, &second) == 0);
  REQUIRE(qio_write(fd, "third;", 6, record, &third) == 0);
  REQUIRE(qio_write(fd, "", 0, record, &empty) == 0);
  if (can_read)
    REQUIRE(qio_seek(fd, 0, record, &seek_request) == 0);
  close_behind_back(fd);

  if (driver == "qio_flush")
    CHECK(qio_flush() == 0);
  else if (driver == "qio_flushc")
    CHECK(qio_flushc(fd) == 0);
  else
    CHECK(qio_wait(fd, 5000) == EBADF); // nothing pending, the sticky error

  CHECK(qio_pend() == 0);
  // Order as documented: writes in write order, and reads and seeks in
  // theirs; on a regular file, everything in queue order.
  check_once_in_order({&first, &second, &third, &empty});
  if (can_read) {
    check_once_in_order({&read_request, &seek_request});
    if (kind == "regular file")
      check_once_in_order({&first, &read_request, &second, &third, &empty, &seek_request});
    CHECK(read_request.error_code == EBADF);
    CHECK(read_request.buffer == buffer);
    CHECK(seek_request.error_code == EBADF);
  }
  for (const Request* write : {&first, &second, &third, &empty}) {
    CHECK(write->error_code == EBADF);
    CHECK(write->length == 0);
  }
  // The channel stays configured, with EBADF as its sticky error, until
  // qio_termc removes it.
  CHECK(qio_write(fd, "x", 1, record, &first) == EBADF);
  CHECK(qio_flush() == 0);
  CHECK(first.calls == 1);
  CHECK(qio_termc(fd) == 0);
  CHECK(qio_termc(fd) == EBADF);
  CHECK(qio_write(fd, "x", 1, nullptr, nullptr) == EBADF);
  CHECK_FALSE(is_open(fd)); // the number was not reused meanwhile
}

// A zero-length write has no unsent byte, so "is anything of it unsent?"
// cannot tell that it was queued behind the failed write: this case pins
// that it fails with the others (docs/reference/qio_write.md).
TEST_CASE_METHOD(FreshQueues, "on a regular file, a zero-length write held behind a seek after a "
                 "failed write completes with the write error",
                 "[qio][bad_input][closed][sticky]") {
  Endpoint end = open_endpoint("regular file");
  const int fd = end.fd;
  Request failed, seek_request, empty, nonempty;
  const TerminateAtExit terminate_at_exit;
  REQUIRE(qio_configure(fd, 1, 1, -1) == 0);
  REQUIRE(qio_write(fd, "data", 4, record, &failed) == 0);
  REQUIRE(qio_seek(fd, 0, record, &seek_request) == 0);
  REQUIRE(qio_write(fd, nullptr, 0, record, &empty) == 0);
  REQUIRE(qio_write(fd, "more", 4, record, &nonempty) == 0);
  close_behind_back(fd);

  CHECK(qio_flush() == 0);
  check_once_in_order({&failed, &seek_request, &empty, &nonempty});
  CHECK(failed.error_code == EBADF);
  CHECK(seek_request.error_code == EBADF);
  CHECK(nonempty.error_code == EBADF);
  CHECK(empty.error_code == EBADF);
  CHECK(qio_termc(fd) == 0);
  CHECK_FALSE(is_open(fd));
}

TEST_CASE_METHOD(FreshQueues, "a write partly sent when its descriptor is closed behind qio's "
                 "back reports the bytes that went, with EBADF, once",
                 "[qio][bad_input][closed]") {
  const qio_test::Watchdog watchdog(60);
  Endpoint end = open_endpoint("socket");
  const int fd = end.fd;
  Request big, small;
  const TerminateAtExit terminate_at_exit;
  set_small_send_buffer(fd);
  REQUIRE(qio_configure(fd, 1, 1, -1) == 0);
  const std::string message(4 << 20, 'b');
  REQUIRE(qio_write(fd, message.data(), static_cast<int>(message.size()), record, &big) == 0);
  REQUIRE(qio_write(fd, "small", 5, record, &small) == 0);
  REQUIRE(qio_flush() == 0); // part of the big write goes out
  REQUIRE(big.calls == 0);
  close_behind_back(fd);

  CHECK(qio_flush() == 0);
  check_once_in_order({&big, &small});
  CHECK(big.error_code == EBADF);
  CHECK(small.error_code == EBADF);
  CHECK(small.length == 0);
  std::string received;
  CHECK_FALSE(qio_test::drain_available(end.peer.get(), received)); // then end of file
  CHECK(received.size() > 0);
  CHECK(big.length == static_cast<int>(received.size()));
  CHECK(received == message.substr(0, received.size()));
  CHECK(qio_termc(fd) == 0);
  CHECK_FALSE(is_open(fd));
}

TEST_CASE_METHOD(FreshQueues, "qio_termc on a descriptor closed behind qio's back cancels its "
                 "requests once with ECANCELED",
                 "[qio][bad_input][closed]") {
  Endpoint end = open_endpoint("socket");
  const int fd = end.fd;
  Request write_request, read_request;
  const TerminateAtExit terminate_at_exit;
  REQUIRE(qio_configure(fd, 1, 0, -1) == 0);
  char buffer[8];
  REQUIRE(qio_write(fd, some_bytes, some_length, record, &write_request) == 0);
  REQUIRE(qio_read(fd, buffer, sizeof buffer, record, &read_request) == 0);
  close_behind_back(fd);

  CHECK(qio_termc(fd) == 0);
  check_once_in_order({&write_request, &read_request});
  CHECK(write_request.error_code == ECANCELED);
  CHECK(write_request.length == 0);
  CHECK(write_request.buffer == some_bytes); // unbuffered: the caller's own pointer
  CHECK(read_request.error_code == ECANCELED);
  CHECK(qio_pend() == 0);
  CHECK_FALSE(is_open(fd));
}

TEST_CASE_METHOD(FreshQueues, "reconfiguring a channel whose descriptor was closed behind qio's "
                 "back is EBADF and keeps its queue and settings",
                 "[qio][bad_input][closed][configure]") {
  Endpoint end = open_endpoint("socket");
  const int fd = end.fd;
  Request first, second, third;
  const TerminateAtExit terminate_at_exit;
  REQUIRE(qio_configure(fd, 1, 1, 3) == 0);
  REQUIRE(qio_write(fd, "1", 1, record, &first) == 0);
  REQUIRE(qio_write(fd, "2", 1, record, &second) == 0);
  close_behind_back(fd);

  CHECK(qio_configure(fd, 1, 0, -1) == EBADF);
  CHECK(qio_pendc(fd) == 2);
  CHECK(first.calls + second.calls == 0);
  // The limit of 3 still holds.
  CHECK(qio_write(fd, "3", 1, record, &third) == 0);
  CHECK(qio_write(fd, "4", 1, nullptr, nullptr) == EAGAIN);
  CHECK(qio_flush() == 0);
  check_once_in_order({&first, &second, &third});
  for (const Request* request : {&first, &second, &third})
    CHECK(request->error_code == EBADF);
  CHECK(qio_termc(fd) == 0);
  CHECK_FALSE(is_open(fd));
}

TEST_CASE("through qio::Engine, a descriptor closed behind its back fails each request once "
          "with EBADF",
          "[engine][bad_input][closed]") {
  completions_so_far = 0;
  Request first, read_request, second, seek_request;
  qio::Engine engine;
  Endpoint end = open_endpoint("socket");
  const int fd = end.fd;
  const bool buffered = GENERATE(true, false);
  const bool use_wait = GENERATE(false, true);
  CAPTURE(buffered, use_wait);
  qio::ChannelOptions options;
  options.buffered = buffered;
  REQUIRE_FALSE(engine.configure(fd, options));
  char buffer[8];
  REQUIRE_FALSE(engine.write(fd, std::span<const char>(some_bytes, 4), callback_for(first)));
  REQUIRE_FALSE(engine.read(fd, buffer, callback_for(read_request)));
  REQUIRE_FALSE(engine.write(fd, std::span<const char>(some_bytes, 6), callback_for(second)));
  REQUIRE_FALSE(engine.seek(fd, 0, callback_for(seek_request)));
  close_behind_back(fd);

  if (use_wait)
    CHECK(engine.wait(fd, 5000) == errc(EBADF));
  else
    engine.flush();
  CHECK(engine.pending() == 0);
  check_once_in_order({&first, &second}); // a socket: each direction in order
  check_once_in_order({&read_request, &seek_request});
  for (const Request* request : {&first, &read_request, &second, &seek_request})
    CHECK(request->error_code == EBADF);
  CHECK(engine.write(fd, std::span<const char>(some_bytes, 1)) == errc(EBADF));
  CHECK_FALSE(engine.terminate(fd));
  CHECK_FALSE(engine.is_channel(fd));
  CHECK_FALSE(is_open(fd));
}

// ==== Reconfiguration with requests pending ==============================================

TEST_CASE_METHOD(FreshQueues, "switching between buffered and unbuffered with writes pending "
                 "changes only later writes",
                 "[qio][bad_input][configure]") {
  const int first_mode = GENERATE(0, 1);
  CAPTURE(first_mode);
  FdPair& pair = open_channel(qio_test::socket_pair(), {.buffered = first_mode});
  const int fd = pair.local.get();
  Request before, after;
  char before_bytes[] = "before;";
  char after_bytes[] = "after;";
  const TerminateAtExit terminate_at_exit;
  REQUIRE(qio_write(fd, before_bytes, 7, record, &before) == 0);
  REQUIRE(qio_configure(fd, 1, !first_mode, -1) == 0);
  REQUIRE(qio_write(fd, after_bytes, 6, record, &after) == 0);
  CHECK(qio_pendc(fd) == 2);
  // A buffered write's source may be reused at once; an unbuffered one's
  // must stay as it is until its AST.
  std::memset(first_mode ? before_bytes : after_bytes, 'X', 6);

  CHECK(qio_wait(fd, 5000) == 0);
  check_once_in_order({&before, &after});
  CHECK(before.error_code == 0);
  CHECK(after.error_code == 0);
  CHECK((before.buffer == before_bytes) == (first_mode == 0));
  CHECK((after.buffer == after_bytes) == (first_mode == 1));
  CHECK(qio_test::read_exactly(pair.remote.get(), 13) == "before;after;");
}

TEST_CASE_METHOD(FreshQueues, "a refused reconfiguration with requests pending changes nothing "
                 "and cancels nothing",
                 "[qio][bad_input][configure]") {
  const int bad_limit = GENERATE(0, -2, INT_MIN);
  CAPTURE(bad_limit);
  FdPair& pair = open_channel(qio_test::socket_pair(), {.max_outstanding = 2});
  const int fd = pair.local.get();
  Request first, second, later;
  const TerminateAtExit terminate_at_exit;
  REQUIRE(qio_write(fd, "one;", 4, record, &first) == 0);
  REQUIRE(qio_write(fd, "two;", 4, record, &second) == 0);

  CHECK(qio_configure(fd, 1, 0, bad_limit) == EINVAL);
  CHECK(qio_pendc(fd) == 2);
  CHECK(qio_write(fd, "three;", 6, nullptr, nullptr) == EAGAIN); // the limit of 2 holds
  CHECK(qio_wait(fd, 5000) == 0);
  check_once_in_order({&first, &second});
  CHECK(first.error_code == 0);
  // The refused call asked for unbuffered: a write queued now is still
  // copied, so its AST gets qio's copy and not the caller's array.
  static char later_bytes[] = "later;";
  REQUIRE(qio_write(fd, later_bytes, 6, record, &later) == 0);
  CHECK(qio_wait(fd, 5000) == 0);
  CHECK(later.calls == 1);
  CHECK(later.buffer != nullptr);
  CHECK(later.buffer != later_bytes);
  CHECK(qio_test::read_exactly(pair.remote.get(), 14) == "one;two;later;");
}

TEST_CASE("through qio::Engine, a refused reconfiguration with requests pending leaves the "
          "options and the queue as they were",
          "[engine][bad_input][configure]") {
  completions_so_far = 0;
  Request first;
  qio::Engine engine;
  FdPair pair = qio_test::socket_pair();
  const int fd = pair.local.get();
  qio::ChannelOptions options;
  options.max_outstanding = 5;
  options.max_queued_bytes = 1000;
  REQUIRE_FALSE(engine.configure(fd, options));
  REQUIRE_FALSE(engine.write(fd, std::span<const char>(some_bytes, 4), callback_for(first)));

  qio::ChannelOptions bad = options;
  SECTION("max_outstanding 0") { bad.max_outstanding = 0; }
  SECTION("max_queued_bytes 0") { bad.max_queued_bytes = 0; }
  bad.buffered = false;
  CHECK(engine.configure(fd, bad) == errc(EINVAL));
  qio::ChannelOptions now;
  REQUIRE_FALSE(engine.options(fd, now));
  CHECK(now.max_outstanding == 5);
  CHECK(now.max_queued_bytes == 1000);
  CHECK(now.buffered);
  CHECK(engine.pending(fd) == 1);
  CHECK_FALSE(engine.wait(fd, 5000));
  CHECK(first.calls == 1);
  CHECK(first.error_code == 0);
  CHECK(qio_test::read_exactly(pair.remote.get(), 4) == "some");
}

TEST_CASE_METHOD(FreshChannel, "an AST may reconfigure its own channel during a flush; every "
                 "request still completes once, in order, intact",
                 "[qio][bad_input][configure][reentrancy]") {
  Request first, second, third, added;
  static const char added_bytes[] = "added;";
  int refused_with = -1; // before terminate_at_exit, whose qio_term may run the AST
  const TerminateAtExit terminate_at_exit;
  // Unbuffered, with a limit of 1, from inside the first write's AST. A
  // flush takes writes off the queue one at a time, so second and third
  // are still queued then and the new limit refuses another write; by
  // third's AST the queue is empty, and the write it queues is taken
  // unbuffered.
  first.action = [&](int channel) {
    const int result = qio_configure(channel, 1, 0, 1);
    refused_with = qio_write(channel, added_bytes, 6, record, &added);
    return result;
  };
  third.action = [&](int channel) {
    return qio_write(channel, added_bytes, 6, record, &added);
  };
  REQUIRE(qio_write(fd, "first;", 6, record, &first) == 0);
  REQUIRE(qio_write(fd, "second;", 7, record, &second) == 0);
  REQUIRE(qio_write(fd, "third;", 6, record, &third) == 0);

  CHECK(qio_wait(fd, 5000) == 0);
  CHECK(first.action_result == 0);
  CHECK(refused_with == EAGAIN);
  CHECK(third.action_result == 0);
  check_once_in_order({&first, &second, &third, &added});
  CHECK(added.error_code == 0);
  CHECK(added.buffer == added_bytes);
  CHECK(qio_test::read_exactly(pair.remote.get(), 25) == "first;second;third;added;");
  for (const Request* request : {&first, &second, &third})
    CHECK(request->error_code == 0);
}

// ==== qio_termc inside an AST on its own channel ==========================================

TEST_CASE_METHOD(FreshChannel, "qio_termc from a read's AST cancels the rest of its channel's "
                 "queue exactly once",
                 "[qio][bad_input][termc][reentrancy]") {
  Request first_read, big_write, second_read;
  const TerminateAtExit terminate_at_exit;
  set_small_send_buffer(fd);
  first_read.action = [](int channel) { return qio_termc(channel); };
  char first_buffer[8], second_buffer[8];
  const std::string message(4 << 20, 'w');
  REQUIRE(qio_read(fd, first_buffer, sizeof first_buffer, record, &first_read) == 0);
  REQUIRE(qio_write(fd, message.data(), static_cast<int>(message.size()), record, &big_write) ==
          0);
  REQUIRE(qio_read(fd, second_buffer, sizeof second_buffer, record, &second_read) == 0);
  REQUIRE(::write(pair.remote.get(), "hello", 5) == 5);

  CHECK(qio_flush() == 0);
  CHECK(first_read.action_result == 0);
  CHECK(first_read.error_code == 0);
  CHECK(first_read.length == 5);
  check_once_in_order({&first_read, &big_write, &second_read});
  CHECK(big_write.error_code == ECANCELED);
  CHECK(second_read.error_code == ECANCELED);
  CHECK(qio_pend() == 0);
  CHECK(qio_pendc(fd) == 0);
  std::string received;
  qio_test::drain_available(pair.remote.get(), received);
  CHECK(big_write.length == static_cast<int>(received.size()));
}

TEST_CASE_METHOD(FreshChannel, "qio_termc from an AST that a cancellation of the same channel "
                 "delivers is EBADF and cancels nothing twice",
                 "[qio][bad_input][termc][reentrancy]") {
  Request first, read_request, last;
  const TerminateAtExit terminate_at_exit;
  first.action = [](int channel) { return qio_termc(channel); };
  char buffer[8];
  REQUIRE(qio_write(fd, "first", 5, record, &first) == 0);
  REQUIRE(qio_read(fd, buffer, sizeof buffer, record, &read_request) == 0);
  REQUIRE(qio_write(fd, "last", 4, record, &last) == 0);

  const std::string canceller = GENERATE(as<std::string>{}, "qio_termc", "qio_term", "qio_init");
  CAPTURE(canceller);
  if (canceller == "qio_termc")
    CHECK(qio_termc(fd) == 0);
  else if (canceller == "qio_term")
    CHECK(qio_term() == 0);
  else
    CHECK(qio_init() == 0);

  CHECK(first.action_result == EBADF); // already removed when its ASTs run
  check_once_in_order({&first, &read_request, &last});
  for (const Request* request : {&first, &read_request, &last})
    CHECK(request->error_code == ECANCELED);
  CHECK(qio_pend() == 0);
}

TEST_CASE_METHOD(FreshChannel, "qio_termc from an AST that qio_prune delivers cancels the kept, "
                 "partly written write once",
                 "[qio][bad_input][termc][prune][reentrancy]") {
  Request big, terminator, last;
  const TerminateAtExit terminate_at_exit;
  set_small_send_buffer(fd);
  terminator.action = [](int channel) { return qio_termc(channel); };
  const std::string message(4 << 20, 'p');
  REQUIRE(qio_write(fd, message.data(), static_cast<int>(message.size()), record, &big) == 0);
  REQUIRE(qio_write(fd, "terminator", 10, record, &terminator) == 0);
  REQUIRE(qio_write(fd, "last", 4, record, &last) == 0);
  REQUIRE(qio_flush() == 0); // the big write is now partly written
  REQUIRE(big.calls == 0);

  CHECK(qio_prune(fd) == 0);
  CHECK(terminator.action_result == 0);
  // prune's own cancellations come first; the AST's qio_termc then
  // cancels the write prune had kept, before prune delivers the rest.
  check_once_in_order({&terminator, &big, &last});
  for (const Request* request : {&big, &terminator, &last})
    CHECK(request->error_code == ECANCELED);
  CHECK(terminator.length == 0);
  CHECK(last.length == 0);
  CHECK(qio_pend() == 0);
  CHECK(qio_write(fd, "x", 1, nullptr, nullptr) == EBADF);
  std::string received;
  qio_test::drain_available(pair.remote.get(), received);
  CHECK(received.size() > 0);
  CHECK(big.length == static_cast<int>(received.size()));
}

TEST_CASE_METHOD(FreshChannel, "qio_termc from the AST of a failed write leaves the other failed "
                 "writes to complete once with the write error",
                 "[qio][bad_input][termc][reentrancy]") {
  Request first, second, third;
  const TerminateAtExit terminate_at_exit;
  first.action = [](int channel) { return qio_termc(channel); };
  REQUIRE(qio_write(fd, "first", 5, record, &first) == 0);
  REQUIRE(qio_write(fd, "second", 6, record, &second) == 0);
  REQUIRE(qio_write(fd, "third", 5, record, &third) == 0);
  pair.remote.reset(); // the peer is gone: the first send fails with EPIPE

  CHECK(qio_flush() == 0);
  CHECK(first.action_result == 0);
  check_once_in_order({&first, &second, &third});
  for (const Request* request : {&first, &second, &third}) {
    CHECK(request->error_code == EPIPE);
    CHECK(request->length == 0);
  }
  CHECK(qio_pend() == 0);
  CHECK(qio_termc(fd) == EBADF);
}

TEST_CASE_METHOD(FreshChannel, "qio_termc from an AST that qio_wait delivers ends the wait with 0",
                 "[qio][bad_input][termc][wait][reentrancy]") {
  const qio_test::Watchdog watchdog(60);
  Request first, big;
  const TerminateAtExit terminate_at_exit;
  set_small_send_buffer(fd);
  first.action = [](int channel) { return qio_termc(channel); };
  const std::string message(4 << 20, 'x');
  REQUIRE(qio_write(fd, "first", 5, record, &first) == 0);
  REQUIRE(qio_write(fd, message.data(), static_cast<int>(message.size()), record, &big) == 0);

  CHECK(qio_wait(fd, -1) == 0); // would wait forever if the peer had to read
  CHECK(first.action_result == 0);
  check_once_in_order({&first, &big});
  CHECK(first.error_code == 0);
  CHECK(big.error_code == ECANCELED);
  CHECK(qio_pend() == 0);
}

TEST_CASE("through qio::Engine, terminate from the callback of a failed write leaves the other "
          "failed writes to complete once with the error",
          "[engine][bad_input][termc][reentrancy]") {
  completions_so_far = 0;
  Request first, second;
  qio::Engine engine;
  FdPair pair = qio_test::socket_pair();
  const int fd = pair.local.get();
  first.action = [&engine](int channel) { return engine.terminate(channel).value(); };
  REQUIRE_FALSE(engine.configure(fd, {}));
  REQUIRE_FALSE(engine.write(fd, std::span<const char>(some_bytes, 3), callback_for(first)));
  REQUIRE_FALSE(engine.write(fd, std::span<const char>(some_bytes, 5), callback_for(second)));
  pair.remote.reset();

  engine.flush();
  CHECK(first.action_result == 0);
  check_once_in_order({&first, &second});
  CHECK(first.error_code == EPIPE);
  CHECK(second.error_code == EPIPE);
  CHECK(engine.pending() == 0);
  CHECK_FALSE(engine.is_channel(fd));
}

// ==== qio_init with requests pending ================================================

TEST_CASE_METHOD(FreshQueues, "qio_init with requests pending on every kind of channel cancels "
                 "each once, in request order, and leaves every descriptor open and unchanged",
                 "[qio][bad_input][init]") {
  FdPair& socket = keep(qio_test::socket_pair());
  set_small_send_buffer(socket.local.get());
  configure_channel(socket.local.get());
  FdPair& pipe =
      open_channel(qio_test::pipe_pair(), {.nonblocking = 0, .buffered = 0, .max_outstanding = 8});
  const int file = open_file_channel();
  Request big, socket_read, socket_seek, silent_after, pipe_write, pipe_empty, file_read,
      file_write, file_seek;
  const TerminateAtExit terminate_at_exit;
  const int socket_flags = ::fcntl(socket.local.get(), F_GETFL);
  const int pipe_flags = ::fcntl(pipe.local.get(), F_GETFL);
  const int file_flags = ::fcntl(file, F_GETFL);

  const std::string message(4 << 20, 'i');
  const int socket_fd = socket.local.get();
  char socket_buffer[8], file_buffer[8];
  REQUIRE(qio_write(socket_fd, message.data(), static_cast<int>(message.size()), record, &big) ==
          0);
  REQUIRE(qio_read(socket_fd, socket_buffer, sizeof socket_buffer, record, &socket_read) == 0);
  REQUIRE(qio_seek(socket_fd, 0, record, &socket_seek) == 0);
  REQUIRE(qio_write(socket_fd, "silent", 6, nullptr, nullptr) == 0);
  REQUIRE(qio_write(socket_fd, "after", 5, record, &silent_after) == 0);
  REQUIRE(qio_flush() == 0); // the big write goes out in part
  // Queued after the flush, so these are still pending too.
  REQUIRE(qio_write(pipe.local.get(), some_bytes, some_length, record, &pipe_write) == 0);
  REQUIRE(qio_write(pipe.local.get(), nullptr, 0, record, &pipe_empty) == 0);
  REQUIRE(qio_read(file, file_buffer, sizeof file_buffer, record, &file_read) == 0);
  REQUIRE(qio_write(file, "file", 4, record, &file_write) == 0);
  REQUIRE(qio_seek(file, 2, record, &file_seek) == 0);
  REQUIRE(big.calls == 0);

  CHECK(qio_init() == 0);
  CHECK(qio_pend() == 0);
  check_once_in_order({&big, &socket_read, &socket_seek, &silent_after});
  check_once_in_order({&pipe_write, &pipe_empty});
  check_once_in_order({&file_read, &file_write, &file_seek});
  for (const Request* request : {&big, &socket_read, &socket_seek, &silent_after, &pipe_write,
                                 &pipe_empty, &file_read, &file_write, &file_seek})
    CHECK(request->error_code == ECANCELED);
  std::string received;
  qio_test::drain_available(socket.remote.get(), received);
  CHECK(received.size() > 0);
  CHECK(big.length == static_cast<int>(received.size()));
  CHECK(pipe_write.buffer == some_bytes); // unbuffered: the caller's pointer
  CHECK(file_read.buffer == file_buffer);
  CHECK(socket_seek.buffer == nullptr);
  CHECK(socket_seek.length == 0);

  for (const int fd : {socket_fd, pipe.local.get(), file}) {
    CAPTURE(fd);
    CHECK(is_open(fd));
    CHECK(qio_write(fd, "x", 1, nullptr, nullptr) == EBADF);
    CHECK(qio_pendc(fd) == 0);
  }
  CHECK(::fcntl(socket_fd, F_GETFL) == socket_flags);
  CHECK(::fcntl(pipe.local.get(), F_GETFL) == pipe_flags);
  CHECK(::fcntl(file, F_GETFL) == file_flags);
  CHECK(qio_init() == 0); // again, with nothing left: nothing happens
  CHECK(big.calls == 1);
}

TEST_CASE_METHOD(FreshQueues, "qio_init from an AST of qio_init cancels each remaining request "
                 "once",
                 "[qio][bad_input][init][reentrancy]") {
  FdPair& first_pair = open_channel(qio_test::socket_pair());
  FdPair& second_pair = open_channel(qio_test::socket_pair());
  Request first, second, third;
  const TerminateAtExit terminate_at_exit;
  first.action = [](int) { return qio_init(); };
  REQUIRE(qio_write(first_pair.local.get(), "a", 1, record, &first) == 0);
  REQUIRE(qio_write(first_pair.local.get(), "b", 1, record, &second) == 0);
  REQUIRE(qio_write(second_pair.local.get(), "c", 1, record, &third) == 0);

  CHECK(qio_init() == 0);
  CHECK(first.action_result == 0);
  for (const Request* request : {&first, &second, &third}) {
    CHECK(request->calls == 1);
    CHECK(request->error_code == ECANCELED);
  }
  CHECK(second.position > first.position);
  CHECK(qio_pend() == 0);
}

// ==== Null buffers, huge lengths and offsets ================================================

TEST_CASE_METHOD(FreshChannel, "qio_read refuses a null buffer with any positive length, up to "
                 "INT_MAX",
                 "[qio][bad_input][read]") {
  Request request;
  const TerminateAtExit terminate_at_exit;
  const int length = GENERATE(1, 4096, INT_MAX);
  CAPTURE(length);
  CHECK(qio_read(fd, nullptr, length, record, &request) == EINVAL);
  CHECK(qio_pendc(fd) == 0);
  CHECK(qio_flush() == 0);
  CHECK(request.calls == 0);
}

TEST_CASE("through qio::Engine, a null read buffer with a size is EINVAL and an empty one "
          "completes with length 0",
          "[engine][bad_input][read]") {
  completions_so_far = 0;
  Request empty;
  qio::Engine engine;
  FdPair pair = qio_test::socket_pair();
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  const std::size_t size = GENERATE(std::size_t{1}, std::size_t{1} << 20,
                                    std::numeric_limits<std::size_t>::max());
  CAPTURE(size);
  CHECK(engine.read(fd, std::span<char>(static_cast<char*>(nullptr), size)) == errc(EINVAL));
  CHECK(engine.pending() == 0);
  CHECK_FALSE(engine.read(fd, std::span<char>(), callback_for(empty)));
  engine.flush();
  CHECK(empty.calls == 1);
  CHECK(empty.error_code == 0);
  CHECK(empty.length == 0);
  CHECK(empty.buffer == nullptr);
}

TEST_CASE_METHOD(FreshQueues, "a seek to the largest offset is accepted and its AST gets the "
                 "kernel's answer once",
                 "[qio][bad_input][seek]") {
  const int file = open_file_channel();
  Request request;
  const TerminateAtExit terminate_at_exit;
  // What lseek itself says on this file system: EINVAL where the largest
  // offset is past its limit (ext4), success where it is not (tmpfs).
  const Fd probe = qio_test::temporary_file();
  const int kernel_answer =
      ::lseek(probe.get(), std::numeric_limits<off_t>::max(), SEEK_SET) < 0 ? errno : 0;
  REQUIRE(qio_seek(file, std::numeric_limits<off_t>::max(), record, &request) == 0);
  CHECK(qio_flush() == 0);
  CHECK(request.calls == 1);
  CHECK(request.error_code == kernel_answer);
  CHECK(qio_seek(file, std::numeric_limits<off_t>::min(), record, &request) == EINVAL);
  CHECK(qio_pend() == 0);
}

TEST_CASE("qio_ast prints any arguments, naming an unknown operation, without reading the buffer",
          "[qio][bad_input][ast]") {
  Fd capture = qio_test::temporary_file();
  std::fflush(stderr);
  const Fd saved(::dup(STDERR_FILENO));
  REQUIRE(saved.get() >= 0);
  REQUIRE(::dup2(capture.get(), STDERR_FILENO) == STDERR_FILENO);
  // A buffer pointer that must never be read, and lengths that make no sense.
  char* const dangling = reinterpret_cast<char*>(std::uintptr_t{16});
  qio_ast(0, -1, 99, dangling, -5, nullptr);
  qio_ast(INT_MAX, INT_MIN, 0, nullptr, INT_MAX, dangling);
  qio_ast(-1, 3, QIO_WRITE, nullptr, 0, nullptr);
  std::fflush(stderr);
  REQUIRE(::dup2(saved.get(), STDERR_FILENO) == STDERR_FILENO);
  char text[2048] = {};
  const ssize_t count = ::pread(capture.get(), text, sizeof text - 1, 0);
  REQUIRE(count > 0);
  const std::string printed(text, static_cast<std::size_t>(count));
  CAPTURE(printed);
  CHECK(printed.find("unknown") != std::string::npos);
  CHECK(printed.find("length -5") != std::string::npos);
  CHECK(printed.find("write") != std::string::npos);
}

// ==== Every C++ call on a descriptor that is not a channel ========================================

TEST_CASE("every qio::Engine call on a descriptor that is not a channel is EBADF or reports "
          "nothing, and touches nothing",
          "[engine][bad_input][unconfigured]") {
  int calls = 0;
  qio::Engine engine;
  FdPair pair = qio_test::socket_pair();
  FdPair busy = qio_test::socket_pair();
  const std::string kind =
      GENERATE(as<std::string>{}, "negative", "most negative", "closed",
               "far beyond any open descriptor", "open but never configured", "terminated");
  CAPTURE(kind);
  int fd = pair.local.get();
  if (kind == "negative")
    fd = -1;
  else if (kind == "most negative")
    fd = INT_MIN;
  else if (kind == "closed")
    fd = qio_test::unopened_descriptor();
  else if (kind == "far beyond any open descriptor")
    fd = 1 << 24;
  else if (kind == "terminated") {
    REQUIRE_FALSE(engine.configure(fd, {}));
    REQUIRE_FALSE(engine.terminate(fd));
  }
  // Another channel with output pending must not show through.
  REQUIRE_FALSE(engine.configure(busy.local.get(), {}));
  REQUIRE_FALSE(engine.write(busy.local.get(), std::span<const char>(some_bytes, 2)));
  const int flags_before = ::fcntl(pair.local.get(), F_GETFL);
  const qio::Callback counted{[](const qio::Completion&, void* count) { ++*static_cast<int*>(count); },
                              &calls};
  char buffer[8];

  CHECK(engine.write(fd, std::span<const char>(some_bytes, 3), counted) == errc(EBADF));
  CHECK(engine.write(fd, std::span<const char>(static_cast<const char*>(nullptr), 3), counted) ==
        errc(EBADF)); // EBADF comes before argument checks
  CHECK(engine.read(fd, buffer, counted) == errc(EBADF));
  CHECK(engine.read(fd, std::span<char>(static_cast<char*>(nullptr), 3), counted) == errc(EBADF));
  CHECK(engine.seek(fd, 0, counted) == errc(EBADF));
  CHECK(engine.seek(fd, -1, counted) == errc(EBADF));
  CHECK(engine.flush(fd) == errc(EBADF));
  CHECK(engine.wait(fd, 0) == errc(EBADF));
  CHECK(engine.wait(fd, -1) == errc(EBADF)); // must not wait forever
  CHECK(engine.wait(fd, -2) == errc(EBADF));
  CHECK(engine.prune(fd) == errc(EBADF));
  CHECK(engine.terminate(fd) == errc(EBADF));
  CHECK(engine.pending(fd) == 0);
  CHECK_FALSE(engine.is_channel(fd));
  qio::ChannelOptions options;
  options.max_outstanding = 7;
  CHECK(engine.options(fd, options) == errc(EBADF));
  CHECK(options.max_outstanding == 7); // left alone
  CHECK(engine.pending() == 1);
  fd_set mask;
  FD_ZERO(&mask);
  CHECK(engine.fill_fdset(mask) == busy.local.get() + 1);
  if (fd >= 0 && fd < FD_SETSIZE)
    CHECK_FALSE(FD_ISSET(fd, &mask));
  pollfd fds[2]{};
  CHECK(engine.fill_pollfds(fds) == 1);
  CHECK(fds[0].fd == busy.local.get());
  engine.flush();
  CHECK(calls == 0);
  CHECK(::fcntl(pair.local.get(), F_GETFL) == flags_before);
}

TEST_CASE("qio::Engine::wait refuses a timeout below -1 with EINVAL and leaves the queue alone",
          "[engine][bad_input][wait]") {
  Request request;
  qio::Engine engine;
  FdPair pair = qio_test::socket_pair();
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  REQUIRE_FALSE(engine.write(fd, std::span<const char>(some_bytes, 4), callback_for(request)));
  const int timeout_ms = GENERATE(-2, -1000, INT_MIN);
  CAPTURE(timeout_ms);
  CHECK(engine.wait(fd, timeout_ms) == errc(EINVAL));
  CHECK(engine.pending(fd) == 1);
  CHECK(request.calls == 0);
}
