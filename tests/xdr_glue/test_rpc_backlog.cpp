// SPDX-License-Identifier: MIT
// test_rpc_backlog.cpp - clients whose replies pile up: the per-client
// bound counts the memory replies really hold (checked against what
// operator new hands out, counting_new.cpp),
// the pause policy ends with the stall timeout and the close policy at
// once, all clients together stay within the total bound by closing the
// largest first, and a client that writes all its calls before reading is
// served whole under the default options. Loopback TCP clients; time is
// the driven server's fake clock.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "../counting_new.hpp"
#include "server_loop.hpp"

using namespace std::chrono_literals;
using qio_test::Fd;
using rpc_test::connect_to;
using rpc_test::DrivenServer;
using rpc_test::readable_now;
using rpc_test::send_all;
using xdr_glue::rpc::BacklogPolicy;
using xdr_glue::rpc::ServerOptions;
using xdr_test::framed;

namespace {

std::error_code errc(int value) { return {value, std::generic_category()}; }

constexpr std::size_t kib = 1024;
constexpr std::size_t mib = 1024 * kib;

// A call whose only argument is a size (MAKE_BLOB's shape), framed.
std::string size_call(std::uint32_t xid, rpcproc_t procedure, u_int size) {
  return framed(rpc_test::call_header(xid, QIO_TEST_V1, procedure) +
                xdr_test::encode(xdr_test::xdrproc(xdr_u_int), &size));
}

// A client that sends 16-byte echo calls as fast as the server takes them
// and never reads a reply: its receive buffer fills, then the server's
// send buffer, then the server's queue, until the server stops reading it.
class StalledClient {
public:
  explicit StalledClient(DrivenServer& server) : socket_(connect_to(server.port(), 4096)) {
    const int flags = ::fcntl(socket_.get(), F_GETFL);
    REQUIRE(::fcntl(socket_.get(), F_SETFL, flags | O_NONBLOCK) == 0);
  }
  // Sends as much of an endless series of calls as the socket takes now.
  void push() {
    for (;;) {
      if (sent_ == calls_.size())
        refill();
      const ssize_t count = ::send(socket_.get(), calls_.data() + sent_, calls_.size() - sent_,
                                   MSG_NOSIGNAL);
      if (count <= 0)
        return;
      sent_ += static_cast<std::size_t>(count);
    }
  }
  int fd() const { return socket_.get(); }

private:
  void refill() {
    calls_.clear();
    sent_ = 0;
    for (int i = 0; i < 256; ++i)
      calls_ += framed(rpc_test::echo_call(next_xid_++, "sixteen bytes..."));
  }

  Fd socket_;
  std::string calls_;
  std::size_t sent_ = 0;
  std::uint32_t next_xid_ = 1;
};

// Connects `count` stalled clients and turns the server until it has
// stopped reading every one of them: the memory their replies hold stays
// the same for 20 turns while they keep sending.
std::vector<std::unique_ptr<StalledClient>> stall_clients(DrivenServer& server, int count) {
  std::vector<std::unique_ptr<StalledClient>> clients;
  for (int i = 0; i < count; ++i)
    clients.push_back(std::make_unique<StalledClient>(server));
  std::size_t unchanged_turns = 0;
  std::size_t memory = 0;
  for (int turn = 0; turn < 20000 && unchanged_turns < 20; ++turn) {
    for (auto& client : clients)
      client->push();
    server.turn();
    const std::size_t now = server.server().queued_reply_memory();
    unchanged_turns = now == memory && server.server().connection_count() == clients.size()
                          ? unchanged_turns + 1
                          : 0;
    memory = now;
  }
  REQUIRE(unchanged_turns == 20);
  return clients;
}

} // namespace

TEST_CASE("clients that never read replies to 16-byte calls hold no more heap than their "
          "bound, counted with each reply's bookkeeping",
          "[xdr_glue][rpc][backlog]") {
  constexpr std::size_t bound = 4 * mib;
  constexpr int client_count = 4;
  ServerOptions options;
  options.max_queued_reply_bytes = bound;
  options.max_call_size = 64 * kib;
  DrivenServer server(std::move(options));
  const std::size_t heap_before = qio_test::live_bytes();

  const auto clients = stall_clients(server, client_count);

  // Each client is past its bound by at most one reply (about 400 bytes
  // with its bookkeeping).
  const std::size_t counted = server.server().queued_reply_memory();
  CHECK(counted >= client_count * bound);
  CHECK(counted <= client_count * (bound + kib));
  // Beyond the replies, a client holds its reader (calls read, up to
  // max_call_size, and its buffers) and the connection itself: well under
  // 512 KiB here. Counting payload only, as a byte bound does, lets these
  // clients take about 5 times more.
  const std::size_t grown = qio_test::live_bytes() - heap_before;
  CAPTURE(grown, counted);
  CHECK(grown <= client_count * (bound + 512 * kib));
  // And the count is not so generous that the bound means little.
  CHECK(grown >= counted / 2);
  CHECK(server.close_reasons.empty());
}

