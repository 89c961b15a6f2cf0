// SPDX-License-Identifier: MIT
// qio/engine.hpp - the C++ API: an Engine owns channels and their queues.
//
// The C API (qio/qio.h) is a thin layer over one process-wide Engine. Each
// Engine is independent and must be used from one thread at a time; several
// may run on several threads.
#ifndef QIO_ENGINE_HPP
#define QIO_ENGINE_HPP

#include <poll.h>       // pollfd, for Engine::fill_pollfds
#include <sys/select.h> // fd_set, for Engine::fill_fdset
#include <sys/types.h>  // off_t, for Engine::seek

#include <cstddef>      // std::size_t
#include <cstdint>      // std::uint64_t, for ChannelStats
#include <cstdio>       // std::FILE, for Engine::dump
#include <limits>       // std::numeric_limits, for "no limit" defaults
#include <memory>       // std::unique_ptr, the engine's private state
#include <span>         // std::span, request buffers
#include <system_error> // std::error_code, every fallible call

#include "qio/export.h" // QIO_EXPORT, what libqio exports

namespace qio {

namespace detail {
class SystemCalls;
class EngineState;
struct Seam;
} // namespace detail

// Operation codes; the values match QIO_READ, QIO_WRITE, QIO_SEEK and
// QIO_CLOSE (the completion of Engine::close).
enum class Operation { read = 1, write = 2, seek = 3, close = 4 };

// What a completion callback learns about its request.
struct Completion {
  std::error_code error; // empty on success; ECANCELED when removed
  int channel;           // the descriptor the request was queued on
  Operation operation;
  // The request's data: the caller's pointer (unbuffered writes, reads) or
  // the engine's copy (buffered writes), valid only during the callback.
  // nullptr for a zero-length buffered write and for seeks.
  char* buffer;
  std::size_t length; // bytes transferred (written part when cancelled)
};

// A completion callback: a plain function and an argument, so the engine
// never allocates to remember it. Callback::to(object) calls
// object.on_completion(const Completion&).
struct Callback {
  using Handler = void (*)(const Completion& completion, void* argument);
  Handler handler = nullptr;
  void* argument = nullptr;

  explicit operator bool() const noexcept { return handler != nullptr; }

  template <class Receiver> static Callback to(Receiver& receiver) noexcept {
    return Callback{[](const Completion& completion, void* target) {
                      static_cast<Receiver*>(target)->on_completion(completion);
                    },
                    &receiver};
  }
};

// Receives the engine's trace (set_trace) one line at a time, without its
// newline; `line` is valid during the call only. It must not throw, and
// must not call the engine that is tracing.
using TraceHandler = void (*)(const char* line, void* argument);

inline constexpr std::size_t unlimited = std::numeric_limits<std::size_t>::max();

// A watermark callback: runs with above_high true when the channel's queued
// bytes rise to the high mark or more, and false when they later fall to the
// low mark or less, strictly alternating and starting with a rise. Called
// from flush, wait and the cancelling calls, never from the call that
// queued. WaterCallback::to(object) calls
// object.on_water(channel, above_high, queued_bytes).
struct WaterCallback {
  using Handler = void (*)(int channel, bool above_high, std::size_t queued_bytes,
                           void* argument);
  Handler handler = nullptr;
  void* argument = nullptr;

  explicit operator bool() const noexcept { return handler != nullptr; }

  template <class Receiver> static WaterCallback to(Receiver& receiver) noexcept {
    return WaterCallback{[](int channel, bool above_high, std::size_t queued_bytes,
                            void* target) {
                           static_cast<Receiver*>(target)->on_water(channel, above_high,
                                                                    queued_bytes);
                         },
                         &receiver};
  }
};

// Told when a channel's unwritten output goes from none to some (true) and
// from some to none (false), so an epoll or libuv loop watches for
// writability only while it is needed. Not a completion: it may run inside
// write(), and must not call the engine.
using InterestHandler = void (*)(int channel, bool want_write, void* argument);

// Settings of a channel; configure() may change them for later requests.
struct ChannelOptions {
  bool nonblocking = true;  // set O_NONBLOCK on the descriptor
  bool buffered = true;     // copy written bytes at write()
  std::size_t max_outstanding = unlimited;  // most requests in the queue
  // Hard limit: a write that would take the unwritten bytes above it is
  // refused with EAGAIN (EMSGSIZE if it alone is larger), nothing queued.
  std::size_t max_queued_bytes = unlimited;
  // Soft limit: unwritten bytes above it at every flush for soft_ms (0: at
  // the first flush that sees it) fail the channel with ENOBUFS.
  std::size_t soft_queued_bytes = unlimited;
  int soft_ms = 0;
  // Output pending and not one byte moved for stall_ms fails the channel
  // with ETIMEDOUT; 0: never.
  int stall_ms = 0;
  // Watermarks: see WaterCallback; an empty callback means none.
  std::size_t high_water = 0;
  std::size_t low_water = 0;
  WaterCallback water{};
};

// A channel's figures, counted from the configure() that made it a channel.
struct ChannelStats {
  std::size_t queued_bytes = 0;         // accepted by write(), not yet written
  std::size_t queued_requests = 0;      // as pending(fd)
  std::size_t peak_queued_bytes = 0;    // highest queued_bytes so far
  std::uint64_t bytes_written = 0;
  std::uint64_t requests_completed = 0; // with or without a callback
  std::uint64_t write_calls = 0;        // write-family system calls made
  long stalled_ms = 0; // output pending and not one byte moved for this long
};

class Engine {
public:
  QIO_EXPORT Engine();
  // Cancels every pending request (callbacks get ECANCELED).
  QIO_EXPORT ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Makes open descriptor `fd` a channel or changes its options; clears a
  // sticky write error. Errors: EBADF (not open), EINVAL (a limit of 0).
  QIO_EXPORT std::error_code configure(int fd, const ChannelOptions& options);

