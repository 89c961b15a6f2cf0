// SPDX-License-Identifier: MIT
// test_rpc_client_peers.cpp - xdr_glue::rpc::Client against servers this
// project did not write: a stock libtirpc server (rpcgen's dispatch
// function, svc_create + svc_run, in a child process) and rpcbind itself.
#include <catch2/catch.hpp>

#include <rpc/rpc.h>
#include <rpc/pmap_prot.h>
#include <rpc/rpcb_prot.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include <xdr_glue/rpcbind_registration.hpp>

#include "client_support.hpp"

using client_test::Outcome;
using client_test::run_until;
using client_test::TirpcPeer;
using xdr_glue::rpc::Client;
using xdr_glue::rpc::no_timeout;
using xdr_test::xdrproc;
using namespace std::chrono_literals;

namespace {

// A journey that uses every kind of data the .x has, different per id.
void fill_journey(journey& out, unsigned id, std::size_t payload_size) {
  out.id = id;
  out.title = xdr_test::copy_of("journey " + std::to_string(id));
  out.values.values_len = id % 9;
  out.values.values_val = static_cast<int*>(std::calloc(out.values.values_len + 1, sizeof(int)));
  for (u_int i = 0; i < out.values.values_len; ++i)
    out.values.values_val[i] = static_cast<int>(id * 10 + i);
  out.latest.kind = static_cast<reading_kind>(id % 3);
  if (out.latest.kind == READING_NUMBER)
    out.latest.reading_u.number = static_cast<quad_t>(id) * -1000000007LL;
  if (out.latest.kind == READING_TEXT)
    out.latest.reading_u.text = xdr_test::copy_of("reading " + std::to_string(id));
  stop** link = &out.route;
  for (unsigned i = 0; i < id % 4; ++i) {
    *link = static_cast<stop*>(std::calloc(1, sizeof(stop)));
    (*link)->name = xdr_test::copy_of("stop " + std::to_string(i));
    link = &(*link)->next;
  }
  out.payload.payload_len = static_cast<u_int>(payload_size);
  out.payload.payload_val = static_cast<char*>(std::malloc(payload_size + 1));
  for (std::size_t i = 0; i < payload_size; ++i)
    out.payload.payload_val[i] = static_cast<char>((i * 13 + id) & 0xff);
  out.flagged = id % 2;
}

std::vector<std::string> stop_names(const stop* route) {
  std::vector<std::string> names;
  for (; route != nullptr; route = route->next)
    names.emplace_back(route->name);
  return names;
}

// What REVERSE_JOURNEY must have made of `sent`.
void check_reversed(const journey& sent, const journey& got) {
  CHECK(got.id == sent.id + 1);
  const std::string title(sent.title);
  CHECK(std::string(got.title) == std::string(title.rbegin(), title.rend()));
  REQUIRE(got.values.values_len == sent.values.values_len);
  for (u_int i = 0; i < sent.values.values_len; ++i)
    CHECK(got.values.values_val[i] == -sent.values.values_val[i]);
  REQUIRE(got.latest.kind == sent.latest.kind);
  if (sent.latest.kind == READING_NUMBER)
    CHECK(got.latest.reading_u.number == sent.latest.reading_u.number);
  if (sent.latest.kind == READING_TEXT)
    CHECK(std::string(got.latest.reading_u.text) == sent.latest.reading_u.text);
  std::vector<std::string> route = stop_names(sent.route);
  std::reverse(route.begin(), route.end());
  CHECK(stop_names(got.route) == route);
  REQUIRE(got.payload.payload_len == sent.payload.payload_len);
  CHECK(std::string_view(got.payload.payload_val, got.payload.payload_len) ==
        std::string_view(sent.payload.payload_val, sent.payload.payload_len));
  CHECK(got.flagged == !sent.flagged);
}

// libtirpc 1.3.3's xdr_pmaplist reads each node's link after freeing the
// node when given XDR_FREE, so the list is released here instead.
void free_mappings(pmaplist* list) {
  while (list != nullptr) {
    pmaplist* const next = list->pml_next;
    std::free(list);
    list = next;
  }
}

// A client of the peer's program over a connection of its own.
struct PeerClient {
  PeerClient(std::uint16_t port, rpcprog_t program = client_test::peer_program_number(),
             rpcvers_t version = PEER_V1, xdr_glue::rpc::ClientOptions options = {})
      : socket(client_test::connect_client(engine, port)),
        client(engine, socket.get(), program, version, std::move(options)) {}
  bool run_until_idle(std::chrono::seconds limit = 20s) {
    return run_until(engine, client, [this] { return client.pending() == 0; }, limit);
  }
  qio::Engine engine;
  qio_test::Fd socket;
  Client client;
};

} // namespace

