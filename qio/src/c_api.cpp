// SPDX-License-Identifier: MIT
// c_api.cpp - the historical qio_* functions over one process-wide engine.
//
// Each function validates what only the C signature can get wrong (negative
// lengths and limits), then forwards. C ASTs are stored as they are, flagged
// as C, so queueing through this layer allocates no adapter per request.
// Like the C++ Engine, this layer sits directly on EngineState.
#include "qio/qio.h"

#include <fmt/format.h>

#include <cerrno> // errno values
#include <climits> // INT_MAX
#include <exception> // std::exception
#include <new>     // std::bad_alloc, placement new

#include "engine_state.hpp"
#include "error.hpp"
#include "trace.hpp"

int qio_util_debug = 0;

namespace {

using qio::detail::EngineState;

// The process-wide engine. Never destroyed: at exit, ASTs of requests still
// pending would otherwise run during static destruction, into torn-down
// objects. Built in static storage (its constructor allocates nothing, so
// it cannot fail) on first use, and found through a plain pointer, so the
// enqueue path tests one pointer instead of a guarded static.
alignas(EngineState) unsigned char process_engine_storage[sizeof(EngineState)];
EngineState* process_engine_state = nullptr;

[[gnu::cold, gnu::noinline]] EngineState& create_process_engine() noexcept {
  process_engine_state =
      new (process_engine_storage) EngineState(qio::detail::real_system_calls());
  return *process_engine_state;
}

// The engine, tracing as qio_util_debug says at this call.
inline EngineState& engine() noexcept {
  EngineState* state = process_engine_state;
  if (state == nullptr) [[unlikely]]
    state = &create_process_engine();
  const bool trace = qio_util_debug != 0;
  if (trace != state->tracing()) [[unlikely]]
    state->set_trace(trace);
  return *state;
}

} // namespace

namespace {

using qio::detail::CallbackAbi;
using qio::detail::StoredCallback;

int as_errno(const std::error_code& error) noexcept { return error.value(); }

int clamp_count(std::size_t count) noexcept {
  return count > static_cast<std::size_t>(INT_MAX) ? INT_MAX : static_cast<int>(count);
}

// Runs a C API call that may make system calls or allocate: errno is
// restored afterwards (the result is the error, errno stays the caller's),
// and no C++ exception crosses into C. Allocation failures leave the
// engine as it was (every step that allocates comes before any change).
template <class Call> int guarded(Call call) noexcept {
  const int saved_errno = errno;
  int result;
  try {
    result = call();
  } catch (const std::bad_alloc&) {
    result = ENOMEM;
  } catch (const std::exception&) {
    result = EIO; // output could not be formatted
  }
  errno = saved_errno;
  return result;
}

} // namespace

