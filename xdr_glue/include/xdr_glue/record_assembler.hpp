// SPDX-License-Identifier: MIT
// xdr_glue/record_assembler.hpp - reassembles RFC 5531 record-marked input
// from bytes delivered in pieces of any size, without doing any I/O.
//
// On the wire a record is one or more fragments, each a 4-byte big-endian
// mark (top bit: last fragment of the record; low 31 bits: length) followed
// by that many bytes. The assembler checks every limit before it allocates:
// the sum of a record's fragment lengths is compared with max_record when
// each mark arrives, so a mark announcing 0x7fffffff bytes allocates nothing.
// Any valid record within max_record is accepted, however many fragments
// it arrives in. The bytes of complete records and of the one in progress
// are kept back to back in one buffer, their lengths beside it, so what is
// held follows what was received, however small the records, and no
// allocation is larger than max_record. It depends on nothing but the
// standard library, so a fuzzer can build it on its own.
#ifndef XDR_GLUE_RECORD_ASSEMBLER_HPP
#define XDR_GLUE_RECORD_ASSEMBLER_HPP

#include <cstddef>      // std::size_t
#include <cstdint>      // std::uint32_t, record marks
#include <deque>        // std::deque, the lengths of complete records
#include <span>         // std::span, input bytes
#include <system_error> // std::error_code, the stream's status
#include <vector>       // std::vector, record storage

#include "xdr_glue/export.h" // XDR_GLUE_EXPORT, what libxdr_glue exports

namespace xdr_glue {

// The default and usual maximum record size: 1 MiB.
inline constexpr std::size_t default_max_record = 1024 * 1024;

// The default bound on zero-length fragments in one record.
inline constexpr std::size_t default_max_empty_fragments = 16;

// Bounds on one record. A zero in either field picks its default.
struct ReaderLimits {
  // Most bytes in one record, summed over its fragments (marks excluded).
  // Default default_max_record; values above 0xffffffff are lowered to it
  // because XDR memory streams count in 32 bits. Fragments that carry
  // bytes need no other bound: each brings at least one byte nearer.
  std::size_t max_record = default_max_record;
  // Most zero-length fragments in one record. They are legal but bring
  // the record no nearer its end, so without this bound a peer could keep
  // one record open forever, 4 bytes at a time. Default
  // default_max_empty_fragments.
  std::size_t max_empty_fragments = 0;
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
  std::size_t collected() const noexcept { return filled_; }
  FragmentMark mark() const noexcept;
  void clear() noexcept { filled_ = 0; }

private:
  unsigned char bytes_[record_mark_size] = {};
  std::size_t filled_ = 0;
};

// The bytes of complete records not yet taken, then those of the record
// being assembled, back to back in one buffer, and the complete records'
// lengths in a queue beside it (in blocks of 512 bytes): a record costs its
// bytes plus 4, however small, and no allocation of its own.
class RecordStore {
public:
  // The buffer grows geometrically up to `growth_limit`, and past it only
  // to what it must hold.
  explicit RecordStore(std::size_t growth_limit) noexcept : growth_limit_(growth_limit) {}

  void start_record() noexcept { in_record_ = true; }
  void append(const char* bytes, std::size_t size);
  void end_record();
  // Discards the record in progress (and frees the buffer if it held
  // nothing else).
  void drop_partial() noexcept;
  // Moves the oldest complete record into `record`; has_record() first.
  void take(std::vector<char>& record);

  bool in_record() const noexcept { return in_record_; }
  bool has_record() const noexcept { return !lengths_.empty(); }
  // The complete records' bytes, plus 4 for each.
  std::size_t ready_bytes() const noexcept {
    return ready_end_ - first_ + length_size * lengths_.size();
  }
  // The same with the record in progress.
  std::size_t live_bytes() const noexcept {
    return bytes_.size() - first_ + length_size * (lengths_.size() + (in_record_ ? 1 : 0));
  }
  std::size_t held_bytes() const noexcept {
    return bytes_.capacity() + length_size * lengths_.size();
  }

private:
  static constexpr std::size_t length_size = sizeof(std::uint32_t);
  void make_room(std::size_t more);
  void after_take();

  std::vector<char> bytes_;
  std::deque<std::uint32_t> lengths_; // of the complete records, oldest first
  std::size_t first_ = 0;             // where the oldest record not yet taken starts
  std::size_t ready_end_ = 0;         // where the complete records end
  bool in_record_ = false;            // a record has begun and not ended
  std::size_t growth_limit_;
};

} // namespace detail

class RecordAssembler {
public:
  XDR_GLUE_EXPORT explicit RecordAssembler(ReaderLimits limits = {});

  // Takes stream bytes. Returns how many it used: all of them, unless the
  // stream has failed (see status()), after which it takes no more.
  // Throws std::bad_alloc if record storage cannot be allocated. Feed at
  // most input_room() bytes at a time to keep held_bytes() within
  // storage_limit().
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
  //             than max_record), EPROTO (more than max_empty_fragments
  //             zero-length fragments), or the cause given to stop().
  XDR_GLUE_EXPORT std::error_code next(std::vector<char>& record);

  // {} while the stream is open, else its final status (see next()).
  std::error_code status() const noexcept { return status_; }
  bool has_record() const noexcept { return store_.has_record(); }
  // True from the first byte of a record's first mark to its last byte.
  bool record_in_progress() const noexcept { return store_.in_record() || mark_.started(); }
  // Bytes held for the complete records not yet taken: their bytes plus 4
  // each, never more than they took on the wire. What a reader bounds to
  // keep a fast sender from piling them up.
  std::size_t ready_bytes() const noexcept { return store_.ready_bytes(); }
  // Memory held for records (the buffer of their bytes, complete ones not
  // yet taken and the one in progress, and 4 bytes for each length): never
  // above storage_limit() while no feed is larger than input_room(), and
  // never above it once no complete record waits.
  std::size_t held_bytes() const noexcept { return store_.held_bytes(); }
  // 2 * max_record + 8: a buffer of at most max_record, and the lengths of
  // the records fed in at most input_room() bytes at a time.
  std::size_t storage_limit() const noexcept { return 2 * limits_.max_record + 8; }
  // How many bytes the next feed may bring without what is stored (each
  // record's bytes plus 4) passing max_record + 8: stored bytes never
  // outnumber the bytes fed, counting those of a mark still being
  // collected. So the buffer never outgrows max_record, and while no
  // complete record waits the room is never 0.
  std::size_t input_room() const noexcept {
    const std::size_t limit = limits_.max_record + 2 * detail::record_mark_size;
    const std::size_t taken = store_.live_bytes() + mark_.collected();
    return limit > taken ? limit - taken : 0;
  }
  const ReaderLimits& limits() const noexcept { return limits_; }

private:
  void begin_fragment(detail::FragmentMark mark);
  std::size_t take_fragment_bytes(const char* bytes, std::size_t size);
  void finish_fragment();
  void fail(std::error_code cause) noexcept;

  ReaderLimits limits_;
  detail::MarkCollector mark_;
  detail::RecordStore store_;
  std::size_t announced_ = 0;          // the record's length so far, per its marks
  std::size_t empty_fragments_ = 0;    // its zero-length fragments so far
  std::size_t fragment_remaining_ = 0; // bytes still due in this fragment
  bool in_fragment_ = false;           // between a mark and its last byte
  bool last_fragment_ = false;         // this fragment ends the record
  std::error_code status_;
};

} // namespace xdr_glue

#endif // XDR_GLUE_RECORD_ASSEMBLER_HPP
