// SPDX-License-Identifier: MIT
// figures.cpp - the soak's table and progress line.
#include "figures.hpp"

#include <fmt/format.h>

#include <string>  // a row's detail
#include <utility> // std::move

#include "support/table.hpp"

namespace soak {
namespace {

using support::Fault;

double mebibytes(std::uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

std::uint64_t faults_injected(const support::FaultySystemCalls& faulty) {
  return faulty.output_faults().total() + faulty.input_faults().total();
}

// Rows of a name, a count and what else there is to say about it.
class FigureTable {
public:
  void section(std::string name) { table_.add_line(std::move(name)); }
  void row(const char* name, std::uint64_t value, std::string detail = {}) {
    table_.add_row({name, fmt::format("{}", value), std::move(detail)});
  }
  void invariant(const char* name, std::uint64_t value) {
    row(name, value, value == 0 ? "" : "<-- BROKEN");
  }
  void print(std::FILE* out) const { table_.print(out); }

private:
  support::Table table_{{{"", support::Align::left, 26},
                         {"", support::Align::right, 14},
                         {"", support::Align::left, 0, 2}},
                        {.headings = false, .rule = false}};
};

} // namespace

void print_figures(std::FILE* out, const Figures& figures,
                   const support::FaultySystemCalls& faulty, double seconds, long peak_rss_kib) {
  const support::FaultCounts& writes = faulty.output_faults();
  const support::FaultCounts& reads = faulty.input_faults();
  const std::uint64_t sessions =
      figures.sessions_c_api + figures.sessions_engine + figures.sessions_xdr;
  FigureTable table;
  table.section(fmt::format("traffic ({:.1f} s)", seconds));
  table.row("connections", sessions,
            fmt::format("C API {}, faulty Engine {}, xdr_glue {}", figures.sessions_c_api,
                        figures.sessions_engine, figures.sessions_xdr));
  table.row("messages queued", figures.messages_queued,
            fmt::format("{:.1f} MiB", mebibytes(figures.bytes_queued)));
  table.row("messages received intact", figures.messages_received,
            fmt::format("{:.1f} MiB", mebibytes(figures.bytes_received)));
  table.row("  AST ok / failed", figures.messages_ok, fmt::format("/ {}", figures.messages_failed));
  table.row("  cancelled", figures.messages_cancelled);
  table.row("  without AST, completed", figures.messages_silent);
  table.row("XDR records sent", figures.records_sent,
            fmt::format("received {}, pruned {}", figures.records_received,
                        figures.records_pruned));
  table.row("ASTs", figures.asts_received,
            fmt::format("of {} expected (writes and reads)", figures.asts_expected));
  table.row("reads with data", figures.reads_completed);
  table.row("EAGAIN at queue time", figures.refusals);
  table.section("events");
  table.row("reader pauses", figures.pauses);
  table.row("prunes", figures.prunes);
  table.row("reconfigures (pending)", figures.reconfigures);
  table.row("terminated mid-stream", figures.terminations,
            fmt::format("{} of them from an AST on the channel", figures.terminations_in_ast));
  table.row("graceful ends", figures.graceful_ends);
  table.row("disconnects survived", figures.disconnects_survived);
  table.row("faults injected", faults_injected(faulty));
  table.row("  short writes", writes[Fault::short_transfer]);
  table.row("  EINTR / EAGAIN on write", writes[Fault::interrupted],
            fmt::format("/ {}", writes[Fault::would_block]));
  table.row("  ECONNRESET on write", writes[Fault::connection_reset]);
  table.row("  short reads", reads[Fault::short_transfer]);
  table.row("  EINTR / EAGAIN on read", reads[Fault::interrupted],
            fmt::format("/ {}", reads[Fault::would_block]));
  table.row("  ECONNRESET on read", reads[Fault::connection_reset]);
  table.section("invariants");
  table.invariant("lost", figures.lost);
  table.invariant("duplicated", figures.duplicated);
  table.invariant("reordered", figures.reordered);
  table.invariant("corrupted", figures.corrupted);
  table.invariant("ASTs missing", figures.asts_missing);
  table.invariant("ASTs doubled", figures.asts_doubled);
  table.invariant("ASTs out of order", figures.asts_out_of_order);
  table.invariant("ASTs misreporting", figures.asts_misreported);
  table.invariant("stalled connections", figures.stalled);
  table.invariant("unexpected errors", figures.unexpected_errors);
  table.print(out);
  fmt::print(out, "peak RSS {:.1f} MiB\n", static_cast<double>(peak_rss_kib) / 1024.0);
}

void print_progress(std::FILE* out, const Figures& figures,
                    const support::FaultySystemCalls& faulty, double seconds,
                    std::size_t open_sessions) {
  fmt::print(out,
             "[{:7.1f} s] {} open, {} messages, {:.1f} MiB received, {} records, {} ASTs, "
             "{} faults, {} disconnects, {} invariant breaks\n",
             seconds, open_sessions, figures.messages_queued, mebibytes(figures.bytes_received),
             figures.records_received, figures.asts_received, faults_injected(faulty),
             figures.disconnects_survived, figures.invariant_breaks());
  std::fflush(out);
}

} // namespace soak
