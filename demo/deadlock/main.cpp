// SPDX-License-Identifier: MIT
// qio-deadlock-demo - the 1991 memo's deadlock, run for real, and the same
// two programs finishing once their output goes through qio.
//
// Two peers, "display" and "data server", each a single-threaded select
// loop in a process of its own, are connected over loopback TCP and send
// each other a long stream of 1 KiB XDR records while reading what
// arrives. With plain blocking writes (libtirpc's xdrrec over write(2))
// both end up blocked in write, each waiting for the other to read: a
// watchdog in the parent sees that nothing moves, reports where each peer
// is stuck and how far it got, and stops both. With qio + xdr_glue the
// same loop queues its records instead, keeps reading, and both finish
// with every record checked. With no flags the demo runs both and prints
// them side by side.
//
// With --rpc the two peers are RPC programs, each a client of the other on
// a connection of its own, sending their records as the arguments of
// calls: with libtirpc's clnt_call both end up blocked sending a call the
// other is not reading; with xdr_glue's asynchronous client and server on
// qio both finish, every call answered.

#include <array>      // std::array, the two peers
#include <cstdint>    // std::uint32_t
#include <functional> // std::function, a peer's body
#include <string>     // std::string
#include <vector>     // std::vector, the runs and descriptors

#include <fmt/core.h>

#include "support/command_line.hpp"
#include "support/loopback.hpp"
#include "common/processes.hpp"
#include "common/report.hpp"
#include "common/shared_block.hpp"
#include "peer.hpp"
#include "rpc_peer.hpp"
#include "watchdog.hpp"

