// SPDX-License-Identifier: MIT
// report.cpp - the human-readable tables.
#include "report.hpp"

#include <algorithm> // std::find_if
#include <optional>  // the transport last printed

#include <fmt/format.h>

namespace bench {
namespace {

// 12345678.9 -> "12,345,679": message rates are easier read grouped.
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

std::string ratio(const ThroughputFigure* numerator, const ThroughputFigure* denominator) {
  if (!numerator || !denominator)
    return "-";
  return fmt::format("{:.2f}x", paired_ratio(*numerator, *denominator));
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
  fmt::print(out, "== qio against the others (medians of per-round ratios of messages/s)\n");
  fmt::print(out, "{:<19} {:>6} {:>9} {:>9} {:>9} {:>9} {:>10} {:>9} {:>9}\n", "transport", "size",
             "qio %lim", "AST %lim", "/naive", "/contig", "/libevent", "/libuv", "AST cost");
  for (const ThroughputFigure& figure : figures) {
    if (figure.implementation != Implementation::qio)
      continue;
    auto other = [&](Implementation implementation) {
      return find_figure(figures, figure.transport, figure.message_size, implementation);
    };
    const ThroughputFigure* with_ast = other(Implementation::qio_ast);
    fmt::print(out, "{:<19} {:>6} {:>9.1f} {:>9.1f} {:>9} {:>9} {:>10} {:>9} {:>9}\n",
               transport_name(figure.transport), figure.message_size, figure.percent_of_limit,
               with_ast ? with_ast->percent_of_limit : 0.0,
               ratio(&figure, other(Implementation::naive)),
               ratio(&figure, other(Implementation::contiguous)),
               ratio(&figure, other(Implementation::libevent)),
               ratio(&figure, other(Implementation::libuv)), ratio(&figure, with_ast));
  }
  fmt::print(out, "  AST cost: qio's rate without an AST per message over its rate with one\n\n");
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
