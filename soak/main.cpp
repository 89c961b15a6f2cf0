// SPDX-License-Identifier: MIT
// main.cpp - qio-soak: many loopback TCP connections for a bounded time,
// mixed traffic, injected faults, every byte and every AST checked.
//
// One thread runs a poll loop over all connections, as a select-loop
// program would: both ends of each connection live here, so the receiving
// end can check what the sending end's ASTs reported. SIGPIPE keeps its
// default action: if qio ever raised it, the soak would die of it.
// docs/reliability.md explains the figures and what "lost" means.
#include <fcntl.h>        // fcntl, O_NONBLOCK
#include <poll.h>         // poll
#include <signal.h>       // sigprocmask
#include <sys/resource.h> // getrusage: peak RSS
#include <sys/socket.h>   // setsockopt

#include <fmt/format.h>

#include <csignal>      // std::signal: SIGPIPE back to its default
#include <chrono>       // the run's deadlines
#include <cstdint>      // UINT64_MAX, the largest seed
#include <cstdio>       // stdout, stderr
#include <memory>       // std::unique_ptr, the sessions
#include <random>       // std::random_device, the default seed
#include <span>         // the rest of the pollfd array
#include <system_error> // std::system_error, from support's sockets
#include <vector>       // the sessions, the pollfd array

#include "figures.hpp"
#include "qio/engine.hpp"
#include "qio/qio.h"
#include "raw_session.hpp"
#include "session.hpp"
#include "support/command_line.hpp"
#include "support/faulty_system_calls.hpp"
#include "support/loopback.hpp"
#include "wire.hpp"
#include "xdr_session.hpp"

namespace soak {
namespace {

constexpr auto progress_interval = std::chrono::seconds(5);
constexpr auto stall_limit = std::chrono::seconds(30); // past a session's end time
constexpr auto drain_limit = std::chrono::seconds(30); // for all, after the run

struct Options {
  double duration_seconds = 10.0;
  std::uint64_t seed = 0;
  std::size_t peers = 32;
};

const support::Usage usage{
    "qio-soak",
    "[--duration SECONDS] [--seed N] [--peers N]",
    "Runs N loopback TCP connections at a time for SECONDS, then lets every\n"
    "connection finish. Messages of 1 B to 256 KiB go through qio's C API, through\n"
    "a qio::Engine whose system calls inject short writes and reads, EINTR, EAGAIN\n"
    "and ECONNRESET, and as XDR records through xdr_glue; readers pause, peers hang\n"
    "up, channels are terminated and pruned mid-stream. Every byte is checked and\n"
    "every AST counted. Prints a progress line every 5 s and a table at the end.\n"
    "The seed picks the traffic; timing still varies between runs. See\n"
    "docs/reliability.md.\n"
    "\n"
    "Exit status: 0 when every invariant held; 1 if anything was lost, duplicated,\n"
    "reordered or corrupted, or an AST was missing, doubled or wrong; 2 for bad\n"
    "arguments.",
    {
        {"duration", "SECONDS", "seconds of new connections, up to a week (default: 10)"},
        {"seed", "N", "seeds the traffic (default: random, printed in the first line)"},
        {"peers", "N", "connections at a time, 1 to 500 (default: 32)"},
    }};

Options read_options(int argc, char** argv) {
  const support::CommandLine line(usage, argc, argv);
  Options options;
  options.duration_seconds =
      line.seconds("duration", options.duration_seconds, 0.001, 7 * 24 * 3600);
  const std::uint64_t random_seed =
      (std::uint64_t{std::random_device()()} << 32) | std::random_device()();
  options.seed = line.number("seed", random_seed, 0, UINT64_MAX);
  options.peers = line.number("peers", options.peers, 1, 500);
  return options;
}

class Soak {
public:
  explicit Soak(const Options& options);
  Soak(const Soak&) = delete;
  Soak& operator=(const Soak&) = delete;

  // Runs the whole soak; returns the exit status.
  int run();

private:
  bool connect_pair(int& sender, int& receiver);
  bool start_session(Clock::time_point now);
  RawPlan draw_raw_plan();
  XdrPlan draw_xdr_plan();
  void wait_for_readiness();
  void finish_sessions(Clock::time_point now, bool give_up);
  void begin_drain();
  double elapsed(Clock::time_point now) const {
    return std::chrono::duration<double>(now - started_).count();
  }

