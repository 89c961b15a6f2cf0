// SPDX-License-Identifier: MIT
// test_rpc_client.cpp - xdr_glue::rpc::Client against the project's own
// RPC server and against a scripted server whose replies libtirpc encodes:
// xid matching in any order, timeouts on a fake clock, every status, and
// the ways a connection ends.
#include <catch2/catch.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <deque>
#include <cstring>
#include <string>
#include <vector>

#include "client_support.hpp"

using client_test::Connection;
using client_test::errc;
using client_test::FakeClock;
using client_test::Outcome;
using client_test::ReceivedCall;
using client_test::run_until;
using client_test::ScriptedServer;
using xdr_glue::rpc::Client;
using xdr_glue::rpc::ClientOptions;
using xdr_glue::rpc::no_timeout;
using xdr_test::xdrproc;
using namespace std::chrono_literals;

namespace {

constexpr rpcprog_t scripted_program = 0x40001234;
constexpr rpcvers_t scripted_version = 7;
constexpr rpcproc_t number_procedure = 4;

// The scripted server's answer to a number call: 3 n + 1, as the libtirpc
// peer's TRIPLE_PLUS_ONE.
u_int argument_of(const ReceivedCall& call) {
  std::string bytes = call.arguments;
  XDR stream;
  xdrmem_create(&stream, bytes.data(), static_cast<u_int>(bytes.size()), XDR_DECODE);
  u_int value = 0;
  REQUIRE(xdr_u_int(&stream, &value));
  XDR_DESTROY(&stream);
  return value;
}

void answer_number(ScriptedServer& server, const ReceivedCall& call) {
  u_int answer = 3 * argument_of(call) + 1;
  server.accept(call.xid, SUCCESS, xdrproc(xdr_u_int), &answer);
}

// One number call and what became of it.
struct NumberCall {
  explicit NumberCall(u_int value = 0) : argument(value) {}
  u_int argument = 0;
  u_int result = 0;
  Outcome outcome;
};

std::error_code call_number(Client& client, NumberCall& call,
                            std::chrono::milliseconds timeout = no_timeout) {
  return client.call(number_procedure, xdr_u_int, call.argument, xdr_u_int, call.result, timeout,
                     call.outcome.handler());
}

// A client on a socket pair, the test playing the server on the other end.
struct ScriptedSetup {
  explicit ScriptedSetup(ClientOptions options = {}, rpcvers_t version = scripted_version)
      : connection(client_test::socket_connection(engine)),
        client(engine, connection.client.get(), scripted_program, version, std::move(options)),
        server(connection.server.get()) {}
  // Sends what is queued, so the server can read it.
  void flush() { engine.flush(); }
  qio::Engine engine;
  Connection connection;
  Client client;
  ScriptedServer server;
};

} // namespace

