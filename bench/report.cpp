// SPDX-License-Identifier: MIT
// report.cpp - the human-readable tables.
#include "report.hpp"

#include <algorithm> // std::find_if
#include <array>     // the headline's columns
#include <cmath>     // std::llround, rates grouped
#include <optional>  // the transport last printed

#include <fmt/format.h>

#include "support/table.hpp"

namespace bench {
namespace {

using support::Align;
using support::Column;

// The bench's tables start at the left margin, without a rule.
const support::TableStyle flush_left{.indent = "", .rule = false};
const support::TableStyle rows_only{.indent = "", .headings = false, .rule = false};

std::string fixed(double value, int decimals) { return fmt::format("{:.{}f}", value, decimals); }

// 12345678.9 -> "12,345,679": rates are easier read grouped.
std::string grouped_rate(double per_second) {
  return support::grouped(static_cast<std::uint64_t>(std::llround(per_second)));
}

std::string ratio(const ThroughputFigure* numerator, const ThroughputFigure* denominator) {
  if (!numerator || !denominator)
    return "-";
  return fmt::format("{:.2f}x", paired_ratio(*numerator, *denominator));
}

// The ratio table's columns: every writer but the two qio rows it is for.
bool is_qio(Implementation implementation) {
  return implementation == Implementation::qio || implementation == Implementation::qio_ast;
}

// The ratio table's columns are 11 wide: "/contiguous" fits.
constexpr std::size_t ratio_width = 11;

// A row's note after its last column, such as "(some runs failed)".
const Column note{"", Align::left, 0, 2};

support::Table ratio_table() {
  std::vector<Column> columns{{"size", Align::right, 6}, {"writer", Align::left, 8, 2}};
  for (const Implementation implementation : all_implementations)
    if (!is_qio(implementation))
      columns.emplace_back(fmt::format("/{}", implementation_name(implementation)), Align::right,
                           ratio_width);
  columns.emplace_back("AST cost", Align::right, ratio_width);
  return support::Table(std::move(columns), flush_left);
}

// One row of the ratio table: `figure` (qio or qio+AST) against every other
// writer of its block, and for qio its rate over qio+AST's.
std::vector<std::string> ratio_row(const std::vector<ThroughputFigure>& figures,
                                   const ThroughputFigure& figure) {
  auto other = [&](Implementation implementation) {
    return find_figure(figures, figure.transport, figure.message_size, implementation);
  };
  std::vector<std::string> cells{fmt::format("{}", figure.message_size),
                                 std::string(implementation_name(figure.implementation))};
  for (const Implementation implementation : all_implementations)
    if (!is_qio(implementation))
      cells.push_back(ratio(&figure, other(implementation)));
  cells.push_back(figure.implementation == Implementation::qio
                      ? ratio(&figure, other(Implementation::qio_ast))
                      : "");
  return cells;
}

// The headline at 64 bytes: qio against the yardsticks its targets name,
// and against libuv as its users send small messages (libuv-tick).
void print_headlines(std::FILE* out, const std::vector<ThroughputFigure>& figures) {
  struct Yardstick {
    const char* label;
    Implementation implementation;
  };
  constexpr std::array yardsticks{Yardstick{"contiguous", Implementation::contiguous},
                                  Yardstick{"bufferevent", Implementation::libevent},
                                  Yardstick{"evbuffer", Implementation::evbuffer},
                                  Yardstick{"libuv", Implementation::libuv_tick}};
  std::vector<Column> columns{{"at 64 B, qio over:", Align::left, 26}};
  for (const Yardstick& yardstick : yardsticks)
    columns.emplace_back(yardstick.label, Align::right, ratio_width);
  support::Table table(std::move(columns), {.rule = false});
  for (const Transport transport : all_transports) {
    std::vector<std::string> cells{std::string(transport_name(transport))};
    const ThroughputFigure* qio = find_figure(figures, transport, 64, Implementation::qio);
    for (const Yardstick& yardstick : yardsticks)
      cells.push_back(ratio(qio, find_figure(figures, transport, 64, yardstick.implementation)));
    table.add_row(std::move(cells));
  }
  table.print(out);
  fmt::print(out, "  (bufferevent: the libevent row; libuv: the libuv-tick row, a tick's messages in\n"
                  "  one write, as libuv's users send small messages)\n");
}

} // namespace

const ThroughputFigure* find_figure(const std::vector<ThroughputFigure>& figures,
                                    Transport transport, std::size_t size,
                                    Implementation implementation) {
  const auto found = std::find_if(figures.begin(), figures.end(), [&](const ThroughputFigure& f) {
    return f.transport == transport && f.message_size == size &&
           f.implementation == implementation && f.runs > 0;
  });
  return found == figures.end() ? nullptr : &*found;
}

void print_throughput_block(std::FILE* out, std::span<const ThroughputFigure> block,
                            const Settings& settings, bool with_heading) {
  if (block.empty())
    return;
  const ThroughputFigure& first = block.front();
  if (with_heading)
    fmt::print(out, "== throughput over {} (median of {} runs of {:.2f} s each)\n",
               transport_name(first.transport), settings.repetitions, settings.run_seconds);
  // Each block is printed as its runs end, under the one heading line of
  // its transport: the least widths keep the columns under it.
  support::Table table({{"size", Align::right, 6},
                        {"writer", Align::left, 10, 2},
                        {"messages/s", Align::right, 14},
                        {"MiB/s", Align::right, 9},
                        {"% limit", Align::right, 8},
                        {"writes/MiB", Align::right, 11},
                        {"EAGAIN/MiB", Align::right, 11},
                        {"user ns", Align::right, 9},
                        {"sys ns", Align::right, 9},
                        note},
                       with_heading ? flush_left : rows_only);
  for (const ThroughputFigure& figure : block)
    table.add_row({fmt::format("{}", figure.message_size),
                   std::string(implementation_name(figure.implementation)),
                   grouped_rate(figure.messages_per_second), fixed(figure.mib_per_second, 1),
                   fixed(figure.percent_of_limit, 1), fixed(figure.writes_per_mib, 1),
                   fixed(figure.would_block_per_mib, 1),
                   fixed(figure.writer_user_ns_per_message, 1),
                   fixed(figure.writer_system_ns_per_message, 1),
                   figure.runs == settings.repetitions ? "" : "(some runs failed)"});
  table.print(out);
  fmt::print(out, "\n");
  std::fflush(out);
}

void print_ratios(std::FILE* out, const std::vector<ThroughputFigure>& figures) {
  fmt::print(out, "== qio and qio+AST against every other writer "
                  "(medians of per-round ratios of messages/s)\n");
  for (const Transport transport : all_transports) {
    fmt::print(out, "{}\n", transport_name(transport));
    support::Table table = ratio_table();
    for (const ThroughputFigure& figure : figures)
      if (figure.transport == transport && is_qio(figure.implementation))
        table.add_row(ratio_row(figures, figure));
    table.print(out);
  }
  fmt::print(out, "  AST cost: qio's rate without an AST per message over its rate with one\n");
  print_headlines(out, figures);
  fmt::print(out, "\n");
}

void print_enqueue(std::FILE* out, const std::vector<EnqueueFigure>& figures) {
  if (figures.empty())
    return;
  fmt::print(out, "== enqueue: {} 64-byte messages queued, peer not reading\n",
             support::grouped(figures.front().messages));
  support::Table table({{"subject", Align::left, 10},
                        {"ns/message", Align::right, 10},
                        {"bytes/request", Align::right, 16},
                        {"instructions/message", Align::right, 22}},
                       flush_left);
  for (const EnqueueFigure& figure : figures) {
    const std::string instructions = figure.instructions
                                         ? fmt::format("{:.1f}", *figure.instructions)
                                         : figure.instructions_note;
    if (!figure.error.empty())
      table.add_row({figure.subject, "failed: " + figure.error});
    else
      table.add_row({figure.subject, fixed(figure.ns_per_message, 1),
                     fixed(figure.bytes_per_request, 1), instructions});
  }
  table.print(out);
  fmt::print(out, "  bytes/request: resident growth beyond the 64-byte payload; "
                  "instructions: callgrind, user space, callees included\n\n");
}

void print_channels(std::FILE* out, const ChannelsFigures& figures) {
  fmt::print(out, "== channels: qio_flush with {} configured channels (peer ends held {})\n",
             support::grouped(static_cast<std::uint64_t>(figures.channels)),
             figures.peers_in_child ? "by a child process, passed with SCM_RIGHTS"
                                    : "in this process");
  if (!figures.error.empty()) {
    fmt::print(out, "  failed: {}\n\n", figures.error);
    return;
  }
  support::Table table({{"", Align::left, 44},
                        {fmt::format("{} channels", figures.channels), Align::right, 12},
                        {"1 channel", Align::right, 12}},
                       flush_left);
  table.add_row({"qio_flush, all idle (ns)", fixed(figures.idle_flush_ns, 1),
                 fixed(figures.idle_flush_alone_ns, 1)});
  table.add_row({"qio_flush, one with 64 bytes queued (ns)", fixed(figures.busy_flush_ns, 1),
                 fixed(figures.busy_flush_alone_ns, 1)});
  table.add_row({"that channel's own sendmsg of 64 bytes (ns)", fixed(figures.own_write_ns, 1),
                 ""});
  table.add_row({"busy qio_flush / own sendmsg (paired batches)",
                 fixed(figures.busy_over_own_write, 2), ""});
  table.print(out);
  fmt::print(out, "\n");
}

void print_fanout(std::FILE* out, const std::vector<FanoutFigures>& setups) {
  if (setups.empty())
    return;
  fmt::print(out,
             "== fan-out tick: one {}-byte message to each peer, then one flush "
             "(median of {} ticks; peers read between ticks, untimed)\n",
             setups.front().message_size, setups.front().ticks);
  support::Table table({{"peers", Align::left, 32},
                        {"sender", Align::left, 10},
                        {"ns/message", Align::right, 11},
                        {"writes/message", Align::right, 15},
                        {"vs bare", Align::right, 9}},
                       flush_left);
  for (const FanoutFigures& setup : setups) {
    const std::string peers = fmt::format(
        "{} over {}", support::grouped(static_cast<std::uint64_t>(setup.peers)),
        transport_name(setup.transport));
    if (!setup.skipped.empty() || !setup.error.empty()) {
      table.add_row({peers, setup.skipped.empty() ? "failed: " + setup.error
                                                  : "skipped: " + setup.skipped});
      continue;
    }
    for (const FanoutRow& row : setup.rows)
      table.add_row({&row == &setup.rows.front() ? peers : "",
                     std::string(fanout_sender_name(row.sender)), fixed(row.ns_per_message, 1),
                     fixed(row.writes_per_message, 2), fmt::format("{:.2f}x", row.over_bare)});
  }
  table.print(out);
  fmt::print(out,
             "  bare send: send(MSG_DONTWAIT | MSG_NOSIGNAL) per peer; qio: qio_write per peer on a\n"
             "  buffered channel, then one qio_flush; libevent: bufferevent_write per peer, then\n"
             "  event_base_loop until every bufferevent has written. vs bare: median over ticks of\n"
             "  the tick's time over the bare loop's in the same round\n\n");
  std::fflush(out);
}

void print_datagrams(std::FILE* out, const DatagramFigures& figures) {
  fmt::print(out,
             "== datagrams: {}-byte datagrams queued on a connected UDP socket over loopback "
             "(peer not reading), then sent by qio_flush\n",
             figures.datagram_size);
  support::Table table({{"datagrams", Align::right, 10},
                        {"runs", Align::right, 5},
                        {"drain (s)", Align::right, 10},
                        {"ns/datagram", Align::right, 12},
                        {"vs first", Align::right, 9},
                        {"bare send ns/datagram", Align::right, 22}},
                       flush_left);
  const DatagramRow* first = nullptr;
  for (const DatagramRow& row : figures.rows) {
    if (row.runs == 0) {
      table.add_row({support::grouped(row.datagrams),
                     row.skipped.empty() ? "not run" : "skipped: " + row.skipped});
      continue;
    }
    first = first ? first : &row;
    table.add_row({support::grouped(row.datagrams), fmt::format("{}", row.runs),
                   fixed(row.drain_seconds, 3), fixed(row.ns_per_datagram, 1),
                   fmt::format("{:.2f}x", row.ns_per_datagram / first->ns_per_datagram),
                   fixed(row.bare_ns_per_datagram, 1)});
  }
  table.print(out);
  if (!figures.error.empty())
    fmt::print(out, "  failed: {}\n", figures.error);
  fmt::print(out,
             "  ns/datagram: qio's drain over the count (median run); vs first: over the smallest\n"
             "  count's, flat when the cost per datagram is constant, doubling with the count when\n"
             "  it is quadratic; bare send: one send() per datagram, no queue (the kernel's cost).\n"
             "  {}\n\n",
             figures.cap_seconds > 0
                 ? fmt::format("A drain over {:.1f} s skips the larger counts "
                               "(--datagram-cap SECONDS; 0 runs them all)",
                               figures.cap_seconds)
                 : std::string("No cap in this run (--datagram-cap 0): every count runs"));
  std::fflush(out);
}

void print_xdr(std::FILE* out, const XdrFigures& figures) {
  if (!figures.available) {
    fmt::print(out, "== xdr: not available: {}\n\n", figures.reason);
    return;
  }
  fmt::print(out,
             "== xdr: 256-byte rpcgen records (bench/bench_record.x), median of {} runs of "
             "{:.2f} s each\n",
             figures.repetitions, figures.run_seconds);
  support::Table table({{"transport", Align::left, 19},
                        {"writer", Align::left, 14},
                        {"records/s", Align::right, 12},
                        {"MiB/s", Align::right, 9},
                        {"writes/MiB", Align::right, 11},
                        {"EAGAIN/MiB", Align::right, 11},
                        {"user ns", Align::right, 9},
                        {"sys ns", Align::right, 9},
                        {"vs libtirpc", Align::left, 0, 2},
                        note},
                       flush_left);
  std::optional<Transport> printed;
  for (const XdrFigure& figure : figures.figures) {
    const bool first_of_transport = printed != figure.transport;
    printed = figure.transport;
    std::string versus = "-";
    const XdrWriter peer = xdr_writer_peer(figure.writer);
    if (peer != figure.writer) {
      const XdrFigure* other = find_xdr_figure(figures, figure.transport, peer);
      const std::optional<double> ratio =
          other && figure.runs > 0 ? xdr_ratio(figure, *other) : std::nullopt;
      versus = ratio ? fmt::format("{:.2f}x {}", *ratio, xdr_writer_name(peer)) : "no figures";
    }
    table.add_row({first_of_transport ? std::string(transport_name(figure.transport)) : "",
                   std::string(xdr_writer_name(figure.writer)),
                   grouped_rate(figure.records_per_second), fixed(figure.mib_per_second, 1),
                   fixed(figure.writes_per_mib, 1), fixed(figure.would_block_per_mib, 1),
                   fixed(figure.user_ns_per_record, 1), fixed(figure.system_ns_per_record, 1),
                   versus, figure.runs == figures.repetitions ? "" : "(some runs failed)"});
  }
  table.print(out);
  fmt::print(out,
             "  xdrrec: libtirpc's xdrrec_create, write() callback, blocking socket, each record\n"
             "  ended with TRUE (written at once); -batch: ended with FALSE (packed into xdrrec's\n"
             "  4000-byte buffer). xdr_qio: xdr_qio_create on a buffered qio channel; RecordWriter:\n"
             "  write_record on an unbuffered qio::Engine channel; both flushed once per tick.\n"
             "  vs libtirpc: median of per-round ratios of records/s; sys ns and user ns: writer\n"
             "  thread's CPU time per record\n\n");
  std::fflush(out);
}

void print_failures(std::FILE* out, const std::vector<std::string>& failures) {
  if (failures.empty()) {
    fmt::print(out, "all byte counts verified\n");
    return;
  }
  fmt::print(out, "FAILURES ({}):\n", failures.size());
  for (const std::string& failure : failures)
    fmt::print(out, "  {}\n", failure);
}

} // namespace bench
