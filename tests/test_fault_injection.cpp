// SPDX-License-Identifier: MIT
// test_fault_injection.cpp - the engine on a syscall seam that injects
// short writes, EINTR, EAGAIN, ENOBUFS, EPIPE and ECONNRESET into writev and
// sendmsg, and counts every call it sees.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <deque>
#include <map>
#include <random>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "qio/engine.hpp"
#include "support.hpp"
#include "support/faulty_system_calls.hpp"

using qio::Callback;
using qio::ChannelOptions;
using qio::Completion;
using qio::Engine;
using qio_test::drain_available;
using qio_test::FdPair;
using qio_test::pipe_pair;
using qio_test::socket_pair;
using support::Fault;
using support::FaultySystemCalls;

namespace {

std::error_code errc(int value) { return {value, std::generic_category()}; }

std::span<const char> bytes_of(const std::string& text) {
  return {text.data(), text.size()};
}

enum class Kind { socket, pipe };

const char* kind_name(Kind kind) { return kind == Kind::socket ? "socket" : "pipe"; }

// The channel is `pair.local` (a pipe's write end); the peer reads `remote`.
FdPair make_pair(Kind kind) { return kind == Kind::socket ? socket_pair() : pipe_pair(); }

// The number of writev or sendmsg calls the channel of `kind` has made.
int output_calls(const FaultySystemCalls& seam, Kind kind) {
  return kind == Kind::socket ? seam.sendmsg_calls : seam.writev_calls;
}

struct Recorded {
  std::error_code error;
  std::size_t length = 0;
  int tag = -1;
};

struct Recorder {
  std::vector<Recorded> calls;
  std::vector<int> tags() const {
    std::vector<int> out;
    for (const Recorded& call : calls)
      out.push_back(call.tag);
    return out;
  }
};

struct Tagged {
  Recorder* log;
  int tag;
  void on_completion(const Completion& completion) {
    log->calls.push_back({completion.error, completion.length, tag});
  }
};

std::string pattern(std::size_t length, char first) {
  std::string text(length, '\0');
  for (std::size_t i = 0; i < length; ++i)
    text[i] = static_cast<char>(first + i % 23);
  return text;
}

// Flushes and drains the peer until `done()`, for a bounded number of rounds.
template <class Done>
bool pump(Engine& engine, int remote, std::string& received, Done done) {
  for (int round = 0; round < 200000; ++round) {
    if (done())
      return true;
    engine.flush();
    drain_available(remote, received);
  }
  return done();
}

} // namespace

// ---- transient faults ----------------------------------------------------------

TEST_CASE("EINTR is retried at once, inside the same flush", "[faults]") {
  const Kind kind = GENERATE(Kind::socket, Kind::pipe);
  CAPTURE(kind_name(kind));
  Recorder log;
  std::deque<Tagged> receivers{{&log, 0}, {&log, 1}};
  FaultySystemCalls seam;
  Engine engine = qio::detail::Seam::engine_over(seam);
  FdPair pair = make_pair(kind);
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  const std::string first = pattern(100, 'a'), second = pattern(200, 'A');
  REQUIRE_FALSE(engine.write(fd, bytes_of(first), Callback::to(receivers[0])));
  REQUIRE_FALSE(engine.write(fd, bytes_of(second), Callback::to(receivers[1])));
  seam.script = {{Fault::interrupted}, {Fault::interrupted}};

  engine.flush();
  CHECK(output_calls(seam, kind) == 3);
  CHECK(engine.pending() == 0);
  REQUIRE(log.calls.size() == 2);
  CHECK_FALSE(log.calls[0].error);
  CHECK(log.calls[0].length == 100);
  CHECK_FALSE(log.calls[1].error);
  CHECK(log.calls[1].length == 200);
  std::string received;
  drain_available(pair.remote.get(), received);
  CHECK(received == first + second);
}

