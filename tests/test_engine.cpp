// SPDX-License-Identifier: MIT
// test_engine.cpp - qio::Engine through its C++ API: options, callbacks,
// error codes, buffering, several engines, cancellation, reading and
// seeking. Each test owns its Engine.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <latch>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

#include "qio/engine.hpp"
#include "support.hpp"

using qio::Callback;
using qio::ChannelOptions;
using qio::Completion;
using qio::Engine;
using qio::Operation;
using qio_test::drain_available;
using qio_test::Fd;
using qio_test::FdPair;
using qio_test::pipe_pair;
using qio_test::read_exactly;
using qio_test::socket_pair;
using qio_test::temporary_file;

namespace {

std::error_code errc(int value) { return {value, std::generic_category()}; }

std::span<const char> bytes_of(const std::string& text) {
  return {text.data(), text.size()};
}

ChannelOptions unbuffered() {
  ChannelOptions options;
  options.buffered = false;
  return options;
}

// One completion as a callback saw it; `data` is copied during the call.
struct Recorded {
  std::error_code error;
  int channel = -1;
  Operation operation = Operation::write;
  char* buffer = nullptr;
  std::size_t length = 0;
  std::string data;
  int tag = -1;
};

// Receives completions through Callback::to(recorder).
struct Recorder {
  std::vector<Recorded> calls;

  void on_completion(const Completion& completion) { record(completion, -1); }
  void record(const Completion& completion, int tag) {
    Recorded call{completion.error, completion.channel, completion.operation,
                  completion.buffer, completion.length, {}, tag};
    if (completion.buffer != nullptr && completion.operation != Operation::seek)
      call.data.assign(completion.buffer, completion.length);
    calls.push_back(call);
  }
  std::vector<int> tags() const {
    std::vector<int> out;
    for (const Recorded& call : calls)
      out.push_back(call.tag);
    return out;
  }
};

// A receiver that names its request, so the order of completions shows.
struct Tagged {
  Recorder* log;
  int tag;
  void on_completion(const Completion& completion) { log->record(completion, tag); }
};

// Flushes and drains the peer until `done()`, for a bounded number of rounds.
template <class Done>
bool pump(Engine& engine, int remote, std::string& received, Done done) {
  for (int round = 0; round < 100000; ++round) {
    if (done())
      return true;
    engine.flush();
    drain_available(remote, received);
  }
  return done();
}

void count_completion(const Completion&, void* argument) {
  ++*static_cast<int*>(argument);
}

} // namespace

// ---- configuring -----------------------------------------------------------

TEST_CASE("configure stores the options that options() returns", "[engine][configure]") {
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  const auto [nonblocking, buffered, max_outstanding, max_queued_bytes] =
      GENERATE(table<bool, bool, std::size_t, std::size_t>({
          {true, true, qio::unlimited, qio::unlimited},
          {false, true, 1, 1},
          {true, false, 7, 1234},
          {false, false, qio::unlimited, 65536},
      }));
  CAPTURE(nonblocking, buffered, max_outstanding, max_queued_bytes);
  const ChannelOptions wanted{nonblocking, buffered, max_outstanding, max_queued_bytes};

  REQUIRE_FALSE(engine.configure(fd, wanted));
  CHECK(engine.is_channel(fd));
  ChannelOptions got{};
  REQUIRE_FALSE(engine.options(fd, got));
  CHECK(got.nonblocking == nonblocking);
  CHECK(got.buffered == buffered);
  CHECK(got.max_outstanding == max_outstanding);
  CHECK(got.max_queued_bytes == max_queued_bytes);
  // nonblocking sets O_NONBLOCK; without it the descriptor is left alone.
  CHECK(((::fcntl(fd, F_GETFL) & O_NONBLOCK) != 0) == nonblocking);

  SECTION("configuring again replaces the options") {
    const ChannelOptions other{true, !buffered, 3, 300};
    REQUIRE_FALSE(engine.configure(fd, other));
    REQUIRE_FALSE(engine.options(fd, got));
    CHECK(got.buffered == !buffered);
    CHECK(got.max_outstanding == 3);
    CHECK(got.max_queued_bytes == 300);
  }
  SECTION("a limit of 0 is EINVAL and leaves the options as they were") {
    ChannelOptions bad = wanted;
    SECTION("max_outstanding") { bad.max_outstanding = 0; }
    SECTION("max_queued_bytes") { bad.max_queued_bytes = 0; }
    CHECK(engine.configure(fd, bad) == errc(EINVAL));
    REQUIRE_FALSE(engine.options(fd, got));
    CHECK(got.max_outstanding == max_outstanding);
    CHECK(got.max_queued_bytes == max_queued_bytes);
  }
}

TEST_CASE("configure refuses descriptors that are not open and limits of 0",
          "[engine][configure][errors]") {
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  ChannelOptions options;

  SECTION("EBADF for a closed or negative descriptor, and no channel appears") {
    const int closed = pair.remote.get();
    pair.remote.reset();
    CHECK(engine.configure(closed, options) == errc(EBADF));
    CHECK_FALSE(engine.is_channel(closed));
    CHECK(engine.configure(-1, options) == errc(EBADF));
    CHECK_FALSE(engine.is_channel(-1));
  }
  SECTION("EINVAL for max_outstanding 0 or max_queued_bytes 0") {
    const auto [max_outstanding, max_queued_bytes] =
        GENERATE(table<std::size_t, std::size_t>({{0, 10}, {10, 0}, {0, 0}}));
    CAPTURE(max_outstanding, max_queued_bytes);
    options.max_outstanding = max_outstanding;
    options.max_queued_bytes = max_queued_bytes;
    CHECK(engine.configure(fd, options) == errc(EINVAL));
    CHECK_FALSE(engine.is_channel(fd));
  }
  SECTION("options() is EBADF for a descriptor that is not a channel") {
    ChannelOptions out{};
    CHECK(engine.options(fd, out) == errc(EBADF));
    CHECK(engine.options(-5, out) == errc(EBADF));
  }
}