TEST_CASE("a stock libtirpc server answers journeys of strings, arrays, unions and lists, and "
          "a 1 MiB opaque both ways",
          "[xdr_glue][rpc_client][tirpc]") {
  TirpcPeer peer;
  xdr_glue::rpc::ClientOptions options;
  options.max_reply = 2 * 1024 * 1024; // the echoed MiB and its reply header
  PeerClient setup(peer.port(), client_test::peer_program_number(), PEER_V1, options);
  constexpr unsigned journeys = 12;
  std::deque<xdr_test::XdrObject<journey>> sent;
  std::deque<xdr_test::XdrObject<journey>> got;
  std::vector<Outcome> outcomes(journeys);
  for (unsigned id = 0; id < journeys; ++id) {
    sent.emplace_back(xdr_journey);
    got.emplace_back(xdr_journey);
    fill_journey(sent.back().value, id, id * 301);
    REQUIRE_FALSE(setup.client.call(REVERSE_JOURNEY, xdr_journey, sent.back().value, xdr_journey,
                                    got.back().value, 20000ms, outcomes[id].handler()));
  }
  std::string megabyte(1024 * 1024, '\0');
  for (std::size_t i = 0; i < megabyte.size(); ++i)
    megabyte[i] = static_cast<char>((i * 7 + i / 4096) & 0xff);
  octets big{static_cast<u_int>(megabyte.size()), megabyte.data()};
  xdr_test::XdrObject<octets> echoed(xdr_octets);
  Outcome big_outcome;
  REQUIRE_FALSE(setup.client.call(ECHO_OCTETS, xdr_octets, big, xdr_octets, echoed.value,
                                  no_timeout, big_outcome.handler()));
  REQUIRE(setup.run_until_idle());

  for (unsigned id = 0; id < journeys; ++id) {
    CAPTURE(id);
    CHECK(outcomes[id].runs == 1);
    REQUIRE(outcomes[id].status.re_status == RPC_SUCCESS);
    check_reversed(sent[id].value, got[id].value);
  }
  CHECK(big_outcome.runs == 1);
  REQUIRE(big_outcome.status.re_status == RPC_SUCCESS);
  REQUIRE(echoed.value.octets_len == megabyte.size());
  CHECK(std::memcmp(echoed.value.octets_val, megabyte.data(), megabyte.size()) == 0);
  CHECK(setup.client.unknown_replies() == 0);
}

TEST_CASE("10,000 pipelined calls to a libtirpc server all complete, each with its own result",
          "[xdr_glue][rpc_client][tirpc]") {
  TirpcPeer peer;
  PeerClient setup(peer.port());
  constexpr u_int count = 10000;
  std::vector<u_int> results(count, 0);
  std::vector<int> runs(count, 0);
  std::vector<u_int> arguments(count);
  for (u_int index = 0; index < count; ++index) {
    arguments[index] = index * 7919u;
    REQUIRE_FALSE(setup.client.call(TRIPLE_PLUS_ONE, xdr_u_int, arguments[index], xdr_u_int,
                                    results[index], 30000ms,
                                    [&runs, index](std::error_code error, const rpc_err&) {
                                      runs[index] += error ? 1000 : 1;
                                    }));
  }
  CHECK(setup.client.pending() == count);
  REQUIRE(setup.run_until_idle(60s));
  for (u_int index = 0; index < count; ++index) {
    if (runs[index] != 1 || results[index] != 3 * arguments[index] + 1) {
      CAPTURE(index, runs[index], results[index]);
      FAIL("call " << index << " did not complete once with its own result");
    }
  }
  CHECK(setup.client.unknown_replies() == 0);
}