TEST_CASE("EAGAIN and ENOBUFS mean later: nothing fails and the next flush sends",
          "[faults]") {
  const auto [fault, kind] = GENERATE(table<Fault, Kind>({
      {Fault::would_block, Kind::socket},
      {Fault::would_block, Kind::pipe},
      {Fault::no_buffers, Kind::socket},
      {Fault::no_buffers, Kind::pipe},
  }));
  CAPTURE(fault == Fault::would_block ? "EAGAIN" : "ENOBUFS", kind_name(kind));
  Recorder log;
  Tagged receiver{&log, 0};
  FaultySystemCalls seam;
  Engine engine = qio::detail::Seam::engine_over(seam);
  FdPair pair = make_pair(kind);
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  const std::string text = pattern(1000, 'a');
  REQUIRE_FALSE(engine.write(fd, bytes_of(text), Callback::to(receiver)));
  seam.script = {{fault}};

  engine.flush();
  CHECK(output_calls(seam, kind) == 1);
  CHECK(engine.pending(fd) == 1);
  CHECK(log.calls.empty());
  std::string received;
  drain_available(pair.remote.get(), received);
  CHECK(received.empty());
  // Not sticky: more writes are taken.
  const std::string more = pattern(10, 'z');
  REQUIRE_FALSE(engine.write(fd, bytes_of(more)));

  engine.flush();
  CHECK(output_calls(seam, kind) == 2);
  CHECK(engine.pending() == 0);
  REQUIRE(log.calls.size() == 1);
  CHECK_FALSE(log.calls[0].error);
  CHECK(log.calls[0].length == text.size());
  drain_available(pair.remote.get(), received);
  CHECK(received == text + more);
}

TEST_CASE("on a regular file a seek and a read wait for the writes queued before them, "
          "even when a write must wait",
          "[faults][file]") {
  const Fault fault = GENERATE(Fault::would_block, Fault::short_transfer);
  CAPTURE(fault == Fault::would_block ? "EAGAIN" : "short write");
  Recorder log;
  std::deque<Tagged> receivers{{&log, 0}, {&log, 1}, {&log, 2}};
  char buffer[32] = {};
  FaultySystemCalls seam;
  Engine engine = qio::detail::Seam::engine_over(seam);
  qio_test::Fd file = qio_test::temporary_file();
  const int fd = file.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  const std::string digits = "0123456789";
  REQUIRE_FALSE(engine.write(fd, bytes_of(digits), Callback::to(receivers[0])));
  REQUIRE_FALSE(engine.seek(fd, 5, Callback::to(receivers[1])));
  REQUIRE_FALSE(engine.read(fd, buffer, Callback::to(receivers[2])));
  // The first flush moves nothing, or 3 bytes and then nothing (a flush
  // that moved bytes tries once more before it gives up).
  if (fault == Fault::short_transfer)
    seam.script = {{Fault::short_transfer, 3}, {Fault::would_block}, {Fault::would_block}};
  else
    seam.script = {{Fault::would_block}};

  engine.flush();
  CHECK(log.calls.empty());
  CHECK(engine.pending(fd) == 3);
  engine.flush();
  CHECK(engine.pending(fd) == 0);
  REQUIRE(log.calls.size() == 3);
  CHECK(log.tags() == std::vector<int>{0, 1, 2});
  for (const Recorded& call : log.calls)
    CHECK_FALSE(call.error);
  CHECK(log.calls[2].length == 5);
  CHECK(std::string(buffer) == "56789");
}

TEST_CASE("a short write resumes exactly where the kernel stopped", "[faults]") {
  const Kind kind = GENERATE(Kind::socket, Kind::pipe);
  const std::size_t prefix = GENERATE(as<std::size_t>{}, 1, 99, 100, 101, 250, 299);
  CAPTURE(kind_name(kind), prefix);
  Recorder log;
  std::deque<Tagged> receivers{{&log, 0}, {&log, 1}, {&log, 2}};
  FaultySystemCalls seam;
  seam.log_output_calls = true;
  Engine engine = qio::detail::Seam::engine_over(seam);
  FdPair pair = make_pair(kind);
  const int fd = pair.local.get();
  const bool buffered = GENERATE(true, false);
  CAPTURE(buffered);
  REQUIRE_FALSE(engine.configure(fd, {true, buffered}));
  const std::string a = pattern(100, 'a'), b = pattern(100, 'A'), c = pattern(100, '0');
  REQUIRE_FALSE(engine.write(fd, bytes_of(a), Callback::to(receivers[0])));
  REQUIRE_FALSE(engine.write(fd, bytes_of(b), Callback::to(receivers[1])));
  REQUIRE_FALSE(engine.write(fd, bytes_of(c), Callback::to(receivers[2])));
  seam.script = {{Fault::short_transfer, prefix}};

  engine.flush();
  CHECK(output_calls(seam, kind) == 2);
  REQUIRE(seam.offered_bytes.size() == 2);
  CHECK(seam.offered_bytes[0] == 300);
  CHECK(seam.offered_bytes[1] == 300 - prefix);
  CHECK(engine.pending() == 0);
  REQUIRE(log.calls.size() == 3);
  for (int tag = 0; tag < 3; ++tag) {
    CAPTURE(tag);
    const Recorded& call = log.calls[static_cast<std::size_t>(tag)];
    CHECK(call.tag == tag);
    CHECK_FALSE(call.error);
    CHECK(call.length == 100);
  }
  std::string received;
  drain_available(pair.remote.get(), received);
  CHECK(received == a + b + c);
}

