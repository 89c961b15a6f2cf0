// SPDX-License-Identifier: MIT
// trace.cpp - debug output: call traces and hex dumps (qio_util_debug).
#include "trace.hpp"

#include <fmt/format.h>

#include <algorithm> // std::min
#include <cctype>    // std::isprint
#include <cerrno>    // errno, kept across the stderr write
#include <cstdio>    // std::fprintf, stderr

namespace qio::detail {

void TraceSink::line(const char* text) const noexcept {
  if (handler_ != nullptr) {
    handler_(text, argument_);
    return;
  }
  const int saved_errno = errno;
  std::fprintf(stderr, "%s\n", text);
  errno = saved_errno;
}

void hex_dump(const TraceSink& trace, const char* bytes, std::size_t length) {
  constexpr std::size_t per_line = 16;
  for (std::size_t line = 0; line < length; line += per_line) {
    const std::size_t count = std::min(per_line, length - line);
    std::string hex;
    std::string text;
    for (std::size_t i = 0; i < per_line; ++i) {
      if (i < count) {
        const auto byte = static_cast<unsigned char>(bytes[line + i]);
        hex += fmt::format("{:02x} ", byte);
        text += std::isprint(byte) ? static_cast<char>(byte) : '.';
      } else {
        hex += "   ";
      }
    }
    trace.print("  {:08x}  {} |{}|", line, hex, text);
  }
}

void hex_dump(const TraceSink& trace, const iovec* vectors, int count,
              std::size_t bytes) {
  for (int i = 0; i < count && bytes > 0; ++i) {
    const std::size_t length = std::min(bytes, vectors[i].iov_len);
    hex_dump(trace, static_cast<const char*>(vectors[i].iov_base), length);
    bytes -= length;
  }
}

const char* operation_name(Operation operation) noexcept {
  switch (operation) {
  case Operation::read:
    return "read";
  case Operation::write:
    return "write";
  case Operation::seek:
    return "seek";
  case Operation::close:
    return "close";
  }
  return "unknown";
}

std::string error_text(const std::error_code& error) {
  return error ? fmt::format("error {} ({})", error.value(), error.message())
               : std::string("ok");
}

void trace_completion(const TraceSink& trace, const Completion& completion) {
  trace.print("qio: channel {} {} completed: {}, length {}", completion.channel,
              operation_name(completion.operation), error_text(completion.error),
              completion.length);
}

} // namespace qio::detail