TEST_CASE("under the pause policy a client whose replies stay past its bound and never move "
          "is closed with ETIMEDOUT after stall_timeout; one that reads is kept",
          "[xdr_glue][rpc][backlog][timeouts]") {
  ServerOptions options;
  options.max_queued_reply_bytes = 256 * kib;
  options.stall_timeout = 5s;
  options.idle_timeout = 0ms;
  options.call_timeout = 0ms;
  DrivenServer server(std::move(options));
  const auto clients = stall_clients(server, 2);
  StalledClient& stuck = *clients[0];
  StalledClient& reading = *clients[1];

  char buffer[4096];
  for (int second = 0; second < 4; ++second) {
    server.clock.advance(1s);
    // A little of the reading client's replies moves each second.
    REQUIRE(::recv(reading.fd(), buffer, sizeof buffer, 0) > 0);
    server.turn();
    reading.push();
    server.turn();
  }
  CHECK(server.close_reasons.empty());
  CHECK(server.server().select_timeout(10s) <= 1s);

  server.clock.advance(1s);
  REQUIRE(::recv(reading.fd(), buffer, sizeof buffer, 0) > 0);
  server.turn();
  REQUIRE(server.close_reasons.size() == 1);
  CHECK(server.close_reasons[0] == errc(ETIMEDOUT));
  CHECK(server.server().statistics().stall_timeouts == 1);
  CHECK(server.server().connection_count() == 1);
  CHECK(rpc_test::closed_by_server(stuck.fd()));
}

TEST_CASE("under the close policy a client past its bound is closed at once with ENOBUFS and "
          "the others are still served",
          "[xdr_glue][rpc][backlog]") {
  ServerOptions options;
  options.max_queued_reply_bytes = 256 * kib;
  options.backlog_policy = BacklogPolicy::close;
  DrivenServer server(std::move(options));
  const Fd bystander = connect_to(server.port());
  StalledClient greedy(server);
  REQUIRE(server.turn_until([&] {
    greedy.push();
    return !server.close_reasons.empty();
  }));
  CHECK(server.close_reasons == std::vector<std::error_code>{errc(ENOBUFS)});
  CHECK(server.server().statistics().backlog_closes == 1);

  REQUIRE(send_all(bystander.get(), framed(rpc_test::echo_call(7, "still served"))));
  REQUIRE(server.turn_until([&] { return readable_now(bystander.get()); }));
  rpc_test::expect_echo(bystander.get(), 7, "still served");
}

TEST_CASE("past max_total_reply_bytes the client holding the most is closed with ENOBUFS, and "
          "the one that pushed the total over is served",
          "[xdr_glue][rpc][backlog]") {
  ServerOptions options;
  options.max_queued_reply_bytes = 1 * mib;
  options.max_total_reply_bytes = 1 * mib + 512 * kib;
  DrivenServer server(std::move(options));
  const auto stalled = stall_clients(server, 1);
  CHECK(server.server().queued_reply_memory() >= 1 * mib);

  // 600 KiB of replies more: the total passes 1.5 MiB, and the stalled
  // client, at its bound, holds the most.
  const Fd late = connect_to(server.port(), 4096);
  const u_int size = 600 * kib;
  REQUIRE(send_all(late.get(), size_call(1, MAKE_BLOB, size)));
  REQUIRE(server.turn_until([&] { return !server.close_reasons.empty(); }));
  CHECK(server.close_reasons == std::vector<std::error_code>{errc(ENOBUFS)});
  CHECK(server.server().statistics().evictions == 1);
  CHECK(server.server().connection_count() == 1);
  CHECK(server.server().queued_reply_memory() <= 1 * mib);
  CHECK(rpc_test::closed_by_server(stalled[0]->fd()));

  // The late client's blob arrives whole.
  std::size_t received = 0;
  std::vector<char> buffer(64 * kib);
  REQUIRE(server.turn_until([&] {
    ssize_t count;
    while ((count = ::recv(late.get(), buffer.data(), buffer.size(), MSG_DONTWAIT)) > 0)
      received += static_cast<std::size_t>(count);
    return received >= size;
  }));
}