// ---- callbacks ---------------------------------------------------------------

TEST_CASE("a write's callback runs from flush, never from write, with its details",
          "[engine][callback]") {
  int calls = 0;
  Recorder recorder;
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  const std::string text = "hello, queue";

  SECTION("a plain function with an argument") {
    REQUIRE_FALSE(engine.write(fd, bytes_of(text), Callback{count_completion, &calls}));
    CHECK(calls == 0);
    CHECK(engine.pending() == 1);
    engine.flush();
    CHECK(calls == 1);
    CHECK(engine.pending() == 0);
  }
  SECTION("Callback::to(receiver) calls receiver.on_completion") {
    REQUIRE_FALSE(engine.write(fd, bytes_of(text), Callback::to(recorder)));
    CHECK(recorder.calls.empty());
    REQUIRE_FALSE(engine.flush(fd));
    REQUIRE(recorder.calls.size() == 1);
    const Recorded& call = recorder.calls[0];
    CHECK_FALSE(call.error);
    CHECK(call.channel == fd);
    CHECK(call.operation == Operation::write);
    CHECK(call.length == text.size());
    CHECK(call.data == text);
  }
  SECTION("a write without a callback completes silently") {
    REQUIRE_FALSE(engine.write(fd, bytes_of(text)));
    engine.flush();
    CHECK(engine.pending() == 0);
  }
  CHECK(read_exactly(pair.remote.get(), text.size()) == text);
}

TEST_CASE("callbacks of one channel fire in request order", "[engine][callback]") {
  Recorder log;
  std::deque<Tagged> receivers;
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  std::string sent;
  for (int i = 0; i < 50; ++i) {
    const std::string text = "message " + std::to_string(i) + "\n";
    receivers.push_back({&log, i});
    // Every third write has no callback; the others still come in order.
    const Callback callback = i % 3 == 2 ? Callback{} : Callback::to(receivers.back());
    REQUIRE_FALSE(engine.write(fd, bytes_of(text), callback));
    sent += text;
  }
  std::string received;
  REQUIRE(pump(engine, pair.remote.get(), received,
               [&] { return engine.pending() == 0 && received.size() == sent.size(); }));
  CHECK(received == sent);
  std::vector<int> expected;
  for (int i = 0; i < 50; ++i)
    if (i % 3 != 2)
      expected.push_back(i);
  CHECK(log.tags() == expected);
}

// ---- write errors --------------------------------------------------------------

TEST_CASE("write is EBADF on a descriptor that is not a channel", "[engine][errors]") {
  int calls = 0;
  Engine engine;
  FdPair pair = socket_pair();
  const std::string text = "x";
  CHECK(engine.write(pair.local.get(), bytes_of(text), Callback{count_completion, &calls}) ==
        errc(EBADF));
  CHECK(engine.write(-1, bytes_of(text)) == errc(EBADF));
  SECTION("also after terminate") {
    REQUIRE_FALSE(engine.configure(pair.local.get(), {}));
    REQUIRE_FALSE(engine.terminate(pair.local.get()));
    CHECK(engine.write(pair.local.get(), bytes_of(text)) == errc(EBADF));
  }
  engine.flush();
  CHECK(calls == 0);
  CHECK(engine.pending() == 0);
}

TEST_CASE("write is EINVAL for null data with a size, and accepts null with size 0",
          "[engine][errors]") {
  Recorder recorder;
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  const bool buffered = GENERATE(true, false);
  CAPTURE(buffered);
  REQUIRE_FALSE(engine.configure(fd, {true, buffered}));
  CHECK(engine.write(fd, std::span<const char>(static_cast<const char*>(nullptr), 5)) ==
        errc(EINVAL));
  CHECK(engine.pending() == 0);
  CHECK_FALSE(engine.write(fd, std::span<const char>(), Callback::to(recorder)));
  engine.flush();
  REQUIRE(recorder.calls.size() == 1);
  CHECK_FALSE(recorder.calls[0].error);
  CHECK(recorder.calls[0].length == 0);
  CHECK(recorder.calls[0].buffer == nullptr);
}

TEST_CASE("a span claiming more than SSIZE_MAX bytes is refused with EINVAL, never read",
          "[engine][errors]") {
  int calls = 0;
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  // A real eight-byte buffer with a size that lies: any read past its end
  // would show under AddressSanitizer, any queued byte in pending().
  char small[8] = "1234567";
  const std::size_t largest = static_cast<std::size_t>(std::numeric_limits<ssize_t>::max());
  const auto [size, buffered] = GENERATE_COPY(table<std::size_t, bool>({
      {std::numeric_limits<std::size_t>::max(), true},
      {std::numeric_limits<std::size_t>::max(), false},
      {largest + 1, true},
      {largest + 1, false},
      {std::numeric_limits<std::size_t>::max() / 2 + 12345, true},
  }));
  CAPTURE(size, buffered);
  REQUIRE_FALSE(engine.configure(fd, {true, buffered}));
  CHECK(engine.write(fd, std::span<const char>(small, size),
                     Callback{count_completion, &calls}) == errc(EINVAL));
  CHECK(engine.read(fd, std::span<char>(small, size), Callback{count_completion, &calls}) ==
        errc(EINVAL));
  CHECK(engine.pending() == 0);
  engine.flush();
  CHECK(calls == 0);
  std::string received;
  drain_available(pair.remote.get(), received);
  CHECK(received.empty());
}