TEST_CASE("calls to the project's own server complete with their results: strings, rpcgen "
          "structures and NULLPROC",
          "[xdr_glue][rpc_client]") {
  rpc_test::ServerThread server;
  qio::Engine engine;
  qio_test::Fd socket = client_test::connect_client(engine, server.port());
  Client client(engine, socket.get(), QIO_TEST_PROGRAM, QIO_TEST_V1);

  Outcome null_call;
  REQUIRE_FALSE(client.call(NULLPROC, xdr_glue::rpc::void_xdrproc(), nullptr,
                            xdr_glue::rpc::void_xdrproc(), nullptr, no_timeout,
                            null_call.handler()));
  char* text = const_cast<char*>("hello from an asynchronous client");
  char* echoed = nullptr;
  Outcome echo;
  REQUIRE_FALSE(client.call(ECHO_TEXT, xdr_wrapstring, text, xdr_wrapstring, echoed, 5000ms,
                            echo.handler()));
  std::deque<xdr_test::XdrObject<sample>> sent;
  std::deque<xdr_test::XdrObject<sample>> received;
  std::vector<Outcome> transforms(6);
  for (unsigned sequence = 0; sequence < 6; ++sequence) {
    sent.emplace_back(xdr_sample);
    received.emplace_back(xdr_sample);
    xdr_test::fill_sample(sent.back().value, sequence, sequence * 1000);
    REQUIRE_FALSE(client.call(TRANSFORM_SAMPLE, xdr_sample, sent.back().value, xdr_sample,
                              received.back().value, no_timeout, transforms[sequence].handler()));
  }
  CHECK(client.pending() == 8);
  CHECK(null_call.runs == 0); // never from inside call()

  REQUIRE(run_until(engine, client, [&] { return client.pending() == 0; }));
  CHECK(null_call.runs == 1);
  CHECK_FALSE(null_call.error);
  CHECK(echo.runs == 1);
  REQUIRE_FALSE(echo.error);
  CHECK(std::string(echoed) == text);
  xdr_free(xdrproc(xdr_wrapstring), &echoed);
  for (unsigned sequence = 0; sequence < 6; ++sequence) {
    CAPTURE(sequence);
    CHECK(transforms[sequence].runs == 1);
    CHECK(transforms[sequence].status.re_status == RPC_SUCCESS);
    sent[sequence].value.sequence += 1000;
    CHECK(xdr_test::encode(xdrproc(xdr_sample), &received[sequence].value) ==
          xdr_test::encode(xdrproc(xdr_sample), &sent[sequence].value));
  }
  CHECK(client.unknown_replies() == 0);
}

TEST_CASE("replies sent in reverse order each complete their own call", "[xdr_glue][rpc_client]") {
  ScriptedSetup setup;
  std::vector<NumberCall> calls(16);
  for (u_int index = 0; index < calls.size(); ++index) {
    calls[index].argument = 1000 + index;
    REQUIRE_FALSE(call_number(setup.client, calls[index]));
  }
  setup.flush();
  std::vector<ReceivedCall> received = setup.server.receive(calls.size());
  REQUIRE(received.size() == calls.size());
  for (const ReceivedCall& call : received) {
    CHECK(call.program == scripted_program);
    CHECK(call.version == scripted_version);
    CHECK(call.procedure == number_procedure);
  }
  std::reverse(received.begin(), received.end());
  for (std::size_t answered = 0; answered < received.size(); ++answered) {
    answer_number(setup.server, received[answered]);
    REQUIRE(run_until(setup.engine, setup.client,
                      [&] { return setup.client.pending() == calls.size() - answered - 1; }));
    // The call answered is the newest one still pending.
    const NumberCall& newest = calls[calls.size() - answered - 1];
    CHECK(newest.outcome.runs == 1);
  }
  for (const NumberCall& call : calls) {
    CAPTURE(call.argument);
    CHECK(call.outcome.runs == 1);
    CHECK_FALSE(call.outcome.error);
    CHECK(call.result == 3 * call.argument + 1);
  }
}

TEST_CASE("a call times out on the client's clock, and its late reply is dropped and counted",
          "[xdr_glue][rpc_client][timeouts]") {
  FakeClock clock;
  ClientOptions options;
  options.clock = clock.function();
  ScriptedSetup setup(options);
  NumberCall timed{7};
  NumberCall patient{8};
  REQUIRE_FALSE(call_number(setup.client, timed, 1500ms));
  REQUIRE_FALSE(call_number(setup.client, patient));
  REQUIRE(setup.client.next_deadline() == clock.now + 1500ms);
  setup.flush();
  const std::vector<ReceivedCall> received = setup.server.receive(2);
  REQUIRE(received.size() == 2);

  clock.now += 1499ms;
  CHECK(setup.client.poll().completed == 0);
  CHECK(timed.outcome.runs == 0);
  clock.now += 1ms;
  CHECK(setup.client.poll().completed == 1);
  CHECK(timed.outcome.runs == 1);
  CHECK(timed.outcome.status.re_status == RPC_TIMEDOUT);
  CHECK(timed.outcome.error == xdr_glue::rpc::rpc_error(RPC_TIMEDOUT));
  CHECK(setup.client.next_deadline() == std::nullopt);

  answer_number(setup.server, received[0]); // the late answer
  answer_number(setup.server, received[1]);
  REQUIRE(run_until(setup.engine, setup.client, [&] { return patient.outcome.completed(); }));
  CHECK(setup.client.unknown_replies() == 1);
  CHECK(timed.outcome.runs == 1);
  CHECK(timed.result == 0); // nothing was decoded into a call that had completed
  CHECK(patient.outcome.runs == 1);
  CHECK(patient.result == 25);
  CHECK_FALSE(setup.client.failure());
}

