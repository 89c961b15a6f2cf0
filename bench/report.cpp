// SPDX-License-Identifier: MIT
// report.cpp - the human-readable tables.
#include "report.hpp"

#include <algorithm> // std::find_if
#include <array>     // the headline's columns
#include <optional>  // the transport last printed

#include <fmt/format.h>

namespace bench {
namespace {

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
constexpr int ratio_width = 11;

// One row of the ratio table: `figure` (qio or qio+AST) against every other
// writer of its block, and for qio its rate over qio+AST's.
void print_ratio_row(std::FILE* out, const std::vector<ThroughputFigure>& figures,
                     const ThroughputFigure& figure) {
  auto other = [&](Implementation implementation) {
    return find_figure(figures, figure.transport, figure.message_size, implementation);
  };
  fmt::print(out, "{:>6}  {:<8}", figure.message_size, implementation_name(figure.implementation));
  for (const Implementation implementation : all_implementations)
    if (!is_qio(implementation))
      fmt::print(out, " {:>{}}", ratio(&figure, other(implementation)), ratio_width);
  if (figure.implementation == Implementation::qio)
    fmt::print(out, " {:>{}}", ratio(&figure, other(Implementation::qio_ast)), ratio_width);
  fmt::print(out, "\n");
}

// The headline at 64 bytes: qio against the yardsticks its targets name,
// and against libuv as its users send small messages (libuv-tick).
void print_headlines(std::FILE* out, const std::vector<ThroughputFigure>& figures) {
  struct Column {
    const char* label;
    Implementation implementation;
  };
  constexpr std::array columns{Column{"contiguous", Implementation::contiguous},
                               Column{"bufferevent", Implementation::libevent},
                               Column{"evbuffer", Implementation::evbuffer},
                               Column{"libuv", Implementation::libuv_tick}};
  fmt::print(out, "  {:<26}", "at 64 B, qio over:");
  for (const Column& column : columns)
    fmt::print(out, " {:>{}}", column.label, ratio_width);
  fmt::print(out, "\n");
  for (const Transport transport : all_transports) {
    fmt::print(out, "  {:<26}", transport_name(transport));
    const ThroughputFigure* qio = find_figure(figures, transport, 64, Implementation::qio);
    for (const Column& column : columns)
      fmt::print(out, " {:>{}}",
                 ratio(qio, find_figure(figures, transport, 64, column.implementation)),
                 ratio_width);
    fmt::print(out, "\n");
  }
  fmt::print(out, "  (bufferevent: the libevent row; libuv: the libuv-tick row, a tick's messages in\n"
                  "  one write, as libuv's users send small messages)\n");
}

} // namespace

std::string grouped(double value) {
  const std::string digits = fmt::format("{:.0f}", value);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0)
      out += ',';
    out += digits[i];
  }
  return out;
}

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
  if (with_heading) {
    fmt::print(out, "== throughput over {} (median of {} runs of {:.2f} s each)\n",
               transport_name(first.transport), settings.repetitions, settings.run_seconds);
    fmt::print(out, "{:>6}  {:<10} {:>14} {:>9} {:>8} {:>11} {:>11} {:>9} {:>9}\n", "size",
               "writer", "messages/s", "MiB/s", "% limit", "writes/MiB", "EAGAIN/MiB", "user ns",
               "sys ns");
  }
  for (const ThroughputFigure& figure : block)
    fmt::print(out,
               "{:>6}  {:<10} {:>14} {:>9.1f} {:>8.1f} {:>11.1f} {:>11.1f} {:>9.1f} {:>9.1f}{}\n",
               figure.message_size, implementation_name(figure.implementation),
               grouped(figure.messages_per_second), figure.mib_per_second, figure.percent_of_limit,
               figure.writes_per_mib, figure.would_block_per_mib, figure.writer_user_ns_per_message,
               figure.writer_system_ns_per_message,
               figure.runs == settings.repetitions ? "" : "  (some runs failed)");
  fmt::print(out, "\n");
  std::fflush(out);
}

void print_ratios(std::FILE* out, const std::vector<ThroughputFigure>& figures) {
  fmt::print(out, "== qio and qio+AST against every other writer "
                  "(medians of per-round ratios of messages/s)\n");
  for (const Transport transport : all_transports) {
    fmt::print(out, "{}\n{:>6}  {:<8}", transport_name(transport), "size", "writer");
    for (const Implementation implementation : all_implementations)
      if (!is_qio(implementation))
        fmt::print(out, " {:>{}}", fmt::format("/{}", implementation_name(implementation)),
                   ratio_width);
    fmt::print(out, " {:>{}}\n", "AST cost", ratio_width);
    for (const ThroughputFigure& figure : figures)
      if (figure.transport == transport && is_qio(figure.implementation))
        print_ratio_row(out, figures, figure);
  }
  fmt::print(out, "  AST cost: qio's rate without an AST per message over its rate with one\n");
  print_headlines(out, figures);
  fmt::print(out, "\n");
}