TEST_CASE("max_outstanding refuses with EAGAIN, queues nothing, and admits again after a "
          "completion",
          "[engine][limits]") {
  Recorder recorder;
  char buffer[16];
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  ChannelOptions options;
  options.max_outstanding = 2;
  REQUIRE_FALSE(engine.configure(fd, options));
  const std::string a = "first", b = "second", c = "third";

  REQUIRE_FALSE(engine.write(fd, bytes_of(a), Callback::to(recorder)));
  std::string expected = a;
  SECTION("two writes") {
    REQUIRE_FALSE(engine.write(fd, bytes_of(b), Callback::to(recorder)));
    expected += b;
  }
  SECTION("a write and a read") {
    REQUIRE_FALSE(engine.read(fd, buffer, Callback::to(recorder)));
  }
  CHECK(engine.pending(fd) == 2);
  CHECK(engine.write(fd, bytes_of(c), Callback::to(recorder)) == errc(EAGAIN));
  CHECK(engine.read(fd, buffer, Callback::to(recorder)) == errc(EAGAIN));
  CHECK(engine.seek(fd, 0, Callback::to(recorder)) == errc(EAGAIN));
  CHECK(engine.pending(fd) == 2);
  CHECK(recorder.calls.empty());

  engine.flush(); // the writes complete; a read waits for data
  REQUIRE_FALSE(recorder.calls.empty());
  CHECK(recorder.calls[0].data == a);
  REQUIRE(engine.pending(fd) < 2);
  CHECK_FALSE(engine.write(fd, bytes_of(c), Callback::to(recorder)));
  engine.flush();
  expected += c;

  // The refused requests never reached the peer, nor completed.
  std::string received;
  drain_available(pair.remote.get(), received);
  CHECK(received == expected);
  CHECK(recorder.calls.size() + engine.pending(fd) == 3);
}

TEST_CASE("max_queued_bytes refuses with EAGAIN, queues nothing, and admits again once "
          "bytes drain",
          "[engine][limits]") {
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  ChannelOptions options;
  options.max_queued_bytes = 100;
  REQUIRE_FALSE(engine.configure(fd, options));
  const std::string sixty(60, 'a'), fifty(50, 'b'), forty(40, 'c');

  REQUIRE_FALSE(engine.write(fd, bytes_of(sixty)));
  CHECK(engine.write(fd, bytes_of(fifty)) == errc(EAGAIN));
  CHECK(engine.pending(fd) == 1);
  CHECK_FALSE(engine.write(fd, bytes_of(forty))); // exactly at the limit
  CHECK(engine.write(fd, std::span<const char>(fifty.data(), 1)) == errc(EAGAIN));
  CHECK(engine.pending(fd) == 2);

  engine.flush();
  CHECK(engine.pending(fd) == 0);
  CHECK_FALSE(engine.write(fd, bytes_of(fifty)));
  engine.flush();
  CHECK(read_exactly(pair.remote.get(), 150) == sixty + forty + fifty);
  std::string rest;
  drain_available(pair.remote.get(), rest);
  CHECK(rest.empty());
}

TEST_CASE("a single write larger than max_queued_bytes is EMSGSIZE, not EAGAIN",
          "[engine][limits]") {
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  const bool buffered = GENERATE(true, false);
  CAPTURE(buffered);
  ChannelOptions options;
  options.buffered = buffered;
  options.max_queued_bytes = 100;
  REQUIRE_FALSE(engine.configure(fd, options));
  const std::string too_big(101, 'x');
  CHECK(engine.write(fd, bytes_of(too_big)) == errc(EMSGSIZE));
  CHECK(engine.pending() == 0);
  CHECK_FALSE(engine.write(fd, std::span<const char>(too_big.data(), 100)));
}

TEST_CASE("lowering max_queued_bytes below what is queued refuses writes until it drains",
          "[engine][limits]") {
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  const std::string thousand(1000, 'q');
  REQUIRE_FALSE(engine.write(fd, bytes_of(thousand))); // not flushed: 1000 unsent

  ChannelOptions options;
  options.max_queued_bytes = 100;
  REQUIRE_FALSE(engine.configure(fd, options));
  const std::string ten(10, 't');
  // 1000 + 10 bytes would be queued: more than the limit of 100.
  CHECK(engine.write(fd, bytes_of(ten)) == errc(EAGAIN));
  CHECK(engine.pending(fd) == 1);

  SECTION("once the bytes drain, writes are taken again") {
    engine.flush();
    CHECK(engine.pending(fd) == 0);
    CHECK_FALSE(engine.write(fd, bytes_of(ten)));
    engine.flush();
    CHECK(read_exactly(pair.remote.get(), 1010) == thousand + ten);
  }
  SECTION("a read or a seek queues no output bytes, so the byte limit does not refuse it") {
    char buffer[4];
    CHECK_FALSE(engine.read(fd, buffer));
    CHECK_FALSE(engine.seek(fd, 0));
    CHECK(engine.pending(fd) == 3);
  }
}

// ---- buffering ------------------------------------------------------------------

TEST_CASE("an unbuffered write sends the caller's bytes in place and hands its pointer back",
          "[engine][buffering]") {
  std::string first = "caller-owned bytes";
  std::string second(100000, 'z');
  Recorder recorder;
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, unbuffered()));
  REQUIRE_FALSE(engine.write(fd, bytes_of(first), Callback::to(recorder)));
  REQUIRE_FALSE(engine.write(fd, bytes_of(second), Callback::to(recorder)));
  // Not copied: a change before the flush is what goes out.
  first[0] = 'C';

  std::string received;
  REQUIRE(pump(engine, pair.remote.get(), received,
               [&] { return engine.pending() == 0; }));
  drain_available(pair.remote.get(), received);
  CHECK(received == first + second);
  REQUIRE(recorder.calls.size() == 2);
  CHECK(recorder.calls[0].buffer == first.data());
  CHECK(recorder.calls[0].length == first.size());
  CHECK(recorder.calls[1].buffer == second.data());
  CHECK(recorder.calls[1].length == second.size());

  SECTION("a zero-length unbuffered write hands back the caller's pointer too") {
    REQUIRE_FALSE(engine.write(fd, std::span<const char>(first.data(), 0),
                               Callback::to(recorder)));
    engine.flush();
    REQUIRE(recorder.calls.size() == 3);
    CHECK(recorder.calls[2].buffer == first.data());
    CHECK(recorder.calls[2].length == 0);
  }
}