TEST_CASE("while a server reads nothing, 50 MiB of calls queue without blocking the client's "
          "loop; once it reads, every call completes",
          "[xdr_glue][rpc_client][tirpc]") {
  TirpcPeer peer(/*hold=*/true);
  PeerClient setup(peer.port());
  constexpr std::size_t call_size = 512 * 1024;
  constexpr std::size_t calls = 100; // 50 MiB
  std::string bytes(call_size, 'q');
  octets argument{static_cast<u_int>(bytes.size()), bytes.data()};
  std::vector<u_int> counted(calls, 0);
  std::vector<Outcome> outcomes(calls);
  for (std::size_t index = 0; index < calls; ++index)
    REQUIRE_FALSE(setup.client.call(COUNT_OCTETS, xdr_octets, argument, xdr_u_int,
                                    counted[index], no_timeout, outcomes[index].handler()));
  // The loop goes round and round while nothing can move: each turn's
  // flush and poll return at once (a blocking one would hang the test).
  for (int tick = 0; tick < 200; ++tick) {
    setup.engine.flush();
    CHECK(setup.client.poll().completed == 0);
  }
  const std::size_t queued = setup.engine.pending(setup.socket.get());
  INFO("calls still queued in qio: " << queued);
  CHECK(queued > calls / 2); // the socket buffers took only a few MiB
  CHECK(setup.client.pending() == calls);

  peer.release();
  REQUIRE(setup.run_until_idle(60s));
  for (std::size_t index = 0; index < calls; ++index) {
    CAPTURE(index);
    CHECK(outcomes[index].runs == 1);
    CHECK(outcomes[index].status.re_status == RPC_SUCCESS);
    CHECK(counted[index] == call_size);
  }
}

TEST_CASE("a libtirpc server's own error replies reach the calls as libtirpc's statuses",
          "[xdr_glue][rpc_client][tirpc][statuses]") {
  TirpcPeer peer;
  const rpcprog_t program = client_test::peer_program_number();
  u_int number = 5;
  u_int result = 0;
  rpc_err expected{};
  Outcome outcome;

  const auto run_one = [&](PeerClient& setup, rpcproc_t procedure, xdrproc_t encode,
                           xdrproc_t decode, void* decoded) {
    REQUIRE_FALSE(setup.client.call(procedure, encode, &number, decode, decoded, 20000ms,
                                    outcome.handler()));
    REQUIRE(setup.run_until_idle());
  };
  const xdrproc_t u_int_procedure = xdrproc(xdr_u_int);
  const xdrproc_t nothing = xdr_glue::rpc::void_xdrproc();
  SECTION("a program it does not serve: PROG_UNAVAIL") {
    PeerClient setup(peer.port(), program + 1);
    run_one(setup, TRIPLE_PLUS_ONE, u_int_procedure, u_int_procedure, &result);
    expected.re_status = RPC_PROGUNAVAIL;
  }
  SECTION("a version it does not serve: PROG_MISMATCH 1..1") {
    PeerClient setup(peer.port(), program, PEER_V1 + 1);
    run_one(setup, TRIPLE_PLUS_ONE, u_int_procedure, u_int_procedure, &result);
    expected.re_status = RPC_PROGVERSMISMATCH;
    expected.re_vers = {PEER_V1, PEER_V1};
  }
  SECTION("a procedure it does not have: PROC_UNAVAIL") {
    PeerClient setup(peer.port());
    run_one(setup, 99, u_int_procedure, u_int_procedure, &result);
    expected.re_status = RPC_PROCUNAVAIL;
  }
  SECTION("arguments it cannot decode: GARBAGE_ARGS") {
    PeerClient setup(peer.port());
    run_one(setup, TRIPLE_PLUS_ONE, nothing, u_int_procedure, &result);
    expected.re_status = RPC_CANTDECODEARGS;
  }
  SECTION("svcerr_systemerr: SYSTEM_ERR") {
    PeerClient setup(peer.port());
    run_one(setup, FAIL_SYSTEM, nothing, nothing, nullptr);
    expected.re_status = RPC_SYSTEMERROR;
  }
  SECTION("svcerr_auth: AUTH_ERROR with its reason") {
    PeerClient setup(peer.port());
    run_one(setup, REFUSE_AUTH, nothing, nothing, nullptr);
    expected.re_status = RPC_AUTHERROR;
    expected.re_why = AUTH_TOOWEAK;
  }
  SECTION("results the client cannot decode: RPC_CANTDECODERES, and the connection goes on") {
    PeerClient setup(peer.port());
    char* too_short = nullptr; // a string<8> cannot hold 40 bytes
    std::string forty(40, 'z');
    octets sent{static_cast<u_int>(forty.size()), forty.data()};
    REQUIRE_FALSE(setup.client.call(ECHO_OCTETS, xdr_octets, sent,
                                    client_test::xdr_short_string, too_short, 20000ms,
                                    outcome.handler()));
    REQUIRE(setup.run_until_idle());
    CHECK(too_short == nullptr);
    expected.re_status = RPC_CANTDECODERES;
    Outcome after;
    REQUIRE_FALSE(setup.client.call(TRIPLE_PLUS_ONE, xdr_u_int, number, xdr_u_int, result,
                                    20000ms, after.handler()));
    REQUIRE(setup.run_until_idle());
    CHECK(after.status.re_status == RPC_SUCCESS);
    CHECK(result == 16);
  }
  CHECK(outcome.runs == 1);
  CHECK(outcome.status.re_status == expected.re_status);
  INFO(clnt_sperrno(outcome.status.re_status));
  if (expected.re_status == RPC_PROGVERSMISMATCH) {
    CHECK(outcome.status.re_vers.low == expected.re_vers.low);
    CHECK(outcome.status.re_vers.high == expected.re_vers.high);
  }
  if (expected.re_status == RPC_AUTHERROR)
    CHECK(outcome.status.re_why == expected.re_why);
}

