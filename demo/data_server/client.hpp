// SPDX-License-Identifier: MIT
// client.hpp - a client of the data-server demo: a plain libtirpc program
// that reads DATA packets from the server with a blocking xdrrec stream,
// as the memo's display program did.
//
// Each packet says when it was sampled; the client measures how late it
// arrived and checks the sequence numbers. A stalling client is told to
// stop reading for a while and then to resume: meanwhile its packets pile
// up in the server's qio queue, or are pruned, or the server lets it go,
// as its policy says; letting go ends its stream, maybe inside a record.
#ifndef QIO_DEMO_DATA_SERVER_CLIENT_HPP
#define QIO_DEMO_DATA_SERVER_CLIENT_HPP

#include <cstdint> // std::uint16_t, std::int64_t

#include "client_report.hpp"

namespace data_server {

struct ClientPlan {
  std::uint16_t port = 0;
  int receive_buffer = 0;   // SO_RCVBUF, fixed so a stall fills it quickly
  std::int64_t tick_ns = 0; // a packet later than this is late
  bool stalls = false;
  // Relative to the server's first tick.
  std::int64_t stall_at_ns = 0;
  std::int64_t stall_for_ns = 0;
};

// Connects, reads until the server closes the connection, and reports in
// `report`. Returns the exit status: 0 if every record decoded, else 1.
int run_client(const ClientPlan& plan, ClientReport& report);

} // namespace data_server

#endif // QIO_DEMO_DATA_SERVER_CLIENT_HPP
