// SPDX-License-Identifier: MIT
// client_support.hpp - fixtures for the asynchronous RPC client's tests:
// a fake clock, the client's loop bounded in time, a scripted server that
// answers calls with replies libtirpc encodes, and the stock libtirpc
// server (tirpc_peer_server) in a child process.
#ifndef XDR_GLUE_TESTS_CLIENT_SUPPORT_HPP
#define XDR_GLUE_TESTS_CLIENT_SUPPORT_HPP

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include <xdr_glue/rpc_client.hpp>
#include <xdr_glue/rpcbind_registration.hpp>

#include "client_peer.h"
#include "rpc_support.hpp"

namespace client_test {

using namespace std::chrono_literals;
using qio_test::Fd;
using xdr_test::xdrproc;

inline std::error_code errc(int value) { return {value, std::generic_category()}; }

// XDR for a string<8>: longer strings fail to encode and to decode.
inline bool_t xdr_short_string(XDR* stream, char** text) { return xdr_string(stream, text, 8); }

// Time for the client's timeouts, moved only by the test.
struct FakeClock {
  std::chrono::steady_clock::time_point now{std::chrono::hours(1)};
  std::function<std::chrono::steady_clock::time_point()> function() {
    return [this] { return now; };
  }
};

// What one call's completion saw; `runs` shows it ran exactly once.
struct Outcome {
  int runs = 0;
  std::error_code error;
  rpc_err status{};
  xdr_glue::rpc::ReplyHandler handler() {
    return [this](std::error_code got, const rpc_err& detail) {
      ++runs;
      error = got;
      status = detail;
    };
  }
  bool completed() const { return runs > 0; }
};

// Waits (at most `wait`) until the client's socket is readable or, with
// calls queued, writable: the loop of a program, not a sleep.
inline void wait_for_socket(const qio::Engine& engine, int fd, std::chrono::milliseconds wait) {
  pollfd readiness{fd, static_cast<short>(POLLIN | (engine.pending(fd) > 0 ? POLLOUT : 0)), 0};
  ::poll(&readiness, 1, static_cast<int>(wait.count()));
}

// Runs the client's loop (flush, poll, wait for the socket) until `done`
// holds; false if it still does not after `limit`.
inline bool run_until(qio::Engine& engine, xdr_glue::rpc::Client& client,
                      const std::function<bool()>& done, std::chrono::seconds limit = 20s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline)
      return false;
    engine.flush();
    client.poll();
    if (!done())
      wait_for_socket(engine, client.fd(), 10ms);
  }
  return true;
}

// A connected pair: `client` configured on `engine` for the client, `server`
// blocking, for the test to play the server with.
struct Connection {
  Fd client;
  Fd server;
};

inline Connection socket_connection(qio::Engine& engine) {
  qio_test::FdPair pair = qio_test::socket_pair();
  Connection connection{std::move(pair.local), std::move(pair.remote)};
  qio::ChannelOptions options;
  options.buffered = false;
  REQUIRE_FALSE(engine.configure(connection.client.get(), options));
  return connection;
}

// ---- a scripted server ---------------------------------------------------------------

struct ReceivedCall {
  std::uint32_t xid = 0;
  rpcprog_t program = 0;
  rpcvers_t version = 0;
  rpcproc_t procedure = 0;
  enum_t credential_flavor = AUTH_NONE;
  std::string arguments; // the record after the call header
};

// Plays the server on a blocking descriptor: reads calls, and sends
// replies that libtirpc's xdr_replymsg encodes.
class ScriptedServer {
public:
  explicit ScriptedServer(int fd) : fd_(fd) {}

  // The next `count` calls, or fewer if none come for 10 s.
  std::vector<ReceivedCall> receive(std::size_t count) {
    std::vector<ReceivedCall> calls;
    while (calls.size() < count) {
      const xdr_test::ParsedStream parsed = xdr_test::parse_stream(unparsed_);
      for (const std::string& record : parsed.records)
        if (calls.size() < count)
          calls.push_back(decode(record));
      if (calls.size() >= count)
        break;
      if (!read_more())
        break;
    }
    consume(calls.size());
    return calls;
  }