TEST_CASE("a buffered write copies, so the caller may reuse its buffer at once",
          "[engine][buffering]") {
  Recorder recorder;
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  const auto size = GENERATE(std::size_t{1}, std::size_t{64}, std::size_t{5000},
                             std::size_t{70000});
  CAPTURE(size);
  std::string scratch(size, '1');
  REQUIRE_FALSE(engine.write(fd, bytes_of(scratch), Callback::to(recorder)));
  scratch.assign(size, '2');
  REQUIRE_FALSE(engine.write(fd, bytes_of(scratch), Callback::to(recorder)));
  scratch.assign(size, '3');

  std::string received;
  REQUIRE(pump(engine, pair.remote.get(), received,
               [&] { return engine.pending() == 0 && received.size() == 2 * size; }));
  CHECK(received == std::string(size, '1') + std::string(size, '2'));
  REQUIRE(recorder.calls.size() == 2);
  for (const Recorded& call : recorder.calls) {
    CHECK(call.buffer != nullptr);
    CHECK(call.buffer != scratch.data());
    CHECK(call.length == size);
  }
  CHECK(recorder.calls[0].data == std::string(size, '1'));
  CHECK(recorder.calls[1].data == std::string(size, '2'));
}

// ---- several engines --------------------------------------------------------------

TEST_CASE("several engines in one thread keep separate channels and pending counts",
          "[engine][engines]") {
  Recorder first_log;
  Recorder second_log;
  char buffer[8];
  Engine first;
  Engine second;
  FdPair first_pair = socket_pair();
  FdPair second_pair = socket_pair();
  const int first_fd = first_pair.local.get();
  const int second_fd = second_pair.local.get();
  REQUIRE_FALSE(first.configure(first_fd, {}));
  REQUIRE_FALSE(second.configure(second_fd, unbuffered()));

  CHECK(first.is_channel(first_fd));
  CHECK_FALSE(first.is_channel(second_fd));
  CHECK_FALSE(second.is_channel(first_fd));
  const std::string text = "abc";
  CHECK(first.write(second_fd, bytes_of(text)) == errc(EBADF));

  REQUIRE_FALSE(first.write(first_fd, bytes_of(text), Callback::to(first_log)));
  REQUIRE_FALSE(first.write(first_fd, bytes_of(text), Callback::to(first_log)));
  REQUIRE_FALSE(second.write(second_fd, bytes_of(text), Callback::to(second_log)));
  REQUIRE_FALSE(second.read(second_fd, buffer, Callback::to(second_log)));
  CHECK(first.pending() == 2);
  CHECK(second.pending() == 2);
  CHECK(first.pending(second_fd) == 0);

  first.flush();
  CHECK(first.pending() == 0);
  CHECK(first_log.calls.size() == 2);
  CHECK(second.pending() == 2);
  CHECK(second_log.calls.empty());

  second.flush();
  CHECK(second.pending() == 1); // the read waits for data
  CHECK(second_log.calls.size() == 1);
  CHECK(read_exactly(first_pair.remote.get(), 6) == "abcabc");
  CHECK(read_exactly(second_pair.remote.get(), 3) == "abc");

  SECTION("the same descriptor may be a channel of two engines") {
    REQUIRE_FALSE(first.configure(second_fd, {}));
    CHECK(first.pending(second_fd) == 0);
    CHECK(second.pending(second_fd) == 1);
    REQUIRE_FALSE(first.terminate(second_fd));
    CHECK(second.is_channel(second_fd));
    CHECK(second_log.calls.size() == 1);
  }
}

namespace {

// What one engine thread saw; checked by the main thread, since Catch2's
// assertions are not thread-safe.
struct ThreadOutcome {
  std::size_t writes = 0;
  std::size_t callbacks = 0;
  bool callbacks_in_order = true;
  bool lengths_right = true;
  bool bytes_equal = false;
  std::size_t pending_left = 1;
};

struct Counted {
  ThreadOutcome* outcome;
  std::size_t index;
  std::size_t length;
  std::size_t* next_index;
  void on_completion(const Completion& completion) {
    ++outcome->callbacks;
    if (index != (*next_index)++)
      outcome->callbacks_in_order = false;
    if (completion.error || completion.length != length)
      outcome->lengths_right = false;
  }
};

void write_and_flush_on_own_engine(unsigned seed, std::latch& start,
                                   ThreadOutcome& outcome) {
  std::deque<Counted> receivers;
  std::size_t next_index = 0;
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  std::mt19937 random(seed);
  if (engine.configure(fd, {}))
    return;
  std::string sent;
  std::string received;
  std::string scratch;
  start.arrive_and_wait();
  for (std::size_t i = 0; i < 3000; ++i) {
    scratch.assign(random() % 3000, static_cast<char>('a' + (seed + i) % 26));
    receivers.push_back({&outcome, i, scratch.size(), &next_index});
    if (engine.write(fd, bytes_of(scratch), Callback::to(receivers.back())))
      return;
    sent += scratch;
    ++outcome.writes;
    if (i % 40 == 0) {
      engine.flush();
      drain_available(pair.remote.get(), received);
    }
  }
  pump(engine, pair.remote.get(), received,
       [&] { return engine.pending() == 0 && received.size() >= sent.size(); });
  outcome.bytes_equal = received == sent;
  outcome.pending_left = engine.pending();
}

} // namespace

