// SPDX-License-Identifier: MIT
// qio-data-server-demo - the memo's data server on qio, with one client
// that stops reading for a while.
//
// The server (this process) runs a select loop with a 100 ms tick; each
// tick it samples a few values and sends every client a DATA packet
// through qio (C API: qio_configure, xdr_qio_create, qio_fdset,
// qio_flush). The clients are child processes reading with plain libtirpc.
// One of them stops reading for a few seconds, then resumes. A progress
// line each second shows the stalled client's queue growing while the
// others keep up; the summary shows each client's latency, that the
// others got every tick on time, and that the stalled one recovered:
// every packet delivered late, or with --prune only the newest whole
// packets.
#include <unistd.h> // close

#include <cstdint> // std::int64_t
#include <string>  // std::string
#include <vector>  // std::vector

#include <fmt/core.h>

#include "client.hpp"
#include "common/command_line.hpp"
#include "common/loopback.hpp"
#include "common/processes.hpp"
#include "common/report.hpp"
#include "common/shared_block.hpp"
#include "server.hpp"

namespace data_server {
namespace {

constexpr std::int64_t tick_ns = 100'000'000; // the memo's tenth of a second

struct Settings {
  unsigned clients = 0;
  double seconds = 0;
  double stall_at = 0;
  double stall_for = 0;
  bool prune = false;
  std::size_t packet_bytes = 0;
  int socket_buffer = 0;
};

const demo::Usage usage{
    "qio-data-server-demo",
    "[options]",
    "A data server samples a few values every 100 ms and sends each client a DATA\n"
    "packet through qio. The last client stops reading for a while, then resumes: the\n"
    "others still get every tick on time, and the stalled one's queue grows and\n"
    "drains (with --prune, only the newest whole packets are kept for it).\n"
    "Exit status: 0 when that is what happened, 1 otherwise, 2 for bad options.",
    {
        {"clients", "N", "clients, the last of which stalls (default: 3)"},
        {"seconds", "S", "seconds of ticks (default: 8)"},
        {"stall-at", "S", "when the last client stops reading (default: 2)"},
        {"stall-for", "S", "for how long it does not read (default: 3)"},
        {"prune", "", "drop a lagging client's unsent packets, whole, each tick"},
        {"packet-bytes", "BYTES", "size of a DATA packet (default: 16384)"},
        {"socket-buffer", "BYTES", "server SO_SNDBUF and client SO_RCVBUF (default: 32768)"},
    }};

Settings read_settings(int argc, char** argv) {
  const demo::CommandLine options(usage, argc, argv);
  Settings settings;
  settings.clients = static_cast<unsigned>(options.number("clients", 3, 2, max_clients));
  settings.seconds = options.seconds("seconds", 8, 2, 60);
  settings.stall_at = options.seconds("stall-at", 2, 0.5, 60);
  settings.stall_for = options.seconds("stall-for", 3, 0.5, 60);
  settings.prune = options.given("prune");
  settings.packet_bytes = options.number("packet-bytes", 16384, 256, 1024 * 1024);
  settings.socket_buffer =
      static_cast<int>(options.number("socket-buffer", 32768, 4096, 16 * 1024 * 1024));
  if (settings.stall_at + settings.stall_for + 1 > settings.seconds)
    options.reject("the stall must end at least 1 s before the run does "
                   "(--stall-at + --stall-for + 1 <= --seconds)");
  return settings;
}

unsigned tick_count(const Settings& settings) {
  return static_cast<unsigned>(settings.seconds * 1e9 / static_cast<double>(tick_ns));
}

ClientPlan plan_for(unsigned client, std::uint16_t port, const Settings& settings) {
  ClientPlan plan;
  plan.port = port;
  plan.receive_buffer = settings.socket_buffer;
  plan.tick_ns = tick_ns;
  plan.stalls = client + 1 == settings.clients;
  plan.stall_at_ns = static_cast<std::int64_t>(settings.stall_at * 1e9);
  plan.stall_for_ns = static_cast<std::int64_t>(settings.stall_for * 1e9);
  return plan;
}

// Starts the clients one at a time, accepting each before the next, so
// connection i belongs to client i.
std::vector<demo::UniqueFd> start_clients(const Settings& settings, SharedClients& shared,
                                          std::vector<demo::ChildProcess>& children) {
  demo::UniqueFd listener = demo::listen_on_loopback(0, {settings.socket_buffer, 0});
  const std::uint16_t port = demo::local_port(listener.get());
  std::vector<demo::UniqueFd> connections;
  for (unsigned client = 0; client < settings.clients; ++client) {
    const int listening = listener.get();
    children.push_back(demo::ChildProcess::start([&, client, listening] {
      // The server's ends of the earlier clients' connections are not this
      // client's: held open here, they would keep those clients from
      // seeing the end of their streams until this one exits.
      ::close(listening);
      for (const demo::UniqueFd& earlier : connections)
        ::close(earlier.get());
      return run_client(plan_for(client, port, settings), shared.clients[client]);
    }));
    connections.push_back(demo::accept_within(listener.get(), 5000));
  }
  return connections;
}

struct ServerResults {
  std::vector<QueueHistory> queues;
  std::size_t packet_bytes = 0;
};

ServerResults serve(const Settings& settings, std::vector<demo::UniqueFd> connections,
                    const SharedClients& shared) {
  ServerPlan plan;
  plan.tick_ns = tick_ns;
  plan.ticks = tick_count(settings);
  plan.packet_bytes = settings.packet_bytes;
  plan.prune = settings.prune;
  plan.drain_limit_seconds = 10;
  DataServer server(plan, std::move(connections), shared);
  fmt::print("Each packet is {} encoded; {} ticks; queues are counted in packets.\n\n",
             demo::format_bytes(server.encoded_packet_bytes()), plan.ticks);
  server.run();
  ServerResults results{{}, server.encoded_packet_bytes()};
  for (unsigned client = 0; client < settings.clients; ++client)
    results.queues.push_back(server.history(client));
  return results; // the server's destructor closes the connections: clients see the end
}

// Waits for every client to end (they do once the server has closed their
// connections); one still running after 10 s is stopped.
void reap_clients(std::vector<demo::ChildProcess>& children) {
  for (auto& child : children)
    if (!child.wait_for(std::chrono::seconds(10)))
      child.stop();
}

bool prompt_client_ok(const ClientReport& report, unsigned ticks) {
  return report.current() == ClientState::finished && report.received == ticks &&
         report.skipped == 0 && report.out_of_order == 0 && report.late == 0;
}

bool stalled_client_recovered(const ClientReport& report, const QueueHistory& queue,
                              const Settings& settings) {
  const unsigned ticks = tick_count(settings);
  const bool whole_and_current = report.current() == ClientState::finished &&
                                 report.out_of_order == 0 && report.undecodable == 0 &&
                                 report.last_sequence == static_cast<std::int64_t>(ticks) - 1 &&
                                 report.caught_up_after_ns >= 0 && queue.left_at_end == 0;
  if (settings.prune)
    return whole_and_current && queue.pruned > 0 && report.skipped == queue.pruned &&
           queue.peak_packets <= 2;
  return whole_and_current && report.received == ticks && report.skipped == 0 &&
         queue.peak_packets >= 2;
}

void print_table(const Settings& settings, const SharedClients& shared,
                 const ServerResults& server) {
  const unsigned ticks = tick_count(settings);
  demo::Table table({"client", "reads", "received", "skipped", "late", "median latency",
                     "worst latency", "peak queue", "pruned", "on time again"});
  for (unsigned client = 0; client < settings.clients; ++client) {
    const ClientReport& report = shared.clients[client];
    const QueueHistory& queue = server.queues[client];
    const bool stalls = client + 1 == settings.clients;
    table.add_row({fmt::format("{}", client + 1), stalls ? "stalls" : "always",
                   fmt::format("{} of {}", report.received.load(), ticks),
                   fmt::format("{}", report.skipped.load()), fmt::format("{}", report.late.load()),
                   demo::format_duration_ns(report.median_latency_ns),
                   demo::format_duration_ns(report.worst_latency_ns),
                   fmt::format("{} ({})", queue.peak_packets,
                               demo::format_bytes(queue.peak_packets * server.packet_bytes)),
                   fmt::format("{}", queue.pruned),
                   stalls && report.caught_up_after_ns >= 0
                       ? fmt::format("{} after resuming",
                                     demo::format_duration_ns(report.caught_up_after_ns))
                       : "-"});
  }
  fmt::print("\nsummary (late: more than one 100 ms tick after sampling; queue in packets)\n");
  table.print();
}

// Prints what the run showed; returns the exit status.
int print_verdict(const Settings& settings, const SharedClients& shared,
                  const ServerResults& server) {
  const unsigned ticks = tick_count(settings);
  bool prompt_ok = true;
  for (unsigned client = 0; client + 1 < settings.clients; ++client)
    prompt_ok = prompt_ok && prompt_client_ok(shared.clients[client], ticks);
  const unsigned stalled = settings.clients - 1;
  const bool recovered =
      stalled_client_recovered(shared.clients[stalled], server.queues[stalled], settings);
  fmt::print("\n{}\n",
             prompt_ok ? "prompt clients: every tick arrived, in order and on time."
                       : "prompt clients: NOT every tick arrived on time.");
  const QueueHistory& queue = server.queues[stalled];
  if (settings.prune)
    fmt::print("stalled client: {}; its queue never held more than {} packets ({} dropped "
               "whole, the same {} it never saw).\n",
               recovered ? "recovered" : "did NOT recover", queue.peak_packets, queue.pruned,
               shared.clients[stalled].skipped.load());
  else
    fmt::print("stalled client: {}; its queue grew to {} packets while it did not read and "
               "drained once it resumed; it received all {} ticks.\n",
               recovered ? "recovered" : "did NOT recover", queue.peak_packets,
               shared.clients[stalled].received.load());
  fmt::print("result: {}\n", prompt_ok && recovered ? "OK" : "FAILED");
  return prompt_ok && recovered ? 0 : 1;
}

int run_demo(const Settings& settings) {
  fmt::print("qio-data-server-demo: a data server ticking every 100 ms sends each of {} clients\n"
             "a DATA packet per tick through qio; client {} stops reading at {:.1f} s for {:.1f} s.\n",
             settings.clients, settings.clients, settings.stall_at, settings.stall_for);
  if (settings.prune)
    fmt::print("--prune: a client still behind at a tick has its unsent packets dropped whole.\n");
  demo::SharedBlock<SharedClients> shared;
  std::vector<demo::ChildProcess> children;
  const ServerResults server = serve(settings, start_clients(settings, *shared, children), *shared);
  reap_clients(children);
  print_table(settings, *shared, server);
  return print_verdict(settings, *shared, server);
}

} // namespace
} // namespace data_server

int main(int argc, char** argv) {
  using namespace data_server;
  const Settings settings = read_settings(argc, argv);
  demo::ignore_broken_pipes();
  return demo::run_reporting_errors(usage.program, [&] { return run_demo(settings); });
}
