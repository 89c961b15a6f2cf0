// SPDX-License-Identifier: MIT
// test_rpc_connections.cpp - clients that hold the server's connections
// without using them: idle ones time out, a call that never finishes
// arriving times out, a newcomer displaces the least recently active idle
// client at max_connections, and running out of descriptors in accept()
// neither spins nor locks newcomers out. Time is the driven server's fake
// clock; loopback TCP clients.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "server_loop.hpp"

using namespace std::chrono_literals;
using qio_test::Fd;
using rpc_test::closed_by_server;
using rpc_test::connect_to;
using rpc_test::DrivenServer;
using rpc_test::echo_call;
using rpc_test::expect_echo;
using rpc_test::readable_now;
using rpc_test::send_all;
using rpc_test::server_read_everything;
using xdr_test::framed;

namespace {

std::error_code errc(int value) { return {value, std::generic_category()}; }

// Sends an echo call and reads its answer, turning the server meanwhile.
void expect_served(DrivenServer& server, int fd, std::uint32_t xid, const std::string& text) {
  REQUIRE(send_all(fd, framed(echo_call(xid, text))));
  REQUIRE(server.turn_until([&] { return readable_now(fd); }));
  expect_echo(fd, xid, text);
}

// Connects a client and turns the server until it has taken it on.
Fd connect_and_accept(DrivenServer& server) {
  const std::size_t before = server.server().connection_count();
  Fd client = connect_to(server.port());
  REQUIRE(server.turn_until([&] { return server.server().connection_count() > before; }));
  return client;
}

// The first bytes of a call, never finished: the client is not idle.
void start_a_call(DrivenServer& server, int fd, std::uint32_t xid) {
  const std::string call = framed(echo_call(xid, "this call never ends"));
  REQUIRE(send_all(fd, call.substr(0, 10)));
  REQUIRE(server.turn_until([&] { return server_read_everything(fd); }));
}

} // namespace

TEST_CASE("a client that sends nothing for idle_timeout is closed with ETIMEDOUT while one that "
          "called meanwhile is kept",
          "[xdr_glue][rpc][timeouts]") {
  xdr_glue::rpc::ServerOptions options;
  options.idle_timeout = 10s;
  DrivenServer server(std::move(options));
  const Fd silent = connect_and_accept(server);
  const Fd active = connect_and_accept(server);
  CHECK(server.server().select_timeout(1h) == 10s); // the loop need not wake sooner

  server.clock.advance(6s);
  expect_served(server, active.get(), 1, "still here");
  server.clock.advance(4s); // the silent one: 10 s; the active one: 4 s since its call
  server.turn();
  REQUIRE(server.close_reasons == std::vector<std::error_code>{errc(ETIMEDOUT)});
  CHECK(closed_by_server(silent.get()));
  CHECK(server.server().statistics().idle_timeouts == 1);
  CHECK(server.server().select_timeout(1h) == 6s);

  server.clock.advance(6s);
  server.turn();
  CHECK(server.close_reasons.size() == 2);
  CHECK(closed_by_server(active.get()));
  CHECK(server.server().connection_count() == 0);
}

TEST_CASE("a call that started arriving but is not complete within call_timeout closes its "
          "connection with ETIMEDOUT, however slowly its bytes keep coming",
          "[xdr_glue][rpc][timeouts]") {
  xdr_glue::rpc::ServerOptions options;
  options.call_timeout = 5s;
  DrivenServer server(std::move(options));
  const Fd bystander = connect_and_accept(server);
  const Fd slow = connect_and_accept(server);
  const std::string call = framed(echo_call(7, "a call sent a byte at a time"));
  REQUIRE(send_all(slow.get(), call.substr(0, 1)));
  REQUIRE(server.turn_until([&] { return server_read_everything(slow.get()); }));
  CHECK(server.server().select_timeout(1h) == 5s);
  for (std::size_t sent = 1; sent < 5; ++sent) { // a byte a second: no call ever completes
    server.clock.advance(1s);
    REQUIRE(send_all(slow.get(), call.substr(sent, 1)));
    REQUIRE(server.turn_until([&] { return server_read_everything(slow.get()); }));
    REQUIRE(server.close_reasons.empty());
  }
  expect_served(server, bystander.get(), 8, "served meanwhile");
  server.clock.advance(1s);
  server.turn();
  REQUIRE(server.close_reasons == std::vector<std::error_code>{errc(ETIMEDOUT)});
  CHECK(server.server().statistics().call_timeouts == 1);
  CHECK(closed_by_server(slow.get()));
  expect_served(server, bystander.get(), 9, "served after");
}

