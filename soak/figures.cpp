// SPDX-License-Identifier: MIT
// figures.cpp - the soak's table and progress line.
#include "figures.hpp"

#include <fmt/format.h>

#include <string> // a row's detail

namespace soak {
namespace {

double mebibytes(std::uint64_t bytes) { return static_cast<double>(bytes) / (1024.0 * 1024.0); }

void row(std::FILE* out, const char* name, std::uint64_t value, const std::string& detail = {}) {
  fmt::print(out, "  {:<26} {:>14}{}\n", name, value, detail.empty() ? "" : "  " + detail);
}

void invariant(std::FILE* out, const char* name, std::uint64_t value) {
  fmt::print(out, "  {:<26} {:>14}{}\n", name, value, value == 0 ? "" : "  <-- BROKEN");
}

} // namespace

void print_figures(std::FILE* out, const Figures& figures, const FaultCounts& faults,
                   double seconds, long peak_rss_kib) {
  const std::uint64_t sessions =
      figures.sessions_c_api + figures.sessions_engine + figures.sessions_xdr;
  fmt::print(out, "traffic ({:.1f} s)\n", seconds);
  row(out, "connections", sessions,
      fmt::format("C API {}, faulty Engine {}, xdr_glue {}", figures.sessions_c_api,
                  figures.sessions_engine, figures.sessions_xdr));
  row(out, "messages queued", figures.messages_queued,
      fmt::format("{:.1f} MiB", mebibytes(figures.bytes_queued)));
  row(out, "messages received intact", figures.messages_received,
      fmt::format("{:.1f} MiB", mebibytes(figures.bytes_received)));
  row(out, "  AST ok / failed", figures.messages_ok,
      fmt::format("/ {}", figures.messages_failed));
  row(out, "  cancelled", figures.messages_cancelled);
  row(out, "  without AST, completed", figures.messages_silent);
  row(out, "XDR records sent", figures.records_sent,
      fmt::format("received {}, pruned {}", figures.records_received, figures.records_pruned));
  row(out, "ASTs", figures.asts_received,
      fmt::format("of {} expected (writes and reads)", figures.asts_expected));
  row(out, "reads with data", figures.reads_completed);
  row(out, "EAGAIN at queue time", figures.refusals);
  fmt::print(out, "events\n");
  row(out, "reader pauses", figures.pauses);
  row(out, "prunes", figures.prunes);
  row(out, "reconfigures (pending)", figures.reconfigures);
  row(out, "terminated mid-stream", figures.terminations,
      fmt::format("{} of them from an AST on the channel", figures.terminations_in_ast));
  row(out, "graceful ends", figures.graceful_ends);
  row(out, "disconnects survived", figures.disconnects_survived);
  row(out, "faults injected", faults.total());
  row(out, "  short writes", faults.short_writes);
  row(out, "  EINTR / EAGAIN on write", faults.write_interrupts,
      fmt::format("/ {}", faults.write_would_block));
  row(out, "  ECONNRESET on write", faults.write_resets);
  row(out, "  short reads", faults.short_reads);
  row(out, "  EINTR / EAGAIN on read", faults.read_interrupts,
      fmt::format("/ {}", faults.read_would_block));
  row(out, "  ECONNRESET on read", faults.read_resets);
  fmt::print(out, "invariants\n");
  invariant(out, "lost", figures.lost);
  invariant(out, "duplicated", figures.duplicated);
  invariant(out, "reordered", figures.reordered);
  invariant(out, "corrupted", figures.corrupted);
  invariant(out, "ASTs missing", figures.asts_missing);
  invariant(out, "ASTs doubled", figures.asts_doubled);
  invariant(out, "ASTs out of order", figures.asts_out_of_order);
  invariant(out, "ASTs misreporting", figures.asts_misreported);
  invariant(out, "stalled connections", figures.stalled);
  invariant(out, "unexpected errors", figures.unexpected_errors);
  fmt::print(out, "peak RSS {:.1f} MiB\n", static_cast<double>(peak_rss_kib) / 1024.0);
}

void print_progress(std::FILE* out, const Figures& figures, const FaultCounts& faults,
                    double seconds, std::size_t open_sessions) {
  fmt::print(out,
             "[{:7.1f} s] {} open, {} messages, {:.1f} MiB received, {} records, {} ASTs, "
             "{} faults, {} disconnects, {} invariant breaks\n",
             seconds, open_sessions, figures.messages_queued, mebibytes(figures.bytes_received),
             figures.records_received, figures.asts_received, faults.total(),
             figures.disconnects_survived, figures.invariant_breaks());
  std::fflush(out);
}

} // namespace soak
