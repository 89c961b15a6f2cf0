// SPDX-License-Identifier: MIT
// peer_output.hpp - how a deadlock-demo peer's records leave: the one part
// of a peer that differs between the two runs.
//
// BlockingOutput is the 1991 programs' path: libtirpc's xdrrec stream whose
// writer calls write(2) on a blocking socket, so a record that does not fit
// in the socket buffers waits there until the other side reads. QioOutput
// is the same xdrrec encoding with its bytes queued on a qio channel
// (xdr_glue::RecordWriter) and flushed from the select loop, so sending
// never waits. Everything else in the peer (the loop, the reading, the
// checks) is shared, so the runs differ only in the write path.
#ifndef QIO_DEMO_DEADLOCK_PEER_OUTPUT_HPP
#define QIO_DEMO_DEADLOCK_PEER_OUTPUT_HPP

#include <sys/select.h> // fd_set

#include <memory>      // std::unique_ptr
#include <string_view> // std::string_view

#include "packet.h" // rpcgen: demo_packet
#include "peer_status.hpp"

namespace deadlock {

enum class OutputMode { blocking, qio };

// "blocking" or "qio", as --mode spells them.
std::string_view mode_name(OutputMode mode);

class PeerOutput {
public:
  virtual ~PeerOutput() = default;
  // Writes (blocking) or queues (qio) one record; false if the connection
  // failed (errno says why).
  virtual bool send(demo_packet& packet) = 0;
  // Adds the socket to `writable` while output waits to go out; returns the
  // highest descriptor added + 1, or 0.
  virtual int add_pending(fd_set& writable) const = 0;
  // Moves what the socket takes now without waiting; false after a write
  // error.
  virtual bool flush() = 0;
  // True when nothing waits to go out.
  virtual bool drained() const = 0;
};

// The output for `mode` on connected socket `socket`, reporting bytes sent,
// queue depth and activity in `status`. Throws std::system_error if the
// socket cannot be set up.
std::unique_ptr<PeerOutput> make_output(OutputMode mode, int socket, PeerStatus& status);

} // namespace deadlock

#endif // QIO_DEMO_DEADLOCK_PEER_OUTPUT_HPP
