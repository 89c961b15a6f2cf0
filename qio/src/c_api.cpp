// SPDX-License-Identifier: MIT
// c_api.cpp - the historical qio_* functions over one process-wide Engine.
//
// Each function validates what only the C signature can get wrong (negative
// lengths and limits), then forwards. C ASTs are stored as they are, flagged
// as C, so queueing through this layer allocates no adapter per request.
#include "qio/qio.h"

#include <fmt/format.h>

#include <cerrno> // errno values
#include <climits> // INT_MAX
#include <exception> // std::exception
#include <new>     // std::bad_alloc

#include "engine_state.hpp"
#include "trace.hpp"

int qio_util_debug = 0;

namespace qio::detail {

struct CApi {
  // The engine is never destroyed: at exit, ASTs of requests still pending
  // would otherwise run during static destruction, into torn-down objects.
  static EngineState& engine() {
    static Engine* const process_engine = new Engine();
    EngineState& state = *process_engine->state_;
    state.set_trace(qio_util_debug != 0);
    return state;
  }
};

} // namespace qio::detail

namespace {

using qio::detail::CallbackAbi;
using qio::detail::CApi;
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
    CApi::engine().terminate_all();
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
  return guarded([&] { return as_errno(CApi::engine().configure(channel, options)); });
}

int qio_read(int channel, char* buffer, int length, qio_ast_fn ast, void* ast_arg) {
  if (length < 0)
    return CApi::engine().find(channel) ? EINVAL : EBADF;
  return guarded([&] {
    return as_errno(CApi::engine().read(channel, {buffer, static_cast<std::size_t>(length)},
                                        StoredCallback::from(ast, ast_arg), CallbackAbi::c));
  });
}

int qio_seek(int channel, off_t offset, qio_ast_fn ast, void* ast_arg) {
  return guarded([&] {
    return as_errno(CApi::engine().seek(channel, offset, StoredCallback::from(ast, ast_arg),
                                        CallbackAbi::c));
  });
}

// Not guarded: the hot path makes no system call and cannot throw but for
// tracing, which guards itself.
int qio_write(int channel, const char* buffer, int length, qio_ast_fn ast, void* ast_arg) {
  if (length < 0)
    return CApi::engine().find(channel) ? EINVAL : EBADF;
  return CApi::engine().write(channel, {buffer, static_cast<std::size_t>(length)},
                              StoredCallback::from(ast, ast_arg), CallbackAbi::c);
}

int qio_flush(void) {
  return guarded([] {
    CApi::engine().flush_all();
    return 0;
  });
}

int qio_flushc(int channel) {
  return guarded([=] { return as_errno(CApi::engine().flush_one(channel)); });
}

int qio_pend(void) { return clamp_count(CApi::engine().pending()); }

int qio_pendc(int channel) { return clamp_count(CApi::engine().pending(channel)); }

int qio_term(void) {
  return guarded([] {
    CApi::engine().terminate_all();
    return 0;
  });
}

int qio_termc(int channel) {
  return guarded([=] { return as_errno(CApi::engine().terminate(channel)); });
}

void qio_ast(int error_code, int channel, int operation, char* buffer, int length,
             void* ast_arg) {
  const auto op = static_cast<qio::Operation>(operation);
  fmt::print(stderr, "qio_ast: channel {} {} completed: {}, length {}, buffer {}, argument {}\n",
             channel, qio::detail::operation_name(op),
             qio::detail::error_text({error_code, std::generic_category()}), length,
             static_cast<const void*>(buffer), ast_arg);
}

void qio_set_trace_handler(void (*handler)(const char* line, void* arg), void* arg) {
  guarded([=] {
    CApi::engine().set_trace_handler(handler, arg);
    return 0;
  });
}

int qio_dump(FILE* out) {
  return guarded([=] { return as_errno(CApi::engine().dump(out ? out : stdout)); });
}

int qio_prune(int channel) {
  return guarded([=] { return as_errno(CApi::engine().prune(channel)); });
}

int qio_wait(int channel, int timeout_ms) {
  return guarded([=] { return as_errno(CApi::engine().wait(channel, timeout_ms)); });
}

int qio_fdset(fd_set* write_mask) {
  if (write_mask == nullptr) {
    errno = EINVAL;
    return -1;
  }
  return CApi::engine().fill_fdset(*write_mask);
}

int qio_pollfds(struct pollfd* fds, int capacity) {
  if (capacity < 0 || (fds == nullptr && capacity > 0)) {
    errno = EINVAL;
    return -1;
  }
  return clamp_count(
      CApi::engine().fill_pollfds({fds, static_cast<std::size_t>(capacity)}));
}

} // extern "C"