TEST_CASE("a timeout of zero expires at the next poll, the longest one does not overflow the "
          "clock, and timeouts below zero other than no_timeout are refused",
          "[xdr_glue][rpc_client][timeouts]") {
  FakeClock clock;
  ClientOptions options;
  options.clock = clock.function();
  ScriptedSetup setup(options);
  NumberCall immediate{1};
  NumberCall refused{2};
  NumberCall patient{3};
  REQUIRE_FALSE(call_number(setup.client, immediate, 0ms));
  CHECK(call_number(setup.client, refused, -2ms) == errc(EINVAL));
  REQUIRE_FALSE(call_number(setup.client, patient, std::chrono::milliseconds::max()));
  CHECK(setup.client.pending() == 2);
  CHECK(setup.client.poll().completed == 1);
  CHECK(setup.client.next_deadline() > clock.now + std::chrono::hours(24 * 365 * 99));
  CHECK(immediate.outcome.status.re_status == RPC_TIMEDOUT);
  CHECK(refused.outcome.runs == 0);
}

TEST_CASE("each reply status a server can send completes the call with libtirpc's status and "
          "details",
          "[xdr_glue][rpc_client][statuses]") {
  using Send = void (*)(ScriptedServer&, std::uint32_t xid);
  struct Versions {
    rpcvers_t low;
    rpcvers_t high;
  };
  struct Case {
    const char* reply;
    Send send;
    clnt_stat status;
    Versions expected_versions; // for the two mismatches
    auth_stat expected_why;     // for AUTH_ERROR
  };
  const Case row = GENERATE(values<Case>({
      {"PROG_UNAVAIL", [](ScriptedServer& server, std::uint32_t xid) {
         server.accept(xid, PROG_UNAVAIL);
       }, RPC_PROGUNAVAIL, {}, AUTH_OK},
      {"PROG_MISMATCH 2..5", [](ScriptedServer& server, std::uint32_t xid) {
         server.program_mismatch(xid, 2, 5);
       }, RPC_PROGVERSMISMATCH, {2, 5}, AUTH_OK},
      {"PROC_UNAVAIL", [](ScriptedServer& server, std::uint32_t xid) {
         server.accept(xid, PROC_UNAVAIL);
       }, RPC_PROCUNAVAIL, {}, AUTH_OK},
      {"GARBAGE_ARGS", [](ScriptedServer& server, std::uint32_t xid) {
         server.accept(xid, GARBAGE_ARGS);
       }, RPC_CANTDECODEARGS, {}, AUTH_OK},
      {"SYSTEM_ERR", [](ScriptedServer& server, std::uint32_t xid) {
         server.accept(xid, SYSTEM_ERR);
       }, RPC_SYSTEMERROR, {}, AUTH_OK},
      {"MSG_DENIED, RPC_MISMATCH 3..4", [](ScriptedServer& server, std::uint32_t xid) {
         server.rpc_mismatch(xid, 3, 4);
       }, RPC_VERSMISMATCH, {3, 4}, AUTH_OK},
      {"MSG_DENIED, AUTH_ERROR, AUTH_BADCRED", [](ScriptedServer& server, std::uint32_t xid) {
         server.auth_error(xid, AUTH_BADCRED);
       }, RPC_AUTHERROR, {}, AUTH_BADCRED},
  }));
  CAPTURE(row.reply);
  ScriptedSetup setup;
  NumberCall call{5};
  REQUIRE_FALSE(call_number(setup.client, call));
  setup.flush();
  const std::vector<ReceivedCall> received = setup.server.receive(1);
  REQUIRE(received.size() == 1);
  row.send(setup.server, received[0].xid);

  REQUIRE(run_until(setup.engine, setup.client, [&] { return call.outcome.completed(); }));
  CHECK(call.outcome.runs == 1);
  CHECK(call.outcome.status.re_status == row.status);
  CHECK(call.outcome.error == xdr_glue::rpc::rpc_error(row.status));
  CHECK(call.outcome.error.message() == clnt_sperrno(row.status));
  if (row.status == RPC_PROGVERSMISMATCH || row.status == RPC_VERSMISMATCH) {
    CHECK(call.outcome.status.re_vers.low == row.expected_versions.low);
    CHECK(call.outcome.status.re_vers.high == row.expected_versions.high);
  }
  if (row.status == RPC_AUTHERROR)
    CHECK(call.outcome.status.re_why == row.expected_why);
  CHECK_FALSE(setup.client.failure()); // an error reply is not a broken connection
}

