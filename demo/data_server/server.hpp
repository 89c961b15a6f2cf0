// SPDX-License-Identifier: MIT
// server.hpp - the memo's data server: a select loop with a 100 ms tick
// that samples a few values and sends every client a DATA packet through
// qio's C API, exactly as the 1991 data server was ported onto it.
//
// Each client connection is configured with qio_configure after accept,
// gets an xdrrec stream whose writer queues on qio (xdr_qio_create), and
// the loop adds qio_fdset's channels to select's write mask so it also
// wakes when a blocked client can take more, then calls qio_flush. A
// client that stops reading costs the others nothing: its packets wait in
// its own queue, and its policy (policy.hpp) decides what becomes of them
// and of it. Each second a progress line shows every client, and the
// qio_stat figures of the ones that stall.
#ifndef QIO_DEMO_DATA_SERVER_SERVER_HPP
#define QIO_DEMO_DATA_SERVER_SERVER_HPP

#include <rpc/rpc.h> // XDR

#include <cstdint> // std::int64_t, std::uint64_t
#include <memory>  // std::unique_ptr
#include <vector>  // std::vector

#include "client_report.hpp"
#include "support/loopback.hpp"
#include "policy.hpp"
#include "telemetry.h" // rpcgen: data_packet

namespace data_server {

struct ServerPlan {
  std::int64_t tick_ns = 100'000'000;
  unsigned ticks = 0;            // DATA packets each client gets (unless pruned)
  std::size_t packet_bytes = 0;  // about this much encoded per packet
  std::vector<Policy> policies;  // one per client
  std::vector<bool> stalls;      // one per client: whether it will stall
  RetirementPlan retirement;
  double drain_limit_seconds = 0;
};

// What the server saw of one client's queue.
struct QueueHistory {
  std::uint64_t peak_packets = 0;   // most packets waiting in qio at once
  std::uint64_t pruned = 0;         // packets dropped whole by xdr_qio_prune
  std::uint64_t queued_packets = 0; // packets queued for it
  std::uint64_t left_at_end = 0;    // packets still queued when it gave up draining
  std::size_t peak_queued_bytes = 0; // qio_stat's peak, as last seen
  std::int64_t retired_at_ns = -1;  // when its policy let it go (-1: never)
  int retired_error = 0;            // what did: ENOBUFS, ETIMEDOUT, the close's result
  bool closing = false;             // qio_close called, its AST not run yet
  bool gone = false;                // no longer served: retired, hung up, or failed
};

class DataServer {
public:
  // Takes over the accepted client connections. `reports` is where the
  // clients report (read for the progress lines). Throws std::system_error
  // if a connection cannot be made a qio channel.
  DataServer(const ServerPlan& plan, std::vector<support::UniqueFd> connections,
             const SharedClients& reports);
  // Closes every connection (after qio_termc), which ends the clients.
  ~DataServer();
  DataServer(const DataServer&) = delete;
  DataServer& operator=(const DataServer&) = delete;

  // Runs every tick, printing a progress line each second, then flushes
  // until every queue is empty or the drain limit passes.
  void run();

  // Bytes one DATA packet takes encoded.
  std::size_t encoded_packet_bytes() const noexcept { return encoded_bytes_; }
  const QueueHistory& history(std::size_t client) const { return clients_[client]->history; }
  // When the first tick was sampled (CLOCK_MONOTONIC, as the clients see it).
  std::int64_t first_tick_ns() const noexcept { return first_tick_ns_; }

private:
  struct Client {
    support::UniqueFd socket;
    XDR stream{};
    Policy policy = Policy::keep;
    bool stalls = false;
    QueueHistory history;
  };

  void send_tick(unsigned sequence, std::int64_t now_ns);
  void send_packet(Client& client, data_packet& packet);
  void wait_for_io(std::int64_t until_ns);
  void drop_client(Client& client);
  void retire(Client& client, int error);
  void begin_close(Client& client);
  static void on_closed(int error_code, int channel, int operation, char* buffer, int length,
                        void* client);
  void note_queue_depths();
  void print_progress(double seconds, unsigned ticks) const;
  void print_stats_line(std::size_t index) const;
  bool drain();

  ServerPlan plan_;
  const SharedClients& reports_;
  std::vector<std::unique_ptr<Client>> clients_;
  std::vector<float> samples_;
  std::size_t encoded_bytes_ = 0;
  std::int64_t first_tick_ns_ = -1;
};

} // namespace data_server

#endif // QIO_DEMO_DATA_SERVER_SERVER_HPP
