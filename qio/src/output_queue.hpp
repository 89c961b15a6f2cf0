// SPDX-License-Identifier: MIT
// output_queue.hpp - a channel's unsent bytes, as one ordered byte stream.
//
// Every byte appended gets a stream position (0, 1, 2, ... since the
// channel was configured); requests remember where they end, so "is this
// request written?" is one comparison. Small copied writes are packed into
// shared blocks so one writev moves many of them; caller-owned buffers
// (unbuffered channels) are referenced in place.
#ifndef QIO_SRC_OUTPUT_QUEUE_HPP
#define QIO_SRC_OUTPUT_QUEUE_HPP

#include <sys/uio.h> // iovec

#include <cstddef> // std::size_t
#include <cstdint> // std::uint64_t
#include <cstring> // std::memcpy
#include <memory>  // std::unique_ptr
#include <vector>  // std::vector, storage dropped by truncate

#include "ring.hpp"

namespace qio::detail {

// Freed blocks of the standard sizes (512 B doubling to 64 KiB), kept for
// reuse so a channel that sends a little every tick neither allocates nor
// frees a block each time. Bounded: a few blocks of each size per engine.
class BlockPool {
public:
  static constexpr std::size_t smallest_block = 512;
  static constexpr std::size_t largest_block = 64 * 1024;

  // A kept block of exactly `capacity` bytes, or an empty pointer.
  std::unique_ptr<char[]> take(std::size_t capacity) noexcept;
  // Keeps `block` (of `capacity` bytes) if there is room, else frees it.
  void give(std::unique_ptr<char[]> block, std::size_t capacity) noexcept;

private:
  static constexpr std::size_t size_count = 8;     // 512 B doubling to 64 KiB
  static constexpr std::size_t kept_per_size = 4;
  static std::size_t size_index(std::size_t capacity) noexcept;

  std::unique_ptr<char[]> blocks_[size_count][kept_per_size];
  std::size_t kept_[size_count] = {};
};

class OutputQueue {
public:
  // Blocks come from and go back to `pool` when given (it must outlive the
  // queue); without one they are simply allocated and freed.
  explicit OutputQueue(BlockPool* pool = nullptr) noexcept : pool_(pool) {}

  // Position just past the last byte appended.
  std::uint64_t queued_position() const noexcept { return queued_position_; }
  // Position just past the last byte sent (or discarded).
  std::uint64_t sent_position() const noexcept { return sent_position_; }
  std::uint64_t unsent_bytes() const noexcept {
    return queued_position_ - sent_position_;
  }

  // Copies `length` bytes in; returns the copy (stable until released by
  // release_sent after it is sent), or nullptr if `length` is 0 or memory
  // ran out. Inline: this is the enqueue hot path.
  char* append_copy(const char* data, std::size_t length) {
    char* copy = room_in_tail_block(length);
    if (copy == nullptr && (length == 0 || (copy = start_block(length)) == nullptr))
      return nullptr;
    std::memcpy(copy, data, length);
    queued_position_ += length;
    return copy;
  }
  // Claims `length` bytes at the end of the tail block for the caller to
  // fill, if it has room (a zero-length claim too); else returns nullptr
  // and changes nothing. The shortest path a write takes.
  char* claim_in_tail(std::size_t length) noexcept {
    Segment* tail = appendable_tail_;
    if (tail == nullptr || tail->capacity - tail->size < length)
      return nullptr;
    char* room = tail->data + tail->size;
    tail->size += length;
    queued_position_ += length;
    return room;
  }
  // Queues the caller's own bytes, which must stay valid until sent.
  void append_reference(char* data, std::size_t length);

  // Fills up to `max_vectors` iovecs with unsent bytes before `limit`;
  // returns how many it filled and, if `bytes` is given, their total length.
  int gather(iovec* vectors, int max_vectors, std::uint64_t limit,
             std::size_t* bytes = nullptr) const;
  // Marks `bytes` more as sent. Their storage stays until release_sent, so
  // completion callbacks can still be handed a pointer to them.
  void mark_sent(std::uint64_t bytes) noexcept;
  // Frees every segment that is wholly sent, or, given `park`, moves their
  // storage there (a callback further up the stack may still hold a
  // pointer into it).
  void release_sent(std::vector<std::unique_ptr<char[]>>* park = nullptr);
  // Treats bytes before `position` (<= queued_position) as sent without
  // sending them: the bytes of writes that failed.
  void skip_to(std::uint64_t position) noexcept;
  // Drops unsent bytes at and after `position` (>= sent_position). Storage
  // of dropped segments moves to `dropped`, so pointers already handed out
  // stay valid while the caller holds it; the tail block takes no more
  // appends, so its dropped bytes are not overwritten either.
  void truncate(std::uint64_t position,
                std::vector<std::unique_ptr<char[]>>& dropped);
  // Drops every byte not yet sent and lets go of every segment, sent ones
  // too, moving their storage to `dropped` (pointers handed out stay valid
  // while the caller holds it): the queue of a failed channel.
  void discard_all(std::vector<std::unique_ptr<char[]>>& dropped);
  // See Ring::trim; the queue must hold no segment.
  void trim(std::size_t kept_slots) noexcept { segments_.trim(kept_slots); }
  // Number of segments (blocks and references) currently held.
  std::size_t segment_count() const noexcept { return segments_.size(); }

private:
  struct Segment {
    std::uint64_t start = 0;  // stream position of data[0]
    char* data = nullptr;
    std::size_t size = 0;     // bytes queued in it
    std::size_t capacity = 0; // bytes it may hold (0: not appendable)
    std::size_t pool_size = 0; // a standard block's size, returned to the pool
    std::unique_ptr<char[]> storage; // owned block, or empty for references
  };

  // Claims `length` bytes at the end of the tail block, if it has room.
  // The send cursor never moves past the tail block (advance_cursor), so a
  // tail that was wholly sent needs nothing more to hold unsent bytes again.
  char* room_in_tail_block(std::size_t length) noexcept {
    Segment* tail = appendable_tail_;
    if (tail == nullptr || length == 0 || tail->capacity - tail->size < length)
      return nullptr;
    char* room = tail->data + tail->size;
    tail->size += length;
    return room;
  }
  char* start_block(std::size_t length);
  void advance_cursor() noexcept;

  BlockPool* pool_;
  Ring<Segment> segments_;
  std::uint64_t queued_position_ = 0;
  std::uint64_t sent_position_ = 0;
  // Index of the segment holding sent_position_: the first not wholly
  // sent, or the appendable tail, or segments_.size() when all are sent.
  std::size_t cursor_segment_ = 0;
  std::size_t next_block_capacity_ = 0;
  // The tail segment if more bytes may be packed into it, else nullptr.
  Segment* appendable_tail_ = nullptr;
};

} // namespace qio::detail

#endif // QIO_SRC_OUTPUT_QUEUE_HPP