TEST_CASE("at max_connections a newcomer takes the place of the least recently active idle "
          "client, and is refused only when no client is idle",
          "[xdr_glue][rpc][timeouts]") {
  xdr_glue::rpc::ServerOptions options;
  options.max_connections = 3;
  DrivenServer server(std::move(options));
  std::vector<Fd> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(connect_and_accept(server));
    server.clock.advance(1s);
  }
  expect_served(server, clients[0].get(), 1, "the oldest, but recently active");
  server.clock.advance(1s);

  const Fd newcomer = connect_to(server.port());
  REQUIRE(server.turn_until([&] { return !server.close_reasons.empty(); }));
  CHECK(server.close_reasons == std::vector<std::error_code>{errc(ECONNABORTED)});
  CHECK(closed_by_server(clients[1].get())); // idle longest
  CHECK(server.server().statistics().reaped == 1);
  CHECK(server.server().connection_count() == 3);
  expect_served(server, newcomer.get(), 2, "admitted");
  expect_served(server, clients[0].get(), 3, "kept");
  expect_served(server, clients[2].get(), 4, "kept too");

  // Calls in progress on all three: none is idle, so the next is refused.
  start_a_call(server, clients[0].get(), 5);
  start_a_call(server, clients[2].get(), 6);
  start_a_call(server, newcomer.get(), 7);
  const Fd refused = connect_to(server.port());
  REQUIRE(server.turn_until([&] { return server.close_reasons.size() == 2; }));
  CHECK(server.close_reasons[1] == errc(ECONNREFUSED));
  CHECK(closed_by_server(refused.get()));
  CHECK(server.server().statistics().refused == 1);
}

TEST_CASE("a handler that takes on a connection at max_connections never displaces the client "
          "whose call it is answering",
          "[xdr_glue][rpc][timeouts]") {
  constexpr rpcproc_t hand_over = 110;
  std::vector<Fd> handed_peers;
  std::vector<std::error_code> taken;
  xdr_glue::rpc::ServerOptions options;
  options.max_connections = 1;
  DrivenServer server(std::move(options), [&](xdr_glue::rpc::Server& registry) {
    REQUIRE_FALSE(registry.add_procedure<xdr_glue::rpc::Void, xdr_glue::rpc::Void>(
        QIO_TEST_PROGRAM, QIO_TEST_V1, hand_over, xdr_glue::rpc::void_xdrproc(),
        xdr_glue::rpc::void_xdrproc(),
        [&](const xdr_glue::rpc::CallInfo&, const xdr_glue::rpc::Void&, xdr_glue::rpc::Void&) {
          auto pair = qio_test::socket_pair();
          const int handed = pair.local.release();
          taken.push_back(registry.add_connection(handed));
          if (taken.back())
            ::close(handed);
          handed_peers.push_back(std::move(pair.remote));
          return true;
        }));
  });
  const Fd client = connect_and_accept(server);
  REQUIRE(send_all(client.get(), framed(rpc_test::call_header(1, QIO_TEST_V1, hand_over))));
  REQUIRE(server.turn_until([&] { return readable_now(client.get()); }));
  // Its own client, idle-looking while answered, is not the one to go.
  CHECK(taken == std::vector<std::error_code>{errc(ECONNREFUSED)});
  rpc_msg reply;
  REQUIRE(rpc_test::read_reply(client.get(), reply));
  CHECK(reply.rm_xid == 1);
  CHECK(server.close_reasons.empty());
}

// ---- running out of descriptors ---------------------------------------------------

namespace {

// What the child measured, sent back through a pipe.
struct ExhaustionFigures {
  int failed_step = 0;              // 0: every step went as planned
  unsigned wakeups_at_limit = 0;    // turns whose select found something ready
  unsigned accepts_at_limit = 0;    // accept() calls during those turns
  unsigned accepts_after_delay = 0; // accept() calls once the delay had passed
  unsigned reports = 0;             // on_accept_error calls
  unsigned reaped = 0;
  bool newcomer_served = false;
};

constexpr unsigned turns_at_limit = 100;

// Fills every free descriptor below the limit, which is then lowered to
// just above the highest open one: the next accept() fails with EMFILE.
// The descriptors stay open until the process exits. Only the soft limit
// moves (valgrind refuses to change the hard one).
bool use_up_descriptors() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0)
    return false;
  int highest = 0;
  for (int fd = 0; fd < static_cast<int>(std::min<rlim_t>(limit.rlim_cur, 65536)); ++fd)
    if (::fcntl(fd, F_GETFD) >= 0)
      highest = fd;
  limit.rlim_cur = static_cast<rlim_t>(highest + 1);
  if (::setrlimit(RLIMIT_NOFILE, &limit) != 0)
    return false;
  while (::open("/dev/null", O_RDONLY | O_CLOEXEC) >= 0) {
  }
  return errno == EMFILE;
}

bool answered(DrivenServer& server, int fd, std::uint32_t xid) {
  const std::string text = "served at the limit";
  if (!send_all(fd, framed(echo_call(xid, text))) ||
      !server.turn_until([&] { return readable_now(fd); }))
    return false;
  rpc_msg reply;
  char* echoed = nullptr;
  const bool ok = rpc_test::read_reply(fd, reply, xdr_test::xdrproc(xdr_wrapstring), &echoed) &&
                  reply.rm_xid == xid && echoed != nullptr && text == echoed;
  xdr_free(xdr_test::xdrproc(xdr_wrapstring), &echoed);
  return ok;
}

