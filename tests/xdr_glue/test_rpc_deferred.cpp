// SPDX-License-Identifier: MIT
// test_rpc_deferred.cpp - handlers that answer later through a
// DeferredReply: answered ticks later while other clients are served,
// replies still in call order per client, tokens of a client that left
// cancelled, and a token dropped unanswered still answering. The server is
// driven turn by turn on the test's thread; loopback TCP clients.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "server_loop.hpp"

using qio_test::Fd;
using rpc_test::connect_to;
using rpc_test::DrivenServer;
using rpc_test::echo_call;
using rpc_test::expect_echo;
using rpc_test::readable_now;
using rpc_test::send_all;
using rpc_test::string_call;
using xdr_glue::rpc::DeferredReply;
using xdr_test::framed;

namespace {

std::error_code errc(int value) { return {value, std::generic_category()}; }

// A procedure of the test program whose handler answers later: it keeps
// the token and a copy of the argument (the call's memory is released
// when the handler returns).
constexpr rpcproc_t deferred_echo = 50;

struct Deferred {
  DeferredReply token;
  std::string text;
};

rpc_test::Registration deferring_into(std::vector<Deferred>& deferred) {
  return [&deferred](xdr_glue::rpc::Server& server) {
    const xdrproc_t string_procedure = xdr_test::xdrproc(xdr_wrapstring);
    REQUIRE_FALSE(server.add_procedure<char*, char*>(
        QIO_TEST_PROGRAM, QIO_TEST_V1, deferred_echo, string_procedure, string_procedure,
        [&deferred, &server](const xdr_glue::rpc::CallInfo& call, char* const& text, char*&) {
          deferred.push_back({server.defer(call), text});
          return true; // ignored: the token answers
        }));
  };
}

// The driven server with the deferring procedure; `deferred` outlives the
// server, whose closing cancels what is still deferred.
struct DeferringServer {
  explicit DeferringServer(xdr_glue::rpc::ServerOptions options = {})
      : server(std::move(options), deferring_into(deferred)) {}
  std::vector<Deferred> deferred;
  DrivenServer server;
};

// Answers SUCCESS with the copy of the argument, as the echo would have.
std::error_code answer(Deferred& call) {
  char* result = strdup(call.text.c_str());
  return call.token.reply(&result);
}

} // namespace

TEST_CASE_METHOD(DeferringServer,
                 "a deferred reply answered two ticks later reaches its client in call order "
                 "while other clients are served meanwhile",
                 "[xdr_glue][rpc][deferred]") {
  const Fd waiting = connect_to(server.port());
  const Fd other = connect_to(server.port());
  // The waiting client pipelines a deferred call and an ordinary one.
  REQUIRE(send_all(waiting.get(), framed(string_call(1, deferred_echo, "answered later")) +
                                      framed(echo_call(2, "answered at once"))));
  REQUIRE(send_all(other.get(), framed(echo_call(3, "not held up"))));
  REQUIRE(server.turn_until([&] { return deferred.size() == 1; }));
  REQUIRE(deferred[0].token.pending());
  const std::size_t deferred_at = server.turns; // it was deferred in the last turn
  while (server.turns < deferred_at + 2)
    server.turn(std::chrono::milliseconds(10));

  REQUIRE(readable_now(other.get()));
  expect_echo(other.get(), 3, "not held up");
  // The second call was answered at once, but its reply waits its turn.
  CHECK_FALSE(readable_now(waiting.get()));
  CHECK(server.server().has_pending_calls() == false);

  REQUIRE_FALSE(answer(deferred[0]));
  CHECK_FALSE(deferred[0].token.pending());
  REQUIRE(server.turn_until([&] { return readable_now(waiting.get()); }));
  xdr_test::TirpcPeer replies(waiting.get());
  expect_echo(replies, 1, "answered later");
  expect_echo(replies, 2, "answered at once");
  CHECK(deferred[0].token.fail() == errc(EINVAL)); // answered already
}

TEST_CASE_METHOD(DeferringServer, "deferred replies given out of order still go out in call order",
                 "[xdr_glue][rpc][deferred]") {
  const Fd client = connect_to(server.port());
  REQUIRE(send_all(client.get(), framed(string_call(1, deferred_echo, "first")) +
                                     framed(string_call(2, deferred_echo, "second")) +
                                     framed(echo_call(3, "third"))));
  REQUIRE(server.turn_until([&] { return deferred.size() == 2; }));
  REQUIRE_FALSE(answer(deferred[1]));
  server.turn(std::chrono::milliseconds(10));
  CHECK_FALSE(readable_now(client.get()));
  REQUIRE_FALSE(answer(deferred[0]));
  REQUIRE(server.turn_until([&] { return readable_now(client.get()); }));
  xdr_test::TirpcPeer replies(client.get());
  expect_echo(replies, 1, "first");
  expect_echo(replies, 2, "second");
  expect_echo(replies, 3, "third");
}