  Options options_;
  Random random_;
  Figures figures_;
  support::FaultySystemCalls faulty_;
  qio::Engine faulty_engine_;
  std::unique_ptr<Queue> c_api_queue_;
  std::unique_ptr<Queue> engine_queue_;
  std::vector<char> scratch_;
  std::vector<char> inbox_;
  World world_;
  support::UniqueFd listener_;
  std::uint16_t port_ = 0;
  Clock::time_point started_;
  std::vector<std::unique_ptr<Session>> sessions_;
  std::uint32_t next_id_ = 1;
};

// Out of every 100,000 calls, on the faulty Engine's sends and receives
// alike. A reset ends its connection, so it is rare; the others only make
// qio try again or carry on with less.
constexpr support::FaultRates fault_rates{
    .short_transfer = 10'000, .interrupted = 3'000, .would_block = 3'000, .connection_reset = 25};

Soak::Soak(const Options& options)
    : options_(options), random_(options.seed),
      faulty_engine_(qio::detail::Seam::engine_over(faulty_)), c_api_queue_(make_c_api_queue()),
      engine_queue_(make_engine_queue(faulty_engine_)), scratch_(max_message),
      inbox_(max_message), world_{random_, figures_, scratch_, inbox_} {
  faulty_.inject_at_random(options.seed ^ 0x5eed, fault_rates, fault_rates);
}

// A connected loopback pair: either end may be the sender. Some senders
// get a small send buffer, so writes go out in many pieces. (Receive
// buffers stay as they are: shrunk after the handshake, on loopback's
// 64 KiB segments, TCP falls back to zero-window probes and crawls.)
bool Soak::connect_pair(int& sender, int& receiver) {
  support::ConnectedPair pair;
  try {
    pair.first = support::connect_to_loopback(port_);
    pair.second = support::accept_within(listener_.get(), 5000);
  } catch (const std::system_error&) {
    return false; // counted as an unexpected error
  }
  const bool client_sends = random_.chance(0.5);
  sender = (client_sends ? pair.first : pair.second).release();
  receiver = (client_sends ? pair.second : pair.first).release();
  ::fcntl(receiver, F_SETFL, ::fcntl(receiver, F_GETFL) | O_NONBLOCK);
  if (random_.chance(0.3)) {
    const int size = static_cast<int>(random_.between(4096, 65536));
    ::setsockopt(sender, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  }
  return true;
}

RawPlan Soak::draw_raw_plan() {
  RawPlan plan;
  const std::size_t ending = random_.between(0, 9);
  plan.ending = ending < 4   ? Ending::graceful
                : ending < 7 ? Ending::sender_terminates
                             : Ending::receiver_hangs_up;
  const std::size_t asts = random_.between(0, 19);
  plan.ast_share = asts < 8 ? 1.0 : asts < 17 ? 0.75 : 0.0;
  plan.terminate_from_ast = plan.ast_share > 0 && random_.chance(0.3);
  plan.qio_reads = random_.chance(0.5);
  plan.buffered = random_.chance(0.5);
  return plan;
}

XdrPlan Soak::draw_xdr_plan() {
  static constexpr unsigned send_sizes[] = {0, 512, 4000, 16384, 65536};
  XdrPlan plan;
  plan.ending = random_.chance(0.6) ? Ending::graceful : Ending::receiver_hangs_up;
  plan.buffered = random_.chance(0.5);
  plan.send_size = send_sizes[random_.between(0, 4)];
  return plan;
}

bool Soak::start_session(Clock::time_point now) {
  int sender = -1;
  int receiver = -1;
  if (!connect_pair(sender, receiver)) {
    ++figures_.unexpected_errors;
    return false;
  }
  const std::uint32_t id = next_id_++;
  const Clock::time_point end_at = now + random_.milliseconds(200, 3000);
  const std::size_t transport = random_.between(0, 9);
  if (transport < 4) {
    ++figures_.sessions_c_api;
    sessions_.push_back(std::make_unique<RawSession>(id, world_, *c_api_queue_, sender, receiver,
                                                     draw_raw_plan(), end_at));
  } else if (transport < 8) {
    ++figures_.sessions_engine;
    sessions_.push_back(std::make_unique<RawSession>(id, world_, *engine_queue_, sender,
                                                     receiver, draw_raw_plan(), end_at));
  } else {
    ++figures_.sessions_xdr;
    sessions_.push_back(
        std::make_unique<XdrSession>(id, world_, sender, receiver, draw_xdr_plan(), end_at));
  }
  return true;
}

// Waits up to 5 ms for a receiver to have input or a sender to have room:
// the channels with pending output come from qio_pollfds and fill_pollfds.
void Soak::wait_for_readiness() {
  std::vector<pollfd> fds;
  for (const auto& session : sessions_)
    session->add_pollfds(fds);
  const std::size_t receivers = fds.size();
  fds.resize(receivers + 2 * options_.peers);
  int c_channels = qio_pollfds(fds.data() + receivers, static_cast<int>(fds.size() - receivers));
  if (c_channels < 0 || static_cast<std::size_t>(c_channels) > fds.size() - receivers) {
    ++figures_.unexpected_errors; // more channels with output than connections
    c_channels = 0;
  }
  const std::size_t used = receivers + static_cast<std::size_t>(c_channels);
  std::span<pollfd> rest(fds.data() + used, fds.size() - used);
  std::size_t engine_channels = faulty_engine_.fill_pollfds(rest);
  if (engine_channels > rest.size()) {
    ++figures_.unexpected_errors;
    engine_channels = rest.size();
  }
  fds.resize(used + engine_channels);
  ::poll(fds.data(), fds.size(), 5);
}

// Reconciles and drops finished sessions, and any that overran (stalled).
void Soak::finish_sessions(Clock::time_point now, bool give_up) {
  std::erase_if(sessions_, [&](const std::unique_ptr<Session>& session) {
    if (!session->finished()) {
      if (!give_up && now < session->end_at() + stall_limit)
        return false;
      ++figures_.stalled;
      fmt::print(stderr, "qio-soak: connection {} did not finish; abandoned\n", session->id());
      session->abandon();
    }
    session->reconcile();
    return true;
  });
}

void Soak::begin_drain() {
  world_.draining = true;
  for (const auto& session : sessions_)
    session->begin_drain();
}

int Soak::run() {
  try {
    listener_ = support::listen_on_loopback();
    port_ = support::local_port(listener_.get());
  } catch (const std::system_error& error) {
    fmt::print(stderr, "qio-soak: loopback listener: {}\n", error.what());
    return 1;
  }
  fmt::print("qio-soak: {} s, {} connections at a time, seed {}\n", options_.duration_seconds,
             options_.peers, options_.seed);
  started_ = Clock::now();
  const auto deadline =
      started_ + std::chrono::duration_cast<Clock::duration>(
                     std::chrono::duration<double>(options_.duration_seconds));
  auto next_progress = started_ + progress_interval;
  for (;;) {
    Clock::time_point now = Clock::now();
    if (!world_.draining && now >= deadline)
      begin_drain();
    const bool out_of_time = world_.draining && now >= deadline + drain_limit;
    if ((world_.draining && sessions_.empty()) || out_of_time) {
      finish_sessions(now, true);
      break;
    }
    while (!world_.draining && sessions_.size() < options_.peers && start_session(now)) {
    }
    wait_for_readiness();
    qio_flush();
    faulty_engine_.flush();
    now = Clock::now();
    for (const auto& session : sessions_)
      session->service(now);
    finish_sessions(now, false);
    if (now >= next_progress) {
      print_progress(stdout, figures_, faulty_, elapsed(now), sessions_.size());
      next_progress += progress_interval;
    }
  }
  // Every request of every channel has completed; nothing may be left.
  figures_.unexpected_errors += qio_pend() != 0;
  figures_.unexpected_errors += faulty_engine_.pending() != 0;
  rusage resources{};
  ::getrusage(RUSAGE_SELF, &resources);
  print_figures(stdout, figures_, faulty_, elapsed(Clock::now()), resources.ru_maxrss);
  const std::uint64_t breaks = figures_.invariant_breaks();
  fmt::print("{}\n", breaks == 0 ? "PASS: every invariant held"
                                 : fmt::format("FAIL: {} invariant break(s)", breaks));
  return breaks == 0 ? 0 : 1;
}

} // namespace
} // namespace soak

int main(int argc, char** argv) {
  // The default action, whatever the parent left: a SIGPIPE qio let
  // through must kill the soak, not pass unnoticed.
  std::signal(SIGPIPE, SIG_DFL);
  sigset_t pipe_signal;
  sigemptyset(&pipe_signal);
  sigaddset(&pipe_signal, SIGPIPE);
  ::sigprocmask(SIG_UNBLOCK, &pipe_signal, nullptr);
  soak::Soak soak(soak::read_options(argc, argv));
  return soak.run();
}