TEST_CASE("two engines on their own threads each complete everything they queued",
          "[engine][engines][threads]") {
  ThreadOutcome first;
  ThreadOutcome second;
  std::latch start(2);
  std::thread first_thread(write_and_flush_on_own_engine, 1u, std::ref(start),
                           std::ref(first));
  std::thread second_thread(write_and_flush_on_own_engine, 2u, std::ref(start),
                            std::ref(second));
  first_thread.join();
  second_thread.join();
  for (const ThreadOutcome* outcome : {&first, &second}) {
    CHECK(outcome->writes == 3000);
    CHECK(outcome->callbacks == 3000);
    CHECK(outcome->callbacks_in_order);
    CHECK(outcome->lengths_right);
    CHECK(outcome->bytes_equal);
    CHECK(outcome->pending_left == 0);
  }
}

// ---- cancelling -------------------------------------------------------------------

TEST_CASE("destroying an engine cancels each pending request once with ECANCELED",
          "[engine][cancel]") {
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  Recorder log;
  std::string large(4 << 20, 'L'); // more than a socket buffer holds
  const std::string small = "small";
  char buffer[16];
  std::deque<Tagged> receivers;
  for (int tag = 0; tag < 5; ++tag)
    receivers.push_back({&log, tag});
  {
    Engine engine;
    REQUIRE_FALSE(engine.configure(fd, unbuffered()));
    REQUIRE_FALSE(engine.write(fd, bytes_of(small), Callback::to(receivers[0])));
    engine.flush(); // the first write completes before the end
    REQUIRE(log.calls.size() == 1);
    REQUIRE_FALSE(engine.write(fd, bytes_of(large), Callback::to(receivers[1])));
    REQUIRE_FALSE(engine.read(fd, buffer, Callback::to(receivers[2])));
    REQUIRE_FALSE(engine.write(fd, bytes_of(small))); // no callback
    REQUIRE_FALSE(engine.write(fd, bytes_of(small), Callback::to(receivers[3])));
    REQUIRE_FALSE(engine.seek(fd, 0, Callback::to(receivers[4])));
    engine.flush(); // the large write goes out in part
    CHECK(engine.pending() == 5);
    CHECK(log.calls.size() == 1);
  }
  REQUIRE(log.calls.size() == 5);
  CHECK(log.tags() == std::vector<int>{0, 1, 2, 3, 4});
  CHECK_FALSE(log.calls[0].error);
  for (std::size_t i = 1; i < 5; ++i) {
    CAPTURE(i);
    CHECK(log.calls[i].error == errc(ECANCELED));
    CHECK(log.calls[i].channel == fd);
  }
  // The partly written request reports the bytes that reached the peer.
  std::string received;
  drain_available(pair.remote.get(), received);
  REQUIRE(received.size() > small.size());
  CHECK(log.calls[1].length == received.size() - small.size());
  CHECK(log.calls[1].length < large.size());
  CHECK(log.calls[1].buffer == large.data());
  CHECK(log.calls[2].operation == Operation::read);
  CHECK(log.calls[2].buffer == buffer);
  CHECK(log.calls[2].length == 0);
  CHECK(log.calls[3].length == 0);
  CHECK(log.calls[4].operation == Operation::seek);
}

namespace {

// Terminates a channel from its completion callback (once).
struct Terminator {
  Engine* engine = nullptr;
  int fd = -1;
  Recorder* log = nullptr;
  std::error_code result = errc(EIO);
  void on_completion(const Completion& completion) {
    log->record(completion, 0);
    if (engine != nullptr)
      result = std::exchange(engine, nullptr)->terminate(fd);
  }
};

// Calls wait on its own channel from a completion callback (once).
struct Waiter {
  Engine* engine = nullptr;
  int fd = -1;
  std::error_code result;
  void on_completion(const Completion&) {
    if (engine != nullptr)
      result = std::exchange(engine, nullptr)->wait(fd, 0);
  }
};

} // namespace

TEST_CASE("a callback may terminate its own channel", "[engine][cancel][reentrancy]") {
  Recorder log;
  Terminator terminator;
  Tagged second{&log, 1};
  Tagged third{&log, 2};
  char buffer[8];
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  terminator = {&engine, fd, &log, errc(EIO)};
  const std::string text = "payload";
  REQUIRE_FALSE(engine.write(fd, bytes_of(text), Callback::to(terminator)));
  REQUIRE_FALSE(engine.write(fd, bytes_of(text), Callback::to(second)));
  REQUIRE_FALSE(engine.read(fd, buffer, Callback::to(third)));

  SECTION("during flush()") { engine.flush(); }
  SECTION("during flush(fd)") { CHECK_FALSE(engine.flush(fd)); }
  SECTION("during wait(fd)") { CHECK_FALSE(engine.wait(fd, 5000)); }

  CHECK_FALSE(terminator.result);
  REQUIRE(log.calls.size() == 3);
  CHECK(log.tags() == std::vector<int>{0, 1, 2});
  CHECK_FALSE(log.calls[0].error);
  CHECK(log.calls[1].error == errc(ECANCELED));
  CHECK(log.calls[2].error == errc(ECANCELED));
  CHECK_FALSE(engine.is_channel(fd));
  CHECK(engine.pending() == 0);
  CHECK(engine.write(fd, bytes_of(text)) == errc(EBADF));
  engine.flush();
  CHECK(log.calls.size() == 3);
  // The descriptor is left open and usable.
  CHECK(::fcntl(fd, F_GETFL) != -1);
  REQUIRE_FALSE(engine.configure(fd, {}));
  CHECK_FALSE(engine.write(fd, bytes_of(text)));
  engine.flush();
  CHECK(engine.pending() == 0);
}

