// SPDX-License-Identifier: MIT
// qio-rpc-demo - ONC RPC over qio: the echo program of echo.x served by
// xdr_glue's responder and called by plain libtirpc clients.
//
//   qio-rpc-demo                  starts a server in a child process, runs
//                                 the client session against it (echoes,
//                                 a slow-reading phase, STATS), prints the
//                                 results, and stops the server;
//   qio-rpc-demo server [--port N] [--register] [--max-connections N]
//                       [--idle-timeout SECONDS] [--call-timeout SECONDS]
//                       [--client-backlog BYTES] [--total-backlog BYTES]
//                       [--policy pause|close] [--stall-timeout SECONDS]
//                                 serves on 127.0.0.1 until SIGINT or
//                                 SIGTERM, for other clients (rpcinfo, or
//                                 the next form) to call; --register also
//                                 announces it to the machine's rpcbind;
//   qio-rpc-demo client --port N  runs the client session against a server
//                                 started with the previous form.
#include <signal.h> // SIGTERM

#include <chrono>      // std::chrono::seconds, the timeouts
#include <cmath>       // std::llround, seconds to milliseconds
#include <cstdint>     // std::uint16_t
#include <optional>    // std::optional, the rpcbind registration
#include <string>      // std::string, help lines with their defaults
#include <string_view> // std::string_view

#include <fmt/core.h>

#include <xdr_glue/rpcbind_registration.hpp>

#include "support/command_line.hpp"
#include "support/loopback.hpp"
#include "common/processes.hpp"
#include "common/report.hpp"
#include "echo.h" // rpcgen: ECHO_PROGRAM, ECHO_VERSION
#include "echo_client.hpp"
#include "echo_server.hpp"

