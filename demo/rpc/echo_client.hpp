// SPDX-License-Identifier: MIT
// echo_client.hpp - the client side of qio-rpc-demo: plain libtirpc
// (clnttcp_create, clnt_call) against the echo server, in three phases.
//
//  1. echo: ECHO calls from 0 bytes to the 1 MiB limit, each reply compared
//     with what was sent;
//  2. slow reading: ECHO calls of 1 MiB whose replies are read a chunk at a
//     time with pauses (slow_reader.hpp), while a second client on its own
//     connection and thread keeps calling ECHO and STATS: it must not be
//     held up, and STATS shows the slow reader's replies waiting in qio;
//  3. STATS: the server's counters at the end.
#ifndef QIO_DEMO_RPC_ECHO_CLIENT_HPP
#define QIO_DEMO_RPC_ECHO_CLIENT_HPP

#include <cstdint> // std::uint16_t

namespace rpc_demo {

// Runs the three phases against 127.0.0.1:`port`, printing what each
// found and a summary table. Returns the exit status: 0 when every echo
// came back intact, the second client was never held up by the slow one,
// and the server held the slow reader's backlog in qio; 1 otherwise.
int run_client_session(std::uint16_t port);

} // namespace rpc_demo

#endif // QIO_DEMO_RPC_ECHO_CLIENT_HPP
