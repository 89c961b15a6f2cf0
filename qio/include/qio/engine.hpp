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
#include <cstdint>      // std::uint64_t, for ChannelOptions
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
struct CApi;
struct Seam;
} // namespace detail

// Operation codes; the values match QIO_READ, QIO_WRITE and QIO_SEEK.
enum class Operation { read = 1, write = 2, seek = 3 };

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

// Settings of a channel; configure() may change them for later requests.
struct ChannelOptions {
  bool nonblocking = true;  // set O_NONBLOCK on the descriptor
  bool buffered = true;     // copy written bytes at write()
  std::size_t max_outstanding = unlimited;  // most requests in the queue
  std::size_t max_queued_bytes = unlimited; // most unwritten bytes queued
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
  // Prints settings and queued requests; returns an error if `out` failed.
  QIO_EXPORT std::error_code dump(std::FILE* out) const;
  // Traces every call and completion to stderr with hex dumps of the data.
  QIO_EXPORT void set_trace(bool enabled) noexcept;
  // Sends the trace to `handler` (called with each line and `argument`)
  // instead of stderr; a null handler restores stderr.
  QIO_EXPORT void set_trace_handler(TraceHandler handler, void* argument) noexcept;

private:
  friend struct detail::CApi;
  friend struct detail::Seam;
  // The engine makes every system call through `system_calls` (the
  // fault-injection tests pass one that injects faults); it must outlive
  // the engine. Internal: libqio does not export it.
  explicit Engine(detail::SystemCalls& system_calls);

  std::unique_ptr<detail::EngineState> state_;
};

} // namespace qio

#endif // QIO_ENGINE_HPP