// The child's whole run: four clients connected (busy with a call each,
// or idle), the descriptors used up, then a newcomer. Catch2's assertions
// would not reach the parent: a failed step is reported by number.
ExhaustionFigures run_out_of_descriptors(bool occupants_idle) {
  ExhaustionFigures figures;
  const auto failed = [&figures](int step) {
    figures.failed_step = step;
    return figures;
  };
  xdr_glue::rpc::ServerOptions options;
  options.on_accept_error = [&figures](std::error_code) { ++figures.reports; };
  DrivenServer server(std::move(options));
  std::vector<Fd> occupants;
  for (int i = 0; i < 4; ++i)
    occupants.push_back(connect_and_accept(server));
  if (!occupants_idle)
    for (std::uint32_t i = 0; i < occupants.size(); ++i)
      start_a_call(server, occupants[i].get(), 100 + i);
  Fd newcomer(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)); // before the limit
  if (!use_up_descriptors())
    return failed(1);
  const sockaddr_in address = rpc_test::loopback_address(server.port());
  if (::connect(newcomer.get(), reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0)
    return failed(2);

  const auto& statistics = server.server().statistics();
  const std::uint64_t accepts_before = statistics.accept_calls;
  for (unsigned i = 0; i < turns_at_limit && server.server().connection_count() == 4; ++i)
    figures.wakeups_at_limit += server.turn();
  figures.accepts_at_limit = static_cast<unsigned>(statistics.accept_calls - accepts_before);
  figures.reaped = static_cast<unsigned>(statistics.reaped);
  if (!occupants_idle) {
    server.clock.advance(xdr_glue::rpc::accept_retry_delay);
    server.turn(); // the pause ends here; the listener is watched from the next turn
    server.turn(10ms);
    figures.accepts_after_delay =
        static_cast<unsigned>(statistics.accept_calls - accepts_before) - figures.accepts_at_limit;
    occupants[0].reset(); // a client leaves: the server closes its end, a slot frees
    if (!server.turn_until([&] { return server.server().connection_count() == 4; }))
      return failed(3);
  }
  figures.newcomer_served = answered(server, newcomer.get(), 1);
  return figures;
}

// Runs the scenario in a child process, whose descriptor limit may drop.
ExhaustionFigures in_a_child(bool occupants_idle) {
  int results[2];
  REQUIRE(::pipe2(results, O_CLOEXEC) == 0);
  Fd read_end(results[0]);
  Fd write_end(results[1]);
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ExhaustionFigures figures;
    try {
      read_end.reset();
      figures = run_out_of_descriptors(occupants_idle);
    } catch (...) {
      figures.failed_step = 99;
    }
    const bool written =
        ::write(write_end.get(), &figures, sizeof figures) == static_cast<ssize_t>(sizeof figures);
    ::_exit(written ? 0 : 1);
  }
  write_end.reset();
  ExhaustionFigures figures;
  figures.failed_step = 98; // no figures came back
  pollfd readiness{read_end.get(), POLLIN, 0};
  if (::poll(&readiness, 1, 30000) == 1 &&
      ::read(read_end.get(), &figures, sizeof figures) != static_cast<ssize_t>(sizeof figures))
    figures.failed_step = 98;
  ::kill(child, SIGKILL); // gone already, unless it hung
  int status = 0;
  ::waitpid(child, &status, 0);
  return figures;
}

} // namespace

TEST_CASE("out of descriptors, the server stops watching its listener instead of spinning, says "
          "so once, and serves a newcomer once a client leaves",
          "[xdr_glue][rpc][timeouts][emfile]") {
  const ExhaustionFigures figures = in_a_child(false);
  CAPTURE(figures.wakeups_at_limit, figures.accepts_at_limit, figures.accepts_after_delay);
  REQUIRE(figures.failed_step == 0);
  // One accept fails with EMFILE; then the listener is not watched: of 100
  // turns, only the first wakes, instead of every one.
  CHECK(figures.accepts_at_limit == 1);
  CHECK(figures.wakeups_at_limit == 1);
  CHECK(figures.reports == 1);
  // After accept_retry_delay one more try, failing again, reported no more.
  CHECK(figures.accepts_after_delay == 1);
  CHECK(figures.reaped == 0); // every client was busy
  CHECK(figures.newcomer_served);
}

TEST_CASE("out of descriptors with idle clients, the least recently active one makes room for "
          "the newcomer at once",
          "[xdr_glue][rpc][timeouts][emfile]") {
  const ExhaustionFigures figures = in_a_child(true);
  CAPTURE(figures.wakeups_at_limit, figures.accepts_at_limit);
  REQUIRE(figures.failed_step == 0);
  CHECK(figures.reaped == 1);
  CHECK(figures.reports == 1);
  CHECK(figures.newcomer_served);
}
