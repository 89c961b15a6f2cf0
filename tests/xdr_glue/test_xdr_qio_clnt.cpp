// SPDX-License-Identifier: MIT
// test_xdr_qio_clnt.cpp - the C API of the asynchronous client
// (<xdr_glue/xdr_qio_clnt.h>) on qio's process-wide engine: every
// documented error, the completion rules, and calls to the project's own
// server and to a stock libtirpc server.
#include <catch2/catch.hpp>

#include <xdr_glue/xdr_qio_clnt.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "client_support.hpp"

using client_test::ReceivedCall;
using client_test::ScriptedServer;
using qio_test::Fd;
using xdr_test::xdrproc;

namespace {

// What a C completion routine saw.
struct CCompletion {
  int runs = 0;
  rpc_err status{};
  void* result = nullptr;

  static void record(const struct rpc_err* status, void* result, void* argument) {
    auto& self = *static_cast<CCompletion*>(argument);
    ++self.runs;
    self.status = *status;
    self.result = result;
  }
};

// A C program's loop: flush, poll, wait for the socket; until `done`
// holds, the connection fails, or 20 s pass.
bool run_until(xdr_qio_clnt* client, const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    qio_flush();
    if (xdr_qio_clnt_poll(client) < 0 || done())
      break;
    const int fd = xdr_qio_clnt_fd(client);
    pollfd readiness{fd, static_cast<short>(POLLIN | (qio_pendc(fd) > 0 ? POLLOUT : 0)), 0};
    ::poll(&readiness, 1, 10);
  }
  return done();
}

// A C client on `socket`, configured as a qio channel first; the client is
// destroyed and the channel removed at the end, as a C program would.
struct CClient {
  CClient(Fd descriptor, rpcprog_t program, rpcvers_t version) : socket(std::move(descriptor)) {
    REQUIRE(qio_configure(socket.get(), 1, 0, -1) == 0);
    client = xdr_qio_clnt_create(socket.get(), program, version, 0);
    REQUIRE(client != nullptr);
  }
  ~CClient() {
    xdr_qio_clnt_destroy(client);
    qio_termc(socket.get());
  }
  CClient(const CClient&) = delete;
  CClient& operator=(const CClient&) = delete;
  bool run_until(const std::function<bool()>& done) { return ::run_until(client, done); }
  Fd socket;
  xdr_qio_clnt* client = nullptr;
};

// A C client on a socket pair; the test plays the server on `server_fd`.
struct CSetup : CClient {
  explicit CSetup(qio_test::FdPair pair = qio_test::socket_pair())
      : CClient(std::move(pair.local), 0x40004321, 2), server_fd(std::move(pair.remote)) {}
  int call_number(u_int& argument, u_int& result, CCompletion& completion,
                  int timeout_ms = -1) {
    return xdr_qio_clnt_call(client, 4, xdrproc(xdr_u_int), &argument, xdrproc(xdr_u_int),
                             &result, timeout_ms, &CCompletion::record, &completion);
  }
  Fd server_fd;
};

} // namespace

TEST_CASE("xdr_qio_clnt_create refuses a descriptor that is not a qio channel with EBADF",
          "[xdr_glue][xdr_qio_clnt][errors]") {
  qio_test::FdPair pair = qio_test::socket_pair();
  errno = 0;
  CHECK(xdr_qio_clnt_create(pair.local.get(), 1, 1, 0) == nullptr);
  CHECK(errno == EBADF);
  errno = 0;
  CHECK(xdr_qio_clnt_create(-1, 1, 1, 0) == nullptr);
  CHECK(errno == EBADF);
}

