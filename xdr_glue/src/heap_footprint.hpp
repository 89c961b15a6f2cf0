// SPDX-License-Identifier: MIT
// heap_footprint.hpp - what queued output really costs in memory, so that
// the server's backlog bounds count entries and headers, not only bytes.
#ifndef XDR_GLUE_SRC_HEAP_FOOTPRINT_HPP
#define XDR_GLUE_SRC_HEAP_FOOTPRINT_HPP

#include <cstddef> // std::size_t

namespace xdr_glue::detail {

// The heap one allocation of `size` bytes takes: glibc's malloc adds an
// 8-byte header and rounds the chunk up to 16 bytes, 32 at least.
constexpr std::size_t heap_footprint(std::size_t size) noexcept {
  const std::size_t chunk = (size + 8 + 15) & ~std::size_t{15};
  return chunk < 32 ? 32 : chunk;
}

// What qio keeps for one unbuffered write with a completion: a write run
// (8 bytes), a callback record (24) and a reference segment (48), each in
// a ring that doubles as it grows, so at worst half empty: counted twice.
// tests/xdr_glue/test_rpc_backlog.cpp measures the heap against it.
inline constexpr std::size_t qio_write_bookkeeping = 2 * (8 + 24 + 48);

} // namespace xdr_glue::detail

#endif // XDR_GLUE_SRC_HEAP_FOOTPRINT_HPP