TEST_CASE("results that do not decode complete that call with RPC_CANTDECODERES and leave the "
          "connection and the other calls alone",
          "[xdr_glue][rpc_client][statuses]") {
  ScriptedSetup setup;
  NumberCall first{1};
  NumberCall second{2};
  REQUIRE_FALSE(call_number(setup.client, first));
  REQUIRE_FALSE(call_number(setup.client, second));
  setup.flush();
  const std::vector<ReceivedCall> received = setup.server.receive(2);
  REQUIRE(received.size() == 2);
  setup.server.accept(received[0].xid, SUCCESS); // SUCCESS with no result at all
  answer_number(setup.server, received[1]);
  REQUIRE(run_until(setup.engine, setup.client, [&] { return setup.client.pending() == 0; }));
  CHECK(first.outcome.status.re_status == RPC_CANTDECODERES);
  CHECK(second.outcome.status.re_status == RPC_SUCCESS);
  CHECK(second.result == 7);
  CHECK_FALSE(setup.client.failure());

  NumberCall third{3};
  REQUIRE_FALSE(call_number(setup.client, third));
  setup.flush();
  answer_number(setup.server, setup.server.receive(1).at(0));
  REQUIRE(run_until(setup.engine, setup.client, [&] { return third.outcome.completed(); }));
  CHECK(third.result == 10);
}

TEST_CASE("a reply to no pending call is dropped and counted, and the connection goes on",
          "[xdr_glue][rpc_client]") {
  ScriptedSetup setup;
  NumberCall call{4};
  REQUIRE_FALSE(call_number(setup.client, call));
  setup.flush();
  const ReceivedCall received = setup.server.receive(1).at(0);
  u_int stray = 99;
  setup.server.accept(received.xid + 1000, SUCCESS, xdrproc(xdr_u_int), &stray);
  setup.server.accept(received.xid - 1, PROC_UNAVAIL);
  answer_number(setup.server, received);
  REQUIRE(run_until(setup.engine, setup.client, [&] { return call.outcome.completed(); }));
  CHECK(setup.client.unknown_replies() == 2);
  CHECK(call.result == 13);
  CHECK_FALSE(setup.client.failure());
}

