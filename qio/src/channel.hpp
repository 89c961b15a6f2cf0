// SPDX-License-Identifier: MIT
// channel.hpp - one configured descriptor: its settings and its queues.
#ifndef QIO_SRC_CHANNEL_HPP
#define QIO_SRC_CHANNEL_HPP

#include <sys/types.h> // off_t
#include <sys/uio.h>   // iovec

#include <algorithm>    // std::max
#include <cstddef>      // std::size_t
#include <cstdint>      // std::uint64_t
#include <system_error> // std::error_code

#include "callback.hpp"
#include "output_queue.hpp"
#include "system_calls.hpp"
#include "qio/engine.hpp"
#include "ring.hpp"
#include "write_queue.hpp"

namespace qio::detail {

// How the descriptor must be driven so that no call ever blocks. Only the
// channel driver (channel.cpp) decides anything by kind.
enum class DescriptorKind {
  socket,       // sendmsg/recv with MSG_DONTWAIT: full duplex
  regular_file, // always ready; reads, writes and seeks strictly in order
  pipe,         // pipe or FIFO: poll first unless O_NONBLOCK
  device,       // terminal or other character device: O_NONBLOCK per call
};

// A node of an intrusive, circular, doubly linked list, so a channel joins
// and leaves the engine's pending list in O(1) without allocating.
struct ListNode {
  ListNode* previous = this;
  ListNode* next = this;

  bool linked() const noexcept { return next != this; }
  void unlink() noexcept {
    previous->next = next;
    next->previous = previous;
    previous = next = this;
  }
  void link_before(ListNode& position) noexcept {
    previous = position.previous;
    next = &position;
    previous->next = this;
    position.previous = this;
  }
};

// What a write with a callback keeps until it completes.
struct WriteCallbackRecord {
  char* data = nullptr; // handed to the callback: the copy or caller's bytes
  StoredCallback callback;
};

// A queued read or seek. `writes_before` orders it among the writes: on a
// regular file it waits until that many writes have completed, and writes
// queued after it wait for it.
struct InputRequest {
  Operation operation = Operation::read;
  char* buffer = nullptr;
  std::size_t length = 0;
  off_t offset = 0;
  std::uint64_t writes_before = 0;
  std::uint64_t position_before = 0; // output stream position when queued
  StoredCallback callback;
  CallbackAbi abi = CallbackAbi::cpp;
};

// A channel is its own node in the engine's list of pending channels.
struct Channel : ListNode {
  explicit Channel(BlockPool* pool) noexcept : output(pool) {}

  int fd = -1;
  ChannelOptions options;
  bool has_limits = false; // either limit set: admit() must run
  // A buffered channel with no limit and no error: writes without a
  // callback may take the short path (EngineState::write_plain).
  bool plain_writes = false;
  DescriptorKind kind = DescriptorKind::pipe;
  bool descriptor_nonblocking = false; // O_NONBLOCK as of configure
  int access_mode = 0;                 // O_RDONLY, O_WRONLY or O_RDWR
  // A datagram or seqpacket socket: each write is one message, so a system
  // call may carry only one request's bytes.
  bool keeps_message_boundaries = false;

  OutputQueue output;
  WriteQueue writes;
  Ring<WriteCallbackRecord> write_callbacks;
  Ring<InputRequest> inputs;
  // Counted since configure; cancelled writes are taken back from
  // writes_queued, so the difference is the writes pending.
  std::uint64_t writes_queued = 0;
  std::uint64_t writes_completed = 0;
  std::uint64_t writes_at_last_idle = 0; // writes_queued when it last went idle
  int write_error = 0; // sticky hard write error (errno)
  // fail_queued_writes has run since write_error was set: every write still
  // queued was queued behind the failed one and fails too, even one with no
  // unsent byte (a zero-length write held behind a seek on a regular file).
  bool failing_writes = false;

  bool attached = true;     // false once terminated
  bool dispatching = false; // a flush of this channel is on the stack

  // Statistics (qio_stat), counted since the channel was made.
  std::uint64_t bytes_written = 0;
  std::uint64_t requests_completed = 0;
  std::uint64_t write_calls = 0;
  // Noted lazily (note_peak): unsent bytes only grow by writes, so the
  // highest value is seen before anything lowers them.
  std::size_t peak_queued_bytes = 0;

  // Flow control. Times are the engine clock's milliseconds; -1: not set.
  std::int64_t progress_ms = -1; // output pending since, or last byte moved
  std::int64_t soft_since_ms = -1; // above the soft limit since
  std::size_t high_water = 0;
  std::size_t low_water = 0;
  StoredCallback water_callback; // empty: no watermark
  CallbackAbi water_abi = CallbackAbi::cpp;
  bool above_high_water = false;
  bool wants_write = false; // what the interest handler was last told