TEST_CASE("prune cancels queued requests but keeps a partly written write",
          "[engine][cancel]") {
  Recorder log;
  std::deque<Tagged> receivers;
  std::string large(4 << 20, 'P');
  char buffer[8];
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, unbuffered()));
  for (int tag = 0; tag < 4; ++tag)
    receivers.push_back({&log, tag});
  const std::string small = "small";
  REQUIRE_FALSE(engine.write(fd, bytes_of(large), Callback::to(receivers[0])));
  REQUIRE_FALSE(engine.write(fd, bytes_of(small), Callback::to(receivers[1])));
  REQUIRE_FALSE(engine.read(fd, buffer, Callback::to(receivers[2])));
  REQUIRE_FALSE(engine.write(fd, bytes_of(small), Callback::to(receivers[3])));

  std::string received;
  SECTION("a partly written write survives and completes in full") {
    engine.flush();
    REQUIRE(engine.pending(fd) == 4);
    REQUIRE_FALSE(engine.prune(fd));
    REQUIRE(log.calls.size() == 3);
    CHECK(log.tags() == std::vector<int>{1, 2, 3});
    for (const Recorded& call : log.calls)
      CHECK(call.error == errc(ECANCELED));
    CHECK(engine.pending(fd) == 1);
    REQUIRE(pump(engine, pair.remote.get(), received,
                 [&] { return engine.pending() == 0 && received.size() >= large.size(); }));
    REQUIRE(log.calls.size() == 4);
    CHECK(log.calls[3].tag == 0);
    CHECK_FALSE(log.calls[3].error);
    CHECK(log.calls[3].length == large.size());
    drain_available(pair.remote.get(), received);
    CHECK(received == large);
  }
  SECTION("nothing written yet: everything is cancelled and nothing is sent") {
    REQUIRE_FALSE(engine.prune(fd));
    CHECK(log.tags() == std::vector<int>{0, 1, 2, 3});
    CHECK(engine.pending() == 0);
    engine.flush();
    drain_available(pair.remote.get(), received);
    CHECK(received.empty());
  }
  CHECK(engine.prune(pair.remote.get()) == errc(EBADF));
}

TEST_CASE("calls on a descriptor that is not a channel are EBADF or report nothing",
          "[engine][errors]") {
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  char buffer[4];
  CHECK(engine.read(fd, buffer) == errc(EBADF));
  CHECK(engine.seek(fd, 0) == errc(EBADF));
  CHECK(engine.flush(fd) == errc(EBADF));
  CHECK(engine.wait(fd, 0) == errc(EBADF));
  CHECK(engine.prune(fd) == errc(EBADF));
  CHECK(engine.terminate(fd) == errc(EBADF));
  CHECK(engine.terminate(-1) == errc(EBADF));
  CHECK(engine.pending(fd) == 0);
  CHECK(engine.pending(-1) == 0);
  CHECK_FALSE(engine.is_channel(fd));
  CHECK_FALSE(engine.is_channel(-1));
}

// ---- waiting ------------------------------------------------------------------

TEST_CASE("wait times out while the peer does not read and returns once it has",
          "[engine][wait]") {
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  CHECK(engine.wait(fd, -2) == errc(EINVAL));
  const std::string large(2 << 20, 'W');
  REQUIRE_FALSE(engine.write(fd, bytes_of(large)));
  CHECK(engine.wait(fd, 0) == errc(ETIMEDOUT));
  CHECK(engine.wait(fd, 20) == errc(ETIMEDOUT));
  CHECK(engine.pending(fd) == 1);

  std::string received;
  std::thread reader([&] { received = read_exactly(pair.remote.get(), large.size()); });
  const std::error_code result = engine.wait(fd, 20000);
  reader.join();
  CHECK_FALSE(result);
  CHECK(engine.pending(fd) == 0);
  CHECK(received == large);
}

TEST_CASE("wait from a callback on its own channel is EDEADLK", "[engine][wait][reentrancy]") {
  Waiter waiter;
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  waiter = {&engine, fd, {}};
  const std::string text = "x";
  REQUIRE_FALSE(engine.write(fd, bytes_of(text), Callback::to(waiter)));
  engine.flush();
  CHECK(waiter.result == errc(EDEADLK));
}

// ---- select integration and diagnostics ----------------------------------------

TEST_CASE("fill_fdset marks exactly the channels with pending output", "[engine][fdset]") {
  Engine engine;
  FdPair writer = socket_pair();
  FdPair reader = socket_pair();
  FdPair idle = socket_pair();
  REQUIRE_FALSE(engine.configure(writer.local.get(), {}));
  REQUIRE_FALSE(engine.configure(reader.local.get(), {}));
  REQUIRE_FALSE(engine.configure(idle.local.get(), {}));
  fd_set mask;
  FD_ZERO(&mask);
  CHECK(engine.fill_fdset(mask) == 0);

  const std::string text = "out";
  char buffer[4];
  REQUIRE_FALSE(engine.write(writer.local.get(), bytes_of(text)));
  REQUIRE_FALSE(engine.read(reader.local.get(), buffer));
  FD_ZERO(&mask);
  CHECK(engine.fill_fdset(mask) == writer.local.get() + 1);
  CHECK(FD_ISSET(writer.local.get(), &mask));
  CHECK_FALSE(FD_ISSET(reader.local.get(), &mask)); // a read is not output
  CHECK_FALSE(FD_ISSET(idle.local.get(), &mask));

  SECTION("bits already in the mask are kept") {
    fd_set other;
    FD_ZERO(&other);
    FD_SET(idle.local.get(), &other);
    engine.fill_fdset(other);
    CHECK(FD_ISSET(idle.local.get(), &other));
    CHECK(FD_ISSET(writer.local.get(), &other));
  }
  SECTION("once the output is written the channel is no longer marked") {
    engine.flush();
    FD_ZERO(&mask);
    CHECK(engine.fill_fdset(mask) == 0);
    CHECK_FALSE(FD_ISSET(writer.local.get(), &mask));
  }
  SECTION("a channel at or above FD_SETSIZE is never passed to FD_SET") {
    Fd high(::fcntl(writer.local.get(), F_DUPFD, FD_SETSIZE + 10));
    REQUIRE(high.get() >= FD_SETSIZE);
    REQUIRE_FALSE(engine.configure(high.get(), {}));
    REQUIRE_FALSE(engine.write(high.get(), bytes_of(text)));
    REQUIRE_FALSE(engine.terminate(writer.local.get()));
    // fd_set has room for FD_SETSIZE bits only: under AddressSanitizer an
    // FD_SET past them is a stack overflow.
    FD_ZERO(&mask);
    CHECK(engine.fill_fdset(mask) == 0);
    engine.flush();
    CHECK(engine.pending(high.get()) == 0);
  }
}