TEST_CASE("a reply of exactly max_reply bytes over several fragments is taken; one byte more "
          "fails every pending call with EMSGSIZE from the record marks alone",
          "[xdr_glue][rpc_client][limits]") {
  constexpr std::size_t max_reply = 4096;
  ClientOptions options;
  options.max_reply = max_reply;
  ScriptedSetup setup(options);
  std::deque<xdr_test::XdrObject<blob>> results;
  std::vector<Outcome> outcomes(2);
  u_int size = 0;
  for (int index = 0; index < 2; ++index) {
    results.emplace_back(xdr_blob);
    REQUIRE_FALSE(setup.client.call(MAKE_BLOB, xdr_u_int, size, xdr_blob, results.back().value,
                                    no_timeout, outcomes[static_cast<std::size_t>(index)].handler()));
  }
  NumberCall bystander{6};
  REQUIRE_FALSE(call_number(setup.client, bystander));
  setup.flush();
  const std::vector<ReceivedCall> received = setup.server.receive(3);
  REQUIRE(received.size() == 3);

  // A blob reply of exactly max_reply record bytes, over three fragments
  // (one of them empty).
  blob empty{};
  const std::size_t overhead =
      ScriptedServer::success_message(received[0].xid, xdrproc(xdr_blob), &empty).size();
  std::string payload(max_reply - overhead, 'x');
  blob filled{static_cast<u_int>(payload.size()), payload.data()};
  const std::string exact =
      ScriptedServer::success_message(received[0].xid, xdrproc(xdr_blob), &filled);
  REQUIRE(exact.size() == max_reply);
  REQUIRE(setup.server.send(xdr_test::framed(exact, {1000, 0, 2000})));
  REQUIRE(run_until(setup.engine, setup.client, [&] { return outcomes[0].completed(); }));
  CHECK(outcomes[0].status.re_status == RPC_SUCCESS);
  CHECK(results[0].value.blob_len == payload.size());
  CHECK(std::string(results[0].value.blob_val, results[0].value.blob_len) == payload);

  // The oversize record announces its length in its first two marks: the
  // client fails at the second mark, before any byte of it arrives.
  REQUIRE(setup.server.send(xdr_test::record_mark(3000, false) + std::string(3000, 'y') +
                            xdr_test::record_mark(static_cast<std::uint32_t>(max_reply - 2999), true)));
  REQUIRE(run_until(setup.engine, setup.client, [&] { return setup.client.pending() == 0; }));
  CHECK(outcomes[1].status.re_status == RPC_CANTRECV);
  CHECK(outcomes[1].status.re_errno == EMSGSIZE);
  CHECK(bystander.outcome.status.re_status == RPC_CANTRECV);
  CHECK(bystander.outcome.status.re_errno == EMSGSIZE);
  CHECK(setup.client.failure() == errc(EMSGSIZE));
}

TEST_CASE("a record that is not a reply fails every pending call with EPROTO",
          "[xdr_glue][rpc_client][limits]") {
  ScriptedSetup setup;
  NumberCall call{1};
  REQUIRE_FALSE(call_number(setup.client, call));
  setup.flush();
  const ReceivedCall received = setup.server.receive(1).at(0);
  SECTION("a call where a reply should be") {
    REQUIRE(setup.server.send(xdr_test::framed(rpc_test::call_header(received.xid, 1, 1))));
  }
  SECTION("a reply to the pending call whose header does not decode") {
    REQUIRE(setup.server.send(xdr_test::framed(rpc_test::words({received.xid, REPLY, 7}))));
  }
  SECTION("a record too short to hold an xid and a direction") {
    REQUIRE(setup.server.send(xdr_test::framed("abc")));
  }
  REQUIRE(run_until(setup.engine, setup.client, [&] { return call.outcome.completed(); }));
  CHECK(call.outcome.status.re_status == RPC_CANTRECV);
  CHECK(call.outcome.status.re_errno == EPROTO);
  CHECK(setup.client.poll().failure == errc(EPROTO));
}