TEST_CASE("rpcbind answers an asynchronous RPCBPROC_DUMP and PMAPPROC_DUMP listing itself and "
          "a program registered for the test",
          "[xdr_glue][rpc_client][rpcbind]") {
  INFO("rpcbind must be running on 127.0.0.1:111 (scripts/run test starts it)");
  REQUIRE(xdr_glue::rpc::rpcbind_is_running());
  const rpcprog_t registered_program = client_test::peer_program_number() + 0x1000000;
  const xdr_glue::rpc::RpcbindRegistration registration(registered_program, 3, 4321);
  qio::Engine engine;
  qio_test::Fd socket = client_test::connect_client(engine, 111);
  Client rpcbind_v4(engine, socket.get(), RPCBPROG, RPCBVERS4);
  qio_test::Fd socket_v2 = client_test::connect_client(engine, 111);
  Client portmapper(engine, socket_v2.get(), PMAPPROG, PMAPVERS);

  rpcblist_ptr bindings = nullptr;
  pmaplist* mappings = nullptr;
  Outcome bindings_outcome;
  Outcome mappings_outcome;
  REQUIRE_FALSE(rpcbind_v4.call(RPCBPROC_DUMP, xdr_glue::rpc::void_xdrproc(), nullptr,
                                xdrproc(xdr_rpcblist_ptr), &bindings, 20000ms,
                                bindings_outcome.handler()));
  REQUIRE_FALSE(portmapper.call(PMAPPROC_DUMP, xdr_glue::rpc::void_xdrproc(), nullptr,
                                xdrproc(xdr_pmaplist), &mappings, 20000ms,
                                mappings_outcome.handler()));
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while ((rpcbind_v4.pending() > 0 || portmapper.pending() > 0) &&
         std::chrono::steady_clock::now() < deadline) {
    engine.flush();
    rpcbind_v4.poll();
    portmapper.poll();
    client_test::wait_for_socket(engine, socket.get(), 10ms);
  }
  REQUIRE(bindings_outcome.runs == 1);
  REQUIRE(bindings_outcome.status.re_status == RPC_SUCCESS);
  REQUIRE(mappings_outcome.runs == 1);
  REQUIRE(mappings_outcome.status.re_status == RPC_SUCCESS);

  bool rpcbind_itself = false;
  bool ours = false;
  for (const rpcblist* entry = bindings; entry != nullptr; entry = entry->rpcb_next) {
    rpcbind_itself |= entry->rpcb_map.r_prog == RPCBPROG;
    ours |= entry->rpcb_map.r_prog == registered_program && entry->rpcb_map.r_vers == 3 &&
            std::string(entry->rpcb_map.r_addr) == "127.0.0.1.16.225"; // port 4321
  }
  CHECK(rpcbind_itself);
  CHECK(ours);
  bool portmapper_itself = false;
  bool ours_v2 = false;
  for (const pmaplist* entry = mappings; entry != nullptr; entry = entry->pml_next) {
    portmapper_itself |= entry->pml_map.pm_prog == PMAPPROG && entry->pml_map.pm_port == 111;
    ours_v2 |= entry->pml_map.pm_prog == registered_program && entry->pml_map.pm_port == 4321;
  }
  CHECK(portmapper_itself);
  CHECK(ours_v2);
  xdr_free(xdrproc(xdr_rpcblist_ptr), &bindings);
  free_mappings(mappings);
}