  // Close after drain (Engine::close).
  bool closing = false;
  std::int64_t close_deadline_ms = -1;
  StoredCallback close_callback;
  CallbackAbi close_abi = CallbackAbi::cpp;

  std::size_t pending_writes() const noexcept {
    return static_cast<std::size_t>(writes_queued - writes_completed);
  }
  // A close counts as a request until its callback has run.
  std::size_t pending_requests() const noexcept {
    return pending_writes() + inputs.size() + (closing ? 1 : 0);
  }
  // Slots a request ring keeps however idle its channel: at most 80 KiB
  // for the three write rings.
  static constexpr std::size_t idle_ring_slots = 1024;
  // Called when the channel has no request left. A ring more than four
  // times larger than this busy spell needed, and than idle_ring_slots,
  // gives its storage back: a channel that had one large burst returns to
  // little the next time it goes idle, while one whose every tick queues
  // about as much never reallocates (trimming every ring at every idle
  // made a channel of 4,096 writes a tick regrow them: 17% more per
  // write).
  void trim_idle_storage() noexcept {
    // Cancelled writes are taken back from writes_queued.
    const std::uint64_t spell =
        writes_queued > writes_at_last_idle ? writes_queued - writes_at_last_idle : 0;
    writes_at_last_idle = writes_queued;
    const std::size_t kept = static_cast<std::size_t>(
        std::max<std::uint64_t>(idle_ring_slots, 4 * spell));
    output.trim(kept);
    writes.trim(kept);
    write_callbacks.trim(kept);
    inputs.trim(kept);
  }
  void note_peak() noexcept {
    if (output.unsent_bytes() > peak_queued_bytes)
      peak_queued_bytes = static_cast<std::size_t>(output.unsent_bytes());
  }
  // Limits the engine must check at each flush.
  bool has_timed_limits() const noexcept {
    return options.soft_queued_bytes != unlimited || options.stall_ms > 0 || closing;
  }
  // Where the front write's bytes start: every byte before it is complete.
  std::uint64_t completed_position() const noexcept { return writes.front_start(); }
  // `engine_watches_writes`: a total limit or an interest handler, which
  // must see every write.
  void update_plain_writes(bool engine_watches_writes) noexcept {
    plain_writes = options.buffered && !has_limits && write_error == 0 && !closing &&
                   !engine_watches_writes;
  }
  // Bytes of the write spanning [start, end) that reached the descriptor.
  std::uint64_t written_part(std::uint64_t start, std::uint64_t end) const noexcept {
    const std::uint64_t sent = output.sent_position();
    return sent <= start ? 0 : (sent >= end ? end - start : sent - start);
  }
};

// Outcome of one attempt at the descriptor.
struct IoResult {
  enum class Status { done, later, failed } status = Status::done;
  std::size_t bytes = 0;
  std::error_code error;
  bool called = true; // a system call was made (a not-ready pipe makes none)
};

// ---- the channel driver: every decision that depends on the kind -------

// Sends as much of `vectors` as the descriptor takes now, never blocking
// and never raising SIGPIPE.
IoResult transmit(SystemCalls& system, const Channel& channel,
                  const iovec* vectors, int count);
// Performs `request` (a read or seek) if the descriptor is ready.
IoResult perform_input(SystemCalls& system, const Channel& channel,
                       const InputRequest& request);
// Reads the descriptor's kind and O_NONBLOCK flag into `channel`.
std::error_code inspect_descriptor(SystemCalls& system, Channel& channel);
// How far one system call may send: on a regular file not past the first
// queued read or seek; on a message socket only the front write's bytes
// (so the engine completes each message before sending the next).
std::uint64_t output_limit(const Channel& channel) noexcept;
// On a regular file, reads and seeks wait for the writes queued before
// them, and writes queued after them wait in turn; elsewhere output and
// input are independent.
bool inputs_ordered_with_writes(const Channel& channel) noexcept;
// Whether a write that took less than offered means "full now" (not so on
// a regular file, which takes what it can at every call).
bool short_write_means_full(const Channel& channel) noexcept;
// Whether waiting for this channel needs poll(2) (a regular file is always
// ready).
bool waits_for_readiness(const Channel& channel) noexcept;
const char* kind_name(DescriptorKind kind) noexcept;

} // namespace qio::detail

#endif // QIO_SRC_CHANNEL_HPP
