// SPDX-License-Identifier: MIT
// xdr.hpp - the xdr case: records/s encoding a 256-byte rpcgen struct
// through xdr_glue over qio against libtirpc's own xdrrec on a blocking
// socket.
#ifndef QIO_BENCH_XDR_HPP
#define QIO_BENCH_XDR_HPP

#include <string> // failures
#include <vector> // failures

#include "results.hpp"

namespace bench {

struct XdrPlan {
  Clock::duration run_length;
  int repetitions = 3;
  std::size_t backlog_bytes = 1024 * 1024;
  // Also decode the stream's framing into records and compare each with
  // its expected encoding (the smoke run); otherwise the reader follows
  // the record marks only, checking every record's length and the count.
  bool check_content = false;
};

// For each transport, `repetitions` rounds of every XDR writer (rotated, as
// the throughput case does), a reader thread draining the other end and
// checking what arrives. Runs that do not verify are left out and listed in
// `failures`.
XdrFigures run_xdr(const XdrPlan& plan, std::vector<std::string>& failures);

} // namespace bench

#endif // QIO_BENCH_XDR_HPP
