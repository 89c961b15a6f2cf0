// SPDX-License-Identifier: MIT
// rpc_peer.hpp - one peer of the deadlock demo's --rpc runs: an RPC server
// of its own program and a client of the other peer's, in one
// single-threaded select loop.
//
// The display serves DEADLOCK_DISPLAY_CALLBACK (DATA) and calls
// DEADLOCK_DATA_SERVER (ADD); the data server the other way round; each
// direction of calls has a connection of its own. A call carries one burst
// of records. Each turn a peer makes its next call, then serves the calls
// that have arrived. With libtirpc (clnt_call, and svc_getreqset for
// serving) a call returns only once it is answered, and a burst is more
// than the socket buffers hold, so both peers end up in clnt_call writing
// a call the other is not reading. With xdr_glue (rpc::Client and
// rpc::Server on one qio::Engine) a call is queued and answered whenever
// its reply comes, and both finish.
#ifndef QIO_DEMO_DEADLOCK_RPC_PEER_HPP
#define QIO_DEMO_DEADLOCK_RPC_PEER_HPP

#include <cstdint> // std::uint32_t

#include "peer_output.hpp" // OutputMode
#include "peer_status.hpp"

namespace deadlock {

struct RpcPeerPlan {
  PeerIndex peer = display;
  std::uint32_t records = 0; // to send, and to receive
  std::uint32_t burst = 0;   // records per call
  OutputMode mode = OutputMode::blocking;
};

// The peer's two connected sockets: its calls go out on one, the other
// peer's calls come in on the other.
struct RpcConnections {
  int calls_out = -1;
  int calls_in = -1;
};

// Runs the peer until every record of its calls has been answered and it
// has received (and answered) every record of the other's, reporting in
// `status`: records_sent counts records whose call was answered. Returns
// the process exit status: 0 if every record arrived intact, 1 otherwise
// (the reason is printed to stderr).
int run_rpc_peer(const RpcPeerPlan& plan, RpcConnections connections, PeerStatus& status);

} // namespace deadlock

#endif // QIO_DEMO_DEADLOCK_RPC_PEER_HPP
