// SPDX-License-Identifier: MIT
// test_idle_memory.cpp - what a channel keeps once its queue has drained:
// the rings that grew for a burst give their storage back, so an idle
// channel holds a few KiB whatever its busiest moment was. A program of
// its own, linked with counting_new.cpp, which counts every allocation.
#include <catch2/catch.hpp>

#include <cstddef>
#include <string>
#include <vector>

#include "counting_new.hpp"
#include "qio/engine.hpp"
#include "support.hpp"

using qio_test::drain_available;

namespace {

// Writes `count` requests of 36 bytes, each with a callback, while the
// peer reads nothing, then drains them all; returns what the engine held
// at the peak and after, above what it held before.
struct Held {
  std::size_t at_peak = 0;
  std::size_t after_drain = 0;
};

Held burst_then_drain(qio::Engine& engine, const qio_test::FdPair& pair, bool buffered,
                      int count) {
  qio::ChannelOptions options;
  options.buffered = buffered;
  REQUIRE_FALSE(engine.configure(pair.local.get(), options));
  const std::string message(36, 'm');
  int completed = 0;
  struct Counter {
    int& completed;
    void on_completion(const qio::Completion&) { ++completed; }
  } counter{completed};
  const std::size_t before = qio_test::live_bytes();
  for (int i = 0; i < count; ++i)
    REQUIRE_FALSE(engine.write(pair.local.get(), message, qio::Callback::to(counter)));
  Held held;
  held.at_peak = qio_test::live_bytes() - before;
  std::size_t received = 0;
  {
    std::string chunk; // what one drain read, dropped before measuring
    chunk.reserve(256 * 1024);
    while (completed < count) {
      engine.flush();
      chunk.clear();
      drain_available(pair.remote.get(), chunk);
      received += chunk.size();
    }
  }
  held.after_drain = qio_test::live_bytes() - before;
  CHECK(received == message.size() * static_cast<std::size_t>(count));
  return held;
}

} // namespace

TEST_CASE("a channel that had a 50,000-request burst holds little, not its peak, once it goes "
          "idle after a smaller one",
          "[engine][memory]") {
  const bool buffered = GENERATE(false, true);
  CAPTURE(buffered);
  qio::Engine engine;
  const auto pair = qio_test::socket_pair();
  const std::size_t before = qio_test::live_bytes();
  const Held burst = burst_then_drain(engine, pair, buffered, 50'000);
  // Each request's callback record alone takes 24 bytes.
  CHECK(burst.at_peak >= 50'000 * 24);
  burst_then_drain(engine, pair, buffered, 10);
  const std::size_t after_smaller_burst = qio_test::live_bytes() - before;
  CAPTURE(burst.at_peak, burst.after_drain, after_smaller_burst);
  // The channel keeps 1,024 slots of each ring (80 KiB at most). The engine,
  // for all its channels, keeps room for 1,024 completion notices (64 KiB
  // at most) and, of the copies of buffered writes, a pool of freed blocks
  // with at most four of each standard size (512 B to 64 KiB): 510 KiB.
  const std::size_t pool_at_most = buffered ? 4 * (128 * 1024 - 512) : 0;
  CHECK(after_smaller_burst <= 80 * 1024 + 64 * 1024 + pool_at_most);
}

TEST_CASE("a channel that queues as much every tick keeps its rings between ticks",
          "[engine][memory]") {
  const int per_tick = GENERATE(40, 4096);
  CAPTURE(per_tick);
  qio::Engine engine;
  const auto pair = qio_test::socket_pair();
  burst_then_drain(engine, pair, false, per_tick);
  burst_then_drain(engine, pair, false, per_tick);
  const std::size_t settled = qio_test::live_bytes();
  // Once the rings have grown to a tick's requests, a tick allocates
  // nothing it keeps, and frees nothing to allocate again.
  const Held again = burst_then_drain(engine, pair, false, per_tick);
  CHECK(again.at_peak == 0); // unbuffered: no copy, and every ring had room
  CHECK(again.after_drain == 0);
  CHECK(qio_test::live_bytes() == settled);
}