TEST_CASE("a client that writes 24 calls of 1 MiB with blocking writes before reading any "
          "reply is served whole under the default options",
          "[xdr_glue][rpc][backlog]") {
  // The test program's echo takes a string, which libtirpc caps at 9,000
  // bytes: this one echoes opaque bytes of any length.
  constexpr rpcproc_t echo_blob = 100;
  rpc_test::ServerThread server({}, [](xdr_glue::rpc::Server& registry) {
    REQUIRE_FALSE(registry.add_procedure<blob, blob>(
        QIO_TEST_PROGRAM, QIO_TEST_V1, echo_blob, xdr_test::xdrproc(xdr_blob),
        xdr_test::xdrproc(xdr_blob),
        [](const xdr_glue::rpc::CallInfo&, const blob& in, blob& out) {
          out.blob_val = static_cast<char*>(std::malloc(in.blob_len + 1));
          out.blob_len = in.blob_len;
          if (out.blob_val != nullptr && in.blob_len > 0)
            std::memcpy(out.blob_val, in.blob_val, in.blob_len);
          return out.blob_val != nullptr;
        }));
  });
  const Fd client = connect_to(server.port());
  // A server that stopped reading would leave the writes blocked: give up
  // after a while instead, so the test fails rather than hangs.
  const timeval give_up{30, 0};
  REQUIRE(::setsockopt(client.get(), SOL_SOCKET, SO_SNDTIMEO, &give_up, sizeof give_up) == 0);
  REQUIRE(::setsockopt(client.get(), SOL_SOCKET, SO_RCVTIMEO, &give_up, sizeof give_up) == 0);

  // Each call record is exactly the default max_call_size, 1 MiB: a
  // 40-byte header, the opaque's length word and its bytes.
  constexpr std::uint32_t call_count = 24;
  std::string bytes(xdr_glue::default_max_record - 44, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i)
    bytes[i] = rpc_test::blob_byte(i);
  blob argument{static_cast<u_int>(bytes.size()), bytes.data()};
  const std::string arguments = xdr_test::encode(xdr_test::xdrproc(xdr_blob), &argument);
  for (std::uint32_t xid = 1; xid <= call_count; ++xid) {
    const std::string call = rpc_test::call_header(xid, QIO_TEST_V1, echo_blob) + arguments;
    REQUIRE(call.size() == xdr_glue::default_max_record);
    REQUIRE(send_all(client.get(), framed(call)));
  }

  xdr_test::TirpcPeer peer(client.get());
  for (std::uint32_t xid = 1; xid <= call_count; ++xid) {
    rpc_msg reply;
    blob echoed{};
    REQUIRE(rpc_test::read_reply(peer, reply, xdr_test::xdrproc(xdr_blob), &echoed));
    CHECK(reply.rm_xid == xid);
    CHECK(reply.acpted_rply.ar_stat == SUCCESS);
    CHECK((echoed.blob_len == bytes.size() &&
           std::memcmp(echoed.blob_val, bytes.data(), bytes.size()) == 0));
    xdr_free(xdr_test::xdrproc(xdr_blob), &echoed);
  }
}

namespace {

// A procedure whose calls (a size, like MAKE_BLOB's) the handler defers;
// the test answers them later with blobs of that size.
constexpr rpcproc_t deferred_blob = 101;
// A procedure whose handler answers every deferred call, of any client:
// a publish/subscribe server's shape.
constexpr rpcproc_t answer_deferred = 102;

struct DeferredBlob {
  xdr_glue::rpc::DeferredReply token;
  u_int size = 0;
};

std::error_code answer_with_blob(DeferredBlob& call) {
  blob out{call.size, static_cast<char*>(std::malloc(call.size + 1))};
  if (out.blob_val != nullptr)
    std::memset(out.blob_val, 'd', call.size);
  return call.token.reply(&out);
}

rpc_test::Registration deferring(std::vector<DeferredBlob>& waiting) {
  return [&waiting](xdr_glue::rpc::Server& server) {
    REQUIRE_FALSE(server.add_procedure<u_int, blob>(
        QIO_TEST_PROGRAM, QIO_TEST_V1, deferred_blob, xdr_test::xdrproc(xdr_u_int),
        xdr_test::xdrproc(xdr_blob),
        [&waiting, &server](const xdr_glue::rpc::CallInfo& call, const u_int& size, blob&) {
          waiting.push_back({server.defer(call), size});
          return true;
        }));
    REQUIRE_FALSE(server.add_procedure<u_int, u_int>(
        QIO_TEST_PROGRAM, QIO_TEST_V1, answer_deferred, xdr_test::xdrproc(xdr_u_int),
        xdr_test::xdrproc(xdr_u_int),
        [&waiting](const xdr_glue::rpc::CallInfo&, const u_int&, u_int& answered) {
          answered = 0;
          for (DeferredBlob& call : waiting)
            answered += call.token.pending() && !answer_with_blob(call);
          return true;
        }));
  };
}

} // namespace

