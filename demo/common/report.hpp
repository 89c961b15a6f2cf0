// SPDX-License-Identifier: MIT
// report.hpp - how the demos print numbers and their summary tables.
//
// Every demo ends with a short table; these helpers keep the tables of all
// of them alike: sizes in B/KiB/MiB, counts with thousands separators,
// durations in ms or s, and columns as wide as their widest cell.
#ifndef QIO_DEMO_REPORT_HPP
#define QIO_DEMO_REPORT_HPP

#include <cstddef> // std::size_t
#include <cstdint> // std::uint64_t, std::int64_t
#include <cstdio>  // std::FILE
#include <string>  // std::string
#include <vector>  // std::vector, rows

namespace demo {

// "0 B", "812 B", "1.5 KiB", "20.1 MiB".
std::string format_bytes(std::uint64_t bytes);
// "20,000".
std::string format_count(std::uint64_t count);
// "0.42 ms", "85 ms", "2.35 s".
std::string format_duration_ns(std::int64_t nanoseconds);

// Nanoseconds on CLOCK_MONOTONIC, which all processes of a machine share:
// a time taken in one process can be compared with one taken in another.
std::int64_t monotonic_ns();
// Seconds since a monotonic_ns() reading.
double seconds_since(std::int64_t start_ns);

class Table {
public:
  explicit Table(std::vector<std::string> header);
  void add_row(std::vector<std::string> cells);
  // Prints the header, a rule under it and the rows, each line indented
  // by two spaces; cells left-aligned in columns as wide as their widest.
  void print(std::FILE* out = stdout) const;

private:
  std::vector<std::size_t> column_widths() const;

  std::vector<std::vector<std::string>> rows_; // rows_[0] is the header
};

} // namespace demo

#endif // QIO_DEMO_REPORT_HPP