  // Queues a write. Errors: EBADF (not a channel), EINVAL (null data with a
  // non-zero size, or a size the system could never write), EAGAIN (a limit
  // reached, nothing queued), ENOMEM, or the channel's sticky write error.
  QIO_EXPORT std::error_code write(int fd, std::span<const char> data,
                                   Callback callback = {});
  // Queues a read into `buffer` (kept until the callback). Completes with
  // at least one byte, or 0 bytes at end of file, or an error.
  QIO_EXPORT std::error_code read(int fd, std::span<char> buffer, Callback callback = {});
  // Queues a move to absolute `offset` (ESPIPE on a pipe or socket).
  QIO_EXPORT std::error_code seek(int fd, off_t offset, Callback callback = {});

  // Moves whatever the descriptors take now, never blocking; runs the
  // callbacks of completed requests in request order. flush() visits only
  // channels with pending work. flush(fd): EBADF if not a channel.
  QIO_EXPORT void flush();
  QIO_EXPORT std::error_code flush(int fd);
  // Flushes `fd`, polling for readiness, until nothing is pending on it or
  // `timeout_ms` passes (ETIMEDOUT); -1 means no limit.
  QIO_EXPORT std::error_code wait(int fd, int timeout_ms);

  QIO_EXPORT std::size_t pending() const noexcept;       // all channels, O(1)
  QIO_EXPORT std::size_t pending(int fd) const noexcept; // 0 if not a channel
  QIO_EXPORT bool is_channel(int fd) const noexcept;
  // The channel's options; EBADF if not a channel.
  QIO_EXPORT std::error_code options(int fd, ChannelOptions& out) const;

  // Cancels queued requests except a partly written write. EBADF.
  QIO_EXPORT std::error_code prune(int fd);
  // Removes a channel (or all): callbacks get ECANCELED; the descriptor is
  // left open and unchanged. terminate(fd): EBADF if not a channel.
  QIO_EXPORT std::error_code terminate(int fd);
  QIO_EXPORT void terminate();

  // Adds channels with pending output below FD_SETSIZE to `write_mask`;
  // returns the highest added + 1, or 0.
  QIO_EXPORT int fill_fdset(fd_set& write_mask) const noexcept;
  // Fills `fds` with channels that have pending output (POLLOUT), any
  // descriptor number; returns how many have it (more than fds.size()
  // means the span was too small and only its size were filled).
  QIO_EXPORT std::size_t fill_pollfds(std::span<pollfd> fds) const noexcept;
  // ---- flow control (docs/reference/qio_stat.md and the pages after it)
  // The channel's figures. EBADF if not a channel.
  QIO_EXPORT std::error_code stats(int fd, ChannelStats& out) const;
  // Bounds the unwritten bytes of all channels together: a write that
  // would pass it fails channels with ENOBUFS, the one holding the most
  // first, until it fits (their callbacks run from the next flush). A
  // write larger than the bound itself is EMSGSIZE. `unlimited`: none.
  QIO_EXPORT void set_total_limit(std::size_t max_total_queued_bytes) noexcept;
  // Closes after the queued output is written: from now on the channel
  // takes no request (EPIPE); its pending reads are cancelled; once every
  // write has completed a socket is shut down for writing, the descriptor
  // closed, the channel removed and `callback` called (Operation::close,
  // no error). If `timeout_ms` passes first (-1: never; 0: at the next
  // flush), the writes left fail with ETIMEDOUT, the descriptor is closed
  // and the callback gets ETIMEDOUT; terminate() gets it ECANCELED.
  // Errors: EBADF, EINVAL (timeout_ms < -1), EPIPE (already closing).
  QIO_EXPORT std::error_code close(int fd, int timeout_ms, Callback callback = {});
  // See InterestHandler; a null handler removes it.
  QIO_EXPORT void set_interest(InterestHandler handler, void* argument) noexcept;
  // Milliseconds until a soft limit, stall or close deadline needs a flush
  // (0: now); -1 when none is pending.
  QIO_EXPORT int timeout_ms() const;

  // Prints settings and queued requests; returns an error if `out` failed.
  QIO_EXPORT std::error_code dump(std::FILE* out) const;
  // Traces every call and completion to stderr with hex dumps of the data.
  QIO_EXPORT void set_trace(bool enabled) noexcept;
  // Sends the trace to `handler` (called with each line and `argument`)
  // instead of stderr; a null handler restores stderr.
  QIO_EXPORT void set_trace_handler(TraceHandler handler, void* argument) noexcept;

private:
  friend struct detail::Seam;
  // The engine makes every system call through `system_calls` (the
  // fault-injection tests pass one that injects faults); it must outlive
  // the engine. Internal: libqio does not export it.
  explicit Engine(detail::SystemCalls& system_calls);

  std::unique_ptr<detail::EngineState> state_;
};

} // namespace qio

#endif // QIO_ENGINE_HPP
