// SPDX-License-Identifier: MIT
// watchdog.cpp - stall detection, progress lines and stopping the peers.
#include "watchdog.hpp"

#include <signal.h>      // SIGKILL
#include <sys/syscall.h> // SYS_write, ..., to name what a stuck peer waits in

#include <chrono>  // std::chrono::milliseconds
#include <fstream> // std::ifstream, /proc/PID/syscall
#include <thread>  // std::this_thread::sleep_for

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
    total += peer.bytes_sent + peer.bytes_received + peer.records_sent + peer.records_received;
  return total;
}

std::string amounts_of(const PeerCounters& peer, bool count_records) {
  if (count_records)
    return fmt::format("{} records answered, {} served", support::grouped(peer.records_sent),
                       support::grouped(peer.records_received));
  return fmt::format("{} out, {} in", demo::format_bytes(peer.bytes_sent),
                     demo::format_bytes(peer.bytes_received));
}

void print_progress(const WatchSettings& settings, double seconds,
                    const std::array<PeerCounters, 2>& peers) {
  std::string line = fmt::format("  [{} {:4.1f} s]", settings.run_name, seconds);
  for (int peer = display; peer <= data_server; ++peer)
    line += fmt::format("{}{} {} ({})", peer == display ? "  " : " | ", peer_names[peer],
                        amounts_of(peers[peer], settings.count_records),
                        describe(peers[peer].activity));
  fmt::print("{}\n", line);
  std::fflush(stdout);
}

struct NamedSystemCall {
  long number;
  std::string_view name;
};
constexpr NamedSystemCall named_system_calls[] = {
    {SYS_write, "write(2)"}, {SYS_read, "read(2)"}, {SYS_ppoll, "ppoll(2)"},
    {SYS_pselect6, "pselect6(2)"},
#ifdef SYS_poll // not on every architecture
    {SYS_poll, "poll(2)"},
#endif
#ifdef SYS_select
    {SYS_select, "select(2)"},
#endif
};

// The system call the process sits in, from /proc/PID/syscall ("running"
// or a number first); empty if the kernel does not say.
std::string system_call_of(pid_t pid) {
  std::ifstream file(fmt::format("/proc/{}/syscall", pid));
  long number = -1;
  if (!(file >> number))
    return {};
  for (const NamedSystemCall& call : named_system_calls)
    if (call.number == number)
      return std::string(call.name);
  return fmt::format("system call {}", number);
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

// Both blocked sending to the other: in write(2), or in clnt_call.
bool both_blocked_sending(const std::array<PeerCounters, 2>& peers) {
  const Activity first = peers[display].activity;
  return (first == Activity::writing || first == Activity::calling) &&
         peers[data_server].activity == first;
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
      for (std::size_t peer = 0; peer < children.size(); ++peer)
        report.system_calls[peer] = system_call_of(children[peer].pid());
      stop_all(children);
      report.stuck_since = last_progress_at;
      report.outcome =
          both_blocked_sending(report.peers) ? Outcome::deadlocked : Outcome::stalled;
      return report;
    }
    if (now >= next_progress_line) {
      print_progress(settings, now, report.peers);
      next_progress_line += 1;
    }
  }
}

} // namespace deadlock
