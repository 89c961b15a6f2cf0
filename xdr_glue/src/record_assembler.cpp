// SPDX-License-Identifier: MIT
// record_assembler.cpp - record-mark parsing and record reassembly.
//
// Every limit is checked when a mark arrives, before any byte of its
// fragment is stored, and storage grows only up to what the marks so far
// announce, so a hostile peer can make us hold at most max_record bytes.
#include "xdr_glue/record_assembler.hpp"

#include <algorithm> // std::min, std::max
#include <cerrno>    // EAGAIN, EMSGSIZE, ...
#include <cstring>   // std::memcpy
#include <limits>    // std::numeric_limits

namespace xdr_glue {
namespace detail {

std::size_t MarkCollector::take(const char* bytes, std::size_t size) noexcept {
  const std::size_t taken = std::min(size, record_mark_size - filled_);
  std::memcpy(bytes_ + filled_, bytes, taken);
  filled_ += taken;
  return taken;
}

FragmentMark MarkCollector::mark() const noexcept {
  const std::uint32_t word = (std::uint32_t{bytes_[0]} << 24) |
                             (std::uint32_t{bytes_[1]} << 16) |
                             (std::uint32_t{bytes_[2]} << 8) | std::uint32_t{bytes_[3]};
  return {word & fragment_length_mask, (word & last_fragment_flag) != 0};
}

} // namespace detail

namespace {

std::error_code error_of(int value) noexcept { return {value, std::generic_category()}; }

// XDR memory streams take a u_int size, so no record may be larger.
constexpr std::size_t largest_record = std::numeric_limits<std::uint32_t>::max();
constexpr std::size_t minimum_fragment_bound = 4096;
constexpr std::size_t bytes_per_fragment_allowed = 256;

ReaderLimits effective(ReaderLimits limits) noexcept {
  if (limits.max_record == 0)
    limits.max_record = default_max_record;
  limits.max_record = std::min(limits.max_record, largest_record);
  if (limits.max_fragments == 0)
    limits.max_fragments =
        std::max(minimum_fragment_bound, limits.max_record / bytes_per_fragment_allowed);
  return limits;
}

} // namespace

RecordAssembler::RecordAssembler(ReaderLimits limits) : limits_(effective(limits)) {}

std::size_t RecordAssembler::feed(std::span<const char> bytes) {
  std::size_t used = 0;
  while (used < bytes.size() && !status_) {
    const char* position = bytes.data() + used;
    const std::size_t left = bytes.size() - used;
    if (in_fragment_) {
      used += take_fragment_bytes(position, left);
    } else {
      used += mark_.take(position, left);
      if (mark_.complete())
        begin_fragment(mark_.mark());
    }
  }
  return used;
}

// Checks the new fragment against both limits before storing anything.
void RecordAssembler::begin_fragment(detail::FragmentMark mark) {
  mark_.clear();
  if (++fragments_ > limits_.max_fragments)
    return fail(error_of(EPROTO));
  if (mark.length > limits_.max_record - announced_)
    return fail(error_of(EMSGSIZE));
  announced_ += mark.length;
  fragment_remaining_ = mark.length;
  last_fragment_ = mark.last;
  in_fragment_ = true;
  if (fragment_remaining_ == 0)
    finish_fragment();
}

std::size_t RecordAssembler::take_fragment_bytes(const char* bytes, std::size_t size) {
  const std::size_t taken = std::min(size, fragment_remaining_);
  reserve_for(taken);
  record_.insert(record_.end(), bytes, bytes + taken);
  fragment_remaining_ -= taken;
  if (fragment_remaining_ == 0)
    finish_fragment();
  return taken;
}

void RecordAssembler::finish_fragment() {
  in_fragment_ = false;
  if (!last_fragment_)
    return;
  const std::size_t wire_bytes = record_.size() + fragments_ * detail::record_mark_size;
  ready_.push_back({std::move(record_), wire_bytes});
  ready_wire_bytes_ += wire_bytes;
  record_ = std::vector<char>();
  announced_ = 0;
  fragments_ = 0;
}

// Grows geometrically, but never past what the marks have announced: the
// capacity stays within max_record whatever the peer sends.
void RecordAssembler::reserve_for(std::size_t more) {
  const std::size_t needed = record_.size() + more;
  if (needed <= record_.capacity())
    return;
  const std::size_t grown = std::max(needed, record_.capacity() * 2);
  record_.reserve(std::min(grown, announced_));
}

void RecordAssembler::end_of_input() noexcept {
  const bool inside_record = in_fragment_ || mark_.started() || fragments_ > 0;
  fail(error_of(inside_record ? EPIPE : ENODATA));
}

void RecordAssembler::stop(std::error_code cause) noexcept { fail(cause); }

void RecordAssembler::fail(std::error_code cause) noexcept {
  if (status_)
    return;
  status_ = cause;
  record_ = std::vector<char>(); // a partial record is never handed out
  in_fragment_ = false;
}

std::error_code RecordAssembler::next(std::vector<char>& record) {
  if (ready_.empty())
    return status_ ? status_ : error_of(EAGAIN);
  ReadyRecord& front = ready_.front();
  record = std::move(front.bytes);
  ready_wire_bytes_ -= front.wire_bytes;
  ready_.pop_front();
  return {};
}

} // namespace xdr_glue
