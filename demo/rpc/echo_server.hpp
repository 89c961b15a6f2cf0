// SPDX-License-Identifier: MIT
// echo_server.hpp - the server side of qio-rpc-demo: the echo program of
// echo.x answered by xdr_glue's RPC responder, whose replies are queued
// through qio.
//
// A client that reads its replies slowly (or not at all) never holds up
// the server or its other clients: the replies wait in that client's qio
// queue. STATS reports how much is waiting and the most that ever was.
#ifndef QIO_DEMO_RPC_ECHO_SERVER_HPP
#define QIO_DEMO_RPC_ECHO_SERVER_HPP

#include <signal.h> // sigset_t

#include <cstdint> // std::uint64_t

#include "qio/engine.hpp"
#include "xdr_glue/rpc_server.hpp"

namespace rpc_demo {

// Send buffer of every server connection: small and fixed, so a large
// reply to a slow reader visibly waits in qio rather than in the kernel.
inline constexpr int server_send_buffer = 64 * 1024;

struct ServerCounters {
  std::uint64_t calls = 0;             // ECHO and STATS calls answered
  std::uint64_t echoed_bytes = 0;      // bytes sent back by ECHO
  std::uint64_t peak_bytes_queued = 0; // most reply bytes waiting in qio
  std::uint64_t connections_closed = 0;
};

class EchoServer {
public:
  // Serves the echo program to clients of `listener` (a listening TCP
  // socket, which stays the caller's), with `limits` (max_connections and
  // the timeouts; the server sets the call size and the callbacks). Throws
  // std::system_error if the program cannot be registered. From here on
  // SIGINT and SIGTERM are caught, so one that arrives before the loop
  // runs still lets the caller clean up (an rpcbind registration, say) and
  // ends the loop.
  explicit EchoServer(int listener, xdr_glue::rpc::ServerOptions limits = {});

  // Runs the select loop until SIGINT or SIGTERM arrives. The signals are
  // blocked except while the loop waits (pselect), so one arriving at any
  // moment ends the loop at its next turn and never interrupts a reply.
  void serve_until_signalled();

  const ServerCounters& counters() const noexcept { return counters_; }
  // What the RPC server did about its connections (timeouts, reaping).
  const xdr_glue::rpc::ServerStatistics& statistics() const noexcept {
    return server_.statistics();
  }
  // The signal that stopped serve_until_signalled, or 0.
  int stop_signal() const noexcept;

private:
  void register_procedures();
  void note_queue_depth();

  qio::Engine engine_;
  xdr_glue::rpc::Server server_;
  ServerCounters counters_;
  sigset_t waiting_mask_; // what pselect unblocks: the stop signals
};

} // namespace rpc_demo

#endif // QIO_DEMO_RPC_ECHO_SERVER_HPP
