// SPDX-License-Identifier: MIT
// test_rpc_hostile.cpp - bad input sent to the RPC server over loopback
// TCP: each gets a clear error (a reply, or the connection closed with a
// documented reason), nothing above the limits is stored, and a client
// connected all along is still served afterwards.
#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <string>
#include <vector>

#include "rpc_support.hpp"

using qio_test::Fd;
using rpc_test::call_header;
using rpc_test::Client;
using rpc_test::closed_by_server;
using rpc_test::connect_to;
using rpc_test::echo_call;
using rpc_test::expect_echo;
using rpc_test::read_reply;
using rpc_test::send_all;
using rpc_test::ServerThread;
using rpc_test::words;
using xdr_test::framed;
using xdr_test::record_mark;
using xdr_test::xdrproc;

namespace {

std::error_code errc(int value) { return {value, std::generic_category()}; }

// Every hostile case: send `input`, expect the server to close that
// connection for `reason`, and a bystander client to be served after.
void expect_closed_for(const std::string& input, int reason,
                       xdr_glue::rpc::ServerOptions options = {}) {
  ServerThread server(std::move(options));
  Client bystander(server.port(), QIO_TEST_V1);
  REQUIRE(bystander.echoes("before"));
  const Fd hostile = connect_to(server.port());
  send_all(hostile.get(), input);
  CHECK(closed_by_server(hostile.get()));
  const auto reasons = server.observed.wait_for_closes(1);
  REQUIRE(reasons.size() == 1);
  CHECK(reasons[0] == errc(reason));
  CHECK(bystander.echoes("after"));
}

} // namespace

TEST_CASE("a record mark announcing 0x7fffffff bytes closes that connection with EMSGSIZE",
          "[xdr_glue][rpc][hostile]") {
  expect_closed_for(record_mark(0x7fffffffu, true) + "just a few bytes", EMSGSIZE);
}

TEST_CASE("fragments that only together exceed the call limit close the connection with EMSGSIZE",
          "[xdr_glue][rpc][hostile]") {
  xdr_glue::rpc::ServerOptions options;
  options.max_call_size = 4096;
  const std::string part(2000, 'z');
  expect_closed_for(record_mark(2000, false) + part + record_mark(2000, false) + part +
                        record_mark(2000, true) + part,
                    EMSGSIZE, options);
}

TEST_CASE("GET / HTTP/1.1 sent to the RPC port closes that connection and the server keeps "
          "serving",
          "[xdr_glue][rpc][hostile]") {
  // "GET " read as a record mark announces 0x47455420 bytes: far too many.
  expect_closed_for("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", EMSGSIZE);
}

TEST_CASE("a call truncated by end of file is never answered and closes with EPIPE",
          "[xdr_glue][rpc][hostile]") {
  const std::string call = framed(echo_call(1, "never finished"));
  ServerThread server;
  Client bystander(server.port(), QIO_TEST_V1);
  const Fd hostile = connect_to(server.port());
  send_all(hostile.get(), call.substr(0, call.size() - 5));
  ::shutdown(hostile.get(), SHUT_WR);
  char byte;
  CHECK(::recv(hostile.get(), &byte, 1, 0) == 0); // closed, no reply
  const auto reasons = server.observed.wait_for_closes(1);
  REQUIRE(reasons.size() == 1);
  CHECK(reasons[0] == errc(EPIPE));
  CHECK(bystander.echoes("after truncation"));
}

TEST_CASE("a record that is not an RPC call closes the connection with EBADMSG",
          "[xdr_glue][rpc][hostile]") {
  SECTION("too short for a call header") { expect_closed_for(framed("abc"), EBADMSG); }
  SECTION("a reply sent to the server") {
    expect_closed_for(framed(words({9, REPLY, MSG_ACCEPTED, 0, 0, SUCCESS})), EBADMSG);
  }
  SECTION("a credential longer than MAX_AUTH_BYTES") {
    expect_closed_for(framed(words({9, CALL, 2, QIO_TEST_PROGRAM, 1, 0, AUTH_SYS, 100000})),
                      EBADMSG);
  }
}

TEST_CASE("a 3-fragment call delivered a byte at a time, then split at every point, is answered",
          "[xdr_glue][rpc][hostile]") {
  ServerThread server;
  const std::string payload = echo_call(42, "one byte at a time");
  const std::string call = framed(payload, {9, 20});
  const Fd client = connect_to(server.port());
  for (const char byte : call)
    REQUIRE(send_all(client.get(), std::string(1, byte)));
  expect_echo(client.get(), 42, "one byte at a time");
  for (std::size_t split = 1; split < call.size(); ++split) {
    CAPTURE(split);
    REQUIRE(send_all(client.get(), call.substr(0, split)));
    REQUIRE(send_all(client.get(), call.substr(split)));
    expect_echo(client.get(), 42, "one byte at a time");
  }
}

TEST_CASE("a call whose string claims 0xFFFFFFFF bytes gets GARBAGE_ARGS and the connection "
          "keeps working",
          "[xdr_glue][rpc][hostile]") {
  ServerThread server;
  const Fd client = connect_to(server.port());
  const std::string call = call_header(7, QIO_TEST_V1, ECHO_TEXT) + words({0xffffffffu}) + "abcd";
  REQUIRE(send_all(client.get(), framed(call)));
  rpc_msg reply;
  REQUIRE(read_reply(client.get(), reply));
  CHECK(reply.rm_xid == 7);
  CHECK(reply.acpted_rply.ar_stat == GARBAGE_ARGS);
  REQUIRE(send_all(client.get(), framed(echo_call(8, "next call"))));
  expect_echo(client.get(), 8, "next call");
}

