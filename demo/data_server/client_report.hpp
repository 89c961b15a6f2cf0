// SPDX-License-Identifier: MIT
// client_report.hpp - what each client of the data-server demo reports to
// the parent, live and at the end, through memory shared across fork.
#ifndef QIO_DEMO_DATA_SERVER_CLIENT_REPORT_HPP
#define QIO_DEMO_DATA_SERVER_CLIENT_REPORT_HPP

#include <atomic>  // std::atomic, shared between processes
#include <cstdint> // std::uint64_t, std::int64_t

namespace data_server {

inline constexpr unsigned max_clients = 16;

enum class ClientState : int { connecting, reading, stalled, finished, failed };

struct ClientReport {
  std::atomic<int> state{static_cast<int>(ClientState::connecting)};
  std::atomic<std::uint64_t> received{0};     // packets decoded
  std::atomic<std::uint64_t> skipped{0};      // sequence numbers never seen (pruned)
  std::atomic<std::uint64_t> out_of_order{0}; // a sequence number at or below the last
  std::atomic<std::uint64_t> undecodable{0};  // records that did not decode
  std::atomic<std::uint64_t> late{0};         // arrived more than one tick after sampling
  std::atomic<std::int64_t> last_sequence{-1};
  std::atomic<std::int64_t> median_latency_ns{0}; // written when the stream ends
  std::atomic<std::int64_t> worst_latency_ns{0};
  // The stalled client: how long after it resumed reading the first packet
  // arrived on time again (-1: never).
  std::atomic<std::int64_t> caught_up_after_ns{-1};

  void set(ClientState now) noexcept { state.store(static_cast<int>(now)); }
  ClientState current() const noexcept { return static_cast<ClientState>(state.load()); }
};

struct SharedClients {
  ClientReport clients[max_clients];
};

} // namespace data_server

#endif // QIO_DEMO_DATA_SERVER_CLIENT_REPORT_HPP
