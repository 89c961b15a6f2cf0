// SPDX-License-Identifier: MIT
// trace.hpp - debug output: call traces and hex dumps (qio_util_debug).
#ifndef QIO_SRC_TRACE_HPP
#define QIO_SRC_TRACE_HPP

#include <sys/uio.h> // iovec

#include <fmt/format.h> // fmt::format_string, for TraceSink::print

#include <cstddef> // std::size_t
#include <string>  // std::string
#include <utility> // std::forward

#include "qio/engine.hpp"

namespace qio::detail {

// Where an engine's trace goes: one line at a time, without its newline,
// to the program's handler (qio_set_trace_handler,
// Engine::set_trace_handler), or to stderr while it has none.
class TraceSink {
public:
  void set_handler(TraceHandler handler, void* argument) noexcept {
    handler_ = handler;
    argument_ = argument;
  }
  void line(const char* text) const noexcept;
  template <class... Args>
  void print(fmt::format_string<Args...> format, Args&&... arguments) const {
    line(fmt::format(format, std::forward<Args>(arguments)...).c_str());
  }

private:
  TraceHandler handler_ = nullptr;
  void* argument_ = nullptr;
};

// Traces `bytes` in 16-byte lines: offset, hex, printable characters.
void hex_dump(const TraceSink& trace, const char* bytes, std::size_t length);
// The first `bytes` bytes held by `vectors`.
void hex_dump(const TraceSink& trace, const iovec* vectors, int count,
              std::size_t bytes);
const char* operation_name(Operation operation) noexcept;
// "ok" or the error's message, for one-line reports.
std::string error_text(const std::error_code& error);
void trace_completion(const TraceSink& trace, const Completion& completion);

} // namespace qio::detail

#endif // QIO_SRC_TRACE_HPP