TEST_CASE("xdr_qio_clnt_call refuses NULL arguments and bad timeouts with EINVAL and queues "
          "nothing",
          "[xdr_glue][xdr_qio_clnt][errors]") {
  CSetup setup;
  u_int value = 1;
  CCompletion completion;
  const xdrproc_t number = xdrproc(xdr_u_int);
  CHECK(xdr_qio_clnt_call(nullptr, 1, number, &value, number, &value, -1, &CCompletion::record,
                          &completion) == EINVAL);
  CHECK(xdr_qio_clnt_call(setup.client, 1, nullptr, &value, number, &value, -1,
                          &CCompletion::record, &completion) == EINVAL);
  CHECK(xdr_qio_clnt_call(setup.client, 1, number, &value, nullptr, &value, -1,
                          &CCompletion::record, &completion) == EINVAL);
  CHECK(xdr_qio_clnt_call(setup.client, 1, number, &value, number, &value, -1, nullptr,
                          &completion) == EINVAL);
  CHECK(xdr_qio_clnt_call(setup.client, 1, number, &value, number, &value, -2,
                          &CCompletion::record, &completion) == EINVAL);
  CHECK(xdr_qio_clnt_pending(setup.client) == 0);
  CHECK(qio_pendc(setup.socket.get()) == 0);
  CHECK(completion.runs == 0);
  CHECK(xdr_qio_clnt_pending(nullptr) == 0);
  CHECK(xdr_qio_clnt_fd(nullptr) == -1);
  CHECK(xdr_qio_clnt_fd(setup.client) == setup.socket.get());
  errno = 0;
  CHECK(xdr_qio_clnt_poll(nullptr) == -1);
  CHECK(errno == EINVAL);
  xdr_qio_clnt_destroy(nullptr);
}

TEST_CASE("xdr_qio_clnt_call returns EAGAIN when max_outstanding refuses the record, and "
          "queues nothing",
          "[xdr_glue][xdr_qio_clnt][errors]") {
  CSetup setup;
  REQUIRE(qio_configure(setup.socket.get(), 1, 0, 1) == 0);
  u_int first = 1;
  u_int second = 2;
  u_int results[2] = {};
  CCompletion completions[2];
  CHECK(setup.call_number(first, results[0], completions[0]) == 0);
  CHECK(setup.call_number(second, results[1], completions[1]) == EAGAIN);
  CHECK(xdr_qio_clnt_pending(setup.client) == 1);
  CHECK(qio_pendc(setup.socket.get()) == 1);
}

TEST_CASE("done runs once per call, only from poll, with the caller's result pointer on "
          "success and NULL otherwise",
          "[xdr_glue][xdr_qio_clnt]") {
  CSetup setup;
  ScriptedServer server(setup.server_fd.get());
  u_int arguments[3] = {10, 20, 30};
  u_int results[3] = {};
  CCompletion completions[3];
  for (int index = 0; index < 3; ++index)
    REQUIRE(setup.call_number(arguments[index], results[index], completions[index]) == 0);
  CHECK(xdr_qio_clnt_pending(setup.client) == 3);
  qio_flush();
  const std::vector<ReceivedCall> received = server.receive(3);
  REQUIRE(received.size() == 3);
  u_int answer = 61;
  server.accept(received[1].xid, SUCCESS, xdrproc(xdr_u_int), &answer);
  server.accept(received[2].xid, PROC_UNAVAIL);
  CHECK(completions[1].runs == 0);
  REQUIRE(setup.run_until([&] { return xdr_qio_clnt_pending(setup.client) == 1; }));
  CHECK(completions[1].runs == 1);
  CHECK(completions[1].status.re_status == RPC_SUCCESS);
  CHECK(completions[1].result == &results[1]);
  CHECK(results[1] == 61);
  CHECK(completions[2].runs == 1);
  CHECK(completions[2].status.re_status == RPC_PROCUNAVAIL);
  CHECK(completions[2].result == nullptr);
  CHECK(std::string(clnt_sperrno(completions[2].status.re_status)) ==
        clnt_sperrno(RPC_PROCUNAVAIL));
  CHECK(completions[0].runs == 0);
}

TEST_CASE("a call with a timeout of 0 ms completes with RPC_TIMEDOUT at the next poll, which "
          "returns 1",
          "[xdr_glue][xdr_qio_clnt][timeouts]") {
  CSetup setup;
  u_int argument = 1;
  u_int result = 0;
  CCompletion completion;
  REQUIRE(setup.call_number(argument, result, completion, 0) == 0);
  CHECK(xdr_qio_clnt_poll(setup.client) == 1);
  CHECK(completion.runs == 1);
  CHECK(completion.status.re_status == RPC_TIMEDOUT);
  CHECK(xdr_qio_clnt_poll(setup.client) == 0);
}