TEST_CASE("set_trace prints calls, completions and hex dumps of the data to stderr",
          "[engine][trace]") {
  const bool enabled = GENERATE(true, false);
  CAPTURE(enabled);
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  char buffer[8];
  const std::string text = "hello";
  std::string traced;
  {
    // stderr goes to a temporary file for the length of this block.
    Fd capture = temporary_file();
    std::fflush(stderr);
    Fd saved_stderr(::dup(STDERR_FILENO));
    REQUIRE(::dup2(capture.get(), STDERR_FILENO) == STDERR_FILENO);
    engine.set_trace(enabled);
    const bool queued = !engine.write(fd, bytes_of(text)) && !engine.read(fd, buffer);
    engine.flush();
    const bool peer_wrote = ::write(pair.remote.get(), "abc", 3) == 3;
    engine.flush();
    engine.set_trace(false);
    std::fflush(stderr);
    ::dup2(saved_stderr.get(), STDERR_FILENO);
    REQUIRE(queued);
    REQUIRE(peer_wrote);
    ::lseek(capture.get(), 0, SEEK_SET);
    drain_available(capture.get(), traced);
    CAPTURE(traced);
    if (!enabled) {
      CHECK(traced.empty());
    } else {
      CHECK(traced.find("write queued on channel " + std::to_string(fd)) != std::string::npos);
      CHECK(traced.find("68 65 6c 6c 6f") != std::string::npos); // "hello" sent
      CHECK(traced.find("|hello|") != std::string::npos);
      CHECK(traced.find("|abc|") != std::string::npos); // the bytes read
      CHECK(traced.find("completed") != std::string::npos);
    }
  }
  CHECK(engine.pending() == 0);
}

namespace {

// A trace handler's log: every line it was given, in order.
struct TraceLog {
  std::vector<std::string> lines;
  static void record(const char* line, void* log) {
    static_cast<TraceLog*>(log)->lines.emplace_back(line);
  }
  bool has_line_containing(const std::string& text) const {
    return std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
      return line.find(text) != std::string::npos;
    });
  }
};

} // namespace

TEST_CASE("set_trace_handler sends each engine's trace to its own handler, one line per call "
          "without a newline",
          "[engine][trace]") {
  // The logs outlive the engines, whose destructors trace too.
  TraceLog first_log;
  TraceLog second_log;
  Engine first;
  Engine second;
  first.set_trace_handler(TraceLog::record, &first_log);
  second.set_trace_handler(TraceLog::record, &second_log);
  FdPair first_pair = socket_pair();
  FdPair second_pair = socket_pair();
  const int first_fd = first_pair.local.get();
  const int second_fd = second_pair.local.get();
  REQUIRE_FALSE(first.configure(first_fd, {}));
  REQUIRE_FALSE(second.configure(second_fd, {}));
  first.set_trace(true);
  second.set_trace(true);
  const std::string text = "twenty bytes of text";
  REQUIRE_FALSE(first.write(first_fd, bytes_of(text)));
  first.flush();
  REQUIRE_FALSE(second.write(second_fd, bytes_of("xy")));
  second.flush();

  CAPTURE(first_log.lines, second_log.lines);
  CHECK(first_log.has_line_containing("write queued on channel " + std::to_string(first_fd)));
  CHECK(first_log.has_line_containing("|twenty bytes of |")); // a hex dump's first line
  CHECK(first_log.has_line_containing("|text|"));             // and its second
  CHECK(second_log.has_line_containing("write queued on channel " + std::to_string(second_fd)));
  CHECK(second_log.has_line_containing("|xy|"));
  CHECK_FALSE(second_log.has_line_containing("twenty"));
  for (const std::string& line : first_log.lines)
    CHECK(line.find('\n') == std::string::npos);
}

TEST_CASE("a trace handler gets nothing while the trace is off", "[engine][trace]") {
  TraceLog log;
  Engine engine;
  engine.set_trace_handler(TraceLog::record, &log);
  FdPair pair = socket_pair();
  REQUIRE_FALSE(engine.configure(pair.local.get(), {}));
  REQUIRE_FALSE(engine.write(pair.local.get(), bytes_of("quiet")));
  engine.flush();
  CHECK(log.lines.empty());
}

TEST_CASE("dump prints each channel's settings and queued requests", "[engine][dump]") {
  char buffer[4];
  int calls = 0;
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  ChannelOptions options;
  options.max_outstanding = 9;
  REQUIRE_FALSE(engine.configure(fd, options));
  const std::string text = "0123456789";
  REQUIRE_FALSE(engine.write(fd, bytes_of(text), Callback{count_completion, &calls}));
  REQUIRE_FALSE(engine.write(fd, std::span<const char>(text.data(), 3)));
  REQUIRE_FALSE(engine.read(fd, buffer));

  std::FILE* file = std::tmpfile();
  REQUIRE(file != nullptr);
  CHECK_FALSE(engine.dump(file));
  std::rewind(file);
  std::string text_dumped;
  char chunk[512];
  while (const std::size_t n = std::fread(chunk, 1, sizeof chunk, file))
    text_dumped.append(chunk, n);
  std::fclose(file);
  CAPTURE(text_dumped);

  CHECK(text_dumped.find("1 channel(s), 3 request(s) pending") != std::string::npos);
  CHECK(text_dumped.find("channel " + std::to_string(fd) + ":") != std::string::npos);
  CHECK(text_dumped.find("max_outstanding 9") != std::string::npos);
  CHECK(text_dumped.find("13 unsent byte(s)") != std::string::npos);
  CHECK(text_dumped.find("length       10") != std::string::npos);
  CHECK(text_dumped.find("AST yes") != std::string::npos);
  CHECK(text_dumped.find("AST no") != std::string::npos);
  CHECK(text_dumped.find("read") != std::string::npos);
  CHECK(calls == 0); // dumping completes nothing

  SECTION("a stream that cannot be written is reported") {
    std::FILE* read_only = std::fopen("/dev/null", "r");
    REQUIRE(read_only != nullptr);
    CHECK(engine.dump(read_only));
    std::fclose(read_only);
  }
}

