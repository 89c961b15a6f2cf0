// SPDX-License-Identifier: MIT
// qio-data-server-demo - the memo's data server on qio, with a client that
// stops reading for a while, and a policy for what to do about it.
//
// The server (this process) runs a select loop with a 100 ms tick; each
// tick it samples a few values and sends every client a DATA packet
// through qio (C API: qio_configure, xdr_qio_create, qio_fdset,
// qio_flush). The clients are child processes reading with plain libtirpc.
// The last one stops reading for a few seconds, then resumes. A progress
// line each second shows every client, and the stalled one's qio_stat
// figures. --policy decides what the server does about it (policy.hpp):
// keep its packets, prune them, or let it go by a soft limit, a stall
// timeout or a close after drain; --policy all runs one stalled client per
// policy side by side. The summary shows each client's latency, that the
// others got every tick on time, and what each policy cost and saved.
#include <unistd.h> // close

#include <cstdint> // std::int64_t
#include <string>  // std::string
#include <vector>  // std::vector

#include <fmt/core.h>

#include "client.hpp"
#include "support/command_line.hpp"
#include "support/loopback.hpp"
#include "common/processes.hpp"
#include "common/report.hpp"
#include "common/shared_block.hpp"
#include "policy.hpp"
#include "server.hpp"
#include "summary.hpp"