namespace rpc_demo {
namespace {

// The library's defaults, shown in --help as they are.
const xdr_glue::rpc::ServerOptions server_defaults;

std::string seconds_of(std::chrono::milliseconds duration) {
  return fmt::format("{:g}", static_cast<double>(duration.count()) / 1000);
}

const std::string max_connections_help =
    fmt::format("server: most clients; a newcomer beyond displaces the one idle longest "
                "(default: {})",
                server_defaults.max_connections);
const std::string idle_timeout_help =
    fmt::format("server: close a client idle this long, 0: never (default: {})",
                seconds_of(server_defaults.idle_timeout));
const std::string call_timeout_help =
    fmt::format("server: close a client whose call is incomplete this long, 0: never "
                "(default: {})",
                seconds_of(server_defaults.call_timeout));

const std::string client_backlog_help =
    fmt::format("server: memory one client's unsent replies may hold before --policy applies "
                "(default: {}, {})",
                server_defaults.max_queued_reply_bytes,
                demo::format_bytes(server_defaults.max_queued_reply_bytes));
const std::string total_backlog_help =
    fmt::format("server: memory all clients' unsent replies may hold; past it the client "
                "holding the most is closed (default: {}, {})",
                server_defaults.max_total_reply_bytes,
                demo::format_bytes(server_defaults.max_total_reply_bytes));
const std::string stall_timeout_help =
    fmt::format("server: under --policy pause, close a client whose replies have not moved "
                "for this long, 0: never (default: {})",
                seconds_of(server_defaults.stall_timeout));

const support::Usage usage{
    "qio-rpc-demo",
    "[server [--port N] [--register] [--max-connections N] [--idle-timeout SECONDS]\n"
    "                           [--call-timeout SECONDS] [--client-backlog BYTES]\n"
    "                           [--total-backlog BYTES] [--policy pause|close]\n"
    "                           [--stall-timeout SECONDS] | client --port N]",
    "ONC RPC over qio: program 0x31230001 version 1 (demo/rpc/echo.x), procedures\n"
    "ECHO (opaque data up to 1 MiB, sent back unchanged) and STATS (the server's\n"
    "counters), served by xdr_glue's RPC responder and called with libtirpc.\n"
    "\n"
    "  qio-rpc-demo                 server in a child process, then the client session\n"
    "                               against it: echoes, a slow-reading phase, STATS\n"
    "  qio-rpc-demo server          serve on 127.0.0.1 until SIGINT or SIGTERM\n"
    "                               (--register: also announce it to rpcbind)\n"
    "  qio-rpc-demo client --port N the client session against a running server\n"
    "\n"
    "Exit status: 0 when every echo came back intact and a slow reader held up\n"
    "nobody else (server: when stopped by a signal), 1 otherwise, 2 for bad options.",
    {
        {"port", "N", "server: port to listen on (default: 0, any free port); client: required"},
        {"register", "", "server: register with the machine's rpcbind while serving"},
        {"max-connections", "N", max_connections_help},
        {"idle-timeout", "SECONDS", idle_timeout_help},
        {"call-timeout", "SECONDS", call_timeout_help},
        {"client-backlog", "BYTES", client_backlog_help},
        {"total-backlog", "BYTES", total_backlog_help},
        {"policy", "pause|close",
         "server: past --client-backlog, stop reading the client's calls until its replies "
         "drain (pause) or close it (close) (default: pause)"},
        {"stall-timeout", "SECONDS", stall_timeout_help},
    },
    1}; // the mode word

// The server flags' names, for checking they come with 'server'.
constexpr std::string_view server_only_options[] = {
    "register",       "max-connections", "idle-timeout", "call-timeout",
    "client-backlog", "total-backlog",   "policy",       "stall-timeout"};

// 1 TiB: more than any machine here could queue, and unlimited in effect.
constexpr std::uint64_t largest_backlog = std::uint64_t{1} << 40;

// A day: longer timeouts are as good as none, and 0 means none.
constexpr double longest_timeout_seconds = 86400;

std::chrono::milliseconds timeout_option(const support::CommandLine& options, std::string_view name,
                                         std::chrono::milliseconds fallback) {
  const double seconds = options.seconds(name, static_cast<double>(fallback.count()) / 1000, 0,
                                         longest_timeout_seconds);
  return std::chrono::milliseconds(std::llround(seconds * 1000));
}

// The limits given on the command line, over the library's defaults.
xdr_glue::rpc::ServerOptions server_limits(const support::CommandLine& options) {
  xdr_glue::rpc::ServerOptions limits;
  limits.max_connections = options.number("max-connections", limits.max_connections, 1, 65536);
  limits.idle_timeout = timeout_option(options, "idle-timeout", limits.idle_timeout);
  limits.call_timeout = timeout_option(options, "call-timeout", limits.call_timeout);
  limits.max_queued_reply_bytes =
      options.number("client-backlog", limits.max_queued_reply_bytes, 1, largest_backlog);
  limits.max_total_reply_bytes =
      options.number("total-backlog", limits.max_total_reply_bytes, 1, largest_backlog);
  limits.backlog_policy = options.choice("policy", "pause", {"pause", "close"}) == "close"
                              ? xdr_glue::rpc::BacklogPolicy::close
                              : xdr_glue::rpc::BacklogPolicy::pause;
  limits.stall_timeout = timeout_option(options, "stall-timeout", limits.stall_timeout);
  return limits;
}

std::string describe_timeout(std::chrono::milliseconds timeout) {
  return timeout.count() == 0 ? "none" : seconds_of(timeout) + " s";
}

// rpcinfo's universal address of 127.0.0.1:port: "127.0.0.1.H.L".
std::string universal_address(std::uint16_t port) {
  return fmt::format("127.0.0.1.{}.{}", port / 256, port % 256);
}

support::UniqueFd listen_for_clients(std::uint16_t port) {
  return support::listen_on_loopback(port, {.send_buffer = server_send_buffer});
}

void print_server_summary(const EchoServer& server) {
  const ServerCounters& counters = server.counters();
  support::Table table(
      {"ECHO and STATS calls", "bytes echoed", "peak queue depth", "connections closed"});
  table.add_row({support::grouped(counters.calls), demo::format_bytes(counters.echoed_bytes),
                 demo::format_bytes(counters.peak_bytes_queued),
                 support::grouped(counters.connections_closed)});
  table.print(stdout);
  const xdr_glue::rpc::ServerStatistics& statistics = server.statistics();
  support::Table closes({"closed idle", "closed inside a call", "displaced by a newcomer",
                         "refused", "accept pauses"});
  closes.add_row({support::grouped(statistics.idle_timeouts),
                  support::grouped(statistics.call_timeouts), support::grouped(statistics.reaped),
                  support::grouped(statistics.refused),
                  support::grouped(statistics.accept_pauses)});
  closes.print(stdout);
  support::Table backlogs(
      {"closed stalled", "closed past client backlog", "evicted for total backlog"});
  backlogs.add_row({support::grouped(statistics.stall_timeouts),
                    support::grouped(statistics.backlog_closes),
                    support::grouped(statistics.evictions)});
  backlogs.print(stdout);
}

int run_server(std::uint16_t requested_port, bool register_with_rpcbind,
               const xdr_glue::rpc::ServerOptions& limits) {
  const support::UniqueFd listener = listen_for_clients(requested_port);
  const std::uint16_t port = support::local_port(listener.get());
  EchoServer server(listener.get(), limits);
  std::optional<xdr_glue::rpc::RpcbindRegistration> registration;
  if (register_with_rpcbind)
    registration.emplace(ECHO_PROGRAM, ECHO_VERSION, port);
  fmt::print("qio-rpc-demo server: program {:#x} ({}) version {} on 127.0.0.1:{} (TCP)\n"
             "  ping it:  rpcinfo -a {} -T tcp {} {}\n"
             "  call it:  qio-rpc-demo client --port {}\n"
             "  stop it:  Ctrl-C or SIGTERM\n",
             ECHO_PROGRAM, ECHO_PROGRAM, ECHO_VERSION, port, universal_address(port), ECHO_PROGRAM,
             ECHO_VERSION, port);
  if (registration)
    fmt::print("  registered with rpcbind: rpcinfo -n {} -t 127.0.0.1 {} {} finds it\n", port,
               ECHO_PROGRAM, ECHO_VERSION);
  fmt::print("  limits:   {} clients, idle timeout {}, call timeout {}\n", limits.max_connections,
             describe_timeout(limits.idle_timeout), describe_timeout(limits.call_timeout));
  fmt::print("  backlog:  {} per client ({} past it, stall timeout {}), {} in all\n",
             demo::format_bytes(limits.max_queued_reply_bytes),
             limits.backlog_policy == xdr_glue::rpc::BacklogPolicy::close ? "close" : "pause",
             describe_timeout(limits.stall_timeout),
             demo::format_bytes(limits.max_total_reply_bytes));
  std::fflush(stdout);
  server.serve_until_signalled();
  fmt::print("qio-rpc-demo server: stopped by signal {}\n", server.stop_signal());
  print_server_summary(server);
  return 0;
}

// The default run: a server in a child process, the session here.
int run_demo() {
  support::UniqueFd listener = listen_for_clients(0);
  const std::uint16_t port = support::local_port(listener.get());
  const int listening = listener.get();
  demo::ChildProcess server = demo::ChildProcess::start([listening] {
    EchoServer echo_server(listening);
    echo_server.serve_until_signalled();
    return 0;
  });
  listener.reset();
  fmt::print("qio-rpc-demo: echo server (program {:#x} version {}) on 127.0.0.1:{}, in child "
             "process {}\n",
             ECHO_PROGRAM, ECHO_VERSION, port, server.pid());
  const int status = run_client_session(port);
  server.send(SIGTERM);
  if (!server.wait_for(std::chrono::seconds(5)) || !server.succeeded()) {
    fmt::print("the server did not stop cleanly ({})\n", server.describe_end());
    return 1;
  }
  return status;
}

} // namespace
} // namespace rpc_demo

int main(int argc, char** argv) {
  using namespace rpc_demo;
  const support::CommandLine options(usage, argc, argv);
  const std::string mode = options.operands().empty() ? "" : options.operands().front();
  if (!mode.empty() && mode != "server" && mode != "client")
    options.reject(fmt::format("unexpected argument '{}' (server or client)", mode));
  if (mode.empty() && options.given("port"))
    options.reject("--port goes with 'server' or 'client'");
  for (const std::string_view name : server_only_options)
    if (mode != "server" && options.given(name))
      options.reject(fmt::format("--{} goes with 'server'", name));
  if (mode == "client" && !options.given("port"))
    options.reject("'client' needs --port N (the port a 'server' printed)");
  const auto port =
      static_cast<std::uint16_t>(options.number("port", 0, mode == "client" ? 1 : 0, 65535));
  const bool register_with_rpcbind = options.given("register");
  const xdr_glue::rpc::ServerOptions limits = server_limits(options);
  demo::ignore_broken_pipes();
  return demo::run_reporting_errors(usage.program, [&] {
    if (mode == "server")
      return run_server(port, register_with_rpcbind, limits);
    if (mode == "client")
      return run_client_session(port);
    return run_demo();
  });
}
