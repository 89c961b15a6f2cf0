// SPDX-License-Identifier: MIT
// channel.hpp - one configured descriptor: its settings and its queues.
#ifndef QIO_SRC_CHANNEL_HPP
#define QIO_SRC_CHANNEL_HPP

#include <sys/types.h> // off_t
#include <sys/uio.h>   // iovec

#include <cstddef>      // std::size_t
#include <cstdint>      // std::uint64_t
#include <system_error> // std::error_code

#include "callback.hpp"
#include "output_queue.hpp"
#include "system_calls.hpp"
#include "qio/engine.hpp"
#include "ring.hpp"

namespace qio::detail {

// How the descriptor must be driven so that no call ever blocks.
enum class DescriptorKind {
  socket,       // sendmsg/recv with MSG_DONTWAIT: full duplex
  regular_file, // always ready; reads, writes and seeks strictly in order
  stream,       // pipe, FIFO, terminal...: poll first unless O_NONBLOCK
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

// A queued write is 8 bytes: the stream position where its bytes end, with
// two flag bits. Writes with a callback also have a WriteCallbackRecord.
inline constexpr std::uint64_t write_has_callback = 1ull << 63;
inline constexpr std::uint64_t write_callback_is_c = 1ull << 62;
inline constexpr std::uint64_t write_end_mask = write_callback_is_c - 1;

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
  DescriptorKind kind = DescriptorKind::stream;
  bool descriptor_nonblocking = false; // O_NONBLOCK as of configure
  int access_mode = 0;                 // O_RDONLY, O_WRONLY or O_RDWR
  // A datagram or seqpacket socket: each write is one message, so a system
  // call may carry only one request's bytes.
  bool keeps_message_boundaries = false;

  OutputQueue output;
  Ring<std::uint64_t> write_ends;
  Ring<WriteCallbackRecord> write_callbacks;
  Ring<InputRequest> inputs;
  std::uint64_t writes_queued = 0;
  std::uint64_t completed_position = 0; // where the front write's bytes start
  int write_error = 0;                  // sticky hard write error (errno)
  // fail_queued_writes has run since write_error was set: every write still
  // queued was queued behind the failed one and fails too, even one with no
  // unsent byte (a zero-length write held behind a seek on a regular file).
  bool failing_writes = false;

  bool attached = true;     // false once terminated
  bool dispatching = false; // a flush of this channel is on the stack

  std::size_t pending_requests() const noexcept {
    return write_ends.size() + inputs.size();
  }
  std::uint64_t writes_completed() const noexcept {
    return writes_queued - write_ends.size();
  }
  // How far one system call may send: on a regular file not past the first
  // queued read or seek; on a message socket not past the first unsent
  // request's end.
  std::uint64_t output_limit() const noexcept {
    if (kind == DescriptorKind::regular_file && !inputs.empty())
      return inputs.front().position_before;
    if (keeps_message_boundaries) {
      for (std::size_t i = 0; i < write_ends.size(); ++i) {
        const std::uint64_t end = write_ends[i] & write_end_mask;
        if (end > output.sent_position())
          return end;
      }
    }
    return output.queued_position();
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
};

// Sends as much of `vectors` as the descriptor takes now, never blocking
// and never raising SIGPIPE.
IoResult transmit(SystemCalls& system, const Channel& channel,
                  const iovec* vectors, int count);
// Performs `request` (a read or seek) if the descriptor is ready.
IoResult perform_input(SystemCalls& system, const Channel& channel,
                       const InputRequest& request);
// Reads the descriptor's kind and O_NONBLOCK flag into `channel`.
std::error_code inspect_descriptor(SystemCalls& system, Channel& channel);

} // namespace qio::detail

#endif // QIO_SRC_CHANNEL_HPP