namespace deadlock {
namespace {

struct Settings {
  std::string_view mode; // "blocking", "qio" or "both"
  std::uint32_t records = 0;
  std::uint32_t burst = 0;
  double stall_seconds = 0;
  int socket_buffer = 0;
  bool rpc = false; // the peers are RPC programs calling each other
};

const support::Usage usage{
    "qio-deadlock-demo",
    "[options]",
    "Two peers, \"display\" and \"data server\", each a single-threaded select loop in its\n"
    "own process, send each other XDR records over loopback TCP while reading what\n"
    "arrives. With blocking writes they deadlock (a watchdog detects it, reports it\n"
    "and stops both); with qio they both finish and every record is checked.\n"
    "Exit status: 0 when each run did what it shows (the blocking run deadlocked,\n"
    "the qio run delivered everything), 1 otherwise, 2 for bad options.",
    {
        {"mode", "MODE", "blocking, qio, or both one after the other (default: both)"},
        {"records", "N", "records each peer sends, 1 KiB each (default: 20000)"},
        {"burst", "N", "records each peer sends per turn of its loop (default: 1000)"},
        {"stall-seconds", "S", "no progress for this long means stuck (default: 3)"},
        {"socket-buffer", "BYTES", "SO_SNDBUF and SO_RCVBUF of both ends (default: 131072)"},
        {"rpc", "", "the peers are RPC programs, each a client of the other, sending a burst\n"
                    "per call: libtirpc's clnt_call, then xdr_glue's asynchronous client"},
    }};

Settings read_settings(int argc, char** argv) {
  const support::CommandLine options(usage, argc, argv);
  Settings settings;
  settings.mode = options.choice("mode", "both", {"blocking", "qio", "both"});
  settings.records = static_cast<std::uint32_t>(options.number("records", 20000, 1, 1000000));
  settings.burst = static_cast<std::uint32_t>(options.number("burst", 1000, 1, 1000000));
  settings.stall_seconds = options.seconds("stall-seconds", 3, 0.5, 60);
  settings.socket_buffer =
      static_cast<int>(options.number("socket-buffer", 128 * 1024, 4096, 64 * 1024 * 1024));
  settings.rpc = options.given("rpc");
  return settings;
}

PeerPlan plan_for(PeerIndex peer, OutputMode mode, const Settings& settings) {
  PeerPlan plan;
  plan.peer = peer;
  plan.sends = peer == display ? ADD_REQUEST : DATA_PACKET;
  plan.expects = peer == display ? DATA_PACKET : ADD_REQUEST;
  plan.records = settings.records;
  plan.burst = settings.burst;
  plan.mode = mode;
  return plan;
}

// Both ends of every connection: buffers fixed, records sent at once.
support::SocketOptions socket_options(const Settings& settings) {
  return {.send_buffer = settings.socket_buffer,
          .receive_buffer = settings.socket_buffer,
          .no_delay = true};
}

using PeerBody = std::function<int(PeerIndex peer, PeerStatus& status)>;
using PeerDescriptors = std::array<std::vector<support::UniqueFd>, 2>;

// Starts both peers in processes of their own, each running `body` after
// closing the other peer's descriptors (so a connection closes when the
// peer at its end exits); closes the parent's copies; then watches.
RunReport start_and_watch(OutputMode mode, const Settings& settings,
                          PeerDescriptors& descriptors, const PeerBody& body) {
  demo::SharedBlock<SharedPeers> shared;
  auto start_peer = [&](PeerIndex peer) {
    return demo::ChildProcess::start([&, peer] {
      for (support::UniqueFd& others : descriptors[static_cast<std::size_t>(1 - peer)])
        others.reset();
      return body(peer, shared->peers[peer]);
    });
  };
  std::array<demo::ChildProcess, 2> children{start_peer(display), start_peer(data_server)};
  for (auto& peer_descriptors : descriptors)
    peer_descriptors.clear();
  return watch_peers(children, *shared, {mode_name(mode), settings.stall_seconds, settings.rpc});
}

// Records: both peers on the two ends of one connection.
RunReport run_record_peers(OutputMode mode, const Settings& settings) {
  support::ConnectedPair connection = support::connect_loopback_pair(socket_options(settings));
  const int ends[2] = {connection.first.get(), connection.second.get()};
  PeerDescriptors descriptors;
  descriptors[display].push_back(std::move(connection.first));
  descriptors[data_server].push_back(std::move(connection.second));
  return start_and_watch(mode, settings, descriptors, [&](PeerIndex peer, PeerStatus& status) {
    return run_peer(plan_for(peer, mode, settings), ends[peer], status);
  });
}

// RPC: one connection per direction of calls; each peer calls on its end
// of one and serves on its end of the other.
RunReport run_rpc_peers(OutputMode mode, const Settings& settings) {
  support::ConnectedPair display_calls = support::connect_loopback_pair(socket_options(settings));
  support::ConnectedPair data_server_calls =
      support::connect_loopback_pair(socket_options(settings));
  const RpcConnections ends[2] = {
      {display_calls.first.get(), data_server_calls.second.get()},
      {data_server_calls.first.get(), display_calls.second.get()}};
  PeerDescriptors descriptors;
  descriptors[display].push_back(std::move(display_calls.first));
  descriptors[display].push_back(std::move(data_server_calls.second));
  descriptors[data_server].push_back(std::move(data_server_calls.first));
  descriptors[data_server].push_back(std::move(display_calls.second));
  return start_and_watch(mode, settings, descriptors, [&](PeerIndex peer, PeerStatus& status) {
    const RpcPeerPlan plan{peer, settings.records, settings.burst, mode};
    return run_rpc_peer(plan, ends[peer], status);
  });
}

RunReport run_peers(OutputMode mode, const Settings& settings) {
  return settings.rpc ? run_rpc_peers(mode, settings) : run_record_peers(mode, settings);
}

void print_introduction(const Settings& settings) {
  const std::string burst_bytes = demo::format_bytes(std::uint64_t{settings.burst} * 1024);
  const std::string buffers = demo::format_bytes(static_cast<std::uint64_t>(settings.socket_buffer));
  if (settings.rpc) {
    fmt::print("qio-deadlock-demo --rpc: \"display\" and \"data server\" are two RPC programs in\n"
               "two processes, each a client of the other over loopback TCP: the display calls\n"
               "ADD on the data server, which calls DATA on the display's callback program over\n"
               "a second connection. Each sends {} records of 1 KiB in calls of {} records\n"
               "({}) and serves the other's calls between its own. A call is more than the\n"
               "socket buffers hold ({} asked for each, not autotuned).\n",
               support::grouped(settings.records), support::grouped(settings.burst),
               burst_bytes, buffers);
    return;
  }
  fmt::print("qio-deadlock-demo: \"display\" and \"data server\", two single-threaded select loops\n"
             "in two processes, send each other {} XDR records of 1 KiB over loopback TCP,\n"
             "in bursts of {} ({}), reading what arrives between bursts. A burst is\n"
             "more than the socket buffers hold ({} asked for each, not autotuned).\n",
             support::grouped(settings.records), support::grouped(settings.burst),
             burst_bytes, buffers);
}

void print_heading(OutputMode mode, const Settings& settings) {
  if (mode == OutputMode::blocking && settings.rpc)
    fmt::print("\n== blocking: libtirpc's clnt_call (the call written, then its reply awaited) and "
               "svc_getreqset\n");
  else if (mode == OutputMode::blocking)
    fmt::print("\n== blocking: libtirpc's xdrrec writing with write(2) on blocking sockets\n");
  else if (settings.rpc)
    fmt::print("\n== qio: xdr_glue's asynchronous RPC client (calls queued, replies matched by xid) "
               "and RPC server, on qio\n");
  else
    fmt::print("\n== qio: the same loop, records queued on qio channels (xdr_glue) and flushed\n");
  std::fflush(stdout);
}

// Bytes `sender` handed the kernel that `receiver` has not read.
std::uint64_t unread(const PeerCounters& sender, const PeerCounters& receiver) {
  return sender.bytes_sent > receiver.bytes_received ? sender.bytes_sent - receiver.bytes_received
                                                     : 0;
}

// What a stuck peer was doing, and how far it got.
std::string stuck_peer_line(const RunReport& report, int peer, const Settings& settings) {
  const auto index = static_cast<std::size_t>(peer);
  const PeerCounters& counters = report.peers[index];
  if (settings.rpc) {
    // Inside clnt_call a peer may be writing or awaiting a reply: the
    // kernel tells which, where /proc/PID/syscall can be read.
    std::string where(describe(counters.activity));
    if (!report.system_calls[index].empty())
      where += fmt::format(" ({}, says /proc)", report.system_calls[index]);
    return fmt::format("    {:<12} {}; {} records answered, {} served\n", peer_names[peer], where,
                       support::grouped(counters.records_sent),
                       support::grouped(counters.records_received));
  }
  return fmt::format("    {:<12} {}; has sent {} bytes and received {} bytes\n", peer_names[peer],
                     describe(counters.activity), support::grouped(counters.bytes_sent),
                     support::grouped(counters.bytes_received));
}

void print_stall(const RunReport& report, const Settings& settings) {
  const bool deadlock = report.outcome == Outcome::deadlocked;
  const std::string_view blocked_in =
      settings.rpc ? "both peers are blocked in clnt_call" : "both peers are blocked in write(2)";
  fmt::print("  watchdog: no progress for {:.1f} s (nothing moved since {:.2f} s); {}:\n",
             settings.stall_seconds, report.stuck_since,
             deadlock ? blocked_in : "the peers are stuck");
  for (int peer = display; peer <= data_server; ++peer)
    fmt::print("{}", stuck_peer_line(report, peer, settings));
  const PeerCounters& shown = report.peers[display];
  const PeerCounters& served = report.peers[data_server];
  if (!settings.rpc)
    fmt::print("    in the socket buffers, unread: {} bytes display -> data server, {} bytes back\n",
               support::grouped(unread(shown, served)),
               support::grouped(unread(served, shown)));
  if (deadlock && settings.rpc)
    fmt::print("    Each is sending a call the other is not reading, and neither serves calls "
               "until its own is answered: deadlock.\n");
  else if (deadlock)
    fmt::print("    Each waits for the other to read, and neither reads while it waits: "
               "deadlock.\n");
  fmt::print("  watchdog: stopped both peers.\n");
}

bool delivered_everything(const RunReport& report, const Settings& settings) {
  for (const PeerCounters& peer : report.peers)
    if (peer.records_sent != settings.records || peer.records_received != settings.records ||
        peer.bad_records != 0)
      return false;
  return report.outcome == Outcome::completed;
}

void print_outcome(const RunReport& report, const Settings& settings) {
  if (report.outcome == Outcome::deadlocked || report.outcome == Outcome::stalled)
    print_stall(report, settings);
  else if (report.outcome == Outcome::failed)
    fmt::print("  the run failed: {}\n", report.detail);
  else if (delivered_everything(report, settings))
    fmt::print("  both peers finished in {:.2f} s: {}every record arrived once, in order, with a "
               "good checksum.\n",
               report.seconds, settings.rpc ? "every call was answered, and " : "");
  else
    fmt::print("  both peers finished, but some records were missing or damaged.\n");
}

std::string outcome_cell(const RunReport& report) {
  switch (report.outcome) {
  case Outcome::completed: return fmt::format("completed in {:.2f} s", report.seconds);
  case Outcome::deadlocked: return fmt::format("DEADLOCK at {:.2f} s", report.stuck_since);
  case Outcome::stalled: return fmt::format("stalled at {:.2f} s", report.stuck_since);
  case Outcome::failed: return "failed";
  }
  return "?";
}

// With --rpc the peers do not see the bytes (libtirpc moves them), so
// records only.
std::string records_cell(std::uint64_t records, std::uint64_t bytes, const Settings& settings) {
  if (settings.rpc)
    return fmt::format("{} of {}", support::grouped(records),
                       support::grouped(settings.records));
  return fmt::format("{} of {} ({})", support::grouped(records),
                     support::grouped(settings.records), demo::format_bytes(bytes));
}

void add_peer_rows(support::Table& table, PeerIndex peer, const std::vector<RunReport>& reports,
                   const std::vector<OutputMode>& modes, const Settings& settings) {
  const std::string name(peer_names[peer]);
  std::vector<std::string> sent{name + (settings.rpc ? ": records answered" : ": records sent")},
      received{name + (settings.rpc ? ": served" : ": received")},
      queue{name + ": peak queued"}, time{name + ": time"};
  for (std::size_t index = 0; index < reports.size(); ++index) {
    const PeerCounters& counters = reports[index].peers[peer];
    sent.push_back(records_cell(counters.records_sent, counters.bytes_sent, settings));
    received.push_back(records_cell(counters.records_received, counters.bytes_received, settings));
    queue.push_back(modes[index] == OutputMode::qio ? demo::format_bytes(counters.peak_queued_bytes)
                                                  : "-");
    time.push_back(counters.activity == Activity::finished
                       ? demo::format_duration_ns(counters.elapsed_ns)
                       : "stopped");
  }
  for (auto* row : {&sent, &received, &queue, &time})
    table.add_row(std::move(*row));
}

void print_summary(const std::vector<RunReport>& reports, const std::vector<OutputMode>& modes,
                   const Settings& settings) {
  std::vector<support::Column> header{""};
  std::vector<std::string> outcome{"outcome"}, bad{"damaged records"};
  for (std::size_t index = 0; index < reports.size(); ++index) {
    header.emplace_back(std::string(mode_name(modes[index])));
    outcome.push_back(outcome_cell(reports[index]));
    std::uint64_t damaged = 0;
    for (const PeerCounters& peer : reports[index].peers)
      damaged += peer.bad_records;
    bad.push_back(support::grouped(damaged));
  }
  support::Table table(header);
  table.add_row(outcome);
  add_peer_rows(table, display, reports, modes, settings);
  add_peer_rows(table, data_server, reports, modes, settings);
  table.add_row(bad);
  if (settings.rpc)
    fmt::print("\nsummary ({} records of 1 KiB each way, {} per call; \"answered\" counts records "
               "whose call was answered)\n",
               support::grouped(settings.records), support::grouped(settings.burst));
  else
    fmt::print("\nsummary ({} records of 1 KiB each way; \"sent\" counts bytes the kernel took)\n",
               support::grouped(settings.records));
  table.print(stdout);
}

// Whether a run showed what it is there to show.
bool as_expected(OutputMode mode, const RunReport& report, const Settings& settings) {
  return mode == OutputMode::blocking ? report.outcome == Outcome::deadlocked
                                      : delivered_everything(report, settings);
}

std::string verdict(OutputMode mode, const RunReport& report, const Settings& settings) {
  if (mode == OutputMode::blocking)
    return as_expected(mode, report, settings)
               ? "the blocking run deadlocked, as expected"
               : "the blocking run did NOT deadlock (try more --records or a larger --burst)";
  if (settings.rpc)
    return as_expected(mode, report, settings)
               ? "the qio run answered every call and delivered every record"
               : "the qio run did NOT answer every call";
  return as_expected(mode, report, settings) ? "the qio run delivered every record"
                                             : "the qio run did NOT deliver every record";
}

// Runs the modes asked for, prints the summary; returns the exit status.
int run_demo(const Settings& settings) {
  std::vector<OutputMode> modes;
  if (settings.mode != "qio")
    modes.push_back(OutputMode::blocking);
  if (settings.mode != "blocking")
    modes.push_back(OutputMode::qio);

  print_introduction(settings);
  std::vector<RunReport> reports;
  for (const OutputMode mode : modes) {
    print_heading(mode, settings);
    reports.push_back(run_peers(mode, settings));
    print_outcome(reports.back(), settings);
  }
  print_summary(reports, modes, settings);

  bool all_as_expected = true;
  std::string verdicts;
  for (std::size_t index = 0; index < modes.size(); ++index) {
    all_as_expected = all_as_expected && as_expected(modes[index], reports[index], settings);
    verdicts += fmt::format("{}{}", verdicts.empty() ? "" : "; ",
                            verdict(modes[index], reports[index], settings));
  }
  fmt::print("\nresult: {}.\n", verdicts);
  return all_as_expected ? 0 : 1;
}

} // namespace
} // namespace deadlock

int main(int argc, char** argv) {
  using namespace deadlock;
  const Settings settings = read_settings(argc, argv);
  demo::ignore_broken_pipes();
  return demo::run_reporting_errors(usage.program, [&] { return run_demo(settings); });
}
