// SPDX-License-Identifier: MIT
// test_rpc_credentials.cpp - AUTH_SYS credentials: malformed bodies are
// denied AUTH_BADCRED, as libtirpc's servers deny them, and a valid one
// from libtirpc's authunix_create reaches the handler decoded.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "rpc_support.hpp"

using qio_test::Fd;
using rpc_test::connect_to;
using rpc_test::read_reply;
using rpc_test::send_all;
using rpc_test::ServerThread;
using rpc_test::words;
using xdr_test::framed;

namespace {

// A procedure of the test program that answers with what the handler
// learnt of the caller: "uid gid group,group,... machine".
constexpr rpcproc_t who_is_calling = 60;

void register_who_is_calling(xdr_glue::rpc::Server& server) {
  const xdrproc_t string_procedure = xdr_test::xdrproc(xdr_wrapstring);
  REQUIRE_FALSE(server.add_procedure<xdr_glue::rpc::Void, char*>(
      QIO_TEST_PROGRAM, QIO_TEST_V1, who_is_calling, xdr_glue::rpc::void_xdrproc(),
      string_procedure,
      [](const xdr_glue::rpc::CallInfo& call, const xdr_glue::rpc::Void&, char*& answer) {
        std::string caller = "no AUTH_SYS";
        if (const xdr_glue::rpc::SysCredential* credential = call.sys_credential) {
          caller = std::to_string(credential->uid) + " " + std::to_string(credential->gid) + " ";
          for (const std::uint32_t group : credential->groups)
            caller += std::to_string(group) + ",";
          caller += " " + std::string(credential->machine_name);
        }
        answer = strdup(caller.c_str());
        return answer != nullptr;
      }));
}

std::string xdr_string_of(const std::string& text) {
  std::string encoded = words({static_cast<std::uint32_t>(text.size())}) + text;
  encoded.resize((encoded.size() + 3) / 4 * 4, '\0');
  return encoded;
}

// A NULLPROC call whose credential is AUTH_SYS with `body`.
std::string call_with_sys_body(std::uint32_t xid, const std::string& body) {
  return words({xid, CALL, 2, QIO_TEST_PROGRAM, QIO_TEST_V1, NULLPROC, AUTH_SYS,
                static_cast<std::uint32_t>(body.size())}) +
         body + words({AUTH_NONE, 0});
}

} // namespace

TEST_CASE("a malformed AUTH_SYS body is denied AUTH_BADCRED and the connection goes on",
          "[xdr_glue][rpc][credentials]") {
  const std::string name = xdr_string_of("host");
  const std::vector<std::uint32_t> sixteen_groups(16, 7);
  std::string groups_of_16 = words({16});
  for (const std::uint32_t group : sixteen_groups)
    groups_of_16 += words({group});
  // name, body: each but the last is malformed
  const auto [description, body] = GENERATE_COPY(table<std::string, std::string>({
      {"ffffffff: a stamp and nothing else", words({0xffffffffu})},
      {"empty", ""},
      {"a machine name of 256 bytes", words({1}) + xdr_string_of(std::string(256, 'm')) +
                                          words({0, 0, 0})},
      {"a machine name longer than the body", words({1, 200}) + "abcd"},
      {"17 groups", words({1}) + name + words({0, 0, 17}) + std::string(17 * 4, '\0')},
      {"fewer groups than announced", words({1}) + name + words({0, 0, 3, 1})},
      {"no group count", words({1}) + name + words({0, 0})},
  }));
  CAPTURE(description);
  ServerThread server;
  const Fd client = connect_to(server.port());
  REQUIRE(send_all(client.get(), framed(call_with_sys_body(21, body))));
  rpc_msg reply;
  REQUIRE(read_reply(client.get(), reply));
  CHECK(reply.rm_xid == 21);
  REQUIRE(reply.rm_reply.rp_stat == MSG_DENIED);
  CHECK(reply.rjcted_rply.rj_stat == AUTH_ERROR);
  CHECK(reply.rjcted_rply.rj_why == AUTH_BADCRED);
  // The largest valid body is answered, on the same connection.
  const std::string largest =
      words({1}) + xdr_string_of(std::string(255, 'm')) + words({0, 0}) + groups_of_16;
  REQUIRE(send_all(client.get(), framed(call_with_sys_body(22, largest))));
  REQUIRE(read_reply(client.get(), reply));
  CHECK(reply.rm_xid == 22);
  CHECK(reply.rm_reply.rp_stat == MSG_ACCEPTED);
  CHECK(reply.acpted_rply.ar_stat == SUCCESS);
}

TEST_CASE("a handler sees the uid, gid, groups and machine name of a libtirpc AUTH_SYS client",
          "[xdr_glue][rpc][credentials]") {
  ServerThread server({}, register_who_is_calling);
  rpc_test::Client client(server.port(), QIO_TEST_V1);
  const auto ask = [&client] {
    char* answer = nullptr;
    const enum clnt_stat status =
        client.call(who_is_calling, xdr_glue::rpc::void_xdrproc(), nullptr,
                    xdr_test::xdrproc(xdr_wrapstring), &answer);
    const std::string text = status == RPC_SUCCESS && answer != nullptr ? answer : "failed";
    clnt_freeres(client.get(), xdr_test::xdrproc(xdr_wrapstring),
                 reinterpret_cast<caddr_t>(&answer));
    return text;
  };
  CHECK(ask() == "no AUTH_SYS");
  gid_t groups[] = {10, 20, 30};
  AUTH* credential = authunix_create(const_cast<char*>("qio-test-host"), 1234, 5678, 3, groups);
  REQUIRE(credential != nullptr);
  AUTH* none = client.get()->cl_auth;
  client.get()->cl_auth = credential;
  CHECK(ask() == "1234 5678 10,20,30, qio-test-host");
  client.get()->cl_auth = none; // clnt_destroy releases neither
  auth_destroy(credential);
}
