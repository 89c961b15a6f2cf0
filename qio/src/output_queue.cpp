// SPDX-License-Identifier: MIT
// output_queue.cpp - packing, gathering and releasing a channel's bytes.
#include "output_queue.hpp"

#include <algorithm> // std::min, std::max
#include <new>       // std::nothrow

namespace qio::detail {
std::size_t BlockPool::size_index(std::size_t capacity) noexcept {
  std::size_t index = 0;
  while (index < size_count && (smallest_block << index) < capacity)
    ++index;
  return (smallest_block << index) == capacity ? index : size_count;
}

std::unique_ptr<char[]> BlockPool::take(std::size_t capacity) noexcept {
  const std::size_t index = size_index(capacity);
  if (index >= size_count || kept_[index] == 0)
    return {};
  return std::move(blocks_[index][--kept_[index]]);
}

void BlockPool::give(std::unique_ptr<char[]> block, std::size_t capacity) noexcept {
  const std::size_t index = size_index(capacity);
  if (index < size_count && kept_[index] < kept_per_size)
    blocks_[index][kept_[index]++] = std::move(block);
}

// Blocks start small so an idle channel holding one message costs little,
// and double up to the size one writev should move (about 64 KiB a call).
char* OutputQueue::start_block(std::size_t length) {
  next_block_capacity_ = std::clamp(next_block_capacity_ * 2, BlockPool::smallest_block,
                                    BlockPool::largest_block);
  // A write bigger than a block gets a block of its own, exactly its size,
  // which nothing else is packed into.
  const bool own_block = length > next_block_capacity_;
  const std::size_t capacity = own_block ? length : next_block_capacity_;
  std::unique_ptr<char[]> storage;
  if (!own_block && pool_ != nullptr)
    storage = pool_->take(capacity);
  if (!storage)
    storage.reset(new (std::nothrow) char[capacity]);
  if (!storage)
    return nullptr;
  Segment segment;
  segment.start = queued_position_;
  segment.data = storage.get();
  segment.size = length;
  segment.capacity = own_block ? 0 : capacity;
  segment.pool_size = own_block ? 0 : capacity;
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

int OutputQueue::gather(iovec* vectors, int max_vectors, std::uint64_t limit,
                        std::size_t* bytes) const {
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
  if (bytes != nullptr)
    *bytes = static_cast<std::size_t>(position - sent_position_);
  return filled;
}

void OutputQueue::advance_cursor() noexcept {
  while (cursor_segment_ < segments_.size()) {
    const Segment& segment = segments_[cursor_segment_];
    if (segment.start + segment.size > sent_position_ || &segment == appendable_tail_)
      break;
    ++cursor_segment_;
  }
}

void OutputQueue::mark_sent(std::uint64_t bytes) noexcept {
  sent_position_ += bytes;
  advance_cursor();
}

void OutputQueue::release_sent(std::vector<std::unique_ptr<char[]>>* park) {
  // A wholly sent tail block goes too: an idle channel holds no block.
  if (appendable_tail_ != nullptr && sent_position_ == queued_position_) {
    appendable_tail_ = nullptr;
    cursor_segment_ = segments_.size();
  }
  if (park != nullptr)
    park->reserve(park->size() + cursor_segment_); // the one step that may throw
  while (cursor_segment_ > 0) {
    Segment segment = segments_.pop_front();
    if (park != nullptr && segment.storage)
      park->push_back(std::move(segment.storage));
    else if (pool_ != nullptr && segment.pool_size != 0)
      pool_->give(std::move(segment.storage), segment.pool_size);
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

void OutputQueue::discard_all(std::vector<std::unique_ptr<char[]>>& dropped) {
  dropped.reserve(dropped.size() + segments_.size());
  while (!segments_.empty()) {
    Segment segment = segments_.pop_front();
    if (segment.storage)
      dropped.push_back(std::move(segment.storage));
  }
  cursor_segment_ = 0;
  next_block_capacity_ = 0;
  appendable_tail_ = nullptr;
  queued_position_ = sent_position_;
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
