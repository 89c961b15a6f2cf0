// SPDX-License-Identifier: MIT
// xdr_record.hpp - the record the xdr case sends: bench_record (from
// bench_record.x through rpcgen), 256 bytes of XDR, numbered in order.
#ifndef QIO_BENCH_XDR_RECORD_HPP
#define QIO_BENCH_XDR_RECORD_HPP

#include <array>   // an encoded record
#include <cstddef> // std::size_t
#include <cstdint> // std::uint32_t

#include "bench_record.h" // rpcgen: bench_record, xdr_bench_record

namespace bench {

// Bytes of one encoded bench_record, and of one on the wire as a record
// of a single fragment (its 4-byte record mark first).
inline constexpr std::size_t record_bytes = 256;
inline constexpr std::size_t wire_record_bytes = record_bytes + 4;

// Hands out record number n: every field set once, and per record only
// those that change (sequence, timestamp, flagged), so producing a record
// costs next to nothing beside its encoding.
class RecordSource {
public:
  RecordSource() noexcept;
  RecordSource(const RecordSource&) = delete;
  RecordSource& operator=(const RecordSource&) = delete;

  bench_record* record(std::uint32_t n) noexcept {
    record_.sequence = n;
    record_.timestamp = timestamp_base + n;
    record_.flagged = static_cast<bool_t>(n & 1);
    return &record_;
  }
  // Record n encoded by libtirpc's xdrmem; false if it is not
  // record_bytes long (bench_record.x and this file disagree).
  bool encode(std::uint32_t n, std::array<char, record_bytes>& out) noexcept;

private:
  static constexpr std::int64_t timestamp_base = 1'700'000'000'000'000;
  static constexpr std::size_t label_length = 40;  // 4 + 40 bytes encoded
  static constexpr std::size_t digest_length = 24; // 4 + 24 bytes encoded

  bench_record record_{};
  char label_[label_length + 1] = {};
  char digest_[digest_length] = {};
};

} // namespace bench

#endif // QIO_BENCH_XDR_RECORD_HPP