TEST_CASE("a call for RPC version 3 is denied with RPC_MISMATCH 2..2", "[xdr_glue][rpc]") {
  ServerThread server;
  const Fd client = connect_to(server.port());
  const std::string call =
      words({11, CALL, 3, QIO_TEST_PROGRAM, QIO_TEST_V1, NULLPROC, AUTH_NONE, 0, AUTH_NONE, 0});
  REQUIRE(send_all(client.get(), framed(call)));
  rpc_msg reply;
  REQUIRE(read_reply(client.get(), reply));
  CHECK(reply.rm_xid == 11);
  REQUIRE(reply.rm_reply.rp_stat == MSG_DENIED);
  CHECK(reply.rjcted_rply.rj_stat == RPC_MISMATCH);
  CHECK(reply.rjcted_rply.rj_vers.low == 2);
  CHECK(reply.rjcted_rply.rj_vers.high == 2);
  REQUIRE(send_all(client.get(), framed(echo_call(12, "still here"))));
  expect_echo(client.get(), 12, "still here");
}

TEST_CASE("a credential flavor other than AUTH_NONE or AUTH_SYS is denied with AUTH_REJECTEDCRED",
          "[xdr_glue][rpc]") {
  ServerThread server;
  const Fd client = connect_to(server.port());
  const std::uint32_t rpcsec_gss = 6;
  const std::string call =
      words({13, CALL, 2, QIO_TEST_PROGRAM, QIO_TEST_V1, NULLPROC, rpcsec_gss, 0, AUTH_NONE, 0});
  REQUIRE(send_all(client.get(), framed(call)));
  rpc_msg reply;
  REQUIRE(read_reply(client.get(), reply));
  REQUIRE(reply.rm_reply.rp_stat == MSG_DENIED);
  CHECK(reply.rjcted_rply.rj_stat == AUTH_ERROR);
  CHECK(reply.rjcted_rply.rj_why == AUTH_REJECTEDCRED);
}

TEST_CASE("a client that sends calls but never reads replies stops being read, so the server's "
          "queue stays bounded",
          "[xdr_glue][rpc][hostile][slow-client]") {
  xdr_glue::rpc::ServerOptions options;
  options.max_queued_reply_bytes = 1024 * 1024;
  ServerThread server(std::move(options));
  Client bystander(server.port(), QIO_TEST_V1);
  const Fd greedy = connect_to(server.port(), 16 * 1024);
  std::string calls;
  const u_int reply_size = 100 * 1024;
  for (std::uint32_t xid = 1; xid <= 200; ++xid) {
    u_int size = reply_size;
    calls += framed(call_header(xid, QIO_TEST_V1, MAKE_BLOB) +
                    xdr_test::encode(xdrproc(xdr_u_int), &size));
  }
  // 200 calls asking for 20 MB of replies, in one go.
  REQUIRE(send_all(greedy.get(), calls));
  REQUIRE(server.observed.wait_for_blob_calls(10));
  u_int queued = 0;
  for (int i = 0; i < 5; ++i) { // a few rounds: the queue must not keep growing
    REQUIRE(bystander.call(QUEUED_REPLY_BYTES, xdr_glue::rpc::void_xdrproc(), nullptr,
                           xdrproc(xdr_u_int), &queued) == RPC_SUCCESS);
    CHECK(queued <= 1024 * 1024 + reply_size + 1024);
  }
  CHECK(bystander.echoes("still served"));
}

TEST_CASE("clients beyond max_connections are closed at once with ECONNREFUSED when no client "
          "is idle",
          "[xdr_glue][rpc][hostile]") {
  xdr_glue::rpc::ServerOptions options;
  options.max_connections = 1;
  ServerThread server(std::move(options));
  // The only client is busy: a reply far larger than the socket buffers
  // waits for it to read, so it is not idle and may not be displaced.
  Client first(server.port(), QIO_TEST_V1, 16 * 1024);
  u_int size = 4 * 1024 * 1024;
  blob unread{};
  REQUIRE(first.call(MAKE_BLOB, xdrproc(xdr_u_int), &size, xdrproc(xdr_blob), &unread,
                     timeval{0, 0}) == RPC_TIMEDOUT); // sent, not waited for
  REQUIRE(server.observed.wait_for_blob_calls(1));
  const Fd second = connect_to(server.port());
  CHECK(closed_by_server(second.get()));
  const auto reasons = server.observed.wait_for_closes(1);
  REQUIRE(reasons.size() == 1);
  CHECK(reasons[0] == errc(ECONNREFUSED));
  // The first client collects its reply (libtirpc matches it by xid).
  u_int32_t xid = 0;
  REQUIRE(clnt_control(first.get(), CLGET_XID, reinterpret_cast<char*>(&xid)));
  REQUIRE(clnt_control(first.get(), CLSET_XID, reinterpret_cast<char*>(&xid)));
  blob received{};
  CHECK(first.call(MAKE_BLOB, xdrproc(xdr_u_int), &size, xdrproc(xdr_blob), &received) ==
        RPC_SUCCESS);
  CHECK(received.blob_len == size);
  clnt_freeres(first.get(), xdrproc(xdr_blob), reinterpret_cast<caddr_t>(&received));
}
