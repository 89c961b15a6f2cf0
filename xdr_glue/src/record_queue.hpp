// SPDX-License-Identifier: MIT
// record_queue.hpp - the output side shared by the C and C++ writers: the
// buffers xdrrec hands its writer, queued on a qio channel with enough
// bookkeeping to prune whole records.
//
// xdrrec calls its writer with one buffer at a time: whole fragments, a
// record's end always at a buffer's end when records are ended with
// xdrrec_endofrecord(xdrs, TRUE). Each buffer becomes one "chunk": a copy
// of its bytes (xdrrec reuses its buffer as soon as the writer returns)
// queued as one qio write, so a chunk is queued entirely or not at all. A
// BoundaryTracker follows the record marks through the chunks to know
// which ones start and end at record boundaries; pruning uses that to drop
// only whole records that have not started to go out.
#ifndef XDR_GLUE_SRC_RECORD_QUEUE_HPP
#define XDR_GLUE_SRC_RECORD_QUEUE_HPP

#include <cstddef>      // std::size_t
#include <cstdint>      // std::uint64_t
#include <memory>       // std::shared_ptr, std::unique_ptr
#include <span>         // std::span
#include <system_error> // std::error_code

#include "xdr_glue/record_assembler.hpp" // detail::MarkCollector

namespace xdr_glue::detail {

class RecordQueue;

// One writer buffer queued as one qio write. The queue links its chunks in
// queue order; each chunk keeps its queue alive until it completes.
struct Chunk {
  std::shared_ptr<RecordQueue> owner;
  Chunk* previous = nullptr;
  Chunk* next = nullptr;
  std::unique_ptr<char[]> bytes;
  std::size_t size = 0;
  bool starts_at_boundary = false; // its first byte begins a record
  bool ends_at_boundary = false;   // its last byte ends a record
  std::size_t records_ended = 0;   // record ends inside it
  bool kept_by_prune = true;       // decided when a prune cancels it
  // Set by writers that must learn which of their records never went out
  // (the RPC client: each call's record carries its call's number); 0 for
  // none.
  std::uint64_t tag = 0;
  std::error_code unsent_error; // why a tagged chunk was not written
};

// A tagged chunk that completed without being written: by a write error,
// or cancelled other than by this queue's own prune.
struct UnsentRecord {
  std::uint64_t tag = 0;
  std::error_code error;
};

// Where chunks go: a qio::Engine, or the C API's process-wide engine.
class Transport {
public:
  virtual ~Transport() = default;
  // Queues the chunk's bytes as one write whose completion calls
  // RecordQueue::complete(&chunk, error). Nothing is queued on error.
  virtual std::error_code queue(int fd, Chunk& chunk) = 0;
  // Cancels the channel's requests except a write already partly sent
  // (qio's prune): their completions run, with ECANCELED, before it returns.
  virtual std::error_code prune(int fd) = 0;
};

// Follows the record marks of an outgoing stream to tell where records end.
class BoundaryTracker {
public:
  // Walks `size` bytes of the stream; returns how many records ended in them.
  std::size_t advance(const char* bytes, std::size_t size) noexcept;
  bool at_boundary() const noexcept { return !in_record_; }
  void reset() noexcept { *this = BoundaryTracker(); }

private:
  MarkCollector mark_;
  std::uint64_t fragment_remaining_ = 0;
  bool last_fragment_ = false;
  bool in_record_ = false;
};

class RecordQueue : public std::enable_shared_from_this<RecordQueue> {
public:
  RecordQueue(std::unique_ptr<Transport> transport, int fd) noexcept;
  ~RecordQueue();
  RecordQueue(const RecordQueue&) = delete;
  RecordQueue& operator=(const RecordQueue&) = delete;

  // The writer path: copies `bytes` and queues them as one chunk. On error
  // nothing is queued and the boundary tracking is as before, so xdrrec
  // may hand the same buffer again. Errors: ENOMEM, or the transport's
  // (EBADF, EAGAIN, the channel's sticky write error...).
  std::error_code accept(std::span<const char> bytes, std::uint64_t tag = 0);

  // Queues `body` as one whole record of one fragment, mark included, in
  // one chunk: it is queued entirely or not at all. Errors: EINVAL (body
  // longer than a fragment can be, 2 GiB - 1), or those of accept.
  std::error_code accept_record(std::span<const char> body, std::uint64_t tag);

  // Takes the oldest tagged chunk that was not written, if any: the
  // writer's bytes are already dropped, only its tag and error are left.
  // Such chunks wait here, holding no reference to the queue, until taken
  // or until the queue goes.
  bool take_unsent(UnsentRecord& unsent) noexcept;

  // Drops queued chunks holding only whole records that have not started
  // to go out; keeps the rest of a record already started and whatever the
  // writer has queued of a record it has not ended yet. Adds the number of
  // records dropped to `records_dropped`. Errors: the transport's prune
  // (EBADF), EBUSY when called from a completion of this prune.
  std::error_code prune(std::size_t& records_dropped);

  // A new XDR stream starts here, at a record boundary.
  void start_new_stream() noexcept { tracker_.reset(); }
  // Bytes queued and not yet written.
  std::size_t queued_bytes() const noexcept { return queued_bytes_; }
  // The heap those bytes take with their chunks and qio's bookkeeping of
  // each (heap_footprint.hpp): what a backlog really costs.
  std::size_t queued_memory() const noexcept;
  // The first error a write of this queue completed with (not ECANCELED),
  // or a failure to queue again after a prune.
  std::error_code write_error() const noexcept { return write_error_; }

  // Called by transports when a chunk's write completes.
  static void complete(Chunk* chunk, const std::error_code& error);

private:
  std::error_code enqueue(std::unique_ptr<Chunk> chunk);
  void link_last(Chunk& chunk) noexcept;
  void unlink(Chunk& chunk) noexcept;
  void set_aside_unsent(Chunk* chunk, const std::error_code& error) noexcept;
  void release(Chunk* chunk) noexcept;
  void settle_cancelled(Chunk* chunk);
  void plan_prune(Chunk* first_cancelled) noexcept;
  void note_write_error(const std::error_code& error) noexcept;

  std::unique_ptr<Transport> transport_;
  int fd_;
  BoundaryTracker tracker_;
  Chunk* first_ = nullptr; // oldest chunk still queued
  Chunk* last_ = nullptr;
  Chunk* unsent_first_ = nullptr; // tagged chunks not written, oldest first,
  Chunk* unsent_last_ = nullptr;  // linked through `next`
  std::size_t queued_bytes_ = 0;
  std::size_t queued_chunks_ = 0;
  std::error_code write_error_;
  bool pruning_ = false;
  bool prune_planned_ = false;
  std::size_t records_dropped_ = 0;
};

} // namespace xdr_glue::detail

#endif // XDR_GLUE_SRC_RECORD_QUEUE_HPP