TEST_CASE("many short writes in a row still deliver every byte once", "[faults]") {
  const Kind kind = GENERATE(Kind::socket, Kind::pipe);
  CAPTURE(kind_name(kind));
  Recorder log;
  Tagged receiver{&log, 0};
  FaultySystemCalls seam;
  Engine engine = qio::detail::Seam::engine_over(seam);
  FdPair pair = make_pair(kind);
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  const std::string text = pattern(50, 'a');
  REQUIRE_FALSE(engine.write(fd, bytes_of(text), Callback::to(receiver)));
  for (int i = 0; i < 49; ++i)
    seam.script.push_back({Fault::short_transfer, 1});

  engine.flush();
  CHECK(output_calls(seam, kind) == 50); // 49 one-byte calls, then the last byte
  REQUIRE(log.calls.size() == 1);
  CHECK_FALSE(log.calls[0].error);
  CHECK(log.calls[0].length == 50);
  std::string received;
  drain_available(pair.remote.get(), received);
  CHECK(received == text);
}

// ---- hard errors -----------------------------------------------------------------

TEST_CASE("EPIPE and ECONNRESET fail the request and every later one, sticky until "
          "configure",
          "[faults][errors]") {
  const auto [fault, error, kind] = GENERATE(table<Fault, int, Kind>({
      {Fault::broken_pipe, EPIPE, Kind::socket},
      {Fault::broken_pipe, EPIPE, Kind::pipe},
      {Fault::connection_reset, ECONNRESET, Kind::socket},
      {Fault::connection_reset, ECONNRESET, Kind::pipe},
  }));
  const std::size_t sent_first = GENERATE(as<std::size_t>{}, 0, 150);
  CAPTURE(error, kind_name(kind), sent_first);
  Recorder log;
  std::deque<Tagged> receivers{{&log, 0}, {&log, 1}, {&log, 2}, {&log, 3}};
  FaultySystemCalls seam;
  Engine engine = qio::detail::Seam::engine_over(seam);
  FdPair pair = make_pair(kind);
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  const std::string a = pattern(100, 'a'), b = pattern(100, 'A'), c = pattern(100, '0');
  REQUIRE_FALSE(engine.write(fd, bytes_of(a), Callback::to(receivers[0])));
  REQUIRE_FALSE(engine.write(fd, bytes_of(b), Callback::to(receivers[1])));
  REQUIRE_FALSE(engine.write(fd, bytes_of(c), Callback::to(receivers[2])));
  if (sent_first > 0)
    seam.script.push_back({Fault::short_transfer, sent_first});
  seam.script.push_back({fault});

  engine.flush();
  CHECK(engine.pending() == 0);
  REQUIRE(log.calls.size() == 3);
  CHECK(log.tags() == std::vector<int>{0, 1, 2});
  std::string received;
  drain_available(pair.remote.get(), received);
  CHECK(received == (a + b).substr(0, sent_first));
  if (sent_first == 0) {
    for (const Recorded& call : log.calls) {
      CHECK(call.error == errc(error));
      CHECK(call.length == 0);
    }
  } else {
    // The first write went out whole; the second in part.
    CHECK_FALSE(log.calls[0].error);
    CHECK(log.calls[0].length == 100);
    CHECK(log.calls[1].error == errc(error));
    CHECK(log.calls[1].length == 50);
    CHECK(log.calls[2].error == errc(error));
    CHECK(log.calls[2].length == 0);
  }

  // Sticky: write refuses with the same error, and nothing more is tried.
  const int calls_after_failure = output_calls(seam, kind);
  const std::string d = pattern(20, 'd');
  CHECK(engine.write(fd, bytes_of(d), Callback::to(receivers[3])) == errc(error));
  CHECK(engine.write(fd, bytes_of(d)) == errc(error));
  engine.flush();
  CHECK(output_calls(seam, kind) == calls_after_failure);
  CHECK(engine.pending() == 0);
  CHECK(log.calls.size() == 3);

  // configure clears it; the failed writes' bytes never follow.
  REQUIRE_FALSE(engine.configure(fd, {}));
  REQUIRE_FALSE(engine.write(fd, bytes_of(d), Callback::to(receivers[3])));
  engine.flush();
  REQUIRE(log.calls.size() == 4);
  CHECK(log.calls[3].tag == 3);
  CHECK_FALSE(log.calls[3].error);
  CHECK(log.calls[3].length == d.size());
  drain_available(pair.remote.get(), received);
  CHECK(received == (a + b).substr(0, sent_first) + d);
}

