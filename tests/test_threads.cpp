// SPDX-License-Identifier: MIT
// test_threads.cpp - independent Engines on independent threads. Run by the
// ThreadSanitizer build (suite 'threads') to show they share no state.
#include <catch2/catch.hpp>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "qio/engine.hpp"
#include "support.hpp"

namespace {

constexpr int thread_count = 4;
constexpr int channels_per_engine = 3;
constexpr int writes_per_channel = 2000;

struct ThreadOutcome {
  std::size_t completions = 0;
  std::size_t bytes_completed = 0;
  bool streams_intact = true;
};

void count(const qio::Completion& completion, void* outcome) {
  auto* totals = static_cast<ThreadOutcome*>(outcome);
  if (!completion.error) {
    ++totals->completions;
    totals->bytes_completed += completion.length;
  }
}

// One thread: its own Engine and socketpairs; it writes numbered messages,
// flushes, and drains the peers itself, then checks every stream.
void run_engine_thread(int seed, ThreadOutcome& outcome) {
  qio::Engine engine;
  std::vector<qio_test::FdPair> pairs;
  std::vector<std::string> sent(channels_per_engine), received(channels_per_engine);
  for (int c = 0; c < channels_per_engine; ++c) {
    pairs.push_back(qio_test::socket_pair());
    qio::ChannelOptions options;
    options.buffered = (c % 2) == 0;
    if (engine.configure(pairs.back().local.get(), options))
      outcome.streams_intact = false;
  }
  std::vector<std::string> messages; // kept alive for unbuffered channels
  messages.reserve(channels_per_engine * writes_per_channel);
  for (int i = 0; i < writes_per_channel; ++i) {
    for (int c = 0; c < channels_per_engine; ++c) {
      messages.push_back("thread " + std::to_string(seed) + " channel " + std::to_string(c) +
                         " message " + std::to_string(i) + "\n");
      sent[c] += messages.back();
      if (engine.write(pairs[c].local.get(), messages.back(), {count, &outcome}))
        outcome.streams_intact = false;
    }
    if (i % 100 == 0)
      engine.flush();
  }
  while (engine.pending() > 0) {
    engine.flush();
    for (int c = 0; c < channels_per_engine; ++c)
      qio_test::drain_available(pairs[c].remote.get(), received[c]);
  }
  for (int c = 0; c < channels_per_engine; ++c) {
    qio_test::drain_available(pairs[c].remote.get(), received[c]);
    outcome.streams_intact = outcome.streams_intact && received[c] == sent[c];
  }
}

} // namespace

TEST_CASE("engines on separate threads run concurrently without sharing state",
          "[threads]") {
  std::vector<ThreadOutcome> outcomes(thread_count);
  std::vector<std::thread> threads;
  for (int t = 0; t < thread_count; ++t)
    threads.emplace_back(run_engine_thread, t, std::ref(outcomes[static_cast<std::size_t>(t)]));
  for (auto& thread : threads)
    thread.join();
  for (const ThreadOutcome& outcome : outcomes) {
    CHECK(outcome.streams_intact);
    CHECK(outcome.completions == channels_per_engine * writes_per_channel);
  }
}