extern "C" {

int qio_init(void) {
  const int result = guarded([] {
    engine().terminate_all();
    return 0;
  });
  qio_util_debug = 0;
  return result;
}

int qio_configure(int channel, int nonblocking, int buffered, int max_outstanding) {
  if (max_outstanding == 0 || max_outstanding < -1)
    return EINVAL;
  qio::ChannelOptions options;
  options.nonblocking = nonblocking != 0;
  options.buffered = buffered != 0;
  if (max_outstanding > 0)
    options.max_outstanding = static_cast<std::size_t>(max_outstanding);
  // Limits and watermark have calls of their own and stay as they are.
  return guarded([&] {
    return as_errno(engine().configure(channel, options, EngineState::Settings::descriptor));
  });
}

int qio_read(int channel, char* buffer, int length, qio_ast_fn ast, void* ast_arg) {
  if (length < 0)
    return engine().find(channel) ? EINVAL : EBADF;
  return guarded([&] {
    return as_errno(engine().read(channel, {buffer, static_cast<std::size_t>(length)},
                                        StoredCallback::from(ast, ast_arg), CallbackAbi::c));
  });
}

int qio_seek(int channel, off_t offset, qio_ast_fn ast, void* ast_arg) {
  return guarded([&] {
    return as_errno(engine().seek(channel, offset, StoredCallback::from(ast, ast_arg),
                                        CallbackAbi::c));
  });
}

// Not guarded: the hot path makes no system call and cannot throw but for
// tracing, which guards itself.
int qio_write(int channel, const char* buffer, int length, qio_ast_fn ast, void* ast_arg) {
  if (length < 0)
    return engine().find(channel) ? EINVAL : EBADF;
  return engine().write<CallbackAbi::c>(channel, {buffer, static_cast<std::size_t>(length)},
                                       StoredCallback::from(ast, ast_arg));
}

int qio_flush(void) {
  return guarded([] {
    engine().flush_all();
    return 0;
  });
}

int qio_flushc(int channel) {
  return guarded([=] { return as_errno(engine().flush_one(channel)); });
}

int qio_pend(void) { return clamp_count(engine().pending()); }

int qio_pendc(int channel) { return clamp_count(engine().pending(channel)); }

int qio_term(void) {
  return guarded([] {
    engine().terminate_all();
    return 0;
  });
}

int qio_termc(int channel) {
  return guarded([=] { return as_errno(engine().terminate(channel)); });
}

void qio_ast(int error_code, int channel, int operation, char* buffer, int length,
             void* ast_arg) {
  const auto op = static_cast<qio::Operation>(operation);
  fmt::print(stderr, "qio_ast: channel {} {} completed: {}, length {}, buffer {}, argument {}\n",
             channel, qio::detail::operation_name(op),
             qio::detail::error_text(qio::detail::error_of(error_code)), length,
             static_cast<const void*>(buffer), ast_arg);
}

void qio_set_trace_handler(void (*handler)(const char* line, void* arg), void* arg) {
  guarded([=] {
    engine().set_trace_handler(handler, arg);
    return 0;
  });
}

int qio_dump(FILE* out) {
  return guarded([=] { return as_errno(engine().dump(out ? out : stdout)); });
}

int qio_prune(int channel) {
  return guarded([=] { return as_errno(engine().prune(channel)); });
}

int qio_wait(int channel, int timeout_ms) {
  return guarded([=] { return as_errno(engine().wait(channel, timeout_ms)); });
}

int qio_fdset(fd_set* write_mask) {
  if (write_mask == nullptr) {
    errno = EINVAL;
    return -1;
  }
  return engine().fill_fdset(*write_mask);
}

int qio_pollfds(struct pollfd* fds, int capacity) {
  if (capacity < 0 || (fds == nullptr && capacity > 0)) {
    errno = EINVAL;
    return -1;
  }
  return clamp_count(
      engine().fill_pollfds({fds, static_cast<std::size_t>(capacity)}));
}

// ---- flow control ------------------------------------------------------------

int qio_stat(int channel, struct qio_channel_stats* stats) {
  return guarded([=] {
    qio::ChannelStats figures;
    if (const std::error_code error = engine().stats(channel, figures))
      return as_errno(error);
    if (stats == nullptr)
      return EINVAL;
    stats->queued_bytes = figures.queued_bytes;
    stats->queued_requests = clamp_count(figures.queued_requests);
    stats->peak_queued_bytes = figures.peak_queued_bytes;
    stats->bytes_written = figures.bytes_written;
    stats->requests_completed = figures.requests_completed;
    stats->write_calls = figures.write_calls;
    stats->stalled_ms = figures.stalled_ms;
    return 0;
  });
}

int qio_setlimits(int channel, const struct qio_limits* limits) {
  return guarded([=] {
    if (engine().find(channel) == nullptr)
      return EBADF;
    if (limits == nullptr)
      return EINVAL;
    // The C API's 0 is "none".
    auto none_if_zero = [](std::size_t bytes) { return bytes == 0 ? qio::unlimited : bytes; };
    return as_errno(engine().set_limits(channel, none_if_zero(limits->max_queued_bytes),
                                        none_if_zero(limits->soft_queued_bytes), limits->soft_ms,
                                        limits->stall_ms));
  });
}

int qio_setlimit_total(size_t max_total_queued_bytes) {
  return guarded([=] {
    engine().set_total_limit(max_total_queued_bytes == 0 ? qio::unlimited
                                                         : max_total_queued_bytes);
    return 0;
  });
}

int qio_watermark(int channel, size_t high, size_t low, qio_water_fn fn, void* arg) {
  return guarded([=] {
    return as_errno(engine().set_watermark(
        channel, high, low, {reinterpret_cast<void (*)()>(fn), arg}, CallbackAbi::c));
  });
}

int qio_close(int channel, int timeout_ms, qio_ast_fn ast, void* ast_arg) {
  return guarded([=] {
    return as_errno(
        engine().close(channel, timeout_ms, StoredCallback::from(ast, ast_arg), CallbackAbi::c));
  });
}

int qio_set_interest(qio_interest_fn fn, void* arg) {
  return guarded([=] {
    engine().set_interest({reinterpret_cast<void (*)()>(fn), arg}, CallbackAbi::c);
    return 0;
  });
}

int qio_timeout_ms(void) {
  const int saved_errno = errno;
  const int result = engine().timeout_ms();
  errno = saved_errno;
  return result;
}

} // extern "C"
