// SPDX-License-Identifier: MIT
// figures.hpp - what the soak counts, and which counts must stay zero.
#ifndef QIO_SOAK_FIGURES_HPP
#define QIO_SOAK_FIGURES_HPP

#include <cstddef> // std::size_t
#include <cstdint> // std::uint64_t
#include <cstdio>  // std::FILE

#include "support/faulty_system_calls.hpp"

namespace soak {

struct Figures {
  // Traffic.
  std::uint64_t sessions_c_api = 0;  // raw messages through the C API
  std::uint64_t sessions_engine = 0; // raw messages through the faulty Engine
  std::uint64_t sessions_xdr = 0;    // XDR records through xdr_glue
  std::uint64_t messages_queued = 0; // accepted writes carrying a message
  std::uint64_t bytes_queued = 0;
  std::uint64_t messages_received = 0; // arrived whole and intact
  std::uint64_t bytes_received = 0;
  std::uint64_t messages_ok = 0;        // AST: written in full
  std::uint64_t messages_failed = 0;    // AST: a write error
  std::uint64_t messages_cancelled = 0; // AST or (no AST) terminate/prune
  std::uint64_t messages_silent = 0;    // no AST, completed by flush
  std::uint64_t records_sent = 0;
  std::uint64_t records_received = 0;
  std::uint64_t records_pruned = 0;
  std::uint64_t asts_expected = 0; // write and read requests with an AST
  std::uint64_t asts_received = 0;
  std::uint64_t reads_completed = 0; // read ASTs that brought bytes
  std::uint64_t refusals = 0;        // EAGAIN at queue time: a limit reached

  // Events.
  std::uint64_t pauses = 0;
  std::uint64_t prunes = 0;
  std::uint64_t reconfigures = 0;
  std::uint64_t terminations = 0;         // sender terminated mid-stream
  std::uint64_t terminations_in_ast = 0;  // ... from an AST on its own channel
  std::uint64_t disconnects_survived = 0; // peer hung up or a reset broke it
  std::uint64_t graceful_ends = 0;

  // Invariants: each must stay 0.
  std::uint64_t lost = 0;
  std::uint64_t duplicated = 0;
  std::uint64_t reordered = 0;
  std::uint64_t corrupted = 0;
  std::uint64_t asts_missing = 0;
  std::uint64_t asts_doubled = 0;
  std::uint64_t asts_out_of_order = 0;
  std::uint64_t asts_misreported = 0; // wrong length, buffer, channel...
  std::uint64_t stalled = 0;          // a session that did not finish in time
  std::uint64_t unexpected_errors = 0;

  std::uint64_t invariant_breaks() const noexcept {
    return lost + duplicated + reordered + corrupted + asts_missing + asts_doubled +
           asts_out_of_order + asts_misreported + stalled + unexpected_errors;
  }
};

// The final table.
// The faults are those `faulty` injected.
void print_figures(std::FILE* out, const Figures& figures,
                   const support::FaultySystemCalls& faulty,
                   double seconds, long peak_rss_kib);

// One progress line.
void print_progress(std::FILE* out, const Figures& figures,
                    const support::FaultySystemCalls& faulty,
                    double seconds, std::size_t open_sessions);

} // namespace soak

#endif // QIO_SOAK_FIGURES_HPP
