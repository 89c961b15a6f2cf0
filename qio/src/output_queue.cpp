// output_queue.cpp - packing, gathering and releasing a channel's bytes.
#include "output_queue.hpp"

#include <algorithm> // std::min, std::max
#include <new>       // std::nothrow

namespace qio::detail {
namespace {

// Blocks start small so an idle channel holding one message costs little,
// and double up to the size one writev should move (about 64 KiB a call).
constexpr std::size_t smallest_block = 4 * 1024;
constexpr std::size_t largest_block = 64 * 1024;

} // namespace

char* OutputQueue::start_block(std::size_t length) {
  next_block_capacity_ = std::clamp(next_block_capacity_ * 2, smallest_block,
                                    largest_block);
  // A write bigger than a block gets a block of its own, exactly its size,
  // which nothing else is packed into.
  const bool own_block = length > next_block_capacity_;
  const std::size_t capacity = own_block ? length : next_block_capacity_;
  std::unique_ptr<char[]> storage(new (std::nothrow) char[capacity]);
  if (!storage)
    return nullptr;
  Segment segment;
  segment.start = queued_position_;
  segment.data = storage.get();
  segment.size = length;
  segment.capacity = own_block ? 0 : capacity;
  segment.storage = std::move(storage);
  segments_.push_back(std::move(segment));
  appendable_tail_ = own_block ? nullptr : &segments_.back();
  return segments_.back().data;
}

void OutputQueue::append_reference(char* data, std::size_t length) {
  if (length == 0)
    return;
  Segment segment;
  segment.start = queued_position_;
  segment.data = data;
  segment.size = length;
  segments_.push_back(std::move(segment));
  appendable_tail_ = nullptr; // also: the ring may have moved its elements
  queued_position_ += length;
}

int OutputQueue::gather(iovec* vectors, int max_vectors,
                        std::uint64_t limit) const {
  limit = std::min(limit, queued_position_);
  std::uint64_t position = sent_position_;
  int filled = 0;
  for (std::size_t index = cursor_segment_;
       index < segments_.size() && filled < max_vectors && position < limit;
       ++index) {
    const Segment& segment = segments_[index];
    const std::uint64_t offset = position - segment.start;
    const std::uint64_t end = std::min<std::uint64_t>(segment.start + segment.size, limit);
    if (end <= position)
      continue;
    vectors[filled].iov_base = segment.data + offset;
    vectors[filled].iov_len = static_cast<std::size_t>(end - position);
    position = end;
    ++filled;
  }
  return filled;
}

void OutputQueue::advance_cursor() noexcept {
  while (cursor_segment_ < segments_.size()) {
    const Segment& segment = segments_[cursor_segment_];
    if (segment.start + segment.size > sent_position_)
      break;
    ++cursor_segment_;
  }
}

void OutputQueue::mark_sent(std::uint64_t bytes) noexcept {
  sent_position_ += bytes;
  advance_cursor();
}

void OutputQueue::release_sent() noexcept {
  while (cursor_segment_ > 0) {
    segments_.pop_front();
    --cursor_segment_;
  }
  if (segments_.empty()) {
    next_block_capacity_ = 0;
    appendable_tail_ = nullptr;
  }
}

void OutputQueue::skip_to(std::uint64_t position) noexcept {
  if (position > sent_position_)
    sent_position_ = position;
  advance_cursor();
}

void OutputQueue::truncate(std::uint64_t position,
                           std::vector<std::unique_ptr<char[]>>& dropped) {
  while (segments_.size() > cursor_segment_ &&
         segments_.back().start >= position) {
    Segment segment = segments_.pop_back();
    if (segment.storage)
      dropped.push_back(std::move(segment.storage));
  }
  if (!segments_.empty()) {
    Segment& tail = segments_.back();
    if (tail.start + tail.size > position)
      tail.size = static_cast<std::size_t>(position - tail.start);
    tail.capacity = 0;
  }
  appendable_tail_ = nullptr;
  queued_position_ = position;
  advance_cursor();
}

} // namespace qio::detail