void print_enqueue(std::FILE* out, const std::vector<EnqueueFigure>& figures) {
  if (figures.empty())
    return;
  fmt::print(out, "== enqueue: {} 64-byte messages queued, peer not reading\n",
             grouped(static_cast<double>(figures.front().messages)));
  fmt::print(out, "{:<10} {:>10} {:>16} {:>22}\n", "subject", "ns/message", "bytes/request",
             "instructions/message");
  for (const EnqueueFigure& figure : figures) {
    const std::string instructions = figure.instructions
                                         ? fmt::format("{:.1f}", *figure.instructions)
                                         : figure.instructions_note;
    if (!figure.error.empty())
      fmt::print(out, "{:<10} failed: {}\n", figure.subject, figure.error);
    else
      fmt::print(out, "{:<10} {:>10.1f} {:>16.1f} {:>22}\n", figure.subject, figure.ns_per_message,
                 figure.bytes_per_request, instructions);
  }
  fmt::print(out, "  bytes/request: resident growth beyond the 64-byte payload; "
                  "instructions: callgrind, user space, callees included\n\n");
}

void print_channels(std::FILE* out, const ChannelsFigures& figures) {
  fmt::print(out, "== channels: qio_flush with {} configured channels (peer ends held {})\n",
             grouped(figures.channels),
             figures.peers_in_child ? "by a child process, passed with SCM_RIGHTS"
                                    : "in this process");
  if (!figures.error.empty()) {
    fmt::print(out, "  failed: {}\n\n", figures.error);
    return;
  }
  fmt::print(out, "{:<44} {:>12} {:>12}\n", "", fmt::format("{} channels", figures.channels),
             "1 channel");
  fmt::print(out, "{:<44} {:>12.1f} {:>12.1f}\n", "qio_flush, all idle (ns)", figures.idle_flush_ns,
             figures.idle_flush_alone_ns);
  fmt::print(out, "{:<44} {:>12.1f} {:>12.1f}\n", "qio_flush, one with 64 bytes queued (ns)",
             figures.busy_flush_ns, figures.busy_flush_alone_ns);
  fmt::print(out, "{:<44} {:>12.1f}\n", "that channel's own sendmsg of 64 bytes (ns)",
             figures.own_write_ns);
  fmt::print(out, "{:<44} {:>12.2f}\n", "busy qio_flush / own sendmsg (paired batches)",
             figures.busy_over_own_write);
  fmt::print(out, "\n");
}

void print_fanout(std::FILE* out, const std::vector<FanoutFigures>& setups) {
  if (setups.empty())
    return;
  fmt::print(out,
             "== fan-out tick: one {}-byte message to each peer, then one flush "
             "(median of {} ticks; peers read between ticks, untimed)\n",
             setups.front().message_size, setups.front().ticks);
  fmt::print(out, "{:<32} {:<10} {:>11} {:>15} {:>9}\n", "peers", "sender", "ns/message",
             "writes/message", "vs bare");
  for (const FanoutFigures& setup : setups) {
    const std::string peers =
        fmt::format("{} over {}", grouped(setup.peers), transport_name(setup.transport));
    if (!setup.skipped.empty() || !setup.error.empty()) {
      fmt::print(out, "{:<32} {}: {}\n", peers, setup.skipped.empty() ? "failed" : "skipped",
                 setup.skipped.empty() ? setup.error : setup.skipped);
      continue;
    }
    for (const FanoutRow& row : setup.rows)
      fmt::print(out, "{:<32} {:<10} {:>11.1f} {:>15.2f} {:>8.2f}x\n",
                 &row == &setup.rows.front() ? peers : "", fanout_sender_name(row.sender),
                 row.ns_per_message, row.writes_per_message, row.over_bare);
  }
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
  fmt::print(out, "{:>10} {:>5} {:>10} {:>12} {:>9} {:>22}\n", "datagrams", "runs", "drain (s)",
             "ns/datagram", "vs first", "bare send ns/datagram");
  const DatagramRow* first = nullptr;
  for (const DatagramRow& row : figures.rows) {
    if (row.runs == 0) {
      fmt::print(out, "{:>10} {}\n", grouped(static_cast<double>(row.datagrams)),
                 row.skipped.empty() ? "not run" : "skipped: " + row.skipped);
      continue;
    }
    first = first ? first : &row;
    fmt::print(out, "{:>10} {:>5} {:>10.3f} {:>12.1f} {:>8.2f}x {:>22.1f}\n",
               grouped(static_cast<double>(row.datagrams)), row.runs, row.drain_seconds,
               row.ns_per_datagram, row.ns_per_datagram / first->ns_per_datagram,
               row.bare_ns_per_datagram);
  }
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
  fmt::print(out, "{:<19} {:<14} {:>12} {:>9} {:>11} {:>11} {:>9} {:>9}  {}\n", "transport",
             "writer", "records/s", "MiB/s", "writes/MiB", "EAGAIN/MiB", "user ns", "sys ns",
             "vs libtirpc");
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
    fmt::print(out, "{:<19} {:<14} {:>12} {:>9.1f} {:>11.1f} {:>11.1f} {:>9.1f} {:>9.1f}  {}{}\n",
               first_of_transport ? transport_name(figure.transport) : "",
               xdr_writer_name(figure.writer), grouped(figure.records_per_second),
               figure.mib_per_second, figure.writes_per_mib, figure.would_block_per_mib,
               figure.user_ns_per_record, figure.system_ns_per_record, versus,
               figure.runs == figures.repetitions ? "" : "  (some runs failed)");
  }
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
