// SPDX-License-Identifier: MIT
// report.cpp - sizes, durations and the clock of the demos.
#include "report.hpp"

#include <time.h> // clock_gettime, CLOCK_MONOTONIC

#include <fmt/core.h>

namespace demo {

std::string format_bytes(std::uint64_t bytes) {
  constexpr double kib = 1024.0;
  if (bytes < 1024)
    return fmt::format("{} B", bytes);
  const bool in_mib = bytes >= 1024 * 1024;
  const double value = static_cast<double>(bytes) / (in_mib ? kib * kib : kib);
  // Three significant digits are plenty: 1.5 KiB, 90.9 KiB, 759 KiB.
  return fmt::format("{:.{}f} {}", value, value < 100 ? 1 : 0, in_mib ? "MiB" : "KiB");
}

std::string format_duration_ns(std::int64_t nanoseconds) {
  const double milliseconds = static_cast<double>(nanoseconds) / 1e6;
  if (milliseconds < 10)
    return fmt::format("{:.2f} ms", milliseconds);
  if (milliseconds < 1000)
    return fmt::format("{:.0f} ms", milliseconds);
  return fmt::format("{:.2f} s", milliseconds / 1000);
}

std::int64_t monotonic_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

double seconds_since(std::int64_t start_ns) {
  return static_cast<double>(monotonic_ns() - start_ns) / 1e9;
}

} // namespace demo