TEST_CASE("end of file in the middle of a reply fails every pending call with RPC_CANTRECV and "
          "errno 0; later calls get EPIPE and every poll reports the failure",
          "[xdr_glue][rpc_client][connection]") {
  ScriptedSetup setup;
  std::vector<NumberCall> calls(3);
  for (u_int index = 0; index < calls.size(); ++index) {
    calls[index].argument = index;
    REQUIRE_FALSE(call_number(setup.client, calls[index]));
  }
  setup.flush();
  const std::vector<ReceivedCall> received = setup.server.receive(3);
  REQUIRE(received.size() == 3);
  answer_number(setup.server, received[1]);
  u_int half_answer = 1;
  const std::string whole = xdr_test::framed(
      ScriptedServer::success_message(received[0].xid, xdrproc(xdr_u_int), &half_answer));
  REQUIRE(setup.server.send(whole.substr(0, whole.size() / 2)));
  setup.connection.server.reset();

  REQUIRE(run_until(setup.engine, setup.client, [&] { return setup.client.pending() == 0; }));
  CHECK(calls[1].outcome.status.re_status == RPC_SUCCESS);
  CHECK(calls[1].result == 4);
  for (const std::size_t index : {0u, 2u}) {
    CAPTURE(index);
    CHECK(calls[index].outcome.runs == 1);
    CHECK(calls[index].outcome.status.re_status == RPC_CANTRECV);
    CHECK(calls[index].outcome.status.re_errno == 0);
    CHECK(calls[index].result == 0);
  }
  CHECK(setup.client.failure() == errc(EPIPE));
  CHECK(setup.client.poll().failure == errc(EPIPE));
  NumberCall late{9};
  CHECK(call_number(setup.client, late) == errc(EPIPE));
  CHECK(setup.client.pending() == 0);
  CHECK(late.outcome.runs == 0);
}

TEST_CASE("a connection reset in the middle of a reply fails every pending call with "
          "ECONNRESET",
          "[xdr_glue][rpc_client][connection]") {
  std::uint16_t port = 0;
  qio_test::Fd listener = rpc_test::listen_on_loopback(port);
  qio::Engine engine;
  qio_test::Fd socket = client_test::connect_client(engine, port);
  qio_test::Fd accepted(::accept(listener.get(), nullptr, nullptr));
  REQUIRE(accepted.get() >= 0);
  Client client(engine, socket.get(), scripted_program, scripted_version);
  ScriptedServer server(accepted.get());
  std::vector<NumberCall> calls(2);
  for (NumberCall& call : calls)
    REQUIRE_FALSE(call_number(client, call));
  engine.flush();
  const std::vector<ReceivedCall> received = server.receive(2);
  REQUIRE(received.size() == 2);
  u_int answer = 1;
  const std::string whole = xdr_test::framed(
      ScriptedServer::success_message(received[0].xid, xdrproc(xdr_u_int), &answer));
  REQUIRE(server.send(whole.substr(0, 10)));
  const linger reset_on_close{1, 0};
  REQUIRE(::setsockopt(accepted.get(), SOL_SOCKET, SO_LINGER, &reset_on_close,
                       sizeof reset_on_close) == 0);
  accepted.reset();

  REQUIRE(run_until(engine, client, [&] { return client.pending() == 0; }));
  for (const NumberCall& call : calls) {
    CHECK(call.outcome.runs == 1);
    CHECK(call.outcome.status.re_status == RPC_CANTRECV);
    CHECK(call.outcome.status.re_errno == ECONNRESET);
  }
  CHECK(client.failure() == errc(ECONNRESET));
}

TEST_CASE("destroying the client completes every pending call with RPC_CANTRECV and ECANCELED, "
          "replies already arrived included",
          "[xdr_glue][rpc_client][connection]") {
  qio::Engine engine;
  Connection connection = client_test::socket_connection(engine);
  ScriptedServer server(connection.server.get());
  std::vector<NumberCall> calls(3);
  {
    Client client(engine, connection.client.get(), scripted_program, scripted_version);
    for (NumberCall& call : calls)
      REQUIRE_FALSE(call_number(client, call, 60000ms));
    engine.flush();
    const std::vector<ReceivedCall> received = server.receive(3);
    REQUIRE(received.size() == 3);
    answer_number(server, received[0]); // arrives, but no poll takes it
    CHECK(client.pending() == 3);
  }
  for (const NumberCall& call : calls) {
    CHECK(call.outcome.runs == 1);
    CHECK(call.outcome.status.re_status == RPC_CANTRECV);
    CHECK(call.outcome.status.re_errno == ECANCELED);
    CHECK(call.result == 0);
  }
  CHECK(engine.is_channel(connection.client.get())); // the channel is the caller's
}

