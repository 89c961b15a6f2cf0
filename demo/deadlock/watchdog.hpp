// SPDX-License-Identifier: MIT
// watchdog.hpp - the deadlock demo's referee: watches both peer processes,
// prints their progress once a second, and stops them when they stall.
//
// Progress is any byte or record sent or received by either peer. When
// there has been none for the stall limit, the watchdog looks at what each
// peer last said it was doing: both in write(2), or both in clnt_call, is
// the deadlock the demo is about; anything else is a stall it reports as
// such. Either way it stops both
// processes (SIGKILL) and reaps them before returning.
#ifndef QIO_DEMO_DEADLOCK_WATCHDOG_HPP
#define QIO_DEMO_DEADLOCK_WATCHDOG_HPP

#include <array>       // std::array, the two peers
#include <string>      // std::string
#include <string_view> // std::string_view

#include "common/processes.hpp"
#include "peer_status.hpp"

namespace deadlock {

enum class Outcome {
  completed,  // both peers exited 0: everything sent, received and checked
  deadlocked, // no progress, both peers blocked in write(2) or in clnt_call
  stalled,    // no progress, but not both in write (should not happen)
  failed,     // a peer exited with an error
};

struct RunReport {
  Outcome outcome = Outcome::failed;
  double seconds = 0;       // until the peers ended or were stopped
  double stuck_since = 0;   // for a stall: when the last progress was seen
  std::array<PeerCounters, 2> peers{};
  std::string detail; // for a failure: which peer, and how it ended
  // For a stall: the system call each peer's process sat in, as
  // /proc/PID/syscall told ("write(2)"...), or empty where it could not.
  std::array<std::string, 2> system_calls;
};

struct WatchSettings {
  std::string_view run_name; // "blocking" or "qio", to label progress lines
  double stall_seconds = 3;  // no progress for this long: stop both
  bool count_records = false; // progress lines in records (--rpc), not bytes
};

// Watches until both children end or the stall limit passes, and returns
// what happened. Every child has been reaped when it returns.
RunReport watch_peers(std::array<demo::ChildProcess, 2>& children, const SharedPeers& shared,
                      const WatchSettings& settings);

} // namespace deadlock

#endif // QIO_DEMO_DEADLOCK_WATCHDOG_HPP
