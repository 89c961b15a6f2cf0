// SPDX-License-Identifier: MIT
// timing.hpp - what the timed cases share: a thread's CPU time, medians and
// ratios paired by round.
#ifndef QIO_BENCH_TIMING_HPP
#define QIO_BENCH_TIMING_HPP

#include <sys/resource.h> // getrusage, RUSAGE_THREAD

#include <algorithm> // std::nth_element
#include <cstddef>   // std::ptrdiff_t
#include <span>      // per-round rates
#include <vector>    // values to take the median of

namespace bench {

struct CpuTime {
  double user_seconds = 0;
  double system_seconds = 0;

  CpuTime operator-(const CpuTime& earlier) const {
    return {user_seconds - earlier.user_seconds, system_seconds - earlier.system_seconds};
  }
};

// The calling thread's CPU time so far. The kernel knows the total
// precisely and splits it between user and system by sampling, so the
// split is good to a few percent over a run of a few hundred ticks.
inline CpuTime thread_cpu_time() {
  rusage usage{};
  ::getrusage(RUSAGE_THREAD, &usage);
  auto seconds = [](const timeval& time) {
    return static_cast<double>(time.tv_sec) + static_cast<double>(time.tv_usec) * 1e-6;
  };
  return {seconds(usage.ru_utime), seconds(usage.ru_stime)};
}

// The upper median (the middle value of an odd count); 0 if empty.
inline double median(std::vector<double> values) {
  if (values.empty())
    return 0;
  const auto middle = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), middle, values.end());
  return *middle;
}

// The median over rounds of a[round] / b[round], skipping rounds where
// either is 0 (a failed run); 0 if none is left.
inline double paired_ratio(std::span<const double> a, std::span<const double> b) {
  std::vector<double> ratios;
  for (std::size_t round = 0; round < a.size() && round < b.size(); ++round)
    if (a[round] > 0 && b[round] > 0)
      ratios.push_back(a[round] / b[round]);
  return median(ratios);
}

} // namespace bench

#endif // QIO_BENCH_TIMING_HPP