TEST_CASE("a write to a pipe with no reader completes with EPIPE; SIGPIPE is blocked, "
          "consumed and unblocked through the seam",
          "[faults][sigpipe]") {
  struct sigaction disposition {};
  REQUIRE(::sigaction(SIGPIPE, nullptr, &disposition) == 0);
  REQUIRE(disposition.sa_handler == SIG_DFL); // a leaked SIGPIPE would kill us
  sigset_t mask_before;
  REQUIRE(::pthread_sigmask(SIG_SETMASK, nullptr, &mask_before) == 0);
  REQUIRE(sigismember(&mask_before, SIGPIPE) == 0);

  Recorder log;
  Tagged receiver{&log, 0};
  FaultySystemCalls seam;
  Engine engine = qio::detail::Seam::engine_over(seam);
  FdPair pair = pipe_pair();
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  pair.remote.reset(); // no reader
  const std::string text = pattern(100, 'a');
  REQUIRE_FALSE(engine.write(fd, bytes_of(text), Callback::to(receiver)));

  engine.flush();
  REQUIRE(log.calls.size() == 1);
  CHECK(log.calls[0].error == errc(EPIPE));
  CHECK(seam.writev_calls == 1);
  CHECK(seam.sigpending_calls >= 1);
  CHECK(seam.thread_sigmask_calls >= 2); // block, then restore
  CHECK(seam.sigtimedwait_calls >= 1);   // the raised SIGPIPE is consumed

  sigset_t mask_after;
  REQUIRE(::pthread_sigmask(SIG_SETMASK, nullptr, &mask_after) == 0);
  CHECK(sigismember(&mask_after, SIGPIPE) == 0);
  sigset_t pending;
  REQUIRE(::sigpending(&pending) == 0);
  CHECK(sigismember(&pending, SIGPIPE) == 0);
  CHECK(engine.write(fd, bytes_of(text)) == errc(EPIPE));
}

TEST_CASE("a socket is written with MSG_NOSIGNAL and MSG_DONTWAIT, no signal mask games",
          "[faults][sigpipe]") {
  Recorder log;
  Tagged receiver{&log, 0};
  FaultySystemCalls seam;
  Engine engine = qio::detail::Seam::engine_over(seam);
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  // Left blocking: MSG_DONTWAIT must keep each call from blocking.
  REQUIRE_FALSE(engine.configure(fd, {false, true}));
  REQUIRE((::fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);
  pair.remote.reset();
  const std::string text = pattern(100, 'a');
  REQUIRE_FALSE(engine.write(fd, bytes_of(text), Callback::to(receiver)));

  engine.flush();
  REQUIRE(log.calls.size() == 1);
  const int error = log.calls[0].error.value();
  CHECK((error == EPIPE || error == ECONNRESET));
  CHECK(seam.sendmsg_calls == 1);
  CHECK((seam.last_send_flags & MSG_NOSIGNAL) != 0);
  CHECK((seam.last_send_flags & MSG_DONTWAIT) != 0);
  CHECK(seam.thread_sigmask_calls == 0);
}

TEST_CASE("a blocking pipe is polled before each write and offered at most PIPE_BUF bytes",
          "[faults][blocking]") {
  Recorder log;
  Tagged receiver{&log, 0};
  FaultySystemCalls seam;
  seam.log_output_calls = true;
  Engine engine = qio::detail::Seam::engine_over(seam);
  FdPair pair = pipe_pair();
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {false, true}));
  REQUIRE((::fcntl(fd, F_GETFL) & O_NONBLOCK) == 0);
  const std::string text = pattern(200000, 'a'); // three pipes' worth
  REQUIRE_FALSE(engine.write(fd, bytes_of(text), Callback::to(receiver)));

  // The pipe fills: flush returns (never blocks) with the write pending.
  engine.flush();
  CHECK(engine.pending() == 1);
  CHECK(seam.poll_calls >= seam.writev_calls);
  std::string received;
  REQUIRE(pump(engine, pair.remote.get(), received, [&] {
    return engine.pending() == 0 && received.size() == text.size();
  }));
  CHECK(received == text);
  REQUIRE(log.calls.size() == 1);
  CHECK(log.calls[0].length == text.size());
  for (const std::size_t offered : seam.offered_bytes)
    REQUIRE(offered <= PIPE_BUF);
  CHECK(seam.poll_calls >= seam.writev_calls);
}

