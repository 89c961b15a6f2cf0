// SPDX-License-Identifier: MIT
// xdr_writers.hpp - the writers the xdr case compares: libtirpc's own
// record stream writing to a blocking socket, and xdr_glue's record
// streams queued on qio and flushed as a select loop would.
//
// Every writer encodes bench_record number 0, 1, 2, ... as one record each
// (bench_record.x, 256 bytes of XDR), owns the connected blocking socket it
// is given, and closes it once every byte has been handed to the kernel.
#ifndef QIO_BENCH_XDR_WRITERS_HPP
#define QIO_BENCH_XDR_WRITERS_HPP

#include <array>       // all_xdr_writers
#include <cstdint>     // std::uint64_t
#include <string>      // errors
#include <string_view> // names

#include "bench.hpp"

namespace bench {

enum class XdrWriter {
  // libtirpc: xdrrec_create with a write() callback on the blocking socket.
  // Each record ended with xdrrec_endofrecord(xdrs, TRUE), so sent at once:
  // one write() per record, as RPC replies are sent.
  xdrrec,
  // The same, records ended with FALSE: libtirpc packs them into its
  // 4000-byte buffer, which holds about 15 records, and writes when it
  // fills (the bench counts about one write() per 8 records).
  xdrrec_batched,
  // xdr_glue's C API: xdr_qio_create on a buffered qio channel (as
  // docs/xdr.md's porting guide configures it), records ended with TRUE,
  // qio_flush per tick, select() on qio_fdset's mask when the backlog is
  // full.
  xdr_qio,
  // The same, records ended with FALSE.
  xdr_qio_batched,
  // xdr_glue's C++ API: RecordWriter::write_record on an unbuffered
  // channel of its own qio::Engine (as record_writer.hpp advises),
  // Engine::flush per tick.
  record_writer,
};

// The libtirpc writers first: the ratios are xdr_glue's over theirs.
inline constexpr std::array all_xdr_writers{XdrWriter::xdrrec, XdrWriter::xdrrec_batched,
                                            XdrWriter::xdr_qio, XdrWriter::xdr_qio_batched,
                                            XdrWriter::record_writer};

std::string_view xdr_writer_name(XdrWriter writer) noexcept;
// Whether the writer ends records with xdrrec_endofrecord(xdrs, FALSE).
bool xdr_writer_batches(XdrWriter writer) noexcept;
// The libtirpc writer `writer` is compared with (itself for libtirpc's).
XdrWriter xdr_writer_peer(XdrWriter writer) noexcept;

// One timed run: records until `deadline` (checked every few records or
// once per tick), the qio writers holding at most `backlog_bytes` unsent.
struct XdrWorkload {
  Clock::time_point deadline;
  std::size_t backlog_bytes = 1024 * 1024;
};

struct XdrWriterResult {
  std::uint64_t records = 0;
  std::string error; // empty on success
};

XdrWriterResult run_xdr_writer(XdrWriter writer, int fd, const XdrWorkload& workload);

} // namespace bench

#endif // QIO_BENCH_XDR_WRITERS_HPP
