// SPDX-License-Identifier: MIT
// report.hpp - how the demos print sizes and durations, and their clock.
//
// Every demo ends with a short table (support::Table, counts grouped by
// support::grouped); these keep the cells of all of them alike: sizes in
// B/KiB/MiB, durations in ms or s.
#ifndef QIO_DEMO_REPORT_HPP
#define QIO_DEMO_REPORT_HPP

#include <cstdint> // std::uint64_t, std::int64_t
#include <string>  // std::string

#include "support/table.hpp" // every demo that prints a size prints a table

namespace demo {

// "0 B", "812 B", "1.5 KiB", "20.1 MiB".
std::string format_bytes(std::uint64_t bytes);
// "0.42 ms", "85 ms", "2.35 s".
std::string format_duration_ns(std::int64_t nanoseconds);

// Nanoseconds on CLOCK_MONOTONIC, which all processes of a machine share:
// a time taken in one process can be compared with one taken in another.
std::int64_t monotonic_ns();
// Seconds since a monotonic_ns() reading.
double seconds_since(std::int64_t start_ns);

} // namespace demo

#endif // QIO_DEMO_REPORT_HPP