TEST_CASE("a call whose record could not be written completes with RPC_CANTSEND and the "
          "write's error",
          "[xdr_glue][rpc_client][connection]") {
  qio::Engine engine;
  Connection connection = client_test::socket_connection(engine);
  Client client(engine, connection.client.get(), scripted_program, scripted_version);
  NumberCall call{1};
  REQUIRE_FALSE(call_number(client, call));
  int expected_errno = 0;
  SECTION("the server has gone: the write fails with EPIPE") {
    connection.server.reset();
    engine.flush();
    expected_errno = EPIPE;
    // Before a poll has seen the end of the connection, a new call gets
    // the channel's sticky write error from qio.
    NumberCall refused{2};
    CHECK(call_number(client, refused) == errc(EPIPE));
    CHECK_FALSE(client.failure());
    CHECK(client.pending() == 1);
  }
  SECTION("the channel is removed with the record still queued: ECANCELED") {
    REQUIRE_FALSE(engine.terminate(connection.client.get()));
    expected_errno = ECANCELED;
  }
  CHECK(call.outcome.runs == 0); // never from inside flush or terminate
  client.poll();
  CHECK(call.outcome.runs == 1);
  CHECK(call.outcome.status.re_status == RPC_CANTSEND);
  CHECK(call.outcome.status.re_errno == expected_errno);
}

TEST_CASE("call refuses what it cannot queue and queues nothing then", "[xdr_glue][rpc_client]") {
  qio::Engine engine;
  Connection connection = client_test::socket_connection(engine);
  qio::ChannelOptions limited;
  limited.buffered = false;
  limited.max_outstanding = 1;
  REQUIRE_FALSE(engine.configure(connection.client.get(), limited));
  Client client(engine, connection.client.get(), scripted_program, scripted_version);
  NumberCall first{1};
  NumberCall second{2};
  REQUIRE_FALSE(call_number(client, first));
  CHECK(call_number(client, second) == errc(EAGAIN));
  CHECK(client.pending() == 1);
  CHECK(engine.pending(connection.client.get()) == 1);

  u_int value = 0;
  CHECK(client.call(1, nullptr, &value, xdrproc(xdr_u_int), &value, no_timeout,
                    second.outcome.handler()) == errc(EINVAL));
  CHECK(client.call(1, xdrproc(xdr_u_int), &value, nullptr, &value, no_timeout,
                    second.outcome.handler()) == errc(EINVAL));
  CHECK(client.call(1, xdrproc(xdr_u_int), &value, xdrproc(xdr_u_int), &value, no_timeout,
                    xdr_glue::rpc::ReplyHandler()) == errc(EINVAL));
  char* too_long = const_cast<char*>("more than a string<8> holds");
  CHECK(client.call(1, xdrproc(client_test::xdr_short_string), &too_long, xdrproc(xdr_u_int),
                    &value, no_timeout, second.outcome.handler()) == errc(EINVAL));
  CHECK(client.pending() == 1);
  CHECK(second.outcome.runs == 0);

  qio::Engine other_engine;
  CHECK_THROWS_AS(Client(other_engine, connection.client.get(), 1, 1), std::system_error);
}

TEST_CASE("the typed forms take rpcgen's functions or named types with an xdrproc_t, and "
          "decode into the caller's object",
          "[xdr_glue][rpc_client]") {
  ScriptedSetup setup;
  NumberCall deduced{1};
  NumberCall named{2};
  REQUIRE_FALSE(setup.client.call(number_procedure, xdr_u_int, deduced.argument, xdr_u_int,
                                  deduced.result, no_timeout, deduced.outcome.handler()));
  REQUIRE_FALSE(setup.client.call<u_int, u_int>(number_procedure, xdrproc(xdr_u_int),
                                                named.argument, xdrproc(xdr_u_int), named.result,
                                                no_timeout, named.outcome.handler()));
  setup.flush();
  for (const ReceivedCall& call : setup.server.receive(2))
    answer_number(setup.server, call);
  REQUIRE(run_until(setup.engine, setup.client, [&] { return setup.client.pending() == 0; }));
  CHECK(deduced.result == 4);
  CHECK(named.result == 7);
}

