// SPDX-License-Identifier: MIT
// test_flow_control.cpp - statistics, hard/soft/stall limits, the
// engine-wide limit, watermarks, close after drain and loop integration.
// Time comes from a fake clock through the syscall seam: no test sleeps.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "qio/engine.hpp"
#include "qio/qio.h"
#include "support.hpp"
#include "system_calls.hpp"

namespace {

using qio::Callback;
using qio::ChannelOptions;
using qio::ChannelStats;
using qio::Completion;
using qio::Engine;
using qio::Operation;
using qio_test::Fd;
using qio_test::FdPair;

std::error_code errc(int value) { return {value, std::generic_category()}; }

// The kernel, but for a clock the test moves and a count of closes.
class FakeClock : public qio::detail::SystemCalls {
public:
  std::int64_t now_ms = 1'000'000;
  int closes = 0;
  int shutdowns = 0;

  int clock_gettime(clockid_t, timespec* now) override {
    now->tv_sec = static_cast<time_t>(now_ms / 1000);
    now->tv_nsec = static_cast<long>(now_ms % 1000) * 1'000'000;
    return 0;
  }
  int shutdown(int fd, int how) override {
    ++shutdowns;
    return SystemCalls::shutdown(fd, how);
  }
  int close(int fd) override {
    ++closes;
    return SystemCalls::close(fd);
  }
};

// A socketpair whose sending side holds little, so output stays queued
// while the peer does not read.
FdPair small_socket_pair() {
  FdPair pair = qio_test::socket_pair();
  const int size = 4096;
  ::setsockopt(pair.local.get(), SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  ::setsockopt(pair.remote.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  return pair;
}

// Every completion, in order.
struct Recorder {
  struct Call {
    int error;
    int channel;
    Operation operation;
    std::size_t length;
    int tag;
  };
  std::vector<Call> calls;
  struct Tag {
    Recorder* recorder;
    int tag;
    void on_completion(const Completion& completion) {
      recorder->calls.push_back({completion.error.value(), completion.channel,
                                 completion.operation, completion.length, tag});
    }
  };
  std::vector<std::unique_ptr<Tag>> tags;
  Callback next(int tag) {
    tags.push_back(std::make_unique<Tag>(Tag{this, tag}));
    return Callback::to(*tags.back());
  }
};

std::string text(std::size_t length, char fill) { return std::string(length, fill); }

// An engine on a fake clock and one channel, configured with `options`,
// whose peer reads only when the test says. Tests bind its members:
//   auto& [clock, engine, pair, fd, recorder] = setup;
struct ClockedChannel {
  FakeClock clock;
  Engine engine = qio::detail::Seam::engine_over(clock);
  FdPair pair = small_socket_pair();
  int fd = pair.local.get();
  Recorder recorder;

  explicit ClockedChannel(const ChannelOptions& options) {
    REQUIRE_FALSE(engine.configure(fd, options));
  }
};

ChannelStats stats_of(const Engine& engine, int fd) {
  ChannelStats stats;
  REQUIRE_FALSE(engine.stats(fd, stats));
  return stats;
}

} // namespace

// ---- the C API: every error of every new function ------------------------------

TEST_CASE_METHOD(qio_test::CApiChannel, "each flow-control call reports its documented errors",
                 "[qio][flow][errors]") {
  const int unopened = qio_test::unopened_descriptor();
  qio_channel_stats stats{};
  qio_limits limits{};
  CHECK(qio_stat(unopened, &stats) == EBADF);
  CHECK(qio_setlimits(unopened, &limits) == EBADF);
  CHECK(qio_watermark(unopened, 10, 5, [](int, int, size_t, void*) {}, nullptr) == EBADF);
  CHECK(qio_close(unopened, -1, nullptr, nullptr) == EBADF);
  CHECK(qio_stat(fd, nullptr) == EINVAL);
  CHECK(qio_setlimits(fd, nullptr) == EINVAL);
  limits.soft_ms = -1;
  CHECK(qio_setlimits(fd, &limits) == EINVAL);
  limits = {};
  limits.stall_ms = -5;
  CHECK(qio_setlimits(fd, &limits) == EINVAL);
  CHECK(qio_watermark(fd, 5, 10, [](int, int, size_t, void*) {}, nullptr) == EINVAL);
  CHECK(qio_watermark(fd, 5, 10, nullptr, nullptr) == 0); // removing needs no order
  CHECK(qio_close(fd, -2, nullptr, nullptr) == EINVAL);
  CHECK(qio_setlimit_total(0) == 0);
  CHECK(qio_set_interest(nullptr, nullptr) == 0);
  CHECK(qio_timeout_ms() == -1);
  const int saved = errno = 1234;
  CHECK(qio_stat(fd, &stats) == 0);
  CHECK(errno == saved);
}

TEST_CASE_METHOD(qio_test::CApiChannel, "qio_stat counts what a channel wrote, keeps counting "
                 "across qio_configure and starts again after qio_termc",
                 "[qio][flow][stats]") {
  for (int i = 0; i < 10; ++i)
    REQUIRE(qio_write(fd, "0123456789", 10, nullptr, nullptr) == 0);
  qio_channel_stats stats{};
  REQUIRE(qio_stat(fd, &stats) == 0);
  CHECK(stats.queued_bytes == 100);
  CHECK(stats.queued_requests == qio_pendc(fd));
  CHECK(stats.queued_requests == 10);
  CHECK(stats.bytes_written == 0);
  CHECK(stats.write_calls == 0);
  CHECK(stats.peak_queued_bytes == 100);
  CHECK(stats.stalled_ms == 0);
  REQUIRE(qio_flush() == 0);
  REQUIRE(qio_stat(fd, &stats) == 0);
  CHECK(stats.queued_bytes == 0);
  CHECK(stats.queued_requests == 0);
  CHECK(stats.bytes_written == 100);
  CHECK(stats.write_calls == 1);
  CHECK(stats.requests_completed == 10);
  CHECK(stats.peak_queued_bytes == 100);
  REQUIRE(qio_configure(fd, 1, 1, -1) == 0);
  REQUIRE(qio_stat(fd, &stats) == 0);
  CHECK(stats.bytes_written == 100);
  REQUIRE(qio_termc(fd) == 0);
  REQUIRE(qio_configure(fd, 1, 1, -1) == 0);
  REQUIRE(qio_stat(fd, &stats) == 0);
  CHECK(stats.bytes_written == 0);
  CHECK(stats.peak_queued_bytes == 0);
}

TEST_CASE_METHOD(qio_test::CApiEngine, "the hard limit refuses a write that would pass it and "
                 "queues nothing",
                 "[qio][flow][limits]") {
  const int fd = open_channel(small_socket_pair()).local.get();
  const qio_limits limits{100, 0, 0, 0};
  REQUIRE(qio_setlimits(fd, &limits) == 0);
  const std::string sixty = text(60, 'a');
  CHECK(qio_write(fd, sixty.data(), 60, nullptr, nullptr) == 0);
  CHECK(qio_write(fd, sixty.data(), 40, nullptr, nullptr) == 0);
  CHECK(qio_write(fd, sixty.data(), 1, nullptr, nullptr) == EAGAIN);
  CHECK(qio_pendc(fd) == 2);
  const std::string big = text(101, 'b');
  CHECK(qio_write(fd, big.data(), 101, nullptr, nullptr) == EMSGSIZE);
  // qio_configure keeps the limits.
  REQUIRE(qio_configure(fd, 1, 1, -1) == 0);
  CHECK(qio_write(fd, sixty.data(), 1, nullptr, nullptr) == EAGAIN);
}

// ---- soft and stall limits, on a fake clock -------------------------------------

TEST_CASE("above the soft limit for soft_ms, every pending request fails with ENOBUFS in "
          "order and the error sticks until configure",
          "[qio][flow][limits][soft]") {
  ChannelOptions options;
  options.soft_queued_bytes = 64 * 1024;
  options.soft_ms = 500;
  ClockedChannel setup(options);
  auto& [clock, engine, pair, fd, recorder] = setup;
  const std::string chunk = text(32 * 1024, 'x');
  for (int i = 0; i < 8; ++i)
    REQUIRE_FALSE(engine.write(fd, chunk, recorder.next(i)));
  char buffer[16];
  REQUIRE_FALSE(engine.read(fd, buffer, recorder.next(100)));

  engine.flush(); // above the soft limit from now
  const std::size_t completed_before = recorder.calls.size();
  clock.now_ms += 499;
  engine.flush();
  CHECK(recorder.calls.size() == completed_before);
  CHECK(engine.timeout_ms() == 1);
  clock.now_ms += 1;
  engine.flush();
  REQUIRE(recorder.calls.size() == 9);
  int previous_tag = -1;
  bool partial_seen = false;
  for (const Recorder::Call& call : recorder.calls) {
    CHECK(call.tag > previous_tag); // request order
    previous_tag = call.tag;
    if (call.tag >= static_cast<int>(completed_before) && call.tag < 100) {
      CHECK(call.error == ENOBUFS);
      partial_seen |= call.length > 0 && call.length < chunk.size();
    }
  }
  CHECK(recorder.calls.back().operation == Operation::read);
  CHECK(recorder.calls.back().error == ENOBUFS);
  CHECK(engine.pending(fd) == 0);
  CHECK(stats_of(engine, fd).queued_bytes == 0);
  CHECK(engine.write(fd, chunk) == errc(ENOBUFS));
  REQUIRE_FALSE(engine.configure(fd, options));
  CHECK_FALSE(engine.write(fd, std::string("after")));
  (void)partial_seen; // a write partly sent reports its bytes; not every run has one
}

TEST_CASE("soft_ms 0 fails the channel at the first flush that sees it above the soft limit",
          "[qio][flow][limits][soft]") {
  ChannelOptions options;
  options.soft_queued_bytes = 1000;
  ClockedChannel setup(options);
  auto& [clock, engine, pair, fd, recorder] = setup;
  REQUIRE_FALSE(engine.write(fd, text(900, 'a'), recorder.next(0)));
  engine.flush(); // the peer's buffer takes it: below the limit
  const std::string big = text(256 * 1024, 'b');
  REQUIRE_FALSE(engine.write(fd, big, recorder.next(1)));
  engine.flush();
  REQUIRE(recorder.calls.size() == 2);
  CHECK(recorder.calls[0].error == 0);
  CHECK(recorder.calls[1].error == ENOBUFS);
}

TEST_CASE("a stall of stall_ms fails the channel with ETIMEDOUT; a byte that moves restarts the "
          "stall clock",
          "[qio][flow][limits][stall]") {
  ChannelOptions options;
  options.stall_ms = 1000;
  ClockedChannel setup(options);
  auto& [clock, engine, pair, fd, recorder] = setup;
  REQUIRE_FALSE(engine.write(fd, text(512 * 1024, 's'), recorder.next(0)));
  engine.flush();
  clock.now_ms += 600;
  CHECK(stats_of(engine, fd).stalled_ms == 600);
  // The peer reads a little: bytes move at the next flush.
  std::string received;
  qio_test::drain_available(pair.remote.get(), received);
  REQUIRE_FALSE(received.empty());
  engine.flush();
  CHECK(recorder.calls.empty());
  CHECK(stats_of(engine, fd).stalled_ms == 0);
  clock.now_ms += 999;
  engine.flush();
  CHECK(recorder.calls.empty());
  clock.now_ms += 1;
  engine.flush();
  REQUIRE(recorder.calls.size() == 1);
  CHECK(recorder.calls[0].error == ETIMEDOUT);
  CHECK(recorder.calls[0].length > 0); // what went before the stall
}

// ---- the engine-wide limit ---------------------------------------------------------

TEST_CASE("the total limit fails the channel holding the most first, and its callbacks run "
          "from the next flush, not from the write",
          "[qio][flow][limits][total]") {
  FakeClock clock;
  Engine engine = qio::detail::Seam::engine_over(clock);
  std::vector<FdPair> pairs;
  for (int i = 0; i < 3; ++i)
    pairs.push_back(small_socket_pair());
  Recorder recorder;
  for (int i = 0; i < 3; ++i)
    REQUIRE_FALSE(engine.configure(pairs[i].local.get(), {}));
  engine.set_total_limit(1'000'000);
  const int small = pairs[0].local.get();
  const int large = pairs[1].local.get();
  const int writer = pairs[2].local.get();
  REQUIRE_FALSE(engine.write(small, text(100'000, 'a'), recorder.next(0)));
  REQUIRE_FALSE(engine.write(large, text(600'000, 'b'), recorder.next(1)));
  REQUIRE_FALSE(engine.write(writer, text(200'000, 'c'), recorder.next(2)));
  // 900,000 queued: 200,000 more needs room; the largest goes.
  CHECK_FALSE(engine.write(writer, text(200'000, 'c'), recorder.next(3)));
  CHECK(recorder.calls.empty()); // not inside the write
  CHECK(engine.pending(large) == 0);
  CHECK(engine.write(large, std::string("x")) == errc(ENOBUFS));
  engine.flush();
  REQUIRE_FALSE(recorder.calls.empty());
  CHECK(recorder.calls.front().tag == 1);
  CHECK(recorder.calls.front().error == ENOBUFS);
  // The writer itself is the largest now: its write fails it.
  const std::size_t before = recorder.calls.size();
  CHECK(engine.write(writer, text(700'000, 'd'), recorder.next(4)) == errc(ENOBUFS));
  CHECK(recorder.calls.size() == before);
  engine.flush();
  for (std::size_t i = before; i < recorder.calls.size(); ++i)
    CHECK(recorder.calls[i].channel == writer);
  CHECK(engine.write(writer, text(10, 'e')) == errc(ENOBUFS));
  CHECK(engine.write(small, text(2'000'000, 'f')) == errc(EMSGSIZE));
  engine.terminate();
}

// ---- watermarks: a property test ----------------------------------------------------

namespace {

struct WaterLog {
  Engine* engine = nullptr;
  std::size_t high = 0;
  std::size_t low = 0;
  std::vector<std::pair<bool, std::size_t>> calls;
  bool agreed = true;
  void on_water(int channel, bool above, std::size_t queued) {
    calls.emplace_back(above, queued);
    ChannelStats stats;
    engine->stats(channel, stats);
    agreed &= stats.queued_bytes == queued;
    agreed &= above ? queued >= high : queued <= low;
  }
};

} // namespace

TEST_CASE("under random writes, flushes and peer reads, watermark calls strictly alternate, "
          "start with a rise, agree with queued_bytes, and every callback runs once",
          "[qio][flow][watermark][property]") {
  const auto seed = GENERATE(1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u);
  CAPTURE(seed);
  std::mt19937 random(seed);
  FakeClock clock;
  Engine engine = qio::detail::Seam::engine_over(clock);
  FdPair pair = small_socket_pair();
  const int fd = pair.local.get();
  WaterLog log;
  log.engine = &engine;
  log.high = 20'000 + random() % 20'000;
  log.low = random() % log.high;
  ChannelOptions options;
  options.high_water = log.high;
  options.low_water = log.low;
  options.water = qio::WaterCallback::to(log);
  REQUIRE_FALSE(engine.configure(fd, options));
  Recorder recorder;
  int written = 0;
  std::string received;
  for (int step = 0; step < 400; ++step) {
    switch (random() % 4) {
    case 0:
    case 1:
      REQUIRE_FALSE(engine.write(fd, text(1 + random() % 5000, 'w'), recorder.next(written++)));
      break;
    case 2:
      engine.flush();
      break;
    default:
      qio_test::drain_available(pair.remote.get(), received);
      break;
    }
  }
  while (engine.pending(fd) > 0) {
    qio_test::drain_available(pair.remote.get(), received);
    engine.flush();
  }
  CHECK(log.agreed);
  for (std::size_t i = 0; i < log.calls.size(); ++i) {
    CAPTURE(i);
    CHECK(log.calls[i].first == (i % 2 == 0));
  }
  REQUIRE(recorder.calls.size() == static_cast<std::size_t>(written));
  for (int i = 0; i < written; ++i) {
    CHECK(recorder.calls[static_cast<std::size_t>(i)].tag == i);
    CHECK(recorder.calls[static_cast<std::size_t>(i)].error == 0);
  }
}

TEST_CASE_METHOD(qio_test::CApiEngine, "a rise caused by a write is reported by the next flush, "
                 "before any callback of it",
                 "[qio][flow][watermark]") {
  FdPair& pair = open_channel(small_socket_pair());
  const int fd = pair.local.get();
  static std::vector<std::string> events;
  events.clear();
  REQUIRE(qio_watermark(
              fd, 1000, 10,
              [](int, int above, size_t, void*) { events.push_back(above ? "rise" : "fall"); },
              nullptr) == 0);
  const std::string bytes = text(2000, 'r');
  REQUIRE(qio_write(fd, bytes.data(), 2000,
                    [](int, int, int, char*, int, void*) { events.push_back("ast"); },
                    nullptr) == 0);
  CHECK(events.empty());
  qio_flush();
  REQUIRE(events.size() >= 1);
  CHECK(events[0] == "rise");
  std::string received;
  while (qio_pendc(fd) > 0) {
    qio_test::drain_available(pair.remote.get(), received);
    qio_flush();
  }
  CHECK(events == std::vector<std::string>{"rise", "fall", "ast"});
}

// ---- close after drain ----------------------------------------------------------------

namespace {

// The kinds close-after-drain is tried on: (local, remote) connected.
FdPair pair_of_kind(int kind) {
  switch (kind) {
  case 0:
    return qio_test::socket_pair();
  case 1:
    return qio_test::pipe_pair();
  default:
    return qio_test::tcp_pair();
  }
}

} // namespace

TEST_CASE("close after drain: the peer gets every byte then end of file, and the close's "
          "callback runs once, after every write's",
          "[qio][flow][close]") {
  const qio_test::Watchdog watchdog(60);
  const int kind = GENERATE(0, 1, 2);
  CAPTURE(kind);
  FakeClock clock;
  Engine engine = qio::detail::Seam::engine_over(clock);
  FdPair pair = pair_of_kind(kind);
  const int fd = pair.local.release();
  REQUIRE_FALSE(engine.configure(fd, {}));
  Recorder recorder;
  std::string sent;
  for (int i = 0; i < 40; ++i) {
    const std::string piece = text(10'000, static_cast<char>('a' + i % 26));
    sent += piece;
    REQUIRE_FALSE(engine.write(fd, piece, recorder.next(i)));
  }
  REQUIRE_FALSE(engine.close(fd, -1, recorder.next(1000)));
  CHECK(engine.pending(fd) == 41);
  CHECK(engine.pending() == 41);
  CHECK(engine.write(fd, std::string("late")) == errc(EPIPE));
  char buffer[4];
  CHECK(engine.read(fd, buffer) == errc(EPIPE));
  CHECK(engine.close(fd, -1) == errc(EPIPE));

  std::string received;
  bool end_of_file = false;
  while (!end_of_file) {
    engine.flush();
    end_of_file = !qio_test::drain_available(pair.remote.get(), received);
  }
  CHECK(received == sent);
  CHECK(clock.closes == 1);
  CHECK(clock.shutdowns == (kind == 1 ? 0 : 1));
  CHECK_FALSE(engine.is_channel(fd));
  CHECK(engine.pending() == 0);
  REQUIRE(recorder.calls.size() == 41);
  for (int i = 0; i < 40; ++i)
    CHECK(recorder.calls[static_cast<std::size_t>(i)].error == 0);
  CHECK(recorder.calls.back().tag == 1000);
  CHECK(recorder.calls.back().operation == Operation::close);
  CHECK(recorder.calls.back().error == 0);
  CHECK(::fcntl(fd, F_GETFD) == -1); // closed
}

TEST_CASE("a close whose timeout passes first fails the writes left with ETIMEDOUT and closes",
          "[qio][flow][close]") {
  FakeClock clock;
  Engine engine = qio::detail::Seam::engine_over(clock);
  FdPair pair = small_socket_pair();
  const int fd = pair.local.release();
  REQUIRE_FALSE(engine.configure(fd, {}));
  Recorder recorder;
  char buffer[8];
  REQUIRE_FALSE(engine.read(fd, buffer, recorder.next(0)));
  REQUIRE_FALSE(engine.write(fd, text(512 * 1024, 't'), recorder.next(1)));
  REQUIRE_FALSE(engine.close(fd, 2000, recorder.next(2)));
  REQUIRE(recorder.calls.size() == 1); // the pending read, cancelled at once
  CHECK(recorder.calls[0].error == ECANCELED);
  engine.flush();
  clock.now_ms += 1999;
  engine.flush();
  CHECK(recorder.calls.size() == 1);
  CHECK(engine.timeout_ms() == 1);
  clock.now_ms += 1;
  engine.flush();
  REQUIRE(recorder.calls.size() == 3);
  CHECK(recorder.calls[1].tag == 1);
  CHECK(recorder.calls[1].error == ETIMEDOUT);
  CHECK(recorder.calls[2].tag == 2);
  CHECK(recorder.calls[2].operation == Operation::close);
  CHECK(recorder.calls[2].error == ETIMEDOUT);
  CHECK(clock.closes == 1);
  CHECK(clock.shutdowns == 0);
  CHECK(engine.pending() == 0);
}

TEST_CASE("terminating a closing channel cancels its writes, closes the descriptor, and the "
          "close's callback gets ECANCELED",
          "[qio][flow][close]") {
  FakeClock clock;
  Engine engine = qio::detail::Seam::engine_over(clock);
  FdPair pair = small_socket_pair();
  const int fd = pair.local.release();
  REQUIRE_FALSE(engine.configure(fd, {}));
  Recorder recorder;
  REQUIRE_FALSE(engine.write(fd, text(512 * 1024, 'q'), recorder.next(0)));
  REQUIRE_FALSE(engine.close(fd, -1, recorder.next(1)));
  engine.flush();
  REQUIRE_FALSE(engine.terminate(fd));
  REQUIRE(recorder.calls.size() == 2);
  CHECK(recorder.calls[0].error == ECANCELED);
  CHECK(recorder.calls[1].operation == Operation::close);
  CHECK(recorder.calls[1].error == ECANCELED);
  CHECK(clock.closes == 1);
  CHECK(engine.pending() == 0);
}

TEST_CASE_METHOD(qio_test::CApiEngine, "qio_close through the C API: QIO_CLOSE after the writes, "
                 "and qio_pend counts the close until its AST ran",
                 "[qio][flow][close]") {
  FdPair& pair = keep(qio_test::socket_pair());
  const int fd = pair.local.release(); // qio_close closes it
  qio_test::configure_channel(fd);
  REQUIRE(qio_write(fd, "hello", 5, qio_test::AstRecorder::record, &recorder) == 0);
  REQUIRE(qio_close(fd, -1, qio_test::AstRecorder::record, &recorder) == 0);
  CHECK(qio_pend() == 2);
  CHECK(qio_close(fd, -1, nullptr, nullptr) == EPIPE);
  CHECK(qio_write(fd, "x", 1, nullptr, nullptr) == EPIPE);
  CHECK(recorder.calls.empty());
  REQUIRE(qio_flush() == 0);
  REQUIRE(recorder.calls.size() == 2);
  CHECK(recorder.calls[0].operation == QIO_WRITE);
  CHECK(recorder.calls[1].operation == QIO_CLOSE);
  CHECK(recorder.calls[1].error_code == 0);
  CHECK(qio_pend() == 0);
  std::string received;
  for (int attempt = 0; attempt < 1000 && qio_test::drain_available(pair.remote.get(), received);
       ++attempt) {
  }
  CHECK(received == "hello"); // and end of file, which ended the loop

}

// ---- re-entrancy -------------------------------------------------------------------

TEST_CASE("a watermark callback and a close callback may write, close and terminate channels",
          "[qio][flow][reentrancy]") {
  FakeClock clock;
  Engine engine = qio::detail::Seam::engine_over(clock);
  FdPair watched = small_socket_pair();
  FdPair other = qio_test::socket_pair();
  const int fd = watched.local.get();
  const int other_fd = other.local.release();
  struct Actions {
    Engine* engine;
    int fd;
    int other_fd;
    int water_calls = 0;
    int closes = 0;
    void on_water(int channel, bool above, std::size_t) {
      ++water_calls;
      if (above) {
        // Writes to another channel, then closes it, then terminates its own.
        CHECK_FALSE(engine->write(other_fd, std::string("from the watermark")));
        CHECK_FALSE(engine->close(other_fd, -1, Callback::to(*this)));
        CHECK_FALSE(engine->terminate(channel));
      }
    }
    void on_completion(const Completion& completion) {
      if (completion.operation == Operation::close) {
        ++closes;
        CHECK_FALSE(engine->is_channel(completion.channel));
        CHECK(engine->terminate(fd) == errc(EBADF)); // already gone
      }
    }
  } actions{&engine, fd, other_fd};
  ChannelOptions options;
  options.high_water = 1000;
  options.low_water = 0;
  options.water = qio::WaterCallback::to(actions);
  REQUIRE_FALSE(engine.configure(fd, options));
  REQUIRE_FALSE(engine.configure(other_fd, {}));
  REQUIRE_FALSE(engine.write(fd, text(300'000, 'w')));
  engine.flush();
  engine.flush();
  CHECK(actions.water_calls == 1);
  CHECK(actions.closes == 1);
  CHECK_FALSE(engine.is_channel(fd));
  CHECK_FALSE(engine.is_channel(other_fd));
  std::string received;
  qio_test::drain_available(other.remote.get(), received);
  CHECK(received == "from the watermark");
}

// ---- loop integration ------------------------------------------------------------------

TEST_CASE("the interest handler hears none-to-some inside the write and some-to-none from "
          "the flush that drained it",
          "[qio][flow][interest]") {
  FakeClock clock;
  Engine engine = qio::detail::Seam::engine_over(clock);
  FdPair pair = qio_test::socket_pair();
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  static std::vector<std::pair<int, bool>> heard;
  heard.clear();
  engine.set_interest([](int channel, bool want, void*) { heard.emplace_back(channel, want); },
                      nullptr);
  REQUIRE_FALSE(engine.write(fd, std::string("one")));
  REQUIRE(heard.size() == 1);
  CHECK(heard[0] == std::make_pair(fd, true));
  REQUIRE_FALSE(engine.write(fd, std::string("two")));
  CHECK(heard.size() == 1);
  engine.flush();
  REQUIRE(heard.size() == 2);
  CHECK(heard[1] == std::make_pair(fd, false));
  REQUIRE_FALSE(engine.write(fd, std::string(""))); // nothing to write: no interest
  CHECK(heard.size() == 2);
  engine.flush();
  engine.set_interest(nullptr, nullptr);
  REQUIRE_FALSE(engine.write(fd, std::string("three")));
  CHECK(heard.size() == 2);
  engine.flush();
}

TEST_CASE("timeout_ms says when the nearest stall deadline needs a flush, and -1 without one",
          "[qio][flow][timeout]") {
  FakeClock clock;
  Engine engine = qio::detail::Seam::engine_over(clock);
  FdPair pair = small_socket_pair();
  const int fd = pair.local.get();
  CHECK(engine.timeout_ms() == -1);
  ChannelOptions options;
  options.stall_ms = 3000;
  REQUIRE_FALSE(engine.configure(fd, options));
  CHECK(engine.timeout_ms() == -1);
  REQUIRE_FALSE(engine.write(fd, text(512 * 1024, 'z')));
  CHECK(engine.timeout_ms() == 0); // pending output no flush has seen yet
  engine.flush();
  CHECK(engine.timeout_ms() == 3000);
  clock.now_ms += 1200;
  CHECK(engine.timeout_ms() == 1800);
  engine.terminate(fd);
  CHECK(engine.timeout_ms() == -1);
}

TEST_CASE("after a hard write error the loop hears that nothing is left to write, the "
          "watermark falls, and a close waiting on the channel is due at once",
          "[qio][flow][interest][errors]") {
  FakeClock clock;
  Engine engine = qio::detail::Seam::engine_over(clock);
  FdPair pair = qio_test::socket_pair();
  const int fd = pair.local.release();
  static std::vector<bool> heard;
  heard.clear();
  engine.set_interest([](int, bool want, void*) { heard.push_back(want); }, nullptr);
  WaterLog log;
  log.engine = &engine;
  log.high = 1000;
  log.low = 0;
  ChannelOptions options;
  options.high_water = log.high;
  options.low_water = log.low;
  options.water = qio::WaterCallback::to(log);
  REQUIRE_FALSE(engine.configure(fd, options));
  pair.remote.reset(); // the peer is gone: the first send fails with EPIPE
  Recorder recorder;
  REQUIRE_FALSE(engine.write(fd, text(4000, 'e'), recorder.next(0)));
  REQUIRE_FALSE(engine.close(fd, -1, recorder.next(1)));
  CHECK(heard == std::vector<bool>{true});
  engine.flush();
  CHECK(heard == std::vector<bool>{true, false});
  REQUIRE(log.calls.size() == 2);
  CHECK(log.calls[0].first);
  CHECK_FALSE(log.calls[1].first);
  CHECK(log.agreed);
  REQUIRE(recorder.calls.size() == 2);
  CHECK(recorder.calls[0].error == EPIPE);
  CHECK(recorder.calls[1].operation == Operation::close);
  CHECK(recorder.calls[1].error == EPIPE);
  CHECK(engine.timeout_ms() == -1);
  CHECK(engine.pending() == 0);
}

TEST_CASE("a channel failed in the middle of a write, configured again, sends its next write "
          "whole and completes it only when it is sent",
          "[qio][flow][limits][soft]") {
  ChannelOptions options;
  options.soft_queued_bytes = 1000;
  ClockedChannel setup(options);
  auto& [clock, engine, pair, fd, recorder] = setup;
  REQUIRE_FALSE(engine.write(fd, text(512 * 1024, 'a'), recorder.next(0)));
  engine.flush(); // partly sent, far above the soft limit: fails now
  REQUIRE(recorder.calls.size() == 1);
  CHECK(recorder.calls[0].error == ENOBUFS);
  const std::size_t first_part = recorder.calls[0].length;
  REQUIRE(first_part > 0);
  REQUIRE_FALSE(engine.configure(fd, {}));
  const std::string later = text(100, 'b');
  REQUIRE_FALSE(engine.write(fd, later, recorder.next(1)));
  CHECK(engine.pending(fd) == 1);
  std::string received;
  while (engine.pending(fd) > 0) {
    qio_test::drain_available(pair.remote.get(), received);
    engine.flush();
  }
  qio_test::drain_available(pair.remote.get(), received);
  CHECK(received.size() == first_part + later.size());
  CHECK(received.substr(first_part) == later);
  REQUIRE(recorder.calls.size() == 2);
  CHECK(recorder.calls[1].error == 0);
  CHECK(recorder.calls[1].length == later.size());
}

TEST_CASE("the flush budget never cuts a message in two: large seqpacket messages leave whole",
          "[qio][flow][budget]") {
  // A kernel that takes every message whole at once, so one flush could
  // pass the budget's byte limit in the middle of one.
  struct TakesEverything : FakeClock {
    std::vector<std::size_t> messages;
    ssize_t sendmsg(int, const msghdr* message, int) override {
      std::size_t bytes = 0;
      for (std::size_t i = 0; i < message->msg_iovlen; ++i)
        bytes += message->msg_iov[i].iov_len;
      messages.push_back(bytes);
      return static_cast<ssize_t>(bytes);
    }
  } kernel;
  Engine engine = qio::detail::Seam::engine_over(kernel);
  FdPair pair = qio_test::socket_pair(SOCK_SEQPACKET);
  const int fd = pair.local.get();
  REQUIRE_FALSE(engine.configure(fd, {}));
  constexpr int count = 50; // 5 MB: more than one flush's 4 MiB
  for (int i = 0; i < count; ++i)
    REQUIRE_FALSE(engine.write(fd, text(100'000, static_cast<char>('A' + i % 26))));
  for (int flushes = 0; flushes < 10 && engine.pending(fd) > 0; ++flushes)
    engine.flush();
  CHECK(engine.pending(fd) == 0);
  CHECK(kernel.messages == std::vector<std::size_t>(count, 100'000));
}
