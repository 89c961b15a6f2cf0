// SPDX-License-Identifier: MIT
// watchdog.cpp - stall detection, progress lines and stopping the peers.
#include "watchdog.hpp"

#include <signal.h> // SIGKILL

#include <chrono> // std::chrono::milliseconds
#include <thread> // std::this_thread::sleep_for

#include <fmt/core.h>

#include "common/report.hpp"

namespace deadlock {
namespace {

std::array<PeerCounters, 2> snapshot(const SharedPeers& shared) {
  return {shared.peers[display].snapshot(), shared.peers[data_server].snapshot()};
}

std::uint64_t progress_of(const std::array<PeerCounters, 2>& peers) {
  std::uint64_t total = 0;
  for (const PeerCounters& peer : peers)
    total += peer.bytes_sent + peer.bytes_received;
  return total;
}

void print_progress(std::string_view run_name, double seconds,
                    const std::array<PeerCounters, 2>& peers) {
  std::string line = fmt::format("  [{} {:4.1f} s]", run_name, seconds);
  for (int peer = display; peer <= data_server; ++peer)
    line += fmt::format("{}{} {} out, {} in ({})", peer == display ? "  " : " | ",
                        peer_names[peer],
                        demo::format_bytes(peers[peer].bytes_sent),
                        demo::format_bytes(peers[peer].bytes_received),
                        describe(peers[peer].activity));
  fmt::print("{}\n", line);
  std::fflush(stdout);
}

// A peer that ended: {} if all is well so far, else why the run failed.
std::string failure_of(std::array<demo::ChildProcess, 2>& children) {
  for (int peer = display; peer <= data_server; ++peer) {
    auto& child = children[static_cast<std::size_t>(peer)];
    if (child.finished() && !child.succeeded())
      return fmt::format("{} {}", peer_names[peer], child.describe_end());
  }
  return {};
}

// Kills both before reaping either, so neither sees the other vanish (its
// write failing with ECONNRESET) and complains about it.
void stop_all(std::array<demo::ChildProcess, 2>& children) {
  for (auto& child : children)
    child.send(SIGKILL);
  for (auto& child : children)
    child.stop();
}

bool both_in_write(const std::array<PeerCounters, 2>& peers) {
  return peers[display].activity == Activity::writing &&
         peers[data_server].activity == Activity::writing;
}

} // namespace

RunReport watch_peers(std::array<demo::ChildProcess, 2>& children, const SharedPeers& shared,
                      const WatchSettings& settings) {
  const std::int64_t start = demo::monotonic_ns();
  double last_progress_at = 0;
  double next_progress_line = 1;
  std::uint64_t last_progress = 0;
  RunReport report;
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    const double now = demo::seconds_since(start);
    report.peers = snapshot(shared);
    report.seconds = now;
    report.detail = failure_of(children);
    if (!report.detail.empty()) {
      stop_all(children);
      report.outcome = Outcome::failed;
      return report;
    }
    if (children[0].finished() && children[1].finished()) {
      report.outcome = Outcome::completed;
      return report;
    }
    if (const std::uint64_t progress = progress_of(report.peers); progress != last_progress) {
      last_progress = progress;
      last_progress_at = now;
    }
    if (now - last_progress_at >= settings.stall_seconds) {
      stop_all(children);
      report.stuck_since = last_progress_at;
      report.outcome = both_in_write(report.peers) ? Outcome::deadlocked : Outcome::stalled;
      return report;
    }
    if (now >= next_progress_line) {
      print_progress(settings.run_name, now, report.peers);
      next_progress_line += 1;
    }
  }
}

} // namespace deadlock