// ---- gathering --------------------------------------------------------------------

TEST_CASE("one flush of 1000 small buffered writes needs about one call per 64 KiB",
          "[faults][gathering]") {
  const Kind kind = GENERATE(Kind::socket, Kind::pipe);
  CAPTURE(kind_name(kind));
  FaultySystemCalls seam;
  seam.log_output_calls = true;
  Engine engine = qio::detail::Seam::engine_over(seam);
  FdPair pair = make_pair(kind);
  const int fd = pair.local.get();
  if (kind == Kind::socket) {
    const int size = 1 << 20;
    ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  }
  REQUIRE_FALSE(engine.configure(fd, {}));
  std::string sent;
  for (int i = 0; i < 1000; ++i) {
    const std::string text = pattern(64, static_cast<char>('!' + i % 64));
    REQUIRE_FALSE(engine.write(fd, bytes_of(text)));
    sent += text;
  }

  engine.flush();
  CHECK(engine.pending() == 0);
  CAPTURE(seam.vector_counts, seam.offered_bytes);
  CHECK(output_calls(seam, kind) <= 3);
  REQUIRE_FALSE(seam.offered_bytes.empty());
  // Everything was offered at once, packed into a few blocks.
  CHECK(seam.offered_bytes[0] == 64000);
  CHECK(seam.vector_counts[0] <= 8);
  std::string received;
  drain_available(pair.remote.get(), received);
  CHECK(received == sent);
}

TEST_CASE("unbuffered writes are gathered up to IOV_MAX vectors a call", "[faults][gathering]") {
  FaultySystemCalls seam;
  seam.log_output_calls = true;
  Engine engine = qio::detail::Seam::engine_over(seam);
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  const int size = 1 << 20;
  ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  REQUIRE_FALSE(engine.configure(fd, {true, false}));
  std::deque<std::string> messages;
  std::string sent;
  for (int i = 0; i < 2000; ++i) {
    messages.push_back(pattern(64, static_cast<char>('!' + i % 64)));
    REQUIRE_FALSE(engine.write(fd, bytes_of(messages.back())));
    sent += messages.back();
  }

  std::string received;
  REQUIRE(pump(engine, pair.remote.get(), received,
               [&] { return engine.pending() == 0 && received.size() == sent.size(); }));
  CHECK(received == sent);
  CAPTURE(seam.vector_counts);
  REQUIRE_FALSE(seam.vector_counts.empty());
  CHECK(seam.vector_counts[0] == IOV_MAX);
  CHECK(seam.sendmsg_calls <= 4);
}

// ---- the property -------------------------------------------------------------------

namespace {

// What the test expects of one write, and what its callback saw.
struct WriteRecord {
  std::size_t index = 0;
  std::size_t offset = 0; // stream position of its first byte
  std::size_t length = 0;
  bool buffered = true;
  const char* caller_bytes = nullptr; // unbuffered: the pointer handed back
  int calls = 0;
  bool error = false;
  bool length_right = true;
  bool buffer_right = true;
};

struct PropertyRun {
  const std::string* sent = nullptr;
  std::vector<std::size_t> completion_order;
};

struct WriteReceiver {
  PropertyRun* run;
  WriteRecord* record;
  void on_completion(const Completion& completion) {
    run->completion_order.push_back(record->index);
    ++record->calls;
    record->error = bool(completion.error);
    record->length_right = completion.length == record->length;
    if (!record->buffered)
      record->buffer_right = completion.buffer == record->caller_bytes;
    else if (record->length == 0)
      record->buffer_right = completion.buffer == nullptr;
    else
      record->buffer_right =
          completion.buffer != nullptr &&
          std::memcmp(completion.buffer, run->sent->data() + record->offset,
                      record->length) == 0;
  }
};

std::size_t random_size(std::mt19937_64& random) {
  // Mostly small, some around a block, a few up to 70000 (past 64 KiB).
  switch (random() % 10) {
  case 0:
    return random() % 70001;
  case 1:
  case 2:
  case 3:
    return random() % 8193;
  default:
    return random() % 257;
  }
}

} // namespace

