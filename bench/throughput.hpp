// SPDX-License-Identifier: MIT
// throughput.hpp - every writer, every transport, every message size.
#ifndef QIO_BENCH_THROUGHPUT_HPP
#define QIO_BENCH_THROUGHPUT_HPP

#include <functional> // the per-block report hook
#include <span>       // blocks of figures
#include <string>     // failures
#include <vector>     // sizes, figures

#include "results.hpp"

namespace bench {

struct ThroughputPlan {
  std::vector<std::size_t> message_sizes;
  Clock::duration run_length;
  int repetitions = 3;
  std::size_t backlog_bytes = 1024 * 1024;
  bool check_content = false;
};

// Runs, for each transport and size, `repetitions` rounds of every writer
// (interleaved, so a noisy moment hits all of them alike), and reports each
// finished block of medians through `on_block`. Runs whose byte counts do
// not verify are left out of the medians and listed in `failures`.
std::vector<ThroughputFigure>
run_throughput(const ThroughputPlan& plan, std::vector<std::string>& failures,
               const std::function<void(std::span<const ThroughputFigure>)>& on_block);

} // namespace bench

#endif // QIO_BENCH_THROUGHPUT_HPP