TEST_CASE_METHOD(DeferringServer,
                 "a client that closes cancels its deferred calls: answering says ECANCELED and "
                 "releases the result",
                 "[xdr_glue][rpc][deferred]") {
  const Fd bystander = connect_to(server.port());
  {
    const Fd leaving = connect_to(server.port());
    REQUIRE(send_all(leaving.get(), framed(string_call(1, deferred_echo, "never sent")) +
                                        framed(string_call(2, deferred_echo, "nor this"))));
    REQUIRE(server.turn_until([&] { return deferred.size() == 2; }));
  }
  REQUIRE(server.turn_until([&] { return !server.close_reasons.empty(); }));
  CHECK(server.close_reasons[0] == std::error_code()); // it ended between calls
  CHECK_FALSE(deferred[0].token.pending());
  // The result's memory is released all the same: LeakSanitizer and
  // valgrind would see it otherwise.
  CHECK(answer(deferred[0]) == errc(ECANCELED));
  CHECK(deferred[1].token.fail() == errc(ECANCELED));
  REQUIRE(send_all(bystander.get(), framed(echo_call(3, "unaffected"))));
  REQUIRE(server.turn_until([&] { return readable_now(bystander.get()); }));
  expect_echo(bystander.get(), 3, "unaffected");
}

TEST_CASE_METHOD(DeferringServer,
                 "a deferred token dropped unanswered answers SYSTEM_ERR, so its client is not "
                 "left waiting",
                 "[xdr_glue][rpc][deferred]") {
  const Fd client = connect_to(server.port());
  REQUIRE(send_all(client.get(), framed(string_call(1, deferred_echo, "forgotten"))));
  REQUIRE(server.turn_until([&] { return deferred.size() == 1; }));
  deferred.clear();
  REQUIRE(server.turn_until([&] { return readable_now(client.get()); }));
  rpc_msg reply;
  REQUIRE(rpc_test::read_reply(client.get(), reply));
  CHECK(reply.rm_xid == 1);
  CHECK(reply.acpted_rply.ar_stat == SYSTEM_ERR);
}

TEST_CASE("at max_deferred_calls the server reads no more of that client's calls until one is "
          "answered",
          "[xdr_glue][rpc][deferred]") {
  xdr_glue::rpc::ServerOptions options;
  options.max_deferred_calls = 2;
  DeferringServer fixture(std::move(options));
  std::vector<Deferred>& deferred = fixture.deferred;
  DrivenServer& server = fixture.server;
  const Fd client = connect_to(server.port());
  std::string calls;
  for (std::uint32_t xid = 1; xid <= 3; ++xid)
    calls += framed(string_call(xid, deferred_echo, "call " + std::to_string(xid)));
  REQUIRE(send_all(client.get(), calls));
  REQUIRE(server.turn_until([&] { return deferred.size() == 2; }));
  for (int i = 0; i < 5; ++i)
    server.turn(std::chrono::milliseconds(10));
  CHECK(deferred.size() == 2);
  CHECK_FALSE(server.server().has_pending_calls()); // the loop may sleep meanwhile
  REQUIRE_FALSE(answer(deferred[0]));
  REQUIRE(server.turn_until([&] { return deferred.size() == 3; }));
  REQUIRE_FALSE(answer(deferred[1]));
  REQUIRE_FALSE(answer(deferred[2]));
  server.turn(); // queued by the answers, sent by the turn
  xdr_test::TirpcPeer replies(client.get());
  for (std::uint32_t xid = 1; xid <= 3; ++xid)
    expect_echo(replies, xid, "call " + std::to_string(xid));
}

TEST_CASE("defer outside a handler gives an empty token", "[xdr_glue][rpc][deferred][errors]") {
  qio::Engine engine;
  xdr_glue::rpc::Server server(engine);
  const xdr_glue::rpc::CallInfo call;
  DeferredReply token = server.defer(call);
  CHECK_FALSE(token.pending());
  CHECK(token.fail() == errc(EINVAL));
  int untouched = 0;
  CHECK(token.reply(&untouched) == errc(EINVAL));
}