TEST_CASE("a completion may make new calls, and a poll from inside a completion does nothing",
          "[xdr_glue][rpc_client]") {
  ScriptedSetup setup;
  NumberCall first{1};
  NumberCall follow_up{2};
  std::size_t nested_completed = 99;
  REQUIRE_FALSE(setup.client.call(
      number_procedure, xdr_u_int, first.argument, xdr_u_int, first.result, no_timeout,
      [&](std::error_code error, const rpc_err&) {
        ++first.outcome.runs;
        first.outcome.error = error;
        nested_completed = setup.client.poll().completed;
        CHECK_FALSE(call_number(setup.client, follow_up));
      }));
  setup.flush();
  answer_number(setup.server, setup.server.receive(1).at(0));
  REQUIRE(run_until(setup.engine, setup.client, [&] { return first.outcome.completed(); }));
  CHECK(nested_completed == 0);
  CHECK(setup.client.pending() == 1);
  setup.flush();
  answer_number(setup.server, setup.server.receive(1).at(0));
  REQUIRE(run_until(setup.engine, setup.client, [&] { return follow_up.outcome.completed(); }));
  CHECK(follow_up.result == 7);
  CHECK(first.outcome.runs == 1);
}

TEST_CASE("xids count up from first_xid, and calls carry AUTH_SYS credentials when asked",
          "[xdr_glue][rpc_client]") {
  ClientOptions options;
  options.first_xid = 0xfffffffe; // and wrap past zero
  options.credentials = ClientOptions::Credentials::unix_user;
  ScriptedSetup setup(options);
  std::vector<NumberCall> calls(3);
  for (NumberCall& call : calls)
    REQUIRE_FALSE(call_number(setup.client, call));
  setup.flush();
  const std::vector<ReceivedCall> received = setup.server.receive(3);
  REQUIRE(received.size() == 3);
  CHECK(received[0].xid == 0xfffffffeu);
  CHECK(received[1].xid == 0xffffffffu);
  CHECK(received[2].xid == 0u);
  for (const ReceivedCall& call : received)
    CHECK(call.credential_flavor == AUTH_SYS);
  u_int answers[] = {1, 2, 3};
  setup.server.accept(received[2].xid, SUCCESS, xdrproc(xdr_u_int), &answers[2]);
  setup.server.accept(received[0].xid, SUCCESS, xdrproc(xdr_u_int), &answers[0]);
  setup.server.accept(received[1].xid, SUCCESS, xdrproc(xdr_u_int), &answers[1]);
  REQUIRE(run_until(setup.engine, setup.client, [&] { return setup.client.pending() == 0; }));
  for (std::size_t index = 0; index < calls.size(); ++index)
    CHECK(calls[index].result == answers[index]);
}

TEST_CASE("a handler too large to store inline is kept and run once, and a small one is moved "
          "with its call",
          "[xdr_glue][rpc_client]") {
  ScriptedSetup setup;
  struct Large {
    char padding[256] = {};
    int* runs;
    void operator()(std::error_code, const rpc_err&) const { ++*runs; }
  };
  int large_runs = 0;
  Large large;
  large.runs = &large_runs;
  NumberCall call{3};
  REQUIRE_FALSE(setup.client.call(number_procedure, xdr_u_int, call.argument, xdr_u_int,
                                  call.result, no_timeout, large));
  setup.flush();
  answer_number(setup.server, setup.server.receive(1).at(0));
  REQUIRE(run_until(setup.engine, setup.client, [&] { return setup.client.pending() == 0; }));
  CHECK(large_runs == 1);
  CHECK(call.result == 10);
}