  // A reply accepted with `status`; with SUCCESS, the results `encode`
  // makes of `results`.
  void accept(std::uint32_t xid, accept_stat status, xdrproc_t encode = nullptr,
              void* results = nullptr) {
    rpc_msg reply = reply_to(xid, MSG_ACCEPTED);
    reply.acpted_rply.ar_verf = _null_auth;
    reply.acpted_rply.ar_stat = status;
    reply.acpted_rply.ar_results.where = static_cast<caddr_t>(results);
    reply.acpted_rply.ar_results.proc = encode ? encode : xdr_glue::rpc::void_xdrproc();
    send_reply(reply);
  }
  void program_mismatch(std::uint32_t xid, rpcvers_t low, rpcvers_t high) {
    rpc_msg reply = reply_to(xid, MSG_ACCEPTED);
    reply.acpted_rply.ar_verf = _null_auth;
    reply.acpted_rply.ar_stat = PROG_MISMATCH;
    reply.acpted_rply.ar_vers.low = low;
    reply.acpted_rply.ar_vers.high = high;
    send_reply(reply);
  }
  void rpc_mismatch(std::uint32_t xid, rpcvers_t low, rpcvers_t high) {
    rpc_msg reply = reply_to(xid, MSG_DENIED);
    reply.rjcted_rply.rj_stat = RPC_MISMATCH;
    reply.rjcted_rply.rj_vers.low = low;
    reply.rjcted_rply.rj_vers.high = high;
    send_reply(reply);
  }
  void auth_error(std::uint32_t xid, auth_stat why) {
    rpc_msg reply = reply_to(xid, MSG_DENIED);
    reply.rjcted_rply.rj_stat = AUTH_ERROR;
    reply.rjcted_rply.rj_why = why;
    send_reply(reply);
  }
  // A whole reply message (no record mark), to frame as the test likes.
  static std::string success_message(std::uint32_t xid, xdrproc_t encode, void* results) {
    rpc_msg reply = reply_to(xid, MSG_ACCEPTED);
    reply.acpted_rply.ar_verf = _null_auth;
    reply.acpted_rply.ar_stat = SUCCESS;
    reply.acpted_rply.ar_results.where = static_cast<caddr_t>(results);
    reply.acpted_rply.ar_results.proc = encode;
    return xdr_test::encode(xdrproc(xdr_replymsg), &reply);
  }
  bool send(const std::string& bytes) { return rpc_test::send_all(fd_, bytes); }

private:
  static rpc_msg reply_to(std::uint32_t xid, reply_stat status) {
    rpc_msg reply{};
    reply.rm_xid = xid;
    reply.rm_direction = REPLY;
    reply.rm_reply.rp_stat = status;
    return reply;
  }
  void send_reply(rpc_msg& reply) {
    REQUIRE(send(xdr_test::framed(xdr_test::encode(xdrproc(xdr_replymsg), &reply))));
  }
  static ReceivedCall decode(const std::string& record) {
    std::string bytes = record;
    XDR stream;
    xdrmem_create(&stream, bytes.data(), static_cast<u_int>(bytes.size()), XDR_DECODE);
    rpc_msg call{};
    char credential[MAX_AUTH_BYTES];
    char verifier[MAX_AUTH_BYTES];
    call.rm_call.cb_cred.oa_base = credential;
    call.rm_call.cb_verf.oa_base = verifier;
    const bool decoded = xdr_callmsg(&stream, &call) != 0;
    const u_int position = xdr_getpos(&stream);
    XDR_DESTROY(&stream);
    REQUIRE(decoded);
    return {call.rm_xid,         call.rm_call.cb_prog,
            call.rm_call.cb_vers, call.rm_call.cb_proc,
            call.rm_call.cb_cred.oa_flavor, record.substr(position)};
  }
  bool read_more() {
    pollfd readiness{fd_, POLLIN, 0};
    if (::poll(&readiness, 1, 10000) != 1)
      return false;
    char buffer[65536];
    const ssize_t count = ::read(fd_, buffer, sizeof buffer);
    if (count <= 0)
      return false;
    unparsed_.append(buffer, static_cast<std::size_t>(count));
    return true;
  }
  // Drops the bytes of the first `records` records (single-fragment or not).
  void consume(std::size_t records) {
    std::size_t at = 0;
    for (std::size_t ended = 0; ended < records;) {
      const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(unparsed_[at + i]); };
      const std::uint32_t word = (std::uint32_t{byte(0)} << 24) | (std::uint32_t{byte(1)} << 16) |
                                 (std::uint32_t{byte(2)} << 8) | byte(3);
      at += 4 + (word & 0x7fffffffu);
      ended += (word & 0x80000000u) ? 1 : 0;
    }
    unparsed_.erase(0, at);
  }

  int fd_;
  std::string unparsed_;
};

