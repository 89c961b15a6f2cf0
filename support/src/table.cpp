// SPDX-License-Identifier: MIT
// table.cpp - column widths and the lines of a table.
#include "support/table.hpp"

#include <algorithm> // std::max
#include <utility>   // std::move

#include <fmt/compile.h> // FMT_COMPILE
#include <fmt/format.h>

namespace support {

Table::Table(std::vector<Column> columns, TableStyle style)
    : columns_(std::move(columns)), style_(std::move(style)) {}

void Table::add_row(std::vector<std::string> cells) { rows_.push_back({std::move(cells)}); }

void Table::add_line(std::string text) { rows_.push_back({{std::move(text)}, true}); }

// A short row's last cell runs on: it takes no part in its column's width.
std::vector<std::size_t> Table::column_widths() const {
  std::vector<std::size_t> widths;
  for (const Column& column : columns_)
    widths.push_back(std::max(column.least_width, style_.headings ? column.heading.size() : 0));
  for (const Row& row : rows_) {
    if (row.is_line)
      continue;
    const std::size_t aligned = row.cells.size() < columns_.size()
                                    ? std::max<std::size_t>(row.cells.size(), 1) - 1
                                    : columns_.size();
    for (std::size_t column = 0; column < aligned; ++column)
      widths[column] = std::max(widths[column], row.cells[column].size());
  }
  return widths;
}

std::string Table::format_cells(const std::vector<std::string>& cells,
                                const std::vector<std::size_t>& widths) const {
  std::string line = style_.indent;
  const bool short_row = cells.size() < columns_.size();
  for (std::size_t column = 0; column < cells.size() && column < columns_.size(); ++column) {
    const Column& spec = columns_[column];
    line.append(column == 0 ? 0 : spec.gap, ' ');
    const bool runs_on = short_row && column + 1 == cells.size();
    const std::size_t width = runs_on ? 0 : widths[column];
    if (spec.align == Align::right)
      line += fmt::format("{:>{}}", cells[column], width);
    else
      line += fmt::format("{:<{}}", cells[column], width);
  }
  line.erase(line.find_last_not_of(' ') + 1);
  return line;
}

void Table::print(std::FILE* out) const {
  const std::vector<std::size_t> widths = column_widths();
  if (style_.headings) {
    std::vector<std::string> headings;
    for (const Column& column : columns_)
      headings.push_back(column.heading);
    fmt::print(out, "{}\n", format_cells(headings, widths));
  }
  if (style_.rule) {
    std::vector<std::string> rule;
    for (const std::size_t width : widths)
      rule.emplace_back(width, '-');
    fmt::print(out, "{}\n", format_cells(rule, widths));
  }
  for (const Row& row : rows_)
    fmt::print(out, "{}\n", row.is_line ? row.cells.front() : format_cells(row.cells, widths));
}

// FMT_COMPILE parses the format when this is compiled: parsed at run time,
// group_digits' format specification sets off a false -Wstringop-overflow
// in g++ 12 at -O3 (fmt 9's formatter inlined).
std::string grouped(std::uint64_t count) {
  return fmt::format(FMT_COMPILE("{}"), fmt::group_digits(count));
}

} // namespace support