TEST_CASE("under random partial writes, EINTR, EAGAIN and ENOBUFS every byte arrives once, "
          "in order, and every callback fires once, in order",
          "[faults][property]") {
  const std::uint64_t seed = GENERATE(as<std::uint64_t>{}, 1, 2, 3, 4, 5);
  const auto [kind, nonblocking] = GENERATE(table<Kind, bool>({
      {Kind::socket, true},
      {Kind::pipe, true},
      {Kind::pipe, false},
  }));
  CAPTURE(seed, kind_name(kind), nonblocking);
  std::mt19937_64 random(seed);
  constexpr std::size_t write_count = 3000;

  std::string sent;
  sent.reserve(write_count * 12000);
  PropertyRun run{&sent, {}};
  std::deque<WriteRecord> records;
  std::deque<WriteReceiver> receivers;
  std::deque<std::string> unbuffered_bytes; // kept until the end
  FaultySystemCalls seam;
  // 30% of the calls: short, EINTR, EAGAIN and ENOBUFS alike.
  seam.inject_at_random(~seed, {.short_transfer = 7'500,
                                .interrupted = 7'500,
                                .would_block = 7'500,
                                .no_buffers = 7'500});
  Engine engine = qio::detail::Seam::engine_over(seam);
  FdPair pair = make_pair(kind);
  const int fd = pair.local.get();
  bool buffered = true;
  REQUIRE_FALSE(engine.configure(fd, {nonblocking, buffered}));

  std::string received;
  std::string scratch;
  std::size_t with_callback = 0;
  for (std::size_t index = 0; index < write_count; ++index) {
    if (random() % 16 == 0) {
      buffered = !buffered;
      REQUIRE_FALSE(engine.configure(fd, {nonblocking, buffered}));
    }
    const std::size_t length = random_size(random);
    scratch.resize(length);
    for (std::size_t i = 0; i < length; ++i)
      scratch[i] = static_cast<char>(random());
    records.push_back({index, sent.size(), length, buffered, nullptr});
    WriteRecord& record = records.back();
    std::span<const char> data = bytes_of(scratch);
    if (!buffered) {
      unbuffered_bytes.push_back(scratch);
      data = bytes_of(unbuffered_bytes.back());
      record.caller_bytes = data.data();
    }
    Callback callback;
    if (random() % 2 == 0) {
      receivers.push_back({&run, &record});
      callback = Callback::to(receivers.back());
      ++with_callback;
    }
    sent += scratch;
    const std::error_code error = engine.write(fd, data, callback);
    if (error) {
      CAPTURE(index, error);
      FAIL("write refused");
    }
    // A buffered write's bytes were copied: scribbling on them is harmless.
    std::memset(scratch.data(), '#', scratch.size());
    switch (random() % 6) {
    case 0:
      engine.flush();
      break;
    case 1:
      REQUIRE_FALSE(engine.flush(fd));
      break;
    case 2:
      drain_available(pair.remote.get(), received);
      break;
    default:
      break;
    }
  }
  REQUIRE(pump(engine, pair.remote.get(), received, [&] {
    return engine.pending() == 0 && received.size() >= sent.size();
  }));
  drain_available(pair.remote.get(), received);

  CHECK(received.size() == sent.size());
  std::size_t first_difference = 0;
  while (first_difference < std::min(received.size(), sent.size()) &&
         received[first_difference] == sent[first_difference])
    ++first_difference;
  CHECK(first_difference == sent.size());

  CHECK(run.completion_order.size() == with_callback);
  bool in_order = true;
  for (std::size_t i = 1; i < run.completion_order.size(); ++i)
    in_order = in_order && run.completion_order[i - 1] < run.completion_order[i];
  CHECK(in_order);
  std::size_t wrong = 0;
  for (const WriteReceiver& receiver : receivers) {
    const WriteRecord& record = *receiver.record;
    if (record.calls != 1 || record.error || !record.length_right || !record.buffer_right) {
      if (wrong++ == 0) {
        CAPTURE(record.index, record.length, record.buffered, record.calls, record.error,
                record.length_right, record.buffer_right);
        FAIL_CHECK("a callback saw the wrong thing");
      }
    }
  }
  CHECK(wrong == 0);
  // The faults were really injected.
  CHECK(seam.output_faults()[Fault::short_transfer] > 0);
  CHECK(seam.output_faults()[Fault::interrupted] > 0);
  CHECK(seam.output_faults()[Fault::would_block] > 0);
  CHECK(seam.output_faults()[Fault::no_buffers] > 0);
}
