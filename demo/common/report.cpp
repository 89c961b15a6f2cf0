// SPDX-License-Identifier: MIT
// report.cpp - number formatting and summary tables for the demos.
#include "report.hpp"

#include <time.h> // clock_gettime, CLOCK_MONOTONIC

#include <algorithm> // std::max
#include <utility>   // std::move

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

std::string format_count(std::uint64_t count) {
  const std::string digits = fmt::format("{}", count);
  std::string grouped;
  for (std::size_t index = 0; index < digits.size(); ++index) {
    if (index > 0 && (digits.size() - index) % 3 == 0)
      grouped += ',';
    grouped += digits[index];
  }
  return grouped;
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

Table::Table(std::vector<std::string> header) { rows_.push_back(std::move(header)); }

void Table::add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }

std::vector<std::size_t> Table::column_widths() const {
  std::vector<std::size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size())
      widths.resize(row.size(), 0);
    for (std::size_t column = 0; column < row.size(); ++column)
      widths[column] = std::max(widths[column], row[column].size());
  }
  return widths;
}

void Table::print(std::FILE* out) const {
  const std::vector<std::size_t> widths = column_widths();
  auto print_line = [&](const std::vector<std::string>& cells) {
    std::string line = " ";
    for (std::size_t column = 0; column < cells.size(); ++column)
      line += fmt::format(" {:<{}}", cells[column], widths[column]);
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    fmt::print(out, "{}\n", line);
  };
  print_line(rows_.front());
  std::vector<std::string> rule;
  for (const std::size_t width : widths)
    rule.emplace_back(width, '-');
  print_line(rule);
  for (std::size_t row = 1; row < rows_.size(); ++row)
    print_line(rows_[row]);
}

} // namespace demo