TEST_CASE("after end of file poll returns -1 with errno EPIPE every time, pending calls got "
          "RPC_CANTRECV with errno 0, and call returns EPIPE",
          "[xdr_glue][xdr_qio_clnt][connection]") {
  CSetup setup;
  u_int argument = 1;
  u_int result = 0;
  CCompletion completion;
  REQUIRE(setup.call_number(argument, result, completion) == 0);
  qio_flush();
  REQUIRE(ScriptedServer(setup.server_fd.get()).receive(1).size() == 1);
  setup.server_fd.reset();
  setup.run_until([&] { return completion.runs > 0; });
  CHECK(completion.runs == 1);
  CHECK(completion.status.re_status == RPC_CANTRECV);
  CHECK(completion.status.re_errno == 0);
  for (int attempt = 0; attempt < 2; ++attempt) {
    errno = 0;
    CHECK(xdr_qio_clnt_poll(setup.client) == -1);
    CHECK(errno == EPIPE);
  }
  CCompletion late;
  CHECK(setup.call_number(argument, result, late) == EPIPE);
  CHECK(late.runs == 0);
}

TEST_CASE("xdr_qio_clnt_destroy completes pending calls with ECANCELED and leaves the channel "
          "and descriptor to the caller",
          "[xdr_glue][xdr_qio_clnt][connection]") {
  qio_test::FdPair pair = qio_test::socket_pair();
  REQUIRE(qio_configure(pair.local.get(), 1, 0, -1) == 0);
  xdr_qio_clnt* client = xdr_qio_clnt_create(pair.local.get(), 0x40004321, 2, 0);
  REQUIRE(client != nullptr);
  u_int argument = 1;
  u_int results[2] = {};
  CCompletion completions[2];
  for (int index = 0; index < 2; ++index)
    REQUIRE(xdr_qio_clnt_call(client, 4, xdrproc(xdr_u_int), &argument, xdrproc(xdr_u_int),
                              &results[index], 60000, &CCompletion::record,
                              &completions[index]) == 0);
  xdr_qio_clnt_destroy(client);
  for (const CCompletion& completion : completions) {
    CHECK(completion.runs == 1);
    CHECK(completion.status.re_status == RPC_CANTRECV);
    CHECK(completion.status.re_errno == ECANCELED);
    CHECK(completion.result == nullptr);
  }
  // The calls are still queued on the channel, which is the caller's.
  CHECK(qio_pendc(pair.local.get()) == 2);
  CHECK(qio_flushc(pair.local.get()) == 0);
  CHECK(qio_pendc(pair.local.get()) == 0);
  CHECK(::fcntl(pair.local.get(), F_GETFD) >= 0);
  CHECK(qio_termc(pair.local.get()) == 0);
}

TEST_CASE("a C client calls the project's own server and a stock libtirpc server",
          "[xdr_glue][xdr_qio_clnt]") {
  SECTION("the project's server echoes a string") {
    rpc_test::ServerThread server;
    CClient c(rpc_test::connect_to(server.port()), QIO_TEST_PROGRAM, QIO_TEST_V1);
    char* text = const_cast<char*>("from C");
    char* echoed = nullptr;
    CCompletion completion;
    REQUIRE(xdr_qio_clnt_call(c.client, ECHO_TEXT, xdrproc(xdr_wrapstring), &text,
                              xdrproc(xdr_wrapstring), &echoed, 20000, &CCompletion::record,
                              &completion) == 0);
    REQUIRE(c.run_until([&] { return completion.runs > 0; }));
    CHECK(completion.runs == 1);
    REQUIRE(completion.status.re_status == RPC_SUCCESS);
    CHECK(std::string(echoed) == "from C");
    xdr_free(xdrproc(xdr_wrapstring), &echoed);
  }
  SECTION("a libtirpc server counts 1 MiB of opaque") {
    client_test::TirpcPeer peer;
    CClient c(rpc_test::connect_to(peer.port()), client_test::peer_program_number(), PEER_V1);
    std::string megabyte(1024 * 1024, 'm');
    octets argument{static_cast<u_int>(megabyte.size()), megabyte.data()};
    u_int counted = 0;
    CCompletion completion;
    REQUIRE(xdr_qio_clnt_call(c.client, COUNT_OCTETS, xdrproc(xdr_octets), &argument,
                              xdrproc(xdr_u_int), &counted, 20000, &CCompletion::record,
                              &completion) == 0);
    REQUIRE(c.run_until([&] { return completion.runs > 0; }));
    CHECK(completion.runs == 1);
    CHECK(completion.status.re_status == RPC_SUCCESS);
    CHECK(counted == megabyte.size());
  }
}
