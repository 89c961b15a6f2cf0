// SPDX-License-Identifier: MIT
// main.cpp - qio-soak: many loopback TCP connections for a bounded time,
// mixed traffic, injected faults, every byte and every AST checked.
//
// One thread runs a poll loop over all connections, as a select-loop
// program would: both ends of each connection live here, so the receiving
// end can check what the sending end's ASTs reported. SIGPIPE keeps its
// default action: if qio ever raised it, the soak would die of it.
// docs/reliability.md explains the figures and what "lost" means.
#include <arpa/inet.h>   // htonl
#include <fcntl.h>       // fcntl, O_NONBLOCK
#include <netinet/in.h>  // sockaddr_in
#include <poll.h>        // poll
#include <signal.h>      // sigprocmask
#include <sys/resource.h> // getrusage: peak RSS
#include <sys/socket.h>   // socket, connect, accept4
#include <unistd.h>       // close

#include <fmt/format.h>

#include <charconv>    // std::from_chars
#include <csignal>     // std::signal: SIGPIPE back to its default
#include <chrono>      // the run's deadlines
#include <cstdio>      // stdout, stderr
#include <memory>      // std::unique_ptr, the sessions
#include <optional>    // parsed options
#include <random>      // std::random_device, the default seed
#include <span>        // the rest of the pollfd array
#include <string_view> // arguments
#include <vector>      // the sessions, the pollfd array

#include "faults.hpp"
#include "figures.hpp"
#include "qio/engine.hpp"
#include "qio/qio.h"
#include "raw_session.hpp"
#include "session.hpp"
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

const char usage_text[] =
    "usage: qio-soak [--duration SECONDS] [--seed N] [--peers N]\n"
    "\n"
    "Runs N loopback TCP connections at a time (default 32) for SECONDS\n"
    "(default 10), then lets every connection finish. Messages of 1 B to\n"
    "256 KiB go through qio's C API, through a qio::Engine whose system calls\n"
    "inject short writes and reads, EINTR, EAGAIN and ECONNRESET, and as XDR\n"
    "records through xdr_glue; readers pause, peers hang up, channels are\n"
    "terminated and pruned mid-stream. Every byte is checked and every AST\n"
    "counted. Prints a progress line every 5 s and a table at the end; exits\n"
    "1 if anything was lost, duplicated, reordered or corrupted, or an AST\n"
    "was missing, doubled or wrong; 2 for bad arguments. The seed (default:\n"
    "random, printed) picks the traffic; timing still varies between runs.\n"
    "See docs/reliability.md.\n";

template <class Number> bool parse_number(std::string_view text, Number& out) {
  const auto result = std::from_chars(text.data(), text.data() + text.size(), out);
  return result.ec == std::errc() && result.ptr == text.data() + text.size();
}

// The options, or the exit status to leave with (0 after --help).
std::optional<Options> parse_options(int argc, char** argv, int& exit_status) {
  Options options;
  options.seed = (std::uint64_t{std::random_device()()} << 32) | std::random_device()();
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (flag == "--help" || flag == "-h") {
      std::fputs(usage_text, stdout);
      exit_status = 0;
      return std::nullopt;
    }
    const bool known = flag == "--duration" || flag == "--seed" || flag == "--peers";
    bool valid = known && i + 1 < argc;
    if (valid) {
      const std::string_view value = argv[++i];
      if (flag == "--duration")
        valid = parse_number(value, options.duration_seconds) && options.duration_seconds > 0 &&
                options.duration_seconds <= 7 * 24 * 3600;
      else if (flag == "--seed")
        valid = parse_number(value, options.seed);
      else
        valid = parse_number(value, options.peers) && options.peers >= 1 && options.peers <= 500;
    }
    if (!valid) {
      fmt::print(stderr, "qio-soak: {} '{}'\n{}",
                 known ? "missing or bad value for" : "unknown argument", flag, usage_text);
      exit_status = 2;
      return std::nullopt;
    }
  }
  return options;
}

class Soak {
public:
  explicit Soak(const Options& options);
  ~Soak();
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
  FaultySystemCalls faulty_;
  qio::Engine faulty_engine_;
  std::unique_ptr<Queue> c_api_queue_;
  std::unique_ptr<Queue> engine_queue_;
  std::vector<char> scratch_;
  std::vector<char> inbox_;
  World world_;
  int listener_ = -1;
  sockaddr_in address_{};
  Clock::time_point started_;
  std::vector<std::unique_ptr<Session>> sessions_;
  std::uint32_t next_id_ = 1;
};

Soak::Soak(const Options& options)
    : options_(options), random_(options.seed), faulty_(options.seed ^ 0x5eed),
      faulty_engine_(qio::detail::Seam::engine_over(faulty_)), c_api_queue_(make_c_api_queue()),
      engine_queue_(make_engine_queue(faulty_engine_)), scratch_(max_message),
      inbox_(max_message), world_{random_, figures_, scratch_, inbox_} {}

Soak::~Soak() {
  if (listener_ >= 0)
    ::close(listener_);
}

// A connected loopback pair: either end may be the sender. Some senders
// get a small send buffer, so writes go out in many pieces. (Receive
// buffers stay as they are: shrunk after the handshake, on loopback's
// 64 KiB segments, TCP falls back to zero-window probes and crawls.)
bool Soak::connect_pair(int& sender, int& receiver) {
  const int client = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (client < 0)
    return false;
  if (::connect(client, reinterpret_cast<const sockaddr*>(&address_), sizeof address_) != 0) {
    ::close(client);
    return false;
  }
  const int server = ::accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
  if (server < 0) {
    ::close(client);
    return false;
  }
  const bool client_sends = random_.chance(0.5);
  sender = client_sends ? client : server;
  receiver = client_sends ? server : client;
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
  listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  address_.sin_family = AF_INET;
  address_.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address_;
  if (listener_ < 0 ||
      ::bind(listener_, reinterpret_cast<const sockaddr*>(&address_), sizeof address_) != 0 ||
      ::listen(listener_, 64) != 0 ||
      ::getsockname(listener_, reinterpret_cast<sockaddr*>(&address_), &length) != 0) {
    std::perror("qio-soak: loopback listener");
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
      print_progress(stdout, figures_, faulty_.counts(), elapsed(now), sessions_.size());
      next_progress += progress_interval;
    }
  }
  // Every request of every channel has completed; nothing may be left.
  figures_.unexpected_errors += qio_pend() != 0;
  figures_.unexpected_errors += faulty_engine_.pending() != 0;
  rusage usage{};
  ::getrusage(RUSAGE_SELF, &usage);
  print_figures(stdout, figures_, faulty_.counts(), elapsed(Clock::now()), usage.ru_maxrss);
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
  int exit_status = 0;
  const std::optional<soak::Options> options = soak::parse_options(argc, argv, exit_status);
  if (!options)
    return exit_status;
  soak::Soak soak(*options);
  return soak.run();
}
