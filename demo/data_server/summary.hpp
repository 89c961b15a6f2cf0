// SPDX-License-Identifier: MIT
// summary.hpp - the data-server demo's closing tables and verdict: how
// every client fared, what each stalled client's policy cost and saved,
// and whether the run showed what it is there to show.
#ifndef QIO_DEMO_DATA_SERVER_SUMMARY_HPP
#define QIO_DEMO_DATA_SERVER_SUMMARY_HPP

#include <cstddef> // std::size_t
#include <cstdint> // std::int64_t
#include <vector>  // std::vector, one entry per client

#include "client_report.hpp"
#include "policy.hpp"
#include "server.hpp"

namespace data_server {

// What the run was and what the server saw; times on CLOCK_MONOTONIC.
struct RunFacts {
  unsigned ticks = 0;
  std::int64_t tick_ns = 0;
  std::size_t packet_bytes = 0;   // one DATA packet, encoded
  std::int64_t stall_start_ns = 0; // when the stalling clients stop reading
  std::int64_t stall_end_ns = 0;   // and when they resume
  std::vector<Policy> policies;   // per client
  std::vector<bool> stalls;       // per client
  std::vector<QueueHistory> queues; // per client
};

// Both tables: every client's reception, then the stalled clients'
// policies side by side.
void print_summary(const RunFacts& run, const SharedClients& shared);

// One line for the prompt clients, one per stalled client, and the result;
// returns the exit status (0: every client did as its policy says).
int print_verdict(const RunFacts& run, const SharedClients& shared);

} // namespace data_server

#endif // QIO_DEMO_DATA_SERVER_SUMMARY_HPP