namespace data_server {
namespace {

constexpr std::int64_t tick_ns = 100'000'000; // the memo's tenth of a second

struct Settings {
  unsigned clients = 0;
  double seconds = 0;
  double stall_at = 0;
  double stall_for = 0;
  std::string_view policy; // a policy's name, or "all"
  double retire_after = 0;
  double close_timeout = 0;
  std::size_t packet_bytes = 0;
  int socket_buffer = 0;
};

constexpr unsigned policy_count = sizeof every_policy / sizeof every_policy[0];

const support::Usage usage{
    "qio-data-server-demo",
    "[options]",
    "A data server samples a few values every 100 ms and sends each client a DATA\n"
    "packet through qio. The last client stops reading for a while, then resumes: the\n"
    "others still get every tick on time, and --policy decides what becomes of the\n"
    "stalled one: keep its packets (it gets them late), prune them (it resumes on the\n"
    "newest), or let it go by a soft limit, a stall timeout, or a close after drain.\n"
    "--policy all runs one stalled client per policy, side by side.\n"
    "Exit status: 0 when that is what happened, 1 otherwise, 2 for bad options.",
    {
        {"clients", "N", "clients, the last of which stall (default: 3; with --policy all, 7)"},
        {"seconds", "S", "seconds of ticks (default: 8)"},
        {"stall-at", "S", "when the stalling clients stop reading (default: 2)"},
        {"stall-for", "S", "for how long they do not read (default: 3)"},
        {"policy", "P", "keep, prune, soft, stall, close, or all (default: keep)"},
        {"retire-after", "S", "when soft, stall and close let a stalled client go (default: 1)"},
        {"close-timeout", "S", "how long a close may take to drain (default: 5)"},
        {"packet-bytes", "BYTES", "size of a DATA packet (default: 16384)"},
        {"socket-buffer", "BYTES", "server SO_SNDBUF and client SO_RCVBUF (default: 32768)"},
    }};

Settings read_settings(int argc, char** argv) {
  const support::CommandLine options(usage, argc, argv);
  Settings settings;
  settings.policy = options.choice("policy", "keep", {"keep", "prune", "soft", "stall", "close", "all"});
  const bool all = settings.policy == "all";
  settings.clients = static_cast<unsigned>(
      options.number("clients", all ? policy_count + 2 : 3, all ? policy_count + 1 : 2, max_clients));
  settings.seconds = options.seconds("seconds", 8, 2, 60);
  settings.stall_at = options.seconds("stall-at", 2, 0.5, 60);
  settings.stall_for = options.seconds("stall-for", 3, 0.5, 60);
  settings.retire_after = options.seconds("retire-after", 1, 0.1, 60);
  settings.close_timeout = options.seconds("close-timeout", 5, 0, 60);
  settings.packet_bytes = options.number("packet-bytes", 16384, 256, 1024 * 1024);
  settings.socket_buffer =
      static_cast<int>(options.number("socket-buffer", 32768, 4096, 16 * 1024 * 1024));
  if (settings.stall_at + settings.stall_for + 1 > settings.seconds)
    options.reject("the stall must end at least 1 s before the run does "
                   "(--stall-at + --stall-for + 1 <= --seconds)");
  if (settings.retire_after + 0.5 > settings.stall_for)
    options.reject("the stall must outlast --retire-after by at least 0.5 s");
  return settings;
}

// How many clients stall: one, or one per policy.
unsigned stalled_count(const Settings& settings) {
  return settings.policy == "all" ? policy_count : 1;
}

bool stalls(unsigned client, const Settings& settings) {
  return client + stalled_count(settings) >= settings.clients;
}

// One policy for every client; with "all", one per stalled client, and the
// prompt ones keep everything.
Policy policy_of(unsigned client, const Settings& settings) {
  if (settings.policy != "all")
    return policy_named(settings.policy);
  if (!stalls(client, settings))
    return Policy::keep;
  return every_policy[client + stalled_count(settings) - settings.clients];
}

unsigned tick_count(const Settings& settings) {
  return static_cast<unsigned>(settings.seconds * 1e9 / static_cast<double>(tick_ns));
}

ClientPlan plan_for(unsigned client, std::uint16_t port, const Settings& settings) {
  ClientPlan plan;
  plan.port = port;
  plan.receive_buffer = settings.socket_buffer;
  plan.tick_ns = tick_ns;
  plan.stalls = stalls(client, settings);
  plan.stall_at_ns = static_cast<std::int64_t>(settings.stall_at * 1e9);
  plan.stall_for_ns = static_cast<std::int64_t>(settings.stall_for * 1e9);
  return plan;
}

// Starts the clients one at a time, accepting each before the next, so
// connection i belongs to client i.
std::vector<support::UniqueFd> start_clients(const Settings& settings, SharedClients& shared,
                                          std::vector<demo::ChildProcess>& children) {
  // The clients' connections inherit the listener's send buffer; each
  // tick goes out as soon as it is written.
  const support::SocketOptions server_socket{.send_buffer = settings.socket_buffer,
                                             .no_delay = true};
  support::UniqueFd listener = support::listen_on_loopback(0, server_socket);
  const std::uint16_t port = support::local_port(listener.get());
  std::vector<support::UniqueFd> connections;
  for (unsigned client = 0; client < settings.clients; ++client) {
    const int listening = listener.get();
    children.push_back(demo::ChildProcess::start([&, client, listening] {
      // The server's ends of the earlier clients' connections are not this
      // client's: held open here, they would keep those clients from
      // seeing the end of their streams until this one exits.
      ::close(listening);
      for (const support::UniqueFd& earlier : connections)
        ::close(earlier.get());
      return run_client(plan_for(client, port, settings), shared.clients[client]);
    }));
    connections.push_back(support::accept_within(listener.get(), 5000, server_socket));
  }
  return connections;
}

ServerPlan server_plan(const Settings& settings) {
  ServerPlan plan;
  plan.tick_ns = tick_ns;
  plan.ticks = tick_count(settings);
  plan.packet_bytes = settings.packet_bytes;
  for (unsigned client = 0; client < settings.clients; ++client) {
    plan.policies.push_back(policy_of(client, settings));
    plan.stalls.push_back(stalls(client, settings));
  }
  plan.retirement.retire_after_ms = static_cast<int>(settings.retire_after * 1000);
  plan.retirement.soft_limit_bytes = 3 * settings.packet_bytes;
  plan.retirement.close_timeout_ms = static_cast<int>(settings.close_timeout * 1000);
  plan.drain_limit_seconds = 10;
  return plan;
}

RunFacts serve(const Settings& settings, std::vector<support::UniqueFd> connections,
               const SharedClients& shared) {
  const ServerPlan plan = server_plan(settings);
  DataServer server(plan, std::move(connections), shared);
  fmt::print("Each packet is {} encoded; {} ticks; queues are counted in packets.\n\n",
             demo::format_bytes(server.encoded_packet_bytes()), plan.ticks);
  server.run();
  RunFacts run;
  run.ticks = plan.ticks;
  run.tick_ns = plan.tick_ns;
  run.packet_bytes = server.encoded_packet_bytes();
  run.stall_start_ns = server.first_tick_ns() + static_cast<std::int64_t>(settings.stall_at * 1e9);
  run.stall_end_ns = run.stall_start_ns + static_cast<std::int64_t>(settings.stall_for * 1e9);
  run.policies = plan.policies;
  run.stalls = plan.stalls;
  for (unsigned client = 0; client < settings.clients; ++client)
    run.queues.push_back(server.history(client));
  return run; // the server's destructor closes the connections: clients see the end
}

// Waits for every client to end (they do once the server has closed their
// connections); one still running after 10 s is stopped.
void reap_clients(std::vector<demo::ChildProcess>& children) {
  for (auto& child : children)
    if (!child.wait_for(std::chrono::seconds(10)))
      child.stop();
}

void print_introduction(const Settings& settings) {
  const unsigned stalled = stalled_count(settings);
  fmt::print("qio-data-server-demo: a data server ticking every 100 ms sends each of {} clients\n"
             "a DATA packet per tick through qio; {} {} stop{} reading at {:.1f} s for {:.1f} s.\n",
             settings.clients, stalled == 1 ? "client" : "clients",
             stalled == 1 ? fmt::format("{}", settings.clients)
                          : fmt::format("{} to {}", settings.clients - stalled + 1, settings.clients),
             stalled == 1 ? "s" : "", settings.stall_at, settings.stall_for);
  if (settings.policy == "all")
    fmt::print("--policy all: the stalled clients are kept, pruned, cut off by a soft limit, by a\n"
               "stall timeout, and closed after drain, one policy each.\n");
  else if (settings.policy != "keep")
    fmt::print("--policy {}: {}\n", settings.policy, policy_summary(policy_named(settings.policy)));
}

int run_demo(const Settings& settings) {
  print_introduction(settings);
  demo::SharedBlock<SharedClients> shared;
  std::vector<demo::ChildProcess> children;
  const RunFacts run = serve(settings, start_clients(settings, *shared, children), *shared);
  reap_clients(children);
  print_summary(run, *shared);
  return print_verdict(run, *shared);
}

} // namespace
} // namespace data_server

int main(int argc, char** argv) {
  using namespace data_server;
  const Settings settings = read_settings(argc, argv);
  demo::ignore_broken_pipes();
  return demo::run_reporting_errors(usage.program, [&] { return run_demo(settings); });
}
