// trace.hpp - debug output: call traces and hex dumps (qio_util_debug).
#ifndef QIO_SRC_TRACE_HPP
#define QIO_SRC_TRACE_HPP

#include <sys/uio.h> // iovec

#include <cstddef> // std::size_t
#include <cstdio>  // std::FILE
#include <string>  // std::string

#include "qio/engine.hpp"

namespace qio::detail {

// Prints `bytes` in 16-byte lines: offset, hex, printable characters.
void hex_dump(std::FILE* out, const char* bytes, std::size_t length);
// The first `bytes` bytes held by `vectors`.
void hex_dump(std::FILE* out, const iovec* vectors, int count,
              std::size_t bytes);
const char* operation_name(Operation operation) noexcept;
// "ok" or the error's message, for one-line reports.
std::string error_text(const std::error_code& error);
void trace_completion(const Completion& completion);

} // namespace qio::detail

#endif // QIO_SRC_TRACE_HPP
