// SPDX-License-Identifier: MIT
// table.hpp - the one table printer of the programs: the demos' summaries,
// qio-bench's figures and qio-soak's final counts.
//
// A table is columns, each with a heading, an alignment and a least width,
// and rows of cells, printed with every column as wide as its widest cell
// (or its least width, whichever is more). Lines between rows (a section's
// name, a note) print as they are. A row with fewer cells than columns
// ends in a cell that runs on across the rest, unaligned: "failed: ...".
//
//   support::Table table({{"size", support::Align::right, 6}, "writer"});
//   table.add_row({"64", "qio"});
//   table.print(stdout);
#ifndef QIO_SUPPORT_TABLE_HPP
#define QIO_SUPPORT_TABLE_HPP

#include <cstddef> // std::size_t
#include <cstdint> // std::uint64_t
#include <cstdio>  // std::FILE
#include <string>  // std::string, cells
#include <utility> // std::move
#include <vector>  // columns, rows

namespace support {

enum class Align { left, right };

struct Column {
  // Not explicit: a bare heading is a left-aligned column, as wide as needed.
  Column(std::string heading, Align align = Align::left, std::size_t least_width = 0,
         std::size_t gap = 1)
      : heading(std::move(heading)), align(align), least_width(least_width), gap(gap) {}
  Column(const char* heading, Align align = Align::left, std::size_t least_width = 0,
         std::size_t gap = 1)
      : Column(std::string(heading), align, least_width, gap) {}

  std::string heading;
  Align align;
  std::size_t least_width;
  std::size_t gap; // spaces before the column (none before the first)
};

struct TableStyle {
  std::string indent = "  "; // before every row, heading and rule
  bool headings = true;      // a line of column headings first
  bool rule = true;          // dashes under the headings
};

class Table {
public:
  explicit Table(std::vector<Column> columns, TableStyle style = {});

  void add_row(std::vector<std::string> cells);
  // A line of its own between the rows, printed as it is (no indent).
  void add_line(std::string text);
  // The headings (and rule), then the rows and lines in order; trailing
  // spaces are trimmed from every line.
  void print(std::FILE* out) const;

private:
  struct Row {
    std::vector<std::string> cells;
    bool is_line = false; // cells[0] is a line of its own
  };
  std::vector<std::size_t> column_widths() const;
  std::string format_cells(const std::vector<std::string>& cells,
                           const std::vector<std::size_t>& widths) const;

  std::vector<Column> columns_;
  TableStyle style_;
  std::vector<Row> rows_;
};

// 12345678 -> "12,345,678": counts are easier read grouped.
std::string grouped(std::uint64_t count);

} // namespace support

#endif // QIO_SUPPORT_TABLE_HPP
