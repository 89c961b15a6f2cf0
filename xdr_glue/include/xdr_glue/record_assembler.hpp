// SPDX-License-Identifier: MIT
// xdr_glue/record_assembler.hpp - reassembles RFC 5531 record-marked input
// from bytes delivered in pieces of any size, without doing any I/O.
//
// On the wire a record is one or more fragments, each a 4-byte big-endian
// mark (top bit: last fragment of the record; low 31 bits: length) followed
// by that many bytes. The assembler checks every limit before it allocates:
// the sum of a record's fragment lengths is compared with max_record when
// each mark arrives, so a mark announcing 0x7fffffff bytes allocates nothing.
// It depends on nothing but the standard library, so a fuzzer can build it
// on its own.
#ifndef XDR_GLUE_RECORD_ASSEMBLER_HPP
#define XDR_GLUE_RECORD_ASSEMBLER_HPP

#include <cstddef>      // std::size_t
#include <cstdint>      // std::uint32_t, record marks
#include <deque>        // std::deque, records waiting to be taken
#include <span>         // std::span, input bytes
#include <system_error> // std::error_code, the stream's status
#include <vector>       // std::vector, record storage

#include "xdr_glue/export.h" // XDR_GLUE_EXPORT, what libxdr_glue exports

namespace xdr_glue {

// The default and usual maximum record size: 1 MiB.
inline constexpr std::size_t default_max_record = 1024 * 1024;

// Bounds on one record. A zero in either field picks its default.
struct ReaderLimits {
  // Most bytes in one record, summed over its fragments (marks excluded).
  // Default default_max_record; values above 0xffffffff are lowered to it
  // because XDR memory streams count in 32 bits.
  std::size_t max_record = default_max_record;
  // Most fragments in one record. Zero-length fragments are legal, so
  // without this bound a peer could keep one record open forever.
  // Default: 4096, or max_record / 256 when that is larger.
  std::size_t max_fragments = 0;
};

namespace detail {

inline constexpr std::size_t record_mark_size = 4;
inline constexpr std::uint32_t last_fragment_flag = 0x80000000u;
inline constexpr std::uint32_t fragment_length_mask = 0x7fffffffu;

struct FragmentMark {
  std::uint32_t length = 0;
  bool last = false;
};

// Collects the four bytes of a record mark, which may arrive split.
class MarkCollector {
public:
  // Takes bytes until the mark is whole; returns how many it took.
  std::size_t take(const char* bytes, std::size_t size) noexcept;
  bool complete() const noexcept { return filled_ == record_mark_size; }
  bool started() const noexcept { return filled_ > 0; }
  FragmentMark mark() const noexcept;
  void clear() noexcept { filled_ = 0; }

private:
  unsigned char bytes_[record_mark_size] = {};
  std::size_t filled_ = 0;
};

} // namespace detail

class RecordAssembler {
public:
  XDR_GLUE_EXPORT explicit RecordAssembler(ReaderLimits limits = {});

  // Takes stream bytes. Returns how many it used: all of them, unless the
  // stream has failed (see status()), after which it takes no more.
  // Throws std::bad_alloc if record storage (at most max_record per record
  // plus the records not yet taken) cannot be allocated.
  XDR_GLUE_EXPORT std::size_t feed(std::span<const char> bytes);

  // The input has ended. Between records the stream's status becomes
  // ENODATA (a clean end); inside a record, EPIPE (truncated), and the
  // partial record is discarded, never handed out.
  XDR_GLUE_EXPORT void end_of_input() noexcept;

  // The input failed for a reason outside the record format, for example
  // a read error: the status becomes `cause` (if no status was set yet)
  // and the partial record is discarded.
  XDR_GLUE_EXPORT void stop(std::error_code cause) noexcept;

  // Moves the oldest complete record into `record`. Returns:
  //   {}        a record was moved;
  //   EAGAIN    no complete record yet;
  //   otherwise the stream's final status, once every record completed
  //             before it has been taken: ENODATA (clean end), EPIPE
  //             (end of input inside a record), EMSGSIZE (record larger
  //             than max_record), EPROTO (more than max_fragments
  //             fragments), or the cause given to stop().
  XDR_GLUE_EXPORT std::error_code next(std::vector<char>& record);

  // {} while the stream is open, else its final status (see next()).
  std::error_code status() const noexcept { return status_; }
  bool has_record() const noexcept { return !ready_.empty(); }
  // Bytes on the wire (marks included) of the complete records not yet
  // taken: what a reader bounds to keep a fast sender from piling them up.
  std::size_t ready_wire_bytes() const noexcept { return ready_wire_bytes_; }
  // Memory reserved for the record being assembled; never above
  // max_record, and only as much as the marks received so far announce.
  std::size_t reserved_bytes() const noexcept { return record_.capacity(); }
  const ReaderLimits& limits() const noexcept { return limits_; }

private:
  struct ReadyRecord {
    std::vector<char> bytes;
    std::size_t wire_bytes = 0;
  };

  void begin_fragment(detail::FragmentMark mark);
  std::size_t take_fragment_bytes(const char* bytes, std::size_t size);
  void finish_fragment();
  void reserve_for(std::size_t more);
  void fail(std::error_code cause) noexcept;

  ReaderLimits limits_;
  detail::MarkCollector mark_;
  std::vector<char> record_;           // the record being assembled
  std::size_t announced_ = 0;          // its length so far, per its marks
  std::size_t fragments_ = 0;          // its fragments so far
  std::size_t fragment_remaining_ = 0; // bytes still due in this fragment
  bool in_fragment_ = false;           // between a mark and its last byte
  bool last_fragment_ = false;         // this fragment ends the record
  std::deque<ReadyRecord> ready_;
  std::size_t ready_wire_bytes_ = 0;
  std::error_code status_;
};

} // namespace xdr_glue

#endif // XDR_GLUE_RECORD_ASSEMBLER_HPP