// ---- the stock libtirpc server ---------------------------------------------------------

// A program number of this test process's own (see client_peer.x).
inline rpcprog_t peer_program_number() {
  return PEER_PROGRAM + static_cast<rpcprog_t>(::getpid());
}

// tirpc_peer_server in a child process, registered with rpcbind under
// peer_program_number(). Closing its stdin stops it; the destructor does
// that and reaps it (killing it if it has not gone within 10 s).
class TirpcPeer {
public:
  explicit TirpcPeer(bool hold = false) {
    INFO("rpcbind must be running on 127.0.0.1:111 (scripts/run test starts it)");
    REQUIRE(xdr_glue::rpc::rpcbind_is_running());
    int input[2];
    int output[2];
    if (::pipe2(input, O_CLOEXEC) != 0 || ::pipe2(output, O_CLOEXEC) != 0)
      throw std::system_error(errno, std::generic_category(), "pipe2");
    stdin_ = Fd(input[1]);
    Fd child_input(input[0]);
    Fd output_read(output[0]);
    Fd output_write(output[1]);
    std::vector<std::string> argv{XDR_GLUE_TIRPC_PEER_SERVER,
                                  std::to_string(peer_program_number())};
    if (hold)
      argv.emplace_back("hold");
    child_ = rpc_test::spawn(argv, child_input.get(), output_write.get(), -1);
    output_write.reset();
    port_ = read_port(output_read.get());
    REQUIRE(port_ > 0);
  }
  ~TirpcPeer() {
    stdin_.reset();
    rpc_test::reap_within(child_, 10s);
  }
  TirpcPeer(const TirpcPeer&) = delete;
  TirpcPeer& operator=(const TirpcPeer&) = delete;

  std::uint16_t port() const { return static_cast<std::uint16_t>(port_); }
  // A held server starts reading its clients.
  void release() {
    const char go = 'g';
    REQUIRE(::write(stdin_.get(), &go, 1) == 1);
  }

private:
  // "port N" from the child's stdout, waiting at most 10 s.
  static int read_port(int fd) {
    std::string text;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (text.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd readiness{fd, POLLIN, 0};
      if (::poll(&readiness, 1, 1000) != 1)
        continue;
      char buffer[64];
      const ssize_t count = ::read(fd, buffer, sizeof buffer);
      if (count <= 0)
        break;
      text.append(buffer, static_cast<std::size_t>(count));
    }
    INFO("tirpc_peer_server said: " << text);
    REQUIRE(text.rfind("port ", 0) == 0);
    return std::stoi(text.substr(5));
  }

  pid_t child_ = -1;
  int port_ = -1;
  Fd stdin_;
};

// A loopback TCP connection to `port`, configured on `engine` for a client.
inline Fd connect_client(qio::Engine& engine, std::uint16_t port) {
  Fd socket = rpc_test::connect_to(port);
  qio::ChannelOptions options;
  options.buffered = false;
  REQUIRE_FALSE(engine.configure(socket.get(), options));
  return socket;
}

} // namespace client_test

#endif // XDR_GLUE_TESTS_CLIENT_SUPPORT_HPP