// ---- reading and seeking ------------------------------------------------------------

TEST_CASE("a read completes with the bytes available, and with length 0 at end of file",
          "[engine][read]") {
  Recorder log;
  char buffer[16];
  Engine engine;
  FdPair pair;
  bool is_pipe = true;
  bool nonblocking = true;
  SECTION("socket") {
    pair = socket_pair();
    is_pipe = false;
  }
  SECTION("non-blocking pipe") { pair = pipe_pair(); }
  SECTION("blocking pipe, polled first") {
    pair = pipe_pair();
    nonblocking = false;
  }
  // A pipe is read at its read end (support's `remote`).
  const int channel = is_pipe ? pair.remote.get() : pair.local.get();
  const int peer = is_pipe ? pair.local.get() : pair.remote.get();
  CAPTURE(is_pipe, nonblocking);
  REQUIRE_FALSE(engine.configure(channel, {nonblocking, true}));

  std::memset(buffer, 0, sizeof buffer);
  REQUIRE_FALSE(engine.read(channel, buffer, Callback::to(log)));
  engine.flush(); // nothing to read yet: neither blocks nor completes
  CHECK(log.calls.empty());
  CHECK(engine.pending(channel) == 1);

  REQUIRE(::write(peer, "abc", 3) == 3);
  engine.flush();
  REQUIRE(log.calls.size() == 1);
  CHECK_FALSE(log.calls[0].error);
  CHECK(log.calls[0].operation == Operation::read);
  CHECK(log.calls[0].channel == channel);
  CHECK(log.calls[0].buffer == buffer);
  CHECK(log.calls[0].length == 3);
  CHECK(log.calls[0].data == "abc");

  REQUIRE_FALSE(engine.read(channel, buffer, Callback::to(log)));
  if (is_pipe)
    pair.local.reset();
  else
    REQUIRE(::shutdown(peer, SHUT_WR) == 0);
  engine.flush();
  REQUIRE(log.calls.size() == 2);
  CHECK_FALSE(log.calls[1].error);
  CHECK(log.calls[1].length == 0);
  CHECK(engine.pending() == 0);
}

TEST_CASE("on a regular file writes, seeks and reads run strictly in order",
          "[engine][read][seek][file]") {
  Recorder log;
  std::deque<Tagged> receivers;
  char first[64], second[64], third[64];
  Engine engine;
  Fd file = temporary_file();
  const int fd = file.get();
  const bool buffered = GENERATE(true, false);
  CAPTURE(buffered);
  REQUIRE_FALSE(engine.configure(fd, {true, buffered}));
  auto next = [&] {
    receivers.push_back({&log, static_cast<int>(receivers.size())});
    return Callback::to(receivers.back());
  };
  const std::string digits = "0123456789", ab = "ab", xy = "XY";

  REQUIRE_FALSE(engine.write(fd, bytes_of(digits), next()));  // 0
  REQUIRE_FALSE(engine.seek(fd, 2, next()));                  // 1
  REQUIRE_FALSE(engine.write(fd, bytes_of(ab), next()));      // 2: 01ab456789
  REQUIRE_FALSE(engine.seek(fd, 0, next()));                  // 3
  REQUIRE_FALSE(engine.read(fd, first, next()));              // 4: whole file
  REQUIRE_FALSE(engine.write(fd, bytes_of(xy), next()));      // 5: appended
  REQUIRE_FALSE(engine.seek(fd, 0, next()));                  // 6
  REQUIRE_FALSE(engine.read(fd, second, next()));             // 7
  REQUIRE_FALSE(engine.read(fd, third, next()));              // 8: end of file
  CHECK(log.calls.empty());
  CHECK(engine.pending(fd) == 9);

  engine.flush();
  CHECK(engine.pending(fd) == 0);
  REQUIRE(log.calls.size() == 9);
  CHECK(log.tags() == std::vector<int>{0, 1, 2, 3, 4, 5, 6, 7, 8});
  for (const Recorded& call : log.calls)
    CHECK_FALSE(call.error);
  const Operation expected_operations[] = {
      Operation::write, Operation::seek, Operation::write, Operation::seek, Operation::read,
      Operation::write, Operation::seek, Operation::read,  Operation::read};
  for (std::size_t i = 0; i < 9; ++i) {
    CAPTURE(i);
    CHECK(log.calls[i].operation == expected_operations[i]);
  }
  CHECK(log.calls[1].buffer == nullptr);
  CHECK(log.calls[1].length == 0);
  CHECK(log.calls[4].buffer == first);
  CHECK(log.calls[4].data == "01ab456789");
  CHECK(log.calls[7].data == "01ab456789XY");
  CHECK(log.calls[8].buffer == third);
  CHECK(log.calls[8].length == 0);
}

TEST_CASE("seek on a socket completes with ESPIPE; a negative offset is EINVAL",
          "[engine][seek][errors]") {
  Recorder log;
  Engine engine;
  FdPair pair = socket_pair();
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  CHECK(engine.seek(fd, -1) == errc(EINVAL));
  CHECK(engine.pending() == 0);
  REQUIRE_FALSE(engine.seek(fd, 10, Callback::to(log)));
  engine.flush();
  REQUIRE(log.calls.size() == 1);
  CHECK(log.calls[0].error == errc(ESPIPE));
  CHECK(log.calls[0].operation == Operation::seek);
}
