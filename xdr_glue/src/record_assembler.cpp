// SPDX-License-Identifier: MIT
// record_assembler.cpp - record-mark parsing and record reassembly.
//
// Every limit is checked when a mark arrives, before any byte of its
// fragment is stored, and storage grows only with the bytes that arrive,
// so a hostile peer can make us hold at most the records it really sent:
// a record in progress of at most max_record bytes and, when fed as a
// reader feeds (input_room() at a time), a buffer of at most max_record
// and storage_limit() in all.
#include "xdr_glue/record_assembler.hpp"
#include "error.hpp"

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

namespace {

// The first allocation: a few small records' worth, not one per byte.
constexpr std::size_t smallest_storage = 256;

} // namespace

void RecordStore::append(const char* bytes, std::size_t size) {
  make_room(size);
  bytes_.insert(bytes_.end(), bytes, bytes + size);
}

// The record in progress ends here. Its length fits 32 bits, since
// max_record is at most 0xffffffff.
void RecordStore::end_record() {
  lengths_.push_back(static_cast<std::uint32_t>(bytes_.size() - ready_end_));
  ready_end_ = bytes_.size();
  in_record_ = false;
}

void RecordStore::drop_partial() noexcept {
  bytes_.resize(ready_end_);
  in_record_ = false;
  if (!has_record()) {
    bytes_ = std::vector<char>();
    first_ = ready_end_ = 0;
  }
}

void RecordStore::take(std::vector<char>& record) {
  const std::uint32_t length = lengths_.front();
  const char* begin = bytes_.data() + first_;
  record.assign(begin, begin + length);
  first_ += length;
  lengths_.pop_front();
  after_take();
}

// Once no complete record is left: start over at the front if nothing is
// in progress, and give back a buffer that an oversized feed grew past the
// limit.
void RecordStore::after_take() {
  if (has_record())
    return;
  if (first_ == bytes_.size()) {
    bytes_.clear();
    first_ = ready_end_ = 0;
  }
  if (bytes_.capacity() > growth_limit_) {
    std::vector<char> partial(bytes_.begin() + static_cast<std::ptrdiff_t>(first_), bytes_.end());
    bytes_ = std::move(partial);
    first_ = ready_end_ = 0;
  }
}

// Taken records are dropped from the front before the buffer grows; it
// grows geometrically, but not past the limit while what it must hold fits
// within it.
void RecordStore::make_room(std::size_t more) {
  if (bytes_.size() + more <= bytes_.capacity())
    return;
  if (first_ > 0) {
    bytes_.erase(bytes_.begin(), bytes_.begin() + static_cast<std::ptrdiff_t>(first_));
    ready_end_ -= first_;
    first_ = 0;
  }
  const std::size_t needed = bytes_.size() + more;
  if (needed <= bytes_.capacity())
    return;
  std::size_t grown = std::max({needed, bytes_.capacity() * 2, smallest_storage});
  if (needed <= growth_limit_)
    grown = std::min(grown, growth_limit_);
  bytes_.reserve(grown);
}

} // namespace detail

namespace {

// XDR memory streams take a u_int size, so no record may be larger.
constexpr std::size_t largest_record = std::numeric_limits<std::uint32_t>::max();

ReaderLimits effective(ReaderLimits limits) noexcept {
  if (limits.max_record == 0)
    limits.max_record = default_max_record;
  limits.max_record = std::min(limits.max_record, largest_record);
  if (limits.max_empty_fragments == 0)
    limits.max_empty_fragments = default_max_empty_fragments;
  return limits;
}

} // namespace

// What input_room() admits holds at most max_record bytes of records (the
// lengths take 4 of the 8 for any second record), so that is where the
// buffer's geometric growth stops.
RecordAssembler::RecordAssembler(ReaderLimits limits)
    : limits_(effective(limits)), store_(limits_.max_record) {}

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
  if (mark.length == 0 && ++empty_fragments_ > limits_.max_empty_fragments)
    return fail(error_of(EPROTO));
  if (mark.length > limits_.max_record - announced_)
    return fail(error_of(EMSGSIZE));
  store_.start_record();
  announced_ += mark.length;
  fragment_remaining_ = mark.length;
  last_fragment_ = mark.last;
  in_fragment_ = true;
  if (fragment_remaining_ == 0)
    finish_fragment();
}

std::size_t RecordAssembler::take_fragment_bytes(const char* bytes, std::size_t size) {
  const std::size_t taken = std::min(size, fragment_remaining_);
  store_.append(bytes, taken);
  fragment_remaining_ -= taken;
  if (fragment_remaining_ == 0)
    finish_fragment();
  return taken;
}

void RecordAssembler::finish_fragment() {
  in_fragment_ = false;
  if (!last_fragment_)
    return;
  store_.end_record();
  announced_ = 0;
  empty_fragments_ = 0;
}

void RecordAssembler::end_of_input() noexcept {
  fail(error_of(record_in_progress() ? EPIPE : ENODATA));
}

void RecordAssembler::stop(std::error_code cause) noexcept { fail(cause); }

void RecordAssembler::fail(std::error_code cause) noexcept {
  if (status_)
    return;
  status_ = cause;
  store_.drop_partial(); // a partial record is never handed out
  in_fragment_ = false;
}

std::error_code RecordAssembler::next(std::vector<char>& record) {
  if (!store_.has_record())
    return status_ ? status_ : error_of(EAGAIN);
  store_.take(record);
  return {};
}

} // namespace xdr_glue