TEST_CASE("under the close policy, deferred answers that take a client past its bound close it "
          "with ENOBUFS",
          "[xdr_glue][rpc][backlog][deferred]") {
  std::vector<DeferredBlob> waiting;
  ServerOptions options;
  options.max_queued_reply_bytes = 256 * kib;
  options.backlog_policy = BacklogPolicy::close;
  DrivenServer server(std::move(options), deferring(waiting));
  const Fd client = connect_to(server.port(), 4096);
  std::string calls;
  for (std::uint32_t xid = 1; xid <= 8; ++xid)
    calls += size_call(xid, deferred_blob, 128 * kib);
  REQUIRE(send_all(client.get(), calls));
  REQUIRE(server.turn_until([&] { return waiting.size() == 8; }));
  std::error_code last;
  for (DeferredBlob& call : waiting)
    if (call.token.pending())
      last = answer_with_blob(call);
  CHECK(last == errc(ENOBUFS));
  server.turn();
  CHECK(server.close_reasons == std::vector<std::error_code>{errc(ENOBUFS)});
  CHECK(server.server().statistics().backlog_closes == 1);
}

TEST_CASE("deferred calls answered from another client's handler count against the total "
          "bound in that same turn",
          "[xdr_glue][rpc][backlog][deferred]") {
  std::vector<DeferredBlob> waiting;
  ServerOptions options;
  options.max_total_reply_bytes = 4 * mib;
  DrivenServer server(std::move(options), deferring(waiting));
  std::vector<Fd> subscribers;
  for (int i = 0; i < 4; ++i) {
    subscribers.push_back(connect_to(server.port(), 4096));
    std::string calls;
    for (std::uint32_t xid = 1; xid <= 8; ++xid)
      calls += size_call(xid, deferred_blob, 1 * mib);
    REQUIRE(send_all(subscribers.back().get(), calls));
  }
  REQUIRE(server.turn_until([&] { return waiting.size() == 32; }));
  // Connected last, so served last in a turn: every subscriber's answers
  // are queued after the server has looked at them.
  const Fd publisher = connect_to(server.port());
  REQUIRE(send_all(publisher.get(), size_call(1, answer_deferred, 0)));
  REQUIRE(server.turn_until([&] { return readable_now(publisher.get()); }));
  CHECK(server.server().queued_reply_memory() <= 4 * mib + 64 * kib);
  CHECK(server.server().statistics().evictions == 4); // each held 8 MiB
}

TEST_CASE("replies held behind the server's own deferred call do not start the stall clock",
          "[xdr_glue][rpc][backlog][deferred][timeouts]") {
  std::vector<DeferredBlob> waiting;
  ServerOptions options;
  options.max_queued_reply_bytes = 256 * kib;
  options.stall_timeout = 5s;
  DrivenServer server(std::move(options), deferring(waiting));
  const Fd client = connect_to(server.port());
  // The first call is deferred; the replies to the next 40 (8 KiB each)
  // wait for it, past the bound, with nothing for the client to read.
  std::string calls = size_call(1, deferred_blob, 16);
  for (std::uint32_t xid = 2; xid <= 41; ++xid)
    calls += size_call(xid, MAKE_BLOB, 8 * kib);
  REQUIRE(send_all(client.get(), calls));
  REQUIRE(server.turn_until([&] { return server.server().queued_reply_memory() >= 256 * kib; }));
  for (int second = 0; second < 10; ++second) {
    server.clock.advance(1s);
    server.turn();
  }
  CHECK(server.close_reasons.empty());
  CHECK(server.server().statistics().stall_timeouts == 0);
}

TEST_CASE("a stall_timeout of milliseconds::max() means never, with no overflow",
          "[xdr_glue][rpc][backlog][timeouts]") {
  ServerOptions options;
  options.max_queued_reply_bytes = 256 * kib;
  options.stall_timeout = std::chrono::milliseconds::max();
  options.idle_timeout = std::chrono::milliseconds::max();
  options.call_timeout = std::chrono::milliseconds::max();
  DrivenServer server(std::move(options));
  const auto clients = stall_clients(server, 1);
  CHECK(server.server().select_timeout(10s) == 10s);
  server.clock.advance(std::chrono::hours(24 * 365));
  server.turn();
  CHECK(server.close_reasons.empty());
}
