// SPDX-License-Identifier: MIT
// peer.hpp - one peer of the deadlock demo: a single-threaded select loop
// that sends the other peer a stream of records while reading its stream.
//
// Both peers run the same loop, shaped like the memo's programs: select
// tells them when there is something to read, and they write whenever they
// have something to say. Each turn a peer reads whatever has arrived
// (never waiting for more), then sends its next burst of records through
// its PeerOutput. With blocking output a burst that does not fit in the
// socket buffers waits in write(2) until the other peer reads; once both
// peers are in that wait at the same time, neither ever reads again.
#ifndef QIO_DEMO_DEADLOCK_PEER_HPP
#define QIO_DEMO_DEADLOCK_PEER_HPP

#include <cstdint> // std::uint32_t

#include "packet.h" // rpcgen: packet_kind
#include "peer_output.hpp"
#include "peer_status.hpp"

namespace deadlock {

struct PeerPlan {
  PeerIndex peer = display;
  packet_kind sends = ADD_REQUEST;
  packet_kind expects = DATA_PACKET;
  std::uint32_t records = 0; // to send, and to receive
  std::uint32_t burst = 0;   // records sent per turn of the loop
  OutputMode mode = OutputMode::blocking;
};

// Runs the peer on connected socket `socket` until it has sent and
// received `plan.records` records, reporting in `status` as it goes.
// Returns the process exit status: 0 if every record arrived intact, 1
// otherwise (the reason is printed to stderr).
int run_peer(const PeerPlan& plan, int socket, PeerStatus& status);

} // namespace deadlock

#endif // QIO_DEMO_DEADLOCK_PEER_HPP
