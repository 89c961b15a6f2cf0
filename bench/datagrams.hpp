// SPDX-License-Identifier: MIT
// datagrams.hpp - the cost per datagram of draining many datagrams queued
// on one connected datagram socket, as their count doubles.
#ifndef QIO_BENCH_DATAGRAMS_HPP
#define QIO_BENCH_DATAGRAMS_HPP

#include <string> // failures
#include <vector> // counts, failures

#include "results.hpp"

namespace bench {

struct DatagramPlan {
  std::vector<std::size_t> counts{10'000, 20'000, 40'000, 80'000}; // ascending
  std::size_t datagram_size = 64;
  int repetitions = 3;
  // Once a drain takes longer than this, larger counts are skipped (a
  // queue that costs O(N) per datagram takes minutes at 80,000); 0: none.
  double cap_seconds = 2.0;
};

// For each count, on a fresh connected UDP pair over loopback whose reader
// never reads (the kernel drops what its buffer cannot hold, so the sender
// never waits): queues the datagrams on a buffered qio channel, untimed,
// then times qio_flush until none is pending; and times a bare send() per
// datagram on another fresh pair for the kernel's own cost. Repeats a
// count, up to `repetitions` times, while its runs together took under a
// second (a slow run needs no repeat to be seen). Every datagram
// must leave in one system call of its own; what does not is listed in
// `failures`.
DatagramFigures run_datagrams(const DatagramPlan& plan, std::vector<std::string>& failures);

} // namespace bench

#endif // QIO_BENCH_DATAGRAMS_HPP
