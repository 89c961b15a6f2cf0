// SPDX-License-Identifier: MIT
// peer_status.hpp - what each peer of the deadlock demo tells the watchdog.
//
// Each peer process updates its PeerStatus, in memory shared with the
// parent, before and after every system call that could block: so when
// neither peer makes progress the watchdog knows exactly where each one is
// stuck, and how far each got.
#ifndef QIO_DEMO_DEADLOCK_PEER_STATUS_HPP
#define QIO_DEMO_DEADLOCK_PEER_STATUS_HPP

#include <atomic>      // std::atomic, shared between processes
#include <cstdint>     // std::uint64_t
#include <string_view> // std::string_view

namespace deadlock {

enum class Activity : int {
  starting,
  selecting, // waiting in select(2)
  reading,   // recv(2) without waiting, and checking records
  writing,   // in write(2) (blocking output)
  calling,   // in clnt_call (--rpc, blocking): sending a call, then awaiting its reply
  queueing,  // handing records to qio (never waits)
  finished,  // sent and received everything
  failed,    // gave up; the reason went to stderr
};

// "in select", "in write", ...
std::string_view describe(Activity activity);

// A plain copy of a PeerStatus, taken by the watchdog.
struct PeerCounters {
  Activity activity = Activity::starting;
  // Written whole (blocking) or queued (qio); with --rpc, in calls answered.
  std::uint64_t records_sent = 0;
  std::uint64_t records_received = 0;
  std::uint64_t bytes_sent = 0; // bytes the kernel accepted from write(2)
  std::uint64_t bytes_received = 0;
  std::uint64_t bad_records = 0;       // wrong kind, order or checksum
  std::uint64_t peak_queued_bytes = 0; // qio only: Engine::stats' peak
  std::int64_t elapsed_ns = 0;         // from start to finished
};

struct PeerStatus {
  std::atomic<int> activity{static_cast<int>(Activity::starting)};
  std::atomic<std::uint64_t> records_sent{0};
  std::atomic<std::uint64_t> records_received{0};
  std::atomic<std::uint64_t> bytes_sent{0};
  std::atomic<std::uint64_t> bytes_received{0};
  std::atomic<std::uint64_t> bad_records{0};
  std::atomic<std::uint64_t> peak_queued_bytes{0};
  std::atomic<std::int64_t> elapsed_ns{0};

  void set(Activity now) noexcept { activity.store(static_cast<int>(now)); }
  PeerCounters snapshot() const noexcept;
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free,
              "counters are shared between processes: they must not need a lock");

inline PeerCounters PeerStatus::snapshot() const noexcept {
  return {static_cast<Activity>(activity.load()), records_sent.load(), records_received.load(),
          bytes_sent.load(),                     bytes_received.load(), bad_records.load(),
          peak_queued_bytes.load(),              elapsed_ns.load()};
}

// Index of each peer in the shared block and in reports.
enum PeerIndex { display = 0, data_server = 1 };
inline constexpr std::string_view peer_names[] = {"display", "data server"};

struct SharedPeers {
  PeerStatus peers[2];
};

} // namespace deadlock

#endif // QIO_DEMO_DEADLOCK_PEER_STATUS_HPP
