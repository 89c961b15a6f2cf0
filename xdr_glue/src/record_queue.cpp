// SPDX-License-Identifier: MIT
// record_queue.cpp - queueing writer buffers and pruning whole records.
#include "record_queue.hpp"
#include "error.hpp"
#include "heap_footprint.hpp"

#include <algorithm> // std::min
#include <cerrno>    // ECANCELED, EBUSY, ENOMEM
#include <cstring>   // std::memcpy
#include <new>       // std::bad_alloc

namespace xdr_glue::detail {
namespace {

// A chunk with room for `size` bytes, or nullptr when memory ran out.
std::unique_ptr<Chunk> allocate_chunk(std::size_t size, std::uint64_t tag) noexcept {
  try {
    auto chunk = std::make_unique<Chunk>();
    chunk->bytes = std::make_unique_for_overwrite<char[]>(size);
    chunk->size = size;
    chunk->tag = tag;
    return chunk;
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

} // namespace

// ---- boundary tracking -------------------------------------------------------

std::size_t BoundaryTracker::advance(const char* bytes, std::size_t size) noexcept {
  std::size_t records_ended = 0;
  std::size_t used = 0;
  while (used < size) {
    if (fragment_remaining_ > 0) {
      const std::size_t skipped =
          static_cast<std::size_t>(std::min<std::uint64_t>(fragment_remaining_, size - used));
      used += skipped;
      fragment_remaining_ -= skipped;
    } else {
      in_record_ = true;
      used += mark_.take(bytes + used, size - used);
      if (!mark_.complete())
        continue;
      const FragmentMark mark = mark_.mark();
      mark_.clear();
      fragment_remaining_ = mark.length;
      last_fragment_ = mark.last;
    }
    if (fragment_remaining_ == 0 && !mark_.started() && last_fragment_) {
      in_record_ = false;
      last_fragment_ = false;
      ++records_ended;
    }
  }
  return records_ended;
}

// ---- queueing -----------------------------------------------------------------

RecordQueue::RecordQueue(std::unique_ptr<Transport> transport, int fd) noexcept
    : transport_(std::move(transport)), fd_(fd) {}

// Chunks still queued own a reference to their queue, so none is left
// when this runs; only those set aside as unsent remain.
RecordQueue::~RecordQueue() {
  while (Chunk* chunk = unsent_first_) {
    unsent_first_ = chunk->next;
    delete chunk;
  }
}

std::error_code RecordQueue::accept(std::span<const char> bytes, std::uint64_t tag) {
  if (bytes.empty())
    return {};
  std::unique_ptr<Chunk> chunk = allocate_chunk(bytes.size(), tag);
  if (!chunk)
    return error_of(ENOMEM);
  std::memcpy(chunk->bytes.get(), bytes.data(), bytes.size());
  return enqueue(std::move(chunk));
}

std::error_code RecordQueue::accept_record(std::span<const char> body, std::uint64_t tag) {
  if (body.size() > fragment_length_mask)
    return error_of(EINVAL);
  std::unique_ptr<Chunk> chunk = allocate_chunk(record_mark_size + body.size(), tag);
  if (!chunk)
    return error_of(ENOMEM);
  const std::uint32_t mark = static_cast<std::uint32_t>(body.size()) | last_fragment_flag;
  for (std::size_t i = 0; i < record_mark_size; ++i)
    chunk->bytes[i] = static_cast<char>((mark >> (24 - 8 * i)) & 0xff);
  std::memcpy(chunk->bytes.get() + record_mark_size, body.data(), body.size());
  return enqueue(std::move(chunk));
}

std::error_code RecordQueue::enqueue(std::unique_ptr<Chunk> chunk) {
  chunk->owner = shared_from_this();
  const BoundaryTracker before = tracker_;
  chunk->starts_at_boundary = tracker_.at_boundary();
  chunk->records_ended = tracker_.advance(chunk->bytes.get(), chunk->size);
  chunk->ends_at_boundary = tracker_.at_boundary();
  if (const std::error_code refused = transport_->queue(fd_, *chunk)) {
    tracker_ = before;
    return refused;
  }
  queued_bytes_ += chunk->size;
  ++queued_chunks_;
  link_last(*chunk.release());
  return {};
}

// Each chunk is two allocations (the chunk and its bytes), rounded as
// malloc rounds them; the bytes are counted at their own size, a little
// under their allocation, which the chunk's share makes up for.
std::size_t RecordQueue::queued_memory() const noexcept {
  constexpr std::size_t per_chunk =
      heap_footprint(sizeof(Chunk)) + heap_footprint(0) + qio_write_bookkeeping;
  return queued_bytes_ + queued_chunks_ * per_chunk;
}

void RecordQueue::link_last(Chunk& chunk) noexcept {
  chunk.previous = last_;
  chunk.next = nullptr;
  (last_ ? last_->next : first_) = &chunk;
  last_ = &chunk;
}

void RecordQueue::unlink(Chunk& chunk) noexcept {
  (chunk.previous ? chunk.previous->next : first_) = chunk.next;
  (chunk.next ? chunk.next->previous : last_) = chunk.previous;
  chunk.previous = chunk.next = nullptr;
}

void RecordQueue::release(Chunk* chunk) noexcept {
  unlink(*chunk);
  queued_bytes_ -= chunk->size;
  --queued_chunks_;
  delete chunk;
}

void RecordQueue::note_write_error(const std::error_code& error) noexcept {
  if (!write_error_)
    write_error_ = error;
}

// The chunk's own reference may be the queue's last one: hold another
// until the bookkeeping is done.
void RecordQueue::complete(Chunk* chunk, const std::error_code& error) {
  const std::shared_ptr<RecordQueue> queue = chunk->owner;
  const bool cancelled = error == std::errc::operation_canceled;
  if (cancelled && queue->pruning_)
    return queue->settle_cancelled(chunk);
  if (error && !cancelled)
    queue->note_write_error(error);
  if (error && chunk->tag != 0)
    return queue->set_aside_unsent(chunk, error);
  queue->release(chunk);
}

// Keeps the chunk, without its bytes or its reference to this queue (a
// chunk the queue holds must not keep the queue alive), for take_unsent.
void RecordQueue::set_aside_unsent(Chunk* chunk, const std::error_code& error) noexcept {
  unlink(*chunk);
  queued_bytes_ -= chunk->size;
  --queued_chunks_;
  chunk->bytes.reset();
  chunk->unsent_error = error;
  (unsent_last_ ? unsent_last_->next : unsent_first_) = chunk;
  unsent_last_ = chunk;
  chunk->owner.reset(); // last: it may hold the caller's only reference
}

bool RecordQueue::take_unsent(UnsentRecord& unsent) noexcept {
  Chunk* const chunk = unsent_first_;
  if (chunk == nullptr)
    return false;
  unsent_first_ = chunk->next;
  if (unsent_first_ == nullptr)
    unsent_last_ = nullptr;
  unsent = {chunk->tag, chunk->unsent_error};
  delete chunk;
  return true;
}

// ---- pruning ------------------------------------------------------------------

std::error_code RecordQueue::prune(std::size_t& records_dropped) {
  if (pruning_)
    return error_of(EBUSY);
  const std::shared_ptr<RecordQueue> self = shared_from_this();
  pruning_ = true;
  prune_planned_ = false;
  records_dropped_ = 0;
  const std::error_code error = transport_->prune(fd_);
  pruning_ = false;
  records_dropped += records_dropped_;
  return error;
}

// qio cancels a suffix of the queue, completing it in queue order, so the
// first cancelled chunk and everything linked after it are the whole
// cancelled set: decide the fate of all of them at once.
//   1. If the first one continues a record already (partly) sent, keep
//      chunks up to the end of that record.
//   2. Drop everything from there up to the last chunk that ends a record:
//      whole records that have not started.
//   3. Keep the rest: the start of a record the writer has not ended.
void RecordQueue::plan_prune(Chunk* first_cancelled) noexcept {
  Chunk* chunk = first_cancelled;
  if (!chunk->starts_at_boundary) {
    for (bool record_open = true; chunk && record_open; chunk = chunk->next) {
      chunk->kept_by_prune = true;
      record_open = !chunk->ends_at_boundary;
    }
  }
  Chunk* last_whole = nullptr;
  for (Chunk* scan = chunk; scan; scan = scan->next)
    if (scan->ends_at_boundary)
      last_whole = scan;
  for (bool dropping = last_whole != nullptr; chunk; chunk = chunk->next) {
    chunk->kept_by_prune = !dropping;
    if (chunk == last_whole)
      dropping = false;
  }
}

// Called for each cancelled chunk, in queue order. A kept chunk moves to
// the end of the list and is queued again: after every cancelled chunk has
// passed through here, list order and qio's queue order agree again.
void RecordQueue::settle_cancelled(Chunk* chunk) {
  if (!prune_planned_) {
    plan_prune(chunk);
    prune_planned_ = true;
  }
  if (!chunk->kept_by_prune) {
    records_dropped_ += chunk->records_ended;
    release(chunk);
    return;
  }
  unlink(*chunk);
  link_last(*chunk);
  if (const std::error_code error = transport_->queue(fd_, *chunk)) {
    note_write_error(error); // the stream now lacks part of a record
    release(chunk);
  }
}

} // namespace xdr_glue::detail
